//! The shapes of the Prometheus figures the parts of the server keep for `/metrics`:
//! latency histograms with buckets that fit what they measure. Each part owns its
//! instruments; the API's `/metrics` endpoint gathers them at scrape time.

use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

/// Fast operations (a request, a commit): 100 µs to about 13 s, doubling.
pub fn fast_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

/// Check latency and plugin execution time: 1 ms to about 65 s, doubling.
pub fn check_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}
