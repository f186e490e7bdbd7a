//! "The record has related rows that …": events, consent choices, list
//! memberships, the account, the members. Written in the form each engine
//! runs best over a whole workspace:
//!
//! - SQLite: `<key> IN (SELECT <link> FROM … [GROUP BY +<link> HAVING …])`,
//!   evaluated once per statement and looked up per record, instead of one
//!   index probe per record;
//! - PostgreSQL: `EXISTS (SELECT 1 FROM … WHERE <link> = <key>)`, which the
//!   planner turns into a semi- or anti-join (or a hashed subplan), and which
//!   stays a per-record index probe, never a quadratic scan, when it cannot.

use super::frag::{self, Frag};
use super::{Compiler, Dialect};

/// Rows of one table that belong to the outer record and meet conditions,
/// optionally grouped per outer record with a `HAVING` test.
pub(crate) struct Related {
    pub(crate) table: &'static str,
    pub(crate) alias: String,
    /// The column of `table` that points at the outer record.
    pub(crate) link: &'static str,
    /// Whether `link` may be NULL (anonymous events, contacts without an
    /// account): such rows belong to no record.
    pub(crate) link_nullable: bool,
    /// The outer record's key, such as `c0.id` or `c0.account_id`.
    pub(crate) key: String,
    /// Whether the key may be NULL (a contact without an account).
    pub(crate) key_nullable: bool,
    /// The workspace filter first, then the rest.
    pub(crate) conditions: Vec<Frag>,
    /// A test on each record's group of rows.
    pub(crate) having: Option<Frag>,
}

impl Compiler<'_> {
    /// True when the outer record has such rows (or such a group).
    pub(crate) fn related(&self, r: Related) -> Frag {
        if r.conditions.iter().any(Frag::is_false) || r.having.as_ref().is_some_and(Frag::is_false)
        {
            return Frag::constant(false);
        }
        let having = r.having.clone().filter(|h| !h.is_true());
        match (self.dialect, having) {
            (Dialect::Sqlite, having) => sqlite_in(r, having),
            (Dialect::Postgres, None) => postgres_exists(r),
            (Dialect::Postgres, Some(having)) => postgres_grouped(r, having),
        }
    }
}

/// The conditions with `link IS NOT NULL` after the workspace filter, for a
/// set that must never contain NULL (`x IN (…, NULL)` is NULL, not false).
fn set_conditions(r: &Related) -> Frag {
    let mut parts = r.conditions.clone();
    if r.link_nullable {
        let not_null = Frag::pred(format!("{}.{} IS NOT NULL", r.alias, r.link));
        parts.insert(parts.len().min(1), not_null);
    }
    frag::all(parts)
}

fn sqlite_in(r: Related, having: Option<Frag>) -> Frag {
    let (alias, link, key) = (&r.alias, r.link, &r.key);
    // `+` keeps SQLite from grouping by walking the link's index (which
    // reads every row of the table to test the other conditions); it then
    // uses the narrower index the conditions pick and sorts the few rows
    // found — 140 s against 4.5 s on 20 million events.
    let grouped = having.map_or(String::new(), |h| {
        format!(" GROUP BY +{alias}.{link} HAVING {}", h.sql)
    });
    let inside = format!(
        "{key} IN (SELECT {alias}.{link} FROM {} AS {alias} WHERE {}{grouped})",
        r.table,
        set_conditions(&r).sql
    );
    if r.key_nullable {
        return Frag::atom(format!("({key} IS NOT NULL AND {inside})"));
    }
    let outside = inside.replacen(" IN (", " NOT IN (", 1);
    Frag::pred(inside).negated_as(outside)
}

fn postgres_exists(r: Related) -> Frag {
    let mut parts = r.conditions;
    let link = Frag::pred(format!("{}.{} = {}", r.alias, r.link, r.key));
    parts.insert(parts.len().min(1), link);
    frag::exists(r.table, &r.alias, parts)
}

fn postgres_grouped(r: Related, having: Frag) -> Frag {
    let (alias, link, key) = (&r.alias, r.link, &r.key);
    let people = format!("{alias}_by_{}", r.link.trim_end_matches("_id"));
    Frag::atom(format!(
        "EXISTS (SELECT 1 FROM (SELECT {alias}.{link} FROM {} AS {alias} WHERE {} GROUP BY {alias}.{link} HAVING {}) AS {people} WHERE {people}.{link} = {key})",
        r.table,
        set_conditions(&r).sql,
        having.sql
    ))
}
