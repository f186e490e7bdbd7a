//! The consent ledger: every opt-in and opt-out, and the current state derived from it.
