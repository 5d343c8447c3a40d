//! The API's own figures in Prometheus' text exposition format (`GET /metrics`):
//! requests by route and status, and their latency as a histogram.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5,
];

#[derive(Debug, Default)]
pub(super) struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    /// Counts one answered request of `route` (the route's pattern, never the path: a
    /// path holds customer ids).
    pub(super) fn record(&self, route: &'static str, status: u16, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner.requests.entry((route, status)).or_default() += 1;
        let histogram = inner.latency.entry(route).or_default();
        for (bucket, bound) in histogram.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// The text exposition, with the champion's version as an info metric.
    pub(super) fn render(&self, champion: Option<&str>) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        out.push_str("# HELP churn_api_requests_total Requests answered, by route and status.\n");
        out.push_str("# TYPE churn_api_requests_total counter\n");
        for ((route, status), count) in &inner.requests {
            let _ = writeln!(
                out,
                "churn_api_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP churn_api_request_duration_seconds Time to answer a request, by route.\n",
        );
        out.push_str("# TYPE churn_api_request_duration_seconds histogram\n");
        for (route, histogram) in &inner.latency {
            for (count, bound) in histogram.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "churn_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "churn_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "churn_api_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "churn_api_request_duration_seconds_count{{route=\"{route}\"}} {}",
                histogram.count
            );
        }
        out.push_str("# HELP churn_model_info The champion the API scores with.\n");
        out.push_str("# TYPE churn_model_info gauge\n");
        if let Some(version) = champion {
            let _ = writeln!(out, "churn_model_info{{version=\"{version}\"}} 1");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_route_and_status_with_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record("/v1/score", 200, Duration::from_micros(300));
        metrics.record("/v1/score", 200, Duration::from_millis(3));
        metrics.record("/v1/score", 422, Duration::from_micros(100));
        let text = metrics.render(Some("m1"));
        assert!(text.contains("churn_api_requests_total{route=\"/v1/score\",status=\"200\"} 2\n"));
        assert!(text.contains("churn_api_requests_total{route=\"/v1/score\",status=\"422\"} 1\n"));
        assert!(text.contains(
            "churn_api_request_duration_seconds_bucket{route=\"/v1/score\",le=\"0.0005\"} 2\n"
        ));
        assert!(text.contains(
            "churn_api_request_duration_seconds_bucket{route=\"/v1/score\",le=\"0.005\"} 3\n"
        ));
        assert!(text.contains("churn_api_request_duration_seconds_count{route=\"/v1/score\"} 3\n"));
        assert!(text.contains("churn_model_info{version=\"m1\"} 1\n"));
    }
}
