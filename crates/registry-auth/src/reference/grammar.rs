//! Docker's reference grammar (`distribution/reference`'s `ReferenceRegexp`), checked by hand.
//!
//! `oci_spec::distribution::Reference` checks it with one regular expression whose compiled
//! form and per-thread search caches took ~19 MB of heap for the life of the process (measured
//! with massif on the daemon: 5.4 MB of NFA plus 5.2 MB of `PikeVM` cache per thread that parsed a
//! reference), more than the rest of the daemon together. This walks the same grammar in a few
//! hundred bytes of stack; the result is fed to `Reference`'s constructors, so normalisation,
//! equality and display stay `oci_spec`'s.
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] component ( "/" component )*
//! domain     := label ( "." label )* [ ":" [0-9]+ ]
//! label      := [a-zA-Z0-9] | [a-zA-Z0-9] [a-zA-Z0-9-]* [a-zA-Z0-9]
//! component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"* ) [a-z0-9]+ )*
//! tag        := [\w] [\w.-]{0,127}
//! digest     := algorithm ":" [0-9a-fA-F]{32,}
//! algorithm  := [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )*
//! ```
//!
//! `\w` is ASCII (`[A-Za-z0-9_]`), as in Docker's Go regexp; `oci_spec`'s Rust regexp reads it
//! as Unicode, a difference no image can show, since the engine refuses such tags.

/// The parts of a reference as written: name, tag, digest. `None` when `input` is not in the
/// grammar. The grammar is unambiguous: a digest follows the only `@`, a tag the only `:`
/// after the last `/` (a port's `:` is always followed by a `/`).
pub(super) fn split(input: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let (before, digest) = match input.split_once('@') {
        Some((before, digest)) => (before, Some(digest)),
        None => (input, None),
    };
    let last_slash = before.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match before[last_slash..].find(':') {
        Some(i) => (
            &before[..last_slash + i],
            Some(&before[last_slash + i + 1..]),
        ),
        None => (before, None),
    };
    let valid = is_name(name) && tag.is_none_or(is_tag) && digest.is_none_or(is_digest);
    valid.then_some((name, tag, digest))
}

fn is_name(name: &str) -> bool {
    let mut components = name.split('/');
    let Some(first) = components.next() else {
        return false;
    };
    let rest_are_paths = components.clone().all(is_path_component);
    // Either every component is a path component, or the first is a domain and at least one
    // path component follows it.
    rest_are_paths
        && (is_path_component(first) || (components.next().is_some() && is_domain(first)))
}

/// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"* ) [a-z0-9]+ )*`: lower-case alphanumerics, joined by
/// one of the separators.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().copied().is_some_and(alnum) || !bytes.last().copied().is_some_and(alnum) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `label ( "." label )* [ ":" [0-9]+ ]`.
fn is_domain(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && host.split('.').all(is_label)
}

/// `[a-zA-Z0-9] | [a-zA-Z0-9] [a-zA-Z0-9-]* [a-zA-Z0-9]`.
fn is_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// `[\w] [\w.-]{0,127}`.
fn is_tag(tag: &str) -> bool {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let bytes = tag.as_bytes();
    bytes.len() <= 128
        && bytes.first().is_some_and(word)
        && bytes.iter().all(|b| word(b) || *b == b'.' || *b == b'-')
}

/// `algorithm ":" [0-9a-fA-F]{32,}`.
fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    hex_ok
        && algorithm.split(['-', '_', '+', '.']).all(|part| {
            let bytes = part.as_bytes();
            bytes.first().is_some_and(u8::is_ascii_alphabetic)
                && bytes.iter().all(u8::is_ascii_alphanumeric)
        })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use oci_spec::distribution::{ParseError, Reference};
    use proptest::prelude::*;

    use super::split;
    use crate::reference::parse_reference;

    /// Our parse and `oci_spec`'s give the same `Reference` or the same error.
    fn same_as_oci(input: &str) -> Result<(), String> {
        let ours = format!("{:?}", parse_reference(input));
        let theirs = format!("{:?}", Reference::from_str(input));
        if ours == theirs {
            Ok(())
        } else {
            Err(format!("{input:?}: ours {ours}, oci_spec {theirs}"))
        }
    }

    /// What `oci_spec`'s regular expression says: is `input` in the grammar?
    fn oci_accepts(input: &str) -> bool {
        !matches!(
            Reference::from_str(input),
            Err(ParseError::ReferenceInvalidFormat | ParseError::NameEmpty)
        )
    }

    #[test]
    fn agrees_with_the_regular_expression_on_known_cases() {
        let hex = "f".repeat(64);
        let cases = [
            "busybox".to_owned(),
            "test.com:tag".to_owned(),
            "test.com:5000".to_owned(),
            "test:5000/repo:tag".to_owned(),
            format!("test:5000/repo:tag@sha256:{hex}"),
            format!("repo@sha256:{hex}"),
            "a__b".to_owned(),
            "a___b".to_owned(),
            "a---b/c".to_owned(),
            "a.-b".to_owned(),
            "-a".to_owned(),
            "a-".to_owned(),
            "a//b".to_owned(),
            "/a".to_owned(),
            "a/".to_owned(),
            "localhost:/a".to_owned(),
            "localhost:1/a".to_owned(),
            "Upper.Case:5000/a".to_owned(),
            "Upper/a".to_owned(),
            "a:".to_owned(),
            "a:-x".to_owned(),
            format!("a:{}", "t".repeat(128)),
            format!("a:{}", "t".repeat(129)),
            "a@sha256:abc".to_owned(),
            format!("a@sha-256+x.y:{hex}"),
            format!("a@1sha:{hex}"),
            format!("a@sha256:{hex}@x"),
            "a:b:c".to_owned(),
            "a/b:c/d".to_owned(),
            "-.com/a".to_owned(),
            "a.com./b".to_owned(),
            String::new(),
        ];
        for case in &cases {
            assert_eq!(split(case).is_some(), oci_accepts(case), "{case:?}");
            same_as_oci(case).unwrap();
        }
    }

    #[test]
    fn splits_name_tag_and_digest() {
        let hex = "0".repeat(64);
        let input = format!("127.0.0.1:5000/team/app:1.2@sha256:{hex}");
        let digest = format!("sha256:{hex}");
        assert_eq!(
            split(&input),
            Some((
                "127.0.0.1:5000/team/app",
                Some("1.2"),
                Some(digest.as_str())
            ))
        );
        assert_eq!(
            split("test.com:5000"),
            Some(("test.com", Some("5000"), None))
        );
    }

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9]{1,4}",
            "[A-Za-z0-9._-]{0,4}",
            Just("/".to_owned()),
            Just(":".to_owned()),
            Just("@".to_owned()),
            Just("__".to_owned()),
            Just("sha256:".to_owned()),
            "[0-9a-f]{32}",
            "[0-9]{1,4}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Over ASCII, the hand-written check accepts exactly what the regular expression does.
        #[test]
        fn agrees_with_the_regular_expression(pieces in prop::collection::vec(piece(), 1..8)) {
            let input = pieces.concat();
            prop_assert_eq!(split(&input).is_some(), oci_accepts(&input), "{:?}", input);
            prop_assert!(same_as_oci(&input).is_ok(), "{}", same_as_oci(&input).unwrap_err());
        }

        #[test]
        fn agrees_on_arbitrary_ascii(input in "[ -~]{0,40}") {
            prop_assert_eq!(split(&input).is_some(), oci_accepts(&input), "{:?}", input);
            prop_assert!(same_as_oci(&input).is_ok(), "{}", same_as_oci(&input).unwrap_err());
        }
    }
}
