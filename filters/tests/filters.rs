//! Filters as the API runs them: sandboxed, against objects and `filter_vars`.

use std::sync::Arc;

use filters::{Dict, ErrorKind, Object, Program, Scope, Value};

/// A configuration object as the server would expose it.
#[derive(Debug)]
struct Checkable {
    type_name: &'static str,
    name: String,
    fields: Dict,
}

impl Object for Checkable {
    fn type_name(&self) -> &str {
        self.type_name
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn get_field(&self, field: &str) -> Option<Value> {
        self.fields.get(field).cloned()
    }
}

fn host(name: &str, os: &str, address: &str, groups: &[&str]) -> Value {
    let vars: Dict = [("os".into(), Value::from(os))].into();
    let fields: Dict = [
        ("name".into(), Value::from(name)),
        ("address".into(), Value::from(address)),
        ("state".into(), Value::from(0.0)),
        ("vars".into(), Value::from(vars)),
        (
            "groups".into(),
            Value::from(groups.iter().map(|g| Value::from(*g)).collect::<Vec<_>>()),
        ),
    ]
    .into();
    Value::Object(Arc::new(Checkable {
        type_name: "Host",
        name: name.into(),
        fields,
    }))
}

struct Frame {
    vars: Dict,
    hosts: Vec<Value>,
}

impl Scope for Frame {
    fn variable(&self, name: &str) -> Option<Value> {
        self.vars.get(name).cloned()
    }
    fn get_object(&self, type_name: &str, name: &str) -> Option<Value> {
        self.hosts
            .iter()
            .find(
                |h| matches!(h, Value::Object(o) if o.type_name() == type_name && o.name() == name),
            )
            .cloned()
    }
}

fn frame(host_value: Value, filter_vars: serde_json::Value) -> Frame {
    let mut vars: Dict = [("host".into(), host_value)].into();
    if let Value::Dict(d) = Value::from_json(&filter_vars) {
        vars.extend(d.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Frame {
        vars,
        hosts: vec![host("db1", "Linux", "10.0.0.5", &[])],
    }
}

fn matches(filter: &str, scope: &Frame) -> bool {
    Program::compile(filter)
        .expect("compiles")
        .matches(scope)
        .expect("evaluates")
}

#[test]
fn host_filters_select_what_icinga_selects() {
    let web = frame(
        host("web01", "Linux", "192.168.1.10", &["linux-servers", "web"]),
        serde_json::json!({}),
    );
    let cases = [
        (r#"host.name == "web01""#, true),
        (r#"match("WEB*", host.name)"#, true),
        (
            r#"match("web*", host.name) && host.vars.os == "Linux""#,
            true,
        ),
        (r#"host.vars.os == "Windows""#, false),
        (r#""web" in host.groups"#, true),
        (r#""db" in host.groups"#, false),
        (r#"cidr_match("192.168.0.0/16", host.address)"#, true),
        (r#"regex("^web[0-9]+$", host.name)"#, true),
        ("host.state == 0", true),
        ("host.vars.missing", false),
        ("host.vars.missing.deeper == null", true),
        (r#"host.groups.contains("linux-servers")"#, true),
        (
            r#"len(host.groups) == 2 && host.groups.all(g => len(g) > 2)"#,
            true,
        ),
        (r#"get_object("Host", "db1").address == "10.0.0.5""#, true),
        (r#"get_object(Host, "nope") == null"#, true),
        (r#"typeof(host) == Host"#, true),
    ];
    for (filter, want) in cases {
        assert_eq!(matches(filter, &web), want, "{filter}");
    }
}

#[test]
fn filter_vars_are_locals_with_json_types() {
    let scope = frame(
        host("web01", "Linux", "10.1.1.1", &["linux"]),
        serde_json::json!({"group": "linux", "limit": 2, "names": ["web01", "web02"]}),
    );
    assert!(matches("group in host.groups", &scope));
    assert!(matches("len(host.groups) < limit", &scope));
    assert!(matches("host.name in names", &scope));
}

#[test]
fn sandbox_refuses_side_effects_with_icinga_messages() {
    let scope = frame(
        host("web01", "Linux", "10.1.1.1", &[]),
        serde_json::json!({}),
    );
    for (filter, message) in [
        ("x = 1", "Assignments are not allowed in sandbox mode."),
        ("var x = 1", "Assignments are not allowed in sandbox mode."),
        (
            r#"get_host("web01")"#,
            "Function is not marked as safe for sandbox mode.",
        ),
        (
            "range(3)",
            "Function is not marked as safe for sandbox mode.",
        ),
        (
            r#"getenv("HOME")"#,
            "Function is not marked as safe for sandbox mode.",
        ),
        (
            "[1].add(2)",
            "Function is not marked as safe for sandbox mode.",
        ),
    ] {
        let err = Program::compile(filter)
            .expect("compiles")
            .evaluate(&scope)
            .expect_err(filter);
        assert_eq!(err.message, message, "{filter}");
        assert_eq!(err.kind, ErrorKind::Script, "{filter}");
    }
}

#[test]
fn errors_point_at_the_offending_code() {
    let scope = frame(
        host("web01", "Linux", "10.1.1.1", &[]),
        serde_json::json!({}),
    );
    let program =
        Program::compile(r#"host.name == "x" || hots.vars.os == "Linux""#).expect("compiles");
    let err = program.evaluate(&scope).expect_err("hots is undefined");
    assert_eq!(
        err.message,
        "Tried to access undefined script variable 'hots'"
    );
    let rendered = program.render_error(&err);
    assert_eq!(
        rendered,
        "<filter>:1:21: Error while evaluating expression: Tried to access undefined script variable 'hots'\n  |\n1 | host.name == \"x\" || hots.vars.os == \"Linux\"\n  |                     ^^^^"
    );
    let syntax = Program::compile("host.name ==").expect_err("incomplete");
    assert_eq!(syntax.span.line_col("host.name =="), (1, 13));
}

#[test]
fn unknown_object_fields_are_errors_and_null_propagates() {
    let scope = frame(
        host("web01", "Linux", "10.1.1.1", &[]),
        serde_json::json!({}),
    );
    let err = Program::compile("host.nosuchfield")
        .unwrap()
        .evaluate(&scope)
        .unwrap_err();
    assert_eq!(
        err.message,
        "Invalid field access (for value of type 'Host'): 'nosuchfield'"
    );
    assert_eq!(
        Program::compile("host.vars.a.b.c")
            .unwrap()
            .evaluate(&scope)
            .unwrap()
            .to_json(),
        "null"
    );
}

#[test]
fn a_compiled_filter_is_reusable_across_objects_and_threads() {
    let program = Arc::new(Program::compile(r#"match("web*", host.name)"#).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let program = program.clone();
            std::thread::spawn(move || {
                let name = if i % 2 == 0 {
                    format!("web{i}")
                } else {
                    format!("db{i}")
                };
                let scope = frame(host(&name, "Linux", "10.0.0.1", &[]), serde_json::json!({}));
                program.matches(&scope).unwrap()
            })
        })
        .collect();
    let results: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results, vec![true, false, true, false]);
}

#[test]
fn locals_shadow_scope_variables_read_by_reference() {
    let scope: Dict = [(
        "host".into(),
        Value::from(Dict::from([("name".into(), Value::from("a"))])),
    )]
    .into();
    let read = |src: &str| {
        Program::compile(src)
            .unwrap()
            .execute(&scope)
            .unwrap()
            .to_json()
    };
    assert_eq!(read("host.name"), "\"a\"");
    assert_eq!(read(r#"host = {name = "b"}; host.name"#), "\"b\"");
}

/// The address of an array local's elements after running `script` on it.
fn buffer_after(script: &str, a: Value) -> (*const Value, Value) {
    let mut locals = vec![("a".into(), a)];
    Program::compile(script)
        .unwrap()
        .execute_in(&filters::EmptyScope, &mut locals, false)
        .unwrap();
    let a = locals.pop().unwrap().1;
    match &a {
        Value::Array(v) => (v.as_ptr(), a.clone()),
        Value::Dict(_) => (std::ptr::null(), a.clone()),
        other => panic!("not a container: {other:?}"),
    }
}

#[test]
fn mutators_change_containers_in_place() {
    // Room for more elements: an in-place push keeps the buffer, a copy makes a new one.
    let mut v = Vec::with_capacity(64);
    v.push(Value::from(1.0));
    let before = v.as_ptr();
    let (after, a) = buffer_after(
        "a.add(2); a.set(0, 7); a.remove(1); a.add(3)",
        Value::from(v),
    );
    assert_eq!(after, before, "the array was copied");
    assert_eq!(a.to_json(), "[7,3]");

    // Nested places change in place too: `d.list.add(…)`.
    let mut v = Vec::with_capacity(64);
    v.push(Value::from(1.0));
    let before = v.as_ptr();
    let d: Dict = [("list".into(), Value::from(v))].into();
    let mut locals = vec![("d".into(), Value::from(d))];
    Program::compile("d.list.add(2); d.set(\"k\", 1)")
        .unwrap()
        .execute_in(&filters::EmptyScope, &mut locals, false)
        .unwrap();
    let Value::Dict(d) = &locals[0].1 else {
        panic!()
    };
    let Some(Value::Array(list)) = d.get("list") else {
        panic!()
    };
    assert_eq!(list.as_ptr(), before, "the nested array was copied");
    assert_eq!(locals[0].1.to_json(), r#"{"k":1,"list":[1,2]}"#);
}

#[test]
fn a_shared_container_is_copied_before_it_changes() {
    let a = Program::compile("var a = [1]; var b = a; b.add(2); [a, b]")
        .unwrap()
        .execute(&filters::EmptyScope)
        .unwrap();
    assert_eq!(a.to_json(), "[[1],[1,2]]");
}

#[test]
fn simple_programs_are_told_from_ones_that_may_take_long() {
    for simple in [
        r#"event.host == "h1" && event.check_result.state > 0"#,
        r#"match("web*", event.host) || "x" in event.vars.tags"#,
        r#"event.service ? event.service != "" : false"#,
    ] {
        assert!(Program::compile(simple).unwrap().is_simple(), "{simple}");
    }
    for heavy in [
        r#"len(get_objects(Service)) > 0"#,
        r#"regex("^(a+)+$", event.host)"#,
        r#"event.host.contains("x")"#,
        r#"var n = 0; for (i in range(10)) { n += i }; n > 3"#,
        r#"(x => x)(1)"#,
        r#"match(event.pattern, event.host)"#,
    ] {
        assert!(!Program::compile(heavy).unwrap().is_simple(), "{heavy}");
    }
}

/// An event as `/v1/events` filters see it: `event` and its alias `obj`.
struct EventFrame(Value);

impl Scope for EventFrame {
    fn variable(&self, name: &str) -> Option<Value> {
        matches!(name, "event" | "obj").then(|| self.0.clone())
    }
}

fn required_hosts(src: &str) -> Option<Vec<String>> {
    let program = Program::compile(src).expect("compiles");
    let mut hosts: Vec<String> = program
        .required_strings(&["event", "obj"], "host")?
        .iter()
        .map(|s| s.to_string())
        .collect();
    hosts.sort();
    Some(hosts)
}

#[test]
fn plain_host_terms_give_the_hosts_a_filter_can_match() {
    let some = |hs: &[&str]| Some(hs.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    assert_eq!(required_hosts(r#"event.host == "web1""#), some(&["web1"]));
    assert_eq!(required_hosts(r#""web1" == obj.host"#), some(&["web1"]));
    assert_eq!(
        required_hosts(r#"event.host in ["a", "b"] && event.service == "ping""#),
        some(&["a", "b"])
    );
    assert_eq!(
        required_hosts(r#"event.check_result.state > 0 && event.host == "a""#),
        some(&["a"])
    );
    assert_eq!(
        required_hosts(r#"event.host == "a" || (event.host == "b" && event.state == 2)"#),
        some(&["a", "b"])
    );
    // Nothing follows from these alone.
    for src in [
        r#"event.host == "a" || event.service == "ping""#,
        r#"event.host != "a""#,
        r#"!(event.host == "a")"#,
        r#"event.host == """#,
        r#"event.host in ["a", ""]"#,
        r#"match("web*", event.host)"#,
        r#"event.host == host_name"#,
        r#"event.service == "a""#,
        r#"get_object(Host, "a").name == event.host"#,
        r#"host.host == "a""#,
    ] {
        assert_eq!(required_hosts(src), None, "{src}");
    }
}

/// Whenever the set is given, the filter is false for an event of any other host (or of
/// none): skipping those events never changes what a subscriber gets.
#[test]
fn a_filter_with_required_hosts_never_matches_another_host() {
    let filters = [
        r#"event.host == "web1""#,
        r#"event.host in ["web1", "db1"] && event.state >= 0"#,
        r#"event.host == "web1" || event.host == "db1""#,
        r#"obj.host == "db1" && obj.service == "ping""#,
    ];
    let events: Vec<Value> = [
        serde_json::json!({"host": "web1", "service": "ping", "state": 0}),
        serde_json::json!({"host": "db1", "service": "ping", "state": 2}),
        serde_json::json!({"host": "web2", "service": "ping", "state": 1}),
        serde_json::json!({"host": "", "state": 1}),
        serde_json::json!({"object_name": "web1", "object_type": "Host"}),
        serde_json::json!({"host": 1, "service": "ping"}),
    ]
    .iter()
    .map(Value::from_json)
    .collect();
    let mut matched = 0;
    for src in filters {
        let program = Program::compile(src).expect("compiles");
        let hosts = program
            .required_strings(&["event", "obj"], "host")
            .expect("hosts follow");
        for e in &events {
            let host = match e {
                Value::Dict(d) => d.get("host").cloned().unwrap_or(Value::Null),
                _ => Value::Null,
            };
            let listed = hosts
                .iter()
                .any(|h| host.loose_eq(&Value::String(h.clone())));
            let keep = program.matches(&EventFrame(e.clone())).expect("evaluates");
            assert!(listed || !keep, "{src} kept an event of host {host:?}");
            matched += usize::from(keep);
        }
    }
    assert!(
        matched >= 4,
        "the filters match their own hosts ({matched})"
    );
}
