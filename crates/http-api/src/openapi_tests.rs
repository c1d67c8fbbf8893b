//! The served routes and the `OpenAPI` document agree, both ways.

use std::collections::BTreeSet;

use axum::body::Body;
use http::Method;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

const TOKEN: &str = "t0ken";

struct Fake;

#[async_trait]
impl UpdateTrigger for Fake {
    async fn update(&self, _: UpdateScope) -> Result<Value, UpdateError> {
        Ok(json!({}))
    }
}

#[async_trait]
impl ReadSide for Fake {
    async fn check(&self, _: Option<Vec<String>>) -> Result<Value, ReadError> {
        Ok(json!({}))
    }
    async fn containers(&self) -> Result<Value, ReadError> {
        Ok(json!({}))
    }
    async fn history(&self) -> Value {
        json!({})
    }
    async fn ready(&self) -> Result<(), String> {
        Ok(())
    }
}

fn document() -> Value {
    serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
}

fn full_router() -> Router {
    Api::new(Token::new(TOKEN).unwrap())
        .with_update(Arc::new(Fake))
        .with_metrics(Metrics::new())
        .with_read(Arc::new(Fake))
        .router()
}

async fn status(method: &str, path: &str, token: bool) -> (StatusCode, http::HeaderMap) {
    let mut request = http::Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path);
    if token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    let response = full_router()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    (response.status(), response.headers().clone())
}

const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn documented_methods(item: &Value) -> BTreeSet<String> {
    item.as_object()
        .expect("a path item is an object")
        .keys()
        .filter(|k| OPERATIONS.contains(&k.as_str()))
        .map(|k| k.to_uppercase())
        .collect()
}

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                }
                refs(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_and_every_reference_resolves() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "description": "The `--http-api-token` value."})
    );
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 10, "{found:?}");
    for reference in found {
        let pointer = reference.strip_prefix('#').expect("a local reference");
        assert!(doc.pointer(pointer).is_some(), "{reference} resolves");
    }
}

#[test]
fn every_served_route_is_documented_with_its_methods_and_token_rule() {
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    let served: BTreeSet<&str> = routes::ALL.iter().map(|r| r.path).collect();
    assert_eq!(documented, served);
    for route in routes::ALL {
        let item = &paths[route.path];
        let methods: BTreeSet<String> = route.methods.iter().map(|m| (*m).to_owned()).collect();
        assert_eq!(documented_methods(item), methods, "{}", route.path);
        for method in &methods {
            let operation = &item[method.to_lowercase()];
            let open = operation.get("security") == Some(&json!([]));
            assert_eq!(open, !route.token, "{method} {} security", route.path);
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("200"), "{method} {}", route.path);
            assert_eq!(
                responses.contains_key("401"),
                route.token,
                "{method} {} documents 401 exactly when it needs the token",
                route.path
            );
        }
    }
}

#[tokio::test]
async fn the_router_serves_exactly_the_documented_operations() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let documented = documented_methods(item);
        for method in OPERATIONS.map(str::to_uppercase) {
            let (status, headers) = status(&method, path, true).await;
            if documented.contains(&method) {
                assert!(
                    status.is_success(),
                    "{method} {path}: documented, answered {status}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: not documented"
                );
                let allow: BTreeSet<String> = headers[header::ALLOW]
                    .to_str()
                    .unwrap()
                    .split(", ")
                    .map(str::to_owned)
                    .collect();
                assert_eq!(allow, documented, "Allow of {path}");
            }
        }
    }
    assert_eq!(
        status("GET", "/v1/nothing-here", true).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_token_is_required_except_on_the_probes() {
    for route in routes::ALL {
        for method in route.methods {
            let (status, headers) = status(method, route.path, false).await;
            if route.token {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {}", route.path);
                assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
            } else {
                assert_eq!(status, StatusCode::OK, "{method} {}", route.path);
            }
        }
    }
}

#[tokio::test]
async fn the_document_is_served_as_checked_in() {
    let response = full_router()
        .oneshot(
            http::Request::get("/v1/openapi.json")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(body, OPENAPI.as_bytes());
}

#[test]
fn the_image_limit_is_the_one_the_server_applies() {
    let doc = document();
    for method in ["get", "post"] {
        let items = &doc["paths"]["/v1/update"][method]["parameters"][0]["schema"]["items"];
        assert_eq!(items["maxLength"], MAX_IMAGE_VALUE_CHARS, "{method}");
        assert!(
            items["pattern"]
                .as_str()
                .is_some_and(|p| p.starts_with('^'))
        );
    }
}
