//! `/v1/objects/<type>[/<name>]`: query (GET), create (PUT), modify (POST), delete
//! (DELETE).
//!
//! Query results stream: items are serialised in chunks of about 64 KiB as the client
//! reads, so a dump of 100 000 objects never sits in memory as one buffer. `limit` and
//! `offset` page through the results (an extension; `Link` headers point to the
//! neighbouring pages, `X-Total-Count` gives the total).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, LINK};
use http::{Method, StatusCode};
use serde_json::{json, Value as Json};
use warp::reply::Response;

use super::error::ApiError;
use super::reply;
use super::request::{respond, Req};
use super::State;
use crate::auth::ApiUser;
use crate::objects::query::{self, Output, Selection, Shape, UsedBy};
use crate::objects::types::{self, TypeInfo};
use crate::objects::writer::{self, Create};
use crate::objects::{Object, Registry};
use crate::outcome::Outcome;
use crate::params::Params;

/// The size a streamed chunk grows to before it is sent.
const CHUNK: usize = 64 * 1024;

pub async fn handle(
    plural: String,
    name: Option<String>,
    method: Method,
    state: Arc<State>,
    req: Req,
) -> Result<Response, Infallible> {
    let path = format!("v1/objects/{plural}");
    respond(req, |session, params, p| async move {
        let Some(ti) = types::by_plural(&plural).filter(|t| !t.is_abstract) else {
            return Err(ApiError::bad_request("Invalid type specified."));
        };
        let user = session.user.clone();
        match method {
            Method::GET => query(&state, &user, ti, name, &params, p.pretty).await,
            Method::PUT => match name {
                Some(name) => create(&state, &user, ti, name, &params, &path).await,
                None => Err(ApiError::no_route(&path)),
            },
            Method::POST => modify(&state, &user, ti, name, &params, p.pretty).await,
            Method::DELETE => delete(&state, &user, ti, name, &params, p.pretty).await,
            _ => Err(ApiError::no_route(&path)),
        }
    })
    .await
}

async fn query(
    state: &Arc<State>,
    user: &Arc<ApiUser>,
    ti: &'static TypeInfo,
    name: Option<String>,
    params: &Params,
    pretty: bool,
) -> Result<Response, ApiError> {
    let permission = format!("objects/query/{}", ti.name);
    let grant = user.permissions.grant(&permission);
    if grant.is_denied() {
        return Err(ApiError::forbidden(&permission));
    }
    let shape = Shape::from_params(ti, params)?;
    let mut objects = crate::evaluator::select(
        &state.engine.evaluator,
        state.engine.registry(),
        user,
        &permission,
        ti,
        Selection::from_params(ti, params, name.as_deref())?,
    )
    .await?;
    let reg = state.engine.registry();
    let total = objects.len();
    let offset = params.number("offset")?.unwrap_or(0.0).max(0.0) as usize;
    let limit = params.number("limit")?.map(|l| l.max(0.0) as usize);
    let paged = offset > 0 || limit.is_some();
    if paged {
        let end = limit.map_or(total, |l| offset.saturating_add(l).min(total));
        objects = objects
            .get(offset.min(total)..end.max(offset.min(total)))
            .map(<[_]>::to_vec)
            .unwrap_or_default();
    }
    let used_by = shape.used_by.then(|| Arc::new(query::used_by_index(&reg)));
    let job = Dump {
        registry: reg,
        objects,
        shape,
        zone: state.engine.node_name.clone(),
        user: user.clone(),
        used_by,
        next: 0,
        started: false,
        done: false,
    };
    let mut res = if pretty {
        let items: Vec<Json> = job.items().collect();
        reply::results(items, true)
    } else {
        json_stream(job)
    };
    if paged {
        let h = res.headers_mut();
        h.insert("x-total-count", HeaderValue::from(total));
        let mut links = Vec::new();
        let page = limit.unwrap_or(total.max(1));
        // The other pages of the same query: every parameter (body ones too) is kept.
        let mut base = format!("/v1/objects/{}?", ti.plural.to_lowercase());
        let kept = params.to_query(&["offset", "limit"]);
        if !kept.is_empty() {
            base = format!("{base}{kept}&");
        }
        if offset + page < total {
            links.push(format!(
                "<{base}offset={}&limit={page}>; rel=\"next\"",
                offset + page
            ));
        }
        if offset > 0 {
            links.push(format!(
                "<{base}offset={}&limit={page}>; rel=\"prev\"",
                offset.saturating_sub(page)
            ));
        }
        if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
            if !links.is_empty() {
                h.insert(LINK, v);
            }
        }
    }
    Ok(res)
}

/// A streamed body, labelled as JSON.
fn json_stream(job: Dump) -> Response {
    let mut res = warp::Reply::into_response(warp::reply::stream(futures_util::stream::iter(job)));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// A query's results, serialised lazily in chunks.
struct Dump {
    registry: Arc<Registry>,
    objects: Vec<Arc<Object>>,
    shape: Shape,
    zone: String,
    user: Arc<ApiUser>,
    used_by: Option<Arc<UsedBy>>,
    next: usize,
    started: bool,
    done: bool,
}

impl Dump {
    fn output<R>(&self, f: impl FnOnce(&Output<'_>) -> R) -> R {
        let can_join = |o: &Arc<Object>| query::can_view(&self.user.permissions, &self.registry, o);
        let out = Output {
            registry: &self.registry,
            zone: &self.zone,
            can_join: &can_join,
            used_by: self.used_by.as_deref(),
        };
        f(&out)
    }

    fn items(&self) -> impl Iterator<Item = Json> + '_ {
        self.objects
            .iter()
            .map(move |o| self.output(|out| out.item(o, &self.shape)))
    }
}

impl Iterator for Dump {
    type Item = Result<Bytes, Infallible>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        if !self.started {
            buf.extend_from_slice(b"{\"results\":[");
            self.started = true;
        }
        while self.next < self.objects.len() && buf.len() < CHUNK {
            let object = self.objects[self.next].clone();
            let item = self.output(|out| out.item(&object, &self.shape));
            if self.next > 0 {
                buf.push(b',');
            }
            if serde_json::to_writer(&mut buf, &item).is_err() {
                buf.extend_from_slice(b"null");
            }
            self.next += 1;
        }
        if self.next >= self.objects.len() {
            buf.extend_from_slice(b"]}");
            self.done = true;
        }
        Some(Ok(Bytes::from(buf)))
    }
}

async fn create(
    state: &Arc<State>,
    user: &Arc<ApiUser>,
    ti: &'static TypeInfo,
    name: String,
    params: &Params,
    path: &str,
) -> Result<Response, ApiError> {
    let permission = format!("objects/create/{}", ti.name);
    if !user.permissions.has(&permission) {
        // Icinga checks this outside the handler: the generic 404.
        return Err(ApiError::no_route(path));
    }
    let templates = params.string_list("templates")?.unwrap_or_default();
    let attrs = params.dict("attrs")?.unwrap_or_default();
    let ignore_on_error = params.flag("ignore_on_error");
    let verbose = params.flag("verbose");
    let result = writer::create(
        &state.engine.writer,
        Create {
            type_info: ti,
            name,
            templates,
            attrs,
        },
    )
    .await;
    let pretty = params.flag("pretty");
    Ok(match result {
        Ok(()) => reply::results(vec![Outcome::ok("Object was created")], pretty),
        Err(_) if ignore_on_error => reply::results(
            vec![Outcome::ok(
                "Object was not created but 'ignore_on_error' was set to true",
            )],
            pretty,
        ),
        Err(errors) => {
            let mut item = Outcome::new(500, "Object could not be created.");
            if verbose {
                item = item.with("diagnostic_information", errors.clone());
            }
            reply::json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "results": [item.with("errors", errors)] }),
                pretty,
            )
        }
    })
}

/// The objects a modify or delete applies to, under the `objects/<verb>/<Type>` permission.
async fn selected(
    state: &State,
    user: &Arc<ApiUser>,
    verb: &str,
    ti: &'static TypeInfo,
    name: Option<&str>,
    params: &Params,
) -> Result<Vec<Arc<Object>>, ApiError> {
    let permission = format!("objects/{verb}/{}", ti.name);
    let grant = user.permissions.grant(&permission);
    if grant.is_denied() {
        return Err(ApiError::forbidden(&permission));
    }
    Ok(crate::evaluator::select(
        &state.engine.evaluator,
        state.engine.registry(),
        user,
        &permission,
        ti,
        Selection::from_params(ti, params, name)?,
    )
    .await?)
}

async fn modify(
    state: &Arc<State>,
    user: &Arc<ApiUser>,
    ti: &'static TypeInfo,
    name: Option<String>,
    params: &Params,
    pretty: bool,
) -> Result<Response, ApiError> {
    let attrs = params.dict("attrs")?;
    let restore = params.string_list("restore_attrs")?;
    if attrs.is_none() && restore.is_none() {
        return Err(ApiError::bad_request(
            "Missing both 'attrs' and 'restore_attrs'. Or is this a POST query and you missed adding a 'X-HTTP-Method-Override: GET' header?",
        ));
    }
    let objects = selected(state, user, "modify", ti, name.as_deref(), params).await?;
    let results = writer::modify(
        &state.engine.writer,
        objects,
        &attrs.unwrap_or_default(),
        &restore.unwrap_or_default(),
    )
    .await;
    Ok(reply::results(results, pretty))
}

/// DELETE on comments and downtimes: `remove-comment` / `remove-downtime`, answered as a
/// delete.
async fn remove_annotations(
    state: &Arc<State>,
    ti: &'static TypeInfo,
    objects: &[Arc<crate::objects::Object>],
) -> Vec<Outcome> {
    use crate::processor::Change;
    let outcomes = crate::actions::apply_each(&state.engine, objects, |_| {
        Ok(match ti.name {
            "Comment" => Change::RemoveComment {
                author: String::new(),
            },
            _ => Change::RemoveDowntime {
                author: String::new(),
            },
        })
    })
    .await;
    objects
        .iter()
        .zip(outcomes)
        .map(|(o, r)| {
            let (outcome, errors) = if r.code == 200 {
                (Outcome::ok("Object was deleted."), Vec::new())
            } else {
                (
                    Outcome::new(500, "Object could not be deleted."),
                    vec![r.status],
                )
            };
            outcome
                .with("type", ti.name)
                .with("name", o.name.to_string())
                .with("errors", errors)
        })
        .collect()
}

async fn delete(
    state: &Arc<State>,
    user: &Arc<ApiUser>,
    ti: &'static TypeInfo,
    name: Option<String>,
    params: &Params,
    pretty: bool,
) -> Result<Response, ApiError> {
    let objects = selected(state, user, "delete", ti, name.as_deref(), params).await?;
    let results = match ti.name {
        // Comments and downtimes go as their remove actions take them: through the
        // processor, with their events, acknowledgement and downtime depth kept right.
        "Comment" | "Downtime" => remove_annotations(state, ti, &objects).await,
        _ => writer::delete(&state.engine.writer, objects, params.flag("cascade")).await,
    };
    let failed = results.iter().any(|r| r.code != 200);
    let code = if failed {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    Ok(reply::json_response(
        code,
        &json!({ "results": results }),
        pretty,
    ))
}
