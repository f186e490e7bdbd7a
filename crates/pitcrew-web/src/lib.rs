//! pitcrew-web
