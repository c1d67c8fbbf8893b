//! A recording HTTP receiver on 127.0.0.1 for the notification tests.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body: Vec<u8>,
}

impl Recorded {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body of {} is not JSON: {e}", self.path))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Answers every request and records it. Paths decide the answer:
/// `/fail...` 500, `/busy...` 429 with `Retry-After: 0`, `/hang...` never answers,
/// `/api/webhooks/...` 204 (Discord), `/services/...` `ok` (Slack webhook),
/// `/api/chat.postMessage` and `/bot...` `{"ok":true}` (Slack API, Telegram), else 200.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) base: String,
    pub(crate) port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let store = Arc::clone(&requests);
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let store = Arc::clone(&store);
                async move {
                    store.lock().unwrap().push(Recorded {
                        method: method.to_string(),
                        path: uri.path().to_owned(),
                        query: uri.query().map(str::to_owned),
                        headers: headers
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect(),
                        body: body.to_vec(),
                    });
                    answer(uri.path()).await
                }
            },
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            requests,
        }
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub(crate) fn count(&self, path_prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .count()
    }

    pub(crate) fn take(&self, path_prefix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .collect()
    }
}

async fn answer(path: &str) -> Response {
    if path.starts_with("/fail") {
        return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
    }
    if path.starts_with("/busy") {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", "0")],
            "slow down",
        )
            .into_response();
    }
    if path.starts_with("/hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return StatusCode::OK.into_response();
    }
    if path.starts_with("/api/webhooks/") {
        return StatusCode::NO_CONTENT.into_response();
    }
    if path.starts_with("/services/") {
        return (StatusCode::OK, "ok").into_response();
    }
    if path == "/api/chat.postMessage" || path.starts_with("/bot") {
        return (
            StatusCode::OK,
            [("Content-Type", "application/json")],
            r#"{"ok":true,"result":{}}"#,
        )
            .into_response();
    }
    (StatusCode::OK, "{}").into_response()
}

/// A 64-digit hex ID made of `c` (`hex('1')` is a container ID).
pub(crate) fn hex(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

/// A `sha256:` digest or image ID made of `c`.
pub(crate) fn sha(c: char) -> String {
    format!("sha256:{}", hex(c))
}
