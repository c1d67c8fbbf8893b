//! What is worth retrying, and how long the server asked us to wait (`Retry-After`).

use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDateTime, Utc};
use http::{HeaderMap, StatusCode, header};

/// Whether an answer with `status` can turn into a success when the same request is sent
/// again: `408 Request Timeout`, `429 Too Many Requests`, `500 Internal Server Error`,
/// `502 Bad Gateway`, `503 Service Unavailable` and `504 Gateway Timeout`.
///
/// Every other status is final: a 4xx says the request itself is wrong, and `501 Not
/// Implemented`, `505 HTTP Version Not Supported` and the rest of the 5xx range describe
/// what the server cannot do, which another attempt does not change.
///
/// ```
/// use http::StatusCode;
/// use watchtower_http_client::status_is_retryable;
///
/// assert!(status_is_retryable(StatusCode::SERVICE_UNAVAILABLE));
/// assert!(status_is_retryable(StatusCode::TOO_MANY_REQUESTS));
/// assert!(!status_is_retryable(StatusCode::NOT_IMPLEMENTED));
/// assert!(!status_is_retryable(StatusCode::NOT_FOUND));
/// ```
pub fn status_is_retryable(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::REQUEST_TIMEOUT
            | StatusCode::TOO_MANY_REQUESTS
            | StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// The wait a `Retry-After` header asks for, measured from `now` (the wall clock, so that
/// callers with an injectable clock pass theirs). `None` without the header or with a value
/// that is neither form.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    parse_retry_after(headers.get(header::RETRY_AFTER)?.to_str().ok()?, now)
}

/// Parses a `Retry-After` value (RFC 9110 section 10.2.3): delta-seconds (`120`) or an
/// HTTP date in any of its three forms (`Sun, 06 Nov 1994 08:49:37 GMT`, the obsolete
/// `Sunday, 06-Nov-94 08:49:37 GMT` and asctime's `Sun Nov  6 08:49:37 1994`). A date in
/// the past means no wait.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use watchtower_http_client::parse_retry_after;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_717); // 08:48:37 GMT
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(
///     parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
///     Some(Duration::from_secs(60))
/// );
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = http_date(value)?;
    Some(
        SystemTime::from(at)
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    )
}

/// An HTTP date: IMF-fixdate, RFC 850 or asctime, always GMT.
fn http_date(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc2822(value) {
        return Some(at.with_timezone(&Utc));
    }
    // RFC 850: the weekday in full, a two-digit year. `%y` reads 69..99 as 19xx and
    // 00..68 as 20xx, which is the "within 50 years" rule for any date we can meet.
    if let Ok(at) = NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT") {
        return Some(at.and_utc());
    }
    // asctime: `Sun Nov  6 08:49:37 1994` (day padded with a space).
    let folded = value.split_whitespace().collect::<Vec<_>>().join(" ");
    NaiveDateTime::parse_from_str(&folded, "%a %b %e %H:%M:%S %Y")
        .ok()
        .map(|at| at.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// 1994-11-06 08:49:37 UTC.
    const SAMPLE: u64 = 784_111_777;

    #[test]
    fn seconds_and_every_http_date_form() {
        let now = at(SAMPLE - 90);
        for value in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "  Sun, 06 Nov 1994 08:49:37 GMT ",
        ] {
            assert_eq!(
                parse_retry_after(value, now),
                Some(Duration::from_secs(90)),
                "{value}"
            );
        }
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn past_dates_mean_now_and_junk_means_nothing() {
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at(SAMPLE + 5)),
            Some(Duration::ZERO)
        );
        for junk in ["", "-1", "1.5", "soon", "Sun, 06 Nov 1994", "+3"] {
            assert_eq!(parse_retry_after(junk, at(SAMPLE)), None, "{junk:?}");
        }
    }

    #[test]
    fn header_lookup() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, at(SAMPLE)), None);
        headers.insert(header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(
            retry_after(&headers, at(SAMPLE)),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn only_what_can_succeed_is_retried() {
        let retried: Vec<u16> = (100..600)
            .filter_map(|code| StatusCode::from_u16(code).ok())
            .filter(|s| status_is_retryable(*s))
            .map(|s| s.as_u16())
            .collect();
        assert_eq!(retried, [408, 429, 500, 502, 503, 504]);
    }
}
