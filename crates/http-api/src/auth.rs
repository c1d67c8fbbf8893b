//! The bearer token and its constant-time check.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Error;

/// The API token. Its `Debug` output never shows the value.
///
/// Requests must carry `Authorization: Bearer <token>`. The comparison hashes both sides with
/// SHA-256 and compares the digests in constant time, so neither the content nor the length of
/// the token leaks through response timing.
#[derive(Clone)]
pub struct Token {
    expected_digest: [u8; 32],
}

impl Token {
    /// Makes a token; an empty (or all-whitespace) value is refused.
    pub fn new(value: &str) -> Result<Self, Error> {
        if value.trim().is_empty() {
            return Err(Error::EmptyToken);
        }
        Ok(Self {
            expected_digest: digest(format!("Bearer {value}").as_bytes()),
        })
    }

    /// Whether an `Authorization` header value grants access.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(header) = authorization else {
            return false;
        };
        let given = digest(header);
        bool::from(given.ct_eq(&self.expected_digest))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_exact_bearer_header() {
        let token = Token::new("s3cret").unwrap();
        assert!(token.accepts(Some(b"Bearer s3cret")));
        assert!(!token.accepts(Some(b"Bearer s3cre")));
        assert!(!token.accepts(Some(b"Bearer s3cret ")));
        assert!(!token.accepts(Some(b"bearer s3cret")));
        assert!(!token.accepts(Some(b"s3cret")));
        assert!(!token.accepts(Some(b"Basic s3cret")));
        assert!(!token.accepts(None));
    }

    #[test]
    fn empty_token_is_refused() {
        assert!(matches!(Token::new(""), Err(Error::EmptyToken)));
        assert!(matches!(Token::new("  "), Err(Error::EmptyToken)));
    }

    #[test]
    fn debug_hides_the_value() {
        let token = Token::new("s3cret").unwrap();
        let shown = format!("{token:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
