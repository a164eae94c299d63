//! What the read-only list endpoints (`/v1/status`, `/v1/types`, `/v1/templates`,
//! `/v1/variables`) share: the permission's filters and the user's `filter`, both seeing
//! each item as one variable, and Icinga's 404 when a name was asked for and nothing is
//! left.

use filters::{Dict, Program, Value};
use serde_json::Value as Json;
use warp::reply::Response;

use super::error::ApiError;
use super::reply;
use crate::auth::Grant;
use crate::params::Params;

/// Answers with the `items` that `grant` and the `filter` parameter accept, each seen as
/// the variable `var`. `named`: the request asked for one item by name.
///
/// # Errors
/// 404 `not_found` for a filter that fails, or a named item that is not there.
pub fn answer(
    items: Vec<Json>,
    var: &str,
    grant: &Grant<'_>,
    params: &Params,
    named: bool,
    not_found: &str,
) -> Result<Response, ApiError> {
    let fail = || ApiError::not_found(not_found);
    let program = match params.string("filter").filter(|f| !f.trim().is_empty()) {
        Some(src) => Some(Program::compile(&src).map_err(|_| fail())?),
        None => None,
    };
    let mut out = Vec::new();
    for item in items {
        let scope = Dict::from([(var.into(), Value::from_json(&item))]);
        if !grant.allows(&scope) {
            continue;
        }
        if let Some(p) = &program {
            if !p.matches(&scope).map_err(|_| fail())? {
                continue;
            }
        }
        out.push(item);
    }
    if named && out.is_empty() {
        return Err(fail());
    }
    Ok(reply::results(out, params.flag("pretty")))
}
