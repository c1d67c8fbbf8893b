//! The tracing layer: which events become notification content, batching in a session, one
//! message per event outside a session. Output goes through `logger://` to a buffer.

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::DateTime;
use tracing_subscriber::layer::SubscriberExt;
use watchtower_notify::{Clock, Level, Notifier, NotifierConfig};

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
    fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<chrono::FixedOffset> {
        DateTime::parse_from_rfc3339("2024-05-01T10:20:30+02:00").unwrap()
    }
}

fn notifier(template: &str, level: Level) -> (Notifier, Buffer, tracing::subscriber::DefaultGuard) {
    let out = Buffer::default();
    let (notifier, layer) = Notifier::builder(NotifierConfig {
        urls: vec!["logger://".to_owned()],
        log_stdout: true,
        template: template.to_owned(),
        level,
        hostname: "h".to_owned(),
        ..NotifierConfig::default()
    })
    .clock(Arc::new(FixedClock))
    .log_writer(Box::new(out.clone()))
    .build()
    .unwrap();
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    (notifier, out, guard)
}

#[tokio::test]
async fn a_session_is_batched_into_one_message() {
    let (n, out, _guard) = notifier("", Level::Info);
    n.start_session();
    tracing::info!(target: "watchtower_actions", container = "/web", "Found new image");
    tracing::debug!(target: "watchtower_actions", "too verbose for level info");
    tracing::info!(target: "watchtower_actions", notify = "no", "Session done");
    tracing::info!(target: "hyper_util::client", "not ours");
    tracing::warn!(target: "watchtower::main", "Stopping /web");
    tracing::error!(target: "watchtower_notify::transport", "the notifier's own line");
    n.send(None);
    n.flush().await;
    assert_eq!(out.take(), "Found new image\nStopping /web\n");
}

#[tokio::test]
async fn events_outside_a_session_are_sent_one_by_one() {
    let (n, out, _guard) = notifier("", Level::Info);
    tracing::info!(target: "watchtower", "first");
    tracing::info!(target: "watchtower", "second");
    n.flush().await;
    // Two messages, each ending in the newline of the default legacy template.
    assert_eq!(out.take(), "first\nsecond\n");
}

#[tokio::test]
async fn an_empty_session_sends_nothing() {
    let (n, out, _guard) = notifier("", Level::Info);
    n.start_session();
    tracing::debug!(target: "watchtower_actions", "below the level");
    n.send(None);
    n.flush().await;
    assert_eq!(out.take(), "");
}

#[tokio::test]
async fn level_time_and_fields_reach_the_template() {
    let t = "{{range .}}{{.Time.Format \"15:04:05 -07:00\"}} [{{.Level}}] {{.Message}} {{.Data.container}} {{.Data.count}}{{println}}{{end}}";
    let (n, out, _guard) = notifier(t, Level::Debug);
    n.start_session();
    tracing::debug!(target: "watchtower_actions", container = "/db", count = 3_u64, "checked");
    tracing::trace!(target: "watchtower_actions", "dropped: more verbose than debug");
    n.send(None);
    n.flush().await;
    assert_eq!(out.take(), "10:20:30 +02:00 [debug] checked /db 3\n");
}

#[tokio::test]
async fn a_template_that_fails_at_run_time_is_kept_not_replaced() {
    // `.Entries` does not exist in legacy mode (the data is the list of entries): a run-time
    // error, which the original does not fall back on (only a parse error selects the
    // default template). The message cannot be rendered, so nothing is sent.
    let (n, out, _guard) = notifier("{{range .Entries}}{{.Message}}{{end}}", Level::Info);
    n.start_session();
    tracing::info!(target: "watchtower_actions", "not delivered");
    n.send(None);
    n.flush().await;
    assert_eq!(out.take(), "");
}

#[tokio::test]
async fn a_template_that_does_not_parse_is_replaced_by_the_default() {
    let (n, out, _guard) = notifier("{{range .}}{{.Message}", Level::Info);
    n.start_session();
    tracing::info!(target: "watchtower_actions", "delivered with the default template");
    n.send(None);
    n.flush().await;
    assert_eq!(out.take(), "delivered with the default template\n");
}
