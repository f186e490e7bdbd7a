//! Tests on one value: a contact or account field (typed by the schema), an
//! event property (typed by the literal it is compared with), an aggregate
//! of event properties or the time of a first or last event.
//!
//! Every positive test is false for a missing value and every negation is
//! `NOT` of its positive test, so both engines and the in-memory evaluator
//! agree on records without the value.

use pitcrew_core::record::{FieldDef, FieldType, ObjectKind};

use super::Compiler;
use super::dialect::JsonType;
use super::frag::{self, Frag, Guard};
use crate::ast::{Literal, Test};
use crate::error::Problem;
use crate::time::{TimeRange, canonical_instant};

/// How a value compares.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// Text compared as text: strings, emails, picklists, countries.
    Text,
    Number,
    Bool,
    /// `YYYY-MM-DD` text.
    Date,
    /// Canonical RFC 3339 UTC text, whose text order is time order.
    InstantText,
    /// Epoch milliseconds.
    InstantMillis,
    /// A JSON array of strings under `key` in the document `doc`.
    Multi {
        doc: String,
        key: String,
    },
}

/// A value in SQL: its expression, its kind and what says it is there.
#[derive(Debug, Clone)]
pub(crate) struct Operand {
    pub(crate) kind: Kind,
    pub(crate) value: String,
    pub(crate) guard: Guard,
}

impl Compiler<'_> {
    /// The operand for a field of the record aliased `alias`.
    pub(crate) fn field_operand(
        &self,
        object: ObjectKind,
        alias: &str,
        key: &str,
    ) -> Result<Operand, Problem> {
        let Some(def) = self.schema.field(object, key) else {
            return Err(Problem::new(
                "field_unknown",
                format!(
                    "there is no {} field `{key}`; check the field's key",
                    object.as_str()
                ),
            ));
        };
        if let Some(op) = column_operand(def, alias) {
            return Ok(op);
        }
        let d = self.dialect;
        let doc = format!("{alias}.data");
        let present = d.json_text(&doc, key)?;
        let (kind, value) = match def.field_type {
            FieldType::Number => (Kind::Number, d.json_number(&doc, key)?),
            FieldType::Boolean => (Kind::Bool, d.json_bool(&doc, key)?),
            FieldType::Date => (Kind::Date, present.clone()),
            FieldType::Datetime => (Kind::InstantText, present.clone()),
            FieldType::MultiPicklist => (
                Kind::Multi {
                    doc,
                    key: key.to_string(),
                },
                present.clone(),
            ),
            FieldType::Text
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::Picklist
            | FieldType::Country => (Kind::Text, present.clone()),
        };
        Ok(Operand {
            kind,
            value,
            guard: Guard::Present(present),
        })
    }

    /// A test on an event property of the event aliased `alias`: its type
    /// comes from the literal, and only JSON values of that type match.
    pub(crate) fn property_test(
        &mut self,
        alias: &str,
        key: &str,
        test: &Test,
    ) -> Result<Frag, Problem> {
        let d = self.dialect;
        let doc = format!("{alias}.properties");
        let json = match property_type(test)? {
            PropertyType::Presence => {
                let present = Frag::not_null(&d.json_text(&doc, key)?);
                return Ok(if matches!(test, Test::IsEmpty) {
                    frag::not(present)
                } else {
                    present
                });
            }
            PropertyType::Never => {
                return Ok(Frag::constant(is_negation(test)));
            }
            PropertyType::Json(t) => t,
        };
        let (kind, value) = match json {
            JsonType::Number => (Kind::Number, d.json_number(&doc, key)?),
            JsonType::Bool => (Kind::Bool, d.json_bool(&doc, key)?),
            JsonType::Text | JsonType::Array => (Kind::Text, d.json_text(&doc, key)?),
        };
        let op = Operand {
            kind,
            value,
            guard: Guard::Typed(d.json_is(&doc, key, &[json])?),
        };
        self.apply(&op, test)
    }

    /// The test applied to the operand.
    pub(crate) fn apply(&mut self, op: &Operand, test: &Test) -> Result<Frag, Problem> {
        match test {
            Test::IsNot { value } => Ok(frag::not(self.apply(
                op,
                &Test::Is {
                    value: value.clone(),
                },
            )?)),
            Test::NotContains { value } => Ok(frag::not(self.apply(
                op,
                &Test::Contains {
                    value: value.clone(),
                },
            )?)),
            Test::NotIn { values } => Ok(frag::not(self.apply(
                op,
                &Test::In {
                    values: values.clone(),
                },
            )?)),
            Test::HasNone { values } => Ok(frag::not(self.apply(
                op,
                &Test::HasAny {
                    values: values.clone(),
                },
            )?)),
            Test::IsEmpty => Ok(frag::not(self.apply(op, &Test::Exists)?)),
            Test::Exists => self.exists(op),
            Test::Is { value } => self.is(op, value),
            Test::In { values } => {
                let parts = values
                    .iter()
                    .map(|v| self.is(op, v))
                    .collect::<Result<Vec<_>, _>>()?;
                self.is_in(op, values, parts)
            }
            Test::Contains { value } => self.like(op, true, value, true),
            Test::StartsWith { value } => self.like(op, false, value, true),
            Test::EndsWith { value } => self.like(op, true, value, false),
            Test::Matches { pattern } => {
                let value = self.text_value(op, "matches")?;
                Ok(op.guard.positive(self.dialect.regex(value, pattern)?))
            }
            Test::Gt { .. }
            | Test::Gte { .. }
            | Test::Lt { .. }
            | Test::Lte { .. }
            | Test::Between { .. } => self.compare(op, test),
            Test::WithinLast { .. }
            | Test::MoreThanAgo { .. }
            | Test::WithinNext { .. }
            | Test::AnniversaryWithinNext { .. } => self.relative(op, test),
            Test::HasAny { values } => self.has(op, values, false),
            Test::HasAll { values } => self.has(op, values, true),
        }
    }

    fn exists(&self, op: &Operand) -> Result<Frag, Problem> {
        match &op.kind {
            Kind::Multi { doc, key } => {
                let d = self.dialect;
                let is_array = d.json_is(doc, key, &[JsonType::Array])?;
                let length = d.json_array_length(doc, key)?;
                Ok(Guard::Typed(is_array).positive(format!("{length} > 0")))
            }
            _ => Ok(op.guard.exists(&op.value)),
        }
    }

    /// Equality with one literal; on instants, falling within its range.
    fn is(&self, op: &Operand, literal: &Literal) -> Result<Frag, Problem> {
        match op.kind {
            Kind::InstantText | Kind::InstantMillis => {
                let range = self.clock.instant_range(&Test::Is {
                    value: literal.clone(),
                });
                let Some((low, high)) = range else {
                    return Err(not_a_time());
                };
                Ok(op.guard.positive(self.instant_cmp(op, low, high)?))
            }
            _ => Ok(op
                .guard
                .positive(format!("{} = {}", op.value, self.literal(op, literal)?))),
        }
    }

    /// One of the literals: `IN (…)` where equality is plain, otherwise any
    /// of the single tests.
    fn is_in(&self, op: &Operand, values: &[Literal], parts: Vec<Frag>) -> Result<Frag, Problem> {
        if values.len() < 2 || matches!(op.kind, Kind::InstantText | Kind::InstantMillis) {
            return Ok(frag::any(parts));
        }
        let list = values
            .iter()
            .map(|v| self.literal(op, v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(op
            .guard
            .positive(format!("{} IN ({})", op.value, list.join(", "))))
    }

    fn like(
        &self,
        op: &Operand,
        prefix: bool,
        needle: &str,
        suffix: bool,
    ) -> Result<Frag, Problem> {
        let value = self.text_value(op, "contains, starts with and ends with")?;
        Ok(op
            .guard
            .positive(self.dialect.like(value, prefix, needle, suffix)?))
    }

    /// The value for a text-only test.
    fn text_value<'o>(&self, op: &'o Operand, what: &str) -> Result<&'o str, Problem> {
        match op.kind {
            Kind::Text | Kind::Date | Kind::InstantText => Ok(&op.value),
            _ => Err(unsupported(&format!("{what} works on text values only"))),
        }
    }

    /// `>`, `>=`, `<`, `<=` and `between`.
    fn compare(&self, op: &Operand, test: &Test) -> Result<Frag, Problem> {
        if matches!(op.kind, Kind::InstantText | Kind::InstantMillis) {
            let Some((low, high)) = self.clock.instant_range(test) else {
                return Err(not_a_time());
            };
            return Ok(op.guard.positive(self.instant_cmp(op, low, high)?));
        }
        let value = match op.kind {
            Kind::Number | Kind::Date => op.value.clone(),
            Kind::Text => self.dialect.binary_order(&op.value),
            _ => return Err(unsupported("comparisons work on numbers, dates and times")),
        };
        let cmp = match test {
            Test::Gt { value: v } => format!("{value} > {}", self.literal(op, v)?),
            Test::Gte { value: v } => format!("{value} >= {}", self.literal(op, v)?),
            Test::Lt { value: v } => format!("{value} < {}", self.literal(op, v)?),
            Test::Lte { value: v } => format!("{value} <= {}", self.literal(op, v)?),
            Test::Between { low, high } => format!(
                "{value} BETWEEN {} AND {}",
                self.literal(op, low)?,
                self.literal(op, high)?
            ),
            _ => return Err(unsupported("not a comparison")),
        };
        Ok(op.guard.positive(cmp))
    }

    /// `within last`, `more than … ago`, `within next` and anniversaries,
    /// resolved by the clock.
    fn relative(&self, op: &Operand, test: &Test) -> Result<Frag, Problem> {
        let date = match op.kind {
            Kind::Date => true,
            Kind::InstantText | Kind::InstantMillis => false,
            _ => return Err(unsupported("relative times work on dates and times only")),
        };
        let Some(range) = self.clock.relative(test, date) else {
            return Err(unsupported("not a relative time"));
        };
        let d = self.dialect;
        let cmp = match range {
            TimeRange::Dates { low, high } => {
                let low = low.map(|s| d.text(&s)).transpose()?;
                let high = high.map(|s| d.text(&s)).transpose()?;
                range_cmp(&op.value, low, high)
            }
            TimeRange::Instants { low, high } => self.instant_cmp(op, low, high)?,
            TimeRange::MonthDays(days) => {
                if days.is_empty() {
                    return Ok(Frag::constant(false));
                }
                let month_day = match op.kind {
                    Kind::InstantMillis => d.month_day_of_millis(&op.value),
                    _ => format!("substr({}, 6, 5)", op.value),
                };
                let list = d.text_list(days.iter().map(String::as_str))?;
                format!("{month_day} IN ({list})")
            }
        };
        Ok(op.guard.positive(cmp))
    }

    /// Inclusive instant bounds on a millisecond column or canonical text.
    fn instant_cmp(
        &self,
        op: &Operand,
        low: Option<i64>,
        high: Option<i64>,
    ) -> Result<String, Problem> {
        let bound = |ms: i64| match op.kind {
            Kind::InstantMillis => Ok(ms.to_string()),
            _ => self.dialect.text(&canonical_instant(ms)),
        };
        Ok(range_cmp(
            &op.value,
            low.map(bound).transpose()?,
            high.map(bound).transpose()?,
        ))
    }

    /// `has any of` and `has all of` on a multi-picklist.
    fn has(&mut self, op: &Operand, values: &[String], every: bool) -> Result<Frag, Problem> {
        let Kind::Multi { doc, key } = &op.kind else {
            return Err(unsupported(
                "has any of, has all of and has none of work on multi-picklists only",
            ));
        };
        let mut needles: Vec<&str> = values.iter().map(String::as_str).collect();
        needles.sort_unstable();
        needles.dedup();
        if needles.is_empty() {
            return Ok(Frag::constant(every));
        }
        let d = self.dialect;
        let is_array = d.json_is(doc, key, &[JsonType::Array])?;
        let list = d.text_list(needles.iter().copied())?;
        let cmp = match d {
            super::Dialect::Sqlite => {
                let j = self.fresh("j");
                let each = d.sqlite_each(doc, key)?;
                if every {
                    format!(
                        "(SELECT COUNT(DISTINCT {j}.value) FROM {each} AS {j} WHERE {j}.value IN ({list})) = {}",
                        needles.len()
                    )
                } else {
                    format!("EXISTS (SELECT 1 FROM {each} AS {j} WHERE {j}.value IN ({list}))")
                }
            }
            super::Dialect::Postgres => {
                let operator = if every { "?&" } else { "?|" };
                format!("({}) {operator} ARRAY[{list}]", d.json_raw(doc, key)?)
            }
        };
        Ok(Guard::Typed(is_array).positive(cmp))
    }

    /// A literal written for comparison with the operand.
    fn literal(&self, op: &Operand, literal: &Literal) -> Result<String, Problem> {
        let d = self.dialect;
        match (&op.kind, literal) {
            (Kind::Number, Literal::Number(n)) => d.number(*n),
            (Kind::Bool, Literal::Bool(b)) => Ok(d.bool_literal(*b).to_string()),
            (Kind::Text | Kind::Date, Literal::Text(s)) => d.text(s),
            _ => Err(Problem::new(
                "literal_invalid",
                format!(
                    "the value {} does not fit this {}",
                    literal_text(literal),
                    kind_name(&op.kind)
                ),
            )),
        }
    }
}

/// A field stored in its own column rather than in the JSON document.
fn column_operand(def: &FieldDef, alias: &str) -> Option<Operand> {
    match (def.object, def.key.as_str(), def.field_type) {
        (_, "created_at" | "updated_at", FieldType::Datetime) => Some(Operand {
            kind: Kind::InstantMillis,
            value: format!("{alias}.{}", def.key),
            guard: Guard::Always,
        }),
        (ObjectKind::Contact, "email", _) => Some(Operand {
            kind: Kind::Text,
            value: format!("{alias}.email"),
            guard: Guard::Present(format!("{alias}.email")),
        }),
        _ => None,
    }
}

/// `v BETWEEN low AND high`, or one side of it.
fn range_cmp(value: &str, low: Option<String>, high: Option<String>) -> String {
    match (low, high) {
        (Some(l), Some(h)) => format!("{value} BETWEEN {l} AND {h}"),
        (Some(l), None) => format!("{value} >= {l}"),
        (None, Some(h)) => format!("{value} <= {h}"),
        (None, None) => "TRUE".to_string(),
    }
}

enum PropertyType {
    /// `exists` / `is empty`: any JSON value but null.
    Presence,
    /// An empty `in` list: nothing to match.
    Never,
    Json(JsonType),
}

/// Which JSON type a property test looks at, from its literal.
fn property_type(test: &Test) -> Result<PropertyType, Problem> {
    let of = |l: &Literal| match l {
        Literal::Number(_) => JsonType::Number,
        Literal::Text(_) => JsonType::Text,
        Literal::Bool(_) => JsonType::Bool,
    };
    Ok(match test {
        Test::Exists | Test::IsEmpty => PropertyType::Presence,
        Test::Is { value }
        | Test::IsNot { value }
        | Test::Gt { value }
        | Test::Gte { value }
        | Test::Lt { value }
        | Test::Lte { value } => PropertyType::Json(of(value)),
        Test::Between { low, .. } => PropertyType::Json(of(low)),
        Test::In { values } | Test::NotIn { values } => match values.first() {
            Some(v) => PropertyType::Json(of(v)),
            None => PropertyType::Never,
        },
        Test::Contains { .. }
        | Test::NotContains { .. }
        | Test::StartsWith { .. }
        | Test::EndsWith { .. }
        | Test::Matches { .. } => PropertyType::Json(JsonType::Text),
        _ => {
            return Err(unsupported(
                "event properties take is, in, contains, starts with, ends with, matches, comparisons and exists",
            ));
        }
    })
}

/// Whether a test on an aggregate holds for someone without any of the
/// events: `without` is the aggregate's value then (0 for a sum or a count),
/// `None` for no value.
pub(crate) fn holds_without_events(test: &Test, without: Option<f64>) -> Result<bool, Problem> {
    let Some(v) = without else {
        return Ok(is_negation(test));
    };
    let n = |l: &Literal| match l {
        Literal::Number(n) => Ok(*n),
        other => Err(Problem::new(
            "literal_invalid",
            format!("the value {} is not a number", literal_text(other)),
        )),
    };
    Ok(match test {
        Test::Is { value } => v == n(value)?,
        Test::IsNot { value } => v != n(value)?,
        Test::In { values } | Test::NotIn { values } => {
            let mut found = false;
            for value in values {
                found |= v == n(value)?;
            }
            found == matches!(test, Test::In { .. })
        }
        Test::Gt { value } => v > n(value)?,
        Test::Gte { value } => v >= n(value)?,
        Test::Lt { value } => v < n(value)?,
        Test::Lte { value } => v <= n(value)?,
        Test::Between { low, high } => n(low)? <= v && v <= n(high)?,
        Test::Exists => true,
        Test::IsEmpty => false,
        _ => {
            return Err(unsupported(
                "aggregates take is, in, comparisons and exists",
            ));
        }
    })
}

fn is_negation(test: &Test) -> bool {
    matches!(
        test,
        Test::IsNot { .. }
            | Test::NotContains { .. }
            | Test::NotIn { .. }
            | Test::HasNone { .. }
            | Test::IsEmpty
    )
}

fn not_a_time() -> Problem {
    Problem::new(
        "literal_invalid",
        "a time must be a date (YYYY-MM-DD) or an RFC 3339 instant",
    )
}

fn unsupported(message: &str) -> Problem {
    Problem::new("test_unsupported", message.to_string())
}

fn literal_text(literal: &Literal) -> String {
    match literal {
        Literal::Bool(b) => b.to_string(),
        Literal::Number(n) => n.to_string(),
        Literal::Text(s) => format!("{s:?}"),
    }
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Text => "text value",
        Kind::Number => "number",
        Kind::Bool => "yes/no value",
        Kind::Date => "date",
        Kind::InstantText | Kind::InstantMillis => "time",
        Kind::Multi { .. } => "multi-picklist",
    }
}
