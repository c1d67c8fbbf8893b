//! The few facts about image references that the engine needs before asking a registry,
//! all read through `watchtower_registry_auth::ImageReference` (the workspace's one parser).

use watchtower_container_client::Container;
use watchtower_registry_auth::ImageReference;

use crate::labels;

pub use watchtower_registry_auth::{ImageSelector, is_image_id};

/// The image reference a container is checked and recreated with: the zodiac
/// original-image label when present, else `Config.Image`; `:latest` is added when the
/// reference names neither a tag nor a digest. The name is otherwise kept as the user wrote
/// it (`nginx:latest`, not `docker.io/library/nginx:latest`), as the original reported it.
pub fn image_name(container: &Container) -> String {
    let raw = container
        .labels
        .get(labels::ZODIAC_ORIGINAL_IMAGE)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .unwrap_or(&container.image_reference);
    with_default_tag(raw)
}

/// Adds `:latest` to a reference without tag or digest (`nginx` -> `nginx:latest`,
/// `host:5000/app` -> `host:5000/app:latest`); anything that does not parse as a reference
/// (an image ID) is returned as it is.
pub fn with_default_tag(reference: &str) -> String {
    match ImageReference::parse(reference) {
        Ok(parsed) if parsed.explicit_tag().is_none() && !parsed.is_digest_pinned() => {
            format!("{reference}:latest")
        }
        _ => reference.to_owned(),
    }
}

/// A reference pinned to a digest (`app@sha256:…`, `app:1@sha256:…`): never stale. A
/// reference that does not parse is not pinned (the registry check then says why it fails).
pub fn is_digest_pinned(reference: &str) -> bool {
    ImageReference::parse(reference).is_ok_and(|r| r.is_digest_pinned())
}

/// The registry host the engine would contact for `reference`, with Docker Hub as
/// `index.docker.io` (the name the original compared against); `None` when the reference
/// does not parse.
pub fn registry_host(reference: &str) -> Option<String> {
    ImageReference::parse(reference)
        .ok()
        .map(|r| r.api_host().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn default_tag_is_added_only_when_missing() {
        assert_eq!(with_default_tag("nginx"), "nginx:latest");
        assert_eq!(with_default_tag("nginx:1.27"), "nginx:1.27");
        assert_eq!(
            with_default_tag("127.0.0.1:5000/app"),
            "127.0.0.1:5000/app:latest"
        );
        assert_eq!(
            with_default_tag("127.0.0.1:5000/app:v2"),
            "127.0.0.1:5000/app:v2"
        );
        let pinned = format!("app@{D}");
        assert_eq!(with_default_tag(&pinned), pinned);
        assert_eq!(with_default_tag("sha256:abcd"), "sha256:abcd");
        assert_eq!(with_default_tag(""), "");
    }

    #[test]
    fn the_zodiac_label_replaces_the_configured_image() {
        let mut c = Container {
            image_reference: "sha256:0123".into(),
            ..Container::default()
        };
        assert_eq!(image_name(&c), "sha256:0123");
        c.labels.insert(
            labels::ZODIAC_ORIGINAL_IMAGE.into(),
            "registry.example/team/app".into(),
        );
        assert_eq!(image_name(&c), "registry.example/team/app:latest");
    }

    #[test]
    fn registry_hosts() {
        let host = |r: &str| registry_host(r);
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
    fn pinning() {
        assert!(is_digest_pinned(&format!("app@{D}")));
        assert!(is_digest_pinned(&format!("127.0.0.1:5000/app:1@{D}")));
        assert!(!is_digest_pinned("app:1"));
        assert!(!is_digest_pinned("app@sha256:00"), "not a valid digest");
        assert!(is_image_id("sha256:00"));
        assert!(is_image_id(&D[7..]));
        assert!(!is_image_id("app"));
    }
}
