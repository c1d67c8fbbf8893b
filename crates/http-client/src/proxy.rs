//! Proxies: `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` with the rules of
//! Go's `net/http` (`golang.org/x/net/http/httpproxy`), which the original watchtower used.
//!
//! * HTTPS hosts are reached through an HTTP `CONNECT` tunnel; TLS runs end to end inside it
//!   and the certificate is verified against the host's name, so the proxy sees only
//!   ciphertext. Plain-HTTP hosts are asked through the proxy with absolute-form requests
//!   (`GET http://registry:5000/v2/ HTTP/1.1`).
//! * The client never resolves the name of a proxied host: the proxy does.
//! * Credentials in the proxy URL's user info become `Proxy-Authorization: Basic …`, sent only
//!   to the proxy, and never shown in `Debug` output, logs or errors.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::uri::Scheme;
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::Empty;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::upgrade::Upgraded;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::Error;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which proxy requests use, as the proxy environment variables say.
///
/// The rules are Go's (`net/http.ProxyFromEnvironment`), so a setup that worked with the
/// original watchtower works unchanged:
///
/// * HTTPS requests (nearly all: registries, webhooks) use `https_proxy`; plain-HTTP requests
///   use `http_proxy`. `HTTP_PROXY` is **not** used for HTTPS, and `ALL_PROXY` is not read.
/// * A proxy is `http://[user:password@]host[:port]` (port 80 by default) or just
///   `host[:port]`. `https://` (TLS to the proxy) and SOCKS proxies are not supported: the
///   client refuses to start with such a value rather than silently going direct.
/// * `no_proxy` is a comma-separated list of hosts reached directly: `*` (everything), a
///   domain (`corp.example` matches it and every subdomain; `.corp.example` and
///   `*.corp.example` match subdomains only), an IP address, a CIDR (`10.0.0.0/8`), and
///   domains and IPs may carry a port (`registry.corp.example:5000`, `[fd00::1]:443`) that
///   must then match the request's port (443 or 80 when it has none). Entries are
///   case-insensitive; an entry that fits none of these forms never matches.
/// * `localhost` and loopback addresses (`127.0.0.0/8`, `::1`) are never proxied, unless
///   [`ProxyConfig::proxy_loopback`] is set.
///
/// The client reads this once, when it is built. `Debug` output hides proxy credentials.
///
/// ```
/// use watchtower_http_client::ProxyConfig;
///
/// let env = |name: &str| match name {
///     "HTTPS_PROXY" => Some("http://proxy.corp.example:3128".to_owned()),
///     "no_proxy" => Some("registry.lan,10.0.0.0/8".to_owned()),
///     _ => None,
/// };
/// let proxy = ProxyConfig::from_lookup(env);
/// assert_eq!(proxy.https_proxy.as_deref(), Some("http://proxy.corp.example:3128"));
/// assert_eq!(proxy.http_proxy, None);
/// assert_eq!(proxy.no_proxy.as_deref(), Some("registry.lan,10.0.0.0/8"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// `HTTP_PROXY` / `http_proxy`: the proxy for plain-HTTP requests. `None` or empty: none.
    pub http_proxy: Option<String>,
    /// `HTTPS_PROXY` / `https_proxy`: the proxy for HTTPS requests. `None` or empty: none.
    pub https_proxy: Option<String>,
    /// `NO_PROXY` / `no_proxy`: hosts reached directly (see the rules above).
    pub no_proxy: Option<String>,
    /// Also send requests for `localhost` and loopback addresses through the proxy. Go never
    /// does, and neither does the environment; this exists for tests of the proxy path
    /// (the test servers listen on `127.0.0.1`) and for the rare setup whose local names
    /// must go through a proxy.
    pub proxy_loopback: bool,
}

impl ProxyConfig {
    /// No proxy: every host is reached directly.
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` from the process environment, each
    /// falling back to its lower-case form when unset or empty (as Go does).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| {
            std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// Like [`ProxyConfig::from_env`], with the variables from `lookup` (for tests and for
    /// configuration that does not come from the environment).
    pub fn from_lookup<F>(lookup: F) -> Self
    where
        F: Fn(&str) -> Option<String>,
    {
        let first = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|name| lookup(name).filter(|value| !value.trim().is_empty()))
        };
        Self {
            http_proxy: first(["HTTP_PROXY", "http_proxy"]),
            https_proxy: first(["HTTPS_PROXY", "https_proxy"]),
            no_proxy: first(["NO_PROXY", "no_proxy"]),
            proxy_loopback: false,
        }
    }

    /// Whether any proxy is set.
    pub fn is_enabled(&self) -> bool {
        [&self.http_proxy, &self.https_proxy]
            .iter()
            .any(|p| p.as_deref().is_some_and(|v| !v.trim().is_empty()))
    }
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("http_proxy", &self.http_proxy.as_deref().map(redact))
            .field("https_proxy", &self.https_proxy.as_deref().map(redact))
            .field("no_proxy", &self.no_proxy)
            .field("proxy_loopback", &self.proxy_loopback)
            .finish()
    }
}

/// `value` with any user info replaced by `***`: `http://***@proxy:3128`.
pub(crate) fn redact(value: &str) -> String {
    let Some(at) = value.rfind('@') else {
        return value.to_owned();
    };
    // Keep a scheme only when what precedes "://" really is one, so that a password
    // containing "://" is not partly shown.
    let start = value
        .find("://")
        .filter(|&i| {
            i > 0
                && i < at
                && value[..i]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        })
        .map_or(0, |i| i + 3);
    format!("{}***{}", &value[..start], &value[at..])
}

/// One proxy, parsed.
pub(crate) struct ProxyEndpoint {
    /// `http://host:port`: what the TCP connector dials.
    uri: Uri,
    /// `host:port`, for messages.
    addr: String,
    /// `Basic …` from the URL's user info, marked sensitive.
    authorization: Option<HeaderValue>,
    /// The variable it came from (`HTTPS_PROXY`, `HTTP_PROXY`), for messages.
    variable: &'static str,
}

impl ProxyEndpoint {
    /// `host:port` of the proxy.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// The `Proxy-Authorization` value, if the proxy URL had credentials.
    pub(crate) fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }

    /// What a 407 answer means, for messages.
    pub(crate) fn auth_hint(&self) -> String {
        if self.authorization.is_some() {
            format!("the proxy rejected the credentials in {}", self.variable)
        } else {
            format!(
                "the proxy wants credentials: set {} to http://user:password@{}",
                self.variable, self.addr
            )
        }
    }
}

impl fmt::Debug for ProxyEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyEndpoint")
            .field("addr", &self.addr)
            .field("variable", &self.variable)
            .field("has_credentials", &self.authorization.is_some())
            .finish_non_exhaustive()
    }
}

/// Parses one proxy variable. Go accepts `host[:port]` without a scheme; so do we.
fn parse_proxy(variable: &'static str, value: &str) -> Result<Option<ProxyEndpoint>, Error> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let bad = |reason: String| Error::ProxyConfig {
        variable: variable.to_owned(),
        value: redact(value),
        reason,
    };
    let rest = match value.split_once("://") {
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "http" => rest,
            "https" => {
                return Err(bad(
                    "proxies reached over TLS (https://) are not supported; use the proxy's \
                     http:// URL (HTTPS registries are still reached with TLS end to end \
                     through a CONNECT tunnel)"
                        .to_owned(),
                ));
            }
            "socks4" | "socks4a" | "socks5" | "socks5h" => {
                return Err(bad(format!(
                    "{scheme} proxies are not supported; use an http:// proxy"
                )));
            }
            _ => {
                return Err(bad(format!(
                    "unsupported proxy scheme {scheme:?}; expected http://host:port"
                )));
            }
        },
        None => value,
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    let (host, port) = split_proxy_host_port(host_port).map_err(&bad)?;
    let shown_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let addr = format!("{shown_host}:{port}");
    let uri: Uri = format!("http://{addr}/")
        .parse()
        .map_err(|e| bad(format!("not a valid proxy address: {e}")))?;
    let authorization = match userinfo {
        None => None,
        Some(userinfo) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |part: &str| {
                percent_decode(part).ok_or_else(|| {
                    bad("the credentials are not valid percent-encoded UTF-8".to_owned())
                })
            };
            let pair = format!("{}:{}", decode(user)?, decode(password)?);
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
                .map_err(|_| bad("the credentials cannot be sent in a header".to_owned()))?;
            value.set_sensitive(true);
            Some(value)
        }
    };
    Ok(Some(ProxyEndpoint {
        uri,
        addr,
        authorization,
        variable,
    }))
}

/// `host[:port]` or `[v6][:port]` of a proxy URL; the port defaults to 80.
fn split_proxy_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?} lacks the closing ']'"))?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{host:?} is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {p:?} after the address"))?,
            ),
        };
        (host.to_owned(), port)
    } else {
        match s.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err(
                    "an IPv6 proxy address must be written in brackets: [addr]:port".to_owned(),
                );
            }
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (s.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err("no proxy host".to_owned());
    }
    if !host.contains(':')
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        return Err(format!("{host:?} is not a valid host name"));
    }
    let port = match port {
        None | Some("") => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("port {p:?} is not a number from 1 to 65535"))?,
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// Decodes `%XX` escapes; `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NoProxyEntry {
    /// `10.0.0.0/8`, `fd00::/8`: any port.
    Cidr { net: IpAddr, prefix: u8 },
    /// `192.168.1.1`, `192.168.1.1:5000`, `[fd00::1]:443`.
    Ip { ip: IpAddr, port: Option<String> },
    /// `.example.com` (stored with the leading dot) and whether `example.com` itself matches.
    Domain {
        suffix: String,
        port: Option<String>,
        match_host: bool,
    },
}

/// The parsed `NO_PROXY` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NoProxy {
    all: bool,
    entries: Vec<NoProxyEntry>,
}

impl NoProxy {
    fn parse(list: &str) -> Self {
        let mut out = Self::default();
        for entry in list.split(',') {
            let entry = entry.trim().to_ascii_lowercase();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                return Self {
                    all: true,
                    entries: Vec::new(),
                };
            }
            if let Some(cidr) = parse_cidr(&entry) {
                out.entries.push(cidr);
                continue;
            }
            let (host, port) = match go_split_host_port(&entry) {
                Some((host, port)) => (host, (!port.is_empty()).then(|| port.to_owned())),
                None => (
                    entry
                        .strip_prefix('[')
                        .and_then(|e| e.strip_suffix(']'))
                        .unwrap_or(&entry),
                    None,
                ),
            };
            if host.is_empty() {
                tracing::debug!(entry = %entry, "ignoring a NO_PROXY entry without a host");
                continue;
            }
            if let Ok(ip) = host.parse::<IpAddr>() {
                out.entries.push(NoProxyEntry::Ip {
                    ip: canonical_ip(ip),
                    port,
                });
                continue;
            }
            let host = host
                .strip_prefix('*')
                .filter(|h| h.starts_with('.'))
                .unwrap_or(host);
            let (suffix, match_host) = match host.strip_prefix('.') {
                Some(_) => (host.to_owned(), false),
                None => (format!(".{host}"), true),
            };
            out.entries.push(NoProxyEntry::Domain {
                suffix,
                port,
                match_host,
            });
        }
        out
    }

    /// Whether `host` (lower case, no brackets) on `port` is reached directly.
    fn matches(&self, host: &str, port: &str, ip: Option<IpAddr>) -> bool {
        if self.all {
            return true;
        }
        let port_ok = |want: &Option<String>| want.as_deref().is_none_or(|p| p == port);
        self.entries.iter().any(|entry| match entry {
            NoProxyEntry::Cidr { net, prefix } => {
                ip.is_some_and(|ip| cidr_contains(*net, *prefix, ip))
            }
            NoProxyEntry::Ip { ip: want, port: p } => ip == Some(*want) && port_ok(p),
            // As in Go, domain entries are compared with IP hosts too (as text).
            NoProxyEntry::Domain {
                suffix,
                port: p,
                match_host,
            } => {
                (host.ends_with(suffix.as_str()) || (*match_host && host == &suffix[1..]))
                    && port_ok(p)
            }
        })
    }
}

/// Go's `net.SplitHostPort`: `host:port` or `[v6]:port`; `None` without a port separator or
/// with more than one colon outside brackets.
fn go_split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((host, port));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') {
        return None;
    }
    Some((host, port))
}

fn parse_cidr(s: &str) -> Option<NoProxyEntry> {
    let (addr, prefix) = s.split_once('/')?;
    let net: IpAddr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some(NoProxyEntry::Cidr { net, prefix })
}

fn cidr_contains(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(net) & mask == u128::from(ip) & mask
        }
        // An IPv4 network written as IPv6 (`::ffff:10.0.0.0/104`) is rare enough to ignore.
        _ => false,
    }
}

/// The parsed proxy settings: which requests go through which proxy.
#[derive(Debug, Default)]
pub(crate) struct ProxyRoutes {
    http: Option<Arc<ProxyEndpoint>>,
    https: Option<Arc<ProxyEndpoint>>,
    no_proxy: NoProxy,
    proxy_loopback: bool,
}

impl ProxyRoutes {
    /// Parses `config`; an unusable proxy URL is an error naming the variable.
    pub(crate) fn new(config: &ProxyConfig) -> Result<Self, Error> {
        let parse = |variable, value: &Option<String>| {
            value
                .as_deref()
                .map_or(Ok(None), |v| parse_proxy(variable, v))
                .map(|p| p.map(Arc::new))
        };
        Ok(Self {
            http: parse("HTTP_PROXY", &config.http_proxy)?,
            https: parse("HTTPS_PROXY", &config.https_proxy)?,
            no_proxy: config
                .no_proxy
                .as_deref()
                .map(NoProxy::parse)
                .unwrap_or_default(),
            proxy_loopback: config.proxy_loopback,
        })
    }

    /// The configured proxies, for a log line: `(variable, host:port, has credentials)`.
    pub(crate) fn describe(&self) -> Vec<(&'static str, &str, bool)> {
        [&self.https, &self.http]
            .into_iter()
            .flatten()
            .map(|p| (p.variable, p.addr.as_str(), p.authorization.is_some()))
            .collect()
    }

    /// The proxy for a request to `dst`, or `None` to go direct.
    pub(crate) fn route(&self, dst: &Uri) -> Option<&Arc<ProxyEndpoint>> {
        let (proxy, default_port) = match dst.scheme_str() {
            Some("https") => (self.https.as_ref()?, 443),
            Some("http") => (self.http.as_ref()?, 80),
            _ => return None,
        };
        let host = dst.host()?;
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_ascii_lowercase();
        let ip = bare.parse::<IpAddr>().ok().map(canonical_ip);
        if !self.proxy_loopback && (bare == "localhost" || ip.is_some_and(|ip| ip.is_loopback())) {
            return None;
        }
        let port = dst.port_u16().unwrap_or(default_port).to_string();
        if self.no_proxy.matches(&bare, &port, ip) {
            return None;
        }
        Some(proxy)
    }
}

/// A failure of the proxy itself (unreachable, refused the tunnel). Its message names the
/// proxy by `host:port` only.
#[derive(Debug)]
pub(crate) struct ProxyFailure {
    message: String,
    source: Option<BoxError>,
}

impl ProxyFailure {
    fn new(proxy: &ProxyEndpoint, what: impl fmt::Display, source: Option<BoxError>) -> Self {
        Self {
            message: format!("proxy {} {what}", proxy.addr),
            source,
        }
    }
}

impl fmt::Display for ProxyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProxyFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A connection to a server: direct, to a proxy for absolute-form requests, or a `CONNECT`
/// tunnel through a proxy (which TLS then runs inside).
pub(crate) enum ProxiedStream {
    /// Straight to the server.
    Direct(TokioIo<TcpStream>),
    /// To the proxy; requests on it are sent in absolute form.
    Forward(TokioIo<TcpStream>),
    /// Through a `CONNECT` tunnel: to the server, as far as HTTP and TLS are concerned.
    Tunnel(Upgraded),
}

impl Connection for ProxiedStream {
    fn connected(&self) -> Connected {
        match self {
            Self::Direct(io) => io.connected(),
            // Tells hyper-util to send absolute-form request targets.
            Self::Forward(io) => io.connected().proxy(true),
            Self::Tunnel(_) => Connected::new(),
        }
    }
}

impl Read for ProxiedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Direct(io) | Self::Forward(io) => Pin::new(io).poll_read(cx, buf),
            Self::Tunnel(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl Write for ProxiedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Direct(io) | Self::Forward(io) => Pin::new(io).poll_write(cx, buf),
            Self::Tunnel(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Direct(io) | Self::Forward(io) => Pin::new(io).poll_flush(cx),
            Self::Tunnel(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Direct(io) | Self::Forward(io) => Pin::new(io).poll_shutdown(cx),
            Self::Tunnel(io) => Pin::new(io).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Direct(io) | Self::Forward(io) => io.is_write_vectored(),
            Self::Tunnel(io) => io.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Direct(io) | Self::Forward(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Self::Tunnel(io) => Pin::new(io).poll_write_vectored(cx, bufs),
        }
    }
}

/// The TCP connector of the client: dials the server or its proxy, opens `CONNECT` tunnels,
/// and counts every TCP connection it opens (to a server or to a proxy).
#[derive(Clone)]
pub(crate) struct ProxiedConnector {
    tcp: HttpConnector,
    proxies: Arc<ProxyRoutes>,
    opened: Arc<AtomicU64>,
    /// Limit for the `CONNECT` exchange (the TCP connect has its own, in `tcp`).
    tunnel_timeout: Duration,
    user_agent: Option<HeaderValue>,
}

impl ProxiedConnector {
    pub(crate) fn new(
        tcp: HttpConnector,
        proxies: Arc<ProxyRoutes>,
        opened: Arc<AtomicU64>,
        tunnel_timeout: Duration,
        user_agent: Option<HeaderValue>,
    ) -> Self {
        Self {
            tcp,
            proxies,
            opened,
            tunnel_timeout,
            user_agent,
        }
    }
}

impl tower::Service<Uri> for ProxiedConnector {
    type Response = ProxiedStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ProxiedStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let opened = self.opened.clone();
        let Some(proxy) = self.proxies.route(&dst).cloned() else {
            let connecting = self.tcp.call(dst);
            return Box::pin(async move {
                let io = connecting.await?;
                opened.fetch_add(1, Ordering::Relaxed);
                tracing::trace!("TCP connection opened");
                Ok(ProxiedStream::Direct(io))
            });
        };
        // Only the proxy's name is resolved; the server's name goes to the proxy as text.
        let connecting = self.tcp.call(proxy.uri.clone());
        // The CONNECT must be answered within the connect limit counted from now, so that
        // this limit fires before (or with) the client's limit on the whole connect and the
        // failure is named as the proxy's.
        let tunnel_timeout = self.tunnel_timeout;
        let deadline = tokio::time::Instant::now() + tunnel_timeout;
        let user_agent = self.user_agent.clone();
        Box::pin(async move {
            let io = connecting
                .await
                .map_err(|e| ProxyFailure::new(&proxy, "unreachable", Some(e.into())))?;
            opened.fetch_add(1, Ordering::Relaxed);
            tracing::trace!(proxy = %proxy.addr, "TCP connection to the proxy opened");
            if dst.scheme() != Some(&Scheme::HTTPS) {
                return Ok(ProxiedStream::Forward(io));
            }
            let target = tunnel_target(&dst)
                .ok_or_else(|| ProxyFailure::new(&proxy, "got a request without a host", None))?;
            tracing::debug!(proxy = %proxy.addr, target = %target, "opening a CONNECT tunnel");
            let tunnel =
                tokio::time::timeout_at(deadline, open_tunnel(io, &proxy, &target, user_agent))
                    .await
                    .map_err(|_| {
                        ProxyFailure::new(
                            &proxy,
                            format!(
                                "did not answer CONNECT {target} within {} s",
                                tunnel_timeout.as_secs_f32()
                            ),
                            None,
                        )
                    })??;
            Ok(ProxiedStream::Tunnel(tunnel))
        })
    }
}

/// `host:port` for `CONNECT` (port 443 when the URL has none).
fn tunnel_target(dst: &Uri) -> Option<String> {
    let host = dst.host()?;
    Some(format!("{host}:{}", dst.port_u16().unwrap_or(443)))
}

/// Sends `CONNECT target` over `io` and returns the tunnel once the proxy answered 200.
async fn open_tunnel(
    io: TokioIo<TcpStream>,
    proxy: &ProxyEndpoint,
    target: &str,
    user_agent: Option<HeaderValue>,
) -> Result<Upgraded, ProxyFailure> {
    let failed = |e: hyper::Error| {
        ProxyFailure::new(proxy, format!("failed CONNECT {target}"), Some(Box::new(e)))
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(failed)?;
    let mut conn = std::pin::pin!(conn.with_upgrades());

    let mut request = Request::builder()
        .method(Method::CONNECT)
        .uri(target)
        .header(header::HOST, target);
    if let Some(user_agent) = user_agent {
        request = request.header(header::USER_AGENT, user_agent);
    }
    if let Some(authorization) = &proxy.authorization {
        request = request.header(header::PROXY_AUTHORIZATION, authorization.clone());
    }
    let request = request.body(Empty::new()).map_err(|e| {
        ProxyFailure::new(
            proxy,
            format!("cannot be asked to CONNECT {target}"),
            Some(Box::new(e)),
        )
    })?;

    // The connection future does the I/O; the response arrives through `send`. When the
    // proxy says 200, the connection future ends by handing its socket to the upgrade.
    let send = sender.send_request(request);
    let mut send = std::pin::pin!(send);
    let mut conn_done = false;
    let response = tokio::select! {
        biased;
        response = &mut send => response.map_err(failed)?,
        ended = &mut conn => {
            ended.map_err(failed)?;
            conn_done = true;
            send.await.map_err(|e| {
                ProxyFailure::new(
                    proxy,
                    format!("closed the connection without answering CONNECT {target}"),
                    Some(Box::new(e)),
                )
            })?
        }
    };

    let status = response.status();
    if status != StatusCode::OK {
        let hint = if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            format!(" ({})", proxy.auth_hint())
        } else {
            String::new()
        };
        return Err(ProxyFailure::new(
            proxy,
            format!("refused CONNECT {target}: {status}{hint}"),
            None,
        ));
    }
    let upgraded = if conn_done {
        hyper::upgrade::on(response).await
    } else {
        let (upgraded, ended) = tokio::join!(hyper::upgrade::on(response), &mut conn);
        ended.map_err(failed)?;
        upgraded
    };
    upgraded.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(http: Option<&str>, https: Option<&str>, no: Option<&str>) -> ProxyRoutes {
        ProxyRoutes::new(&ProxyConfig {
            http_proxy: http.map(str::to_owned),
            https_proxy: https.map(str::to_owned),
            no_proxy: no.map(str::to_owned),
            proxy_loopback: false,
        })
        .unwrap()
    }

    fn routed(p: &ProxyRoutes, url: &str) -> Option<String> {
        p.route(&url.parse().unwrap()).map(|e| e.addr.clone())
    }

    #[test]
    fn upper_case_wins_and_lower_case_is_the_fallback() {
        let env = |name: &str| {
            match name {
                "HTTPS_PROXY" => Some("upper:1"),
                "https_proxy" => Some("lower:1"),
                "HTTP_PROXY" => Some("  "),
                "http_proxy" => Some("lower-http:2"),
                "no_proxy" => Some("corp.example"),
                _ => None,
            }
            .map(str::to_owned)
        };
        let c = ProxyConfig::from_lookup(env);
        assert_eq!(c.https_proxy.as_deref(), Some("upper:1"));
        // An empty (blank) upper-case value falls back to the lower-case one, as in Go.
        assert_eq!(c.http_proxy.as_deref(), Some("lower-http:2"));
        assert_eq!(c.no_proxy.as_deref(), Some("corp.example"));
        assert!(!c.proxy_loopback);
        assert!(c.is_enabled());
        assert!(!ProxyConfig::from_lookup(|_| None).is_enabled());
        assert_eq!(ProxyConfig::from_lookup(|_| None), ProxyConfig::none());
    }

    #[test]
    fn proxy_urls_parse_like_go() {
        for (value, addr) in [
            ("proxy.corp:3128", "proxy.corp:3128"),
            ("http://proxy.corp:3128", "proxy.corp:3128"),
            ("HTTP://Proxy.Corp:3128/", "proxy.corp:3128"),
            ("http://proxy.corp", "proxy.corp:80"),
            ("proxy", "proxy:80"),
            ("localhost", "localhost:80"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("http://[fd00::1]:3128", "[fd00::1]:3128"),
            ("http://[fd00::1]", "[fd00::1]:80"),
            ("http://u:p@proxy:1/path?q#f", "proxy:1"),
            ("  http://proxy:2  ", "proxy:2"),
        ] {
            let p = parse_proxy("HTTPS_PROXY", value).unwrap().unwrap();
            assert_eq!(p.addr, addr, "{value}");
            assert_eq!(p.uri.to_string(), format!("http://{addr}/"), "{value}");
        }
        assert!(parse_proxy("HTTPS_PROXY", "").unwrap().is_none());
    }

    #[test]
    fn credentials_become_a_sensitive_basic_header() {
        let p = parse_proxy("HTTPS_PROXY", "http://al%40ice:p%3Ass@w:rd@proxy:3128")
            .unwrap()
            .unwrap();
        let auth = p.authorization.as_ref().unwrap();
        assert!(auth.is_sensitive());
        let expected = base64::engine::general_purpose::STANDARD.encode("al@ice:p:ss@w:rd");
        assert_eq!(auth.to_str().unwrap(), format!("Basic {expected}"));
        let shown = format!("{p:?}");
        assert!(shown.contains("has_credentials: true") && !shown.contains(&expected));
        // A user without a password is sent as `user:`, like Go does.
        let p = parse_proxy("HTTP_PROXY", "http://bob@proxy")
            .unwrap()
            .unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode("bob:");
        assert_eq!(
            p.authorization.as_ref().unwrap().to_str().unwrap(),
            format!("Basic {expected}")
        );
        assert!(p.auth_hint().contains("HTTP_PROXY"));
    }

    #[test]
    fn unusable_proxy_values_are_named_without_their_password() {
        for (value, reason) in [
            ("https://u:hunter2@proxy:443", "https://"),
            ("socks5://u:hunter2@proxy:1080", "socks5"),
            ("ftp://u:hunter2@proxy", "unsupported proxy scheme"),
            ("http://u:hunter2@proxy:99999", "port"),
            ("http://u:hunter2@proxy:0", "port"),
            ("http://u:hunter2@proxy:x", "port"),
            ("http://u:hunter2@:3128", "no proxy host"),
            ("http://u:hunter2@fd00::1", "brackets"),
            ("http://u:hunter2@[fd00::1", "closing"),
            ("http://u:hunter2@pro xy", "not a valid host"),
            ("http://u:%zzhunter2@proxy", "percent-encoded"),
            ("u:a://hunter2@proxy", "unsupported proxy scheme"),
        ] {
            let err = parse_proxy("HTTPS_PROXY", value).unwrap_err().to_string();
            assert!(err.contains("HTTPS_PROXY"), "{err}");
            assert!(err.contains(reason), "{value}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        let err = ProxyRoutes::new(&ProxyConfig {
            http_proxy: Some("socks5://x".into()),
            ..ProxyConfig::none()
        })
        .unwrap_err();
        assert!(
            err.to_string().starts_with("proxy setting HTTP_PROXY"),
            "{err}"
        );
    }

    #[test]
    fn debug_hides_proxy_credentials() {
        let c = ProxyConfig {
            http_proxy: Some("http://alice:s3cret@proxy:3128".into()),
            https_proxy: Some("alice:s3c://ret@proxy:3128".into()),
            no_proxy: Some("corp".into()),
            proxy_loopback: false,
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3c") && !shown.contains("alice"),
            "{shown}"
        );
        assert!(shown.contains("http://***@proxy:3128"), "{shown}");
        assert_eq!(redact("proxy:3128"), "proxy:3128");
    }

    #[test]
    fn https_uses_https_proxy_only_and_http_uses_http_proxy() {
        let both = proxies(Some("h:1"), Some("s:2"), None);
        assert_eq!(routed(&both, "https://ghcr.io/v2/").as_deref(), Some("s:2"));
        assert_eq!(
            routed(&both, "http://reg.lan:5000/v2/").as_deref(),
            Some("h:1")
        );
        let http_only = proxies(Some("h:1"), None, None);
        assert_eq!(routed(&http_only, "https://ghcr.io/v2/"), None);
        assert_eq!(routed(&http_only, "ftp://ghcr.io/"), None);
        assert!(proxies(None, None, Some("x")).describe().is_empty());
        assert_eq!(
            both.describe(),
            [("HTTPS_PROXY", "s:2", false), ("HTTP_PROXY", "h:1", false)]
        );
    }

    #[test]
    fn localhost_and_loopback_are_never_proxied_unless_asked() {
        let p = proxies(Some("h:1"), Some("s:2"), None);
        for url in [
            "https://localhost:5000/v2/",
            "https://LOCALHOST/v2/",
            "https://127.0.0.1:5000/v2/",
            "https://127.0.0.2/v2/",
            "https://[::1]:5000/v2/",
            "https://[::ffff:127.0.0.1]/v2/",
            "http://127.0.0.1:5000/v2/",
        ] {
            assert_eq!(routed(&p, url), None, "{url}");
        }
        for url in [
            "https://[::2]/v2/",
            "https://local.localhost/v2/",
            "https://localhost.net/v2/",
        ] {
            assert_eq!(routed(&p, url).as_deref(), Some("s:2"), "{url}");
        }
        let mut p = proxies(None, Some("s:2"), Some("10.0.0.0/8"));
        p.proxy_loopback = true;
        assert_eq!(
            routed(&p, "https://127.0.0.1:5000/v2/").as_deref(),
            Some("s:2")
        );
        assert_eq!(routed(&p, "https://localhost/v2/").as_deref(), Some("s:2"));
    }

    #[test]
    fn no_proxy_follows_go_rules() {
        let list = "Corp.Example, .sub.example, *.wild.example, 192.168.1.1, \
                    192.168.1.2:5000, 10.0.0.0/30, fd00::1, [fd00::2]:443, fd01::/64, \
                    reg.port.example:5000, , :1, bogus/cidr";
        let p = proxies(Some("h:1"), Some("s:2"), Some(list));
        let direct = [
            "https://corp.example/",
            "https://CORP.example/",
            "https://registry.corp.example:5000/",
            "https://a.sub.example/",
            "https://deep.a.sub.example/",
            "https://nested.wild.example/",
            "https://192.168.1.1/",
            "https://192.168.1.1:9999/",
            "https://192.168.1.2:5000/",
            "https://[::ffff:192.168.1.1]/",
            "https://10.0.0.3/",
            "https://[fd00::1]:5000/",
            "https://[fd00::2]/",
            "https://[fd01::abcd]/",
            "https://reg.port.example:5000/",
        ];
        for url in direct {
            assert_eq!(routed(&p, url), None, "{url} should bypass the proxy");
        }
        let proxied = [
            "https://notcorp.example/",
            "https://corp.example.org/",
            "https://sub.example/",
            "https://wild.example/",
            "https://awild.example/",
            "https://192.168.1.2/",
            "https://192.168.1.2:5001/",
            "https://10.0.0.4/",
            "https://[fd00::2]:5000/",
            "https://[fd02::1]/",
            "https://reg.port.example/",
            "https://reg.port.example:5001/",
            "https://example.com/",
        ];
        for url in proxied {
            assert_eq!(
                routed(&p, url).as_deref(),
                Some("s:2"),
                "{url} should be proxied"
            );
        }
        // Plain HTTP: the default port of the entry comparison is 80.
        let p = proxies(Some("h:1"), None, Some("reg.lan:80"));
        assert_eq!(routed(&p, "http://reg.lan/"), None);
        assert_eq!(routed(&p, "http://reg.lan:5000/").as_deref(), Some("h:1"));
        let p = proxies(None, Some("s:2"), Some("reg.lan:443"));
        assert_eq!(routed(&p, "https://reg.lan/"), None);
    }

    #[test]
    fn no_proxy_star_turns_the_proxy_off() {
        let p = proxies(Some("h:1"), Some("s:2"), Some("foo, *"));
        for url in [
            "https://ghcr.io/",
            "http://10.1.1.1:5000/",
            "https://[fd00::9]/",
        ] {
            assert_eq!(routed(&p, url), None, "{url}");
        }
        // `*` only counts alone; as part of a name it is just text.
        let p = proxies(None, Some("s:2"), Some("*ghcr.io"));
        assert_eq!(routed(&p, "https://ghcr.io/").as_deref(), Some("s:2"));
    }
}
