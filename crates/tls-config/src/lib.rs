//! TLS for registry and notification traffic: private CA bundles (`--registry-ca`), their
//! validation (`--registry-ca-validate`), the system trust store as Go finds it on Linux
//! ([`SystemRoots`]: `SSL_CERT_FILE`, `SSL_CERT_DIR`, the distributions' bundle files) and the
//! rustls client configuration used for every request.
//!
//! TLS is verified by default, against the webpki (Mozilla) roots, the system roots and the
//! certificates of an optional PEM bundle. The only way to turn verification off is the explicit insecure mode
//! (`--insecure-registry`), which logs a warning once per process.
//!
//! ```
//! use std::time::SystemTime;
//! use watchtower_tls_config::{CaBundle, TlsSettings};
//!
//! // A private CA, as an operator would keep it in a PEM file.
//! let key = rcgen::KeyPair::generate().unwrap();
//! let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
//! params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
//! let ca = params.self_signed(&key).unwrap();
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("registry-ca.pem");
//! std::fs::write(&path, ca.pem()).unwrap();
//!
//! // `--registry-ca <path> --registry-ca-validate`
//! let settings = TlsSettings::from_flags(Some(&path), true, false, SystemTime::now()).unwrap();
//! assert_eq!(settings.ca_bundle().map(CaBundle::len), Some(1));
//! let config = settings.client_config().unwrap();
//! assert_eq!(config.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
//!
//! // A bad bundle is one clear error naming the file.
//! let missing = dir.path().join("missing.pem");
//! let err = TlsSettings::from_flags(Some(&missing), false, false, SystemTime::now()).unwrap_err();
//! assert!(err.to_string().starts_with(&format!("registry CA bundle {}: cannot read", missing.display())));
//! ```
//!
//! Crypto comes from rustls with the *ring* provider only, selected explicitly; this crate must
//! not depend on aws-lc-rs, OpenSSL or native-tls, nor on any HTTP or Docker crate.

#![warn(missing_docs)]

mod bundle;
mod error;
mod settings;
mod system;

pub use bundle::{CaBundle, ValidityProblem, ValidityProblemKind, validate};
pub use error::Error;
pub use settings::TlsSettings;
pub use system::{GO_CERT_DIRS, GO_CERT_FILES, SystemRoots};

/// The rustls types a caller needs to use the configuration, re-exported so that versions match.
pub use rustls::ClientConfig;
