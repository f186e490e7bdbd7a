//! pitcrew-testkit
