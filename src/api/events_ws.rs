//! `GET /v1/events/ws`: event streams over WebSocket.
//!
//! The upgrade is answered at the edge (it needs the connection, which warp's routes do
//! not see); the socket then runs as its own task. Protocol (text messages, JSON):
//!
//! - client → server: `{"action":"subscribe","types":[…],"filter":"…","since":N}` (the
//!   same parameters as `/v1/events`; a new subscribe replaces the previous one),
//!   `{"action":"unsubscribe"}`. The query string may carry a first subscription
//!   (`?types=CheckResult&filter=…`).
//! - server → client: `{"id":N,"event":{…}}` per event (the event exactly as Icinga
//!   streams it), `{"subscribed":{"types":[…],"position":N}}`, `{"unsubscribed":true}`,
//!   `{"error":{"code":…,"status":"…"}}` (the socket stays open), and
//!   `{"id":N,"event":{"type":"EventsLost",…}}` when events are older than the journal.
//!   Pings every 15 s; a closing server sends a Close frame.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value as Json};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use warp::reply::Response;

use super::edge::Session;
use super::error::ApiError;
use super::State;
use crate::events::{Filtered, Item, Registration};
use crate::params::Params;

const PING: Duration = Duration::from_secs(15);
/// Largest message a client may send (subscriptions are small).
const MAX_MESSAGE: usize = 64 * 1024;

/// Whether a request asks for the WebSocket endpoint.
pub fn is_upgrade<B>(req: &Request<B>) -> bool {
    req.uri().path().trim_end_matches('/') == "/v1/events/ws"
}

/// Answers the upgrade (101; over HTTP/2 the extended CONNECT of RFC 8441, 200) and
/// starts the socket's task; a bad request gets Icinga's error shape.
pub fn upgrade(state: Arc<State>, session: Session, mut req: Request<Incoming>) -> Response {
    if req.version() == http::Version::HTTP_2 {
        return upgrade_h2(state, session, req);
    }
    let h = req.headers();
    let token = |name: header::HeaderName| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default()
    };
    if req.method() != http::Method::GET
        || !token(header::UPGRADE).contains("websocket")
        || !token(header::CONNECTION).contains("upgrade")
    {
        return ApiError::bad_request(
            "WebSocket endpoint: send a GET with 'Upgrade: websocket' (or use /v1/events).",
        )
        .response(false, false);
    }
    if token(header::SEC_WEBSOCKET_VERSION) != "13" {
        return version_refused();
    }
    let Some(key) = h
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().to_vec())
    else {
        return ApiError::bad_request("Missing Sec-WebSocket-Key.").response(false, false);
    };
    let params = match Params::parse(req.uri().query(), b"") {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).response(false, false),
    };
    start(state, session, &mut req, params);
    let mut res = Response::new(Vec::<u8>::new().into());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&derive_accept_key(&key)) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    res
}

/// 400 for a WebSocket version other than 13, naming the one supported.
fn version_refused() -> Response {
    let mut res = ApiError::bad_request("Unsupported WebSocket version: 13 is required.")
        .response(false, false);
    res.headers_mut().insert(
        header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static("13"),
    );
    res
}

/// WebSocket over HTTP/2: a CONNECT with the `websocket` protocol, answered 200.
fn upgrade_h2(state: Arc<State>, session: Session, mut req: Request<Incoming>) -> Response {
    let protocol = req
        .extensions()
        .get::<hyper::ext::Protocol>()
        .map(|p| p.as_str().to_ascii_lowercase());
    if req.method() != http::Method::CONNECT || protocol.as_deref() != Some("websocket") {
        return ApiError::bad_request(
            "WebSocket endpoint: send an extended CONNECT with ':protocol: websocket' (or use /v1/events).",
        )
        .response(false, false);
    }
    let version = req
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok());
    if version != Some("13") {
        return version_refused();
    }
    let params = match Params::parse(req.uri().query(), b"") {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).response(false, false),
    };
    start(state, session, &mut req, params);
    Response::new(Vec::<u8>::new().into())
}

/// Runs the socket once the connection (or the HTTP/2 stream) is handed over.
fn start(state: Arc<State>, session: Session, req: &mut Request<Incoming>, params: Params) {
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    .max_message_size(Some(MAX_MESSAGE))
                    .max_frame_size(Some(MAX_MESSAGE));
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                run(state, session, ws, params).await;
            }
            Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed."),
        }
    });
}

/// A live subscription of the socket.
struct Active {
    events: Filtered,
    /// Keeps the stream listed in `/v1/status` while it lives.
    registration: Registration,
    limiter: Option<governor::DefaultDirectRateLimiter>,
}

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

async fn run(state: Arc<State>, session: Session, ws: Socket, params: Params) {
    session.peer.limit_send_buffer();
    let (mut tx, mut rx) = ws.split();
    let mut active = None;
    if !params.strings("types").is_empty() {
        let reply = subscribe(&state, &session, &params, &mut active);
        if tx.send(text(reply)).await.is_err() {
            return;
        }
    }
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING, PING);
    loop {
        let next = async {
            match &mut active {
                Some(a) => next_event(a).await,
                None => std::future::pending().await,
            }
        };
        let out = tokio::select! {
            () = state.engine.shutdown.cancelled() => {
                let _ = tx.send(Message::Close(None)).await;
                return;
            }
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(t))) => Some(text(command(&state, &session, t.as_str(), &mut active))),
                Some(Ok(Message::Binary(_))) => Some(text(error(400, "Send text messages (JSON)."))),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => None, // pings are answered by the library, pongs ignored
            },
            item = next => item,
            _ = ping.tick() => Some(Message::Ping(Default::default())),
        };
        if let Some(m) = out {
            // A client that stopped reading is dropped (with its socket) after the stall
            // timeout; it resumes from its last event id.
            match tokio::time::timeout(state.guards.stream_stall_timeout, tx.send(m)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    tracing::info!(peer = %session.peer.addr, "WebSocket stream closed: the client stopped reading.");
                    return;
                }
            }
        }
    }
}

/// The next message for the subscriber (cancel-safe: the cursor loses nothing, and the
/// rate limit is awaited before the cursor moves).
async fn next_event(a: &mut Active) -> Option<Message> {
    if let Some(l) = &a.limiter {
        l.until_ready().await;
    }
    match a.events.next().await? {
        Item::Event(e) => Utf8Bytes::try_from(e.ws()).ok().map(Message::Text),
        Item::Lost { after, count } => {
            let body =
                json!({"id": after + count, "event": a.registration.lost_event(after, count)});
            Some(text(body))
        }
    }
}

fn text(v: Json) -> Message {
    Message::Text(v.to_string().into())
}

fn error(code: u16, status: &str) -> Json {
    json!({"error": {"code": code, "status": status}})
}

/// Handles a client message; returns the answer.
fn command(state: &Arc<State>, session: &Session, msg: &str, active: &mut Option<Active>) -> Json {
    let params = match Params::parse(None, msg.as_bytes()) {
        Ok(p) => p,
        Err(e) => return error(400, &e.message),
    };
    match params.string("action").as_deref() {
        Some("subscribe") => subscribe(state, session, &params, active),
        Some("unsubscribe") => {
            *active = None;
            json!({"unsubscribed": true})
        }
        Some(other) => error(
            400,
            &format!("Unknown action '{other}': use 'subscribe' or 'unsubscribe'."),
        ),
        None => error(400, "Missing 'action': use 'subscribe' or 'unsubscribe'."),
    }
}

fn subscribe(
    state: &Arc<State>,
    session: &Session,
    params: &Params,
    active: &mut Option<Active>,
) -> Json {
    let resume = match super::events::since(params) {
        Ok(r) => r,
        Err(e) => return error(e.code.as_u16(), &e.status),
    };
    let (events, registration) =
        match super::events::start(state, session, params, "websocket", resume) {
            Ok(started) => started,
            Err(e) => {
                let status = e.diagnostic.clone().unwrap_or(e.status);
                return error(e.code.as_u16(), &status);
            }
        };
    let types = events.subscription.requested.clone();
    let position = events.cursor.position();
    *active = Some(Active {
        limiter: events
            .subscription
            .user
            .event_quota
            .map(governor::RateLimiter::direct),
        events,
        registration,
    });
    json!({"subscribed": {"types": types, "position": position}})
}
