//! Writing a tree in its canonical text and JSON forms. The canonical text
//! reads back into the same tree: groups as indented blocks (two spaces a
//! level), defaults left out, names quoted only where they must be.

use crate::ast::{
    Condition, ConsentState, Count, CountOp, Literal, Occurrence, Quantifier, Segment, Test, Window,
};
use crate::parse::KEYWORDS;

/// The canonical text form.
pub fn to_text(segment: &Segment) -> String {
    let mut out = format!("{} where ", segment.subject.as_str());
    write_condition(&mut out, &segment.condition, 0);
    out
}

/// The text of one node: a line, or a block for a group with members.
pub fn condition_text(condition: &Condition) -> String {
    let mut out = String::new();
    write_condition(&mut out, condition, 0);
    out
}

/// The JSON form.
pub fn to_json(segment: &Segment) -> serde_json::Value {
    serde_json::to_value(segment).unwrap_or(serde_json::Value::Null)
}

/// Writes `c`, which starts on a line indented `indent` spaces; the lines
/// of its blocks are indented two more.
fn write_condition(out: &mut String, c: &Condition, indent: usize) {
    match c {
        Condition::All { of, .. } => group(out, "all of", of, indent),
        Condition::Any { of, .. } => group(out, "any of", of, indent),
        Condition::None { of, .. } => group(out, "none of", of, indent),
        Condition::Not { condition, .. } => {
            out.push_str("not ");
            write_condition(out, condition, indent);
        }
        Condition::Field { field, test, .. } => {
            out.push_str(&name(field));
            out.push(' ');
            out.push_str(&test_text(test));
        }
        Condition::Did {
            event,
            count,
            window,
            filter,
            ..
        } => {
            if *count == Count::NEVER {
                out.push_str("did not ");
                out.push_str(&quote(event));
            } else {
                out.push_str("did ");
                out.push_str(&quote(event));
                if *count != Count::ONCE {
                    out.push(' ');
                    out.push_str(&count_text(*count));
                }
            }
            push_window(out, window);
            push_filter(out, filter.as_deref(), indent);
        }
        Condition::Aggregate {
            function,
            property,
            event,
            window,
            test,
            filter,
            ..
        } => {
            out.push_str(&format!(
                "{} of {} in {}",
                function.as_str(),
                name(property),
                quote(event)
            ));
            push_window(out, window);
            out.push(' ');
            out.push_str(&test_text(test));
            push_filter(out, filter.as_deref(), indent);
        }
        Condition::Occurrence {
            which,
            event,
            test,
            filter,
            ..
        } => {
            let word = match which {
                Occurrence::First => "first",
                Occurrence::Last => "last",
            };
            out.push_str(&format!("{word} {} {}", quote(event), test_text(test)));
            push_filter(out, filter.as_deref(), indent);
        }
        Condition::Sequence {
            first,
            then,
            negated,
            within,
            window,
            ..
        } => {
            let not = if *negated { "not " } else { "" };
            out.push_str(&format!(
                "did {} then {not}{} within {} {}",
                quote(first),
                quote(then),
                within.amount,
                within.unit.word(within.amount)
            ));
            push_window(out, window);
        }
        Condition::InSegment { segment, .. } => {
            out.push_str("in segment ");
            out.push_str(&quote(segment));
        }
        Condition::Consent {
            state,
            topic,
            channel,
            ..
        } => {
            out.push_str(match state {
                ConsentState::Subscribed => "subscribed to ",
                ConsentState::Unsubscribed => "unsubscribed from ",
            });
            out.push_str(&quote(topic));
            if let Some(channel) = channel {
                out.push_str(" via ");
                out.push_str(&word_or_quoted(channel));
            }
        }
        Condition::Account { condition, .. } => {
            out.push_str("account where ");
            write_condition(out, condition, indent);
        }
        Condition::Members {
            quantifier,
            condition,
            ..
        } => {
            out.push_str(match quantifier {
                Quantifier::Any => "any member where ",
                Quantifier::All => "all members where ",
                Quantifier::No => "no member where ",
            });
            write_condition(out, condition, indent);
        }
    }
}

/// `all of:` and one indented line per member, or `all of ()` when empty.
fn group(out: &mut String, head: &str, of: &[Condition], indent: usize) {
    out.push_str(head);
    if of.is_empty() {
        out.push_str(" ()");
        return;
    }
    out.push(':');
    let inner = indent + 2;
    for c in of {
        out.push('\n');
        out.push_str(&" ".repeat(inner));
        write_condition(out, c, inner);
    }
}

fn push_window(out: &mut String, window: &Window) {
    match window {
        Window::Ever => {}
        Window::Last { amount } => {
            out.push_str(&format!(
                " in last {} {}",
                amount.amount,
                amount.unit.word(amount.amount)
            ));
        }
        Window::Between { from, to } => {
            out.push_str(&format!(" between {} and {}", quote(from), quote(to)));
        }
        Window::Since { from } => {
            out.push_str(" since ");
            out.push_str(&quote(from));
        }
    }
}

fn push_filter(out: &mut String, filter: Option<&Condition>, indent: usize) {
    if let Some(filter) = filter {
        out.push_str(" where ");
        write_condition(out, filter, indent);
    }
}

fn count_text(count: Count) -> String {
    let op = match count.op {
        CountOp::AtLeast => "at least",
        CountOp::AtMost => "at most",
        CountOp::Exactly => "exactly",
    };
    let times = if count.times == 1 { "time" } else { "times" };
    format!("{op} {} {times}", count.times)
}

/// The text of a test, as written after a field.
fn test_text(test: &Test) -> String {
    match test {
        Test::Is { value } => format!("is {}", literal(value)),
        Test::IsNot { value } => format!("is not {}", literal(value)),
        Test::Contains { value } => format!("contains {}", quote(value)),
        Test::NotContains { value } => format!("does not contain {}", quote(value)),
        Test::StartsWith { value } => format!("starts with {}", quote(value)),
        Test::EndsWith { value } => format!("ends with {}", quote(value)),
        Test::Matches { pattern } => format!("matches {}", quote(pattern)),
        Test::In { values } => format!("in {}", list(values.iter().map(literal))),
        Test::NotIn { values } => format!("not in {}", list(values.iter().map(literal))),
        Test::Exists => "exists".into(),
        Test::IsEmpty => "is empty".into(),
        // Times read better as words; numbers as symbols.
        Test::Gt {
            value: value @ Literal::Text(_),
        } => format!("after {}", literal(value)),
        Test::Gt { value } => format!("> {}", literal(value)),
        Test::Gte { value } => format!(">= {}", literal(value)),
        Test::Lt {
            value: value @ Literal::Text(_),
        } => format!("before {}", literal(value)),
        Test::Lt { value } => format!("< {}", literal(value)),
        Test::Lte { value } => format!("<= {}", literal(value)),
        Test::Between { low, high } => format!("between {} and {}", literal(low), literal(high)),
        Test::WithinLast { amount } => {
            format!(
                "within last {} {}",
                amount.amount,
                amount.unit.word(amount.amount)
            )
        }
        Test::MoreThanAgo { amount } => format!(
            "more than {} {} ago",
            amount.amount,
            amount.unit.word(amount.amount)
        ),
        Test::WithinNext { amount } => {
            format!(
                "within next {} {}",
                amount.amount,
                amount.unit.word(amount.amount)
            )
        }
        Test::AnniversaryWithinNext { days } => {
            let unit = if *days == 1 { "day" } else { "days" };
            format!("anniversary within next {days} {unit}")
        }
        Test::HasAny { values } => format!("has any of {}", list(values.iter().map(|v| quote(v)))),
        Test::HasAll { values } => format!("has all of {}", list(values.iter().map(|v| quote(v)))),
        Test::HasNone { values } => {
            format!("has none of {}", list(values.iter().map(|v| quote(v))))
        }
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

fn literal(value: &Literal) -> String {
    match value {
        Literal::Bool(b) => b.to_string(),
        // Display writes the shortest digits that read back to the same
        // number, and never an exponent.
        Literal::Number(n) => n.to_string(),
        Literal::Text(s) => quote(s),
    }
}

/// A text in double quotes, with `"`, `\`, line breaks and tabs escaped.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A field or property name: bare when it is a plain word that is not a
/// keyword, quoted otherwise.
fn name(s: &str) -> String {
    if is_plain(s) && !KEYWORDS.contains(&s) {
        s.to_string()
    } else {
        quote(s)
    }
}

/// A channel after `via`, where no keyword can follow: bare when plain.
fn word_or_quoted(s: &str) -> String {
    if is_plain(s) { s.to_string() } else { quote(s) }
}

fn is_plain(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_field_name_is_written_bare() {
        assert_eq!(name("lifecycle_stage"), "lifecycle_stage");
        assert_eq!(name("_score2"), "_score2");
    }

    #[test]
    fn a_field_named_like_a_keyword_is_quoted() {
        for keyword in [
            "last", "account", "in", "not", "where", "true", "days", "people",
        ] {
            assert_eq!(name(keyword), format!("\"{keyword}\""));
        }
    }

    #[test]
    fn a_field_that_only_contains_a_keyword_is_written_bare() {
        assert_eq!(name("status"), "status");
        assert_eq!(name("last_seen_at"), "last_seen_at");
        assert_eq!(name("Account"), "Account");
    }

    #[test]
    fn a_field_name_that_is_not_a_plain_word_is_quoted_and_escaped() {
        assert_eq!(name("address.city"), "\"address.city\"");
        assert_eq!(name("2fa"), "\"2fa\"");
        assert_eq!(name(""), "\"\"");
        assert_eq!(name("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
        assert_eq!(name("größe"), "\"größe\"");
    }

    #[test]
    fn numbers_are_written_in_their_shortest_form_without_exponent() {
        assert_eq!(literal(&Literal::Number(2.0)), "2");
        assert_eq!(literal(&Literal::Number(0.5)), "0.5");
        assert_eq!(literal(&Literal::Number(-7.25)), "-7.25");
        assert_eq!(literal(&Literal::Number(1e21)), "1000000000000000000000");
    }

    #[test]
    fn before_and_after_are_used_for_texts_and_symbols_for_numbers() {
        let text = Literal::Text("2026-01-01".into());
        assert_eq!(
            test_text(&Test::Lt {
                value: text.clone()
            }),
            "before \"2026-01-01\""
        );
        assert_eq!(test_text(&Test::Gt { value: text }), "after \"2026-01-01\"");
        let n = Literal::Number(3.0);
        assert_eq!(test_text(&Test::Lt { value: n.clone() }), "< 3");
        assert_eq!(test_text(&Test::Gt { value: n }), "> 3");
    }
}
