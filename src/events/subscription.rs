//! What one subscriber wants and may see: its event types, its filter (compiled once),
//! and the `events/<Type>` permissions of its user, evaluated per event.

use std::sync::Arc;

use filters::{Program, Scope, Value};

use crate::auth::{ApiUser, Grant};
use crate::bus::{Event, EventKind, Interest};
use crate::objects::query::{can_view, permission_scope, visible_objects};
use crate::objects::{Object, Published, Registry};
use crate::permissions::any_allows;

/// A subscription, checked against every event.
pub struct Subscription {
    /// The requested types the user may see, as bits over [`EventKind::index`].
    types: u16,
    /// The `events/<Type>` permission filters, by type index (empty: unfiltered).
    filters: Vec<Vec<Value>>,
    /// The type names as requested (for `/v1/status`).
    pub requested: Vec<String>,
    pub filter: Option<Program>,
    pub user: Arc<ApiUser>,
    /// The objects `get_object()` and permission filters see.
    objects: Published,
    /// How long a filter that is not simple may take for one event.
    budget: std::time::Duration,
    /// Filter failures so far (the first one is logged as a warning, the rest at debug).
    failures: std::sync::atomic::AtomicU64,
    /// Whether the filter is simple (decided once, at subscription).
    simple: bool,
    /// What the subscriber can want at most, when that is worth an inbox (see
    /// [`Subscription::interest`]).
    interest: Option<Interest>,
}

/// A filter naming more hosts than this is evaluated for every event instead.
const MAX_INTEREST_HOSTS: usize = 256;

/// Why a subscription was refused.
#[derive(Debug)]
pub enum Refusal {
    /// No `types` given.
    NoTypes,
    /// The user lacks `events/<Type>` for a requested type (Icinga answers with its
    /// generic 404).
    Forbidden(String),
    /// The filter does not compile (rendered with a caret).
    BadFilter(String),
}

impl Subscription {
    /// Checks and compiles a subscription. Unknown type names pass (if permitted) and are
    /// ignored, as in Icinga.
    ///
    /// # Errors
    /// See [`Refusal`].
    pub fn new(
        objects: Published,
        budget: std::time::Duration,
        user: Arc<ApiUser>,
        types: Vec<String>,
        filter: Option<String>,
    ) -> Result<Subscription, Refusal> {
        if types.is_empty() {
            return Err(Refusal::NoTypes);
        }
        let mut bits = 0u16;
        let mut filters = vec![Vec::new(); EventKind::ALL.len()];
        for t in &types {
            match user.permissions.grant(&format!("events/{t}")) {
                Grant::Denied => return Err(Refusal::Forbidden(t.clone())),
                grant => {
                    // Unknown types have no slot and no bit.
                    let i = EventKind::from_name(t).map_or(u8::MAX, EventKind::index);
                    if let Some(slot) = filters.get_mut(usize::from(i)) {
                        bits |= 1 << i;
                        *slot = grant.owned_filters().unwrap_or_default();
                    }
                }
            }
        }
        let filter = match filter.filter(|f| !f.trim().is_empty()) {
            Some(src) => Some(Program::compile(&src).map_err(|e| {
                Refusal::BadFilter(format!("Invalid filter: {}", e.render(&src, "<filter>")))
            })?),
            None => None,
        };
        let simple = filter.as_ref().is_none_or(Program::is_simple);
        let hosts = filter
            .as_ref()
            .and_then(|f| f.required_strings(&["event", "obj"], "host"))
            .filter(|hosts| hosts.len() <= MAX_INTEREST_HOSTS)
            .map(|hosts| hosts.iter().map(|h| Box::from(&**h)).collect());
        let check_results = 1u16 << EventKind::CheckResult.index();
        let interest = (hosts.is_some() || bits & check_results == 0)
            .then_some(Interest { types: bits, hosts });
        Ok(Subscription {
            types: bits,
            filters,
            requested: types,
            filter,
            user,
            objects,
            budget,
            failures: Default::default(),
            simple,
            interest,
        })
    }

    /// The events the subscriber can want at most, when that is worth an inbox (see
    /// [`crate::bus::inbox`]): its filter limits them to some hosts (`event.host ==
    /// "web1"`, `event.host in [...]`), or its types leave out `CheckResult`, the most
    /// frequent. No other event passes.
    pub fn interest(&self) -> Option<&Interest> {
        self.interest.as_ref()
    }

    /// Whether [`Subscription::wants`] costs about the size of the filter: such a
    /// subscription is filtered where its stream runs, any other on the evaluator's pool.
    pub fn is_simple(&self) -> bool {
        self.simple
    }

    /// Whether the subscriber gets `item`: a loss report always, an event if it
    /// [`Subscription::wants`] it.
    pub fn wants_item(&self, item: &super::Item) -> bool {
        match item {
            super::Item::Event(e) => self.wants(e),
            super::Item::Lost { .. } => true,
        }
    }

    /// Whether the subscriber gets `event`. A filter that is not simple is stopped after
    /// the event filter budget (the event is then skipped, as for a filter error).
    pub fn wants(&self, event: &Event) -> bool {
        // Unknown types have no slot and no bit.
        let Some(permission_filters) = self.filters.get(usize::from(event.index)) else {
            return false;
        };
        if self.types & (1u16 << event.index) == 0 {
            return false;
        }
        if !permission_filters.is_empty() && !self.permitted(event, permission_filters) {
            return false;
        }
        let Some(filter) = &self.filter else {
            return true;
        };
        let scope = EventScope {
            event: event.value(),
            user: &self.user,
            objects: &self.objects,
        };
        let verdict = if self.simple {
            filter.matches(&scope)
        } else {
            // Never on the async workers (see `events::filtered`), and never long.
            let budget = filters::Budget::within(self.budget);
            filter.matches_within(&scope, &budget)
        };
        match verdict {
            Ok(keep) => keep,
            Err(e) => {
                // Icinga: a warning, and the event is dropped for this subscriber.
                let n = self
                    .failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let message = filter.render_error(&e);
                if n == 0 {
                    tracing::warn!(user = %self.user.name, event = event.id, error = %message, "Event filter failed; the event is skipped for this stream.");
                } else {
                    tracing::debug!(user = %self.user.name, event = event.id, error = %message, "Event filter failed.");
                }
                false
            }
        }
    }

    /// The `events/<Type>` permission filters, evaluated against the object the event is
    /// about (Icinga does not apply them, icinga2#10684). No object: not permitted.
    fn permitted(&self, event: &Event, filters: &[Value]) -> bool {
        let reg = self.objects.current();
        let Some(object) = subject(&reg, event.value()) else {
            return false;
        };
        let var = object.type_info.name.to_lowercase();
        let empty = filters::Dict::new();
        any_allows(filters, &permission_scope(&reg, &object, &var, &empty))
    }
}

/// The host or service (or, for object events, the object) an event is about.
fn subject(reg: &Registry, event: &Value) -> Option<Arc<Object>> {
    let field = |v: &Value, k: &str| match v {
        Value::Dict(d) => d.get(k).map(|x| x.to_display_string()),
        _ => None,
    };
    if let (Some(t), Some(n)) = (field(event, "object_type"), field(event, "object_name")) {
        return reg.get(&t, &n).cloned();
    }
    // Comments and downtimes carry their checkable inside.
    let inner = match event {
        Value::Dict(d) => d.get("comment").or_else(|| d.get("downtime")),
        _ => None,
    };
    let (host, service) = match inner {
        Some(o) => (field(o, "host_name"), field(o, "service_name")),
        None => (field(event, "host"), field(event, "service")),
    };
    let host = host?;
    match service.filter(|s| !s.is_empty()) {
        Some(s) => reg.get("Service", &format!("{host}!{s}")).cloned(),
        None => reg.get("Host", &host).cloned(),
    }
}

/// What an event filter sees: `event` (and `obj`), and `get_object()`/`get_objects()`
/// limited by the user's `objects/query/<Type>` permissions.
struct EventScope<'a> {
    event: &'a Value,
    user: &'a ApiUser,
    objects: &'a Published,
}

impl Scope for EventScope<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        matches!(name, "event" | "obj").then(|| self.event.clone())
    }

    fn variable_ref(&self, name: &str) -> Option<&Value> {
        matches!(name, "event" | "obj").then_some(self.event)
    }

    fn get_object(&self, type_name: &str, name: &str) -> Option<Value> {
        let reg = self.objects.current();
        let object = reg.get(type_name, name)?;
        can_view(&self.user.permissions, &reg, object).then(|| {
            let o: Arc<dyn filters::Object> = object.clone();
            Value::Object(o)
        })
    }

    fn get_objects(&self, type_name: &str) -> Vec<Value> {
        visible_objects(&self.user.permissions, &self.objects.current(), type_name)
    }
}
