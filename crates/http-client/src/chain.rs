//! One error-chain formatter for every HTTP (and mail) error we show a user.

use std::error::Error as StdError;

/// An error and its sources, joined with `: `, each message once: a source whose text the
/// line already holds (hyper and rustls often repeat their cause) is left out. Looks inside
/// `io::Error`s too, whose wrapped error `source()` does not show.
///
/// ```
/// use watchtower_http_client::error_chain;
///
/// let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
/// let outer = std::io::Error::other(inner);
/// assert_eq!(error_chain(&outer), "connection refused");
/// ```
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    for e in sources(err) {
        let message = e.to_string();
        if message.is_empty() || text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

/// The first error of type `T` in `err`'s chain (looking inside `io::Error`s too).
pub(crate) fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    sources(err).find_map(|e| e.downcast_ref::<T>())
}

/// `err`, then each source in turn; an `io::Error` wrapping another error is followed by
/// the wrapped error itself.
fn sources<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e: &&'a (dyn StdError + 'static)| {
        e.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .map(|inner| inner as &(dyn StdError + 'static))
            .or_else(|| e.source())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<dyn StdError + Send + Sync>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Layer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn joins_sources_once_and_looks_inside_io_errors() {
        let io = std::io::Error::other(Layer("tls handshake eof", None));
        let err = Layer(
            "client error (Connect)",
            Some(Box::new(Layer(
                "connect failed: tls handshake eof",
                Some(Box::new(io)),
            ))),
        );
        assert_eq!(
            error_chain(&err),
            "client error (Connect): connect failed: tls handshake eof"
        );
        assert!(find::<Layer>(&err).is_some());
        assert!(find::<std::fmt::Error>(&err).is_none());
        let deep = Layer(
            "outer",
            Some(Box::new(std::io::Error::other(Layer("inner", None)))),
        );
        assert_eq!(error_chain(&deep), "outer: inner");
        assert_eq!(find::<Layer>(&deep).map(|l| l.0), Some("outer"));
    }
}
