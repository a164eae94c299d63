//! Tokens of the Icinga DSL, following `lib/config/config_lexer.ll`.
//!
//! Newlines separate statements, except inside `(` and `[`, as in Icinga's lexer.

use crate::error::{Error, Span};

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Number(f64),
    String(String),
    Ident(String),
    Newline,
    // keywords
    True,
    False,
    Null,
    Var,
    Local,
    If,
    Else,
    For,
    While,
    Function,
    Return,
    Break,
    Continue,
    Throw,
    In,
    NotIn,
    Use,
    Globals,
    Locals,
    This,
    // keywords of the configuration language that filters may not use
    Reserved(&'static str),
    // punctuation
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    NullaryLambdaBegin,
    NullaryLambdaEnd,
    Comma,
    Semicolon,
    Colon,
    Question,
    Dot,
    Arrow,
    // operators
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Shl,
    Shr,
    BitAnd,
    BitOr,
    BitXor,
    And,
    Or,
    Not,
    Tilde,
    Assign(AssignOp),
    Eof,
}

/// Assignment operators: `=` and the compound forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    Set,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitXor,
    BitAnd,
    BitOr,
}

const KEYWORDS: &[(&str, Tok)] = &[
    ("true", Tok::True),
    ("false", Tok::False),
    ("null", Tok::Null),
    ("var", Tok::Var),
    ("local", Tok::Local),
    ("if", Tok::If),
    ("else", Tok::Else),
    ("for", Tok::For),
    ("while", Tok::While),
    ("function", Tok::Function),
    ("return", Tok::Return),
    ("break", Tok::Break),
    ("continue", Tok::Continue),
    ("throw", Tok::Throw),
    ("in", Tok::In),
    ("use", Tok::Use),
    ("globals", Tok::Globals),
    ("locals", Tok::Locals),
    ("this", Tok::This),
    ("object", Tok::Reserved("object")),
    ("template", Tok::Reserved("template")),
    ("include", Tok::Reserved("include")),
    ("include_recursive", Tok::Reserved("include_recursive")),
    ("include_zones", Tok::Reserved("include_zones")),
    ("library", Tok::Reserved("library")),
    ("apply", Tok::Reserved("apply")),
    ("to", Tok::Reserved("to")),
    ("where", Tok::Reserved("where")),
    ("import", Tok::Reserved("import")),
    ("assign", Tok::Reserved("assign")),
    ("ignore", Tok::Reserved("ignore")),
    ("const", Tok::Reserved("const")),
    ("default", Tok::Reserved("default")),
    ("ignore_on_error", Tok::Reserved("ignore_on_error")),
    ("current_filename", Tok::Reserved("current_filename")),
    ("current_line", Tok::Reserved("current_line")),
    ("debugger", Tok::Reserved("debugger")),
    ("namespace", Tok::Reserved("namespace")),
    ("try", Tok::Reserved("try")),
    ("except", Tok::Reserved("except")),
];

/// Whether `word` is a keyword (and needs `@` to be used as an identifier).
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|(k, _)| *k == word)
}

/// A token with its source span.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Splits `src` into tokens; the last token is always `Eof`.
pub fn tokenize(src: &str) -> Result<Vec<Token>, Error> {
    Lexer {
        src: src.as_bytes(),
        text: src,
        pos: 0,
        nesting: Vec::new(),
        out: Vec::new(),
    }
    .run()
}

struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    /// For each open bracket: whether newlines inside it are ignored (`(` and `[`).
    nesting: Vec<bool>,
    out: Vec<Token>,
}

impl Lexer<'_> {
    fn peek(&self, off: usize) -> u8 {
        self.src.get(self.pos + off).copied().unwrap_or(0)
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.push(Token {
            tok,
            span: Span::new(start, self.pos),
        });
    }

    fn run(mut self) -> Result<Vec<Token>, Error> {
        while self.pos < self.src.len() {
            let start = self.pos;
            let c = self.peek(0);
            match c {
                b'\n' => {
                    self.pos += 1;
                    let ignored = self.nesting.last().copied().unwrap_or(false);
                    let repeated = matches!(
                        self.out.last(),
                        Some(Token {
                            tok: Tok::Newline,
                            ..
                        })
                    );
                    if !ignored && !repeated {
                        self.push(Tok::Newline, start);
                    }
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'#' => self.skip_line(),
                b'/' if self.peek(1) == b'/' => self.skip_line(),
                b'/' if self.peek(1) == b'*' => match self.text[self.pos + 2..].find("*/") {
                    Some(i) => self.pos += i + 4,
                    None => {
                        return Err(Error::syntax(
                            "Unterminated comment",
                            Span::new(start, self.src.len()),
                        ))
                    }
                },
                b'0'..=b'9' => self.number()?,
                b'"' => self.string()?,
                b'{' if self.text[self.pos..].starts_with("{{{") => self.raw_string()?,
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.word(),
                b'@' if matches!(self.peek(1), b'a'..=b'z' | b'A'..=b'Z' | b'_') => {
                    self.pos += 1;
                    let word = self.take_word().0.to_string();
                    self.push(Tok::Ident(word), start);
                }
                _ => self.operator()?,
            }
        }
        let end = self.src.len();
        self.out.push(Token {
            tok: Tok::Eof,
            span: Span::new(end, end),
        });
        Ok(self.out)
    }

    fn skip_line(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn take_word(&mut self) -> (&str, usize) {
        let start = self.pos;
        while matches!(self.peek(0), b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_') {
            self.pos += 1;
        }
        (&self.text[start..self.pos], start)
    }

    fn word(&mut self) {
        let (word, start) = self.take_word();
        let tok = KEYWORDS
            .iter()
            .find(|(k, _)| *k == word)
            .map_or_else(|| Tok::Ident(word.to_string()), |(_, t)| t.clone());
        self.push(tok, start);
    }

    fn number(&mut self) -> Result<(), Error> {
        let start = self.pos;
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            self.pos += 1;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
        }
        let mut value: f64 = self.text[start..self.pos]
            .parse()
            .map_err(|_| Error::syntax("Invalid number", Span::new(start, self.pos)))?;
        let factor = match (self.peek(0), self.peek(1)) {
            (b'm', b's') => Some((2, 0.001)),
            (b's', _) => Some((1, 1.0)),
            (b'm', _) => Some((1, 60.0)),
            (b'h', _) => Some((1, 3600.0)),
            (b'd', _) => Some((1, 86400.0)),
            _ => None,
        };
        if let Some((len, factor)) = factor {
            self.pos += len;
            value *= factor;
        }
        self.push(Tok::Number(value), start);
        Ok(())
    }

    fn string(&mut self) -> Result<(), Error> {
        let start = self.pos;
        self.pos += 1;
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.src.get(self.pos) else {
                return Err(Error::syntax(
                    "End-of-file while in string literal",
                    Span::new(start, self.src.len()),
                ));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\n' => {
                    return Err(Error::syntax(
                        "End-of-file while in string literal",
                        Span::new(start, self.pos),
                    ))
                }
                b'\\' => {
                    let esc_start = self.pos;
                    self.pos += 1;
                    let e = self.peek(0);
                    match e {
                        b'0'..=b'7' => {
                            let mut v: u32 = 0;
                            let mut n = 0;
                            while n < 3 && matches!(self.peek(0), b'0'..=b'7') {
                                v = v * 8 + u32::from(self.peek(0) - b'0');
                                self.pos += 1;
                                n += 1;
                            }
                            if v > 0xff {
                                return Err(Error::syntax(
                                    "Constant is out of bounds",
                                    Span::new(esc_start, self.pos),
                                ));
                            }
                            buf.push(v as u8);
                            continue;
                        }
                        b'"' | b'\\' | b'/' => buf.push(e),
                        b't' => buf.push(b'\t'),
                        b'r' => buf.push(b'\r'),
                        b'n' => buf.push(b'\n'),
                        b'b' => buf.push(8),
                        b'f' => buf.push(12),
                        // A backslash before a line break keeps the line break.
                        b'\n' => buf.push(b'\n'),
                        0 => {
                            return Err(Error::syntax(
                                "End-of-file while in string literal",
                                Span::new(start, self.src.len()),
                            ))
                        }
                        _ => {
                            let end = self.pos + utf8_len(e);
                            return Err(Error::syntax(
                                format!(
                                    "Bad escape sequence found: {}",
                                    &self.text[esc_start..end.min(self.src.len())]
                                ),
                                Span::new(esc_start, end),
                            ));
                        }
                    }
                    self.pos += 1;
                }
                _ => {
                    buf.push(c);
                    self.pos += 1;
                }
            }
        }
        let s = String::from_utf8(buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        self.push(Tok::String(s), start);
        Ok(())
    }

    fn raw_string(&mut self) -> Result<(), Error> {
        let start = self.pos;
        let body = &self.text[start + 3..];
        match body.find("}}}") {
            Some(i) => {
                let s = body[..i].to_string();
                self.pos = start + 3 + i + 3;
                self.push(Tok::String(s), start);
                Ok(())
            }
            None => Err(Error::syntax(
                "End-of-file while in string literal",
                Span::new(start, self.src.len()),
            )),
        }
    }

    fn operator(&mut self) -> Result<(), Error> {
        let start = self.pos;
        let rest = &self.text[self.pos..];
        const OPS: &[(&str, Tok)] = &[
            ("!in", Tok::NotIn),
            ("{{", Tok::NullaryLambdaBegin),
            ("}}", Tok::NullaryLambdaEnd),
            ("==", Tok::Eq),
            ("!=", Tok::Ne),
            ("<=", Tok::Le),
            (">=", Tok::Ge),
            ("<<", Tok::Shl),
            (">>", Tok::Shr),
            ("&&", Tok::And),
            ("||", Tok::Or),
            ("=>", Tok::Arrow),
            ("+=", Tok::Assign(AssignOp::Add)),
            ("-=", Tok::Assign(AssignOp::Sub)),
            ("*=", Tok::Assign(AssignOp::Mul)),
            ("/=", Tok::Assign(AssignOp::Div)),
            ("%=", Tok::Assign(AssignOp::Mod)),
            ("^=", Tok::Assign(AssignOp::BitXor)),
            ("&=", Tok::Assign(AssignOp::BitAnd)),
            ("|=", Tok::Assign(AssignOp::BitOr)),
            ("=", Tok::Assign(AssignOp::Set)),
            ("(", Tok::LParen),
            (")", Tok::RParen),
            ("[", Tok::LBracket),
            ("]", Tok::RBracket),
            ("{", Tok::LBrace),
            ("}", Tok::RBrace),
            (",", Tok::Comma),
            (";", Tok::Semicolon),
            (":", Tok::Colon),
            ("?", Tok::Question),
            (".", Tok::Dot),
            ("+", Tok::Plus),
            ("-", Tok::Minus),
            ("*", Tok::Star),
            ("/", Tok::Slash),
            ("%", Tok::Percent),
            ("<", Tok::Lt),
            (">", Tok::Gt),
            ("&", Tok::BitAnd),
            ("|", Tok::BitOr),
            ("^", Tok::BitXor),
            ("!", Tok::Not),
            ("~", Tok::Tilde),
        ];
        let Some((text, tok)) = OPS.iter().find(|(text, _)| rest.starts_with(text)) else {
            let c = rest.chars().next().unwrap_or('\0');
            self.pos += c.len_utf8().max(1);
            return Err(Error::syntax(
                format!("syntax error, unexpected {c}"),
                Span::new(start, self.pos),
            ));
        };
        self.pos += text.len();
        match tok {
            Tok::LParen | Tok::LBracket => self.nesting.push(true),
            Tok::LBrace => self.nesting.push(false),
            Tok::NullaryLambdaBegin => self.nesting.extend([false, false]),
            Tok::RParen | Tok::RBracket | Tok::RBrace => {
                self.nesting.pop();
            }
            Tok::NullaryLambdaEnd => {
                self.nesting.pop();
                self.nesting.pop();
            }
            _ => {}
        }
        self.push(tok.clone(), start);
        Ok(())
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}
