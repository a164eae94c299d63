//! Real programs the tests run beside Auspex (receivers, browsers, databases, Icinga's
//! own tools), all from Debian: found or skipped, started on free loopback ports and
//! temporary directories, waited for by what they log, killed with the test.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Whether `program` is installed. When it is not, the test is skipped, unless the
/// environment variable `require` is set (as CI sets it): then it fails.
pub fn installed(program: &str, require: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os(require).is_none(),
            "{program} is required ({require} is set)"
        );
        eprintln!("{program} not installed: test skipped");
    }
    found
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A program started by the test, killed with it; what it logs (standard output and
/// error) arrives line by line, so the test waits on what the program reports
/// (listening, a point written), not on time.
pub struct Daemon {
    child: Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Daemon {
    pub fn spawn(command: &mut Command) -> Daemon {
        use std::os::unix::process::CommandExt;
        // A group of its own: programs that fork (Icinga 2 runs its daemon in a child)
        // are stopped whole.
        let mut child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let out: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in out {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in std::io::BufRead::lines(std::io::BufReader::new(stream)) {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Daemon { child, lines }
    }

    /// Waits (30 s at most) for a logged line that `wanted` accepts.
    pub async fn logged(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let mut seen: Vec<String> = Vec::new();
        let found = async {
            while let Some(line) = self.lines.recv().await {
                if wanted(&line) {
                    return Ok(line);
                }
                seen.push(line);
            }
            Err("the program ended")
        };
        match tokio::time::timeout(Duration::from_secs(30), found).await {
            Ok(Ok(line)) => line,
            Ok(Err(why)) => panic!("{why} before: {what}; it said:\n{}", seen.join("\n")),
            Err(_) => panic!("timed out: {what}; it said:\n{}", seen.join("\n")),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(group) = i32::try_from(self.child.id()) {
            // SAFETY: kill has no memory preconditions; a negative pid names the group.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether this process runs as root (servers that drop privileges must be told to stay).
fn root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A MariaDB server of its own: a fresh data directory, a Unix socket and a loopback
/// port, root without a password on the socket.
pub struct MariaDb {
    pub port: u16,
    socket: PathBuf,
    _daemon: Daemon,
}

impl MariaDb {
    /// The programs a [`MariaDb`] needs are installed (else see [`installed`]).
    pub fn installed(require: &str) -> bool {
        ["mariadbd", "mariadb-install-db", "mariadb"]
            .iter()
            .all(|p| installed(p, require))
    }

    pub async fn start(dir: &Path) -> MariaDb {
        let data = dir.join("data");
        let user = root().then_some("--user=root");
        let mut install = tokio::process::Command::new("mariadb-install-db");
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(user);
        let out = install.output().await.unwrap();
        assert!(
            out.status.success(),
            "mariadb-install-db: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let socket = dir.join("mysqld.sock");
        let mut command = Command::new("mariadbd");
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .arg(format!("--port={port}"))
            .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
            .args(user);
        let mut daemon = Daemon::spawn(&mut command);
        daemon
            .logged("MariaDB ready for connections", |l| {
                l.contains("ready for connections")
            })
            .await;
        MariaDb {
            port,
            socket,
            _daemon: daemon,
        }
    }

    /// Runs SQL statements as root; returns what they print (tab-separated, no headers).
    pub async fn sql(&self, database: &str, statements: &str) -> String {
        let out = tokio::process::Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["-uroot", "--batch", "--skip-column-names", "-e", statements])
            .arg(database)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{statements}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the SQL file `path` as root in `database`.
    pub async fn import(&self, database: &str, path: &Path) {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let out = tokio::process::Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .arg("-uroot")
            .arg(database)
            .stdin(file)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A Redis server of its own, on a free loopback port, without persistence.
pub struct Redis {
    pub port: u16,
    _daemon: Daemon,
}

impl Redis {
    pub async fn start() -> Redis {
        Redis::start_on(free_port()).await
    }

    /// A Redis on `port` (again, after one stopped there).
    pub async fn start_on(port: u16) -> Redis {
        let mut daemon = Daemon::spawn(Command::new("redis-server").args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]));
        daemon
            .logged("Redis ready", |l| l.contains("Ready to accept connections"))
            .await;
        Redis {
            port,
            _daemon: daemon,
        }
    }
}

/// Debian's `chromedriver` on a free port, and a WebDriver session of a headless
/// Chromium (1280×860, any certificate accepted); `None` (the test skipped) without
/// `chromedriver`, unless `require` is set.
pub async fn browser(require: &str) -> Option<(Daemon, fantoccini::Client)> {
    if !installed("chromedriver", require) {
        return None;
    }
    let port = free_port();
    let mut driver = Daemon::spawn(Command::new("chromedriver").arg(format!("--port={port}")));
    driver
        .logged("chromedriver started", |l| {
            l.contains("started successfully")
        })
        .await;
    let mut caps = serde_json::Map::new();
    caps.insert("acceptInsecureCerts".into(), serde_json::json!(true));
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1280,860"]}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let mut builder = fantoccini::ClientBuilder::new(connector);
    builder.capabilities(caps);
    let client = builder
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session");
    Some((driver, client))
}

/// Waits until the JavaScript condition `condition` holds in the page, woken by every
/// change of the page (a `MutationObserver`), not by a timer; WebDriver's script timeout
/// (30 s) bounds it. `text()` is the page's visible text.
pub async fn page_until(c: &fantoccini::Client, what: &str, condition: &str) {
    let script = format!(
        "const text = () => document.body ? document.body.innerText : '';
         const cond = () => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }};
         return new Promise((resolve) => {{
           if (cond()) {{ resolve(true); return; }}
           const obs = new MutationObserver(() => {{
             if (cond()) {{ obs.disconnect(); resolve(true); }}
           }});
           obs.observe(document.documentElement,
             {{ subtree: true, childList: true, characterData: true, attributes: true }});
         }});"
    );
    let done = c.execute(&script, vec![]).await;
    assert!(
        done.is_ok_and(|v| v == serde_json::json!(true)),
        "timed out: {what}"
    );
}
