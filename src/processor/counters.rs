//! How many active and passive host and service checks were processed in the last 15
//! minutes, by the second they were scheduled to end, as Icinga's CIB counts them for
//! `/v1/status/CIB` and the `icinga` check: the last minute's, five minutes' and fifteen
//! minutes' sums, and the rate per second since start (at most over the last minute).
//! For `/metrics` it also keeps the totals since the start and the active checks'
//! latency and execution time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use prometheus_client::metrics::histogram::Histogram;

/// Seconds kept.
const SPAN: usize = 15 * 60;

/// One counter's seconds, a ring over the last [`SPAN`].
struct Ring {
    slots: Box<[u32]>,
    /// The latest second the ring has reached.
    last: i64,
}

impl Ring {
    fn new() -> Ring {
        Ring {
            slots: vec![0; SPAN].into_boxed_slice(),
            last: 0,
        }
    }

    fn slot(second: i64) -> usize {
        second.rem_euclid(SPAN as i64) as usize
    }

    /// Moves to `second`, clearing the seconds passed over.
    fn advance(&mut self, second: i64) {
        if second <= self.last {
            return;
        }
        let gap = (second - self.last).min(SPAN as i64);
        for s in second - gap + 1..=second {
            self.slots[Ring::slot(s)] = 0;
        }
        self.last = second;
    }

    fn add(&mut self, second: i64) {
        self.advance(second);
        if second > self.last - SPAN as i64 {
            let slot = &mut self.slots[Ring::slot(second)];
            *slot = slot.saturating_add(1);
        }
    }

    /// The sum of the `span` seconds up to `now`.
    fn sum(&mut self, now: i64, span: usize) -> u64 {
        self.advance(now);
        let span = span.clamp(1, SPAN) as i64;
        (now - span + 1..=now)
            .map(|s| u64::from(self.slots[Ring::slot(s)]))
            .sum()
    }
}

/// Which counter a check result goes to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Checked {
    pub host: bool,
    pub active: bool,
    /// When the check was scheduled to end (Icinga counts by it).
    pub at: f64,
    /// Seconds between the check's due time and its result, less its execution time.
    pub latency: f64,
    /// Seconds the plugin ran.
    pub execution: f64,
}

/// The counter of host or service, active or passive checks.
fn index(host: bool, active: bool) -> usize {
    usize::from(host) * 2 + usize::from(active)
}

/// The four counters: passive and active service checks, passive and active host checks.
pub struct CheckCounters {
    rings: Mutex<[Ring; 4]>,
    /// Results since the start, by counter.
    totals: [AtomicU64; 4],
    /// Active checks' latency.
    pub latency: Histogram,
    /// Active checks' execution time.
    pub execution: Histogram,
}

impl Default for CheckCounters {
    fn default() -> Self {
        CheckCounters {
            rings: Mutex::new([Ring::new(), Ring::new(), Ring::new(), Ring::new()]),
            totals: std::array::from_fn(|_| AtomicU64::new(0)),
            latency: crate::metrics::check_seconds(),
            execution: crate::metrics::check_seconds(),
        }
    }
}

/// The counters' figures at one moment, under Icinga's CIB names.
pub type Figures = Vec<(String, f64)>;

impl CheckCounters {
    /// Counts results processed at `now` (a check scheduled to end later counts now).
    pub fn record(&self, now: f64, checked: impl IntoIterator<Item = Checked>) {
        let mut rings = self.rings.lock().unwrap_or_else(|e| e.into_inner());
        for c in checked {
            let i = index(c.host, c.active);
            rings[i].add(c.at.min(now).floor() as i64);
            self.totals[i].fetch_add(1, Ordering::Relaxed);
            if c.active {
                self.latency.observe(c.latency.max(0.0));
                self.execution.observe(c.execution.max(0.0));
            }
        }
    }

    /// Results processed since the start: `(host, active, count)` for each counter.
    pub fn totals(&self) -> [(bool, bool, u64); 4] {
        [(false, false), (false, true), (true, false), (true, true)].map(|(host, active)| {
            (
                host,
                active,
                self.totals[index(host, active)].load(Ordering::Relaxed),
            )
        })
    }

    /// `{active,passive}_{host,service}_checks[_1min|_5min|_15min]` at `now`, `uptime`
    /// seconds after start: the plain name is the rate per second over the last minute
    /// (or the uptime, if shorter).
    pub fn figures(&self, now: f64, uptime: f64) -> Figures {
        let mut rings = self.rings.lock().unwrap_or_else(|e| e.into_inner());
        let now = now.floor() as i64;
        let interval = uptime.clamp(1.0, 60.0);
        // Every second since start, whole: the start's second counts too.
        let seconds = (uptime.ceil() as usize + 1).min(60);
        let mut out = Vec::with_capacity(16);
        for (host, kind) in [(true, "host"), (false, "service")] {
            for (suffix, span) in [("", 0), ("_1min", 60), ("_5min", 300), ("_15min", 900)] {
                for (active, mode) in [(true, "active"), (false, "passive")] {
                    let ring = &mut rings[index(host, active)];
                    let value = if span == 0 {
                        ring.sum(now, seconds) as f64 / interval
                    } else {
                        ring.sum(now, span) as f64
                    };
                    out.push((format!("{mode}_{kind}_checks{suffix}"), value));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(f: &Figures, name: &str) -> f64 {
        f.iter()
            .find(|(n, _)| n == name)
            .map_or(f64::NAN, |(_, v)| *v)
    }

    /// Results count in their minute, five and fifteen minutes, and fall out as time
    /// moves on; host and service, active and passive apart.
    #[test]
    fn windows_count_and_forget() {
        let c = CheckCounters::default();
        let t = 1_000_000.0;
        let at = |s: f64, host, active| Checked {
            host,
            active,
            at: t + s,
            latency: 0.0,
            execution: 0.0,
        };
        c.record(t + 10.0, [at(0.0, false, true), at(10.0, false, true)]);
        c.record(t + 200.0, [at(200.0, false, true), at(200.0, true, false)]);
        let f = c.figures(t + 200.0, 3600.0);
        assert_eq!(figure(&f, "active_service_checks_1min"), 1.0);
        assert_eq!(figure(&f, "active_service_checks_5min"), 3.0);
        assert_eq!(figure(&f, "active_service_checks_15min"), 3.0);
        assert_eq!(figure(&f, "passive_host_checks_1min"), 1.0);
        assert_eq!(figure(&f, "active_host_checks_15min"), 0.0);
        assert_eq!(figure(&f, "active_service_checks"), 1.0 / 60.0);
        // Fifteen minutes on the first has gone, later all.
        let f = c.figures(t + 905.0, 3600.0);
        assert_eq!(figure(&f, "active_service_checks_15min"), 2.0);
        let f = c.figures(t + 5000.0, 3600.0);
        assert_eq!(figure(&f, "active_service_checks_15min"), 0.0);
        assert_eq!(figure(&f, "passive_host_checks_15min"), 0.0);
        // A result older than the window counts nowhere.
        c.record(t + 5000.0, [at(0.0, false, false)]);
        let f = c.figures(t + 5000.0, 3600.0);
        assert_eq!(figure(&f, "passive_service_checks_15min"), 0.0);
    }

    /// Shortly after start the rate is over the seconds since start.
    #[test]
    fn the_first_minute_rates_over_the_uptime() {
        let c = CheckCounters::default();
        let t = 2_000_000.0;
        let checked = Checked {
            host: true,
            active: true,
            at: t,
            latency: 0.0,
            execution: 0.0,
        };
        c.record(t, [checked; 10]);
        let f = c.figures(t + 4.0, 5.0);
        assert_eq!(figure(&f, "active_host_checks"), 2.0);
        // A check in the start's second counts though the uptime crosses a second less.
        let c = CheckCounters::default();
        let (start, now) = (t + 0.9, t + 2.1);
        c.record(
            t + 0.95,
            [Checked {
                at: t + 0.95,
                ..checked
            }],
        );
        let f = c.figures(now, now - start);
        assert_eq!(figure(&f, "active_host_checks"), 1.0 / (now - start));
    }
}
