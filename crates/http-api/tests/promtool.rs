//! `/v1/metrics`, fetched over real HTTP from the served API, checked by Prometheus's own
//! `promtool check metrics` (Debian's `prometheus` package; `cargo xtask deps` installs it).
//!
//! Without promtool the test skips loudly; under `WATCHTOWER_E2E=required` (CI) it fails.

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::{Server, TOKEN};
use tokio::io::AsyncWriteExt;
use watchtower_http_api::{Api, Metrics, RegistryRequestCount, RegistryStats, ScanCounts, Token};

/// The one finding promtool may report: the original's counter name, kept for dashboards.
const ACCEPTED_LINT: &str =
    r#"watchtower_scans_skipped counter metrics should have "_total" suffix"#;

/// promtool's exit code when it found lint problems but no error.
const LINT_EXIT_CODE: i32 = 3;

fn promtool() -> Option<std::path::PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join("promtool"))
        .find(|path| path.is_file())
}

/// Runs `promtool check metrics` on `text`: its exit code and everything it printed.
async fn check_metrics(promtool: &std::path::Path, text: &str) -> (Option<i32>, String) {
    let mut child = tokio::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("promtool starts");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("promtool finishes within 60 s")
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), printed)
}

struct Stats;

impl RegistryStats for Stats {
    fn request_counts(&self) -> Vec<RegistryRequestCount> {
        [
            ("challenge", "401", 2),
            ("token", "200", 2),
            ("manifest_head", "200", 7),
            ("manifest_head", "error", 1),
        ]
        .into_iter()
        .map(|(kind, status, count)| RegistryRequestCount {
            kind: kind.to_owned(),
            status: status.to_owned(),
            count,
        })
        .collect()
    }

    fn rate_limit_remaining(&self) -> Vec<(String, u64)> {
        vec![
            ("docker.io".to_owned(), 97),
            ("127.0.0.1:5000".to_owned(), 12),
        ]
    }
}

/// Metrics with every series holding a value, labels included.
fn busy_metrics() -> Metrics {
    let metrics = Metrics::new();
    let mut counts = ScanCounts::default();
    counts.scanned = 5;
    counts.updated = 2;
    counts.failed = 1;
    counts.restarted = 1;
    counts.skipped = 1;
    counts.rolled_back = 1;
    metrics.record_scan(counts, Duration::from_millis(2300));
    metrics.record_skipped_scan();
    metrics.record_scan(counts, Duration::from_secs(400));
    metrics.set_registry_stats(Arc::new(Stats));
    metrics
}

#[tokio::test]
async fn promtool_finds_no_error_in_the_served_metrics() {
    let Some(promtool) = promtool() else {
        watchtower_testkit::skip(
            "promtool",
            "not on PATH (Debian's `prometheus` package; `cargo xtask deps` installs it)",
        );
        return;
    };
    let server =
        Server::start(Api::new(Token::new(TOKEN).unwrap()).with_metrics(busy_metrics())).await;

    for accept in [None, Some("text/plain;version=0.0.4"), Some("*/*")] {
        let (headers, text) = server.scrape(accept).await;
        assert_eq!(
            headers["content-type"], "text/plain; version=0.0.4; charset=utf-8",
            "Accept: {accept:?}"
        );
        for series in [
            "watchtower_containers_restarted_total 2",
            "watchtower_containers_rolled_back_total 2",
            "watchtower_containers_skipped 1",
            "watchtower_registry_rate_limit_remaining{registry=\"127.0.0.1:5000\"} 12",
        ] {
            assert!(text.contains(series), "{series:?} missing in:\n{text}");
        }
        let (code, printed) = check_metrics(&promtool, &text).await;
        let findings: Vec<&str> = printed
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(
            findings,
            [ACCEPTED_LINT],
            "promtool found more than the accepted lint hint in:\n{text}"
        );
        assert_eq!(code, Some(LINT_EXIT_CODE), "{printed}");
    }

    // The check can fail: promtool reads only the text format, so the OpenMetrics answer
    // (TYPE unknown, a counter family without `_total`) is an error to it.
    let (headers, openmetrics) = server.scrape(Some("application/openmetrics-text")).await;
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let (code, printed) = check_metrics(&promtool, &openmetrics).await;
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains("error while linting"), "{printed}");
    server.stop().await;
}
