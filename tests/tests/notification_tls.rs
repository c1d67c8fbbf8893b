//! The binary's notifications trust what its registry traffic trusts: a receiver whose
//! certificate comes from a private CA gets the startup notification when that CA is the
//! `--registry-ca` bundle, or the `SSL_CERT_FILE` bundle (as Go reads it), and nothing
//! without either. The receiver is HTTPS on 127.0.0.1. Skips loudly without an engine;
//! fails under `WATCHTOWER_E2E=required`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsAcceptor;
use watchtower_e2e::Watchtower;
use watchtower_testkit::Engine;
use watchtower_testkit::tls::TestCa;

/// An HTTPS receiver on 127.0.0.1 with a certificate from `ca`; counts the requests that
/// got through the handshake and keeps their bodies.
struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
    handshakes_refused: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(ca: &TestCa) -> anyhow::Result<Receiver> {
        let server = ca.issue_server_cert(&["127.0.0.1"])?.server_config()?;
        let acceptor = TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
        let refused = Arc::new(AtomicUsize::new(0));
        let (store, count) = (bodies.clone(), refused.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, store, count) = (acceptor.clone(), store.clone(), count.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        count.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let store = store.clone();
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
        Ok(Receiver {
            port,
            bodies,
            handshakes_refused: refused,
        })
    }

    fn url(&self) -> String {
        format!(
            "generic+https://127.0.0.1:{}/hook?contenttype=text/plain",
            self.port
        )
    }
}

/// Runs `--run-once` on a name no container has, with the receiver as the notification URL.
async fn run(receiver: &Receiver, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    let url = receiver.url();
    let mut all = vec!["--run-once", "--notification-url", &url];
    all.extend_from_slice(args);
    all.push("e2e-no-such-container-tls-5e1a");
    let watchtower = Watchtower::start(&all, env)?;
    let (code, log) = watchtower.wait_with_log(Duration::from_secs(120)).await?;
    assert_eq!(code, Some(0), "{log:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_trust_the_registry_ca_and_ssl_cert_file_and_nothing_else()
-> anyhow::Result<()> {
    let Some(_engine) = Engine::require().await else {
        return Ok(());
    };
    let ca = TestCa::new("e2e notification CA")?;
    let dir = tempfile::tempdir()?;
    let bundle = dir.path().join("ca.pem");
    ca.write_pem(&bundle)?;
    let bundle = bundle.to_str().expect("a UTF-8 temp path");

    // Not trusted: the handshake is refused and nothing is delivered.
    let untrusted = Receiver::start(&ca).await?;
    run(&untrusted, &[], &[]).await?;
    assert!(untrusted.bodies.lock().unwrap().is_empty());
    assert!(
        untrusted.handshakes_refused.load(Ordering::SeqCst) >= 1,
        "the binary tried and refused the certificate"
    );

    // `--registry-ca`: the startup message arrives.
    let by_flag = Receiver::start(&ca).await?;
    run(&by_flag, &["--registry-ca", bundle], &[]).await?;
    let bodies = by_flag.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert!(
        bodies[0].contains("Running a one time update."),
        "{bodies:#?}"
    );

    // `SSL_CERT_FILE`, as Go reads it (a bundle mounted for the original's image).
    let by_env = Receiver::start(&ca).await?;
    run(&by_env, &[], &[("SSL_CERT_FILE", bundle)]).await?;
    assert_eq!(by_env.bodies.lock().unwrap().len(), 1);
    Ok(())
}
