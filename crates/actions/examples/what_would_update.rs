//! What would watchtower update? Asks each running container's registry whether the image
//! behind its tag has moved, and prints one line per container. Changes nothing: no pull, no
//! restart (it runs [`Updater::check`], not [`Updater::update`]).
//!
//! ```text
//! cargo run -p watchtower-actions --example what_would_update
//! cargo run -p watchtower-actions --example what_would_update -- --scope prod web db
//! ```
//!
//! The engine is `DOCKER_HOST` or the default socket; credentials come from
//! `REPO_USER`/`REPO_PASS` or `$DOCKER_CONFIG/config.json`, as for watchtower itself. Exit
//! status 0 when everything is fresh, 10 when something would be updated, 1 on failure.

use std::process::ExitCode;

use watchtower_actions::{Filter, Params, RegistryChecker, Updater};
use watchtower_container_client::DockerClient;
use watchtower_registry_digest::RegistryOptions;
use watchtower_session_report::State;

/// The exit status when at least one container would be updated.
const STALE: u8 = 10;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(stale) if stale > 0 => ExitCode::from(STALE),
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("what_would_update: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one check session; returns how many containers are stale.
async fn run() -> anyhow::Result<usize> {
    let mut filter = Filter::all();
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--scope" => {
                let scope = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--scope needs a value"))?;
                filter = filter.scope(scope);
            }
            "-h" | "--help" => {
                println!("usage: what_would_update [--scope SCOPE] [CONTAINER...]");
                return Ok(0);
            }
            name => names.push(name.to_owned()),
        }
    }
    if !names.is_empty() {
        filter = filter.names(names)?;
    }

    let engine = DockerClient::connect_from_env().await?;
    let registry = RegistryChecker::from_options(RegistryOptions::default())?;
    let updater = Updater::new(engine, registry, Params::default());
    let report = updater.check(&filter).await?;

    for container in report.all() {
        let verdict = match container.state() {
            State::Stale => "would update",
            other => other.as_str(),
        };
        let why = container
            .error()
            .map(|reason| format!("  ({reason})"))
            .unwrap_or_default();
        println!(
            "{verdict:<13} {:<30} {}{why}",
            container.name().trim_start_matches('/'),
            container.image_name()
        );
    }
    let stale = report.stale().len();
    eprintln!(
        "{} containers checked, {stale} would be updated",
        report.all().len()
    );
    Ok(stale)
}
