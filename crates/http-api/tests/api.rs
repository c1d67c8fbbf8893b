//! The API over real HTTP on 127.0.0.1, with a recording trigger standing in for sessions.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{Server, TOKEN, bearer};
use http::{Method, StatusCode};
use watchtower_http_api::{
    Api, Metrics, ScanCounts, Token, UpdateError, UpdateScope, UpdateTrigger,
};

#[derive(Default)]
struct Recorder {
    scopes: Mutex<Vec<UpdateScope>>,
    fail_with: Mutex<Option<&'static str>>,
}

#[async_trait]
impl UpdateTrigger for Recorder {
    async fn update(&self, scope: UpdateScope) -> Result<serde_json::Value, UpdateError> {
        self.scopes.lock().unwrap().push(scope);
        match *self.fail_with.lock().unwrap() {
            Some("shutdown") => Err(UpdateError::ShuttingDown),
            Some(reason) => Err(UpdateError::Session {
                reason: reason.to_owned(),
            }),
            None => Ok(serde_json::json!({"scanned": 1, "updated": 1, "failed": 0})),
        }
    }
}

fn full_api(recorder: Arc<Recorder>, metrics: Metrics) -> Api {
    Api::new(Token::new(TOKEN).unwrap())
        .with_update(recorder)
        .with_metrics(metrics)
}

#[tokio::test]
async fn update_needs_the_right_token() {
    let recorder = Arc::new(Recorder::default());
    let server = Server::start(full_api(recorder.clone(), Metrics::new())).await;

    let (status, headers, body) = server.send(Method::POST, "/v1/update", None, vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert!(body.is_empty());

    let wrong = bearer("correct-horse-battery-stapler");
    let (status, _, _) = server
        .send(Method::POST, "/v1/update", Some(&wrong), vec![])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = server
        .send(Method::POST, "/v1/update", Some(TOKEN), vec![])
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the Bearer prefix is required"
    );
    // Refused before the method check: an unauthenticated client learns nothing.
    let (status, _, _) = server.send(Method::PUT, "/v1/update", None, vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(recorder.scopes.lock().unwrap().is_empty(), "no session ran");

    let (status, headers, body) = server
        .send(Method::POST, "/v1/update", Some(&bearer(TOKEN)), vec![])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["updated"], 1);
    assert_eq!(*recorder.scopes.lock().unwrap(), [UpdateScope::All]);

    // The original accepted GET as well; curl one-liners in the wild rely on it.
    let (status, _, _) = server
        .send(Method::GET, "/v1/update", Some(&bearer(TOKEN)), vec![])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, _) = server
        .send(Method::DELETE, "/v1/update", Some(&bearer(TOKEN)), vec![])
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET, POST");
    assert_eq!(recorder.scopes.lock().unwrap().len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn image_parameter_limits_the_session_and_keeps_registry_ports() {
    let recorder = Arc::new(Recorder::default());
    let server = Server::start(full_api(recorder.clone(), Metrics::new())).await;
    let (status, _, _) = server
        .send(
            Method::POST,
            "/v1/update?image=127.0.0.1%3A5000/team/app,nginx&image=ghcr.io/o/x:2",
            Some(&bearer(TOKEN)),
            vec![],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let scope = recorder.scopes.lock().unwrap()[0].clone();
    assert!(scope.includes_image("127.0.0.1:5000/team/app:latest"));
    assert!(scope.includes_image("nginx:1.27"));
    assert!(scope.includes_image("docker.io/library/nginx"));
    assert!(scope.includes_image("ghcr.io/o/x:2"));
    assert!(!scope.includes_image("ghcr.io/o/x:3"));
    assert!(!scope.includes_image("127.0.0.1:5000/team/other"));

    let (status, _, body) = server
        .send(
            Method::POST,
            "/v1/update?image=app@sha256:0000",
            Some(&bearer(TOKEN)),
            vec![],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("app@sha256:0000"), "{body}");
    assert_eq!(recorder.scopes.lock().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn request_bodies_are_bounded() {
    let recorder = Arc::new(Recorder::default());
    let api = full_api(recorder.clone(), Metrics::new()).with_body_limit(1024);
    let server = Server::start(api).await;
    let (status, _, _) = server
        .send(
            Method::POST,
            "/v1/update",
            Some(&bearer(TOKEN)),
            vec![b'x'; 1024],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = server
        .send(
            Method::POST,
            "/v1/update",
            Some(&bearer(TOKEN)),
            vec![b'x'; 1025],
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.contains("1024"), "{body}");
    assert_eq!(
        recorder.scopes.lock().unwrap().len(),
        1,
        "no session for the big body"
    );
    server.stop().await;
}

#[tokio::test]
async fn session_failures_map_to_status_codes() {
    let recorder = Arc::new(Recorder::default());
    let server = Server::start(full_api(recorder.clone(), Metrics::new())).await;
    *recorder.fail_with.lock().unwrap() = Some("engine unreachable");
    let (status, _, body) = server
        .send(Method::POST, "/v1/update", Some(&bearer(TOKEN)), vec![])
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("engine unreachable"), "{body}");
    *recorder.fail_with.lock().unwrap() = Some("shutdown");
    let (status, _, _) = server
        .send(Method::POST, "/v1/update", Some(&bearer(TOKEN)), vec![])
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    server.stop().await;
}

#[tokio::test]
async fn metrics_parse_and_carry_the_original_names() {
    let metrics = Metrics::new();
    let mut counts = ScanCounts::default();
    counts.scanned = 3;
    counts.updated = 1;
    metrics.record_scan(counts, Duration::from_secs(2));
    metrics.record_skipped_scan();
    counts.scanned = 4;
    counts.updated = 2;
    counts.failed = 1;
    metrics.record_scan(counts, Duration::from_secs(1));
    let server =
        Server::start(Api::new(Token::new(TOKEN).unwrap()).with_metrics(metrics.clone())).await;

    let (status, _, _) = server.send(Method::GET, "/v1/metrics", None, vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = server
        .send(Method::GET, "/v1/metrics", Some(&bearer("nope")), vec![])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The update endpoint is off: not found, as in the original.
    let (status, _, _) = server
        .send(Method::POST, "/v1/update", Some(&bearer(TOKEN)), vec![])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, headers, text) = server
        .send(Method::GET, "/v1/metrics", Some(&bearer(TOKEN)), vec![])
        .await;
    assert_eq!(status, StatusCode::OK);
    // No Accept header: the Prometheus text format, as every scraper reads it.
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(headers["vary"], "Accept");
    assert!(!text.contains("# EOF"), "{text}");

    // Every line is a comment the exposition formats know or a well-formed sample.
    for line in text.lines() {
        let known_comment = ["# HELP ", "# TYPE ", "# UNIT ", "# EOF"]
            .iter()
            .any(|p| line.starts_with(p));
        let info = prometheus_parse::LineInfo::parse(line);
        assert!(
            known_comment || matches!(info, prometheus_parse::LineInfo::Sample { .. }),
            "unparsable line {line:?} in:\n{text}"
        );
    }
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let value = |name: &str| -> f64 {
        let sample = scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .unwrap_or_else(|| panic!("{name} missing in:\n{text}"));
        match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name} has an unexpected value {other:?}"),
        }
    };
    assert!((value("watchtower_containers_scanned") - 4.0).abs() < f64::EPSILON);
    assert!((value("watchtower_containers_updated") - 2.0).abs() < f64::EPSILON);
    assert!((value("watchtower_containers_failed") - 1.0).abs() < f64::EPSILON);
    assert!((value("watchtower_scans_total") - 3.0).abs() < f64::EPSILON);
    assert!((value("watchtower_scans_skipped") - 1.0).abs() < f64::EPSILON);
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "watchtower_session_duration_seconds"),
        "histogram missing in:\n{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn metrics_in_openmetrics_for_a_scraper_that_asks() {
    let metrics = Metrics::new();
    let server =
        Server::start(Api::new(Token::new(TOKEN).unwrap()).with_metrics(metrics.clone())).await;
    for (accept, content_type) in [
        (None, "text/plain; version=0.0.4; charset=utf-8"),
        (Some("*/*"), "text/plain; version=0.0.4; charset=utf-8"),
        (
            Some("text/plain;version=0.0.4"),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        (
            Some("application/openmetrics-text"),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
        // What Prometheus 2 sends.
        (
            Some(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                 version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            ),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    ] {
        let (headers, text) = server.scrape(accept).await;
        assert_eq!(headers["content-type"], content_type, "Accept: {accept:?}");
        assert_eq!(headers["vary"], "Accept");
        let openmetrics = content_type.starts_with("application/openmetrics-text");
        assert_eq!(text.ends_with("# EOF\n"), openmetrics, "{text}");
        assert_eq!(
            text.contains("# TYPE watchtower_scans_skipped counter\n"),
            !openmetrics,
            "{text}"
        );
        assert_eq!(
            text.contains("# TYPE watchtower_scans_skipped unknown\n"),
            openmetrics,
            "{text}"
        );
    }
    server.stop().await;
}
