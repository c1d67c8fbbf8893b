//! Resolution hands each library its own option type, filled from flags and variables, so the
//! binary passes them on as they are: these tests read the values where the libraries read
//! them (and, for notifications, let the notify crate turn them into service URLs).

use std::collections::BTreeMap;
use std::time::Duration;

use watchtower_actions::{UpdateOrder, WarnOnHeadFailure};
use watchtower_config::{Config, Error, cli};
use watchtower_container_client::ApiVersion;
use watchtower_notify::Level;

fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<Config, Error> {
    let mut command_line = vec!["watchtower"];
    command_line.extend_from_slice(args);
    let cli = cli::parse(&command_line).expect("parses");
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::resolve(&cli, &env)
}

#[test]
fn docker_options_carry_the_parsed_api_version_and_cert_path() {
    let config = resolve(
        &["-H", "tcp://127.0.0.1:2376", "--tlsverify", "-a", "v1.44"],
        &[("DOCKER_CERT_PATH", "/certs")],
    )
    .unwrap();
    assert_eq!(config.docker.host.as_deref(), Some("tcp://127.0.0.1:2376"));
    assert!(config.docker.tls_verify);
    assert_eq!(config.docker.api_version, Some(ApiVersion::new(1, 44)));
    assert_eq!(
        config.docker.cert_path.as_deref(),
        Some(std::path::Path::new("/certs"))
    );
    let config = resolve(&[], &[("DOCKER_API_VERSION", "Negotiate")]).unwrap();
    assert_eq!(config.docker.api_version, None);
    // A version the Docker client cannot speak is refused here, naming the variable.
    let err = resolve(&[], &[("DOCKER_API_VERSION", "0.5")]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(r#"invalid value "0.5" for DOCKER_API_VERSION (--api-version)"#),
        "{err}"
    );
}

#[test]
fn session_params_and_filter_are_the_update_engines_own() {
    let config = resolve(
        &[
            "--cleanup",
            "--rolling-restart",
            "--warn-on-head-failure",
            "NEVER",
            "--scope",
            "prod",
            "web",
        ],
        &[
            ("WATCHTOWER_TIMEOUT", "1m30s"),
            ("WATCHTOWER_INCLUDE_STOPPED", "1"),
        ],
    )
    .unwrap();
    let p = &config.params;
    assert!(p.cleanup && p.rolling_restart && p.include_stopped);
    assert!(!p.monitor_only && !p.no_pull && !p.revive_stopped);
    assert_eq!(p.stop_timeout, Duration::from_secs(90));
    assert_eq!(p.warn_on_head_failure, WarnOnHeadFailure::Never);
    assert_eq!(config.filter.scope_value(), Some("prod"));
    assert_eq!(
        config.filter.describe(),
        r#"Only checking containers which name matches "web", in scope "prod""#
    );
}

#[test]
fn the_health_gate_and_update_order_reach_the_params() {
    let p = resolve(&[], &[]).unwrap().params;
    assert!(!p.health_gate);
    assert_eq!(p.health_gate_timeout, Duration::from_secs(120));
    assert_eq!(p.health_gate_settle, Duration::from_secs(10));
    assert_eq!(p.update_order, UpdateOrder::StopFirst);
    let config = resolve(
        &[
            "--health-gate",
            "--health-gate-timeout",
            "90s",
            "--update-order",
            "start-first",
        ],
        &[("WATCHTOWER_HEALTH_GATE_SETTLE", "1m")],
    )
    .unwrap();
    let p = &config.params;
    assert!(p.health_gate);
    assert_eq!(p.health_gate_timeout, Duration::from_secs(90));
    assert_eq!(p.health_gate_settle, Duration::from_secs(60));
    assert_eq!(p.update_order, UpdateOrder::StartFirst);
    assert_eq!(config.value("health-gate-timeout"), Some("1m30s"));
    assert_eq!(config.value("update-order"), Some("start-first"));

    let err = resolve(&["--update-order", "sideways"], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid value "sideways" for --update-order: expected start-first or stop-first"#
    );
    for bad in ["0s", "-5s", "soon"] {
        let err = resolve(&[], &[("WATCHTOWER_HEALTH_GATE_TIMEOUT", bad)]).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                r#"invalid value "{bad}" for WATCHTOWER_HEALTH_GATE_TIMEOUT"#
            )),
            "{err}"
        );
    }
}

#[test]
fn a_name_that_is_no_pattern_is_a_configuration_error() {
    let err = resolve(&["(unclosed"], &[]).unwrap_err();
    assert!(matches!(err, Error::NamePattern(_)), "{err:?}");
    assert!(err.to_string().contains("(unclosed"), "{err}");
}

#[test]
fn one_level_type_for_the_log_and_notifications() {
    let config = resolve(
        &["--log-level", "WARNING", "--notifications-level", "warn"],
        &[],
    )
    .unwrap();
    assert_eq!(config.log.level, Level::Warn);
    assert_eq!(config.notifications.level, Level::Warn);
    // Both render as the flag spells them, not as templates print the level.
    assert_eq!(config.value("log-level"), Some("warn"));
    assert_eq!(config.value("notifications-level"), Some("warn"));
    let config = resolve(&["--debug"], &[("WATCHTOWER_LOG_LEVEL", "error")]).unwrap();
    assert_eq!(config.log.level, Level::Debug);
}

#[test]
fn legacy_notification_flags_become_the_notify_crates_urls() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "s3cret\n").unwrap();
    let config = resolve(
        &[
            "--notifications",
            "email",
            "--notification-email-server-password",
            password.to_str().unwrap(),
            "--notifications-delay",
            "4",
        ],
        &[
            ("WATCHTOWER_NOTIFICATION_EMAIL_SERVER", "smtp.example.test"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PORT", "587"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_SERVER_USER", "me"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_FROM", "wt@example.test"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_TO", "ops@example.test"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_SUBJECTTAG", "prod"),
        ],
    )
    .unwrap();
    let n = &config.notifications;
    assert_eq!(n.delay, Duration::from_secs(4));
    assert_eq!(n.email_subject_tag, "prod");
    let (urls, delay) = n.legacy.to_urls().unwrap();
    assert_eq!(delay, None);
    assert_eq!(urls.len(), 1);
    assert!(
        urls[0].starts_with("smtp://me:s3cret@smtp.example.test:587/?"),
        "{}",
        urls[0]
    );
    // The notifier's Debug (and so the Config's) never shows the password.
    assert!(!format!("{config:?}").contains("s3cret"));
}

#[test]
fn repo_credentials_come_from_the_resolved_environment() {
    let config = resolve(&[], &[("REPO_USER", "u"), ("REPO_PASS", "p")]).unwrap();
    let (user, pass) = config.registry.credentials.repo_user_pass.clone().unwrap();
    assert_eq!((user.as_str(), pass.expose()), ("u", "p"));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);

    let config = resolve(&[], &[("REPO_USER", "u")]).unwrap();
    assert!(config.registry.credentials.repo_user_pass.is_none());
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
}
