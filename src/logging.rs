//! The log: standard output (`RUST_LOG` filters it), plus the logger features of the
//! configuration — `FileLogger` (lines as Icinga writes them, `[time] severity/facility:
//! message`), `SyslogLogger` and `JournaldLogger` — each with its own `severity`.
//!
//! The feature sinks are set from the configuration at startup and on every reload; the
//! layer that feeds them is installed once, before anything logs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, RwLock};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::Layer;

use crate::objects::Registry;

/// The logger types, each a kind of sink.
const LOGGERS: [&str; 3] = ["FileLogger", "SyslogLogger", "JournaldLogger"];

/// The feature sinks in use.
static SINKS: RwLock<Vec<Sink>> = RwLock::new(Vec::new());

/// Icinga's severities, least severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Debug,
    Notice,
    Information,
    Warning,
    Critical,
}

impl Severity {
    fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "debug" => Severity::Debug,
            "notice" => Severity::Notice,
            "information" => Severity::Information,
            "warning" => Severity::Warning,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    fn of(level: &Level) -> Severity {
        match *level {
            Level::ERROR => Severity::Critical,
            Level::WARN => Severity::Warning,
            Level::INFO => Severity::Information,
            Level::DEBUG => Severity::Notice,
            Level::TRACE => Severity::Debug,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Severity::Debug => "debug",
            Severity::Notice => "notice",
            Severity::Information => "information",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// The tracing level this severity starts at, as [`MOST_VERBOSE`] counts (1 error …
    /// 5 trace).
    fn verbosity(self) -> u8 {
        match self {
            Severity::Critical => 1,
            Severity::Warning => 2,
            Severity::Information => 3,
            Severity::Notice => 4,
            Severity::Debug => 5,
        }
    }

    /// The syslog priority (also journald's `PRIORITY`).
    fn priority(self) -> u8 {
        match self {
            Severity::Debug | Severity::Notice => 7,
            Severity::Information => 6,
            Severity::Warning => 4,
            Severity::Critical => 2,
        }
    }
}

/// One line of the log, formatted once for every sink.
struct Line {
    severity: Severity,
    facility: String,
    message: String,
}

enum Output {
    File {
        writer: NonBlocking,
        /// Flushes what is queued when the sink is dropped (reload, exit).
        _guard: WorkerGuard,
    },
    Syslog(Mutex<syslog::Logger<syslog::LoggerBackend, syslog::Formatter3164>>),
    Journald {
        socket: UnixDatagram,
        path: PathBuf,
        identifier: String,
        facility: u8,
    },
}

struct Sink {
    name: String,
    severity: Severity,
    output: Output,
}

impl Sink {
    fn write(&self, line: &Line) -> std::io::Result<()> {
        match &self.output {
            Output::File { writer, .. } => {
                let text = format!(
                    "[{}] {}/{}: {}\n",
                    chrono::Local::now().format("%Y-%m-%d %H:%M:%S %z"),
                    line.severity.name(),
                    line.facility,
                    line.message
                );
                writer.clone().write_all(text.as_bytes())
            }
            Output::Syslog(logger) => {
                let mut logger = logger.lock().unwrap_or_else(|e| e.into_inner());
                let message = format!("{}: {}", line.facility, line.message);
                match line.severity {
                    Severity::Critical => logger.err(message),
                    Severity::Warning => logger.warning(message),
                    Severity::Information => logger.info(message),
                    Severity::Notice => logger.notice(message),
                    Severity::Debug => logger.debug(message),
                }
                .map_err(std::io::Error::other)
            }
            Output::Journald {
                socket,
                path,
                identifier,
                facility,
            } => {
                let mut datagram = Vec::with_capacity(line.message.len() + 96);
                journal_field(&mut datagram, "MESSAGE", &line.message);
                journal_field(
                    &mut datagram,
                    "PRIORITY",
                    &line.severity.priority().to_string(),
                );
                journal_field(&mut datagram, "SYSLOG_IDENTIFIER", identifier);
                journal_field(&mut datagram, "SYSLOG_FACILITY", &facility.to_string());
                journal_field(&mut datagram, "ICINGA2_FACILITY", &line.facility);
                socket.send_to(&datagram, path).map(|_| ())
            }
        }
    }
}

/// One field of journald's native protocol: `KEY=value\n`, or the length-prefixed form
/// for values with a newline.
fn journal_field(out: &mut Vec<u8>, key: &str, value: &str) {
    out.extend_from_slice(key.as_bytes());
    if value.contains('\n') {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
        out.extend_from_slice(value.as_bytes());
    } else {
        out.push(b'=');
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'\n');
}

/// The layer that hands every event to the feature sinks whose severity it reaches.
pub struct FeatureLogs;

/// The most verbose level any feature sink takes (0: no sinks, 1 error … 5 trace): events
/// below it are never built for this layer, so logging calls on hot paths stay free when
/// no logger asks for them.
static MOST_VERBOSE: AtomicU8 = AtomicU8::new(0);

fn most_verbose() -> LevelFilter {
    match MOST_VERBOSE.load(Ordering::Relaxed) {
        0 => LevelFilter::OFF,
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// The per-layer filter of [`FeatureLogs`]: what the configured loggers take, decided per
/// call site (and decided again when the loggers change).
pub struct SinkLevel;

impl<S> Filter<S> for SinkLevel {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        most_verbose() >= *meta.level()
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if most_verbose() >= *meta.level() {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(most_verbose())
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    facility: Option<String>,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            "facility" => self.facility = Some(value.to_string()),
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "facility" => self.facility = Some(format!("{value:?}").trim_matches('"').into()),
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }
}

impl<S: Subscriber> Layer<S> for FeatureLogs {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let severity = Severity::of(event.metadata().level());
        let sinks = SINKS.read().unwrap_or_else(|e| e.into_inner());
        if !sinks.iter().any(|s| severity >= s.severity) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let target = event.metadata().target();
        let line = Line {
            severity,
            facility: fields
                .facility
                .unwrap_or_else(|| target.rsplit("::").next().unwrap_or(target).to_string()),
            message: fields.message + &fields.rest,
        };
        for sink in sinks.iter().filter(|s| severity >= s.severity) {
            // A sink that fails (syslog gone, disk full) must not take the others down,
            // nor log about itself in a loop.
            let _ = sink.write(&line);
        }
    }
}

fn severity_of(o: &crate::objects::Object) -> Result<Severity, String> {
    let s = o.string("severity");
    if s.is_empty() {
        return Ok(Severity::Information);
    }
    Severity::parse(&s).ok_or_else(|| {
        format!(
            "{} '{}': invalid severity '{s}' (debug, notice, information, warning or critical)",
            o.type_info.name, o.name
        )
    })
}

fn file_sink(path: &Path) -> std::io::Result<Output> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("file-logger")
        .finish(file);
    Ok(Output::File {
        writer,
        _guard: guard,
    })
}

fn facility(o: &crate::objects::Object) -> Result<syslog::Facility, String> {
    let f = o.string("facility");
    let f = if f.is_empty() { "LOG_USER".into() } else { f };
    f.parse::<syslog::Facility>()
        .map_err(|()| format!("{} '{}': invalid facility '{f}'", o.type_info.name, o.name))
}

fn syslog_sink(facility: syslog::Facility, socket: Option<&Path>) -> Result<Output, String> {
    let formatter = syslog::Formatter3164 {
        facility,
        hostname: None,
        process: "auspex".into(),
        pid: std::process::id(),
    };
    let logger = match socket {
        Some(path) => syslog::unix_custom(formatter, path),
        None => syslog::unix(formatter),
    }
    .map_err(|e| e.to_string())?;
    Ok(Output::Syslog(Mutex::new(logger)))
}

fn journald_sink(
    identifier: &str,
    facility: syslog::Facility,
    path: &Path,
) -> Result<Output, String> {
    if !path.exists() {
        return Err(format!("{} does not exist", path.display()));
    }
    Ok(Output::Journald {
        socket: UnixDatagram::unbound().map_err(|e| e.to_string())?,
        path: path.into(),
        identifier: if identifier.is_empty() {
            "icinga2".into()
        } else {
            identifier.into()
        },
        facility: (facility as u8) >> 3,
    })
}

/// The sinks the configuration's logger objects describe. A sink that cannot be opened
/// (no syslog daemon, no journal) is reported and left out; a malformed object fails.
fn sinks_of(reg: &Registry) -> Result<(Vec<Sink>, Vec<String>), String> {
    let mut sinks = Vec::new();
    let mut problems = Vec::new();
    for t in LOGGERS {
        for o in reg.objects(t) {
            let severity = severity_of(o)?;
            let output = match t {
                "FileLogger" => {
                    let path = PathBuf::from(o.string("path"));
                    file_sink(&path).map_err(|e| format!("{}: {e}", path.display()))
                }
                "SyslogLogger" => syslog_sink(facility(o)?, None),
                _ => journald_sink(
                    &o.string("identifier"),
                    facility(o)?,
                    Path::new("/run/systemd/journal/socket"),
                ),
            };
            let name = format!("{t} '{}'", o.name);
            match output {
                Ok(output) => sinks.push(Sink {
                    name,
                    severity,
                    output,
                }),
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
    }
    Ok((sinks, problems))
}

/// Checks the logger objects of a configuration (severities, facilities).
///
/// # Errors
/// The first malformed logger object.
pub fn validate(reg: &Registry) -> Result<(), String> {
    for t in LOGGERS {
        for o in reg.objects(t) {
            severity_of(o)?;
            if t != "FileLogger" {
                facility(o)?;
            }
        }
    }
    Ok(())
}

/// Closes the feature sinks, writing out what they hold (at exit: statics are never
/// dropped).
pub fn close() {
    let sinks = std::mem::take(&mut *SINKS.write().unwrap_or_else(|e| e.into_inner()));
    MOST_VERBOSE.store(0, Ordering::Relaxed);
    drop(sinks);
}

/// Replaces the feature sinks with those of `reg` (startup, reload).
pub fn configure(reg: &Registry) {
    match sinks_of(reg) {
        Ok((sinks, problems)) => {
            let names: Vec<String> = sinks.iter().map(|s| s.name.clone()).collect();
            let verbose = sinks
                .iter()
                .map(|s| s.severity.verbosity())
                .max()
                .unwrap_or(0);
            *SINKS.write().unwrap_or_else(|e| e.into_inner()) = sinks;
            if MOST_VERBOSE.swap(verbose, Ordering::Relaxed) != verbose {
                tracing::callsite::rebuild_interest_cache();
            }
            for p in problems {
                tracing::warn!("Logger not opened: {p}");
            }
            if !names.is_empty() {
                tracing::info!(loggers = ?names, "Logging to the configured loggers.");
            }
        }
        Err(e) => tracing::warn!("Loggers unchanged: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(severity: Severity, message: &str) -> Line {
        Line {
            severity,
            facility: "config".into(),
            message: message.into(),
        }
    }

    /// The datagram a sink made by `make` (given a socket path) sends for `line`.
    fn sent(
        make: impl FnOnce(&Path) -> Result<Output, String>,
        line: Line,
    ) -> Result<Vec<u8>, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("socket");
        let server = UnixDatagram::bind(&path).map_err(|e| e.to_string())?;
        let sink = Sink {
            name: "test".into(),
            severity: Severity::Debug,
            output: make(&path)?,
        };
        sink.write(&line).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).map_err(|e| e.to_string())?;
        Ok(buf[..n].to_vec())
    }

    /// A SyslogLogger sends RFC 3164 datagrams with the severity as priority.
    #[test]
    fn syslog_datagrams() -> Result<(), String> {
        let datagram = sent(
            |p| syslog_sink(syslog::Facility::LOG_LOCAL0, Some(p)),
            line(Severity::Critical, "disk full"),
        )?;
        let text = String::from_utf8_lossy(&datagram);
        // LOG_LOCAL0 (16 << 3) + LOG_ERR (3) = 131.
        assert!(text.starts_with("<131>"), "{text}");
        assert!(
            text.contains("auspex[") && text.ends_with("config: disk full"),
            "{text}"
        );
        Ok(())
    }

    /// A JournaldLogger speaks the journal's native protocol; multi-line messages use
    /// the length-prefixed form.
    #[test]
    fn journald_datagrams() -> Result<(), String> {
        let datagram = sent(
            |p| journald_sink("", syslog::Facility::LOG_DAEMON, p),
            line(Severity::Warning, "one\ntwo"),
        )?;
        let mut want = b"MESSAGE\n".to_vec();
        want.extend_from_slice(&7u64.to_le_bytes());
        want.extend_from_slice(
            b"one\ntwo\nPRIORITY=4\nSYSLOG_IDENTIFIER=icinga2\nSYSLOG_FACILITY=3\n",
        );
        assert!(
            datagram.starts_with(&want),
            "{:?}",
            String::from_utf8_lossy(&datagram)
        );
        let missing = std::env::temp_dir().join("auspex-no-journal-here");
        assert!(journald_sink("", syslog::Facility::LOG_DAEMON, &missing).is_err());
        Ok(())
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::of(&Level::ERROR) > Severity::of(&Level::INFO));
        assert_eq!(Severity::parse("warning"), Some(Severity::Warning));
        assert_eq!(Severity::parse("warn"), None);
    }
}
