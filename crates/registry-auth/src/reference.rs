//! Image references, parsed and normalised the way Docker does it, and image selectors
//! (repository with an optional tag) matched against them.
//!
//! This is the one place in the workspace that parses image references. The only other
//! reference handling is `watchtower-container-client`'s split of `name[:tag]` for the
//! engine's pull call, which stays there because that crate depends on no other.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use oci_spec::distribution::{ParseError, Reference};

use crate::Error;

mod grammar;

/// The registry domain Docker Hub references normalise to (`nginx` is `docker.io/library/nginx`).
pub const DOCKER_HUB_DOMAIN: &str = "docker.io";
/// The host used for Docker Hub API calls and credential look-ups, as the original did.
pub const DOCKER_HUB_API_HOST: &str = "index.docker.io";
/// The key Docker writes Hub credentials under in `config.json`.
pub const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// A normalised image reference: `nginx` is `docker.io/library/nginx:latest`,
/// `index.docker.io/nginx` the same, `127.0.0.1:5000/app` is `127.0.0.1:5000/app:latest`.
///
/// The grammar is Docker's `distribution/reference`, checked by hand (`reference/grammar.rs`:
/// its regular expression cost ~19 MB of heap for the life of the daemon); the parts are kept
/// in an [`oci_spec::distribution::Reference`], normalised as its parser does. This type adds
/// the checks Docker makes on top (image IDs are not references, repository names and digests
/// are lower-case) and the names this project needs.
///
/// Two references are equal when they name the same thing: `nginx` equals
/// `docker.io/library/nginx:latest` (whether the tag was written is remembered, see
/// [`ImageReference::explicit_tag`], but not compared).
#[derive(Clone)]
pub struct ImageReference {
    inner: Reference,
    tag_written: bool,
}

impl PartialEq for ImageReference {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl Eq for ImageReference {}

impl Hash for ImageReference {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

/// Whether `input` is an image ID rather than a reference: `sha256:<hex>`, or the 64
/// hexadecimal digits of one (both are what `Config.Image` holds for a container created
/// from an image ID).
///
/// ```
/// use watchtower_registry_auth::is_image_id;
/// assert!(is_image_id("sha256:0123"));
/// assert!(!is_image_id("nginx:1.27"));
/// ```
pub fn is_image_id(input: &str) -> bool {
    input.starts_with("sha256:")
        || (input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl ImageReference {
    /// Parses and normalises a reference such as `nginx`, `user/app:1.2`,
    /// `registry.example.com:5000/team/app@sha256:…`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidReference {
            reference: input.to_owned(),
            reason: reason.to_owned(),
        };
        if is_image_id(input) {
            return Err(invalid(
                "this is an image ID, not a reference to a repository",
            ));
        }
        if input.trim() != input {
            return Err(invalid("leading or trailing whitespace"));
        }
        let inner = parse_reference(input).map_err(|e| {
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
        // Valid by now, so a colon after the last slash of the name separates a tag.
        let name = input.split('@').next().unwrap_or(input);
        let tag_written = name[name.rfind('/').map_or(0, |i| i + 1)..].contains(':');
        Ok(Self { inner, tag_written })
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

    /// The tag as written: `None` for `nginx` (whose [`tag`](Self::tag) is `latest` by
    /// default) and for `nginx@sha256:…`.
    pub fn explicit_tag(&self) -> Option<&str> {
        self.tag().filter(|_| self.tag_written)
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

/// What `oci_spec`'s `Reference::try_from` does, with the grammar checked by hand: the same
/// errors in the same order, the same normalisation (`split_domain`, the default tag).
fn parse_reference(input: &str) -> Result<Reference, ParseError> {
    const NAME_TOTAL_LENGTH_MAX: usize = 255;
    if input.is_empty() {
        return Err(ParseError::NameEmpty);
    }
    let (name, tag, digest) = grammar::split(input).ok_or(ParseError::ReferenceInvalidFormat)?;
    let (registry, repository) = split_domain(name);
    if repository.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ParseError::NameTooLong);
    }
    if let Some(digest) = digest {
        let expected = match digest.split_once(':') {
            None => return Err(ParseError::DigestInvalidFormat),
            Some(("sha256", _)) => 64,
            Some(("sha384", _)) => 96,
            Some(("sha512", _)) => 128,
            Some(_) => return Err(ParseError::DigestUnsupported),
        };
        if digest.len() - digest.find(':').map_or(0, |i| i + 1) != expected {
            return Err(ParseError::DigestInvalidLength);
        }
    }
    Ok(match (tag, digest) {
        (Some(tag), Some(digest)) => {
            Reference::with_tag_and_digest(registry, repository, tag.to_owned(), digest.to_owned())
        }
        (None, Some(digest)) => Reference::with_digest(registry, repository, digest.to_owned()),
        (tag, None) => {
            Reference::with_tag(registry, repository, tag.unwrap_or("latest").to_owned())
        }
    })
}

/// Docker's `splitDomain` (`distribution/reference/normalize.go`), as `oci_spec` ports it: the
/// first component is a domain when it has a `.` or `:` or is `localhost`; Docker Hub's legacy
/// `index.docker.io` is `docker.io`, whose one-component names are under `library/`.
fn split_domain(name: &str) -> (String, String) {
    let (domain, remainder) = match name.split_once('/') {
        Some((left, right)) if left.contains(['.', ':']) || left == "localhost" => (left, right),
        _ => (DOCKER_HUB_DOMAIN, name),
    };
    let domain = if domain == DOCKER_HUB_API_HOST {
        DOCKER_HUB_DOMAIN
    } else {
        domain
    };
    if domain == DOCKER_HUB_DOMAIN && !remainder.contains('/') {
        (domain.to_owned(), format!("library/{remainder}"))
    } else {
        (domain.to_owned(), remainder.to_owned())
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

/// Selects images by repository and, optionally, tag: what `?image=` of the HTTP API and
/// `watchtower_actions::Filter::images` take.
///
/// Both sides are normalised as Docker names images, so `nginx`, `library/nginx` and
/// `docker.io/library/nginx` select the same repository, and a registry with a port
/// (`127.0.0.1:5000/team/app`) is part of the name. A selector without a tag selects every
/// tag; one with a tag (`app:2`) only that tag (a reference without a tag is `latest`).
/// Digests are refused: a container pinned to a digest is never updated, so selecting by one
/// would select nothing.
///
/// ```
/// use watchtower_registry_auth::ImageSelector;
///
/// let nginx = ImageSelector::parse("library/nginx")?;
/// assert!(nginx.matches_str("nginx:1.27"));
/// assert!(nginx.matches_str("docker.io/library/nginx"));
/// assert!(!nginx.matches_str("someone/nginx"));
///
/// let pinned = ImageSelector::parse("127.0.0.1:5000/app:2")?;
/// assert!(pinned.matches_str("127.0.0.1:5000/app:2"));
/// assert!(!pinned.matches_str("127.0.0.1:5000/app"));
/// assert!(ImageSelector::parse("app@sha256:0123").is_err());
/// # Ok::<(), watchtower_registry_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct ImageSelector {
    original: String,
    /// `<registry>/<repository>`, normalised.
    name: String,
    tag: Option<String>,
}

impl ImageSelector {
    /// Parses `repo`, `repo:tag`, `host[:port]/repo[:tag]`; an [`Error::InvalidReference`]
    /// naming the selector otherwise.
    pub fn parse(selector: &str) -> Result<Self, Error> {
        if selector.contains('@') {
            return Err(Error::InvalidReference {
                reference: selector.to_owned(),
                reason: "select images by repository and tag, not by digest".to_owned(),
            });
        }
        let reference = ImageReference::parse(selector)?;
        Ok(Self {
            original: selector.to_owned(),
            name: reference.name(),
            tag: reference.explicit_tag().map(str::to_owned),
        })
    }

    /// Whether `reference` is selected: same repository and, when the selector names a tag,
    /// the same tag.
    pub fn matches(&self, reference: &ImageReference) -> bool {
        reference.name() == self.name
            && self
                .tag
                .as_deref()
                .is_none_or(|wanted| reference.tag() == Some(wanted))
    }

    /// [`matches`](Self::matches) for a reference as text (a container's `Config.Image`);
    /// a reference that does not parse (an image ID) is never selected.
    pub fn matches_str(&self, reference: &str) -> bool {
        ImageReference::parse(reference).is_ok_and(|r| self.matches(&r))
    }

    /// The selector as it was written.
    pub fn as_str(&self) -> &str {
        &self.original
    }
}

impl PartialEq for ImageSelector {
    /// Selectors are equal when they select the same images (`nginx` = `library/nginx`).
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.tag == other.tag
    }
}

impl Eq for ImageSelector {}

impl Hash for ImageSelector {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.tag.hash(state);
    }
}

impl fmt::Display for ImageSelector {
    /// The selector as it was written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl fmt::Debug for ImageSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageSelector({})", self.original)
    }
}

impl FromStr for ImageSelector {
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

    #[test]
    fn explicit_tags_are_remembered_but_not_compared() {
        let bare = ImageReference::parse("127.0.0.1:5000/app").unwrap();
        let tagged = ImageReference::parse("127.0.0.1:5000/app:latest").unwrap();
        assert_eq!(bare.explicit_tag(), None);
        assert_eq!(bare.tag(), Some("latest"));
        assert_eq!(tagged.explicit_tag(), Some("latest"));
        assert_eq!(bare, tagged);
        let pinned = ImageReference::parse(&format!("app@{D}")).unwrap();
        assert_eq!(pinned.explicit_tag(), None);
        let both = ImageReference::parse(&format!("app:1@{D}")).unwrap();
        assert_eq!(both.explicit_tag(), Some("1"));
        assert!(is_image_id(D));
        assert!(is_image_id(&D[7..]));
        assert!(!is_image_id("app"));
    }

    fn sel(s: &str) -> ImageSelector {
        ImageSelector::parse(s).unwrap()
    }

    #[test]
    fn selectors_with_a_registry_port() {
        let s = sel("127.0.0.1:5000/team/app");
        assert!(s.matches_str("127.0.0.1:5000/team/app:latest"));
        assert!(s.matches_str("127.0.0.1:5000/team/app:1.2"));
        assert!(s.matches_str("127.0.0.1:5000/team/app"));
        assert!(!s.matches_str("127.0.0.1:5001/team/app:latest"));
        assert!(!s.matches_str("127.0.0.1:5000/team/app2:latest"));
        assert!(!s.matches_str("team/app"));
    }

    #[test]
    fn selectors_normalise_docker_hub_names() {
        let s = sel("nginx");
        for same in [
            "nginx",
            "nginx:1.27",
            "library/nginx:latest",
            "docker.io/library/nginx:latest",
            "index.docker.io/library/nginx",
        ] {
            assert!(s.matches_str(same), "{same}");
        }
        assert!(!s.matches_str("someone/nginx"));
        assert!(sel("library/nginx").matches_str("nginx:1.27"));
        assert!(sel("docker.io/someone/app").matches_str("someone/app:2"));
        assert_eq!(sel("nginx"), sel("docker.io/library/nginx"));
        assert_ne!(sel("nginx"), sel("nginx:latest"));
    }

    #[test]
    fn a_tag_in_the_selector_must_match() {
        let s = sel("registry.example:5000/app:2");
        assert!(s.matches_str("registry.example:5000/app:2"));
        assert!(!s.matches_str("registry.example:5000/app:3"));
        assert!(!s.matches_str("registry.example:5000/app"));
        assert!(sel("app:latest").matches_str("app"));
        assert!(sel("app:1").matches_str(&format!("app:1@{D}")));
        assert!(!sel("app:latest").matches_str(&format!("app@{D}")));
        assert!(sel("app").matches_str(&format!("app@{D}")));
    }

    #[test]
    fn image_ids_are_never_selected() {
        assert!(!sel("app").matches_str(D));
        assert!(!sel("app").matches_str(""));
    }

    #[test]
    fn bad_selectors_name_the_culprit() {
        for bad in [
            "app@sha256:00",
            "/app",
            "app:",
            "host:5000/",
            "a b",
            "",
            "App",
        ] {
            let err = ImageSelector::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
        let digest = ImageSelector::parse(&format!("app@{D}")).unwrap_err();
        assert!(digest.to_string().contains("not by digest"), "{digest}");
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
            prop_assert_eq!(r.explicit_tag(), tag.as_deref());
            // A selector written like the reference selects it, and so does its normal form.
            prop_assert!(ImageSelector::parse(&input).unwrap().matches(&r));
            prop_assert!(ImageSelector::parse(&r.to_string()).unwrap().matches_str(&input));
            if r.is_docker_hub() {
                prop_assert!(r.repository().contains('/'));
                prop_assert_eq!(r.api_host(), DOCKER_HUB_API_HOST);
            } else {
                prop_assert_eq!(r.api_host(), r.registry());
            }
        }
    }
}
