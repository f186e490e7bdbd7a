//! Writing a tree in its canonical text and JSON forms.

use crate::ast::Segment;

/// The canonical text form.
pub fn to_text(segment: &Segment) -> String {
    let _ = segment;
    String::new()
}

/// The JSON form.
pub fn to_json(segment: &Segment) -> serde_json::Value {
    serde_json::to_value(segment).unwrap_or(serde_json::Value::Null)
}
