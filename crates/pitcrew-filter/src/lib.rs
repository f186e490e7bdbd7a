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
//! The text form, as read by [`parse`] and written by [`to_text`]. Words in
//! quotes are keywords; `[ … ]` is optional and `{ … }` repeats.
//!
//! ```text
//! segment    = [ subject "where" ] condition ;       (* no subject: people *)
//! subject    = "people" | "accounts" ;
//!
//! condition  = group | "not" condition | field_test | did | sequence
//!            | aggregate | occurrence | in_segment | consent | account
//!            | members ;
//! group      = ( "all" | "any" | "none" ) "of"
//!              ( ":" block | "(" [ condition { "," condition } ] ")" ) ;
//! block      = NEWLINE INDENT condition { NEWLINE condition } DEDENT ;
//!
//! field_test = name test ;
//! did        = "did" EVENT [ count ] [ window ] [ "where" condition ]
//!            | "did" "not" EVENT [ window ] [ "where" condition ] ;
//! count      = ( "at" "least" | "at" "most" | "exactly" ) N ( "time" | "times" ) ;
//! window     = "in" "last" duration | "between" STR "and" STR
//!            | "since" STR | "ever" ;
//! sequence   = "did" EVENT "then" [ "not" ] EVENT "within" duration [ window ] ;
//! aggregate  = ( "sum" | "average" | "min" | "max" | "distinct" "count" )
//!              "of" name "in" EVENT [ window ] test [ "where" condition ] ;
//! occurrence = ( "first" | "last" ) EVENT test [ "where" condition ] ;
//! in_segment = "in" "segment" STR ;
//! consent    = ( "subscribed" "to" | "unsubscribed" "from" ) STR [ "via" name ] ;
//! account    = "account" "where" condition ;
//! members    = ( "any" | "all" | "no" ) ( "member" | "members" ) "where" condition ;
//!
//! test       = "is" lit | "is" "not" lit | "is" "empty" | "exists"
//!            | "contains" STR | "does" "not" "contain" STR
//!            | "starts" "with" STR | "ends" "with" STR | "matches" STR
//!            | "in" list | "not" "in" list
//!            | ">" lit | ">=" lit | "<" lit | "<=" lit
//!            | "before" lit | "after" lit            (* the same as < and > *)
//!            | "between" lit "and" lit
//!            | "within" "last" duration | "within" "next" duration
//!            | "more" "than" duration "ago"
//!            | "anniversary" "within" "next" N ( "day" | "days" )
//!            | "has" ( "any" | "all" | "none" ) "of" texts ;
//! duration   = N ( "minute" | "minutes" | "hour" | "hours"
//!                | "day" | "days" | "week" | "weeks" ) ;
//! lit        = STR | NUMBER | "true" | "false" ;
//! list       = "[" [ lit { "," lit } ] "]" ;
//! texts      = "[" [ STR { "," STR } ] "]" ;
//! name       = WORD | STR ;
//! EVENT      = STR ;
//!
//! WORD       = ( letter | "_" ) { letter | digit | "_" } ;  (* ASCII letters *)
//! STR        = '"' { character | '\"' | '\\' | '\n' | '\t' } '"' ;
//!                                  (* character: anything but ", \ or a line break *)
//! NUMBER     = [ "-" ] digit { digit } [ "." digit { digit } ] ;
//! N          = digit { digit } ;                     (* 0 to 4294967295 *)
//! ```
//!
//! Layout and meaning the BNF leaves out:
//! - A condition is written on one line. Line breaks count only outside
//!   brackets: inside `( )` and `[ ]` they mean nothing. `#` starts a
//!   comment that runs to the end of its line. The condition after
//!   `people where` may start on the next line.
//! - A block's lines (NEWLINE INDENT … DEDENT) are indented with spaces,
//!   all by the same amount and more than the line holding its `:`. The
//!   block ends at the first line indented no more than that line; a line
//!   indented in between is an error. Blocks cannot stand inside brackets.
//! - A word followed by a test is a field name, even a keyword such as
//!   `last` or `account` (`last is "x"`); any name can also be quoted.
//!   Otherwise a keyword starts its own form: `last "Email Clicked" …`.
//! - After an aggregate's event, `between STR "and" STR` is its window only
//!   when a test follows; otherwise it is the test.
//! - `did "X"` means at least once and `did not "X"` exactly 0 times (which
//!   `did "X" exactly 0 times` also means). An unwritten window is `ever`.
//! - Texts are at most 64 KiB, and conditions nest at most 64 deep.
//!
//! The canonical text ([`to_text`]) always names the subject, writes every
//! non-empty group as a block indented two spaces a level (an empty one as
//! `all of ()`), leaves out `at least 1 time` and `ever`, writes `before`
//! and `after` for texts and `<` and `>` for numbers, and quotes a name
//! that is not a plain word or that is a keyword.

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
pub use parse::{from_json, from_json_value, parse};
pub use print::{condition_text, to_json, to_text};
pub use schema::Schema;
pub use time::Clock;
