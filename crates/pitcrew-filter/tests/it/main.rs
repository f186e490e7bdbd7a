//! Integration tests of the filter language.

mod checker;
mod eval;
mod json;
mod sql;
mod syntax;
