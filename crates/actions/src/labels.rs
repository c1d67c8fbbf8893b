//! The container labels the engine reads (the lifecycle-hook labels live in
//! `watchtower-lifecycle`), and how their values are read.

use std::collections::BTreeMap;

use tracing::warn;
use watchtower_container_client::Container;

use crate::params::UpdateOrder;

/// Marks a watchtower instance (value exactly `true`).
pub const WATCHTOWER: &str = "com.centurylinklabs.watchtower";
/// `true`/`false`: include or always exclude a container.
pub const ENABLE: &str = "com.centurylinklabs.watchtower.enable";
/// Per-container monitor-only.
pub const MONITOR_ONLY: &str = "com.centurylinklabs.watchtower.monitor-only";
/// Per-container no-pull.
pub const NO_PULL: &str = "com.centurylinklabs.watchtower.no-pull";
/// The instance scope a container belongs to.
pub const SCOPE: &str = "com.centurylinklabs.watchtower.scope";
/// Comma-separated names of containers this one depends on.
pub const DEPENDS_ON: &str = "com.centurylinklabs.watchtower.depends-on";
/// Signal used to stop the container.
pub const STOP_SIGNAL: &str = "com.centurylinklabs.watchtower.stop-signal";
/// Set by watchtower (not read): marks the container that keeps a `--rm` container's
/// anonymous volumes while it stops; the value is the container's name.
pub const VOLUME_HOLDER: &str = "com.centurylinklabs.watchtower.volume-holder";
/// `true` / `false`: whether this container's updates pass the health gate; wins over
/// `--health-gate` both ways.
pub const HEALTH_GATE: &str = "com.centurylinklabs.watchtower.health-gate";
/// `start-first` / `stop-first`: this container's update order; wins over `--update-order`.
pub const UPDATE_ORDER: &str = "com.centurylinklabs.watchtower.update-order";
/// Set by watchtower (not read from users): on a container made by a gated or start-first
/// update, the ID of the container it replaces. An interrupted session's successor reads it
/// to tell a replacement that still has its gate to pass from one a user made.
pub const REPLACES: &str = "com.centurylinklabs.watchtower.replaces";
/// Zodiac compatibility: the image reference to use instead of `Config.Image`.
pub const ZODIAC_ORIGINAL_IMAGE: &str = "com.centurylinklabs.zodiac.original-image";

/// Parses a boolean the way Go's `strconv.ParseBool` does (`1 t T TRUE true True` and
/// `0 f F FALSE false False`); anything else is `None`. The original read labels, flags and
/// environment variables this way; the binary uses this function for its boolean flags too.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The value of a boolean label: `None` when absent or unparsable (the latter is logged).
pub(crate) fn bool_label(labels: &BTreeMap<String, String>, label: &str) -> Option<bool> {
    let raw = labels.get(label)?;
    let parsed = parse_bool(raw);
    if parsed.is_none() {
        warn!(label, value = %raw, "label is not a boolean; ignoring it");
    }
    parsed
}

/// Combines a per-container boolean label with its global flag:
/// label absent or unparsable gives the flag; with `label_takes_precedence` the label's
/// value wins; otherwise label OR flag (a label can only switch the behaviour on).
pub fn label_or_global(
    labels: &BTreeMap<String, String>,
    label: &str,
    global: bool,
    label_takes_precedence: bool,
) -> bool {
    match bool_label(labels, label) {
        None => global,
        Some(value) if label_takes_precedence => value,
        Some(value) => value || global,
    }
}

/// Whether the container is a watchtower instance (label value exactly `true`).
pub fn is_watchtower(container: &Container) -> bool {
    container
        .labels
        .get(WATCHTOWER)
        .is_some_and(|v| v == "true")
}

/// The container's scope: the label's value, with a missing or empty label meaning `none`.
pub fn scope_of(container: &Container) -> &str {
    match container.labels.get(SCOPE).map(String::as_str) {
        None | Some("") => "none",
        Some(scope) => scope,
    }
}

/// The stop signal from the label, else `SIGTERM` (the image's `StopSignal` is not consulted,
/// as in the original).
pub fn stop_signal_of(container: &Container) -> String {
    container
        .labels
        .get(STOP_SIGNAL)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .unwrap_or("SIGTERM")
        .to_owned()
}

/// Set by the engine on a Swarm task's container: the service's name and ID, the task's ID.
pub const SWARM_SERVICE_NAME: &str = "com.docker.swarm.service.name";
/// See [`SWARM_SERVICE_NAME`].
pub const SWARM_SERVICE_ID: &str = "com.docker.swarm.service.id";
/// See [`SWARM_SERVICE_NAME`].
pub const SWARM_TASK_ID: &str = "com.docker.swarm.task.id";

/// The Swarm service a task container belongs to (its name, else its ID, else `unknown`),
/// or `None` for a container that is not a Swarm task.
pub fn swarm_service_of(container: &Container) -> Option<&str> {
    let l = &container.labels;
    if !l.contains_key(SWARM_SERVICE_ID) && !l.contains_key(SWARM_TASK_ID) {
        return None;
    }
    Some(
        l.get(SWARM_SERVICE_NAME)
            .or_else(|| l.get(SWARM_SERVICE_ID))
            .map_or("unknown", String::as_str),
    )
}

/// Whether the container's updates pass the health gate: its `health-gate` label when that
/// is a boolean, else `--health-gate`.
pub fn health_gate_of(container: &Container, global: bool) -> bool {
    bool_label(&container.labels, HEALTH_GATE).unwrap_or(global)
}

/// The container's update order: its `update-order` label when valid (an invalid one is
/// logged and ignored), else `--update-order`.
pub fn update_order_of(container: &Container, global: UpdateOrder) -> UpdateOrder {
    let Some(raw) = container.labels.get(UPDATE_ORDER) else {
        return global;
    };
    UpdateOrder::parse(raw).unwrap_or_else(|| {
        warn!(container = %container.name, label = UPDATE_ORDER, value = %raw,
            "label is neither start-first nor stop-first; ignoring it");
        global
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn booleans_parse_like_go() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["yes", "tRUE", "", " true", "2"] {
            assert_eq!(parse_bool(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn label_or_global_follows_the_precedence_rule() {
        let on = labels(&[(MONITOR_ONLY, "true")]);
        let off = labels(&[(MONITOR_ONLY, "false")]);
        let junk = labels(&[(MONITOR_ONLY, "maybe")]);
        let none = labels(&[]);
        // Absent or unparsable: the global flag.
        for l in [&none, &junk] {
            for precedence in [false, true] {
                assert!(label_or_global(l, MONITOR_ONLY, true, precedence));
                assert!(!label_or_global(l, MONITOR_ONLY, false, precedence));
            }
        }
        // Without precedence: OR.
        assert!(label_or_global(&on, MONITOR_ONLY, false, false));
        assert!(label_or_global(&off, MONITOR_ONLY, true, false));
        assert!(!label_or_global(&off, MONITOR_ONLY, false, false));
        // With precedence: the label.
        assert!(!label_or_global(&off, MONITOR_ONLY, true, true));
        assert!(label_or_global(&on, MONITOR_ONLY, false, true));
    }

    #[test]
    fn scope_stop_signal_and_watchtower_marker() {
        let mut c = Container::default();
        assert_eq!(scope_of(&c), "none");
        assert_eq!(stop_signal_of(&c), "SIGTERM");
        assert!(!is_watchtower(&c));
        c.labels = labels(&[(SCOPE, ""), (STOP_SIGNAL, "SIGHUP"), (WATCHTOWER, "True")]);
        assert_eq!(scope_of(&c), "none");
        assert_eq!(stop_signal_of(&c), "SIGHUP");
        assert!(
            !is_watchtower(&c),
            "only exactly \"true\" marks an instance"
        );
        c.labels = labels(&[(SCOPE, "prod"), (WATCHTOWER, "true")]);
        assert_eq!(scope_of(&c), "prod");
        assert!(is_watchtower(&c));
    }

    #[test]
    fn the_gate_and_order_labels_win_over_the_flags_both_ways() {
        let mut c = Container::default();
        assert!(health_gate_of(&c, true));
        assert!(!health_gate_of(&c, false));
        assert_eq!(
            update_order_of(&c, UpdateOrder::StartFirst),
            UpdateOrder::StartFirst
        );
        c.labels = labels(&[(HEALTH_GATE, "false"), (UPDATE_ORDER, "stop-first")]);
        assert!(!health_gate_of(&c, true));
        assert_eq!(
            update_order_of(&c, UpdateOrder::StartFirst),
            UpdateOrder::StopFirst
        );
        c.labels = labels(&[(HEALTH_GATE, "true"), (UPDATE_ORDER, "start-first")]);
        assert!(health_gate_of(&c, false));
        assert_eq!(
            update_order_of(&c, UpdateOrder::StopFirst),
            UpdateOrder::StartFirst
        );
        // Unparsable values are ignored: the flags decide.
        c.labels = labels(&[(HEALTH_GATE, "yes"), (UPDATE_ORDER, "sideways")]);
        assert!(!health_gate_of(&c, false));
        assert_eq!(
            update_order_of(&c, UpdateOrder::StopFirst),
            UpdateOrder::StopFirst
        );
    }
}
