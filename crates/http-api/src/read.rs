//! The read side: `POST /v1/check`, `GET /v1/containers`, `GET /v1/history`, `GET /readyz`,
//! answered through a [`ReadSide`]; the shapes are the binary's (JSON values here), described
//! in `openapi.json`.

use async_trait::async_trait;
use serde_json::Value;

/// What the read endpoints ask of the process.
#[async_trait]
pub trait ReadSide: Send + Sync + 'static {
    /// Checks the watched containers (changing nothing) and returns the check document;
    /// `names`, when given and not empty, restricts its lines to those containers.
    async fn check(&self, names: Option<Vec<String>>) -> Result<Value, ReadError>;
    /// The watched containers with their last results.
    async fn containers(&self) -> Result<Value, ReadError>;
    /// The recent sessions.
    async fn history(&self) -> Value;
    /// `Ok` when a session could be started now; otherwise why not.
    async fn ready(&self) -> Result<(), String>;
}

/// Why a read request has no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The process is shutting down (answered with 503).
    #[error("watchtower is shutting down")]
    ShuttingDown,
    /// The engine could not be asked, or the answer could not be encoded (answered with
    /// 500).
    #[error("{reason}")]
    Failed {
        /// What went wrong, without credentials.
        reason: String,
    },
}

/// The container names a `/v1/check` request asks for: `name` query values (repeatable,
/// comma-separated) and the body's `names`. `Ok(None)`: every watched container.
pub(crate) fn check_names(
    query_values: impl IntoIterator<Item = String>,
    body: &[u8],
) -> Result<Option<Vec<String>>, String> {
    let mut names: Vec<String> = query_values
        .into_iter()
        .flat_map(|value| {
            value
                .split(',')
                .map(|n| n.trim().trim_start_matches('/').to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|n| !n.is_empty())
        .collect();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let Value::Object(object) = value else {
            return Err("the body must be a JSON object like {\"names\": [\"web\"]}".to_owned());
        };
        for (key, value) in object {
            if key != "names" {
                return Err(format!("unknown key {key:?} in the body (only \"names\")"));
            }
            let Value::Array(items) = value else {
                return Err("\"names\" must be an array of strings".to_owned());
            };
            for item in items {
                let Value::String(name) = item else {
                    return Err("\"names\" must be an array of strings".to_owned());
                };
                let name = name.trim().trim_start_matches('/');
                if !name.is_empty() {
                    names.push(name.to_owned());
                }
            }
        }
    }
    names.sort();
    names.dedup();
    Ok((!names.is_empty()).then_some(names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_query_and_the_body() {
        assert_eq!(check_names(Vec::new(), b""), Ok(None));
        assert_eq!(check_names(Vec::new(), b"  \n"), Ok(None));
        assert_eq!(check_names(Vec::new(), b"{}"), Ok(None));
        assert_eq!(check_names(Vec::new(), br#"{"names": []}"#), Ok(None));
        assert_eq!(
            check_names(
                vec!["web, /db".to_owned(), "db".to_owned()],
                br#"{"names":["cache"]}"#
            ),
            Ok(Some(vec![
                "cache".to_owned(),
                "db".to_owned(),
                "web".to_owned()
            ]))
        );
    }

    #[test]
    fn a_body_of_another_shape_is_refused_with_a_reason() {
        for body in [
            &b"[]"[..],
            b"null",
            b"\"web\"",
            b"{\"names\": \"web\"}",
            b"{\"names\": [1]}",
            b"{\"other\": []}",
            b"{",
        ] {
            let err = check_names(Vec::new(), body).expect_err("refused");
            assert!(!err.is_empty());
        }
    }
}
