//! Compiling a checked tree to SQL for SQLite and PostgreSQL, with every value
//! written inline and escaped, so the same text runs in the app, in a
//! terminal and in a data team's warehouse.
//!
//! Related rows (events, consent, list membership, the person's account, an
//! account's members) are subqueries with table aliases of their own (`c0`,
//! `e1`, `a2`, …), each also filtered on the workspace. Every fragment is
//! two-valued, so `NOT` means exactly "not".

mod dialect;
mod event;
mod field;
mod frag;
mod related;

use pitcrew_core::record::ObjectKind;

pub use dialect::Dialect;

use crate::ast::{Condition, ConsentState, Quantifier, Segment, Subject};
use crate::error::Problem;
use crate::schema::Schema;
use crate::time::Clock;
use event::Events;
use frag::Frag;
use related::Related;

/// `SELECT <alias>.id FROM contacts|accounts AS <alias> WHERE …` for the
/// segment's members in one workspace, with every value written inline.
pub fn members(
    segment: &Segment,
    schema: &Schema,
    clock: &Clock,
    dialect: Dialect,
    workspace_id: i64,
) -> Result<String, Problem> {
    select(segment, schema, clock, dialect, workspace_id, Output::Ids)
}

/// `SELECT COUNT(*) AS n FROM …` for the segment's members.
pub fn count(
    segment: &Segment,
    schema: &Schema,
    clock: &Clock,
    dialect: Dialect,
    workspace_id: i64,
) -> Result<String, Problem> {
    select(segment, schema, clock, dialect, workspace_id, Output::Count)
}

/// Only the boolean expression, over a `contacts` (people) or `accounts`
/// table aliased `alias`, for a caller that writes the rest of the query
/// (`… WHERE c.workspace_id = $1 AND (<condition>) ORDER BY …`). It never
/// yields NULL, and is parenthesised when it is an `OR`.
pub fn condition(
    segment: &Segment,
    schema: &Schema,
    clock: &Clock,
    dialect: Dialect,
    workspace_id: i64,
    alias: &str,
) -> Result<String, Problem> {
    check_alias(alias)?;
    let frag = compile_root(segment, schema, clock, dialect, workspace_id, alias)?;
    Ok(frag.standalone())
}

/// What a whole statement returns.
enum Output {
    Ids,
    Count,
}

fn select(
    segment: &Segment,
    schema: &Schema,
    clock: &Clock,
    dialect: Dialect,
    workspace_id: i64,
    output: Output,
) -> Result<String, Problem> {
    let (table, alias) = match segment.subject {
        Subject::People => ("contacts", "c0"),
        Subject::Accounts => ("accounts", "a0"),
    };
    let frag = compile_root(segment, schema, clock, dialect, workspace_id, alias)?;
    let columns = match output {
        Output::Ids => format!("{alias}.id"),
        Output::Count => "COUNT(*) AS n".to_string(),
    };
    let workspace = format!("{alias}.workspace_id = {workspace_id}");
    // The workspace filter stays first and visible even when the condition
    // folds to a constant.
    let condition = if frag.is_true() {
        workspace
    } else {
        format!("{workspace} AND {}", frag.and_operand())
    };
    Ok(format!(
        "SELECT {columns} FROM {table} AS {alias} WHERE {condition}"
    ))
}

fn compile_root(
    segment: &Segment,
    schema: &Schema,
    clock: &Clock,
    dialect: Dialect,
    workspace_id: i64,
    alias: &str,
) -> Result<Frag, Problem> {
    let mut compiler = Compiler {
        schema,
        clock,
        dialect,
        workspace: workspace_id,
        root: alias.to_string(),
        next: 0,
        inlining: Vec::new(),
    };
    let scope = match segment.subject {
        Subject::People => Scope::Contact(alias.to_string()),
        Subject::Accounts => Scope::Account(alias.to_string()),
    };
    compiler.compile(&segment.condition, &scope, "/where")
}

/// A caller's alias is pasted into the SQL, so it must be a plain name.
fn check_alias(alias: &str) -> Result<(), Problem> {
    let mut chars = alias.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && alias.len() <= 63;
    if plain {
        Ok(())
    } else {
        Err(Problem::new(
            "alias_invalid",
            format!("`{alias}` is not a plain table alias; use lowercase letters, digits and _"),
        ))
    }
}

/// The record a node is about.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// A person: a `contacts` row with this alias.
    Contact(String),
    /// An account: an `accounts` row with this alias.
    Account(String),
    /// An event inside a `did … where …`: an `events` row with this alias.
    Event(String),
}

/// The state of one compilation: where values come from, and the aliases
/// and segments in use.
pub(crate) struct Compiler<'a> {
    schema: &'a Schema,
    clock: &'a Clock,
    dialect: Dialect,
    workspace: i64,
    /// The outermost alias, which no nested alias may repeat.
    root: String,
    next: u32,
    /// Names of the segments being inlined, outermost first.
    inlining: Vec<String>,
}

impl Compiler<'_> {
    /// A table alias not used elsewhere in the statement.
    pub(crate) fn fresh(&mut self, prefix: &str) -> String {
        loop {
            self.next += 1;
            let alias = format!("{prefix}{}", self.next);
            if alias != self.root {
                return alias;
            }
        }
    }

    /// One node; problems found below get this node's place when they have
    /// none yet.
    pub(crate) fn compile(
        &mut self,
        node: &Condition,
        scope: &Scope,
        path: &str,
    ) -> Result<Frag, Problem> {
        self.node(node, scope, path).map_err(|p| {
            if p.path.is_empty() {
                p.at(node.span(), path)
            } else {
                p
            }
        })
    }

    fn node(&mut self, node: &Condition, scope: &Scope, path: &str) -> Result<Frag, Problem> {
        match node {
            Condition::All { of, .. } => Ok(frag::all(self.children(of, scope, path)?)),
            Condition::Any { of, .. } => Ok(frag::any(self.children(of, scope, path)?)),
            Condition::None { of, .. } => Ok(frag::not(frag::any(self.children(of, scope, path)?))),
            Condition::Not { condition, .. } => Ok(frag::not(self.compile(
                condition,
                scope,
                &format!("{path}/condition"),
            )?)),
            Condition::Field { field, test, .. } => match scope {
                Scope::Contact(a) => {
                    let op = self.field_operand(ObjectKind::Contact, a, field)?;
                    self.apply(&op, test)
                }
                Scope::Account(a) => {
                    let op = self.field_operand(ObjectKind::Account, a, field)?;
                    self.apply(&op, test)
                }
                Scope::Event(e) => self.property_test(e, field, test),
            },
            Condition::Did {
                event,
                count,
                window,
                filter,
                ..
            } => {
                let person = person(scope, "did")?;
                let events = Events {
                    name: event,
                    window: Some(window),
                    filter: filter.as_deref(),
                    until: None,
                };
                self.did(&person, &events, *count, path)
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
                let person = person(scope, "an aggregate of events")?;
                let events = Events {
                    name: event,
                    window: Some(window),
                    filter: filter.as_deref(),
                    until: None,
                };
                self.aggregate(&person, *function, property, &events, test, path)
            }
            Condition::Occurrence {
                which,
                event,
                test,
                filter,
                ..
            } => {
                let person = person(scope, "first and last")?;
                let events = Events {
                    name: event,
                    window: None,
                    filter: filter.as_deref(),
                    until: None,
                };
                self.occurrence(&person, *which, &events, test, path)
            }
            Condition::Sequence { .. } => {
                let person = person(scope, "a sequence of events")?;
                self.sequence(&person, node, path)
            }
            Condition::InSegment { segment, .. } => self.in_segment(segment, scope),
            Condition::Consent {
                state,
                topic,
                channel,
                ..
            } => {
                let person = person(scope, "subscriptions")?;
                self.consent(&person, *state, topic, channel.as_deref())
            }
            Condition::Account { condition, .. } => {
                let person = person(scope, "account where")?;
                self.account(&person, condition, path)
            }
            Condition::Members {
                quantifier,
                condition,
                ..
            } => {
                let Scope::Account(account) = scope else {
                    return Err(out_of_scope("member quantifiers"));
                };
                self.members(account, *quantifier, condition, path)
            }
        }
    }

    /// `account where …`: false for someone without an account.
    fn account(
        &mut self,
        person: &str,
        condition: &Condition,
        path: &str,
    ) -> Result<Frag, Problem> {
        let a = self.fresh("a");
        let inner = self.compile(
            condition,
            &Scope::Account(a.clone()),
            &format!("{path}/condition"),
        )?;
        Ok(self.related(Related {
            table: "accounts",
            link: "id",
            link_nullable: false,
            key: format!("{person}.account_id"),
            key_nullable: true,
            conditions: vec![
                Frag::pred(format!("{a}.workspace_id = {}", self.workspace)),
                inner,
            ],
            having: None,
            alias: a,
        }))
    }

    /// `any member where …`, `all members where …`, `no member where …`.
    fn members(
        &mut self,
        account: &str,
        quantifier: Quantifier,
        condition: &Condition,
        path: &str,
    ) -> Result<Frag, Problem> {
        let c = self.fresh("c");
        let inner = self.compile(
            condition,
            &Scope::Contact(c.clone()),
            &format!("{path}/condition"),
        )?;
        let member = |extra: Frag| {
            self.related(Related {
                table: "contacts",
                alias: c.clone(),
                link: "account_id",
                link_nullable: true,
                key: format!("{account}.id"),
                key_nullable: false,
                conditions: vec![
                    Frag::pred(format!("{c}.workspace_id = {}", self.workspace)),
                    extra,
                ],
                having: None,
            })
        };
        Ok(match quantifier {
            Quantifier::Any => member(inner),
            Quantifier::No => frag::not(member(inner)),
            // Every member satisfies it: no member fails it.
            Quantifier::All => frag::not(member(frag::not(inner))),
        })
    }

    fn children(
        &mut self,
        of: &[Condition],
        scope: &Scope,
        path: &str,
    ) -> Result<Vec<Frag>, Problem> {
        of.iter()
            .enumerate()
            .map(|(i, c)| self.compile(c, scope, &format!("{path}/of/{i}")))
            .collect()
    }

    /// A dynamic segment's condition inlined on the same record, or a static
    /// list's stored membership.
    fn in_segment(&mut self, name: &str, scope: &Scope) -> Result<Frag, Problem> {
        let (record, subject) = match scope {
            Scope::Contact(a) => (a.clone(), Subject::People),
            Scope::Account(a) => (a.clone(), Subject::Accounts),
            Scope::Event(_) => return Err(out_of_scope("in segment")),
        };
        let Some(info) = self.schema.segment(name) else {
            return Err(Problem::new(
                "segment_unknown",
                format!("there is no segment named {name:?}; check its name"),
            ));
        };
        if info.subject != subject {
            return Err(Problem::new(
                "segment_subject",
                format!(
                    "segment {name:?} selects {}, not {}",
                    info.subject.as_str(),
                    subject.as_str()
                ),
            ));
        }
        let Some(definition) = &info.definition else {
            let s = self.fresh("sm");
            return Ok(self.related(Related {
                table: "segment_members",
                link: "member_id",
                link_nullable: false,
                key: format!("{record}.id"),
                key_nullable: false,
                conditions: vec![
                    Frag::pred(format!("{s}.workspace_id = {}", self.workspace)),
                    Frag::pred(format!("{s}.segment_id = {}", info.id)),
                ],
                having: None,
                alias: s,
            }));
        };
        if self.inlining.iter().any(|n| n == name) {
            return Err(Problem::new(
                "segment_cycle",
                format!("segment {name:?} refers to itself through other segments"),
            ));
        }
        self.inlining.push(name.to_string());
        let inlined = self.compile(&definition.condition, scope, "/where");
        self.inlining.pop();
        // A problem inside the other segment is reported at the reference to
        // it: its own places mean nothing in this condition.
        inlined.map_err(|p| Problem::new(p.code, format!("in segment {name:?}: {}", p.message)))
    }

    /// Someone with a recorded choice for the topic (on the channel, if
    /// given) of the asked state.
    fn consent(
        &mut self,
        person: &str,
        state: ConsentState,
        topic: &str,
        channel: Option<&str>,
    ) -> Result<Frag, Problem> {
        let k = self.fresh("cs");
        let mut conditions = vec![
            Frag::pred(format!("{k}.workspace_id = {}", self.workspace)),
            Frag::pred(format!("{k}.topic = {}", self.dialect.text(topic)?)),
        ];
        if let Some(channel) = channel {
            conditions.push(Frag::pred(format!(
                "{k}.channel = {}",
                self.dialect.text(channel)?
            )));
        }
        conditions.push(match state {
            ConsentState::Subscribed => Frag::pred(format!("{k}.subscribed")),
            ConsentState::Unsubscribed => Frag::pred(format!("NOT {k}.subscribed")),
        });
        Ok(self.related(Related {
            table: "consent_state",
            alias: k,
            link: "contact_id",
            link_nullable: false,
            key: format!("{person}.id"),
            key_nullable: false,
            conditions,
            having: None,
        }))
    }
}

/// The person's alias, for nodes only people have.
fn person(scope: &Scope, what: &str) -> Result<String, Problem> {
    match scope {
        Scope::Contact(a) => Ok(a.clone()),
        _ => Err(out_of_scope(what)),
    }
}

fn out_of_scope(what: &str) -> Problem {
    Problem::new("node_out_of_scope", format!("{what} cannot be used here"))
}
