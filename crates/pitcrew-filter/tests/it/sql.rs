//! The SQL compiler: generated SQL for both engines.
