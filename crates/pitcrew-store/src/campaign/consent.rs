//! The consent ledger and the consent state derived from it.
