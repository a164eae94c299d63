//! The edge every request passes before routing, as Icinga's HTTP server does it:
//! method and path normalisation, CORS preflight, authentication (client certificate or
//! Basic), the per-user rate limit, the body limit, response headers and the request log.

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::Limited;
use hyper::body::Incoming;
use warp::reply::Response;

use super::error::ApiError;
use super::settings::Probes;
use super::Peer;
use super::State;
use crate::auth::ApiUser;
use ipnet::IpNet;

/// The request body as routes see it: bounded by the user's body limit.
pub type Body = Limited<Incoming>;

/// The routes, as the edge calls them.
pub type Routes = warp::filters::BoxedFilter<(Response,)>;

/// The authenticated caller, available to handlers as a request extension.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: Arc<ApiUser>,
    pub peer: Arc<Peer>,
    /// The client's address: the peer's, or the one a trusted proxy forwarded.
    pub client: IpAddr,
    /// The permissions of the API token the request came with (the user's are narrowed
    /// to them); `None` for passwords and certificates.
    pub scope: Option<Vec<String>>,
}

impl Session {
    /// The client as logs and `/v1/status` name it: the peer's address and port, or the
    /// address a trusted proxy forwarded.
    pub fn client_label(&self) -> String {
        if self.client == self.peer.addr.ip() {
            self.peer.addr.to_string()
        } else {
            self.client.to_string()
        }
    }
}

/// Handles one request.
pub fn handle(
    state: Arc<State>,
    peer: Arc<Peer>,
    routes: Routes,
    mut req: Request<Incoming>,
) -> impl Future<Output = Result<Response, Infallible>> + Send {
    let started = Instant::now();
    normalize(&mut req);
    let method = req.method().clone();
    let target = req.uri().path().to_string();
    let origin = req.headers().get(header::ORIGIN).cloned();
    let agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let client = forwarded_client(&state.edge.trusted_proxies, peer.addr.ip(), &req);
    let admitted = admit(&state, &peer, client, &mut req);
    let user_name = req
        .extensions()
        .get::<Session>()
        .map(|s| s.user.name.clone());
    let routed = match admitted {
        None if super::events_ws::is_upgrade(&req) => {
            match req.extensions().get::<Session>().cloned() {
                Some(session) => Err(super::events_ws::upgrade(state.clone(), session, req)),
                None => Err(ApiError::unauthorized().response(false, false)),
            }
        }
        None if super::forward::applies(&state, &req) => Ok(futures_util::future::Either::Right(
            super::forward::send(state.clone(), limit_body(req)),
        )),
        None => Ok(futures_util::future::Either::Left(
            tower_service::Service::call(&mut warp::service(routes), limit_body(req)),
        )),
        Some(res) => Err(res),
    };
    async move {
        let mut res = match routed {
            Ok(fut) => fut.await.unwrap_or_else(|never| match never {}),
            Err(res) => res,
        };
        decorate(&state, origin.as_ref(), &mut res);
        state.metrics.record(
            &method,
            &target,
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
        tracing::info!(
            method = %method,
            target,
            peer = %peer.addr,
            client = %client,
            user = user_name.as_deref().unwrap_or("-"),
            agent,
            status = res.status().as_u16(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "HTTP request."
        );
        Ok(res)
    }
}

/// `GET /-/healthy` and `GET /-/ready`, answered without credentials for load balancers,
/// container orchestrators and service managers: healthy while the process serves; ready
/// while the store takes writes and the server is not stopping (otherwise 503 with the
/// reason).
fn probe<B>(state: &State, req: &Request<B>) -> Option<Response> {
    let path = req.uri().path();
    if path != "/-/healthy" && path != "/-/ready" {
        return None;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Some(ApiError::no_route(path).response(false, false));
    }
    let unready = if path == "/-/healthy" {
        None
    } else if state.engine.shutdown.is_cancelled() {
        Some("The server is stopping.".to_string())
    } else {
        let fault = state.engine.store.health().fault;
        fault.map(|f| format!("The store takes no writes: {f}"))
    };
    let (status, text) = match unready {
        None if path == "/-/healthy" => (StatusCode::OK, "Healthy.\n".to_string()),
        None => (StatusCode::OK, "Ready.\n".to_string()),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why + "\n"),
    };
    let mut res = warp::reply::Reply::into_response(text);
    *res.status_mut() = status;
    Some(res)
}

/// Decides whether the request reaches the routes: `Some` is the early answer; otherwise
/// the request now carries its [`Session`] and body limit.
fn admit(
    state: &State,
    peer: &Arc<Peer>,
    client: IpAddr,
    req: &mut Request<Incoming>,
) -> Option<Response> {
    let probes = state.edge.probes;
    if probes == Probes::Open {
        if let Some(res) = probe(state, req) {
            return Some(res);
        }
    }
    if let Some(wait) = state.blocklist.blocked_for(client) {
        return Some(blocked(wait));
    }
    if let Some(res) = super::ui::asset(req) {
        return Some(res);
    }
    if req.method() == Method::OPTIONS {
        if let Some(res) = preflight(state, req) {
            return Some(res);
        }
    }
    let is_stream = is_event_stream(req.uri().path());
    if is_stream && req.version() < http::Version::HTTP_11 {
        return Some(
            ApiError::bad_request("HTTP/1.0 not supported for event streams.")
                .response(false, false),
        );
    }
    let token = bearer(req, is_stream);
    let mut scope = None;
    let user = match &peer.cert_user {
        // A certificate that names a user fixes it for the connection.
        Some(user) => user.clone(),
        // An API token: its user, narrowed to the token's permissions.
        None if token.is_some() => {
            let now = state.engine.clock.now() as u64;
            let user = token
                .and_then(|t| state.tokens.verify(&t, now))
                .and_then(|record| {
                    let users = state.engine.users();
                    let user = users.by_name(&record.user)?;
                    scope = Some(record.permissions.clone());
                    Some(Arc::new(user.scoped(&record.permissions)))
                });
            match user {
                Some(user) => user,
                None => {
                    state.blocklist.record_failure(client, None, "token");
                    tracing::info!(peer = %peer.addr, client = %client, "Token authentication failed.");
                    let mut res = ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "Invalid, expired or revoked token. Request a new one with POST /v1/tokens.",
                    )
                    .response(false, false);
                    res.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer realm=\"Icinga 2\""),
                    );
                    return Some(res);
                }
            }
        }
        None => {
            let header = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok());
            let users = state.engine.users();
            match header.and_then(|h| users.basic(h)) {
                Some(user) => {
                    state.blocklist.record_success(client, &user.name);
                    user.clone()
                }
                None => {
                    // Self-service registration authenticates by API key, not user.
                    if header.is_none() && super::self_service::is_self_service(req.uri().path()) {
                        req.extensions_mut().insert(Session {
                            user: Arc::new(crate::auth::ApiUser::anonymous()),
                            peer: peer.clone(),
                            client,
                            scope: None,
                        });
                        req.extensions_mut().insert(BodyLimit(1 << 20));
                        req.extensions_mut()
                            .insert(super::request::BodyGrace(state.guards.body_grace));
                        return None;
                    }
                    // A request without credentials is a client asking for the challenge
                    // (browsers, PowerShell -Credential); only wrong credentials count.
                    if let Some(h) = header {
                        let name = crate::auth::basic_user_name(h);
                        state
                            .blocklist
                            .record_failure(client, name.as_deref(), "authentication");
                        tracing::info!(peer = %peer.addr, client = %client, "Authentication failed.");
                    }
                    return Some(unauthorized(req));
                }
            }
        }
    };
    if let Some(limiter) = &user.limiter {
        if let Err(not_until) = limiter.check() {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            let mut res = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many requests for user '{}'. Please retry later.",
                    user.name
                ),
            )
            .response(false, false);
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return Some(res);
        }
    }
    let limit = body_limit(&user, req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let mut res = ApiError::bad_request(format!(
            "Request body too large: the limit for user '{}' is {limit} bytes.",
            user.name
        ))
        .response(false, false);
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Some(res);
    }
    state.connections.authenticated(&peer.standing);
    if probes == Probes::Authenticated {
        if let Some(res) = probe(state, req) {
            return Some(res);
        }
    }
    req.extensions_mut().insert(Session {
        user,
        peer: peer.clone(),
        client,
        scope,
    });
    allow_body(req, limit, state.guards.body_grace);
    None
}

/// Sets the body limit and grace period the routes read a request's body with.
pub fn allow_body<B>(req: &mut Request<B>, limit: usize, grace: std::time::Duration) {
    req.extensions_mut().insert(BodyLimit(limit));
    req.extensions_mut()
        .insert(super::request::BodyGrace(grace));
}

/// The request body limit: what the endpoint needs, within what the user may send.
///
/// [DECIDE] Icinga lets a user with `config/modify` send 512 MiB to any endpoint. Auspex
/// keeps that for configuration uploads (`/v1/config/…`), gives the batch result
/// endpoint 64 MiB whoever sends, and bounds everything else by 16 MiB: a JSON body costs several times its
/// size in memory while it is parsed, and no other request needs more (docs/security.md).
fn body_limit(user: &ApiUser, path: &str) -> usize {
    const OTHER_MAX: usize = 16 << 20;
    const BATCH_MAX: usize = 64 << 20;
    let allowed = user.body_limit();
    let path = path.trim_end_matches('/');
    if path.starts_with("/v1/config/") {
        allowed
    } else if path == "/v1/actions/process-check-results" {
        BATCH_MAX
    } else {
        allowed.min(OTHER_MAX)
    }
}

/// The streaming endpoints, where tokens are also accepted in the query string.
fn is_event_stream(path: &str) -> bool {
    matches!(path.trim_end_matches('/'), "/v1/events" | "/v1/events/ws")
}

/// A bearer token: `Authorization: Bearer …`, or on the event streams (which browsers
/// open without headers) the `access_token` query parameter.
fn bearer<B>(req: &Request<B>, is_stream: bool) -> Option<String> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        });
    if let Some(t) = header {
        return Some(t.trim().to_string());
    }
    if !is_stream {
        return None;
    }
    form_urlencoded::parse(req.uri().query()?.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then the last
/// address of `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends
/// the address it received the request from, so the addresses right of it are the
/// trusted chain's). An entry that is not an address ends the walk.
fn forwarded_client<B>(trusted: &[IpNet], peer: IpAddr, req: &Request<B>) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.into_iter().rev() {
        let Some(ip) = forwarded_address(entry) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// An address as proxies write it: bare, with a port, IPv6 in brackets.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })
}

/// The body limit chosen for the request, applied when the routes are called.
#[derive(Clone, Copy, Debug)]
struct BodyLimit(usize);

/// What real clients send and Icinga accepts: lower-case methods, `X-HTTP-Method-Override`,
/// doubled slashes in paths.
fn normalize<B>(req: &mut Request<B>) {
    let over = req
        .headers()
        .get("x-http-method-override")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_uppercase);
    let method = over.unwrap_or_else(|| req.method().as_str().to_ascii_uppercase());
    if let Ok(m) = Method::from_bytes(method.as_bytes()) {
        *req.method_mut() = m;
    }
    let path = req.uri().path();
    if path.contains("//") {
        let mut clean = String::with_capacity(path.len());
        for c in path.chars() {
            if !(c == '/' && clean.ends_with('/')) {
                clean.push(c);
            }
        }
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{clean}?{q}"),
            None => clean,
        };
        if let Ok(uri) = rebuilt.parse() {
            *req.uri_mut() = uri;
        }
    }
}

/// 429 for a blocked address, with the time left in `Retry-After`; the connection closes.
fn blocked(wait: std::time::Duration) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut res = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "Too many failed authentication attempts from this address. Retry in {secs} seconds."
        ),
    )
    .response(false, false);
    let h = res.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// 401 with the challenge; JSON when the client accepts it, HTML otherwise (Icinga).
fn unauthorized<B>(req: &Request<B>) -> Response {
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let mut res = if wants_json {
        ApiError::unauthorized().response(false, false)
    } else {
        let mut res = Response::new(
            "<h1>Unauthorized. Please check your user credentials.</h1>"
                .as_bytes()
                .to_vec()
                .into(),
        );
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        res
    };
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Icinga 2\""),
    );
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// Answers a CORS preflight for an allowed origin.
fn preflight<B>(state: &State, req: &Request<B>) -> Option<Response> {
    let origin = req.headers().get(header::ORIGIN)?.to_str().ok()?;
    req.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
    if !state.listener.allows_origin(origin) {
        return None;
    }
    let mut res = Response::new("Preflight OK".as_bytes().to_vec().into());
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        state.listener.allow_methods.clone(),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        state.listener.allow_headers.clone(),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    Some(res)
}

/// Headers every response gets: `Server`, CORS for allowed origins, configured extras.
fn decorate(state: &State, origin: Option<&HeaderValue>, res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::SERVER,
        HeaderValue::from_static(crate::SERVER_HEADER),
    );
    if let Some(origin) = origin {
        if origin
            .to_str()
            .is_ok_and(|o| state.listener.allows_origin(o))
        {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
            if state.listener.allow_credentials {
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
        }
    }
    for (k, v) in &state.listener.response_headers {
        h.insert(k.clone(), v.clone());
    }
}

/// Applies the body limit chosen in [`admit`]: the routes read at most that many bytes.
pub fn limit_body(req: Request<Incoming>) -> Request<Body> {
    let limit = req.extensions().get::<BodyLimit>().map_or(1 << 20, |l| l.0);
    req.map(|b| Limited::new(b, limit))
}
