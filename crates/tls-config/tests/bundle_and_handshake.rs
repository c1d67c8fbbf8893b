//! Black-box tests: bundle loading and validation errors, and real TLS handshakes on 127.0.0.1
//! against a server whose certificate comes from a private CA made at test time.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use watchtower_tls_config::{CaBundle, Error, TlsSettings, ValidityProblemKind, validate};

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn make_ca(name: &str, not_before: (i32, u8, u8), not_after: (i32, u8, u8)) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

fn current_ca(name: &str) -> Ca {
    make_ca(name, (2020, 1, 1), (2090, 1, 1))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn loads_one_and_many_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let one = write(dir.path(), "one.pem", &current_ca("first").pem);
    let bundle = CaBundle::load(&one).unwrap();
    assert_eq!(bundle.len(), 1);
    assert_eq!(bundle.subjects().collect::<Vec<_>>(), ["CN=first"]);

    let text = format!(
        "# comments and blank lines between sections are fine\n\n{}\n{}",
        current_ca("first").pem,
        current_ca("second").pem
    );
    let many = write(dir.path(), "many.pem", &text);
    let bundle = validate(&many, SystemTime::now()).unwrap();
    assert_eq!(bundle.len(), 2);
    assert_eq!(bundle.path(), many);
    assert_eq!(
        bundle.subjects().collect::<Vec<_>>(),
        ["CN=first", "CN=second"]
    );
}

#[test]
fn every_bad_bundle_is_one_error_naming_the_file_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("missing.pem");
    let cases: Vec<(std::path::PathBuf, &str)> = vec![
        (missing, "cannot read the file"),
        (d.to_owned(), "cannot read the file"),
        (write(d, "empty.pem", ""), "no PEM certificate found"),
        (
            write(d, "garbage.pem", "hello, I am not PEM\n"),
            "no PEM certificate found",
        ),
        (
            write(
                d,
                "key-only.pem",
                &KeyPair::generate().unwrap().serialize_pem(),
            ),
            "no PEM certificate found",
        ),
        (
            write(
                d,
                "bad-base64.pem",
                "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
            ),
            "invalid PEM",
        ),
        (
            write(d, "unterminated.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n"),
            "invalid PEM: certificate #1 has no END line",
        ),
        (
            write(
                d,
                "not-x509.pem",
                "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
            ),
            "certificate #1 is not a valid X.509 certificate",
        ),
    ];
    for (path, reason) in cases {
        let err = CaBundle::load(&path).unwrap_err();
        let text = err.to_string();
        let prefix = format!("registry CA bundle {}: ", path.display());
        assert!(
            text.starts_with(&prefix),
            "{text:?} should start with {prefix:?}"
        );
        assert!(text.contains(reason), "{text:?} should contain {reason:?}");
        assert!(!text.ends_with('.'), "{text:?}");
        // The strict check and the flag path give the same error.
        assert_eq!(
            validate(&path, SystemTime::now()).unwrap_err().to_string(),
            text
        );
        assert_eq!(
            TlsSettings::from_flags(Some(&path), false, false, SystemTime::now())
                .unwrap_err()
                .to_string(),
            text
        );
    }
}

#[test]
fn second_certificate_is_named_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        current_ca("good").pem
    );
    let path = write(dir.path(), "mixed.pem", &text);
    let err = CaBundle::load(&path).unwrap_err();
    assert!(
        matches!(err, Error::InvalidCertificate { index: 2, .. }),
        "{err}"
    );
}

#[test]
fn expired_and_future_certificates_fail_validation_but_only_warn_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let expired = write(
        dir.path(),
        "expired.pem",
        &make_ca("old", (2001, 1, 1), (2002, 1, 1)).pem,
    );
    let future = write(
        dir.path(),
        "future.pem",
        &make_ca("new", (2990, 1, 1), (2999, 1, 1)).pem,
    );
    let now = SystemTime::now();

    let err = validate(&expired, now).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "registry CA bundle {}: certificate #1 (CN=old) expired at 2002-01-01T00:00:00Z",
            expired.display()
        )
    );
    let err = validate(&future, now).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "registry CA bundle {}: certificate #1 (CN=new) is not valid before 2990-01-01T00:00:00Z",
            future.display()
        )
    );
    assert!(TlsSettings::from_flags(Some(&expired), true, false, now).is_err());

    // Without --registry-ca-validate the bundle is used, and the problem is known.
    let settings = TlsSettings::from_flags(Some(&expired), false, false, now).unwrap();
    let bundle = settings.ca_bundle().unwrap();
    assert_eq!(bundle.warn_about_validity(now), 1);
    assert!(matches!(
        bundle.validity_problems(now)[0].kind,
        ValidityProblemKind::Expired { .. }
    ));
    // At a time inside its validity period the same bundle passes validation.
    let in_2001 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    assert!(validate(&expired, in_2001).is_ok());
}

/// A one-connection TLS server on 127.0.0.1 answering "pong" to anything.
fn serve_once(ca: &Ca) -> (u16, std::thread::JoinHandle<Result<(), String>>) {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let conn = rustls::ServerConnection::new(Arc::new(config)).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).map_err(|e| e.to_string())?;
        tls.write_all(b"pong").map_err(|e| e.to_string())?;
        tls.flush().map_err(|e| e.to_string())?;
        Ok(())
    });
    (port, handle)
}

fn ping(settings: &TlsSettings, port: u16) -> Result<String, std::io::Error> {
    let config = settings.client_config().unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"ping")?;
    let mut out = [0u8; 4];
    tls.read_exact(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn bundle_of(ca: &Ca) -> (tempfile::TempDir, CaBundle) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "ca.pem", &ca.pem);
    let bundle = CaBundle::load(&path).unwrap();
    (dir, bundle)
}

#[test]
fn private_ca_is_trusted_only_with_its_bundle() {
    let ca = current_ca("private registry CA");

    let (port, server) = serve_once(&ca);
    let (_dir, bundle) = bundle_of(&ca);
    assert_eq!(
        ping(&TlsSettings::verified(Some(bundle)), port).unwrap(),
        "pong"
    );
    server.join().unwrap().unwrap();

    // The default settings (webpki roots only) refuse the same server.
    let (port, server) = serve_once(&ca);
    let err = ping(&TlsSettings::default(), port).unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert!(server.join().unwrap().is_err());
}

#[test]
fn a_different_ca_is_refused() {
    let ca = current_ca("the registry's CA");
    let other = current_ca("some other CA");
    let (port, server) = serve_once(&ca);
    let (_dir, bundle) = bundle_of(&other);
    let err = ping(&TlsSettings::verified(Some(bundle)), port).unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert!(server.join().unwrap().is_err());
}

#[test]
fn insecure_mode_accepts_an_unknown_ca() {
    let ca = current_ca("nobody trusts me");
    let (port, server) = serve_once(&ca);
    let settings = TlsSettings::from_flags(None, false, true, SystemTime::now()).unwrap();
    assert!(settings.is_insecure());
    assert_eq!(ping(&settings, port).unwrap(), "pong");
    server.join().unwrap().unwrap();
}

#[test]
fn a_ca_in_ssl_cert_file_or_ssl_cert_dir_is_trusted_as_go_trusts_it() {
    let ca = current_ca("mounted system CA");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bundle.pem", &ca.pem);
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    write(&certs, "mounted.crt", &ca.pem);
    let nowhere = dir.path().join("nowhere");

    for (variable, value) in [("SSL_CERT_FILE", &file), ("SSL_CERT_DIR", &certs)] {
        let roots = watchtower_tls_config::SystemRoots::from_lookup(|name| {
            match name {
                n if n == variable => Some(value.display().to_string()),
                // The other variable points nowhere, so only `variable` can supply the CA.
                _ => Some(nowhere.display().to_string()),
            }
        });
        let (port, server) = serve_once(&ca);
        let settings = TlsSettings::verified(None).with_system_roots(roots);
        assert_eq!(ping(&settings, port).unwrap(), "pong", "{variable}");
        server.join().unwrap().unwrap();
    }

    // Without them (and without a bundle) the same server is refused.
    let roots =
        watchtower_tls_config::SystemRoots::from_lookup(|_| Some(nowhere.display().to_string()));
    let (port, server) = serve_once(&ca);
    let err = ping(&TlsSettings::verified(None).with_system_roots(roots), port).unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert!(server.join().unwrap().is_err());
}
