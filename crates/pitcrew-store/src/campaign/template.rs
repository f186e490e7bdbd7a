//! Email templates.
