//! Evaluating a checked tree against one person or account in memory, and
//! explaining why it is true or false. [`matches`] is the fast path used per
//! event by real-time triggers; [`explain`] walks the whole tree with reasons.

mod events;
mod explain;
mod pattern;
mod value;
mod words;

use pitcrew_core::record::ObjectKind;
use serde::Serialize;
use serde_json::Value;

use crate::ast::{Condition, ConsentState, Quantifier, Segment, Subject, Test};
use crate::schema::{ConsentFact, EventFact, Organisation, Person, Schema};
use crate::time::Clock;

use value::Kind;

/// The record a condition is evaluated against.
#[derive(Debug, Clone, Copy)]
pub enum Facts<'a> {
    Person(&'a Person),
    Account(&'a Organisation),
}

/// One node of an explanation: the node in text form, its value, and the
/// facts that decided it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub condition: String,
    pub value: bool,
    pub reason: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Explanation>,
}

/// Whether the record is a member. Builds no text, so it is cheap enough to
/// run for every incoming event.
pub fn matches(segment: &Segment, schema: &Schema, clock: &Clock, facts: Facts<'_>) -> bool {
    let Some(scope) = Scope::root(segment.subject, facts) else {
        return false;
    };
    Ctx::new(schema, clock).eval(&segment.condition, scope)
}

/// The whole tree with each node's value and reason. Every node's value is
/// the one [`matches`] computes for it.
pub fn explain(segment: &Segment, schema: &Schema, clock: &Clock, facts: Facts<'_>) -> Explanation {
    let Some(scope) = Scope::root(segment.subject, facts) else {
        return Explanation {
            condition: crate::print::condition_text(&segment.condition),
            value: false,
            reason: format!(
                "this segment selects {}, not {}",
                segment.subject.as_str(),
                subject_of(facts).as_str()
            ),
            children: Vec::new(),
        };
    };
    Ctx::new(schema, clock).explain(&segment.condition, scope)
}

fn subject_of(facts: Facts<'_>) -> Subject {
    match facts {
        Facts::Person(_) => Subject::People,
        Facts::Account(_) => Subject::Accounts,
    }
}

/// The record a node is evaluated on: a person, an account, or one event
/// (inside an event's `where`).
#[derive(Debug, Clone, Copy)]
enum Scope<'a> {
    Person(&'a Person),
    Account(&'a Organisation),
    Event(&'a EventFact),
}

impl<'a> Scope<'a> {
    fn root(subject: Subject, facts: Facts<'a>) -> Option<Scope<'a>> {
        match (subject, facts) {
            (Subject::People, Facts::Person(p)) => Some(Scope::Person(p)),
            (Subject::Accounts, Facts::Account(o)) => Some(Scope::Account(o)),
            _ => None,
        }
    }

    fn subject(self) -> Option<Subject> {
        match self {
            Scope::Person(_) => Some(Subject::People),
            Scope::Account(_) => Some(Subject::Accounts),
            Scope::Event(_) => None,
        }
    }

    fn on_list(self, list: i64) -> bool {
        match self {
            Scope::Person(p) => p.lists.contains(&list),
            Scope::Account(o) => o.lists.contains(&list),
            Scope::Event(_) => false,
        }
    }
}

/// What `in segment "…"` refers to.
enum SegmentRef<'a> {
    Unknown,
    /// The segment is already being expanded further up: it refers to itself.
    Cycle,
    WrongSubject(Subject),
    Dynamic(&'a Segment),
    Static(i64),
}

/// One evaluation: the vocabulary, the clock, and the dynamic segments being
/// expanded (so a segment that refers to itself ends instead of recursing).
struct Ctx<'a> {
    schema: &'a Schema,
    clock: &'a Clock,
    expanding: Vec<&'a str>,
}

impl<'a> Ctx<'a> {
    fn new(schema: &'a Schema, clock: &'a Clock) -> Ctx<'a> {
        Ctx {
            schema,
            clock,
            expanding: Vec::new(),
        }
    }

    fn eval(&mut self, cond: &'a Condition, scope: Scope<'a>) -> bool {
        match cond {
            Condition::All { of, .. } => of.iter().all(|c| self.eval(c, scope)),
            Condition::Any { of, .. } => of.iter().any(|c| self.eval(c, scope)),
            Condition::None { of, .. } => !of.iter().any(|c| self.eval(c, scope)),
            Condition::Not { condition, .. } => !self.eval(condition, scope),
            Condition::Field { field, test, .. } => {
                let (kind, stored) = self.field(scope, field, test);
                value::holds(&value::read(kind, stored), test, self.clock)
            }
            Condition::Did {
                event,
                count,
                window,
                filter,
                ..
            } => {
                let Scope::Person(p) = scope else {
                    return false;
                };
                let Ok(bounds) = self.clock.window(window) else {
                    return false;
                };
                let n = events::count(self.matching(p, event, bounds, filter.as_deref()));
                count.holds(n)
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
                let Scope::Person(p) = scope else {
                    return false;
                };
                let Ok(bounds) = self.clock.window(window) else {
                    return false;
                };
                let agg = events::aggregate(
                    *function,
                    property,
                    self.matching(p, event, bounds, filter.as_deref()),
                );
                aggregate_holds(*function, agg.value, test, self.clock)
            }
            Condition::Occurrence {
                which,
                event,
                test,
                filter,
                ..
            } => {
                let Scope::Person(p) = scope else {
                    return false;
                };
                let at = events::occurrence(
                    *which,
                    self.matching(p, event, (None, None), filter.as_deref()),
                );
                value::holds_instant(at, test, self.clock)
            }
            Condition::Sequence {
                first,
                then,
                negated,
                within,
                window,
                ..
            } => {
                let Scope::Person(p) = scope else {
                    return false;
                };
                let Ok(bounds) = self.clock.window(window) else {
                    return false;
                };
                events::sequence(
                    &p.events,
                    first,
                    then,
                    within.millis(),
                    bounds,
                    self.clock.now,
                )
                .holds(*negated)
            }
            Condition::InSegment { segment, .. } => match self.segment(segment, scope) {
                SegmentRef::Dynamic(def) => {
                    self.expanding.push(segment);
                    let v = self.eval(&def.condition, scope);
                    self.expanding.pop();
                    v
                }
                SegmentRef::Static(id) => scope.on_list(id),
                SegmentRef::Unknown | SegmentRef::Cycle | SegmentRef::WrongSubject(_) => false,
            },
            Condition::Consent {
                state,
                topic,
                channel,
                ..
            } => {
                let Scope::Person(p) = scope else {
                    return false;
                };
                let want = *state == ConsentState::Subscribed;
                consent_rows(p, topic, channel.as_deref()).any(|c| c.subscribed == want)
            }
            Condition::Account { condition, .. } => match scope {
                Scope::Person(p) => p
                    .account
                    .as_deref()
                    .is_some_and(|o| self.eval(condition, Scope::Account(o))),
                _ => false,
            },
            Condition::Members {
                quantifier,
                condition,
                ..
            } => {
                let Scope::Account(o) = scope else {
                    return false;
                };
                let mut each = o.members.iter();
                match quantifier {
                    Quantifier::Any => each.any(|m| self.eval(condition, Scope::Person(m))),
                    Quantifier::All => each.all(|m| self.eval(condition, Scope::Person(m))),
                    Quantifier::No => !each.any(|m| self.eval(condition, Scope::Person(m))),
                }
            }
        }
    }

    /// How the field is compared and its stored value. Record fields take
    /// their type from the schema; event properties (and, defensively,
    /// fields the schema does not know) take it from the test's literal.
    fn field(&self, scope: Scope<'a>, key: &str, test: &Test) -> (Kind, Option<&'a Value>) {
        let (object, fields) = match scope {
            Scope::Person(p) => (ObjectKind::Contact, &p.fields),
            Scope::Account(o) => (ObjectKind::Account, &o.fields),
            Scope::Event(e) => return (Kind::of_test(test), e.properties.get(key)),
        };
        let kind = self
            .schema
            .field(object, key)
            .map_or_else(|| Kind::of_test(test), Kind::of_field);
        (kind, fields.get(key))
    }

    /// The person's events with this name, in the window, whose `where`
    /// holds.
    fn matching<'s>(
        &'s mut self,
        person: &'a Person,
        name: &'a str,
        bounds: (Option<i64>, Option<i64>),
        filter: Option<&'a Condition>,
    ) -> impl Iterator<Item = &'a EventFact> + 's {
        person.events.iter().filter(move |e| {
            e.name == name
                && events::in_bounds(e.at, bounds)
                && filter.is_none_or(|f| self.eval(f, Scope::Event(e)))
        })
    }

    fn segment(&self, name: &'a str, scope: Scope<'a>) -> SegmentRef<'a> {
        let Some(info) = self.schema.segment(name) else {
            return SegmentRef::Unknown;
        };
        if scope.subject() != Some(info.subject) {
            return SegmentRef::WrongSubject(info.subject);
        }
        match &info.definition {
            Some(_) if self.expanding.contains(&name) => SegmentRef::Cycle,
            Some(def) if def.subject != info.subject => SegmentRef::WrongSubject(def.subject),
            Some(def) => SegmentRef::Dynamic(def),
            None => SegmentRef::Static(info.id),
        }
    }
}

/// The person's recorded choices for a topic, on one channel or all.
fn consent_rows<'p>(
    person: &'p Person,
    topic: &'p str,
    channel: Option<&'p str>,
) -> impl Iterator<Item = &'p ConsentFact> {
    person
        .consent
        .iter()
        .filter(move |c| c.topic == topic && channel.is_none_or(|ch| c.channel == ch))
}

/// An aggregate's value put to its test, with sums and averages compared
/// within [`crate::ast::SUM_TOLERANCE`].
pub(crate) fn aggregate_holds(
    function: crate::ast::Aggregate,
    value: Option<f64>,
    test: &crate::ast::Test,
    clock: &Clock,
) -> bool {
    if !function.is_tolerant() {
        return value::holds_number(value, test, clock);
    }
    let (test, negated) = test.tolerant();
    value::holds_number(value, &test, clock) != negated
}
