//! Docker Engine API versions, and the behaviour that depends on them.
//!
//! Every place where this crate talks differently to an old and a new engine asks one of the
//! methods of [`ApiVersion`], so the version-dependent behaviour is listed here and unit-tested.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A Docker Engine API version such as `1.41`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Major part (always 1 so far).
    pub major: u32,
    /// Minor part.
    pub minor: u32,
}

impl ApiVersion {
    /// `1.41`, Docker Engine 20.10.
    pub const V1_41: ApiVersion = ApiVersion::new(1, 41);
    /// `1.42`, Docker Engine 23.0: `signal` parameter of `POST /containers/{id}/stop`.
    pub const V1_42: ApiVersion = ApiVersion::new(1, 42);
    /// `1.44`, Docker Engine 25.0: several endpoints at create, per-endpoint MAC addresses.
    /// Also the oldest version Docker Engine 29 accepts.
    pub const V1_44: ApiVersion = ApiVersion::new(1, 44);
    /// The newest version this crate's engine models describe (bollard's).
    pub const NEWEST_KNOWN: ApiVersion = ApiVersion::new(1, 53);

    /// A version from its parts.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Whether `POST /containers/create` accepts more than one entry in
    /// `NetworkingConfig.EndpointsConfig` (moby#29265). Below, the container is created on
    /// one network and connected to the others before it starts.
    pub fn creates_with_all_networks(self) -> bool {
        self >= Self::V1_44
    }

    /// Whether the engine honours `MacAddress` in an endpoint's settings at create. Below, a
    /// user-set MAC can only be given as the container-wide `Config.MacAddress`, which applies
    /// to the network the container is created on. Even from 1.44 the engine ignores the field
    /// in `POST /networks/{id}/connect` (seen on Docker 26.1), which is why
    /// [`creates_with_all_networks`](Self::creates_with_all_networks) matters for MACs too.
    pub fn has_endpoint_mac_address(self) -> bool {
        self >= Self::V1_44
    }

    /// Whether `POST /containers/{id}/stop` takes a `signal` parameter. Below, a signal other
    /// than the container's own stop signal is sent with `kill`.
    pub fn has_stop_signal_parameter(self) -> bool {
        self >= Self::V1_42
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for ApiVersion {
    type Err = Error;

    /// Parses `1.41` (a leading `v` is accepted, as the Docker CLI does).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || Error::InvalidApiVersion {
            value: s.to_owned(),
        };
        let t = s.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let (major, minor) = t.split_once('.').ok_or_else(invalid)?;
        let major: u32 = major.parse().map_err(|_| invalid())?;
        let minor: u32 = minor.parse().map_err(|_| invalid())?;
        if major == 0 {
            return Err(invalid());
        }
        Ok(Self::new(major, minor))
    }
}

/// The engine's supported range, from `GET /version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerRange {
    pub(crate) max: ApiVersion,
    pub(crate) min: ApiVersion,
}

/// The outcome of choosing an API version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Choice {
    pub(crate) version: ApiVersion,
    /// Set when a requested version could not be used (the caller logs it).
    pub(crate) warning: Option<String>,
}

/// Chooses the API version to speak: the requested one when the engine supports it,
/// otherwise the newest both sides know (negotiation, as `docker` does).
///
/// A requested version outside the engine's range does not fail the start: old
/// configurations pin `DOCKER_API_VERSION=1.25`, which Docker 29 refuses. The choice then
/// falls back to negotiation and says so.
pub(crate) fn choose(requested: Option<ApiVersion>, server: ServerRange) -> Result<Choice, String> {
    let negotiated = server.max.min(ApiVersion::NEWEST_KNOWN);
    if negotiated < server.min {
        return Err(format!(
            "the engine accepts API versions {}..{}, this client speaks up to {}",
            server.min,
            server.max,
            ApiVersion::NEWEST_KNOWN
        ));
    }
    match requested {
        None => Ok(Choice {
            version: negotiated,
            warning: None,
        }),
        Some(v) if v >= server.min && v <= server.max => Ok(Choice {
            version: v,
            warning: None,
        }),
        Some(v) => Ok(Choice {
            version: negotiated,
            warning: Some(format!(
                "requested API version {v} is outside the engine's range {}..{}; using {negotiated}",
                server.min, server.max
            )),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ApiVersion {
        s.parse().unwrap()
    }

    fn range(min: &str, max: &str) -> ServerRange {
        ServerRange {
            max: v(max),
            min: v(min),
        }
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(v("1.41"), ApiVersion::new(1, 41));
        assert_eq!(v("v1.44"), ApiVersion::V1_44);
        assert_eq!(v(" 1.9 "), ApiVersion::new(1, 9));
        assert_eq!(ApiVersion::new(1, 41).to_string(), "1.41");
        for bad in ["", "1", "1.", ".41", "one.two", "1.41.2", "0.5", "-1.4"] {
            let err = bad.parse::<ApiVersion>().unwrap_err();
            assert!(
                err.to_string().contains(&format!("{bad:?}")),
                "error for {bad:?} names it: {err}"
            );
        }
    }

    #[test]
    fn orders_numerically_not_as_text() {
        assert!(v("1.9") < v("1.41"));
        assert!(v("1.100") > v("1.44"));
        assert!(v("2.0") > v("1.99"));
    }

    #[test]
    fn version_dependent_behaviour_switches_at_the_documented_versions() {
        assert!(!v("1.41").creates_with_all_networks());
        assert!(!v("1.43").creates_with_all_networks());
        assert!(v("1.44").creates_with_all_networks());
        assert!(v("1.52").creates_with_all_networks());
        assert!(!v("1.43").has_endpoint_mac_address());
        assert!(v("1.44").has_endpoint_mac_address());
        assert!(!v("1.41").has_stop_signal_parameter());
        assert!(v("1.42").has_stop_signal_parameter());
    }

    #[test]
    fn negotiates_the_newest_common_version() {
        // Docker 20.10 on this machine.
        let c = choose(None, range("1.12", "1.41")).unwrap();
        assert_eq!(c.version, v("1.41"));
        assert!(c.warning.is_none());
        // Docker 29: min 1.44, max 1.52.
        assert_eq!(
            choose(None, range("1.44", "1.52")).unwrap().version,
            v("1.52")
        );
        // An engine newer than the client: the client's newest.
        assert_eq!(
            choose(None, range("1.44", "1.60")).unwrap().version,
            ApiVersion::NEWEST_KNOWN
        );
    }

    #[test]
    fn a_requested_version_in_range_is_used() {
        let c = choose(Some(v("1.40")), range("1.12", "1.41")).unwrap();
        assert_eq!(c.version, v("1.40"));
        assert!(c.warning.is_none());
    }

    #[test]
    fn a_requested_version_out_of_range_falls_back_with_a_warning() {
        // The classic: DOCKER_API_VERSION=1.25 against Docker 29.
        let c = choose(Some(v("1.25")), range("1.44", "1.52")).unwrap();
        assert_eq!(c.version, v("1.52"));
        let w = c.warning.unwrap();
        assert!(w.contains("1.25") && w.contains("1.44..1.52"), "{w}");
        // Too new for Docker 20.10.
        let c = choose(Some(v("1.44")), range("1.12", "1.41")).unwrap();
        assert_eq!(c.version, v("1.41"));
        assert!(c.warning.is_some());
    }

    #[test]
    fn an_engine_that_needs_a_newer_client_is_an_error() {
        let err = choose(None, range("1.60", "1.70")).unwrap_err();
        assert!(err.contains("1.60..1.70"), "{err}");
    }
}
