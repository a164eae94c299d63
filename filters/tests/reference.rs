//! Differential tests: every expression in `reference/console.jsonl` was evaluated by the
//! real Icinga 2 (r2.13, `icinga2 console --eval`, see `reference/generate.py`); our console
//! must print the same.
//!
//! Values must match byte for byte. Errors must be errors; for evaluation and script
//! errors the message must match too. Syntax errors are compared only as errors, because
//! Icinga's wording comes from its bison tables (`syntax error, unexpected …`).

use filters::console;

#[derive(serde::Deserialize)]
struct Case {
    expr: String,
    ok: bool,
    output: String,
}

/// Where we deliberately differ from Icinga, and why.
const DELIBERATE: &[(&str, &str)] = &[
    (
        "Host()",
        "configuration objects are not constructed from expressions",
    ),
    (
        "1 +* 2",
        "the pointer dereference operator `*x` is not supported",
    ),
    (
        "[1, 2] - null",
        "Icinga 2 crashes here; Auspex reports an error",
    ),
];

/// Errors whose wording comes from a library (Boost.Regex, nlohmann::json): only the
/// fact that they fail is compared.
const LIBRARY_WORDING: &[&str] = &["regex(\"(\", \"x\")", "Json.decode(\"[\")"];

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or("")
}

#[test]
fn console_output_matches_icinga() {
    let data = include_str!("reference/console.jsonl");
    let mut failures = Vec::new();
    let mut total = 0;
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let case: Case = serde_json::from_str(line).expect("valid case line");
        if DELIBERATE.iter().any(|(e, _)| *e == case.expr) {
            continue;
        }
        total += 1;
        let (output, ok) = console::eval_plain(&case.expr);
        let matches = if case.ok {
            ok && output == case.output
        } else if last_line(&case.output).starts_with("syntax error")
            || LIBRARY_WORDING.contains(&case.expr.as_str())
        {
            !ok
        } else {
            !ok && last_line(&output) == last_line(&case.output)
        };
        if !matches {
            failures.push(format!(
                "{:?}\n    icinga: {:?}\n    auspex: {:?}",
                case.expr, case.output, output
            ));
        }
    }
    assert!(total > 1000, "the reference corpus has {total} cases");
    assert!(
        failures.is_empty(),
        "{} of {total} expressions differ from Icinga 2:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
