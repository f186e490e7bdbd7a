//! CSV import of contacts and accounts.
