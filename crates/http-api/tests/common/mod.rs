//! The API served for real on 127.0.0.1, and a client for it; shared by the test files.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use watchtower_http_api::Api;

pub(crate) const TOKEN: &str = "correct-horse-battery-staple";

pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Sends one request with `headers` to `addr` on a fresh connection.
pub(crate) async fn send_to(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, http::HeaderMap, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(request.body(Full::new(Bytes::from(body))).unwrap()),
    )
    .await
    .expect("the API answers within 10 s")
    .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), watchtower_http_api::Error>>,
}

impl Server {
    pub(crate) async fn start(api: Api) -> Self {
        let listener = watchtower_http_api::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(api.serve(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, http::HeaderMap, String) {
        let headers: Vec<(&str, &str)> = authorization
            .map(|value| ("authorization", value))
            .into_iter()
            .collect();
        self.send_with(method, path, &headers, body).await
    }

    /// Sends one request with `headers` on a fresh connection.
    pub(crate) async fn send_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, http::HeaderMap, String) {
        send_to(self.addr, method, path, headers, body).await
    }

    /// `GET /v1/metrics` with the token and, when given, an `Accept` header.
    pub(crate) async fn scrape(&self, accept: Option<&str>) -> (http::HeaderMap, String) {
        let auth = bearer(TOKEN);
        let mut headers = vec![("authorization", auth.as_str())];
        headers.extend(accept.map(|a| ("accept", a)));
        let (status, headers, body) = self
            .send_with(Method::GET, "/v1/metrics", &headers, vec![])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (headers, body)
    }

    pub(crate) async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the server stops within 30 s")
            .unwrap()
            .unwrap();
    }
}
