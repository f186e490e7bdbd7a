//! Broadcasts and their message events.
