//! The small pieces of text explanations are made of: quoted names, windows,
//! durations and literals, written the way the condition language writes
//! them so a reason reads like the condition it explains.

use crate::ast::{Duration, Literal, Occurrence, Window};

pub(super) fn which_word(which: Occurrence) -> &'static str {
    match which {
        Occurrence::First => "first",
        Occurrence::Last => "last",
    }
}

/// ` in last 90 days`, ` since "2026-01-01"`, or nothing for all time.
pub(super) fn window(window: &Window) -> String {
    match window {
        Window::Ever => String::new(),
        Window::Last { amount } => format!(" in last {}", duration(*amount)),
        Window::Between { from, to } => format!(" between {} and {}", quote(from), quote(to)),
        Window::Since { from } => format!(" since {}", quote(from)),
    }
}

pub(super) fn duration(d: Duration) -> String {
    format!("{} {}", d.amount, d.unit.word(d.amount))
}

pub(super) fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

pub(super) fn literal(l: &Literal) -> String {
    match l {
        Literal::Bool(b) => b.to_string(),
        Literal::Number(n) => n.to_string(),
        Literal::Text(s) => quote(s),
    }
}

pub(super) fn literals(values: &[Literal]) -> String {
    values.iter().map(literal).collect::<Vec<_>>().join(", ")
}

pub(super) fn quotes(values: &[String]) -> String {
    values
        .iter()
        .map(|v| quote(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A text in double quotes, escaped as in the condition's text.
pub(super) fn quote(s: &str) -> String {
    crate::print::quote(s)
}

/// A field or property name: bare when it is a plain word, quoted otherwise.
pub(super) fn name(key: &str) -> String {
    let mut chars = key.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain { key.to_owned() } else { quote(key) }
}
