//! Slack (`slack://`): incoming webhooks and the bot-token `chat.postMessage` API.

use serde_json::{Map, Value as J};
use url::Url;

use super::{Endpoints, HttpRequest, Props, Success, percent_decode};

#[derive(Clone)]
pub(crate) struct Slack {
    /// `hook` or `xoxb`/`xoxp`/...
    pub(super) token_type: String,
    pub(super) token_parts: [String; 3],
    pub(super) channel: String,
    pub(super) bot_name: String,
    pub(super) icon: String,
    pub(super) color: String,
    pub(super) title: String,
    pub(super) thread_ts: String,
}

/// Slack tokens: `[type:|type-]A-B-C` with A, B of 9+ upper-case letters/digits and C of 24+
/// letters/digits, parts separated by one kind of `-`, `/` or `,`.
pub(super) fn parse_slack_token(raw: &str) -> Result<(String, [String; 3]), String> {
    let invalid = || {
        "invalid slack token (expected hook:XXXXXXXXX-XXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX or xoxb:...)".to_owned()
    };
    let mut rest = raw;
    let mut token_type = "hook".to_owned();
    for prefix in ["hook", "xoxb", "xoxp", "xoxa", "xoxr", "xoxs"] {
        if let Some(r) = rest.strip_prefix(prefix)
            && let Some(r) = r.strip_prefix(':').or_else(|| r.strip_prefix('-'))
        {
            prefix.clone_into(&mut token_type);
            rest = r;
            break;
        }
    }
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let sep = rest
        .chars()
        .find(|c| matches!(c, '-' | '/' | ','))
        .ok_or_else(invalid)?;
    let parts: Vec<&str> = rest.split(sep).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(if rest.contains(['-', '/', ',']) && parts.len() == 2 {
            "mismatched slack token separators".to_owned()
        } else {
            invalid()
        });
    };
    let upper = |s: &str| {
        s.len() >= 9
            && s.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    if !upper(a) || !upper(b) || c.len() < 24 || !c.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid());
    }
    Ok((
        token_type,
        [(*a).to_owned(), (*b).to_owned(), (*c).to_owned()],
    ))
}

pub(super) fn parse_slack(url: &Url) -> Result<Slack, String> {
    let props = Props::parse(
        url,
        &[
            &["botname", "username"],
            &["icon", "icon_emoji", "icon_url"],
            &["color"],
            &["title"],
            &["thread_ts"],
        ],
    )?;
    let host = url.host_str().unwrap_or("");
    let (token, channel, mut bot_name) = if url.path().len() > 1 {
        // Old format: slack://[botname@]A/B/C
        (
            format!("{host}{}", url.path()),
            "webhook".to_owned(),
            percent_decode(url.username()),
        )
    } else {
        let user = percent_decode(url.username());
        let token = match url.password() {
            Some(p) => format!("{user}:{}", percent_decode(p)),
            None => user,
        };
        (token, host.to_owned(), String::new())
    };
    let (token_type, token_parts) = parse_slack_token(token.trim_end_matches('/'))?;
    if channel.is_empty() {
        return Err("missing channel (the URL's host; `webhook` for webhooks)".to_owned());
    }
    if let Some(b) = props.values.get("botname") {
        bot_name.clone_from(b);
    }
    Ok(Slack {
        token_type,
        token_parts,
        channel,
        bot_name,
        icon: props.string("icon", ""),
        color: props.string("color", ""),
        title: props.string("title", ""),
        thread_ts: props.string("thread_ts", ""),
    })
}

impl Slack {
    pub(super) fn request(&self, message: &str, title: &str, endpoints: &Endpoints) -> HttpRequest {
        let mut lines: Vec<String> = Vec::new();
        for (i, line) in message.split('\n').enumerate() {
            if i >= 100 {
                if let Some(last) = lines.last_mut() {
                    last.push('\n');
                    last.push_str(line);
                }
                continue;
            }
            lines.push(line.to_owned());
        }
        if lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        let attachments: Vec<J> = lines
            .into_iter()
            .map(|text| {
                let mut a = Map::new();
                a.insert("text".to_owned(), J::from(text));
                if !self.color.is_empty() {
                    a.insert("color".to_owned(), J::from(self.color.as_str()));
                }
                J::Object(a)
            })
            .collect();
        let mut payload = Map::new();
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        payload.insert("text".to_owned(), J::from(title));
        if !self.bot_name.is_empty() {
            payload.insert("username".to_owned(), J::from(self.bot_name.as_str()));
        }
        if !attachments.is_empty() {
            payload.insert("attachments".to_owned(), J::Array(attachments));
        }
        if !self.thread_ts.is_empty() {
            payload.insert("thread_ts".to_owned(), J::from(self.thread_ts.as_str()));
        }
        if self.channel != "webhook" {
            payload.insert("channel".to_owned(), J::from(self.channel.as_str()));
        }
        if !self.icon.is_empty() {
            let key = if self.icon.contains("http://") || self.icon.contains("https://") {
                "icon_url"
            } else {
                "icon_emoji"
            };
            payload.insert(key.to_owned(), J::from(self.icon.as_str()));
        }
        let body = J::Object(payload).to_string().into_bytes();
        let [a, b, c] = &self.token_parts;
        if self.token_type == "hook" {
            HttpRequest {
                method: http::Method::POST,
                url: format!("{}/services/{a}/{b}/{c}", endpoints.slack_hooks),
                headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
                body,
                success: Success::SlackWebhook,
            }
        } else {
            HttpRequest {
                method: http::Method::POST,
                url: format!("{}/api/chat.postMessage", endpoints.slack_api),
                headers: vec![
                    (
                        "Content-Type".to_owned(),
                        "application/json; charset=utf-8".to_owned(),
                    ),
                    (
                        "Authorization".to_owned(),
                        format!("Bearer {}-{a}-{b}-{c}", self.token_type),
                    ),
                ],
                body,
                success: Success::JsonOk,
            }
        }
    }
}
