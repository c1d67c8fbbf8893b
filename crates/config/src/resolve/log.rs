//! `--log-format`, `--log-level` (with `--debug`/`--trace`) and `--no-color` into
//! [`LogSettings`]; the level type is the notify crate's [`Level`], shared with
//! `--notifications-level`.

use watchtower_notify::Level;

use super::Resolver;
use crate::config::{LogFormat, LogSettings};
use crate::error::Error;
use crate::flags::Flags;

const LEVEL_EXPECTED: &str = "expected panic, fatal, error, warn, info, debug or trace";

impl Resolver<'_> {
    pub(crate) fn log(&mut self, f: &Flags) -> Result<LogSettings, Error> {
        let format_raw = self.raw("log-format", f.log_format.as_ref());
        let format = match format_raw.value.to_ascii_lowercase().as_str() {
            "auto" => LogFormat::Auto,
            "logfmt" => LogFormat::Logfmt,
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            _ => return Err(format_raw.invalid("expected auto, logfmt, pretty or json")),
        };
        self.record("log-format", format_raw.value.to_ascii_lowercase());
        let mut level = self.level("log-level", f.log_level.as_ref())?;
        if self.boolean("debug", f.debug.as_ref())? {
            level = Level::Debug;
        }
        if self.boolean("trace", f.trace.as_ref())? {
            level = Level::Trace;
        }
        self.record("log-level", flag_name(level));
        let no_color = if f.no_color.is_some() {
            self.boolean("no-color", f.no_color.as_ref())?
        } else {
            // https://no-color.org: set to anything non-empty disables colour.
            let set = self.env_var("NO_COLOR").is_some();
            self.record("no-color", set.to_string());
            set
        };
        Ok(LogSettings {
            format,
            level,
            no_color,
        })
    }

    /// A level option (`--log-level`, `--notifications-level`), not yet recorded.
    pub(crate) fn level(
        &mut self,
        long: &'static str,
        cli: Option<&String>,
    ) -> Result<Level, Error> {
        let raw = self.raw(long, cli);
        raw.value
            .parse::<Level>()
            .map_err(|_| raw.invalid(LEVEL_EXPECTED))
    }
}

/// The level as the flags name it: `warn`, where templates print logrus's `warning`.
pub(crate) fn flag_name(level: Level) -> &'static str {
    match level {
        Level::Warn => "warn",
        other => other.as_str(),
    }
}
