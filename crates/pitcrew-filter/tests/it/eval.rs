//! The in-memory evaluator and explanations.
