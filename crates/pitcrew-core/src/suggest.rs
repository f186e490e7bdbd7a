//! "Did you mean …?" suggestions for names a user typed: the closest known
//! name by edit distance, offered only when it is plausibly a typo.

/// The candidate closest to `input`, if it is within a typo's distance.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1) + 1;
    candidates
        .into_iter()
        .map(|c| (edit_distance(&input, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_suggests_the_known_name() {
        let known = ["lifecycle_stage", "last_name", "country"];
        assert_eq!(closest("lifecyle_stage", known), Some("lifecycle_stage"));
        assert_eq!(closest("contry", known), Some("country"));
    }

    #[test]
    fn an_unrelated_name_suggests_nothing() {
        assert_eq!(closest("revenue", ["email", "phone"]), None);
    }
}
