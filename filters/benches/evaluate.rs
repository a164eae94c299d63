//! Filter evaluation throughput over 1M objects.
//!
//! `cargo bench -p auspex-filters --bench evaluate`; divan reports items (evaluations) per
//! second. Figures are recorded in docs/benchmarks.md.

use std::sync::Arc;

use divan::counter::ItemsCount;
use divan::Bencher;
use filters::{Dict, Object, Program, Scope, Value};

/// Objects per run; `AUSPEX_BENCH_OBJECTS` overrides (a small count shows the cost without
/// cache misses).
fn objects() -> usize {
    std::env::var("AUSPEX_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

#[derive(Debug)]
struct Checkable {
    type_name: &'static str,
    name: String,
    state: f64,
    vars: Value,
}

impl Object for Checkable {
    fn type_name(&self) -> &str {
        self.type_name
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn get_field(&self, field: &str) -> Option<Value> {
        match field {
            "name" => Some(Value::from(self.name.as_str())),
            "state" => Some(Value::Number(self.state)),
            "vars" => Some(self.vars.clone()),
            _ => None,
        }
    }
}

struct Frame {
    host: Value,
    service: Value,
}

impl Scope for Frame {
    fn variable(&self, name: &str) -> Option<Value> {
        match name {
            "host" => Some(self.host.clone()),
            "service" => Some(self.service.clone()),
            _ => None,
        }
    }
    fn variable_ref(&self, name: &str) -> Option<&Value> {
        match name {
            "host" => Some(&self.host),
            "service" => Some(&self.service),
            _ => None,
        }
    }
}

fn frames() -> Vec<Frame> {
    (0..objects())
        .map(|i| {
            let os = if i % 3 == 0 { "Linux" } else { "Windows" };
            let vars: Dict = [("os".into(), Value::from(os))].into();
            let host_name = if i % 2 == 0 {
                format!("web{i}")
            } else {
                format!("db{i}")
            };
            let host = Value::Object(Arc::new(Checkable {
                type_name: "Host",
                name: host_name.clone(),
                state: 0.0,
                vars: Value::from(vars),
            }));
            let service = Value::Object(Arc::new(Checkable {
                type_name: "Service",
                name: format!("{host_name}!ping"),
                state: f64::from((i % 4) as u8),
                vars: Value::from(Dict::new()),
            }));
            Frame { host, service }
        })
        .collect()
}

fn run(bencher: Bencher, filter: &str) {
    let frames = frames();
    let program = Program::compile(filter).expect("benchmark filter compiles");
    bencher
        .counter(ItemsCount::new(frames.len()))
        .bench_local(|| {
            let mut hits = 0usize;
            for f in &frames {
                if program.matches(f).unwrap_or(false) {
                    hits += 1;
                }
            }
            divan::black_box(hits)
        });
}

#[divan::bench(sample_count = 10)]
fn service_state_not_ok(bencher: Bencher) {
    run(bencher, "service.state != 0");
}

#[divan::bench(sample_count = 10)]
fn host_glob_and_os(bencher: Bencher) {
    run(
        bencher,
        r#"match("web*", host.name) && host.vars.os == "Linux""#,
    );
}

fn main() {
    divan::main();
}
