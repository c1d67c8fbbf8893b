//! The `tracing` layer that turns log events into notification content.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::model::{FieldValue, Level, LogEntry};
use crate::notifier::Inner;

/// Captures log events for notifications, as the original's logrus hook did.
///
/// Install it in the binary's subscriber (`tracing_subscriber::registry().with(layer)`). It
/// keeps events that
/// - come from watchtower's own crates (target starting with `watchtower`), except this
///   crate's own (so a failing send cannot notify about itself);
/// - are at most as verbose as `--notifications-level`;
/// - do not carry the field `notify = "no"` (or `notify = false`): the original's
///   `LocalLog`, for lines such as "Session done" that stay local.
///
/// During a session (between [`crate::Notifier::start_session`] and
/// [`crate::Notifier::send`]) events are queued; outside one, each is sent on its own.
#[derive(Clone)]
pub struct NotifyLayer {
    inner: Arc<Inner>,
}

impl fmt::Debug for NotifyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyLayer")
            .field("level", &self.inner.level)
            .finish()
    }
}

impl NotifyLayer {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self { inner }
    }
}

#[derive(Default)]
struct Visited {
    message: String,
    fields: BTreeMap<String, FieldValue>,
    local_only: bool,
}

impl Visited {
    fn put(&mut self, field: &Field, value: FieldValue) {
        match field.name() {
            "message" => {
                self.message = match value {
                    FieldValue::Str(s) => s,
                    FieldValue::Int(i) => i.to_string(),
                    FieldValue::Uint(u) => u.to_string(),
                    FieldValue::Float(f) => f.to_string(),
                    FieldValue::Bool(b) => b.to_string(),
                };
            }
            "notify" => {
                if matches!(&value, FieldValue::Str(s) if s == "no")
                    || value == FieldValue::Bool(false)
                {
                    self.local_only = true;
                }
            }
            name => {
                self.fields.insert(name.to_owned(), value);
            }
        }
    }
}

impl Visit for Visited {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, FieldValue::Str(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, FieldValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, FieldValue::Uint(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, FieldValue::Float(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, FieldValue::Bool(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, FieldValue::Str(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, FieldValue::Str(format!("{value:?}")));
    }
}

/// Whether events of `target` may become notification content.
pub(crate) fn captures_target(target: &str) -> bool {
    target.starts_with("watchtower") && !target.starts_with("watchtower_notify")
}

impl<S: Subscriber> Layer<S> for NotifyLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !captures_target(meta.target()) {
            return;
        }
        let level = Level::from_tracing(*meta.level());
        if level > self.inner.level {
            return;
        }
        let mut fields = Visited::default();
        event.record(&mut fields);
        if fields.local_only {
            return;
        }
        self.inner.capture(LogEntry {
            level,
            message: fields.message,
            time: self.inner.clock.now(),
            fields: fields.fields,
        });
    }
}
