//! The `auspex` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tracing_appender::non_blocking::WorkerGuard;

use auspex::app::{self, App, Options};

/// A faster allocator than glibc's for a server that builds and drops many small JSON
/// documents per request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use auspex::pki;

#[derive(Parser)]
#[command(
    name = "auspex",
    version,
    about = "A monitoring engine that speaks the Icinga 2 REST API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter
    /// such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`.
    #[arg(long, global = true, env = "AUSPEX_LOG_LEVEL")]
    log_level: Option<String>,
    /// How standard output logs: `text` or `json` (one object per line, for log
    /// shippers).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "AUSPEX_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Clone)]
struct Dirs {
    /// Configuration directory (`conf.d` style, or with an `icinga2.conf` entry file).
    /// Default: `<data-dir>/etc`, written on first start.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where certificates and state live.
    #[arg(long, default_value = "data", env = "AUSPEX_DATA_DIR")]
    data_dir: PathBuf,
    /// The node name (certificate CN). Default: the host name.
    #[arg(long)]
    node_name: Option<String>,
    /// Events kept in the journal for resuming event streams (`Last-Event-ID`, `since`).
    #[arg(long, default_value_t = auspex::app::DEFAULT_EVENT_RETENTION, env = "AUSPEX_EVENT_RETENTION")]
    event_retention: u64,
    /// Seconds the filters of one request may evaluate before it is refused.
    #[arg(long, default_value_t = 10.0, env = "AUSPEX_FILTER_BUDGET")]
    filter_budget: f64,
    /// Evaluation steps the filters of one request may take together.
    #[arg(long, default_value_t = filters::Limits::default().max_steps, env = "AUSPEX_FILTER_STEPS")]
    filter_steps: u64,
    /// Seconds one console script may run.
    #[arg(long, default_value_t = 300.0, env = "AUSPEX_CONSOLE_BUDGET")]
    console_budget: f64,
    /// Open connections at most (event streams included); when all are taken, the
    /// oldest one that has not authenticated yet makes room for a newcomer.
    #[arg(long, default_value_t = auspex::app::Guards::default().max_connections, env = "AUSPEX_MAX_CONNECTIONS")]
    max_connections: usize,
    /// Open connections from one client address at most.
    #[arg(long, default_value_t = auspex::app::Guards::default().max_connections_per_address, env = "AUSPEX_MAX_CONNECTIONS_PER_ADDRESS")]
    max_connections_per_address: usize,
    /// Start with an empty store when the stored one is missing, empty or damaged (a
    /// damaged file is moved aside as `state.redb.corrupt-<time>`, never deleted).
    #[arg(long)]
    reinitialize: bool,
}

impl Dirs {
    fn options(&self, listen: Option<SocketAddr>) -> Options {
        Options {
            config_dir: self.config.clone(),
            data_dir: self.data_dir.clone(),
            listen,
            node_name: self.node_name.clone(),
            event_retention: self.event_retention,
            reinitialize: self.reinitialize,
            guards: auspex::app::Guards {
                filter_budget: seconds(self.filter_budget),
                filter_steps: self.filter_steps,
                console_budget: seconds(self.console_budget),
                max_connections: self.max_connections,
                max_connections_per_address: self.max_connections_per_address,
                ..Default::default()
            },
            edge: auspex::api::settings::EdgeSettings::default(),
            clock: auspex::clock::Clock::system(),
            cluster: None,
        }
    }
}

/// The cluster a node joins (see `docs/cluster.md`).
#[derive(Args, Clone)]
struct Cluster {
    /// The NATS server(s) with JetStream holding the cluster's log, e.g.
    /// `nats://127.0.0.1:4222` (comma-separated for several). Without it the node runs
    /// alone.
    #[arg(long = "cluster", value_name = "URL", env = "AUSPEX_CLUSTER")]
    url: Option<String>,
    /// The cluster's name: nodes of one name share one log.
    #[arg(long, default_value = "auspex", env = "AUSPEX_CLUSTER_NAME")]
    cluster_name: String,
    /// This node's zone: its nodes share the checks of the objects in it (objects of
    /// zones without a live node go to this default zone's nodes).
    #[arg(long, default_value = "master", env = "AUSPEX_CLUSTER_ZONE")]
    cluster_zone: String,
    /// Seconds a leader's lease lasts without renewal: a failed leader is replaced
    /// within about this time.
    #[arg(long, default_value_t = 3.0, env = "AUSPEX_CLUSTER_LEASE")]
    cluster_lease: f64,
    /// JetStream replicas of the log (the number of NATS servers to replicate over).
    #[arg(long, default_value_t = 1, env = "AUSPEX_CLUSTER_REPLICAS")]
    cluster_replicas: usize,
    /// Hours the log keeps records when it is created: a node stopped for longer starts
    /// from a copy of another node's store.
    #[arg(long, default_value_t = 168.0, env = "AUSPEX_CLUSTER_RETENTION_HOURS")]
    cluster_retention_hours: f64,
}

impl Cluster {
    fn options(&self, leader_eligible: bool) -> Option<auspex::cluster::Options> {
        let url = self.url.clone()?;
        Some(auspex::cluster::Options {
            name: self.cluster_name.clone(),
            zone: self.cluster_zone.clone(),
            leader_eligible,
            lease: seconds(self.cluster_lease.max(1.0)),
            replicas: self.cluster_replicas,
            retention: seconds(self.cluster_retention_hours.max(0.01) * 3600.0),
            ..auspex::cluster::Options::new(url)
        })
    }
}

/// What the server offers at its edge.
#[derive(Args, Clone)]
struct Edge {
    /// Whether the TLS handshake asks clients for a certificate: `request` (as Icinga;
    /// certificates of our CA authenticate, others fall back to Basic) or `off` (no
    /// certificate prompt in browsers; passwords and tokens only).
    #[arg(long, value_enum, default_value_t = ClientCertificates::Request, env = "AUSPEX_CLIENT_CERTIFICATES")]
    client_certificates: ClientCertificates,
    /// Who may read `/-/healthy` and `/-/ready`: `open` (no credentials),
    /// `authenticated`, or `off`.
    #[arg(long, value_enum, default_value_t = Probes::Open, env = "AUSPEX_PROBES")]
    probes: Probes,
    /// A reverse proxy (address or network, e.g. `10.0.0.0/8`) whose `X-Forwarded-For`
    /// names the client; repeat for several.
    #[arg(
        long = "trusted-proxy",
        value_name = "NETWORK",
        env = "AUSPEX_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<String>,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum ClientCertificates {
    Request,
    Off,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum Probes {
    Open,
    Authenticated,
    Off,
}

impl Edge {
    fn settings(&self) -> Result<auspex::api::settings::EdgeSettings> {
        use auspex::api::settings as s;
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| format!("--trusted-proxy {p}: not an address or network"))
            })
            .collect::<Result<_>>()?;
        Ok(s::EdgeSettings {
            client_certificates: match self.client_certificates {
                ClientCertificates::Request => s::ClientCertificates::Request,
                ClientCertificates::Off => s::ClientCertificates::Off,
            },
            probes: match self.probes {
                Probes::Open => s::Probes::Open,
                Probes::Authenticated => s::Probes::Authenticated,
                Probes::Off => s::Probes::Off,
            },
            trusted_proxies,
        })
    }
}

/// A duration from a number of seconds on the command line (negative or NaN: zero).
fn seconds(s: f64) -> std::time::Duration {
    std::time::Duration::try_from_secs_f64(s).unwrap_or_default()
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server. On first start without a configuration it performs `api setup`
    /// and loads a demo that checks this machine.
    Serve {
        #[command(flatten)]
        dirs: Dirs,
        /// Address to listen on (HTTPS). Default: the ApiListener's, else 0.0.0.0:5665.
        #[arg(long)]
        listen: Option<SocketAddr>,
        #[command(flatten)]
        edge: Edge,
        #[command(flatten)]
        cluster: Cluster,
    },
    /// Runs a cluster agent: it follows the cluster's log, serves reads and event
    /// streams, runs its share of its zone's checks and forwards writes, but never leads.
    Agent {
        #[command(flatten)]
        dirs: Dirs,
        /// Address to listen on (HTTPS). Default: the ApiListener's, else 0.0.0.0:5665.
        #[arg(long)]
        listen: Option<SocketAddr>,
        #[command(flatten)]
        edge: Edge,
        #[command(flatten)]
        cluster: Cluster,
    },
    /// API setup.
    Api {
        #[command(subcommand)]
        command: ApiCommand,
    },
    /// Certificates: a CA, keys, signing requests.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Loads and validates the configuration; prints errors with file, line and caret.
    CheckConfig {
        #[command(flatten)]
        dirs: Dirs,
    },
    /// Prints a shell completion script (`auspex completions bash > /etc/bash_completion.d/auspex`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Prints the manual page (roff): `auspex manpage | man -l -`.
    Manpage,
    /// Evaluates an expression of the Icinga DSL and prints the result as JSON, as
    /// `icinga2 console --eval` does.
    Console {
        /// The expression or script to evaluate.
        #[arg(long)]
        eval: String,
    },
}

#[derive(Subcommand)]
enum ApiCommand {
    /// Creates the CA, the node certificate and an ApiUser `root` with a random password
    /// (also in a `--config` directory that is empty).
    Setup {
        #[command(flatten)]
        dirs: Dirs,
        /// Also write checks of this machine (with Debian's monitoring-plugins).
        #[arg(long)]
        demo: bool,
    },
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Creates a new CA in `<data-dir>/ca`.
    NewCa {
        #[arg(long, default_value = "data", env = "AUSPEX_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Creates a key and a certificate signing request (or a self-signed certificate).
    NewCert {
        #[arg(long)]
        cn: String,
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        csr: Option<PathBuf>,
        /// Writes a certificate signed by the CA in `--data-dir` instead of a request.
        #[arg(long)]
        cert: Option<PathBuf>,
        #[arg(long, default_value = "data", env = "AUSPEX_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Signs a certificate signing request with the CA.
    SignCsr {
        #[arg(long)]
        csr: PathBuf,
        #[arg(long)]
        cert: PathBuf,
        #[arg(long, default_value = "data", env = "AUSPEX_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Prints the ticket an agent or satellite with common name `--cn` presents to get
    /// its certificate signed: with `--salt`, or the configuration's `TicketSalt`.
    Ticket {
        #[arg(long)]
        cn: String,
        #[arg(long)]
        salt: Option<String>,
        #[command(flatten)]
        dirs: Dirs,
    },
    /// Fetches a server's certificate (to pin it as trusted).
    SaveCert {
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 5665)]
        port: u16,
        #[arg(long)]
        trustedcert: PathBuf,
    },
}

/// A file size limit (`ulimit -f`) reached by the store must fail that write (the store
/// reports it and recovers once the limit allows) instead of killing the process.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: installs the ignore disposition for one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

fn main() -> ExitCode {
    ignore_file_size_signal();
    // Lines are formatted where they are logged and written by one thread in batches (one
    // write per burst, not per line): a request never waits for the log's terminal or file.
    // Not lossy: when the queue is full, loggers wait.
    let (writer, log) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::new(std::io::stdout()));
    // Standard output (filtered by --log-level or RUST_LOG), and the configuration's
    // logger features, each filtered by its own severity.
    let cli = Cli::parse();
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        use tracing_subscriber::Layer;
        let filter = match &cli.log_level {
            Some(level) => tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|e| {
                eprintln!("warning: --log-level {level}: {e}; logging at info");
                "info".into()
            }),
            None => tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info".into()),
        };
        let fmt = tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_writer(writer);
        let stdout = match cli.log_format {
            LogFormat::Json => fmt.json().flatten_event(true).boxed(),
            LogFormat::Text => fmt
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                .boxed(),
        };
        tracing_subscriber::registry()
            .with(stdout.with_filter(filter))
            .with(auspex::logging::FeatureLogs.with_filter(auspex::logging::SinkLevel))
            .init();
    }
    match run(cli.command, log) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("critical: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `log` is the log writer's guard: dropping it writes what is queued.
fn run(command: Command, log: WorkerGuard) -> Result<ExitCode> {
    match command {
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "auspex", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Console { eval } => {
            let (output, ok) = filters::console::eval_plain(&eval);
            println!("{output}");
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::CheckConfig { dirs } => {
            let opts = dirs.options(None);
            let start = auspex::allocator::Start::begin();
            let loaded = app::load_config(&opts.site());
            drop(start);
            match loaded {
                Ok(loaded) => {
                    let reg = &loaded.registry;
                    auspex::engine::warn_inert(reg);
                    // Icinga creates its database checks (`icingadb`, `ido`) when it
                    // activates its libraries, after validation: it does not count them.
                    let activated = reg
                        .objects("CheckCommand")
                        .filter(|c| c.location.path.starts_with("<methods>"))
                        .count();
                    for (t, mut n) in reg.counts() {
                        if t.name == "CheckCommand" {
                            n -= activated;
                        }
                        if n == 0 {
                            continue;
                        }
                        let name = if n == 1 { t.name } else { t.plural };
                        println!("information/ConfigItem: Instantiated {n} {name}.");
                    }
                    println!(
                        "information/config: Finished validating the configuration: {} hosts, {} services, {} API users.",
                        reg.count("Host"),
                        reg.count("Service"),
                        loaded.users.len()
                    );
                    // The process ends here: freeing a large configuration object by
                    // object would only delay the exit.
                    std::mem::forget(loaded);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Api {
            command: ApiCommand::Setup { dirs, demo },
        } => {
            let opts = dirs.options(None);
            let password = app::setup_into(&opts, demo)?;
            announce(&opts, password);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            dirs,
            listen,
            edge,
            cluster,
        } => run_server(&dirs, listen, &edge, cluster.options(true), log),
        Command::Agent {
            dirs,
            listen,
            edge,
            cluster,
        } => {
            let Some(options) = cluster.options(false) else {
                eprintln!(
                    "An agent joins a cluster: --cluster URL (or AUSPEX_CLUSTER) is required."
                );
                return Ok(ExitCode::FAILURE);
            };
            run_server(&dirs, listen, &edge, Some(options), log)
        }
        Command::Pki { command } => pki_command(command).map(|()| ExitCode::SUCCESS),
    }
}

/// `serve` and `agent`: sets up on first start, then serves until stopped.
fn run_server(
    dirs: &Dirs,
    listen: Option<SocketAddr>,
    edge: &Edge,
    cluster: Option<auspex::cluster::Options>,
    log: WorkerGuard,
) -> Result<ExitCode> {
    let opts = Options {
        edge: edge.settings()?,
        cluster,
        ..dirs.options(listen)
    };
    let password = app::setup(&opts, true)?;
    announce(&opts, password);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let served = rt.block_on(serve(opts, log));
    // The configured loggers write out what they hold, also after a failure.
    auspex::logging::close();
    served?;
    Ok(ExitCode::SUCCESS)
}

fn announce(opts: &Options, password: Option<String>) {
    if let Some(password) = password {
        println!(
            "API user 'root' created with password: {password}\n(stored in {}; shown only once)",
            opts.config_dir().join("api-users.conf").display()
        );
    }
}

async fn serve(opts: Options, log: WorkerGuard) -> Result<()> {
    // Every connection and event stream is a descriptor: allow as many as the system
    // lets this process have (the default soft limit is often 1 024).
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "Open file limit raised."),
        Err(e) => tracing::warn!(error = %e, "Could not raise the open file limit."),
    }
    // The handlers are in place before the server says it listens: a signal sent right
    // after that is handled, never met by its default action.
    use tokio::signal::unix::{signal, SignalKind};
    let stops = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    let hangups = signal(SignalKind::hangup());
    let app = App::start(opts).await?;
    let exit = app.state.engine.exit.requested.clone();
    let reloads = tokio::spawn(reload_on_hangup(app.state.engine.clone(), hangups));
    tokio::select! {
        () = shutdown_signal(stops) => {}
        () = exit.cancelled() => tracing::info!("Stop requested through the API."),
    }
    reloads.abort();
    let restart = app
        .state
        .engine
        .exit
        .restart
        .load(std::sync::atomic::Ordering::SeqCst);
    app.stop(Duration::from_secs(10)).await;
    if restart {
        auspex::logging::close();
        drop(log);
        // The same program with the same arguments, in this process (same pid).
        use std::os::unix::process::CommandExt;
        let mut args = std::env::args_os();
        let program = std::env::current_exe()?;
        let error = std::process::Command::new(program)
            .args(args.by_ref().skip(1))
            .exec();
        return Err(anyhow::anyhow!("restarting failed: {error}"));
    }
    Ok(())
}

/// SIGHUP, as Icinga's `reload`: the configuration (with the active config package
/// stages) is loaded again and switched in live; when it is not valid, the running one
/// stays and the errors are logged.
async fn reload_on_hangup(
    engine: std::sync::Arc<auspex::engine::Engine>,
    hangups: std::io::Result<tokio::signal::unix::Signal>,
) {
    let Ok(mut hangups) = hangups else {
        tracing::warn!("SIGHUP cannot be handled: reload through the API instead.");
        return;
    };
    while hangups.recv().await.is_some() {
        tracing::info!("Received SIGHUP; reloading the configuration.");
        // One configuration change at a time, as config package activations are.
        let _update = engine.package_update.lock().await;
        if let Err(errors) = auspex::reload::reload(&engine).await {
            for e in &errors {
                tracing::error!("{e}");
            }
            tracing::warn!("Reload failed; the running configuration stays.");
        }
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal(
    (term, int): (
        std::io::Result<tokio::signal::unix::Signal>,
        std::io::Result<tokio::signal::unix::Signal>,
    ),
) {
    let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
        match s {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = wait(int) => tracing::info!("Received SIGINT; shutting down."),
        () = wait(term) => tracing::info!("Received SIGTERM; shutting down."),
    }
}

fn pki_command(command: PkiCommand) -> Result<()> {
    match command {
        PkiCommand::Ticket { cn, salt, dirs } => {
            let salt = match salt {
                Some(s) => s,
                None => {
                    let loaded = app::load_config(&dirs.options(None).site())?;
                    loaded
                        .library
                        .constants()
                        .get("TicketSalt")
                        .map(|v| v.to_display_string())
                        .filter(|s| !s.is_empty())
                        .context("no TicketSalt in the configuration: give --salt")?
                }
            };
            println!("{}", auspex::actions::process::ticket_for(&cn, &salt));
        }
        PkiCommand::NewCa { data_dir } => {
            let paths = pki::Paths::new(&data_dir, "unused");
            pki::Authority::create(&paths.ca_cert, &paths.ca_key)?;
            println!(
                "information/pki: Created CA certificate {} and key {}.",
                paths.ca_cert.display(),
                paths.ca_key.display()
            );
        }
        PkiCommand::NewCert {
            cn,
            key,
            csr,
            cert,
            data_dir,
        } => {
            if let Some(cert_path) = cert {
                let paths = pki::Paths::new(&data_dir, "unused");
                let ca = pki::Authority::load(&paths.ca_cert, &paths.ca_key)?;
                let (cert_pem, key_pem) = ca.issue(&cn)?;
                pki::write_private(&key, &key_pem)?;
                pki::write_public(&cert_path, &cert_pem)?;
                println!(
                    "information/pki: Wrote key {} and certificate {}.",
                    key.display(),
                    cert_path.display()
                );
            } else {
                let csr = csr.context("one of --csr or --cert is required")?;
                let (csr_pem, key_pem) = pki::new_csr(&cn)?;
                pki::write_private(&key, &key_pem)?;
                pki::write_public(&csr, &csr_pem)?;
                println!(
                    "information/pki: Wrote key {} and signing request {}.",
                    key.display(),
                    csr.display()
                );
            }
        }
        PkiCommand::SignCsr {
            csr,
            cert,
            data_dir,
        } => {
            let paths = pki::Paths::new(&data_dir, "unused");
            let ca = pki::Authority::load(&paths.ca_cert, &paths.ca_key)?;
            let request = std::fs::read_to_string(&csr)
                .with_context(|| format!("reading {}", csr.display()))?;
            pki::write_public(&cert, &ca.sign_csr(&request)?)?;
            println!(
                "information/pki: Signed {} into {}.",
                csr.display(),
                cert.display()
            );
        }
        PkiCommand::SaveCert {
            host,
            port,
            trustedcert,
        } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let pem = rt.block_on(pki::fetch_certificate(&host, port))?;
            pki::write_public(&trustedcert, &pem)?;
            println!(
                "information/pki: Saved the certificate of {host}:{port} to {}.",
                trustedcert.display()
            );
        }
    }
    Ok(())
}
