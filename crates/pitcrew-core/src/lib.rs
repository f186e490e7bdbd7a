//! pitcrew-core: the domain types and pure rules every other crate shares.
//!
//! Nothing here performs IO, awaits, reads a clock or writes SQL: time and
//! everything else a rule depends on arrive as arguments, so rules are
//! deterministic and tested in isolation.

pub mod admin;
pub mod campaign;
pub mod event;
pub mod record;
pub mod suggest;
pub mod time;
