//! Success replies: the `{"results": [...]}` envelope, Icinga's status aggregation for
//! multi-object results, and JSON rendering with `pretty`.

use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use serde::Serialize;
use serde_json::{json, Value as Json};
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
pub fn results(items: Vec<Json>, pretty: bool) -> Response {
    json_response(StatusCode::OK, &json!({ "results": items }), pretty)
}

/// The HTTP status for per-item result codes (spec §3.4): one distinct 2xx code and no
/// failures → that code; exactly one distinct failure code → it; several 2xx codes → 200;
/// otherwise 500.
pub fn aggregate_status(codes: impl IntoIterator<Item = u16>) -> StatusCode {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for c in codes {
        let list = if (200..300).contains(&c) {
            &mut ok
        } else {
            &mut failed
        };
        if !list.contains(&c) {
            list.push(c);
        }
    }
    let code = match (ok.len(), failed.len()) {
        (_, 1) => failed[0],
        (1, 0) => ok[0],
        (n, 0) if n > 1 => 200,
        _ => 500,
    };
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_follows_icinga() {
        assert_eq!(aggregate_status([202, 202]), 202);
        assert_eq!(aggregate_status([200, 409, 200]), 409);
        assert_eq!(aggregate_status([200, 201]), 200);
        assert_eq!(aggregate_status([400, 409]), 500);
        assert_eq!(aggregate_status([]), 500);
    }
}
