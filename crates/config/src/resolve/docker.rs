//! `--host`, `--tlsverify`, `--api-version` and `DOCKER_CERT_PATH` into the Docker client's
//! own [`DockerOptions`].

use std::path::PathBuf;

use watchtower_container_client::{ApiVersion, DockerOptions};

use super::Resolver;
use crate::error::Error;
use crate::flags::Flags;

impl Resolver<'_> {
    pub(crate) fn docker(&mut self, f: &Flags) -> Result<DockerOptions, Error> {
        let host = self.string_with_source("host", f.host.as_ref());
        if !host.value.contains("://") {
            return Err(host.invalid(
                "expected a URL such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375",
            ));
        }
        let tls_verify = self.boolean("tlsverify", f.tlsverify.as_ref())?;
        let api_version = self.api_version(f)?;
        Ok(DockerOptions {
            host: Some(host.value),
            tls_verify,
            cert_path: self.env_var("DOCKER_CERT_PATH").map(PathBuf::from),
            api_version,
            ..DockerOptions::default()
        })
    }

    /// `negotiate` (any case) or `MAJOR.MINOR` with an optional leading `v`.
    fn api_version(&mut self, f: &Flags) -> Result<Option<ApiVersion>, Error> {
        let raw = self.string_with_source("api-version", f.api_version.as_ref());
        let text = raw.value.trim().trim_start_matches('v');
        if text.eq_ignore_ascii_case("negotiate") {
            return Ok(None);
        }
        text.parse::<ApiVersion>()
            .map(Some)
            .map_err(|_| raw.invalid("expected negotiate or a version such as 1.44"))
    }
}
