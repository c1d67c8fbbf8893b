//! A TCP proxy on 127.0.0.1 that delays what it relays, to put a local server "far away":
//! [`LatencyProxy`] in front of a testkit [`Registry`](crate::Registry) makes every round
//! trip of a client cost the configured RTT, as a registry across a continent would.
//!
//! Each direction has its own one-way delay. Bytes read from one side are written to the
//! other side that long after they were read, without holding back what follows (a pipe
//! with propagation delay, not a slow link): two chunks sent 10 ms apart arrive 10 ms apart.
//! With [`LatencyOptions::tcp_handshake`], the client's first bytes also wait for the TCP
//! handshake a real connection would cost (one RTT after the connection was accepted),
//! because on loopback `connect` returns at once.
//!
//! The proxy counts the TCP connections it accepted and the TLS `ClientHello`s it saw (the
//! first record a client sends on a connection), so a test can tell one multiplexed HTTP/2
//! connection from one connection per request, and a resumed session from a new one.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use watchtower_testkit::{LatencyOptions, LatencyProxy, Registry, RegistryMode};
//!
//! let registry = Registry::start(RegistryMode::Tls).await?;
//! let far = LatencyProxy::start(
//!     registry.host().parse()?,
//!     LatencyOptions::round_trip(Duration::from_millis(50)),
//! )
//! .await?;
//! // ... point the client under test at `far.host()` ...
//! println!("{} connections, {} TLS handshakes", far.connections(), far.client_hellos());
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The RTT of [`LatencyOptions::default`].
pub const DEFAULT_RTT: Duration = Duration::from_millis(50);

/// How much delay the proxy adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyOptions {
    /// One-way delay of what the client sends (client to server).
    pub upstream: Duration,
    /// One-way delay of what the server sends (server to client).
    pub downstream: Duration,
    /// Whether a new connection's first client bytes also wait one RTT (`upstream +
    /// downstream`), the TCP handshake a connection to a remote host costs.
    pub tcp_handshake: bool,
}

impl LatencyOptions {
    /// `rtt` split evenly over both directions, with the TCP handshake modelled.
    pub fn round_trip(rtt: Duration) -> Self {
        Self {
            upstream: rtt / 2,
            downstream: rtt.saturating_sub(rtt / 2),
            tcp_handshake: true,
        }
    }

    /// No delay at all: the proxy only relays and counts.
    pub fn none() -> Self {
        Self {
            upstream: Duration::ZERO,
            downstream: Duration::ZERO,
            tcp_handshake: false,
        }
    }

    /// The round trip: `upstream + downstream`.
    pub fn rtt(&self) -> Duration {
        self.upstream + self.downstream
    }
}

impl Default for LatencyOptions {
    /// [`DEFAULT_RTT`] (50 ms), handshake included.
    fn default() -> Self {
        Self::round_trip(DEFAULT_RTT)
    }
}

#[derive(Debug)]
struct State {
    upstream: SocketAddr,
    options: Mutex<LatencyOptions>,
    connections: AtomicU64,
    client_hellos: AtomicU64,
}

impl State {
    fn options(&self) -> LatencyOptions {
        *self
            .options
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The proxy, on `127.0.0.1:<free port>`, relaying to one upstream address; stops when
/// dropped (connections in progress end with it).
#[derive(Debug)]
pub struct LatencyProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LatencyProxy {
    /// Starts the proxy on `127.0.0.1:<free port>` in front of `upstream`, which must be a
    /// loopback address (the bench never connects anywhere else).
    pub async fn start(upstream: SocketAddr, options: LatencyOptions) -> anyhow::Result<Self> {
        anyhow::ensure!(
            upstream.ip().is_loopback(),
            "the latency proxy relays to loopback addresses only, not {upstream}"
        );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the latency proxy to 127.0.0.1")?;
        let addr = listener
            .local_addr()
            .context("the latency proxy's address")?;
        let state = Arc::new(State {
            upstream,
            options: Mutex::new(options),
            connections: AtomicU64::new(0),
            client_hellos: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, state.clone()));
        Ok(Self { addr, state, task })
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`: the registry part of image references that go through the proxy.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The delays in force.
    pub fn latency(&self) -> LatencyOptions {
        self.state.options()
    }

    /// Changes the delays. Bytes read from now on get the new ones, on open connections
    /// too; the handshake wait applies to connections accepted from now on.
    pub fn set_latency(&self, options: LatencyOptions) {
        *self
            .state
            .options
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = options;
    }

    /// TCP connections accepted since the start (or the last [`reset_counts`](Self::reset_counts)).
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Connections whose first bytes were a TLS `ClientHello`: TLS handshakes begun.
    pub fn client_hellos(&self) -> u64 {
        self.state.client_hellos.load(Ordering::SeqCst)
    }

    /// Sets both counts to zero.
    pub fn reset_counts(&self) {
        self.state.connections.store(0, Ordering::SeqCst);
        self.state.client_hellos.store(0, Ordering::SeqCst);
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of file descriptors or similar: try again shortly rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let accepted = Instant::now();
        state.connections.fetch_add(1, Ordering::SeqCst);
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(state.upstream).await else {
                return; // dropping `client` closes it, as a refused connection would
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let options = state.options();
            let handshake_done = if options.tcp_handshake {
                accepted + options.rtt()
            } else {
                accepted
            };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let up = relay(
                client_read,
                server_write,
                state.clone(),
                Direction::Upstream { handshake_done },
            );
            let down = relay(server_read, client_write, state, Direction::Downstream);
            tokio::join!(up, down);
        });
    }
}

#[derive(Clone, Copy)]
enum Direction {
    /// Client to server; the client's bytes cannot leave before the handshake is done.
    Upstream { handshake_done: Instant },
    /// Server to client.
    Downstream,
}

/// What the reader hands the writer: bytes, or the end of the stream, each with the time it
/// is due on the other side.
enum Chunk {
    Data(Instant, Bytes),
    End(Instant),
}

/// Relays one direction: a reader stamps each chunk with its due time, a writer writes it
/// then. The two run at once, so a delay never holds back later chunks.
async fn relay(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    state: Arc<State>,
    direction: Direction,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Chunk>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut first = true;
        loop {
            let read = from.read(&mut buf).await;
            let now = Instant::now();
            let options = state.options();
            let (delay, earliest) = match direction {
                Direction::Upstream { handshake_done } => (options.upstream, handshake_done),
                Direction::Downstream => (options.downstream, now),
            };
            let due = now.max(earliest) + delay;
            match read {
                Ok(0) | Err(_) => {
                    let _ = tx.send(Chunk::End(due));
                    return;
                }
                Ok(n) => {
                    if first && matches!(direction, Direction::Upstream { .. }) {
                        if is_client_hello(&buf[..n]) {
                            state.client_hellos.fetch_add(1, Ordering::SeqCst);
                        }
                        first = false;
                    }
                    if tx
                        .send(Chunk::Data(due, Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some(chunk) = rx.recv().await {
            match chunk {
                Chunk::Data(due, bytes) => {
                    tokio::time::sleep_until(due).await;
                    if to.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Chunk::End(due) => {
                    tokio::time::sleep_until(due).await;
                    let _ = to.shutdown().await;
                    return;
                }
            }
        }
    };
    tokio::join!(reader, writer);
}

/// Whether `bytes` start with a TLS handshake record holding a `ClientHello`.
fn is_client_hello(bytes: &[u8]) -> bool {
    // Record: type 22 (handshake), version 3.x, length (2 bytes); then handshake type 1.
    bytes.len() >= 6 && bytes[0] == 0x16 && bytes[1] == 0x03 && bytes[5] == 0x01
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream that echoes every byte back; counts nothing.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = socket.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    /// Sends `message` and waits until it came back whole; returns how long that took.
    async fn echo_round_trip(stream: &mut TcpStream, message: &[u8]) -> Duration {
        let started = Instant::now();
        stream.write_all(message).await.unwrap();
        let mut back = vec![0u8; message.len()];
        stream.read_exact(&mut back).await.unwrap();
        assert_eq!(back, message);
        started.elapsed()
    }

    const RTT: Duration = Duration::from_millis(80);
    /// Loopback and scheduling add a little; a loaded CI machine more.
    const SLACK: Duration = Duration::from_millis(60);

    #[tokio::test]
    async fn a_round_trip_costs_the_rtt_and_a_new_connection_one_more() {
        let proxy = LatencyProxy::start(echo_server().await, LatencyOptions::round_trip(RTT))
            .await
            .unwrap();
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        // The first exchange waits for the modelled TCP handshake too.
        let first = echo_round_trip(&mut stream, b"hello").await;
        assert!(first >= 2 * RTT, "first exchange took {first:?}");
        assert!(first < 2 * RTT + SLACK, "first exchange took {first:?}");
        let second = echo_round_trip(&mut stream, b"again").await;
        assert!(second >= RTT, "second exchange took {second:?}");
        assert!(second < RTT + SLACK, "second exchange took {second:?}");
        assert_eq!(proxy.connections(), 1);
        assert_eq!(proxy.client_hellos(), 0, "plain bytes are no ClientHello");
    }

    #[tokio::test]
    async fn directions_are_delayed_separately_and_without_the_handshake_when_asked() {
        let options = LatencyOptions {
            upstream: Duration::from_millis(70),
            downstream: Duration::ZERO,
            tcp_handshake: false,
        };
        let proxy = LatencyProxy::start(echo_server().await, options)
            .await
            .unwrap();
        assert_eq!(proxy.latency().rtt(), Duration::from_millis(70));
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        let took = echo_round_trip(&mut stream, b"x").await;
        assert!(took >= options.upstream, "{took:?}");
        assert!(took < options.upstream + SLACK, "{took:?}");

        // New delays apply to bytes read from now on, on the open connection too.
        proxy.set_latency(LatencyOptions::none());
        let took = echo_round_trip(&mut stream, b"y").await;
        assert!(took < SLACK, "{took:?} without delay");
    }

    #[tokio::test]
    async fn a_delay_does_not_hold_back_what_follows() {
        let proxy = LatencyProxy::start(
            echo_server().await,
            LatencyOptions {
                tcp_handshake: false,
                ..LatencyOptions::round_trip(RTT)
            },
        )
        .await
        .unwrap();
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        let started = Instant::now();
        // Five messages 20 ms apart: pipelined, the last is back about RTT after it was sent
        // (4 x 20 ms + RTT in all); a proxy that delayed one chunk after the other would take
        // five RTTs.
        let (mut read, mut write) = stream.split();
        let send = async {
            for i in 0..5u8 {
                write.write_all(&[i]).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let receive = async {
            let mut back = [0u8; 5];
            read.read_exact(&mut back).await.unwrap();
            back
        };
        let ((), back) = tokio::join!(send, receive);
        let took = started.elapsed();
        assert_eq!(back, [0, 1, 2, 3, 4]);
        let expected = Duration::from_millis(80) + RTT;
        assert!(took >= expected, "{took:?}");
        assert!(took < expected + SLACK, "{took:?}");
    }

    #[tokio::test]
    async fn counts_connections_and_client_hellos_and_passes_on_the_end_of_stream() {
        let proxy = LatencyProxy::start(echo_server().await, LatencyOptions::none())
            .await
            .unwrap();
        // A TLS 1.2/1.3 ClientHello starts: 16 03 01 <len> 01 ...
        let hello = [0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00];
        for _ in 0..2 {
            let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
            echo_round_trip(&mut stream, &hello).await;
        }
        let mut plain = TcpStream::connect(proxy.addr()).await.unwrap();
        echo_round_trip(&mut plain, b"GET / HTTP/1.1\r\n\r\n").await;
        // A half-close reaches the echo server, which then closes: EOF comes back.
        plain.shutdown().await.unwrap();
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut rest))
            .await
            .expect("the end of the stream was passed on")
            .unwrap();
        assert!(rest.is_empty());
        assert_eq!(proxy.connections(), 3);
        assert_eq!(proxy.client_hellos(), 2);
        proxy.reset_counts();
        assert_eq!((proxy.connections(), proxy.client_hellos()), (0, 0));
    }

    #[tokio::test]
    async fn refuses_to_relay_anywhere_but_loopback() {
        let err = LatencyProxy::start("192.0.2.1:443".parse().unwrap(), LatencyOptions::none())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    #[test]
    fn round_trip_splits_the_rtt_and_the_default_is_50_ms() {
        let o = LatencyOptions::round_trip(Duration::from_millis(51));
        assert_eq!(o.rtt(), Duration::from_millis(51));
        assert!(o.tcp_handshake);
        assert_eq!(LatencyOptions::default().rtt(), Duration::from_millis(50));
        assert!(is_client_hello(&[0x16, 0x03, 0x03, 0x01, 0x00, 0x01]));
        assert!(!is_client_hello(&[0x16, 0x03, 0x03, 0x01, 0x00, 0x02]));
        assert!(!is_client_hello(b"PRI * HTTP/2.0"));
    }
}
