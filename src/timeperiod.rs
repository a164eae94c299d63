//! TimePeriod ranges (Icinga's `LegacyTimePeriod`): weekday keys (`monday`) and date keys
//! (`2026-12-24`) with time ranges (`"09:00-17:00,18:00-24:00"`), in local time. Used for
//! `check_period`: outside it, active checks wait for the period to begin.

use chrono::{DateTime, Datelike, Local, TimeZone, Timelike};
use filters::{Dict, Value};

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Minutes of the day (0..=1440) in `ranges` (`"09:00-17:00,22:00-24:00"`).
fn parse_ranges(text: &str) -> Vec<(u32, u32)> {
    let minute = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
    };
    text.split(',')
        .filter_map(|r| {
            let (a, b) = r.split_once('-')?;
            Some((minute(a)?, minute(b)?))
        })
        .collect()
}

/// Whether `t` lies inside the period's `ranges`.
pub fn is_inside(ranges: &Dict, t: DateTime<Local>) -> bool {
    let weekday = WEEKDAYS[t.weekday().num_days_from_monday() as usize];
    let date = t.format("%Y-%m-%d").to_string();
    let minute = t.hour() * 60 + t.minute();
    ranges.iter().any(|(key, value)| {
        let key = key.to_lowercase();
        if key != weekday && key != date {
            return false;
        }
        let Value::String(text) = value else {
            return false;
        };
        parse_ranges(text)
            .iter()
            .any(|&(a, b)| a <= minute && minute < b)
    })
}

/// The next minute at or after `from` (Unix seconds) inside the period, looking a little
/// over a week ahead; `None` when the period is never active.
pub fn next_inside(ranges: &Dict, from: f64) -> Option<f64> {
    let start = Local.timestamp_opt(from as i64, 0).single()?;
    let start = start.with_second(0)?;
    (0..(8 * 24 * 60))
        .map(|m| start + chrono::Duration::minutes(m))
        .find(|t| is_inside(ranges, *t))
        .map(|t| t.timestamp() as f64)
}

/// The segment of the period running at `from`, or else the next one: its start (the
/// minute it began, up to a day back) and end, looking a little over a week ahead. A
/// segment that never ends within that look-ahead ends there.
pub fn segment(ranges: &Dict, from: f64) -> Option<(f64, f64)> {
    let inside = |t: DateTime<Local>| is_inside(ranges, t);
    let at = Local
        .timestamp_opt(from as i64, 0)
        .single()?
        .with_second(0)?;
    let minute = chrono::Duration::minutes(1);
    let start = if inside(at) {
        let mut s = at;
        for _ in 0..(24 * 60) {
            if !inside(s - minute) {
                break;
            }
            s -= minute;
        }
        s
    } else {
        Local
            .timestamp_opt(next_inside(ranges, from)? as i64, 0)
            .single()?
    };
    let mut end = start;
    for _ in 0..(8 * 24 * 60) {
        end += minute;
        if !inside(end) {
            break;
        }
    }
    Some((start.timestamp() as f64, end.timestamp() as f64))
}

/// Whether a period object is active at `t`; a missing period means always.
pub fn period_allows(period: Option<&Dict>, t: f64) -> bool {
    let Some(p) = period else { return true };
    let Some(Value::Dict(ranges)) = p.get("ranges") else {
        return true;
    };
    let Some(when) = Local.timestamp_opt(t as i64, 0).single() else {
        return true;
    };
    is_inside(ranges, when)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(pairs: &[(&str, &str)]) -> Dict {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), Value::from(*v)))
            .collect()
    }

    #[test]
    fn weekdays_dates_and_ranges() {
        // 2026-11-25 is a Wednesday.
        let at = |h, m| {
            Local
                .with_ymd_and_hms(2026, 11, 25, h, m, 0)
                .earliest()
                .unwrap_or_default()
        };
        let r = ranges(&[("wednesday", "09:00-17:00,22:00-24:00")]);
        assert!(is_inside(&r, at(9, 0)));
        assert!(is_inside(&r, at(16, 59)));
        assert!(!is_inside(&r, at(17, 0)));
        assert!(is_inside(&r, at(23, 59)));
        assert!(!is_inside(
            &ranges(&[("thursday", "00:00-24:00")]),
            at(12, 0)
        ));
        assert!(is_inside(
            &ranges(&[("2026-11-25", "12:00-13:00")]),
            at(12, 30)
        ));
        assert_eq!(
            next_inside(&r, at(17, 30).timestamp() as f64),
            Some(at(22, 0).timestamp() as f64)
        );
        assert_eq!(next_inside(&Dict::new(), 0.0), None);
    }

    /// The running segment starts where it began; the next one is found ahead; a segment
    /// runs across midnight into the next day's range.
    #[test]
    fn segments() {
        let at = |d, h, m| {
            Local
                .with_ymd_and_hms(2026, 11, d, h, m, 0)
                .earliest()
                .unwrap_or_default()
                .timestamp() as f64
        };
        let r = ranges(&[
            ("wednesday", "09:00-17:00,22:00-24:00"),
            ("thursday", "00:00-02:00"),
        ]);
        assert_eq!(
            segment(&r, at(25, 10, 30)),
            Some((at(25, 9, 0), at(25, 17, 0)))
        );
        assert_eq!(
            segment(&r, at(25, 18, 0)),
            Some((at(25, 22, 0), at(26, 2, 0)))
        );
        assert_eq!(segment(&Dict::new(), 0.0), None);
    }
}
