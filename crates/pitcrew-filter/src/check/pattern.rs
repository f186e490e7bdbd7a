//! The regular-expression subset `matches` accepts: patterns that mean the
//! same in the in-memory evaluator (with `.` matching a line break) and in
//! PostgreSQL's `~`, and that stay small enough to run on every record.
//!
//! The subset: literal characters, `.`, `^`, `$`, `|`, plain groups `( … )`,
//! classes `[…]` / `[^…]` with ranges, `*`, `+`, `?`, counted repetition
//! `{n}`, `{n,}`, `{n,m}` up to 255 (each optionally followed by `?`), and
//! `\` before ASCII punctuation for a literal character.

/// Longest pattern accepted, in characters.
pub const MAX_PATTERN_CHARS: usize = 256;

/// Largest count in `{n,m}`: PostgreSQL refuses anything above it.
pub const MAX_REPEAT: u32 = 255;

/// Compiled size above which a pattern is too costly to run on every record.
const SIZE_LIMIT: usize = 1 << 20;

/// Why a pattern cannot be used: `pattern_invalid` (it is not a regular
/// expression at all) or `pattern_unsupported` (outside the subset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub code: &'static str,
    pub message: String,
}

fn invalid(message: impl Into<String>) -> PatternError {
    PatternError {
        code: "pattern_invalid",
        message: message.into(),
    }
}

fn unsupported(message: impl Into<String>) -> PatternError {
    PatternError {
        code: "pattern_unsupported",
        message: message.into(),
    }
}

/// Accept `pattern` or say what is wrong and what to write instead.
pub fn check_pattern(pattern: &str) -> Result<(), PatternError> {
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(invalid(format!(
            "the pattern is longer than {MAX_PATTERN_CHARS} characters; shorten it"
        )));
    }
    Scanner::new(pattern).run()?;
    compile(pattern)
}

/// What the last piece of the pattern was, which decides whether a
/// repetition may follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Start of the pattern, of a group or of an alternative.
    Start,
    /// A character, class or group: something that can be repeated.
    Atom,
    /// `^` or `$`.
    Anchor,
    /// A repetition, which may still take one `?` to become lazy.
    Repeat,
    /// A lazy repetition.
    Lazy,
}

struct Scanner {
    chars: Vec<char>,
    at: usize,
    last: Last,
}

impl Scanner {
    fn new(pattern: &str) -> Scanner {
        Scanner {
            chars: pattern.chars().collect(),
            at: 0,
            last: Last::Start,
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn run(mut self) -> Result<(), PatternError> {
        while let Some(c) = self.peek(0) {
            self.at += 1;
            match c {
                '\\' => {
                    self.escape()?;
                    self.last = Last::Atom;
                }
                '(' => {
                    if self.peek(0) == Some('?') {
                        return Err(unsupported(
                            "`(?` is not supported: no flags, non-capturing groups or look-around; use plain parentheses `( … )`, and write both cases where case should not matter, such as `[Nn]ews`",
                        ));
                    }
                    self.last = Last::Start;
                }
                '|' => self.last = Last::Start,
                ')' => self.last = Last::Atom,
                '^' | '$' => self.last = Last::Anchor,
                '*' | '+' | '?' => self.repeat(c)?,
                '{' => self.bound()?,
                '[' => {
                    self.class()?;
                    self.last = Last::Atom;
                }
                _ => self.last = Last::Atom,
            }
        }
        Ok(())
    }

    /// The character after a `\`: only ASCII punctuation, which stands for
    /// itself everywhere. `\<` and `\>` are word boundaries in some engines.
    fn escape(&mut self) -> Result<(), PatternError> {
        let Some(c) = self.peek(0) else {
            return Err(invalid(
                "the pattern ends with a lone `\\`; write `\\\\` for a backslash",
            ));
        };
        self.at += 1;
        if c.is_ascii_punctuation() && c != '<' && c != '>' {
            return Ok(());
        }
        Err(unsupported(escape_advice(c)))
    }

    /// `*`, `+` or `?` after the previous piece.
    fn repeat(&mut self, c: char) -> Result<(), PatternError> {
        match self.last {
            Last::Repeat if c == '?' => {
                self.last = Last::Lazy;
                Ok(())
            }
            Last::Atom => {
                self.last = Last::Repeat;
                Ok(())
            }
            Last::Start => Err(invalid(format!(
                "`{c}` has nothing to repeat; write `\\{c}` for the character itself"
            ))),
            Last::Anchor | Last::Repeat | Last::Lazy => Err(stacked(c)),
        }
    }

    /// `{n}`, `{n,}` or `{n,m}`; a `{` that starts none of them must be
    /// written `\{`, because engines disagree about what it means.
    fn bound(&mut self) -> Result<(), PatternError> {
        let rest: String = self.chars[self.at..].iter().collect();
        let Some(end) = rest.find('}') else {
            return Err(literal_brace());
        };
        let inside = &rest[..end];
        let (low, high) = match inside.split_once(',') {
            None => (inside, Some(inside)),
            Some((low, "")) => (low, None),
            Some((low, high)) => (low, Some(high)),
        };
        let count = |s: &str| {
            if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            Some(s.parse::<u32>().unwrap_or(u32::MAX))
        };
        let Some(low) = count(low) else {
            return Err(literal_brace());
        };
        let high = match high {
            Some(h) => Some(count(h).ok_or_else(literal_brace)?),
            None => None,
        };
        match self.last {
            Last::Atom => {}
            Last::Start => {
                return Err(invalid(format!(
                    "`{{{inside}}}` has nothing to repeat; write `\\{{` for a literal brace"
                )));
            }
            Last::Anchor | Last::Repeat | Last::Lazy => return Err(stacked('{')),
        }
        if low.max(high.unwrap_or(0)) > MAX_REPEAT {
            return Err(unsupported(format!(
                "`{{{inside}}}` repeats more than {MAX_REPEAT} times; use a count of at most {MAX_REPEAT}"
            )));
        }
        if high.is_some_and(|h| h < low) {
            return Err(invalid(format!(
                "`{{{inside}}}` counts backwards; write the smaller count first"
            )));
        }
        self.at += inside.chars().count() + 1;
        self.last = Last::Repeat;
        Ok(())
    }

    /// A class after its `[`: no nested classes, POSIX classes or set
    /// operations (`&&`, `--`, `~~`), which engines read differently.
    fn class(&mut self) -> Result<(), PatternError> {
        if self.peek(0) == Some('^') {
            self.at += 1;
        }
        // A `]` right after the opening means the character itself.
        if self.peek(0) == Some(']') {
            self.at += 1;
        }
        while let Some(c) = self.peek(0) {
            self.at += 1;
            match c {
                ']' => return Ok(()),
                '\\' => self.escape()?,
                '[' => return Err(nested_class(self.peek(0))),
                '&' | '-' | '~' if self.peek(0) == Some(c) => {
                    return Err(unsupported(format!(
                        "`{c}{c}` inside `[…]` is not supported; write `\\{c}` for the character itself"
                    )));
                }
                _ => {}
            }
        }
        Err(invalid(
            "a `[` is never closed; end the class with `]`, or write `\\[` for the character itself",
        ))
    }
}

fn stacked(c: char) -> PatternError {
    unsupported(format!(
        "`{c}` cannot follow `^`, `$` or another repetition; put the repeated part in parentheses, such as `(a+)*`, or write `\\{c}` for the character itself"
    ))
}

fn literal_brace() -> PatternError {
    unsupported(
        "a `{` must start a repetition such as `{2}`, `{2,}` or `{2,5}`; write `\\{` for the character itself",
    )
}

fn nested_class(next: Option<char>) -> PatternError {
    if matches!(next, Some(':' | '.' | '=')) {
        return unsupported(
            "POSIX classes such as `[[:alpha:]]` are not supported; list the ranges instead, such as `[A-Za-z]`",
        );
    }
    unsupported(
        "a `[` inside `[…]` is not supported; write `\\[` for the character itself, or list everything in one class",
    )
}

/// What to write instead of an unsupported `\c`.
fn escape_advice(c: char) -> String {
    let instead = match c {
        'd' => "write `[0-9]` for a digit",
        'D' => "write `[^0-9]` for a non-digit",
        'w' => "write `[A-Za-z0-9_]` for a word character",
        'W' => "write `[^A-Za-z0-9_]` for a non-word character",
        's' | 'S' => "list the spacing characters you mean in a class, such as `[ ]`",
        'b' | 'B' | '<' | '>' | 'A' | 'z' | 'Z' | 'm' | 'M' | 'y' | 'Y' => {
            "word boundaries and other anchors are not supported; match the neighbouring characters instead, or use `^` and `$`"
        }
        '0'..='9' => "back-references are not supported",
        _ => "write the character itself, or `\\` only before punctuation such as `\\.` or `\\(`",
    };
    format!("`\\{c}` is not supported; {instead}")
}

/// Compile the way the evaluator will, to catch everything else.
fn compile(pattern: &str) -> Result<(), PatternError> {
    let built = regex::RegexBuilder::new(&format!("(?s){pattern}"))
        .size_limit(SIZE_LIMIT)
        .build();
    match built {
        Ok(_) => Ok(()),
        Err(regex::Error::CompiledTooBig(_)) => Err(invalid(
            "the pattern is too large to run on every record; use fewer or smaller repetitions",
        )),
        Err(e) => {
            let text = e.to_string();
            let reason = text
                .lines()
                .last()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            Err(invalid(format!(
                "`{pattern}` is not a valid pattern: {reason}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(p: &str) -> &'static str {
        match check_pattern(p) {
            Ok(()) => "ok",
            Err(e) => e.code,
        }
    }

    #[test]
    fn the_common_shapes_are_accepted() {
        for p in [
            "^ada@",
            r"\.de$",
            "colou?r",
            "[A-Za-z]+ [0-9]{2,4}",
            "(gmail|yahoo)\\.com",
            "a.*?b",
            "[]a]",
            "[^-a]",
            r"[\]\\-]",
            "x{0}",
            "a{255}",
            "}",
            "",
        ] {
            assert_eq!(code(p), "ok", "{p}");
        }
    }

    #[test]
    fn constructs_engines_read_differently_are_unsupported() {
        for p in [
            r"\d+",
            r"\<word",
            "(?i)abc",
            "(?:a)",
            "[[:alpha:]]",
            "[a[b]]",
            "[a&&b]",
            "[a--b]",
            "[a~~b]",
            "a**",
            "a+*",
            "^*",
            "a{2}{3}",
            "a{256}",
            "a{ 1}",
            "a{,5}",
            "a{",
            r"\1",
        ] {
            assert_eq!(code(p), "pattern_unsupported", "{p}");
        }
    }

    #[test]
    fn broken_patterns_are_invalid() {
        for p in [
            "(ab",
            "[ab",
            "*a",
            "a{3,2}",
            "x\\",
            "(a{255}){200}",
            "[z-a]",
        ] {
            assert_eq!(code(p), "pattern_invalid", "{p}");
        }
        assert_eq!(code(&"a".repeat(257)), "pattern_invalid");
    }
}
