//! Prometheus metrics served on `/v1/metrics`.
//!
//! The five series of the original keep their names, types and meanings:
//!
//! | series | type | meaning |
//! |---|---|---|
//! | `watchtower_containers_scanned` | gauge | containers scanned in the last session |
//! | `watchtower_containers_updated` | gauge | containers updated **or found stale** (monitor-only) in the last session |
//! | `watchtower_containers_failed` | gauge | containers whose update failed in the last session |
//! | `watchtower_scans_total` | counter | sessions since start, skipped ones included |
//! | `watchtower_scans_skipped` | counter (text 0.0.4), unknown (`OpenMetrics`) | scheduled sessions skipped because one was still running; a skip also resets the gauges to 0 |
//!
//! `watchtower_scans_skipped` keeps its historical name, which has no `_total` suffix. The
//! Prometheus text format declares it a `counter`, as the original did (`promtool check
//! metrics` hints at the missing suffix, nothing more); `OpenMetrics` only allows such a name
//! on an `unknown`-typed series, so that is its type there (`rate()` works on both).
//!
//! From the fork (nicholas-fedor/watchtower): `watchtower_containers_restarted_total`
//! (counter: containers recreated without a newer image of their own because a container they
//! depend on was updated) and `watchtower_containers_skipped` (gauge: containers skipped in the
//! last session). Ours: `watchtower_containers_rolled_back_total` (counter: failed updates
//! whose old container was put back), `watchtower_session_duration_seconds` (histogram),
//! `watchtower_registry_requests_total{kind,status}` (registry calls by kind and outcome) and
//! `watchtower_registry_rate_limit_remaining{registry}` (the last `RateLimit-Remaining` a
//! registry announced). The registry series are read at each scrape from a [`RegistryStats`]
//! source (the registry client keeps the counts). The Go runtime and process series of the
//! original are not exported.
//!
//! [`Metrics::encode_in`] writes either format ([`MetricsFormat`]); `/v1/metrics` picks one
//! from the request's `Accept` header.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use watchtower_session_report::Report;

use crate::MetricsFormat;

/// Container counts of one finished session.
///
/// Built from the session's report with [`ScanCounts::from_report`] (the one place that
/// decides what each series counts), or field by field from [`ScanCounts::default`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanCounts {
    /// Containers that were checked.
    pub scanned: u64,
    /// Containers updated, plus those found stale but left alone (monitor-only), as the
    /// original counted them "for backwards compatibility".
    pub updated: u64,
    /// Containers whose update failed.
    pub failed: u64,
    /// Containers recreated without a newer image of their own, because a container they
    /// depend on was updated (also counted in `updated`).
    pub restarted: u64,
    /// Containers skipped, with a reason in the report (pinned, cycle, check failed, ...).
    pub skipped: u64,
    /// Failed updates whose old container was put back (also counted in `failed`).
    pub rolled_back: u64,
}

impl ScanCounts {
    /// The counts of a finished session's report.
    ///
    /// ```
    /// use watchtower_http_api::ScanCounts;
    /// use watchtower_session_report::{ContainerRef, ReportBuilder};
    ///
    /// let db = ContainerRef::new("1", "/db", "postgres:16", "sha256:old");
    /// let app = ContainerRef::new("2", "/app", "app:1", "sha256:app");
    /// let mut report = ReportBuilder::new();
    /// report.updated(&db, "sha256:new");
    /// // Recreated with its own image because `db` changed.
    /// report.updated(&app, "sha256:app");
    /// let counts = ScanCounts::from_report(&report.build());
    /// assert_eq!((counts.updated, counts.restarted), (2, 1));
    /// ```
    pub fn from_report(report: &Report) -> Self {
        let counts = report.counts();
        let restarted = report
            .updated()
            .iter()
            .filter(|entry| {
                !entry.current_image_id().is_empty()
                    && entry.current_image_id() == entry.latest_image_id()
            })
            .count();
        Self {
            scanned: as_u64(counts.scanned),
            // Stale (monitor-only) containers count as updated, as in the original.
            updated: as_u64(counts.updated) + as_u64(counts.stale),
            failed: as_u64(counts.failed),
            restarted: as_u64(restarted),
            skipped: as_u64(counts.skipped),
            rolled_back: as_u64(counts.restored),
        }
    }
}

fn as_u64(count: usize) -> u64 {
    u64::try_from(count).unwrap_or(u64::MAX)
}

/// All metrics of one watchtower instance. Cloning shares the same series.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    scanned: Gauge,
    updated: Gauge,
    failed: Gauge,
    skipped: Gauge,
    restarted_total: Counter,
    rolled_back_total: Counter,
    scans_total: Counter,
    scans_skipped: UntypedCounter,
    session_duration: Histogram,
    registry_stats: Arc<RegistryCollector>,
}

/// Registry requests of one kind that ended with one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRequestCount {
    /// What the requests were for: `challenge`, `token`, `manifest_head`, `manifest_get`, ...
    pub kind: String,
    /// The HTTP status code, or `error` when no response came back.
    pub status: String,
    /// How many since start.
    pub count: u64,
}

/// Where the registry series come from; read at every scrape.
pub trait RegistryStats: Send + Sync + 'static {
    /// Requests so far, by kind and status.
    fn request_counts(&self) -> Vec<RegistryRequestCount>;
    /// The last `RateLimit-Remaining` each registry announced, by registry host.
    fn rate_limit_remaining(&self) -> Vec<(String, u64)>;
}

#[derive(Default)]
struct RegistryCollector {
    source: std::sync::RwLock<Option<Arc<dyn RegistryStats>>>,
}

impl std::fmt::Debug for RegistryCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistryCollector")
    }
}

impl Collector for RegistryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let source = self.source.read().ok().and_then(|s| s.clone());
        let (requests, remaining) = source
            .map(|s| (s.request_counts(), s.rate_limit_remaining()))
            .unwrap_or_default();
        let mut family = encoder.encode_descriptor(
            "watchtower_registry_requests",
            "Requests sent to registries, by kind (challenge, token, manifest_head, manifest_get) and status",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for request in &requests {
            let labels = [
                ("kind", request.kind.as_str()),
                ("status", request.status.as_str()),
            ];
            ConstCounter::new(request.count).encode(family.encode_family(&labels)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "watchtower_registry_rate_limit_remaining",
            "Pulls left according to the last RateLimit-Remaining header of each registry",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (registry, left) in &remaining {
            let labels = [("registry", registry.as_str())];
            ConstGauge::new(saturating_i64(*left)).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("scans_total", &self.inner.scans_total.get())
            .field("scans_skipped", &self.scans_skipped())
            .finish_non_exhaustive()
    }
}

/// Session duration buckets, in seconds: from a quick no-op check to a long update run.
const DURATION_BUCKETS: [f64; 12] = [
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

impl Metrics {
    /// Registers every series with its initial value.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let scanned = Gauge::default();
        let updated = Gauge::default();
        let failed = Gauge::default();
        let skipped = Gauge::default();
        let restarted_total = Counter::default();
        let rolled_back_total = Counter::default();
        let scans_total = Counter::default();
        let scans_skipped = UntypedCounter::default();
        let session_duration = Histogram::new(DURATION_BUCKETS);
        let registry_collector = Arc::new(RegistryCollector::default());
        registry.register(
            "watchtower_containers_scanned",
            "Number of containers scanned for changes by watchtower during the last scan",
            scanned.clone(),
        );
        registry.register(
            "watchtower_containers_updated",
            "Number of containers updated by watchtower during the last scan",
            updated.clone(),
        );
        registry.register(
            "watchtower_containers_failed",
            "Number of containers where update failed during the last scan",
            failed.clone(),
        );
        registry.register(
            "watchtower_containers_skipped",
            "Number of containers skipped during the last scan",
            skipped.clone(),
        );
        // The encoders append `_total` to counters.
        registry.register(
            "watchtower_containers_restarted",
            "Number of containers restarted due to linked dependencies since watchtower started",
            restarted_total.clone(),
        );
        registry.register(
            "watchtower_containers_rolled_back",
            "Number of failed container updates whose old container was put back since watchtower started",
            rolled_back_total.clone(),
        );
        registry.register(
            "watchtower_scans",
            "Number of scans since the watchtower started",
            scans_total.clone(),
        );
        registry.register(
            "watchtower_scans_skipped",
            "Number of skipped scans since watchtower started",
            scans_skipped.clone(),
        );
        registry.register(
            "watchtower_session_duration_seconds",
            "How long update sessions took",
            session_duration.clone(),
        );
        registry.register_collector(Box::new(registry_collector.clone()));
        Self {
            inner: Arc::new(Inner {
                registry,
                scanned,
                updated,
                failed,
                skipped,
                restarted_total,
                rolled_back_total,
                scans_total,
                scans_skipped,
                session_duration,
                registry_stats: registry_collector,
            }),
        }
    }

    /// Records a finished session: one more scan, gauges set to its counts, the counters of
    /// restarted and rolled-back containers grown by its counts, its duration.
    pub fn record_scan(&self, counts: ScanCounts, duration: Duration) {
        let inner = &self.inner;
        inner.scans_total.inc();
        inner.scanned.set(saturating_i64(counts.scanned));
        inner.updated.set(saturating_i64(counts.updated));
        inner.failed.set(saturating_i64(counts.failed));
        inner.skipped.set(saturating_i64(counts.skipped));
        inner.restarted_total.inc_by(counts.restarted);
        inner.rolled_back_total.inc_by(counts.rolled_back);
        inner.session_duration.observe(duration.as_secs_f64());
    }

    /// Records a scheduled session that was skipped because another one was running: one
    /// more scan and one more skip, and the gauges reset to 0 (as the original did).
    pub fn record_skipped_scan(&self) {
        let inner = &self.inner;
        inner.scans_total.inc();
        inner.scans_skipped.inc();
        inner.scanned.set(0);
        inner.updated.set(0);
        inner.failed.set(0);
        inner.skipped.set(0);
    }

    /// Reads the registry series from `source` at every scrape from now on.
    pub fn set_registry_stats(&self, source: Arc<dyn RegistryStats>) {
        if let Ok(mut slot) = self.inner.registry_stats.source.write() {
            *slot = Some(source);
        }
    }

    /// How many scans were skipped so far.
    pub fn scans_skipped(&self) -> u64 {
        self.inner.scans_skipped.value.load(Ordering::Relaxed)
    }

    /// How many scans were counted so far (skipped ones included).
    pub fn scans_total(&self) -> u64 {
        self.inner.scans_total.get()
    }

    /// The `OpenMetrics` text of every series; the same as
    /// `encode_in(MetricsFormat::OpenMetrics)`.
    pub fn encode(&self) -> String {
        self.encode_in(MetricsFormat::OpenMetrics)
    }

    /// Every series in `format` (served with [`MetricsFormat::content_type`]).
    pub fn encode_in(&self, format: MetricsFormat) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a metric.
        match format {
            MetricsFormat::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)
                    .expect("encoding metrics into a String");
            }
            MetricsFormat::PrometheusText => {
                prometheus_client::encoding::prometheus_text::encode(
                    &mut out,
                    &self.inner.registry,
                )
                .expect("encoding metrics into a String");
                // The encoder writes an `unknown` series as `untyped`; the text format lets
                // this one be the counter the original declared (see the module docs).
                debug_assert_eq!(out.matches(SKIPPED_AS_UNTYPED).count(), 1);
                out = out.replacen(SKIPPED_AS_UNTYPED, SKIPPED_AS_COUNTER, 1);
            }
        }
        out
    }
}

const SKIPPED_AS_UNTYPED: &str = "# TYPE watchtower_scans_skipped untyped\n";
const SKIPPED_AS_COUNTER: &str = "# TYPE watchtower_scans_skipped counter\n";

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A monotonically growing value exposed under a name without the `_total` suffix.
#[derive(Clone, Default, Debug)]
struct UntypedCounter {
    value: Arc<AtomicU64>,
}

impl UntypedCounter {
    fn inc(&self) {
        self.value.fetch_add(1, Ordering::Relaxed);
    }
}

impl TypedMetric for UntypedCounter {
    const TYPE: MetricType = MetricType::Unknown;
}

impl EncodeMetric for UntypedCounter {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&self.value.load(Ordering::Relaxed))
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .map(|v| v.trim().parse().unwrap())
    }

    const ALL_SERIES: [&str; 8] = [
        "watchtower_containers_scanned",
        "watchtower_containers_updated",
        "watchtower_containers_failed",
        "watchtower_scans_total",
        "watchtower_scans_skipped",
        "watchtower_containers_restarted_total",
        "watchtower_containers_skipped",
        "watchtower_containers_rolled_back_total",
    ];

    #[test]
    fn every_series_is_there_from_the_start_in_both_formats() {
        let metrics = Metrics::new();
        for format in [MetricsFormat::OpenMetrics, MetricsFormat::PrometheusText] {
            let text = metrics.encode_in(format);
            for name in ALL_SERIES {
                assert_eq!(sample(&text, name), Some(0.0), "{name} missing in:\n{text}");
            }
        }
        assert!(metrics.encode().ends_with("# EOF\n"));
        assert!(
            !metrics
                .encode_in(MetricsFormat::PrometheusText)
                .contains("# EOF")
        );
    }

    #[test]
    fn the_original_types_in_the_text_format() {
        let text = Metrics::new().encode_in(MetricsFormat::PrometheusText);
        for (name, kind) in [
            ("watchtower_containers_scanned", "gauge"),
            ("watchtower_containers_updated", "gauge"),
            ("watchtower_containers_failed", "gauge"),
            ("watchtower_scans_total", "counter"),
            ("watchtower_scans_skipped", "counter"),
            ("watchtower_containers_restarted_total", "counter"),
            ("watchtower_containers_skipped", "gauge"),
            ("watchtower_containers_rolled_back_total", "counter"),
            ("watchtower_session_duration_seconds", "histogram"),
            ("watchtower_registry_requests_total", "counter"),
            ("watchtower_registry_rate_limit_remaining", "gauge"),
        ] {
            assert!(
                text.contains(&format!("\n# TYPE {name} {kind}\n")),
                "{name} is not a {kind} in:\n{text}"
            );
        }
        assert!(
            !text.contains(" untyped\n") && !text.contains(" unknown\n"),
            "{text}"
        );
    }

    #[test]
    fn the_openmetrics_families_drop_the_total_suffix() {
        let text = Metrics::new().encode_in(MetricsFormat::OpenMetrics);
        for line in [
            "# TYPE watchtower_scans counter",
            "# TYPE watchtower_scans_skipped unknown",
            "# TYPE watchtower_containers_restarted counter",
            "# TYPE watchtower_containers_rolled_back counter",
        ] {
            assert!(
                text.contains(&format!("{line}\n")),
                "{line:?} missing in:\n{text}"
            );
        }
    }

    #[test]
    fn counts_follow_the_report() {
        use watchtower_session_report::{ContainerRef, FailedStep, ReportBuilder};
        let c = |id: &str, image: &str| ContainerRef::new(id, format!("/{id}"), "img", image);
        let mut report = ReportBuilder::new();
        report.updated(&c("a", "sha256:1"), "sha256:2");
        report.updated(&c("b", "sha256:3"), "sha256:3"); // a dependent, recreated
        report.stale(&c("c", "sha256:4"), "");
        report.scanned(&c("d", "sha256:5"), "sha256:5"); // fresh
        report.skipped(&c("e", "sha256:6"), "pinned to a digest");
        report.failed(&c("f", "sha256:7"), FailedStep::Start, "no", true);
        report.failed(&c("g", "sha256:8"), FailedStep::Pull, "no", false);
        let counts = ScanCounts::from_report(&report.build());
        assert_eq!(
            counts,
            ScanCounts {
                scanned: 6,
                updated: 3,
                failed: 2,
                restarted: 1,
                skipped: 1,
                rolled_back: 1,
            }
        );
    }

    #[test]
    fn restarts_and_rollbacks_add_up_across_sessions() {
        let metrics = Metrics::new();
        let counts = ScanCounts {
            restarted: 2,
            rolled_back: 1,
            skipped: 4,
            ..ScanCounts::default()
        };
        metrics.record_scan(counts, Duration::from_secs(1));
        metrics.record_scan(counts, Duration::from_secs(1));
        let text = metrics.encode_in(MetricsFormat::PrometheusText);
        assert_eq!(
            sample(&text, "watchtower_containers_restarted_total"),
            Some(4.0)
        );
        assert_eq!(
            sample(&text, "watchtower_containers_rolled_back_total"),
            Some(2.0)
        );
        assert_eq!(sample(&text, "watchtower_containers_skipped"), Some(4.0));
        metrics.record_skipped_scan();
        let text = metrics.encode_in(MetricsFormat::PrometheusText);
        assert_eq!(sample(&text, "watchtower_containers_skipped"), Some(0.0));
        assert_eq!(
            sample(&text, "watchtower_containers_restarted_total"),
            Some(4.0)
        );
    }

    #[test]
    fn scans_set_gauges_and_skips_reset_them() {
        let metrics = Metrics::new();
        metrics.record_scan(
            ScanCounts {
                scanned: 5,
                updated: 2,
                failed: 1,
                ..ScanCounts::default()
            },
            Duration::from_millis(1500),
        );
        let text = metrics.encode();
        assert_eq!(sample(&text, "watchtower_containers_scanned"), Some(5.0));
        assert_eq!(sample(&text, "watchtower_containers_updated"), Some(2.0));
        assert_eq!(sample(&text, "watchtower_containers_failed"), Some(1.0));
        assert_eq!(sample(&text, "watchtower_scans_total"), Some(1.0));
        assert_eq!(
            sample(&text, "watchtower_session_duration_seconds_count"),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "watchtower_session_duration_seconds_sum"),
            Some(1.5)
        );

        metrics.record_skipped_scan();
        let text = metrics.encode();
        assert_eq!(sample(&text, "watchtower_containers_scanned"), Some(0.0));
        assert_eq!(sample(&text, "watchtower_containers_updated"), Some(0.0));
        assert_eq!(sample(&text, "watchtower_containers_failed"), Some(0.0));
        assert_eq!(sample(&text, "watchtower_scans_total"), Some(2.0));
        assert_eq!(sample(&text, "watchtower_scans_skipped"), Some(1.0));
        assert_eq!(metrics.scans_skipped(), 1);
        assert_eq!(metrics.scans_total(), 2);
    }

    struct FixedStats;

    impl RegistryStats for FixedStats {
        fn request_counts(&self) -> Vec<RegistryRequestCount> {
            vec![
                RegistryRequestCount {
                    kind: "manifest_head".to_owned(),
                    status: "200".to_owned(),
                    count: 2,
                },
                RegistryRequestCount {
                    kind: "token".to_owned(),
                    status: "error".to_owned(),
                    count: 1,
                },
            ]
        }

        fn rate_limit_remaining(&self) -> Vec<(String, u64)> {
            vec![("docker.io".to_owned(), 97)]
        }
    }

    #[test]
    fn registry_series_are_read_at_scrape_time() {
        let metrics = Metrics::new();
        let text = metrics.encode();
        assert!(
            text.contains("# TYPE watchtower_registry_requests counter"),
            "{text}"
        );
        assert!(
            !text.contains("watchtower_registry_requests_total{"),
            "{text}"
        );
        metrics.set_registry_stats(Arc::new(FixedStats));
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"watchtower_registry_requests_total{kind="manifest_head",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"watchtower_registry_requests_total{kind="token",status="error"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"watchtower_registry_rate_limit_remaining{registry="docker.io"} 97"#),
            "{text}"
        );
    }
}
