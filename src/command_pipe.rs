//! Icinga's external command pipe (`ExternalCommandListener`): a named pipe at
//! `command_path` that scripts write `[<timestamp>] <COMMAND>;<arg>;…` lines to. Each
//! command is the API action it always meant (`PROCESS_SERVICE_CHECK_RESULT` is
//! `process-check-result`, `ACKNOWLEDGE_HOST_PROBLEM` is `acknowledge-problem`, …), run
//! with every permission: the pipe's file mode (0660) decides who may write.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;

use serde_json::{json, Map, Value as Json};

use crate::actions::Action;
use crate::auth::ApiUser;
use crate::engine::Engine;
use crate::params::Params;

/// One command line as the action it stands for: (action name, parameters).
///
/// # Errors
/// A line that is not a command, or a command Auspex does not know, in Icinga's words.
pub fn translate(line: &str) -> Result<(Action, Params), String> {
    let line = line.trim();
    let rest = line
        .strip_prefix('[')
        .ok_or_else(|| format!("Missing timestamp in command: {line}"))?;
    let (ts, command) = rest
        .split_once(']')
        .ok_or_else(|| format!("Missing timestamp in command: {line}"))?;
    let ts: f64 = ts
        .trim()
        .parse()
        .map_err(|_| format!("Invalid timestamp in command: {line}"))?;
    let mut parts = command.trim_start().split(';');
    let name = parts.next().unwrap_or_default().to_uppercase();
    let args: Vec<&str> = parts.collect();
    let want = |n: usize| -> Result<(), String> {
        if args.len() < n {
            Err(format!(
                "Expected {n} arguments for command '{name}', got {}.",
                args.len()
            ))
        } else {
            Ok(())
        }
    };
    // The object a command names, and where its other arguments start.
    let (target, at) = if name.contains("_SVC_") || name.contains("_SERVICE_") {
        want(2)?;
        (
            json!({"type": "Service", "service": format!("{}!{}", args[0], args[1])}),
            2,
        )
    } else {
        want(1)?;
        (json!({"type": "Host", "host": args[0]}), 1)
    };
    let a = &args[at..];
    let flag = |s: &str| s.trim().parse::<i64>().unwrap_or(0) > 0;
    let num = |s: &str| s.trim().parse::<f64>().unwrap_or(0.0);
    let (action, extra) = match name.as_str() {
        "PROCESS_HOST_CHECK_RESULT" | "PROCESS_SERVICE_CHECK_RESULT" => {
            want(at + 2)?;
            let output = a[1..].join(";");
            let (text, perfdata) = crate::checker::output::parse_output(&output);
            let status = a[0].trim().parse::<i64>().unwrap_or(3);
            (
                Action::ProcessCheckResult,
                json!({
                    "exit_status": status,
                    "plugin_output": text,
                    "performance_data": perfdata,
                    "execution_end": ts,
                }),
            )
        }
        "SCHEDULE_HOST_CHECK"
        | "SCHEDULE_SVC_CHECK"
        | "SCHEDULE_FORCED_HOST_CHECK"
        | "SCHEDULE_FORCED_SVC_CHECK" => {
            want(at + 1)?;
            (
                Action::RescheduleCheck,
                json!({"next_check": num(a[0]), "force": name.contains("FORCED")}),
            )
        }
        "ACKNOWLEDGE_HOST_PROBLEM"
        | "ACKNOWLEDGE_SVC_PROBLEM"
        | "ACKNOWLEDGE_HOST_PROBLEM_EXPIRE"
        | "ACKNOWLEDGE_SVC_PROBLEM_EXPIRE" => {
            // The `_EXPIRE` forms take the expiry before the author.
            let expire = usize::from(name.ends_with("_EXPIRE"));
            want(at + 5 + expire)?;
            let mut p = json!({
                "sticky": a[0].trim() == "2",
                "notify": flag(a[1]),
                "persistent": flag(a[2]),
                "author": a[3 + expire],
                "comment": a[4 + expire..].join(";"),
            });
            if expire == 1 {
                p["expiry"] = json!(num(a[3]));
            }
            (Action::AcknowledgeProblem, p)
        }
        "REMOVE_HOST_ACKNOWLEDGEMENT" | "REMOVE_SVC_ACKNOWLEDGEMENT" => {
            (Action::RemoveAcknowledgement, json!({}))
        }
        "ADD_HOST_COMMENT" | "ADD_SVC_COMMENT" => {
            want(at + 3)?;
            (
                Action::AddComment,
                json!({"author": a[1], "comment": a[2..].join(";")}),
            )
        }
        "SCHEDULE_HOST_DOWNTIME" | "SCHEDULE_SVC_DOWNTIME" => {
            want(at + 7)?;
            (
                Action::ScheduleDowntime,
                json!({
                    "start_time": num(a[0]),
                    "end_time": num(a[1]),
                    "fixed": flag(a[2]),
                    "duration": num(a[4]),
                    "author": a[5],
                    "comment": a[6..].join(";"),
                }),
            )
        }
        "SEND_CUSTOM_HOST_NOTIFICATION" | "SEND_CUSTOM_SVC_NOTIFICATION" => {
            want(at + 3)?;
            (
                Action::SendCustomNotification,
                json!({
                    "force": num(a[0]) as i64 & 2 != 0,
                    "author": a[1],
                    "comment": a[2..].join(";"),
                }),
            )
        }
        other => return Err(format!("The external command '{other}' does not exist.")),
    };
    let mut map: Map<String, Json> = match target {
        Json::Object(m) => m,
        _ => Map::new(),
    };
    if let Json::Object(e) = extra {
        map.extend(e);
    }
    Ok((action, Params::from_map(map)))
}

/// Creates the pipe (replacing a stale file of that name) with mode 0660.
fn make_fifo(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::symlink_metadata(path).is_ok() {
        std::fs::remove_file(path)?;
    }
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o660) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // mkfifo's mode is narrowed by the umask: set it as asked.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o660))
}

/// The pipes of the configuration's `ExternalCommandListener` objects.
pub fn paths(engine: &Engine) -> Vec<PathBuf> {
    engine
        .registry()
        .objects("ExternalCommandListener")
        .map(|o| {
            let p = o.string("command_path");
            if p.is_empty() {
                engine.site().data_dir.join("run/cmd/icinga2.cmd")
            } else {
                PathBuf::from(p)
            }
        })
        .collect()
}

/// Creates the pipe at `path` and opens it.
///
/// # Errors
/// The pipe cannot be created or opened.
pub fn open(path: &Path) -> std::io::Result<tokio::net::unix::pipe::Receiver> {
    make_fifo(path)?;
    // Opened for reading and writing: the pipe stays open between writers (no end of
    // file when one closes it).
    tokio::net::unix::pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(path)
}

/// Runs the commands written to the pipe at `path`, in order, until `shutdown`.
pub async fn serve(
    pipe: tokio::net::unix::pipe::Receiver,
    path: PathBuf,
    engine: Arc<Engine>,
    shutdown: CancellationToken,
) {
    tracing::info!(path = %path.display(), "Listening for external commands.");
    let user = Arc::new(ApiUser::system("external command pipe"));
    let mut lines = tokio::io::BufReader::new(pipe).lines();
    loop {
        let line = tokio::select! {
            () = shutdown.cancelled() => break,
            line = lines.next_line() => line,
        };
        let line = match line {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!("External command pipe '{}': {e}", path.display());
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match translate(&line) {
            Ok((action, params)) => {
                match crate::actions::run(&engine, &user, action, params).await {
                    Ok(results) => {
                        for r in results.iter().filter(|r| !r.succeeded()) {
                            tracing::warn!(command = %line.trim(), code = r.code, status = %r.status, "External command failed.");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(command = %line.trim(), error = %e.message, "External command failed.");
                    }
                }
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }
    let _ = std::fs::remove_file(&path);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(line: &str) -> Result<(Action, Json), String> {
        translate(line).map(|(a, p)| {
            let map: Map<String, Json> = p
                .keys()
                .filter_map(|k| p.raw(k).map(|v| (k.to_string(), v.clone())))
                .collect();
            (a, Json::Object(map))
        })
    }

    #[test]
    fn commands_are_their_actions() -> Result<(), String> {
        let (action, p) = json_of(
            "[1700000000] PROCESS_SERVICE_CHECK_RESULT;web1;http;2;CRITICAL - down|time=5s;1;2",
        )?;
        assert_eq!(action, Action::ProcessCheckResult);
        assert_eq!(p["service"], "web1!http");
        assert_eq!(p["exit_status"], 2);
        assert_eq!(p["plugin_output"], "CRITICAL - down");
        assert_eq!(p["performance_data"], json!(["time=5s;1;2"]));

        let (action, p) = json_of("[1] ACKNOWLEDGE_HOST_PROBLEM;db1;2;1;0;alice;on it; really")?;
        assert_eq!(action, Action::AcknowledgeProblem);
        assert_eq!(
            (&p["host"], &p["sticky"], &p["notify"], &p["persistent"]),
            (&json!("db1"), &json!(true), &json!(true), &json!(false))
        );
        assert_eq!(p["comment"], "on it; really");

        let (action, p) = json_of("[1] SCHEDULE_SVC_DOWNTIME;h;s;100;200;0;0;50;bob;maintenance")?;
        assert_eq!(action, Action::ScheduleDowntime);
        assert_eq!(
            (
                &p["start_time"],
                &p["end_time"],
                &p["fixed"],
                &p["duration"]
            ),
            (&json!(100.0), &json!(200.0), &json!(false), &json!(50.0))
        );
        assert_eq!(
            json_of("[1] SCHEDULE_FORCED_HOST_CHECK;h;5")?.1["force"],
            true
        );
        Ok(())
    }

    #[test]
    fn bad_lines_are_refused() {
        assert!(translate("PROCESS_HOST_CHECK_RESULT;h;0;ok")
            .err()
            .is_some_and(|e| e.contains("Missing timestamp")));
        assert!(translate("[1] NO_SUCH_COMMAND;h")
            .err()
            .is_some_and(|e| e.contains("'NO_SUCH_COMMAND' does not exist")));
        assert!(translate("[1] PROCESS_SERVICE_CHECK_RESULT;h")
            .err()
            .is_some_and(|e| e.contains("Expected 2 arguments")));
    }
}
