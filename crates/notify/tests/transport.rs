//! The HTTP transport against real servers on 127.0.0.1: HTTPS verified through
//! `watchtower-tls-config` with extra roots, and the connect timeout (TCP and TLS handshake)
//! against servers that take a connection and never answer.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use watchtower_notify::{Error, Notifier, NotifierConfig};
use watchtower_session_report::{ContainerRef, Report, ReportBuilder};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capture_logs() -> (Buffer, tracing::subscriber::DefaultGuard) {
    let logs = Buffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

fn report() -> Report {
    let mut b = ReportBuilder::new();
    b.updated(
        &ContainerRef::new("c1", "/web", "nginx:1.27", "sha256:aaaaaaaaaaaaaaaa"),
        "sha256:bbbbbbbbbbbbbbbb",
    );
    b.build()
}

fn config(url: String) -> NotifierConfig {
    NotifierConfig {
        urls: vec![url],
        report: true,
        hostname: "testhost".to_owned(),
        request_timeout: Duration::from_secs(5),
        retry_backoff: Duration::from_millis(10),
        ..NotifierConfig::default()
    }
}

/// A CA made now and a server certificate for 127.0.0.1 signed by it.
struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

/// An HTTPS server on 127.0.0.1 answering 200 to everything; returns its address and the
/// bodies it received.
async fn https_server(config: Arc<rustls::ServerConfig>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
    let acceptor = TlsAcceptor::from(config);
    let store = Arc::clone(&bodies);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake; nothing to serve.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let store = Arc::clone(&store);
                    async move {
                        let body = request.into_body().collect().await?.to_bytes();
                        store
                            .lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&body).into_owned());
                        Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, bodies)
}

/// A server on 127.0.0.1 that accepts connections and never says a word (no TLS handshake,
/// no HTTP answer). Counts the connections it took.
async fn silent_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(tcp);
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn https_services_are_verified_against_the_extra_roots() {
    let pki = pki();
    let (addr, bodies) = https_server(Arc::clone(&pki.server)).await;
    let url = format!("generic+https://{addr}/hook");

    // Trusted through the extra roots: delivered.
    let (notifier, _layer) = Notifier::builder(config(url.clone()))
        .extra_root_certificates(pki.ca_pem.clone().into_bytes())
        .build()
        .unwrap();
    notifier.send(Some(&report()));
    notifier.flush().await;
    let received = bodies.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(received[0].contains("/web"), "{received:?}");

    // The same server without the extra roots: its certificate is refused, nothing arrives.
    let (logs, _guard) = capture_logs();
    let (notifier, _layer) = Notifier::builder(config(url)).build().unwrap();
    notifier.send(Some(&report()));
    notifier.flush().await;
    assert_eq!(
        bodies.lock().unwrap().len(),
        1,
        "an unverified server got a message"
    );
    let text = logs.text();
    assert!(text.contains("Failed to send notification"), "{text}");
    assert!(text.to_ascii_lowercase().contains("certificate"), "{text}");
}

#[tokio::test]
async fn bad_extra_roots_are_a_clear_start_up_error() {
    for (pem, expected) in [
        (&b"no pem here"[..], "no PEM certificate found"),
        (
            &b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"[..],
            "certificate #1",
        ),
    ] {
        let err = Notifier::builder(config("logger://".to_owned()))
            .extra_root_certificates(pem.to_vec())
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRoots { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with("invalid extra root certificates: ") && text.contains(expected),
            "{text}"
        );
        assert!(!text.contains("registry"), "{text}");
    }
}

#[tokio::test]
async fn a_server_that_never_answers_tls_costs_the_connect_timeout_not_the_request_timeout() {
    let (addr, accepted) = silent_server().await;
    let (logs, _guard) = capture_logs();
    let connect_timeout = Duration::from_millis(300);
    let (notifier, _layer) = Notifier::new(NotifierConfig {
        request_timeout: Duration::from_secs(60),
        connect_timeout,
        max_attempts: 2,
        ..config(format!("generic+https://{addr}/hook"))
    })
    .unwrap();
    let start = Instant::now();
    notifier.send(Some(&report()));
    notifier.flush().await;
    let spent = start.elapsed();
    // Two attempts, each cut at the connect timeout; the 60 s request timeout never matters.
    assert!(spent >= connect_timeout * 2, "gave up too early: {spent:?}");
    assert!(
        spent < Duration::from_secs(5),
        "a silent server cost {spent:?}"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "a connect timeout is retried like an unreachable server"
    );
    let text = logs.text();
    assert!(text.contains("Failed to send notification"), "{text}");
    assert!(
        text.contains("no connection (TCP and TLS handshake) within 300ms"),
        "{text}"
    );
}

/// A listener whose accept queue is full: the kernel drops further SYNs, so connecting hangs
/// in the TCP handshake itself (a black hole, on 127.0.0.1).
async fn full_backlog_listener() -> (SocketAddr, tokio::net::TcpListener, Vec<TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => queued.push(stream),
            Ok(Err(e)) => panic!("filling the accept queue: {e}"),
            // This connection hangs: the queue is full.
            Err(_) => return (addr, listener, queued),
        }
    }
    panic!(
        "the accept queue of a listen(1) socket took 16 connections; this kernel does not drop SYNs on a full queue"
    );
}

#[tokio::test]
async fn a_tcp_black_hole_costs_the_connect_timeout() {
    let (addr, _listener, _queued) = full_backlog_listener().await;
    let (logs, _guard) = capture_logs();
    let connect_timeout = Duration::from_millis(300);
    let (notifier, _layer) = Notifier::new(NotifierConfig {
        request_timeout: Duration::from_secs(60),
        connect_timeout,
        max_attempts: 1,
        ..config(format!("generic+http://{addr}/hook"))
    })
    .unwrap();
    let start = Instant::now();
    notifier.send(Some(&report()));
    notifier.flush().await;
    let spent = start.elapsed();
    assert!(spent >= connect_timeout, "gave up too early: {spent:?}");
    assert!(
        spent < Duration::from_secs(5),
        "a black hole cost {spent:?}"
    );
    let text = logs.text();
    assert!(text.contains("Failed to send notification"), "{text}");
    // The TCP connect timeout (hyper's, per address) or the overall one, whichever fires
    // first: either way a connect error.
    assert!(
        text.contains("tcp connect error") || text.contains("within 300ms"),
        "{text}"
    );
}
