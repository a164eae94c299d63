//! Errors with source spans, rendered with a caret under the offending code.

use std::fmt;

/// A byte range in the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// 1-based line and column of the span's start.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        let start = (self.start as usize).min(source.len());
        let before = &source[..floor_char_boundary(source, start)];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rfind('\n')
            .map_or(before.len(), |i| before.len() - i - 1)
            + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// What kind of failure: the three kinds Icinga reports differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text does not parse (`syntax error, …`).
    Syntax,
    /// A script error raised by the evaluator (undefined variable, bad field access, …).
    Script,
    /// An error raised by an operator or function (`Error while evaluating expression: …`).
    Evaluation,
    /// The evaluation's [`crate::Budget`] was spent: its deadline passed or it was
    /// cancelled. Not the expression's fault, and not an answer about the object.
    Interrupted,
}

/// An error of parsing or evaluation, with the span it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub span: Span,
}

impl Error {
    pub fn syntax(message: impl Into<String>, span: Span) -> Self {
        Error {
            kind: ErrorKind::Syntax,
            message: message.into(),
            span,
        }
    }

    pub fn script(message: impl Into<String>, span: Span) -> Self {
        Error {
            kind: ErrorKind::Script,
            message: message.into(),
            span,
        }
    }

    pub fn interrupted(why: crate::Exhausted, span: Span) -> Self {
        Error {
            kind: ErrorKind::Interrupted,
            message: why.to_string(),
            span,
        }
    }

    pub fn evaluation(message: impl Into<String>, span: Span) -> Self {
        Error {
            kind: ErrorKind::Evaluation,
            message: message.into(),
            span,
        }
    }

    /// The message as Icinga words it (evaluation errors carry Icinga's prefix).
    pub fn icinga_message(&self) -> String {
        match self.kind {
            ErrorKind::Evaluation => format!("Error while evaluating expression: {}", self.message),
            _ => self.message.clone(),
        }
    }

    /// A multi-line report: position, the source line and a caret under the span.
    ///
    /// ```text
    /// <filter>:1:9: Tried to access undefined script variable 'hots'
    ///   1 | host.name == "x" && hots.vars.os == "Linux"
    ///     |                     ^^^^
    /// ```
    pub fn render(&self, source: &str, origin: &str) -> String {
        let (line, col) = self.span.line_col(source);
        let text = source.lines().nth(line - 1).unwrap_or("");
        let width = caret_width(self.span, text, col);
        let gutter = line.to_string().len();
        format!(
            "{origin}:{line}:{col}: {}\n{:gutter$} |\n{line} | {text}\n{:gutter$} | {}{}",
            self.icinga_message(),
            "",
            "",
            " ".repeat(text[..(col - 1).min(text.len())].chars().count()),
            "^".repeat(width),
        )
    }

    /// The caret line as `icinga2 console --eval` prints it (prompt width 7).
    pub fn console_caret(&self, source: &str) -> String {
        let (line, col) = self.span.line_col(source);
        let text = source.lines().nth(line - 1).unwrap_or("");
        format!(
            "{}{}",
            " ".repeat(7 + col - 1),
            "^".repeat(caret_width(self.span, text, col))
        )
    }
}

fn caret_width(span: Span, line_text: &str, col: usize) -> usize {
    let remaining = line_text.len().saturating_sub(col - 1);
    ((span.end - span.start) as usize).min(remaining).max(1)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.icinga_message())
    }
}

impl std::error::Error for Error {}
