//! The per-host bound on manifest requests: at most `limit` at once, where `limit` starts at
//! the configured maximum and follows what the registry says about its rate limit.
//!
//! * A `429 Too Many Requests` halves the limit (at least 1).
//! * An answer with `RateLimit-Remaining: R` caps the limit at `R / 2` (at least 1): with
//!   few requests left, fewer are sent at once, so a burst does not run into the wall
//!   together.
//! * Any other successful answer raises the limit by one, back up to the maximum.
//!
//! Lowering never cancels requests in flight: new ones wait until fewer than the new limit
//! run.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// The bound of one registry host, shared by every session of a client.
#[derive(Debug)]
pub(crate) struct HostLimit {
    max: usize,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug, Clone, Copy)]
struct State {
    limit: usize,
    in_flight: usize,
}

/// One request's place within the bound; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Permit {
    host: Arc<HostLimit>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.host
            .update(|s| s.in_flight = s.in_flight.saturating_sub(1));
    }
}

impl HostLimit {
    /// A bound of `max` requests at once (at least 1).
    pub(crate) fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            max,
            state: Mutex::new(State {
                limit: max,
                in_flight: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes the state and wakes every waiter to look again.
    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.lock());
        self.changed.notify_waiters();
    }

    /// How many requests may run at once now.
    pub(crate) fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Waits for a place within the limit.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            // Registered before looking, so a release between the look and the wait is seen.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = self.lock();
                if state.in_flight < state.limit {
                    state.in_flight += 1;
                    return Permit { host: self.clone() };
                }
            }
            changed.await;
        }
    }

    /// The registry answered 429: half as many at once from now on. Returns the new limit.
    pub(crate) fn rate_limited(&self) -> usize {
        let mut limit = 0;
        self.update(|s| {
            s.limit = (s.limit / 2).max(1);
            limit = s.limit;
        });
        limit
    }

    /// The registry answered (not 429), with `remaining` from its `RateLimit-Remaining`
    /// header when it sent one. Returns the new limit.
    pub(crate) fn answered(&self, remaining: Option<u64>) -> usize {
        let cap = remaining.map_or(self.max, |r| {
            usize::try_from(r / 2)
                .unwrap_or(usize::MAX)
                .clamp(1, self.max)
        });
        let mut limit = 0;
        self.update(|s| {
            s.limit = (s.limit + 1).min(cap);
            limit = s.limit;
        });
        limit
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Runs `tasks` requests of 100 ms each through `limit`; the most that ran at once.
    async fn peak_of(limit: &Arc<HostLimit>, tasks: usize) -> usize {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let (limit, running, peak) = (limit.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    let _permit = limit.acquire().await;
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        peak.load(Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn holds_the_maximum_and_uses_it() {
        let limit = Arc::new(HostLimit::new(20));
        assert_eq!(peak_of(&limit, 50).await, 20);
        assert_eq!(
            peak_of(&Arc::new(HostLimit::new(0)), 5).await,
            1,
            "at least one"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_halves_the_limit_and_answers_raise_it_again() {
        let limit = Arc::new(HostLimit::new(20));
        assert_eq!(limit.rate_limited(), 10);
        assert_eq!(peak_of(&limit, 50).await, 10);
        assert_eq!(limit.rate_limited(), 5);
        assert_eq!(limit.rate_limited(), 2);
        assert_eq!(limit.rate_limited(), 1);
        assert_eq!(limit.rate_limited(), 1, "never below one");
        assert_eq!(peak_of(&limit, 5).await, 1);
        // Successful answers without rate-limit headers: one more at a time each, up to 20.
        assert_eq!(limit.answered(None), 2);
        for _ in 0..30 {
            limit.answered(None);
        }
        assert_eq!(limit.limit(), 20);
    }

    #[tokio::test(start_paused = true)]
    async fn a_low_ratelimit_remaining_lowers_the_limit() {
        let limit = Arc::new(HostLimit::new(20));
        // Plenty left: no change.
        assert_eq!(limit.answered(Some(5000)), 20);
        // Ten left: at most five at once, as long as the registry says so.
        assert_eq!(limit.answered(Some(10)), 5);
        assert_eq!(limit.answered(Some(10)), 5);
        assert_eq!(peak_of(&limit, 20).await, 5);
        assert_eq!(limit.answered(Some(1)), 1);
        assert_eq!(limit.answered(Some(0)), 1, "never below one");
        // The window passed: the limit grows back one answer at a time.
        assert_eq!(limit.answered(Some(100)), 2);
        assert_eq!(limit.answered(None), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn lowering_makes_new_requests_wait_for_those_in_flight() {
        let limit = Arc::new(HostLimit::new(4));
        let held: Vec<Permit> =
            futures_util::future::join_all((0..4).map(|_| limit.acquire())).await;
        limit.rate_limited(); // 2 at once now, 4 in flight
        let waiting = tokio::spawn({
            let limit = limit.clone();
            async move { limit.acquire().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut held = held;
        held.pop();
        held.pop();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            !waiting.is_finished(),
            "2 in flight is not below the limit of 2"
        );
        held.pop();
        let permit = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("a place came free")
            .unwrap();
        drop(permit);
        drop(held);
        assert_eq!(peak_of(&limit, 6).await, 2);
    }
}
