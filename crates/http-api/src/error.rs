//! Errors of the HTTP API crate.

use std::net::SocketAddr;

/// Everything that can go wrong while building or serving the HTTP API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API was enabled without a bearer token (`--http-api-token` empty).
    #[error("the HTTP API needs a token: set --http-api-token (WATCHTOWER_HTTP_API_TOKEN)")]
    EmptyToken,

    /// The listening socket could not be bound.
    #[error("cannot listen on {addr} for the HTTP API: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The listening socket could not be used (its address could not be read).
    #[error("the HTTP API server failed: {source}")]
    Serve {
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },

    /// An `image` selector in an update request could not be used.
    #[error("invalid image selector {selector:?}: {reason}")]
    InvalidImageSelector {
        /// The selector as sent by the client.
        selector: String,
        /// Why it was refused.
        reason: String,
    },
}
