//! Sending providers (SMTP servers with their limits) and the workspace's sending rules.
