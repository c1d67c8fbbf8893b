//! PEM CA bundles: loading, X.509 checks and validity dates.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::Error;

/// Extra trust anchors for registry TLS, read from one PEM file (`--registry-ca`).
///
/// A bundle holds one or many certificates. [`CaBundle::load`] checks the structure (the file is
/// readable, holds at least one PEM certificate, every one is X.509 and usable as a trust
/// anchor); [`validate`] additionally rejects certificates outside their validity period.
#[derive(Clone)]
pub struct CaBundle {
    path: PathBuf,
    certs: Vec<BundleCert>,
}

#[derive(Clone)]
struct BundleCert {
    der: CertificateDer<'static>,
    subject: String,
    not_before: i64,
    not_after: i64,
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("path", &self.path)
            .field(
                "subjects",
                &self
                    .certs
                    .iter()
                    .map(|c| c.subject.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A certificate of a bundle that is not valid at the time asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidityProblem {
    /// Position of the certificate in the file, counting from 1.
    pub index: usize,
    /// The certificate's subject, as text (for example `CN=my registry CA`).
    pub subject: String,
    /// Expired or not yet valid, with the date in question.
    pub kind: ValidityProblemKind,
}

/// What is wrong with a certificate's dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidityProblemKind {
    /// `notAfter` lies before the time asked about.
    Expired {
        /// `notAfter`, seconds since the Unix epoch.
        not_after: i64,
    },
    /// `notBefore` lies after the time asked about.
    NotYetValid {
        /// `notBefore`, seconds since the Unix epoch.
        not_before: i64,
    },
}

impl fmt::Display for ValidityProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ValidityProblemKind::Expired { not_after } => write!(
                f,
                "certificate #{} ({}) expired at {}",
                self.index,
                self.subject,
                format_unix(not_after)
            ),
            ValidityProblemKind::NotYetValid { not_before } => write!(
                f,
                "certificate #{} ({}) is not valid before {}",
                self.index,
                self.subject,
                format_unix(not_before)
            ),
        }
    }
}

/// Formats seconds since the epoch as an RFC 3339 UTC timestamp without pulling in a date crate.
fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (proleptic Gregorian), valid for every i64 day count we can meet here.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

impl CaBundle {
    /// Reads a PEM bundle and checks its structure; certificate dates are not checked here
    /// (see [`validate`] and [`CaBundle::validity_problems`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_pem(path, &bytes)
    }

    /// Parses PEM text as if it had been read from `path` (which only serves to name the bundle
    /// in errors).
    pub fn from_pem(path: impl AsRef<Path>, pem: &[u8]) -> Result<Self, Error> {
        let path = path.as_ref();
        let mut certs = Vec::new();
        for (i, item) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let index = i + 1;
            let der = item.map_err(|e| Error::Pem {
                path: path.to_owned(),
                reason: match e {
                    rustls_pki_types::pem::Error::MissingSectionEnd { .. } => {
                        format!("certificate #{index} has no END line")
                    }
                    other => format!("certificate #{index}: {other}"),
                },
            })?;
            let (rest, parsed) =
                x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| {
                    Error::InvalidCertificate {
                        path: path.to_owned(),
                        index,
                        reason: e.to_string(),
                    }
                })?;
            if !rest.is_empty() {
                return Err(Error::InvalidCertificate {
                    path: path.to_owned(),
                    index,
                    reason: format!("{} trailing bytes after the certificate", rest.len()),
                });
            }
            let validity = parsed.validity();
            let cert = BundleCert {
                subject: parsed.subject().to_string(),
                not_before: validity.not_before.timestamp(),
                not_after: validity.not_after.timestamp(),
                der: der.clone(),
            };
            // The verifier needs a trust anchor; check now so that a bad certificate is named
            // at start-up rather than failing every handshake later.
            webpki_anchor_check(&der).map_err(|reason| Error::NotATrustAnchor {
                path: path.to_owned(),
                index,
                reason,
            })?;
            certs.push(cert);
        }
        if certs.is_empty() {
            return Err(Error::NoCertificate {
                path: path.to_owned(),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            certs,
        })
    }

    /// The file this bundle was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many certificates the bundle holds (at least one).
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Always false: a loaded bundle holds at least one certificate.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The subjects of the certificates, in file order.
    pub fn subjects(&self) -> impl Iterator<Item = &str> {
        self.certs.iter().map(|c| c.subject.as_str())
    }

    /// The certificates, DER encoded, in file order.
    pub fn certificates(&self) -> impl Iterator<Item = &CertificateDer<'static>> {
        self.certs.iter().map(|c| &c.der)
    }

    /// Certificates that are expired or not yet valid at `now`, in file order.
    pub fn validity_problems(&self, now: SystemTime) -> Vec<ValidityProblem> {
        let now = unix_seconds(now);
        self.certs
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let kind = if now > c.not_after {
                    ValidityProblemKind::Expired {
                        not_after: c.not_after,
                    }
                } else if now < c.not_before {
                    ValidityProblemKind::NotYetValid {
                        not_before: c.not_before,
                    }
                } else {
                    return None;
                };
                Some(ValidityProblem {
                    index: i + 1,
                    subject: c.subject.clone(),
                    kind,
                })
            })
            .collect()
    }

    /// Logs one warning per certificate that is not valid at `now` and returns how many there
    /// were. Used when the bundle is loaded without `--registry-ca-validate`.
    pub fn warn_about_validity(&self, now: SystemTime) -> usize {
        let problems = self.validity_problems(now);
        for p in &problems {
            tracing::warn!(
                bundle = %self.path.display(),
                problem = %p,
                "registry CA bundle holds a certificate outside its validity period; \
                 use --registry-ca-validate to refuse such a bundle"
            );
        }
        problems.len()
    }
}

fn webpki_anchor_check(der: &CertificateDer<'_>) -> Result<(), String> {
    let mut store = rustls::RootCertStore::empty();
    store.add(der.clone()).map_err(|e| e.to_string())
}

/// Strict check for `--registry-ca-validate`: the file exists and is readable, holds at least one
/// PEM certificate, every certificate parses as X.509, and none is expired or not yet valid at
/// `now`. Returns the loaded bundle.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("ca.pem");
/// std::fs::write(&path, "not a certificate\n").unwrap();
/// let err = watchtower_tls_config::validate(&path, std::time::SystemTime::now()).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     format!("registry CA bundle {}: no PEM certificate found", path.display())
/// );
/// ```
pub fn validate(path: impl AsRef<Path>, now: SystemTime) -> Result<CaBundle, Error> {
    let bundle = CaBundle::load(path)?;
    if let Some(problem) = bundle.validity_problems(now).into_iter().next() {
        return Err(Error::Validity {
            path: bundle.path.clone(),
            problem,
        });
    }
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::format_unix;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_unix(-1), "1969-12-31T23:59:59Z");
    }
}
