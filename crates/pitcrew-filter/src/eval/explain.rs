//! Explanations: every node with its value and the facts that decided it in
//! plain words. Values come from the same facts and decisions as the fast
//! path, so an explanation never disagrees with a membership answer.

use serde_json::Value;

use crate::ast::{Aggregate, Condition, ConsentState, Count, CountOp, Quantifier, Test, Window};
use crate::time::{Clock, TimeRange, canonical_instant};

use super::events::{self, Aggregated, SequenceFacts};
use super::value::{self, Kind, Read};
use super::words::{self, quote};
use super::{Ctx, Explanation, Scope, SegmentRef, consent_rows, pattern};

type Outcome = (bool, String, Vec<Explanation>);

impl<'a> Ctx<'a> {
    pub(super) fn explain(&mut self, cond: &'a Condition, scope: Scope<'a>) -> Explanation {
        let (value, reason, children) = self.outcome(cond, scope);
        Explanation {
            condition: crate::print::condition_text(cond),
            value,
            reason,
            children,
        }
    }

    fn outcome(&mut self, cond: &'a Condition, scope: Scope<'a>) -> Outcome {
        match cond {
            Condition::All { of, .. } => self.group(of, scope, Group::All),
            Condition::Any { of, .. } => self.group(of, scope, Group::Any),
            Condition::None { of, .. } => self.group(of, scope, Group::None),
            Condition::Not { condition, .. } => {
                let child = self.explain(condition, scope);
                let reason = format!("the condition inside is {}", child.value);
                (!child.value, reason, vec![child])
            }
            Condition::Field { field, test, .. } => {
                let (kind, stored) = self.field(scope, field, test);
                let read = value::read(kind, stored);
                let v = value::holds(&read, test, self.clock);
                (
                    v,
                    field_reason(field, stored, &read, kind, test, self.clock),
                    Vec::new(),
                )
            }
            Condition::Did {
                event,
                count,
                window,
                filter,
                ..
            } => {
                let Scope::Person(p) = scope else {
                    return no_events();
                };
                let bounds = match self.clock.window(window) {
                    Ok(b) => b,
                    Err(e) => return bad_window(&e),
                };
                let n = events::count(self.matching(p, event, bounds, filter.as_deref()));
                let reason = format!(
                    "did {} {n} {}{}{} — needs {}",
                    quote(event),
                    if n == 1 { "time" } else { "times" },
                    words::window(window),
                    only_where(filter.as_deref()),
                    count_needs(*count)
                );
                (count.holds(n), reason, Vec::new())
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
                    return no_events();
                };
                let bounds = match self.clock.window(window) {
                    Ok(b) => b,
                    Err(e) => return bad_window(&e),
                };
                let agg = events::aggregate(
                    *function,
                    property,
                    self.matching(p, event, bounds, filter.as_deref()),
                );
                let v = super::aggregate_holds(*function, agg.value, test, self.clock);
                let head = format!(
                    "{} of {} in {}{}{}",
                    function.as_str(),
                    words::name(property),
                    quote(event),
                    words::window(window),
                    only_where(filter.as_deref()),
                );
                let reason = aggregate_reason(&head, *function, property, agg, test, self.clock);
                (v, reason, Vec::new())
            }
            Condition::Occurrence {
                which,
                event,
                test,
                filter,
                ..
            } => {
                let Scope::Person(p) = scope else {
                    return no_events();
                };
                let at = events::occurrence(
                    *which,
                    self.matching(p, event, (None, None), filter.as_deref()),
                );
                let v = value::holds_instant(at, test, self.clock);
                let reason = match at {
                    Some(t) => format!(
                        "{} {}{} was {} — {}",
                        words::which_word(*which),
                        quote(event),
                        only_where(filter.as_deref()),
                        canonical_instant(t),
                        needs(test, Kind::Stamp, self.clock)
                    ),
                    None => format!(
                        "never did {}{}",
                        quote(event),
                        only_where(filter.as_deref())
                    ),
                };
                (v, reason, Vec::new())
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
                    return no_events();
                };
                let bounds = match self.clock.window(window) {
                    Ok(b) => b,
                    Err(e) => return bad_window(&e),
                };
                let facts = events::sequence(
                    &p.events,
                    first,
                    then,
                    within.millis(),
                    bounds,
                    self.clock.now,
                );
                let words = SequenceWords {
                    first,
                    then,
                    within: words::duration(*within),
                    window,
                };
                (
                    facts.holds(*negated),
                    words.reason(&facts, *negated),
                    Vec::new(),
                )
            }
            Condition::InSegment { segment, .. } => self.in_segment(segment, scope),
            Condition::Consent {
                state,
                topic,
                channel,
                ..
            } => {
                let Scope::Person(p) = scope else {
                    return (false, "only people have subscriptions".into(), Vec::new());
                };
                let want = *state == ConsentState::Subscribed;
                let rows: Vec<_> = consent_rows(p, topic, channel.as_deref()).collect();
                let v = rows.iter().any(|c| c.subscribed == want);
                let via = channel
                    .as_deref()
                    .map(|c| format!(" via {c}"))
                    .unwrap_or_default();
                let reason = if rows.is_empty() {
                    format!("no recorded choice for {}{via}", quote(topic))
                } else {
                    let choices: Vec<String> = rows
                        .iter()
                        .map(|c| format!("{} {}", c.channel, state_word(c.subscribed)))
                        .collect();
                    format!(
                        "{}: {} — needs {}",
                        quote(topic),
                        choices.join(", "),
                        state_word(want)
                    )
                };
                (v, reason, Vec::new())
            }
            Condition::Account { condition, .. } => {
                let Scope::Person(p) = scope else {
                    return (false, "only people have an account".into(), Vec::new());
                };
                let Some(org) = p.account.as_deref() else {
                    return (false, "has no account".into(), Vec::new());
                };
                let child = self.explain(condition, Scope::Account(org));
                let reason = format!(
                    "the account {}",
                    if child.value {
                        "matches"
                    } else {
                        "does not match"
                    }
                );
                (child.value, reason, vec![child])
            }
            Condition::Members {
                quantifier,
                condition,
                ..
            } => {
                let Scope::Account(org) = scope else {
                    return (false, "only accounts have members".into(), Vec::new());
                };
                let children: Vec<Explanation> = org
                    .members
                    .iter()
                    .map(|m| self.explain(condition, Scope::Person(m)))
                    .collect();
                let (t, n) = (trues(&children), children.len());
                let (v, need) = match quantifier {
                    Quantifier::Any => (t > 0, "at least one"),
                    Quantifier::All => (t == n, "every one"),
                    Quantifier::No => (t == 0, "none"),
                };
                let reason = if n == 0 {
                    "the account has no members".to_owned()
                } else {
                    format!(
                        "{t} of {n} {} {} — needs {need}",
                        if n == 1 { "member" } else { "members" },
                        if t == 1 { "matches" } else { "match" }
                    )
                };
                (v, reason, children)
            }
        }
    }

    fn group(&mut self, of: &'a [Condition], scope: Scope<'a>, kind: Group) -> Outcome {
        let children: Vec<Explanation> = of.iter().map(|c| self.explain(c, scope)).collect();
        let (t, n) = (trues(&children), children.len());
        let (v, need) = match kind {
            Group::All => (t == n, "all"),
            Group::Any => (t > 0, "at least one"),
            Group::None => (t == 0, "none"),
        };
        let reason = if n == 0 {
            format!("no conditions, so {v}")
        } else {
            format!("{t} of {n} true — needs {need}")
        };
        (v, reason, children)
    }

    fn in_segment(&mut self, name: &'a str, scope: Scope<'a>) -> Outcome {
        match self.segment(name, scope) {
            SegmentRef::Dynamic(def) => {
                self.expanding.push(name);
                let child = self.explain(&def.condition, scope);
                self.expanding.pop();
                let reason = format!(
                    "saved segment {}: its condition is {}",
                    quote(name),
                    child.value
                );
                (child.value, reason, vec![child])
            }
            SegmentRef::Static(id) => {
                let on = scope.on_list(id);
                let reason = format!(
                    "{} the list {}",
                    if on { "on" } else { "not on" },
                    quote(name)
                );
                (on, reason, Vec::new())
            }
            SegmentRef::Unknown => (
                false,
                format!("no segment named {}", quote(name)),
                Vec::new(),
            ),
            SegmentRef::Cycle => (
                false,
                format!("segment {} refers back to itself", quote(name)),
                Vec::new(),
            ),
            SegmentRef::WrongSubject(subject) => {
                let here = scope.subject().map_or("events", |s| s.as_str());
                let reason = format!(
                    "segment {} selects {}, not {here}",
                    quote(name),
                    subject.as_str()
                );
                (false, reason, Vec::new())
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Group {
    All,
    Any,
    None,
}

fn trues(children: &[Explanation]) -> usize {
    children.iter().filter(|c| c.value).count()
}

fn no_events() -> Outcome {
    (false, "only people have events".into(), Vec::new())
}

fn bad_window(error: &str) -> Outcome {
    (
        false,
        format!("the window cannot be used: {error}"),
        Vec::new(),
    )
}

fn state_word(subscribed: bool) -> &'static str {
    if subscribed {
        "subscribed"
    } else {
        "unsubscribed"
    }
}

/// The filter itself is shown in the node's condition; the reason only
/// says that it narrowed the events down.
fn only_where(filter: Option<&Condition>) -> &'static str {
    if filter.is_some() {
        " (only those meeting its where)"
    } else {
        ""
    }
}

fn count_needs(count: Count) -> String {
    match count.op {
        CountOp::AtLeast => format!("at least {}", count.times),
        CountOp::AtMost => format!("at most {}", count.times),
        CountOp::Exactly if count.times == 0 => "none".to_owned(),
        CountOp::Exactly => format!("exactly {}", count.times),
    }
}

fn field_reason(
    field: &str,
    stored: Option<&Value>,
    read: &Read<'_>,
    kind: Kind,
    test: &Test,
    clock: &Clock,
) -> String {
    let name = words::name(field);
    let shown = stored.map(Value::to_string).unwrap_or_default();
    match read {
        Read::Missing => format!("no value for {name}"),
        Read::Other if !matches!(test, Test::Exists | Test::IsEmpty) => {
            format!("{name} is {shown}, which is not {}", kind.noun())
        }
        Read::Other | Read::Value(_) => format!("{name} is {shown} — {}", needs(test, kind, clock)),
    }
}

fn aggregate_reason(
    head: &str,
    function: Aggregate,
    property: &str,
    agg: Aggregated,
    test: &Test,
    clock: &Clock,
) -> String {
    let what = if function == Aggregate::DistinctCount {
        "a text or number"
    } else {
        "a number"
    };
    let from = match (agg.events, agg.values) {
        (0, _) => "no events".to_owned(),
        (e, 0) => format!(
            "{e} {}, none with {what} {}",
            events_word(e),
            words::name(property)
        ),
        (e, v) if e == v => format!("{e} {}", events_word(e)),
        (e, v) => format!(
            "{v} of {e} {} with {what} {}",
            events_word(e),
            words::name(property)
        ),
    };
    let needs = needs(test, Kind::Number, clock);
    match agg.value {
        Some(x) => format!("{head} is {x} (from {from}) — {needs}"),
        None => format!("{head} has no value (from {from}) — {needs}"),
    }
}

fn events_word(n: u64) -> &'static str {
    if n == 1 { "event" } else { "events" }
}

/// What a test asks for, in words, starting with "needs".
fn needs(test: &Test, kind: Kind, clock: &Clock) -> String {
    let time = matches!(kind, Kind::Datetime | Kind::Stamp);
    let lit = words::literal;
    match test {
        Test::Exists => "needs a value".into(),
        Test::IsEmpty => "needs no value".into(),
        Test::IsNot { value } => format!("needs anything but {}", lit(value)),
        Test::In { values } if values.is_empty() => "needs one of no values".into(),
        Test::In { values } => format!("needs one of {}", words::literals(values)),
        Test::NotIn { values } => format!("needs none of {}", words::literals(values)),
        Test::Contains { value } => format!("needs text containing {}", quote(value)),
        Test::NotContains { value } => format!("needs text not containing {}", quote(value)),
        Test::StartsWith { value } => format!("needs text starting with {}", quote(value)),
        Test::EndsWith { value } => format!("needs text ending with {}", quote(value)),
        Test::Matches { pattern } if pattern::is_valid(pattern) => {
            format!("needs text matching {}", quote(pattern))
        }
        Test::Matches { pattern } => {
            format!(
                "{} is not a valid pattern, so nothing matches",
                quote(pattern)
            )
        }
        Test::HasAny { values } => format!("needs any of {}", words::quotes(values)),
        Test::HasAll { values } if values.is_empty() => "needs nothing in particular".into(),
        Test::HasAll { values } => format!("needs all of {}", words::quotes(values)),
        Test::HasNone { values } => format!("needs none of {}", words::quotes(values)),
        Test::AnniversaryWithinNext { days } => format!(
            "needs an anniversary within the next {days} {}",
            words::plural(u64::from(*days), "day")
        ),
        Test::WithinLast { .. } | Test::MoreThanAgo { .. } | Test::WithinNext { .. } => match clock
            .relative(test, kind == Kind::Date)
        {
            Some(TimeRange::Dates { low, high }) if kind == Kind::Date => date_bounds(low, high),
            Some(TimeRange::Instants { low, high }) if time => instant_bounds(low, high),
            _ => format!("needs {}", Kind::Date.noun()),
        },
        Test::Is { .. }
        | Test::Gt { .. }
        | Test::Gte { .. }
        | Test::Lt { .. }
        | Test::Lte { .. }
        | Test::Between { .. }
            if time =>
        {
            match clock.instant_range(test) {
                Some((low, high)) => instant_bounds(low, high),
                None => "needs a date or time to compare with".into(),
            }
        }
        Test::Is { value } => format!("needs {}", lit(value)),
        Test::Gt { value } => format!("needs {} {}", above(kind), lit(value)),
        Test::Gte { value } => format!("needs {} or {}", lit(value), more(kind)),
        Test::Lt { value } => format!("needs {} {}", below(kind), lit(value)),
        Test::Lte { value } => format!("needs {} or {}", lit(value), less(kind)),
        Test::Between { low, high } => {
            format!("needs between {} and {}", lit(low), lit(high))
        }
    }
}

fn above(kind: Kind) -> &'static str {
    if kind == Kind::Number {
        "more than"
    } else {
        "after"
    }
}

fn below(kind: Kind) -> &'static str {
    if kind == Kind::Number {
        "less than"
    } else {
        "before"
    }
}

fn more(kind: Kind) -> &'static str {
    if kind == Kind::Number {
        "more"
    } else {
        "later"
    }
}

fn less(kind: Kind) -> &'static str {
    if kind == Kind::Number {
        "less"
    } else {
        "earlier"
    }
}

fn instant_bounds(low: Option<i64>, high: Option<i64>) -> String {
    match (low, high) {
        (Some(l), Some(h)) if l == h => format!("needs {}", canonical_instant(l)),
        (Some(l), Some(h)) => format!(
            "needs between {} and {}",
            canonical_instant(l),
            canonical_instant(h)
        ),
        (Some(l), None) => format!("needs {} or later", canonical_instant(l)),
        (None, Some(h)) => format!("needs before {}", canonical_instant(h.saturating_add(1))),
        (None, None) => "needs any time".into(),
    }
}

fn date_bounds(low: Option<String>, high: Option<String>) -> String {
    match (low, high) {
        (Some(l), Some(h)) => format!("needs between {l} and {h}"),
        (Some(l), None) => format!("needs {l} or later"),
        (None, Some(h)) => format!("needs {h} or earlier"),
        (None, None) => "needs any date".into(),
    }
}

/// Words for a sequence's facts.
struct SequenceWords<'w> {
    first: &'w str,
    then: &'w str,
    within: String,
    window: &'w Window,
}

impl SequenceWords<'_> {
    fn reason(&self, facts: &SequenceFacts, negated: bool) -> String {
        let (a, b, within) = (quote(self.first), quote(self.then), &self.within);
        let window = words::window(self.window);
        let n = facts.firsts;
        if n == 0 {
            return format!("did {a} 0 times{window}");
        }
        let of_n = format!("of {n} {a} {}{window}", events_word(n));
        match (negated, facts.followed_example, facts.unfollowed_example) {
            (false, Some((at, then_at)), _) => format!(
                "did {a} at {} then {b} at {} ({} {of_n} followed within {within})",
                canonical_instant(at),
                canonical_instant(then_at),
                facts.followed
            ),
            (false, None, _) => format!("none {of_n} was followed by {b} within {within}"),
            (true, _, Some(at)) => format!(
                "{a} at {} was not followed by {b} within {within} ({} {of_n} unfollowed)",
                canonical_instant(at),
                facts.unfollowed
            ),
            (true, _, None) => format!(
                "{} {of_n} followed by {b} within {within}; {} still inside their {within} — needs one whose {within} passed without {b}",
                facts.followed, facts.open
            ),
        }
    }
}
