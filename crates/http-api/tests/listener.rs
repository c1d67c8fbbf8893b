//! The listener's limits, against real sockets on 127.0.0.1: slow and silent clients are cut
//! off, the connection cap holds, shutdown closes idle connections but finishes requests in
//! flight, and the address is logged at start.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{Server, TOKEN, bearer, send_to};
use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use watchtower_http_api::{Api, Metrics, Token, UpdateError, UpdateScope, UpdateTrigger};

fn metrics_api() -> Api {
    Api::new(Token::new(TOKEN).unwrap()).with_metrics(Metrics::new())
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn read_until_closed(stream: &mut tokio::net::tcp::OwnedReadHalf) -> (Vec<u8>, Instant) {
    let mut received = Vec::new();
    let mut buf = [0_u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return (received, Instant::now()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off_within_the_timeout() {
    let timeout = Duration::from_secs(1);
    let server = Server::start(metrics_api().with_read_timeout(timeout)).await;

    let started = Instant::now();
    let (mut read, mut write) = TcpStream::connect(server.addr).await.unwrap().into_split();
    write
        .write_all(b"GET /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // One byte of a header every 100 ms, never the blank line that ends the headers: the
    // client is always "still sending", as a slowloris client is. It gives up after 10 s.
    let trickle = tokio::spawn(async move {
        for byte in b"X-Slow: ".iter().cycle().take(100) {
            if write.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let (received, closed) =
        tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut read))
            .await
            .expect("the server closes the connection");
    trickle.abort();
    let held = closed - started;
    assert!(
        held + Duration::from_millis(100) >= timeout,
        "cut off after {held:?}, before the timeout"
    );
    assert!(
        held < timeout + Duration::from_secs(2),
        "cut off only after {held:?}"
    );
    assert!(
        received.is_empty(),
        "no response to a request that never ended: {:?}",
        String::from_utf8_lossy(&received)
    );

    // The server is fine: a normal client is answered.
    let (headers, _) = server.scrape(None).await;
    assert_eq!(headers["vary"], "Accept");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_sends_nothing_is_cut_off_too() {
    let timeout = Duration::from_millis(500);
    let server = Server::start(metrics_api().with_read_timeout(timeout)).await;
    let started = Instant::now();
    let (mut read, _write) = TcpStream::connect(server.addr).await.unwrap().into_split();
    let (received, closed) =
        tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut read))
            .await
            .expect("the server closes a silent connection");
    let held = closed - started;
    assert!(held + Duration::from_millis(100) >= timeout, "{held:?}");
    assert!(held < timeout + Duration::from_secs(2), "{held:?}");
    assert!(received.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn no_more_connections_than_the_cap_are_served() {
    let server = Server::start(
        metrics_api()
            .with_max_connections(2)
            .with_read_timeout(Duration::from_secs(60)),
    )
    .await;
    // Two silent clients take both slots (they are accepted first: the accept queue is FIFO).
    let first = TcpStream::connect(server.addr).await.unwrap();
    let second = TcpStream::connect(server.addr).await.unwrap();

    let auth = bearer(TOKEN);
    let addr = server.addr;
    let third = tokio::spawn(async move {
        send_to(
            addr,
            Method::GET,
            "/v1/metrics",
            &[("authorization", &auth)],
            vec![],
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !third.is_finished(),
        "a third connection was served while two held both slots"
    );

    // One slot frees up: the waiting client is accepted and answered.
    drop(first);
    let (status, _, text) = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the waiting client is served once a slot is free")
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("watchtower_scans_total 0"), "{text}");
    drop(second);
    server.stop().await;
}

#[tokio::test]
async fn a_silent_client_holds_a_slot_only_until_the_timeout() {
    let timeout = Duration::from_secs(1);
    let server = Server::start(
        metrics_api()
            .with_max_connections(1)
            .with_read_timeout(timeout),
    )
    .await;
    let started = Instant::now();
    let _silent = TcpStream::connect(server.addr).await.unwrap();
    let (_, text) = server.scrape(None).await;
    let waited = started.elapsed();
    assert!(text.contains("watchtower_scans_total"), "{text}");
    assert!(
        waited + Duration::from_millis(100) >= timeout,
        "served after {waited:?}, while the only slot was taken"
    );
    assert!(waited < timeout + Duration::from_secs(3), "{waited:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_with_408() {
    let timeout = Duration::from_millis(500);
    let api = Api::new(Token::new(TOKEN).unwrap())
        .with_update(Arc::new(SlowTrigger(Duration::ZERO)))
        .with_read_timeout(timeout);
    let server = Server::start(api).await;
    let (mut read, mut write) = TcpStream::connect(server.addr).await.unwrap().into_split();
    let request = format!(
        "POST /v1/update HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\n\
         Content-Length: 100\r\n\r\nonly a part",
        bearer(TOKEN)
    );
    write.write_all(request.as_bytes()).await.unwrap();
    let mut response = vec![0_u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), read.read(&mut response))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    let response = String::from_utf8_lossy(&response[..n]);
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    drop(write);
    server.stop().await;
}

struct SlowTrigger(Duration);

#[async_trait]
impl UpdateTrigger for SlowTrigger {
    async fn update(&self, _scope: UpdateScope) -> Result<serde_json::Value, UpdateError> {
        tokio::time::sleep(self.0).await;
        Ok(serde_json::json!({"updated": 1}))
    }
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_finishes_requests_in_flight() {
    let api = Api::new(Token::new(TOKEN).unwrap())
        .with_update(Arc::new(SlowTrigger(Duration::from_secs(1))))
        .with_read_timeout(Duration::from_secs(60));
    let server = Server::start(api).await;
    let addr = server.addr;
    let (mut idle, _idle_write) = TcpStream::connect(addr).await.unwrap().into_split();
    let auth = bearer(TOKEN);
    let in_flight = tokio::spawn(async move {
        send_to(
            addr,
            Method::POST,
            "/v1/update",
            &[("authorization", &auth)],
            vec![],
        )
        .await
    });
    // The request is in the trigger (which takes 1 s) when the shutdown begins.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = tokio::spawn(server.stop());

    let (received, _) = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut idle))
        .await
        .expect("the idle connection is closed at shutdown");
    assert!(received.is_empty());
    let (status, _, body) = in_flight.await.unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "the request in flight is answered: {body}"
    );
    stopping.await.unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed once serve() returned"
    );
}

/// Captures what the crate logs through `tracing`.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_listening_address_is_logged_at_start() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = Server::start(metrics_api().with_max_connections(7)).await;
    // Any answer means serve() has run past its start-up log line.
    let _ = server.scrape(None).await;
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("HTTP API listening"))
        .unwrap_or_else(|| panic!("no listening line in:\n{log}"));
    assert!(line.contains(" INFO "), "{line}");
    assert!(
        line.split_whitespace()
            .any(|field| field == format!("addr={}", server.addr)),
        "{line}"
    );
    assert!(line.contains("max_connections=7"), "{line}");
    assert!(line.contains("read_timeout=10s"), "{line}");
    server.stop().await;
}
