//! `GET /metrics`: the server's figures in the Prometheus (OpenMetrics) text format, for
//! the users allowed `status/query` — requests and their latency, checks, results,
//! events published and delivered, event streams, the store's commits, objects by state.
//!
//! The counters and histograms live with what they measure; a scrape gathers them and
//! computes the gauges (objects by state, subscribers) from the current snapshot.

use std::convert::Infallible;
use std::sync::{Arc, LazyLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use warp::reply::Response;

use super::error::ApiError;
use super::request::Req;
use super::State;
use crate::actions::Action;

/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The labels of a request's figures: its method, its route (a bounded set: the URL
/// tree's areas and Icinga's action names), the status code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: &'static str,
    pub code: u16,
}

/// The API's own figures: every answered request.
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    seconds: Family<RequestLabels, Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: Family::default(),
            seconds: Family::new_with_constructor(crate::metrics::fast_seconds),
        }
    }
}

impl HttpMetrics {
    /// Counts an answered request (for a stream: until its header was sent).
    pub fn record(&self, method: &http::Method, path: &str, code: u16, seconds: f64) {
        let labels = RequestLabels {
            method: method_label(method),
            route: route_label(path),
            code,
        };
        self.requests.get_or_create(&labels).inc();
        self.seconds.get_or_create(&labels).observe(seconds);
    }
}

fn method_label(m: &http::Method) -> &'static str {
    match *m {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `/v1/actions/<name>` of every action.
static ACTION_ROUTES: LazyLock<Vec<(Action, String)>> = LazyLock::new(|| {
    Action::ALL
        .into_iter()
        .map(|a| (a, format!("/v1/actions/{}", a.name())))
        .collect()
});

/// The route of a path, from a bounded set so that no client can grow the series.
pub fn route_label(path: &str) -> &'static str {
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), None | Some(""), _) => "/v1",
        (Some("v1"), Some("actions"), Some(name)) => ACTION_ROUTES
            .iter()
            .find(|(a, _)| a.name() == name)
            .map_or("/v1/actions", |(_, route)| route.as_str()),
        (Some("v1"), Some(area), _) => match area {
            "objects" => "/v1/objects",
            "events" => "/v1/events",
            "status" => "/v1/status",
            "config" => "/v1/config",
            "console" => "/v1/console",
            "types" => "/v1/types",
            "templates" => "/v1/templates",
            "variables" => "/v1/variables",
            "checker" => "/v1/checker",
            "self-service" => "/v1/self-service",
            _ => "other",
        },
        (Some("-"), Some("healthy"), None) => "/-/healthy",
        (Some("-"), Some("ready"), None) => "/-/ready",
        (Some("metrics"), None, _) => "/metrics",
        (Some("ui"), _, _) => "/ui",
        (Some("director"), Some("self-service"), _) => "/v1/self-service",
        (Some(""), None, _) => "/",
        _ => "other",
    }
}

pub async fn handle(state: Arc<State>, req: Req) -> Result<Response, Infallible> {
    super::request::respond(req, |session, _params, _| async move {
        if session.user.permissions.grant("status/query").is_denied() {
            return Err(ApiError::forbidden("status/query"));
        }
        let text = render(&state).map_err(|e| {
            ApiError::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("Could not render the metrics: {e}"),
            )
        })?;
        let mut res = warp::reply::Reply::into_response(text);
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(CONTENT_TYPE),
        );
        Ok(res)
    })
    .await
}

/// Labels of one kind of thing counted.
type Kind = Vec<(&'static str, String)>;

fn gauge(value: f64) -> Gauge<f64, std::sync::atomic::AtomicU64> {
    let g = Gauge::default();
    g.set(value);
    g
}

fn counter(value: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(value);
    c
}

/// The figures now, in the text format.
fn render(state: &State) -> Result<String, std::fmt::Error> {
    let engine = &state.engine;
    let mut r = Registry::with_prefix("auspex");
    r.register(
        "http_requests",
        "HTTP requests answered, by method, route and status code",
        state.metrics.requests.clone(),
    );
    r.register_with_unit(
        "http_request_duration",
        "Time to answer a request (for event streams: to the response header)",
        Unit::Seconds,
        state.metrics.seconds.clone(),
    );
    r.register(
        "http_connections",
        "Open client connections",
        gauge(state.open_connections() as f64),
    );
    let counters = &engine.stats.counters;
    let results: Family<Kind, Counter> = Family::default();
    for (host, active, n) in counters.totals() {
        let labels = vec![
            ("type", if host { "host" } else { "service" }.to_string()),
            (
                "mode",
                if active { "active" } else { "passive" }.to_string(),
            ),
        ];
        results.get_or_create(&labels).inc_by(n);
    }
    r.register(
        "check_results",
        "Check results processed, by object type and active or passive",
        results,
    );
    r.register_with_unit(
        "check_latency",
        "Active checks: time from due to result, less the execution time",
        Unit::Seconds,
        counters.latency.clone(),
    );
    r.register_with_unit(
        "check_execution",
        "Active checks: time the plugin ran",
        Unit::Seconds,
        counters.execution.clone(),
    );
    r.register(
        "checks_running",
        "Checks running now",
        gauge(
            engine
                .stats
                .running_checks
                .load(std::sync::atomic::Ordering::Relaxed) as f64,
        ),
    );
    register_events(&mut r, state);
    r.register_with_unit(
        "store_commit_duration",
        "Time of a group commit to the store (transaction and fsync)",
        Unit::Seconds,
        engine.store.commit_seconds(),
    );
    let health = engine.store.health();
    r.register(
        "store_failed_commits",
        "Store commits that failed",
        counter(health.failed_commits),
    );
    r.register(
        "store_writable",
        "1 while the store takes writes",
        gauge(if health.fault.is_none() { 1.0 } else { 0.0 }),
    );
    register_objects(&mut r, state);
    register_writers(&mut r, state);
    r.register(
        "uptime",
        "Seconds since the process started",
        gauge(engine.stats.uptime(engine.clock.now())),
    );
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &r)?;
    Ok(out)
}

/// Events published by type; delivered and lost by stream format and by open stream;
/// subscribers.
fn register_events(r: &mut Registry, state: &State) {
    let engine = &state.engine;
    let published: Family<Kind, Counter> = Family::default();
    for (kind, n) in engine.bus.published() {
        published
            .get_or_create(&vec![("type", kind.name().to_string())])
            .inc_by(n);
    }
    r.register(
        "events_published",
        "Events published on the bus, by type",
        published,
    );
    let (delivered, lost): (Family<Kind, Counter>, Family<Kind, Counter>) = Default::default();
    for (format, tally) in engine.streams.totals() {
        let labels = vec![("format", format.to_string())];
        delivered.get_or_create(&labels).inc_by(tally.delivered);
        lost.get_or_create(&labels).inc_by(tally.lost);
    }
    r.register(
        "events_delivered",
        "Events delivered to event streams, by format",
        delivered,
    );
    r.register(
        "events_lost",
        "Events event streams could not get any more (older than the journal keeps), by format",
        lost,
    );
    let open = engine.streams.open();
    let subscribers: Family<Kind, Gauge> = Family::default();
    let (stream_delivered, stream_lost, stream_lag): (
        Family<Kind, Counter>,
        Family<Kind, Counter>,
        Family<Kind, Gauge>,
    ) = Default::default();
    let last = engine.bus.last_id();
    for s in &open {
        subscribers
            .get_or_create(&vec![("format", s.format.to_string())])
            .inc();
        let labels = vec![
            ("stream", s.id.to_string()),
            ("user", s.user.clone()),
            ("format", s.format.to_string()),
        ];
        let tally = s.tally();
        stream_delivered
            .get_or_create(&labels)
            .inc_by(tally.delivered);
        stream_lost.get_or_create(&labels).inc_by(tally.lost);
        let position = s.position.load(std::sync::atomic::Ordering::Relaxed);
        stream_lag
            .get_or_create(&labels)
            .set(i64::try_from(last.saturating_sub(position)).unwrap_or(i64::MAX));
    }
    r.register(
        "event_subscribers",
        "Open event streams, by format",
        subscribers,
    );
    r.register(
        "event_stream_delivered",
        "Events delivered by each open event stream",
        stream_delivered,
    );
    r.register(
        "event_stream_lost",
        "Events each open event stream could not get any more",
        stream_lost,
    );
    r.register(
        "event_stream_lag",
        "Events published that each open event stream has not passed yet",
        stream_lag,
    );
    r.register(
        "last_event_id",
        "The id of the last event published",
        gauge(last as f64),
    );
}

/// The perfdata and IcingaDB writers: what they wrote, what they have not written yet,
/// whether they are connected.
fn register_writers(r: &mut Registry, state: &State) {
    use std::sync::atomic::Ordering::Relaxed;
    let engine = &state.engine;
    let last = engine.bus.last_id();
    let perfdata = engine
        .perfdata
        .writers()
        .into_iter()
        .map(|(kind, name, s)| {
            let figures = (
                s.written.load(Relaxed),
                s.position.load(Relaxed),
                s.connected.load(Relaxed),
            );
            (vec![("type", kind.to_string()), ("name", name)], figures)
        });
    register_writer_figures(
        r,
        perfdata,
        last,
        [
            (
                "perfdata_written",
                "Check results a perfdata writer has sent",
            ),
            (
                "perfdata_queue",
                "Events a perfdata writer has not passed yet",
            ),
            (
                "perfdata_connected",
                "1 while a perfdata writer reaches its receiver",
            ),
        ],
    );
    let writers = engine.icingadb.writers();
    let icingadb = writers.iter().map(|(name, s)| {
        let figures = (
            s.written.load(Relaxed),
            s.position.load(Relaxed),
            s.connected.load(Relaxed),
        );
        (vec![("name", name.clone())], figures)
    });
    register_writer_figures(
        r,
        icingadb,
        last,
        [
            (
                "icingadb_written",
                "Events an IcingaDB writer has written to Redis",
            ),
            (
                "icingadb_queue",
                "Events an IcingaDB writer has not written yet (its lag)",
            ),
            (
                "icingadb_connected",
                "1 while an IcingaDB writer is connected to Redis",
            ),
        ],
    );
    let dump: Family<Kind, Gauge<f64, std::sync::atomic::AtomicU64>> = Family::default();
    for (name, s) in writers {
        dump.get_or_create(&vec![("name", name)])
            .set(*s.lastdump_took.lock().unwrap_or_else(|e| e.into_inner()));
    }
    r.register(
        "icingadb_last_dump_seconds",
        "How long an IcingaDB writer's last dump took",
        dump,
    );
}

/// A kind of writer's three figures — what it wrote, how many events it has not passed
/// yet, whether it is connected — from (labels, (written, position, connected)) per
/// writer, under the three given names and helps.
fn register_writer_figures(
    r: &mut Registry,
    writers: impl Iterator<Item = (Kind, (u64, u64, bool))>,
    last_event: u64,
    [written_name, queue_name, connected_name]: [(&'static str, &'static str); 3],
) {
    let (written, queued, connected): (
        Family<Kind, Counter>,
        Family<Kind, Gauge>,
        Family<Kind, Gauge>,
    ) = Default::default();
    for (labels, (count, position, up)) in writers {
        written.get_or_create(&labels).inc_by(count);
        let behind = last_event.saturating_sub(position);
        queued
            .get_or_create(&labels)
            .set(i64::try_from(behind).unwrap_or(i64::MAX));
        connected.get_or_create(&labels).set(i64::from(up));
    }
    r.register(written_name.0, written_name.1, written);
    r.register(queue_name.0, queue_name.1, queued);
    r.register(connected_name.0, connected_name.1, connected);
}

/// Hosts and services by state, and those in the CIB's other counts (pending,
/// unreachable, flapping, in downtime, acknowledged, handled, problem).
fn register_objects(r: &mut Registry, state: &State) {
    let engine = &state.engine;
    let reg = engine.registry();
    let now = engine.clock.now();
    let (by_state, other): (Family<Kind, Gauge>, Family<Kind, Gauge>) = Default::default();
    for (type_name, kind) in [("Host", "hosts"), ("Service", "services")] {
        for (name, value) in crate::stats::by_state(&reg, type_name, now) {
            let Some(what) = name.strip_prefix(&format!("num_{kind}_")) else {
                continue;
            };
            let labels = vec![
                ("type", type_name.to_lowercase()),
                (
                    if crate::stats::is_state_name(what) {
                        "state"
                    } else {
                        "condition"
                    },
                    what.to_string(),
                ),
            ];
            let family = if crate::stats::is_state_name(what) {
                &by_state
            } else {
                &other
            };
            family.get_or_create(&labels).set(value as i64);
        }
    }
    r.register(
        "objects_by_state",
        "Hosts and services by current state (pending ones have none)",
        by_state,
    );
    r.register(
        "objects_by_condition",
        "Hosts and services pending, unreachable, flapping, in downtime, acknowledged, handled or with a problem",
        other,
    );
    let counts: Family<Kind, Gauge> = Family::default();
    for (type_info, n) in reg.counts() {
        counts
            .get_or_create(&vec![("type", type_info.name.to_string())])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    r.register("objects", "Objects, by type", counts);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Routes come from a bounded set: a client cannot add series with made-up paths.
    #[test]
    fn routes_are_bounded() {
        assert_eq!(route_label("/v1/objects/hosts/h1"), "/v1/objects");
        assert_eq!(
            route_label("/v1/actions/process-check-result"),
            "/v1/actions/process-check-result"
        );
        assert_eq!(route_label("/v1/actions/made-up"), "/v1/actions");
        assert_eq!(route_label("/v1/made-up/x"), "other");
        assert_eq!(route_label("/v1"), "/v1");
        assert_eq!(route_label("/v1/"), "/v1");
        assert_eq!(route_label("/-/ready"), "/-/ready");
        assert_eq!(route_label("/metrics"), "/metrics");
        assert_eq!(route_label("/anything/else"), "other");
    }
}
