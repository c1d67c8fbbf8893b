//! Errors of this crate: each names the bundle file and the reason.

use std::path::PathBuf;

/// Why a CA bundle or a TLS client configuration could not be made.
///
/// Every variant that concerns a bundle names its file, so that a user who passed
/// `--registry-ca` sees at once which file is wrong and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bundle file could not be read (missing, a directory, no permission).
    #[error("registry CA bundle {}: cannot read the file: {source}", path.display())]
    Read {
        /// The bundle file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// The file holds no `-----BEGIN CERTIFICATE-----` section at all.
    #[error("registry CA bundle {}: no PEM certificate found", path.display())]
    NoCertificate {
        /// The bundle file.
        path: PathBuf,
    },

    /// The PEM framing or its base64 body is broken.
    #[error("registry CA bundle {}: invalid PEM: {reason}", path.display())]
    Pem {
        /// The bundle file.
        path: PathBuf,
        /// What is wrong with the PEM text.
        reason: String,
    },

    /// A PEM certificate section does not hold a parsable X.509 certificate.
    #[error("registry CA bundle {}: certificate #{index} is not a valid X.509 certificate: {reason}", path.display())]
    InvalidCertificate {
        /// The bundle file.
        path: PathBuf,
        /// Position of the certificate in the file, counting from 1.
        index: usize,
        /// What the parser objected to.
        reason: String,
    },

    /// A certificate parses but cannot serve as a trust anchor.
    #[error("registry CA bundle {}: certificate #{index} cannot be used as a trust anchor: {reason}", path.display())]
    NotATrustAnchor {
        /// The bundle file.
        path: PathBuf,
        /// Position of the certificate in the file, counting from 1.
        index: usize,
        /// What the verifier objected to.
        reason: String,
    },

    /// Under validation: a certificate is outside its validity period.
    #[error("registry CA bundle {}: {problem}", path.display())]
    Validity {
        /// The bundle file.
        path: PathBuf,
        /// Which certificate and what is wrong with its dates.
        problem: crate::ValidityProblem,
    },

    /// rustls refused to build a client configuration (for example no usable protocol version).
    #[error("cannot build the registry TLS configuration: {source}")]
    Rustls {
        /// The rustls error.
        #[from]
        source: rustls::Error,
    },
}
