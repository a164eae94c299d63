//! The HTTPS API.
//!
//! A connection's path: TCP accept (address allowed? not blocked?) → rustls handshake in
//! the connection's own task (a slow handshake never blocks `accept`) → hyper HTTP/1.1 or
//! HTTP/2 (by ALPN) →
//! [`edge`] (method/path normalisation, authentication, rate limit, body limit) → the warp
//! [`routes`] → handlers per endpoint family.

pub mod actions;
pub mod checker;
pub mod config;
pub mod conns;
pub mod console;
pub mod edge;
pub mod error;
pub mod event_feed;
pub mod events;
pub mod events_ws;
pub mod forward;
pub mod info;
pub mod listing;
pub mod metrics;
pub mod objects;
pub mod reply;
pub mod request;
pub mod routes;
pub mod self_service;
pub mod settings;
pub mod socket;
pub mod state;
pub mod status;
pub mod templates;
pub mod tls;
pub mod tokens;
pub mod types;
pub mod ui;

pub use settings::{Guards, ListenerSettings};
pub use state::State;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::ApiUser;

/// Icinga's `connect_timeout`: TCP + TLS handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Who is on the other end of a connection.
#[derive(Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The CN of a client certificate that verified against our CA (a certificate from
    /// another CA names nobody: the client authenticates otherwise).
    pub client_cn: Option<String>,
    /// The user the certificate maps to: fixed for the whole connection.
    pub cert_user: Option<Arc<ApiUser>>,
    /// The connection's standing in the table (authenticated yet? abort).
    pub standing: Arc<conns::Standing>,
    /// The options event streams set on the connection's socket.
    socket: Arc<socket::SocketOptions>,
}

impl Peer {
    /// Bounds the socket's send buffer: a stream whose client stops reading holds
    /// little kernel memory.
    pub fn limit_send_buffer(&self) {
        self.socket.limit_send_buffer();
    }

    /// Closes the connection at once.
    pub fn abort(&self) {
        self.standing.abort.cancel();
    }
}

/// Accepts connections until `shutdown` fires; connections are tracked by `tracker` so
/// that the caller can drain them.
pub async fn serve(
    state: Arc<State>,
    listener: TcpListener,
    tls: tls::ServerTls,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let routes = routes::routes(state.clone());
    let acceptor = TlsAcceptor::from(tls.config);
    let trust = tls.trust;
    loop {
        let (tcp, addr) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "Accept failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        if !state.listener.allows(addr.ip()) {
            tracing::info!(address = %addr, "Connection refused: address not in allowed_hosts.");
            continue;
        }
        let place = tokio::select! {
            () = shutdown.cancelled() => return,
            place = state.connections.open(addr.ip()) => place,
        };
        let Some(place) = place else {
            tracing::debug!(address = %addr, "Connection refused: too many from this address, or no free slot.");
            continue;
        };
        let state = state.clone();
        let tls = (acceptor.clone(), trust.clone());
        let routes = routes.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            connection(state, tcp, addr, place, tls, routes, shutdown).await;
        });
    }
}

async fn connection(
    state: Arc<State>,
    tcp: TcpStream,
    addr: SocketAddr,
    place: conns::Place,
    (acceptor, trust): (TlsAcceptor, Arc<tls::ClientTrust>),
    routes: edge::Routes,
    shutdown: CancellationToken,
) {
    let _ = tcp.set_nodelay(true);
    let (tcp, socket) = socket::Socket::new(tcp);
    let abort = place.standing.abort.clone();
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    let handshake = tokio::select! {
        h = handshake => h,
        () = abort.cancelled() => return,
    };
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            // Only a certificate that fails verification is a failed authentication;
            // probes and browsers that close without a handshake are not.
            let bad_certificate = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)));
            if bad_certificate {
                tracing::info!(address = %addr, error = %e, "Client certificate refused.");
                state
                    .blocklist
                    .record_failure(addr.ip(), None, "client certificate");
            } else {
                tracing::debug!(address = %addr, error = %e, "TLS handshake failed.");
            }
            return;
        }
        Err(_) => {
            tracing::debug!(address = %addr, "TLS handshake timed out.");
            return;
        }
    };
    let session = tls.get_ref().1;
    let http2 = session.alpn_protocol() == Some(b"h2");
    let client_cn = session
        .peer_certificates()
        .filter(|chain| trust.trusted(chain))
        .and_then(|chain| chain.first())
        .and_then(|c| crate::pki::common_name(c));
    let cert_user = client_cn
        .as_deref()
        .and_then(|cn| state.engine.users().by_client_cn(cn).cloned());
    if cert_user.is_some() {
        state.connections.authenticated(&place.standing);
    }
    let peer = Arc::new(Peer {
        addr,
        client_cn,
        cert_user,
        standing: place.standing.clone(),
        socket,
    });
    let idle_timeout = state.guards.idle_timeout;
    let svc = hyper::service::service_fn(move |req| {
        edge::handle(state.clone(), peer.clone(), routes.clone(), req)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout)
        .max_buf_size(1 << 20);
    builder
        .http2()
        .timer(TokioTimer::new())
        // WebSocket over HTTP/2 (RFC 8441).
        .enable_connect_protocol()
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    // The protocol is the one ALPN agreed; without ALPN, HTTP/1.1 (as Icinga's clients
    // expect), never a guess from the first bytes.
    let builder = if http2 {
        builder.http2_only()
    } else {
        builder.http1_only()
    };
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(address = %addr, error = %e, "Connection ended with an error.");
            }
        }
        () = abort.cancelled() => {
            tracing::debug!(address = %addr, "Connection closed by the server.");
        }
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}
