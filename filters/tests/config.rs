//! The configuration language: objects, templates, imports, apply rules and errors.

use filters::config::{Item, Loader};
use filters::Value;

fn load(files: &[(&str, &str)]) -> Result<Vec<Item>, Vec<String>> {
    let loader = Loader::new();
    loader.define("PluginDir", Value::from("/usr/lib/nagios/plugins"));
    for (path, src) in files {
        loader.load(path, src).map_err(|e| vec![e.render()])?;
    }
    loader
        .commit()
        .map(|(items, _)| items)
        .map_err(|errs| errs.iter().map(|e| e.render()).collect())
}

fn find<'a>(items: &'a [Item], type_name: &str, name: &str) -> &'a Item {
    items
        .iter()
        .find(|i| &*i.type_name == type_name && &*i.name == name && !i.template)
        .unwrap_or_else(|| panic!("no {type_name} {name}"))
}

fn attr(item: &Item, path: &str) -> String {
    let mut v = Value::from(item.attrs.to_dict());
    for part in path.split('.') {
        v = match v {
            Value::Dict(d) => d.get(part).cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        };
    }
    v.to_json()
}

/// Templates may be declared after the objects importing them, in another file; bare
/// names in bodies are fields; `vars.x =` builds a dictionary; `templates` lists the
/// object's own name, then the imports.
#[test]
fn objects_templates_and_imports() {
    let items = load(&[
        (
            "hosts.conf",
            r#"
object Host "web1" {
  import "generic-host"
  address = "10.0.0.1"
  vars.os = "Linux"
  vars.disks["/"] = { warn = "10%" }
  vars += { team = "web" }
}
"#,
        ),
        (
            "templates.conf",
            r#"
const Interval = 2m
template Host "generic-host" {
  check_command = "hostalive"
  check_interval = Interval
  vars.os = "unknown"
}
"#,
        ),
    ])
    .unwrap();
    let web1 = find(&items, "Host", "web1");
    assert_eq!(attr(web1, "address"), r#""10.0.0.1""#);
    assert_eq!(attr(web1, "check_command"), r#""hostalive""#);
    assert_eq!(attr(web1, "check_interval"), "120");
    assert_eq!(attr(web1, "vars.os"), r#""Linux""#);
    assert_eq!(attr(web1, "vars.team"), r#""web""#);
    assert_eq!(attr(web1, "vars.disks"), r#"{"/":{"warn":"10%"}}"#);
    assert_eq!(attr(web1, "templates"), r#"["web1","generic-host"]"#);
    assert_eq!(web1.location.path.as_ref(), "hosts.conf");
    assert_eq!(web1.location.first_line, 2);
    assert!(items
        .iter()
        .any(|i| i.template && &*i.name == "generic-host"));
}

/// `apply Service … assign where` creates one service per matching host, named
/// `host!service`, with `host` in scope; `ignore where` wins; `apply for` iterates.
#[test]
fn apply_rules() {
    let items = load(&[(
        "a.conf",
        r#"
object Host "a" { check_command = "dummy"; vars.os = "Linux"; vars.disks = { "/" = {}, "/var" = {} } }
object Host "b" { check_command = "dummy"; vars.os = "Windows" }
object Host "c" { check_command = "dummy"; vars.os = "Linux"; vars.noping = true }
apply Service "ping" {
  check_command = "ping4"
  vars.target = host.name
  assign where host.vars.os == "Linux"
  ignore where host.vars.noping
}
apply Service "disk " for (mount => cfg in host.vars.disks) {
  check_command = "disk"
  vars.disk_partition = mount
}
"#,
    )])
    .unwrap();
    let names: Vec<&str> = items
        .iter()
        .filter(|i| &*i.type_name == "Service")
        .map(|i| &*i.name)
        .collect();
    assert_eq!(names, ["a!ping", "a!disk /", "a!disk /var"]);
    let ping = find(&items, "Service", "a!ping");
    assert_eq!(attr(ping, "host_name"), r#""a""#);
    assert_eq!(attr(ping, "name"), r#""ping""#);
    assert_eq!(attr(ping, "vars.target"), r#""a""#);
    assert_eq!(
        attr(
            find(&items, "Service", "a!disk /var"),
            "vars.disk_partition"
        ),
        r#""/var""#
    );
}

/// Errors name the file and line and show a caret, also inside an imported template from
/// another file; every failing object is reported.
#[test]
fn errors_point_at_their_file() {
    let errs = load(&[
        ("one.conf", "object Host \"x\" {\n  import \"t\"\n}\n"),
        ("two.conf", "\ntemplate Host \"t\" {\n  vars.x = nope\n}\n"),
    ])
    .unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("two.conf:3:12") && errs[0].contains("undefined script variable 'nope'"),
        "{}",
        errs[0]
    );
    assert!(errs[0].contains('^'), "{}", errs[0]);

    let errs = load(&[("s.conf", "object Host \"x\" {\n  address = \n}\n")]).unwrap_err();
    assert!(
        errs[0].starts_with("s.conf:2:13: syntax error"),
        "{}",
        errs[0]
    );

    let errs = load(&[(
        "d.conf",
        "object Host \"x\" { }\nobject Host \"x\" { }\nobject Host \"y\" { import \"missing\" }\n",
    )])
    .unwrap_err();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].contains("re-defined: d.conf:1"), "{}", errs[0]);
    assert!(
        errs[1].contains("unknown template: 'missing'"),
        "{}",
        errs[1]
    );
}

/// Configuration keywords stay refused in filters.
#[test]
fn filters_refuse_configuration_statements() {
    assert!(filters::Program::compile("object Host \"x\" { }").is_err());
    assert!(filters::Program::compile("import \"x\"").is_err());
}

/// Debian's Icinga 2 ships its template library as configuration: when it is installed,
/// every file of it loads and commits.
#[test]
fn icinga_template_library_loads() {
    let dir = std::path::Path::new("/usr/share/icinga2/include");
    if !dir.exists() {
        eprintln!("icinga2-common is not installed; skipping");
        return;
    }
    let loader = Loader::new();
    for c in [
        "PluginDir",
        "PluginContribDir",
        "ManubulonPluginDir",
        "NscpPath",
    ] {
        loader.define(c, Value::from("/usr/lib/nagios/plugins"));
    }
    for f in [
        "command-plugins.conf",
        "command-plugins-manubulon.conf",
        "command-plugins-windows.conf",
    ] {
        let path = dir.join(f);
        let src = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = loader.load(f, &src) {
            panic!("{}", e.render());
        }
    }
    let (items, _) = loader.commit().unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter().map(|e| e.render()).collect::<Vec<_>>().join("\n")
        )
    });
    let ping4 = find(&items, "CheckCommand", "ping4");
    assert_eq!(attr(ping4, "vars.ping_address"), r#""$address$""#);
    assert!(
        attr(ping4, "command").ends_with(r#""-4"]"#),
        "{}",
        attr(ping4, "command")
    );
    assert!(items.len() > 50, "{}", items.len());
}

/// Objects created later (through the API) are built from the same templates and apply
/// rules as configured ones: imports, `vars.x` paths, and services for a new host.
#[test]
fn library_builds_runtime_objects() {
    let loader = Loader::new();
    loader
        .load(
            "t.conf",
            r#"
template Host "generic-host" { check_command = "hostalive"; vars.os = "unknown"; max_check_attempts = 3 }
apply Service "ping" { check_command = "ping4"; assign where host.vars.os == "Linux" }
"#,
        )
        .unwrap();
    let (items, lib) = loader.commit().unwrap();
    assert_eq!(items.len(), 1, "only the template");
    let loc = filters::config::Location {
        path: "_api/hosts/web9.conf".into(),
        first_line: 1,
        first_column: 1,
        last_line: 1,
        last_column: 1,
    };
    let host = lib
        .instantiate(
            "Host",
            "web9",
            &["generic-host".to_string()],
            &[
                (vec!["address".into()], Value::from("10.0.0.9")),
                (vec!["vars".into(), "os".into()], Value::from("Linux")),
            ],
            loc.clone(),
        )
        .unwrap();
    assert_eq!(attr(&host, "check_command"), r#""hostalive""#);
    assert_eq!(attr(&host, "vars.os"), r#""Linux""#);
    assert_eq!(attr(&host, "templates"), r#"["web9","generic-host"]"#);
    let (services, errors) = lib.apply_to(&host, None);
    assert!(errors.is_empty());
    assert_eq!(services.len(), 1);
    assert_eq!(&*services[0].0.name, "web9!ping");

    let err = lib
        .instantiate("Host", "x", &["nope".to_string()], &[], loc)
        .unwrap_err();
    assert!(
        err.error.message.contains("unknown template: 'nope'"),
        "{err}"
    );
}

/// `include <name>` takes library names with dashes and dots, written without spaces;
/// the resolver gets them as they are.
#[test]
fn library_includes_take_names_with_dashes() {
    let mut loader = Loader::new();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let record = seen.clone();
    loader.set_resolver(move |_, inc| {
        record.borrow_mut().push((inc.path.to_string(), inc.system));
        Ok(Vec::new())
    });
    loader
        .load(
            "a.conf",
            "include <itl>\ninclude <plugins-contrib>\ninclude <windows-plugins>\ninclude <a.b>\n",
        )
        .map_err(|e| e.render())
        .unwrap();
    assert_eq!(
        *seen.borrow(),
        [
            ("itl".to_string(), true),
            ("plugins-contrib".to_string(), true),
            ("windows-plugins".to_string(), true),
            ("a.b".to_string(), true)
        ]
    );
    let err = loader
        .load("b.conf", "include <plugins - contrib>\n")
        .unwrap_err();
    assert!(err.render().contains("syntax error"), "{}", err.render());
}

/// A predefined constant may be set once by `const` (as `constants.conf` sets
/// `NodeName`); a constant the configuration defined may not be defined again.
#[test]
fn predefined_constants_are_set_once() {
    let loader = Loader::new();
    loader.define("NodeName", Value::from("host"));
    loader
        .load("c.conf", "const NodeName = \"n1\"\nconst Mine = 1\n")
        .map_err(|e| e.render())
        .unwrap();
    assert_eq!(
        loader
            .constants()
            .get("NodeName")
            .map(Value::to_display_string),
        Some("n1".to_string())
    );
    for again in ["const NodeName = \"n2\"", "const Mine = 2"] {
        let err = loader.load("d.conf", again).unwrap_err().render();
        assert!(err.contains("is already defined"), "{err}");
    }
}

/// `globals.x = …` defines a variable later configuration reads by name; it may be set
/// again, a `const` may not be overwritten that way.
#[test]
fn globals_assignment_defines_variables() {
    let items = load(&[(
        "g.conf",
        r#"
if (!globals.contains("LibPath")) { globals.LibPath = "/opt/lib" }
globals.LibPath = LibPath + "/x"
object CheckCommand "c" { command = [ LibPath + "/check" ] }
"#,
    )])
    .unwrap();
    assert_eq!(
        attr(find(&items, "CheckCommand", "c"), "command"),
        r#"["/opt/lib/x/check"]"#
    );
    let err = load(&[("h.conf", "const Mine = 1\nglobals.Mine = 2\n")]).unwrap_err();
    assert!(err[0].contains("is already defined"), "{err:?}");
}

/// A backslash before a line break inside a string keeps the line break (Icinga's
/// template library writes long descriptions that way); other unknown escapes fail.
#[test]
fn backslash_newline_in_strings() {
    let items = load(&[(
        "s.conf",
        "object CheckCommand \"c\" { vars.d = \"one \\\ntwo\" }\n",
    )])
    .unwrap();
    assert_eq!(
        attr(find(&items, "CheckCommand", "c"), "vars.d"),
        r#""one \ntwo""#
    );
    let err = load(&[("t.conf", "object CheckCommand \"c\" { vars.d = \"\\q\" }\n")]).unwrap_err();
    assert!(err[0].contains("Bad escape sequence found"), "{err:?}");
}

/// Objects and templates of a defaults library give way to later definitions of the
/// same type and name; anywhere else a second definition is an error.
#[test]
fn defaults_give_way_to_later_definitions() {
    let loader = Loader::new();
    loader
        .load_defaults(
            "<defaults>",
            r#"
template CheckCommand "base" { vars.from = "defaults" }
object CheckCommand "dummy" { import "base"; vars.text = "built in" }
object CheckCommand "only-here" { import "base" }
"#,
        )
        .map_err(|e| e.render())
        .unwrap();
    loader
        .load(
            "lib.conf",
            r#"
template CheckCommand "base" { vars.from = "library" }
object CheckCommand "dummy" { import "base"; vars.text = "real" }
"#,
        )
        .map_err(|e| e.render())
        .unwrap();
    let (items, _) = loader
        .commit()
        .map_err(|e| e.iter().map(|e| e.render()).collect::<Vec<_>>())
        .unwrap();
    let dummies: Vec<_> = items
        .iter()
        .filter(|i| &*i.name == "dummy" && !i.template)
        .collect();
    assert_eq!(dummies.len(), 1);
    assert_eq!(attr(dummies[0], "vars.text"), r#""real""#);
    assert_eq!(attr(dummies[0], "vars.from"), r#""library""#);
    assert_eq!(
        attr(find(&items, "CheckCommand", "only-here"), "vars.from"),
        r#""library""#
    );
    let err = load(&[
        ("a.conf", "object CheckCommand \"x\" { }"),
        ("b.conf", "object CheckCommand \"x\" { }"),
    ])
    .unwrap_err();
    assert!(err[0].contains("re-defined"), "{err:?}");
}

/// Group objects take members by rule: `assign where` adds the group to every matching
/// host (service, user), `ignore where` keeps one out, groups set on the member stay.
#[test]
fn group_objects_assign_members() {
    let items = load(&[(
        "groups.conf",
        r#"
object HostGroup "linux" { display_name = "Linux"; assign where host.vars.os == "Linux"; ignore where host.name == "skip" }
object ServiceGroup "pings" { assign where match("ping*", service.check_command) && host.vars.os == "Linux" }
object UserGroup "ops" { assign where user.vars.team == "ops" }
object Host "l1" { vars.os = "Linux"; groups = [ "other" ] }
object Host "skip" { vars.os = "Linux" }
object Host "w1" { vars.os = "Windows" }
object Service "p" { host_name = "l1"; check_command = "ping4" }
object Service "p" { host_name = "w1"; check_command = "ping4" }
object User "u" { vars.team = "ops" }
"#,
    )])
    .unwrap();
    let groups = |t: &str, n: &str| attr(find(&items, t, n), "groups");
    assert_eq!(groups("Host", "l1"), r#"["other","linux"]"#);
    assert_eq!(groups("Host", "skip"), "null");
    assert_eq!(groups("Host", "w1"), "null");
    assert_eq!(groups("Service", "l1!p"), r#"["pings"]"#);
    assert_eq!(groups("Service", "w1!p"), "null");
    assert_eq!(groups("User", "u"), r#"["ops"]"#);
    assert_eq!(
        attr(find(&items, "HostGroup", "linux"), "display_name"),
        r#""Linux""#
    );
    // Elsewhere a rule is still an error.
    let err = load(&[("h.conf", "object Host \"h\" { assign where true }")]).unwrap_err();
    assert!(err[0].contains("only allowed in apply rules"), "{err:?}");
}

/// Memberships keep Icinga 2.13.6's order (checked on the API of a real Icinga with this
/// configuration): configured groups, then rule groups by name whatever the declaration
/// order, then the groups a group belongs to.
#[test]
fn group_memberships_keep_icinga_order() {
    let items = load(&[(
        "groups.conf",
        r#"
object HostGroup "zz" { assign where host.vars.g }
object HostGroup "aa" { assign where host.vars.g }
object HostGroup "parent" { }
object HostGroup "mid" { groups = [ "parent" ]; assign where host.vars.g == 2 }
object Host "g1" { vars.g = 1; groups = [ "web" ] }
object Host "g2" { vars.g = 2 }
object Host "g3" { groups = [ "mid" ] }
object Host "g4" { }
object HostGroup "web" { }
"#,
    )])
    .unwrap();
    let groups = |n: &str| attr(find(&items, "Host", n), "groups");
    assert_eq!(groups("g1"), r#"["web","aa","zz"]"#);
    assert_eq!(groups("g2"), r#"["aa","mid","zz","parent"]"#);
    assert_eq!(groups("g3"), r#"["mid","parent"]"#);
    assert_eq!(groups("g4"), "null");
}

/// `current_filename` and `current_line` name where they are written, in every file.
#[test]
fn current_filename_and_line() {
    let items = load(&[
        ("/etc/x/a.conf", "const Dir = dirname(current_filename)\n"),
        (
            "/etc/x/zones.d/b.conf",
            "\n\nobject Host \"h\" {\n  vars.file = current_filename\n  vars.line = current_line\n  vars.dir = Dir\n}\n",
        ),
    ])
    .unwrap();
    let h = find(&items, "Host", "h");
    assert_eq!(attr(h, "vars.file"), r#""/etc/x/zones.d/b.conf""#);
    assert_eq!(attr(h, "vars.line"), "5");
    assert_eq!(attr(h, "vars.dir"), r#""/etc/x""#);
}

/// Objects built from configuration name their attributes with the interned names (one
/// allocation per name, whichever file or rule set it), nested dictionaries too, and the
/// objects of one declaration share its location.
#[test]
fn built_objects_share_names_and_locations() {
    let items = load(&[
        (
            "hosts.conf",
            r#"object Host "a" { check_command = "dummy"; vars.os = "Linux" }
object Host "b" { check_command = "dummy"; vars.os = "BSD" }"#,
        ),
        (
            "services.conf",
            r#"apply Service for (n in ["x", "y"]) { check_command = "dummy"; assign where true }"#,
        ),
    ])
    .unwrap();
    let key = |item: &Item, name: &str| -> std::sync::Arc<str> {
        item.attrs
            .keys()
            .find(|k| &***k == name)
            .unwrap_or_else(|| panic!("{} has no {name}", item.name))
            .clone()
    };
    let interned = filters::intern::intern_str("check_command");
    let (a, b) = (find(&items, "Host", "a"), find(&items, "Host", "b"));
    let (x, y) = (
        find(&items, "Service", "a!x"),
        find(&items, "Service", "b!y"),
    );
    for item in [a, b, x, y] {
        assert!(std::sync::Arc::ptr_eq(
            &key(item, "check_command"),
            &interned
        ));
        assert!(std::sync::Arc::ptr_eq(
            &key(item, "name"),
            &filters::intern::intern_str("name")
        ));
    }
    let os_key = |item: &Item| match item.attrs.get("vars") {
        Some(Value::Dict(vars)) => vars.keys().next().unwrap().clone(),
        other => panic!("vars: {other:?}"),
    };
    assert!(std::sync::Arc::ptr_eq(&os_key(a), &os_key(b)));
    assert!(std::sync::Arc::ptr_eq(&x.location, &y.location));
    assert_eq!(x.location.path.as_ref(), "services.conf");
    assert!(!std::sync::Arc::ptr_eq(&a.location, &b.location));
    assert_eq!((a.location.first_line, b.location.first_line), (1, 2));
}
