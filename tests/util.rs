//! The test harness: a server with its own temporary directories.

use std::path::PathBuf;
use std::time::Duration;

use auspex::app::{self, App, Options};
use auspex::clock::Clock;
use serde_json::Value as Json;

/// A running server.
pub struct Server {
    /// The running server; it stops when the test's runtime ends.
    _app: App,
    pub port: u16,
    pub data_dir: PathBuf,
    pub ca_pem: String,
    /// The server's time: the system clock, or a manual one ([`Server::start_manual`]).
    pub clock: Clock,
    _dir: tempfile::TempDir,
}

/// The API users every test server has: `root` (all permissions) and `limited`.
pub const USERS: &str = r#"
object ApiUser "root" {
  password = "secret"
  permissions = [ "*" ]
}
object ApiUser "reader" {
  password = "reader"
  permissions = [ "objects/query/*", "types" ]
}
object ApiUser "nopass" {
  password = ""
  permissions = [ "*" ]
}
"#;

/// Two hosts with a passive service each (`h1!passive`, `h2!passive`; HARD after two
/// attempts), for tests that submit results.
pub const PASSIVE: &str = r#"
object Host "h1" { check_command = "dummy"; enable_active_checks = false }
object Host "h2" { check_command = "dummy"; enable_active_checks = false }
apply Service "passive" {
  check_command = "passive"
  enable_active_checks = false
  max_check_attempts = 2
  assign where true
}
"#;

/// TimePeriods "never" (no ranges) and "always" (every day, all day).
pub const PERIODS: &str = r#"
object TimePeriod "never" { ranges = { } }
object TimePeriod "always" { ranges = { monday = "00:00-24:00", tuesday = "00:00-24:00", wednesday = "00:00-24:00", thursday = "00:00-24:00", friday = "00:00-24:00", saturday = "00:00-24:00", sunday = "00:00-24:00" } }
"#;

/// Every certificate of a PEM document.
pub fn pem_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .map(Result::unwrap)
        .collect()
}

/// Seconds since the epoch, as the API's timestamps.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

impl Server {
    /// Starts a server whose configuration is [`USERS`] plus `extra`.
    pub async fn start(extra: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("etc");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(conf.join("users.conf"), USERS).unwrap();
        std::fs::write(conf.join("extra.conf"), extra).unwrap();
        Server::start_in(dir, conf).await
    }

    /// Starts a server as [`Server::start`] does, with other protective limits.
    pub async fn start_guarded(extra: &str, guards: app::Guards) -> Server {
        let (dir, conf) = Server::directories(extra);
        Server::start_with(dir, conf, guards, Clock::system(), Default::default()).await
    }

    /// Starts a server as [`Server::start`] does, on a manual clock (starting at the
    /// system's time) that only [`Server::advance`] moves.
    pub async fn start_manual(extra: &str) -> Server {
        let (dir, conf) = Server::directories(extra);
        let clock = Clock::manual(now().floor());
        Server::start_with(dir, conf, app::Guards::default(), clock, Default::default()).await
    }

    fn directories(extra: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("etc");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(conf.join("users.conf"), USERS).unwrap();
        std::fs::write(conf.join("extra.conf"), extra).unwrap();
        (dir, conf)
    }

    pub async fn start_in(dir: tempfile::TempDir, conf: PathBuf) -> Server {
        Server::start_with(
            dir,
            conf,
            app::Guards::default(),
            Clock::system(),
            Default::default(),
        )
        .await
    }

    /// Starts a server as [`Server::start`] does, with other edge settings.
    pub async fn start_edge(extra: &str, edge: auspex::api::settings::EdgeSettings) -> Server {
        let (dir, conf) = Server::directories(extra);
        Server::start_with(dir, conf, app::Guards::default(), Clock::system(), edge).await
    }

    async fn start_with(
        dir: tempfile::TempDir,
        conf: PathBuf,
        guards: app::Guards,
        clock: Clock,
        edge: auspex::api::settings::EdgeSettings,
    ) -> Server {
        let data_dir = dir.path().join("data");
        let opts = Options {
            config_dir: Some(conf),
            data_dir: data_dir.clone(),
            listen: Some("127.0.0.1:0".parse().unwrap()),
            node_name: Some("localhost".into()),
            event_retention: 1000,
            guards,
            edge,
            reinitialize: false,
            clock: clock.clone(),
            cluster: None,
        };
        app::setup(&opts, false).unwrap();
        let ca_pem = std::fs::read_to_string(data_dir.join("ca/ca.crt")).unwrap();
        // After a restart the previous store may still be closing: retry briefly.
        let mut attempt = 0;
        let app = loop {
            match App::start(opts.clone()).await {
                Ok(app) => break app,
                Err(e) if attempt < 100 => {
                    attempt += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("server did not start: {e:#}"),
            }
        };
        Server {
            port: app.local_addr.port(),
            _app: app,
            data_dir,
            ca_pem,
            clock,
            _dir: dir,
        }
    }

    /// Moves the server's manual clock forward by `secs`, then waits until everything
    /// that became due has been applied and committed.
    pub async fn advance(&self, secs: f64) {
        assert!(
            self.clock.is_manual(),
            "the server runs on the system clock"
        );
        self.clock.advance(secs);
        self.settle().await;
    }

    /// Waits until everything the processor has queued or due now is committed.
    pub async fn settle(&self) {
        self.state().engine.processor.settle().await;
    }

    /// The server's time (its manual clock's, or the system's).
    pub fn now(&self) -> f64 {
        self.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// A raw TLS connector that trusts the server's CA (for clients that misbehave).
    pub fn tls_connector(&self) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        for cert in pem_certs(self.ca_pem.as_bytes()) {
            roots.add(cert).unwrap();
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
    }

    /// A client that trusts the server's CA.
    pub fn client(&self) -> reqwest::Client {
        self.builder().build().unwrap()
    }

    pub fn builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(10))
    }

    /// The server's CA (to issue client certificates).
    pub fn authority(&self) -> auspex::pki::Authority {
        auspex::pki::Authority::load(
            &self.data_dir.join("ca/ca.crt"),
            &self.data_dir.join("ca/ca.key"),
        )
        .unwrap()
    }

    /// A client presenting a certificate.
    pub fn client_with_identity(&self, cert_pem: &str, key_pem: &str) -> reqwest::Client {
        let identity =
            reqwest::Identity::from_pem(format!("{cert_pem}\n{key_pem}").as_bytes()).unwrap();
        self.builder().identity(identity).build().unwrap()
    }

    /// Stops the server (gracefully) and starts it again on the same directories.
    pub async fn restart(self) -> Server {
        let Server {
            _app, _dir, clock, ..
        } = self;
        _app.stop(Duration::from_secs(5)).await;
        let conf = _dir.path().join("etc");
        Server::start_with(
            _dir,
            conf,
            app::Guards::default(),
            clock,
            Default::default(),
        )
        .await
    }

    /// A request as root with a JSON body.
    pub async fn send(&self, method: &str, path: &str, body: Json) -> (u16, Json) {
        self.send_as(("root", "secret"), method, path, body).await
    }

    /// A request as `user` with a JSON body.
    pub async fn send_as(
        &self,
        (user, password): (&str, &str),
        method: &str,
        path: &str,
        body: Json,
    ) -> (u16, Json) {
        let res = self
            .client()
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                self.url(path),
            )
            .basic_auth(user, Some(password))
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Json::Null))
    }

    /// GET as root; returns status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Json) {
        let res = self
            .client()
            .get(self.url(path))
            .basic_auth("root", Some("secret"))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Json::Null))
    }

    /// POST as root with a JSON body.
    pub async fn post(&self, path: &str, body: Json) -> (u16, Json) {
        self.send("POST", path, body).await
    }

    /// The server's shared state (its event bus, …).
    pub fn state(&self) -> &std::sync::Arc<auspex::api::State> {
        &self._app.state
    }

    /// A client whose connections come from `ip` (any 127.0.0.0/8 address).
    pub fn client_from(&self, ip: &str) -> reqwest::Client {
        self.builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    }
}

impl Server {
    /// The journaled events of one type, oldest first (what every stream delivers).
    pub fn events(&self, kind: &str) -> Vec<Json> {
        let (events, _) = self.state().engine.store.events_after(0, 100_000).unwrap();
        events
            .iter()
            .filter(|e| e.kind.name() == kind)
            .map(|e| serde_json::from_slice(&e.json).unwrap())
            .collect()
    }

    /// Waits (up to 12 s: held-back notifications are looked at every 5 s) until at least
    /// `n` events of `kind` are journaled; returns them.
    pub async fn events_at_least(&self, kind: &str, n: usize) -> Vec<Json> {
        for _ in 0..120 {
            let events = self.events(kind);
            if events.len() >= n {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("fewer than {n} {kind} events: {:?}", self.events(kind));
    }

    /// The body of `GET path` as root, as text.
    pub async fn text(&self, path: &str) -> String {
        self.client()
            .get(self.url(path))
            .basic_auth("root", Some("secret"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits until `check` holds for the object at `path`'s attributes (see
    /// [`eventually`]).
    pub async fn wait_for(&self, path: &str, check: impl Fn(&Json) -> bool) -> Json {
        eventually(&format!("{path} reaches the expected state"), || async {
            let attrs = self.get(path).await.1["results"][0]["attrs"].clone();
            if check(&attrs) {
                Ok(attrs)
            } else {
                Err(attrs.to_string())
            }
        })
        .await
    }
}

/// Asks `probe` until it finds what it looks for (`Ok`), 30 s at most, and fails with the
/// last thing it saw (`Err`): for outcomes in what cannot announce them — an object's
/// state behind the API, a database another process writes. Where a stream or a log
/// announces the outcome, wait on that instead.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match probe().await {
            Ok(found) => return found,
            Err(seen) => assert!(
                tokio::time::Instant::now() < deadline,
                "never: {what}; last seen: {seen}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads an event stream until `done` holds for what arrived (10 s at most).
pub async fn read_until(res: &mut reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(&text) {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .unwrap_or_else(|_| panic!("stream stalled; so far: {text}"))
            .unwrap()
            .unwrap_or_else(|| panic!("stream ended; so far: {text}"));
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    text
}
