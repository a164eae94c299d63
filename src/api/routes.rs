//! The URL tree, one function per area; `routes` joins them and ends with Icinga's
//! generic 404 for everything else.

use std::convert::Infallible;
use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::ApiError;
use super::request::req;
use super::State;
use super::{
    actions, checker, config, console, events, info, metrics, objects, self_service, status,
    templates, tokens, types,
};

/// Every route, and Icinga's generic 404 for everything else.
pub fn routes(state: Arc<State>) -> BoxedFilter<(Response,)> {
    let root = warp::path::end()
        .and(warp::get())
        .map(|| warp::redirect::found(http::Uri::from_static("/v1")).into_response());
    let fallback = warp::path::full()
        .map(|p: warp::path::FullPath| ApiError::no_route(p.as_str()).response(false, false));
    root.or(process(&state))
        .unify()
        .or(object_routes(&state))
        .unify()
        .or(action_routes(&state))
        .unify()
        .or(event_routes(&state))
        .unify()
        .or(config_routes(&state))
        .unify()
        .or(fallback)
        .unify()
        .boxed()
}

/// Hands every request the shared state.
fn with(state: &Arc<State>) -> impl Filter<Extract = (Arc<State>,), Error = Infallible> + Clone {
    let state = state.clone();
    warp::any().map(move || state.clone())
}

/// `/v1` (the API's own description), `/v1/status` and `/metrics`.
fn process(state: &Arc<State>) -> BoxedFilter<(Response,)> {
    let v1 = warp::path!("v1")
        .and(warp::get())
        .and(with(state))
        .and(req())
        .and_then(info::handle);
    let status = warp::path!("v1" / "status" / ..)
        .and(optional_name())
        .and(warp::get())
        .and(with(state))
        .and(req())
        .and_then(status::handle);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with(state))
        .and(req())
        .and_then(metrics::handle);
    v1.or(status).unify().or(metrics).unify().boxed()
}

/// `/v1/types`, `/v1/objects`, `/v1/templates`, `/v1/variables`.
fn object_routes(state: &Arc<State>) -> BoxedFilter<(Response,)> {
    let types = warp::path!("v1" / "types" / ..)
        .and(optional_name())
        .and(warp::get())
        .and(with(state))
        .and(req())
        .and_then(types::handle);
    let objects = warp::path!("v1" / "objects" / String / ..)
        .and(optional_name())
        .and(warp::method())
        .and(with(state))
        .and(req())
        .and_then(objects::handle);
    let templates = warp::path!("v1" / "templates" / String / ..)
        .and(optional_name())
        .and(warp::get())
        .and(with(state))
        .and(req())
        .and_then(templates::templates);
    let variables = warp::path!("v1" / "variables" / ..)
        .and(optional_name())
        .and(warp::get())
        .and(with(state))
        .and(req())
        .and_then(templates::variables);
    types
        .or(objects)
        .unify()
        .or(templates)
        .unify()
        .or(variables)
        .unify()
        .boxed()
}

/// `/v1/actions`, `/v1/console`, `/v1/checker` and self-service registration.
fn action_routes(state: &Arc<State>) -> BoxedFilter<(Response,)> {
    let actions = warp::path!("v1" / "actions" / String)
        .and(warp::post())
        .and(with(state))
        .and(req())
        .and_then(actions::handle);
    let console = warp::path!("v1" / "console" / String)
        .and(warp::post())
        .and(with(state))
        .and(req())
        .and_then(console::handle);
    let checker = warp::path!("v1" / "checker")
        .and(warp::get().or(warp::post()).unify())
        .and(with(state))
        .and(req())
        .and_then(checker::handle);
    let register = warp::path!("v1" / "self-service" / "register-host")
        .or(warp::path!("director" / "self-service" / "register-host"))
        .unify()
        .and(warp::post())
        .and(with(state))
        .and(req())
        .and_then(self_service::register);
    actions
        .or(console)
        .unify()
        .or(checker)
        .unify()
        .or(register)
        .unify()
        .boxed()
}

/// `/v1/events`, and the API tokens (`/v1/tokens`, `/v1/events/token`).
fn event_routes(state: &Arc<State>) -> BoxedFilter<(Response,)> {
    let token = warp::path!("v1" / "events" / "token")
        .and(warp::post())
        .and(with(state))
        .and(req())
        .and_then(tokens::for_streams);
    let issue = warp::path!("v1" / "tokens")
        .and(warp::post())
        .and(with(state))
        .and(req())
        .and_then(tokens::issue);
    let manage = warp::path!("v1" / "tokens" / ..)
        .and(optional_name())
        .and(warp::get().or(warp::delete()).unify())
        .and(warp::method())
        .and(with(state))
        .and(req())
        .and_then(tokens::manage);
    let events = warp::path!("v1" / "events")
        .and(warp::get().or(warp::post()).unify())
        .and(warp::method())
        .and(warp::header::optional::<String>("accept"))
        .and(warp::header::optional::<String>("last-event-id"))
        .and(with(state))
        .and(req())
        .and_then(events::handle);
    token
        .or(events)
        .unify()
        .or(issue)
        .unify()
        .or(manage)
        .unify()
        .boxed()
}

/// `/v1/config`: packages, stages, files.
fn config_routes(state: &Arc<State>) -> BoxedFilter<(Response,)> {
    let packages = warp::path!("v1" / "config" / "packages" / ..)
        .and(optional_name())
        .and(warp::method())
        .and(with(state))
        .and(req())
        .and_then(config::packages);
    let stages = warp::path!("v1" / "config" / "stages" / String / ..)
        .and(optional_name())
        .and(warp::method())
        .and(with(state))
        .and(req())
        .and_then(config::stages);
    let files = warp::path!("v1" / "config" / "files" / ..)
        .and(warp::path::tail())
        .and(warp::get())
        .map(|t: warp::path::Tail| t.as_str().to_string())
        .and(with(state))
        .and(req())
        .and_then(config::files);
    packages.or(stages).unify().or(files).unify().boxed()
}

/// An optional last path segment (`/v1/status` or `/v1/status/CIB`), percent-decoded.
fn optional_name() -> impl Filter<Extract = (Option<String>,), Error = warp::Rejection> + Clone {
    warp::path::param::<String>()
        .and(warp::path::end())
        .map(|s: String| Some(decode(&s)))
        .or(warp::path::end().map(|| None))
        .unify()
}

/// Percent-decoding of a path segment (`web1%21http` → `web1!http`); warp leaves
/// segments encoded.
pub fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}
