//! The read side over real HTTP on 127.0.0.1, with a recording [`ReadSide`] standing in for
//! the process: what reaches it from a `/v1/check` request, and how its answers and
//! failures map to status codes.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{Server, TOKEN, bearer};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use watchtower_http_api::{Api, Metrics, ReadError, ReadSide, Token};

#[derive(Default)]
struct Recorder {
    names: Mutex<Vec<Option<Vec<String>>>>,
    fail_with: Mutex<Option<&'static str>>,
    not_ready: Mutex<Option<&'static str>>,
}

impl Recorder {
    fn failure(&self) -> Option<ReadError> {
        match *self.fail_with.lock().unwrap() {
            Some("shutdown") => Some(ReadError::ShuttingDown),
            Some(reason) => Some(ReadError::Failed {
                reason: reason.to_owned(),
            }),
            None => None,
        }
    }
}

#[async_trait]
impl ReadSide for Recorder {
    async fn check(&self, names: Option<Vec<String>>) -> Result<Value, ReadError> {
        self.names.lock().unwrap().push(names);
        self.failure().map_or(Ok(json!({"version": 1})), Err)
    }
    async fn containers(&self) -> Result<Value, ReadError> {
        self.failure()
            .map_or(Ok(json!({"containers": [{"name": "web"}]})), Err)
    }
    async fn history(&self) -> Value {
        json!({"limit": 20, "sessions": []})
    }
    async fn ready(&self) -> Result<(), String> {
        match *self.not_ready.lock().unwrap() {
            Some(reason) => Err(reason.to_owned()),
            None => Ok(()),
        }
    }
}

async fn server(recorder: Arc<Recorder>) -> Server {
    // Metrics only: the read side is served beside whatever endpoint is on.
    let api = Api::new(Token::new(TOKEN).unwrap())
        .with_metrics(Metrics::new())
        .with_read(recorder);
    Server::start(api).await
}

#[tokio::test]
async fn check_names_come_from_the_query_and_the_body() {
    let recorder = Arc::new(Recorder::default());
    let server = server(recorder.clone()).await;
    let token = bearer(TOKEN);
    let (status, headers, body) = server
        .send(Method::POST, "/v1/check", Some(&token), vec![])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"version": 1})
    );
    let (status, _, _) = server
        .send(
            Method::POST,
            "/v1/check?name=web,/db",
            Some(&token),
            br#"{"names": ["cache"]}"#.to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        *recorder.names.lock().unwrap(),
        [
            None,
            Some(vec!["cache".to_owned(), "db".to_owned(), "web".to_owned()])
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn a_check_body_of_another_shape_is_400_and_never_reaches_the_process() {
    let recorder = Arc::new(Recorder::default());
    let server = server(recorder.clone()).await;
    for body in [
        &b"[]"[..],
        b"{\"names\": 3}",
        b"{\"name\": []}",
        b"not json",
    ] {
        let (status, _, text) = server
            .send(
                Method::POST,
                "/v1/check",
                Some(&bearer(TOKEN)),
                body.to_vec(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        let error: Value = serde_json::from_str(&text).unwrap();
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{text}"
        );
    }
    let (status, _, _) = server
        .send(
            Method::POST,
            "/v1/check",
            Some(&bearer(TOKEN)),
            vec![b' '; 70 * 1024],
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(recorder.names.lock().unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn failures_map_to_500_and_503_and_readyz_to_503_with_the_reason() {
    let recorder = Arc::new(Recorder::default());
    let server = server(recorder.clone()).await;
    let token = bearer(TOKEN);
    *recorder.fail_with.lock().unwrap() = Some("listing containers: engine gone");
    for (method, path) in [(Method::POST, "/v1/check"), (Method::GET, "/v1/containers")] {
        let (status, _, body) = server.send(method, path, Some(&token), vec![]).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(body.contains("engine gone"), "{body}");
    }
    *recorder.fail_with.lock().unwrap() = Some("shutdown");
    let (status, _, _) = server
        .send(Method::GET, "/v1/containers", Some(&token), vec![])
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    let (status, _, body) = server.send(Method::GET, "/readyz", None, vec![]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"ready":true}"#)
    );
    *recorder.not_ready.lock().unwrap() = Some("the Docker engine does not answer: gone");
    let (status, _, body) = server.send(Method::GET, "/readyz", None, vec![]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"ready": false, "reason": "the Docker engine does not answer: gone"})
    );
    // The history needs the token, the probes do not.
    let (status, _, _) = server.send(Method::GET, "/v1/history", None, vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = server
        .send(Method::GET, "/v1/history", Some(&token), vec![])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"limit\":20"), "{body}");
    let (status, _, _) = server.send(Method::GET, "/livez", None, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}
