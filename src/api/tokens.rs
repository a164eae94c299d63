//! `/v1/tokens`: API tokens a user issues, lists and revokes for their own use — a
//! dashboard, a browser page, a script — each with a subset of the user's permissions and
//! an expiry. A token authenticates as `Authorization: Bearer <token>` on every endpoint
//! (and as `access_token=` on the event streams, which browsers open without headers).
//!
//! - `POST /v1/tokens` (`permissions`: names or globs, default all of the caller's;
//!   `ttl` seconds, default 3 600, at most a year; `name`): the token, shown only here.
//! - `GET /v1/tokens`: the caller's tokens (never the tokens themselves).
//! - `DELETE /v1/tokens/<id>`: revokes one at once.
//! - `POST /v1/events/token` (`ttl`, default 300, at most a day): a token for the
//!   caller's event streams only (`events/*`).

use std::convert::Infallible;
use std::sync::Arc;

use http::StatusCode;
use serde_json::json;
use warp::reply::Response;

use super::edge::Session;
use super::error::ApiError;
use super::reply;
use super::request::{respond, Req};
use super::State;
use crate::auth::token::{DEFAULT_TTL, MAX_TTL, STREAM_MAX_TTL, STREAM_TTL};
use crate::outcome::Outcome;
use crate::store::Op;

/// `POST /v1/tokens`.
pub async fn issue(state: Arc<State>, req: Req) -> Result<Response, Infallible> {
    respond(req, |session, params, p| async move {
        let ttl = ttl(params.number("ttl")?, DEFAULT_TTL, MAX_TTL);
        let requested = params.strings("permissions");
        let requested = if requested.is_empty() {
            // All the caller has: a token asking for one gets its own scope.
            session
                .user
                .permissions
                .scope()
                .unwrap_or_else(|| vec!["*".to_string()])
        } else {
            for perm in &requested {
                if !session.user.permissions.has(perm) {
                    return Err(ApiError::bad_request(format!(
                        "Permission '{perm}' is not among the permissions of user '{}'.",
                        session.user.name
                    )));
                }
            }
            requested
        };
        let name = params.string("name").unwrap_or_default();
        let outcome = create(&state, &session, name, &requested, ttl).await?;
        Ok(reply::results(vec![outcome], p.pretty))
    })
    .await
}

/// `POST /v1/events/token`.
pub async fn for_streams(state: Arc<State>, req: Req) -> Result<Response, Infallible> {
    respond(req, |session, params, p| async move {
        let ttl = ttl(params.number("ttl")?, STREAM_TTL, STREAM_MAX_TTL);
        let outcome = create(
            &state,
            &session,
            "event streams".into(),
            &["events/*".to_string()],
            ttl,
        )
        .await?;
        Ok(reply::results(vec![outcome], p.pretty))
    })
    .await
}

fn ttl(asked: Option<f64>, default: u64, max: u64) -> u64 {
    asked.map_or(default, |t| t.clamp(1.0, max as f64) as u64)
}

/// Stores a token's record, then activates it. A token can carry no more than the
/// session that asks for it (a token issuing a token passes on at most its own scope).
async fn create(
    state: &State,
    session: &Session,
    name: String,
    requested: &[String],
    ttl: u64,
) -> Result<Outcome, ApiError> {
    let scope = session
        .user
        .permissions
        .scoped(requested)
        .scope()
        .unwrap_or_default();
    let now = state.engine.clock.now() as u64;
    let tokens = &state.tokens;
    let record = tokens
        .new_record(&session.user.name, name, scope, (now, now + ttl))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut ops = vec![Op::PutToken {
        key: record.id.clone(),
        value: json!(record),
    }];
    // Expired records go with the next issue.
    let expired = tokens.expired(now);
    ops.extend(expired.iter().map(|id| Op::DeleteToken { key: id.clone() }));
    state
        .engine
        .store
        .commit(ops)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    for id in &expired {
        tokens.remove(id);
    }
    let (id, expires, permissions) = (
        record.id.clone(),
        record.expires,
        record.permissions.clone(),
    );
    let token = tokens.activate(record);
    Ok(Outcome::ok("Token issued.")
        .with("token", token)
        .with("id", id)
        .with("user", session.user.name.clone())
        .with("permissions", permissions)
        .with("expires", expires)
        .with("ttl", ttl))
}

/// `GET /v1/tokens` and `DELETE /v1/tokens/<id>`.
pub async fn manage(
    id: Option<String>,
    method: http::Method,
    state: Arc<State>,
    req: Req,
) -> Result<Response, Infallible> {
    respond(req, |session, _params, p| async move {
        match (method, id) {
            (http::Method::GET, None) => {
                let items: Vec<_> = state
                    .tokens
                    .list(Some(&session.user.name))
                    .iter()
                    .map(|r| json!(r.as_ref()))
                    .collect();
                Ok(reply::results(items, p.pretty))
            }
            (http::Method::DELETE, Some(id)) => {
                let own = state
                    .tokens
                    .get(&id)
                    .filter(|r| r.user == session.user.name);
                if own.is_none() {
                    return Err(ApiError::not_found(format!("No token '{id}' of yours.")));
                }
                state
                    .engine
                    .store
                    .commit(vec![Op::DeleteToken { key: id.clone() }])
                    .await
                    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
                state.tokens.remove(&id);
                Ok(reply::results(
                    vec![Outcome::ok(format!("Token '{id}' revoked."))],
                    p.pretty,
                ))
            }
            _ => Err(ApiError::no_route("/v1/tokens")),
        }
    })
    .await
}
