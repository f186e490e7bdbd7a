//! The person's behaviour: `did`, aggregates of event properties, the first
//! or last time of an event, and sequences. Each is a set of people found
//! from their events by workspace, name and time (the events indexes on
//! (workspace, name, time) and (workspace, contact, time)), grouped per
//! person where a count or an aggregate decides.

use super::Compiler;
use super::dialect::JsonType;
use super::field::{Kind, Operand, holds_without_events};
use super::frag::{self, Frag, Guard};
use super::related::Related;
use crate::ast::{Aggregate, Condition, Count, CountOp, Occurrence, Test, Window};
use crate::error::Problem;

/// The events a node counts: the person's, of one name, in a window, whose
/// properties pass a filter.
pub(crate) struct Events<'n> {
    pub(crate) name: &'n str,
    pub(crate) window: Option<&'n Window>,
    pub(crate) filter: Option<&'n Condition>,
    /// The latest time that counts, on top of the window.
    pub(crate) until: Option<i64>,
}

impl Compiler<'_> {
    /// The conditions on the events aliased `e`, the person aside.
    fn events_where(
        &mut self,
        e: &str,
        events: &Events<'_>,
        path: &str,
    ) -> Result<Vec<Frag>, Problem> {
        let mut parts = vec![
            Frag::pred(format!("{e}.workspace_id = {}", self.workspace)),
            Frag::pred(format!("{e}.name = {}", self.dialect.text(events.name)?)),
        ];
        let (low, high) = match events.window {
            Some(window) => self
                .clock
                .window(window)
                .map_err(|m| Problem::new("window_invalid", m))?,
            None => (None, None),
        };
        let high = match (high, events.until) {
            (Some(h), Some(u)) => Some(h.min(u)),
            (h, u) => h.or(u),
        };
        parts.push(at_between(e, low, high));
        if let Some(filter) = events.filter {
            let scope = super::Scope::Event(e.to_string());
            parts.push(self.compile(filter, &scope, &format!("{path}/where"))?);
        }
        Ok(parts)
    }

    /// People with such events, or with a group of them passing `having`.
    fn with_events(
        &self,
        person: &str,
        e: String,
        conditions: Vec<Frag>,
        having: Option<Frag>,
    ) -> Frag {
        self.related(Related {
            table: "events",
            alias: e,
            link: "contact_id",
            link_nullable: true,
            key: format!("{person}.id"),
            key_nullable: false,
            conditions,
            having,
        })
    }

    /// A per-person test on a group of events, for people with and without
    /// such events: when the test holds for someone without any (a sum below
    /// 10, a count of at most 2), it is the complement of the people whose
    /// group fails it.
    fn grouped(
        &self,
        person: &str,
        e: String,
        conditions: Vec<Frag>,
        having: Frag,
        holds_without: bool,
    ) -> Frag {
        if holds_without {
            frag::not(self.with_events(person, e, conditions, Some(frag::not(having))))
        } else {
            self.with_events(person, e, conditions, Some(having))
        }
    }

    /// `did "X" [count] [window] [where …]`.
    pub(crate) fn did(
        &mut self,
        person: &str,
        events: &Events<'_>,
        count: Count,
        path: &str,
    ) -> Result<Frag, Problem> {
        let e = self.fresh("e");
        let conditions = self.events_where(&e, events, path)?;
        let n = count.times;
        Ok(match (count.op, n) {
            (CountOp::AtLeast, 0) => Frag::constant(true),
            (CountOp::AtLeast, 1) => self.with_events(person, e, conditions, None),
            (CountOp::Exactly | CountOp::AtMost, 0) => {
                frag::not(self.with_events(person, e, conditions, None))
            }
            // At most n: everyone but those with more.
            (CountOp::AtMost, _) => {
                let more = Frag::pred(format!("COUNT(*) > {n}"));
                frag::not(self.with_events(person, e, conditions, Some(more)))
            }
            (CountOp::AtLeast, _) => {
                let having = Frag::pred(format!("COUNT(*) >= {n}"));
                self.with_events(person, e, conditions, Some(having))
            }
            (CountOp::Exactly, _) => {
                let having = Frag::pred(format!("COUNT(*) = {n}"));
                self.with_events(person, e, conditions, Some(having))
            }
        })
    }

    /// `sum of amount in "Order Completed" [window] > 100 [where …]`.
    pub(crate) fn aggregate(
        &mut self,
        person: &str,
        function: Aggregate,
        property: &str,
        events: &Events<'_>,
        test: &Test,
        path: &str,
    ) -> Result<Frag, Problem> {
        let e = self.fresh("e");
        let conditions = self.events_where(&e, events, path)?;
        let d = self.dialect;
        let doc = format!("{e}.properties");
        let number = format!(
            "CASE WHEN {} THEN {} END",
            d.json_is(&doc, property, &[JsonType::Number])?,
            d.json_number(&doc, property)?
        );
        // What the aggregate is for someone without such events: a sum or a
        // count of nothing is 0, an average, minimum or maximum is no value.
        let (value, guard, without) = match function {
            Aggregate::Sum => (
                format!("COALESCE(SUM({number}), 0)"),
                Guard::Always,
                Some(0.0),
            ),
            Aggregate::Average => (format!("AVG({number})"), Guard::Nullable, None),
            Aggregate::Min => (format!("MIN({number})"), Guard::Nullable, None),
            Aggregate::Max => (format!("MAX({number})"), Guard::Nullable, None),
            Aggregate::DistinctCount => {
                let kinds = [JsonType::Text, JsonType::Number];
                let value = format!(
                    "COUNT(DISTINCT CASE WHEN {} THEN {} END)",
                    d.json_is(&doc, property, &kinds)?,
                    d.json_raw(&doc, property)?
                );
                (value, Guard::Always, Some(0.0))
            }
        };
        let op = Operand {
            kind: Kind::Number,
            value,
            guard,
        };
        let (test, negated) = if function.is_tolerant() {
            test.tolerant()
        } else {
            (test.clone(), false)
        };
        let mut having = self.apply(&op, &test)?;
        let mut holds_without = holds_without_events(&test, without)?;
        if negated {
            having = frag::not(having);
            holds_without = !holds_without;
        }
        Ok(self.grouped(person, e, conditions, having, holds_without))
    }

    /// `first "X" within last 30 days`, `last "X" before 2026-01-01`.
    pub(crate) fn occurrence(
        &mut self,
        person: &str,
        which: Occurrence,
        events: &Events<'_>,
        test: &Test,
        path: &str,
    ) -> Result<Frag, Problem> {
        let e = self.fresh("e");
        let conditions = self.events_where(&e, events, path)?;
        let function = match which {
            Occurrence::First => "MIN",
            Occurrence::Last => "MAX",
        };
        let op = Operand {
            kind: Kind::InstantMillis,
            value: format!("{function}({e}.at)"),
            guard: Guard::Always,
        };
        let having = self.apply(&op, test)?;
        let holds_without = holds_without_events(test, None)?;
        Ok(self.grouped(person, e, conditions, having, holds_without))
    }

    /// `did "A" then "B" within 1 day [window]` and `… then not "B" …`.
    pub(crate) fn sequence(
        &mut self,
        person: &str,
        node: &Condition,
        path: &str,
    ) -> Result<Frag, Problem> {
        let Condition::Sequence {
            first,
            then,
            negated,
            within,
            window,
            ..
        } = node
        else {
            return Err(Problem::new("node_out_of_scope", "not a sequence"));
        };
        let a = self.fresh("e");
        let b = self.fresh("e");
        let span = within.millis();
        // Only an A whose follow-up period has fully passed can be said not
        // to have been followed.
        let due = negated.then(|| self.clock.now.saturating_sub(span));
        let firsts = Events {
            name: first,
            window: Some(window),
            filter: None,
            until: due,
        };
        let mut a_where = self.events_where(&a, &firsts, path)?;
        let follow_ups = Events {
            name: then,
            window: None,
            filter: None,
            until: None,
        };
        let mut b_where = self.events_where(&b, &follow_ups, path)?;
        b_where.insert(1, Frag::pred(format!("{b}.contact_id = {a}.contact_id")));
        b_where.push(Frag::pred(format!("{b}.at > {a}.at")));
        b_where.push(Frag::pred(format!("{b}.at <= {a}.at + {span}")));
        let followed = frag::exists("events", &b, b_where);
        a_where.push(if *negated {
            frag::not(followed)
        } else {
            followed
        });
        Ok(self.with_events(person, a, a_where, None))
    }
}

/// Inclusive bounds on `e.at`.
fn at_between(e: &str, low: Option<i64>, high: Option<i64>) -> Frag {
    match (low, high) {
        (Some(l), Some(h)) => Frag::pred(format!("{e}.at BETWEEN {l} AND {h}")),
        (Some(l), None) => Frag::pred(format!("{e}.at >= {l}")),
        (None, Some(h)) => Frag::pred(format!("{e}.at <= {h}")),
        (None, None) => Frag::constant(true),
    }
}
