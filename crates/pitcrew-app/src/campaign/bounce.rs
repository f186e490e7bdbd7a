//! Bounce and complaint reports (DSN, RFC 3464; ARF, RFC 5965) read into what happened to which message.
