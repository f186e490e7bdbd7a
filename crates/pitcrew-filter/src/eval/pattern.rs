//! `matches` patterns: compiled once and kept in a small shared cache, since
//! the same few patterns are tested against every incoming event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use regex::Regex;

/// Enough for every pattern of a busy workspace's segments; the cache is
/// simply emptied when full.
const CAPACITY: usize = 256;

type Cache = Mutex<HashMap<String, Option<Arc<Regex>>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// Unanchored search with `.` matching line breaks. A pattern that does not
/// compile matches nothing.
pub(super) fn is_match(pattern: &str, text: &str) -> bool {
    compiled(pattern).is_some_and(|re| re.is_match(text))
}

/// Whether the pattern compiles, for explanations.
pub(super) fn is_valid(pattern: &str) -> bool {
    compiled(pattern).is_some()
}

fn compiled(pattern: &str) -> Option<Arc<Regex>> {
    let lock = || cache().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = lock().get(pattern) {
        return found.clone();
    }
    // Compiled outside the lock: a large pattern must not stall other
    // evaluations.
    let re = Regex::new(&format!("(?s){pattern}")).ok().map(Arc::new);
    let mut map = lock();
    if map.len() >= CAPACITY {
        map.clear();
    }
    map.insert(pattern.to_owned(), re.clone());
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_a_line_break() {
        assert!(is_match("a.b", "a\nb"));
    }

    #[test]
    fn a_pattern_that_does_not_compile_matches_nothing() {
        assert!(!is_match("(", "("));
        assert!(!is_valid("a)("));
    }

    #[test]
    fn a_full_cache_keeps_working() {
        for i in 0..(CAPACITY + 10) {
            assert!(is_match(&format!("x{i}$"), &format!("ax{i}")));
        }
    }
}
