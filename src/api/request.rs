//! What every handler gets: the session, and the parameters read on demand (query string
//! merged over the JSON body).

use std::pin::Pin;
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use super::edge::Session;
use super::error::{ApiError, Presentation};
use crate::params::Params;

type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, warp::Error>> + Send>>;

/// A request on its way to a handler.
pub struct Req {
    pub session: Session,
    query: String,
    body: BodyStream,
    /// The Content-Length, if given.
    declared: usize,
    grace: Duration,
}

/// How long a body may take before the minimum rate applies (the edge sets it from the
/// server's guards).
#[derive(Clone, Copy, Debug)]
pub struct BodyGrace(pub Duration);

/// [`BodyGrace`] when the edge set none.
const BODY_GRACE: Duration = Duration::from_secs(10);
/// The average rate a body must arrive at after the grace period (bytes per second).
const MIN_BODY_RATE: u64 = 1024;
/// Bodies are preallocated up to this size; larger ones grow as they arrive.
const BODY_PREALLOCATE_MAX: usize = 64 << 20;

/// The time `received` bytes may take at the minimum rate.
fn rate_allowance(received: usize) -> Duration {
    Duration::from_millis(received as u64 * 1000 / MIN_BODY_RATE)
}

/// 408 for a body that stopped arriving; the connection closes.
fn too_slow(grace: Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "Request body arrived too slowly (less than {MIN_BODY_RATE} bytes per second after {} seconds).",
            grace.as_secs_f64()
        ),
    )
}

/// Extracts a [`Req`]; the body is not read yet.
pub fn req() -> impl Filter<Extract = (Req,), Error = warp::Rejection> + Clone {
    warp::ext::get::<Session>()
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::optional::<usize>("content-length"))
        .and(warp::ext::optional::<BodyGrace>())
        .and(warp::body::stream())
        .map(
            |session, query, declared: Option<usize>, grace: Option<BodyGrace>, body| {
                let body = StreamExt::map(body, to_bytes);
                Req {
                    session,
                    query,
                    body: Box::pin(body),
                    declared: declared.unwrap_or(0),
                    grace: grace.map_or(BODY_GRACE, |g| g.0),
                }
            },
        )
}

fn to_bytes<B: Buf>(chunk: Result<B, warp::Error>) -> Result<Bytes, warp::Error> {
    chunk.map(|mut b| b.copy_to_bytes(b.remaining()))
}

impl Req {
    /// Reads the body and merges the parameters.
    ///
    /// # Errors
    /// 400 for a body over the limit or not a JSON object.
    pub async fn params(&mut self) -> Result<Params, ApiError> {
        // Sized once from Content-Length (already checked against the limit): a large body
        // is not copied through a series of doubling buffers.
        let mut body = Vec::with_capacity(self.declared.min(BODY_PREALLOCATE_MAX));
        let started = tokio::time::Instant::now();
        loop {
            // A body must keep arriving: a grace period, then at least MIN_BODY_RATE on
            // average. A client trickling a byte every few seconds holds no slot for long.
            let deadline = started + self.grace + rate_allowance(body.len());
            let chunk = match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(_) => return Err(too_slow(self.grace)),
            };
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request(format!("Request body could not be read: {e}"))
            })?;
            body.extend_from_slice(&chunk);
        }
        let query = (!self.query.is_empty()).then_some(self.query.as_str());
        Ok(Params::parse(query, &body)?)
    }
}

/// Runs a handler body and renders its error with the request's `verbose`/`pretty`.
pub async fn respond<F, Fut>(mut req: Req, f: F) -> Result<Response, std::convert::Infallible>
where
    F: FnOnce(Session, Params, Presentation) -> Fut,
    Fut: std::future::Future<Output = Result<Response, ApiError>>,
{
    let params = match req.params().await {
        Ok(p) => p,
        Err(e) => return Ok(e.response(false, false)),
    };
    let p = Presentation {
        verbose: params.flag("verbose"),
        pretty: params.flag("pretty"),
    };
    Ok(match f(req.session, params, p).await {
        Ok(res) => res,
        Err(e) => e.response(p.verbose, p.pretty),
    })
}
