//! Pushover (`pushover://`): the messages API, form-encoded.

use url::Url;

use super::{Endpoints, HttpRequest, Props, Success, percent_decode};

#[derive(Clone)]
pub(crate) struct Pushover {
    pub(super) user: String,
    pub(super) token: String,
    pub(super) devices: Vec<String>,
    pub(super) priority: i64,
    pub(super) title: String,
}

pub(super) fn parse_pushover(url: &Url) -> Result<Pushover, String> {
    let props = Props::parse(url, &[&["devices"], &["priority"], &["title"]])?;
    let user = url.host_str().unwrap_or("").to_owned();
    let token = percent_decode(url.password().unwrap_or(""));
    if user.is_empty() {
        return Err(
            "user key missing from config URL (pushover://shoutrrr:<token>@<userKey>)".to_owned(),
        );
    }
    if token.is_empty() {
        return Err(
            "API token missing from config URL (pushover://shoutrrr:<token>@<userKey>)".to_owned(),
        );
    }
    Ok(Pushover {
        user,
        token,
        devices: props.list("devices", ','),
        priority: props.int("priority", 0)?,
        title: props.string("title", ""),
    })
}

impl Pushover {
    pub(super) fn request(&self, message: &str, title: &str, endpoints: &Endpoints) -> HttpRequest {
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("device", &self.devices.join(","));
        form.append_pair("message", message);
        if (-2..=1).contains(&self.priority) {
            form.append_pair("priority", &self.priority.to_string());
        }
        if !title.is_empty() {
            form.append_pair("title", title);
        }
        form.append_pair("token", &self.token);
        form.append_pair("user", &self.user);
        HttpRequest {
            method: http::Method::POST,
            url: format!("{}/1/messages.json", endpoints.pushover),
            headers: vec![(
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: form.finish().into_bytes(),
            success: Success::Status2xx,
        }
    }
}
