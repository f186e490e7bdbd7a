//! Problems found in a condition: a stable code, a message that says what to
//! do, and where — a span in the text form and a path in the JSON form.

use serde::Serialize;

use crate::ast::Span;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// Stable and machine-readable, such as `field_unknown`.
    pub code: &'static str,
    pub message: String,
    /// Where in the text form, when the condition came from text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    /// Where in the JSON form, as a JSON pointer such as `/where/of/2/field`.
    pub path: String,
}

impl Problem {
    pub fn new(code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            code,
            message: message.into(),
            span: None,
            path: String::new(),
        }
    }

    pub fn at(mut self, span: crate::ast::Span, path: impl Into<String>) -> Problem {
        if span.line > 0 {
            self.span = Some(span);
        }
        self.path = path.into();
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.span {
            Some(s) => write!(
                f,
                "{}:{}: {} [{}]",
                s.line, s.column, self.message, self.code
            ),
            None if !self.path.is_empty() => {
                write!(f, "{}: {} [{}]", self.path, self.message, self.code)
            }
            None => write!(f, "{} [{}]", self.message, self.code),
        }
    }
}
