//! Errors of this crate. None carries a URL's credentials, a proxy password or a header
//! value: they name the host, the proxy (`host:port`) or the variable instead.

use http::StatusCode;

/// Why a client could not be built or a request did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be made or did not complete (connect, TLS, proxy, timeout, body).
    #[error("{host}: {kind}: {reason}")]
    Transport {
        /// The host the request went to (as the caller named it).
        host: String,
        /// What kind of failure, for callers that decide on it (retry, downgrade or not).
        kind: TransportErrorKind,
        /// The details: the error chain, without repeats.
        reason: String,
        /// The status of the answer when the failure came while reading its body
        /// ([`TransportErrorKind::BodyTooLarge`], a reset mid-body), else `None`.
        status: Option<StatusCode>,
    },

    /// A proxy variable (`HTTPS_PROXY`, `HTTP_PROXY`) is not a usable proxy URL.
    #[error("proxy setting {variable}={value}: {reason}")]
    ProxyConfig {
        /// The variable, e.g. `HTTPS_PROXY`.
        variable: String,
        /// Its value with any credentials replaced by `***`.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The TLS configuration could not be built.
    #[error(transparent)]
    Tls(#[from] watchtower_tls_config::Error),
}

impl Error {
    /// The kind of a transport failure; `None` for a configuration error.
    pub fn transport_kind(&self) -> Option<TransportErrorKind> {
        match self {
            Self::Transport { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether sending the same request again can succeed: see
    /// [`TransportErrorKind::is_retryable`]. Configuration errors never are.
    pub fn is_retryable(&self) -> bool {
        self.transport_kind()
            .is_some_and(TransportErrorKind::is_retryable)
    }
}

/// The kind of a [`Error::Transport`] failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection: TCP connect failed (refused, unreachable, DNS), or the connection
    /// (TCP, `CONNECT`, TLS handshake) was not made within the connect limit.
    Connect,
    /// The server's TLS certificate was rejected: never a reason to fall back to plain HTTP.
    TlsCertificate,
    /// The TLS handshake failed for another reason, for example the server does not speak TLS.
    TlsHandshake,
    /// No complete answer within the request timeout.
    Timeout,
    /// The response body is larger than the configured cap.
    BodyTooLarge,
    /// Any other HTTP protocol failure (connection reset, malformed response).
    Protocol,
    /// The proxy failed: unreachable, refused the `CONNECT` tunnel, or wants other
    /// credentials (407). Never a reason to fall back to plain HTTP.
    Proxy,
}

impl TransportErrorKind {
    /// Whether the same request can succeed when sent again: a connection that could not be
    /// made (refused, or not made within the connect limit) or that broke can.
    ///
    /// Never retried: an untrusted certificate, a server that does not speak TLS, a body
    /// over the cap and a proxy that refuses us (another attempt changes nothing), and a
    /// request that timed out after it was sent (the server may have acted on it; sending
    /// it again could deliver it twice and costs another full timeout).
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Connect | Self::Protocol)
    }
}

impl std::fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "cannot connect",
            Self::TlsCertificate => "TLS certificate not trusted",
            Self::TlsHandshake => "TLS handshake failed",
            Self::Timeout => "timed out",
            Self::BodyTooLarge => "response too large",
            Self::Protocol => "HTTP error",
            Self::Proxy => "proxy error",
        })
    }
}
