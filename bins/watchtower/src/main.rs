//! `watchtower`: parse the configuration, set up logging, build the runtime, run, and map
//! the outcome to an exit code (0: done or stopped by a signal; 1: could not start, or a
//! `--run-once` session could not run; 2: usage error). Everything else is in the library.

use std::process::ExitCode;

use watchtower::app::Exit;
use watchtower::cli::{self, Command};
use watchtower::config::{Config, ProcessEnv};

fn main() -> ExitCode {
    let cli = match cli::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) => {
            let code = err.exit_code();
            let _ = err.print();
            return ExitCode::from(u8::try_from(code).unwrap_or(2));
        }
    };
    if let Some(Command::Completions { shell }) = cli.command {
        watchtower::completions(shell, &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let config = match Config::resolve(&cli, &ProcessEnv) {
        Ok(config) => config,
        Err(err) => return fail(&err, false),
    };
    if config.health_check {
        return watchtower::health_check();
    }
    if let Err(err) =
        watchtower::logging::init(&config.log, None::<tracing_subscriber::layer::Identity>)
    {
        eprintln!("watchtower: {err}");
        return ExitCode::FAILURE;
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&err, true),
    };
    match runtime.block_on(watchtower::wiring::run(config)) {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::SessionFailed) => ExitCode::FAILURE,
        Err(err) => fail(&err, true),
    }
}

/// One line naming the problem, no backtrace: through the logger once it is set up.
fn fail(err: &dyn std::fmt::Display, logging: bool) -> ExitCode {
    if logging {
        tracing::error!("{err}");
    } else {
        eprintln!("watchtower: {err}");
    }
    ExitCode::FAILURE
}
