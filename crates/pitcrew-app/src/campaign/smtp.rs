//! Delivering over SMTP: a pooled transport per provider and its rate limits.
