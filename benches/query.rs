//! Object queries over 1 000 hosts × 10 services: the selection (filter + permission
//! check) `/v1/objects/services?filter=…` runs, without HTTP.
//!
//! `cargo bench --bench query`

use std::sync::Arc;

use auspex::auth::Permissions;
use auspex::objects::{query, types, Registry};

fn main() {
    divan::main();
}

fn registry() -> &'static Arc<Registry> {
    static REG: std::sync::OnceLock<Arc<Registry>> = std::sync::OnceLock::new();
    REG.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut conf = String::new();
        for i in 0..1000 {
            conf.push_str(&format!(
                "object Host \"bench-host-{i}\" {{ check_command = \"dummy\"; address = \"10.0.{}.{}\"; vars.os = \"{}\"; vars.team = \"{}\" }}\n",
                i / 256,
                i % 256,
                if i % 2 == 0 { "Linux" } else { "Windows" },
                if i % 100 == 0 { "db" } else { "web" },
            ));
        }
        conf.push_str("apply Service for (n in range(10)) { check_command = \"dummy\"; vars.dummy_state = 0; assign where match(\"bench-host-*\", host.name) }\n");
        std::fs::write(dir.path().join("bench.conf"), conf).unwrap();
        let (items, _) = auspex::config::load(&auspex::config::Site {
            config_dir: dir.path().into(),
            data_dir: dir.path().join("data"),
            node_name: "bench".into(),
            api_port: None,
        })
        .unwrap();
        Arc::new(Registry::from_items(items).unwrap())
    })
}

fn run(filter: &str) -> usize {
    let reg = registry();
    let selection = query::Selection {
        filter: Some(filter.to_string()),
        ..query::Selection::default()
    };
    let perms = Permissions::all();
    let grant = perms.grant("objects/query/Service");
    let ti = types::by_name("Service").unwrap();
    let budget = filters::Budget::unlimited();
    query::select(reg, ti, &selection, &grant, &perms, &budget)
        .unwrap()
        .len()
}

#[divan::bench(sample_count = 30)]
fn service_only_filter() -> usize {
    run("service.vars.dummy_state == 2")
}

#[divan::bench(sample_count = 30)]
fn filter_with_host_join() -> usize {
    run(r#"match("bench-host-1*", host.name) && host.vars.os == "Linux""#)
}
