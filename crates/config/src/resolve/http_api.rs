//! The `--http-api-*` flags into [`HttpApiSettings`].

use std::net::IpAddr;

use super::Resolver;
use crate::config::HttpApiSettings;
use crate::error::Error;
use crate::flags::Flags;

impl Resolver<'_> {
    pub(crate) fn http_api(&mut self, f: &Flags) -> Result<HttpApiSettings, Error> {
        let host = self.string_with_source("http-api-host", f.http_api_host.as_ref());
        let host_ok = host.value.is_empty()
            || host.value == "localhost"
            || host
                .value
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok();
        if !host_ok {
            return Err(host.invalid(
                "expected an IP address such as 127.0.0.1 or ::1, localhost, or empty for every interface",
            ));
        }
        let http_api = HttpApiSettings {
            update: self.boolean("http-api-update", f.http_api_update.as_ref())?,
            metrics: self.boolean("http-api-metrics", f.http_api_metrics.as_ref())?,
            token: self.secret("http-api-token", f.http_api_token.as_ref())?,
            periodic_polls: self.boolean(
                "http-api-periodic-polls",
                f.http_api_periodic_polls.as_ref(),
            )?,
            host: host.value,
            port: self.port("http-api-port", f.http_api_port.as_ref())?,
        };
        if http_api.token.is_none() {
            for (on, endpoint) in [
                (http_api.update, "--http-api-update"),
                (http_api.metrics, "--http-api-metrics"),
            ] {
                if on {
                    return Err(Error::MissingApiToken { endpoint });
                }
            }
        }
        Ok(http_api)
    }
}
