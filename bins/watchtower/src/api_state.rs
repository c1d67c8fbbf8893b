//! What the HTTP API's read side remembers between requests: the last sessions' reports
//! (`GET /v1/history`, at most [`HISTORY_LIMIT`]) and, per container name, the last result
//! a session or a check found (`GET /v1/containers`). Kept in memory only, from start.
//!
//! [`Sessions`](crate::sessions::Sessions) records every session it runs and every check it
//! serves here; the JSON shapes are documented in `docs/http-api.md` and in the `OpenAPI`
//! document of `watchtower-http-api`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use watchtower_actions::{CheckPlan, CheckState};
use watchtower_container_client::{Container, ContainerState};
use watchtower_session_report::{Report, State};

use crate::scheduler::Clock;
use crate::sessions::SessionFailed;

/// How many sessions `GET /v1/history` keeps, newest first.
pub const HISTORY_LIMIT: usize = 20;

/// The last result found for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LastCheck {
    /// `fresh`, `stale`, `updated`, `failed` or `skipped`.
    result: &'static str,
    reason: Option<String>,
    /// `update` (a session) or `check`.
    source: &'static str,
    time: DateTime<Utc>,
}

struct Inner {
    history: VecDeque<Value>,
    last: BTreeMap<String, LastCheck>,
}

/// The memory of the read side. Shared by the sessions and the API.
pub struct Record {
    clock: Box<dyn Clock>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record").finish_non_exhaustive()
    }
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn report_result(state: State) -> &'static str {
    match state {
        State::Skipped => "skipped",
        // A built report holds no `Scanned` entry; were one there, it was checked and
        // nothing else was decided.
        State::Fresh | State::Scanned => "fresh",
        State::Stale => "stale",
        State::Updated => "updated",
        State::Failed => "failed",
    }
}

fn check_result(state: CheckState) -> &'static str {
    match state {
        CheckState::Fresh => "fresh",
        CheckState::Stale => "stale",
        CheckState::Skipped => "skipped",
        CheckState::Failed => "failed",
    }
}

/// A container's state in Docker's words.
pub fn state_word(state: &ContainerState) -> &str {
    match state {
        ContainerState::Created => "created",
        ContainerState::Running => "running",
        ContainerState::Paused => "paused",
        ContainerState::Restarting => "restarting",
        ContainerState::Removing => "removing",
        ContainerState::Exited => "exited",
        ContainerState::Dead => "dead",
        ContainerState::Other(other) => other.as_str(),
        // Non-exhaustive: a state added later reads `unknown` until it gets its own arm.
        _ => "unknown",
    }
}

impl Record {
    /// An empty record reading wall-clock time from `clock`.
    pub fn new(clock: Box<dyn Clock>) -> Self {
        Self {
            clock,
            inner: Mutex::new(Inner {
                history: VecDeque::with_capacity(HISTORY_LIMIT),
                last: BTreeMap::new(),
            }),
        }
    }

    /// Now, for the time stamps.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().with_timezone(&Utc)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-written in a way that
        // matters here: keep serving what is there.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a session that started at `started` and just ended with `result`: its
    /// report joins the history (the oldest one beyond [`HISTORY_LIMIT`] is dropped) and
    /// each of its containers' results become their last ones.
    pub fn session(&self, started: DateTime<Utc>, result: &Result<Report, SessionFailed>) {
        let finished = self.now();
        let (report, error) = match result {
            Ok(report) => match serde_json::to_value(report) {
                Ok(value) => (value, Value::Null),
                Err(err) => (
                    Value::Null,
                    json!(format!("cannot encode the report: {err}")),
                ),
            },
            Err(err) => (Value::Null, json!(err.0)),
        };
        let mut inner = self.lock();
        inner.history.push_front(json!({
            "started": rfc3339(started),
            "finished": rfc3339(finished),
            "report": report,
            "error": error,
        }));
        inner.history.truncate(HISTORY_LIMIT);
        if let Ok(report) = result {
            for entry in report.all() {
                inner.last.insert(
                    entry.name().trim_start_matches('/').to_owned(),
                    LastCheck {
                        result: report_result(entry.state()),
                        reason: entry.error().map(str::to_owned),
                        source: "update",
                        time: finished,
                    },
                );
            }
        }
    }

    /// Records what a check found: each container's state becomes its last result.
    pub fn check(&self, plan: &CheckPlan) {
        let time = self.now();
        let mut inner = self.lock();
        for c in &plan.containers {
            inner.last.insert(
                c.name.clone(),
                LastCheck {
                    result: check_result(c.state),
                    reason: c.reason.clone(),
                    source: "check",
                    time,
                },
            );
        }
    }

    /// `GET /v1/history`: `{"limit": 20, "sessions": [newest first]}`.
    pub fn history_json(&self) -> Value {
        let inner = self.lock();
        json!({
            "limit": HISTORY_LIMIT,
            "sessions": inner.history.iter().cloned().collect::<Vec<_>>(),
        })
    }

    /// `GET /v1/containers`: the watched containers (with the image reference a check
    /// uses), each with its last result, or `null` when none was found since start.
    pub fn containers_json(&self, watched: &[(Container, String)]) -> Value {
        let inner = self.lock();
        let containers: Vec<Value> = watched
            .iter()
            .map(|(c, image)| {
                let name = c.name.trim_start_matches('/');
                let last = inner.last.get(name).map_or(Value::Null, |last| {
                    json!({
                        "result": last.result,
                        "reason": last.reason,
                        "source": last.source,
                        "time": rfc3339(last.time),
                    })
                });
                json!({
                    "name": name,
                    "id": c.id,
                    "state": state_word(&c.state),
                    "image": image,
                    "image_id": c.image_id,
                    "last_check": last,
                })
            })
            .collect();
        json!({ "containers": containers })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Local, TimeZone};
    use watchtower_actions::{CheckAction, CheckedContainer};
    use watchtower_session_report::{ContainerRef, ReportBuilder};

    use super::*;

    struct Fixed;

    impl Clock for Fixed {
        fn now(&self) -> DateTime<Local> {
            Local.timestamp_opt(1_800_000_000, 0).unwrap()
        }
    }

    fn report(name: &str) -> Report {
        let c = ContainerRef::new(
            format!("{name}-id"),
            format!("/{name}"),
            "app:1",
            "sha256:1",
        );
        let mut b = ReportBuilder::new();
        b.scanned(&c, "sha256:2");
        b.updated(&c, "sha256:2");
        b.build()
    }

    fn container(name: &str, state: ContainerState) -> Container {
        Container {
            id: format!("{name}-id"),
            name: name.to_owned(),
            image_id: "sha256:1".to_owned(),
            state,
            ..Container::default()
        }
    }

    #[test]
    fn the_history_keeps_the_newest_sessions_up_to_the_limit() {
        let record = Record::new(Box::new(Fixed));
        for i in 0..HISTORY_LIMIT + 5 {
            record.session(record.now(), &Ok(report(&format!("c{i}"))));
        }
        record.session(record.now(), &Err(SessionFailed("engine gone".to_owned())));
        let history = record.history_json();
        let sessions = history["sessions"].as_array().unwrap();
        assert_eq!(history["limit"], HISTORY_LIMIT);
        assert_eq!(sessions.len(), HISTORY_LIMIT);
        assert_eq!(sessions[0]["error"], "engine gone");
        assert_eq!(sessions[0]["report"], Value::Null);
        let newest_report = &sessions[1]["report"]["updated"][0];
        assert_eq!(newest_report["name"], format!("/c{}", HISTORY_LIMIT + 4));
        assert_eq!(sessions[1]["error"], Value::Null);
        assert_eq!(sessions[1]["finished"], "2027-01-15T08:00:00.000Z");
    }

    #[test]
    fn containers_show_the_last_result_of_a_session_or_a_check() {
        let record = Record::new(Box::new(Fixed));
        let watched = [
            (
                container("web", ContainerState::Running),
                "app:1".to_owned(),
            ),
            (container("db", ContainerState::Exited), "db:2".to_owned()),
        ];
        let none = record.containers_json(&watched);
        assert_eq!(none["containers"][0]["last_check"], Value::Null);
        assert_eq!(none["containers"][1]["state"], "exited");

        record.session(record.now(), &Ok(report("web")));
        let after = record.containers_json(&watched);
        let web = &after["containers"][0];
        assert_eq!(web["name"], "web");
        assert_eq!(web["state"], "running");
        assert_eq!(web["image"], "app:1");
        assert_eq!(web["last_check"]["result"], "updated");
        assert_eq!(web["last_check"]["source"], "update");
        assert_eq!(web["last_check"]["time"], "2027-01-15T08:00:00.000Z");
        assert_eq!(after["containers"][1]["last_check"], Value::Null);

        record.check(&CheckPlan {
            containers: vec![CheckedContainer {
                name: "db".to_owned(),
                id: "db-id".to_owned(),
                image: "db:2".to_owned(),
                image_id: "sha256:1".to_owned(),
                state: CheckState::Failed,
                reason: Some("registry unreachable".to_owned()),
                local_digest: None,
                remote_digest: None,
                monitor_only: false,
                action: CheckAction::None,
                order: None,
                dependents: Vec::new(),
            }],
        });
        let db = &record.containers_json(&watched)["containers"][1]["last_check"];
        assert_eq!(db["result"], "failed");
        assert_eq!(db["reason"], "registry unreachable");
        assert_eq!(db["source"], "check");
    }
}
