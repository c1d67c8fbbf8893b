//! Mail through a real SMTP server (`aiosmtpd`, started by the test on 127.0.0.1):
//! plain, STARTTLS with authentication, implicit TLS, a refused login, and the legacy email
//! flags. Skips loudly when python3 or aiosmtpd is missing; fails instead under
//! `WATCHTOWER_E2E=required`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use watchtower_notify::{LegacyOptions, Notifier, NotifierConfig};
use watchtower_session_report::{ContainerRef, ReportBuilder};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py");

fn aiosmtpd_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("WATCHTOWER_E2E").as_deref() != Ok("required"),
            "python3 with aiosmtpd is required (WATCHTOWER_E2E=required); run `cargo xtask ci` or `pip install aiosmtpd`"
        );
        eprintln!(
            "SKIP: python3 with aiosmtpd is not available; SMTP tests did not run (pip install aiosmtpd)"
        );
    }
    ok
}

struct Server {
    _child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    async fn start(mode: &str, tls: Option<(&Path, &Path)>) -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg(SCRIPT)
            .arg(port.to_string())
            .arg(dir.path())
            .arg(mode);
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start python3");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("smtp server did not start within 20 s")
            .unwrap();
        assert_eq!(ready.as_deref(), Some("READY"), "smtp server did not start");
        Self {
            _child: child,
            port,
            dir,
        }
    }

    fn mails(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

struct Pki {
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
    _dir: tempfile::TempDir,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("server.pem");
    let key_path = dir.path().join("server.key");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert: cert_path,
        key: key_path,
        _dir: dir,
    }
}

fn report() -> watchtower_session_report::Report {
    let mut b = ReportBuilder::new();
    b.updated(
        &ContainerRef::new("c1", "/web", "nginx:1.27", "sha256:aaaaaaaaaaaaaaaa"),
        "sha256:bbbbbbbbbbbbbbbb",
    );
    b.build()
}

const MESSAGE: &str =
    "1 Scanned, 1 Updated, 0 Failed\n- /web (nginx:1.27): aaaaaaaaaaaa updated to bbbbbbbbbbbb";

async fn send(config: NotifierConfig, ca_pem: Option<&str>) {
    let mut builder = Notifier::builder(NotifierConfig {
        report: true,
        hostname: "mailhost".to_owned(),
        request_timeout: Duration::from_secs(10),
        retry_backoff: Duration::from_millis(10),
        ..config
    });
    if let Some(pem) = ca_pem {
        builder = builder.extra_root_certificates(pem.as_bytes().to_vec());
    }
    let (notifier, _layer) = builder.build().unwrap();
    notifier.send(Some(&report()));
    notifier.flush().await;
}

fn header<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    data.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

#[tokio::test]
async fn plain_smtp_one_mail_per_recipient() {
    if !aiosmtpd_available() {
        return;
    }
    let server = Server::start("plain", None).await;
    let url = format!(
        "smtp://127.0.0.1:{}/?from=wt@example.com&to=ops@example.com,dev@example.com&fromname=Watchtower&starttls=no",
        server.port
    );
    send(
        NotifierConfig {
            urls: vec![url],
            ..NotifierConfig::default()
        },
        None,
    )
    .await;
    let mails = server.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    let to: Vec<&str> = mails.iter().map(|m| m["to"][0].as_str().unwrap()).collect();
    assert!(to.contains(&"ops@example.com") && to.contains(&"dev@example.com"));
    let data = mails[0]["data"].as_str().unwrap();
    assert_eq!(
        header(data, "Subject"),
        Some("Watchtower updates on mailhost")
    );
    assert_eq!(header(data, "From"), Some("Watchtower <wt@example.com>"));
    assert!(
        header(data, "Content-Type")
            .unwrap()
            .starts_with("text/plain"),
        "{data}"
    );
    assert!(data.replace("\r\n", "\n").contains(MESSAGE), "{data}");
    assert_eq!(mails[0]["from"], "wt@example.com");
    assert_eq!(mails[0]["tls"], false);
}

/// As shoutrrr 0.8 sends mail: a `MIME-Version: 1.0` header and non-ASCII text as 8-bit
/// UTF-8, byte for byte in the message (no base64, no quoted-printable).
#[tokio::test]
async fn non_ascii_text_goes_8bit_with_a_mime_version() {
    const TEXT: &str = "Grüße aus Köln, ça marche ✓ 日本";
    if !aiosmtpd_available() {
        return;
    }
    let server = Server::start("plain", None).await;
    for html in ["no", "yes"] {
        let url = format!(
            "smtp://127.0.0.1:{}/?from=wt@example.com&to=ops@example.com&starttls=no&usehtml={html}",
            server.port
        );
        send(
            NotifierConfig {
                urls: vec![url],
                template: format!("{TEXT}{{{{with .Report}}}} {{{{len .Updated}}}}{{{{end}}}}"),
                ..NotifierConfig::default()
            },
            None,
        )
        .await;
    }
    let mails = server.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    for (mail, html) in mails.iter().zip([false, true]) {
        let data = mail["data"].as_str().unwrap().replace("\r\n", "\n");
        assert_eq!(header(&data, "MIME-Version"), Some("1.0"), "{data}");
        let encodings: Vec<&str> = data
            .lines()
            .filter(|l| {
                l.to_ascii_lowercase()
                    .starts_with("content-transfer-encoding:")
            })
            .map(|l| l["content-transfer-encoding:".len()..].trim())
            .collect();
        assert_eq!(
            encodings,
            if html {
                vec!["8bit", "8bit"]
            } else {
                vec!["8bit"]
            },
            "{data}"
        );
        assert_eq!(
            data.matches(&format!("{TEXT} 1")).count(),
            if html { 2 } else { 1 },
            "the text as it is, once per part: {data}"
        );
        let content_type = header(&data, "Content-Type").unwrap();
        if html {
            assert!(content_type.starts_with("multipart/alternative"), "{data}");
            assert!(data.contains("text/html; charset=utf-8"), "{data}");
        } else {
            assert!(
                content_type.starts_with("text/plain; charset=utf-8"),
                "{data}"
            );
        }
    }
}

#[tokio::test]
async fn starttls_with_authentication() {
    if !aiosmtpd_available() {
        return;
    }
    let pki = pki();
    let server = Server::start("starttls-auth", Some((&pki.cert, &pki.key))).await;
    let url = format!(
        "smtp://mailer:s3cret@127.0.0.1:{}/?from=wt@example.com&to=ops@example.com",
        server.port
    );
    send(
        NotifierConfig {
            urls: vec![url],
            ..NotifierConfig::default()
        },
        Some(&pki.ca_pem),
    )
    .await;
    let mails = server.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["tls"], true);
    assert_eq!(mails[0]["authenticated"], true);
    assert_eq!(mails[0]["login"], "mailer");
}

#[tokio::test]
async fn implicit_tls_with_authentication() {
    if !aiosmtpd_available() {
        return;
    }
    let pki = pki();
    let server = Server::start("implicit-auth", Some((&pki.cert, &pki.key))).await;
    let url = format!(
        "smtp://mailer:s3cret@127.0.0.1:{}/?from=wt@example.com&to=ops@example.com&encryption=ImplicitTLS",
        server.port
    );
    send(
        NotifierConfig {
            urls: vec![url],
            ..NotifierConfig::default()
        },
        Some(&pki.ca_pem),
    )
    .await;
    let mails = server.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["tls"], true);
    assert_eq!(mails[0]["authenticated"], true);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    if !aiosmtpd_available() {
        return;
    }
    let pki = pki();
    let server = Server::start("implicit-auth", Some((&pki.cert, &pki.key))).await;
    let url = format!(
        "smtp://mailer:s3cret@127.0.0.1:{}/?from=wt@example.com&to=ops@example.com&encryption=ImplicitTLS",
        server.port
    );
    // No extra root: the test CA is not trusted, so nothing may be delivered.
    send(
        NotifierConfig {
            urls: vec![url],
            ..NotifierConfig::default()
        },
        None,
    )
    .await;
    assert!(server.mails().is_empty());
}

#[tokio::test]
async fn wrong_password_delivers_nothing() {
    if !aiosmtpd_available() {
        return;
    }
    let pki = pki();
    let server = Server::start("starttls-auth", Some((&pki.cert, &pki.key))).await;
    let url = format!(
        "smtp://mailer:WRONGPW@127.0.0.1:{}/?from=wt@example.com&to=ops@example.com",
        server.port
    );
    send(
        NotifierConfig {
            urls: vec![url],
            ..NotifierConfig::default()
        },
        Some(&pki.ca_pem),
    )
    .await;
    assert!(server.mails().is_empty());
}

#[tokio::test]
async fn legacy_email_flags() {
    if !aiosmtpd_available() {
        return;
    }
    let server = Server::start("plain", None).await;
    let legacy = LegacyOptions {
        types: vec!["email".to_owned()],
        email_from: "watchtower@example.com".to_owned(),
        email_to: "admin@example.com".to_owned(),
        email_server: "127.0.0.1".to_owned(),
        email_server_port: server.port,
        email_server_tls_skip_verify: true,
        ..LegacyOptions::default()
    };
    send(
        NotifierConfig {
            legacy,
            email_subject_tag: "prod".to_owned(),
            ..NotifierConfig::default()
        },
        None,
    )
    .await;
    let mails = server.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let data = mails[0]["data"].as_str().unwrap();
    assert_eq!(
        header(data, "Subject"),
        Some("[prod] Watchtower updates on mailhost")
    );
    assert_eq!(
        header(data, "From"),
        Some("Watchtower <watchtower@example.com>")
    );
    assert_eq!(mails[0]["to"][0], "admin@example.com");
}
