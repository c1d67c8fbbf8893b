//! Splitting an image reference into what `POST /images/create` wants.
//!
//! This is deliberately not `watchtower_registry_auth::ImageReference`, the workspace's
//! parser: this crate stands alone (it depends on no other watchtower crate, see
//! `docs/ARCHITECTURE.md`), and the engine parses, validates and normalises the reference
//! itself. All the pull call needs from us is the tag split off, so that it is never empty
//! (an empty tag pulls every tag of the repository); anything beyond that obvious check is
//! left to the engine's answer.

use crate::error::Error;

/// `registry:5000/team/app:1.2` -> (`registry:5000/team/app`, `1.2`);
/// `app@sha256:...` -> (`app`, `sha256:...`); no tag -> `latest`.
///
/// The engine pulls *every* tag of a repository when `fromImage` has none and `tag` is empty,
/// so the tag is always given explicitly.
pub(crate) fn split(reference: &str) -> Result<(String, String), Error> {
    let invalid = |reason| Error::InvalidReference {
        reference: reference.to_owned(),
        reason,
    };
    if reference.is_empty() {
        return Err(invalid("it is empty"));
    }
    if reference
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid("it contains white space"));
    }
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if repository.is_empty() || repository.ends_with('/') {
        return Err(invalid("the repository name is missing"));
    }
    let tag = match (digest, tag) {
        (Some(d), _) if d.contains(':') && !d.ends_with(':') => d,
        (Some(_), _) => return Err(invalid("the digest is not algorithm:hex")),
        (None, Some("")) => return Err(invalid("the tag after ':' is empty")),
        (None, Some(t)) => t,
        (None, None) => "latest",
    };
    Ok((repository.to_owned(), tag.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(r: &str) -> (String, String) {
        split(r).unwrap()
    }

    #[test]
    fn splits_tags_digests_and_ports() {
        assert_eq!(ok("nginx"), ("nginx".into(), "latest".into()));
        assert_eq!(ok("nginx:1.27"), ("nginx".into(), "1.27".into()));
        assert_eq!(
            ok("127.0.0.1:5000/team/app"),
            ("127.0.0.1:5000/team/app".into(), "latest".into())
        );
        assert_eq!(
            ok("127.0.0.1:5000/team/app:v2"),
            ("127.0.0.1:5000/team/app".into(), "v2".into())
        );
        assert_eq!(ok("app@sha256:abcd"), ("app".into(), "sha256:abcd".into()));
        assert_eq!(
            ok("r:5000/app:1@sha256:abcd"),
            ("r:5000/app".into(), "sha256:abcd".into())
        );
    }

    #[test]
    fn bad_references_are_named() {
        for bad in [
            "",
            "app:",
            "a b",
            ":tag",
            "r:5000/",
            "app@sha256",
            "app@sha256:",
        ] {
            let e = split(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{bad:?}: {e}");
        }
    }
}
