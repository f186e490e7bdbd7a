//! Secrets: random tokens, their hashes, and password hashing (argon2id).
//! Tokens and session ids are long random values, so a fast hash (SHA-256)
//! is enough to store them; passwords are slow-hashed.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

use crate::AppError;

/// `len` random bytes as lowercase hex.
pub fn random_hex(len: usize) -> String {
    let mut buf = vec![0u8; len];
    // The operating system's random source failing is not recoverable.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("operating system random source");
    hex::encode(buf)
}

pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

pub const MIN_PASSWORD_CHARS: usize = 10;

pub fn hash_password(password: &str) -> Result<String, AppError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(
            "password_too_short",
            "password",
            format!(
                "passwords need at least {MIN_PASSWORD_CHARS} characters; a few random words work well"
            ),
        ));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::new(crate::ErrorKind::Internal, "internal", e.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
    }

    #[test]
    fn short_passwords_are_refused() {
        let e = hash_password("short").expect_err("too short");
        assert_eq!(e.code, "password_too_short");
    }

    #[test]
    fn random_tokens_differ() {
        assert_ne!(random_hex(32), random_hex(32));
        assert_eq!(random_hex(32).len(), 64);
    }
}
