//! `watchtower`: parse the configuration, set up logging, build the runtime, run, and map
//! the outcome to an exit code (0: done or stopped by a signal; 1: could not start, or a
//! `--run-once` session could not run; 2: usage error; `check` has its own, see
//! `watchtower::check`). Everything else is in the library.

use std::process::ExitCode;

use watchtower::app::Exit;
use watchtower_config::cli::{self, Command};
use watchtower_config::{Config, ProcessEnv};

fn main() -> ExitCode {
    let cli = match cli::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) => {
            let code = err.exit_code();
            let _ = err.print();
            return ExitCode::from(u8::try_from(code).unwrap_or(2));
        }
    };
    match cli.command {
        Some(Command::Completions { shell }) => {
            watchtower::completions(shell, &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Command::NotifyUpgrade(args)) => {
            let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
            return match watchtower::notify_upgrade::run(
                args,
                &ProcessEnv,
                &mut stdout.lock(),
                &mut stderr.lock(),
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => fail(&err),
            };
        }
        Some(Command::Check(args)) => return watchtower::check::main(args, &ProcessEnv),
        None => {}
    }
    let config = match Config::resolve(&cli, &ProcessEnv) {
        Ok(config) => config,
        Err(err) => return fail(&err),
    };
    if config.health_check {
        return watchtower::health_check();
    }
    // Two workers whatever the host's core count: the daemon waits on the network and the
    // engine (a session over 60 containers is ~65 ms of CPU), and each worker costs memory
    // for as long as it lives (measured with `cargo xtask bench memory`: RssAnon after 3
    // sessions 4.4 MiB with 1 worker, 4.9 with 2, 6.2 with 8); two keep the HTTP API
    // answering while a session computes.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&err),
    };
    // The notifier's sending task needs the runtime; its layer joins the log subscriber.
    let _entered = runtime.enter();
    let (notifier, layer) = match watchtower::wiring::notifier(&config) {
        Ok(parts) => parts,
        Err(err) => return fail(&err),
    };
    if let Err(err) = watchtower::logging::init(&config.log, Some(layer)) {
        return fail(&err);
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    // A --notification-template that does not parse is named here; the default is used.
    notifier.log_template_problems();
    match runtime.block_on(watchtower::wiring::run(config, notifier)) {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        // Start-up errors were already logged (and notified) by `run`.
        Ok(Exit::SessionFailed) | Err(_) => ExitCode::FAILURE,
    }
}

/// One line naming the problem, no backtrace (before the logger is set up).
fn fail(err: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("watchtower: {err}");
    ExitCode::FAILURE
}
