//! What every handler gets: the session, and the parameters read on demand (query string
//! merged over the JSON body).

use std::pin::Pin;

use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use warp::reply::Response;
use warp::Filter;

use super::edge::Session;
use super::error::{ApiError, Presentation};
use super::params::Params;

type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, warp::Error>> + Send>>;

/// A request on its way to a handler.
pub struct Req {
    pub session: Session,
    query: String,
    body: BodyStream,
}

/// Extracts a [`Req`]; the body is not read yet.
pub fn req() -> impl Filter<Extract = (Req,), Error = warp::Rejection> + Clone {
    warp::ext::get::<Session>()
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::body::stream())
        .map(|session, query, body| {
            let body = StreamExt::map(body, to_bytes);
            Req {
                session,
                query,
                body: Box::pin(body),
            }
        })
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
        let mut body = Vec::new();
        while let Some(chunk) = self.body.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request(format!("Request body could not be read: {e}"))
            })?;
            body.extend_from_slice(&chunk);
        }
        let query = (!self.query.is_empty()).then_some(self.query.as_str());
        Params::parse(query, &body)
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
