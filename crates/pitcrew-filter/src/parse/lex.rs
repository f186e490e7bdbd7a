//! Splitting the text form into tokens. Each token knows where it is, the
//! indentation of its line and whether it opens that line, which is all the
//! parser needs to read indented blocks.

use crate::ast::Span;
use crate::error::Problem;

/// Past this many problems the text is too broken for more to help.
const MAX_PROBLEMS: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Word(String),
    Str(String),
    /// `raw` is the number as written, for whole-number checks and messages.
    Num {
        value: f64,
        raw: String,
    },
    Colon,
    LParen,
    RParen,
    Comma,
    LBracket,
    RBracket,
    Gt,
    Ge,
    Lt,
    Le,
    Eof,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub tok: Tok,
    pub span: Span,
    /// Column just past the token's last character (tokens never span lines).
    pub end_column: u32,
    /// First token of its line, outside any brackets: it may start a block
    /// line, and it ends whatever condition the line before was writing.
    pub line_start: bool,
    /// Leading spaces of the token's line.
    pub indent: u32,
}

/// The tokens of `text`, always ending with [`Tok::Eof`], or the problems
/// found while reading them.
pub(super) fn lex(text: &str) -> Result<Vec<Token>, Vec<Problem>> {
    let mut lexer = Lexer {
        text,
        pos: 0,
        line: 1,
        column: 1,
        depth: 0,
        line_has_token: false,
        indent: 0,
        tab_at: None,
        tokens: Vec::new(),
        problems: Vec::new(),
    };
    lexer.run();
    if lexer.problems.is_empty() {
        Ok(lexer.tokens)
    } else {
        Err(lexer.problems)
    }
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
    column: u32,
    /// How many `(` and `[` are open; line breaks inside them mean nothing.
    depth: u32,
    line_has_token: bool,
    indent: u32,
    /// Where a tab sits in the current line's indentation, if anywhere.
    tab_at: Option<Span>,
    tokens: Vec<Token>,
    problems: Vec<Problem>,
}

impl Lexer<'_> {
    fn run(&mut self) {
        self.start_line();
        while let Some(c) = self.peek() {
            if self.problems.len() >= MAX_PROBLEMS {
                break;
            }
            match c {
                '\n' => {
                    self.bump();
                    self.start_line();
                }
                ' ' | '\t' | '\r' => {
                    self.bump();
                }
                '#' => self.comment(),
                '"' => self.string(),
                '-' | '0'..='9' => self.number(),
                'a'..='z' | 'A'..='Z' | '_' => self.word(),
                _ => self.symbol(c),
            }
        }
        let here = self.here();
        self.tokens.push(Token {
            tok: Tok::Eof,
            span: here,
            end_column: self.column,
            line_start: true,
            indent: 0,
        });
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.text[self.pos..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    /// A zero-width span at the current position.
    fn here(&self) -> Span {
        Span {
            start: self.pos,
            end: self.pos,
            line: self.line,
            column: self.column,
        }
    }

    /// The span from `start` to the current position.
    fn since(&self, start: Span) -> Span {
        Span {
            end: self.pos,
            ..start
        }
    }

    fn problem(&mut self, code: &'static str, message: String, span: Span) {
        self.problems.push(Problem::new(code, message).at(span, ""));
    }

    /// Measures the indentation of the line that starts here.
    fn start_line(&mut self) {
        self.line_has_token = false;
        self.tab_at = None;
        let mut indent = 0;
        while let Some(c @ (' ' | '\t')) = self.peek() {
            if c == '\t' && self.tab_at.is_none() {
                let start = self.here();
                self.bump();
                self.tab_at = Some(self.since(start));
            } else {
                self.bump();
            }
            indent += 1;
        }
        self.indent = indent;
    }

    fn push(&mut self, tok: Tok, start: Span) {
        let line_start = !self.line_has_token && self.depth == 0;
        if line_start && let Some(tab) = self.tab_at.take() {
            self.problem(
                "indent_invalid",
                "a tab in the indentation; indent lines with spaces".into(),
                tab,
            );
        }
        self.line_has_token = true;
        match tok {
            Tok::LParen | Tok::LBracket => self.depth += 1,
            Tok::RParen | Tok::RBracket => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        self.tokens.push(Token {
            tok,
            span: self.since(start),
            end_column: self.column,
            line_start,
            indent: self.indent,
        });
    }

    fn comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.bump();
        }
    }

    fn string(&mut self) {
        let start = self.here();
        self.bump();
        let mut value = String::new();
        loop {
            match self.peek() {
                None | Some('\n') => {
                    let span = self.since(start);
                    self.problem(
                        "string_unterminated",
                        "this text has no closing `\"`; a text must end on the line it starts on"
                            .into(),
                        span,
                    );
                    return;
                }
                Some('"') => {
                    self.bump();
                    break;
                }
                Some('\\') => self.escape(&mut value),
                Some(c) => {
                    self.bump();
                    value.push(c);
                }
            }
        }
        self.push(Tok::Str(value), start);
    }

    /// One backslash escape inside a text.
    fn escape(&mut self, value: &mut String) {
        let start = self.here();
        self.bump();
        let c = match self.peek() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('n') => '\n',
            Some('t') => '\t',
            // The unterminated text is reported by the caller.
            None | Some('\n') => return,
            Some(other) => {
                self.bump();
                let span = self.since(start);
                self.problem(
                    "string_escape_invalid",
                    format!(
                        "`\\{other}` is not an escape; use `\\\"`, `\\\\`, `\\n` or `\\t` inside a text"
                    ),
                    span,
                );
                return;
            }
        };
        self.bump();
        value.push(c);
    }

    fn number(&mut self) {
        let start = self.here();
        if self.peek() == Some('-') {
            self.bump();
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                let span = self.since(start);
                self.problem(
                    "number_invalid",
                    "expected digits after `-`; numbers look like `42`, `-7` or `0.5`".into(),
                    span,
                );
                return;
            }
        }
        self.digits();
        if self.peek() == Some('.') && self.peek_second().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            self.digits();
        }
        // Anything glued to the number makes the whole run a bad number
        // rather than a number followed by a word.
        let mut glued = false;
        while let Some(c) = self.peek() {
            if !(c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                break;
            }
            glued = true;
            self.bump();
        }
        let span = self.since(start);
        let raw = &self.text[span.start..span.end];
        if glued {
            self.problem(
                "number_invalid",
                format!("`{raw}` is not a number; numbers look like `42`, `-7` or `0.5`"),
                span,
            );
            return;
        }
        match raw.parse::<f64>() {
            Ok(value) if value.is_finite() => {
                let raw = raw.to_string();
                self.push(Tok::Num { value, raw }, start);
            }
            _ => self.problem(
                "number_invalid",
                format!("`{raw}` is too large a number"),
                span,
            ),
        }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }

    fn word(&mut self) {
        let start = self.here();
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.bump();
        }
        let word = self.text[start.start..self.pos].to_string();
        self.push(Tok::Word(word), start);
    }

    fn symbol(&mut self, c: char) {
        let start = self.here();
        self.bump();
        let tok = match c {
            ':' => Tok::Colon,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '>' | '<' => {
                let or_equal = self.peek() == Some('=');
                if or_equal {
                    self.bump();
                }
                match (c, or_equal) {
                    ('>', false) => Tok::Gt,
                    ('>', true) => Tok::Ge,
                    ('<', false) => Tok::Lt,
                    _ => Tok::Le,
                }
            }
            _ => return self.stray(c, start),
        };
        self.push(tok, start);
    }

    /// A character the language has no use for, with a hint where one helps.
    fn stray(&mut self, c: char, start: Span) {
        let message = match c {
            '=' => {
                if self.peek() == Some('=') {
                    self.bump();
                }
                "unexpected `=`; to compare, write `is`, as in `country is \"DE\"`".to_string()
            }
            '!' if self.peek() == Some('=') => {
                self.bump();
                "unexpected `!=`; write `is not`, as in `country is not \"DE\"`".to_string()
            }
            '\'' => "unexpected `'`; write texts in double quotes, as in `\"DE\"`".to_string(),
            c if c.is_alphabetic() => format!(
                "unexpected character `{c}`; names with characters other than A–Z, digits and `_` go in double quotes"
            ),
            c => format!("unexpected character `{}`", c.escape_debug()),
        };
        let span = self.since(start);
        self.problem("syntax", message, span);
    }
}
