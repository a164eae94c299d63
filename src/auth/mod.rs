//! Authentication: HTTP Basic against `ApiUser` passwords, or a client certificate whose
//! verified CN names an `ApiUser` (`client_cn`); failed attempts feed the [`Blocklist`].

pub mod blocklist;
pub mod token;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use subtle::ConstantTimeEq;

use crate::objects::{dict_str, Object, Registry};
pub use crate::permissions::{Grant, Permissions};
use crate::quota;
pub use blocklist::Blocklist;

/// An API user.
#[derive(Debug)]
pub struct ApiUser {
    pub name: String,
    password: Option<String>,
    pub client_cn: Option<String>,
    pub permissions: Permissions,
    /// Requests per second beyond which the user gets 429, when configured.
    pub limiter: Option<Arc<DefaultDirectRateLimiter>>,
    /// Events per second each of the user's event streams delivers at most
    /// (`event_rate`, `event_burst`); a stream held back falls behind and catches up
    /// from the journal.
    pub event_quota: Option<Quota>,
}

impl ApiUser {
    /// Who calls the endpoints that take no credentials (self-service registration, which
    /// authenticates by API key): no permissions at all.
    pub fn anonymous() -> ApiUser {
        ApiUser {
            name: String::new(),
            password: None,
            client_cn: None,
            permissions: Permissions::default(),
            limiter: None,
            event_quota: None,
        }
    }

    /// The daemon acting on its own behalf (commands from the external command pipe,
    /// which the file system's permissions guard): every permission.
    pub fn system(name: &str) -> ApiUser {
        ApiUser {
            name: name.into(),
            permissions: Permissions::all(),
            ..ApiUser::anonymous()
        }
    }

    /// The user as an API token carrying `scope` acts: the same name, rate limits and
    /// quotas (shared with the user's other sessions), no more than `scope` of its
    /// permissions, no password or certificate.
    pub fn scoped(&self, scope: &[String]) -> ApiUser {
        ApiUser {
            name: self.name.clone(),
            password: None,
            client_cn: None,
            permissions: self.permissions.scoped(scope),
            limiter: self.limiter.clone(),
            event_quota: self.event_quota,
        }
    }

    /// The request body limit: 512 MiB for users allowed to upload configuration, 1 MiB
    /// for everyone else (Icinga's rule).
    pub fn body_limit(&self) -> usize {
        if self.permissions.has_unfiltered("config/modify") {
            512 << 20
        } else {
            1 << 20
        }
    }
}

/// All API users, by name and by certificate CN.
#[derive(Debug, Default)]
pub struct Users {
    by_name: HashMap<String, Arc<ApiUser>>,
    by_cn: HashMap<String, Arc<ApiUser>>,
    /// The object each user was read from: a user whose object did not change is kept
    /// (with its rate limiter's state) when the users are read again.
    sources: HashMap<String, Arc<Object>>,
}

impl ApiUser {
    /// Reads an `ApiUser` object.
    ///
    /// # Errors
    /// Invalid permissions or rate settings (objects are validated before they are
    /// installed, so only a configuration that was never validated has them).
    fn from_object(o: &Object) -> Result<ApiUser, String> {
        let invalid = |e: String| format!("ApiUser '{}': {e}", o.name);
        let permissions = Permissions::parse(o.attr("permissions")).map_err(invalid)?;
        let limiter = quota::parse(&o.attrs, "request_rate", "request_burst")
            .map_err(invalid)?
            .map(|q| Arc::new(RateLimiter::direct(q)));
        let event_quota = quota::parse(&o.attrs, "event_rate", "event_burst").map_err(invalid)?;
        Ok(ApiUser {
            name: o.name.to_string(),
            password: dict_str(&o.attrs, "password").map(str::to_string),
            client_cn: dict_str(&o.attrs, "client_cn")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            permissions,
            limiter,
            event_quota,
        })
    }
}

impl Users {
    /// Reads the `ApiUser` objects.
    ///
    /// # Errors
    /// A user with invalid permissions or rate settings.
    pub fn from_registry(reg: &Registry) -> Result<Users, String> {
        Users::default().updated(reg)
    }

    /// The users of `reg`, keeping every user whose object is unchanged.
    ///
    /// # Errors
    /// A user with invalid permissions or rate settings.
    pub fn updated(&self, reg: &Registry) -> Result<Users, String> {
        let mut users = Users::default();
        for o in reg.objects("ApiUser") {
            let user = match (self.sources.get(&*o.name), self.by_name.get(&*o.name)) {
                (Some(source), Some(user)) if Arc::ptr_eq(source, o) => user.clone(),
                _ => Arc::new(ApiUser::from_object(o)?),
            };
            if let Some(cn) = &user.client_cn {
                users.by_cn.insert(cn.clone(), user.clone());
            }
            users.sources.insert(user.name.clone(), o.clone());
            users.by_name.insert(user.name.clone(), user);
        }
        Ok(users)
    }

    /// Whether `reg` holds exactly the `ApiUser` objects these users were read from.
    pub fn current_in(&self, reg: &Registry) -> bool {
        reg.count("ApiUser") == self.sources.len()
            && reg.objects("ApiUser").all(|o| {
                self.sources
                    .get(&*o.name)
                    .is_some_and(|s| Arc::ptr_eq(s, o))
            })
    }

    pub fn by_name(&self, name: &str) -> Option<&Arc<ApiUser>> {
        self.by_name.get(name)
    }

    /// The user a verified client certificate CN maps to.
    pub fn by_client_cn(&self, cn: &str) -> Option<&Arc<ApiUser>> {
        self.by_cn.get(cn)
    }

    /// Checks an `Authorization: Basic …` header value. Unknown users, empty passwords
    /// and mismatches are all refused; the comparison takes constant time.
    pub fn basic(&self, header: &str) -> Option<&Arc<ApiUser>> {
        let (name, password) = decode_basic(header)?;
        let user = self.by_name.get(&name)?;
        let expected = user.password.as_deref().filter(|p| !p.is_empty())?;
        if password.is_empty() {
            return None;
        }
        bool::from(expected.as_bytes().ct_eq(password.as_bytes())).then_some(user)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// The user name of an `Authorization: Basic …` header value (for counting failures).
pub fn basic_user_name(header: &str) -> Option<String> {
    decode_basic(header).map(|(name, _)| name)
}

/// The name and password of an `Authorization: Basic …` header value.
fn decode_basic(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (name, password) = decoded.split_once(':')?;
    Some((name.to_string(), password.to_string()))
}
