//! Every service against a real HTTP receiver on 127.0.0.1: method, path, headers and body
//! as each service's documented API expects them; retries, timeouts, redaction.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::Receiver;
use tokio::time::Instant;
use watchtower_notify::{Error, LegacyOptions, Notifier, NotifierConfig};
use watchtower_session_report::{ContainerRef, Report, ReportBuilder};

const SLACK_HOOK: &str = "T01234567X-B01234567X-abcdefghijklmnopqrstuvwx";
const SLACK_BOT: &str = "123456789012-1234567890123-4mt0t4l1YL3g1T5L4cK70k3N";
const TEAMS: (&str, &str, &str, &str) = (
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    "0123456789abcdef0123456789abcdef",
    "33333333-3333-4333-8333-333333333333",
);

fn report() -> Report {
    let mut b = ReportBuilder::new();
    b.updated(
        &ContainerRef::new(
            "c0ffee000001",
            "/web",
            "nginx:1.27",
            "sha256:aaaaaaaaaaaaaaaa",
        ),
        "sha256:bbbbbbbbbbbbbbbb",
    );
    b.fresh(&ContainerRef::new(
        "c0ffee000002",
        "/db",
        "postgres:17",
        "sha256:cccccccccccccccc",
    ));
    b.build()
}

const MESSAGE: &str = "2 Scanned, 1 Updated, 0 Failed\n- /web (nginx:1.27): aaaaaaaaaaaa updated to bbbbbbbbbbbb\n- /db (postgres:17): Fresh";
const TITLE: &str = "Watchtower updates on testhost";

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn config(urls: Vec<String>) -> NotifierConfig {
    NotifierConfig {
        urls,
        report: true,
        hostname: "testhost".to_owned(),
        request_timeout: Duration::from_secs(5),
        retry_backoff: Duration::from_millis(10),
        ..NotifierConfig::default()
    }
}

#[tokio::test]
// One message to every service, then each request checked against that service's API docs.
#[allow(clippy::too_many_lines, clippy::many_single_char_names)]
async fn every_service_sends_what_its_api_expects() {
    let rx = Receiver::start().await;
    let p = rx.port;
    let (g, t, a, o) = TEAMS;
    let urls = vec![
        format!("generic+http://127.0.0.1:{p}/generic/plain?token=abc"),
        format!(
            "generic://127.0.0.1:{p}/generic/json?disabletls=yes&template=json&@xApiKey=k1&$source=watchtower"
        ),
        format!("slack://hook:{SLACK_HOOK}@webhook?botname=wt&color=%23406170"),
        format!("slack://xoxb:{SLACK_BOT}@C001CH4NN3L?icon=whale"),
        "discord://t0ken@424242?username=wt".to_owned(),
        format!("teams://{g}@{t}/{a}/{o}?host=example.webhook.office.com&color=%23406170"),
        format!("gotify://127.0.0.1:{p}/gotify/AzyoeNS.D4iJLVa?disabletls=yes&priority=3"),
        "telegram://123456:ABC-def@telegram?chats=42,@news".to_owned(),
        format!("ntfy://127.0.0.1:{p}/alerts?scheme=http&tags=whale&priority=high"),
        "pushover://shoutrrr:apptoken@userkey/?devices=phone".to_owned(),
        "logger://".to_owned(),
    ];
    let stdout = Buffer::default();
    let (notifier, _layer) = Notifier::builder(NotifierConfig {
        log_stdout: true,
        ..config(urls)
    })
    .test_endpoints(&rx.base)
    .log_writer(Box::new(stdout.clone()))
    .build()
    .unwrap();
    assert_eq!(
        notifier.names(),
        [
            "generic+http",
            "generic",
            "slack",
            "slack",
            "discord",
            "teams",
            "gotify",
            "telegram",
            "ntfy",
            "pushover",
            "logger"
        ]
    );
    notifier.send(Some(&report()));
    notifier.flush().await;

    // Generic webhook, plain: the message is the body, query forwarded.
    let r = &rx.take("/generic/plain")[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.query.as_deref(), Some("token=abc"));
    assert_eq!(r.text(), MESSAGE);
    assert_eq!(r.header("content-type"), Some("application/json"));
    // Generic webhook, JSON template with an extra field and a custom header.
    let r = &rx.take("/generic/json")[0];
    assert_eq!(
        r.json(),
        serde_json::json!({"title": TITLE, "message": MESSAGE, "source": "watchtower"})
    );
    assert_eq!(r.header("x-api-key"), Some("k1"));
    // Slack webhook: POST /services/A/B/C, text = title, one attachment per line.
    let r = &rx.take("/services/")[0];
    assert_eq!(
        r.path,
        "/services/T01234567X/B01234567X/abcdefghijklmnopqrstuvwx"
    );
    let b = r.json();
    assert_eq!(b["text"], TITLE);
    assert_eq!(b["username"], "wt");
    let lines: Vec<&str> = b["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].as_str().unwrap())
        .collect();
    assert_eq!(lines, MESSAGE.split('\n').collect::<Vec<_>>());
    assert_eq!(b["attachments"][0]["color"], "#406170");
    // Slack bot API: chat.postMessage with a bearer token and the channel.
    let r = &rx.take("/api/chat.postMessage")[0];
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer xoxb-{SLACK_BOT}").as_str())
    );
    assert_eq!(r.json()["channel"], "C001CH4NN3L");
    assert_eq!(r.json()["icon_emoji"], "whale");
    // Discord: one embed per line, title on the first.
    let r = &rx.take("/api/webhooks/")[0];
    assert_eq!(r.path, "/api/webhooks/424242/t0ken");
    let b = r.json();
    assert_eq!(b["username"], "wt");
    assert_eq!(b["embeds"].as_array().unwrap().len(), 3);
    assert_eq!(b["embeds"][0]["title"], TITLE);
    assert_eq!(b["embeds"][2]["description"], "- /db (postgres:17): Fresh");
    // Teams: a MessageCard to the webhook path.
    let r = &rx.take("/webhookb2/")[0];
    assert_eq!(
        r.path,
        format!("/webhookb2/{g}@{t}/IncomingWebhook/{a}/{o}")
    );
    let b = r.json();
    assert_eq!(b["@type"], "MessageCard");
    assert_eq!(b["title"], TITLE);
    assert_eq!(b["themeColor"], "#406170");
    assert_eq!(b["sections"].as_array().unwrap().len(), 3);
    // Gotify: POST <path>/message?token=..., JSON message/title/priority.
    let r = &rx.take("/gotify/")[0];
    assert_eq!(r.path, "/gotify/message");
    assert_eq!(r.query.as_deref(), Some("token=AzyoeNS.D4iJLVa"));
    assert_eq!(
        r.json(),
        serde_json::json!({"message": MESSAGE, "title": TITLE, "priority": 3})
    );
    // Telegram: sendMessage per chat; the title makes it HTML.
    let tg = rx.take("/bot123456:ABC-def/sendMessage");
    assert_eq!(tg.len(), 2);
    let chats: Vec<String> = tg
        .iter()
        .map(|r| r.json()["chat_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(chats.contains(&"42".to_owned()) && chats.contains(&"@news".to_owned()));
    assert_eq!(tg[0].json()["parse_mode"], "HTML");
    assert_eq!(tg[0].json()["text"], format!("<b>{TITLE}</b>\n{MESSAGE}"));
    // ntfy: the message as the body, metadata in headers.
    let r = &rx.take("/alerts")[0];
    assert_eq!(r.text(), MESSAGE);
    assert_eq!(r.header("title"), Some(TITLE));
    assert_eq!(r.header("priority"), Some("4"));
    assert_eq!(r.header("tags"), Some("whale"));
    // Pushover: form-encoded.
    let r = &rx.take("/1/messages.json")[0];
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&r.body).into_owned().collect();
    for (k, v) in [
        ("token", "apptoken"),
        ("user", "userkey"),
        ("device", "phone"),
        ("title", TITLE),
        ("message", MESSAGE),
    ] {
        assert!(
            form.contains(&(k.to_owned(), v.to_owned())),
            "{k}={v} in {form:?}"
        );
    }
    // Logger to stdout.
    assert_eq!(stdout.text(), format!("{MESSAGE}\n"));
}

#[tokio::test]
async fn nothing_to_say_sends_nothing() {
    let rx = Receiver::start().await;
    let (notifier, _layer) = Notifier::new(config(vec![format!(
        "generic+http://127.0.0.1:{}/hook",
        rx.port
    )]))
    .unwrap();
    let mut b = ReportBuilder::new();
    b.fresh(&ContainerRef::new("c1", "/db", "postgres:17", "sha256:cc"));
    notifier.start_session();
    notifier.send(Some(&b.build()));
    notifier.flush().await;
    assert_eq!(rx.requests().len(), 0);
}

fn capture_logs() -> (Buffer, tracing::subscriber::DefaultGuard) {
    let logs = Buffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times_and_logged_without_secrets() {
    let rx = Receiver::start().await;
    let (logs, _guard) = capture_logs();
    let (notifier, _layer) = Notifier::new(config(vec![
        format!(
            "generic+http://hookuser:SECRETPASS@127.0.0.1:{}/fail/SECRETPATH?key=SECRETQUERY",
            rx.port
        ),
        format!("generic+http://127.0.0.1:{}/busy", rx.port),
    ]))
    .unwrap();
    notifier.send(Some(&report()));
    notifier.flush().await;
    assert_eq!(rx.count("/fail"), 3, "500 is retried up to max_attempts");
    assert_eq!(rx.count("/busy"), 3, "429 is retried up to max_attempts");
    let text = logs.text();
    assert!(text.contains("Failed to send notification"), "{text}");
    assert!(text.contains("500 Internal Server Error"), "{text}");
    assert!(text.contains("429 Too Many Requests"), "{text}");
    for secret in ["SECRETPASS", "SECRETPATH", "SECRETQUERY", "hookuser"] {
        assert!(!text.contains(secret), "{secret} leaked into logs:\n{text}");
    }
}

#[tokio::test]
async fn a_hanging_receiver_costs_at_most_the_timeout_and_never_blocks_the_caller() {
    let rx = Receiver::start().await;
    let timeout = Duration::from_millis(300);
    let (notifier, _layer) = Notifier::new(NotifierConfig {
        request_timeout: timeout,
        ..config(vec![format!("generic+http://127.0.0.1:{}/hang", rx.port)])
    })
    .unwrap();
    let start = Instant::now();
    notifier.send(Some(&report()));
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "send() waited for the receiver"
    );
    notifier.flush().await;
    let spent = start.elapsed();
    assert!(
        spent >= timeout,
        "flush returned before the timeout: {spent:?}"
    );
    assert!(
        spent < timeout + Duration::from_secs(1),
        "a hang cost {spent:?}"
    );
    assert_eq!(rx.count("/hang"), 1, "a timeout is not retried");
}

#[tokio::test]
async fn delay_waits_before_sending() {
    let rx = Receiver::start().await;
    let (notifier, _layer) = Notifier::new(NotifierConfig {
        delay: Duration::from_millis(300),
        ..config(vec![format!("generic+http://127.0.0.1:{}/hook", rx.port)])
    })
    .unwrap();
    let start = Instant::now();
    notifier.send(Some(&report()));
    notifier.flush().await;
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(rx.count("/hook"), 1);
}

#[tokio::test]
async fn skip_title_and_title_tag() {
    let rx = Receiver::start().await;
    let url = format!(
        "generic://127.0.0.1:{}/hook?disabletls=yes&template=json",
        rx.port
    );
    let (notifier, _layer) = Notifier::new(NotifierConfig {
        skip_title: true,
        ..config(vec![url.clone()])
    })
    .unwrap();
    notifier.send(Some(&report()));
    notifier.flush().await;
    assert_eq!(
        rx.take("/hook")[0].json(),
        serde_json::json!({"message": MESSAGE})
    );

    let (tagged, _layer) = Notifier::new(NotifierConfig {
        email_subject_tag: "prod".to_owned(),
        ..config(vec![url])
    })
    .unwrap();
    assert_eq!(tagged.title(), "[prod] Watchtower updates on testhost");
    tagged.send(Some(&report()));
    tagged.flush().await;
    assert_eq!(
        rx.take("/hook")[1].json()["title"],
        "[prod] Watchtower updates on testhost"
    );
}

#[tokio::test]
#[allow(clippy::many_single_char_names)] // the four parts of a Teams webhook
async fn legacy_flags_become_services() {
    let rx = Receiver::start().await;
    let (g, t, a, o) = TEAMS;
    let legacy = LegacyOptions {
        types: vec![
            "slack".to_owned(),
            "msteams".to_owned(),
            "gotify".to_owned(),
            "shoutrrr".to_owned(),
        ],
        slack_hook_url: format!(
            "https://hooks.slack.com/services/{}",
            SLACK_HOOK.replace('-', "/")
        ),
        slack_identifier: "wt-1".to_owned(),
        slack_icon_emoji: ":whale:".to_owned(),
        msteams_hook: format!(
            "https://example.webhook.office.com/webhookb2/{g}@{t}/IncomingWebhook/{a}/{o}"
        ),
        gotify_url: format!("http://127.0.0.1:{}/gotify/", rx.port),
        gotify_token: "AzyoeNS.D4iJLVa".to_owned(),
        ..LegacyOptions::default()
    };
    let (notifier, _layer) = Notifier::builder(NotifierConfig {
        legacy,
        ..config(vec![])
    })
    .test_endpoints(&rx.base)
    .build()
    .unwrap();
    assert_eq!(notifier.names(), ["slack", "teams", "gotify"]);
    notifier.send(Some(&report()));
    notifier.flush().await;
    let slack = rx.take("/services/")[0].json();
    assert_eq!(slack["username"], "wt-1");
    assert_eq!(slack["icon_emoji"], ":whale:");
    assert_eq!(slack["attachments"][0]["color"], "#406170");
    assert_eq!(rx.take("/webhookb2/")[0].json()["themeColor"], "#406170");
    assert_eq!(
        rx.take("/gotify/message")[0].query.as_deref(),
        Some("token=AzyoeNS.D4iJLVa")
    );
}

#[tokio::test]
async fn discord_url_given_as_slack_hook() {
    let rx = Receiver::start().await;
    let legacy = LegacyOptions {
        types: vec!["slack".to_owned()],
        slack_hook_url: "https://discord.com/api/webhooks/424242/t0ken-X_y/slack".to_owned(),
        slack_icon_url: "https://example.com/avatar.png".to_owned(),
        ..LegacyOptions::default()
    };
    let (notifier, _layer) = Notifier::builder(NotifierConfig {
        legacy,
        ..config(vec![])
    })
    .test_endpoints(&rx.base)
    .build()
    .unwrap();
    assert_eq!(notifier.names(), ["discord"]);
    notifier.send(Some(&report()));
    notifier.flush().await;
    let r = &rx.take("/api/webhooks/")[0];
    assert_eq!(r.path, "/api/webhooks/424242/t0ken-X_y");
    let b = r.json();
    assert_eq!(b["username"], "watchtower");
    assert_eq!(b["avatar_url"], "https://example.com/avatar.png");
    assert_eq!(b["embeds"][0]["color"], 0x0040_6170);
}

#[tokio::test]
async fn invalid_urls_fail_at_start_up_naming_the_scheme() {
    let err =
        Notifier::new(config(vec!["slack://hook:nope-S3CRET@webhook".to_owned()])).unwrap_err();
    assert!(
        matches!(err, Error::InvalidUrl { ref scheme, .. } if scheme == "slack"),
        "{err}"
    );
    assert!(!err.to_string().contains("S3CRET"), "{err}");
    let err = Notifier::new(config(vec!["irc://server/chan".to_owned()])).unwrap_err();
    assert!(err.to_string().contains("\"irc\""), "{err}");
    let err = Notifier::new(NotifierConfig {
        legacy: LegacyOptions {
            types: vec!["pager".to_owned()],
            ..LegacyOptions::default()
        },
        ..config(vec![])
    })
    .unwrap_err();
    assert!(err.to_string().contains("\"pager\""), "{err}");
    let err = Notifier::new(NotifierConfig {
        legacy: LegacyOptions {
            types: vec!["gotify".to_owned()],
            gotify_url: "gotify.example.com".to_owned(),
            gotify_token: "AzyoeNS.D4iJLVa".to_owned(),
            ..LegacyOptions::default()
        },
        ..config(vec![])
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("--notification-gotify-url"),
        "{err}"
    );
}

#[test]
fn debug_output_hides_secrets_and_building_needs_a_runtime() {
    let config = NotifierConfig {
        urls: vec!["telegram://123456:TOPSECRET@telegram?chats=1".to_owned()],
        legacy: LegacyOptions {
            gotify_token: "AzyoeNS.D4iJLVa".to_owned(),
            email_server_password: "MAILPASS".to_owned(),
            ..LegacyOptions::default()
        },
        ..NotifierConfig::default()
    };
    let debug = format!("{config:?}");
    for secret in ["TOPSECRET", "AzyoeNS.D4iJLVa", "MAILPASS"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    let err = Notifier::new(config).unwrap_err();
    assert!(matches!(err, Error::NoRuntime), "{err}");
}

#[tokio::test]
async fn no_configuration_type_shows_a_secret_in_debug_or_errors() {
    let slack_bot = SLACK_BOT;
    let secrets = [
        "SlackHookS3cret",
        "4mt0t4l1YL3g1T5L4cK70k3N",
        "DiscordS3cret",
        "TelegramS3cret",
        "AzyoeNS.D4iJLVa",
        "GenericPassS3cret",
        "GenericPathS3cret",
        "GenericQueryS3cret",
        "GenericHeaderS3cret",
        "SmtpPassS3cret",
        "NtfyPassS3cret",
        "PushoverS3cret",
        "LegacyMailS3cret",
        "LegacySlackS3cret",
        "LegacyTeamsS3cret",
        "LegacyGotifyUrlS3cret",
        "BzyoeNS.D4iJLVa",
    ];
    let full = NotifierConfig {
        urls: vec![
            "slack://hook:T01234567X-B01234567X-SlackHookS3cret123456789@webhook".to_owned(),
            format!("slack://xoxb:{slack_bot}@C0CHANNEL"),
            "discord://DiscordS3cret@424242".to_owned(),
            "telegram://123456:TelegramS3cret@telegram?chats=1".to_owned(),
            "gotify://gotify.example/AzyoeNS.D4iJLVa".to_owned(),
            "generic://u:GenericPassS3cret@hooks.example/GenericPathS3cret?token=GenericQueryS3cret&@xApiKey=GenericHeaderS3cret".to_owned(),
            "smtp://mailer:SmtpPassS3cret@mail.example:587/?fromaddress=a@example.com&toaddresses=b@example.com".to_owned(),
            "ntfy://n:NtfyPassS3cret@ntfy.example/topic".to_owned(),
            "pushover://shoutrrr:PushoverS3cret@userkey/".to_owned(),
        ],
        legacy: LegacyOptions {
            email_server_password: "LegacyMailS3cret".to_owned(),
            slack_hook_url: "https://hooks.slack.com/services/A/B/LegacySlackS3cret".to_owned(),
            msteams_hook: "https://example.webhook.office.com/webhookb2/LegacyTeamsS3cret"
                .to_owned(),
            gotify_url: "https://gu:LegacyGotifyUrlS3cret@gotify.example".to_owned(),
            gotify_token: "BzyoeNS.D4iJLVa".to_owned(),
            ..LegacyOptions::default()
        },
        ..NotifierConfig::default()
    };
    let mut texts = vec![
        format!("{full:?}"),
        format!("{full:#?}"),
        format!("{:?}", full.legacy),
    ];
    let (notifier, layer) = Notifier::new(NotifierConfig {
        legacy: LegacyOptions::default(),
        ..full.clone()
    })
    .unwrap();
    texts.push(format!("{notifier:?} {layer:?}"));
    // Errors, as Display and Debug, for URLs each service refuses.
    for bad in [
        "slack://hook:T0000-SlackHookS3cret@webhook",
        "discord://DiscordS3cret@424242?bogus=1",
        "telegram://123456:TelegramS3cret@telegram",
        "generic://u:GenericPassS3cret@hooks.example/GenericPathS3cret?template=bogus",
        "smtp://mailer:SmtpPassS3cret@mail.example/?auth=bogus",
        "matrix://m:NtfyPassS3cret@matrix.example/room",
        // No scheme: the text before the first `:` is a token, not a scheme.
        "123456:TelegramS3cret",
        "T0000/B0000:PushoverS3cret",
    ] {
        let err = Notifier::new(config(vec![bad.to_owned()])).unwrap_err();
        texts.push(format!("{err} {err:?}"));
    }
    let err = Notifier::new(config(vec!["123456:TelegramS3cret".to_owned()])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid invalid notification URL invalid://REDACTED"),
        "{err}"
    );
    assert!(!err.to_string().contains("123456"), "{err}");
    for text in &texts {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    // What is shown stays useful: services by scheme, servers by host.
    assert!(
        texts[0].contains("smtp://mail.example:587/REDACTED"),
        "{}",
        texts[0]
    );
    assert!(texts[0].contains("https://gotify.example"), "{}", texts[0]);
    notifier.close().await;
}
