//! The send ledger: one row per person in a broadcast's audience, claimed and settled in batches.
