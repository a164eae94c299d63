//! TimePeriods as Icinga's `LegacyTimePeriod` reads them, in local time.
//!
//! A period's `ranges` map day definitions to time ranges:
//! - days: a weekday (`monday`), a date (`2026-12-24`), a day of every month (`day 1`,
//!   `day -1` the last), a day of a month (`january 1`, `february -1`), the n-th weekday
//!   of every month or of a month (`monday 1`, `friday -1`, `thursday 4 november`); a
//!   span of them (`day 1 - 15`, `january 1 - march 31`, `monday - friday`) and every
//!   n-th day of a span (`2026-01-01 - 2026-12-31 / 7`);
//! - times: `"09:00-17:00,18:00-24:00"` (seconds allowed, `HH:MM:SS`); a range that ends
//!   before it begins runs past midnight (`"22:00-06:00"`).
//!
//! `includes` and `excludes` name other periods; `prefer_includes` (default true) lets an
//! include win over an exclude. Used for `check_period`, notification and dependency
//! periods, and the ranges of scheduled downtimes.

use chrono::{DateTime, Datelike, Duration, Local, NaiveDate, TimeZone, Timelike, Weekday};
use filters::{Dict, Value};

const DAY: u32 = 24 * 60 * 60;

/// One side of a day definition.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Spec {
    Date(NaiveDate),
    /// `day N` (month `None`: every month) or `<month> N`; N < 0 counts from the end.
    MonthDay {
        month: Option<u32>,
        day: i32,
    },
    /// `<weekday>`: that day of every week.
    Weekday(Weekday),
    /// `<weekday> N [<month>]`: its N-th occurrence in every month or in one month.
    NthWeekday {
        weekday: Weekday,
        nth: i32,
        month: Option<u32>,
    },
}

/// A day definition: one day or a span of days, every `stride`-th day of it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Days {
    first: Spec,
    last: Spec,
    stride: u32,
}

/// A compiled `ranges` dictionary: day definitions with their time ranges, in seconds of
/// the day (an end past 86 400 runs into the next day).
#[derive(Clone, Debug, Default)]
pub struct Ranges(Vec<(Days, Vec<(u32, u32)>)>);

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn weekday(word: &str) -> Option<Weekday> {
    WEEKDAYS.iter().find(|(n, _)| *n == word).map(|(_, d)| *d)
}

fn month(word: &str) -> Option<u32> {
    MONTHS.iter().position(|m| *m == word).map(|i| i as u32 + 1)
}

fn integer(word: &str, spec: &str) -> Result<i32, String> {
    word.trim()
        .parse()
        .map_err(|_| format!("Invalid time specification: {spec}"))
}

fn parse_spec(spec: &str) -> Result<Spec, String> {
    let b = spec.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let part = |r: std::ops::Range<usize>| integer(&spec[r], spec);
        let (y, m, d) = (part(0..4)?, part(5..7)?, part(8..10)?);
        if !(1..=12).contains(&m) {
            return Err(format!("Invalid month in time specification: {spec}"));
        }
        if !(1..=31).contains(&d) {
            return Err(format!("Invalid day in time specification: {spec}"));
        }
        return NaiveDate::from_ymd_opt(y, m as u32, d as u32)
            .map(Spec::Date)
            .ok_or_else(|| format!("Invalid day in time specification: {spec}"));
    }
    let words: Vec<&str> = spec.split_whitespace().collect();
    match words.as_slice() {
        [first, n, ..] if *first == "day" || month(first).is_some() => Ok(Spec::MonthDay {
            month: month(first),
            day: integer(n, spec)?,
        }),
        [first, rest @ ..] => {
            let Some(weekday) = weekday(first) else {
                return Err(format!("Invalid time specification: {spec}"));
            };
            let Some((n, rest)) = rest.split_first() else {
                return Ok(Spec::Weekday(weekday));
            };
            let nth = integer(n, spec)?;
            if nth == 0 {
                return Err(format!("Invalid time specification: {spec}"));
            }
            let month = match rest.first() {
                None => None,
                Some(m) => Some(
                    month(m)
                        .ok_or_else(|| format!("Invalid month in time specification: {spec}"))?,
                ),
            };
            Ok(Spec::NthWeekday {
                weekday,
                nth,
                month,
            })
        }
        [] => Err(format!("Invalid time specification: {spec}")),
    }
}

/// A day definition: `spec`, `spec - spec`, either with `/ stride`. In `day 1 - 15` the
/// second side borrows the first's leading word (`day 15`).
fn parse_days(key: &str) -> Result<Days, String> {
    let key = key.trim().to_lowercase();
    let (def, stride) = match key.split_once('/') {
        Some((def, stride)) => {
            let stride = integer(stride, &key)?;
            if stride < 1 {
                return Err(format!("Invalid stride in time specification: {key}"));
            }
            (def.trim().to_string(), stride as u32)
        }
        None => (key.clone(), 1),
    };
    let Some(pos) = def.find("- ") else {
        let spec = parse_spec(def.trim())?;
        return Ok(Days {
            first: spec,
            last: spec,
            stride,
        });
    };
    let first = def[..pos].trim();
    let mut second = def[pos + 1..].trim().to_string();
    let leading = second.split_whitespace().next().unwrap_or("");
    if leading.parse::<i64>().is_ok() {
        let word = first.split_whitespace().next().unwrap_or("");
        second = format!("{word} {second}");
    }
    Ok(Days {
        first: parse_spec(first)?,
        last: parse_spec(&second)?,
        stride,
    })
}

fn parse_time(t: &str, range: &str) -> Result<u32, String> {
    let parts: Vec<&str> = t.trim().split(':').collect();
    let num = |s: &str| -> Result<u32, String> {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("Invalid time specification: {t}"))
    };
    let (h, m, s) = match parts.as_slice() {
        [h, m] => (num(h)?, num(m)?, 0),
        [h, m, s] => (num(h)?, num(m)?, num(s)?),
        _ => return Err(format!("Invalid timerange: {range}")),
    };
    if h > 24 || m > 59 || s > 59 {
        return Err(format!("Invalid time specification: {t}"));
    }
    Ok(h * 3600 + m * 60 + s)
}

/// `"09:00-17:00,22:00-06:00"` → seconds of the day; a range ending at or before its
/// start ends the next day.
fn parse_times(text: &str) -> Result<Vec<(u32, u32)>, String> {
    text.split(',')
        .map(|range| {
            let (a, b) = range
                .split_once('-')
                .filter(|(_, b)| !b.contains('-'))
                .ok_or_else(|| format!("Invalid timerange: {range}"))?;
            let (a, mut b) = (parse_time(a, range)?, parse_time(b, range)?);
            if a >= b {
                b += DAY;
            }
            Ok((a, b))
        })
        .collect()
}

fn first_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn last_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    first_of_month(y, m)?.pred_opt()
}

/// The day `spec` names, seen from `reference` (its year, month and week).
fn resolve(spec: Spec, reference: NaiveDate) -> Option<NaiveDate> {
    match spec {
        Spec::Date(d) => Some(d),
        Spec::MonthDay { month, day } => {
            let m = month.unwrap_or(reference.month());
            if day < 0 {
                last_of_month(reference.year(), m)?
                    .checked_sub_signed(Duration::days(i64::from(-day - 1)))
            } else {
                first_of_month(reference.year(), m)?
                    .checked_add_signed(Duration::days(i64::from(day) - 1))
            }
        }
        Spec::Weekday(w) => {
            let ahead =
                (7 + w.num_days_from_monday() - reference.weekday().num_days_from_monday()) % 7;
            reference.checked_add_signed(Duration::days(i64::from(ahead)))
        }
        Spec::NthWeekday {
            weekday,
            nth,
            month,
        } => {
            let m = month.unwrap_or(reference.month());
            let year = reference.year();
            if nth > 0 {
                let first = first_of_month(year, m)?;
                let to = (7 + weekday.num_days_from_monday()
                    - first.weekday().num_days_from_monday())
                    % 7;
                first.checked_add_signed(Duration::days(i64::from(to) + 7 * i64::from(nth - 1)))
            } else {
                let last = last_of_month(year, m)?;
                let back = (7 + last.weekday().num_days_from_monday()
                    - weekday.num_days_from_monday())
                    % 7;
                last.checked_sub_signed(Duration::days(i64::from(back) + 7 * i64::from(-nth - 1)))
            }
        }
    }
}

impl Days {
    /// Whether `date` is one of the days.
    fn contains(&self, date: NaiveDate) -> bool {
        let start = match (self.first, self.last) {
            // `monday - friday`: a span of the week, across its end too (`friday - monday`).
            (Spec::Weekday(a), Spec::Weekday(b)) => {
                let wd = |w: Weekday| w.num_days_from_monday();
                let offset = (7 + wd(date.weekday()) - wd(a)) % 7;
                if offset > (7 + wd(b) - wd(a)) % 7 {
                    return false;
                }
                date - Duration::days(i64::from(offset))
            }
            (first, last) => {
                let (Some(start), Some(end)) = (resolve(first, date), resolve(last, date)) else {
                    return false;
                };
                if date < start || date > end {
                    return false;
                }
                start
            }
        };
        self.stride <= 1 || (date - start).num_days() % i64::from(self.stride) == 0
    }
}

/// One `ranges` entry: its days and its time ranges.
fn entry(key: &str, value: &Value) -> Result<(Days, Vec<(u32, u32)>), String> {
    let days = parse_days(key).map_err(|e| format!("Invalid time specification '{key}': {e}"))?;
    let text = value.to_display_string();
    let times =
        parse_times(&text).map_err(|e| format!("Invalid time range definition '{text}': {e}"))?;
    Ok((days, times))
}

impl Ranges {
    /// Compiles a `ranges` dictionary.
    ///
    /// # Errors
    /// The first day definition or time range Icinga would refuse, in its words.
    pub fn parse(ranges: &Dict) -> Result<Ranges, String> {
        ranges
            .iter()
            .map(|(key, value)| entry(key, value))
            .collect::<Result<_, _>>()
            .map(Ranges)
    }

    /// [`Ranges::parse`] where what does not parse is left out (configuration validation
    /// has refused it already).
    fn of_dict(d: &Dict) -> Ranges {
        Ranges(d.iter().filter_map(|(k, v)| entry(k, v).ok()).collect())
    }

    /// [`Ranges::of_dict`] for an attribute that may be missing or not a dictionary.
    fn of(value: Option<&Value>) -> Option<Ranges> {
        match value {
            Some(Value::Dict(d)) => Some(Ranges::of_dict(d)),
            _ => None,
        }
    }

    /// Whether `t` lies inside the ranges.
    pub fn contains(&self, t: DateTime<Local>) -> bool {
        let date = t.date_naive();
        let second = t.num_seconds_from_midnight();
        let yesterday = date.pred_opt();
        self.0.iter().any(|(days, times)| {
            (days.contains(date) && times.iter().any(|&(a, b)| a <= second && second < b))
                || (yesterday.is_some_and(|y| days.contains(y))
                    && times.iter().any(|&(_, b)| b > DAY && second < b - DAY))
        })
    }
}

/// Checks a `ranges` attribute as Icinga's TimePeriod and ScheduledDowntime validators do.
///
/// # Errors
/// The message for `Attribute 'ranges'`.
pub fn validate(ranges: &Value) -> Result<(), String> {
    match ranges {
        Value::Dict(d) => Ranges::parse(d).map(|_| ()),
        _ => Ok(()),
    }
}

/// The start of the next minute at or after `from` (Unix seconds) for which `inside`
/// holds, looking a little over a week ahead.
fn next_minute(from: f64, inside: impl Fn(DateTime<Local>) -> bool) -> Option<f64> {
    let start = Local
        .timestamp_opt(from as i64, 0)
        .single()?
        .with_second(0)?;
    (0..(8 * 24 * 60))
        .map(|m| start + Duration::minutes(m))
        .find(|t| inside(*t))
        .map(|t| t.timestamp() as f64)
}

/// The segment a ScheduledDowntime with `ranges` gets a downtime for at `now`, as
/// Icinga chooses it: each entry's time ranges on each of its days are segments on their
/// own (an all-day range on every weekday gives one segment a day). The running segment
/// that ends last, if it ends after `min_end` (the end of the downtimes made already;
/// 0 for none); else the one that begins next, looking up to a year ahead.
pub fn downtime_segment(ranges: &Dict, now: f64, min_end: f64) -> Option<(f64, f64)> {
    let compiled = Ranges::of_dict(ranges);
    let today = Local.timestamp_opt(now as i64, 0).single()?.date_naive();
    // The segments of `date`'s entries, as (begin, end) in seconds since the epoch.
    let segments_of = |date: NaiveDate| -> Vec<(f64, f64)> {
        let Some(midnight) = date
            .and_hms_opt(0, 0, 0)
            .and_then(|t| Local.from_local_datetime(&t).earliest())
        else {
            return Vec::new();
        };
        let base = midnight.timestamp() as f64;
        compiled
            .0
            .iter()
            .filter(|(days, _)| days.contains(date))
            .flat_map(|(_, times)| times.iter())
            .map(|&(a, b)| (base + f64::from(a), base + f64::from(b)))
            .collect()
    };
    let running = [today.pred_opt(), Some(today)]
        .into_iter()
        .flatten()
        .flat_map(segments_of)
        .filter(|&(begin, end)| begin < now && end >= now && (min_end <= 0.0 || end > min_end))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if running.is_some() {
        return running;
    }
    today.iter_days().take(367).find_map(|date| {
        segments_of(date)
            .into_iter()
            .filter(|&(begin, _)| begin >= now)
            .min_by(|a, b| a.0.total_cmp(&b.0))
    })
}

/// A TimePeriod as [`Period`] reads it.
#[derive(Debug, Clone, Default)]
pub struct Definition {
    /// `ranges`, if it has any.
    pub ranges: Option<Value>,
    /// The names of the periods in `includes` and `excludes`.
    pub includes: Vec<String>,
    pub excludes: Vec<String>,
    /// Whether an include wins over an exclude (`prefer_includes`, default true).
    pub prefer_includes: bool,
}

/// Where TimePeriods are found by name (the object registry).
pub trait Periods {
    fn definition(&self, name: &str) -> Option<Definition>;
}

/// A TimePeriod object with its `includes` and `excludes`, compiled for repeated
/// questions.
struct Period {
    /// `None`: no `ranges` at all (always inside, unless excluded).
    ranges: Option<Ranges>,
    includes: Vec<Period>,
    excludes: Vec<Period>,
    prefer_includes: bool,
}

impl Period {
    fn compile(periods: &impl Periods, d: &Definition, depth: u32) -> Period {
        // Periods that include each other are cut off rather than followed forever.
        let linked = |names: &[String]| -> Vec<Period> {
            if depth >= 8 {
                return Vec::new();
            }
            names
                .iter()
                .filter_map(|n| periods.definition(n))
                .map(|p| Period::compile(periods, &p, depth + 1))
                .collect()
        };
        Period {
            ranges: Ranges::of(d.ranges.as_ref()),
            includes: linked(&d.includes),
            excludes: linked(&d.excludes),
            prefer_includes: d.prefer_includes,
        }
    }

    fn contains(&self, t: DateTime<Local>) -> bool {
        let own = self.ranges.as_ref().is_none_or(|r| r.contains(t));
        let included = self.includes.iter().any(|p| p.contains(t));
        let excluded = self.excludes.iter().any(|p| p.contains(t));
        if self.prefer_includes {
            (own && !excluded) || included
        } else {
            (own || included) && !excluded
        }
    }
}

/// Whether the period `name` is active at `t`; a missing period means always.
pub fn period_allows(periods: &impl Periods, name: &str, t: f64) -> bool {
    let Some(definition) = periods.definition(name) else {
        return true;
    };
    let Some(when) = Local.timestamp_opt(t as i64, 0).single() else {
        return true;
    };
    Period::compile(periods, &definition, 0).contains(when)
}

/// The next minute at or after `from` the period `name` is active, looking a little over
/// a week ahead; `None` when it never is.
pub fn next_active(periods: &impl Periods, name: &str, from: f64) -> Option<f64> {
    let definition = periods.definition(name)?;
    let period = Period::compile(periods, &definition, 0);
    next_minute(from, |t| period.contains(t))
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

    fn is_inside(ranges: &Dict, t: DateTime<Local>) -> bool {
        Ranges::parse(ranges).is_ok_and(|r| r.contains(t))
    }

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Local> {
        Local
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .unwrap_or_default()
    }

    #[test]
    fn weekdays_dates_and_ranges() {
        // 2026-11-25 is a Wednesday.
        let at = |h, m| local(2026, 11, 25, h, m);
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
        assert!(!is_inside(
            &ranges(&[("2026-11-24", "00:00-24:00")]),
            at(0, 0)
        ));
    }

    /// Icinga's day definitions beyond weekdays and dates.
    #[test]
    fn legacy_day_definitions() {
        let all = "00:00-24:00";
        let inside =
            |key: &str, y, mo, d| is_inside(&ranges(&[(key, all)]), local(y, mo, d, 12, 0));
        // Day of every month, from the start and from the end.
        assert!(inside("day 1", 2026, 3, 1));
        assert!(!inside("day 1", 2026, 3, 2));
        assert!(inside("day -1", 2026, 2, 28));
        assert!(inside("day -2", 2026, 4, 29));
        assert!(inside("day 1 - 15", 2026, 5, 15) && !inside("day 1 - 15", 2026, 5, 16));
        // Day of one month.
        assert!(inside("january 1", 2027, 1, 1));
        assert!(!inside("january 1", 2027, 2, 1));
        assert!(inside("february -1", 2028, 2, 29));
        assert!(inside("january 1 - march 31", 2026, 2, 14));
        assert!(!inside("january 1 - march 31", 2026, 4, 1));
        // N-th weekday of every month and of one month (2026-11-26: fourth Thursday).
        assert!(inside("thursday 4 november", 2026, 11, 26));
        assert!(!inside("thursday 4 november", 2026, 11, 19));
        assert!(inside("monday 1", 2026, 12, 7));
        assert!(!inside("monday 1", 2026, 12, 14));
        assert!(inside("friday -1", 2026, 11, 27));
        assert!(inside("monday 1 may", 2026, 5, 4));
        // Spans of the week, and strides.
        assert!(inside("monday - friday", 2026, 11, 25));
        assert!(!inside("monday - friday", 2026, 11, 28));
        assert!(inside("friday - monday", 2026, 11, 29));
        assert!(inside("2026-01-01 - 2026-12-31 / 7", 2026, 1, 8));
        assert!(!inside("2026-01-01 - 2026-12-31 / 7", 2026, 1, 9));
    }

    /// A range ending before it begins runs into the next day.
    #[test]
    fn ranges_across_midnight() {
        let r = ranges(&[("wednesday", "22:00-06:00")]);
        assert!(is_inside(&r, local(2026, 11, 25, 23, 0)));
        assert!(is_inside(&r, local(2026, 11, 26, 5, 59)));
        assert!(!is_inside(&r, local(2026, 11, 26, 6, 0)));
        assert!(!is_inside(&r, local(2026, 11, 25, 5, 0)));
    }

    /// What Icinga refuses is refused, with its words.
    #[test]
    fn invalid_definitions_are_refused() {
        for (key, value, message) in [
            (
                "january 32x",
                all_day(),
                "Invalid time specification 'january 32x'",
            ),
            ("someday", all_day(), "Invalid time specification 'someday'"),
            (
                "monday 1 mai",
                all_day(),
                "Invalid month in time specification",
            ),
            (
                "2026-13-01",
                all_day(),
                "Invalid month in time specification",
            ),
            ("monday", "9-17", "Invalid time range definition '9-17'"),
            ("monday", "", "Invalid timerange"),
        ] {
            let err = Ranges::parse(&ranges(&[(key, value)]))
                .err()
                .unwrap_or_default();
            assert!(err.contains(message), "{key} = {value}: {err}");
        }
        assert!(Ranges::parse(&ranges(&[("day -1 / 2", "08:00:30-09:00")])).is_ok());
    }

    fn all_day() -> &'static str {
        "00:00-24:00"
    }

    /// Each entry's ranges on each of its days are segments on their own: the running
    /// one that ends last (after the downtimes made already), else the next; a range
    /// past midnight runs into the next day.
    #[test]
    fn downtime_segments() {
        let at = |d, h, m| local(2026, 11, d, h, m).timestamp() as f64;
        let r = ranges(&[
            ("wednesday", "09:00-17:00,22:00-24:00"),
            ("thursday", "00:00-02:00"),
        ]);
        let segment = |now| downtime_segment(&r, now, 0.0);
        assert_eq!(segment(at(25, 10, 30)), Some((at(25, 9, 0), at(25, 17, 0))));
        assert_eq!(segment(at(25, 18, 0)), Some((at(25, 22, 0), at(26, 0, 0))));
        // Running, but already covered: the next one.
        assert_eq!(
            downtime_segment(&r, at(25, 23, 0), at(26, 0, 0)),
            Some((at(26, 0, 0), at(26, 2, 0)))
        );
        // Every day all day: today's day, then tomorrow's; never a week at once.
        let days = WEEKDAYS.map(|(d, _)| (d, all_day()));
        let r = ranges(&days);
        assert_eq!(
            downtime_segment(&r, at(25, 10, 30), 0.0),
            Some((at(25, 0, 0), at(26, 0, 0)))
        );
        assert_eq!(
            downtime_segment(&r, at(25, 10, 30), at(26, 0, 0)),
            Some((at(26, 0, 0), at(27, 0, 0)))
        );
        let r = ranges(&[("monday - friday", all_day())]);
        assert_eq!(
            downtime_segment(&r, at(27, 12, 0), at(28, 0, 0)),
            Some((at(30, 0, 0), local(2026, 12, 1, 0, 0).timestamp() as f64))
        );
        let r = ranges(&[("friday", "22:00-06:00")]);
        assert_eq!(
            downtime_segment(&r, at(28, 3, 0), 0.0),
            Some((at(27, 22, 0), at(28, 6, 0)))
        );
        let r = ranges(&[("2027-03-01", "10:00-11:00")]);
        assert_eq!(
            downtime_segment(&r, at(25, 10, 30), 0.0),
            Some((
                local(2027, 3, 1, 10, 0).timestamp() as f64,
                local(2027, 3, 1, 11, 0).timestamp() as f64
            ))
        );
        assert_eq!(downtime_segment(&Dict::new(), 0.0, 0.0), None);
    }
}
