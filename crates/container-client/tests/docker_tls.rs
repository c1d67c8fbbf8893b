//! `DOCKER_TLS_VERIFY` + `DOCKER_CERT_PATH` against a real TLS endpoint.
//!
//! The engine here listens on a unix socket only, so the test puts a mutual-TLS terminator on
//! `127.0.0.1:<free port>` in front of it (certificates from a CA made at test time) and
//! connects `DockerClient` with `tcp://127.0.0.1:<port>`: the engine's answers prove the whole
//! path (CA check of the server, client certificate, ring provider).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use tokio::net::{TcpListener, UnixStream};
use tokio_rustls::TlsAcceptor;
use watchtower_container_client::{ContainerClient, DockerClient, DockerOptions, Error};
use watchtower_testkit::Engine;
use watchtower_testkit::tls::{IssuedCert, TestCa};

/// A TLS terminator requiring client certificates from `ca`, forwarding to `socket`.
struct Terminator {
    port: u16,
    served: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Terminator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn terminator(
    ca: &TestCa,
    server: &IssuedCert,
    socket: PathBuf,
) -> anyhow::Result<Terminator> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(ca.root_store()),
        provider.clone(),
    )
    .build()?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![server.cert_der()], server.private_key())?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let sessions = Arc::new(AtomicUsize::new(0));
    let counter = sessions.clone();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let socket = socket.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut engine) = UnixStream::connect(&socket).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut engine).await;
                }
            });
        }
    });
    Ok(Terminator {
        port,
        served: sessions,
        task,
    })
}

fn write_certs(dir: &Path, ca: &TestCa, client: &IssuedCert) -> anyhow::Result<()> {
    ca.write_pem(&dir.join("ca.pem"))?;
    client.write_pem(&dir.join("cert.pem"), &dir.join("key.pem"))
}

/// The engine's unix socket, or `None` when the engine is reached another way.
fn engine_socket() -> Option<PathBuf> {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => h.strip_prefix("unix://").map(PathBuf::from),
        _ => Some(PathBuf::from("/var/run/docker.sock")),
    }
}

#[tokio::test]
async fn connects_over_tls_with_the_cert_path_files() -> anyhow::Result<()> {
    let Some(_engine) = Engine::require().await else {
        return Ok(());
    };
    let Some(socket) = engine_socket() else {
        watchtower_testkit::skip("a unix-socket engine", "DOCKER_HOST is not unix://");
        return Ok(());
    };
    let ca = TestCa::new("engine-ca")?;
    let server = ca.issue_server_cert(&["127.0.0.1"])?;
    let client_cert = ca.issue_client_cert("watchtower")?;
    let t = terminator(&ca, &server, socket).await?;
    let host = format!("tcp://127.0.0.1:{}", t.port);

    let good = tempfile::tempdir()?;
    write_certs(good.path(), &ca, &client_cert)?;
    let client = DockerClient::connect(DockerOptions {
        host: Some(host.clone()),
        tls_verify: true,
        cert_path: Some(good.path().to_owned()),
        ..DockerOptions::default()
    })
    .await
    .context("connecting over TLS")?;
    let info = client.engine_info().await?;
    assert!(!info.server_version.is_empty());
    assert!(
        t.served.load(Ordering::SeqCst) >= 1,
        "the terminator served the client"
    );

    // An engine certificate from another CA is refused.
    let other = TestCa::new("someone-else")?;
    let wrong_ca = tempfile::tempdir()?;
    write_certs(wrong_ca.path(), &other, &client_cert)?;
    let err = DockerClient::connect(DockerOptions {
        host: Some(host.clone()),
        tls_verify: true,
        cert_path: Some(wrong_ca.path().to_owned()),
        ..DockerOptions::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Engine { .. }), "{err:?}");
    assert!(err.to_string().contains(&host), "{err}");

    // A client certificate the engine does not trust is refused by it.
    let stranger = other.issue_client_cert("stranger")?;
    let wrong_client = tempfile::tempdir()?;
    write_certs(wrong_client.path(), &ca, &stranger)?;
    let sessions_before = t.served.load(Ordering::SeqCst);
    let err = DockerClient::connect(DockerOptions {
        host: Some(host.clone()),
        tls_verify: true,
        cert_path: Some(wrong_client.path().to_owned()),
        ..DockerOptions::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains(&host), "{err}");
    assert_eq!(
        t.served.load(Ordering::SeqCst),
        sessions_before,
        "no session for a stranger"
    );

    // Without TLS the terminator answers nothing an HTTP client can use.
    let err = DockerClient::connect(DockerOptions {
        host: Some(host.clone()),
        ..DockerOptions::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains(&host), "{err}");
    Ok(())
}
