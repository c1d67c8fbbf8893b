use serde_json::{Value as J, json};

use super::generic::header_name;
use super::*;

fn parse(raw: &str) -> Service {
    Service::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
}

fn err(raw: &str) -> String {
    match Service::parse(raw) {
        Ok(_) => panic!("{raw} parsed"),
        Err(e) => e.to_string(),
    }
}

fn http(service: &Service, message: &str, title: &str) -> Vec<HttpRequest> {
    service
        .deliveries(message, title, &Endpoints::default())
        .unwrap()
        .into_iter()
        .map(|d| match d {
            Delivery::Http(h) => h,
            other => panic!("not http: {other:?}"),
        })
        .collect()
}

fn body_json(r: &HttpRequest) -> J {
    serde_json::from_slice(&r.body).unwrap()
}

const SLACK_A: &str = "T012345678";
const SLACK_B: &str = "B012345678";
const SLACK_C: &str = "abcdefghijklmnopqrstuvwx";

#[test]
fn errors_name_the_scheme_and_hide_secrets() {
    let e = err("slack://hook:T0000-secretsecret@webhook");
    assert!(
        e.starts_with("invalid slack notification URL slack://REDACTED"),
        "{e}"
    );
    assert!(!e.contains("secretsecret"), "{e}");
    let e = err("telegram://123:s3cr3t@telegram");
    assert!(
        e.contains("telegram") && e.contains("no channels") && !e.contains("s3cr3t"),
        "{e}"
    );
    let e = err("matrix://user:pw@host");
    assert!(e.contains("\"matrix\"") && !e.contains("pw"), "{e}");
    let e = err("not a url");
    assert!(e.contains("invalid"), "{e}");
    let e = err("discord://tok@id?bogus=1");
    assert!(e.contains("\"bogus\" is not a valid config key"), "{e}");
    let e = err("gotify://host/notatoken");
    assert!(e.contains("gotify") && e.contains("token"), "{e}");
}

#[test]
fn redaction_keeps_only_server_hosts() {
    assert_eq!(
        redact("generic://user:pw@example.com:8080/hook/SECRET?token=x"),
        "generic://example.com:8080/REDACTED"
    );
    assert_eq!(redact("discord://token@123"), "discord://REDACTED");
    assert_eq!(redact("slack://T000/B000/XXX"), "slack://REDACTED");
    assert_eq!(redact("::"), "invalid://REDACTED");
}

#[test]
fn slack_webhook_old_and_new_formats() {
    for raw in [
        format!("slack://hook:{SLACK_A}-{SLACK_B}-{SLACK_C}@webhook?botname=wt&color=%23406170"),
        format!("slack://wt@{SLACK_A}/{SLACK_B}/{SLACK_C}?color=%23406170"),
    ] {
        let s = parse(&raw);
        let reqs = http(&s, "line one\nline two\n", "Title");
        assert_eq!(reqs.len(), 1);
        let r = &reqs[0];
        assert_eq!(
            r.url,
            format!("https://hooks.slack.com/services/{SLACK_A}/{SLACK_B}/{SLACK_C}")
        );
        assert_eq!(r.success, Success::SlackWebhook);
        let b = body_json(r);
        assert_eq!(b["text"], "Title");
        assert_eq!(b["username"], "wt");
        assert_eq!(b["attachments"].as_array().unwrap().len(), 2);
        assert_eq!(b["attachments"][1]["text"], "line two");
        assert_eq!(b["attachments"][0]["color"], "#406170");
        assert!(b.get("channel").is_none());
    }
}

#[test]
fn slack_bot_api() {
    let s = parse(&format!(
        "slack://xoxb:{SLACK_A}-{SLACK_B}-{SLACK_C}@C0123456?icon=https://x/i.png"
    ));
    let r = &http(&s, "hi", "")[0];
    assert_eq!(r.url, "https://slack.com/api/chat.postMessage");
    assert!(r.headers.contains(&(
        "Authorization".to_owned(),
        format!("Bearer xoxb-{SLACK_A}-{SLACK_B}-{SLACK_C}")
    )));
    let b = body_json(r);
    assert_eq!(b["channel"], "C0123456");
    assert_eq!(b["icon_url"], "https://x/i.png");
    assert_eq!(r.success, Success::JsonOk);
}

#[test]
fn discord_embeds_split_lines_with_title_on_first() {
    let s = parse("discord://tok3n@12345?color=0x406170&username=wt&avatar=https://a/b.png");
    let r = &http(&s, "a\n\nb\n", "T")[0];
    assert_eq!(r.url, "https://discord.com/api/webhooks/12345/tok3n");
    let b = body_json(r);
    let embeds = b["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), 2);
    assert_eq!(embeds[0]["title"], "T");
    assert_eq!(embeds[0]["description"], "a");
    assert_eq!(embeds[0]["color"], 0x0040_6170);
    assert!(embeds[1].get("title").is_none());
    assert_eq!(b["username"], "wt");
    assert_eq!(b["avatar_url"], "https://a/b.png");
    // Eleven lines need two requests (ten embeds at most per message).
    let many = "line\n".repeat(11);
    assert_eq!(http(&s, &many, "").len(), 2);
}

const TEAMS_GROUP: &str = "11111111-1111-4111-8111-111111111111";
const TEAMS_TENANT: &str = "22222222-2222-4222-8222-222222222222";
const TEAMS_ALT: &str = "0123456789abcdef0123456789abcdef";
const TEAMS_OWNER: &str = "33333333-3333-4333-8333-333333333333";

#[test]
#[allow(clippy::many_single_char_names)] // the four parts of a Teams webhook, as its docs name them
fn teams_formats() {
    let (g, t, a, o) = (TEAMS_GROUP, TEAMS_TENANT, TEAMS_ALT, TEAMS_OWNER);
    let s = parse(&format!(
        "teams://{g}@{t}/{a}/{o}?host=example.webhook.office.com&color=%23406170"
    ));
    let r = &http(&s, "one\ntwo", "T")[0];
    assert_eq!(
        r.url,
        format!("https://example.webhook.office.com/webhookb2/{g}@{t}/IncomingWebhook/{a}/{o}")
    );
    let b = body_json(r);
    assert_eq!(b["@type"], "MessageCard");
    assert_eq!(b["themeColor"], "#406170");
    assert_eq!(b["sections"][1]["text"], "two");
    assert_eq!(b["title"], "T");
    let legacy = parse(&format!("teams://{g}@{t}/{a}/{o}"));
    assert!(
        http(&legacy, "x", "")[0]
            .url
            .starts_with("https://outlook.office.com/webhook/")
    );
    let custom = parse(&format!(
        "teams+https://org.webhook.office.com/webhookb2/{g}@{t}/IncomingWebhook/{a}/{o}"
    ));
    assert!(
        http(&custom, "x", "")[0]
            .url
            .starts_with("https://org.webhook.office.com/webhookb2/")
    );
    assert!(err(&format!("teams://{g}@{t}/short/{o}")).contains("altId"));
}

#[test]
fn gotify_with_subpath() {
    let s = parse("gotify://example.com:8443/path/to/AzyoeNS.D4iJLVa/?priority=5&title=X");
    let r = &http(&s, "m", "")[0];
    assert_eq!(
        r.url,
        "https://example.com:8443/path/to/message?token=AzyoeNS.D4iJLVa"
    );
    assert_eq!(
        body_json(r),
        json!({"message": "m", "title": "X", "priority": 5})
    );
    let plain = parse("gotify://h/AzyoeNS.D4iJLVa?disabletls=yes");
    assert_eq!(
        http(&plain, "m", "T")[0].url,
        "http://h/message?token=AzyoeNS.D4iJLVa"
    );
}

#[test]
fn generic_forms() {
    let s = parse(
        "generic://example.com/api/hook?template=json&$source=wt&@acceptLanguage=en&messagekey=text&foo=bar&__title=keep",
    );
    let r = &http(&s, "m", "T")[0];
    assert_eq!(r.url, "https://example.com/api/hook?foo=bar&title=keep");
    assert_eq!(
        body_json(r),
        json!({"title": "T", "text": "m", "source": "wt"})
    );
    assert!(
        r.headers
            .contains(&("Accept-Language".to_owned(), "en".to_owned()))
    );
    let plain = parse("generic+http://127.0.0.1:9/x?contenttype=text/plain");
    let r = &http(&plain, "hello", "T")[0];
    assert_eq!(r.url, "http://127.0.0.1:9/x?contenttype=text%2Fplain");
    assert_eq!(r.body, b"hello");
    assert!(
        r.headers
            .contains(&("Content-Type".to_owned(), "application/json".to_owned()))
    );
    assert!(err("generic://h/x?template=custom").contains("template"));
}

#[test]
fn telegram_html_title() {
    let s = parse("telegram://123456:ABC-def_1@telegram?chats=@chan,42:7&preview=no");
    let reqs = http(&s, "a<b", "T&T");
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].url,
        "https://api.telegram.org/bot123456:ABC-def_1/sendMessage"
    );
    let b0 = body_json(&reqs[0]);
    assert_eq!(b0["chat_id"], "@chan");
    assert_eq!(b0["text"], "<b>T&amp;T</b>\na&lt;b");
    assert_eq!(b0["parse_mode"], "HTML");
    assert_eq!(b0["disable_web_page_preview"], true);
    let b1 = body_json(&reqs[1]);
    assert_eq!(b1["chat_id"], "42");
    assert_eq!(b1["message_thread_id"], 7);
    assert!(
        s.deliveries(&"x".repeat(5000), "", &Endpoints::default())
            .is_err()
    );
}

#[test]
fn smtp_settings() {
    let Service::Smtp(s) = parse(
        "smtp://me%40x.org:p%40ss@mail.example.com:587/?from=me@x.org&to=a@x.org,b@x.org&fromname=Watchtower",
    ) else {
        panic!()
    };
    assert_eq!(s.username, "me@x.org");
    assert_eq!(s.password, "p@ss");
    assert_eq!(s.auth, SmtpAuth::Plain);
    assert_eq!(s.encryption, SmtpEncryption::Auto);
    assert!(!s.implicit_tls());
    assert!(s.starttls);
    assert_eq!(s.to.len(), 2);
    assert!(!format!("{s:?}").contains("p@ss"));
    assert!(err("smtp://h/?from=a@b").contains("toAddress"));
    assert!(err("smtp://h/?to=a@b").contains("fromAddress"));
    assert!(err("smtp://h/?from=a@b&to=c@d&auth=crammd5").contains("CRAMMD5"));
}

#[test]
fn ntfy_and_pushover() {
    let s =
        parse("ntfy://u:p@ntfy.example:8080/alerts?scheme=http&priority=high&tags=a,b&cache=no");
    let r = &http(&s, "body", "T")[0];
    assert_eq!(r.url, "http://ntfy.example:8080/alerts");
    assert_eq!(r.body, b"body");
    for h in [
        ("Title", "T"),
        ("Priority", "4"),
        ("Tags", "a,b"),
        ("Cache", "no"),
        ("Authorization", "Basic dTpw"),
    ] {
        assert!(
            r.headers.contains(&(h.0.to_owned(), h.1.to_owned())),
            "{h:?} in {:?}",
            r.headers
        );
    }
    let p = parse("pushover://shoutrrr:tok@user/?devices=d1,d2&priority=1");
    let r = &http(&p, "msg", "T")[0];
    assert_eq!(r.url, "https://api.pushover.net/1/messages.json");
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "device=d1%2Cd2&message=msg&priority=1&title=T&token=tok&user=user"
    );
}

#[test]
fn header_names_like_shoutrrr() {
    assert_eq!(header_name("acceptLanguage"), "Accept-Language");
    assert_eq!(header_name("x-custom"), "X-Custom");
    assert_eq!(header_name("Authorization"), "Authorization");
}

#[test]
fn debug_of_requests_and_deliveries_shows_no_secret() {
    let slack_bot = format!("{SLACK_A}-{SLACK_B}-{SLACK_C}");
    let cases: &[(String, &[&str])] = &[
        (
            format!("slack://xoxb:{slack_bot}@C0CHANNEL"),
            &[SLACK_A, SLACK_B, SLACK_C],
        ),
        (
            format!("slack://hook:{slack_bot}@webhook"),
            &[SLACK_A, SLACK_B, SLACK_C],
        ),
        (
            "discord://DiscordTokenSecret42@424242".to_owned(),
            &["DiscordTokenSecret42"],
        ),
        (
            "telegram://123456:TelegramBotSecret@telegram?chats=42".to_owned(),
            &["TelegramBotSecret", "123456:"],
        ),
        (
            "gotify://gotify.example/AzyoeNS.D4iJLVa".to_owned(),
            &["AzyoeNS.D4iJLVa"],
        ),
        (
            "generic://hookuser:HookPassSecret@hooks.example/path/PathSecret?token=QuerySecret&@xApiKey=HeaderSecret"
                .to_owned(),
            &["HookPassSecret", "PathSecret", "QuerySecret", "HeaderSecret", "hookuser"],
        ),
        (
            "ntfy://ntfyuser:NtfyPassSecret@ntfy.example/TopicSecret".to_owned(),
            &["NtfyPassSecret", "TopicSecret"],
        ),
        (
            "pushover://shoutrrr:PushoverTokenSecret@userkey/".to_owned(),
            &["PushoverTokenSecret"],
        ),
    ];
    for (raw, secrets) in cases {
        let service = parse(raw);
        let deliveries = service
            .deliveries("the message", "the title", &Endpoints::default())
            .unwrap();
        assert!(!deliveries.is_empty(), "{raw}");
        for delivery in &deliveries {
            let Delivery::Http(request) = delivery else {
                panic!("{raw}: not an HTTP delivery");
            };
            // The request does carry the secrets (so the check below can fail) ...
            let raw_request = format!(
                "{} {:?} {}",
                request.url,
                request.headers,
                String::from_utf8_lossy(&request.body)
            );
            let carried = secrets.iter().filter(|s| raw_request.contains(*s)).count();
            assert!(
                carried > 0,
                "{raw}: the request carries none of {secrets:?}"
            );
            // ... but its Debug output, alone and inside the Delivery, shows none of them.
            for text in [
                format!("{request:?}"),
                format!("{delivery:?}"),
                format!("{request:#?}"),
            ] {
                for secret in *secrets {
                    assert!(!text.contains(secret), "{raw}: {secret} in {text}");
                }
                assert!(
                    !text.contains("Basic ") && !text.contains("Bearer "),
                    "{raw}: {text}"
                );
                assert!(text.contains("POST"), "{raw}: the method is shown: {text}");
                assert!(
                    text.contains("https://"),
                    "{raw}: the scheme is shown: {text}"
                );
            }
        }
    }
}

#[test]
fn request_urls_are_redacted_to_scheme_and_host() {
    assert_eq!(
        redact_request_url("https://api.telegram.org/bot123:SECRET/sendMessage"),
        "https://api.telegram.org/REDACTED"
    );
    assert_eq!(
        redact_request_url("http://u:p@127.0.0.1:8080/?token=x"),
        "http://127.0.0.1:8080/REDACTED"
    );
    assert_eq!(
        redact_request_url("https://example.com/"),
        "https://example.com"
    );
    assert_eq!(redact_request_url("not a url SECRET"), "REDACTED");
}
