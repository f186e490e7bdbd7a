//! Campaigns: consent and suppression, templates and their rendering,
//! sending providers and sending rules, broadcasts with their pre-launch
//! checks, the sender that works through the send ledger, tracking,
//! unsubscribes, bounces and statistics.

pub mod bounce;
pub mod broadcast;
pub mod consent;
pub mod feedback;
pub mod message;
pub mod provider;
pub mod render;
pub mod send;
pub mod smtp;
pub mod suppression;
pub mod template;
pub mod token;
