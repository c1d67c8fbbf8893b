//! The image a container is checked and recreated with, parsed once — through
//! `watchtower_registry_auth::ImageReference`, the workspace's one parser — when the session
//! reads the container, and carried typed from there on: the registry check, the pull
//! credentials and the log level of a failed check all read the parsed form.

use std::fmt;

use watchtower_container_client::Container;
use watchtower_registry_auth::ImageReference;

use crate::labels;

pub use watchtower_registry_auth::{ImageSelector, is_image_id};

/// The image reference of a container as a session uses it: the zodiac original-image label
/// when present, else `Config.Image`, with `:latest` added when it names neither a tag nor a
/// digest. Its text is kept as the user wrote it (`nginx:latest`, not
/// `docker.io/library/nginx:latest`), as the original reported and pulled it; what it means
/// is parsed once, here.
///
/// ```
/// use watchtower_actions::reference::ImageName;
///
/// let name = ImageName::parse("127.0.0.1:5000/app");
/// assert_eq!(name.as_str(), "127.0.0.1:5000/app:latest");
/// assert_eq!(name.registry_host(), Some("127.0.0.1:5000"));
/// assert!(!name.is_digest_pinned());
/// assert!(ImageName::parse("sha256:0123").is_image_id());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ImageName {
    written: String,
    kind: Kind,
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    Reference(ImageReference),
    /// `sha256:…` or 64 hex digits: a container created from an image ID.
    Id,
    /// Neither; why it does not parse.
    Invalid(String),
}

impl ImageName {
    /// The image `container` is checked and recreated with (see the type's docs).
    pub fn of(container: &Container) -> Self {
        Self::parse(configured(container))
    }

    /// Parses `written`, adding `:latest` to a reference without tag or digest
    /// (`nginx` -> `nginx:latest`, `host:5000/app` -> `host:5000/app:latest`); an image ID or
    /// anything else that does not parse keeps its text.
    pub fn parse(written: &str) -> Self {
        if is_image_id(written) {
            return Self {
                written: written.to_owned(),
                kind: Kind::Id,
            };
        }
        match ImageReference::parse(written) {
            Ok(parsed) => {
                let written = if parsed.explicit_tag().is_none() && !parsed.is_digest_pinned() {
                    format!("{written}:latest")
                } else {
                    written.to_owned()
                };
                Self {
                    written,
                    kind: Kind::Reference(parsed),
                }
            }
            Err(err) => Self {
                written: written.to_owned(),
                kind: Kind::Invalid(format!(
                    "image reference {written:?} cannot be checked: {err}"
                )),
            },
        }
    }

    /// The text: what reports show and what the engine pulls.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// The parsed reference; `None` for an image ID or a reference that does not parse.
    pub fn reference(&self) -> Option<&ImageReference> {
        match &self.kind {
            Kind::Reference(r) => Some(r),
            Kind::Id | Kind::Invalid(_) => None,
        }
    }

    /// A container created from an image ID: it has no tag to follow.
    pub fn is_image_id(&self) -> bool {
        matches!(self.kind, Kind::Id)
    }

    /// A reference pinned to a digest (`app@sha256:…`, `app:1@sha256:…`): never stale.
    pub fn is_digest_pinned(&self) -> bool {
        self.reference()
            .is_some_and(ImageReference::is_digest_pinned)
    }

    /// The registry host the engine would contact, with Docker Hub as `index.docker.io`
    /// (the name the original compared against); `None` when there is no reference.
    pub fn registry_host(&self) -> Option<&str> {
        self.reference().map(ImageReference::api_host)
    }

    /// Why the text is not a usable reference (`None` for a reference or an image ID).
    pub fn invalid_reason(&self) -> Option<&str> {
        match &self.kind {
            Kind::Invalid(reason) => Some(reason),
            Kind::Reference(_) | Kind::Id => None,
        }
    }
}

/// The reference `container` was configured with, exactly as the user wrote it: the zodiac
/// original-image label when present, else `Config.Image` (what recreation uses).
pub(crate) fn configured(container: &Container) -> &str {
    container
        .labels
        .get(labels::ZODIAC_ORIGINAL_IMAGE)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .unwrap_or(&container.image_reference)
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl fmt::Debug for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageName({:?})", self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn text(reference: &str) -> String {
        ImageName::parse(reference).as_str().to_owned()
    }

    #[test]
    fn default_tag_is_added_only_when_missing() {
        assert_eq!(text("nginx"), "nginx:latest");
        assert_eq!(text("nginx:1.27"), "nginx:1.27");
        assert_eq!(text("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(text("127.0.0.1:5000/app:v2"), "127.0.0.1:5000/app:v2");
        let pinned = format!("app@{D}");
        assert_eq!(text(&pinned), pinned);
        assert_eq!(text("sha256:abcd"), "sha256:abcd");
        assert_eq!(text(""), "");
    }

    #[test]
    fn the_zodiac_label_replaces_the_configured_image() {
        let mut c = Container {
            image_reference: "sha256:0123".into(),
            ..Container::default()
        };
        assert_eq!(ImageName::of(&c).as_str(), "sha256:0123");
        assert!(ImageName::of(&c).is_image_id());
        c.labels.insert(
            labels::ZODIAC_ORIGINAL_IMAGE.into(),
            "registry.example/team/app".into(),
        );
        assert_eq!(
            ImageName::of(&c).as_str(),
            "registry.example/team/app:latest"
        );
    }

    #[test]
    fn registry_hosts() {
        let host = |r: &str| ImageName::parse(r).registry_host().map(str::to_owned);
        assert_eq!(host("nginx:latest").as_deref(), Some("index.docker.io"));
        assert_eq!(host("library/nginx").as_deref(), Some("index.docker.io"));
        assert_eq!(
            host("docker.io/library/nginx").as_deref(),
            Some("index.docker.io")
        );
        assert_eq!(host("ghcr.io/o/r:1").as_deref(), Some("ghcr.io"));
        assert_eq!(host("localhost/x").as_deref(), Some("localhost"));
        assert_eq!(
            host("127.0.0.1:5000/x:1").as_deref(),
            Some("127.0.0.1:5000")
        );
        assert_eq!(host("UPPER/Case"), None);
    }

    #[test]
    fn pinning_ids_and_invalid_references() {
        assert!(ImageName::parse(&format!("app@{D}")).is_digest_pinned());
        assert!(ImageName::parse(&format!("127.0.0.1:5000/app:1@{D}")).is_digest_pinned());
        assert!(!ImageName::parse("app:1").is_digest_pinned());
        let bad_digest = ImageName::parse("app@sha256:00");
        assert!(!bad_digest.is_digest_pinned(), "not a valid digest");
        assert!(bad_digest.invalid_reason().is_some());
        assert!(ImageName::parse("sha256:00").is_image_id());
        assert!(ImageName::parse(&D[7..]).is_image_id());
        assert!(!ImageName::parse("app").is_image_id());
        let upper = ImageName::parse("UPPER/Case:tag");
        assert!(upper.reference().is_none() && !upper.is_image_id());
        assert!(
            upper.invalid_reason().unwrap().contains("UPPER/Case:tag"),
            "{:?}",
            upper.invalid_reason()
        );
    }
}
