//! The few facts about image references that the engine needs before asking a registry.

use watchtower_container_client::Container;

use crate::labels;

/// The image reference a container is checked and recreated with: the zodiac
/// original-image label when present, else `Config.Image`; `:latest` is added when the
/// reference names neither a tag nor a digest.
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
/// `host:5000/app` -> `host:5000/app:latest`).
pub fn with_default_tag(reference: &str) -> String {
    if reference.is_empty() || is_image_id(reference) || has_tag_or_digest(reference) {
        reference.to_owned()
    } else {
        format!("{reference}:latest")
    }
}

fn has_tag_or_digest(reference: &str) -> bool {
    if reference.contains('@') {
        return true;
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    last.contains(':')
}

/// A container created from an image ID (`sha256:…`) rather than a name: it cannot be
/// updated, there is no name to look up.
pub fn is_image_id(reference: &str) -> bool {
    reference.starts_with("sha256:")
}

/// A reference pinned to a digest (`app@sha256:…`, `app:1@sha256:…`): never stale.
pub fn is_digest_pinned(reference: &str) -> bool {
    reference.contains('@')
}

/// The registry host the engine would contact for `reference`, with Docker Hub as
/// `index.docker.io` (the name the original compared against).
pub fn registry_host(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            if first == "docker.io" || first == "registry-1.docker.io" {
                "index.docker.io"
            } else {
                first
            }
        }
        _ => "index.docker.io",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(with_default_tag("app@sha256:abcd"), "app@sha256:abcd");
        assert_eq!(with_default_tag("sha256:abcd"), "sha256:abcd");
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
        assert_eq!(registry_host("nginx:latest"), "index.docker.io");
        assert_eq!(registry_host("library/nginx"), "index.docker.io");
        assert_eq!(registry_host("docker.io/library/nginx"), "index.docker.io");
        assert_eq!(registry_host("ghcr.io/o/r:1"), "ghcr.io");
        assert_eq!(registry_host("localhost/x"), "localhost");
        assert_eq!(registry_host("127.0.0.1:5000/x:1"), "127.0.0.1:5000");
    }

    #[test]
    fn pinning() {
        assert!(is_digest_pinned("app@sha256:00"));
        assert!(!is_digest_pinned("app:1"));
        assert!(is_image_id("sha256:00"));
        assert!(!is_image_id("app"));
    }
}
