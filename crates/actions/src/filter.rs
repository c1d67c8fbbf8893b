//! Which containers a session looks at.

use std::fmt::Write as _;

use regex::Regex;
use watchtower_container_client::Container;
use watchtower_registry_auth::ImageSelector;

use crate::Error;
use crate::image_ref::ImageName;
use crate::labels::{self, bool_label};

/// Selects the containers a session checks; every condition must hold.
///
/// 1. **Names** (the positional arguments): a name matches a container when it equals the
///    container's name (with or without the leading `/`), or else when, taken as a regular
///    expression, its first match in `/<name>` starts at index 0 or 1 and ends at the last or
///    second-to-last character (the original's loose anchoring: `we` matches `/web`).
/// 2. **Disabled names** (`--disable-containers`): exact names only.
/// 3. **Enable label** (`--label-enable`): the `…watchtower.enable` label must be present and
///    a boolean.
/// 4. **Scope** (`--scope`): the container's `…watchtower.scope` label must equal it, a
///    missing or empty label counting as `none`.
/// 5. **Disabled label** (always): `…watchtower.enable=false` excludes the container.
/// 6. **Images** (the HTTP API's `image=` query): the container's image (the zodiac label or
///    `Config.Image`) must be selected by one of the [`ImageSelector`]s, which compare
///    normalised names (`nginx` = `library/nginx` = `docker.io/library/nginx`) and the tag
///    only when the selector names one.
///
/// ```
/// use watchtower_actions::Filter;
/// use watchtower_actions::reference::ImageSelector;
///
/// let filter = Filter::all()
///     .names(["web", "db-[0-9]+"])?
///     .disabled(["db-2"])
///     .label_enable(true)
///     .scope("prod");
/// assert_eq!(
///     filter.describe(),
///     r#"Only checking containers which name matches "web" or "db-[0-9]+", not named one of "db-2", using enable label, in scope "prod""#
/// );
/// assert!(Filter::all().names(["(unclosed"]).is_err());
///
/// let nginx = Filter::all().images([ImageSelector::parse("library/nginx")?]);
/// assert_eq!(nginx.describe(), r#"Only checking containers using image "library/nginx""#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Filter {
    names: Vec<NamePattern>,
    disabled: Vec<String>,
    label_enable: bool,
    scope: Option<String>,
    images: Option<Vec<ImageSelector>>,
}

#[derive(Debug, Clone)]
struct NamePattern {
    text: String,
    regex: Regex,
}

impl Filter {
    /// Every container (except those labelled `enable=false`).
    pub fn all() -> Self {
        Self::default()
    }

    /// Only containers matching one of `names` (exactly, or as a loosely anchored regular
    /// expression). An empty list keeps every container.
    pub fn names<I, S>(mut self, names: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names = names
            .into_iter()
            .map(Into::into)
            .map(|text| match Regex::new(&text) {
                Ok(regex) => Ok(NamePattern { text, regex }),
                Err(err) => Err(Error::InvalidNamePattern {
                    message: err
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .to_owned(),
                    pattern: text,
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Never containers with one of these exact names (a leading `/` is ignored).
    #[must_use]
    pub fn disabled<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.disabled = names.into_iter().map(Into::into).collect();
        self
    }

    /// Only containers whose `enable` label is set to a boolean (`--label-enable`); the
    /// value `false` excludes them anyway.
    #[must_use]
    pub fn label_enable(mut self, on: bool) -> Self {
        self.label_enable = on;
        self
    }

    /// Only containers of this scope (`none`: unscoped ones). An empty string means no scope
    /// filtering, as an unset `--scope`.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        self.scope = (!scope.is_empty()).then_some(scope);
        self
    }

    /// Only containers using an image one of `selectors` selects (`nginx`, `nginx:1.27`,
    /// `127.0.0.1:5000/app`; see [`ImageSelector`]).
    #[must_use]
    pub fn images(mut self, selectors: impl IntoIterator<Item = ImageSelector>) -> Self {
        self.images = Some(selectors.into_iter().collect());
        self
    }

    /// The scope this filter selects, if any.
    pub fn scope_value(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// Whether the container passes every condition.
    pub fn matches(&self, container: &Container) -> bool {
        self.matches_name(&container.name)
            && !self.is_disabled_name(&container.name)
            && (!self.label_enable || bool_label(&container.labels, labels::ENABLE).is_some())
            && self
                .scope
                .as_deref()
                .is_none_or(|s| labels::scope_of(container) == s)
            && bool_label(&container.labels, labels::ENABLE) != Some(false)
            && self.matches_image(container)
    }

    /// Like [`matches`](Self::matches), but judging the container as if it had `name`
    /// (used for containers renamed aside by an interrupted update).
    pub(crate) fn matches_as(&self, container: &Container, name: &str) -> bool {
        let mut renamed = container.clone();
        name.clone_into(&mut renamed.name);
        self.matches(&renamed)
    }

    fn matches_name(&self, name: &str) -> bool {
        if self.names.is_empty() {
            return true;
        }
        let bare = name.trim_start_matches('/');
        let slashed = format!("/{bare}");
        self.names.iter().any(|p| {
            if p.text == bare || p.text == slashed {
                return true;
            }
            p.regex
                .find(&slashed)
                .is_some_and(|m| m.start() <= 1 && m.end() + 1 >= slashed.len())
        })
    }

    fn is_disabled_name(&self, name: &str) -> bool {
        let bare = name.trim_start_matches('/');
        self.disabled
            .iter()
            .any(|d| d.trim_start_matches('/') == bare)
    }

    fn matches_image(&self, container: &Container) -> bool {
        let Some(images) = &self.images else {
            return true;
        };
        // An image ID (or anything else that does not parse) is selected by nothing.
        let image = ImageName::of(container);
        let Some(reference) = image.reference() else {
            return false;
        };
        images.iter().any(|selector| selector.matches(reference))
    }

    /// The sentence the start-up message uses to describe the selection, as the original
    /// words it (`Checking all containers (except explicitly disabled with label)`).
    pub fn describe(&self) -> String {
        let mut parts = String::new();
        let list =
            |items: &mut dyn Iterator<Item = &str>| items.collect::<Vec<_>>().join(r#"" or ""#);
        if !self.names.is_empty() {
            let names = list(&mut self.names.iter().map(|p| p.text.as_str()));
            let _ = write!(parts, r#"which name matches "{names}", "#);
        }
        if !self.disabled.is_empty() {
            let names = list(&mut self.disabled.iter().map(String::as_str));
            let _ = write!(parts, r#"not named one of "{names}", "#);
        }
        if self.label_enable {
            parts.push_str("using enable label, ");
        }
        match self.scope.as_deref() {
            None => {}
            Some("none") => parts.push_str("without a scope, "),
            Some(scope) => {
                let _ = write!(parts, r#"in scope "{scope}", "#);
            }
        }
        if let Some(images) = &self.images {
            let names = list(&mut images.iter().map(ImageSelector::as_str));
            let _ = write!(parts, r#"using image "{names}", "#);
        }
        if parts.is_empty() {
            "Checking all containers (except explicitly disabled with label)".to_owned()
        } else {
            format!("Only checking containers {}", parts.trim_end_matches(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str, labels: &[(&str, &str)]) -> Container {
        Container {
            id: format!("id-{name}"),
            name: name.into(),
            image_reference: "nginx:1.27".into(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Container::default()
        }
    }

    #[test]
    fn no_condition_selects_all_but_disabled_by_label() {
        let f = Filter::all();
        assert!(f.matches(&named("a", &[])));
        assert!(f.matches(&named("a", &[(labels::ENABLE, "true")])));
        assert!(f.matches(&named("a", &[(labels::ENABLE, "banana")])));
        assert!(!f.matches(&named("a", &[(labels::ENABLE, "false")])));
        assert!(!f.matches(&named("a", &[(labels::ENABLE, "0")])));
    }

    #[test]
    fn names_match_exactly_then_as_loosely_anchored_regex() {
        let f = Filter::all().names(["web"]).unwrap();
        assert!(f.matches(&named("web", &[])));
        assert!(!f.matches(&named("webserver", &[])));
        assert!(!f.matches(&named("my-web", &[])));
        // The leading slash may be given.
        assert!(
            Filter::all()
                .names(["/web"])
                .unwrap()
                .matches(&named("web", &[]))
        );
        // Loose anchoring: the match may miss the last character (as the original's does).
        assert!(f.matches(&named("webs", &[])));
        assert!(!f.matches(&named("webss", &[])));
        let re = Filter::all().names(["app-[0-9]+"]).unwrap();
        assert!(re.matches(&named("app-12", &[])));
        assert!(!re.matches(&named("x-app-12", &[])));
        assert!(!re.matches(&named("app-", &[])));
        // Only the first match counts: `a` first matches inside "/banana" at 2.
        assert!(
            !Filter::all()
                .names(["a"])
                .unwrap()
                .matches(&named("banana", &[]))
        );
        // An explicit name still passes the other filters.
        assert!(!f.matches(&named("web", &[(labels::ENABLE, "false")])));
    }

    #[test]
    fn a_bad_pattern_is_one_clear_error() {
        let err = Filter::all().names(["ok", "db-(["]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(r#""db-([""#), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn disabled_names_are_exact() {
        let f = Filter::all().disabled(["db", "/cache"]);
        assert!(!f.matches(&named("db", &[])));
        assert!(!f.matches(&named("cache", &[])));
        assert!(f.matches(&named("db2", &[])));
    }

    #[test]
    fn label_enable_requires_a_parsable_label() {
        let f = Filter::all().label_enable(true);
        assert!(f.matches(&named("a", &[(labels::ENABLE, "true")])));
        assert!(f.matches(&named("a", &[(labels::ENABLE, "T")])));
        assert!(!f.matches(&named("a", &[])));
        assert!(!f.matches(&named("a", &[(labels::ENABLE, "yes")])));
        assert!(!f.matches(&named("a", &[(labels::ENABLE, "false")])));
    }

    #[test]
    fn scopes() {
        let prod = Filter::all().scope("prod");
        assert!(prod.matches(&named("a", &[(labels::SCOPE, "prod")])));
        assert!(!prod.matches(&named("a", &[(labels::SCOPE, "dev")])));
        assert!(!prod.matches(&named("a", &[])));
        let none = Filter::all().scope("none");
        assert!(none.matches(&named("a", &[])));
        assert!(none.matches(&named("a", &[(labels::SCOPE, "")])));
        assert!(none.matches(&named("a", &[(labels::SCOPE, "none")])));
        assert!(!none.matches(&named("a", &[(labels::SCOPE, "prod")])));
        let unset = Filter::all().scope("");
        assert!(unset.matches(&named("a", &[(labels::SCOPE, "prod")])));
        assert_eq!(unset.scope_value(), None);
    }

    fn images(selectors: &[&str]) -> Filter {
        Filter::all().images(selectors.iter().map(|s| ImageSelector::parse(s).unwrap()))
    }

    #[test]
    fn images_match_with_or_without_tag_and_with_ports() {
        let mut c = named("a", &[]);
        c.image_reference = "127.0.0.1:5000/team/app:v2".into();
        assert!(images(&["127.0.0.1:5000/team/app"]).matches(&c));
        assert!(images(&["127.0.0.1:5000/team/app:v2"]).matches(&c));
        assert!(!images(&["127.0.0.1:5000/team/app:v3"]).matches(&c));
        assert!(!images(&["127.0.0.1"]).matches(&c));
        assert!(!images(&["team/app"]).matches(&c));
        c.image_reference = "nginx".into();
        assert!(images(&["nginx", "redis"]).matches(&c));
        assert!(images(&["nginx:latest"]).matches(&c));
        assert!(!images(&["nginx:1.27"]).matches(&c));
        // An empty list selects nothing (the HTTP API never sends one).
        assert!(!images(&[]).matches(&c));
    }

    #[test]
    fn images_are_compared_by_normalised_name() {
        // The audit's case: `?image=library/nginx` must select a container on `nginx:1.27`.
        let c = named("a", &[]);
        assert!(images(&["library/nginx"]).matches(&c));
        assert!(images(&["docker.io/library/nginx"]).matches(&c));
        assert!(images(&["index.docker.io/library/nginx:1.27"]).matches(&c));
        assert!(!images(&["someone/nginx"]).matches(&c));
        // The zodiac label's image is the one compared.
        let mut z = named(
            "z",
            &[(labels::ZODIAC_ORIGINAL_IMAGE, "registry.example/app:3")],
        );
        z.image_reference = "sha256:0123".into();
        assert!(images(&["registry.example/app"]).matches(&z));
        // A container created from an image ID is selected by nothing.
        let mut id = named("id", &[]);
        id.image_reference = "sha256:0123".into();
        assert!(!images(&["nginx"]).matches(&id));
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            Filter::all().describe(),
            "Checking all containers (except explicitly disabled with label)"
        );
        assert_eq!(
            Filter::all().scope("none").describe(),
            "Only checking containers without a scope"
        );
        assert_eq!(
            Filter::all().names(["a", "b"]).unwrap().describe(),
            r#"Only checking containers which name matches "a" or "b""#
        );
    }
}
