//! The one place errors become Icinga's error envelope:
//! `{"error": <code>, "status": "<text>"}` with the same HTTP status.

use http::StatusCode;
use serde_json::json;
use warp::reply::Response;

/// An error answered with Icinga's envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: StatusCode,
    pub status: String,
    /// Shown only with `verbose=1`, as `diagnostic_information`.
    pub diagnostic: Option<String>,
}

impl ApiError {
    pub fn new(code: StatusCode, status: impl Into<String>) -> Self {
        ApiError {
            code,
            status: status.into(),
            diagnostic: None,
        }
    }

    pub fn bad_request(status: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, status)
    }

    pub fn not_found(status: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, status)
    }

    /// Icinga's answer for unknown paths, wrong methods and refused hidden resources.
    pub fn no_route(path: &str) -> Self {
        ApiError::not_found(format!(
            "The requested path '{}' could not be found or the request method is not valid for this path.",
            path.trim_start_matches('/')
        ))
    }

    pub fn forbidden(permission: &str) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("Missing permission: {}", permission.to_lowercase()),
        )
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized. Please check your user credentials.",
        )
    }

    pub fn with_diagnostic(mut self, d: impl Into<String>) -> Self {
        self.diagnostic = Some(d.into());
        self
    }

    /// The envelope; `diagnostic_information` only when asked for (`verbose`).
    pub fn response(&self, verbose: bool, pretty: bool) -> Response {
        let mut body = json!({ "error": self.code.as_u16(), "status": self.status });
        if verbose {
            if let Some(d) = &self.diagnostic {
                body["diagnostic_information"] = json!(d);
            }
        }
        let mut res = super::reply::json_response(self.code, &body, pretty);
        if self.code == StatusCode::REQUEST_TIMEOUT {
            // The rest of a body that stopped arriving is not waited for.
            res.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        res
    }
}

impl From<crate::error::Error> for ApiError {
    fn from(e: crate::error::Error) -> Self {
        ApiError {
            code: StatusCode::from_u16(e.kind.code()).unwrap_or(StatusCode::BAD_REQUEST),
            status: e.message,
            diagnostic: e.diagnostic,
        }
    }
}

/// What the request asked for in `verbose`/`pretty`, remembered for error replies.
#[derive(Clone, Copy, Debug, Default)]
pub struct Presentation {
    pub verbose: bool,
    pub pretty: bool,
}
