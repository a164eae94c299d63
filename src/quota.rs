//! Per-user rates (`request_rate`/`request_burst`, `event_rate`/`event_burst`): read from
//! an `ApiUser`'s attributes, checked when the object is validated.

use std::num::NonZeroU32;

use filters::Lookup;
use governor::Quota;

/// A rate per second with its burst (the rate when absent), from two attributes; `None`
/// when the rate is not set.
///
/// # Errors
/// A rate that is not a number of at least 1.
pub fn parse<L: Lookup + ?Sized>(
    attrs: &L,
    rate: &str,
    burst: &str,
) -> Result<Option<Quota>, String> {
    let Some(v) = attrs.lookup(rate).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let per_second = v
        .to_number()
        .ok()
        .filter(|r| *r >= 1.0)
        .ok_or_else(|| format!("{rate} must be a number >= 1"))?;
    let burst = attrs
        .lookup(burst)
        .and_then(|b| b.to_number().ok())
        .unwrap_or(per_second)
        .max(1.0);
    Ok(Some(
        Quota::per_second(nonzero(per_second)).allow_burst(nonzero(burst)),
    ))
}

fn nonzero(x: f64) -> NonZeroU32 {
    NonZeroU32::new(x.min(f64::from(u32::MAX)) as u32).unwrap_or(NonZeroU32::MIN)
}
