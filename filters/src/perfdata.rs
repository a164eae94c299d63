//! `parse_performance_data()`: one plugin performance data item (`label=value[unit];warn;
//! crit;min;max`) as Icinga's `PerfdataValue`, with its units of measurement normalised
//! (`5ms` is 0.005 `seconds`, `2KiB` 2048 `bytes`).

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::value::{Dict, Value};

/// A unit as written → (factor to the base unit, the base unit's name).
type Units = HashMap<String, (f64, &'static str)>;

const DATA_PREFIXES: [(&str, i32); 16] = [
    ("k", 1),
    ("K", 1),
    ("m", 2),
    ("M", 2),
    ("g", 3),
    ("G", 3),
    ("t", 4),
    ("T", 4),
    ("p", 5),
    ("P", 5),
    ("e", 6),
    ("E", 6),
    ("z", 7),
    ("Z", 7),
    ("y", 8),
    ("Y", 8),
];

/// SI prefixes of electrical units: milli and below, then the data prefixes but `m`
/// (mega for data, milli here).
fn energy_prefixes() -> impl Iterator<Item = (&'static str, i32)> {
    [
        ("n", -3),
        ("N", -3),
        ("u", -2),
        ("U", -2),
        ("m", -1),
        ("", 0),
    ]
    .into_iter()
    .chain(DATA_PREFIXES.into_iter().filter(|(p, _)| *p != "m"))
}

/// Units matched exactly: data sizes and rates (`KB` 1000, `KiB` 1024 bytes), electrical
/// units with SI prefixes, and a few others.
static CASE_SENSITIVE: LazyLock<Units> = LazyLock::new(|| {
    let mut units = Units::new();
    let mut add = |unit: String, factor: f64, base: &'static str| {
        units.insert(unit, (factor, base));
    };
    for (unit, base) in [
        ("", ""),
        ("%", "percent"),
        ("c", ""),
        ("C", "degrees-celsius"),
    ] {
        add(unit.into(), 1.0, base);
    }
    for (unit, base) in [("b", "bits"), ("B", "bytes")] {
        add(unit.into(), 1.0, base);
        for (prefix, power) in DATA_PREFIXES {
            for (iec, radix) in [("", 1000.0_f64), ("i", 1024.0), ("I", 1024.0)] {
                add(format!("{prefix}{iec}{unit}"), radix.powi(power), base);
            }
        }
    }
    for (prefix, power) in energy_prefixes() {
        let factor = 1000.0_f64.powi(power);
        for (letters, base) in [
            (["a", "A"], "amperes"),
            (["o", "O"], "ohms"),
            (["v", "V"], "volts"),
            (["w", "W"], "watts"),
        ] {
            for letter in letters {
                add(format!("{prefix}{letter}"), factor, base);
            }
        }
        for (suffix, seconds) in [
            ("s", 1.0),
            ("S", 1.0),
            ("m", 60.0),
            ("M", 60.0),
            ("h", 3600.0),
            ("H", 3600.0),
        ] {
            for (letters, per, base) in [
                (["a", "A"], 1.0, "ampere-seconds"),
                (["w", "W"], 3600.0, "watt-hours"),
            ] {
                for letter in letters {
                    add(
                        format!("{prefix}{letter}{suffix}"),
                        factor * seconds / per,
                        base,
                    );
                }
            }
        }
    }
    units
});

/// Units matched in any case: time, mass, volume and a few others.
static CASE_INSENSITIVE: LazyLock<Units> = LazyLock::new(|| {
    [
        ("ns", 1e-9, "seconds"),
        ("us", 1e-6, "seconds"),
        ("ms", 1e-3, "seconds"),
        ("s", 1.0, "seconds"),
        ("m", 60.0, "seconds"),
        ("h", 3600.0, "seconds"),
        ("d", 86400.0, "seconds"),
        ("ng", 1e-9, "grams"),
        ("ug", 1e-6, "grams"),
        ("mg", 1e-3, "grams"),
        ("g", 1.0, "grams"),
        ("kg", 1000.0, "grams"),
        ("t", 1e6, "grams"),
        ("ml", 1e-3, "liters"),
        ("l", 1.0, "liters"),
        ("hl", 100.0, "liters"),
        ("packets", 1.0, "packets"),
        ("lm", 1.0, "lumens"),
        ("dbm", 1.0, "decibel-milliwatts"),
        ("f", 1.0, "degrees-fahrenheit"),
        ("k", 1.0, "degrees-kelvin"),
    ]
    .into_iter()
    .map(|(unit, factor, base)| (unit.to_string(), (factor, base)))
    .collect()
});

/// The factor and base unit of a unit as written; an unknown unit is dropped (factor 1).
fn unit(written: &str) -> (f64, &'static str) {
    CASE_SENSITIVE
        .get(written)
        .or_else(|| CASE_INSENSITIVE.get(&written.to_lowercase()))
        .copied()
        .unwrap_or((1.0, ""))
}

/// A threshold or bound: a plain number, else nothing (ranges such as `10:20` are not
/// kept, as in Icinga).
fn bound(tokens: &[&str], index: usize) -> Option<f64> {
    let token = tokens.get(index)?;
    let plain = !token.is_empty()
        && *token != "U"
        && token
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
    plain.then(|| token.parse().ok()).flatten()
}

/// Parses one performance data item into the dictionary Icinga's `PerfdataValue` shows.
///
/// # Errors
/// A text without `=`, with a `,` in its values, or whose value is not a number.
pub fn parse(text: &str) -> Result<Dict, String> {
    let invalid = || format!("Invalid performance data value: {text}");
    let eq = text.rfind('=').ok_or_else(invalid)?;
    let mut label = &text[..eq];
    if label.len() > 2 && label.starts_with('\'') && label.ends_with('\'') {
        label = &label[1..label.len() - 1];
    }
    let rest = &text[eq + 1..];
    let values = &rest[..rest.find(' ').unwrap_or(rest.len())];
    if values.contains(',') {
        return Err(invalid());
    }
    let tokens: Vec<&str> = values.split(';').collect();
    let first = tokens[0];
    // The value runs up to the last digit or decimal point; the unit follows.
    let split = first
        .rfind(|c: char| c.is_ascii_digit() || c == '.')
        .map_or(first.len(), |p| p + 1);
    let number = &first[..split];
    let value: f64 = number
        .parse()
        .map_err(|_| format!("Can't convert '{number}' to a floating point number."))?;
    let (factor, unit) = unit(&first[split..]);
    let scaled = |v: Option<f64>| v.map_or(Value::Null, |v| Value::Number(v * factor));
    let mut d = Dict::new();
    // A `c` (counter) unit maps to no unit, so Icinga 2.13 never sets `counter`.
    d.insert("counter".into(), Value::Bool(false));
    d.insert("crit".into(), scaled(bound(&tokens, 2)));
    d.insert("label".into(), Value::from(label));
    d.insert("max".into(), scaled(bound(&tokens, 4)));
    d.insert("min".into(), scaled(bound(&tokens, 3)));
    d.insert("type".into(), Value::from("PerfdataValue"));
    d.insert("unit".into(), Value::from(unit));
    d.insert("value".into(), Value::Number(value * factor));
    d.insert("warn".into(), scaled(bound(&tokens, 1)));
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(d: &Dict, k: &str) -> Value {
        d.get(k).cloned().unwrap_or_default()
    }

    #[test]
    fn units_scale_values_and_bounds() -> Result<(), String> {
        // Thresholds are numbers in the value's unit.
        let d = parse("'disk /'=2KiB;1;2;0;4")?;
        assert_eq!(get(&d, "label").to_display_string(), "disk /");
        assert_eq!(get(&d, "unit").to_display_string(), "bytes");
        for (k, want) in [
            ("value", 2048.0),
            ("warn", 1024.0),
            ("crit", 2048.0),
            ("min", 0.0),
            ("max", 4096.0),
        ] {
            assert_eq!(get(&d, k).to_number().ok(), Some(want), "{k}");
        }
        let d = parse("t=5MS;10:20;U")?;
        assert!(parse("t=5ms;1kB")?
            .get("warn")
            .is_some_and(|w| matches!(w, Value::Null)));
        assert_eq!(
            (
                get(&d, "value").to_number().ok(),
                get(&d, "unit").to_display_string()
            ),
            (Some(0.005), "seconds".to_string())
        );
        assert!(matches!(get(&d, "warn"), Value::Null));
        assert!(matches!(get(&d, "crit"), Value::Null));
        let d = parse("e=3kWh")?;
        assert_eq!(get(&d, "value").to_number().ok(), Some(3000.0));
        assert_eq!(get(&d, "unit").to_display_string(), "watt-hours");
        let d = parse("x=1furlongs")?;
        assert_eq!(get(&d, "unit").to_display_string(), "");
        assert!(parse("novalue").is_err());
        assert!(parse("a=1,5").is_err());
        assert!(parse("a=").is_err());
        Ok(())
    }
}
