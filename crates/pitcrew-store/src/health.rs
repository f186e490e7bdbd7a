//! Queries behind the data health report.
