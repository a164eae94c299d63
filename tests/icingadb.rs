//! The `IcingaDB` feature against the real Icinga DB stack from Debian: Auspex writes
//! into a Redis of the test's own, the unmodified `icingadb` daemon moves it into a
//! MariaDB of the test's own, and the test reads the database Icinga DB Web reads.
//! Skipped without `redis-server`, `icingadb` and MariaDB unless `AUSPEX_REQUIRE_ICINGADB`
//! is set (as CI sets it).

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::peers::{installed, Daemon, MariaDb, Redis};
use crate::util::Server;

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

    /// A query's rows (tab-separated) once `done` accepts them; 30 s at most (the
    /// daemon writes asynchronously).
    pub async fn rows_until(&self, query: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let rows = self.db.sql("icingadb", query).await;
            if done(&rows) {
                return rows;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{query} never matched; last: {rows}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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
            |r| r.lines().count() == 3,
        )
        .await;
    assert_eq!(services, "db-1\tdisk\nweb-1\tdisk\nweb-1\thttp\n");
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
            "SELECT state_type, soft_state, previous_soft_state, output, max_check_attempts \
             FROM state_history",
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
            "SELECT event_type, object_type FROM history ORDER BY CAST(event_type AS CHAR)",
            |r| {
                r == "ack_set\tservice\ncomment_add\thost\ndowntime_start\thost\n\
                      state_change\tservice\nstate_change\tservice\n"
            },
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
