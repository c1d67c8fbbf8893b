//! The notifier: batches log entries per session, renders the template, and hands messages
//! to a background task that sends them.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use tokio::sync::{mpsc, oneshot};
use watchtower_session_report::{ContainerRef, FailedStep, Report, ReportBuilder};
use watchtower_tls_config::TlsSettings;

use crate::legacy::LegacyOptions;
use crate::model::{Level, LogEntry, TemplateData};
use crate::service::{Endpoints, Service, redact, scheme_of};
use crate::templates;
use crate::transport::{LogSink, Policy, Transport};
use crate::{Error, NotifyLayer};
use watchtower_gotemplate::{Error as TemplateError, Template};

/// Wall-clock time for entry timestamps; tests supply a fixed one.
pub trait Clock: Send + Sync {
    /// The current time with the local offset.
    fn now(&self) -> DateTime<FixedOffset>;
}

/// The system clock, in the local time zone (`TZ`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<FixedOffset> {
        chrono::Local::now().fixed_offset()
    }
}

/// Everything the notification flags say. `Default` gives the original's defaults.
#[derive(Clone)]
pub struct NotifierConfig {
    /// `--notification-url` values (service URLs).
    pub urls: Vec<String>,
    /// The legacy `--notifications` flags; their URLs are added after `urls`.
    pub legacy: LegacyOptions,
    /// `--notifications-level`: the most verbose level that becomes notification content.
    pub level: Level,
    /// `--notification-template`: template text or a built-in name (empty: the default).
    pub template: String,
    /// `--notification-report`: the template gets `Data{Title,Host,Entries,Report}`.
    pub report: bool,
    /// `--notifications-delay`: wait this long before each send.
    pub delay: Duration,
    /// `--notifications-hostname` (empty: the machine's host name).
    pub hostname: String,
    /// `--notification-title-tag` (empty: `--notification-email-subjecttag`).
    pub title_tag: String,
    /// `--notification-email-subjecttag`.
    pub email_subject_tag: String,
    /// `--notification-skip-title`.
    pub skip_title: bool,
    /// `--notification-log-stdout`: `logger://` prints to standard output.
    pub log_stdout: bool,
    /// Time limit of one request to a service, connecting included (default 10 s).
    pub request_timeout: Duration,
    /// Time limit of connecting to a service: the TCP connection and the TLS handshake
    /// (default 5 s). A connection that is not made in time counts as "cannot be reached"
    /// and is retried like one.
    pub connect_timeout: Duration,
    /// Attempts per request when a service answers 429/5xx or cannot be reached (default 3).
    pub max_attempts: u32,
    /// First wait between attempts, doubled each time (default 1 s; `Retry-After` wins).
    pub retry_backoff: Duration,
    /// HTTPS (and SMTP) verification: the registry's settings, so that `--registry-ca` and
    /// the system trust store (`SSL_CERT_FILE`, `SSL_CERT_DIR`) count for notifications too.
    /// Default: verified against the webpki and system roots.
    pub tls: TlsSettings,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            legacy: LegacyOptions::default(),
            level: Level::Info,
            template: String::new(),
            report: false,
            delay: Duration::ZERO,
            hostname: String::new(),
            title_tag: String::new(),
            email_subject_tag: String::new(),
            skip_title: false,
            log_stdout: false,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_attempts: 3,
            retry_backoff: Duration::from_secs(1),
            tls: TlsSettings::default(),
        }
    }
}

impl fmt::Debug for NotifierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifierConfig")
            .field(
                "urls",
                &self.urls.iter().map(|u| redact(u)).collect::<Vec<_>>(),
            )
            .field("legacy", &self.legacy)
            .field("level", &self.level)
            .field("template", &self.template)
            .field("report", &self.report)
            .field("delay", &self.delay)
            .field("hostname", &self.hostname)
            .field("title_tag", &self.title_tag)
            .field("skip_title", &self.skip_title)
            .field("log_stdout", &self.log_stdout)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("retry_backoff", &self.retry_backoff)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// The title the original gives notifications: `[tag] Watchtower updates on <host>`.
pub fn title(hostname: &str, tag: &str) -> String {
    let mut t = String::new();
    if !tag.is_empty() {
        t.push('[');
        t.push_str(tag);
        t.push_str("] ");
    }
    t.push_str("Watchtower updates");
    if !hostname.is_empty() {
        t.push_str(" on ");
        t.push_str(hostname);
    }
    t
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// Builds a [`Notifier`] with non-default parts.
pub struct NotifierBuilder {
    config: NotifierConfig,
    clock: Arc<dyn Clock>,
    stdout: Option<Box<dyn Write + Send>>,
    extra_roots_pem: Vec<u8>,
    endpoints: Endpoints,
}

impl NotifierBuilder {
    /// The clock stamping log entries.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where `logger://` writes with `--notification-log-stdout` (default: standard output).
    #[must_use]
    pub fn log_writer(mut self, writer: Box<dyn Write + Send>) -> Self {
        self.stdout = Some(writer);
        self
    }

    /// PEM certificates trusted in addition to the web PKI roots, for HTTPS services and SMTP
    /// servers with a private CA.
    #[must_use]
    pub fn extra_root_certificates(mut self, pem: Vec<u8>) -> Self {
        self.extra_roots_pem = pem;
        self
    }

    /// Test-only: send Slack, Discord, Telegram, Pushover and Teams requests to `base`
    /// (e.g. `http://127.0.0.1:PORT`) instead of their public hosts.
    #[cfg(any(test, feature = "test-endpoints"))]
    #[must_use]
    pub fn test_endpoints(mut self, base: &str) -> Self {
        self.endpoints = Endpoints::all_at(base);
        self
    }

    /// Parses every URL (an invalid one is an error naming its scheme), chooses the template,
    /// and starts the sending task on the current Tokio runtime.
    pub fn build(self) -> Result<(Notifier, NotifyLayer), Error> {
        let NotifierBuilder {
            config,
            clock,
            stdout,
            extra_roots_pem,
            endpoints,
        } = self;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let (legacy_urls, legacy_delay) = config.legacy.to_urls()?;
        let mut services = Vec::new();
        for raw in config.urls.iter().chain(legacy_urls.iter()) {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            services.push(Arc::new((scheme_of(raw), Service::parse(raw)?)));
        }
        let chosen = templates::choose(&config.template, config.report);
        // As the original: only a template that does not parse is replaced by the default; one
        // that fails on sample data is used as given (it may work on real data) and warned of.
        let mut template_problems = Vec::new();
        if let Some(reason) = &chosen.fallback_reason {
            template_problems.push(TemplateProblem::Replaced(reason.clone()));
        } else if chosen.built_in.is_none()
            && let Err(reason) = trial_render(&chosen.template, config.report)
        {
            template_problems.push(TemplateProblem::FailsOnSample(reason.to_string()));
        }
        let template = chosen.template;
        let host = if config.hostname.is_empty() {
            system_hostname()
        } else {
            config.hostname.clone()
        };
        let title = if config.skip_title {
            String::new()
        } else {
            let tag = if config.title_tag.is_empty() {
                &config.email_subject_tag
            } else {
                &config.title_tag
            };
            title(&host, tag)
        };
        let log = if config.log_stdout {
            LogSink::Writer(Arc::new(Mutex::new(
                stdout.unwrap_or_else(|| Box::new(std::io::stdout())),
            )))
        } else {
            LogSink::Tracing
        };
        let transport = Transport::new(
            Policy {
                timeout: config.request_timeout,
                connect_timeout: config.connect_timeout,
                attempts: config.max_attempts.max(1),
                backoff: config.retry_backoff,
            },
            log,
            config.tls.clone(),
            &extra_roots_pem,
        )?;
        let (tx, rx) = mpsc::unbounded_channel();
        let delay = legacy_delay.unwrap_or(config.delay);
        let task_services = services.clone();
        let task_title = title.clone();
        runtime.spawn(send_loop(
            rx,
            task_services,
            transport,
            endpoints,
            task_title,
            delay,
        ));
        let inner = Arc::new(Inner {
            services,
            template,
            template_problems,
            report_mode: config.report,
            title,
            host,
            level: config.level,
            clock,
            session: Mutex::new(None),
            tx,
        });
        let notifier = Notifier {
            inner: Arc::clone(&inner),
        };
        Ok((notifier, NotifyLayer::new(inner)))
    }
}

/// What start-up found wrong with the configured template.
enum TemplateProblem {
    /// It does not parse; the default template is used.
    Replaced(TemplateError),
    /// It parses but fails on sample data; it is used anyway.
    FailsOnSample(String),
}

/// Renders the template against sample data so that a template that cannot run with this
/// data model is caught at start-up, not at the first update.
fn trial_render(template: &Template, report_mode: bool) -> Result<(), Error> {
    let time = DateTime::parse_from_rfc3339("2006-01-02T15:04:05Z").expect("constant time parses");
    let mut entry = LogEntry::new(Level::Info, "Found new image", time);
    entry.fields.insert(
        "container".to_owned(),
        crate::model::FieldValue::Str("/sample".to_owned()),
    );
    let mut b = ReportBuilder::new();
    let c = |i: &str| {
        ContainerRef::new(
            format!("{i}0000000000000000"),
            format!("/c{i}"),
            "sample:latest",
            format!("sha256:{i}1111111111111111"),
        )
    };
    b.updated(&c("a"), "sha256:b2222222222222222");
    b.failed(&c("b"), FailedStep::Start, "sample failure", true);
    b.skipped(&c("c"), "sample reason");
    b.fresh(&c("d"));
    b.stale(&c("e"), "sha256:f3333333333333333");
    let report = Arc::new(b.build());
    for report in [Some(report), None] {
        let data = TemplateData {
            title: "Watchtower updates on sample".to_owned(),
            host: "sample".to_owned(),
            entries: vec![entry.clone()],
            report,
        };
        let value = if report_mode {
            data.to_value()
        } else {
            data.entries_value()
        };
        template.render(&value)?;
    }
    Ok(())
}

pub(crate) struct Inner {
    services: Vec<Arc<(String, Service)>>,
    template: Template,
    template_problems: Vec<TemplateProblem>,
    report_mode: bool,
    title: String,
    host: String,
    pub(crate) level: Level,
    pub(crate) clock: Arc<dyn Clock>,
    session: Mutex<Option<Vec<LogEntry>>>,
    tx: mpsc::UnboundedSender<Job>,
}

enum Job {
    Send(String),
    Flush(oneshot::Sender<()>),
}

impl Inner {
    fn is_active(&self) -> bool {
        !self.services.is_empty()
    }

    /// A log entry from the layer: queued in a session, else sent on its own.
    pub(crate) fn capture(&self, entry: LogEntry) {
        if !self.is_active() {
            return;
        }
        {
            let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(queue) = session.as_mut() {
                queue.push(entry);
                return;
            }
        }
        self.render_and_queue(vec![entry], None);
    }

    fn render_and_queue(&self, entries: Vec<LogEntry>, report: Option<Arc<Report>>) {
        let data = TemplateData {
            title: self.title.clone(),
            host: self.host.clone(),
            entries,
            report,
        };
        let value = if self.report_mode {
            data.to_value()
        } else {
            data.entries_value()
        };
        match self.template.render(&value) {
            Ok(message) if message.is_empty() => {
                if self.services.len() > 1 {
                    tracing::info!(notify = "no", "Skipping notification due to empty message");
                }
            }
            Ok(message) => {
                let _ = self.tx.send(Job::Send(message));
            }
            Err(e) => {
                tracing::error!(notify = "no", error = %e, "Notification template error; nothing sent");
            }
        }
    }
}

/// Sends notifications. Cheap to clone; every clone feeds the same queue.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("services", &self.names())
            .field("report_mode", &self.inner.report_mode)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier with the default clock and standard output; see [`Notifier::builder`].
    pub fn new(config: NotifierConfig) -> Result<(Notifier, NotifyLayer), Error> {
        Self::builder(config).build()
    }

    /// A builder for non-default parts.
    pub fn builder(config: NotifierConfig) -> NotifierBuilder {
        NotifierBuilder {
            config,
            clock: Arc::new(SystemClock),
            stdout: None,
            extra_roots_pem: Vec::new(),
            endpoints: Endpoints::default(),
        }
    }

    /// Logs what was wrong with `--notification-template` (call it once the log subscriber is
    /// installed; [`Notifier::build`](NotifierBuilder::build) runs before it): a template that
    /// does not parse is named with the parse error, as the original does, and the default
    /// template is used instead; one that parses but fails on sample data is kept and warned
    /// of. These lines stay local; they are not sent as notifications.
    pub fn log_template_problems(&self) {
        for problem in &self.inner.template_problems {
            match problem {
                TemplateProblem::Replaced(reason) => tracing::error!(
                    "Could not use configured notification template: {reason}; using the default template"
                ),
                TemplateProblem::FailsOnSample(reason) => tracing::warn!(
                    "The notification template fails on sample data (it is used as given): {reason}"
                ),
            }
        }
    }

    /// The schemes of the configured services, for "Using notifications: ...".
    pub fn names(&self) -> Vec<String> {
        self.inner.services.iter().map(|s| s.0.clone()).collect()
    }

    /// The title given to services (empty with `--notification-skip-title`).
    pub fn title(&self) -> &str {
        &self.inner.title
    }

    /// Starts queuing log entries (a session, or the startup message).
    pub fn start_session(&self) {
        let mut session = self
            .inner
            .session
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if session.is_none() {
            *session = Some(Vec::new());
        }
    }

    /// Ends the session: renders the queued entries with `report` (`None` for the startup
    /// message) and queues the message for sending. Returns at once; an empty message is not
    /// sent.
    pub fn send(&self, report: Option<&Report>) {
        let entries = self
            .inner
            .session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        if !self.inner.is_active() {
            return;
        }
        self.inner
            .render_and_queue(entries, report.map(|r| Arc::new(r.clone())));
    }

    /// Waits until every message queued so far has been sent (or has failed). Bounded by the
    /// request timeout, attempts and delay.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.tx.send(Job::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Flushes before the process exits (the original's `Close`).
    pub async fn close(self) {
        self.flush().await;
    }
}

async fn send_loop(
    mut rx: mpsc::UnboundedReceiver<Job>,
    services: Vec<Arc<(String, Service)>>,
    transport: Transport,
    endpoints: Endpoints,
    title: String,
    delay: Duration,
) {
    while let Some(job) = rx.recv().await {
        match job {
            Job::Flush(done) => {
                let _ = done.send(());
            }
            Job::Send(message) => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let sends = services.iter().enumerate().map(|(index, service)| {
                    let transport = &transport;
                    let endpoints = &endpoints;
                    let message = &message;
                    let title = &title;
                    async move {
                        let (scheme, svc) = &**service;
                        let result = match svc.deliveries(message, title, endpoints) {
                            Ok(deliveries) => {
                                let mut result = Ok(());
                                for d in deliveries {
                                    if let Err(e) = transport.deliver(svc.smtp(), d).await {
                                        result = Err(e);
                                    }
                                }
                                result
                            }
                            Err(e) => Err(e),
                        };
                        if let Err(reason) = result {
                            let err = Error::Send {
                                scheme: scheme.clone(),
                                target: svc.target(),
                                reason,
                            };
                            tracing::error!(notify = "no", service = %scheme, index, error = %err, "Failed to send notification");
                        }
                    }
                });
                futures_util::future::join_all(sends).await;
            }
        }
    }
}
