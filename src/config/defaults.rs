//! The configuration a first start writes: `icinga2 api setup`'s API user, the sample
//! templates every Icinga installation has, the API listener and a demo that checks this
//! machine with Debian's monitoring-plugins.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use rand::distributions::Alphanumeric;
use rand::Rng;

const TEMPLATES: &str = r#"/*
 * The templates of Icinga 2's sample configuration (conf.d/templates.conf): clients
 * creating objects through the API import them by these names.
 */

template Host "generic-host" {
  max_check_attempts = 3
  check_interval = 1m
  retry_interval = 30s

  check_command = "hostalive"
}

template Service "generic-service" {
  max_check_attempts = 5
  check_interval = 1m
  retry_interval = 30s
}

template User "generic-user" {
}
"#;

const API_LISTENER: &str = r#"/*
 * The HTTPS API. Certificates live in the data directory (`auspex pki`).
 */

object ApiListener "api" {
  // Addresses allowed to connect (CIDR); everything else is refused at accept.
  // allowed_hosts = [ "127.0.0.0/8", "::1/128", "10.0.0.0/8" ]

  // Failed authentication or TLS attempts from one address before it is blocked,
  // and for how long (cleared by a restart or POST /v1/actions/unblock-address).
  // auth_failure_limit = 6
  // auth_block_duration = 10m
}
"#;

const DEMO: &str = r#"/*
 * Demo: this machine, checked with Debian's monitoring-plugins-basic
 * (apt-get install monitoring-plugins-basic). Remove this file to start empty.
 */

object Host NodeName {
  import "generic-host"

  address = "127.0.0.1"
  address6 = "::1"

  vars.os = "Linux"
  vars.disks["disk /"] = {
    disk_partitions = "/"
  }
}

apply Service "ping4" {
  import "generic-service"
  check_command = "ping4"
  assign where host.address
}

apply Service "load" {
  import "generic-service"
  check_command = "load"
  assign where host.name == NodeName
}

apply Service "procs" {
  import "generic-service"
  check_command = "procs"
  assign where host.name == NodeName
}

apply Service "users" {
  import "generic-service"
  check_command = "users"
  assign where host.name == NodeName
}

apply Service "swap" {
  import "generic-service"
  check_command = "swap"
  assign where host.name == NodeName
}

apply Service for (disk => config in host.vars.disks) {
  import "generic-service"
  check_command = "disk"
  vars += config
}

/* A service fed by scripts through /v1/actions/process-check-result. */
apply Service "passive" {
  import "generic-service"
  check_command = "passive"
  enable_active_checks = false
  assign where host.name == NodeName
}
"#;

/// What `api setup` created.
pub struct Setup {
    /// The generated password of user `root`, when the users file was written now.
    pub root_password: Option<String>,
}

/// Writes the default configuration into `dir`, leaving existing files alone. With
/// `demo`, the demo objects too.
pub fn write(dir: &Path, demo: bool) -> Result<Setup> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let users = dir.join("api-users.conf");
    let mut root_password = None;
    if !users.exists() {
        let password = generate_password();
        let text = format!(
            "/*\n * API users. `root` was created by `auspex api setup`.\n */\n\nobject ApiUser \"root\" {{\n  password = \"{password}\"\n  // client_cn = \"\"\n\n  permissions = [ \"*\" ]\n}}\n"
        );
        crate::pki::write_private(&users, &text)?;
        root_password = Some(password);
    }
    let constants = dir.join("constants.conf");
    if !constants.exists() {
        // `icinga2 node setup` writes the salt agents' tickets are derived from.
        let text = format!(
            "/*\n * Secret for PKI tickets (`generate-ticket`, `auspex pki ticket`). Keep it private.\n */\n\nconst TicketSalt = \"{}\"\n",
            generate_password()
        );
        crate::pki::write_private(&constants, &text)?;
    }
    for (name, text, wanted) in [
        ("templates.conf", TEMPLATES, true),
        ("api.conf", API_LISTENER, true),
        ("zones.conf", ZONES, true),
        ("demo.conf", DEMO, demo),
    ] {
        let path = dir.join(name);
        if wanted && !path.exists() {
            fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(Setup { root_password })
}

/// This node's endpoint and zone, and the global zones, as `icinga2 api setup` writes
/// them (clients such as Icinga Director look for the node's own `Endpoint`, and config
/// packages put objects into `zones.d/<zone>/`).
const ZONES: &str = "/*
 * This node's endpoint and zone, and the global zones for shared configuration.
 */

object Endpoint NodeName {
  host = NodeName
}

object Zone ZoneName {
  endpoints = [ NodeName ]
}

object Zone \"global-templates\" {
  global = true
}

object Zone \"director-global\" {
  global = true
}
";

fn generate_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}
