//! Credentials held by the configuration, and the original's "secrets from files" rule.
//!
//! The credential type is `watchtower_registry_auth::Secret` (its `Debug` never shows the
//! value; [`Secret::expose`] is the one way to read it); this module only decides when a
//! flag's value names a file and reads it.

use std::io;
use std::path::{Path, PathBuf};

pub use watchtower_registry_auth::Secret;

/// Whether a secret value is to be read from a file, as the original decided: a value with
/// a `:` anywhere but as its second character (`https://…`, `slack://…`) is never a path
/// (`C:\…` still is); otherwise it is a path when something exists there, or when asking
/// fails for another reason than "not found" (so the read reports the real problem).
pub fn names_a_file(value: &str) -> bool {
    if value.is_empty() {
        return false;
    }
    match value.find(':') {
        Some(1) | None => {}
        Some(_) => return false,
    }
    match std::fs::metadata(value) {
        Ok(_) => true,
        Err(err) => err.kind() != io::ErrorKind::NotFound,
    }
}

/// A secret file that could not be read.
#[derive(Debug)]
pub struct SecretFileError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: io::Error,
}

/// Reads a scalar secret from `path`, whitespace trimmed.
pub fn read_scalar(path: &Path) -> Result<String, SecretFileError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|source| SecretFileError {
            path: path.to_owned(),
            source,
        })
}

/// Reads a list secret from `path`: one value per non-empty line.
pub fn read_lines(path: &Path) -> Result<Vec<String>, SecretFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| SecretFileError {
        path: path.to_owned(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_never_files_but_paths_and_drive_letters_are() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "  abc \n").unwrap();
        assert!(names_a_file(file.to_str().unwrap()));
        assert!(!names_a_file("https://example.invalid/hook"));
        assert!(!names_a_file("slack://a:b@c"));
        assert!(!names_a_file("plain-token-value"));
        assert!(!names_a_file(""));
        // A colon in second place is a drive letter: still looked up (and absent here).
        assert!(!names_a_file("C:\\does-not-exist"));
        assert_eq!(read_scalar(&file).unwrap(), "abc");
    }

    #[test]
    fn list_files_give_one_value_per_non_empty_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("urls");
        std::fs::write(&file, "logger://\n\n  generic://example.invalid  \r\n").unwrap();
        assert_eq!(
            read_lines(&file).unwrap(),
            ["logger://", "generic://example.invalid"]
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
    }
}
