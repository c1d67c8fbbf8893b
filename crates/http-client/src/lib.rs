//! The one HTTP client of watchtower, for registry traffic and notifications alike.
//!
//! * [`HttpClient`]: a pooled hyper-util client over hyper-rustls, verified TLS from
//!   `watchtower-tls-config` (webpki roots, the system trust store as Go reads it, and the
//!   `--registry-ca` bundle), a connect limit that covers TCP, the proxy's `CONNECT` and the
//!   TLS handshake, a limit on the whole request, a cap on every body read, and a count of
//!   the TCP connections it opened.
//! * [`ProxyConfig`]: `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` (and their lower-case forms) with
//!   the rules of Go's `net/http`: HTTPS through `CONNECT` tunnels with TLS verified end to
//!   end, plain HTTP in absolute form, Go's `NO_PROXY` matcher, loopback never proxied,
//!   `https://` and SOCKS proxies refused with a clear message. The client never resolves a
//!   proxied host's name.
//! * [`status_is_retryable`] and [`TransportErrorKind::is_retryable`]: the one rule for what
//!   is worth sending again (only what can succeed on retry: never a `501`, an untrusted
//!   certificate or a body over the cap).
//! * [`retry_after`] / [`parse_retry_after`]: `Retry-After` as delta-seconds or an HTTP date.
//! * [`error_chain`]: an error and its sources on one line, each message once.
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use watchtower_http_client::{HttpClient, HttpOptions, ProxyConfig, TransportErrorKind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let client = HttpClient::new(HttpOptions {
//!     connect_timeout: Duration::from_secs(2),
//!     proxy: ProxyConfig::none(),
//!     ..HttpOptions::default()
//! })
//! .unwrap();
//! // Nothing listens on port 9 of 127.0.0.1: the error names the host and the kind.
//! let request = http::Request::get("http://127.0.0.1:9/").body(Bytes::new()).unwrap();
//! let err = client.send("127.0.0.1:9", request).await.unwrap_err();
//! assert_eq!(err.transport_kind(), Some(TransportErrorKind::Connect));
//! assert!(err.to_string().starts_with("127.0.0.1:9: cannot connect: "), "{err}");
//! assert!(err.is_retryable());
//! # }
//! ```
//!
//! Depends on `watchtower-tls-config` (and hyper, rustls with *ring*); nothing Docker- or
//! registry-specific, nothing of notifications. HTTP/2 is offered by ALPN on TLS
//! connections where [`HttpOptions::http2`] says so (plain HTTP is always HTTP/1.1); hyper's
//! pool multiplexes the requests to an HTTP/2 server on one connection, and until a server's
//! protocol is known ([`HttpClient::protocol_of`]) one request to it goes first, so that
//! requests started together do not each open a connection of their own.

#![warn(missing_docs)]

mod chain;
mod client;
mod error;
mod proxy;
mod retry;

pub use chain::error_chain;
pub use client::{HttpClient, HttpOptions, HttpResponse};
pub use error::{Error, TransportErrorKind};
pub use proxy::ProxyConfig;
pub use retry::{parse_retry_after, retry_after, status_is_retryable};
pub use watchtower_tls_config::TlsSettings;
