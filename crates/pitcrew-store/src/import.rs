//! Storage for CSV imports.
