//! `/ui`: the live dashboard, shipped in the binary (no CDN, no build step). The page and
//! its script and style need no credentials: they hold no data. The page signs in for an
//! API token and reads everything through the API with it — objects from `/v1/objects`,
//! changes from the Server-Sent Events stream, actions through `/v1/actions`.

use http::header::{self, HeaderValue};
use http::{Method, Request, StatusCode};
use warp::reply::Response;

const INDEX: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/app.css");

/// The answer for a dashboard path, `None` for every other path.
pub fn asset<B>(req: &Request<B>) -> Option<Response> {
    let path = req.uri().path();
    let (body, content_type) = match path {
        "/ui" => return Some(redirect()),
        "/ui/" | "/ui/index.html" => (INDEX, "text/html; charset=utf-8"),
        "/ui/app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/ui/app.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return None,
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Some(super::error::ApiError::no_route(path).response(false, false));
    }
    let mut res = Response::new(body.into());
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Some(res)
}

fn redirect() -> Response {
    let mut res = Response::new(Vec::<u8>::new().into());
    *res.status_mut() = StatusCode::MOVED_PERMANENTLY;
    res.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/ui/"));
    res
}
