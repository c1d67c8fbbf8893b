//! The bearer-token cache: one token per (realm, service, scope), reused until shortly before
//! it expires, and one fetch for any number of concurrent askers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::http::HttpClient;
use crate::token::{Token, TokenGrant, fetch_token};
use crate::{BearerChallenge, Clock, Credential, Error};

/// What a token is for. Tokens are cached per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenKey {
    /// The token endpoint.
    pub realm: String,
    /// The `service` of the challenge, if any.
    pub service: Option<String>,
    /// The scope asked for, for example `repository:library/nginx:pull`.
    pub scope: String,
}

impl TokenKey {
    /// The key for `scope` under `challenge`.
    pub fn new(challenge: &BearerChallenge, scope: &str) -> Self {
        Self {
            realm: challenge.realm.clone(),
            service: challenge.service.clone(),
            scope: scope.to_owned(),
        }
    }
}

/// The default safety margin: a token is not handed out in the last 10 s of its life (or the
/// last half, for tokens living less than 20 s), so that it does not expire in flight.
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(10);

type Slot = Arc<tokio::sync::Mutex<Option<Token>>>;

/// An in-memory token cache with an injectable clock.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use std::time::{Duration, SystemTime};
/// use watchtower_registry_auth::{FakeClock, Secret, TokenCache, TokenGrant, TokenKey};
///
/// let clock = FakeClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// let cache = TokenCache::new(Arc::new(clock.clone()));
/// let key = TokenKey { realm: "https://auth/token".into(), service: None, scope: "repository:a:pull".into() };
/// let grant = || async {
///     Ok(TokenGrant { token: Secret::new("t"), expires_in: Duration::from_secs(60), issued_at: None })
/// };
/// let first = cache.get_or_fetch(&key, grant).await.unwrap();
/// // Within its lifetime the same token comes back without fetching.
/// let again = cache.get_or_fetch(&key, || async { unreachable!("cached") }).await.unwrap();
/// assert_eq!(first.secret(), again.secret());
/// clock.advance(Duration::from_secs(55)); // inside the 10 s margin before expiry
/// assert!(cache.cached(&key).await.is_none());
/// # }
/// ```
#[derive(Debug)]
pub struct TokenCache {
    clock: Arc<dyn Clock>,
    margin: Duration,
    slots: Mutex<HashMap<TokenKey, Slot>>,
}

impl TokenCache {
    /// A cache using `clock` and the [`DEFAULT_MARGIN`].
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_margin(clock, DEFAULT_MARGIN)
    }

    /// A cache with an explicit safety margin.
    pub fn with_margin(clock: Arc<dyn Clock>, margin: Duration) -> Self {
        Self {
            clock,
            margin,
            slots: Mutex::default(),
        }
    }

    /// The clock the cache reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn slot(&self, key: &TokenKey) -> Slot {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone()
    }

    /// The cached token for `key`, if it is still usable now.
    pub async fn cached(&self, key: &TokenKey) -> Option<Token> {
        let slot = self.slot(key);
        let guard = slot.lock().await;
        guard
            .as_ref()
            .filter(|t| self.clock.now() < t.usable_until())
            .cloned()
    }

    /// The cached token for `key`, or a new one from `fetch`. Concurrent callers with the same
    /// key wait for the one fetch in progress and share its token. A failed fetch is not
    /// cached: the next caller tries again.
    pub async fn get_or_fetch<F, Fut>(&self, key: &TokenKey, fetch: F) -> Result<Token, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<TokenGrant, Error>>,
    {
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        if let Some(token) = guard.as_ref()
            && self.clock.now() < token.usable_until()
        {
            return Ok(token.clone());
        }
        let requested_at = self.clock.now();
        let grant = fetch().await?;
        let token = self.token_from(&grant, requested_at, key);
        *guard = Some(token.clone());
        Ok(token)
    }

    /// Drops `token` for `key` if it is still the cached one (the registry refused it).
    pub async fn invalidate(&self, key: &TokenKey, token: &Token) {
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        if guard.as_ref().is_some_and(|t| t.same_as(token)) {
            *guard = None;
        }
    }

    /// How many keys hold a token (usable or not).
    pub fn len(&self) -> usize {
        let slots: Vec<Slot> = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        slots
            .iter()
            .filter(|s| s.try_lock().map_or(true, |g| g.is_some()))
            .count()
    }

    /// True when no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn token_from(&self, grant: &TokenGrant, requested_at: SystemTime, key: &TokenKey) -> Token {
        let lifetime = grant.expires_in;
        let margin = self.margin.min(lifetime / 2);
        let now = self.clock.now();
        let make = |start: SystemTime| {
            let expires_at = start + lifetime;
            Token::new(grant.token.clone(), expires_at, expires_at - margin)
        };
        // `issued_at` shortens the life of a token the server handed out earlier, but only when
        // it is plausible on our clock: not in the future, and not so far back that the token
        // would be useless already (the server's clock and ours disagree).
        match grant.issued_at {
            Some(issued) if issued <= now => {
                let token = make(issued.min(requested_at));
                if token.usable_until() > now {
                    return token;
                }
                tracing::debug!(realm = %key.realm, scope = %key.scope,
                    "token issued_at is too far in the past for the local clock; counting from the request");
                make(requested_at)
            }
            Some(_) => {
                tracing::debug!(realm = %key.realm, scope = %key.scope,
                    "token issued_at lies in the future of the local clock; counting from the request");
                make(requested_at)
            }
            None => make(requested_at),
        }
    }
}

/// Bearer tokens for registry requests: the shared HTTP client plus the cache.
#[derive(Debug, Clone)]
pub struct TokenService {
    http: HttpClient,
    cache: Arc<TokenCache>,
}

impl TokenService {
    /// Tokens fetched through `http`, cached with `cache`.
    pub fn new(http: HttpClient, cache: Arc<TokenCache>) -> Self {
        Self { http, cache }
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<TokenCache> {
        &self.cache
    }

    /// A token for `scope` at `challenge`'s realm: cached, or fetched once for all concurrent
    /// askers. `registry` names the host in errors.
    pub async fn token(
        &self,
        registry: &str,
        challenge: &BearerChallenge,
        scope: &str,
        credential: Option<&Credential>,
    ) -> Result<Token, Error> {
        let key = TokenKey::new(challenge, scope);
        self.cache
            .get_or_fetch(&key, || {
                fetch_token(&self.http, registry, challenge, scope, credential)
            })
            .await
    }

    /// Forgets `token` (for example after the registry answered 401 to it).
    pub async fn invalidate(&self, challenge: &BearerChallenge, scope: &str, token: &Token) {
        self.cache
            .invalidate(&TokenKey::new(challenge, scope), token)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FakeClock, Secret};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn start() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_763_035_200)
    }

    fn key(scope: &str) -> TokenKey {
        TokenKey {
            realm: "https://auth.example.com/token".into(),
            service: Some("example".into()),
            scope: scope.into(),
        }
    }

    fn grant(value: &str, secs: u64, issued_at: Option<SystemTime>) -> TokenGrant {
        TokenGrant {
            token: Secret::new(value),
            expires_in: Duration::from_secs(secs),
            issued_at,
        }
    }

    #[tokio::test]
    async fn hit_miss_and_expiry_follow_the_clock() {
        let clock = FakeClock::new(start());
        let cache = TokenCache::new(Arc::new(clock.clone()));
        let k = key("repository:repo:pull");
        assert!(cache.cached(&k).await.is_none());
        let t = cache
            .get_or_fetch(&k, || async { Ok(grant("tok-1", 60, None)) })
            .await
            .unwrap();
        assert_eq!(t.expires_at(), start() + Duration::from_secs(60));
        assert_eq!(t.usable_until(), start() + Duration::from_secs(50));
        clock.advance(Duration::from_secs(49));
        assert_eq!(cache.cached(&k).await.unwrap().secret().expose(), "tok-1");
        clock.advance(Duration::from_secs(1));
        assert!(cache.cached(&k).await.is_none());
        let t = cache
            .get_or_fetch(&k, || async { Ok(grant("tok-2", 60, None)) })
            .await
            .unwrap();
        assert_eq!(t.secret().expose(), "tok-2");
        // Other scopes are other tokens.
        assert!(cache.cached(&key("repository:other:pull")).await.is_none());
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test]
    async fn short_lived_tokens_keep_half_their_life() {
        let clock = FakeClock::new(start());
        let cache = TokenCache::new(Arc::new(clock.clone()));
        let k = key("s");
        let t = cache
            .get_or_fetch(&k, || async { Ok(grant("t", 4, None)) })
            .await
            .unwrap();
        assert_eq!(t.usable_until(), start() + Duration::from_secs(2));
    }

    #[tokio::test]
    async fn issued_at_counts_only_when_plausible() {
        let clock = FakeClock::new(start());
        let cache = TokenCache::new(Arc::new(clock.clone()));
        // Issued 20 s ago (a token server handing out a cached token): expires 40 s from now.
        let t = cache
            .get_or_fetch(&key("a"), || async {
                Ok(grant("t", 60, Some(start() - Duration::from_secs(20))))
            })
            .await
            .unwrap();
        assert_eq!(t.expires_at(), start() + Duration::from_secs(40));
        // A server clock far behind or ahead of ours is ignored.
        for issued in [
            start() - Duration::from_secs(3600),
            start() + Duration::from_secs(3600),
        ] {
            let t = cache
                .get_or_fetch(&key(&format!("{issued:?}")), || async {
                    Ok(grant("t", 60, Some(issued)))
                })
                .await
                .unwrap();
            assert_eq!(t.expires_at(), start() + Duration::from_secs(60));
        }
    }

    #[tokio::test]
    async fn failures_are_not_cached_and_invalidate_drops_the_token() {
        let cache = TokenCache::new(Arc::new(FakeClock::new(start())));
        let k = key("x");
        let err = cache
            .get_or_fetch(&k, || async {
                Err(Error::Challenge {
                    registry: "r".into(),
                    reason: "boom".into(),
                })
            })
            .await;
        assert!(err.is_err());
        assert!(cache.is_empty());
        let t = cache
            .get_or_fetch(&k, || async { Ok(grant("a", 60, None)) })
            .await
            .unwrap();
        // Invalidating a different token does nothing; the same one drops it.
        let other = Token::new(Secret::new("zzz"), t.expires_at(), t.usable_until());
        cache.invalidate(&k, &other).await;
        assert!(cache.cached(&k).await.is_some());
        cache.invalidate(&k, &t).await;
        assert!(cache.cached(&k).await.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_misses_fetch_once_per_key() {
        let clock = FakeClock::new(start());
        let cache = Arc::new(TokenCache::new(Arc::new(clock.clone())));
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..200 {
            let cache = cache.clone();
            let fetches = fetches.clone();
            tasks.push(tokio::spawn(async move {
                let k = key(if i % 2 == 0 { "even" } else { "odd" });
                cache
                    .get_or_fetch(&k, || async move {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        // Hold the fetch open so that the other askers really pile up.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(grant(&format!("tok-{i}"), 60, None))
                    })
                    .await
                    .unwrap()
            }));
        }
        let mut even = std::collections::HashSet::new();
        for (i, t) in tasks.into_iter().enumerate() {
            let t = t.await.unwrap();
            if i % 2 == 0 {
                even.insert(t.secret().expose().to_owned());
            }
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        assert_eq!(even.len(), 1, "every even asker got the same token");

        // Readers racing with expiry: after the clock passes the margin, exactly one refetch.
        clock.advance(Duration::from_secs(51));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let cache = cache.clone();
            let fetches = fetches.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_fetch(&key("even"), || async move {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        Ok(grant("fresh", 60, None))
                    })
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().secret().expose(), "fresh");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }
}
