//! Icinga Web 2 with Icinga DB Web (Debian's `icingaweb2` and `icingadb-web`) on Auspex:
//! served by PHP's built-in web server over the Icinga DB stack of [`crate::icingadb`],
//! with Auspex as its command transport, driven in a headless Chromium. It lists
//! Auspex's hosts and services with their states, follows a result submitted to
//! Auspex, sends an acknowledgement back to Auspex, and shows the history. Skipped
//! without the stack, `php` and Icinga DB Web unless `AUSPEX_REQUIRE_ICINGADB` is set.
//! With `AUSPEX_SCREENSHOT_DIR` set, the pages' screenshots are written there.

use std::path::Path;
use std::process::Command;

use fantoccini::Locator;
use serde_json::json;

use crate::icingadb::Stack;
use crate::peers::{free_port, installed, page_until, Daemon};

const REQUIRE: &str = "AUSPEX_REQUIRE_ICINGADB";
const PUBLIC: &str = "/usr/share/icingaweb2/public";
const MODULE: &str = "/usr/share/icingaweb2/modules/icingadb";

const OBJECTS: &str = r#"
object Host "web-1" { check_command = "dummy"; address = "192.0.2.1"; display_name = "Web One"; enable_active_checks = false }
object Host "db-1" { check_command = "dummy"; address = "192.0.2.2"; enable_active_checks = false }
apply Service for (name in [ "http", "disk", "load" ]) {
  check_command = "dummy"
  enable_active_checks = false
  max_check_attempts = 1
  assign where true
}
"#;

/// Icinga Web 2 on PHP's built-in server: its configuration (the Icinga DB database and
/// Redis, Auspex as command transport, the external user `admin` with every permission).
struct IcingaWeb {
    port: u16,
    _php: Daemon,
}

impl IcingaWeb {
    async fn start(dir: &Path, stack: &Stack) -> IcingaWeb {
        let conf = dir.join("icingaweb2");
        let module = conf.join("modules/icingadb");
        std::fs::create_dir_all(&module).unwrap();
        std::fs::create_dir_all(conf.join("enabledModules")).unwrap();
        std::os::unix::fs::symlink(MODULE, conf.join("enabledModules/icingadb")).unwrap();
        let write = |path: &Path, text: String| std::fs::write(path, text).unwrap();
        write(
            &conf.join("config.ini"),
            "[global]\nconfig_resource = \"\"\nmodule_path = \"/usr/share/icingaweb2/modules\"\n\n\
             [logging]\nlog = \"none\"\n"
                .into(),
        );
        write(
            &conf.join("resources.ini"),
            format!(
                "[icingadb]\ntype = \"db\"\ndb = \"mysql\"\nhost = \"127.0.0.1\"\nport = \"{}\"\n\
                 dbname = \"icingadb\"\nusername = \"icingadb\"\npassword = \"icingadb\"\n\
                 charset = \"utf8mb4\"\n",
                stack.db.port
            ),
        );
        write(
            &conf.join("authentication.ini"),
            "[autologin]\nbackend = \"external\"\n".into(),
        );
        write(
            &conf.join("roles.ini"),
            "[admins]\nusers = \"admin\"\npermissions = \"*\"\n".into(),
        );
        write(
            &module.join("config.ini"),
            "[icingadb]\nresource = \"icingadb\"\n\n[redis]\ntls = \"0\"\n".into(),
        );
        write(
            &module.join("redis.ini"),
            format!(
                "[redis1]\nhost = \"127.0.0.1\"\nport = \"{}\"\n",
                stack.redis.port
            ),
        );
        write(
            &module.join("commandtransports.ini"),
            format!(
                "[auspex]\ntransport = \"api\"\nhost = \"127.0.0.1\"\nport = \"{}\"\n\
                 username = \"root\"\npassword = \"secret\"\n",
                stack.server.port
            ),
        );
        let port = free_port();
        let mut php = Daemon::spawn(
            Command::new("php")
                .arg("-S")
                .arg(format!("127.0.0.1:{port}"))
                .arg("-t")
                .arg(PUBLIC)
                .arg(format!("{PUBLIC}/index.php"))
                .env("ICINGAWEB_CONFIGDIR", &conf)
                // Icinga Web's external authentication: the web server's user.
                .env("REMOTE_USER", "admin"),
        );
        php.logged("PHP's web server started", |l| {
            l.contains("Development Server") && l.contains("started")
        })
        .await;
        IcingaWeb { port, _php: php }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Types `text` into the form field `css` (waiting for the form).
async fn fill(c: &fantoccini::Client, css: &str, text: &str) {
    let field = c.wait().for_element(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Presses the form's submit button labelled `label`.
async fn press(c: &fantoccini::Client, label: &str) {
    c.find(Locator::Css(&format!(
        "input[type=submit][value='{label}']"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
}

/// Flips a feature switch (a visually hidden checkbox that submits its form).
async fn toggle(c: &fantoccini::Client, form: &str, name: &str) {
    let css = format!("{form} input[type=checkbox][name={name}]");
    c.wait().for_element(Locator::Css(&css)).await.unwrap();
    c.execute(
        "document.querySelector(arguments[0]).click();",
        vec![json!(css)],
    )
    .await
    .unwrap();
}

async fn screenshot(c: &fantoccini::Client, name: &str) {
    if let Some(dir) = std::env::var_os("AUSPEX_SCREENSHOT_DIR") {
        let png = c.screenshot().await.unwrap();
        std::fs::write(Path::new(&dir).join(name), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn icinga_web_shows_and_controls_auspex() {
    if !Stack::available() || !installed("php", REQUIRE) || !Path::new(MODULE).exists() {
        assert!(
            std::env::var_os(REQUIRE).is_none(),
            "icingadb-web is required ({REQUIRE} is set)"
        );
        return;
    }
    let Some((_driver, c)) = crate::peers::browser(REQUIRE).await else {
        return;
    };
    let stack = Stack::start(OBJECTS).await;
    let s = &stack.server;
    let submit = |service: &'static str, exit: u8, output: &'static str| async move {
        let (status, res) = s
            .post(
                "/v1/actions/process-check-result",
                json!({"type": "Service", "service": service, "exit_status": exit, "plugin_output": output}),
            )
            .await;
        assert_eq!(status, 200, "{res}");
    };
    submit("web-1!http", 2, "HTTP CRITICAL - 503 Service Unavailable").await;
    submit("web-1!disk", 1, "DISK WARNING - / 86% used").await;
    submit("db-1!load", 0, "OK - load average: 0.31").await;
    let dir = tempfile::tempdir().unwrap();
    let web = IcingaWeb::start(dir.path(), &stack).await;

    // The services with Auspex's states.
    c.goto(&web.url("/icingadb/services")).await.unwrap();
    page_until(
        &c,
        "the services",
        "text().includes('HTTP CRITICAL - 503') && text().includes('DISK WARNING') \
         && text().includes('6 Services')",
    )
    .await;
    screenshot(&c, "icingadb-web-services.png").await;

    // A result submitted to Auspex changes what Icinga Web shows.
    submit("web-1!http", 0, "HTTP OK - 200 in 0.004 s").await;
    stack
        .rows_until(
            "SELECT st.soft_state FROM service_state st JOIN service s ON s.id = st.service_id \
             JOIN host h ON h.id = s.host_id WHERE h.name = 'web-1' AND s.name = 'http'",
            |r| r == "0\n",
        )
        .await;
    c.goto(&web.url("/icingadb/service?name=http&host.name=web-1"))
        .await
        .unwrap();
    page_until(
        &c,
        "the recovered service",
        "text().includes('HTTP OK - 200')",
    )
    .await;

    // An acknowledgement given in Icinga Web reaches Auspex through its API.
    c.goto(&web.url("/icingadb/service/acknowledge?name=disk&host.name=web-1"))
        .await
        .unwrap();
    let comment = c
        .wait()
        .for_element(Locator::Css("textarea[name=comment]"))
        .await
        .unwrap();
    comment.send_keys("disk cleanup running").await.unwrap();
    c.find(Locator::Css(
        "input[type=submit][value='Acknowledge problem']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let attrs = s
        .wait_for("/v1/objects/services/web-1!disk", |a| {
            a["acknowledgement"] == 1.0
        })
        .await;
    assert_eq!(attrs["acknowledgement"], 1.0);
    let (_, comments) = s
        .get("/v1/objects/comments?filter=comment.entry_type==4")
        .await;
    assert_eq!(
        comments["results"][0]["attrs"]["text"],
        "disk cleanup running"
    );
    assert_eq!(comments["results"][0]["attrs"]["author"], "admin");

    // The other commands of the service page: a comment, a downtime, a passive result,
    // a scheduled check, check now, and a feature switched on.
    let form = |path: &str| {
        web.url(&format!(
            "/icingadb/service/{path}?name=load&host.name=web-1"
        ))
    };
    c.goto(&form("add-comment")).await.unwrap();
    fill(&c, "textarea[name=comment]", "watching the load").await;
    press(&c, "Add comment").await;
    s.wait_for(
        "/v1/objects/comments?filter=comment.text==\"watching the load\"",
        |a| a["author"] == "admin",
    )
    .await;
    c.goto(&form("schedule-downtime")).await.unwrap();
    fill(&c, "textarea[name=comment]", "kernel update").await;
    press(&c, "Schedule downtime").await;
    let downtime = s
        .wait_for(
            "/v1/objects/downtimes?filter=downtime.comment==\"kernel update\"",
            |a| !a.is_null(),
        )
        .await;
    let span = downtime["end_time"].as_f64().unwrap() - downtime["start_time"].as_f64().unwrap();
    assert!((3590.0..=3610.0).contains(&span), "{downtime}");
    assert_eq!(downtime["fixed"], true);
    c.goto(&form("process-checkresult")).await.unwrap();
    c.wait()
        .for_element(Locator::Css("select[name=status]"))
        .await
        .unwrap()
        .select_by_value("1")
        .await
        .unwrap();
    fill(&c, "input[name=output]", "LOAD WARNING - 4.2").await;
    fill(&c, "input[name=perfdata]", "load1=4.2;4;8").await;
    press(&c, "Submit Passive Check Result").await;
    let load = s
        .wait_for("/v1/objects/services/web-1!load", |a| a["state"] == 1.0)
        .await;
    assert_eq!(load["last_check_result"]["output"], "LOAD WARNING - 4.2");
    c.goto(&form("schedule-check")).await.unwrap();
    press(&c, "Schedule check").await;
    let next = s.now() + 3600.0;
    s.wait_for("/v1/objects/services/web-1!load", |a| {
        a["next_check"]
            .as_f64()
            .is_some_and(|t| (t - next).abs() < 120.0)
    })
    .await;
    c.goto(&web.url("/icingadb/service?name=load&host.name=web-1"))
        .await
        .unwrap();
    let now = s.now();
    c.wait()
        .for_element(Locator::Css(
            "form[action*='check-now'] button, form[action*='check-now'] input[type=submit]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Forced: the check runs at once, though active checks are off.
    let checked = s
        .wait_for("/v1/objects/services/web-1!load", |a| {
            a["last_check"].as_f64().is_some_and(|t| t >= now)
        })
        .await;
    assert_eq!(checked["last_check_result"]["active"], true, "{checked}");
    c.goto(&web.url("/icingadb/service?name=load&host.name=web-1"))
        .await
        .unwrap();
    toggle(&c, "form.object-features", "active_checks_enabled").await;
    s.wait_for("/v1/objects/services/web-1!load", |a| {
        a["enable_active_checks"] == true
    })
    .await;
    // A global switch, on the health page: notifications off for the whole node.
    c.goto(&web.url("/icingadb/health")).await.unwrap();
    toggle(&c, "form.instance-features", "notifications_enabled").await;
    s.wait_for("/v1/objects/icingaapplications/app", |a| {
        a["enable_notifications"] == false
    })
    .await;

    // The history shows the state changes and the acknowledgement.
    stack
        .rows_until(
            "SELECT COUNT(*) FROM history WHERE event_type = 'ack_set'",
            |r| r == "1\n",
        )
        .await;
    c.goto(&web.url("/icingadb/history")).await.unwrap();
    page_until(
        &c,
        "the history",
        "text().includes('HTTP OK - 200') && text().includes('disk cleanup running')",
    )
    .await;
    screenshot(&c, "icingadb-web-history.png").await;
}
