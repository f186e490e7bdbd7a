//! HTTP-level tests of the API: every route's role checks, workspace
//! isolation, error shapes, sessions, and a real server over TCP. Each test
//! runs on SQLite and on PostgreSQL.

mod audience;
mod campaign;
mod errors;
mod health;
mod import;
mod isolation;
mod matrix;
mod server;
mod session;
mod support;
mod tracking;
mod ui;
mod ui_admin;
mod ui_broadcasts;
mod ui_imports;
mod ui_people;
mod ui_segments;
