//! How a session behaves: the flags of the original, one field each.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use watchtower_container_client::ListOptions;

use crate::WarnOnHeadFailure;

/// Session settings. Build with `Params::default()` and set fields; the defaults are the
/// original's defaults.
///
/// ```
/// use std::time::Duration;
/// use watchtower_actions::Params;
///
/// let mut params = Params::default();
/// params.cleanup = true;
/// params.stop_timeout = Duration::from_secs(30);
/// params.include_stopped = true;
/// assert!(!params.monitor_only);
/// // What the engine is asked to list for a session.
/// let list = params.list_options();
/// assert!(list.include_stopped && !list.include_restarting);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Params {
    /// `--cleanup`: after all restarts, remove old images that no container uses any more.
    pub cleanup: bool,
    /// `--remove-volumes`: remove the old container's anonymous volumes with it (those the new
    /// container carried over stay: the engine removes no volume another container uses).
    pub remove_volumes: bool,
    /// `--no-pull`: never contact a registry; compare with the local image cache only.
    pub no_pull: bool,
    /// `--no-restart`: stop and remove stale containers without creating replacements.
    pub no_restart: bool,
    /// `--monitor-only`: check and report, never stop or recreate.
    pub monitor_only: bool,
    /// `--label-take-precedence`: the monitor-only and no-pull labels override the flags
    /// both ways (otherwise a label can only switch them on).
    pub label_take_precedence: bool,
    /// `--include-stopped`: also created and exited containers.
    pub include_stopped: bool,
    /// `--include-restarting`: also restarting containers.
    pub include_restarting: bool,
    /// `--revive-stopped`: start recreated containers even if the old one was not running.
    pub revive_stopped: bool,
    /// `--rolling-restart`: update one container at a time, waiting until each new one is
    /// ready ([`ready_timeout`](Self::ready_timeout)) before the next.
    pub rolling_restart: bool,
    /// `--enable-lifecycle-hooks`.
    pub lifecycle_hooks: bool,
    /// `--stop-timeout`: how long a container may take to stop before it is killed.
    pub stop_timeout: Duration,
    /// `--warn-on-head-failure`.
    pub warn_on_head_failure: WarnOnHeadFailure,
    /// How many distinct images are checked (and pulled) at the same time.
    pub check_concurrency: usize,
    /// With rolling restarts: how long a new container may take to run (and, with a
    /// healthcheck, to become healthy) before the update is rolled back.
    pub ready_timeout: Duration,
    /// `--health-gate`: after a new container starts, it must pass the health gate (healthy
    /// within [`health_gate_timeout`](Self::health_gate_timeout) with a healthcheck; running
    /// without a restart for [`health_gate_settle`](Self::health_gate_settle) without one),
    /// or it is rolled back. The label `com.centurylinklabs.watchtower.health-gate` wins for
    /// its container.
    pub health_gate: bool,
    /// `--health-gate-timeout`: how long a new container with a healthcheck may take to
    /// become healthy.
    pub health_gate_timeout: Duration,
    /// `--health-gate-settle`: how long a new container without a healthcheck must keep
    /// running, with no restart.
    pub health_gate_settle: Duration,
    /// `--update-order`: stop the old container first (the original's way), or start the new
    /// one first. The label `com.centurylinklabs.watchtower.update-order` wins for its
    /// container.
    pub update_order: UpdateOrder,
    /// Asks a running session to stop between containers (see [`CancelToken`]).
    pub cancel: CancelToken,
}

/// In which order an update replaces a container (`--update-order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateOrder {
    /// Stop the old container, then create and start the new one (the original's way).
    #[default]
    StopFirst,
    /// Rename the running old container aside, create and start the new one (and pass the
    /// health gate when it is on), and only then stop and remove the old one. Falls back to
    /// stop-first when two cannot run at once (host ports, a static address, a shared network
    /// namespace, writable volumes).
    StartFirst,
}

impl UpdateOrder {
    /// Parses `start-first` or `stop-first` (as the flag and the label spell it).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "stop-first" => Some(Self::StopFirst),
            "start-first" => Some(Self::StartFirst),
            _ => None,
        }
    }

    /// The spelling of the flag and the label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StopFirst => "stop-first",
            Self::StartFirst => "start-first",
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Self {
            cleanup: false,
            remove_volumes: false,
            no_pull: false,
            no_restart: false,
            monitor_only: false,
            label_take_precedence: false,
            include_stopped: false,
            include_restarting: false,
            revive_stopped: false,
            rolling_restart: false,
            lifecycle_hooks: false,
            stop_timeout: Duration::from_secs(10),
            warn_on_head_failure: WarnOnHeadFailure::Auto,
            check_concurrency: 8,
            ready_timeout: Duration::from_secs(60),
            health_gate: false,
            health_gate_timeout: Duration::from_secs(120),
            health_gate_settle: Duration::from_secs(10),
            update_order: UpdateOrder::StopFirst,
            cancel: CancelToken::new(),
        }
    }
}

impl Params {
    /// Which containers the engine is asked for: `--include-stopped` and
    /// `--include-restarting` (e.g. for [`check_rolling_restart`](crate::check_rolling_restart)).
    pub fn list_options(&self) -> ListOptions {
        ListOptions {
            include_stopped: self.include_stopped,
            include_restarting: self.include_restarting,
        }
    }
}

/// Asks a running session to stop at the next container boundary.
///
/// Cloning shares the flag. After [`cancel`](Self::cancel), a session finishes (or rolls
/// back) the container it is working on, recreates every container it has already stopped,
/// records the rest as skipped and returns its report. The binary cancels on SIGTERM.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every session holding a clone of this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Formats like Go's `Duration.String` for whole seconds and above (`1h30m0s`, `10s`),
/// which is how the original printed durations.
pub fn format_go_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    let millis = duration.subsec_millis();
    if total == 0 {
        return if duration.is_zero() {
            "0s".to_owned()
        } else if millis > 0 {
            format!("{millis}ms")
        } else {
            format!("{}ns", duration.subsec_nanos())
        };
    }
    let seconds = if millis > 0 {
        format!("{s}.{millis:03}").trim_end_matches('0').to_owned()
    } else {
        s.to_string()
    };
    match (h, m) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{m}m{seconds}s"),
        _ => format!("{h}h{m}m{seconds}s"),
    }
}
