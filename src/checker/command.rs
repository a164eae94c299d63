//! Command lines from CheckCommand definitions: `command`, `arguments` (value, set_if,
//! repeat_key, skip_key, order, required, key) and `env`, with `$macro$` resolution
//! (Icinga's `MacroProcessor` and `PluginUtility`).

use filters::{Dict, Value};

use crate::objects::Lookup;
use crate::state::{CheckableState, StateType, HARD};

/// Where macros are looked up, innermost first: the service, its host, the command.
pub struct Macros<'a> {
    pub service: Option<&'a dyn Lookup>,
    pub host: &'a dyn Lookup,
    pub command: &'a dyn Lookup,
    /// The host's name (full) and the service's short name.
    pub host_name: &'a str,
    pub service_name: Option<&'a str>,
    /// The runtime states `$host.state$`, `$service.output$` and the other runtime macros
    /// read (none: those macros are missing).
    pub host_state: Option<&'a CheckableState>,
    pub service_state: Option<&'a CheckableState>,
    /// When the command runs (`duration_sec`).
    pub now: f64,
    /// Looked up first by full path: `notification.*`, `user.*`.
    pub extra: Option<&'a Dict>,
}

/// A host's (`Up`, `Down`) or a service's state name, as notifications print it.
pub fn state_name(is_host: bool, state: u8) -> &'static str {
    match (is_host, state) {
        (true, 0) => "Up",
        (true, _) => "Down",
        (false, 0) => "OK",
        (false, 1) => "Warning",
        (false, 2) => "Critical",
        (false, _) => "Unknown",
    }
}

/// One of Icinga's runtime macros of a host or service (`state`, `state_id`,
/// `state_type`, `last_state…`, `downtime_depth`, `duration_sec`, and of the last check
/// result `output`, `perfdata`, `latency`, `execution_time`, `check_source`,
/// `scheduling_source`), or one of its state attributes (`check_attempt`, `last_check`,
/// `acknowledgement`, …).
pub fn runtime_macro(is_host: bool, st: &CheckableState, name: &str, now: f64) -> Option<Value> {
    let state_type = |t: StateType| Value::from(if t == HARD { "HARD" } else { "SOFT" });
    let state = |s: u8| Value::from(state_name(is_host, s).to_uppercase());
    let n = |x: f64| Some(Value::Number(x));
    let cr = st.last_check_result.as_deref();
    match name {
        "state" => Some(state(st.state)),
        "state_id" => n(f64::from(st.state)),
        "state_type" => Some(state_type(st.state_type)),
        "last_state" => Some(state(st.last_state)),
        "last_state_id" => n(f64::from(st.last_state)),
        "last_state_type" => Some(state_type(st.last_state_type)),
        "last_state_change" => n(st.last_state_change.trunc()),
        "last_hard_state" => n(f64::from(st.last_hard_state)),
        "last_hard_state_change" => n(st.last_hard_state_change),
        "downtime_depth" => n(f64::from(st.downtime_depth)),
        "duration_sec" => n(now - st.last_state_change),
        "check_attempt" => n(f64::from(st.check_attempt)),
        "acknowledgement" => n(f64::from(st.acknowledgement)),
        "flapping" => Some(Value::Bool(st.flapping)),
        "last_reachable" => Some(Value::Bool(st.last_reachable)),
        "next_check" => n(st.next_check),
        "last_check" => n(cr.map_or(0.0, |r| r.schedule_end)),
        "output" => cr.map(|r| Value::from(r.output.as_str())),
        "perfdata" => cr.map(|r| {
            let parts: Vec<String> = r
                .performance_data
                .iter()
                .map(|p| match p {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            Value::from(parts.join(" "))
        }),
        "execution_time" => cr.map(|r| Value::Number(r.execution_end - r.execution_start)),
        "latency" => cr.map(|r| {
            let execution = r.execution_end - r.execution_start;
            Value::Number(((r.schedule_end - r.schedule_start) - execution).max(0.0))
        }),
        "check_source" => cr.map(|r| Value::String(r.check_source.clone())),
        "scheduling_source" => cr.map(|r| Value::String(r.scheduling_source.clone())),
        _ => None,
    }
}

fn vars(d: &dyn Lookup) -> Option<&Dict> {
    match d.lookup("vars") {
        Some(Value::Dict(v)) => Some(v),
        _ => None,
    }
}

fn path<'v>(mut v: &'v Value, parts: &[&str]) -> Option<&'v Value> {
    for p in parts {
        v = match v {
            Value::Dict(d) => d.get(*p)?,
            _ => return None,
        };
    }
    Some(v)
}

impl Macros<'_> {
    /// The value of one macro name (`address`, `host.vars.os`, `service.name`, …).
    pub fn lookup(&self, name: &str) -> Option<Value> {
        let parts: Vec<&str> = name.split('.').collect();
        if let Some(v) = self
            .extra
            .and_then(|e| e.get(parts[0]))
            .and_then(|v| path(v, &parts[1..]))
        {
            return Some(v.clone());
        }
        let object_field = |d: &dyn Lookup, rest: &[&str]| -> Option<Value> {
            let (first, tail) = rest.split_first()?;
            path(d.lookup(first)?, tail).cloned()
        };
        let runtime = |is_host: bool, st: Option<&CheckableState>| match parts[1..] {
            [field] => st.and_then(|st| runtime_macro(is_host, st, field, self.now)),
            _ => None,
        };
        match parts[0] {
            "host" if parts.len() > 1 => {
                if parts[1..] == ["name"] {
                    return Some(Value::from(self.host_name));
                }
                return runtime(true, self.host_state)
                    .or_else(|| object_field(self.host, &parts[1..]));
            }
            "service" if parts.len() > 1 => {
                if parts[1..] == ["name"] {
                    return self.service_name.map(Value::from);
                }
                return runtime(false, self.service_state)
                    .or_else(|| object_field(self.service?, &parts[1..]));
            }
            "command" if parts.len() > 1 => return object_field(self.command, &parts[1..]),
            _ => {}
        }
        // Unprefixed: custom variables of the service, the host, the command; then the
        // host's own attributes (`$address$`).
        for d in [self.service, Some(self.host), Some(self.command)]
            .into_iter()
            .flatten()
        {
            if let Some(v) = vars(d).and_then(|v| v.get(parts[0])) {
                return path(v, &parts[1..]).cloned();
            }
        }
        match name {
            "check_address" => {
                let a = self.host.lookup("address").filter(|v| !v.is_empty());
                a.or_else(|| self.host.lookup("address6")).cloned()
            }
            "host_name" | "hostname" => Some(Value::from(self.host_name)),
            "service_name" | "servicedesc" => self.service_name.map(Value::from),
            _ => self.host.lookup(name).cloned(),
        }
    }

    /// Resolves a value: a string that is exactly one macro keeps the macro's type
    /// (arrays for `repeat_key`); other strings are interpolated (`$$` is a literal `$`);
    /// arrays resolve element by element. Missing macros become empty and are reported in
    /// `missing`.
    pub fn resolve(&self, v: &Value, missing: &mut Vec<String>) -> Value {
        match v {
            Value::String(s) => {
                if s.len() > 2
                    && s.starts_with('$')
                    && s.ends_with('$')
                    && s[1..s.len() - 1].chars().all(|c| c != '$')
                {
                    let name = &s[1..s.len() - 1];
                    return match self.lookup(name) {
                        Some(v) => match v {
                            Value::String(_) => self.resolve(&v, missing),
                            other => other,
                        },
                        None => {
                            missing.push(name.to_string());
                            Value::from("")
                        }
                    };
                }
                Value::from(self.interpolate(s, missing))
            }
            Value::Array(a) => Value::from(
                a.iter()
                    .map(|x| self.resolve(x, missing))
                    .collect::<Vec<_>>(),
            ),
            other => other.clone(),
        }
    }

    fn interpolate(&self, s: &str, missing: &mut Vec<String>) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find('$') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('$') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = &after[..end];
            if name.is_empty() {
                out.push('$');
            } else {
                match self.lookup(name) {
                    Some(Value::Array(a)) => {
                        let parts: Vec<String> = a.iter().map(|x| x.to_display_string()).collect();
                        out.push_str(&parts.join(","));
                    }
                    Some(v) if !matches!(v, Value::Null) => {
                        out.push_str(&v.to_display_string());
                    }
                    _ => missing.push(name.to_string()),
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Program {
    /// argv; a string `command` runs through `/bin/sh -c`.
    Exec {
        argv: Vec<String>,
        env: Vec<(String, String)>,
    },
    /// A built-in check (`execute = DummyCheck`, …).
    Builtin(String),
}

/// Builds the command line of a CheckCommand.
///
/// # Errors
/// A required argument whose value is missing, or a command without `command`.
pub fn build<C: Lookup + ?Sized>(command: &C, macros: &Macros<'_>) -> Result<Program, String> {
    if let Some(Value::String(exec)) = command.lookup("execute") {
        if command.lookup("command").is_none() && &**exec != "PluginCheck" {
            return Ok(Program::Builtin(exec.to_string()));
        }
    }
    let mut missing = Vec::new();
    let mut argv: Vec<String> = match command.lookup("command") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| macros.resolve(v, &mut missing).to_display_string())
            .collect(),
        Some(Value::String(s)) => vec![
            "/bin/sh".into(),
            "-c".into(),
            macros
                .resolve(&Value::String(s.clone()), &mut missing)
                .to_display_string(),
        ],
        _ => return Err("Check command has no 'command'.".into()),
    };
    let mut args: Vec<(f64, String, Vec<String>)> = Vec::new();
    if let Some(Value::Dict(arguments)) = command.lookup("arguments") {
        for (key, spec) in arguments.iter() {
            let spec = match spec {
                Value::Dict(d) => (**d).clone(),
                other => Dict::from([("value".into(), other.clone())]),
            };
            let order = spec
                .get("order")
                .and_then(|v| v.to_number().ok())
                .unwrap_or(0.0);
            let key_text = match spec.get("key") {
                Some(Value::String(k)) => k.to_string(),
                _ => key.to_string(),
            };
            if let Some(cond) = spec.get("set_if") {
                let mut m = Vec::new();
                let v = macros.resolve(cond, &mut m);
                let on = match &v {
                    Value::String(s) => !matches!(s.trim(), "" | "0" | "false"),
                    other => other.to_bool(),
                };
                if !on {
                    continue;
                }
            }
            let skip_key = spec.get("skip_key").is_some_and(|v| v.to_bool());
            let repeat_key = spec.get("repeat_key").is_none_or(|v| v.to_bool());
            let words = match spec.get("value") {
                None => vec![key_text.clone()],
                Some(raw) => {
                    let mut m = Vec::new();
                    let v = macros.resolve(raw, &mut m);
                    let empty = match &v {
                        Value::Null => true,
                        Value::String(s) => s.is_empty(),
                        Value::Array(a) => a.is_empty(),
                        _ => false,
                    };
                    if empty {
                        if spec.get("required").is_some_and(|r| r.to_bool()) {
                            return Err(format!(
                                "Non-optional macro '{}' used in argument '{key}' is missing.",
                                m.first().cloned().unwrap_or_else(|| key.to_string())
                            ));
                        }
                        continue;
                    }
                    let values: Vec<String> = match &v {
                        Value::Array(a) => a.iter().map(|x| x.to_display_string()).collect(),
                        Value::Bool(true) => Vec::new(),
                        Value::Bool(false) => continue,
                        other => vec![other.to_display_string()],
                    };
                    let mut words = Vec::new();
                    if values.is_empty() {
                        words.push(key_text.clone());
                    } else if skip_key {
                        words.extend(values);
                    } else if repeat_key {
                        for v in values {
                            words.push(key_text.clone());
                            words.push(v);
                        }
                    } else {
                        words.push(key_text.clone());
                        words.extend(values);
                    }
                    words
                }
            };
            args.push((order, key.to_string(), words));
        }
    }
    args.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    if argv.first().is_some_and(|a| a == "/bin/sh") {
        // A shell command line: arguments are appended to the script, quoted.
        if let Some(script) = argv.last_mut() {
            for (_, _, words) in args {
                for w in words {
                    script.push(' ');
                    script.push_str(&shell_quote(&w));
                }
            }
        }
    } else {
        for (_, _, words) in args {
            argv.extend(words);
        }
    }
    let mut env = Vec::new();
    if let Some(Value::Dict(e)) = command.lookup("env") {
        for (k, v) in e.iter() {
            let mut m = Vec::new();
            env.push((k.to_string(), macros.resolve(v, &mut m).to_display_string()));
        }
    }
    Ok(Program::Exec { argv, env })
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::{anyhow, Context, Result};

    fn items(src: &str) -> Result<Vec<filters::config::Item>> {
        let loader = filters::config::Loader::new();
        crate::config::define_constants(&loader, "node");
        loader.define("PluginDir", Value::from("/p"));
        loader
            .load("methods", include_str!("../config/methods.conf"))
            .map_err(|e| anyhow!(e.render()))?;
        loader
            .load("itl", include_str!("../config/itl.conf"))
            .map_err(|e| anyhow!(e.render()))?;
        loader
            .load("t.conf", src)
            .map_err(|e| anyhow!(e.render()))?;
        let (items, _) = loader
            .commit()
            .map_err(|e| anyhow!("{} configuration errors", e.len()))?;
        Ok(items)
    }

    fn find<'a>(
        items: &'a [filters::config::Item],
        t: &str,
        n: &str,
    ) -> Result<&'a filters::Attrs> {
        items
            .iter()
            .find(|i| &*i.type_name == t && &*i.name == n && !i.template)
            .map(|i| &i.attrs)
            .with_context(|| format!("no {t} '{n}'"))
    }

    /// The program for `command` (the outer error: the test configuration is wrong).
    fn argv(
        src: &str,
        command: &str,
        host: &str,
        service: Option<&str>,
    ) -> Result<Result<Program, String>> {
        let items = items(src)?;
        let h = find(&items, "Host", host)?;
        let s = service.map(|s| find(&items, "Service", s)).transpose()?;
        let c = find(&items, "CheckCommand", command)?;
        Ok(build(
            c,
            &Macros {
                service: s.map(|s| s as &dyn Lookup),
                host: h,
                command: c,
                host_name: host,
                service_name: service.and_then(|s| s.split('!').nth(1)),
                host_state: None,
                service_state: None,
                now: 0.0,
                extra: None,
            },
        ))
    }

    #[test]
    fn itl_commands_build_as_icinga_builds_them() -> Result<()> {
        let src = r#"
object Host "h" { check_command = "dummy"; address = "192.0.2.1"; vars.disks = [ "/", "/var" ] }
object Service "disk" { host_name = "h"; check_command = "disk"; vars.disk_partitions = host.vars.disks; vars.disk_exclude_type = [] }
object Service "ping" { host_name = "h"; check_command = "ping4"; vars.ping_wrta = 50 }
"#;
        // `host.vars.disks` is not in scope in a plain object; use a literal instead.
        let src = src.replace("host.vars.disks", "[ \"/\", \"/var\" ]");
        let p = argv(&src, "disk", "h", Some("h!disk"))?;
        assert_eq!(
            p,
            Ok(Program::Exec {
                argv: [
                    "/p/check_disk",
                    "-c",
                    "10%",
                    "-w",
                    "20%",
                    "-m",
                    "-p",
                    "/",
                    "-p",
                    "/var"
                ]
                .map(String::from)
                .to_vec(),
                env: vec![]
            })
        );
        let Ok(Program::Exec { argv: a, .. }) = argv(&src, "ping4", "h", Some("h!ping"))? else {
            panic!("ping4 runs a plugin")
        };
        assert_eq!(
            a,
            [
                "/p/check_ping",
                "-4",
                "-H",
                "192.0.2.1",
                "-c",
                "200,15%",
                "-w",
                "50,5%"
            ]
        );
        Ok(())
    }

    #[test]
    fn builtins_and_required_arguments() -> Result<()> {
        let src = r#"
object Host "h" { check_command = "dummy" }
object CheckCommand "needs" { command = [ "/bin/x" ]; arguments = { "-a" = { value = "$nothing$"; required = true } } }
"#;
        assert_eq!(
            argv(src, "dummy", "h", None)?,
            Ok(Program::Builtin("DummyCheck".into()))
        );
        assert_eq!(
            argv(src, "needs", "h", None)?,
            Err("Non-optional macro 'nothing' used in argument '-a' is missing.".to_string())
        );
        Ok(())
    }
}
