//! Integration tests of the filter language.

mod json;
