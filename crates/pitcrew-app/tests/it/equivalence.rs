//! The SQL compiler and the in-memory evaluator agree on random conditions and random data, on both engines.
