//! The REST API under `/api/v1`, one module per area.

pub mod admin;
pub mod health;
pub mod import;
pub mod record;
