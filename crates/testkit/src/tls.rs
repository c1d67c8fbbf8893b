//! Certificate authorities and certificates made at test time with rcgen (ECDSA P-256).
//!
//! A [`TestCa`] signs server certificates (for the HTTPS registry, or any test server) and
//! token-signing certificates (for the token server). Tests that need a *wrong* CA simply make a
//! second one:
//!
//! ```
//! use watchtower_testkit::tls::TestCa;
//! let ca = TestCa::new("my test CA")?;
//! let server = ca.issue_server_cert(&["127.0.0.1", "localhost"])?;
//! let other_ca = TestCa::new("a CA nobody trusts")?;
//! assert_ne!(ca.cert_pem(), other_ca.cert_pem());
//! assert!(server.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority made at test time.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    cert: Certificate,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("subject", &self.params.distinguished_name)
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new self-signed CA whose subject common name is `common_name`.
    pub fn new(common_name: &str) -> anyhow::Result<TestCa> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating a CA key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params
            .self_signed(&key)
            .with_context(|| format!("self-signing CA {common_name}"))?;
        Ok(TestCa { params, key, cert })
    }

    /// The CA certificate as PEM.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA certificate as DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// Writes the CA certificate as PEM to `path`.
    pub fn write_pem(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, self.cert_pem())
            .with_context(|| format!("writing CA certificate {}", path.display()))
    }

    /// A rustls root store holding this CA only.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.cert_der())
            .expect("rcgen made a valid CA certificate");
        roots
    }

    /// A rustls client configuration (ring provider) that trusts this CA and nothing else.
    pub fn client_config(&self) -> rustls::ClientConfig {
        client_config(self.root_store())
    }

    /// A server certificate for `sans` (IP addresses or DNS names), signed by this CA, with
    /// the server-auth extended key usage.
    pub fn issue_server_cert(&self, sans: &[&str]) -> anyhow::Result<IssuedCert> {
        let common_name = sans.first().copied().unwrap_or("watchtower-testkit server");
        self.issue(common_name, sans, vec![ExtendedKeyUsagePurpose::ServerAuth])
    }

    /// A client certificate named `common_name` for mutual-TLS tests.
    pub fn issue_client_cert(&self, common_name: &str) -> anyhow::Result<IssuedCert> {
        self.issue(common_name, &[], vec![ExtendedKeyUsagePurpose::ClientAuth])
    }

    /// A certificate for signing JWTs (the token server's), named `common_name`.
    pub fn issue_signing_cert(&self, common_name: &str) -> anyhow::Result<IssuedCert> {
        self.issue(common_name, &[], Vec::new())
    }

    fn issue(
        &self,
        common_name: &str,
        sans: &[&str],
        extended_key_usages: Vec<ExtendedKeyUsagePurpose>,
    ) -> anyhow::Result<IssuedCert> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating a key")?;
        let mut params =
            CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .with_context(|| format!("certificate names {sans:?}"))?;
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = extended_key_usages;
        params.use_authority_key_identifier_extension = true;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params
            .signed_by(&key, &issuer)
            .with_context(|| format!("signing a certificate for {common_name}"))?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        })
    }
}

/// A certificate signed by a [`TestCa`], with its private key (PKCS#8). `Debug` hides the key.
#[derive(Clone)]
pub struct IssuedCert {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key_pem: String,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl IssuedCert {
    /// The certificate as PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The certificate as DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert_der.clone()
    }

    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The private key as PKCS#8 DER.
    pub fn key_pkcs8_der(&self) -> &[u8] {
        &self.key_der
    }

    /// The private key for rustls.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// Writes the certificate and the key as PEM files.
    pub fn write_pem(&self, cert_path: &Path, key_path: &Path) -> anyhow::Result<()> {
        std::fs::write(cert_path, &self.cert_pem)
            .with_context(|| format!("writing certificate {}", cert_path.display()))?;
        std::fs::write(key_path, &self.key_pem)
            .with_context(|| format!("writing private key {}", key_path.display()))
    }

    /// A rustls server configuration (ring provider) presenting this certificate.
    pub fn server_config(&self) -> anyhow::Result<rustls::ServerConfig> {
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_no_client_auth()
        .with_single_cert(vec![self.cert_der()], self.private_key())
        .context("building a TLS server configuration")
    }
}

/// A rustls client configuration (ring provider) trusting exactly `roots`.
pub fn client_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "watchtower-testkit");
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(ca: &TestCa, cert: &IssuedCert, host: &str) -> Result<(), rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(ca.root_store()),
            provider,
        )
        .build()
        .expect("verifier");
        let name = rustls_pki_types::ServerName::try_from(host.to_owned()).expect("name");
        verifier
            .verify_server_cert(
                &cert.cert_der(),
                &[],
                &name,
                &[],
                rustls_pki_types::UnixTime::now(),
            )
            .map(|_| ())
    }

    use rustls::client::danger::ServerCertVerifier as _;

    #[test]
    fn a_server_cert_verifies_against_its_ca_only() {
        let ca = TestCa::new("ca").unwrap();
        let other = TestCa::new("other").unwrap();
        let cert = ca.issue_server_cert(&["127.0.0.1", "localhost"]).unwrap();
        assert!(verify(&ca, &cert, "127.0.0.1").is_ok());
        assert!(verify(&ca, &cert, "localhost").is_ok());
        assert!(
            verify(&ca, &cert, "example.com").is_err(),
            "name not in the SANs"
        );
        assert!(
            verify(&other, &cert, "127.0.0.1").is_err(),
            "signed by another CA"
        );
    }

    #[test]
    fn debug_hides_private_keys() {
        let ca = TestCa::new("ca").unwrap();
        let cert = ca.issue_server_cert(&["localhost"]).unwrap();
        let shown = format!("{cert:?} {ca:?}");
        assert!(!shown.contains("PRIVATE KEY"));
        assert!(cert.key_pem().contains("PRIVATE KEY"));
    }

    #[test]
    fn a_server_config_builds_from_an_issued_cert() {
        let ca = TestCa::new("ca").unwrap();
        ca.issue_server_cert(&["127.0.0.1"])
            .unwrap()
            .server_config()
            .unwrap();
    }
}
