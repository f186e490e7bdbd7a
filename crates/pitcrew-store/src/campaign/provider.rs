//! Sending providers.
