//! What went wrong in the engine, by kind; only the API turns a kind into an HTTP status
//! and Icinga's `{"error", "status"}` envelope.

use std::fmt;

/// The kind of an [`Error`]: what the caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is malformed or names something impossible (Icinga answers 400).
    Invalid,
    /// Nothing matched what the request names (404).
    NotFound,
    /// The engine cannot take the work now, e.g. while it stops (503).
    Unavailable,
}

impl Kind {
    /// Icinga's code for this kind: in the `code` of a per-object result, and the HTTP
    /// status of an answer that failed as a whole.
    pub fn code(self) -> u16 {
        match self {
            Kind::Invalid => 400,
            Kind::NotFound => 404,
            Kind::Unavailable => 503,
        }
    }
}

/// An error with the message a client sees and, for `verbose` answers, more detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    /// Shown only on request (`verbose=1`).
    pub diagnostic: Option<String>,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            diagnostic: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(Kind::Invalid, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(Kind::NotFound, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::new(Kind::Unavailable, message)
    }

    #[must_use]
    pub fn with_diagnostic(mut self, diagnostic: impl Into<String>) -> Self {
        self.diagnostic = Some(diagnostic.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
