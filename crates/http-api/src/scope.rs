//! Which containers an update request is about.
//!
//! `POST /v1/update?image=repo/a,registry:5000/b` limits a session to containers whose image
//! matches one of the selectors. The original compared the part of the image name before the
//! *first* colon, so a registry with a port (`registry:5000/b`) could never match and a tag in
//! the selector never matched either. Here both sides are normalised the way Docker names
//! images (`nginx` = `library/nginx` = `docker.io/library/nginx`), the tag is the part after
//! the last colon of the last path component, and a selector without a tag matches every tag.

use std::fmt;

use crate::Error;

/// What an update session should look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateScope {
    /// Every container the instance watches (its name, label and scope filters still apply).
    All,
    /// Only watched containers whose image matches one of these selectors.
    Images(Vec<ImageSelector>),
}

impl UpdateScope {
    /// Whether a container running `image_name` (as in its config, e.g. `nginx:1.27`) is in
    /// this scope.
    pub fn includes_image(&self, image_name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Images(selectors) => selectors.iter().any(|s| s.matches(image_name)),
        }
    }

    /// Merges two scopes: the union of what both ask for.
    #[must_use]
    pub fn merge(self, other: Self) -> Self {
        match (self, other) {
            (Self::Images(mut a), Self::Images(b)) => {
                for selector in b {
                    if !a.contains(&selector) {
                        a.push(selector);
                    }
                }
                Self::Images(a)
            }
            _ => Self::All,
        }
    }

    /// Builds a scope from the values of the `image` query parameter (each comma-separated).
    /// No values, or only empty ones, mean [`UpdateScope::All`].
    pub fn from_query_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Self, Error> {
        let mut selectors = Vec::new();
        for value in values {
            for part in value.split(',') {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                let selector = ImageSelector::parse(part)?;
                if !selectors.contains(&selector) {
                    selectors.push(selector);
                }
            }
        }
        if selectors.is_empty() {
            Ok(Self::All)
        } else {
            Ok(Self::Images(selectors))
        }
    }
}

impl fmt::Display for UpdateScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all watched containers"),
            Self::Images(selectors) => {
                f.write_str("images ")?;
                for (i, s) in selectors.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", s.original)?;
                }
                Ok(())
            }
        }
    }
}

/// One requested image: a repository, optionally with a tag.
#[derive(Debug, Clone)]
pub struct ImageSelector {
    original: String,
    repository: String,
    tag: Option<String>,
}

impl PartialEq for ImageSelector {
    fn eq(&self, other: &Self) -> bool {
        self.repository == other.repository && self.tag == other.tag
    }
}

impl Eq for ImageSelector {}

impl ImageSelector {
    /// Parses `repo`, `repo:tag`, `host:port/repo[:tag]`. Digests are refused: a container
    /// pinned to a digest is never updated, so selecting by digest would select nothing.
    pub fn parse(selector: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidImageSelector {
            selector: selector.to_owned(),
            reason,
        };
        if selector.contains('@') {
            return Err(invalid(
                "select images by repository and tag, not by digest",
            ));
        }
        if selector
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid("image names contain no spaces"));
        }
        let (repository, tag) = split_name(selector);
        if repository.is_empty() || repository.ends_with('/') || repository.starts_with('/') {
            return Err(invalid("expected [registry[:port]/]repository[:tag]"));
        }
        if tag.is_some_and(str::is_empty) {
            return Err(invalid("the tag after ':' is empty"));
        }
        Ok(Self {
            original: selector.to_owned(),
            repository: normalise_repository(repository),
            tag: tag.map(str::to_owned),
        })
    }

    /// Whether a container's image name matches this selector.
    pub fn matches(&self, image_name: &str) -> bool {
        let without_digest = image_name.split('@').next().unwrap_or(image_name);
        let (repository, tag) = split_name(without_digest);
        if normalise_repository(repository) != self.repository {
            return false;
        }
        match &self.tag {
            None => true,
            Some(wanted) => tag.unwrap_or("latest") == wanted,
        }
    }

    /// The selector as the client wrote it.
    pub fn as_str(&self) -> &str {
        &self.original
    }
}

/// Splits `name[:tag]`, where the tag separator is a colon after the last slash (a colon
/// before it belongs to a registry port).
fn split_name(name: &str) -> (&str, Option<&str>) {
    let last_component = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_component..].rfind(':') {
        Some(i) => (
            &name[..last_component + i],
            Some(&name[last_component + i + 1..]),
        ),
        None => (name, None),
    }
}

/// Docker's short names: `nginx` is `docker.io/library/nginx`, `index.docker.io` is
/// `docker.io`. The first path component is a registry host when it contains a dot or a
/// colon, is `localhost`, or has upper-case letters (repositories are lower-case).
fn normalise_repository(repository: &str) -> String {
    let (domain, remainder) = match repository.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_ascii_lowercase(), rest)
        }
        _ => ("docker.io".to_owned(), repository),
    };
    let domain = if domain == "index.docker.io" || domain == "registry-1.docker.io" {
        "docker.io".to_owned()
    } else {
        domain
    };
    if domain == "docker.io" && !remainder.contains('/') {
        format!("{domain}/library/{remainder}")
    } else {
        format!("{domain}/{remainder}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str) -> ImageSelector {
        ImageSelector::parse(s).unwrap()
    }

    #[test]
    fn registry_with_port_matches_unlike_the_original() {
        let s = sel("127.0.0.1:5000/team/app");
        assert!(s.matches("127.0.0.1:5000/team/app:latest"));
        assert!(s.matches("127.0.0.1:5000/team/app:1.2"));
        assert!(s.matches("127.0.0.1:5000/team/app"));
        assert!(!s.matches("127.0.0.1:5001/team/app:latest"));
        assert!(!s.matches("127.0.0.1:5000/team/app2:latest"));
    }

    #[test]
    fn docker_hub_short_names_are_normalised() {
        let s = sel("nginx");
        assert!(s.matches("nginx"));
        assert!(s.matches("nginx:1.27"));
        assert!(s.matches("library/nginx:latest"));
        assert!(s.matches("docker.io/library/nginx:latest"));
        assert!(s.matches("index.docker.io/library/nginx"));
        assert!(!s.matches("someone/nginx"));
        assert!(sel("docker.io/someone/app").matches("someone/app:2"));
    }

    #[test]
    fn a_tag_in_the_selector_must_match() {
        let s = sel("registry.example:5000/app:2");
        assert!(s.matches("registry.example:5000/app:2"));
        assert!(!s.matches("registry.example:5000/app:3"));
        assert!(!s.matches("registry.example:5000/app"));
        assert!(sel("app:latest").matches("app"));
    }

    #[test]
    fn digest_references_of_containers_compare_by_name() {
        assert!(sel("app").matches("app@sha256:abcd"));
        assert!(sel("localhost:5000/app").matches("localhost:5000/app:1@sha256:abcd"));
    }

    #[test]
    fn bad_selectors_name_the_culprit() {
        for bad in ["app@sha256:00", "/app", "app:", "host:5000/", "a b"] {
            let err = ImageSelector::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn query_values_split_on_commas_and_skip_empty_ones() {
        let scope = UpdateScope::from_query_values(["a,b", "", "c,,a"]).unwrap();
        let UpdateScope::Images(selectors) = &scope else {
            panic!("expected images, got {scope:?}");
        };
        let names: Vec<_> = selectors.iter().map(ImageSelector::as_str).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(
            UpdateScope::from_query_values([""]).unwrap(),
            UpdateScope::All
        );
        assert_eq!(
            UpdateScope::from_query_values(Vec::<&str>::new()).unwrap(),
            UpdateScope::All
        );
    }

    #[test]
    fn merging_scopes_is_a_union() {
        let a = UpdateScope::from_query_values(["a,b"]).unwrap();
        let b = UpdateScope::from_query_values(["b,c"]).unwrap();
        let merged = a.clone().merge(b);
        assert!(merged.includes_image("c:1"));
        assert!(merged.includes_image("a"));
        assert!(!merged.includes_image("d"));
        assert_eq!(a.merge(UpdateScope::All), UpdateScope::All);
    }
}
