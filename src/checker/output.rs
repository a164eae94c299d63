//! The plugin contract, pure: exit code → state, output and `|` performance data
//! (Icinga's `PluginUtility::ParseCheckOutput` and `SplitPerfdata`).

/// Service states (also used for hosts' raw state).
pub const OK: u8 = 0;
pub const WARNING: u8 = 1;
pub const CRITICAL: u8 = 2;
pub const UNKNOWN: u8 = 3;

/// The service state of a plugin's exit code: 0–3 as is, anything else UNKNOWN.
pub fn service_state(exit_code: i64) -> u8 {
    match exit_code {
        0..=3 => exit_code as u8,
        _ => UNKNOWN,
    }
}

/// Host state from a service state (active checks): OK and WARNING are UP (0), the rest
/// DOWN (1).
pub fn host_state(service_state: u8) -> u8 {
    match service_state {
        OK | WARNING => 0,
        _ => 1,
    }
}

/// Splits plugin output into text and performance data: on each line, text after a `|`
/// that is followed later by `=` is performance data; the text lines are joined with
/// `\n`, the performance data of all lines with spaces.
pub fn parse_output(raw: &str) -> (String, Vec<String>) {
    let mut text = Vec::new();
    let mut perf = Vec::new();
    for line in raw.trim().split(['\r', '\n']).filter(|l| !l.is_empty()) {
        match line.find('|') {
            Some(bar) if line[bar..].contains('=') => {
                text.push(line[..bar].trim_end().to_string());
                perf.extend(split_perfdata(&line[bar + 1..]));
            }
            _ => text.push(line.to_string()),
        }
    }
    (text.join("\n").trim().to_string(), perf)
}

/// Splits a performance data string into `label=value…` items; labels may be single-quoted
/// to contain spaces.
pub fn split_perfdata(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            ' ' | '\t' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(service_state(0), OK);
        assert_eq!(service_state(2), CRITICAL);
        assert_eq!(service_state(4), UNKNOWN);
        assert_eq!(service_state(-1), UNKNOWN);
        assert_eq!(host_state(WARNING), 0);
        assert_eq!(host_state(UNKNOWN), 1);
    }

    #[test]
    fn output_and_perfdata() {
        let (text, perf) = parse_output(
            "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n/ 15272 MB (77%);\n/boot 68 MB (69%);\n| /boot=68MB;88;93;0;98 'home dir'=69MB;;\n",
        );
        assert_eq!(
            text,
            "DISK OK - free space: / 3326 MB (56%);\n/ 15272 MB (77%);\n/boot 68 MB (69%);"
        );
        assert_eq!(
            perf,
            [
                "/=2643MB;5948;5958;0;5968",
                "/boot=68MB;88;93;0;98",
                "'home dir'=69MB;;"
            ]
        );
        let (text, perf) = parse_output("PING OK | rta");
        assert_eq!((text.as_str(), perf.len()), ("PING OK | rta", 0));
    }
}
