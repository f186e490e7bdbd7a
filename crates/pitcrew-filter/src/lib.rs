//! pitcrew's audience filter language.
//!
//! One condition tree ([`ast::Segment`]) with a text form for marketers
//! ([`parse`], [`to_text`]) and a JSON form for machines ([`from_json`],
//! [`to_json`]) that round-trip exactly. [`check`] type-checks a tree
//! against the workspace's [`Schema`] and normalises its literals;
//! [`sql`] compiles a checked tree to SQL for SQLite and PostgreSQL;
//! [`eval`] evaluates it against one person or account in memory and
//! explains the result. All of them read time from an explicit [`Clock`].
//!
//! GRAMMAR
//!
//! (the BNF of the text form goes here)

pub mod ast;
pub mod check;
pub mod error;
pub mod eval;
pub mod parse;
pub mod print;
pub mod schema;
pub mod sql;
pub mod time;

pub use ast::{Condition, Segment, Subject, Test};
pub use check::{Checked, check};
pub use error::Problem;
pub use parse::{from_json, parse};
pub use print::{to_json, to_text};
pub use schema::Schema;
pub use time::Clock;
