//! Which registries may be reached over plain HTTP: those the Docker Engine itself treats as
//! insecure (it reports `127.0.0.0/8` and its `insecure-registries` list).

use std::net::IpAddr;

use crate::Error;

/// An IP network, `addr/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s.split_once('/').ok_or("not in addr/prefix form")?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("prefix must be a number from 0 to {max}"))?;
        Ok(Self { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Registries that may be reached over plain HTTP.
///
/// A registry in this set is still tried over verified HTTPS first; plain HTTP is used only
/// when the server does not speak TLS at all. A certificate error is never a reason to fall
/// back.
///
/// ```
/// use watchtower_registry_digest::InsecureRegistries;
/// let insecure = InsecureRegistries::from_engine(["127.0.0.0/8", "registry.lan:5000"]).unwrap();
/// assert!(insecure.matches_literal("127.0.0.1:5000"));
/// assert!(insecure.matches_literal("registry.lan:5000"));
/// assert!(!insecure.matches_literal("ghcr.io"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct InsecureRegistries {
    cidrs: Vec<Cidr>,
    names: Vec<String>,
}

impl InsecureRegistries {
    /// No registry is insecure.
    pub fn none() -> Self {
        Self::default()
    }

    /// What a Docker Engine with default settings reports: `127.0.0.0/8` and `::1/128`.
    pub fn engine_default() -> Self {
        Self::from_engine(["127.0.0.0/8", "::1/128"]).expect("valid built-in CIDRs")
    }

    /// From the engine's `RegistryConfig`: each entry is a CIDR (`InsecureRegistryCIDRs`) or
    /// a registry name with optional port (an `IndexConfigs` entry whose `Secure` is false).
    pub fn from_engine<I, S>(entries: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Self::default();
        for entry in entries {
            out.add(entry.as_ref())?;
        }
        Ok(out)
    }

    /// Adds one CIDR or registry name.
    pub fn add(&mut self, entry: &str) -> Result<(), Error> {
        let trimmed = entry.trim();
        let bad = |reason: String| Error::InvalidInsecureRegistry {
            entry: entry.to_owned(),
            reason,
        };
        if trimmed.is_empty() {
            return Err(bad("empty".to_owned()));
        }
        if trimmed.contains(char::is_whitespace) || trimmed.contains("://") {
            return Err(bad(
                "expected a CIDR such as 10.0.0.0/8 or a host[:port]".to_owned()
            ));
        } else if trimmed.contains('/') {
            let cidr = Cidr::parse(trimmed).map_err(bad)?;
            self.cidrs.push(cidr);
        } else {
            self.names.push(trimmed.to_ascii_lowercase());
        }
        Ok(())
    }

    /// True when nothing is insecure.
    pub fn is_empty(&self) -> bool {
        self.cidrs.is_empty() && self.names.is_empty()
    }

    /// Whether `host` (`name[:port]`, `ip[:port]`, `[v6]:port`) is insecure by name or by IP
    /// literal, without resolving names.
    pub fn matches_literal(&self, host: &str) -> bool {
        let host_lc = host.to_ascii_lowercase();
        let bare = strip_port(&host_lc);
        if self.names.iter().any(|n| *n == host_lc || *n == bare) {
            return true;
        }
        bare.parse::<IpAddr>()
            .is_ok_and(|ip| self.cidrs.iter().any(|c| c.contains(ip)))
    }

    /// Whether `host` is insecure: by name or IP literal, or, like the engine does, because a
    /// name resolves to an address inside an insecure CIDR (`localhost` -> `127.0.0.1`).
    pub async fn matches(&self, host: &str) -> bool {
        if self.matches_literal(host) {
            return true;
        }
        if self.cidrs.is_empty() {
            return false;
        }
        let bare = strip_port(host).to_owned();
        if bare.parse::<IpAddr>().is_ok() {
            return false;
        }
        let lookup = tokio::net::lookup_host((bare.as_str(), 0));
        match tokio::time::timeout(std::time::Duration::from_secs(5), lookup).await {
            Ok(Ok(addrs)) => addrs
                .map(|a| a.ip())
                .any(|ip| self.cidrs.iter().any(|c| c.contains(ip))),
            _ => false,
        }
    }
}

/// `host:port` -> `host`; `[v6]:port` -> `v6`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_names() {
        let r = InsecureRegistries::from_engine(["10.1.0.0/16", "fd00::/8", "Reg.LAN", "x:5000"])
            .unwrap();
        assert!(r.matches_literal("10.1.2.3:5000"));
        assert!(!r.matches_literal("10.2.0.1"));
        assert!(r.matches_literal("[fd00::1]:5000"));
        assert!(r.matches_literal("reg.lan:443"));
        assert!(r.matches_literal("x:5000"));
        assert!(!r.matches_literal("x:5001"));
        assert!(!r.matches_literal("ghcr.io"));
        let d = InsecureRegistries::engine_default();
        assert!(d.matches_literal("127.0.0.1:5000"));
        assert!(d.matches_literal("127.255.0.9"));
        assert!(d.matches_literal("[::1]:5000"));
        assert!(!d.matches_literal("128.0.0.1"));
        assert!(
            InsecureRegistries::from_engine(["0.0.0.0/0"])
                .unwrap()
                .matches_literal("8.8.8.8")
        );
    }

    #[test]
    fn bad_entries_are_named() {
        for (entry, reason) in [
            ("10.0.0.0/33", "prefix"),
            ("nope/8", "not an IP"),
            ("", "empty"),
            ("http://x", "expected a CIDR"),
        ] {
            let err = InsecureRegistries::from_engine([entry])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(reason) && err.contains(&format!("{entry:?}")),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn localhost_resolves_into_loopback() {
        assert!(
            InsecureRegistries::engine_default()
                .matches("localhost:5000")
                .await
        );
        assert!(!InsecureRegistries::none().matches("localhost:5000").await);
    }
}
