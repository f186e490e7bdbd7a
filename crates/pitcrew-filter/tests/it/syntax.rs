//! The text form: parsing, printing, round trips and syntax errors.
