//! Storage for campaigns: the consent ledger, suppression lists, sending
//! providers, templates, broadcasts, the send ledger and message events.

pub mod broadcast;
pub mod consent;
pub mod ledger;
pub mod provider;
pub mod suppression;
pub mod template;
