//! The type-checker: every problem with its code, message and span.
