//! Prometheus metrics served on `/v1/metrics`.
//!
//! The five series of the original keep their names and meanings:
//!
//! | series | type | meaning |
//! |---|---|---|
//! | `watchtower_containers_scanned` | gauge | containers scanned in the last session |
//! | `watchtower_containers_updated` | gauge | containers updated **or found stale** (monitor-only) in the last session |
//! | `watchtower_containers_failed` | gauge | containers whose update failed in the last session |
//! | `watchtower_scans_total` | counter | sessions since start, skipped ones included |
//! | `watchtower_scans_skipped` | untyped | scheduled sessions skipped because one was still running; a skip also resets the three gauges to 0 |
//!
//! `watchtower_scans_skipped` keeps its historical name, which has no `_total` suffix; the
//! `OpenMetrics` text format only allows such a name on an `unknown`-typed series, so that is
//! its declared type (its value only ever grows, like a counter, and `rate()` works on it).
//!
//! Added series: `watchtower_session_duration_seconds` (histogram of session run time),
//! `watchtower_registry_requests_total{kind,status}` (registry calls by kind and outcome) and
//! `watchtower_registry_rate_limit_remaining{registry}` (the last `RateLimit-Remaining` a
//! registry announced). The registry series are read at each scrape from a
//! [`RegistryStats`] source (the registry client keeps the counts). The Go runtime and
//! process series of the original are not exported.

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

/// The `OpenMetrics` content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Container counts of one finished session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanCounts {
    /// Containers that were checked.
    pub scanned: u64,
    /// Containers updated, plus those found stale but left alone (monitor-only), as the
    /// original counted them "for backwards compatibility".
    pub updated: u64,
    /// Containers whose update failed.
    pub failed: u64,
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
        // The text encoder appends `_total` to counters.
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
                scans_total,
                scans_skipped,
                session_duration,
                registry_stats: registry_collector,
            }),
        }
    }

    /// Records a finished session: one more scan, gauges set to its counts, its duration.
    pub fn record_scan(&self, counts: ScanCounts, duration: Duration) {
        let inner = &self.inner;
        inner.scans_total.inc();
        inner.scanned.set(saturating_i64(counts.scanned));
        inner.updated.set(saturating_i64(counts.updated));
        inner.failed.set(saturating_i64(counts.failed));
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

    /// The `OpenMetrics` text of every series (content type [`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a metric.
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)
            .expect("encoding metrics into a String");
        out
    }
}

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

    #[test]
    fn the_five_original_series_carry_their_names() {
        let metrics = Metrics::new();
        let text = metrics.encode();
        for name in [
            "watchtower_containers_scanned",
            "watchtower_containers_updated",
            "watchtower_containers_failed",
            "watchtower_scans_total",
            "watchtower_scans_skipped",
        ] {
            assert_eq!(sample(&text, name), Some(0.0), "{name} missing in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn scans_set_gauges_and_skips_reset_them() {
        let metrics = Metrics::new();
        metrics.record_scan(
            ScanCounts {
                scanned: 5,
                updated: 2,
                failed: 1,
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
