//! A unix-socket forwarder in front of the Docker Engine, which a test can switch off: the
//! binary under test talks to the engine through it (`DOCKER_HOST=unix://<socket>`), and
//! [`EngineProxy::stop`] makes the engine unreachable for it (the socket file is removed and
//! every forwarded connection is cut), while the engine itself goes on serving the test.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

/// The running forwarder.
pub struct EngineProxy {
    socket: PathBuf,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// The engine's socket: `DOCKER_HOST` when it is `unix://<path>`, else the default.
fn engine_socket() -> anyhow::Result<PathBuf> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => match host.strip_prefix("unix://") {
            Some(path) => Ok(PathBuf::from(path)),
            None => bail!("the engine proxy forwards to a unix socket; DOCKER_HOST is {host:?}"),
        },
        _ => Ok(PathBuf::from("/var/run/docker.sock")),
    }
}

impl EngineProxy {
    /// Listens on a new socket in the temporary directory and forwards every connection to
    /// the engine's socket.
    pub fn start() -> anyhow::Result<Self> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let target = engine_socket()?;
        let socket = std::env::temp_dir().join(format!(
            "watchtower-e2e-engine-{}-{}.sock",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_file(&socket);
        let listener =
            UnixListener::bind(&socket).with_context(|| format!("binding {}", socket.display()))?;
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let connections = connections.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let target = target.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut engine) = UnixStream::connect(&target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                        }
                    });
                    connections.lock().expect("connections lock").push(task);
                }
            }
        });
        Ok(Self {
            socket,
            accept,
            connections,
        })
    }

    /// `unix://<socket>`, for `DOCKER_HOST`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Makes the engine unreachable through the proxy: no new connection (the socket file
    /// is gone), and the open ones are closed.
    pub fn stop(&self) {
        self.accept.abort();
        let _ = std::fs::remove_file(&self.socket);
        for task in self.connections.lock().expect("connections lock").drain(..) {
            task.abort();
        }
    }
}

impl Drop for EngineProxy {
    fn drop(&mut self) {
        self.stop();
    }
}
