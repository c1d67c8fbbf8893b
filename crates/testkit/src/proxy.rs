//! An HTTP proxy on 127.0.0.1 for tests of proxied clients: `CONNECT` tunnels and
//! absolute-form forwarding, recording what it relayed, optionally demanding
//! `Proxy-Authorization`; and [`run_test_in_child`], which runs one test again in a child
//! process with proxy variables set (a test must never change its own environment).
//!
//! The proxy resolves `registry.test` and `localhost` to 127.0.0.1 itself and refuses (502)
//! every other name and every address that is not loopback, so nothing leaves the machine.
//! A client cannot resolve `registry.test` at all: a request that reaches a server under
//! that name proves the client left name resolution to the proxy.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One request the proxy received.
#[derive(Debug, Clone)]
pub struct Relayed {
    /// `CONNECT`, `GET`, ...
    pub method: String,
    /// The request target: `host:port` for `CONNECT`, the absolute URL otherwise.
    pub target: String,
    /// The `Host` header.
    pub host: Option<String>,
    /// The `Proxy-Authorization` header.
    pub proxy_authorization: Option<String>,
    /// What the proxy answered itself (407, 502), or `None` when it relayed.
    pub refused: Option<u16>,
}

#[derive(Default)]
struct ProxyState {
    /// Names the proxy resolves (to 127.0.0.1); anything else but a loopback IP is a 502.
    names: Vec<String>,
    /// The `Proxy-Authorization` value it demands, if any.
    require: Option<String>,
    accepted: AtomicUsize,
    log: Mutex<Vec<Relayed>>,
    /// The first bytes the client sent into each tunnel.
    tunnel_starts: Mutex<Vec<Vec<u8>>>,
    /// Everything clients sent into tunnels (capped).
    tunnel_bytes: Mutex<Vec<u8>>,
    /// The header lines sent upstream for absolute-form requests, lower-cased.
    forwarded_headers: Mutex<Vec<String>>,
}

/// The proxy, on `127.0.0.1:<free port>`; stops when dropped.
pub struct TestProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestProxy {
    /// Starts the proxy on `127.0.0.1:<free port>`; with `require`, every request must carry
    /// `Proxy-Authorization: Basic` of that user and password (else 407).
    pub async fn start(require: Option<(&str, &str)>) -> TestProxy {
        let state = Arc::new(ProxyState {
            names: vec!["registry.test".into(), "localhost".into()],
            require: require.map(|(u, p)| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                )
            }),
            ..ProxyState::default()
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the test proxy");
        let addr = listener.local_addr().expect("the test proxy's address");
        let accept_state = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                accept_state.accepted.fetch_add(1, Ordering::SeqCst);
                let state = accept_state.clone();
                tokio::spawn(async move {
                    if let Err(err) = Box::pin(handle(client, &state)).await {
                        eprintln!("test proxy: {err:#}");
                    }
                });
            }
        });
        TestProxy { addr, state, task }
    }

    /// `host:port` of the proxy.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://user:password@127.0.0.1:<port>`.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    /// Every request the proxy received, in order.
    pub fn log(&self) -> Vec<Relayed> {
        lock(&self.state.log).clone()
    }

    /// The first bytes clients sent into each tunnel (a TLS `ClientHello`, for HTTPS).
    pub fn tunnel_starts(&self) -> Vec<Vec<u8>> {
        lock(&self.state.tunnel_starts).clone()
    }

    /// Everything clients sent into tunnels (the first MiB).
    pub fn tunnel_bytes(&self) -> Vec<u8> {
        lock(&self.state.tunnel_bytes).clone()
    }

    /// The header lines relayed upstream for absolute-form requests, lower-cased names.
    pub fn forwarded_headers(&self) -> Vec<String> {
        lock(&self.state.forwarded_headers).clone()
    }

    /// TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }
}

/// Reads a request head (up to the empty line); returns it and any bytes read past it.
async fn read_head<R: AsyncRead + Unpin>(r: &mut R) -> anyhow::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok(Some((String::from_utf8(buf)?, rest)));
        }
        if buf.len() > 64 * 1024 {
            bail!("request head too large");
        }
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `host:port` -> a loopback socket address, if the proxy may go there.
fn resolve(state: &ProxyState, authority: &str) -> Option<SocketAddr> {
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if state.names.iter().any(|n| n.eq_ignore_ascii_case(host)) {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse::<IpAddr>().ok().filter(IpAddr::is_loopback)?
    };
    Some(SocketAddr::new(ip, port))
}

async fn refuse(client: &mut TcpStream, status: &str, extra: &str) -> anyhow::Result<()> {
    client
        .write_all(
            format!("HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    client.shutdown().await.ok();
    Ok(())
}

async fn handle(mut client: TcpStream, state: &ProxyState) -> anyhow::Result<()> {
    let Some((head, rest)) = read_head(&mut client).await? else {
        return Ok(());
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().context("no request line")?;
    let mut words = request_line.split(' ');
    let method = words.next().context("no method")?.to_owned();
    let target = words.next().context("no target")?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut relayed = Relayed {
        method,
        target,
        host: get("host"),
        proxy_authorization: get("proxy-authorization"),
        refused: None,
    };
    if let Some(required) = &state.require
        && relayed.proxy_authorization.as_ref() != Some(required)
    {
        relayed.refused = Some(407);
        state
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(relayed);
        return refuse(
            &mut client,
            "407 Proxy Authentication Required",
            "Proxy-Authenticate: Basic realm=\"test proxy\"\r\n",
        )
        .await;
    }

    if relayed.method == "CONNECT" {
        tunnel(client, state, relayed, &rest).await
    } else {
        forward(client, state, relayed, &headers, &rest).await
    }
}

/// `CONNECT host:port`: answers 200 and relays bytes both ways, recording what the client
/// sent into the tunnel.
async fn tunnel(
    mut client: TcpStream,
    state: &ProxyState,
    mut relayed: Relayed,
    rest: &[u8],
) -> anyhow::Result<()> {
    let Some(upstream_addr) = resolve(state, &relayed.target) else {
        relayed.refused = Some(502);
        state
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(relayed);
        return refuse(&mut client, "502 Bad Gateway", "").await;
    };
    state
        .log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(relayed);
    let mut upstream = TcpStream::connect(upstream_addr).await?;
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    upstream.write_all(rest).await?;
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut first = true;
        loop {
            let n = cr.read(&mut buf).await?;
            if n == 0 {
                uw.shutdown().await.ok();
                return Ok::<_, std::io::Error>(());
            }
            if first {
                state
                    .tunnel_starts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(buf[..n].to_vec());
                first = false;
            }
            {
                let mut all = state
                    .tunnel_bytes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if all.len() < 1024 * 1024 {
                    all.extend_from_slice(&buf[..n]);
                }
            }
            uw.write_all(&buf[..n]).await?;
        }
    };
    let down = tokio::io::copy(&mut ur, &mut cw);
    let _ = tokio::join!(up, down);
    Ok(())
}

/// Absolute form: `GET http://registry.test:5000/v2/ HTTP/1.1`. One request per connection:
/// the proxy asks the registry to close and closes after the answer.
async fn forward(
    mut client: TcpStream,
    state: &ProxyState,
    mut relayed: Relayed,
    headers: &[(String, String)],
    rest: &[u8],
) -> anyhow::Result<()> {
    let Some(rest_of_url) = relayed.target.strip_prefix("http://").map(str::to_owned) else {
        relayed.refused = Some(400);
        state
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(relayed);
        return refuse(&mut client, "400 Bad Request", "").await;
    };
    let (authority, path) = match rest_of_url.find('/') {
        Some(i) => (&rest_of_url[..i], &rest_of_url[i..]),
        None => (rest_of_url.as_str(), "/"),
    };
    let Some(upstream_addr) = resolve(state, authority) else {
        relayed.refused = Some(502);
        state
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(relayed);
        return refuse(&mut client, "502 Bad Gateway", "").await;
    };
    let mut out = format!("{} {path} HTTP/1.1\r\n", relayed.method);
    state
        .log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(relayed);
    let mut upstream = TcpStream::connect(upstream_addr).await?;
    for (name, value) in headers {
        if matches!(
            name.as_str(),
            "proxy-authorization" | "proxy-connection" | "connection" | "keep-alive"
        ) {
            continue;
        }
        state
            .forwarded_headers
            .lock()
            .unwrap()
            .push(format!("{name}: {value}"));
        let _ = write!(out, "{name}: {value}\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    upstream.write_all(out.as_bytes()).await?;
    upstream.write_all(rest).await?;
    tokio::io::copy(&mut upstream, &mut client).await?;
    client.shutdown().await.ok();
    Ok(())
}

/// Set in the child process of [`run_test_in_child`]; a test that finds it set does the
/// child's part.
pub const CHILD_VARIABLE: &str = "WATCHTOWER_PROXY_TEST_CHILD";

/// Every proxy variable a child starts without (then only the ones given are set).
pub const PROXY_VARIABLES: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Whether this process is the child of [`run_test_in_child`].
pub fn is_child() -> bool {
    std::env::var_os(CHILD_VARIABLE).is_some()
}

/// Runs `test` of the current test binary in a child process without any proxy variable
/// but those in `env` (plus [`CHILD_VARIABLE`]), and returns what the child printed after
/// `CHILD-RESULT ` on a line of its own. Panics when the child fails or prints no result.
pub async fn run_test_in_child(test: &str, env: &[(&str, &str)]) -> String {
    let mut command =
        tokio::process::Command::new(std::env::current_exe().expect("the test binary"));
    command.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    for variable in PROXY_VARIABLES {
        command.env_remove(variable);
    }
    command.env(CHILD_VARIABLE, "1");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the child process finishes")
        .expect("the child process runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("CHILD-RESULT ").map(|(_, result)| result))
        .unwrap_or_else(|| panic!("the child ran no test: {stdout}"))
        .to_owned()
}
