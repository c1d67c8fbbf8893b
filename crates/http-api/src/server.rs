//! The listener: HTTP/1.1 connections served by hyper, with the limits that keep one client
//! from holding the API hostage.
//!
//! - **Header-read timeout.** A connection has [`Limits::read_timeout`] to deliver each
//!   request's headers, counted from the moment it is ready for a request: right after it
//!   is accepted, and after each response on a kept-alive connection. A client that
//!   trickles its headers (slowloris) or connects and sends nothing is disconnected then;
//!   an idle kept-alive connection is closed after the same time.
//! - **Connection cap.** At most [`Limits::max_connections`] connections are served at once.
//!   When all slots are taken the server stops accepting: further clients wait in the
//!   kernel's accept queue until a slot frees up (the header-read timeout bounds how long a
//!   silent client can keep one), as Go's `netutil.LimitListener` does.
//! - **Graceful shutdown.** When the shutdown future completes the listener is closed (new
//!   connections are refused), idle connections are closed, and requests in flight run to
//!   their end before [`serve`] returns.
//!
//! The router is any axum [`Router`], so endpoints added later share these limits.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// The connection limits of the listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// How long a client may take to send a request's headers (and, for `/v1/update`, its
    /// body).
    pub(crate) read_timeout: Duration,
    /// How many connections are served at once.
    pub(crate) max_connections: usize,
}

/// How long to wait before accepting again after the operating system refused an accept
/// (out of file descriptors, ...), so that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then waits for
/// the connections still open to finish their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    // `acquire_many` below counts in u32.
    let max = u32::try_from(limits.max_connections)
        .unwrap_or(u32::MAX)
        .clamp(1, u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
    let slots = std::sync::Arc::new(Semaphore::new(
        usize::try_from(max).expect("u32 fits in usize"),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.read_timeout);
    let service = TowerToHyperService::new(router);
    tokio::pin!(shutdown);
    let mut saturated = false;

    loop {
        let slot = if let Ok(slot) = slots.clone().try_acquire_owned() {
            saturated = false;
            slot
        } else {
            if !saturated {
                saturated = true;
                tracing::warn!(
                    notify = "no",
                    max_connections = max,
                    "the HTTP API serves as many connections as it may; new ones wait"
                );
            }
            tokio::select! {
                () = &mut shutdown => break,
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            }
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    tracing::warn!(notify = "no", error = %err, "the HTTP API could not accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let connection = builder.serve_connection(TokioIo::new(stream), service.clone());
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopped(stop) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = result {
                // A timed-out or vanished client: nothing anyone needs to act on.
                tracing::debug!(error = %err, "HTTP API connection ended with an error");
            }
        });
    }

    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it is over: all slots back means all done.
    let _ = slots.acquire_many(max).await;
}

/// Completes when the shutdown is signalled (or the server is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
