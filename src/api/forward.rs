//! Object and token writes on a cluster's follower (`PUT`, `POST` and `DELETE` on
//! `/v1/objects`, issuing and revoking API tokens):
//! the request is sent to the leader over NATS, run there as the same user through the
//! same routes, and its answer returned once this node has committed the change.
//!
//! Actions need none of this: their commands reach the leader through the processor.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use warp::reply::Response;

use super::edge::Session;
use super::error::ApiError;
use super::State;
use crate::cluster::Standing;

/// Headers the leader needs to answer as this node would.
const PASSED: [&str; 3] = ["content-type", "accept", "x-http-method-override"];
/// How long a forwarded request may take (a bulk change of many objects takes a while).
const PATIENCE: Duration = Duration::from_secs(120);
/// How long a follower tries to reach a leader (one may be taking over).
const NO_LEADER: Duration = Duration::from_secs(20);
/// How long an answer waits for this node to commit the write.
const CATCH_UP: Duration = Duration::from_secs(5);

#[derive(Serialize, Deserialize)]
struct Forwarded {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    body: String,
    user: String,
    /// The permissions of the token the request came with, if any.
    scope: Option<Vec<String>>,
    client: IpAddr,
}

#[derive(Serialize, Deserialize)]
struct Answered {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    position: u64,
}

/// Whether this node hands `req` to the leader: an object or token write on a follower.
pub fn applies<B>(state: &State, req: &Request<B>) -> bool {
    let Some(node) = &state.cluster else {
        return false;
    };
    let path = req.uri().path();
    node.standing() != Standing::Leader
        && matches!(*req.method(), Method::PUT | Method::POST | Method::DELETE)
        && (path.starts_with("/v1/objects/")
            || path.starts_with("/v1/tokens")
            || path == "/v1/events/token")
}

/// Sends `req` to the leader and answers with its answer.
pub async fn send(
    state: Arc<State>,
    req: Request<super::edge::Body>,
) -> Result<Response, Infallible> {
    Ok(match relay(&state, req).await {
        Ok(res) => res,
        Err(e) => e.response(false, false),
    })
}

async fn relay(state: &State, req: Request<super::edge::Body>) -> Result<Response, ApiError> {
    let node = state
        .cluster
        .as_ref()
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Not in a cluster."))?;
    let session = req
        .extensions()
        .get::<Session>()
        .cloned()
        .ok_or_else(ApiError::unauthorized)?;
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("Request body could not be read: {e}")))?
        .to_bytes();
    let body = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("Request body is not UTF-8 JSON."))?;
    let forwarded = Forwarded {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: PASSED
            .iter()
            .filter_map(|h| {
                Some((
                    h.to_string(),
                    parts.headers.get(*h)?.to_str().ok()?.to_string(),
                ))
            })
            .collect(),
        body,
        user: session.user.name.clone(),
        scope: session.scope.clone(),
        client: session.client,
    };
    let payload = serde_json::to_vec(&forwarded)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let unavailable = |why: String| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, why);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let give_up = tokio::time::Instant::now() + NO_LEADER;
    let message = loop {
        let asked = tokio::time::timeout_at(
            deadline,
            node.client
                .request(node.http_subject(), Bytes::from(payload.clone())),
        )
        .await;
        match asked {
            Ok(Ok(m)) => break m,
            // No leader at the moment (one is taking over): again, within patience.
            Ok(Err(_)) if tokio::time::Instant::now() + Duration::from_millis(100) < give_up => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(Err(e)) => return Err(unavailable(format!("The cluster has no leader: {e}."))),
            Err(_) => {
                return Err(unavailable(
                    "The cluster's leader did not answer in time; the change may not have been applied.".into(),
                ))
            }
        }
    };
    let answered: Answered = serde_json::from_slice(&message.payload)
        .map_err(|e| unavailable(format!("The leader's answer is unreadable: {e}.")))?;
    let mut applied = node.applied();
    let position = answered.position;
    let _ = tokio::time::timeout(CATCH_UP, applied.wait_for(|p| *p >= position)).await;
    let mut res = Response::new(answered.body.into());
    *res.status_mut() = StatusCode::from_u16(answered.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (name, value) in answered.headers {
        if let (Ok(n), Ok(v)) = (
            http::header::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            res.headers_mut().insert(n, v);
        }
    }
    Ok(res)
}

/// The leader's side: while this node leads, runs forwarded requests until `shutdown`.
pub async fn serve(state: Arc<State>, shutdown: CancellationToken) {
    let Some(node) = state.cluster.clone() else {
        return;
    };
    let mut standing = node.watch_standing();
    loop {
        let leading = *standing.borrow_and_update() == Standing::Leader;
        if leading {
            let stop = CancellationToken::new();
            let serving = tokio::spawn(run(state.clone(), stop.clone()));
            tokio::select! {
                () = shutdown.cancelled() => { stop.cancel(); let _ = serving.await; return; }
                changed = standing.changed() => {
                    stop.cancel();
                    let _ = serving.await;
                    if changed.is_err() { return; }
                }
            }
        } else {
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = standing.changed() => if changed.is_err() { return },
            }
        }
    }
}

async fn run(state: Arc<State>, stop: CancellationToken) {
    let Some(node) = state.cluster.clone() else {
        return;
    };
    let mut requests = match node.client.subscribe(node.http_subject()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "The leader cannot take forwarded object writes.");
            return;
        }
    };
    let routes = super::routes::routes(state.clone());
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => break,
            m = requests.next() => match m { Some(m) => m, None => break },
        };
        let Some(reply) = message.reply.clone() else {
            continue;
        };
        let (state, routes, client) = (state.clone(), routes.clone(), node.client.clone());
        tokio::spawn(async move {
            let answered = match serde_json::from_slice::<Forwarded>(&message.payload) {
                Ok(f) => execute(&state, routes, f).await,
                Err(e) => Answered {
                    status: 400,
                    headers: Vec::new(),
                    body: format!(
                        "{{\"error\":400,\"status\":\"Forwarded request unreadable: {e}\"}}"
                    ),
                    position: 0,
                },
            };
            if let Ok(body) = serde_json::to_vec(&answered) {
                let _ = client.publish(reply, Bytes::from(body)).await;
            }
        });
    }
    let _ = requests.unsubscribe().await;
}

/// Runs a forwarded request through the routes as its user.
async fn execute(state: &Arc<State>, routes: super::edge::Routes, f: Forwarded) -> Answered {
    let fail = |status: u16, text: &str| Answered {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::json!({"error": status, "status": text}).to_string(),
        position: state.engine.store.log_position(),
    };
    let users = state.engine.users();
    let Some(user) = users.by_name(&f.user) else {
        return fail(
            401,
            "The forwarding node's user is not known to the leader.",
        );
    };
    let user = match &f.scope {
        Some(scope) => Arc::new(user.scoped(scope)),
        None => user.clone(),
    };
    let mut builder = Request::builder()
        .method(f.method.as_str())
        .uri(f.uri.as_str());
    for (name, value) in &f.headers {
        builder = builder.header(name, value);
    }
    let limit = f.body.len();
    let Ok(mut req) = builder.body(Full::new(Bytes::from(f.body))) else {
        return fail(400, "Forwarded request malformed.");
    };
    let peer = Arc::new(super::Peer {
        addr: SocketAddr::new(f.client, 0),
        client_cn: None,
        cert_user: None,
        standing: Arc::default(),
        socket: Arc::default(),
    });
    req.extensions_mut().insert(Session {
        user,
        peer,
        client: f.client,
        scope: f.scope,
    });
    super::edge::allow_body(&mut req, limit, state.guards.body_grace);
    let res = tower_service::Service::call(&mut warp::service(routes), req)
        .await
        .unwrap_or_else(|never| match never {});
    let (parts, body) = res.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Answered {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        position: state.engine.store.log_position(),
    }
}
