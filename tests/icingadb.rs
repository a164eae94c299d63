//! The `IcingaDB` feature against the real Icinga DB stack from Debian: Auspex writes
//! into a Redis of the test's own, the unmodified `icingadb` daemon moves it into a
//! MariaDB of the test's own, and the test reads the database Icinga DB Web reads.
//! Skipped without `redis-server`, `icingadb` and MariaDB unless `AUSPEX_REQUIRE_ICINGADB`
//! is set (as CI sets it).

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::peers::{installed, Daemon, MariaDb, Redis};
use crate::util::{eventually, Server};

const REQUIRE: &str = "AUSPEX_REQUIRE_ICINGADB";
const SCHEMA: &str = "/usr/share/icingadb/schema/mysql/schema.sql";

/// The stack: MariaDB with Icinga DB's schema, Redis, Auspex writing to it, and the
/// `icingadb` daemon once it has synchronised the configuration.
pub struct Stack {
    pub db: MariaDb,
    pub redis: Redis,
    pub server: Server,
    _icingadb: Daemon,
    _dir: tempfile::TempDir,
}

impl Stack {
    pub fn available() -> bool {
        let found = installed("redis-server", REQUIRE)
            && installed("icingadb", REQUIRE)
            && MariaDb::installed(REQUIRE);
        if found && !Path::new(SCHEMA).exists() {
            assert!(
                std::env::var_os(REQUIRE).is_none(),
                "{SCHEMA} is required ({REQUIRE} is set)"
            );
            return false;
        }
        found
    }

    /// Starts the stack with `objects` as Auspex's configuration (besides the node's
    /// endpoint and zone and the `IcingaDB` object).
    pub async fn start(objects: &str) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let db = MariaDb::start(&dir.path().join("mariadb")).await;
        db.sql(
            "",
            "CREATE DATABASE icingadb;\
             CREATE USER icingadb@'127.0.0.1' IDENTIFIED BY 'icingadb';\
             GRANT ALL ON icingadb.* TO icingadb@'127.0.0.1';",
        )
        .await;
        db.import("icingadb", Path::new(SCHEMA)).await;
        let redis = Redis::start().await;
        let config = format!(
            "object Endpoint NodeName {{ }}\n\
             object Zone ZoneName {{ endpoints = [ NodeName ] }}\n\
             object IcingaDB \"icingadb\" {{ host = \"127.0.0.1\"; port = {} }}\n{objects}",
            redis.port
        );
        let server = Server::start(&config).await;
        let conf = dir.path().join("icingadb.yml");
        std::fs::write(
            &conf,
            format!(
                "database:\n  type: mysql\n  host: 127.0.0.1\n  port: {}\n  database: icingadb\n  \
                 user: icingadb\n  password: icingadb\nredis:\n  host: 127.0.0.1\n  port: {}\n\
                 logging:\n  level: info\n",
                db.port, redis.port
            ),
        )
        .unwrap();
        let mut icingadb = Daemon::spawn(
            std::process::Command::new("icingadb")
                .arg("--config")
                .arg(&conf),
        );
        icingadb
            .logged("icingadb synchronised the configuration", |l| {
                l.contains("Finished config sync")
            })
            .await;
        Stack {
            db,
            redis,
            server,
            _icingadb: icingadb,
            _dir: dir,
        }
    }

    /// A query's rows (tab-separated) once `done` accepts them (the daemon writes
    /// asynchronously, and a database cannot announce it: see [`eventually`]).
    pub async fn rows_until(&self, query: &str, done: impl Fn(&str) -> bool) -> String {
        eventually(query, || async {
            let rows = self.db.sql("icingadb", query).await;
            if done(&rows) {
                Ok(rows)
            } else {
                Err(rows)
            }
        })
        .await
    }
}

const OBJECTS: &str = r#"
object HostGroup "linux" { display_name = "Linux servers" }
object Host "web-1" {
  check_command = "dummy"
  address = "192.0.2.1"
  display_name = "Web One"
  groups = [ "linux" ]
  vars.os = "Linux"
  enable_active_checks = false
}
object Host "db-1" { check_command = "dummy"; address = "192.0.2.2"; enable_active_checks = false }
apply Service "http" {
  check_command = "dummy"
  enable_active_checks = false
  max_check_attempts = 2
  assign where host.vars.os == "Linux"
}
apply Service "disk" {
  check_command = "dummy"
  enable_active_checks = false
  assign where true
}
object Service "icingadb" { host_name = "db-1"; check_command = "icingadb"; enable_active_checks = false }
object User "oncall" { email = "oncall@example.com" }
object NotificationCommand "page" { command = [ "/bin/true" ] }
apply Notification "page-oncall" to Service {
  command = "page"
  users = [ "oncall" ]
  interval = 0
  assign where service.name == "http"
}
"#;

/// The configuration, then a result, an acknowledgement, a comment and a downtime,
/// arrive in Icinga DB's database with their history.
#[tokio::test]
async fn icingadb_fills_the_database_at_startup_and_live() {
    if !Stack::available() {
        return;
    }
    let stack = Stack::start(OBJECTS).await;
    let s = &stack.server;
    let hosts = stack
        .rows_until(
            "SELECT h.name, h.display_name, h.address, hs.soft_state FROM host h \
             JOIN host_state hs ON hs.host_id = h.id ORDER BY h.name",
            |r| r.lines().count() == 2,
        )
        .await;
    assert_eq!(
        hosts,
        "db-1\tdb-1\t192.0.2.2\t99\nweb-1\tWeb One\t192.0.2.1\t99\n"
    );
    let services = stack
        .rows_until(
            "SELECT h.name, s.name FROM service s JOIN host h ON h.id = s.host_id ORDER BY 1, 2",
            |r| r.lines().count() == 4,
        )
        .await;
    assert_eq!(
        services,
        "db-1\tdisk\ndb-1\ticingadb\nweb-1\tdisk\nweb-1\thttp\n"
    );
    let members = stack
        .db
        .sql(
            "icingadb",
            "SELECT h.name, g.name FROM hostgroup_member m JOIN host h ON h.id = m.host_id \
             JOIN hostgroup g ON g.id = m.hostgroup_id",
        )
        .await;
    assert_eq!(members, "web-1\tlinux\n");
    let vars = stack
        .db
        .sql(
            "icingadb",
            "SELECT c.name, c.value FROM host_customvar hc JOIN customvar c ON c.id = hc.customvar_id",
        )
        .await;
    assert_eq!(vars, "os\t\"Linux\"\n");

    // Icinga's `icingadb` check sees the writer, the daemon's heartbeat, and that the
    // daemon is responsible.
    // (The writer reads the daemon's heartbeat once a second: until then it is missing.)
    let output = eventually("the icingadb check sees the daemon", || async {
        let before = s.now();
        let (status, _) = s
            .post(
                "/v1/actions/reschedule-check",
                json!({"type": "Service", "service": "db-1!icingadb", "force": true}),
            )
            .await;
        assert_eq!(status, 200);
        let attrs = s
            .wait_for("/v1/objects/services/db-1!icingadb", |a| {
                a["last_check"].as_f64().is_some_and(|t| t >= before)
            })
            .await;
        let output = attrs["last_check_result"]["output"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if output.starts_with("Icinga DB OK") {
            Ok(output)
        } else {
            Err(output)
        }
    })
    .await;
    assert!(output.starts_with("Icinga DB OK: Uptime: "), "{output}");
    assert!(output.contains("\n* Responsible"), "{output}");
    assert!(output.contains("Last full dump: "), "{output}");

    // A result: the state row follows, and the state history has the change.
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Service", "service": "web-1!http", "exit_status": 2,
                   "plugin_output": "CRITICAL - down\ndetails", "performance_data": ["time=0.5s;1;2"]}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let state = stack
        .rows_until(
            "SELECT st.soft_state, st.hard_state, st.state_type, st.output, st.long_output, \
             st.normalized_performance_data, st.check_attempt FROM service_state st \
             JOIN service s ON s.id = st.service_id JOIN host h ON h.id = s.host_id \
             WHERE h.name = 'web-1' AND s.name = 'http'",
            |r| r.starts_with("2\t"),
        )
        .await;
    assert_eq!(
        state,
        "2\t3\tsoft\tCRITICAL - down\tdetails\ttime=0.500000s;1;2\t1\n"
    );
    let history = stack
        .rows_until(
            "SELECT sh.state_type, sh.soft_state, sh.previous_soft_state, sh.output, \
             sh.max_check_attempts FROM state_history sh JOIN service s ON s.id = sh.service_id \
             WHERE s.name = 'http'",
            |r| !r.is_empty(),
        )
        .await;
    assert_eq!(history, "soft\t2\t99\tCRITICAL - down\t2\n");

    // A second CRITICAL makes it HARD (max_check_attempts = 2).
    s.post(
        "/v1/actions/process-check-result",
        json!({"type": "Service", "service": "web-1!http", "exit_status": 2, "plugin_output": "still down"}),
    )
    .await;
    stack
        .rows_until(
            "SELECT st.hard_state, st.state_type FROM service_state st \
             JOIN service s ON s.id = st.service_id WHERE s.name = 'http'",
            |r| r == "2\thard\n",
        )
        .await;

    // The problem notification went to the user.
    let sent = stack
        .rows_until(
            "SELECT n.type, n.text, n.users_notified, u.name FROM notification_history n \
             JOIN user_notification_history un ON un.notification_history_id = n.id \
             JOIN user u ON u.id = un.user_id",
            |r| !r.is_empty(),
        )
        .await;
    assert_eq!(sent, "problem\tstill down\t1\toncall\n");

    // An acknowledgement, a comment and a downtime.
    let (status, _) = s
        .post(
            "/v1/actions/acknowledge-problem",
            json!({"type": "Service", "filter": "service.name == \"http\"", "author": "ops", "comment": "on it"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .post(
            "/v1/actions/add-comment",
            json!({"type": "Host", "filter": "host.name == \"db-1\"", "author": "ops", "comment": "a note"}),
        )
        .await;
    assert_eq!(status, 200);
    let now = s.now();
    let (status, _) = s
        .post(
            "/v1/actions/schedule-downtime",
            json!({"type": "Host", "filter": "host.name == \"db-1\"", "author": "ops", "comment": "maintenance",
                   "start_time": now - 10.0, "end_time": now + 3600.0, "fixed": true}),
        )
        .await;
    assert_eq!(status, 200);
    stack
        .rows_until(
            "SELECT st.is_acknowledged, st.is_handled FROM service_state st \
             JOIN service s ON s.id = st.service_id WHERE s.name = 'http'",
            |r| r == "y\ty\n",
        )
        .await;
    stack
        .rows_until(
            "SELECT author, text, entry_type FROM comment ORDER BY entry_type",
            |r| r == "ops\ta note\tcomment\nops\ton it\tack\n",
        )
        .await;
    stack
        .rows_until(
            "SELECT d.comment, d.is_in_effect, hs.in_downtime FROM downtime d \
             JOIN host_state hs ON hs.host_id = d.host_id",
            |r| r == "maintenance\ty\ty\n",
        )
        .await;
    stack
        .rows_until(
            "SELECT event_type, object_type FROM history WHERE service_id IS NULL \
             OR service_id NOT IN (SELECT id FROM service WHERE name = 'icingadb') \
             ORDER BY CAST(event_type AS CHAR)",
            |r| {
                r == "ack_set\tservice\ncomment_add\thost\ndowntime_start\thost\n\
                      notification\tservice\nstate_change\tservice\nstate_change\tservice\n"
            },
        )
        .await;

    // Removing the comment and the downtime ends them in the history too (the downtime
    // started once: when it was triggered).
    for (action, kind) in [("remove-comment", "Host"), ("remove-downtime", "Host")] {
        let (status, res) = s
            .post(
                &format!("/v1/actions/{action}"),
                json!({"type": kind, "filter": "host.name == \"db-1\"", "author": "ops"}),
            )
            .await;
        assert_eq!(status, 200, "{res}");
    }
    stack
        .rows_until(
            "SELECT h.event_type, c.removed_by, c.has_been_removed FROM history h \
             JOIN comment_history c ON c.comment_id = h.comment_history_id \
             ORDER BY CAST(h.event_type AS CHAR)",
            |r| r == "comment_add\tops\ty\ncomment_remove\tops\ty\n",
        )
        .await;
    stack
        .rows_until(
            "SELECT h.event_type, d.cancelled_by, d.has_been_cancelled, d.flexible_duration \
             FROM history h JOIN downtime_history d ON d.downtime_id = h.downtime_history_id \
             ORDER BY CAST(h.event_type AS CHAR)",
            |r| r == "downtime_end\tops\ty\t0\ndowntime_start\tops\ty\t0\n",
        )
        .await;

    // A host added at runtime appears; a host deleted disappears.
    let (status, res) = s
        .send(
            "PUT",
            "/v1/objects/hosts/app-1",
            json!({"attrs": {"check_command": "dummy", "address": "192.0.2.3"}}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    stack
        .rows_until(
            "SELECT h.name, s.name FROM host h LEFT JOIN service s ON s.host_id = h.id \
             WHERE h.name = 'app-1'",
            |r| r == "app-1\tdisk\n",
        )
        .await;
    let (status, res) = s
        .send("DELETE", "/v1/objects/hosts/app-1?cascade=1", json!({}))
        .await;
    assert_eq!(status, 200, "{res}");
    stack
        .rows_until("SELECT name FROM host WHERE name = 'app-1'", str::is_empty)
        .await;
    stack
        .rows_until(
            "SELECT s.name FROM service s WHERE s.host_id NOT IN (SELECT id FROM host)",
            str::is_empty,
        )
        .await;
}

/// Icinga 2 itself (`icinga2 daemon`, r2.13 from Debian) writing the same configuration
/// into another database of the same Redis: every row of every hash must be the same
/// (ids, attributes, checksums), apart from the times of the next checks.
#[tokio::test]
async fn dump_matches_icinga() {
    if !Stack::available() || !crate::icinga_configs::icinga2_installed() {
        return;
    }
    let redis = Redis::start().await;
    let environment = "0123456789abcdef0123456789abcdef01234567";
    let objects = format!(
        "include <itl>\ninclude <plugins>\n\
         object Endpoint NodeName {{ }}\n\
         object Zone ZoneName {{ endpoints = [ NodeName ] }}\n{PARITY}"
    );
    // Icinga 2 in a directory of its own (it drops to its own user: world-writable).
    let icinga = tempfile::tempdir().unwrap();
    let root = icinga.path();
    for d in ["data", "run/icinga2/cmd", "log", "cache"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for d in [
        "",
        "data",
        "run",
        "run/icinga2",
        "run/icinga2/cmd",
        "log",
        "cache",
    ] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::write(root.join("data/icingadb.env"), format!("\"{environment}\"")).unwrap();
    std::fs::write(
        root.join("icinga2.conf"),
        format!(
            "const NodeName = \"localhost\"\nconst ZoneName = \"localhost\"\n\
             const PluginDir = \"/usr/lib/nagios/plugins\"\n\
             object IcingaApplication \"app\" {{ }}\n\
             object IcingaDB \"icingadb\" {{ host = \"127.0.0.1\"; port = {}; db_index = 0 }}\n{objects}",
            redis.port
        ),
    )
    .unwrap();
    let r = root.display();
    let mut icinga2 = Daemon::spawn(
        crate::icinga_configs::icinga2_command()
            .arg("daemon")
            .arg("-c")
            .arg(root.join("icinga2.conf"))
            .args([
                format!("-DDataDir={r}/data"),
                format!("-DStateDir={r}/data"),
                format!("-DSpoolDir={r}/data"),
                format!("-DCacheDir={r}/cache"),
                format!("-DLogDir={r}/log"),
                format!("-DInitRunDir={r}/run"),
            ]),
    );
    icinga2
        .logged("Icinga 2's dump", |l| {
            l.contains("Initial config/status dump finished")
        })
        .await;
    drop(icinga2);

    // Auspex with the same objects and environment, into database 1.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("etc");
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        dir.path().join("data/icingadb.env"),
        format!("\"{environment}\""),
    )
    .unwrap();
    std::fs::write(conf.join("users.conf"), crate::util::USERS).unwrap();
    std::fs::write(
        conf.join("extra.conf"),
        format!(
            "object IcingaDB \"icingadb\" {{ host = \"127.0.0.1\"; port = {}; db_index = 1 }}\n{objects}",
            redis.port
        ),
    )
    .unwrap();
    let _server = Server::start_in(dir, conf).await;
    Written::at(redis.port, 1).dumped().await;
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/1", redis.port)).unwrap();
    let mut auspex = client.get_connection().unwrap();
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", redis.port)).unwrap();
    let mut icinga = client.get_connection().unwrap();
    let hashes = |c: &mut redis::Connection| -> std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, serde_json::Value>,
    > {
        let keys: Vec<String> = redis::cmd("KEYS").arg("icinga:*").query(c).unwrap();
        let mut out = std::collections::BTreeMap::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query(c).unwrap();
            if kind != "hash" {
                continue;
            }
            let rows: std::collections::HashMap<String, String> =
                redis::cmd("HGETALL").arg(&key).query(c).unwrap();
            let rows = rows
                .into_iter()
                .map(|(id, v)| {
                    let mut v: serde_json::Value = serde_json::from_str(&v).unwrap();
                    if key.ends_with(":state") {
                        // The next check is random, and the state's checksum covers it.
                        for f in ["next_check", "next_update", "last_state_change", "checksum"] {
                            if let Some(m) = v.as_object_mut() {
                                m.remove(f);
                            }
                        }
                    }
                    (id, v)
                })
                .collect();
            out.insert(key, rows);
        }
        out
    };
    let (mut theirs, ours) = (hashes(&mut icinga), hashes(&mut auspex));
    theirs.retain(|_, rows| !rows.is_empty());
    assert_eq!(
        theirs.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>(),
        "the same hashes"
    );
    for (key, rows) in &theirs {
        let mine = &ours[key];
        for (id, row) in rows {
            assert_eq!(Some(row), mine.get(id), "{key} {id}");
        }
        assert_eq!(
            rows.len(),
            mine.len(),
            "{key}: {:?}",
            mine.keys()
                .filter(|k| !rows.contains_key(*k))
                .collect::<Vec<_>>()
        );
    }
}

/// Objects of every type Icinga DB reads, with the attributes and relations it writes.
const PARITY: &str = r#"
object CheckCommand "my-check" {
  command = [ PluginDir + "/check_dummy" ]
  arguments = {
    "-w" = { value = "$warn$"; description = "warning"; order = 1; required = true }
    "-c" = "$crit$"
    "--flag" = { set_if = "$flag$" }
    "-l" = {{ return "computed" }}
  }
  env = { "MY_ENV" = "$host.name$" }
  timeout = 30
}
object EventCommand "restart" { command = [ "/bin/true" ] }
object TimePeriod "work" {
  display_name = "Work hours"
  ranges = { "monday" = "09:00-17:00", "tuesday" = "09:00-17:00" }
}
object TimePeriod "never" { ranges = {} }
object TimePeriod "work-but-never" { includes = [ "work" ]; excludes = [ "never" ]; prefer_includes = false }
object HostGroup "linux" { display_name = "Linux servers" }
object ServiceGroup "web" { display_name = "Web" }
object User "alice" { display_name = "Alice"; email = "alice@example.com"; groups = [ "ops" ]; states = [ OK, Critical ]; types = [ Problem, Recovery ]; period = "work" }
object User "bob" { groups = [ "ops" ]; vars.team = "db" }
object UserGroup "ops" { display_name = "Operations" }
object NotificationCommand "mail" { command = [ "/bin/true" ] }
object Host "web-1" {
  check_command = "dummy"
  address = "192.0.2.1"
  address6 = "2001:db8::1"
  display_name = "Web One"
  groups = [ "linux" ]
  vars.os = "Linux"
  vars.disks = { "/" = { warn = "10%" } }
  vars.ports = [ 80, 443 ]
  vars.weight = 1.5
  vars.func = function() { return 1 }
  notes = "a note"
  notes_url = "https://example.com/notes"
  action_url = "https://example.com/action"
  icon_image = "icon.png"
  icon_image_alt = "an icon"
  event_command = "restart"
  check_period = "work"
  check_timeout = 20
  enable_active_checks = false
}
object Host "db-1" { check_command = "dummy"; address = "192.0.2.2"; vars.os = "Linux"; check_interval = 120; retry_interval = 30; max_check_attempts = 5; volatile = true; enable_flapping = true; flapping_threshold_low = 10; flapping_threshold_high = 20; enable_active_checks = false }
object Service "http" { host_name = "web-1"; check_command = "my-check"; groups = [ "web" ]; vars.warn = 5; check_period = "work"; enable_active_checks = false; display_name = "HTTP" }
apply Service "ping" { check_command = "dummy"; vars.dummy_text = "pong"; assign where host.vars.os == "Linux"; enable_active_checks = false; enable_perfdata = false }
apply Notification "mail-alice" to Service { command = "mail"; users = [ "alice" ]; user_groups = [ "ops" ]; interval = 0; times = { begin = 5m, end = 1h }; period = "work"; types = [ Problem ]; states = [ Critical ]; assign where service.name == "http" }
apply Notification "mail-host" to Host { command = "mail"; users = [ "bob" ]; assign where host.name == "db-1" }
"#;

/// What a writer wrote into Redis: a hash's row, and stream entries waited for with
/// `XREAD BLOCK` (Redis announces them).
struct Written(redis::Client);

/// A stream entry's fields.
type Fields = std::collections::HashMap<String, String>;

impl Written {
    /// Database `db` of the Redis on `port`.
    fn at(port: u16, db: u8) -> Written {
        Written(redis::Client::open(format!("redis://127.0.0.1:{port}/{db}")).unwrap())
    }

    fn row(&self, key: &str, id: &str) -> Option<serde_json::Value> {
        let mut c = self.0.get_connection().unwrap();
        let v: Option<String> = redis::cmd("HGET").arg(key).arg(id).query(&mut c).ok()?;
        v.and_then(|v| serde_json::from_str(&v).ok())
    }

    /// Waits (30 s at most) for an entry of the stream `key`, from its start on, that
    /// `wanted` accepts (on a blocking thread: the server runs on this test's runtime).
    async fn entry(&self, key: &str, wanted: impl Fn(&Fields) -> bool + Send + 'static) -> Fields {
        let (client, key) = (self.0.clone(), key.to_string());
        tokio::task::spawn_blocking(move || {
            let mut c = client.get_connection().unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            let mut last = "0-0".to_string();
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                assert!(!left.is_zero(), "no such entry in {key}");
                let reply: Option<redis::streams::StreamReadReply> = redis::cmd("XREAD")
                    .arg("BLOCK")
                    .arg(left.as_millis().max(1) as u64)
                    .arg("STREAMS")
                    .arg(&key)
                    .arg(&last)
                    .query(&mut c)
                    .unwrap();
                for e in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
                    last.clone_from(&e.id);
                    let fields: Fields = e
                        .map
                        .iter()
                        .filter_map(|(k, v)| {
                            redis::from_redis_value::<String>(v)
                                .ok()
                                .map(|v| (k.clone(), v))
                        })
                        .collect();
                    if wanted(&fields) {
                        return fields;
                    }
                }
            }
        })
        .await
        .unwrap()
    }

    /// Waits for the writer's dump to be complete (`icinga:dump` reports every key done).
    async fn dumped(&self) {
        self.entry("icinga:dump", |e| {
            e.get("key").map(String::as_str) == Some("*")
                && e.get("state").map(String::as_str) == Some("done")
        })
        .await;
    }
}

/// Redis goes away and comes back empty: the writer reconnects, dumps everything again,
/// and writes the history of what happened meanwhile; `/v1/status` and `/metrics` show
/// the writer's connection and lag.
#[tokio::test]
async fn writer_resynchronises_after_losing_redis() {
    if !Stack::available() {
        return;
    }
    let redis = Redis::start().await;
    let port = redis.port;
    let s = Server::start(&format!(
        "object IcingaDB \"icingadb\" {{ host = \"127.0.0.1\"; port = {port} }}\n{OBJECTS}"
    ))
    .await;
    // The environment as Icinga derives it: from the CA's public key.
    let env = auspex::icingadb::environment_id(&s.data_dir, &s.data_dir.join("ca/ca.crt")).unwrap();
    let service = auspex::icingadb::pack::object_id(&env, "web-1!http");
    let w = Written::at(port, 0);
    w.dumped().await;
    assert!(w.row("icinga:service", &service).is_some());
    let (_, st) = s.get("/v1/status/IcingaDB").await;
    assert_eq!(
        st["results"][0]["status"]["icingadb"]["icingadb"]["connected"], true,
        "{st}"
    );

    drop(redis);
    let (status, _) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Service", "service": "web-1!http", "exit_status": 2, "plugin_output": "while Redis was away"}),
        )
        .await;
    assert_eq!(status, 200);
    // The writer notices when it writes the result.
    let writer = eventually("the writer notices", || async {
        let (_, st) = s.get("/v1/status/IcingaDB").await;
        let writer = st["results"][0]["status"]["icingadb"]["icingadb"].clone();
        if writer["connected"] == false {
            Ok(writer)
        } else {
            Err(st.to_string())
        }
    })
    .await;
    assert!(writer["events_behind"].as_u64().unwrap() > 0, "{writer}");

    let _redis = Redis::start_on(port).await;
    let w = Written::at(port, 0);
    w.dumped().await;
    let state = w.row("icinga:service:state", &service).unwrap();
    assert_eq!(
        state["output"], "while Redis was away",
        "the dump has the new state"
    );
    // The history of the change made meanwhile.
    w.entry("icinga:history:stream:state", |e| {
        e.get("output").map(String::as_str) == Some("while Redis was away")
    })
    .await;
    let metrics = s.text("/metrics").await;
    assert!(
        metrics.contains("icingadb_connected{name=\"icingadb\"} 1"),
        "{metrics}"
    );
}

/// Redis over TLS with client certificates (`enable_tls`, `ca_path`, `cert_path`,
/// `key_path`): the writer verifies Redis's certificate against the CA and presents its
/// own.
#[tokio::test]
async fn writer_speaks_tls_with_client_certificates() {
    if !Stack::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = auspex::pki::Authority::create(&d.join("ca.crt"), &d.join("ca.key")).unwrap();
    for (name, cn) in [("redis", "127.0.0.1"), ("client", "auspex")] {
        let (cert, key) = ca.issue(cn).unwrap();
        std::fs::write(d.join(format!("{name}.crt")), cert).unwrap();
        std::fs::write(d.join(format!("{name}.key")), key).unwrap();
    }
    let port = crate::peers::free_port();
    let path = |f: &str| d.join(f).display().to_string();
    let mut redis = Daemon::spawn(std::process::Command::new("redis-server").args([
        "--port",
        "0",
        "--tls-port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--tls-cert-file",
        &path("redis.crt"),
        "--tls-key-file",
        &path("redis.key"),
        "--tls-ca-cert-file",
        &path("ca.crt"),
        "--tls-auth-clients",
        "yes",
    ]));
    redis
        .logged("Redis over TLS", |l| {
            l.contains("Ready to accept connections")
        })
        .await;
    let s = Server::start(&format!(
        "object IcingaDB \"icingadb\" {{\n  host = \"127.0.0.1\"; port = {port}; enable_tls = true\n  \
         ca_path = \"{}\"; cert_path = \"{}\"; key_path = \"{}\"\n}}\n{OBJECTS}",
        path("ca.crt"),
        path("client.crt"),
        path("client.key")
    ))
    .await;
    // Read back over TLS with the same client certificate.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    let client = redis::Client::build_with_tls(
        redis::ConnectionInfo {
            addr: redis::ConnectionAddr::TcpTls {
                host: "127.0.0.1".into(),
                port,
                insecure: false,
                tls_params: None,
            },
            redis: redis::RedisConnectionInfo::default(),
        },
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: read("client.crt"),
                client_key: read("client.key"),
            }),
            root_cert: Some(read("ca.crt")),
        },
    )
    .unwrap();
    let w = Written(client);
    w.dumped().await;
    let hosts: usize = redis::cmd("HLEN")
        .arg("icinga:host")
        .query(&mut w.0.get_connection().unwrap())
        .unwrap();
    assert_eq!(hosts, 2);
    let (_, st) = s.get("/v1/status/IcingaDB").await;
    assert_eq!(
        st["results"][0]["status"]["icingadb"]["icingadb"]["connected"],
        true
    );
}
