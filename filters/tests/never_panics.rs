//! Property tests: no input makes the lexer, parser, compiler or evaluator panic, and
//! every failure comes back as an error with a span inside the source.

use filters::{EmptyScope, Limits, Program};
use proptest::prelude::*;

const LIMITS: Limits = Limits {
    max_call_depth: 16,
    max_steps: 10_000,
};

fn check(src: &str) {
    match Program::compile(src) {
        Ok(p) => {
            let p = p.with_limits(LIMITS);
            for result in [p.evaluate(&EmptyScope), p.execute(&EmptyScope)] {
                if let Err(e) = result {
                    assert!(e.span.start as usize <= src.len(), "span outside {src:?}");
                    let _ = p.render_error(&e);
                }
            }
        }
        Err(e) => {
            assert!(
                e.span.end as usize <= src.len(),
                "span outside {src:?}: {e:?}"
            );
            let _ = e.render(src, "<test>");
            let _ = e.console_caret(src);
        }
    }
}

/// Fragments of the language, so random programs get past the lexer often.
fn fragment() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "1", "2.5", "5m", "\"s\"", "\"\\n\"", "{{{r}}}", "true", "null", "x", "host", ".", ",",
        "(", ")", "[", "]", "{", "}", "{{", "}}", "+", "-", "*", "/", "%", "==", "!=", "<", ">=",
        "<<", "&", "|", "^", "&&", "||", "!", "~", "in", "!in", "?", ":", "=", "+=", "=>", ";",
        "\n", "if", "else", "for", "while", "var", "function", "return", "break", "match", "regex",
        "len", "typeof", "[1,2]", "{a=1}", "f", "(x) => x", " ", "#", "//", "/*", "*/", "@", "$",
        "\\", "ü",
    ])
    .prop_map(str::to_string)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics(parts in prop::collection::vec(fragment(), 0..40)) {
        check(&parts.concat());
    }

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,64}") {
        check(&src);
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for src in [
        "(".repeat(100_000),
        "[".repeat(100_000),
        "{a=".repeat(100_000),
        "-".repeat(100_000) + "1",
        "!".repeat(100_000) + "1",
        "1".to_string() + &" + 1".repeat(100_000),
        "a".to_string() + &".b".repeat(100_000),
        "f".to_string() + &"()".repeat(100_000),
        "x ? ".repeat(100_000) + "1",
    ] {
        let err = Program::compile(&src).expect_err("nesting this deep must be refused");
        assert!(err.message.contains("nesting"), "{}", err.message);
    }
}

#[test]
fn runaway_evaluation_is_stopped() {
    let limits = Limits {
        max_call_depth: 64,
        max_steps: 100_000,
    };
    for src in [
        "while (true) { x = 1 }",
        "f = (x) => f(x); f(1)",
        "range(100000).map(x => range(100000))",
        "x = \"a\"; while (true) { x += x }",
        "x = [1]; while (true) { x += x }",
    ] {
        let p = Program::compile(src).expect("parses").with_limits(limits);
        assert!(
            p.execute(&filters::EmptyScope).is_err(),
            "{src} must be stopped"
        );
    }
}
