//! A condition's text cut into pieces so the places its problems point at
//! can be underlined in a copy of the text shown under the editor.

use serde::Serialize;

/// A run of the condition's text, marked when a problem points at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct Piece {
    pub text: String,
    /// The 1-based number of the problem in the list under the text.
    pub problem: Option<usize>,
    /// The problem points between two characters (something is missing
    /// there), so there is no text to underline: a caret is shown instead.
    pub gap: bool,
}

fn plain(text: &str) -> Piece {
    Piece {
        text: text.to_string(),
        problem: None,
        gap: false,
    }
}

/// Cut `text` at the byte spans of its problems, in problem order (`None`
/// for a problem without a place). Spans past the end are clamped, spans
/// inside a character are widened to whole characters, and a span that
/// overlaps one already marked stays unmarked (the list still names it).
pub(super) fn pieces(text: &str, spans: &[Option<(usize, usize)>]) -> Vec<Piece> {
    let mut marks: Vec<(usize, usize, usize)> = spans
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|(start, end)| (start, end, i + 1)))
        .map(|(start, end, n)| {
            let start = floor_boundary(text, start.min(text.len()));
            let end = ceil_boundary(text, end.clamp(start, text.len()));
            (start, end, n)
        })
        .collect();
    marks.sort_by_key(|&(start, end, n)| (start, end, n));
    let mut out = Vec::new();
    let mut at = 0;
    for (start, end, n) in marks {
        if start < at || (start == at && end == start && out.last().is_some_and(|p: &Piece| p.gap))
        {
            continue;
        }
        if start > at {
            out.push(plain(&text[at..start]));
        }
        out.push(Piece {
            text: text[start..end].to_string(),
            problem: Some(n),
            gap: start == end,
        });
        at = end;
    }
    if at < text.len() || out.is_empty() {
        out.push(plain(&text[at..]));
    }
    out
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(p: &[Piece]) -> Vec<(&str, Option<usize>)> {
        p.iter().map(|p| (p.text.as_str(), p.problem)).collect()
    }

    #[test]
    fn a_problem_underlines_exactly_its_span() {
        let text = r#"people where contry is "DE""#;
        let p = pieces(text, &[Some((13, 19))]);
        assert_eq!(
            marked(&p),
            vec![
                ("people where ", None),
                ("contry", Some(1)),
                (r#" is "DE""#, None)
            ]
        );
    }

    #[test]
    fn problems_are_numbered_in_list_order_whatever_their_place() {
        let p = pieces("aa bb cc", &[Some((6, 8)), None, Some((0, 2))]);
        assert_eq!(
            marked(&p),
            vec![("aa", Some(3)), (" bb ", None), ("cc", Some(1))]
        );
    }

    #[test]
    fn a_missing_piece_at_the_end_is_a_caret_not_a_panic() {
        let p = pieces("people where", &[Some((12, 12)), Some((40, 50))]);
        assert_eq!(marked(&p), vec![("people where", None), ("", Some(1))]);
        assert!(p[1].gap);
    }

    #[test]
    fn spans_inside_a_character_widen_to_the_whole_character() {
        let text = "name is \"Zoë\"";
        let p = pieces(text, &[Some((11, 12))]);
        assert_eq!(p[1].text, "ë");
        let joined: String = p.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn overlapping_spans_mark_the_first_only() {
        let p = pieces("abcdef", &[Some((0, 4)), Some((2, 6))]);
        assert_eq!(marked(&p), vec![("abcd", Some(1)), ("ef", None)]);
    }

    #[test]
    fn empty_text_is_one_empty_piece() {
        assert_eq!(marked(&pieces("", &[])), vec![("", None)]);
    }
}
