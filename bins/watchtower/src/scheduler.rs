//! The schedule loop: waits for each activation of the [`Schedule`] and ticks
//! [`Sessions`]. Like the original (robfig/cron), the **first session runs at the first
//! activation, not at start-up** (with the default interval, 24 hours after start), and
//! activations keep their rhythm while a session runs: a tick that finds one still running
//! is skipped and counted.
//!
//! Waiting uses `tokio::time`, and the wall clock comes from a [`Clock`], so tests run the
//! loop on tokio's paused clock with a [`TokioClock`].

use chrono::{DateTime, Local};

use crate::sessions::{Sessions, Tick};
use watchtower_config::schedule::Schedule;

/// Wall-clock time (cron specs name wall-clock times in the local time zone).
pub trait Clock: Send + Sync {
    /// Now, in the local time zone.
    fn now(&self) -> DateTime<Local>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Local> {
        Local::now()
    }
}

/// A wall clock that starts at a chosen time and advances with `tokio::time` (paused or
/// not), for tests.
#[derive(Debug, Clone)]
pub struct TokioClock {
    start_wall: DateTime<Local>,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// Starts now (in tokio time) at `wall`.
    pub fn starting_at(wall: DateTime<Local>) -> Self {
        Self {
            start_wall: wall,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Local> {
        let elapsed = chrono::Duration::from_std(self.start.elapsed()).unwrap_or_default();
        self.start_wall + elapsed
    }
}

/// The loop over a schedule.
pub struct Scheduler<C> {
    schedule: Schedule,
    clock: C,
}

impl<C: Clock> Scheduler<C> {
    /// A scheduler for `schedule` reading time from `clock`.
    pub fn new(schedule: Schedule, clock: C) -> Self {
        Self { schedule, clock }
    }

    /// When the first session will run, from now; `None` if the schedule never fires.
    pub fn first_run(&self) -> Option<DateTime<Local>> {
        self.schedule.next_after(&self.clock.now())
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Ticks `sessions` at every activation from `first` on, until `stop` completes. Returns
    /// the number of activations seen.
    pub async fn run(
        &self,
        first: DateTime<Local>,
        sessions: &Sessions,
        stop: impl Future<Output = ()>,
    ) -> u64 {
        let mut stop = std::pin::pin!(stop);
        let mut next = first;
        let mut activations = 0;
        loop {
            let wait = (next - self.clock.now()).to_std().unwrap_or_default();
            tokio::select! {
                () = &mut stop => return activations,
                () = tokio::time::sleep(wait) => {}
            }
            activations += 1;
            match sessions.tick() {
                Tick::Started(_) | Tick::Skipped => {}
                Tick::ShuttingDown => return activations,
            }
            // Never fire twice for one activation, even if the sleep ended a little early.
            let after = std::cmp::max(self.clock.now(), next);
            let Some(following) = self.schedule.next_after(&after) else {
                tracing::warn!(schedule = %self.schedule, "the schedule fires no more");
                stop.await;
                return activations;
            };
            next = following;
            tracing::debug!("Scheduled next run: {next}");
        }
    }
}
