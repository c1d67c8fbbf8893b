//! Microsoft Teams webhooks (`teams://`): the legacy and the new webhook host forms.

use serde_json::{Map, Value as J};
use url::Url;

use super::{Endpoints, HttpRequest, Props, Success, percent_decode};

#[derive(Clone)]
pub(crate) struct Teams {
    pub(super) group: String,
    pub(super) tenant: String,
    pub(super) alt_id: String,
    pub(super) group_owner: String,
    pub(super) host: String,
    pub(super) title: String,
    pub(super) color: String,
}

pub(super) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }
        })
}

pub(super) const TEAMS_LEGACY_HOST: &str = "outlook.office.com";

pub(super) fn parse_teams(url: &Url) -> Result<Teams, String> {
    if url.scheme() == "teams+https" {
        // The webhook URL itself: https://<org>.webhook.office.com/webhookb2/<g>@<t>/IncomingWebhook/<a>/<o>
        let host = url.host_str().unwrap_or("").to_owned();
        let path = percent_decode(url.path());
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let [_, group_tenant, _, alt_id, owner] = segments.as_slice() else {
            return Err("expected https://<org>.webhook.office.com/webhookb2/<group>@<tenant>/IncomingWebhook/<altId>/<groupOwner>".to_owned());
        };
        let (group, tenant) = group_tenant
            .split_once('@')
            .ok_or("missing <group>@<tenant> in webhook URL")?;
        let props = Props::parse(url, &[&["title"], &["color"], &["host"]])?;
        return teams_from_parts(
            [group, tenant, alt_id, owner],
            &props.string("host", &host),
            &props,
        );
    }
    let props = Props::parse(url, &[&["title"], &["color"], &["host"]])?;
    let user = percent_decode(url.username());
    let parts: [String; 4] = if let Some(pass) = url.password() {
        // Legacy form: teams://<group>@<tenant>:<altId>@<groupOwner>
        let (group, tenant) = user.split_once('@').ok_or("invalid URL format")?;
        [
            group.to_owned(),
            tenant.to_owned(),
            percent_decode(pass),
            url.host_str().unwrap_or("").to_owned(),
        ]
    } else {
        let path: Vec<&str> = url.path().trim_start_matches('/').split('/').collect();
        let [alt, owner, ..] = path.as_slice() else {
            return Err("expected teams://<group>@<tenant>/<altId>/<groupOwner>?host=<org>.webhook.office.com".to_owned());
        };
        [
            user,
            url.host_str().unwrap_or("").to_owned(),
            (*alt).to_owned(),
            (*owner).to_owned(),
        ]
    };
    let host = props.string("host", TEAMS_LEGACY_HOST);
    teams_from_parts([&parts[0], &parts[1], &parts[2], &parts[3]], &host, &props)
}

pub(super) fn teams_from_parts(
    parts: [&str; 4],
    host: &str,
    props: &Props,
) -> Result<Teams, String> {
    let names = ["group", "tenant", "altId", "groupOwner"];
    for (i, part) in parts.iter().enumerate() {
        let ok = if i == 2 {
            part.len() == 32 && part.bytes().all(|c| c.is_ascii_alphanumeric())
        } else {
            is_uuid(part)
        };
        if !ok {
            return Err(format!(
                "invalid URL format: the {} part is not valid",
                names[i]
            ));
        }
    }
    Ok(Teams {
        group: parts[0].to_owned(),
        tenant: parts[1].to_owned(),
        alt_id: parts[2].to_owned(),
        group_owner: parts[3].to_owned(),
        host: host.to_owned(),
        title: props.string("title", ""),
        color: props.string("color", ""),
    })
}

impl Teams {
    pub(super) fn request(&self, message: &str, title: &str, endpoints: &Endpoints) -> HttpRequest {
        let title = if title.is_empty() {
            self.title.as_str()
        } else {
            title
        };
        let sections: Vec<J> = message
            .split('\n')
            .map(|line| {
                let mut s = Map::new();
                if !line.is_empty() {
                    s.insert("text".to_owned(), J::from(line));
                }
                s.insert("startGroup".to_owned(), J::from(false));
                J::Object(s)
            })
            .collect();
        let summary = if title.is_empty() {
            let first = message.split('\n').next().unwrap_or("");
            first.chars().take(21).collect::<String>()
        } else {
            title.to_owned()
        };
        let mut payload = Map::new();
        payload.insert("@type".to_owned(), J::from("MessageCard"));
        payload.insert(
            "@context".to_owned(),
            J::from("http://schema.org/extensions"),
        );
        payload.insert("markdown".to_owned(), J::from(true));
        if !title.is_empty() {
            payload.insert("title".to_owned(), J::from(title));
        }
        if !summary.is_empty() {
            payload.insert("summary".to_owned(), J::from(summary));
        }
        payload.insert("sections".to_owned(), J::Array(sections));
        if !self.color.is_empty() {
            payload.insert("themeColor".to_owned(), J::from(self.color.as_str()));
        }
        let path = if self.host == TEAMS_LEGACY_HOST {
            "webhook"
        } else {
            "webhookb2"
        };
        let base = endpoints
            .teams
            .clone()
            .unwrap_or_else(|| format!("https://{}", self.host));
        HttpRequest {
            method: http::Method::POST,
            url: format!(
                "{base}/{path}/{}@{}/IncomingWebhook/{}/{}",
                self.group, self.tenant, self.alt_id, self.group_owner
            ),
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: J::Object(payload).to_string().into_bytes(),
            success: Success::Status2xx,
        }
    }
}
