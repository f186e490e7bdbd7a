//! Email templates: HTML or MJML with a plain-text part, preview and test sends.
