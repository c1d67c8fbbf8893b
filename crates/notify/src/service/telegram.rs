//! Telegram (`telegram://`): the Bot API's `sendMessage` to each chat.

use serde_json::{Map, Value as J};
use url::Url;

use super::{Delivery, Endpoints, HttpRequest, Props, Success, percent_decode};

#[derive(Clone)]
pub(crate) struct Telegram {
    pub(super) token: String,
    pub(super) chats: Vec<String>,
    pub(super) preview: bool,
    pub(super) notification: bool,
    pub(super) parse_mode: String,
    pub(super) title: String,
}

pub(super) fn is_telegram_token(t: &str) -> bool {
    let Some((id, secret)) = t.split_once(':') else {
        return false;
    };
    !id.is_empty()
        && id.bytes().all(|c| c.is_ascii_digit())
        && !secret.is_empty()
        && secret
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

pub(super) fn parse_telegram(url: &Url) -> Result<Telegram, String> {
    let props = Props::parse(
        url,
        &[
            &["chats", "channels"],
            &["preview"],
            &["notification"],
            &["parsemode"],
            &["title"],
        ],
    )?;
    let token = format!(
        "{}:{}",
        percent_decode(url.username()),
        percent_decode(url.password().unwrap_or(""))
    );
    if !is_telegram_token(&token) {
        return Err("invalid telegram token (expected <digits>:<secret>)".to_owned());
    }
    let chats = props.list("chats", ',');
    if chats.is_empty() {
        return Err("no channels defined in config URL (add ?chats=<id>[,<id>...])".to_owned());
    }
    let parse_mode = match props
        .string("parsemode", "None")
        .to_ascii_lowercase()
        .as_str()
    {
        "none" | "" => String::new(),
        "markdown" => "Markdown".to_owned(),
        "html" => "HTML".to_owned(),
        "markdownv2" => "MarkdownV2".to_owned(),
        other => {
            return Err(format!(
                "invalid parsemode {other:?} (None, Markdown, HTML or MarkdownV2)"
            ));
        }
    };
    Ok(Telegram {
        token,
        chats,
        preview: props.bool("preview", true)?,
        notification: props.bool("notification", true)?,
        parse_mode,
        title: props.string("title", ""),
    })
}

pub(super) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

impl Telegram {
    pub(super) fn requests(
        &self,
        message: &str,
        title: &str,
        endpoints: &Endpoints,
    ) -> Result<Vec<Delivery>, String> {
        if message.len() > 4096 {
            return Err(format!(
                "message is {} bytes; telegram accepts at most 4096",
                message.len()
            ));
        }
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let mut parse_mode = self.parse_mode.clone();
        let mut text = message.to_owned();
        if parse_mode.is_empty() && !title.is_empty() {
            "HTML".clone_into(&mut parse_mode);
            text = html_escape(message);
        }
        if parse_mode == "HTML" {
            text = format!("<b>{}</b>\n{text}", html_escape(title));
        }
        Ok(self
            .chats
            .iter()
            .map(|chat| {
                let (chat_id, thread) = match chat.split_once(':') {
                    Some((id, t)) => (id, t.parse::<i64>().ok()),
                    None => (chat.as_str(), None),
                };
                let mut payload = Map::new();
                payload.insert("text".to_owned(), J::from(text.as_str()));
                payload.insert("chat_id".to_owned(), J::from(chat_id));
                if let Some(t) = thread {
                    payload.insert("message_thread_id".to_owned(), J::from(t));
                }
                if !parse_mode.is_empty() {
                    payload.insert("parse_mode".to_owned(), J::from(parse_mode.as_str()));
                }
                payload.insert(
                    "disable_web_page_preview".to_owned(),
                    J::from(!self.preview),
                );
                payload.insert(
                    "disable_notification".to_owned(),
                    J::from(!self.notification),
                );
                Delivery::Http(HttpRequest {
                    method: http::Method::POST,
                    url: format!("{}/bot{}/sendMessage", endpoints.telegram, self.token),
                    headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
                    body: J::Object(payload).to_string().into_bytes(),
                    success: Success::JsonOk,
                })
            })
            .collect())
    }
}
