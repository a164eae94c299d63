//! Runs a plugin: its own process group, output captured (stdout and stderr), a timeout
//! that terminates the whole group (SIGTERM, then SIGKILL). A plugin that cannot start,
//! is killed by a signal or times out is logged as a warning, as Icinga logs it (at most
//! [`FAILURE_LOGS_PER_SECOND`] lines a second; the lines held back are counted in the
//! next one).

use std::num::NonZeroU32;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::clock::Clock;

/// How a plugin ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The exit code; 128 after a timeout or a signal (Icinga's rule).
    pub exit_code: i64,
    /// stdout followed by stderr, with Icinga's notes appended.
    pub output: String,
    pub started: f64,
    pub ended: f64,
}

/// Grace between SIGTERM and SIGKILL of a timed-out plugin's group.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// Output kept at most (plugins that flood are cut).
const MAX_OUTPUT: usize = 1 << 20;

/// Plugin failure lines logged per second at most (a burst of as many more).
pub const FAILURE_LOGS_PER_SECOND: u32 = 10;

static FAILURE_LOGS: LazyLock<DefaultDirectRateLimiter> = LazyLock::new(|| {
    let rate = NonZeroU32::new(FAILURE_LOGS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct(Quota::per_second(rate).allow_burst(rate))
});
static FAILURES_HELD_BACK: AtomicU64 = AtomicU64::new(0);

/// Logs a plugin failure unless too many were logged just now.
fn log_failure(message: &str) {
    if FAILURE_LOGS.check().is_err() {
        FAILURES_HELD_BACK.fetch_add(1, Ordering::Relaxed);
        return;
    }
    match FAILURES_HELD_BACK.swap(0, Ordering::Relaxed) {
        0 => tracing::warn!("{message}"),
        held => tracing::warn!("{message} ({held} more plugin failures not logged)"),
    }
}

/// Runs `argv` with `env` added, for at most `timeout`; `started` and `ended` are read
/// from `clock` (the end as the start plus the time the run took).
pub async fn run(
    argv: &[String],
    env: &[(String, String)],
    timeout: Duration,
    clock: &Clock,
) -> Outcome {
    let began = Instant::now();
    let started = clock.now();
    let ended = || started + began.elapsed().as_secs_f64();
    let Some((program, args)) = argv.split_first() else {
        return Outcome {
            exit_code: 3,
            output: "<Empty command line.>".into(),
            started,
            ended: ended(),
        };
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            log_failure(&format!("Couldn't create process '{program}': {e}"));
            return Outcome {
                exit_code: 128,
                output: format!("<Execution of {program} failed: {e}>"),
                started,
                ended: ended(),
            };
        }
    };
    let pgid = child.id().map(|p| p as i32);
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let read_all = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let a = async {
            if let Some(s) = stdout.as_mut() {
                let _ = s.take(MAX_OUTPUT as u64).read_to_end(&mut out).await;
            }
        };
        let b = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(MAX_OUTPUT as u64).read_to_end(&mut err).await;
            }
        };
        tokio::join!(a, b);
        let status = child.wait().await;
        (out, err, status)
    };
    let deadline = Instant::now() + timeout;
    match tokio::time::timeout_at(deadline.into(), read_all).await {
        Ok((out, err, status)) => {
            let mut output = String::from_utf8_lossy(&out).into_owned();
            let err = String::from_utf8_lossy(&err);
            if !err.trim().is_empty() {
                output.push_str(&err);
            }
            let output = output.trim().to_string();
            let (exit_code, note) = match status {
                Ok(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                    (Some(c), _) if (0..=3).contains(&c) => (i64::from(c), None),
                    (Some(c), _) => (
                        i64::from(c),
                        Some(format!("<Terminated with exit code {c} (0x{c:x}).>")),
                    ),
                    (None, Some(sig)) => {
                        let pid = pgid.unwrap_or_default();
                        log_failure(&format!(
                            "Process '{program}' (PID {pid}) was terminated by signal {sig}."
                        ));
                        (128, Some(format!("<Terminated by signal {sig}.>")))
                    }
                    (None, None) => (128, None),
                },
                Err(e) => (128, Some(format!("<Waiting for the plugin failed: {e}>"))),
            };
            Outcome {
                exit_code,
                output: match note {
                    Some(n) if output.is_empty() => n,
                    Some(n) => format!("{output}\n{n}"),
                    None => output,
                },
                started,
                ended: ended(),
            }
        }
        Err(_) => {
            log_failure(&format!(
                "Killing process group {} ('{program}') after timeout of {} seconds.",
                pgid.unwrap_or_default(),
                timeout.as_secs_f64()
            ));
            if let Some(pgid) = pgid {
                kill_group(pgid).await;
            }
            Outcome {
                exit_code: 128,
                output: format!(
                    "<Timeout exceeded.><Terminated by signal 9 (Killed).> after {} s",
                    timeout.as_secs_f64()
                ),
                started,
                ended: ended(),
            }
        }
    }
}

/// SIGTERM to the group, SIGKILL after a grace period.
async fn kill_group(pgid: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-pgid, libc::SIGTERM);
    }
    tokio::time::sleep(KILL_GRACE).await;
    // SAFETY: as above.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[tokio::test]
    async fn exit_codes_output_and_env() {
        let o = run(
            &s(&["/bin/sh", "-c", "echo \"out $X\"; echo err >&2; exit 2"]),
            &[("X".into(), "y".into())],
            Duration::from_secs(5),
            &Clock::system(),
        )
        .await;
        assert_eq!(o.exit_code, 2);
        assert_eq!(o.output, "out y\nerr");
        let o = run(
            &s(&["/bin/sh", "-c", "exit 7"]),
            &[],
            Duration::from_secs(5),
            &Clock::system(),
        )
        .await;
        assert_eq!(o.exit_code, 7);
        assert_eq!(o.output, "<Terminated with exit code 7 (0x7).>");
        let o = run(
            &s(&["/nonexistent/plugin"]),
            &[],
            Duration::from_secs(5),
            &Clock::system(),
        )
        .await;
        assert_eq!(o.exit_code, 128);
    }

    /// A plugin that outlives its timeout is killed with everything it started.
    #[tokio::test]
    async fn timeout_kills_the_process_group() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let pid_file = dir.path().join("child.pid");
        let script = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
        let t = Instant::now();
        let o = run(
            &s(&["/bin/sh", "-c", &script]),
            &[],
            Duration::from_millis(300),
            &Clock::system(),
        )
        .await;
        assert_eq!(o.exit_code, 128);
        assert!(o.output.starts_with("<Timeout exceeded.>"));
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "waited for the plugin"
        );
        // The plugin's own child goes too (gone, or a zombie nobody has reaped yet).
        let pid = std::fs::read_to_string(&pid_file)?;
        let stat = format!("/proc/{}/stat", pid.trim());
        let alive = || {
            std::fs::read_to_string(&stat).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| !r.trim_start().starts_with('Z'))
            })
        };
        for _ in 0..200 {
            if !alive() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("a child of the timed-out plugin survived");
    }
}
