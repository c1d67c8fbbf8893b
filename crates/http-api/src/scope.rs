//! Which containers an update request is about.
//!
//! `POST /v1/update?image=repo/a,registry:5000/b` limits a session to containers whose image
//! matches one of the selectors. The original compared the part of the image name before the
//! *first* colon, so a registry with a port (`registry:5000/b`) could never match and a tag in
//! the selector never matched either. Here the selectors are
//! `watchtower_registry_auth::ImageSelector`s, the same type the update engine's image filter
//! takes: both sides are normalised the way Docker names images (`nginx` = `library/nginx` =
//! `docker.io/library/nginx`), and a selector without a tag matches every tag.

use std::fmt;

use watchtower_registry_auth::ImageSelector;

use crate::Error;

/// The longest `image` value accepted, in characters: a repository path is at most 255
/// characters long (Docker's limit), so one selector always fits, and the `OpenAPI` document
/// can state the limit as `maxLength`.
pub const MAX_IMAGE_VALUE_CHARS: usize = 255;

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
            Self::Images(selectors) => selectors.iter().any(|s| s.matches_str(image_name)),
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

    /// Builds a scope from the values of the `image` query parameter (each comma-separated,
    /// at most [`MAX_IMAGE_VALUE_CHARS`] characters). No values, or only empty ones, mean
    /// [`UpdateScope::All`].
    pub fn from_query_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Self, Error> {
        let mut selectors = Vec::new();
        for value in values {
            if value.chars().count() > MAX_IMAGE_VALUE_CHARS {
                return Err(Error::InvalidImageSelector {
                    selector: value.chars().take(40).chain("…".chars()).collect(),
                    reason: format!(
                        "an image value is limited to {MAX_IMAGE_VALUE_CHARS} characters; \
                         repeat image= for more selectors"
                    ),
                });
            }
            for part in value.split(',') {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                let selector = parse_selector(part)?;
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
                    f.write_str(s.as_str())?;
                }
                Ok(())
            }
        }
    }
}

/// Parses one selector, answering with [`Error::InvalidImageSelector`] naming it.
fn parse_selector(selector: &str) -> Result<ImageSelector, Error> {
    ImageSelector::parse(selector).map_err(|err| Error::InvalidImageSelector {
        selector: selector.to_owned(),
        reason: match err {
            watchtower_registry_auth::Error::InvalidReference { reason, .. } => reason,
            other => other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_normalise_names_like_docker() {
        let scope =
            UpdateScope::from_query_values(["library/nginx,127.0.0.1:5000/team/app:2"]).unwrap();
        assert!(scope.includes_image("nginx:1.27"));
        assert!(scope.includes_image("docker.io/library/nginx"));
        assert!(scope.includes_image("127.0.0.1:5000/team/app:2"));
        assert!(!scope.includes_image("127.0.0.1:5000/team/app:3"));
        assert!(!scope.includes_image("someone/nginx"));
        assert!(UpdateScope::All.includes_image("anything"));
    }

    #[test]
    fn image_values_are_limited_to_255_characters() {
        let path = format!("a/{}", "b".repeat(MAX_IMAGE_VALUE_CHARS - 2));
        assert!(UpdateScope::from_query_values([path.as_str()]).is_ok());
        let longer = format!("{path},c");
        let err = UpdateScope::from_query_values([longer.as_str()]).unwrap_err();
        assert!(
            err.to_string().contains("limited to 255 characters"),
            "{err}"
        );
        // The same selectors as two values are fine.
        assert!(UpdateScope::from_query_values([path.as_str(), "c"]).is_ok());
    }

    #[test]
    fn bad_selectors_name_the_culprit_once() {
        // What is refused is registry-auth's business (tested there); here, that a refusal
        // becomes one line naming the selector.
        for bad in ["app@sha256:00", "host:5000/", "Upper"] {
            let err = UpdateScope::from_query_values([bad])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("invalid image selector "), "{err}");
            assert_eq!(err.matches(&format!("{bad:?}")).count(), 1, "{err}");
        }
        let err = UpdateScope::from_query_values(["ok,app@sha256:00"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not by digest"), "{err}");
    }

    #[test]
    fn query_values_split_on_commas_and_skip_empty_ones() {
        let scope = UpdateScope::from_query_values(["a,b", "", "c,,a"]).unwrap();
        let UpdateScope::Images(selectors) = &scope else {
            panic!("expected images, got {scope:?}");
        };
        let names: Vec<_> = selectors.iter().map(ImageSelector::as_str).collect();
        assert_eq!(names, ["a", "b", "c"]);
        // Written differently, selecting the same: kept once.
        let same = UpdateScope::from_query_values(["nginx,library/nginx"]).unwrap();
        assert_eq!(same.to_string(), "images nginx");
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
