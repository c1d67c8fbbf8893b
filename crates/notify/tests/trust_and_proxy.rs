//! Notifications on the one HTTP client (`watchtower-http-client`), against real receivers
//! on 127.0.0.1: they trust what registry traffic trusts (the `--registry-ca` bundle, the
//! system trust store named by `SSL_CERT_FILE`), go through `HTTPS_PROXY` (a `CONNECT`
//! tunnel, TLS verified end to end) unless `NO_PROXY` lists the host, and retry only what
//! can succeed on retry.
//!
//! The proxy tests run the notifier in a child process with the proxy variables set (this
//! process's environment is never changed), through the testkit's [`TestProxy`], which
//! resolves `registry.test` to 127.0.0.1; the child cannot resolve that name itself.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use watchtower_notify::{Notifier, NotifierConfig};
use watchtower_session_report::{ContainerRef, Report, ReportBuilder};
use watchtower_testkit::tls::TestCa;
use watchtower_testkit::{TestProxy, proxy};
use watchtower_tls_config::{CaBundle, SystemRoots, TlsSettings};

/// A receiver answering every request with one status; counts requests, keeps bodies.
struct Receiver {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start(tls: Option<Arc<rustls::ServerConfig>>, status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
        let (count, store) = (requests.clone(), bodies.clone());
        let acceptor = tls.map(TlsAcceptor::from);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (count, store, acceptor) = (count.clone(), store.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let (count, store) = (count.clone(), store.clone());
                            async move {
                                count.fetch_add(1, Ordering::SeqCst);
                                let body = request.into_body().collect().await?.to_bytes();
                                store
                                    .lock()
                                    .unwrap()
                                    .push(String::from_utf8_lossy(&body).into());
                                let mut response = hyper::Response::new(Full::new(Bytes::new()));
                                *response.status_mut() =
                                    hyper::StatusCode::from_u16(status).unwrap();
                                Ok::<_, hyper::Error>(response)
                            }
                        });
                    let http1 = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        // A client that refuses the certificate ends the handshake.
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(tcp).await {
                                let _ = http1.serve_connection(TokioIo::new(tls), service).await;
                            }
                        }
                        None => {
                            let _ = http1.serve_connection(TokioIo::new(tcp), service).await;
                        }
                    }
                });
            }
        });
        Receiver {
            addr,
            requests,
            bodies,
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A CA made now, and a receiver's TLS configuration for `127.0.0.1` and `registry.test`.
fn pki() -> (TestCa, Arc<rustls::ServerConfig>) {
    let ca = TestCa::new("notification receiver CA").unwrap();
    let server = ca
        .issue_server_cert(&["127.0.0.1", "registry.test"])
        .unwrap()
        .server_config()
        .unwrap();
    (ca, Arc::new(server))
}

fn report() -> Report {
    let mut b = ReportBuilder::new();
    b.updated(
        &ContainerRef::new("c1", "/web", "nginx:1.27", "sha256:aaaaaaaaaaaaaaaa"),
        "sha256:bbbbbbbbbbbbbbbb",
    );
    b.build()
}

fn config(url: String, tls: TlsSettings) -> NotifierConfig {
    NotifierConfig {
        urls: vec![url],
        report: true,
        hostname: "testhost".to_owned(),
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        retry_backoff: Duration::from_millis(10),
        tls,
        ..NotifierConfig::default()
    }
}

async fn send_one(config: NotifierConfig) {
    let (notifier, _layer) = Notifier::new(config).unwrap();
    notifier.send(Some(&report()));
    notifier.flush().await;
}

/// No system roots: only what a test names is trusted besides the webpki roots.
fn no_system_roots() -> SystemRoots {
    SystemRoots::none()
}

fn bundle(dir: &Path, ca: &TestCa) -> CaBundle {
    let path = dir.join("registry-ca.pem");
    ca.write_pem(&path).unwrap();
    CaBundle::load(&path).unwrap()
}

#[tokio::test]
async fn a_receiver_whose_ca_is_only_in_the_registry_ca_bundle_gets_the_notification() {
    let (ca, server) = pki();
    let receiver = Receiver::start(Some(server), 200).await;
    let url = format!("generic+https://127.0.0.1:{}/hook", receiver.port());
    let dir = tempfile::tempdir().unwrap();

    // `--registry-ca` reaches the notifier through `NotifierConfig::tls`.
    let tls =
        TlsSettings::verified(Some(bundle(dir.path(), &ca))).with_system_roots(no_system_roots());
    send_one(config(url.clone(), tls)).await;
    assert_eq!(receiver.bodies.lock().unwrap().len(), 1);
    assert!(receiver.bodies.lock().unwrap()[0].contains("/web"));

    // An unknown CA is refused: no request arrives, and it is not retried (a certificate
    // that is not trusted now will not be trusted on the next attempt).
    send_one(config(
        url,
        TlsSettings::verified(None).with_system_roots(no_system_roots()),
    ))
    .await;
    assert_eq!(
        receiver.requests(),
        1,
        "an unverified receiver got a request"
    );
}

#[tokio::test]
async fn a_receiver_whose_ca_is_in_ssl_cert_file_gets_the_notification() {
    let (ca, server) = pki();
    let receiver = Receiver::start(Some(server), 200).await;
    let url = format!("generic+https://127.0.0.1:{}/hook", receiver.port());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mounted-bundle.pem");
    ca.write_pem(&file).unwrap();
    let nowhere = dir.path().join("nowhere");

    // What Go reads: SSL_CERT_FILE names the bundle mounted into the container.
    let roots = SystemRoots::from_lookup(|name| match name {
        "SSL_CERT_FILE" => Some(file.display().to_string()),
        _ => Some(nowhere.display().to_string()),
    });
    send_one(config(
        url.clone(),
        TlsSettings::verified(None).with_system_roots(roots),
    ))
    .await;
    assert_eq!(receiver.requests(), 1);

    let roots = SystemRoots::from_lookup(|_| Some(nowhere.display().to_string()));
    send_one(config(
        url,
        TlsSettings::verified(None).with_system_roots(roots),
    ))
    .await;
    assert_eq!(
        receiver.requests(),
        1,
        "a receiver of an unknown CA got a request"
    );
}

#[tokio::test]
async fn only_answers_that_can_succeed_on_retry_are_retried() {
    for (status, attempts) in [(501, 1), (505, 1), (400, 1), (503, 3), (502, 3)] {
        let receiver = Receiver::start(None, status).await;
        let url = format!("generic+http://127.0.0.1:{}/hook", receiver.port());
        send_one(config(url, TlsSettings::default())).await;
        assert_eq!(receiver.requests(), attempts, "{status}");
    }
}

/// The child's part of the proxy tests: one notification with the default proxy settings
/// (this process's variables) and the CA from `TEST_CA_PEM` trusted.
async fn child_send() {
    let url = std::env::var("TEST_URL").unwrap();
    let ca = CaBundle::load(std::env::var("TEST_CA_PEM").unwrap()).unwrap();
    let tls = TlsSettings::verified(Some(ca)).with_system_roots(no_system_roots());
    send_one(config(url, tls)).await;
    println!("CHILD-RESULT sent");
}

#[tokio::test]
async fn notifications_go_through_https_proxy_with_tls_end_to_end_unless_no_proxy_lists_the_host() {
    if proxy::is_child() {
        return child_send().await;
    }
    let (ca, server) = pki();
    let receiver = Receiver::start(Some(server), 200).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    ca.write_pem(&ca_path).unwrap();
    let ca_path = ca_path.display().to_string();
    let proxy = TestProxy::start(None).await;
    let proxy_url = proxy.url();
    // Only the proxy can resolve `registry.test`.
    let target = format!("registry.test:{}", receiver.port());
    let url = format!("generic+https://{target}/hook");
    let test =
        "notifications_go_through_https_proxy_with_tls_end_to_end_unless_no_proxy_lists_the_host";

    let result = proxy::run_test_in_child(
        test,
        &[
            ("https_proxy", &proxy_url),
            ("NO_PROXY", "corp.example"),
            ("TEST_URL", &url),
            ("TEST_CA_PEM", &ca_path),
        ],
    )
    .await;
    assert_eq!(result, "sent");
    assert_eq!(receiver.requests(), 1, "the notification did not arrive");
    let log = proxy.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(
        (log[0].method.as_str(), log[0].target.as_str()),
        ("CONNECT", target.as_str())
    );
    // TLS ran inside the tunnel: the proxy saw a ClientHello for the receiver's name, and
    // never the message text.
    let starts = proxy.tunnel_starts();
    assert_eq!(starts[0][0], 0x16, "not a TLS handshake");
    assert!(starts[0].windows(13).any(|w| w == b"registry.test"));
    let seen = proxy.tunnel_bytes();
    assert!(
        !seen.windows(4).any(|w| w == b"/web"),
        "the proxy saw the message"
    );

    // NO_PROXY lists the receiver: the child goes direct, cannot resolve the name, and
    // the proxy is not asked.
    let accepted = proxy.accepted();
    let result = proxy::run_test_in_child(
        test,
        &[
            ("HTTPS_PROXY", &proxy_url),
            ("no_proxy", ".example,registry.test"),
            ("TEST_URL", &url),
            ("TEST_CA_PEM", &ca_path),
        ],
    )
    .await;
    assert_eq!(result, "sent");
    assert_eq!(proxy.accepted(), accepted);
    assert_eq!(receiver.requests(), 1);
}

#[tokio::test]
async fn an_unusable_proxy_variable_is_one_clear_start_up_error() {
    if proxy::is_child() {
        match Notifier::new(config("logger://".into(), TlsSettings::default())) {
            Ok(_) => println!("CHILD-RESULT built"),
            Err(err) => println!("CHILD-RESULT {err}"),
        }
        return;
    }
    let result = proxy::run_test_in_child(
        "an_unusable_proxy_variable_is_one_clear_start_up_error",
        &[("HTTPS_PROXY", "socks5://alice:hunter22@proxy.corp:1080")],
    )
    .await;
    assert_eq!(
        result,
        "notifications: proxy setting HTTPS_PROXY=socks5://***@proxy.corp:1080: socks5 \
         proxies are not supported; use an http:// proxy"
    );
}
