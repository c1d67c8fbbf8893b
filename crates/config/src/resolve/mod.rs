//! Resolution: the primitives every section uses ([`Resolver`]: flag, else variable, else
//! default; booleans, numbers, secrets and lists, each value recorded for
//! [`Config::value`]) and the walk through the sections, one per library option type.

mod docker;
mod http_api;
mod log;
mod notifications;
mod registry;
mod session;
mod timing;

use std::collections::BTreeMap;

use crate::cli::Cli;
use crate::config::{Config, Source, Values};
use crate::env::Env;
use crate::error::Error;
use crate::flags::{FlagSpec, spec};
use crate::secret::{self, Secret};

/// Resolves every section in the original's order (the first mistake wins).
pub(crate) fn resolve(cli: &Cli, env: &dyn Env) -> Result<Config, Error> {
    let f = &cli.flags;
    let mut r = Resolver::new(env);
    let docker = r.docker(f)?;
    let schedule = r.schedule(f)?;
    let run_once = r.boolean("run-once", f.run_once.as_ref())?;
    let params = r.params(f)?;
    let filter = r.filter(cli)?;
    let log = r.log(f)?;
    let http_api = r.http_api(f)?;
    let registry = r.registry(f)?;
    let mut notifications = r.notifications(f)?;
    let porcelain = r.porcelain(f, &mut notifications)?;
    let health_check = r.boolean("health-check", f.health_check.as_ref())?;
    let no_startup_message = r.boolean("no-startup-message", f.no_startup_message.as_ref())?;
    Ok(Config {
        docker,
        filter,
        params,
        schedule,
        run_once,
        no_startup_message,
        health_check,
        porcelain,
        log,
        http_api,
        notifications,
        registry,
        warnings: r.warnings,
        values: Values(r.values),
    })
}

/// One option's raw text and where it came from.
pub(crate) struct Raw {
    pub(crate) value: String,
    pub(crate) source: Source,
    spec: &'static FlagSpec,
}

impl Raw {
    /// `--flag`, or `VARIABLE (--flag)` when the value came from the variable.
    pub(crate) fn origin(&self) -> String {
        match (self.source, self.spec.env) {
            (Source::Env, Some(env)) => format!("{env} (--{})", self.spec.long),
            _ => format!("--{}", self.spec.long),
        }
    }

    /// The value is not valid: `expected` says what would be (a secret is not repeated).
    pub(crate) fn invalid(&self, expected: impl Into<String>) -> Error {
        Error::InvalidValue {
            origin: self.origin(),
            value: if self.spec.secret_file {
                "<redacted>".to_owned()
            } else {
                self.value.clone()
            },
            expected: expected.into(),
        }
    }
}

/// Reads options from the command line and the environment and records their values.
pub(crate) struct Resolver<'a> {
    env: &'a dyn Env,
    values: BTreeMap<&'static str, (String, bool)>,
    pub(crate) warnings: Vec<String>,
}

const BOOL_EXPECTED: &str =
    "expected true or false (also 1, t, T, TRUE, True, 0, f, F, FALSE, False)";

/// What a number of seconds must look like.
pub(crate) const SECONDS_EXPECTED: &str = "expected a whole number of seconds, 0 or more";

impl<'a> Resolver<'a> {
    fn new(env: &'a dyn Env) -> Self {
        Self {
            env,
            values: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    /// A variable read only from the environment; empty counts as unset.
    pub(crate) fn env_var(&self, name: &str) -> Option<String> {
        self.env.var(name).filter(|v| !v.is_empty())
    }

    /// The flag if given, else the variable if set and non-empty, else the default.
    pub(crate) fn raw(&self, long: &'static str, cli: Option<&String>) -> Raw {
        let spec = spec(long);
        if let Some(value) = cli {
            return Raw {
                value: value.clone(),
                source: Source::Cli,
                spec,
            };
        }
        if let Some(value) = spec.env.and_then(|e| self.env_var(e)) {
            return Raw {
                value,
                source: Source::Env,
                spec,
            };
        }
        Raw {
            value: spec.default.to_owned(),
            source: Source::Default,
            spec,
        }
    }

    /// Records the effective value of `long` (as [`Config::value`] shows it).
    pub(crate) fn record(&mut self, long: &'static str, value: impl Into<String>) {
        let secret = spec(long).secret_file;
        self.values.insert(long, (value.into(), secret));
    }

    /// A text option, as given.
    pub(crate) fn string(&mut self, long: &'static str, cli: Option<&String>) -> String {
        self.string_with_source(long, cli).value
    }

    /// A text option with where it came from (for later checks naming it).
    pub(crate) fn string_with_source(&mut self, long: &'static str, cli: Option<&String>) -> Raw {
        let raw = self.raw(long, cli);
        self.record(long, raw.value.clone());
        raw
    }

    /// A boolean, read like Go's `strconv.ParseBool`, as the original read flags, variables
    /// and labels.
    pub(crate) fn boolean(
        &mut self,
        long: &'static str,
        cli: Option<&String>,
    ) -> Result<bool, Error> {
        let raw = self.raw(long, cli);
        let value = watchtower_actions::label::parse_bool(&raw.value)
            .ok_or_else(|| raw.invalid(BOOL_EXPECTED))?;
        self.record(long, value.to_string());
        Ok(value)
    }

    /// A whole number, 0 or more.
    pub(crate) fn unsigned(
        &mut self,
        long: &'static str,
        cli: Option<&String>,
        expected: &str,
    ) -> Result<u64, Error> {
        let raw = self.raw(long, cli);
        let value: u64 = raw
            .value
            .trim()
            .parse()
            .map_err(|_| raw.invalid(expected))?;
        self.record(long, value.to_string());
        Ok(value)
    }

    /// A TCP port.
    pub(crate) fn port(&mut self, long: &'static str, cli: Option<&String>) -> Result<u16, Error> {
        let raw = self.raw(long, cli);
        let value: u16 = raw
            .value
            .trim()
            .parse()
            .map_err(|_| raw.invalid("expected a port number from 0 to 65535"))?;
        self.record(long, value.to_string());
        Ok(value)
    }

    /// A secret scalar: read from a file when the value names one.
    pub(crate) fn secret(
        &mut self,
        long: &'static str,
        cli: Option<&String>,
    ) -> Result<Option<Secret>, Error> {
        let raw = self.raw(long, cli);
        let value = if secret::names_a_file(&raw.value) {
            secret::read_scalar(raw.value.as_ref()).map_err(|e| Error::SecretFile {
                origin: raw.origin(),
                path: e.path,
                source: e.source,
            })?
        } else {
            raw.value.clone()
        };
        self.record(long, value.clone());
        Ok((!value.is_empty()).then(|| Secret::new(value)))
    }

    /// A secret scalar as the notify crate takes it: the value, or empty when unset.
    pub(crate) fn secret_text(
        &mut self,
        long: &'static str,
        cli: Option<&String>,
    ) -> Result<String, Error> {
        Ok(self
            .secret(long, cli)?
            .map(|s| s.expose().to_owned())
            .unwrap_or_default())
    }

    /// A list option. `cli` values were already split on commas by clap; the variable is
    /// split by `split_env`.
    pub(crate) fn list(
        &mut self,
        long: &'static str,
        cli: &[String],
        split_env: fn(&str) -> Vec<String>,
    ) -> (Vec<String>, Source) {
        let spec = spec(long);
        let (values, source) = if cli.is_empty() {
            match spec.env.and_then(|e| self.env_var(e)) {
                Some(value) => (split_env(&value), Source::Env),
                None => (Vec::new(), Source::Default),
            }
        } else {
            (cli.to_vec(), Source::Cli)
        };
        let values: Vec<String> = values
            .into_iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        self.record(long, values.join(","));
        (values, source)
    }
}
