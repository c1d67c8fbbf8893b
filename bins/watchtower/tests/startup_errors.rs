//! The real binary, run as a process, for each start-up mistake: one clear line naming the
//! culprit on stderr, a non-zero exit, no panic or backtrace, and nothing touched (none of
//! these runs gets as far as listing containers).

use std::process::{Command, Output};

fn watchtower(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_watchtower"));
    command.args(args).env_clear().env("RUST_BACKTRACE", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

/// Asserts a start-up failure: exit code 1 and exactly one stderr line containing every
/// `needle`.
fn assert_fails(args: &[&str], env: &[(&str, &str)], needles: &[&str]) {
    let output = watchtower(args, env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?} {env:?} should exit 1; stderr:\n{stderr}"
    );
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: one line expected, got:\n{stderr}"
    );
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{args:?}: {needle:?} missing in {stderr:?}"
        );
    }
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout: {:?}",
        output.stdout
    );
}

#[test]
fn bad_cron_spec() {
    assert_fails(
        &["--schedule", "0 4 * *"],
        &[],
        &["--schedule", "\"0 4 * *\"", "expected 5 to 6 fields"],
    );
    assert_fails(
        &[],
        &[("WATCHTOWER_SCHEDULE", "0 0 25 * * *")],
        &["WATCHTOWER_SCHEDULE", "above the maximum 23 (hours)"],
    );
    assert_fails(&["-s", "@fortnightly"], &[], &["unknown descriptor"]);
}

#[test]
fn interval_with_schedule() {
    assert_fails(
        &["--interval", "300", "--schedule", "@hourly"],
        &[],
        &["only --schedule or --interval", "--interval 300"],
    );
    assert_fails(
        &[],
        &[
            ("WATCHTOWER_POLL_INTERVAL", "60"),
            ("WATCHTOWER_SCHEDULE", "0 0 * * * *"),
        ],
        &["not both"],
    );
}

#[test]
fn negative_stop_timeout() {
    assert_fails(
        &["--stop-timeout", "-5s"],
        &[],
        &["--stop-timeout", "must not be negative"],
    );
    assert_fails(
        &[],
        &[("WATCHTOWER_TIMEOUT", "-1")],
        &[
            "WATCHTOWER_TIMEOUT (--stop-timeout)",
            "must not be negative",
        ],
    );
}

#[test]
fn rolling_restart_with_monitor_only() {
    assert_fails(
        &["--rolling-restart", "--monitor-only"],
        &[],
        &["--rolling-restart", "--monitor-only"],
    );
}

#[test]
fn api_without_a_token() {
    assert_fails(
        &["--http-api-update"],
        &[],
        &["--http-api-update", "--http-api-token"],
    );
    assert_fails(
        &[],
        &[("WATCHTOWER_HTTP_API_METRICS", "true")],
        &["--http-api-metrics", "token is empty"],
    );
}

#[test]
fn unreadable_or_invalid_ca_bundle_with_validation() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let missing = missing.to_str().unwrap();
    assert_fails(
        &["--registry-ca", missing, "--registry-ca-validate"],
        &[],
        &["--registry-ca", missing],
    );
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let garbage = garbage.to_str().unwrap();
    assert_fails(
        &[],
        &[
            ("WATCHTOWER_REGISTRY_CA", garbage),
            ("WATCHTOWER_REGISTRY_CA_VALIDATE", "true"),
        ],
        &["--registry-ca", garbage],
    );
}

#[test]
fn unknown_porcelain_version() {
    assert_fails(
        &["--porcelain", "v2"],
        &[],
        &["--porcelain", "\"v2\"", "v1"],
    );
}

#[test]
fn unknown_log_format_and_level() {
    assert_fails(
        &["--log-format", "xml"],
        &[],
        &["--log-format", "\"xml\"", "auto, logfmt, pretty or json"],
    );
    assert_fails(
        &[],
        &[("WATCHTOWER_LOG_LEVEL", "loud")],
        &["WATCHTOWER_LOG_LEVEL (--log-level)", "\"loud\""],
    );
}

#[test]
fn unreachable_docker_host() {
    // Port 1 on the loopback address: nothing listens there.
    assert_fails(
        &["--host", "tcp://127.0.0.1:1", "--run-once"],
        &[],
        &["cannot reach the Docker engine at tcp://127.0.0.1:1"],
    );
    assert_fails(
        &[],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &["cannot reach the Docker engine at unix:///nonexistent/docker.sock"],
    );
}

#[test]
fn values_that_do_not_parse_name_their_variable() {
    assert_fails(
        &[],
        &[("WATCHTOWER_CLEANUP", "yes")],
        &["WATCHTOWER_CLEANUP (--cleanup)", "\"yes\""],
    );
    assert_fails(&["--interval", "soon"], &[], &["--interval", "\"soon\""]);
    assert_fails(
        &["--notifications", "pigeon"],
        &[],
        &["--notifications", "\"pigeon\""],
    );
    assert_fails(
        &["--notifications", "gotify"],
        &[],
        &["--notifications gotify needs --notification-gotify-url"],
    );
    assert_fails(
        &[
            "--http-api-host",
            "example.invalid",
            "--http-api-metrics",
            "--http-api-token",
            "t",
        ],
        &[],
        &["--http-api-host", "\"example.invalid\""],
    );
}

#[test]
fn secrets_never_appear_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A directory named as a secret: it "is a file" by the original's rule, and reading fails.
    let output = watchtower(&["--http-api-token", dir.path().to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read --http-api-token from file"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_and_version_exit_0() {
    let output = watchtower(&["--no-such-flag"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let output = watchtower(&["--version"], &[]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("watchtower "));
    let output = watchtower(&["--help"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("WATCHTOWER_POLL_INTERVAL"), "{help}");
}

#[test]
fn health_check_exits_zero_outside_pid_1() {
    let output = watchtower(&["--health-check"], &[]);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn completions_are_printed() {
    let output = watchtower(&["completions", "bash"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let script = String::from_utf8_lossy(&output.stdout);
    assert!(script.contains("--http-api-token"), "{script}");
}
