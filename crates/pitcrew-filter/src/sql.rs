//! Compiling a checked tree to SQL for SQLite and PostgreSQL.

use crate::ast::Segment;
use crate::error::Problem;
use crate::schema::Schema;
use crate::time::Clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// `SELECT <alias>.id FROM contacts|accounts … WHERE …` for the segment's
/// members in one workspace, with every value written inline.
pub fn members(
    segment: &Segment,
    schema: &Schema,
    clock: &Clock,
    dialect: Dialect,
    workspace_id: i64,
) -> Result<String, Problem> {
    let _ = (segment, schema, clock, dialect, workspace_id);
    Err(Problem::new(
        "not_built",
        "the SQL compiler is not built yet",
    ))
}

/// `SELECT COUNT(*) …` for the segment's members.
pub fn count(
    segment: &Segment,
    schema: &Schema,
    clock: &Clock,
    dialect: Dialect,
    workspace_id: i64,
) -> Result<String, Problem> {
    let _ = (segment, schema, clock, dialect, workspace_id);
    Err(Problem::new(
        "not_built",
        "the SQL compiler is not built yet",
    ))
}
