//! Reading the JSON form. What is accepted is exactly what the tree's serde
//! derive accepts; when it refuses, a walk over the JSON finds the member at
//! fault, so the problem names it as a JSON pointer (`/where/of/2/test/op`)
//! and says what is accepted there.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment as PathSegment;

use super::MAX_DEPTH;
use crate::ast::{
    Aggregate, Condition, ConsentState, Count, Duration, Literal, Occurrence, Quantifier, Segment,
    Subject,
};
use crate::error::Problem;

/// How deeply the JSON itself may nest: a condition takes at most two levels
/// (its object and a group's `of` array), plus a test, a list and a value.
const MAX_JSON_DEPTH: usize = 2 * MAX_DEPTH + 8;

/// Read the JSON form from text.
pub fn from_json(text: &str) -> Result<Segment, Vec<Problem>> {
    let value: Value = serde_json::from_str(text).map_err(|e| vec![unreadable(&e)])?;
    from_json_value(value)
}

/// JSON text that does not parse. The reader follows at most 128 nested
/// arrays and objects, which a group costs two of: a chain of more than 62
/// groups can be read from a JSON value but not from JSON text.
fn unreadable(e: &serde_json::Error) -> Problem {
    if e.to_string().starts_with("recursion limit exceeded") {
        return Problem::new(
            "too_deep",
            "the JSON nests more than 128 arrays and objects deep; flatten the condition",
        );
    }
    Problem::new("json_invalid", format!("the JSON is not well-formed: {e}"))
}

/// Read the JSON form from an already parsed JSON value.
pub fn from_json_value(value: Value) -> Result<Segment, Vec<Problem>> {
    if nests_deeper_than(&value, MAX_JSON_DEPTH) {
        return Err(vec![too_deep_problem(String::new())]);
    }
    match Segment::deserialize(&value) {
        Ok(segment) => within_depth(segment),
        Err(_) => Err(vec![diagnose(&value)]),
    }
}

/// The problem with a value that does not deserialize: found by the walk,
/// or else where serde itself stopped.
fn diagnose(value: &Value) -> Problem {
    if let Err(p) = segment(value) {
        return p;
    }
    match serde_path_to_error::deserialize::<_, Segment>(value) {
        Ok(_) => problem(String::new(), "the JSON form is not a valid segment".into()),
        Err(e) => {
            let path = pointer(e.path());
            problem(path, e.into_inner().to_string())
        }
    }
}

fn problem(path: String, message: String) -> Problem {
    Problem::new("json_invalid", message).at(Default::default(), path)
}

fn too_deep_problem(path: String) -> Problem {
    Problem::new(
        "too_deep",
        format!("conditions are nested more than {MAX_DEPTH} deep here; flatten the condition"),
    )
    .at(Default::default(), path)
}

/// Whether `value` nests deeper than `limit`, measured without recursion so
/// that no value can exhaust the stack.
fn nests_deeper_than(value: &Value, limit: usize) -> bool {
    let mut stack = vec![(value, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > limit {
            return true;
        }
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
    false
}

/// The JSON pointer of a serde path.
fn pointer(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            PathSegment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            PathSegment::Map { key } => push_key(&mut out, key),
            PathSegment::Enum { .. } | PathSegment::Unknown => {}
        }
    }
    out
}

fn push_key(out: &mut String, key: &str) {
    out.push('/');
    out.push_str(&key.replace('~', "~0").replace('/', "~1"));
}

fn child(path: &str, key: &str) -> String {
    let mut out = path.to_string();
    push_key(&mut out, key);
    out
}

/// The JSON form obeys the same nesting limit as the text form, so every
/// tree read from JSON can also be written and read back as text.
fn within_depth(segment: Segment) -> Result<Segment, Vec<Problem>> {
    match too_deep(&segment.condition, 1, "/where".to_string()) {
        None => Ok(segment),
        Some(path) => Err(vec![too_deep_problem(path)]),
    }
}

/// The pointer of the first condition nested deeper than the limit.
fn too_deep(c: &Condition, depth: usize, path: String) -> Option<String> {
    if depth > MAX_DEPTH {
        return Some(path);
    }
    let child = |c: &Condition, member: &str| too_deep(c, depth + 1, format!("{path}/{member}"));
    match c {
        Condition::All { of, .. } | Condition::Any { of, .. } | Condition::None { of, .. } => of
            .iter()
            .enumerate()
            .find_map(|(i, c)| child(c, &format!("of/{i}"))),
        Condition::Not { condition, .. }
        | Condition::Account { condition, .. }
        | Condition::Members { condition, .. } => child(condition, "condition"),
        Condition::Did { filter, .. }
        | Condition::Aggregate { filter, .. }
        | Condition::Occurrence { filter, .. } => filter.as_ref().and_then(|f| child(f, "where")),
        Condition::Field { .. }
        | Condition::Sequence { .. }
        | Condition::InSegment { .. }
        | Condition::Consent { .. } => None,
    }
}

// ---- the walk that finds the member at fault ----

type Check = Result<(), Problem>;

/// What a member holds.
#[derive(Clone, Copy)]
enum Kind {
    Condition,
    Conditions,
    Test,
    Window,
    Literal,
    Literals,
    /// Checked by serde; the text says what is accepted.
    Leaf(
        fn(&Value) -> Result<(), serde_path_to_error::Error<serde_json::Error>>,
        &'static str,
    ),
}

/// A member of an object: name, kind, whether it must be there.
type Member = (&'static str, Kind, bool);

fn leaf<T: DeserializeOwned>(
    v: &Value,
) -> Result<(), serde_path_to_error::Error<serde_json::Error>> {
    serde_path_to_error::deserialize::<_, T>(v).map(|_| ())
}

const TEXT: Kind = Kind::Leaf(leaf::<String>, "a text");
const TEXTS: Kind = Kind::Leaf(
    leaf::<Vec<String>>,
    "an array of texts such as [\"a\", \"b\"]",
);
const WHOLE: Kind = Kind::Leaf(leaf::<u32>, "a whole number from 0 to 4294967295");
const BOOL: Kind = Kind::Leaf(leaf::<bool>, "true or false");
const DURATION: Kind = Kind::Leaf(
    leaf::<Duration>,
    "a length of time such as {\"amount\": 30, \"unit\": \"days\"} (unit: minutes, hours, days or weeks)",
);
const COUNT: Kind = Kind::Leaf(
    leaf::<Count>,
    "a count such as {\"op\": \"at_least\", \"times\": 2} (op: at_least, at_most or exactly)",
);

const CONDITION_KINDS: &[(&str, &[Member])] = &[
    ("all", &[("of", Kind::Conditions, true)]),
    ("any", &[("of", Kind::Conditions, true)]),
    ("none", &[("of", Kind::Conditions, true)]),
    ("not", &[("condition", Kind::Condition, true)]),
    (
        "field",
        &[("field", TEXT, true), ("test", Kind::Test, true)],
    ),
    (
        "did",
        &[
            ("event", TEXT, true),
            ("count", COUNT, true),
            ("window", Kind::Window, true),
            ("where", Kind::Condition, false),
        ],
    ),
    (
        "aggregate",
        &[
            (
                "function",
                Kind::Leaf(
                    leaf::<Aggregate>,
                    "sum, average, min, max or distinct_count",
                ),
                true,
            ),
            ("property", TEXT, true),
            ("event", TEXT, true),
            ("window", Kind::Window, true),
            ("test", Kind::Test, true),
            ("where", Kind::Condition, false),
        ],
    ),
    (
        "occurrence",
        &[
            (
                "which",
                Kind::Leaf(leaf::<Occurrence>, "first or last"),
                true,
            ),
            ("event", TEXT, true),
            ("test", Kind::Test, true),
            ("where", Kind::Condition, false),
        ],
    ),
    (
        "sequence",
        &[
            ("first", TEXT, true),
            ("then", TEXT, true),
            ("negated", BOOL, true),
            ("within", DURATION, true),
            ("window", Kind::Window, true),
        ],
    ),
    ("in_segment", &[("segment", TEXT, true)]),
    (
        "consent",
        &[
            (
                "state",
                Kind::Leaf(leaf::<ConsentState>, "subscribed or unsubscribed"),
                true,
            ),
            ("topic", TEXT, true),
            ("channel", TEXT, false),
        ],
    ),
    ("account", &[("condition", Kind::Condition, true)]),
    (
        "members",
        &[
            (
                "quantifier",
                Kind::Leaf(leaf::<Quantifier>, "any, all or no"),
                true,
            ),
            ("condition", Kind::Condition, true),
        ],
    ),
];

const TEST_OPS: &[(&str, &[Member])] = &[
    ("is", &[("value", Kind::Literal, true)]),
    ("is_not", &[("value", Kind::Literal, true)]),
    ("contains", &[("value", TEXT, true)]),
    ("not_contains", &[("value", TEXT, true)]),
    ("starts_with", &[("value", TEXT, true)]),
    ("ends_with", &[("value", TEXT, true)]),
    ("matches", &[("pattern", TEXT, true)]),
    ("in", &[("values", Kind::Literals, true)]),
    ("not_in", &[("values", Kind::Literals, true)]),
    ("exists", &[]),
    ("is_empty", &[]),
    ("gt", &[("value", Kind::Literal, true)]),
    ("gte", &[("value", Kind::Literal, true)]),
    ("lt", &[("value", Kind::Literal, true)]),
    ("lte", &[("value", Kind::Literal, true)]),
    (
        "between",
        &[("low", Kind::Literal, true), ("high", Kind::Literal, true)],
    ),
    ("within_last", &[("amount", DURATION, true)]),
    ("more_than_ago", &[("amount", DURATION, true)]),
    ("within_next", &[("amount", DURATION, true)]),
    ("anniversary_within_next", &[("days", WHOLE, true)]),
    ("has_any", &[("values", TEXTS, true)]),
    ("has_all", &[("values", TEXTS, true)]),
    ("has_none", &[("values", TEXTS, true)]),
];

const WINDOWS: &[(&str, &[Member])] = &[
    ("ever", &[]),
    ("last", &[("amount", DURATION, true)]),
    ("between", &[("from", TEXT, true), ("to", TEXT, true)]),
    ("since", &[("from", TEXT, true)]),
];

/// The name of a JSON value's type, for messages.
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `a`, `b` and `c`.
fn and_list(mut items: Vec<String>) -> String {
    match items.pop() {
        None => "nothing".into(),
        Some(last) if items.is_empty() => last,
        Some(last) => format!("{} and {last}", items.join(", ")),
    }
}

fn one_of(names: impl Iterator<Item = &'static str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn segment(v: &Value) -> Check {
    let Some(map) = v.as_object() else {
        return Err(problem(
            String::new(),
            format!(
                "expected a segment: an object with `subject` and `where`, found {}",
                type_of(v)
            ),
        ));
    };
    let members: &[Member] = &[
        (
            "subject",
            Kind::Leaf(leaf::<Subject>, "people or accounts"),
            true,
        ),
        ("where", Kind::Condition, true),
    ];
    object(map, "", "a segment", None, members, 0)
}

/// An object tagged by `tag` (`kind`, `op`, `window`) whose members depend
/// on the tag's value.
fn tagged(
    v: &Value,
    path: &str,
    what: &str,
    tag: &'static str,
    table: &[(&'static str, &[Member])],
    depth: usize,
) -> Check {
    let accepted = || one_of(table.iter().map(|(name, _)| *name));
    let Some(map) = v.as_object() else {
        return Err(problem(
            path.to_string(),
            format!(
                "expected {what}: an object with `{tag}`, found {}",
                type_of(v)
            ),
        ));
    };
    let name = match map.get(tag) {
        None => {
            return Err(problem(
                path.to_string(),
                format!("{what} needs a `{tag}`, one of {}", accepted()),
            ));
        }
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(problem(
                child(path, tag),
                format!(
                    "expected a text, one of {}, found {}",
                    accepted(),
                    type_of(other)
                ),
            ));
        }
    };
    let Some((_, members)) = table.iter().find(|(n, _)| n == name) else {
        return Err(problem(
            child(path, tag),
            format!("unknown {tag} `{name}`; expected one of {}", accepted()),
        ));
    };
    let described = format!("a `{name}` {what}");
    object(map, path, &described, Some(tag), members, depth)
}

/// Checks an object's members: none unknown, none missing, each valid.
fn object(
    map: &Map<String, Value>,
    path: &str,
    what: &str,
    tag: Option<&str>,
    members: &[Member],
    depth: usize,
) -> Check {
    let known = || {
        let tag = tag.map(|t| format!("`{t}`"));
        let names = members.iter().map(|(n, _, required)| {
            if *required {
                format!("`{n}`")
            } else {
                format!("`{n}` (optional)")
            }
        });
        and_list(tag.into_iter().chain(names).collect())
    };
    if let Some(key) = map
        .keys()
        .find(|k| Some(k.as_str()) != tag && !members.iter().any(|(n, _, _)| n == k))
    {
        return Err(problem(
            child(path, key),
            format!("unknown member `{key}` in {what}, which has {}", known()),
        ));
    }
    for (name, kind, required) in members {
        let at = child(path, name);
        match map.get(*name) {
            None if *required => {
                return Err(problem(
                    path.to_string(),
                    format!("missing member `{name}` in {what}, which has {}", known()),
                ));
            }
            None => {}
            Some(v) => member(v, &at, *kind, depth)?,
        }
    }
    Ok(())
}

fn member(v: &Value, path: &str, kind: Kind, depth: usize) -> Check {
    match kind {
        Kind::Condition => condition(v, path, depth + 1),
        Kind::Conditions => {
            let Some(items) = v.as_array() else {
                return Err(problem(
                    path.to_string(),
                    format!("expected an array of conditions, found {}", type_of(v)),
                ));
            };
            items
                .iter()
                .enumerate()
                .try_for_each(|(i, c)| condition(c, &format!("{path}/{i}"), depth + 1))
        }
        Kind::Test => tagged(v, path, "test", "op", TEST_OPS, depth),
        Kind::Window => tagged(v, path, "window", "window", WINDOWS, depth),
        Kind::Literal => literal(v, path),
        Kind::Literals => {
            let Some(items) = v.as_array() else {
                return Err(problem(
                    path.to_string(),
                    format!("expected an array of values, found {}", type_of(v)),
                ));
            };
            items
                .iter()
                .enumerate()
                .try_for_each(|(i, l)| literal(l, &format!("{path}/{i}")))
        }
        Kind::Leaf(check, accepted) => check(v).map_err(|e| {
            let mut at = path.to_string();
            at.push_str(&pointer(e.path()));
            let message = e.into_inner().to_string();
            // serde already lists the names it accepts; add what it does not say.
            let listed = ["unknown variant", "unknown field", "missing field"]
                .iter()
                .any(|m| message.starts_with(m));
            if listed {
                problem(at, message)
            } else {
                problem(at, format!("{message}; accepted: {accepted}"))
            }
        }),
    }
}

fn condition(v: &Value, path: &str, depth: usize) -> Check {
    // Deeper nesting is refused as a whole; no need to look further.
    if depth > MAX_DEPTH {
        return Ok(());
    }
    tagged(v, path, "condition", "kind", CONDITION_KINDS, depth)
}

fn literal(v: &Value, path: &str) -> Check {
    if Literal::deserialize(v).is_ok() {
        return Ok(());
    }
    Err(problem(
        path.to_string(),
        format!(
            "expected a value: a text, a number, true or false, found {}",
            type_of(v)
        ),
    ))
}
