//! A few raw requests to the Docker Engine, enough for xtask: is it there, and did the tests
//! leave anything behind. HTTP/1.0 over the socket keeps this free of an HTTP client crate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// The label `watchtower-testkit` puts on every object when `SESSION_ENV` is set.
pub(crate) const SESSION_LABEL: &str = "watchtower.testkit.session";
/// The environment variable naming the test session, read by `watchtower-testkit`.
pub(crate) const SESSION_ENV: &str = "WATCHTOWER_TESTKIT_SESSION";

enum Endpoint {
    Unix(String),
    Tcp(String),
}

fn endpoint() -> Result<Endpoint> {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
    if let Some(path) = host.strip_prefix("unix://") {
        Ok(Endpoint::Unix(path.to_owned()))
    } else if let Some(addr) = host.strip_prefix("tcp://") {
        Ok(Endpoint::Tcp(addr.trim_end_matches('/').to_owned()))
    } else {
        bail!("DOCKER_HOST={host}: only unix:// and tcp:// are understood by xtask")
    }
}

/// Sends one GET and returns (status, body).
fn get(path: &str) -> Result<(u16, String)> {
    let request = format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n");
    let timeout = Some(Duration::from_secs(10));
    let mut raw = Vec::new();
    match endpoint()? {
        Endpoint::Unix(socket) => {
            let mut stream =
                UnixStream::connect(&socket).with_context(|| format!("connect to {socket}"))?;
            stream.set_read_timeout(timeout)?;
            stream.write_all(request.as_bytes())?;
            stream.read_to_end(&mut raw)?;
        }
        Endpoint::Tcp(addr) => {
            let mut stream =
                TcpStream::connect(&addr).with_context(|| format!("connect to {addr}"))?;
            stream.set_read_timeout(timeout)?;
            stream.write_all(request.as_bytes())?;
            stream.read_to_end(&mut raw)?;
        }
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP answer from the Docker Engine")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status from the Docker Engine")?;
    Ok((status, body.to_owned()))
}

/// True when a Docker Engine answers `/_ping`.
pub(crate) fn answers() -> bool {
    matches!(get("/_ping"), Ok((200, _)))
}

/// Containers, networks, volumes and images labelled with this test session.
pub(crate) fn testkit_leftovers(session: &str) -> Result<Vec<String>> {
    session_objects(get, session)
}

/// Containers, networks, volumes and images labelled with test session `session` on the engine
/// that `get` asks (a GET of an API path answering status and body).
pub(crate) fn session_objects(
    get: impl Fn(&str) -> Result<(u16, String)>,
    session: &str,
) -> Result<Vec<String>> {
    let filter = percent_encode(&format!(r#"{{"label":["{SESSION_LABEL}={session}"]}}"#));
    let mut found = Vec::new();
    for (kind, path, name_of) in [
        (
            "container",
            format!("/containers/json?all=1&filters={filter}"),
            "Names",
        ),
        ("network", format!("/networks?filters={filter}"), "Name"),
        ("volume", format!("/volumes?filters={filter}"), "Name"),
        (
            "image",
            format!("/images/json?filters={filter}"),
            "RepoTags",
        ),
    ] {
        let (status, body) = get(&path)?;
        if status != 200 {
            bail!("GET {path} answered {status}: {body}");
        }
        let value: serde_json::Value =
            serde_json::from_str(&body).with_context(|| format!("GET {path}: not JSON"))?;
        let items = match kind {
            "volume" => value["Volumes"].as_array().cloned().unwrap_or_default(),
            _ => value.as_array().cloned().unwrap_or_default(),
        };
        for item in items {
            found.push(format!("{kind} {}", item[name_of]));
        }
    }
    Ok(found)
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn percent_encode(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_percent_encoded() {
        assert_eq!(
            percent_encode(r#"{"label":["a=b"]}"#),
            "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D"
        );
    }
}
