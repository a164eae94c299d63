//! Director-style self-service registration (seed 002): a new node posts to
//! `/v1/self-service/register-host?name=<fqdn>&key=<template key>` — no user, the key is
//! the credential — with `display_name`, `address`, `address6` in the body, and gets its
//! own host API key back (a JSON string, as the Director answers).
//!
//! A template key is a Host template's `vars.self_service_api_key`. The host is created
//! from that template (an API object, durable like any other); a host that already
//! exists is accepted only if it imports the template and has no key yet. Only the
//! SHA-256 of the host key is kept (`vars.self_service_key_sha256`). A wrong key counts
//! as a failed authentication for the caller's address (the blocklist).

use std::convert::Infallible;
use std::sync::Arc;

use http::StatusCode;
use serde_json::{json, Map, Value as Json};
use warp::reply::Response;

use super::error::ApiError;
use super::reply;
use super::request::{respond, Req};
use super::State;
use crate::objects::{types, writer, Object};

/// The properties a registering node may set.
const ALLOWED: &[&str] = &["display_name", "address", "address6"];

/// Whether a path is one of the self-service endpoints (no user credentials needed).
pub fn is_self_service(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "/v1/self-service/register-host" | "/director/self-service/register-host"
    )
}

fn sha256_hex(text: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

/// A Host template's `vars.self_service_api_key`: templates are code, so the key is read
/// from a probe object built from the template.
fn template_key(state: &State, template: &str) -> Option<String> {
    let location = filters::config::Location {
        path: "<self-service>".into(),
        first_line: 1,
        first_column: 1,
        last_line: 1,
        last_column: 1,
    };
    let probe = state
        .engine
        .library()
        .instantiate(
            "Host",
            "self-service-probe",
            &[template.to_string()],
            &[],
            location,
        )
        .ok()?;
    match probe.attrs.get("vars") {
        Some(filters::Value::Dict(v)) => {
            v.get("self_service_api_key").map(|k| k.to_display_string())
        }
        _ => None,
    }
}

fn var(o: &Object, name: &str) -> Option<String> {
    match o.attr("vars") {
        Some(filters::Value::Dict(v)) => v.get(name).map(|x| x.to_display_string()),
        _ => None,
    }
}

pub async fn register(state: Arc<State>, req: Req) -> Result<Response, Infallible> {
    let peer = req.session.client;
    respond(req, |_session, params, p| async move {
        let Some(name) = params.string("name").filter(|n| !n.is_empty()) else {
            return Err(ApiError::bad_request("Parameter 'name' is required."));
        };
        let key = params.string("key").unwrap_or_default();
        let reg = state.engine.registry();
        let wanted = sha256_hex(&key);
        let template = reg.templates("Host").find(|t| {
            template_key(&state, &t.name).is_some_and(|k| !k.is_empty() && sha256_hex(&k) == wanted)
        });
        let Some(template) = template.cloned() else {
            state.blocklist.record_failure(peer, None, "self-service key");
            return Err(ApiError::new(StatusCode::FORBIDDEN, "Invalid API key."));
        };
        let mut attrs = Map::new();
        for key in ["display_name", "address", "address6"] {
            if let Some(v) = params.string(key) {
                attrs.insert(key.to_string(), Json::String(v));
            }
        }
        let extra: Vec<&str> = params
            .keys()
            .filter(|k| !ALLOWED.contains(k) && !["name", "key", "pretty", "verbose"].contains(k))
            .collect();
        if !extra.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Properties {extra:?} cannot be set through self-service; allowed: display_name, address, address6."
            )));
        }
        let host_key: String = {
            let mut bytes = [0u8; 20];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
                .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "No randomness."))?;
            hex::encode(bytes)
        };
        attrs.insert(
            "vars.self_service_key_sha256".into(),
            json!(sha256_hex(&host_key)),
        );
        match reg.get("Host", &name).cloned() {
            Some(host) => {
                let imports = matches!(host.attr("templates"), Some(filters::Value::Array(t))
                    if t.iter().any(|x| x.to_display_string() == *template.name));
                if !imports {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!("Host '{name}' exists and does not import template '{}'.", template.name),
                    ));
                }
                if var(&host, "self_service_key_sha256").is_some_and(|k| !k.is_empty()) {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!("Host '{name}' already exists and has an API key."),
                    ));
                }
                let results = writer::modify(&state.engine.writer, vec![host], &attrs, &[]).await;
                if results.iter().any(|r| r.code != 200) {
                    return Err(ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("Host '{name}' could not be updated: {}", json!(results)),
                    ));
                }
            }
            None => {
                let Some(ti) = types::by_name("Host") else {
                    return Err(ApiError::not_found("No Host type."));
                };
                let create = writer::Create {
                    type_info: ti,
                    name: name.clone(),
                    templates: vec![template.name.to_string()],
                    attrs,
                };
                if let Err(errors) = writer::create(&state.engine.writer, create).await {
                    return Err(ApiError::bad_request(format!(
                        "Host '{name}' could not be created: {}",
                        errors.join("; ")
                    )));
                }
            }
        }
        tracing::info!(host = %name, template = %template.name, "Host registered through self-service.");
        Ok(reply::json_response(StatusCode::OK, &json!(host_key), p.pretty))
    })
    .await
}
