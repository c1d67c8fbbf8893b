//! The log output: `--log-format auto|logfmt|pretty|json`, `--log-level` (after `--debug`
//! and `--trace`), `--no-color` / `NO_COLOR`, on stderr.
//!
//! The text formats keep the original's shape (logrus): logfmt lines are
//! `time="…" level=info msg="…" key=value`, pretty lines `INFO[0005] message  key=value`
//! with seconds since start, JSON lines `{"level":"info","msg":"…","time":"…",…}`. `auto`
//! is pretty on a terminal and logfmt otherwise.
//!
//! Nothing here decides what is secret: libraries never put credentials into events, and
//! the configuration's secrets print as `<redacted>`. What this module does decide is whose
//! events are shown: watchtower's own crates at every level, dependencies (bollard, hyper, h2,
//! rustls, lettre, and the `log` records bridged from them) never below `warn`, also at
//! `--trace`, because their debug output carries request bodies and headers (a container's
//! environment, registry credentials). [`dependency_guard`] enforces that in front of every
//! layer, the notifier's included.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;

use chrono::{DateTime, Local, SecondsFormat};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use watchtower_config::{LogFormat, LogSettings};
use watchtower_notify::Level as LogLevel;

/// The concrete formats after `auto` was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `time="…" level=… msg="…"`.
    Logfmt,
    /// `INFO[0005] message`.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Style {
    /// `auto` becomes pretty on a terminal, logfmt otherwise.
    pub fn choose(format: LogFormat, stderr_is_terminal: bool) -> Self {
        match format {
            LogFormat::Auto if stderr_is_terminal => Self::Pretty,
            LogFormat::Auto | LogFormat::Logfmt => Self::Logfmt,
            LogFormat::Pretty => Self::Pretty,
            LogFormat::Json => Self::Json,
        }
    }
}

/// Formats events in one of the [`Style`]s.
#[derive(Debug, Clone)]
pub struct WatchtowerFormat {
    style: Style,
    color: bool,
    started: DateTime<Local>,
}

impl WatchtowerFormat {
    /// A formatter; `color` only matters for [`Style::Pretty`].
    pub fn new(style: Style, color: bool) -> Self {
        Self {
            style,
            color,
            started: Local::now(),
        }
    }
}

/// Events carrying this field (`notify = "no"`) are for the local log only, never for
/// notifications (the original's `notify=no`); the field itself is not printed.
pub const LOCAL_ONLY_FIELD: &str = "notify";

#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == LOCAL_ONLY_FIELD {
            return;
        }
        if field.name() == "message" {
            value.clone_into(&mut self.message);
        } else {
            self.pairs.push((field.name().to_owned(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == LOCAL_ONLY_FIELD {
            return;
        }
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.pairs.push((field.name().to_owned(), text));
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// logfmt quoting: bare when the value is a plain token, quoted and escaped otherwise.
fn logfmt_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+:".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("{value:?}")
    }
}

impl<S, N> FormatEvent<S, N> for WatchtowerFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        // Fields of the spans the event happened in (e.g. the container being updated).
        let mut span_fields = String::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(formatted) = span.extensions().get::<FormattedFields<N>>()
                    && !formatted.is_empty()
                {
                    if !span_fields.is_empty() {
                        span_fields.push(' ');
                    }
                    span_fields.push_str(formatted);
                }
            }
        }
        let level = *event.metadata().level();
        let now = Local::now();
        let line = match self.style {
            Style::Logfmt => {
                let mut line = format!(
                    "time=\"{}\" level={} msg={}",
                    now.to_rfc3339_opts(SecondsFormat::Secs, false),
                    level_name(level),
                    logfmt_value(&fields.message)
                );
                for (key, value) in &fields.pairs {
                    let _ = write!(line, " {key}={}", logfmt_value(value));
                }
                if !span_fields.is_empty() {
                    let _ = write!(line, " {span_fields}");
                }
                line
            }
            Style::Pretty => {
                let elapsed = (now - self.started).num_seconds().max(0);
                let tag = &level_name(level)[..4].to_ascii_uppercase();
                let tag = if self.color {
                    let code = match level {
                        Level::ERROR => 31,
                        Level::WARN => 33,
                        Level::INFO => 36,
                        Level::DEBUG | Level::TRACE => 37,
                    };
                    format!("\x1b[{code}m{tag}\x1b[0m")
                } else {
                    tag.clone()
                };
                let mut line = format!("{tag}[{elapsed:04}] {:<44}", fields.message);
                for (key, value) in &fields.pairs {
                    let _ = write!(line, " {key}={}", logfmt_value(value));
                }
                if !span_fields.is_empty() {
                    let _ = write!(line, " {span_fields}");
                }
                line.trim_end().to_owned()
            }
            Style::Json => {
                let mut object = serde_json::Map::new();
                for (key, value) in fields.pairs {
                    object.insert(key, serde_json::Value::String(value));
                }
                if !span_fields.is_empty() {
                    object.insert("span".to_owned(), serde_json::Value::String(span_fields));
                }
                object.insert("level".to_owned(), level_name(level).into());
                object.insert("msg".to_owned(), fields.message.into());
                object.insert(
                    "time".to_owned(),
                    now.to_rfc3339_opts(SecondsFormat::Secs, false).into(),
                );
                serde_json::Value::Object(object).to_string()
            }
        };
        writeln!(writer, "{line}")
    }
}

/// The target prefix of watchtower's own crates (`watchtower`, `watchtower_actions`, ...).
pub const OWN_TARGETS: &str = "watchtower";

/// The level filter of the log on stderr: `--log-level` for watchtower's own crates (every
/// target starting with `watchtower`); dependencies are held at `warn`, at every level
/// (`--trace` included).
pub fn filter(settings: &LogSettings) -> EnvFilter {
    let ours = tracing_level(settings.level)
        .to_string()
        .to_ascii_lowercase();
    EnvFilter::new(format!("warn,{OWN_TARGETS}={ours}"))
}

/// The tracing level with the same cut-off as a `--log-level` (`panic` and `fatal` keep
/// errors).
pub fn tracing_level(level: LogLevel) -> Level {
    match level {
        LogLevel::Panic | LogLevel::Fatal | LogLevel::Error => Level::ERROR,
        LogLevel::Warn => Level::WARN,
        LogLevel::Info => Level::INFO,
        LogLevel::Debug => Level::DEBUG,
        LogLevel::Trace => Level::TRACE,
    }
}

/// The filter in front of every layer (the log and the notifier's): watchtower's own events
/// at any level, everything else at most `warn`, whatever `--log-level` and
/// `--notifications-level` say.
///
/// Dependencies log what they send: bollard `debug!`s every request body (the container-create
/// JSON with the user's `Env`), h2 and hyper trace headers. Those records reach `tracing`
/// through the `log` bridge with the dependency's target (`bollard::docker`), so they are
/// refused here before any layer, or the bridge, formats them.
pub fn dependency_guard() -> Targets {
    Targets::new()
        .with_default(LevelFilter::WARN)
        .with_target(OWN_TARGETS, LevelFilter::TRACE)
}

/// The subscriber: [`dependency_guard`], the optional extra layer (the notifier's) and the
/// formatted log on `writer`.
fn subscriber<L, W>(
    settings: &LogSettings,
    style: Style,
    color: bool,
    writer: W,
    extra: Option<L>,
) -> impl Subscriber + Send + Sync + 'static
where
    L: Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt_layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(color)
        .event_format(WatchtowerFormat::new(style, color))
        .with_filter(filter(settings));
    tracing_subscriber::registry()
        .with(extra)
        .with(dependency_guard())
        .with(fmt_layer)
}

/// Installs the global subscriber on stderr, plus an optional extra layer (the notifier's).
/// `log` records of dependencies are bridged into it, through [`dependency_guard`].
pub fn init<L>(settings: &LogSettings, extra: Option<L>) -> Result<(), String>
where
    L: Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    let stderr_is_terminal = std::io::stderr().is_terminal();
    let style = Style::choose(settings.format, stderr_is_terminal);
    let color = !settings.no_color && (style == Style::Pretty);
    subscriber(settings, style, color, std::io::stderr, extra)
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Self;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Every event a layer was given: `target message`.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_event(&self, event: &Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            self.0.lock().unwrap().push(format!(
                "{} {}",
                event.metadata().target(),
                fields.message
            ));
        }
    }

    /// The log text of `emit` through the production subscriber (with `extra` beside it).
    fn capture_with(
        style: Style,
        color: bool,
        level: LogLevel,
        extra: Option<Seen>,
        emit: impl FnOnce(),
    ) -> String {
        let buffer = Buffer::default();
        let settings = LogSettings {
            format: LogFormat::Logfmt,
            level,
            no_color: !color,
        };
        let subscriber = subscriber(&settings, style, color, buffer.clone(), extra);
        tracing::subscriber::with_default(subscriber, emit);
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    fn capture(style: Style, color: bool, level: LogLevel, emit: impl FnOnce()) -> String {
        capture_with(style, color, level, None, emit)
    }

    #[test]
    fn logfmt_has_time_level_msg_and_fields() {
        let out = capture(Style::Logfmt, false, LogLevel::Info, || {
            tracing::info!(container = "/web", count = 3, "Found new image");
        });
        assert!(out.starts_with("time=\""), "{out}");
        assert!(
            out.contains(r#"level=info msg="Found new image" container=/web count=3"#),
            "{out}"
        );
    }

    #[test]
    fn json_lines_parse() {
        let out = capture(Style::Json, false, LogLevel::Info, || {
            tracing::warn!(image = "nginx:1", "Could not do a head request");
        });
        let value: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(value["level"], "warning");
        assert_eq!(value["msg"], "Could not do a head request");
        assert_eq!(value["image"], "nginx:1");
        assert!(value["time"].is_string());
    }

    #[test]
    fn pretty_colours_unless_told_not_to() {
        let coloured = capture(Style::Pretty, true, LogLevel::Info, || {
            tracing::info!("Watchtower 1.0");
        });
        assert!(
            coloured.starts_with("\x1b[36mINFO\x1b[0m[0000] Watchtower 1.0"),
            "{coloured:?}"
        );
        let plain = capture(Style::Pretty, false, LogLevel::Info, || {
            tracing::info!("Watchtower 1.0");
        });
        assert_eq!(plain, "INFO[0000] Watchtower 1.0\n");
    }

    #[test]
    fn the_level_filters() {
        let out = capture(Style::Logfmt, false, LogLevel::Warn, || {
            tracing::info!("hidden");
            tracing::warn!("shown");
        });
        assert!(!out.contains("hidden") && out.contains("shown"), "{out}");
        let out = capture(Style::Logfmt, false, LogLevel::Debug, || {
            tracing::debug!("shown at debug");
            tracing::trace!("hidden at debug");
        });
        assert!(
            out.contains("shown at debug") && !out.contains("hidden"),
            "{out}"
        );
    }

    #[test]
    fn auto_picks_by_terminal() {
        assert_eq!(Style::choose(LogFormat::Auto, true), Style::Pretty);
        assert_eq!(Style::choose(LogFormat::Auto, false), Style::Logfmt);
        assert_eq!(Style::choose(LogFormat::Json, true), Style::Json);
    }

    /// What bollard logs for every request with a body (`debug!("{}", payload)`), and what
    /// h2 traces for headers; both would carry secrets.
    fn emit_dependency_chatter() {
        tracing::debug!(
            target: "bollard::docker",
            "{}",
            r#"{"Image":"app:1","Env":["DB_PASSWORD=hunter2-env-secret"]}"#
        );
        tracing::trace!(target: "h2::frame::headers", "authorization: Bearer tok-3f9a-secret");
        tracing::debug!(target: "rustls::client::hs", "rustls debug line");
        tracing::warn!(target: "hyper_util::client::legacy", "dependency warning stays");
        tracing::trace!(target: "watchtower_actions::update", "our own trace line");
        tracing::debug!(target: "watchtower", "the binary's debug line");
    }

    #[test]
    fn trace_logs_our_crates_but_never_dependency_debug_output() {
        let seen = Seen::default();
        let out = capture_with(
            Style::Logfmt,
            false,
            LogLevel::Trace,
            Some(seen.clone()),
            emit_dependency_chatter,
        );
        assert!(out.contains("our own trace line"), "{out}");
        assert!(out.contains("the binary's debug line"), "{out}");
        assert!(out.contains("dependency warning stays"), "{out}");
        for secret in ["hunter2-env-secret", "tok-3f9a-secret", "rustls debug line"] {
            assert!(!out.contains(secret), "{secret} reached the log:\n{out}");
        }
        // The notifier's layer (any extra layer) is behind the same guard: at
        // --notifications-level trace it must not see dependency chatter either.
        let seen = seen.0.lock().unwrap().join("\n");
        assert!(
            seen.contains("watchtower_actions::update our own trace line"),
            "{seen}"
        );
        for target in ["bollard", "h2::", "rustls"] {
            assert!(
                !seen.contains(target),
                "{target} reached the extra layer:\n{seen}"
            );
        }
    }

    #[test]
    fn the_guard_holds_dependencies_at_warn_for_every_level() {
        for level in [LogLevel::Info, LogLevel::Debug, LogLevel::Trace] {
            let seen = Seen::default();
            let out = capture_with(
                Style::Json,
                false,
                level,
                Some(seen.clone()),
                emit_dependency_chatter,
            );
            assert!(out.contains("dependency warning stays"), "{level:?}: {out}");
            assert!(!out.contains("hunter2"), "{level:?}: {out}");
            let seen = seen.0.lock().unwrap().clone();
            assert!(
                seen.iter()
                    .filter(|e| !e.starts_with("watchtower"))
                    .all(|e| e.starts_with("hyper_util")),
                "{level:?}: {seen:?}"
            );
        }
    }
}
