//! `/v1/events`: Icinga's event stream (`POST`, newline-delimited JSON), the same as
//! Server-Sent Events (`GET` or `POST` with `Accept: text/event-stream`), and tokens for
//! browsers (`POST /v1/events/token`). WebSocket: [`super::events_ws`].
//!
//! Parameters: `types` (required), `filter`, `queue` (accepted and ignored, as Icinga
//! does since v2.11), and beyond Icinga: `since` (resume after that event id; SSE also
//! reads `Last-Event-ID`) and `heartbeat` (seconds of silence before a keep-alive; SSE
//! default 15, JSON streams none unless asked).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use warp::reply::Response;

use super::edge::Session;
use super::error::ApiError;
use super::event_feed::{Feed, Format};
use super::request::{respond, Req};
use super::State;
use crate::events::{Cursor, Filtered, Refusal, Registration, Subscription};
use crate::params::Params;

/// SSE keep-alive when the client does not choose.
const SSE_HEARTBEAT: Duration = Duration::from_secs(15);

/// Whether the client asked for Server-Sent Events.
pub fn wants_sse(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("text/event-stream"))
}

pub async fn handle(
    method: http::Method,
    accept: Option<String>,
    last_event_id: Option<String>,
    state: Arc<State>,
    req: Req,
) -> Result<Response, Infallible> {
    let sse = wants_sse(accept.as_deref());
    // Icinga answers GET on /v1/events with its generic 404; a GET asking for SSE is ours.
    if method == http::Method::GET && !sse {
        return Ok(ApiError::no_route("/v1/events").response(false, false));
    }
    respond(req, |session, params, _| async move {
        let format = if sse { Format::Sse } else { Format::Json };
        let resume = match last_event_id.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() && sse => Some(id.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "Invalid Last-Event-ID '{id}': expected an event id."
                ))
            })?),
            _ => since(&params)?,
        };
        let heartbeat = match params.number("heartbeat")? {
            Some(s) if s > 0.0 => Some(Duration::from_secs_f64(s.clamp(1.0, 3600.0))),
            Some(_) => None,
            None if sse => Some(SSE_HEARTBEAT),
            None => None,
        };
        let feed = open(&state, &session, &params, format, resume, heartbeat)?;
        let first = (format == Format::Sse).then(|| Bytes::from_static(b"retry: 2000\n\n"));
        let mut res = feed.into_body(first);
        let h = res.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(if sse {
                "text/event-stream"
            } else {
                "application/json"
            }),
        );
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert("x-accel-buffering", HeaderValue::from_static("no"));
        Ok(res)
    })
    .await
}

/// `since=<id>`.
pub fn since(params: &Params) -> Result<Option<u64>, ApiError> {
    match params.number("since")? {
        Some(n) if n >= 0.0 && n.fract() == 0.0 => Ok(Some(n as u64)),
        Some(_) => Err(ApiError::bad_request(
            "Invalid 'since': expected an event id (a whole number >= 0).",
        )),
        None => Ok(None),
    }
}

/// Checks the subscription and positions its cursor.
pub fn open(
    state: &Arc<State>,
    session: &Session,
    params: &Params,
    format: Format,
    resume: Option<u64>,
    heartbeat: Option<Duration>,
) -> Result<Feed, ApiError> {
    let name = match format {
        Format::Json => "json",
        Format::Sse => "sse",
    };
    let (events, registration) = start(state, session, params, name, resume)?;
    Ok(Feed {
        events,
        registration,
        format,
        heartbeat,
        shutdown: state.engine.shutdown.clone(),
        pending: None,
        peer: session.peer.clone(),
        stall_timeout: state.guards.stream_stall_timeout,
    })
}

/// A stream of any format: its subscription (from `types` and `filter`), its cursor (from
/// `resume`, else live) and its entry in `/v1/status`.
pub fn start(
    state: &Arc<State>,
    session: &Session,
    params: &Params,
    format: &'static str,
    resume: Option<u64>,
) -> Result<(Filtered, Registration), ApiError> {
    let subscription = subscribe(
        state,
        session,
        params.strings("types"),
        params.string("filter"),
    )?;
    let cursor = match resume {
        Some(id) => Cursor::after(state.engine.bus.clone(), state.engine.store.clone(), id),
        None => Cursor::live(state.engine.bus.clone(), state.engine.store.clone()),
    };
    let registration = state.engine.streams.register(
        &session.user.name,
        session.client_label(),
        format,
        &subscription,
        cursor.position(),
    );
    tracing::info!(user = %session.user.name, peer = %session.client_label(), stream = registration.info.id, format, from = cursor.position(), "Event stream opened.");
    Ok((
        Filtered::new(
            state.engine.evaluator.clone(),
            subscription,
            cursor,
            registration.info.clone(),
        ),
        registration,
    ))
}

/// A subscription, or the error Icinga gives.
pub fn subscribe(
    state: &Arc<State>,
    session: &Session,
    types: Vec<String>,
    filter: Option<String>,
) -> Result<Subscription, ApiError> {
    Subscription::new(
        state.engine.writer.objects.clone(),
        state.guards.event_filter_budget,
        session.user.clone(),
        types,
        filter,
    )
    .map_err(|r| match r {
        Refusal::NoTypes => ApiError::bad_request("'types' query parameter is required."),
        // Icinga hides the endpoint from a user without the permission.
        Refusal::Forbidden(t) => ApiError::no_route("/v1/events")
            .with_diagnostic(format!("Missing permission: events/{t}")),
        Refusal::BadFilter(why) => ApiError::not_found(why),
    })
}
