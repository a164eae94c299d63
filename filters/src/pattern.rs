//! The two pattern languages of filters: Icinga's case-insensitive glob (`match()`) and
//! Perl-style regular expressions (`regex()`).

use std::fmt;

/// A compiled `match()` or `regex()` pattern.
pub enum Pattern {
    Glob(Glob),
    Regex(Box<fancy_regex::Regex>),
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Glob(g) => write!(f, "Glob({:?})", g.pattern),
            Pattern::Regex(r) => write!(f, "Regex({:?})", r.as_str()),
        }
    }
}

impl Pattern {
    pub fn is_match(&self, text: &str) -> bool {
        match self {
            Pattern::Glob(g) => g.is_match(text),
            // A regex that exceeds its backtracking limit does not match, as in Icinga.
            Pattern::Regex(r) => r.is_match(text).unwrap_or(false),
        }
    }
}

/// Compiles a regular expression with Boost's Perl syntax as far as `fancy-regex` has it.
pub fn regex(pattern: &str) -> Result<fancy_regex::Regex, String> {
    fancy_regex::RegexBuilder::new(pattern)
        .backtrack_limit(1_000_000)
        .build()
        .map_err(|e| format!("Invalid regular expression '{pattern}': {e}"))
}

/// Icinga's wildcard match: `*` any run, `?` one character, case-insensitive for ASCII,
/// `\` escapes the next character.
#[derive(Clone, Debug)]
pub struct Glob {
    pattern: Vec<Piece>,
}

#[derive(Clone, Copy, PartialEq)]
enum Piece {
    Any,
    One,
    Char(char),
}

impl fmt::Debug for Piece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Piece::Any => f.write_str("*"),
            Piece::One => f.write_str("?"),
            Piece::Char(c) => write!(f, "{c}"),
        }
    }
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        let mut pieces = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            pieces.push(match c {
                '*' => Piece::Any,
                '?' => Piece::One,
                '\\' => match chars.next() {
                    Some(n) => Piece::Char(fold(n)),
                    None => Piece::Char('\\'),
                },
                c => Piece::Char(fold(c)),
            });
        }
        pieces.dedup_by(|a, b| *a == Piece::Any && *b == Piece::Any);
        Glob { pattern: pieces }
    }

    /// Iterative matching with single-star backtracking: linear in practice, never
    /// exponential. ASCII texts are matched in place without allocating.
    pub fn is_match(&self, text: &str) -> bool {
        if text.is_ascii() {
            let bytes = text.as_bytes();
            wildcard(&self.pattern, bytes.len(), |i| {
                char::from(bytes[i].to_ascii_lowercase())
            })
        } else {
            let chars: Vec<char> = text.chars().map(fold).collect();
            wildcard(&self.pattern, chars.len(), |i| chars[i])
        }
    }
}

fn wildcard(p: &[Piece], len: usize, at: impl Fn(usize) -> char) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (usize::MAX, 0usize);
    while ti < len {
        match p.get(pi) {
            Some(Piece::Any) => {
                star = pi;
                mark = ti;
                pi += 1;
            }
            Some(Piece::One) => {
                pi += 1;
                ti += 1;
            }
            Some(Piece::Char(c)) if *c == at(ti) => {
                pi += 1;
                ti += 1;
            }
            _ if star != usize::MAX => {
                pi = star + 1;
                mark += 1;
                ti = mark;
            }
            _ => return false,
        }
    }
    p[pi..].iter().all(|x| *x == Piece::Any)
}

/// Case folding as Icinga's (C locale): ASCII letters only, `Ä` and `ä` differ.
fn fold(c: char) -> char {
    c.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn glob_cases() {
        let cases = [
            ("web*", "WebServer", true),
            ("*", "", true),
            ("?", "", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("*.example.com", "www.example.com", true),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("h?st", "HOST", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(Glob::new(p).is_match(t), want, "{p} vs {t}");
        }
    }
}
