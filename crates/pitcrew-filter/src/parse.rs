//! The text form's lexer and parser, and reading the JSON form.

use crate::ast::Segment;
use crate::error::Problem;

/// Parse the text form.
pub fn parse(text: &str) -> Result<Segment, Vec<Problem>> {
    let _ = text;
    Err(vec![Problem::new(
        "not_built",
        "the parser is not built yet",
    )])
}

/// Read the JSON form.
pub fn from_json(text: &str) -> Result<Segment, Vec<Problem>> {
    serde_json::from_str(text).map_err(|e| vec![Problem::new("json_invalid", e.to_string())])
}
