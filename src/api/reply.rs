//! Success replies: the `{"results": [...]}` envelope, Icinga's status aggregation for
//! multi-object results, and JSON rendering with `pretty`.

use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use serde::Serialize;

use crate::outcome::{aggregate_code, Outcome};
use serde_json::json;
use warp::reply::Response;

/// Renders `value` as the response body.
pub fn json_response(code: StatusCode, value: &impl Serialize, pretty: bool) -> Response {
    let body = if pretty {
        let mut out = Vec::with_capacity(256);
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        match value.serialize(&mut ser) {
            Ok(()) => out,
            Err(_) => b"{}".to_vec(),
        }
    } else {
        serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
    };
    let mut res = Response::new(body.into());
    *res.status_mut() = code;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// `{"results": items}` with 200.
pub fn results<T: Serialize>(items: Vec<T>, pretty: bool) -> Response {
    json_response(StatusCode::OK, &json!({ "results": items }), pretty)
}

/// The HTTP status of an answer made of `outcomes` (see [`aggregate_code`]).
pub fn aggregate_status<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> StatusCode {
    let code = aggregate_code(outcomes.into_iter().map(|o| o.code));
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
