//! Suppression lists and soft-bounce counts.
