//! The API's settings: the `ApiListener` object's, and the guards that protect the server
//! from expensive or hostile clients.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use http::{HeaderName, HeaderValue};
use ipnet::IpNet;

use crate::objects::{Object, Registry};

/// The limits that keep one client (or a crowd of them) from taking the server from the
/// others; docs/security.md explains each. The defaults suit a production site.
#[derive(Clone, Debug)]
pub struct Guards {
    /// How long the filters of one request (a query, an action's selection) may evaluate
    /// before it is refused.
    pub filter_budget: Duration,
    /// How many evaluation steps the filters of one request may take together.
    pub filter_steps: u64,
    /// How long one event-stream filter may take for one event before the event is
    /// skipped for that stream.
    pub event_filter_budget: Duration,
    /// How long one console script may run.
    pub console_budget: Duration,
    /// Threads that evaluate filters and scripts (at a lower priority than the runtime).
    pub evaluator_threads: usize,
    /// Open connections at most; when all are taken, the oldest one that has not
    /// authenticated is closed for a newcomer.
    pub max_connections: usize,
    /// Open connections from one address at most.
    pub max_connections_per_address: usize,
    /// An event stream whose client has not read for this long is closed (it resumes
    /// with `Last-Event-ID` and misses nothing the journal still holds).
    pub stream_stall_timeout: Duration,
    /// A connection that sends no complete request header for this long is closed
    /// (Icinga: 10 s).
    pub idle_timeout: Duration,
    /// How long a request body may take before it must arrive at 1 KiB/s on average.
    pub body_grace: Duration,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            filter_budget: Duration::from_secs(10),
            filter_steps: filters::Limits::default().max_steps,
            event_filter_budget: Duration::from_millis(100),
            console_budget: Duration::from_secs(300),
            evaluator_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_connections: 4096,
            max_connections_per_address: 2048,
            stream_stall_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(10),
            body_grace: Duration::from_secs(10),
        }
    }
}

/// What the server offers at its edge, set on the command line.
#[derive(Clone, Debug, Default)]
pub struct EdgeSettings {
    pub client_certificates: ClientCertificates,
    pub probes: Probes,
    /// Reverse proxies whose `X-Forwarded-For` names the client (its last address not
    /// itself a trusted proxy): the blocklist, `allowed_hosts`-style decisions after the
    /// connection, per-address figures and the request log use that address.
    pub trusted_proxies: Vec<IpNet>,
}

/// Whether the server asks clients for a certificate during the handshake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientCertificates {
    /// Ask (Icinga's behaviour): clients may authenticate with a certificate of our CA.
    #[default]
    Request,
    /// Never ask: for sites whose clients all use passwords or tokens, where a request
    /// would make browsers prompt for (or fail on) a certificate.
    Off,
}

/// Who may read `/-/healthy` and `/-/ready`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Probes {
    /// Everyone, without credentials (load balancers, orchestrators).
    #[default]
    Open,
    /// Authenticated users only.
    Authenticated,
    /// Nobody: the paths answer 404 as any unknown path.
    Off,
}

/// Settings of the ApiListener object.
#[derive(Debug)]
pub struct ListenerSettings {
    /// Clients allowed to connect; empty means everyone.
    pub allowed_hosts: Vec<IpNet>,
    pub allow_origins: Vec<String>,
    /// CORS: whether browsers may send credentials (Icinga's default: yes).
    pub allow_credentials: bool,
    /// CORS preflight answers: the request headers allowed (Icinga's attribute; Auspex's
    /// default adds what its browser clients send).
    pub allow_headers: HeaderValue,
    pub allow_methods: HeaderValue,
    pub response_headers: Vec<(HeaderName, HeaderValue)>,
    pub auth_failure_limit: u32,
    pub auth_block_duration: Duration,
    pub bind: Option<SocketAddr>,
}

impl Default for ListenerSettings {
    /// Icinga's defaults.
    fn default() -> Self {
        ListenerSettings {
            allowed_hosts: Vec::new(),
            allow_origins: Vec::new(),
            allow_credentials: true,
            allow_headers: HeaderValue::from_static(
                "Authorization, Content-Type, Accept, Last-Event-ID, X-HTTP-Method-Override",
            ),
            allow_methods: HeaderValue::from_static("GET, POST, PUT, DELETE"),
            response_headers: Vec::new(),
            auth_failure_limit: 6,
            auth_block_duration: Duration::from_secs(600),
            bind: None,
        }
    }
}

impl ListenerSettings {
    /// The settings of the configuration's `ApiListener` (defaults without one).
    ///
    /// # Errors
    /// An invalid address, header or bind address.
    pub fn from_registry(registry: &Registry) -> Result<ListenerSettings> {
        Self::from_object(registry.objects("ApiListener").next())
    }

    /// Checks the configuration's `ApiListener` (a configuration check of the engine).
    ///
    /// # Errors
    /// As [`ListenerSettings::from_registry`].
    pub fn check(registry: &Registry) -> Result<()> {
        Self::from_registry(registry).map(|_| ())
    }

    fn from_object(o: Option<&Arc<Object>>) -> Result<ListenerSettings> {
        let mut s = ListenerSettings::default();
        let Some(o) = o else { return Ok(s) };
        // Icinga's attributes that Auspex accepts but does not apply: its TLS comes from
        // its own PKI and settings, and it runs no cluster protocol (yet).
        for name in [
            "cert_path",
            "key_path",
            "ca_path",
            "crl_path",
            "cipher_list",
            "tls_protocolmin",
            "tls_handshake_timeout",
            "connect_timeout",
            "accept_config",
            "accept_commands",
            "max_anonymous_clients",
        ] {
            if o.attrs.contains_key(name) {
                tracing::warn!(
                    "ApiListener '{}': attribute '{name}' is accepted but not applied by Auspex.",
                    o.name
                );
            }
        }
        let strings = |name: &str| -> Vec<String> {
            match o.attr(name) {
                Some(filters::Value::Array(a)) => a.iter().map(|v| v.to_display_string()).collect(),
                Some(v) if !v.is_empty() => vec![v.to_display_string()],
                _ => Vec::new(),
            }
        };
        for h in strings("allowed_hosts") {
            let net = h
                .parse::<IpNet>()
                .or_else(|_| h.parse::<IpAddr>().map(IpNet::from))
                .with_context(|| format!("ApiListener allowed_hosts: invalid address '{h}'"))?;
            s.allowed_hosts.push(net);
        }
        s.allow_origins = strings("access_control_allow_origin");
        if let Some(v) = o.attr("access_control_allow_credentials") {
            s.allow_credentials = v.to_bool();
        }
        for (name, out) in [
            ("access_control_allow_headers", &mut s.allow_headers),
            ("access_control_allow_methods", &mut s.allow_methods),
        ] {
            if let Some(v) = o.attr(name).filter(|v| !v.is_empty()) {
                *out = HeaderValue::from_str(&v.to_display_string())
                    .with_context(|| format!("ApiListener {name}: invalid value"))?;
            }
        }
        if let Some(filters::Value::Dict(d)) = o.attr("http_response_headers") {
            for (k, v) in d.iter() {
                let name = HeaderName::from_bytes(k.as_bytes())
                    .with_context(|| format!("http_response_headers: invalid header '{k}'"))?;
                let value = HeaderValue::from_str(&v.to_display_string())
                    .with_context(|| format!("http_response_headers: invalid value for '{k}'"))?;
                s.response_headers.push((name, value));
            }
        }
        if let Some(n) = o
            .attr("auth_failure_limit")
            .and_then(|v| v.to_number().ok())
        {
            s.auth_failure_limit = n.max(1.0) as u32;
        }
        if let Some(n) = o
            .attr("auth_block_duration")
            .and_then(|v| v.to_number().ok())
        {
            s.auth_block_duration = Duration::from_secs_f64(n.max(0.0));
        }
        let host = o.string("bind_host");
        let port = o.string("bind_port");
        if !host.is_empty() || !port.is_empty() {
            let host = if host.is_empty() {
                "0.0.0.0".into()
            } else {
                host
            };
            let port = if port.is_empty() { "5665".into() } else { port };
            let addr = format!("{host}:{port}");
            s.bind = Some(
                addr.parse()
                    .or_else(|_| format!("[{host}]:{port}").parse())
                    .with_context(|| format!("ApiListener bind address '{addr}'"))?,
            );
        }
        Ok(s)
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        self.allowed_hosts.is_empty() || self.allowed_hosts.iter().any(|n| n.contains(&ip))
    }

    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allow_origins.iter().any(|o| o == origin || o == "*")
    }
}
