//! Connecting to the engine: `DOCKER_HOST`, TLS, and settling the API version.

use std::path::PathBuf;
use std::time::Duration;

use bollard::{ClientVersion, Docker};

use crate::api_version::{self, ApiVersion, ServerRange};
use crate::error::Error;

/// The default engine address.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The default limit for one request to the engine (waiting for its answer to start).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How to reach the Docker Engine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DockerOptions {
    /// `DOCKER_HOST`: `unix:///path`, `tcp://host:port`, `http://host:port` or
    /// `https://host:port`. `None`: `unix:///var/run/docker.sock`.
    pub host: Option<String>,
    /// `DOCKER_TLS_VERIFY`: talk TLS to a `tcp://` host, verify the engine against `ca.pem` and
    /// present `cert.pem`/`key.pem` from `cert_path`. An `https://` host always uses TLS.
    pub tls_verify: bool,
    /// `DOCKER_CERT_PATH`: the folder holding `ca.pem`, `cert.pem` and `key.pem`
    /// (default `~/.docker`).
    pub cert_path: Option<PathBuf>,
    /// `--api-version` / `DOCKER_API_VERSION`: speak this version when the engine supports it.
    /// `None`: negotiate.
    pub api_version: Option<ApiVersion>,
    /// Limit for one request to the engine to start answering (default 120 s). Stopping a
    /// container allows its stop timeout on top.
    pub request_timeout: Option<Duration>,
}

impl DockerOptions {
    /// Reads `DOCKER_HOST`, `DOCKER_TLS_VERIFY` (any non-empty value), `DOCKER_CERT_PATH` and
    /// `DOCKER_API_VERSION` from the environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`DockerOptions::from_env`] with the variables from `var` (for tests and for callers
    /// that layer flags over the environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        Ok(Self {
            host: get("DOCKER_HOST"),
            tls_verify: get("DOCKER_TLS_VERIFY").is_some(),
            cert_path: get("DOCKER_CERT_PATH").map(PathBuf::from),
            api_version: get("DOCKER_API_VERSION").map(|v| v.parse()).transpose()?,
            request_timeout: None,
        })
    }

    /// The engine address in use.
    pub fn host_or_default(&self) -> &str {
        self.host.as_deref().unwrap_or(DEFAULT_HOST)
    }
}

/// How the client reaches the engine, decided from the options alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transport {
    Unix(String),
    Http(String),
    Tls {
        addr: String,
        ca: PathBuf,
        cert: PathBuf,
        key: PathBuf,
    },
}

pub(crate) fn transport(options: &DockerOptions) -> Result<Transport, Error> {
    let host = options.host_or_default().trim();
    let cert_dir = || -> Result<PathBuf, Error> {
        match &options.cert_path {
            Some(p) => Ok(p.clone()),
            None => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".docker"))
                .ok_or_else(|| Error::Config {
                    message: "DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME \
                              says where ca.pem, cert.pem and key.pem are"
                        .to_owned(),
                }),
        }
    };
    let tls = |addr: &str| -> Result<Transport, Error> {
        let dir = cert_dir()?;
        let files = [
            dir.join("ca.pem"),
            dir.join("cert.pem"),
            dir.join("key.pem"),
        ];
        for f in &files {
            if !f.is_file() {
                return Err(Error::Config {
                    message: format!(
                        "TLS to the engine needs {} (set DOCKER_CERT_PATH to the folder holding \
                         ca.pem, cert.pem and key.pem)",
                        f.display()
                    ),
                });
            }
        }
        let [ca, cert, key] = files;
        Ok(Transport::Tls {
            addr: addr.to_owned(),
            ca,
            cert,
            key,
        })
    };
    if let Some(path) = host.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(bad_host(host, "the socket path is empty"));
        }
        Ok(Transport::Unix(path.to_owned()))
    } else if let Some(rest) = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))
    {
        if rest.is_empty() {
            return Err(bad_host(host, "the address is empty"));
        }
        if options.tls_verify {
            tls(rest)
        } else {
            Ok(Transport::Http(rest.to_owned()))
        }
    } else if let Some(rest) = host.strip_prefix("https://") {
        if rest.is_empty() {
            return Err(bad_host(host, "the address is empty"));
        }
        tls(rest)
    } else if host.starts_with('/') {
        Ok(Transport::Unix(host.to_owned()))
    } else {
        Err(bad_host(
            host,
            "expected unix:///path, tcp://host:port, http://host:port or https://host:port",
        ))
    }
}

fn bad_host(host: &str, why: &str) -> Error {
    Error::Config {
        message: format!("DOCKER_HOST {host:?}: {why}"),
    }
}

fn client_version(v: ApiVersion) -> ClientVersion {
    ClientVersion {
        major_version: v.major as usize,
        minor_version: v.minor as usize,
    }
}

fn open(t: &Transport, timeout: u64, v: ApiVersion) -> Result<Docker, bollard::errors::Error> {
    let v = client_version(v);
    match t {
        Transport::Unix(path) => Docker::connect_with_unix(path, timeout, &v),
        Transport::Http(addr) => Docker::connect_with_http(addr, timeout, &v),
        Transport::Tls {
            addr,
            ca,
            cert,
            key,
        } => {
            // The process-wide rustls provider is *ring* (bollard reads it when the engine
            // asks for the client certificate). Installing fails harmlessly when one is set.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Docker::connect_with_ssl(addr, key, cert, ca, timeout, &v)
        }
    }
}

/// Removes the `/v1.xx` prefix bollard puts on every path, so the engine answers at its own
/// default version (what `docker version` does before it knows the server).
fn unversioned(req: bollard::BollardRequest) -> bollard::BollardRequest {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path();
    let stripped = path
        .strip_prefix("/v")
        .and_then(|rest| rest.find('/').map(|i| (&rest[..i], &rest[i..])))
        .filter(|(version, _)| {
            !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.')
        })
        .map(|(_, tail)| tail.to_owned());
    if let Some(new_path) = stripped {
        let mut uri = parts.uri.clone().into_parts();
        let query = parts
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        if let Ok(pq) = format!("{new_path}{query}").parse() {
            uri.path_and_query = Some(pq);
            if let Ok(u) = http::Uri::from_parts(uri) {
                parts.uri = u;
            }
        }
    }
    http::Request::from_parts(parts, body)
}

fn parse_version(v: Option<&str>, what: &str, host: &str) -> Result<ApiVersion, Error> {
    v.and_then(|s| s.parse().ok()).ok_or_else(|| Error::Engine {
        host: host.to_owned(),
        message: format!("GET /version: no usable {what} in the answer ({v:?})"),
    })
}

pub(crate) async fn connect(
    options: &DockerOptions,
) -> Result<(Docker, String, ApiVersion), Error> {
    let host = options.host_or_default().to_owned();
    let t = transport(options)?;
    let timeout = options
        .request_timeout
        .unwrap_or(DEFAULT_TIMEOUT)
        .as_secs()
        .max(1);
    let engine_err = |message: String| Error::Engine {
        host: host.clone(),
        message,
    };
    let probe = open(&t, timeout, ApiVersion::NEWEST_KNOWN)
        .map_err(|e| engine_err(e.to_string()))?
        .with_request_modifier(unversioned);
    let version = probe
        .version()
        .await
        .map_err(|e| engine_err(format!("GET /version: {e}")))?;
    let min = version
        .components
        .iter()
        .flatten()
        .filter(|c| c.name == "Engine")
        .find_map(|c| c.details.as_ref()?.get("MinAPIVersion").cloned())
        .or(version.min_api_version.clone());
    let range = ServerRange {
        max: parse_version(version.api_version.as_deref(), "ApiVersion", &host)?,
        min: parse_version(min.as_deref(), "MinAPIVersion", &host)?,
    };
    let choice = api_version::choose(options.api_version, range).map_err(engine_err)?;
    if let Some(w) = &choice.warning {
        tracing::warn!(host = %host, "{w}");
    }
    let docker = open(&t, timeout, choice.version).map_err(|e| engine_err(e.to_string()))?;
    tracing::debug!(
        host = %host,
        engine = %version.version.unwrap_or_default(),
        server_min = %range.min,
        server_max = %range.max,
        api_version = %choice.version,
        "api version settled"
    );
    Ok((docker, host, choice.version))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn opts(vars: &[(&str, &str)]) -> Result<DockerOptions, Error> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        DockerOptions::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn reads_the_docker_environment() {
        let o = opts(&[
            ("DOCKER_HOST", "tcp://127.0.0.1:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", "/certs"),
            ("DOCKER_API_VERSION", "1.41"),
        ])
        .unwrap();
        assert_eq!(o.host.as_deref(), Some("tcp://127.0.0.1:2376"));
        assert!(o.tls_verify);
        assert_eq!(o.cert_path, Some(PathBuf::from("/certs")));
        assert_eq!(o.api_version, Some(ApiVersion::V1_41));

        let o = opts(&[("DOCKER_TLS_VERIFY", ""), ("DOCKER_API_VERSION", " ")]).unwrap();
        assert_eq!(o, DockerOptions::default());
        assert_eq!(o.host_or_default(), "unix:///var/run/docker.sock");
    }

    #[test]
    fn a_bad_api_version_is_named() {
        let e = opts(&[("DOCKER_API_VERSION", "latest")]).unwrap_err();
        assert!(e.to_string().contains("\"latest\""), "{e}");
    }

    #[test]
    fn picks_the_transport_from_the_host() {
        let t = |host: &str| {
            transport(&DockerOptions {
                host: Some(host.into()),
                ..DockerOptions::default()
            })
        };
        assert_eq!(
            t("unix:///run/docker.sock").unwrap(),
            Transport::Unix("/run/docker.sock".into())
        );
        assert_eq!(
            t("/run/docker.sock").unwrap(),
            Transport::Unix("/run/docker.sock".into())
        );
        assert_eq!(
            t("tcp://127.0.0.1:2375").unwrap(),
            Transport::Http("127.0.0.1:2375".into())
        );
        assert_eq!(
            t("http://127.0.0.1:2375").unwrap(),
            Transport::Http("127.0.0.1:2375".into())
        );
        for bad in ["ssh://me@host", "unix://", "tcp://", "docker.sock"] {
            let e = t(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }

    #[test]
    fn tls_needs_the_three_files_and_names_the_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let o = DockerOptions {
            host: Some("tcp://127.0.0.1:2376".into()),
            tls_verify: true,
            cert_path: Some(dir.path().to_owned()),
            ..DockerOptions::default()
        };
        let e = transport(&o).unwrap_err();
        assert!(e.to_string().contains("ca.pem"), "{e}");
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        assert_eq!(
            transport(&o).unwrap(),
            Transport::Tls {
                addr: "127.0.0.1:2376".into(),
                ca: dir.path().join("ca.pem"),
                cert: dir.path().join("cert.pem"),
                key: dir.path().join("key.pem"),
            }
        );
        // https:// means TLS without DOCKER_TLS_VERIFY.
        let o = DockerOptions {
            host: Some("https://127.0.0.1:2376".into()),
            ..o
        };
        assert!(matches!(transport(&o).unwrap(), Transport::Tls { .. }));
    }

    #[test]
    fn strips_the_version_prefix() {
        let req = http::Request::builder()
            .uri("http://127.0.0.1:2375/v1.53/version?x=1")
            .body(http_body_util::Either::Left(http_body_util::Full::new(
                bytes::Bytes::new(),
            )))
            .unwrap();
        assert_eq!(
            unversioned(req).uri().to_string(),
            "http://127.0.0.1:2375/version?x=1"
        );
        let req = http::Request::builder()
            .uri("http://127.0.0.1:2375/_ping")
            .body(http_body_util::Either::Left(http_body_util::Full::new(
                bytes::Bytes::new(),
            )))
            .unwrap();
        assert_eq!(
            unversioned(req).uri().to_string(),
            "http://127.0.0.1:2375/_ping"
        );
        let req = http::Request::builder()
            .uri("http://127.0.0.1:2375/volumes/x")
            .body(http_body_util::Either::Left(http_body_util::Full::new(
                bytes::Bytes::new(),
            )))
            .unwrap();
        assert_eq!(
            unversioned(req).uri().to_string(),
            "http://127.0.0.1:2375/volumes/x"
        );
    }
}
