//! The registry TLS mode and the rustls client configuration built from it.

use std::path::Path;
use std::sync::{Arc, Once};
use std::time::SystemTime;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::{CaBundle, Error, SystemRoots};

/// How registry TLS connections are verified.
#[derive(Debug, Clone)]
enum Mode {
    /// Verify the server against the webpki (Mozilla) roots plus an optional private bundle.
    Verify { bundle: Option<CaBundle> },
    /// `--insecure-registry`: accept any server certificate.
    Insecure { bundle: Option<CaBundle> },
}

/// TLS settings: secure by default, an explicit insecure mode for `--insecure-registry`.
///
/// The verified mode trusts the built-in webpki (Mozilla) roots, the system trust store where
/// Go looks for it ([`SystemRoots`]: `SSL_CERT_FILE`, `SSL_CERT_DIR`, the distributions'
/// bundle files) and the `--registry-ca` bundle. Registry and notification traffic use the
/// same settings.
///
/// Build it once at start-up (from flags with [`TlsSettings::from_flags`]) and turn it into a
/// rustls configuration with [`TlsSettings::client_config`].
#[derive(Debug, Clone)]
pub struct TlsSettings {
    mode: Mode,
    system: SystemRoots,
    /// More bundles trusted in the verified mode (a notifier's extra roots).
    extra: Vec<CaBundle>,
}

impl Default for TlsSettings {
    /// Verified TLS against the webpki roots only.
    fn default() -> Self {
        Self::verified(None)
    }
}

static INSECURE_WARNING: Once = Once::new();

impl TlsSettings {
    /// Verify servers against the webpki roots and the system roots of this process's
    /// environment ([`SystemRoots::from_env`]), plus `bundle` when given.
    pub fn verified(bundle: Option<CaBundle>) -> Self {
        Self {
            mode: Mode::Verify { bundle },
            system: SystemRoots::from_env(),
            extra: Vec::new(),
        }
    }

    /// The same settings with `roots` as the system trust store (for example
    /// [`SystemRoots::none`], or [`SystemRoots::from_lookup`] in tests).
    #[must_use]
    pub fn with_system_roots(mut self, roots: SystemRoots) -> Self {
        self.system = roots;
        self
    }

    /// The same settings also trusting `bundle` (in the verified mode).
    #[must_use]
    pub fn with_extra_bundle(mut self, bundle: CaBundle) -> Self {
        self.extra.push(bundle);
        self
    }

    /// The roots trusted beyond the built-in webpki ones: the system roots (read now), the
    /// `--registry-ca` bundle and any extra bundle. For TLS stacks that take roots one by one
    /// (mail).
    pub fn extra_roots(&self) -> Vec<CertificateDer<'static>> {
        // Only what can serve as a trust anchor: a stack that takes roots one by one may
        // refuse the lot for one bad certificate (bundles were checked when loaded).
        let mut roots: Vec<_> = self
            .system
            .load()
            .into_iter()
            .filter(|c| RootCertStore::empty().add(c.clone()).is_ok())
            .collect();
        for bundle in self.ca_bundle().into_iter().chain(&self.extra) {
            roots.extend(bundle.certificates().cloned());
        }
        roots
    }

    /// Where the system roots are read from.
    pub fn system_roots(&self) -> &SystemRoots {
        &self.system
    }

    /// Accept every server certificate (`--insecure-registry`). A warning is logged, once per
    /// process, when the first configuration is built from such settings.
    pub fn insecure() -> Self {
        Self {
            mode: Mode::Insecure { bundle: None },
            system: SystemRoots::none(),
            extra: Vec::new(),
        }
    }

    /// Settings from the command line:
    ///
    /// * `registry_ca` (`--registry-ca`): a PEM bundle of extra roots. A missing, unreadable or
    ///   malformed bundle is always an error naming the file. Certificates outside their validity
    ///   period are an error when `validate` (`--registry-ca-validate`) is set, and a logged
    ///   warning otherwise.
    /// * `insecure` (`--insecure-registry`): skip verification. The bundle, when given, is still
    ///   loaded and checked so that a mistake in it is reported, but it is not used.
    pub fn from_flags(
        registry_ca: Option<&Path>,
        validate: bool,
        insecure: bool,
        now: SystemTime,
    ) -> Result<Self, Error> {
        let bundle = match registry_ca {
            None => None,
            Some(path) if validate => Some(crate::validate(path, now)?),
            Some(path) => {
                let bundle = CaBundle::load(path)?;
                bundle.warn_about_validity(now);
                Some(bundle)
            }
        };
        if insecure {
            if let Some(b) = &bundle {
                tracing::warn!(
                    bundle = %b.path().display(),
                    "--insecure-registry disables certificate verification; the --registry-ca bundle is not used"
                );
            }
            return Ok(Self {
                mode: Mode::Insecure { bundle },
                system: SystemRoots::none(),
                extra: Vec::new(),
            });
        }
        Ok(Self::verified(bundle))
    }

    /// True in the `--insecure-registry` mode.
    pub fn is_insecure(&self) -> bool {
        matches!(self.mode, Mode::Insecure { .. })
    }

    /// The private bundle, when one was given.
    pub fn ca_bundle(&self) -> Option<&CaBundle> {
        match &self.mode {
            Mode::Verify { bundle } | Mode::Insecure { bundle } => bundle.as_ref(),
        }
    }

    /// The root store used in the verified mode: webpki roots, the system roots (read now)
    /// and the bundle.
    pub fn root_store(&self) -> RootCertStore {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let system = self.system.load();
        if !system.is_empty() {
            // Go skips what it cannot use; so do we.
            let (added, ignored) = roots.add_parsable_certificates(system);
            tracing::debug!(added, ignored, "system roots added to the root store");
        }
        for bundle in self.ca_bundle().into_iter().chain(&self.extra) {
            // Every certificate was checked to be a usable trust anchor when the bundle was
            // loaded, so nothing is dropped here.
            let (added, ignored) = roots.add_parsable_certificates(bundle.certificates().cloned());
            tracing::debug!(bundle = %bundle.path().display(), added, ignored, "registry CA bundle added to the root store");
        }
        roots
    }

    /// A rustls client configuration for registry and notification traffic, built with the *ring* provider,
    /// offering ALPN `h2` and `http/1.1`.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let mut config = match &self.mode {
            Mode::Verify { .. } => builder
                .with_root_certificates(self.root_store())
                .with_no_client_auth(),
            Mode::Insecure { .. } => {
                INSECURE_WARNING.call_once(|| {
                    tracing::warn!(
                        "registry TLS certificate verification is disabled (--insecure-registry); \
                         prefer --registry-ca with your registry's CA"
                    );
                });
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
                    .with_no_client_auth()
            }
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Accepts any certificate chain, but still checks that the server holds the key of the
/// certificate it presented (handshake signatures), so the connection is at least consistent.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
