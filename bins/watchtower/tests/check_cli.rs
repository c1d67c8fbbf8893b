//! `watchtower check` on the command line: its help states the exit statuses, the main
//! command's selection options are accepted after it (and resolved as for an update), and a
//! mistake is a usage error or one line, before any engine is asked.

use std::process::{Command, Output};

use watchtower_config::cli::{self, CheckOutput, Command as Sub};

fn watchtower(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_watchtower"))
        .args(args)
        .env_clear()
        .output()
        .expect("the binary runs")
}

#[test]
fn help_states_the_exit_statuses() {
    let output = watchtower(&["check", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for line in [
        "0  every selected container was checked, none is stale",
        "3  at least one container is stale",
        "1  something could not be checked",
        "2  usage error",
    ] {
        assert!(help.contains(line), "{line:?} missing from:\n{help}");
    }
    assert!(help.contains("--output <FORMAT>"), "{help}");
    assert!(help.contains("--scope"), "{help}");
    assert!(
        !help.contains("--notification-url"),
        "check sends no notification: {help}"
    );
}

#[test]
fn selection_options_after_check_are_resolved_as_for_an_update() {
    let parsed = cli::parse([
        "watchtower",
        "check",
        "--scope",
        "prod",
        "--monitor-only",
        "--include-stopped=true",
        "--output",
        "json",
        "web",
        "db",
    ])
    .expect("parses");
    let Some(Sub::Check(args)) = parsed.command else {
        panic!("not the check subcommand: {parsed:?}");
    };
    let (output, cli) = args.into_cli();
    assert_eq!(output, CheckOutput::Json);
    assert_eq!(cli.names, ["web", "db"]);
    let env = std::collections::BTreeMap::<String, String>::new();
    let config = watchtower_config::Config::resolve(&cli, &env).expect("resolves");
    assert!(config.params.monitor_only);
    assert!(config.params.include_stopped);
    assert_eq!(config.filter.scope_value(), Some("prod"));
    let table = cli::parse(["watchtower", "check"]).expect("parses");
    let Some(Sub::Check(args)) = table.command else {
        panic!("not the check subcommand");
    };
    assert_eq!(args.output, CheckOutput::Table, "the default");
}

#[test]
fn usage_errors_exit_2_and_a_bad_value_is_one_line() {
    for args in [
        &["check", "--output", "yaml"][..],
        &["check", "--no-such-flag"],
        &["--cleanup", "check"],
    ] {
        let output = watchtower(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
    let output = watchtower(&["check", "--stop-timeout", "soon"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("--stop-timeout"), "{stderr}");
}
