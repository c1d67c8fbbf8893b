//! Discord webhooks (`discord://`): embeds, split into chunks within Discord's limits.

use serde_json::{Map, Value as J};
use url::Url;

use super::{Delivery, Endpoints, HttpRequest, Props, Success, parse_color, percent_decode};

#[derive(Clone)]
pub(crate) struct Discord {
    pub(super) webhook_id: String,
    pub(super) token: String,
    pub(super) title: String,
    pub(super) username: String,
    pub(super) avatar: String,
    pub(super) color: u32,
    pub(super) split_lines: bool,
    pub(super) raw_json: bool,
}

pub(super) fn parse_discord(url: &Url) -> Result<Discord, String> {
    let props = Props::parse(
        url,
        &[
            &["title"],
            &["username"],
            &["avatar", "avatarurl"],
            &["color"],
            &["colorerror"],
            &["colorwarn"],
            &["colorinfo"],
            &["colordebug"],
            &["splitlines"],
            &["json"],
        ],
    )?;
    let webhook_id = url.host_str().unwrap_or("").to_owned();
    let token = percent_decode(url.username());
    let raw_json = match url.path() {
        "" | "/" => props.bool("json", false)?,
        "/raw" => true,
        _ => {
            return Err(
                "illegal argument in config URL (the only path allowed is /raw)".to_owned(),
            );
        }
    };
    if webhook_id.is_empty() {
        return Err("webhook ID missing from config URL".to_owned());
    }
    if token.is_empty() {
        return Err("token missing from config URL".to_owned());
    }
    let color = match props.values.get("color") {
        Some(c) => parse_color(c).ok_or_else(|| format!("invalid color {c:?}"))?,
        None => 0x0050_D9FF,
    };
    Ok(Discord {
        webhook_id,
        token,
        title: props.string("title", ""),
        username: props.string("username", ""),
        avatar: props.string("avatar", ""),
        color,
        split_lines: props.bool("splitlines", true)?,
        raw_json,
    })
}

pub(super) const DISCORD_CHUNK: usize = 2000;
pub(super) const DISCORD_TOTAL: usize = 6000;
pub(super) const DISCORD_EMBEDS: usize = 10;

impl Discord {
    pub(super) fn requests(
        &self,
        message: &str,
        title: &str,
        endpoints: &Endpoints,
    ) -> Result<Vec<Delivery>, String> {
        let url = format!(
            "{}/api/webhooks/{}/{}",
            endpoints.discord, self.webhook_id, self.token
        );
        let post = |body: Vec<u8>| {
            Delivery::Http(HttpRequest {
                method: http::Method::POST,
                url: url.clone(),
                headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
                body,
                success: Success::Status2xx,
            })
        };
        if self.raw_json {
            return Ok(vec![post(message.as_bytes().to_vec())]);
        }
        let items: Vec<String> = if self.split_lines {
            message
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    if l.chars().count() > DISCORD_CHUNK {
                        let mut s: String = l.chars().take(DISCORD_CHUNK - 6).collect();
                        s.push_str(" [...]");
                        s
                    } else {
                        l.to_owned()
                    }
                })
                .collect()
        } else {
            chunk_text(message, DISCORD_CHUNK)
        };
        if items.is_empty() {
            return Err("message is empty".to_owned());
        }
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let mut batches: Vec<Vec<String>> = Vec::new();
        let mut current: Vec<String> = Vec::new();
        let mut total = 0;
        for item in items {
            let len = item.chars().count();
            if current.len() == DISCORD_EMBEDS
                || (total + len > DISCORD_TOTAL && !current.is_empty())
            {
                batches.push(std::mem::take(&mut current));
                total = 0;
            }
            total += len;
            current.push(item);
        }
        batches.push(current);
        Ok(batches
            .into_iter()
            .map(|batch| {
                let embeds: Vec<J> = batch
                    .into_iter()
                    .enumerate()
                    .map(|(i, text)| {
                        let mut e = Map::new();
                        if i == 0 && !title.is_empty() {
                            e.insert("title".to_owned(), J::from(title));
                        }
                        e.insert("description".to_owned(), J::from(text));
                        if self.color != 0 {
                            e.insert("color".to_owned(), J::from(self.color));
                        }
                        J::Object(e)
                    })
                    .collect();
                let mut payload = Map::new();
                payload.insert("embeds".to_owned(), J::Array(embeds));
                if !self.username.is_empty() {
                    payload.insert("username".to_owned(), J::from(self.username.as_str()));
                }
                if !self.avatar.is_empty() {
                    payload.insert("avatar_url".to_owned(), J::from(self.avatar.as_str()));
                }
                post(J::Object(payload).to_string().into_bytes())
            })
            .collect())
    }
}

/// Splits text into chunks of at most `size` characters, preferring to break at a newline or
/// space within the last 100 characters of a chunk.
pub(super) fn chunk_text(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let mut end = (start + size).min(chars.len());
        let mut next = end;
        if end < chars.len() {
            for back in 0..100.min(end - start) {
                let p = end - back;
                if chars[p] == '\n' || chars[p] == ' ' {
                    end = p;
                    next = p + 1;
                    break;
                }
            }
        }
        let chunk: String = chars[start..end].iter().collect();
        if !chunk.is_empty() {
            out.push(chunk);
        }
        start = next;
    }
    out
}
