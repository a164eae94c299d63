//! A cluster of Auspex nodes on NATS JetStream.
//!
//! - **One ordered, durable log** ([`log`]): the leader appends every group commit —
//!   its changes and its events with their ids — to a JetStream stream before it commits
//!   locally and answers; followers ([`follow`]) commit the same records in the same
//!   order with the same event ids, so every node's journal, `/v1/events` and
//!   `Last-Event-ID` are the same. The log, not a node's disk, is the cluster's truth.
//! - **Leadership** ([`lease`]): a lease in a key-value bucket; the leader runs the
//!   processor (results, actions, timers). A node that takes over first reads the log to
//!   its end. Appends are fenced, so a deposed leader cannot write after its successor.
//! - **Writes anywhere** ([`forward`]): a follower hands processor commands to the
//!   leader over NATS and answers once they are in the log and committed here.
//! - **Shared checks** ([`members`]): live nodes announce themselves; each runs the
//!   checks its zone's assignment gives it, and the assignment follows the nodes.
//!
//! Without a cluster URL a node is standalone, as before: nothing here runs.

pub mod follow;
pub mod forward;
pub mod lease;
pub mod log;
pub mod members;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Result};
use serde::Serialize;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::processor::Inbox;
use crate::store::Role;
use members::{Member, Members};

/// How a node joins a cluster.
#[derive(Debug, Clone)]
pub struct Options {
    /// The NATS server(s), comma-separated (`nats://host:4222,…`).
    pub url: String,
    /// The cluster's name: nodes with the same name share a log.
    pub name: String,
    /// This node's zone: the checks it shares.
    pub zone: String,
    /// Whether this node may lead (an agent only runs checks and serves reads).
    pub leader_eligible: bool,
    /// How long a leader's lease lasts without renewal: the longest a failed leader
    /// goes unnoticed.
    pub lease: Duration,
    /// JetStream replicas of the log and the buckets (the NATS cluster's size).
    pub replicas: usize,
    /// How long the log keeps records: a node stopped longer than this cannot catch up
    /// from the log (it starts from a copy of another node's store).
    pub retention: Duration,
}

impl Options {
    pub fn new(url: impl Into<String>) -> Options {
        Options {
            url: url.into(),
            name: "auspex".into(),
            zone: "master".into(),
            leader_eligible: true,
            lease: Duration::from_secs(3),
            replicas: 1,
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What this node is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    Follower,
    /// Took the lease; reading the log to its end.
    Promoting,
    Leader,
}

/// A node of a cluster: its standing and what it knows of the others.
pub struct Node {
    pub options: Options,
    pub node_name: String,
    /// The connection to NATS.
    pub client: async_nats::Client,
    /// The log position this node's store has reached, as the follower advances it.
    applied: Arc<watch::Sender<u64>>,
    /// How far behind the log this node's follower is.
    behind: Arc<follow::Behind>,
    standing: watch::Sender<Standing>,
    members: Mutex<Vec<Member>>,
    /// Every node seen since this one started.
    seen: Mutex<std::collections::BTreeSet<String>>,
    leader: watch::Sender<Option<String>>,
    /// Nodes that took the lease since this one started (takeovers seen).
    pub elections: std::sync::atomic::AtomicU64,
}

/// The cluster as `/v1/status` shows it.
#[derive(Debug, Serialize)]
pub struct Status {
    pub cluster: String,
    pub node: String,
    pub zone: String,
    pub standing: Standing,
    pub leader: Option<String>,
    pub position: u64,
    pub nodes: Vec<NodeStatus>,
}

#[derive(Debug, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub zone: String,
    pub leader: bool,
    pub leader_eligible: bool,
    pub position: u64,
    /// Records behind the leader.
    pub lag: u64,
    /// Seconds behind the log.
    pub lag_seconds: f64,
    pub api_port: u16,
    /// The hosts and services whose checks it runs (its share of its zone's).
    pub checks: usize,
}

impl Node {
    /// The subject forwarded object writes go to (the leader takes them).
    pub fn http_subject(&self) -> String {
        format!("auspex.{}.http", self.options.name)
    }

    /// A receiver of the log position this node's store has reached.
    pub fn applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    pub fn standing(&self) -> Standing {
        *self.standing.borrow()
    }

    /// A receiver of standing changes.
    pub fn watch_standing(&self) -> watch::Receiver<Standing> {
        self.standing.subscribe()
    }

    pub fn members(&self) -> Vec<Member> {
        self.members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every node seen since this one started (live or not).
    pub fn seen(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    pub fn leader(&self) -> Option<String> {
        self.leader.borrow().clone()
    }

    /// The cluster as this node sees it.
    pub fn status(&self, position: u64) -> Status {
        let mut members = self.members();
        for m in &mut members {
            if m.name == self.node_name {
                m.position = position;
            }
        }
        let leader = self.leader();
        let head = members
            .iter()
            .filter(|m| m.leader)
            .map(|m| m.position)
            .max()
            .unwrap_or(position)
            .max(position);
        Status {
            cluster: self.options.name.clone(),
            node: self.node_name.clone(),
            zone: self.options.zone.clone(),
            standing: self.standing(),
            leader,
            position,
            nodes: members
                .into_iter()
                .map(|m| NodeStatus {
                    lag: head.saturating_sub(m.position),
                    lag_seconds: m.lag,
                    name: m.name,
                    zone: m.zone,
                    leader: m.leader,
                    leader_eligible: m.leader_eligible,
                    position: m.position,
                    api_port: m.api_port,
                    checks: m.checks,
                })
                .collect(),
        }
    }
}

/// The connection and the JetStream handles a node uses.
struct Links {
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    stream: async_nats::jetstream::stream::Stream,
    names: log::Names,
    lease: lease::Lease,
    members: Members,
    /// What the nodes share besides the log (the API token key).
    secrets: async_nats::jetstream::kv::Store,
}

async fn connect(options: &Options, node_name: &str) -> Result<Links> {
    let client = async_nats::ConnectOptions::new()
        .name(format!("auspex {node_name}"))
        .retry_on_initial_connect()
        .connect(options.url.as_str())
        .await
        .map_err(|e| anyhow!("connecting to NATS at {}: {e}", options.url))?;
    let js = async_nats::jetstream::new(client.clone());
    let names = log::Names::new(&options.name);
    let stream = log::ensure(&js, &names, options.replicas, options.retention).await?;
    let lease = lease::Lease::open(&js, &options.name, options.lease, options.replicas).await?;
    let members = Members::open(&js, &options.name, options.replicas).await?;
    let secrets = lease::bucket_of(
        &js,
        &format!("auspex_{}_secrets", lease::bucket_name(&options.name)),
        Duration::ZERO,
        options.replicas,
    )
    .await?;
    Ok(Links {
        secrets,
        client,
        js,
        stream,
        names,
        lease,
        members,
    })
}

/// Joins the cluster: connects, then follows the log (and leads when elected) until
/// `shutdown`. The processor's `inbox` is served here: by the processor on the leader,
/// by forwarding to the leader on followers. Returns the node once connected, and the
/// tasks that end after `shutdown` once the node left (lease given up, entry removed).
///
/// # Errors
/// NATS or JetStream cannot be reached, or refuse the stream or buckets.
pub async fn start(
    engine: Arc<Engine>,
    options: Options,
    inbox: Inbox,
    processing: crate::processor::Context,
    share: watch::Sender<crate::scheduler::Share>,
    tokens: Arc<crate::auth::token::Tokens>,
    shutdown: CancellationToken,
) -> Result<(Arc<Node>, Vec<tokio::task::JoinHandle<()>>)> {
    let links = connect(&options, &engine.node_name).await?;
    engine.store.set_role(Role::Follower);
    let node = Arc::new(Node {
        node_name: engine.node_name.clone(),
        client: links.client.clone(),
        applied: Arc::new(watch::channel(engine.store.log_position()).0),
        behind: Arc::default(),
        standing: watch::channel(Standing::Follower).0,
        members: Mutex::new(Vec::new()),
        seen: Mutex::default(),
        leader: watch::channel(None).0,
        elections: std::sync::atomic::AtomicU64::new(0),
        options,
    });
    tracing::info!(
        cluster = %node.options.name,
        url = %node.options.url,
        zone = %node.options.zone,
        position = engine.store.log_position(),
        "Joined the cluster; following its log."
    );
    share_token_key(&links, &engine.data_dir.join("token.key"), &tokens).await?;
    let links = Arc::new(links);
    let beating = tokio::spawn(heartbeat(
        engine.clone(),
        node.clone(),
        links.clone(),
        share,
        shutdown.clone(),
    ));
    let running = tokio::spawn(run(
        engine,
        node.clone(),
        links,
        (inbox, processing),
        tokens,
        shutdown,
    ));
    Ok((node, vec![beating, running]))
}

/// The key API tokens are signed with, shared by every node: the first node offers its
/// own; the others take it (and keep it in their key file for the next start), so a
/// token issued on any node is valid on all.
async fn share_token_key(
    links: &Links,
    path: &std::path::Path,
    tokens: &crate::auth::token::Tokens,
) -> Result<()> {
    const KEY: &str = "token-key";
    let mine = std::fs::read(path).map_err(|e| anyhow!("reading {}: {e}", path.display()))?;
    if links
        .secrets
        .create(KEY, bytes::Bytes::from(mine.clone()))
        .await
        .is_ok()
    {
        return Ok(());
    }
    let shared = links
        .secrets
        .get(KEY)
        .await
        .map_err(|e| anyhow!("reading the cluster's token key: {e}"))?
        .ok_or_else(|| anyhow!("the cluster's token key is missing"))?;
    if shared.as_ref() != mine.as_slice() {
        crate::pki::write_private(path, &shared)?;
        tokens.use_key(&shared);
        tracing::info!("Using the cluster's key for API tokens.");
    }
    Ok(())
}

/// Writes this node's entry each second and derives the members, the leader and the
/// check assignment.
async fn heartbeat(
    engine: Arc<Engine>,
    node: Arc<Node>,
    links: Arc<Links>,
    share: watch::Sender<crate::scheduler::Share>,
    shutdown: CancellationToken,
) {
    let started = engine.clock.now();
    let mut assigned: Option<Vec<(String, String)>> = None;
    // The number of checks this node runs, counted again when the nodes or the objects
    // change (the objects at most every `RECOUNT`: a count walks them all).
    const RECOUNT: f64 = 10.0;
    let mut checks = 0;
    let mut counted: Option<(Arc<crate::objects::Registry>, f64)> = None;
    loop {
        let me = Member {
            name: node.node_name.clone(),
            zone: node.options.zone.clone(),
            leader_eligible: node.options.leader_eligible,
            leader: node.standing() == Standing::Leader,
            position: engine.store.log_position(),
            lag: if node.standing() == Standing::Leader {
                0.0
            } else {
                node.behind.seconds(engine.clock.now())
            },
            api_port: engine.api_port,
            started,
            checks,
        };
        if let Err(e) = links.members.announce(&me).await {
            tracing::warn!(error = %e, "The cluster's membership could not be written.");
        }
        if let Ok(mut members) = links.members.list().await {
            if !members.iter().any(|m| m.name == me.name) {
                members.push(me.clone());
                members.sort_by(|a, b| a.name.cmp(&b.name));
            }
            let zones: Vec<(String, String)> = members
                .iter()
                .map(|m| (m.name.clone(), m.zone.clone()))
                .collect();
            if assigned.as_ref() != Some(&zones) {
                tracing::info!(nodes = ?zones.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), "The cluster's nodes changed; checks are assigned anew.");
                share.send_replace(members::share(
                    members.clone(),
                    node.options.zone.clone(),
                    node.node_name.clone(),
                ));
                assigned = Some(zones);
                counted = None;
            }
            node.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(members.iter().map(|m| m.name.clone()));
            let report = crate::checker::cluster::ClusterReport {
                live: members
                    .iter()
                    .map(|m| crate::checker::cluster::ClusterNode {
                        name: m.name.clone(),
                        zone: m.zone.clone(),
                        lag: m.lag,
                    })
                    .collect(),
                seen: node.seen(),
            };
            *engine
                .stats
                .cluster
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(report);
            *node.members.lock().unwrap_or_else(|e| e.into_inner()) = members;
        }
        // Announced with the next heartbeat.
        let registry = engine.registry();
        let stale = counted
            .as_ref()
            .is_none_or(|(r, at)| !Arc::ptr_eq(r, &registry) && engine.clock.now() - at >= RECOUNT);
        if stale && assigned.is_some() {
            checks = members::count(&registry, &share.borrow());
            counted = Some((registry, engine.clock.now()));
        }
        let holder = links.lease.holder().await;
        node.leader.send_if_modified(|l| {
            let changed = *l != holder;
            l.clone_from(&holder);
            changed
        });
        tokio::select! {
            () = shutdown.cancelled() => {
                links.members.leave(&node.node_name).await;
                return;
            }
            () = tokio::time::sleep(members::HEARTBEAT) => {}
        }
    }
}

/// The node's life: follow, lead when elected, follow again when deposed.
async fn run(
    engine: Arc<Engine>,
    node: Arc<Node>,
    links: Arc<Links>,
    (mut inbox, processing): (Inbox, crate::processor::Context),
    tokens: Arc<crate::auth::token::Tokens>,
    shutdown: CancellationToken,
) {
    let read = Arc::new(watch::channel(engine.store.log_position()).0);
    let applied = node.applied.clone();
    let following = follow::Context {
        stream: links.stream.clone(),
        store: engine.store.clone(),
        objects: engine.writer.objects.clone(),
        schedule: engine.schedule_tx.clone(),
        rebuild: Arc::new(Notify::new()),
        changed: Arc::default(),
        rebuilt: Arc::default(),
        committed: Arc::default(),
        waiting: Arc::new(Mutex::new(HashMap::new())),
        read,
        applied,
        behind: node.behind.clone(),
        tokens,
    };
    tokio::spawn(rebuilding(
        engine.clone(),
        following.clone(),
        shutdown.clone(),
    ));
    let forward_subject = format!("auspex.{}.apply", node.options.name);
    loop {
        // Following.
        engine.store.set_role(Role::Follower);
        node.standing.send_replace(Standing::Follower);
        let stop_following = CancellationToken::new();
        let mut follower = tokio::spawn(follow::follow(following.clone(), stop_following.clone()));
        let stop_forwarding = CancellationToken::new();
        let mut forwarding = Box::pin(forward::forward(
            &mut inbox,
            links.client.clone(),
            forward_subject.clone(),
            following.applied.subscribe(),
            node.leader.subscribe(),
            &node.node_name,
            &stop_forwarding,
        ));
        let mut forwarded_all = false;
        let mut poll = tokio::time::interval(Duration::from_millis(250));
        let revision = loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    stop_following.cancel();
                    let _ = follower.await;
                    return;
                }
                () = &mut forwarding, if !forwarded_all => forwarded_all = true,
                done = &mut follower => {
                    // The log could not be read: start over from where the store stands.
                    match done {
                        Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "Following the cluster's log failed; resuming."),
                        Ok(Ok(())) => {}
                        Err(e) => tracing::error!(error = %e, "Following the cluster's log failed; resuming."),
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    follower = tokio::spawn(follow::follow(following.clone(), stop_following.clone()));
                }
                _ = poll.tick(), if node.options.leader_eligible => {
                    if let Some(revision) = links.lease.try_take(&node.node_name).await {
                        break revision;
                    }
                }
            }
        };
        stop_forwarding.cancel();
        drop(forwarding);
        // Promoting: keep the lease while reading the log to its end.
        node.standing.send_replace(Standing::Promoting);
        node.elections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let lost = CancellationToken::new();
        let stop_keeping = CancellationToken::new();
        tokio::spawn({
            let (lease, name, lost, stop) = (
                links.lease.clone(),
                node.node_name.clone(),
                lost.clone(),
                stop_keeping.clone(),
            );
            async move { lease.keep(name, revision, lost, stop).await }
        });
        let began = std::time::Instant::now();
        let caught_up = catch_up(&links, &following, &lost, &shutdown).await;
        stop_following.cancel();
        let followed = follower.await;
        // Writes forwarded to the previous leader wait for the position it gave them.
        following.applied.send_replace(engine.store.log_position());
        let last = match (caught_up, followed) {
            (Ok(last), Ok(Ok(()))) => last,
            (Err(e), _) | (_, Ok(Err(e))) => {
                tracing::warn!(error = %format!("{e:#}"), "Not taking over the cluster's lead.");
                stop_keeping.cancel();
                links.lease.release(&node.node_name).await;
                if shutdown.is_cancelled() {
                    return;
                }
                continue;
            }
            (_, Err(e)) => {
                tracing::warn!(error = %e, "Not taking over the cluster's lead.");
                stop_keeping.cancel();
                continue;
            }
        };
        // Leading.
        let max_payload = links.client.server_info().max_payload;
        let appender = log::Appender::new(
            links.js.clone(),
            links.names.subject.clone(),
            last,
            max_payload,
            lost.clone(),
        );
        engine.store.set_role(Role::Leader(Arc::new(appender)));
        node.standing.send_replace(Standing::Leader);
        node.leader.send_replace(Some(node.node_name.clone()));
        tracing::info!(
            position = last,
            took_ms = began.elapsed().as_millis() as u64,
            "This node leads the cluster."
        );
        let serving = tokio::spawn(forward::serve(
            engine.clone(),
            links.client.clone(),
            forward_subject.clone(),
            lost.clone(),
        ));
        {
            let (lost, shutdown) = (lost.clone(), shutdown.clone());
            tokio::spawn(async move {
                shutdown.cancelled().await;
                lost.cancel();
            });
        }
        crate::processor::serve(&mut inbox, &processing, &lost).await;
        lost.cancel();
        stop_keeping.cancel();
        let _ = serving.await;
        engine.store.set_role(Role::Follower);
        if shutdown.is_cancelled() {
            links.lease.release(&node.node_name).await;
            return;
        }
        tracing::warn!("This node no longer leads the cluster; following its log.");
    }
}

/// Waits until the follower has read the log to the end it had when the lease was
/// taken; that end.
async fn catch_up(
    links: &Links,
    following: &follow::Context,
    lost: &CancellationToken,
    shutdown: &CancellationToken,
) -> Result<u64> {
    let last = log::last_sequence(&links.stream).await?;
    let mut read = following.read.subscribe();
    tokio::select! {
        r = read.wait_for(|r| *r >= last) => { r.map_err(|_| anyhow!("the follower stopped"))?; }
        () = lost.cancelled() => return Err(anyhow!("the lease was lost while reading the log")),
        () = shutdown.cancelled() => return Err(anyhow!("stopping")),
    }
    Ok(last)
}

/// Rebuilds the objects after records changed them (several records, one rebuild).
async fn rebuilding(engine: Arc<Engine>, following: follow::Context, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = following.rebuild.notified() => {}
        }
        // Every change up to here is committed: the rebuild reads it from the store.
        let upto = following.changed.load(std::sync::atomic::Ordering::Acquire);
        let rebuilt = crate::reload::rebuild(&engine).await;
        follow::rebuilt(&following, upto);
        match rebuilt {
            Ok(()) => follow::place_waiting(&following),
            Err(e) => {
                tracing::error!(errors = ?e, "The objects could not be rebuilt from the log's changes.");
            }
        }
    }
}
