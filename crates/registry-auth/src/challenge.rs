//! `WWW-Authenticate` parsing (RFC 7235 challenges) and the registry's Bearer challenge.

use std::fmt;

/// One challenge of a `WWW-Authenticate` header: a scheme and its parameters.
///
/// The scheme compares case-insensitively; parameter names are lower-cased; parameter values
/// are kept exactly as sent (a realm URL may be case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
    token68: Option<String>,
}

/// The authentication schemes a registry may ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthScheme {
    /// HTTP Basic: send the user name and password with every request.
    Basic,
    /// Bearer: fetch a token from the realm first (the Docker token protocol).
    Bearer,
    /// Anything else, as sent.
    Other(String),
}

impl fmt::Display for AuthScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic => f.write_str("Basic"),
            Self::Bearer => f.write_str("Bearer"),
            Self::Other(s) => f.write_str(s),
        }
    }
}

impl Challenge {
    /// The scheme as sent.
    pub fn scheme_name(&self) -> &str {
        &self.scheme
    }

    /// The scheme, recognised case-insensitively.
    pub fn scheme(&self) -> AuthScheme {
        if self.scheme.eq_ignore_ascii_case("basic") {
            AuthScheme::Basic
        } else if self.scheme.eq_ignore_ascii_case("bearer") {
            AuthScheme::Bearer
        } else {
            AuthScheme::Other(self.scheme.clone())
        }
    }

    /// The value of a parameter; the name matches case-insensitively.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All parameters in header order, names lower-cased.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The token68 form (`Scheme abc123==`), when the challenge uses it instead of parameters.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }
}

/// A registry's Bearer challenge: where to get a token, and for which service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BearerChallenge {
    /// The token endpoint URL, exactly as sent (case preserved).
    pub realm: String,
    /// The `service` parameter, when sent (Docker Hub: `registry.docker.io`).
    pub service: Option<String>,
    /// The `scope` parameter, when sent (registries send it on resource requests, not on `/v2/`).
    pub scope: Option<String>,
}

impl BearerChallenge {
    /// The Bearer challenge among `challenges`, if any. `Err` carries the reason when a Bearer
    /// challenge is present but unusable (no realm, or a realm that is not an http(s) URL).
    pub fn find(challenges: &[Challenge]) -> Option<Result<Self, String>> {
        let c = challenges
            .iter()
            .find(|c| c.scheme() == AuthScheme::Bearer)?;
        let Some(realm) = c.param("realm").filter(|r| !r.is_empty()) else {
            return Some(Err("Bearer challenge without a realm".to_owned()));
        };
        match realm.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.host().is_some_and(|h| !h.is_empty()) => {}
            _ => {
                return Some(Err(format!("Bearer realm {realm:?} is not an http(s) URL")));
            }
        }
        Some(Ok(Self {
            realm: realm.to_owned(),
            service: c.param("service").map(str::to_owned),
            scope: c.param("scope").map(str::to_owned),
        }))
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_token68_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/".contains(c)
}

struct Cursor<'a> {
    chars: Vec<char>,
    pos: usize,
    _src: std::marker::PhantomData<&'a str>,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }
    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | ',')) {
            self.pos += 1;
        }
    }
    fn token(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }
    /// A quoted string, the opening quote being at the cursor; backslash escapes any character.
    /// An unterminated string runs to the end of the input.
    fn quoted(&mut self) -> String {
        self.pos += 1;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '"' => return out,
                '\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.pos += 1;
                    }
                }
                other => out.push(other),
            }
        }
        out
    }
    /// Skips to just after the next comma that is not inside a quoted string.
    fn recover(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                '"' => {
                    self.quoted();
                }
                ',' => {
                    self.pos += 1;
                    return;
                }
                _ => self.pos += 1,
            }
        }
    }
    /// After a comma: does `name =` follow (a parameter of the current challenge) rather than
    /// the scheme of a new challenge?
    fn param_follows(&self) -> bool {
        let mut i = 0;
        while self.peek_at(i).is_some_and(is_tchar) {
            i += 1;
        }
        if i == 0 {
            return false;
        }
        while matches!(self.peek_at(i), Some(' ' | '\t')) {
            i += 1;
        }
        self.peek_at(i) == Some('=')
    }
}

/// Is there a token68 (at least one token68 character, then optional '=') at `start`?
fn is_token68_start(cur: &Cursor<'_>, start: usize) -> bool {
    cur.chars.get(start).copied().is_some_and(is_token68_char)
}

/// Skips a malformed piece up to the next comma. True when a parameter of the same challenge
/// follows, false when the challenge is over (end of input or a new scheme follows).
fn skip_garbage(cur: &mut Cursor<'_>) -> bool {
    cur.recover();
    cur.skip_ws_and_commas();
    cur.param_follows()
}

/// Parses a `WWW-Authenticate` header value into its challenges.
///
/// Accepts several challenges in one header (`Bearer realm="…", Basic realm="…"`), quoted
/// values holding commas and backslash escapes, tokens and token68. Never panics: malformed
/// pieces are skipped, so the result may be empty.
///
/// ```
/// use watchtower_registry_auth::{parse_www_authenticate, AuthScheme};
///
/// let header = r#"BEARER realm="https://Auth.example.com/Token",service="reg",scope="repository:a/b:pull,push""#;
/// let challenges = parse_www_authenticate(header);
/// assert_eq!(challenges[0].scheme(), AuthScheme::Bearer);
/// assert_eq!(challenges[0].param("Realm"), Some("https://Auth.example.com/Token"));
/// assert_eq!(challenges[0].param("scope"), Some("repository:a/b:pull,push"));
/// ```
pub fn parse_www_authenticate(header: &str) -> Vec<Challenge> {
    let mut cur = Cursor {
        chars: header.chars().collect(),
        pos: 0,
        _src: std::marker::PhantomData,
    };
    let mut out = Vec::new();
    loop {
        cur.skip_ws_and_commas();
        if cur.peek().is_none() {
            break;
        }
        let scheme = cur.token();
        if scheme.is_empty() {
            cur.recover();
            continue;
        }
        let mut challenge = Challenge {
            scheme,
            params: Vec::new(),
            token68: None,
        };
        // Parameters (or one token68) follow after whitespace.
        let mut first = true;
        loop {
            cur.skip_ws();
            match cur.peek() {
                None => break,
                Some(',') => {
                    cur.skip_ws_and_commas();
                    if !cur.param_follows() {
                        break;
                    }
                }
                Some(_) => {}
            }
            let start = cur.pos;
            let name = cur.token();
            cur.skip_ws();
            if !name.is_empty() && cur.peek() == Some('=') && cur.peek_at(1) != Some('=') {
                cur.pos += 1;
                cur.skip_ws();
                let value = if cur.peek() == Some('"') {
                    cur.quoted()
                } else {
                    cur.token()
                };
                challenge.params.push((name.to_ascii_lowercase(), value));
            } else if first && is_token68_start(&cur, start) {
                // token68: a run of token68 characters, then any '=' padding, then the end of
                // the challenge.
                cur.pos = start;
                let begin = cur.pos;
                while cur.peek().is_some_and(is_token68_char) {
                    cur.pos += 1;
                }
                while cur.peek() == Some('=') {
                    cur.pos += 1;
                }
                let end = cur.pos;
                cur.skip_ws();
                if matches!(cur.peek(), None | Some(',')) {
                    challenge.token68 = Some(cur.chars[begin..end].iter().collect());
                } else if !skip_garbage(&mut cur) {
                    break;
                }
            } else if !skip_garbage(&mut cur) {
                break;
            }
            first = false;
        }
        out.push(challenge);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(c: &Challenge) -> Vec<(&str, &str)> {
        c.params()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn docker_hub_challenge() {
        let c = parse_www_authenticate(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme(), AuthScheme::Bearer);
        assert_eq!(
            p(&c[0]),
            [
                ("realm", "https://auth.docker.io/token"),
                ("service", "registry.docker.io")
            ]
        );
        let b = BearerChallenge::find(&c).unwrap().unwrap();
        assert_eq!(b.realm, "https://auth.docker.io/token");
        assert_eq!(b.service.as_deref(), Some("registry.docker.io"));
        assert_eq!(b.scope, None);
    }

    #[test]
    fn quoted_commas_escapes_and_case() {
        let c = parse_www_authenticate(
            r#"bEaReR Realm="https://Example.com/Token?A=B", scope="repository:x/y:pull,push", error="insufficient_scope", note="say \"hi\" \\ ok""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme_name(), "bEaReR");
        assert_eq!(c[0].scheme(), AuthScheme::Bearer);
        assert_eq!(c[0].param("REALM"), Some("https://Example.com/Token?A=B"));
        assert_eq!(c[0].param("scope"), Some("repository:x/y:pull,push"));
        assert_eq!(c[0].param("error"), Some("insufficient_scope"));
        assert_eq!(c[0].param("note"), Some(r#"say "hi" \ ok"#));
    }

    #[test]
    fn several_challenges_in_one_header() {
        let c = parse_www_authenticate(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple", Bearer realm="https://t/x",service=s"#,
        );
        let schemes: Vec<_> = c.iter().map(Challenge::scheme).collect();
        assert_eq!(
            schemes,
            [
                AuthScheme::Other("Newauth".into()),
                AuthScheme::Basic,
                AuthScheme::Bearer
            ]
        );
        assert_eq!(
            p(&c[0]),
            [
                ("realm", "apps"),
                ("type", "1"),
                ("title", r#"Login to "apps""#)
            ]
        );
        assert_eq!(p(&c[1]), [("realm", "simple")]);
        assert_eq!(p(&c[2]), [("realm", "https://t/x"), ("service", "s")]);
    }

    #[test]
    fn token68_bare_schemes_and_spaces() {
        let c = parse_www_authenticate("Negotiate abc+/def==, Basic, Bearer  realm = \"r\" ");
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].token68(), Some("abc+/def=="));
        assert_eq!(c[1].scheme(), AuthScheme::Basic);
        assert!(c[1].params().is_empty());
        assert_eq!(c[2].param("realm"), Some("r"));
    }

    #[test]
    fn bearer_problems_are_reported() {
        assert_eq!(
            BearerChallenge::find(&parse_www_authenticate("Basic realm=x")),
            None
        );
        let no_realm = BearerChallenge::find(&parse_www_authenticate("Bearer service=x"));
        assert_eq!(
            no_realm,
            Some(Err("Bearer challenge without a realm".into()))
        );
        let bad = BearerChallenge::find(&parse_www_authenticate(r#"Bearer realm="/token""#));
        assert!(matches!(bad, Some(Err(m)) if m.contains("not an http(s) URL")));
    }

    #[test]
    fn garbage_gives_nothing_or_partial_results() {
        assert!(parse_www_authenticate("").is_empty());
        assert!(parse_www_authenticate(" , ,, ").is_empty());
        assert!(parse_www_authenticate("\"quoted\"").is_empty());
        let c = parse_www_authenticate(r#"Bearer realm="unterminated"#);
        assert_eq!(c[0].param("realm"), Some("unterminated"));
        let c = parse_www_authenticate("Bearer =oops, realm=\"r\"");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].param("realm"), Some("r"));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,120}") {
            let _ = BearerChallenge::find(&parse_www_authenticate(&s));
        }

        #[test]
        fn never_panics_on_header_like_input(s in "[A-Za-z =,\"\\\\:/._-]{0,120}") {
            let _ = BearerChallenge::find(&parse_www_authenticate(&s));
        }

        #[test]
        fn quoted_values_round_trip(
            scheme in "[A-Za-z][A-Za-z0-9]{0,8}",
            params in prop::collection::vec(("[a-z][a-z0-9_]{0,6}", "[ -~]{0,30}"), 1..5),
        ) {
            let header = params.iter()
                .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect::<Vec<_>>()
                .join(", ");
            let c = parse_www_authenticate(&format!("{scheme} {header}"));
            prop_assert_eq!(c.len(), 1);
            let got: Vec<_> = c[0].params().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            prop_assert_eq!(got, params);
        }
    }
}
