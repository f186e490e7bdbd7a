//! The type-checker: every node in a scope it belongs to, every test on a
//! field whose type it applies to, every literal normalised the way stored
//! values are, every name known — and every problem reported, not the first.

mod cycle;
pub mod pattern;

use pitcrew_core::record::value::normalize;
use pitcrew_core::record::{FieldDef, FieldType, ObjectKind};
use pitcrew_core::suggest::closest;
use pitcrew_core::time::{format_timestamp, parse_instant};
use serde_json::Value;

use crate::ast::{
    Aggregate, Condition, ConsentState, Duration, Literal, Occurrence, Quantifier, Segment, Span,
    Subject, Test, Window,
};
use crate::error::Problem;
use crate::schema::{CHANNELS, Schema, Uses};

/// Deepest nesting of conditions accepted.
pub const MAX_DEPTH: usize = 64;

/// Most days `anniversary within next` looks ahead.
pub const MAX_ANNIVERSARY_DAYS: u32 = 366;

/// A tree that passed the checker: literals normalised, what it uses listed,
/// and warnings that do not stop it (such as an event not seen yet).
#[derive(Debug, Clone)]
pub struct Checked {
    pub segment: Segment,
    pub uses: Uses,
    pub warnings: Vec<Problem>,
}

/// Check a tree against the workspace's schema. `name` is the name the
/// segment is saved under, so that it cannot include itself. Every error
/// found is returned, not just the first; warnings only come with success.
pub fn check(
    segment: &Segment,
    schema: &Schema,
    name: Option<&str>,
) -> Result<Checked, Vec<Problem>> {
    let mut checker = Checker {
        schema,
        name,
        errors: Vec::new(),
        warnings: Vec::new(),
        uses: Uses::default(),
        too_deep: false,
    };
    let scope = match segment.subject {
        Subject::People => Scope::People,
        Subject::Accounts => Scope::Accounts,
    };
    let condition = checker.condition(&segment.condition, scope, "/where", 1);
    if !checker.errors.is_empty() {
        return Err(checker.errors);
    }
    Ok(Checked {
        segment: Segment {
            subject: segment.subject,
            condition,
        },
        uses: checker.uses,
        warnings: checker.warnings,
    })
}

/// What the record in scope is.
#[derive(Debug, Clone, Copy)]
enum Scope<'t> {
    People,
    Accounts,
    /// Inside the `where` of an event node: that event's properties.
    Event(&'t str),
}

struct Checker<'a> {
    schema: &'a Schema,
    name: Option<&'a str>,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    uses: Uses,
    /// Nesting too deep is reported once, at the first node past the limit.
    too_deep: bool,
}

impl Checker<'_> {
    fn error(&mut self, code: &'static str, message: impl Into<String>, span: Span, path: &str) {
        self.errors.push(Problem::new(code, message).at(span, path));
    }

    fn warn(&mut self, code: &'static str, message: impl Into<String>, span: Span, path: &str) {
        self.warnings
            .push(Problem::new(code, message).at(span, path));
    }

    /// Check one node and return it with its literals normalised.
    fn condition<'t>(
        &mut self,
        node: &'t Condition,
        scope: Scope<'t>,
        path: &str,
        depth: usize,
    ) -> Condition {
        let span = node.span();
        if depth > MAX_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                self.error(
                    "too_deep",
                    format!(
                        "conditions are nested more than {MAX_DEPTH} levels deep; flatten the groups, or save part of the condition as a segment and use `in segment`"
                    ),
                    span,
                    path,
                );
            }
            return Condition::All {
                of: Vec::new(),
                span,
            };
        }
        let inner = depth + 1;
        match node {
            Condition::All { of, .. } => Condition::All {
                of: self.children(of, scope, path, inner),
                span,
            },
            Condition::Any { of, .. } => Condition::Any {
                of: self.children(of, scope, path, inner),
                span,
            },
            Condition::None { of, .. } => Condition::None {
                of: self.children(of, scope, path, inner),
                span,
            },
            Condition::Not { condition, .. } => Condition::Not {
                condition: self.nested(condition, scope, path, inner),
                span,
            },
            Condition::Field { field, test, .. } => Condition::Field {
                field: field.clone(),
                test: self.field(field, test, scope, span, path),
                span,
            },
            Condition::Did {
                event,
                count,
                window,
                filter,
                ..
            } => {
                self.people_only(node, scope, path);
                self.event_name(event, span, &format!("{path}/event"));
                Condition::Did {
                    event: event.clone(),
                    count: *count,
                    window: self.window(window, span, path),
                    filter: self.filter(filter, event, path, inner),
                    span,
                }
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
                self.people_only(node, scope, path);
                self.event_name(event, span, &format!("{path}/event"));
                self.property_seen(event, property, span, &format!("{path}/property"));
                Condition::Aggregate {
                    function: *function,
                    property: property.clone(),
                    event: event.clone(),
                    window: self.window(window, span, path),
                    test: self.aggregate_test(*function, property, test, span, path),
                    filter: self.filter(filter, event, path, inner),
                    span,
                }
            }
            Condition::Occurrence {
                which,
                event,
                test,
                filter,
                ..
            } => {
                self.people_only(node, scope, path);
                self.event_name(event, span, &format!("{path}/event"));
                Condition::Occurrence {
                    which: *which,
                    event: event.clone(),
                    test: self.occurrence_test(*which, event, test, span, path),
                    filter: self.filter(filter, event, path, inner),
                    span,
                }
            }
            Condition::Sequence {
                first,
                then,
                negated,
                within,
                window,
                ..
            } => {
                self.people_only(node, scope, path);
                self.event_name(first, span, &format!("{path}/first"));
                self.event_name(then, span, &format!("{path}/then"));
                self.duration(*within, span, &format!("{path}/within/amount"));
                Condition::Sequence {
                    first: first.clone(),
                    then: then.clone(),
                    negated: *negated,
                    within: *within,
                    window: self.window(window, span, path),
                    span,
                }
            }
            Condition::InSegment { segment, .. } => {
                self.in_segment(segment, scope, span, path);
                node.clone()
            }
            Condition::Consent { topic, channel, .. } => {
                self.people_only(node, scope, path);
                self.topic(topic, span, &format!("{path}/topic"));
                if let Some(channel) = channel {
                    self.channel(channel, span, &format!("{path}/channel"));
                }
                node.clone()
            }
            Condition::Account { condition, .. } => {
                self.account_scope(scope, span, path);
                Condition::Account {
                    condition: self.nested(condition, Scope::Accounts, path, inner),
                    span,
                }
            }
            Condition::Members {
                quantifier,
                condition,
                ..
            } => {
                self.members_scope(*quantifier, scope, span, path);
                Condition::Members {
                    quantifier: *quantifier,
                    condition: self.nested(condition, Scope::People, path, inner),
                    span,
                }
            }
        }
    }

    fn children<'t>(
        &mut self,
        of: &'t [Condition],
        scope: Scope<'t>,
        path: &str,
        depth: usize,
    ) -> Vec<Condition> {
        of.iter()
            .enumerate()
            .map(|(i, c)| self.condition(c, scope, &format!("{path}/of/{i}"), depth))
            .collect()
    }

    fn nested<'t>(
        &mut self,
        condition: &'t Condition,
        scope: Scope<'t>,
        path: &str,
        depth: usize,
    ) -> Box<Condition> {
        Box::new(self.condition(condition, scope, &format!("{path}/condition"), depth))
    }

    /// An event node's `where`, about that event's properties.
    fn filter(
        &mut self,
        filter: &Option<Box<Condition>>,
        event: &str,
        path: &str,
        depth: usize,
    ) -> Option<Box<Condition>> {
        let filter = filter.as_deref()?;
        let path = format!("{path}/where");
        Some(Box::new(self.condition(
            filter,
            Scope::Event(event),
            &path,
            depth,
        )))
    }

    // ----- scopes -----

    /// Events and consent are facts about people. The node is still checked
    /// as if it were in place, so that all its problems show at once.
    fn people_only(&mut self, node: &Condition, scope: Scope<'_>, path: &str) {
        let message = match scope {
            Scope::People => return,
            Scope::Event(_) => IN_EVENT.to_string(),
            Scope::Accounts => match node {
                Condition::Consent { state, .. } => format!(
                    "consent belongs to people; use `any member where {} …`",
                    consent_words(*state)
                ),
                _ => format!(
                    "events belong to people; use `any member where {} …`",
                    event_words(node)
                ),
            },
        };
        self.error("scope_invalid", message, node.span(), path);
    }

    fn account_scope(&mut self, scope: Scope<'_>, span: Span, path: &str) {
        let message = match scope {
            Scope::People => return,
            Scope::Accounts => {
                "this condition is already about accounts; write the account's condition without `account where`"
            }
            Scope::Event(_) => IN_EVENT,
        };
        self.error("scope_invalid", message, span, path);
    }

    fn members_scope(&mut self, quantifier: Quantifier, scope: Scope<'_>, span: Span, path: &str) {
        let message = match scope {
            Scope::Accounts => return,
            Scope::People => format!(
                "members belong to accounts; use `account where {} where …`",
                quantifier_words(quantifier)
            ),
            Scope::Event(_) => IN_EVENT.to_string(),
        };
        self.error("scope_invalid", message, span, path);
    }

    // ----- fields -----

    fn field(&mut self, key: &str, test: &Test, scope: Scope<'_>, span: Span, path: &str) -> Test {
        let object = match scope {
            Scope::People => ObjectKind::Contact,
            Scope::Accounts => ObjectKind::Account,
            Scope::Event(event) => return self.property(event, key, test, span, path),
        };
        let used = match object {
            ObjectKind::Contact => &mut self.uses.contact_fields,
            ObjectKind::Account => &mut self.uses.account_fields,
        };
        used.insert(key.to_string());
        let Some(def) = self.schema.field(object, key) else {
            let message = self.unknown_field(object, key);
            self.error("field_unknown", message, span, &format!("{path}/field"));
            return test.clone();
        };
        self.field_test(def, test, span, path)
    }

    fn unknown_field(&self, object: ObjectKind, key: &str) -> String {
        let (here, other, there, wrap) = match object {
            ObjectKind::Contact => (
                "a contact field",
                ObjectKind::Account,
                "an account field",
                "account where",
            ),
            ObjectKind::Account => (
                "an account field",
                ObjectKind::Contact,
                "a contact field",
                "any member where",
            ),
        };
        let keys = self.schema.fields(object).iter().map(|f| f.key.as_str());
        if self.schema.field(other, key).is_some() {
            format!("`{key}` is not {here} but {there}; write `{wrap} {key} …`")
        } else if let Some(near) = closest(key, keys) {
            format!("`{key}` is not {here}; did you mean `{near}`?")
        } else {
            format!("`{key}` is not {here}; check the spelling, or create the field first")
        }
    }

    fn field_test(&mut self, def: &FieldDef, test: &Test, span: Span, path: &str) -> Test {
        let op = op_name(test);
        let applies = tests_for(def.field_type);
        if !applies.contains(&op) {
            let instead = match (def.field_type, test) {
                (FieldType::MultiPicklist, Test::Is { .. } | Test::In { .. }) => {
                    "use `has any of`; "
                }
                (FieldType::MultiPicklist, Test::IsNot { .. } | Test::NotIn { .. }) => {
                    "use `has none of`; "
                }
                _ => "",
            };
            self.error(
                "operator_invalid",
                format!(
                    "`{op}` does not apply to `{}`, {}; {instead}the tests that apply are: {}",
                    def.key,
                    describe(def.field_type),
                    applies.join(", ")
                ),
                span,
                &format!("{path}/test/op"),
            );
            return test.clone();
        }
        let at = |member: &str| format!("{path}/test/{member}");
        let one = |c: &mut Self, value: &Literal, member: &str| {
            c.field_literal(def, value, span, &at(member))
                .unwrap_or_else(|| value.clone())
        };
        match test {
            Test::Is { value } => Test::Is {
                value: one(self, value, "value"),
            },
            Test::IsNot { value } => Test::IsNot {
                value: one(self, value, "value"),
            },
            Test::Gt { value } => Test::Gt {
                value: one(self, value, "value"),
            },
            Test::Gte { value } => Test::Gte {
                value: one(self, value, "value"),
            },
            Test::Lt { value } => Test::Lt {
                value: one(self, value, "value"),
            },
            Test::Lte { value } => Test::Lte {
                value: one(self, value, "value"),
            },
            Test::In { values } => Test::In {
                values: self.field_literals(def, values, span, &at("values")),
            },
            Test::NotIn { values } => Test::NotIn {
                values: self.field_literals(def, values, span, &at("values")),
            },
            Test::Between { low, high } => {
                let l = self.field_literal(def, low, span, &at("low"));
                let h = self.field_literal(def, high, span, &at("high"));
                self.range(l.as_ref(), h.as_ref(), span, path);
                Test::Between {
                    low: l.unwrap_or_else(|| low.clone()),
                    high: h.unwrap_or_else(|| high.clone()),
                }
            }
            Test::HasAny { values } => Test::HasAny {
                values: self.options(def, values, span, &at("values")),
            },
            Test::HasAll { values } => Test::HasAll {
                values: self.options(def, values, span, &at("values")),
            },
            Test::HasNone { values } => Test::HasNone {
                values: self.options(def, values, span, &at("values")),
            },
            _ => self.shared_test(test, span, path),
        }
    }

    /// Checks that do not depend on the field's type: patterns, lengths of
    /// time and anniversary days. Contains and its kin keep their text as
    /// typed, since they compare ignoring case anyway.
    fn shared_test(&mut self, test: &Test, span: Span, path: &str) -> Test {
        match test {
            Test::Matches { pattern } => self.pattern(pattern, span, &format!("{path}/test/pattern")),
            Test::WithinLast { amount }
            | Test::MoreThanAgo { amount }
            | Test::WithinNext { amount } => {
                self.duration(*amount, span, &format!("{path}/test/amount/amount"));
            }
            Test::AnniversaryWithinNext { days } if *days > MAX_ANNIVERSARY_DAYS => self.error(
                "duration_invalid",
                format!(
                    "`anniversary within next` looks at most {MAX_ANNIVERSARY_DAYS} days ahead; write a number of days from 0 to {MAX_ANNIVERSARY_DAYS}, not {days}"
                ),
                span,
                &format!("{path}/test/days"),
            ),
            _ => {}
        }
        test.clone()
    }

    fn field_literals(
        &mut self,
        def: &FieldDef,
        values: &[Literal],
        span: Span,
        path: &str,
    ) -> Vec<Literal> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                self.field_literal(def, v, span, &format!("{path}/{i}"))
                    .unwrap_or_else(|| v.clone())
            })
            .collect()
    }

    /// The literal in the stored form of the field's values, or `None`
    /// after reporting why it cannot be.
    fn field_literal(
        &mut self,
        def: &FieldDef,
        value: &Literal,
        span: Span,
        path: &str,
    ) -> Option<Literal> {
        let text = match (def.field_type, value) {
            (FieldType::Number, Literal::Number(_)) | (FieldType::Boolean, Literal::Bool(_)) => {
                return Some(value.clone());
            }
            (t, Literal::Text(s)) if !matches!(t, FieldType::Number | FieldType::Boolean) => s,
            _ => {
                self.error(
                    "value_type",
                    format!(
                        "`{}` is {}; write {}, not {}",
                        def.key,
                        describe(def.field_type),
                        expected(def),
                        shown(value)
                    ),
                    span,
                    path,
                );
                return None;
            }
        };
        let normalised = match def.field_type {
            FieldType::Date => self.date(text, span, path),
            FieldType::Datetime => self.time(text, span, path),
            _ => self.stored_text(def, text, span, path),
        };
        normalised.map(Literal::Text)
    }

    /// Text-like literals become what the value would be stored as: an
    /// email lowercased, a country name its ISO code, a picklist label its
    /// value, a phone number E.164, a web address with its scheme.
    fn stored_text(
        &mut self,
        def: &FieldDef,
        text: &str,
        span: Span,
        path: &str,
    ) -> Option<String> {
        let message = match normalize(def, &Value::String(text.to_string()), None) {
            Ok(Value::String(stored)) => return Some(stored),
            Ok(Value::Null) => format!(
                "an empty value never matches; to find records without `{}`, write `{} is empty`",
                def.key, def.key
            ),
            Ok(other) => return Some(other.to_string()),
            Err(_) if def.field_type.has_options() => not_an_option(def, text),
            Err(reason) => format!("`{}`: {reason}", def.key),
        };
        self.error("value_invalid", message, span, path);
        None
    }

    /// Multi-picklist values, each turned into its option's stored value.
    fn options(
        &mut self,
        def: &FieldDef,
        values: &[String],
        span: Span,
        path: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let one = Value::Array(vec![Value::String(v.clone())]);
            let message = match normalize(def, &one, None) {
                Ok(Value::Array(items)) => {
                    out.extend(items.iter().filter_map(|x| x.as_str().map(str::to_string)));
                    continue;
                }
                Ok(_) => format!(
                    "an empty value is not one of the values of `{}`; remove it",
                    def.key
                ),
                Err(_) => not_an_option(def, v),
            };
            self.error("value_invalid", message, span, &format!("{path}/{i}"));
            out.push(v.clone());
        }
        out
    }

    // ----- times -----

    /// A date field's literal: `YYYY-MM-DD`.
    fn date(&mut self, text: &str, span: Span, path: &str) -> Option<String> {
        let trimmed = text.trim();
        if is_date(trimmed) {
            return Some(trimmed.to_string());
        }
        self.error(
            "date_invalid",
            format!("`{text}` is not a date; write it as YYYY-MM-DD, such as \"2026-03-31\""),
            span,
            path,
        );
        None
    }

    /// A datetime literal: a date (kept, meaning that whole day) or an
    /// instant in its canonical form.
    fn time(&mut self, text: &str, span: Span, path: &str) -> Option<String> {
        let normalised = time_text(text);
        if normalised.is_none() {
            self.error(
                "date_invalid",
                format!(
                    "`{text}` is neither a date nor a date and time; write a date as YYYY-MM-DD, such as \"2026-03-31\", or an RFC 3339 instant with a time zone, such as \"2026-03-31T09:30:00Z\""
                ),
                span,
                path,
            );
        }
        normalised
    }

    fn duration(&mut self, duration: Duration, span: Span, path: &str) {
        if duration.amount > 0 {
            return;
        }
        self.error(
            "duration_invalid",
            format!(
                "`0 {}` is no time at all; write at least `1 {}`",
                duration.unit.word(0),
                duration.unit.word(1)
            ),
            span,
            path,
        );
    }

    fn window(&mut self, window: &Window, span: Span, path: &str) -> Window {
        let at = |member: &str| format!("{path}/window/{member}");
        match window {
            Window::Ever => Window::Ever,
            Window::Last { amount } => {
                self.duration(*amount, span, &at("amount/amount"));
                window.clone()
            }
            Window::Since { from } => Window::Since {
                from: self
                    .time(from, span, &at("from"))
                    .unwrap_or_else(|| from.clone()),
            },
            Window::Between { from, to } => {
                let start = self.time(from, span, &at("from"));
                let end = self.time(to, span, &at("to"));
                if let (Some(s), Some(e)) = (&start, &end)
                    && backwards_text(s, e)
                {
                    self.error(
                        "window_invalid",
                        format!(
                            "the window runs backwards: it starts at `{s}` and ends at `{e}`; put the earlier time first"
                        ),
                        span,
                        &format!("{path}/window"),
                    );
                }
                Window::Between {
                    from: start.unwrap_or_else(|| from.clone()),
                    to: end.unwrap_or_else(|| to.clone()),
                }
            }
        }
    }

    /// `between` with its ends the wrong way round. Texts of different
    /// lengths (a date and an instant) are not compared: which comes first
    /// depends on the time zone the condition is evaluated in.
    fn range(&mut self, low: Option<&Literal>, high: Option<&Literal>, span: Span, path: &str) {
        let (Some(low), Some(high)) = (low, high) else {
            return;
        };
        let backwards = match (low, high) {
            (Literal::Number(l), Literal::Number(h)) => l > h,
            (Literal::Text(l), Literal::Text(h)) => backwards_text(l, h),
            _ => false,
        };
        if backwards {
            self.error(
                "range_invalid",
                format!(
                    "the range runs backwards: {} comes after {}; write `between {} and {}`",
                    shown(low),
                    shown(high),
                    shown(high),
                    shown(low)
                ),
                span,
                &format!("{path}/test"),
            );
        }
    }

    fn pattern(&mut self, pattern: &str, span: Span, path: &str) {
        if let Err(e) = pattern::check_pattern(pattern) {
            self.error(e.code, e.message, span, path);
        }
    }

    // ----- events -----

    fn event_name(&mut self, event: &str, span: Span, path: &str) {
        self.uses.events.insert(event.to_string());
        if self.schema.event(event).is_some() {
            return;
        }
        let names = self.schema.events.iter().map(|e| e.name.as_str());
        let message = match closest(event, names) {
            Some(near) => {
                format!("no `{event}` event has been seen yet; did you mean `{near}`?")
            }
            None => format!(
                "no `{event}` event has been seen yet; the condition will match once such events arrive"
            ),
        };
        self.warn("event_unknown", message, span, path);
    }

    /// Warn about a property never seen on a known event.
    fn property_seen(&mut self, event: &str, key: &str, span: Span, path: &str) {
        let Some(info) = self.schema.event(event) else {
            return;
        };
        let keys = &info.property_keys;
        if keys.iter().any(|k| k == key) {
            return;
        }
        let seen = format!("no `{key}` property has been seen on `{event}` events yet");
        let message = match closest(key, keys.iter().map(String::as_str)) {
            Some(near) => format!("{seen}; did you mean `{near}`?"),
            None if keys.is_empty() => format!("{seen}; none of them had properties"),
            None => format!("{seen}; the properties seen are: {}", keys.join(", ")),
        };
        self.warn("property_unknown", message, span, path);
    }

    /// A test on an event property: the literal decides the type.
    fn property(&mut self, event: &str, key: &str, test: &Test, span: Span, path: &str) -> Test {
        self.property_seen(event, key, span, &format!("{path}/field"));
        let op = op_name(test);
        let at = |member: &str| format!("{path}/test/{member}");
        match test {
            Test::In { values } | Test::NotIn { values } => {
                self.same_type(op, values, span, &at("values"));
            }
            Test::Gt { value } | Test::Gte { value } | Test::Lt { value } | Test::Lte { value } => {
                self.number(&format!("`{op}`"), "compares numbers", value, span, &at("value"));
            }
            Test::Between { low, high } => {
                let l = self.number("`between`", "compares numbers", low, span, &at("low"));
                let h = self.number("`between`", "compares numbers", high, span, &at("high"));
                self.range(l, h, span, path);
            }
            Test::Matches { pattern } => self.pattern(pattern, span, &at("pattern")),
            Test::Is { .. }
            | Test::IsNot { .. }
            | Test::Contains { .. }
            | Test::NotContains { .. }
            | Test::StartsWith { .. }
            | Test::EndsWith { .. }
            | Test::Exists
            | Test::IsEmpty => {}
            _ => self.error(
                "operator_invalid",
                format!(
                    "`{op}` does not apply to the event property `{key}`; the tests that apply are: {}",
                    PROPERTY_TESTS.join(", ")
                ),
                span,
                &format!("{path}/test/op"),
            ),
        }
        test.clone()
    }

    /// `in` and `not in` on a property compare one type at a time.
    fn same_type(&mut self, op: &str, values: &[Literal], span: Span, path: &str) {
        let Some(first) = values.first() else {
            return;
        };
        for (i, v) in values.iter().enumerate().skip(1) {
            if kind(v) == kind(first) {
                continue;
            }
            self.error(
                "value_type",
                format!(
                    "the values of `{op}` must all be of one type: {} is {} but {} is {}; write them all as {}",
                    shown(first),
                    kind(first),
                    shown(v),
                    kind(v),
                    kinds(first)
                ),
                span,
                &format!("{path}/{i}"),
            );
        }
    }

    /// A literal that must be a number; `what` and `does` name the thing
    /// that needs it in the message.
    fn number<'l>(
        &mut self,
        what: &str,
        does: &str,
        value: &'l Literal,
        span: Span,
        path: &str,
    ) -> Option<&'l Literal> {
        if matches!(value, Literal::Number(_)) {
            return Some(value);
        }
        self.error(
            "value_type",
            format!(
                "{what} {does}; write a number such as 100, not {}",
                shown(value)
            ),
            span,
            path,
        );
        None
    }

    fn aggregate_test(
        &mut self,
        function: Aggregate,
        property: &str,
        test: &Test,
        span: Span,
        path: &str,
    ) -> Test {
        let label = format!("`{} of {property}`", function.as_str());
        let at = |member: &str| format!("{path}/test/{member}");
        match test {
            Test::Is { value }
            | Test::IsNot { value }
            | Test::Gt { value }
            | Test::Gte { value }
            | Test::Lt { value }
            | Test::Lte { value } => {
                self.number(&label, "is a number", value, span, &at("value"));
            }
            Test::Between { low, high } => {
                let l = self.number(&label, "is a number", low, span, &at("low"));
                let h = self.number(&label, "is a number", high, span, &at("high"));
                self.range(l, h, span, path);
            }
            _ => self.error(
                "operator_invalid",
                format!(
                    "`{}` does not apply to {label}, a number; the tests that apply are: {}",
                    op_name(test),
                    AGGREGATE_TESTS.join(", ")
                ),
                span,
                &format!("{path}/test/op"),
            ),
        }
        test.clone()
    }

    fn occurrence_test(
        &mut self,
        which: Occurrence,
        event: &str,
        test: &Test,
        span: Span,
        path: &str,
    ) -> Test {
        let which = match which {
            Occurrence::First => "first",
            Occurrence::Last => "last",
        };
        let label = format!("`{which} {}`", quoted(event));
        let at = |member: &str| format!("{path}/test/{member}");
        let one = |c: &mut Self, value: &Literal, member: &str| -> Option<Literal> {
            let Literal::Text(text) = value else {
                c.error(
                    "value_type",
                    format!(
                        "{label} is a point in time; write {DATETIME_EXAMPLE}, not {}",
                        shown(value)
                    ),
                    span,
                    &at(member),
                );
                return None;
            };
            c.time(text, span, &at(member)).map(Literal::Text)
        };
        match test {
            Test::Is { value } => Test::Is {
                value: one(self, value, "value").unwrap_or_else(|| value.clone()),
            },
            Test::IsNot { value } => Test::IsNot {
                value: one(self, value, "value").unwrap_or_else(|| value.clone()),
            },
            Test::Gt { value } => Test::Gt {
                value: one(self, value, "value").unwrap_or_else(|| value.clone()),
            },
            Test::Gte { value } => Test::Gte {
                value: one(self, value, "value").unwrap_or_else(|| value.clone()),
            },
            Test::Lt { value } => Test::Lt {
                value: one(self, value, "value").unwrap_or_else(|| value.clone()),
            },
            Test::Lte { value } => Test::Lte {
                value: one(self, value, "value").unwrap_or_else(|| value.clone()),
            },
            Test::Between { low, high } => {
                let l = one(self, low, "low");
                let h = one(self, high, "high");
                self.range(l.as_ref(), h.as_ref(), span, path);
                Test::Between {
                    low: l.unwrap_or_else(|| low.clone()),
                    high: h.unwrap_or_else(|| high.clone()),
                }
            }
            Test::WithinLast { .. } | Test::MoreThanAgo { .. } | Test::WithinNext { .. } => {
                self.shared_test(test, span, path)
            }
            _ => {
                self.error(
                    "operator_invalid",
                    format!(
                        "`{}` does not apply to {label}, a point in time; the tests that apply are: {}",
                        op_name(test),
                        OCCURRENCE_TESTS.join(", ")
                    ),
                    span,
                    &format!("{path}/test/op"),
                );
                test.clone()
            }
        }
    }

    // ----- segments and consent -----

    fn in_segment(&mut self, segment: &str, scope: Scope<'_>, span: Span, path: &str) {
        let subject = match scope {
            Scope::People => Subject::People,
            Scope::Accounts => Subject::Accounts,
            Scope::Event(_) => {
                self.error("scope_invalid", IN_EVENT, span, path);
                return;
            }
        };
        let path = format!("{path}/segment");
        self.uses.segments.insert(segment.to_string());
        if let Some(chain) = cycle::find_cycle(self.schema, self.name, segment) {
            let shown: Vec<String> = chain.iter().map(|n| format!("`{n}`")).collect();
            self.error(
                "segment_cycle",
                format!(
                    "{}: a segment cannot include itself, directly or through other segments; remove `in segment {}`",
                    shown.join(" → "),
                    quoted(segment)
                ),
                span,
                &path,
            );
            return;
        }
        let Some(info) = self.schema.segment(segment) else {
            let names = self.schema.segments.iter().map(|s| s.name.as_str());
            let message = match closest(segment, names) {
                Some(near) => {
                    format!("there is no segment named `{segment}`; did you mean `{near}`?")
                }
                None => format!(
                    "there is no segment named `{segment}`; check the name, or save that segment first"
                ),
            };
            self.error("segment_unknown", message, span, &path);
            return;
        };
        if info.subject == subject {
            return;
        }
        let wrap = match subject {
            Subject::People => "account where",
            Subject::Accounts => "any member where",
        };
        self.error(
            "segment_subject",
            format!(
                "`{segment}` is a segment of {}, but this condition is about {}; write `{wrap} in segment {}`",
                info.subject.as_str(),
                subject.as_str(),
                quoted(segment)
            ),
            span,
            &path,
        );
    }

    fn topic(&mut self, topic: &str, span: Span, path: &str) {
        self.uses.topics.insert(topic.to_string());
        let topics = &self.schema.topics;
        if topics.iter().any(|t| t == topic) {
            return;
        }
        let unknown = format!("there is no subscription topic `{topic}`");
        let message = match closest(topic, topics.iter().map(String::as_str)) {
            Some(near) => format!("{unknown}; did you mean `{near}`?"),
            None if topics.is_empty() => {
                format!(
                    "{unknown}; this workspace has no subscription topics yet, so create one first"
                )
            }
            None => format!("{unknown}; the topics are: {}", topics.join(", ")),
        };
        self.error("topic_unknown", message, span, path);
    }

    fn channel(&mut self, channel: &str, span: Span, path: &str) {
        if CHANNELS.contains(&channel) {
            return;
        }
        let near = closest(channel, CHANNELS.iter().copied())
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        self.error(
            "channel_unknown",
            format!(
                "`{channel}` is not a channel; {near}the channels are: {}",
                CHANNELS.join(", ")
            ),
            span,
            path,
        );
    }
}

/// Where only property tests are allowed.
const IN_EVENT: &str = "only property tests and all/any/none/not can go inside an event's `where`; move this condition outside the event's `where`";

const TEXT_TESTS: &[&str] = &[
    "is",
    "is not",
    "contains",
    "does not contain",
    "starts with",
    "ends with",
    "matches",
    "in",
    "not in",
    "exists",
    "is empty",
];
const CHOICE_TESTS: &[&str] = &["is", "is not", "in", "not in", "exists", "is empty"];
const NUMBER_TESTS: &[&str] = &[
    "is", "is not", ">", ">=", "<", "<=", "between", "in", "not in", "exists", "is empty",
];
const BOOLEAN_TESTS: &[&str] = &["is", "is not", "exists", "is empty"];
const TIME_TESTS: &[&str] = &[
    "is",
    "is not",
    ">",
    ">=",
    "<",
    "<=",
    "between",
    "within last",
    "more than … ago",
    "within next",
    "anniversary within next",
    "exists",
    "is empty",
];
const MULTI_TESTS: &[&str] = &[
    "has any of",
    "has all of",
    "has none of",
    "exists",
    "is empty",
];
const PROPERTY_TESTS: &[&str] = &[
    "is",
    "is not",
    "contains",
    "does not contain",
    "starts with",
    "ends with",
    "matches",
    "in",
    "not in",
    "exists",
    "is empty",
    ">",
    ">=",
    "<",
    "<=",
    "between",
];
const AGGREGATE_TESTS: &[&str] = &["is", "is not", ">", ">=", "<", "<=", "between"];
const OCCURRENCE_TESTS: &[&str] = &[
    "within last",
    "more than … ago",
    "within next",
    "is",
    "is not",
    ">",
    ">=",
    "<",
    "<=",
    "between",
];

const DATETIME_EXAMPLE: &str =
    "a date such as \"2026-03-31\" or an instant such as \"2026-03-31T09:30:00Z\"";

/// The tests a field of this type takes, by their text-form names.
fn tests_for(field_type: FieldType) -> &'static [&'static str] {
    match field_type {
        FieldType::Text | FieldType::Email | FieldType::Phone | FieldType::Url => TEXT_TESTS,
        FieldType::Picklist | FieldType::Country => CHOICE_TESTS,
        FieldType::Number => NUMBER_TESTS,
        FieldType::Boolean => BOOLEAN_TESTS,
        FieldType::Date | FieldType::Datetime => TIME_TESTS,
        FieldType::MultiPicklist => MULTI_TESTS,
    }
}

/// A test's name in the text form.
fn op_name(test: &Test) -> &'static str {
    match test {
        Test::Is { .. } => "is",
        Test::IsNot { .. } => "is not",
        Test::Contains { .. } => "contains",
        Test::NotContains { .. } => "does not contain",
        Test::StartsWith { .. } => "starts with",
        Test::EndsWith { .. } => "ends with",
        Test::Matches { .. } => "matches",
        Test::In { .. } => "in",
        Test::NotIn { .. } => "not in",
        Test::Exists => "exists",
        Test::IsEmpty => "is empty",
        Test::Gt { .. } => ">",
        Test::Gte { .. } => ">=",
        Test::Lt { .. } => "<",
        Test::Lte { .. } => "<=",
        Test::Between { .. } => "between",
        Test::WithinLast { .. } => "within last",
        Test::MoreThanAgo { .. } => "more than … ago",
        Test::WithinNext { .. } => "within next",
        Test::AnniversaryWithinNext { .. } => "anniversary within next",
        Test::HasAny { .. } => "has any of",
        Test::HasAll { .. } => "has all of",
        Test::HasNone { .. } => "has none of",
    }
}

/// What a field of this type is, after "`key` is".
fn describe(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::Text => "text",
        FieldType::Number => "a number",
        FieldType::Boolean => "a yes/no field",
        FieldType::Date => "a date",
        FieldType::Datetime => "a date and time",
        FieldType::Email => "an email address",
        FieldType::Phone => "a phone number",
        FieldType::Url => "a web address",
        FieldType::Picklist => "a picklist",
        FieldType::MultiPicklist => "a multi-picklist",
        FieldType::Country => "a country",
    }
}

/// What to write for a value of this field, with an example.
fn expected(def: &FieldDef) -> String {
    match def.field_type {
        FieldType::Text | FieldType::MultiPicklist => {
            "text in double quotes, such as \"Ada\"".into()
        }
        FieldType::Number => "a number such as 50".into(),
        FieldType::Boolean => "true or false".into(),
        FieldType::Date => "a date in double quotes, such as \"2026-03-31\"".into(),
        FieldType::Datetime => DATETIME_EXAMPLE.into(),
        FieldType::Email => "an address in double quotes, such as \"ada@example.com\"".into(),
        FieldType::Phone => "a number in double quotes, such as \"+4930123456\"".into(),
        FieldType::Url => "an address in double quotes, such as \"https://example.com\"".into(),
        FieldType::Country => "a country name or code in double quotes, such as \"DE\"".into(),
        FieldType::Picklist => match def.options.first() {
            Some(o) => format!(
                "one of its values in double quotes, such as {}",
                quoted(&o.value)
            ),
            None => "one of its values in double quotes".into(),
        },
    }
}

/// A picklist value that is neither an option's value nor its label.
fn not_an_option(def: &FieldDef, text: &str) -> String {
    if def.options.is_empty() {
        return format!(
            "`{}` has no values to choose from yet; add them to the field first",
            def.key
        );
    }
    let candidates = def
        .options
        .iter()
        .flat_map(|o| [o.value.as_str(), o.label.as_str()]);
    let near = closest(text, candidates).and_then(|c| {
        def.options
            .iter()
            .find(|o| o.value == c || o.label == c)
            .map(|o| format!("did you mean `{}`? ", o.value))
    });
    let values: Vec<&str> = def
        .options
        .iter()
        .take(12)
        .map(|o| o.value.as_str())
        .collect();
    let more = if def.options.len() > 12 { ", …" } else { "" };
    format!(
        "`{text}` is not a value of `{}`; {}the values are: {}{more}",
        def.key,
        near.unwrap_or_default(),
        values.join(", ")
    )
}

/// A literal as it is written in the text form.
fn shown(value: &Literal) -> String {
    match value {
        Literal::Bool(b) => b.to_string(),
        Literal::Number(n) => n.to_string(),
        Literal::Text(s) => quoted(s),
    }
}

/// Text in double quotes, escaped as the text form writes it.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

fn kind(value: &Literal) -> &'static str {
    match value {
        Literal::Bool(_) => "true or false",
        Literal::Number(_) => "a number",
        Literal::Text(_) => "text",
    }
}

fn kinds(value: &Literal) -> &'static str {
    match value {
        Literal::Bool(_) => "true or false",
        Literal::Number(_) => "numbers",
        Literal::Text(_) => "text",
    }
}

fn is_date(text: &str) -> bool {
    text.len() == 10 && text.parse::<jiff::civil::Date>().is_ok()
}

/// A date (kept as written) or an instant in canonical form.
fn time_text(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if is_date(trimmed) {
        return Some(trimmed.to_string());
    }
    parse_instant(trimmed).ok().map(format_timestamp)
}

/// Two dates, or two canonical instants, in the wrong order.
fn backwards_text(low: &str, high: &str) -> bool {
    low.len() == high.len() && low > high
}

/// `did "X"`, `sum of amount in "X"` …: the start of an event node's text.
fn event_words(node: &Condition) -> String {
    match node {
        Condition::Aggregate {
            function, property, ..
        } => format!("{} of {property} in", function.as_str()),
        Condition::Occurrence { which, .. } => match which {
            Occurrence::First => "first".into(),
            Occurrence::Last => "last".into(),
        },
        _ => "did".into(),
    }
}

fn consent_words(state: ConsentState) -> &'static str {
    match state {
        ConsentState::Subscribed => "subscribed to",
        ConsentState::Unsubscribed => "unsubscribed from",
    }
}

fn quantifier_words(quantifier: Quantifier) -> &'static str {
    match quantifier {
        Quantifier::Any => "any member",
        Quantifier::All => "all members",
        Quantifier::No => "no member",
    }
}
