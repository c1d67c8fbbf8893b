//! Which exposition format a scraper gets: content negotiation on `Accept`, as Prometheus's
//! own client libraries do it.
//!
//! The Prometheus text format 0.0.4 is the default, because every scraper and every tool
//! (`promtool check metrics`, Telegraf, the Datadog agent, `curl`) reads it. `OpenMetrics`
//! 1.0.0 is served only to a client that asks for it, as the Prometheus server does.

use http::HeaderValue;

/// An exposition format of `/v1/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetricsFormat {
    /// The Prometheus text format, version 0.0.4 (`text/plain; version=0.0.4`): the default.
    PrometheusText,
    /// The `OpenMetrics` text format, version 1.0.0 (`application/openmetrics-text`).
    OpenMetrics,
}

impl MetricsFormat {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            MetricsFormat::PrometheusText => "text/plain; version=0.0.4; charset=utf-8",
            MetricsFormat::OpenMetrics => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        }
    }

    /// The format for a request with this `Accept` header (none: the default).
    ///
    /// The media ranges are tried by falling quality (`q`, 1 when absent; ranges with
    /// `q=0` are refused, in order of appearance on a tie). The first that names a format we
    /// serve wins: `application/openmetrics-text` with `version` 1.0.0, 0.0.1 or none, or
    /// `text/plain` with `version` 0.0.4 or none. When none does (`*/*`, a protobuf range,
    /// an unknown version, no header, an unreadable header), the answer is the text format
    /// 0.0.4, as with Prometheus's client libraries.
    ///
    /// ```
    /// use http::HeaderValue;
    /// use watchtower_http_api::MetricsFormat;
    ///
    /// // What Prometheus 2.x sends.
    /// let prometheus = HeaderValue::from_static(
    ///     "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
    ///      version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    /// );
    /// assert_eq!(MetricsFormat::negotiate(Some(&prometheus)), MetricsFormat::OpenMetrics);
    /// assert_eq!(MetricsFormat::negotiate(None), MetricsFormat::PrometheusText);
    /// ```
    pub fn negotiate(accept: Option<&HeaderValue>) -> Self {
        let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
            return MetricsFormat::PrometheusText;
        };
        let mut ranges: Vec<MediaRange<'_>> =
            accept.split(',').filter_map(MediaRange::parse).collect();
        // Stable: equal qualities keep the client's order.
        ranges.sort_by(|a, b| b.quality.total_cmp(&a.quality));
        ranges
            .iter()
            .filter(|range| range.quality > 0.0)
            .find_map(MediaRange::format)
            .unwrap_or(MetricsFormat::PrometheusText)
    }
}

/// One element of an `Accept` header: `type/subtype;param=value;q=0.5`.
struct MediaRange<'a> {
    media_type: String,
    version: Option<&'a str>,
    quality: f32,
}

impl<'a> MediaRange<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.split(';');
        let media_type = parts.next()?.trim().to_ascii_lowercase();
        if media_type.is_empty() {
            return None;
        }
        let mut version = None;
        let mut quality = 1.0;
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "version" => version = Some(value),
                // An unreadable quality makes the range unusable rather than preferred.
                "q" => quality = value.parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0),
                _ => {}
            }
        }
        Some(Self {
            media_type,
            version,
            quality,
        })
    }

    fn format(&self) -> Option<MetricsFormat> {
        match (self.media_type.as_str(), self.version) {
            ("application/openmetrics-text", None | Some("1.0.0" | "0.0.1")) => {
                Some(MetricsFormat::OpenMetrics)
            }
            ("text/plain", None | Some("0.0.4")) => Some(MetricsFormat::PrometheusText),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(accept: &str) -> MetricsFormat {
        MetricsFormat::negotiate(Some(&HeaderValue::from_str(accept).unwrap()))
    }

    #[test]
    fn openmetrics_only_when_asked_for() {
        use MetricsFormat::{OpenMetrics, PrometheusText};
        assert_eq!(MetricsFormat::negotiate(None), PrometheusText);
        assert_eq!(negotiate("*/*"), PrometheusText);
        assert_eq!(negotiate("application/json"), PrometheusText);
        assert_eq!(negotiate("application/openmetrics-text"), OpenMetrics);
        assert_eq!(
            negotiate("Application/OpenMetrics-Text; Version=\"1.0.0\""),
            OpenMetrics
        );
        assert_eq!(
            negotiate("application/openmetrics-text;version=0.0.1"),
            OpenMetrics
        );
        assert_eq!(negotiate("text/plain;version=0.0.4"), PrometheusText);
        // A version we do not serve is passed over.
        assert_eq!(
            negotiate("application/openmetrics-text;version=2.0.0"),
            PrometheusText
        );
    }

    #[test]
    fn quality_orders_the_ranges() {
        use MetricsFormat::{OpenMetrics, PrometheusText};
        assert_eq!(
            negotiate("text/plain;version=0.0.4;q=0.3,application/openmetrics-text;q=0.5"),
            OpenMetrics
        );
        assert_eq!(
            negotiate("application/openmetrics-text;q=0.2,text/plain;q=0.9"),
            PrometheusText
        );
        // Equal quality: the client's order.
        assert_eq!(
            negotiate("text/plain,application/openmetrics-text"),
            PrometheusText
        );
        // q=0 means "not acceptable".
        assert_eq!(
            negotiate("application/openmetrics-text;q=0"),
            PrometheusText
        );
        assert_eq!(
            negotiate("application/openmetrics-text;q=x"),
            PrometheusText
        );
    }

    #[test]
    fn what_real_scrapers_send() {
        use MetricsFormat::{OpenMetrics, PrometheusText};
        // Prometheus 3 (with its escaping parameters) and Prometheus 2.
        assert_eq!(
            negotiate(
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
                 application/openmetrics-text;version=0.0.1;q=0.4,\
                 text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,\
                 text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
            ),
            OpenMetrics
        );
        // Prometheus with `scrape_protocols: [PrometheusText0.0.4]`.
        assert_eq!(
            negotiate("text/plain;version=0.0.4;q=1,*/*;q=0.1"),
            PrometheusText
        );
        // curl.
        assert_eq!(negotiate("*/*"), PrometheusText);
    }
}
