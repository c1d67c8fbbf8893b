//! `watchtower notify-upgrade`, the real binary run as a process: each legacy notification
//! type given through flags and through `WATCHTOWER_*` variables comes out as the URL the
//! original produced, on one `WATCHTOWER_NOTIFICATION_URL=` line that the notify crate
//! parses back as working services; mistakes are one line naming the flag, exit status 1,
//! and nothing on stdout. Secrets appear on stdout (the purpose) and nowhere else.

use std::process::{Command, Output};

use watchtower_notify::{Notifier, NotifierConfig};

const SLACK_HOOK: &str =
    "https://hooks.slack.com/services/T0ABCDEFGH/B0IJKLMNOP/QRSTUVWXYZabcdefghijklmn";
const DISCORD_HOOK: &str =
    "https://discord.com/api/webhooks/112233445566778899/Sec_ret-Discord-Token/slack";
const GROUP: &str = "11111111-2222-3333-4444-555555555555";
const TENANT: &str = "66666666-7777-8888-9999-aaaaaaaaaaaa";
const ALT_ID: &str = "0123456789abcdef0123456789abcdef";
const OWNER: &str = "bbbbbbbb-cccc-dddd-eeee-ffffffffffff";
const GOTIFY_TOKEN: &str = "AsEcReTgOtIfY.x";
const SMTP_PASSWORD: &str = "pa@ss/w0rd:1";

fn msteams_hook() -> String {
    format!(
        "https://example.webhook.office.com/webhookb2/{GROUP}@{TENANT}/IncomingWebhook/{ALT_ID}/{OWNER}"
    )
}

fn watchtower(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_watchtower"));
    command
        .arg("notify-upgrade")
        .args(args)
        .env_clear()
        .env("RUST_BACKTRACE", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

/// Runs a conversion that must succeed; returns stdout's lines. Checks that stderr names
/// the services and holds none of `secrets`.
fn upgrade(args: &[&str], env: &[(&str, &str)], secrets: &[&str]) -> Vec<String> {
    let output = watchtower(args, env);
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?} {env:?}: stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("Found notification configurations for: "),
        "{stderr}"
    );
    for secret in secrets {
        assert!(
            !stderr.contains(secret),
            "{secret:?} leaked to stderr:\n{stderr}"
        );
    }
    stdout.lines().map(str::to_owned).collect()
}

/// The URLs of the `WATCHTOWER_NOTIFICATION_URL=` line.
fn urls(lines: &[String]) -> Vec<String> {
    let first = lines.first().expect("one line at least");
    let value = first
        .strip_prefix("WATCHTOWER_NOTIFICATION_URL=")
        .unwrap_or_else(|| panic!("not the URL line: {first:?}"));
    value.split(' ').map(str::to_owned).collect()
}

/// Parses the URLs as the main command does at start-up; returns the services' names.
fn parse_back(urls: &[String]) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let config = NotifierConfig {
        urls: urls.to_vec(),
        ..NotifierConfig::default()
    };
    let (notifier, _layer) = Notifier::new(config)
        .unwrap_or_else(|err| panic!("the printed URLs do not parse back: {err}"));
    notifier.names()
}

/// Asserts a failure: exit 1, one stderr line containing every needle and none of the
/// secrets, nothing on stdout.
fn assert_fails(args: &[&str], env: &[(&str, &str)], needles: &[&str], secrets: &[&str]) {
    let output = watchtower(args, env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?} {env:?} should exit 1; stderr:\n{stderr}"
    );
    assert_eq!(lines.len(), 1, "{args:?}: one line expected:\n{stderr}");
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{needle:?} missing in {stderr:?}"
        );
    }
    for secret in secrets {
        assert!(!stderr.contains(secret), "{secret:?} leaked:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
}

#[test]
fn email_through_flags() {
    let lines = upgrade(
        &[
            "--notifications",
            "email",
            "--notification-email-server",
            "smtp.example.test",
            "--notification-email-server-port",
            "587",
            "--notification-email-server-user",
            "watchtower@example.test",
            "--notification-email-server-password",
            SMTP_PASSWORD,
            "--notification-email-from",
            "wt@example.test",
            "--notification-email-to",
            "ops@example.test",
        ],
        &[],
        &[SMTP_PASSWORD, "pa%40ss"],
    );
    assert_eq!(
        lines,
        [
            "WATCHTOWER_NOTIFICATION_URL=smtp://watchtower%40example.test:pa%40ss%2Fw0rd%3A1@smtp.example.test:587/?auth=Plain&clienthost=localhost&encryption=Auto&fromaddress=wt%40example.test&fromname=Watchtower&starttls=Yes&toaddresses=ops%40example.test&usehtml=No"
        ]
    );
    assert_eq!(parse_back(&urls(&lines)), ["smtp"]);
}

#[test]
fn email_through_variables_with_delay_and_subject_tag() {
    let lines = upgrade(
        &[],
        &[
            ("WATCHTOWER_NOTIFICATIONS", "email"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_SERVER", "mail.example.test"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_FROM", "wt@example.test"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_TO", "ops@example.test"),
            (
                "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_TLS_SKIP_VERIFY",
                "true",
            ),
            ("WATCHTOWER_NOTIFICATION_EMAIL_DELAY", "45"),
            ("WATCHTOWER_NOTIFICATION_EMAIL_SUBJECTTAG", "prod"),
        ],
        &[],
    );
    assert_eq!(
        lines,
        [
            "WATCHTOWER_NOTIFICATION_URL=smtp://mail.example.test:25/?auth=None&clienthost=localhost&encryption=None&fromaddress=wt%40example.test&fromname=Watchtower&starttls=No&toaddresses=ops%40example.test&usehtml=No",
            "WATCHTOWER_NOTIFICATIONS_DELAY=45",
            "WATCHTOWER_NOTIFICATION_TITLE_TAG=prod",
        ]
    );
    assert_eq!(parse_back(&urls(&lines)), ["smtp"]);
}

#[test]
fn slack_through_flags() {
    let lines = upgrade(
        &[
            "-n",
            "slack",
            "--notification-slack-hook-url",
            SLACK_HOOK,
            "--notification-slack-identifier",
            "wt bot",
            "--notification-slack-icon-emoji",
            ":whale:",
            "--notification-slack-channel",
            "#ignored",
        ],
        &[],
        &["QRSTUVWXYZabcdefghijklmn"],
    );
    assert_eq!(
        lines,
        [
            "WATCHTOWER_NOTIFICATION_URL=slack://hook:T0ABCDEFGH-B0IJKLMNOP-QRSTUVWXYZabcdefghijklmn@webhook?botname=wt+bot&color=%23406170&icon=%3Awhale%3A"
        ]
    );
    assert_eq!(parse_back(&urls(&lines)), ["slack"]);
}

#[test]
fn slack_through_variables() {
    let lines = upgrade(
        &[],
        &[
            ("WATCHTOWER_NOTIFICATIONS", "slack"),
            ("WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL", SLACK_HOOK),
            (
                "WATCHTOWER_NOTIFICATION_SLACK_ICON_URL",
                "https://example.test/icon.png",
            ),
        ],
        &["QRSTUVWXYZabcdefghijklmn"],
    );
    assert_eq!(
        lines,
        [
            "WATCHTOWER_NOTIFICATION_URL=slack://hook:T0ABCDEFGH-B0IJKLMNOP-QRSTUVWXYZabcdefghijklmn@webhook?botname=watchtower&color=%23406170&icon=https%3A%2F%2Fexample.test%2Ficon.png"
        ]
    );
    assert_eq!(parse_back(&urls(&lines)), ["slack"]);
}

#[test]
fn discord_url_given_as_a_slack_hook() {
    let expected = "WATCHTOWER_NOTIFICATION_URL=discord://Sec_ret-Discord-Token@112233445566778899?color=0x406170&splitlines=Yes&username=wt&avatar=https%3A%2F%2Fexample.test%2Fa.png";
    let via_flags = upgrade(
        &[
            "--notifications",
            "slack",
            "--notification-slack-hook-url",
            DISCORD_HOOK,
            "--notification-slack-identifier",
            "wt",
            "--notification-slack-icon-url",
            "https://example.test/a.png",
        ],
        &[],
        &["Sec_ret-Discord-Token"],
    );
    assert_eq!(via_flags, [expected]);
    assert_eq!(parse_back(&urls(&via_flags)), ["discord"]);

    let via_env = upgrade(
        &[],
        &[
            ("WATCHTOWER_NOTIFICATIONS", "slack"),
            ("WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL", DISCORD_HOOK),
            ("WATCHTOWER_NOTIFICATION_SLACK_IDENTIFIER", "wt"),
            (
                "WATCHTOWER_NOTIFICATION_SLACK_ICON_URL",
                "https://example.test/a.png",
            ),
        ],
        &["Sec_ret-Discord-Token"],
    );
    assert_eq!(via_env, [expected]);
}

#[test]
fn msteams_through_flags_and_variables() {
    let hook = msteams_hook();
    let expected = format!(
        "WATCHTOWER_NOTIFICATION_URL=teams://{GROUP}@{TENANT}/{ALT_ID}/{OWNER}?color=%23406170&host=example.webhook.office.com"
    );
    let via_flags = upgrade(
        &[
            "--notifications",
            "msteams",
            "--notification-msteams-hook",
            &hook,
            "--notification-msteams-data",
        ],
        &[],
        &[ALT_ID],
    );
    assert_eq!(via_flags, std::slice::from_ref(&expected));
    assert_eq!(parse_back(&urls(&via_flags)), ["teams"]);

    let via_env = upgrade(
        &[],
        &[
            ("WATCHTOWER_NOTIFICATIONS", "msteams"),
            ("WATCHTOWER_NOTIFICATION_MSTEAMS_HOOK_URL", &hook),
        ],
        &[ALT_ID],
    );
    assert_eq!(via_env, [expected]);
}

#[test]
fn gotify_through_flags_and_variables() {
    let via_flags = upgrade(
        &[
            "--notifications=gotify",
            "--notification-gotify-url",
            "http://127.0.0.1:8480/gotify/",
            "--notification-gotify-token",
            GOTIFY_TOKEN,
        ],
        &[],
        &[GOTIFY_TOKEN],
    );
    assert_eq!(
        via_flags,
        [format!(
            "WATCHTOWER_NOTIFICATION_URL=gotify://127.0.0.1:8480/gotify/{GOTIFY_TOKEN}?disabletls=Yes"
        )]
    );
    assert_eq!(parse_back(&urls(&via_flags)), ["gotify"]);

    let via_env = upgrade(
        &[],
        &[
            ("WATCHTOWER_NOTIFICATIONS", "gotify"),
            (
                "WATCHTOWER_NOTIFICATION_GOTIFY_URL",
                "https://push.example.test",
            ),
            ("WATCHTOWER_NOTIFICATION_GOTIFY_TOKEN", GOTIFY_TOKEN),
        ],
        &[GOTIFY_TOKEN],
    );
    assert_eq!(
        via_env,
        [format!(
            "WATCHTOWER_NOTIFICATION_URL=gotify://push.example.test/{GOTIFY_TOKEN}"
        )]
    );
    assert_eq!(parse_back(&urls(&via_env)), ["gotify"]);
}

#[test]
fn several_types_and_existing_urls_keep_the_main_commands_order() {
    let dir = tempfile::tempdir().unwrap();
    // A secret read from a file, as the main command reads it.
    let hook_file = dir.path().join("slack-hook");
    std::fs::write(&hook_file, format!("{SLACK_HOOK}\n")).unwrap();
    let lines = upgrade(
        &["--porcelain", "v1"],
        &[
            ("WATCHTOWER_NOTIFICATIONS", "gotify slack"),
            (
                "WATCHTOWER_NOTIFICATION_URL",
                "generic+https://hooks.example.test/in",
            ),
            (
                "WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL",
                hook_file.to_str().unwrap(),
            ),
            (
                "WATCHTOWER_NOTIFICATION_GOTIFY_URL",
                "https://push.example.test",
            ),
            ("WATCHTOWER_NOTIFICATION_GOTIFY_TOKEN", GOTIFY_TOKEN),
        ],
        &[GOTIFY_TOKEN, "QRSTUVWXYZabcdefghijklmn"],
    );
    let urls = urls(&lines);
    assert_eq!(lines.len(), 1, "{lines:?}");
    // --porcelain's logger:// is left out: --porcelain keeps adding it.
    assert_eq!(
        urls,
        [
            "generic+https://hooks.example.test/in".to_owned(),
            format!("gotify://push.example.test/{GOTIFY_TOKEN}"),
            "slack://hook:T0ABCDEFGH-B0IJKLMNOP-QRSTUVWXYZabcdefghijklmn@webhook?botname=watchtower&color=%23406170".to_owned(),
        ]
    );
    assert_eq!(parse_back(&urls), ["generic+https", "gotify", "slack"]);
}

#[test]
fn other_options_and_container_names_are_accepted() {
    // A container's usual command line, with notify-upgrade put first.
    let lines = upgrade(
        &[
            "--cleanup",
            "--interval",
            "300",
            "--notifications",
            "gotify",
            "--notification-gotify-url",
            "https://push.example.test",
            "--notification-gotify-token",
            GOTIFY_TOKEN,
            "web",
        ],
        &[("WATCHTOWER_SCOPE", "prod")],
        &[GOTIFY_TOKEN],
    );
    assert_eq!(
        urls(&lines),
        [format!("gotify://push.example.test/{GOTIFY_TOKEN}")]
    );
}

#[test]
fn output_goes_to_a_new_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notifications.env");
    let args = [
        "--output",
        path.to_str().unwrap(),
        "--notifications",
        "gotify",
        "--notification-gotify-url",
        "https://push.example.test",
        "--notification-gotify-token",
        GOTIFY_TOKEN,
    ];
    let output = watchtower(&args, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(output.stdout.is_empty(), "{:?}", output.stdout);
    assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
    assert!(!stderr.contains(GOTIFY_TOKEN), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("WATCHTOWER_NOTIFICATION_URL=gotify://push.example.test/{GOTIFY_TOKEN}\n")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
    }

    // An existing file is never overwritten.
    std::fs::write(&path, "KEEP=1\n").unwrap();
    assert_fails(
        &args,
        &[],
        &["--output", path.to_str().unwrap()],
        &[GOTIFY_TOKEN],
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "KEEP=1\n");
}

#[test]
fn a_legacy_type_without_its_settings_names_the_flag() {
    assert_fails(
        &["--notifications", "msteams"],
        &[],
        &["--notifications msteams needs --notification-msteams-hook"],
        &[],
    );
    assert_fails(
        &[],
        &[("WATCHTOWER_NOTIFICATIONS", "msteams")],
        &["--notification-msteams-hook"],
        &[],
    );
    assert_fails(
        &["--notifications", "slack"],
        &[],
        &["--notification-slack-hook-url"],
        &[],
    );
    assert_fails(
        &[
            "--notifications",
            "email",
            "--notification-email-server",
            "m",
        ],
        &[],
        &["--notification-email-from"],
        &[],
    );
    assert_fails(
        &[
            "--notifications",
            "gotify",
            "--notification-gotify-url",
            "https://push.example.test",
        ],
        &[],
        &["--notification-gotify-token"],
        &[],
    );
}

#[test]
fn malformed_legacy_settings_name_the_flag_not_the_secret() {
    assert_fails(
        &[
            "--notifications",
            "slack",
            "--notification-slack-hook-url",
            "https://hooks.slack.com/services/only/Two-Sekrit",
        ],
        &[],
        &["--notification-slack-hook-url"],
        &["Two-Sekrit"],
    );
    assert_fails(
        &[],
        &[
            ("WATCHTOWER_NOTIFICATIONS", "msteams"),
            (
                "WATCHTOWER_NOTIFICATION_MSTEAMS_HOOK_URL",
                "https://example.webhook.office.com/no-group/Sekrit-Path",
            ),
        ],
        &["--notification-msteams-hook"],
        &["Sekrit-Path"],
    );
    assert_fails(
        &[
            "--notifications",
            "gotify",
            "--notification-gotify-url",
            "ftp://push.example.test",
            "--notification-gotify-token",
            GOTIFY_TOKEN,
        ],
        &[],
        &["--notification-gotify-url", "http://"],
        &[GOTIFY_TOKEN],
    );
    assert_fails(
        &["--notifications", "pigeon"],
        &[],
        &["--notifications", "\"pigeon\""],
        &[],
    );
    // A URL the notify crate refuses is shown redacted.
    assert_fails(
        &[],
        &[(
            "WATCHTOWER_NOTIFICATION_URL",
            "slack://hook:Not-A-Sekrit-Token@webhook",
        )],
        &["invalid slack notification URL"],
        &["Sekrit"],
    );
}

#[test]
fn nothing_to_upgrade_is_an_error() {
    assert_fails(&[], &[], &["nothing to upgrade", "--notifications"], &[]);
    assert_fails(
        &[],
        &[("WATCHTOWER_NOTIFICATIONS", "shoutrrr")],
        &["nothing to upgrade"],
        &[],
    );
}

#[test]
fn the_subcommand_must_come_first() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_watchtower"));
    let output = command
        .args([
            "--notifications",
            "gotify",
            "--notification-gotify-url",
            "https://push.example.test",
            "--notification-gotify-token",
            GOTIFY_TOKEN,
            "notify-upgrade",
        ])
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("notify-upgrade must be the first argument"),
        "{stderr}"
    );
    assert!(!stderr.contains(GOTIFY_TOKEN), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn help_and_completions_know_the_subcommand() {
    let main_help = Command::new(env!("CARGO_BIN_EXE_watchtower"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&main_help.stdout).contains("notify-upgrade"));

    let output = watchtower(&["--help"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("--output <FILE>"), "{help}");
    assert!(
        help.contains("WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL"),
        "{help}"
    );
    // Only the notification options are shown (the others are accepted, see above).
    assert!(!help.contains("--cleanup"), "{help}");

    let completions = Command::new(env!("CARGO_BIN_EXE_watchtower"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    let script = String::from_utf8_lossy(&completions.stdout);
    assert!(script.contains("notify-upgrade"), "{script}");
    assert!(script.contains("--output"), "{script}");
}
