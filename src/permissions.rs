//! ApiUser permissions: case-insensitive globs, each optionally narrowed by a filter
//! lambda evaluated against the object in question.

use filters::pattern::Glob;
use filters::{Env, Limits, Scope, Span, Value};

/// One configured permission entry.
#[derive(Clone, Debug)]
pub struct Permission {
    /// As written, for `/v1`.
    pub raw: String,
    glob: Glob,
    /// A `filter = {{ … }}` lambda.
    filter: Option<Value>,
}

/// What a user may do for one required permission.
#[derive(Debug)]
pub enum Grant<'a> {
    Denied,
    /// Everything of the resource.
    All,
    /// Only what one of these filters accepts.
    Filtered(Vec<&'a Value>),
}

impl Grant<'_> {
    pub fn is_denied(&self) -> bool {
        matches!(self, Grant::Denied)
    }

    /// Whether an object is visible: `scope` holds `obj`, the type's variable (`host`, …)
    /// and its navigation variables. A filter that fails denies.
    pub fn allows(&self, scope: &dyn Scope) -> bool {
        match self {
            Grant::Denied => false,
            Grant::All => true,
            Grant::Filtered(filters) => any_allows(filters.iter().copied(), scope),
        }
    }

    /// The filters of a filtered grant, owned (for a holder that outlives the user's
    /// permissions borrow); `None` for `All` or `Denied`.
    pub fn owned_filters(&self) -> Option<Vec<Value>> {
        match self {
            Grant::Filtered(f) => Some(f.iter().map(|v| (*v).clone()).collect()),
            _ => None,
        }
    }
}

/// Whether any of the permission filter lambdas accepts `scope`; a filter that fails
/// denies.
pub fn any_allows<'a>(filters: impl IntoIterator<Item = &'a Value>, scope: &dyn Scope) -> bool {
    filters.into_iter().any(|f| {
        let Value::Function(f) = f else { return false };
        let mut env = Env::new(scope, false, Limits::default());
        env.call_function(f, &Value::Null, &[], Span::default())
            .is_ok_and(|v| v.to_bool())
    })
}

/// A user's permissions, and for a scoped API token the subset it carries.
#[derive(Clone, Debug, Default)]
pub struct Permissions {
    entries: Vec<Permission>,
    /// A token's permission globs: what the entries grant is granted only where one of
    /// these matches too (`None`: no narrowing).
    scope: Option<Vec<(String, Glob)>>,
}

impl Permissions {
    /// Reads the `permissions` attribute: strings, or `{ permission = "…", filter = … }`.
    ///
    /// # Errors
    /// An entry of another shape, with Icinga's message.
    pub fn parse(value: Option<&Value>) -> Result<Permissions, String> {
        let Some(Value::Array(entries)) = value else {
            return Ok(Permissions::default());
        };
        let mut out = Vec::new();
        for entry in entries.iter() {
            let (raw, filter) = match entry {
                Value::String(s) => (s.to_string(), None),
                Value::Dict(d) => {
                    let Some(Value::String(p)) = d.get("permission") else {
                        return Err(
                            "Permission must be a string or a dictionary with a 'permission' key."
                                .into(),
                        );
                    };
                    let filter = match d.get("filter") {
                        None | Some(Value::Null) => None,
                        Some(f @ Value::Function(_)) => Some(f.clone()),
                        Some(_) => return Err("Filter must be a function.".into()),
                    };
                    (p.to_string(), filter)
                }
                _ => {
                    return Err(
                        "Permission must be a string or a dictionary with a 'permission' key."
                            .into(),
                    )
                }
            };
            out.push(Permission {
                glob: Glob::new(&raw.to_lowercase()),
                raw,
                filter,
            });
        }
        Ok(Permissions {
            entries: out,
            scope: None,
        })
    }

    /// Grants every permission (tests, internal use).
    pub fn all() -> Permissions {
        Permissions::parse(Some(&Value::from(vec![Value::from("*")]))).unwrap_or_default()
    }

    /// What the user may do for `required` (e.g. `objects/query/Host`).
    ///
    /// [DECIDE] Icinga lets a matching filtered entry narrow even an unfiltered one
    /// (`*` plus a filtered `objects/query/Host` sees only the filtered hosts). Auspex
    /// lets an unfiltered match grant everything, as users expect; see docs/api.md.
    pub fn grant(&self, required: &str) -> Grant<'_> {
        let required = required.to_lowercase();
        if let Some(scope) = &self.scope {
            if !scope.iter().any(|(_, g)| g.is_match(&required)) {
                return Grant::Denied;
            }
        }
        let mut filters = Vec::new();
        let mut matched = false;
        for p in &self.entries {
            if p.glob.is_match(&required) {
                matched = true;
                match &p.filter {
                    None => return Grant::All,
                    Some(f) => filters.push(f),
                }
            }
        }
        if matched {
            Grant::Filtered(filters)
        } else {
            Grant::Denied
        }
    }

    /// Whether any entry matches `required` (filters aside).
    pub fn has(&self, required: &str) -> bool {
        !self.grant(required).is_denied()
    }

    /// Whether an entry without a filter matches `required`: what a permission about no
    /// object needs (`console`, `config/modify`, `actions/shutdown-process`, …) — a filter
    /// has nothing to be evaluated against there, so a filtered grant (a team's
    /// `{ permission = "actions/*", filter = … }`) must not grant it.
    pub fn has_unfiltered(&self, required: &str) -> bool {
        matches!(self.grant(required), Grant::All)
    }

    /// These permissions narrowed to `scope` (permission names or globs, as a token
    /// carries them): nothing beyond what both allow.
    pub fn scoped(&self, scope: &[String]) -> Permissions {
        let mut globs: Vec<(String, Glob)> = scope
            .iter()
            .map(|p| (p.clone(), Glob::new(&p.to_lowercase())))
            .collect();
        if let Some(outer) = &self.scope {
            // A scope within a scope: only names the outer one allows too.
            globs.retain(|(raw, _)| outer.iter().any(|(_, g)| g.is_match(&raw.to_lowercase())));
        }
        Permissions {
            entries: self.entries.clone(),
            scope: Some(globs),
        }
    }

    /// The token scope, if any.
    pub fn scope(&self) -> Option<Vec<String>> {
        self.scope
            .as_ref()
            .map(|s| s.iter().map(|(raw, _)| raw.clone()).collect())
    }

    /// As `/v1` lists them: `"*"`, `"objects/query/Host (filtered)"`.
    pub fn describe(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|p| match p.filter {
                Some(_) => format!("{} (filtered)", p.raw),
                None => p.raw.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use filters::Dict;

    fn perms(src: &str) -> Result<Permissions, String> {
        let loader = filters::config::Loader::new();
        loader
            .load(
                "t.conf",
                &format!("object ApiUser \"u\" {{ permissions = {src} }}"),
            )
            .map_err(|e| e.render())?;
        let (items, _) = loader
            .commit()
            .map_err(|e| format!("{} configuration errors", e.len()))?;
        Permissions::parse(items.first().and_then(|u| u.attrs.get("permissions")))
    }

    #[test]
    fn globs_are_case_insensitive_and_span_slashes() -> Result<(), String> {
        let p = perms(r#"[ "objects/query/*", "ACTIONS/*" ]"#)?;
        assert!(p.has("objects/query/Host"));
        assert!(p.has("actions/process-check-result"));
        assert!(!p.has("objects/modify/Host"));
        assert!(perms(r#"[ "*" ]"#)?.has("config/modify"));
        Ok(())
    }

    #[test]
    fn filters_are_ored_and_unfiltered_wins() -> Result<(), String> {
        let p = perms(
            r#"[ { permission = "objects/query/Host", filter = {{ host.vars.team == "db" }} },
                 { permission = "objects/query/Host", filter = {{ host.name == "web1" }} } ]"#,
        )?;
        let host = |name: &str, team: &str| {
            let h: Dict = [
                ("name".into(), Value::from(name)),
                (
                    "vars".into(),
                    Value::from(Dict::from([("team".into(), Value::from(team))])),
                ),
            ]
            .into();
            Dict::from([("host".into(), Value::from(h))])
        };
        let g = p.grant("objects/query/Host");
        assert!(g.allows(&host("db1", "db")));
        assert!(g.allows(&host("web1", "web")));
        assert!(!g.allows(&host("web2", "web")));
        assert_eq!(p.describe()[0], "objects/query/Host (filtered)");

        let p = perms(r#"[ "*", { permission = "objects/query/Host", filter = {{ false }} } ]"#)?;
        assert!(p.grant("objects/query/Host").allows(&host("x", "y")));
        Ok(())
    }
}
