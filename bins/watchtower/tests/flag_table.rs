//! Walks containrrr/watchtower 1.7.1's flag table (internal/flags/flags.go, transcribed
//! below as data) and checks that every flag, its short form and its environment variable
//! are accepted and give the same effective value, and that the defaults match — apart from
//! the documented, deliberate differences in `docs/flags.md`.

use std::collections::BTreeMap;

use watchtower_config::{Config, cli};

/// (long, short, environment variable, the original's effective default, a sample value,
/// the effective value the sample gives). `None` as sample: a boolean flag.
type Row = (
    &'static str,
    Option<char>,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    &'static str,
);

#[rustfmt::skip]
const ORIGINAL: &[Row] = &[
    ("host", Some('H'), Some("DOCKER_HOST"), "unix:///var/run/docker.sock", Some("tcp://127.0.0.1:2375"), "tcp://127.0.0.1:2375"),
    ("tlsverify", Some('v'), Some("DOCKER_TLS_VERIFY"), "false", None, "true"),
    ("api-version", Some('a'), Some("DOCKER_API_VERSION"), "1.25", Some("1.44"), "1.44"),
    ("interval", Some('i'), Some("WATCHTOWER_POLL_INTERVAL"), "86400", Some("300"), "300"),
    ("schedule", Some('s'), Some("WATCHTOWER_SCHEDULE"), "@every 86400s", Some("0 0 4 * * *"), "0 0 4 * * *"),
    ("stop-timeout", Some('t'), Some("WATCHTOWER_TIMEOUT"), "10s", Some("1m30s"), "1m30s"),
    ("no-pull", None, Some("WATCHTOWER_NO_PULL"), "false", None, "true"),
    ("no-restart", None, Some("WATCHTOWER_NO_RESTART"), "false", None, "true"),
    ("no-startup-message", None, Some("WATCHTOWER_NO_STARTUP_MESSAGE"), "false", None, "true"),
    ("cleanup", Some('c'), Some("WATCHTOWER_CLEANUP"), "false", None, "true"),
    ("remove-volumes", None, Some("WATCHTOWER_REMOVE_VOLUMES"), "false", None, "true"),
    ("label-enable", Some('e'), Some("WATCHTOWER_LABEL_ENABLE"), "false", None, "true"),
    ("disable-containers", Some('x'), Some("WATCHTOWER_DISABLE_CONTAINERS"), "", Some("web"), "web"),
    ("log-format", Some('l'), Some("WATCHTOWER_LOG_FORMAT"), "auto", Some("JSON"), "json"),
    ("debug", Some('d'), Some("WATCHTOWER_DEBUG"), "false", None, "true"),
    ("trace", None, Some("WATCHTOWER_TRACE"), "false", None, "true"),
    ("monitor-only", Some('m'), Some("WATCHTOWER_MONITOR_ONLY"), "false", None, "true"),
    ("run-once", Some('R'), Some("WATCHTOWER_RUN_ONCE"), "false", None, "true"),
    ("include-restarting", None, Some("WATCHTOWER_INCLUDE_RESTARTING"), "false", None, "true"),
    ("include-stopped", Some('S'), Some("WATCHTOWER_INCLUDE_STOPPED"), "false", None, "true"),
    ("revive-stopped", None, Some("WATCHTOWER_REVIVE_STOPPED"), "false", None, "true"),
    ("enable-lifecycle-hooks", None, Some("WATCHTOWER_LIFECYCLE_HOOKS"), "false", None, "true"),
    ("rolling-restart", None, Some("WATCHTOWER_ROLLING_RESTART"), "false", None, "true"),
    ("http-api-update", None, Some("WATCHTOWER_HTTP_API_UPDATE"), "false", None, "true"),
    ("http-api-metrics", None, Some("WATCHTOWER_HTTP_API_METRICS"), "false", None, "true"),
    ("http-api-token", None, Some("WATCHTOWER_HTTP_API_TOKEN"), "", Some("s3cret"), "s3cret"),
    ("http-api-periodic-polls", None, Some("WATCHTOWER_HTTP_API_PERIODIC_POLLS"), "false", None, "true"),
    ("no-color", None, Some("NO_COLOR"), "false", None, "true"),
    ("scope", None, Some("WATCHTOWER_SCOPE"), "", Some("prod"), "prod"),
    ("porcelain", Some('P'), Some("WATCHTOWER_PORCELAIN"), "", Some("v1"), "v1"),
    ("log-level", None, Some("WATCHTOWER_LOG_LEVEL"), "info", Some("Warn"), "warn"),
    ("health-check", None, None, "false", None, "true"),
    ("label-take-precedence", None, Some("WATCHTOWER_LABEL_TAKE_PRECEDENCE"), "false", None, "true"),
    ("notifications", Some('n'), Some("WATCHTOWER_NOTIFICATIONS"), "", Some("shoutrrr"), "shoutrrr"),
    ("notifications-level", None, Some("WATCHTOWER_NOTIFICATIONS_LEVEL"), "info", Some("debug"), "debug"),
    ("notifications-delay", None, Some("WATCHTOWER_NOTIFICATIONS_DELAY"), "0", Some("5"), "5"),
    ("notifications-hostname", None, Some("WATCHTOWER_NOTIFICATIONS_HOSTNAME"), "", Some("box"), "box"),
    ("notification-email-from", None, Some("WATCHTOWER_NOTIFICATION_EMAIL_FROM"), "", Some("a@example.invalid"), "a@example.invalid"),
    ("notification-email-to", None, Some("WATCHTOWER_NOTIFICATION_EMAIL_TO"), "", Some("b@example.invalid"), "b@example.invalid"),
    ("notification-email-delay", None, Some("WATCHTOWER_NOTIFICATION_EMAIL_DELAY"), "0", Some("7"), "7"),
    ("notification-email-server", None, Some("WATCHTOWER_NOTIFICATION_EMAIL_SERVER"), "", Some("smtp.example.invalid"), "smtp.example.invalid"),
    ("notification-email-server-port", None, Some("WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PORT"), "25", Some("587"), "587"),
    ("notification-email-server-tls-skip-verify", None, Some("WATCHTOWER_NOTIFICATION_EMAIL_SERVER_TLS_SKIP_VERIFY"), "false", None, "true"),
    ("notification-email-server-user", None, Some("WATCHTOWER_NOTIFICATION_EMAIL_SERVER_USER"), "", Some("me"), "me"),
    ("notification-email-server-password", None, Some("WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PASSWORD"), "", Some("pw"), "pw"),
    ("notification-email-subjecttag", None, Some("WATCHTOWER_NOTIFICATION_EMAIL_SUBJECTTAG"), "", Some("tag"), "tag"),
    ("notification-slack-hook-url", None, Some("WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL"), "", Some("https://hooks.example.invalid/x"), "https://hooks.example.invalid/x"),
    ("notification-slack-identifier", None, Some("WATCHTOWER_NOTIFICATION_SLACK_IDENTIFIER"), "watchtower", Some("bot"), "bot"),
    ("notification-slack-channel", None, Some("WATCHTOWER_NOTIFICATION_SLACK_CHANNEL"), "", Some("#ops"), "#ops"),
    ("notification-slack-icon-emoji", None, Some("WATCHTOWER_NOTIFICATION_SLACK_ICON_EMOJI"), "", Some(":whale:"), ":whale:"),
    ("notification-slack-icon-url", None, Some("WATCHTOWER_NOTIFICATION_SLACK_ICON_URL"), "", Some("https://example.invalid/i.png"), "https://example.invalid/i.png"),
    ("notification-msteams-hook", None, Some("WATCHTOWER_NOTIFICATION_MSTEAMS_HOOK_URL"), "", Some("https://teams.example.invalid/x"), "https://teams.example.invalid/x"),
    ("notification-msteams-data", None, Some("WATCHTOWER_NOTIFICATION_MSTEAMS_USE_LOG_DATA"), "false", None, "true"),
    ("notification-gotify-url", None, Some("WATCHTOWER_NOTIFICATION_GOTIFY_URL"), "", Some("https://gotify.example.invalid"), "https://gotify.example.invalid"),
    ("notification-gotify-token", None, Some("WATCHTOWER_NOTIFICATION_GOTIFY_TOKEN"), "", Some("gt"), "gt"),
    ("notification-gotify-tls-skip-verify", None, Some("WATCHTOWER_NOTIFICATION_GOTIFY_TLS_SKIP_VERIFY"), "false", None, "true"),
    ("notification-template", None, Some("WATCHTOWER_NOTIFICATION_TEMPLATE"), "", Some("{{.}}"), "{{.}}"),
    ("notification-url", None, Some("WATCHTOWER_NOTIFICATION_URL"), "", Some("logger://"), "logger://"),
    ("notification-report", None, Some("WATCHTOWER_NOTIFICATION_REPORT"), "false", None, "true"),
    ("notification-title-tag", None, Some("WATCHTOWER_NOTIFICATION_TITLE_TAG"), "", Some("prod"), "prod"),
    ("notification-skip-title", None, Some("WATCHTOWER_NOTIFICATION_SKIP_TITLE"), "false", None, "true"),
    ("warn-on-head-failure", None, Some("WATCHTOWER_WARN_ON_HEAD_FAILURE"), "", Some("always"), "always"),
    ("notification-log-stdout", None, Some("WATCHTOWER_NOTIFICATION_LOG_STDOUT"), "false", None, "true"),
];

/// One way of giving a flag: its label, the arguments, the environment.
type Form = (String, Vec<String>, Vec<(&'static str, &'static str)>);

/// Defaults we changed on purpose (see docs/flags.md): (flag, original, ours).
const DIFFERENT_DEFAULTS: &[(&str, &str, &str)] = &[
    // A pinned 1.25 is refused by Docker 29; we negotiate.
    ("api-version", "1.25", "negotiate"),
    // The original's empty default already behaved as `auto`.
    ("warn-on-head-failure", "", "auto"),
];

/// Settings another flag needs before it is valid on its own.
fn prerequisites(long: &str) -> Vec<(&'static str, &'static str)> {
    match long {
        "http-api-update" | "http-api-metrics" => vec![("WATCHTOWER_HTTP_API_TOKEN", "t")],
        _ => vec![],
    }
}

fn resolve(args: &[&str], env: &[(&str, &str)]) -> Config {
    let mut command_line = vec!["watchtower"];
    command_line.extend_from_slice(args);
    let cli = cli::parse(&command_line).unwrap_or_else(|e| panic!("{command_line:?}: {e}"));
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::resolve(&cli, &env).unwrap_or_else(|e| panic!("{command_line:?} {env:?}: {e}"))
}

fn expected_default(long: &str, original: &'static str) -> &'static str {
    DIFFERENT_DEFAULTS
        .iter()
        .find(|(flag, was, _)| *flag == long && *was == original)
        .map_or(original, |(_, _, ours)| ours)
}

#[test]
fn every_original_flag_has_its_default() {
    let config = resolve(&[], &[]);
    for &(long, _, _, original, _, _) in ORIGINAL {
        assert_eq!(
            config.value(long),
            Some(expected_default(long, original)),
            "default of --{long}"
        );
    }
}

#[test]
fn every_original_flag_is_accepted_long_short_and_from_its_variable() {
    for &(long, short, env, _, sample, want) in ORIGINAL {
        let base = prerequisites(long);
        let mut forms: Vec<Form> = Vec::new();
        let long_args = match sample {
            Some(v) => vec![format!("--{long}"), v.to_owned()],
            None => vec![format!("--{long}")],
        };
        forms.push((format!("--{long}"), long_args, base.clone()));
        if let Some(short) = short {
            let args = match sample {
                Some(v) => vec![format!("-{short}"), v.to_owned()],
                None => vec![format!("-{short}")],
            };
            forms.push((format!("-{short}"), args, base.clone()));
        }
        if let Some(env) = env {
            let mut vars = base.clone();
            vars.push((env, sample.unwrap_or("true")));
            forms.push((env.to_owned(), vec![], vars));
        }
        for (form, args, vars) in forms {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let config = resolve(&args, &vars);
            assert_eq!(config.value(long), Some(want), "--{long} given as {form}");
        }
    }
}

#[test]
fn our_table_and_the_command_line_agree_with_the_original() {
    let cmd = cli::command();
    for &(long, short, env, _, _, _) in ORIGINAL {
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .unwrap_or_else(|| panic!("--{long} is missing"));
        assert_eq!(arg.get_short(), short, "short form of --{long}");
        let ours = watchtower_config::flags::spec(long);
        assert_eq!(ours.env, env, "variable of --{long}");
        if let Some(env) = env {
            let help = arg.get_help().unwrap().to_string();
            assert!(
                help.contains(&format!("[env: {env}]")),
                "--help of --{long}: {help}"
            );
        }
    }
}

#[test]
fn boolean_values_follow_go_parse_bool() {
    for truthy in ["1", "t", "T", "TRUE", "true", "True"] {
        let config = resolve(&[], &[("WATCHTOWER_CLEANUP", truthy)]);
        assert_eq!(config.value("cleanup"), Some("true"), "{truthy}");
    }
    for falsy in ["0", "f", "F", "FALSE", "false", "False", ""] {
        let config = resolve(&[], &[("WATCHTOWER_CLEANUP", falsy)]);
        assert_eq!(config.value("cleanup"), Some("false"), "{falsy:?}");
    }
    // The flag overrides the variable, also to false.
    let config = resolve(&["--cleanup=false"], &[("WATCHTOWER_CLEANUP", "true")]);
    assert_eq!(config.value("cleanup"), Some("false"));
    let config = resolve(&["--cleanup=true"], &[]);
    assert_eq!(config.value("cleanup"), Some("true"));
    // NO_COLOR counts when set to anything (no-color.org).
    let config = resolve(&[], &[("NO_COLOR", "false")]);
    assert_eq!(config.value("no-color"), Some("true"));
}

#[test]
fn list_values_split_like_the_original() {
    // WATCHTOWER_DISABLE_CONTAINERS: `[, ]+`.
    let config = resolve(&[], &[("WATCHTOWER_DISABLE_CONTAINERS", "a, b  c,,d")]);
    assert_eq!(config.value("disable-containers"), Some("a,b,c,d"));
    assert!(
        config
            .filter
            .describe()
            .contains(r#"not named one of "a" or "b" or "c" or "d""#),
        "{}",
        config.filter.describe()
    );
    // On the command line: comma-separated, repeatable; the flag replaces the variable.
    let config = resolve(
        &["-x", "a,b", "--disable-containers", "c"],
        &[("WATCHTOWER_DISABLE_CONTAINERS", "z")],
    );
    assert_eq!(config.value("disable-containers"), Some("a,b,c"));

    // WATCHTOWER_NOTIFICATION_URL: whitespace only, commas stay inside a URL.
    let config = resolve(
        &[],
        &[(
            "WATCHTOWER_NOTIFICATION_URL",
            "generic://example.invalid/?a=1,2 \n logger://",
        )],
    );
    assert_eq!(
        config.value("notification-url"),
        Some("generic://example.invalid/?a=1,2,logger://")
    );
    assert_eq!(config.notifications.urls.len(), 2);
    // --notification-url repeats and never splits on commas.
    let config = resolve(
        &[
            "--notification-url",
            "generic://h/?a=1,2",
            "--notification-url",
            "logger://",
        ],
        &[],
    );
    assert_eq!(config.notifications.urls.len(), 2);
    assert_eq!(config.notifications.urls[0], "generic://h/?a=1,2");

    // WATCHTOWER_NOTIFICATIONS: whitespace (commas tolerated); CLI: commas.
    let config = resolve(&[], &[("WATCHTOWER_NOTIFICATIONS", "shoutrrr  shoutrrr")]);
    assert_eq!(config.value("notifications"), Some("shoutrrr,shoutrrr"));
    let config = resolve(&["-n", "shoutrrr,shoutrrr"], &[]);
    assert_eq!(config.notifications.legacy.types, ["shoutrrr"]);
}

#[test]
fn secrets_are_read_from_files_for_the_same_flags() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "  from-file\n").unwrap();
    let urls = dir.path().join("urls");
    std::fs::write(&urls, "logger://\n\ngeneric://example.invalid\n").unwrap();
    let token = token.to_str().unwrap();
    let urls = urls.to_str().unwrap();
    for long in [
        "http-api-token",
        "notification-email-server-password",
        "notification-slack-hook-url",
        "notification-msteams-hook",
        "notification-gotify-token",
    ] {
        let config = resolve(&[&format!("--{long}"), token], &[]);
        assert_eq!(config.value(long), Some("from-file"), "--{long}");
    }
    let config = resolve(&[], &[("WATCHTOWER_HTTP_API_TOKEN", token)]);
    assert_eq!(
        config.http_api.token.as_ref().unwrap().expose(),
        "from-file"
    );
    let config = resolve(&["--notification-url", urls], &[]);
    assert_eq!(
        config.value("notification-url"),
        Some("logger://,generic://example.invalid")
    );
    // Not a secret flag: the path stays a path.
    let config = resolve(&["--notification-email-server-user", token], &[]);
    assert_eq!(config.value("notification-email-server-user"), Some(token));
    // A URL is never a file name, even when it could be one.
    let config = resolve(&["--http-api-token", "https://example.invalid"], &[]);
    assert_eq!(
        config.value("http-api-token"),
        Some("https://example.invalid")
    );
}

#[test]
fn aliases_expand_like_the_original() {
    let config = resolve(&["--debug"], &[]);
    assert_eq!(config.value("log-level"), Some("debug"));
    let config = resolve(&["--trace", "--log-level", "error"], &[]);
    assert_eq!(config.value("log-level"), Some("trace"));

    let config = resolve(&["--porcelain", "v1"], &[]);
    assert_eq!(config.value("notification-url"), Some("logger://"));
    assert_eq!(config.value("notification-log-stdout"), Some("true"));
    assert_eq!(config.value("notification-report"), Some("true"));
    assert_eq!(
        config.value("notification-template"),
        Some("porcelain.v1.summary-no-log")
    );
    // Flags the user set keep their values; URLs are appended to.
    let config = resolve(
        &[
            "-P",
            "v1",
            "--notification-template",
            "mine",
            "--notification-url",
            "generic://h",
        ],
        &[],
    );
    assert_eq!(config.value("notification-template"), Some("mine"));
    assert_eq!(
        config.value("notification-url"),
        Some("generic://h,logger://")
    );

    // The interval becomes an @every schedule; the default interval allows --schedule.
    let config = resolve(&["--interval", "30"], &[]);
    assert_eq!(config.value("schedule"), Some("@every 30s"));
    let config = resolve(&["--interval", "86400", "--schedule", "@hourly"], &[]);
    assert_eq!(config.value("schedule"), Some("@hourly"));
}

#[test]
fn stop_timeout_takes_go_durations_and_bare_seconds() {
    let config = resolve(&["-t", "45"], &[]);
    assert_eq!(
        config.params.stop_timeout,
        std::time::Duration::from_secs(45)
    );
    let config = resolve(&[], &[("WATCHTOWER_TIMEOUT", "2m")]);
    assert_eq!(
        config.params.stop_timeout,
        std::time::Duration::from_secs(120)
    );
}

#[test]
fn debug_output_of_the_config_hides_secrets() {
    let config = resolve(
        &[
            "--http-api-token",
            "tok-123",
            "--notification-url",
            "slack://hook-456@chan",
        ],
        &[("REPO_USER", "u"), ("REPO_PASS", "pass-789")],
    );
    let shown = format!("{config:?} {:?}", config.describe());
    for secret in ["tok-123", "hook-456", "pass-789"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}
