//! Image references, parsed and normalised the way Docker does it.

use std::fmt;
use std::str::FromStr;

use oci_spec::distribution::{ParseError, Reference};

use crate::Error;

/// The registry domain Docker Hub references normalise to (`nginx` is `docker.io/library/nginx`).
pub const DOCKER_HUB_DOMAIN: &str = "docker.io";
/// The host used for Docker Hub API calls and credential look-ups, as the original did.
pub const DOCKER_HUB_API_HOST: &str = "index.docker.io";
/// The key Docker writes Hub credentials under in `config.json`.
pub const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// A normalised image reference: `nginx` is `docker.io/library/nginx:latest`,
/// `index.docker.io/nginx` the same, `127.0.0.1:5000/app` is `127.0.0.1:5000/app:latest`.
///
/// Parsing is done by [`oci_spec::distribution::Reference`] (a port of Docker's
/// `distribution/reference`); this type adds the checks Docker makes on top (image IDs are not
/// references, repository names and digests are lower-case) and the names this project needs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    inner: Reference,
}

impl ImageReference {
    /// Parses and normalises a reference such as `nginx`, `user/app:1.2`,
    /// `registry.example.com:5000/team/app@sha256:…`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidReference {
            reference: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input.starts_with("sha256:")
            || (input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(invalid(
                "this is an image ID, not a reference to a repository",
            ));
        }
        if input.trim() != input {
            return Err(invalid("leading or trailing whitespace"));
        }
        let inner = Reference::from_str(input).map_err(|e| {
            let reason = match e {
                ParseError::ReferenceInvalidFormat if has_upper_case_path(input) => {
                    ParseError::NameContainsUppercase.to_string()
                }
                other => other.to_string(),
            };
            invalid(&reason)
        })?;
        if let Some(digest) = inner.digest() {
            let hex = digest.split_once(':').map_or("", |(_, h)| h);
            if hex.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(invalid("digest must be lower-case hexadecimal"));
            }
        }
        Ok(Self { inner })
    }

    /// The registry domain as Docker names it: `docker.io` for Docker Hub, else the host and
    /// port as written (`127.0.0.1:5000`, `ghcr.io`).
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// The host to send registry API requests to: `index.docker.io` for Docker Hub (as the
    /// original did), else [`ImageReference::registry`].
    pub fn api_host(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_API_HOST
        } else {
            self.registry()
        }
    }

    /// True for Docker Hub references.
    pub fn is_docker_hub(&self) -> bool {
        self.registry() == DOCKER_HUB_DOMAIN
    }

    /// The repository path inside the registry: `library/nginx`, `team/app`.
    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    /// The fully qualified repository name, `<registry>/<repository>`, for example
    /// `docker.io/library/nginx`. Two references to the same repository have the same name.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry(), self.repository())
    }

    /// The tag; `latest` when the reference has neither tag nor digest.
    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// The digest (`sha256:…`) of a digest-pinned reference.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// True when the reference names a digest: such an image can never be stale.
    pub fn is_digest_pinned(&self) -> bool {
        self.digest().is_some()
    }

    /// The token scope for pulling this repository: `repository:<path>:pull`.
    pub fn pull_scope(&self) -> String {
        format!("repository:{}:pull", self.repository())
    }
}

fn has_upper_case_path(input: &str) -> bool {
    // The part after the registry domain (if any) and before the tag or digest.
    let without_digest = input.split('@').next().unwrap_or(input);
    let path = match without_digest.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => rest,
        _ => without_digest,
    };
    let path = path.rsplit_once(':').map_or(path, |(p, _)| p);
    path.bytes().any(|b| b.is_ascii_uppercase())
}

impl fmt::Display for ImageReference {
    /// The normalised form, `docker.io/library/nginx:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl fmt::Debug for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageReference({self})")
    }
}

impl FromStr for ImageReference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parts(s: &str) -> (String, String, String, Option<String>, Option<String>) {
        let r = ImageReference::parse(s).unwrap();
        (
            r.registry().to_owned(),
            r.api_host().to_owned(),
            r.repository().to_owned(),
            r.tag().map(str::to_owned),
            r.digest().map(str::to_owned),
        )
    }

    #[test]
    fn normalises_like_docker() {
        let hub = |repo: &str, tag: &str| {
            (
                "docker.io".to_owned(),
                "index.docker.io".to_owned(),
                repo.to_owned(),
                Some(tag.to_owned()),
                None,
            )
        };
        assert_eq!(parts("nginx"), hub("library/nginx", "latest"));
        assert_eq!(parts("nginx:1.25"), hub("library/nginx", "1.25"));
        assert_eq!(parts("docker.io/nginx"), hub("library/nginx", "latest"));
        assert_eq!(
            parts("docker.io/library/nginx"),
            hub("library/nginx", "latest")
        );
        assert_eq!(parts("index.docker.io/nginx:2"), hub("library/nginx", "2"));
        assert_eq!(
            parts("containrrr/watchtower"),
            hub("containrrr/watchtower", "latest")
        );
        let local = parts("127.0.0.1:5000/team/app:v1");
        assert_eq!(
            local,
            (
                "127.0.0.1:5000".into(),
                "127.0.0.1:5000".into(),
                "team/app".into(),
                Some("v1".into()),
                None
            )
        );
        assert_eq!(parts("localhost/app").0, "localhost");
        assert_eq!(parts("localhost:5000/app").2, "app");
        // A first component without a dot, colon or "localhost" is a Hub namespace.
        assert_eq!(parts("registry/app").0, "docker.io");
        assert_eq!(parts("registry/app").2, "registry/app");
    }

    #[test]
    fn digests_and_names() {
        let r = ImageReference::parse(&format!("nginx@{D}")).unwrap();
        assert_eq!(r.digest(), Some(D));
        assert_eq!(r.tag(), None);
        assert!(r.is_digest_pinned());
        assert_eq!(r.to_string(), format!("docker.io/library/nginx@{D}"));
        let r = ImageReference::parse(&format!("127.0.0.1:5000/repo:1@{D}")).unwrap();
        assert_eq!(r.tag(), Some("1"));
        assert!(r.is_digest_pinned());
        assert_eq!(r.name(), "127.0.0.1:5000/repo");
        assert_eq!(
            ImageReference::parse("nginx").unwrap().name(),
            "docker.io/library/nginx"
        );
        assert_eq!(
            ImageReference::parse("ghcr.io/o/r:t").unwrap().pull_scope(),
            "repository:o/r:pull"
        );
    }

    #[test]
    fn rejects_what_docker_rejects() {
        for (input, reason) in [
            ("Nginx", "repository name must be lowercase"),
            ("ghcr.io/Owner/app", "repository name must be lowercase"),
            ("", "at least one component"),
            ("a:b:c", "invalid reference format"),
            (" nginx", "whitespace"),
            ("nginx:", "invalid reference format"),
            ("nginx@sha256:abc", "invalid"),
            (D, "image ID"),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "image ID",
            ),
            (
                "nginx@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                "lower-case",
            ),
        ] {
            let err = ImageReference::parse(input).unwrap_err().to_string();
            assert!(
                err.contains(reason) && err.contains(&format!("{input:?}")),
                "{input:?}: {err}"
            );
        }
    }

    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,8}([._-][a-z0-9]{1,5})?"
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = ImageReference::parse(&s);
        }

        #[test]
        fn normal_form_is_a_fixed_point(
            domain in prop::option::of(prop_oneof![
                Just("docker.io".to_owned()),
                Just("index.docker.io".to_owned()),
                Just("localhost:5000".to_owned()),
                Just("127.0.0.1:5000".to_owned()),
                "[a-z]{1,6}\\.example\\.com(:[1-9][0-9]{0,3})?",
            ]),
            path in prop::collection::vec(component(), 1..4),
            tag in prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        ) {
            let mut input = String::new();
            if let Some(d) = &domain {
                input.push_str(d);
                input.push('/');
            }
            input.push_str(&path.join("/"));
            if let Some(t) = &tag {
                input.push(':');
                input.push_str(t);
            }
            let r = ImageReference::parse(&input).unwrap();
            let again = ImageReference::parse(&r.to_string()).unwrap();
            prop_assert_eq!(&r, &again);
            prop_assert_eq!(r.tag(), Some(tag.as_deref().unwrap_or("latest")));
            if r.is_docker_hub() {
                prop_assert!(r.repository().contains('/'));
                prop_assert_eq!(r.api_host(), DOCKER_HUB_API_HOST);
            } else {
                prop_assert_eq!(r.api_host(), r.registry());
            }
        }
    }
}
