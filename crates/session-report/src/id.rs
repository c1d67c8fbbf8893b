//! Short forms of container and image IDs.

/// The short form of a container or image ID, exactly as the original's `ShortID` computes it
/// (templates call it as `.ID.ShortID`, `.CurrentImageID.ShortID`).
///
/// - `sha256:<hex>` gives the first 12 characters after `sha256:`;
/// - a bare `<hex>` gives its first 12 characters;
/// - any other `<algo>:<hex>` keeps the prefix and 12 characters after it (`sha512:0123456789ab`);
/// - an ID too short for that is returned whole (including any `sha256:` prefix), as is `""`.
///
/// ```
/// use watchtower_session_report::short_id;
/// assert_eq!(short_id("sha256:0123456789abcdef0123"), "0123456789ab");
/// assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
/// assert_eq!(short_id("sha256:abc"), "sha256:abc");
/// assert_eq!(short_id(""), "");
/// ```
pub fn short_id(id: &str) -> &str {
    let (offset, length) = match id.find(':') {
        Some(sep) if &id[..sep] == "sha256" => (sep + 1, 12),
        Some(sep) => (0, 12 + sep + 1),
        None => (0, 12),
    };
    // Go slices bytes; IDs are ASCII, but never panic on odd input: fall back to the whole ID
    // when the cut would land inside a multi-byte character.
    id.get(offset..offset + length).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::short_id;
    use proptest::prelude::*;

    #[test]
    fn sha256_prefix_is_dropped() {
        assert_eq!(
            short_id("sha256:4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"),
            "4e5f6a7b8c9d"
        );
    }

    #[test]
    fn bare_hex_is_cut_to_twelve() {
        assert_eq!(short_id("c79110ac4a2be3b6b0d3ba4a3d4e0e4f"), "c79110ac4a2b");
        assert_eq!(short_id("c79110ac4a2b"), "c79110ac4a2b");
    }

    #[test]
    fn other_algorithms_keep_their_prefix() {
        assert_eq!(short_id("sha512:0123456789abcdef"), "sha512:0123456789ab");
    }

    #[test]
    fn too_short_ids_are_returned_whole() {
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(short_id("sha256:abc"), "sha256:abc");
        assert_eq!(short_id(""), "");
    }

    proptest! {
        #[test]
        fn never_panics_and_is_a_substring(id in ".{0,80}") {
            let short = short_id(&id);
            prop_assert!(id.contains(short));
        }
    }
}
