//! The data templates see, shaped like the original's: log entries (`.Message`, `.Level`,
//! `.Time`, `.Data`) and, in report mode, `Data{.Title, .Host, .Entries, .Report}` with the
//! report's lists and each container's fields.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use watchtower_session_report::{ContainerReport, Report, short_id};

use crate::Error;
use watchtower_gotemplate::{Json, Object, Value, gotime};

/// A log level, named as logrus names them (the values of `--notifications-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `panic`
    Panic,
    /// `fatal`
    Fatal,
    /// `error`
    Error,
    /// `warn` (printed `warning`, as logrus does)
    Warn,
    /// `info`
    Info,
    /// `debug`
    Debug,
    /// `trace`
    Trace,
}

impl Level {
    /// The name templates print (`{{.Level}}`): `panic fatal error warning info debug trace`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Panic => "panic",
            Level::Fatal => "fatal",
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    fn number(self) -> i64 {
        match self {
            Level::Panic => 0,
            Level::Fatal => 1,
            Level::Error => 2,
            Level::Warn => 3,
            Level::Info => 4,
            Level::Debug => 5,
            Level::Trace => 6,
        }
    }

    /// The level of a `tracing` event (`ERROR` -> error, ..., `TRACE` -> trace).
    pub fn from_tracing(level: tracing::Level) -> Self {
        match level {
            tracing::Level::ERROR => Level::Error,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::INFO => Level::Info,
            tracing::Level::DEBUG => Level::Debug,
            tracing::Level::TRACE => Level::Trace,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = Error;

    /// Accepts what logrus accepts: `panic fatal error warn warning info debug trace`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "panic" => Level::Panic,
            "fatal" => Level::Fatal,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => {
                return Err(Error::InvalidLevel {
                    value: s.to_owned(),
                });
            }
        })
    }
}

/// A structured field of a log entry (`.Data.container`).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Text (also what `Debug`-formatted values become).
    Str(String),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl FieldValue {
    fn to_value(&self) -> Value {
        match self {
            FieldValue::Str(s) => Value::from(s.as_str()),
            FieldValue::Int(i) => Value::Int(*i),
            FieldValue::Uint(u) => {
                i64::try_from(*u).map_or_else(|_| Value::from(u.to_string()), Value::Int)
            }
            FieldValue::Float(f) => Value::Float(*f),
            FieldValue::Bool(b) => Value::Bool(*b),
        }
    }
}

/// One captured log line: what the original's templates call a `*logrus.Entry`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Its level.
    pub level: Level,
    /// The message text.
    pub message: String,
    /// When it was logged (wall clock, local offset).
    pub time: DateTime<FixedOffset>,
    /// Structured fields (`container`, `image`, ...).
    pub fields: BTreeMap<String, FieldValue>,
}

impl LogEntry {
    /// An entry without fields.
    pub fn new(level: Level, message: impl Into<String>, time: DateTime<FixedOffset>) -> Self {
        Self {
            level,
            message: message.into(),
            time,
            fields: BTreeMap::new(),
        }
    }
}

/// The template data of report mode; also what `json.v1` prints.
#[derive(Debug, Clone)]
pub struct TemplateData {
    /// `.Title`: `[tag] Watchtower updates on <host>`, or empty with `--notification-skip-title`.
    pub title: String,
    /// `.Host`.
    pub host: String,
    /// `.Entries`: the log entries of the session.
    pub entries: Vec<LogEntry>,
    /// `.Report`: absent for startup and out-of-session messages.
    pub report: Option<Arc<Report>>,
}

impl TemplateData {
    /// The value templates see in report mode.
    pub fn to_value(&self) -> Value {
        Value::object(DataObj(self.clone()))
    }

    /// The value templates see in legacy mode: the list of entries.
    pub fn entries_value(&self) -> Value {
        entries_value(&self.entries)
    }
}

fn entries_value(entries: &[LogEntry]) -> Value {
    Value::from(
        entries
            .iter()
            .map(|e| Value::object(EntryObj(e.clone())))
            .collect::<Vec<_>>(),
    )
}

fn no_args(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    if args.is_empty() {
        None
    } else {
        Some(Err(format!(
            "{name} has arguments but cannot be invoked as function"
        )))
    }
}

struct DataObj(TemplateData);

impl Object for DataObj {
    fn type_name(&self) -> &'static str {
        "notifications.Data"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if let Some(err) = no_args(name, args) {
            return Some(err);
        }
        let d = &self.0;
        Some(Ok(match name {
            "Title" => Value::from(d.title.as_str()),
            "Host" => Value::from(d.host.as_str()),
            "Entries" => d.entries_value(),
            "Report" => d
                .report
                .as_ref()
                .map_or(Value::Nil, |r| Value::object(ReportObj(Arc::clone(r)))),
            _ => return None,
        }))
    }

    fn display(&self) -> String {
        format!(
            "{{{} {} {} entries}}",
            self.0.title,
            self.0.host,
            self.0.entries.len()
        )
    }

    /// The original's `Data.MarshalJSON`: `report` (or null), `title`, `host`, `entries`.
    fn to_json(&self) -> Json {
        let d = &self.0;
        let mut map = BTreeMap::new();
        map.insert(
            "entries".to_owned(),
            Json::Array(d.entries.iter().map(entry_json).collect()),
        );
        map.insert("host".to_owned(), Json::Str(d.host.clone()));
        map.insert(
            "report".to_owned(),
            d.report.as_deref().map_or(Json::Null, report_json),
        );
        map.insert("title".to_owned(), Json::Str(d.title.clone()));
        Json::Object(map)
    }
}

fn entry_json(e: &LogEntry) -> Json {
    let mut map = BTreeMap::new();
    map.insert(
        "data".to_owned(),
        Json::Object(
            e.fields
                .iter()
                .map(|(k, v)| (k.clone(), v.to_value().to_json()))
                .collect(),
        ),
    );
    map.insert("level".to_owned(), Json::Str(e.level.as_str().to_owned()));
    map.insert("message".to_owned(), Json::Str(e.message.clone()));
    map.insert(
        "time".to_owned(),
        Json::Str(gotime::format(&e.time, gotime::RFC3339_NANO)),
    );
    Json::Object(map)
}

fn report_json(r: &Report) -> Json {
    let list =
        |items: Vec<&ContainerReport>| Json::Array(items.into_iter().map(container_json).collect());
    let mut map = BTreeMap::new();
    map.insert("failed".to_owned(), list(r.failed()));
    map.insert("fresh".to_owned(), list(r.fresh()));
    map.insert("scanned".to_owned(), list(r.scanned()));
    map.insert("skipped".to_owned(), list(r.skipped()));
    map.insert("stale".to_owned(), list(r.stale()));
    map.insert("updated".to_owned(), list(r.updated()));
    Json::Object(map)
}

fn container_json(c: &ContainerReport) -> Json {
    let mut map = BTreeMap::new();
    map.insert(
        "currentImageId".to_owned(),
        Json::Str(short_id(c.current_image_id()).to_owned()),
    );
    if let Some(error) = c.error().filter(|e| !e.is_empty()) {
        map.insert("error".to_owned(), Json::Str(error.to_owned()));
    }
    map.insert("id".to_owned(), Json::Str(short_id(c.id()).to_owned()));
    map.insert("imageName".to_owned(), Json::Str(c.image_name().to_owned()));
    map.insert(
        "latestImageId".to_owned(),
        Json::Str(short_id(c.latest_image_id()).to_owned()),
    );
    map.insert("name".to_owned(), Json::Str(c.name().to_owned()));
    map.insert("state".to_owned(), Json::Str(c.state().as_str().to_owned()));
    Json::Object(map)
}

struct EntryObj(LogEntry);

impl Object for EntryObj {
    fn type_name(&self) -> &'static str {
        "*logrus.Entry"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if let Some(err) = no_args(name, args) {
            return Some(err);
        }
        let e = &self.0;
        Some(Ok(match name {
            "Message" => Value::from(e.message.as_str()),
            "Level" => Value::object(LevelObj(e.level)),
            "Time" => Value::object(TimeObj(e.time)),
            "Data" => Value::from(
                e.fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            _ => return None,
        }))
    }

    fn display(&self) -> String {
        format!(
            "&{{{} {} {}}}",
            self.0.level,
            self.0.message,
            gotime::format(&self.0.time, gotime::GO_STRING)
        )
    }

    fn to_json(&self) -> Json {
        entry_json(&self.0)
    }
}

struct LevelObj(Level);

impl Object for LevelObj {
    fn type_name(&self) -> &'static str {
        "logrus.Level"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if let Some(err) = no_args(name, args) {
            return Some(err);
        }
        match name {
            "String" => Some(Ok(Value::from(self.0.as_str()))),
            _ => None,
        }
    }

    fn display(&self) -> String {
        self.0.as_str().to_owned()
    }

    fn to_json(&self) -> Json {
        Json::Str(self.0.as_str().to_owned())
    }

    fn basic(&self) -> Option<Value> {
        Some(Value::Int(self.0.number()))
    }

    /// `logrus.Level` is a `uint32`.
    fn unsigned(&self) -> bool {
        true
    }
}

struct TimeObj(DateTime<FixedOffset>);

/// A named integer that prints as a name (`time.Month`, `time.Weekday`).
struct NamedInt(&'static str, i64, &'static str);

impl Object for NamedInt {
    fn type_name(&self) -> &'static str {
        self.2
    }
    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        (name == "String" && args.is_empty()).then(|| Ok(Value::from(self.0)))
    }
    fn display(&self) -> String {
        self.0.to_owned()
    }
    fn to_json(&self) -> Json {
        Json::Int(self.1)
    }
    fn basic(&self) -> Option<Value> {
        Some(Value::Int(self.1))
    }
}

impl Object for TimeObj {
    fn type_name(&self) -> &'static str {
        "time.Time"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let t = &self.0;
        if name == "Format" {
            return Some(match args {
                [layout] => match layout.basic() {
                    Value::Str(l) => Ok(Value::from(gotime::format(t, &l))),
                    other => Err(format!(
                        "wrong type for value; expected string; got {}",
                        other.type_name()
                    )),
                },
                _ => Err(format!(
                    "wrong number of args for Format: want 1 got {}",
                    args.len()
                )),
            });
        }
        if let Some(err) = no_args(name, args) {
            return Some(err);
        }
        Some(Ok(match name {
            "String" => Value::from(gotime::format(t, gotime::GO_STRING)),
            "Unix" => Value::Int(t.timestamp()),
            "UnixMilli" => Value::Int(t.timestamp_millis()),
            "Year" => Value::Int(i64::from(t.year())),
            "Month" => Value::object(NamedInt(
                gotime::month_name(t),
                i64::from(t.month()),
                "time.Month",
            )),
            "Day" => Value::Int(i64::from(t.day())),
            "YearDay" => Value::Int(i64::from(t.ordinal())),
            "Hour" => Value::Int(i64::from(t.hour())),
            "Minute" => Value::Int(i64::from(t.minute())),
            "Second" => Value::Int(i64::from(t.second())),
            "Nanosecond" => Value::Int(i64::from(t.nanosecond() % 1_000_000_000)),
            "Weekday" => {
                let n = t.weekday().num_days_from_sunday();
                Value::object(NamedInt(
                    gotime::weekday_name(t),
                    i64::from(n),
                    "time.Weekday",
                ))
            }
            "UTC" => Value::object(TimeObj(t.with_timezone(&Utc).fixed_offset())),
            "Local" => Value::object(TimeObj(*t)),
            "IsZero" => Value::Bool(false),
            _ => return None,
        }))
    }

    fn display(&self) -> String {
        gotime::format(&self.0, gotime::GO_STRING)
    }

    fn to_json(&self) -> Json {
        Json::Str(gotime::format(&self.0, gotime::RFC3339_NANO))
    }
}

struct ReportObj(Arc<Report>);

fn containers(items: Vec<&ContainerReport>) -> Value {
    Value::from(
        items
            .into_iter()
            .map(|c| Value::object(ContainerObj(c.clone())))
            .collect::<Vec<_>>(),
    )
}

impl Object for ReportObj {
    fn type_name(&self) -> &'static str {
        "*session.report"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if let Some(err) = no_args(name, args) {
            return Some(err);
        }
        let r = &self.0;
        Some(Ok(match name {
            "Scanned" => containers(r.scanned()),
            "Updated" => containers(r.updated()),
            "Failed" => containers(r.failed()),
            "Skipped" => containers(r.skipped()),
            "Stale" => containers(r.stale()),
            "Fresh" => containers(r.fresh()),
            "Restored" => containers(r.restored()),
            "All" => containers(r.all().iter().collect()),
            _ => return None,
        }))
    }

    fn display(&self) -> String {
        let c = self.0.counts();
        format!(
            "&{{scanned:{} updated:{} failed:{} skipped:{} stale:{} fresh:{}}}",
            c.scanned, c.updated, c.failed, c.skipped, c.stale, c.fresh
        )
    }

    fn to_json(&self) -> Json {
        report_json(&self.0)
    }
}

struct ContainerObj(ContainerReport);

/// A container or image ID: prints in full, `.ShortID` gives the short form.
struct IdObj(String, &'static str);

impl Object for IdObj {
    fn type_name(&self) -> &'static str {
        self.1
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if let Some(err) = no_args(name, args) {
            return Some(err);
        }
        (name == "ShortID").then(|| Ok(Value::from(short_id(&self.0))))
    }

    fn display(&self) -> String {
        self.0.clone()
    }

    fn to_json(&self) -> Json {
        Json::Str(self.0.clone())
    }

    fn basic(&self) -> Option<Value> {
        Some(Value::from(self.0.as_str()))
    }
}

impl Object for ContainerObj {
    fn type_name(&self) -> &'static str {
        "*session.ContainerStatus"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if let Some(err) = no_args(name, args) {
            return Some(err);
        }
        let c = &self.0;
        Some(Ok(match name {
            "ID" => Value::object(IdObj(c.id().to_owned(), "types.ContainerID")),
            "Name" => Value::from(c.name()),
            "ImageName" => Value::from(c.image_name()),
            "CurrentImageID" => {
                Value::object(IdObj(c.current_image_id().to_owned(), "types.ImageID"))
            }
            "LatestImageID" => {
                Value::object(IdObj(c.latest_image_id().to_owned(), "types.ImageID"))
            }
            "Error" => Value::from(c.error().unwrap_or("")),
            "State" => Value::from(c.state().as_str()),
            "FailedStep" => Value::from(c.failed_step().map_or("", |s| s.as_str())),
            "Restored" => Value::Bool(c.restored()),
            // Added by this project: rolled back by the health gate, and the update's note.
            "RolledBack" => Value::Bool(
                c.restored()
                    && c.failed_step() == Some(watchtower_session_report::FailedStep::HealthGate),
            ),
            "Note" => Value::from(c.note().unwrap_or("")),
            _ => return None,
        }))
    }

    fn display(&self) -> String {
        let c = &self.0;
        format!(
            "&{{{} {} {} {}}}",
            short_id(c.id()),
            c.name(),
            c.image_name(),
            c.state()
        )
    }

    fn to_json(&self) -> Json {
        container_json(&self.0)
    }
}
