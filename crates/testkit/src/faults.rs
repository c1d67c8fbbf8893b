//! A fault-injecting HTTP/1.1 proxy: in front of the Docker Engine on a unix socket
//! ([`FaultProxy::docker`]), or in front of a TCP server such as a testkit registry on
//! `127.0.0.1` ([`FaultProxy::tcp`]).
//!
//! The code under test is pointed at the proxy (`DOCKER_HOST=unix://<socket>`, or an image
//! reference naming the proxy's `127.0.0.1:<port>`), so it needs no test hooks. Every request
//! that no [`Rule`] takes is forwarded byte for byte on a connection of its own to the
//! upstream, and its answer is relayed as it arrives: fixed-length and chunked bodies,
//! answers that end with the connection, and hijacked or upgraded connections (`attach`,
//! `exec`, `101 Switching Protocols`), which become a plain two-way byte pipe. Bytes that do
//! not start like an HTTP request (a TLS `ClientHello`) are piped through unchanged too.
//!
//! A rule names a method, a regular expression matched against the whole path (without the
//! engine's `/v1.xx` prefix and without the query), optionally a `User-Agent` prefix and a
//! request that must have been seen first ([`Rule::after`]), and which matching call it takes
//! ([`Rule::nth`], or every one). Its [`Action`] answers with an error status, delays the
//! request or its answer, closes the connection without answering, forwards the request and
//! then drops the answer (the engine acted; the client never hears of it), sends garbage,
//! signals a process (the caller itself, found through `SO_PEERCRED`, or a given pid), or
//! runs a hook before forwarding. [`FaultProxy::fired`] lists which rules fired, and
//! [`FaultProxy::calls`] every request seen.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use watchtower_testkit::faults::{Action, FaultProxy, Rule};
//!
//! let proxy = FaultProxy::docker(vec![
//!     Rule::new("create fails", "POST", "/containers/create", Action::status(500, "injected")),
//!     Rule::new("rename answer lost", "POST", "/containers/[^/]+/rename", Action::DropAnswer).nth(1),
//! ])
//! .await?;
//! // ... run the client with DOCKER_HOST=proxy.docker_host() ...
//! for fired in proxy.fired() {
//!     println!("{} fired on {} {}", fired.rule, fired.method, fired.path);
//! }
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, bail};
use regex::Regex;
use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader,
    ReadBuf,
};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// The longest request or answer head the proxy reads (the engine's and a registry's are
/// far smaller).
const MAX_HEAD: usize = 64 * 1024;
/// The most requests [`FaultProxy::calls`] keeps.
const MAX_CALLS: usize = 10_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A signal the proxy can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `SIGKILL`: the process dies at once.
    Kill,
    /// `SIGTERM`: the process is asked to stop.
    Term,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Kill => "KILL",
            Signal::Term => "TERM",
        }
    }
}

/// Which process a [`Action::Signal`] goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The process that opened the connection carrying the call (unix sockets only).
    Caller,
    /// This process id.
    Pid(u32),
}

/// Code run by [`Action::Hook`] before the request is forwarded.
#[derive(Clone)]
pub struct Hook(Arc<dyn Fn() + Send + Sync>);

impl Hook {
    /// Wraps `f`.
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Hook {
        Hook(Arc::new(f))
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook(..)")
    }
}

/// What a rule does with a call it takes.
#[derive(Debug, Clone)]
pub enum Action {
    /// Answers `status` with the engine's error body `{"message": ...}`; nothing is forwarded.
    Answer {
        /// The HTTP status, e.g. 500.
        status: u16,
        /// The `message` of the JSON body.
        message: String,
    },
    /// Waits this long, then forwards.
    Delay(Duration),
    /// Forwards at once, reads the whole answer, and relays it this long after it came.
    DelayAnswer(Duration),
    /// Closes the connection without forwarding or answering.
    Close,
    /// Forwards, waits for the whole answer (the upstream acted), then closes the client's
    /// connection without relaying it.
    DropAnswer,
    /// Answers bytes that are not HTTP, then closes the connection.
    Garbage,
    /// Sends `signal` to `target`; then forwards the call when `forward`, or closes the
    /// connection without forwarding.
    Signal {
        /// The signal.
        signal: Signal,
        /// Who gets it.
        target: Target,
        /// Whether the call goes on to the upstream afterwards.
        forward: bool,
    },
    /// Runs the hook, then forwards.
    Hook(Hook),
}

impl Action {
    /// [`Action::Answer`] with `status` and `message`.
    pub fn status(status: u16, message: &str) -> Action {
        Action::Answer {
            status,
            message: message.to_owned(),
        }
    }

    /// `SIGKILL` to the caller before the call goes out (the call is never forwarded).
    pub fn kill_caller() -> Action {
        Action::Signal {
            signal: Signal::Kill,
            target: Target::Caller,
            forward: false,
        }
    }

    /// `SIGTERM` to the caller, then the call is forwarded as usual.
    pub fn terminate_caller() -> Action {
        Action::Signal {
            signal: Signal::Term,
            target: Target::Caller,
            forward: true,
        }
    }
}

/// Which of its matching calls a rule takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every matching call.
    Every,
    /// Only the nth matching call (1-based).
    Nth(usize),
}

/// One fault: which calls it takes and what it does with them.
#[derive(Debug, Clone)]
pub struct Rule {
    label: String,
    method: String,
    path: Regex,
    user_agent: Option<String>,
    after: Option<(String, Regex)>,
    when: When,
    action: Action,
}

fn anchored(pattern: &str) -> Regex {
    Regex::new(&format!("^(?:{pattern})$"))
        .unwrap_or_else(|e| panic!("fault rule path pattern {pattern:?}: {e}"))
}

impl Rule {
    /// A rule named `label` taking every `method` call (`*`: any method) whose path (without
    /// `/v1.xx` and the query) matches the regular expression `path` as a whole. Panics on a
    /// bad pattern.
    pub fn new(label: &str, method: &str, path: &str, action: Action) -> Rule {
        Rule {
            label: label.to_owned(),
            method: method.to_ascii_uppercase(),
            path: anchored(path),
            user_agent: None,
            after: None,
            when: When::Every,
            action,
        }
    }

    /// Takes only the `n`th matching call (1-based), counted from when the rule is armed.
    #[must_use]
    pub fn nth(mut self, n: usize) -> Rule {
        assert!(n >= 1, "calls are counted from 1");
        self.when = When::Nth(n);
        self
    }

    /// Matches only requests whose `User-Agent` starts with `prefix`.
    #[must_use]
    pub fn user_agent(mut self, prefix: &str) -> Rule {
        self.user_agent = Some(prefix.to_owned());
        self
    }

    /// Arms the rule only once a `method` request matching `path` was seen (that request
    /// itself does not count); calls before it neither match nor count.
    #[must_use]
    pub fn after(mut self, method: &str, path: &str) -> Rule {
        self.after = Some((method.to_ascii_uppercase(), anchored(path)));
        self
    }

    /// The rule's label.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// A rule that took a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The rule's label.
    pub rule: String,
    /// The request's method.
    pub method: String,
    /// The request's path (without `/v1.xx` and the query).
    pub path: String,
    /// Which matching call it was (1-based).
    pub nth: usize,
}

/// A request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The method.
    pub method: String,
    /// The path without `/v1.xx` and the query.
    pub path: String,
    /// The request target as sent (with the version prefix and the query).
    pub target: String,
}

struct RuleState {
    rule: Rule,
    armed: bool,
    seen: usize,
}

struct State {
    upstream: Upstream,
    strip_version: bool,
    rules: Mutex<Vec<RuleState>>,
    fired: Mutex<Vec<Fired>>,
    calls: Mutex<Vec<Call>>,
}

impl State {
    /// The action for this request, if a rule takes it; records it and arms rules.
    fn decide(&self, method: &str, path: &str, user_agent: Option<&str>) -> Option<Action> {
        let mut rules = lock(&self.rules);
        let mut chosen = None;
        for state in rules.iter_mut() {
            let rule = &state.rule;
            let matches = (rule.method == "*" || rule.method == method)
                && rule.path.is_match(path)
                && rule
                    .user_agent
                    .as_deref()
                    .is_none_or(|p| user_agent.is_some_and(|ua| ua.starts_with(p)));
            if !matches || (rule.after.is_some() && !state.armed) {
                continue;
            }
            state.seen += 1;
            let takes = match rule.when {
                When::Every => true,
                When::Nth(n) => state.seen == n,
            };
            if takes && chosen.is_none() {
                lock(&self.fired).push(Fired {
                    rule: rule.label.clone(),
                    method: method.to_owned(),
                    path: path.to_owned(),
                    nth: state.seen,
                });
                chosen = Some(rule.action.clone());
            }
        }
        for state in rules.iter_mut() {
            if let Some((m, p)) = &state.rule.after
                && m == method
                && p.is_match(path)
            {
                state.armed = true;
            }
        }
        chosen
    }
}

#[derive(Debug, Clone)]
enum Upstream {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl Upstream {
    async fn connect(&self) -> io::Result<Stream> {
        match self {
            Upstream::Unix(path) => UnixStream::connect(path).await.map(Stream::Unix),
            Upstream::Tcp(addr) => TcpStream::connect(addr).await.map(Stream::Tcp),
        }
    }
}

/// A unix or TCP connection.
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The fault proxy; stops accepting when dropped (the socket folder is removed with it).
pub struct FaultProxy {
    state: Arc<State>,
    socket: Option<PathBuf>,
    addr: Option<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("socket", &self.socket)
            .field("addr", &self.addr)
            .field("upstream", &self.state.upstream)
            .finish_non_exhaustive()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The engine's unix socket: `DOCKER_HOST` when it is `unix://<path>` (or a bare path), else
/// `/var/run/docker.sock`. A TCP `DOCKER_HOST` is an error: the proxy forwards to sockets.
pub fn engine_socket() -> anyhow::Result<PathBuf> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.trim().is_empty() => {
            let host = host.trim();
            if let Some(path) = host.strip_prefix("unix://") {
                Ok(PathBuf::from(path))
            } else if host.starts_with('/') {
                Ok(PathBuf::from(host))
            } else {
                bail!("the fault proxy forwards to a unix socket, but DOCKER_HOST is {host:?}")
            }
        }
        _ => Ok(PathBuf::from("/var/run/docker.sock")),
    }
}

/// A port on 127.0.0.1 that nothing listens on right now (bound, then released): a server
/// that is down.
pub fn unused_local_port() -> anyhow::Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("binding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

impl FaultProxy {
    /// A proxy on a unix socket in a new temporary folder, forwarding to the engine's socket
    /// ([`engine_socket`]) and applying `rules` in order (the first that takes a call acts).
    #[allow(clippy::unused_async)] // like `tcp`; binding the socket needs the runtime
    pub async fn docker(rules: Vec<Rule>) -> anyhow::Result<FaultProxy> {
        let upstream = engine_socket()?;
        let dir = tempfile::Builder::new()
            .prefix("wt-faults-")
            .tempdir()
            .context("making the proxy's socket folder")?;
        let socket = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&socket)
            .with_context(|| format!("binding the fault proxy at {}", socket.display()))?;
        let state = new_state(Upstream::Unix(upstream), true, rules);
        let task = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let caller = stream.peer_cred().ok().and_then(|c| c.pid());
                    let caller = caller.and_then(|p| u32::try_from(p).ok());
                    tokio::spawn(serve(state.clone(), Stream::Unix(stream), caller));
                }
            }
        });
        Ok(FaultProxy {
            state,
            socket: Some(socket),
            addr: None,
            task,
            _dir: Some(dir),
        })
    }

    /// A proxy on `127.0.0.1:<free port>` forwarding to `upstream` (a registry, say).
    pub async fn tcp(upstream: SocketAddr, rules: Vec<Rule>) -> anyhow::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the fault proxy on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let state = new_state(Upstream::Tcp(upstream), false, rules);
        let task = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(state.clone(), Stream::Tcp(stream), None));
                }
            }
        });
        Ok(FaultProxy {
            state,
            socket: None,
            addr: Some(addr),
            task,
            _dir: None,
        })
    }

    /// `unix://<socket>`, for `DOCKER_HOST` (a [`FaultProxy::docker`] proxy).
    pub fn docker_host(&self) -> String {
        let socket = self
            .socket
            .as_deref()
            .expect("docker_host() is for a proxy made by FaultProxy::docker");
        format!("unix://{}", socket.display())
    }

    /// The socket path of a [`FaultProxy::docker`] proxy.
    pub fn socket(&self) -> Option<&Path> {
        self.socket.as_deref()
    }

    /// `127.0.0.1:<port>` of a [`FaultProxy::tcp`] proxy.
    pub fn host(&self) -> String {
        self.addr
            .expect("host() is for a proxy made by FaultProxy::tcp")
            .to_string()
    }

    /// Adds a rule after the others.
    pub fn add_rule(&self, rule: Rule) {
        lock(&self.state.rules).push(RuleState {
            rule,
            armed: false,
            seen: 0,
        });
    }

    /// Removes every rule: from now on everything is forwarded.
    pub fn clear_rules(&self) {
        lock(&self.state.rules).clear();
    }

    /// The rules that fired so far, in order.
    pub fn fired(&self) -> Vec<Fired> {
        lock(&self.state.fired).clone()
    }

    /// The requests seen so far (the first 10 000), in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.state.calls).clone()
    }
}

fn new_state(upstream: Upstream, strip_version: bool, rules: Vec<Rule>) -> Arc<State> {
    Arc::new(State {
        upstream,
        strip_version,
        rules: Mutex::new(
            rules
                .into_iter()
                .map(|rule| RuleState {
                    rule,
                    armed: false,
                    seen: 0,
                })
                .collect(),
        ),
        fired: Mutex::new(Vec::new()),
        calls: Mutex::new(Vec::new()),
    })
}

/// A parsed head: the raw bytes and what the proxy needs from them.
struct Head {
    raw: Vec<u8>,
    first_line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.trim().parse().ok()
    }

    fn chunked(&self) -> bool {
        self.has_token("transfer-encoding", "chunked")
    }
}

/// Reads one head (up to the empty line). `Ok(None)` at a clean end of the stream.
async fn read_head<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    loop {
        let before = raw.len();
        let n = reader.read_until(b'\n', &mut raw).await?;
        if n == 0 {
            if raw.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the stream ended inside a head",
            ));
        }
        if raw.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too long"));
        }
        let line = &raw[before..];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = text.lines();
    let first_line = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Some(Head {
        raw,
        first_line,
        headers,
    }))
}

/// Copies exactly `n` bytes.
async fn copy_exact<R, W>(from: &mut R, to: &mut W, n: u64) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let copied = tokio::io::copy(&mut from.take(n), to).await?;
    if copied < n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the body ended early",
        ));
    }
    Ok(())
}

/// Copies a chunked body with its framing, chunk by chunk, flushing after each.
async fn copy_chunked<R, W>(from: &mut BufReader<R>, to: &mut W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let mut line = Vec::new();
        if from.read_until(b'\n', &mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the chunked body ended early",
            ));
        }
        to.write_all(&line).await?;
        let text = String::from_utf8_lossy(&line);
        let size = text.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut trailer = Vec::new();
                if from.read_until(b'\n', &mut trailer).await? == 0 {
                    break;
                }
                to.write_all(&trailer).await?;
                if trailer == b"\r\n" || trailer == b"\n" {
                    break;
                }
            }
            to.flush().await?;
            return Ok(());
        }
        copy_exact(from, to, size + 2).await?; // the data and its CRLF
        to.flush().await?;
    }
}

/// A request's body, read whole (the engine's request bodies are small JSON documents).
async fn read_body<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    head: &Head,
) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if head.chunked() {
        copy_chunked(reader, &mut body).await?;
    } else if let Some(n) = head.content_length() {
        copy_exact(reader, &mut body, n).await?;
    }
    Ok(body)
}

/// The version prefix `/v1.41` the engine's clients put before every path.
fn strip_version(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else {
        return path;
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let version = &rest[..end];
    let is_version = version.contains('.')
        && !version.is_empty()
        && version.chars().all(|c| c.is_ascii_digit() || c == '.');
    if is_version { &rest[end..] } else { path }
}

/// How an answer's body is framed.
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
    Pipe,
}

fn framing(request_method: &str, request: &Head, answer: &Head) -> Framing {
    let status: u16 = answer
        .first_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let upgrade_asked = request.has_token("connection", "upgrade");
    if status == 101 {
        return Framing::Pipe;
    }
    if request_method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
        return Framing::None;
    }
    if answer.chunked() {
        return Framing::Chunked;
    }
    if let Some(n) = answer.content_length() {
        return Framing::Length(n);
    }
    // The engine's old hijack: 200 with a raw stream and no framing.
    if upgrade_asked {
        return Framing::Pipe;
    }
    Framing::UntilClose
}

/// Serves one client connection: request after request, each forwarded on this
/// connection's own upstream connection (opened on the first forwarded request).
async fn serve(state: Arc<State>, client: Stream, caller: Option<u32>) {
    let mut client = BufReader::new(client);
    let mut upstream: Option<BufReader<Stream>> = None;
    // Errors end the connection, as a broken peer would.
    let _ = serve_inner(&state, &mut client, &mut upstream, caller).await;
}

/// What happens to a request after its rule acted.
enum Next {
    /// Forward it; relay the answer that much later, or drop it.
    Forward {
        delay_answer: Option<Duration>,
        drop_answer: bool,
    },
    /// The proxy answered itself; read the next request.
    Answered,
    /// Close the client's connection.
    Close,
}

/// Carries out `action` before the request would be forwarded.
async fn before_forwarding(
    action: Option<Action>,
    client: &mut BufReader<Stream>,
    caller: Option<u32>,
) -> io::Result<Next> {
    let forward = Next::Forward {
        delay_answer: None,
        drop_answer: false,
    };
    Ok(match action {
        None => forward,
        Some(Action::Answer { status, message }) => {
            let body = serde_json::json!({ "message": message }).to_string();
            let answer = format!(
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            client.write_all(answer.as_bytes()).await?;
            client.flush().await?;
            Next::Answered
        }
        Some(Action::Delay(d)) => {
            tokio::time::sleep(d).await;
            forward
        }
        Some(Action::DelayAnswer(d)) => Next::Forward {
            delay_answer: Some(d),
            drop_answer: false,
        },
        Some(Action::Close) => Next::Close,
        Some(Action::DropAnswer) => Next::Forward {
            delay_answer: None,
            drop_answer: true,
        },
        Some(Action::Garbage) => {
            client
                .write_all(b"\x00\xffnot http at all\r\n\x07\x08\r\n\r\n")
                .await?;
            client.flush().await?;
            Next::Close
        }
        Some(Action::Signal {
            signal,
            target,
            forward: then_forward,
        }) => {
            let pid = match target {
                Target::Caller => caller,
                Target::Pid(pid) => Some(pid),
            };
            if let Some(pid) = pid {
                let _ = tokio::process::Command::new("kill")
                    .args([format!("-{}", signal.name()), pid.to_string()])
                    .status()
                    .await;
            }
            if then_forward { forward } else { Next::Close }
        }
        Some(Action::Hook(hook)) => {
            (hook.0)();
            forward
        }
    })
}

/// Reads one request from the client and records it: `None` at the end of the stream.
async fn next_request(
    state: &State,
    client: &mut BufReader<Stream>,
) -> io::Result<Option<(Head, Vec<u8>, String, String)>> {
    let Some(head) = read_head(client).await? else {
        return Ok(None);
    };
    let body = read_body(client, &head).await?;
    let mut parts = head.first_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let raw_path = target.split('?').next().unwrap_or_default();
    let path = if state.strip_version {
        strip_version(raw_path)
    } else {
        raw_path
    }
    .to_owned();
    let mut calls = lock(&state.calls);
    if calls.len() < MAX_CALLS {
        calls.push(Call {
            method: method.clone(),
            path: path.clone(),
            target,
        });
    }
    Ok(Some((head, body, method, path)))
}

async fn serve_inner(
    state: &State,
    client: &mut BufReader<Stream>,
    upstream: &mut Option<BufReader<Stream>>,
    caller: Option<u32>,
) -> io::Result<()> {
    loop {
        let first = client.fill_buf().await?;
        if first.is_empty() {
            return Ok(());
        }
        if !first[0].is_ascii_uppercase() {
            // Not HTTP (a TLS ClientHello, say): a plain pipe.
            let mut up = state.upstream.connect().await?;
            tokio::io::copy_bidirectional(client, &mut up).await?;
            return Ok(());
        }
        let Some((head, body, method, path)) = next_request(state, client).await? else {
            return Ok(());
        };
        let action = state.decide(&method, &path, head.header("user-agent"));
        let (delay_answer, drop_answer) = match before_forwarding(action, client, caller).await? {
            Next::Answered => continue,
            Next::Close => return Ok(()),
            Next::Forward {
                delay_answer,
                drop_answer,
            } => (delay_answer, drop_answer),
        };
        if upstream.is_none() {
            *upstream = Some(BufReader::new(state.upstream.connect().await?));
        }
        let up = upstream.as_mut().expect("connected above");
        up.write_all(&head.raw).await?;
        up.write_all(&body).await?;
        up.flush().await?;
        let Some(answer) = read_head(up).await? else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the upstream closed without answering",
            ));
        };
        let closes =
            head.has_token("connection", "close") || answer.has_token("connection", "close");
        let framing = framing(&method, &head, &answer);
        let keep_going = if drop_answer || delay_answer.is_some() {
            relay_held(up, client, &answer, &framing, delay_answer, drop_answer).await?
        } else {
            relay(up, client, &answer, &framing).await?
        };
        if !keep_going || closes {
            return Ok(());
        }
    }
}

/// Relays an answer as it arrives; `false` when the connection ends with it.
async fn relay(
    up: &mut BufReader<Stream>,
    client: &mut BufReader<Stream>,
    answer: &Head,
    framing: &Framing,
) -> io::Result<bool> {
    client.write_all(&answer.raw).await?;
    client.flush().await?;
    match *framing {
        Framing::None => {}
        Framing::Length(n) => {
            copy_exact(up, client, n).await?;
            client.flush().await?;
        }
        Framing::Chunked => copy_chunked(up, client).await?,
        Framing::UntilClose => {
            tokio::io::copy(up, client).await?;
            client.flush().await?;
            return Ok(false);
        }
        Framing::Pipe => {
            tokio::io::copy_bidirectional(client, up).await?;
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reads the whole answer, then drops it or relays it after `delay`; `false` when the
/// connection ends.
async fn relay_held(
    up: &mut BufReader<Stream>,
    client: &mut BufReader<Stream>,
    answer: &Head,
    framing: &Framing,
    delay: Option<Duration>,
    drop_answer: bool,
) -> io::Result<bool> {
    let mut whole = answer.raw.clone();
    match *framing {
        Framing::None | Framing::Pipe => {}
        Framing::Length(n) => copy_exact(up, &mut whole, n).await?,
        Framing::Chunked => copy_chunked(up, &mut whole).await?,
        Framing::UntilClose => {
            up.read_to_end(&mut whole).await?;
        }
    }
    if drop_answer {
        return Ok(false);
    }
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    client.write_all(&whole).await?;
    client.flush().await?;
    Ok(!matches!(framing, Framing::UntilClose | Framing::Pipe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_prefix_is_stripped_and_nothing_else() {
        assert_eq!(strip_version("/v1.41/containers/json"), "/containers/json");
        assert_eq!(strip_version("/v1.41"), "");
        assert_eq!(
            strip_version("/v2/repo/manifests/latest"),
            "/v2/repo/manifests/latest"
        );
        assert_eq!(strip_version("/version"), "/version");
        assert_eq!(strip_version("/_ping"), "/_ping");
    }

    #[test]
    fn rules_take_the_nth_call_after_their_arming_request() {
        let state = new_state(
            Upstream::Tcp("127.0.0.1:1".parse().unwrap()),
            true,
            vec![
                Rule::new(
                    "inspect after stop",
                    "GET",
                    "/containers/[^/]+/json",
                    Action::Close,
                )
                .after("POST", "/containers/[^/]+/stop")
                .nth(2),
                Rule::new("every create", "post", "/containers/create", Action::Close),
            ],
        );
        assert!(state.decide("GET", "/containers/a/json", None).is_none());
        assert!(state.decide("POST", "/containers/a/stop", None).is_none());
        assert!(state.decide("GET", "/containers/a/json", None).is_none());
        assert!(state.decide("GET", "/containers/a/json", None).is_some());
        assert!(state.decide("GET", "/containers/a/json", None).is_none());
        assert!(state.decide("POST", "/containers/create", None).is_some());
        assert!(state.decide("POST", "/containers/create", None).is_some());
        assert!(state.decide("POST", "/containers/created", None).is_none());
        let fired = lock(&state.fired).clone();
        assert_eq!(
            fired
                .iter()
                .map(|f| (f.rule.as_str(), f.nth))
                .collect::<Vec<_>>(),
            [
                ("inspect after stop", 2),
                ("every create", 1),
                ("every create", 2)
            ]
        );
    }

    #[test]
    fn a_user_agent_rule_ignores_other_clients() {
        let state = new_state(
            Upstream::Tcp("127.0.0.1:1".parse().unwrap()),
            false,
            vec![Rule::new("head", "HEAD", "/v2/.*", Action::Close).user_agent("watchtower/")],
        );
        assert!(
            state
                .decide("HEAD", "/v2/a/manifests/latest", Some("docker/20.10"))
                .is_none()
        );
        assert!(
            state
                .decide("HEAD", "/v2/a/manifests/latest", None)
                .is_none()
        );
        assert!(
            state
                .decide("HEAD", "/v2/a/manifests/latest", Some("watchtower/0.1"))
                .is_some()
        );
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1: answers each request with a fixed-length body
    /// naming the path, `/chunked` with two chunks, counts what it served.
    async fn upstream() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(Mutex::new(Vec::new()));
        let log = served.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut reader = BufReader::new(stream);
                    while let Ok(Some(head)) = read_head(&mut reader).await {
                        let _ = read_body(&mut reader, &head).await;
                        let path = head
                            .first_line
                            .split_whitespace()
                            .nth(1)
                            .unwrap()
                            .to_owned();
                        lock(&log).push(path.clone());
                        let answer = if path == "/chunked" {
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".to_owned()
                        } else {
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{path}",
                                path.len()
                            )
                        };
                        if reader.write_all(answer.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (addr, served)
    }

    async fn exchange(stream: &mut TcpStream, request: &str) -> io::Result<String> {
        stream.write_all(request.as_bytes()).await?;
        let mut reader = BufReader::new(stream);
        let head = read_head(&mut reader)
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "closed"))?;
        let mut body = Vec::new();
        if head.chunked() {
            copy_chunked(&mut reader, &mut body).await?;
        } else if let Some(n) = head.content_length() {
            copy_exact(&mut reader, &mut body, n).await?;
        }
        Ok(format!(
            "{}|{}",
            head.first_line,
            String::from_utf8_lossy(&body)
        ))
    }

    #[tokio::test]
    async fn forwards_keep_alive_requests_and_applies_rules() {
        let (addr, served) = upstream().await;
        let proxy = FaultProxy::tcp(
            addr,
            vec![
                Rule::new("500", "GET", "/fail", Action::status(500, "injected")),
                Rule::new("lost", "POST", "/lost", Action::DropAnswer),
                Rule::new("close", "GET", "/close", Action::Close).nth(2),
            ],
        )
        .await
        .unwrap();
        let mut c = TcpStream::connect(proxy.host()).await.unwrap();
        assert_eq!(
            exchange(&mut c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap(),
            "HTTP/1.1 200 OK|/a"
        );
        assert_eq!(
            exchange(&mut c, "GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap(),
            // Relayed with its framing, byte for byte.
            "HTTP/1.1 200 OK|3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        );
        let failed = exchange(&mut c, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert!(failed.starts_with("HTTP/1.1 500"), "{failed}");
        assert!(failed.contains(r#""message":"injected""#), "{failed}");
        assert_eq!(
            exchange(&mut c, "GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap(),
            "HTTP/1.1 200 OK|/close"
        );
        assert!(
            exchange(&mut c, "GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .is_err()
        );

        let mut c = TcpStream::connect(proxy.host()).await.unwrap();
        let lost = exchange(&mut c, "POST /lost HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi").await;
        assert!(lost.is_err(), "{lost:?}");
        // The upstream served the lost request; it never saw the 500 or the closed one.
        assert_eq!(*lock(&served), ["/a", "/chunked", "/close", "/lost"]);
        let fired: Vec<_> = proxy.fired().into_iter().map(|f| f.rule).collect();
        assert_eq!(fired, ["500", "close", "lost"]);
        assert_eq!(proxy.calls().len(), 6);
    }
}

/// The docker CLI through the proxy against the real engine: plain answers, a streamed
/// log, a hijacked `exec`, `wait`, and an injected 500 that the CLI reports. Skips loudly
/// without an engine (fails under `WATCHTOWER_E2E=required`).
#[cfg(test)]
mod engine_tests {
    use super::*;
    use crate::{ContainerSpec, Engine, FixtureImage, FixtureSpec, Registry, RegistryMode};

    async fn docker_cli(host: &str, args: &[&str]) -> anyhow::Result<(bool, String)> {
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::new("docker")
                .args(args)
                .env("DOCKER_HOST", host)
                .stdin(std::process::Stdio::null())
                .output(),
        )
        .await
        .context("the docker CLI did not finish within 60 s")??;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_docker_cli_works_through_the_proxy_and_sees_injected_faults() -> anyhow::Result<()>
    {
        let Some(engine) = Engine::require().await else {
            return Ok(());
        };
        if std::process::Command::new("docker")
            .arg("--version")
            .output()
            .is_err()
        {
            crate::skip("the docker CLI", "docker is not on PATH");
            return Ok(());
        }
        let registry = Registry::start(RegistryMode::Plain).await?;
        let image = FixtureImage::publish(
            &engine,
            &registry,
            &format!("testkit/faults-{}", engine.run_id()),
            FixtureSpec::default(),
        )
        .await?;
        let name = engine.unique_name("faults-cli");
        let id = engine
            .run_container(
                &name,
                ContainerSpec::new(image.reference()).cmd([
                    "/bin/sh",
                    "-c",
                    "echo first; sleep 1; echo second; sleep 600",
                ]),
            )
            .await?;
        let proxy = FaultProxy::docker(vec![Rule::new(
            "kill refused",
            "POST",
            "/containers/[^/]+/kill",
            Action::status(500, "injected by the fault proxy"),
        )])
        .await?;
        let host = proxy.docker_host();

        let (ok, out) = docker_cli(&host, &["inspect", "-f", "{{.Name}}", &id]).await?;
        assert!(ok && out.trim() == format!("/{name}"), "{out}");
        // Streamed (chunked) until the container prints its second line.
        let (ok, out) = docker_cli(&host, &["logs", "--until", "0s", &id]).await?;
        assert!(ok, "{out}");
        engine
            .wait_for_output(&id, "second", Duration::from_secs(30))
            .await?;
        let (ok, out) = docker_cli(&host, &["logs", &id]).await?;
        assert!(
            ok && out.contains("first") && out.contains("second"),
            "{out}"
        );
        // Hijacked: exec attaches to the process's output.
        let (ok, out) =
            docker_cli(&host, &["exec", &id, "/bin/sh", "-c", "echo from-exec"]).await?;
        assert!(ok && out.contains("from-exec"), "{out}");
        let (ok, out) = docker_cli(&host, &["kill", &id]).await?;
        assert!(!ok && out.contains("injected by the fault proxy"), "{out}");
        assert!(
            engine
                .inspect_container(&id)
                .await?
                .state
                .and_then(|s| s.running)
                == Some(true)
        );
        // Not killed through the proxy, so the engine is asked directly; wait streams.
        engine
            .docker()
            .kill_container(&id, None::<bollard::query_parameters::KillContainerOptions>)
            .await?;
        let (ok, out) = docker_cli(&host, &["wait", &id]).await?;
        assert!(ok && out.trim() == "137", "{out}");

        let fired = proxy.fired();
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].path, format!("/containers/{id}/kill"));
        let calls = proxy.calls();
        assert!(
            calls
                .iter()
                .any(|c| c.method == "POST" && c.path.ends_with("/exec")),
            "{calls:?}"
        );
        assert!(
            calls.iter().all(|c| !c.path.starts_with("/v1.")),
            "{calls:?}"
        );
        Ok(())
    }
}
