//! The REST API under `/api/v1`, one module per area.

pub mod admin;
pub mod audience;
pub mod campaign;
pub(crate) mod download;
pub mod events;
pub mod health;
pub mod import;
pub mod record;
