//! When a host's or service's next check is due after a check: Icinga's per-object phase
//! within the check interval.

use crate::objects::Object;

/// The object's `scheduling_offset`: Icinga draws it at random when an object is created;
/// here it is derived from the name, so it stays the same across restarts without being
/// stored.
fn scheduling_offset(o: &Object) -> f64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    o.type_info.name.hash(&mut h);
    o.name.hash(&mut h);
    (h.finish() % (1 << 31)) as f64
}

/// The next check `interval` after a check that ended at `now`, as Icinga's
/// `UpdateNextCheck` spreads it: each object keeps its own phase within the interval (up
/// to a few seconds early), so checks of many objects neither drift together nor bunch up.
pub fn next_check_after(o: &Object, now: f64, interval: f64) -> f64 {
    let offset = scheduling_offset(o);
    let mut adj = 0.0;
    if interval > 1.0 {
        adj = (now * 100.0 + offset).rem_euclid(interval * 100.0) / 100.0;
    }
    if adj != 0.0 {
        adj = adj.min(0.5 + offset.rem_euclid(interval * 5.0) / 100.0);
    }
    now - adj + interval
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str) -> Result<Object, &'static str> {
        let host = crate::objects::types::by_name("Host").ok_or("no Host type")?;
        Ok(crate::objects::runtime_object(
            host,
            name,
            Default::default(),
        ))
    }

    /// The next check is an interval later, at most 0.5 s plus 5 % of the interval early,
    /// never late; the same object always gets the same, different objects different
    /// phases.
    #[test]
    fn next_checks_keep_a_phase_per_object() -> Result<(), &'static str> {
        let (a, b) = (object("a")?, object("b")?);
        let now = 1_800_000_000.25;
        for interval in [60.0, 300.0] {
            let next = next_check_after(&a, now, interval);
            assert!(next <= now + interval, "{next}");
            assert!(
                next >= now + interval - 0.5 - interval * 5.0 / 100.0,
                "{next}"
            );
            assert_eq!(next, next_check_after(&a, now, interval), "deterministic");
        }
        let phases: Vec<f64> = [&a, &b]
            .iter()
            .map(|o| (next_check_after(o, now, 300.0) - now).rem_euclid(300.0))
            .collect();
        assert_ne!(phases[0], phases[1]);
        // Without the cap (an interval of 1 s has no spreading): exactly one interval.
        assert_eq!(next_check_after(&a, now, 1.0), now + 1.0);
        Ok(())
    }
}
