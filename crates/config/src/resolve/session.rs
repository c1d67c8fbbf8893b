//! Session behaviour into the update engine's own [`Params`], and the container selection
//! into its [`Filter`].

use std::time::Duration;

use watchtower_actions::{Filter, Params, UpdateOrder, WarnOnHeadFailure};

use super::{Raw, Resolver};
use crate::cli::Cli;
use crate::duration::{format_go_duration, parse_go_duration};
use crate::error::Error;
use crate::flags::Flags;

impl Resolver<'_> {
    pub(crate) fn params(&mut self, f: &Flags) -> Result<Params, Error> {
        let stop_timeout_raw = self.raw("stop-timeout", f.stop_timeout.as_ref());
        let stop_timeout = parse_stop_timeout(&stop_timeout_raw)?;
        self.record("stop-timeout", format_go_duration(stop_timeout));
        let monitor_only = self.boolean("monitor-only", f.monitor_only.as_ref())?;
        let no_pull = self.boolean("no-pull", f.no_pull.as_ref())?;
        let rolling_restart = self.boolean("rolling-restart", f.rolling_restart.as_ref())?;
        if rolling_restart && monitor_only {
            return Err(Error::RollingRestartWithMonitorOnly);
        }
        if monitor_only && no_pull {
            self.warnings.push(
                "Using `WATCHTOWER_NO_PULL` and `WATCHTOWER_MONITOR_ONLY` simultaneously might \
                 lead to no action being taken at all. If this is intentional, you may safely \
                 ignore this message."
                    .to_owned(),
            );
        }
        let warn_on_head_failure = self.warn_on_head_failure(f)?;

        let mut params = Params::default();
        params.stop_timeout = stop_timeout;
        params.monitor_only = monitor_only;
        params.no_pull = no_pull;
        params.rolling_restart = rolling_restart;
        params.warn_on_head_failure = warn_on_head_failure;
        params.no_restart = self.boolean("no-restart", f.no_restart.as_ref())?;
        params.cleanup = self.boolean("cleanup", f.cleanup.as_ref())?;
        params.remove_volumes = self.boolean("remove-volumes", f.remove_volumes.as_ref())?;
        params.include_restarting =
            self.boolean("include-restarting", f.include_restarting.as_ref())?;
        params.include_stopped = self.boolean("include-stopped", f.include_stopped.as_ref())?;
        params.revive_stopped = self.boolean("revive-stopped", f.revive_stopped.as_ref())?;
        params.lifecycle_hooks =
            self.boolean("enable-lifecycle-hooks", f.enable_lifecycle_hooks.as_ref())?;
        params.label_take_precedence =
            self.boolean("label-take-precedence", f.label_take_precedence.as_ref())?;
        params.health_gate = self.boolean("health-gate", f.health_gate.as_ref())?;
        params.health_gate_timeout =
            self.positive_duration("health-gate-timeout", f.health_gate_timeout.as_ref())?;
        params.health_gate_settle =
            self.positive_duration("health-gate-settle", f.health_gate_settle.as_ref())?;
        let order = self.raw("update-order", f.update_order.as_ref());
        params.update_order = UpdateOrder::parse(&order.value)
            .ok_or_else(|| order.invalid("expected start-first or stop-first"))?;
        self.record("update-order", params.update_order.as_str());
        Ok(params)
    }

    /// A Go duration above zero (`2m`, `10s`, `1m30s`), recorded in Go's spelling.
    fn positive_duration(
        &mut self,
        long: &'static str,
        given: Option<&String>,
    ) -> Result<Duration, Error> {
        let raw = self.raw(long, given);
        let parsed = parse_go_duration(raw.value.trim())
            .map_err(|_| raw.invalid("expected a duration such as 2m, 10s or 1m30s"))?;
        if parsed.negative || parsed.magnitude.is_zero() {
            return Err(raw.invalid("must be above zero"));
        }
        self.record(long, format_go_duration(parsed.magnitude));
        Ok(parsed.magnitude)
    }

    fn warn_on_head_failure(&mut self, f: &Flags) -> Result<WarnOnHeadFailure, Error> {
        let raw = self.raw("warn-on-head-failure", f.warn_on_head_failure.as_ref());
        let (value, name) = match raw.value.to_ascii_lowercase().as_str() {
            "always" => (WarnOnHeadFailure::Always, "always"),
            "auto" | "" => (WarnOnHeadFailure::Auto, "auto"),
            "never" => (WarnOnHeadFailure::Never, "never"),
            _ => return Err(raw.invalid("expected always, auto or never")),
        };
        self.record("warn-on-head-failure", name);
        Ok(value)
    }

    /// The positional names, `--disable-containers`, `--label-enable` and `--scope`.
    pub(crate) fn filter(&mut self, cli: &Cli) -> Result<Filter, Error> {
        let f = &cli.flags;
        let (disabled, _) = self.list(
            "disable-containers",
            &f.disable_containers,
            split_commas_and_spaces,
        );
        let scope = self.string("scope", f.scope.as_ref());
        let label_enable = self.boolean("label-enable", f.label_enable.as_ref())?;
        Ok(Filter::all()
            .names(cli.names.iter().cloned())
            .map_err(Error::NamePattern)?
            .disabled(disabled)
            .label_enable(label_enable)
            .scope(scope))
    }
}

/// `--stop-timeout`: a Go duration; a bare number is taken as seconds (the original read a
/// bare number in the variable as nanoseconds, and refused it on the command line).
fn parse_stop_timeout(raw: &Raw) -> Result<Duration, Error> {
    let text = raw.value.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        if seconds < 0 {
            return Err(raw.invalid("must not be negative"));
        }
        return Ok(Duration::from_secs(seconds.unsigned_abs()));
    }
    let parsed = parse_go_duration(text)
        .map_err(|_| raw.invalid("expected a duration such as 10s, 1m30s or 500ms"))?;
    if parsed.negative {
        return Err(raw.invalid("must not be negative"));
    }
    Ok(parsed.magnitude)
}

/// `WATCHTOWER_DISABLE_CONTAINERS` is split on `[, ]+`.
fn split_commas_and_spaces(value: &str) -> Vec<String> {
    value
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
