//! `watchtower check [NAME...]`: which selected containers are stale, and what an update
//! would do about it, changing nothing.
//!
//! The selection, the registry client and the ordering are the update's own: the options
//! are resolved by [`Config::resolve`], the registry client is [`wiring`](crate::wiring)'s,
//! and the answer is [`Updater::check_plan`] (manifest `HEAD`s only, nothing pulled or
//! touched). This module only renders it, as an aligned table or as JSON (`"version": 1`,
//! documented in `docs/check.md`), and maps it to an exit status:
//!
//! - [`EXIT_FRESH`] (0): every selected container was checked and none is stale (skipped
//!   ones, such as a container run from an image ID, do not count);
//! - [`EXIT_STALE`] (3): something is stale, and every check succeeded;
//! - [`EXIT_FAILED`] (1): something could not be checked (the engine is unreachable, the
//!   registry check failed for a container); the table or JSON is still printed when there
//!   is one, and one line on stderr names what failed;
//! - 2: a usage error (clap).

use std::fmt::Write as _;
use std::io::{self, Write};
use std::process::ExitCode;

use serde_json::{Value, json};
use watchtower_actions::{CheckAction, CheckPlan, CheckState, CheckedContainer, Updater};
use watchtower_config::cli::{CheckArgs, CheckOutput};
use watchtower_config::{Config, Env};

use crate::wiring::StartupError;

/// Every selected container was checked; none is stale.
pub const EXIT_FRESH: u8 = 0;
/// Something could not be checked.
pub const EXIT_FAILED: u8 = 1;
/// Something is stale, and every check succeeded.
pub const EXIT_STALE: u8 = 3;

/// The version of the JSON shape (`"version"`); raised only for incompatible changes.
pub const JSON_VERSION: u64 = 1;

/// Runs `watchtower check` and returns its exit status. Logs go to stderr, the table or the
/// JSON to stdout.
pub fn main(args: Box<CheckArgs>, env: &dyn Env) -> ExitCode {
    let (output, cli) = args.into_cli();
    let config = match Config::resolve(&cli, env) {
        Ok(config) => config,
        Err(err) => return fail(&err),
    };
    if let Err(err) = crate::logging::init(&config.log, None::<tracing_subscriber::layer::Identity>)
    {
        return fail(&err);
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&err),
    };
    let plan = match runtime.block_on(check(&config)) {
        Ok(plan) => plan,
        Err(err) => return fail(&err),
    };
    let text = match output {
        CheckOutput::Table => table(&plan),
        CheckOutput::Json => format!("{:#}\n", to_json(&plan)),
    };
    let mut stdout = io::stdout().lock();
    if let Err(err) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        return fail(&format!("cannot write to standard output: {err}"));
    }
    ExitCode::from(exit_status(&plan))
}

/// Why `check` printed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The engine or the registry client could not be set up.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The engine could not list containers.
    #[error("{0}")]
    Actions(#[source] watchtower_actions::Error),
}

async fn check(config: &Config) -> Result<CheckPlan, CheckError> {
    let (docker, registry) = crate::wiring::connect(config).await?;
    let updater = Updater::new(docker, registry, config.params.clone());
    updater
        .check_plan(&config.filter)
        .await
        .map_err(CheckError::Actions)
}

/// The exit status for `plan` (see the module docs). The one line about failures is
/// written here too, to stderr.
fn exit_status(plan: &CheckPlan) -> u8 {
    let failed: Vec<String> = plan
        .failed()
        .map(|c| format!("{}: {}", c.name, c.reason.as_deref().unwrap_or("failed")))
        .collect();
    if !failed.is_empty() {
        eprintln!(
            "watchtower: could not check {} container(s): {}",
            failed.len(),
            failed.join("; ")
        );
        EXIT_FAILED
    } else if plan.any_stale() {
        EXIT_STALE
    } else {
        EXIT_FRESH
    }
}

fn fail(err: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("watchtower: {err}");
    ExitCode::from(EXIT_FAILED)
}

/// The JSON document (shape version [`JSON_VERSION`], see `docs/check.md`).
pub fn to_json(plan: &CheckPlan) -> Value {
    let count = |state: CheckState| plan.containers.iter().filter(|c| c.state == state).count();
    json!({
        "version": JSON_VERSION,
        "summary": {
            "checked": plan.containers.len(),
            "fresh": count(CheckState::Fresh),
            "stale": count(CheckState::Stale),
            "skipped": count(CheckState::Skipped),
            "failed": count(CheckState::Failed),
        },
        "containers": plan.containers.iter().map(container_json).collect::<Vec<_>>(),
    })
}

fn container_json(c: &CheckedContainer) -> Value {
    json!({
        "name": c.name,
        "id": c.id,
        "image": c.image,
        "image_id": c.image_id,
        "state": c.state.as_str(),
        "reason": c.reason,
        "local_digest": c.local_digest,
        "remote_digest": c.remote_digest,
        "monitor_only": c.monitor_only,
        "action": c.action.as_str(),
        "order": c.order,
        "dependents": c.dependents,
    })
}

/// `sha256:0123456789ab` (12 hex digits), `-` when unknown.
fn short_digest(digest: Option<&str>) -> String {
    match digest {
        Some(d) => {
            let (algo, hex) = d.split_once(':').unwrap_or(("", d));
            let hex: String = hex.chars().take(12).collect();
            if algo.is_empty() {
                hex
            } else {
                format!("{algo}:{hex}")
            }
        }
        None => "-".to_owned(),
    }
}

/// The human table: one row per container, aligned columns, then a summary line.
pub fn table(plan: &CheckPlan) -> String {
    let header = [
        "CONTAINER",
        "IMAGE",
        "STATE",
        "LOCAL",
        "REMOTE",
        "UPDATE",
        "NOTE",
    ];
    let mut rows: Vec<[String; 7]> = vec![header.map(str::to_owned)];
    for c in &plan.containers {
        let update = match (c.action, c.order) {
            (CheckAction::None, _) | (_, None) => "-".to_owned(),
            (action, Some(n)) => format!("{n}. {}", action.as_str()),
        };
        let mut notes = Vec::new();
        if let Some(reason) = &c.reason {
            notes.push(reason.clone());
        }
        if !c.dependents.is_empty() {
            notes.push(format!("restarts {}", c.dependents.join(", ")));
        }
        if c.action == CheckAction::Restart {
            notes.push("recreated: a container it depends on is updated".to_owned());
        }
        rows.push([
            c.name.clone(),
            c.image.clone(),
            c.state.as_str().to_owned(),
            short_digest(c.local_digest.as_deref()),
            short_digest(c.remote_digest.as_deref()),
            update,
            notes.join("; "),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let count = |state: CheckState| plan.containers.iter().filter(|c| c.state == state).count();
    let _ = writeln!(
        out,
        "{} checked: {} fresh, {} stale, {} skipped, {} failed",
        plan.containers.len(),
        count(CheckState::Fresh),
        count(CheckState::Stale),
        count(CheckState::Skipped),
        count(CheckState::Failed),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, state: CheckState) -> CheckedContainer {
        CheckedContainer {
            name: name.to_owned(),
            id: format!("{name}-id"),
            image: format!("registry.test/{name}:latest"),
            image_id: "sha256:1111".to_owned(),
            state,
            reason: None,
            local_digest: Some(format!("sha256:{}", "a".repeat(64))),
            remote_digest: Some(format!("sha256:{}", "b".repeat(64))),
            monitor_only: false,
            action: CheckAction::None,
            order: None,
            dependents: Vec::new(),
        }
    }

    fn sample() -> CheckPlan {
        let mut db = container("db", CheckState::Stale);
        db.action = CheckAction::Update;
        db.order = Some(1);
        db.dependents = vec!["web".to_owned()];
        let mut web = container("web", CheckState::Fresh);
        web.action = CheckAction::Restart;
        web.order = Some(2);
        web.remote_digest = web.local_digest.clone();
        let mut cache = container("cache", CheckState::Failed);
        cache.reason = Some("registry unreachable".to_owned());
        cache.remote_digest = None;
        CheckPlan {
            containers: vec![db, web, cache],
        }
    }

    #[test]
    fn the_table_aligns_its_columns_and_says_what_an_update_would_do() {
        let text = table(&sample());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        let state_col = lines[0].find("STATE").expect("a STATE column");
        for (line, state) in lines[1..4].iter().zip(["stale", "fresh", "failed"]) {
            assert_eq!(line.find(state), Some(state_col), "{text}");
        }
        assert!(lines[1].contains("sha256:aaaaaaaaaaaa"), "{text}");
        assert!(lines[1].contains("sha256:bbbbbbbbbbbb"), "{text}");
        assert!(lines[1].contains("1. update"), "{text}");
        assert!(lines[1].contains("restarts web"), "{text}");
        assert!(lines[2].contains("2. restart"), "{text}");
        assert!(lines[3].contains("registry unreachable"), "{text}");
        assert_eq!(lines[4], "3 checked: 1 fresh, 1 stale, 0 skipped, 1 failed");
        assert!(lines.iter().all(|l| l == &l.trim_end()), "{text:?}");
    }

    #[test]
    fn the_json_shape_is_version_1() {
        let value = to_json(&sample());
        assert_eq!(value["version"], 1);
        assert_eq!(value["summary"]["checked"], 3);
        assert_eq!(value["summary"]["stale"], 1);
        let db = &value["containers"][0];
        let keys: Vec<&str> = db
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "action",
                "dependents",
                "id",
                "image",
                "image_id",
                "local_digest",
                "monitor_only",
                "name",
                "order",
                "reason",
                "remote_digest",
                "state"
            ]
        );
        assert_eq!(db["state"], "stale");
        assert_eq!(db["action"], "update");
        assert_eq!(db["order"], 1);
        assert_eq!(db["dependents"], json!(["web"]));
        assert_eq!(db["reason"], Value::Null);
        assert_eq!(value["containers"][2]["remote_digest"], Value::Null);
    }

    #[test]
    fn exit_status_failed_beats_stale_beats_fresh() {
        let mut plan = sample();
        assert_eq!(exit_status(&plan), EXIT_FAILED);
        plan.containers.pop();
        assert_eq!(exit_status(&plan), EXIT_STALE);
        plan.containers.remove(0);
        assert_eq!(exit_status(&plan), EXIT_FRESH);
        let mut skipped = container("pinned", CheckState::Skipped);
        skipped.reason = Some("pinned".to_owned());
        plan.containers.push(skipped);
        assert_eq!(exit_status(&plan), EXIT_FRESH, "skipped ones do not count");
    }
}
