//! Reading a condition: the text form (lexer, indentation-aware recursive
//! descent with a depth limit, problems with spans and suggestions) and the
//! JSON form (problems with JSON pointers).
//!
//! The grammar is in the crate documentation; keep the two in step.

mod json;
mod lex;

use pitcrew_core::suggest::closest;

use crate::ast::{
    Aggregate, Condition, ConsentState, Count, CountOp, Duration, Literal, Occurrence, Quantifier,
    Segment, Span, Subject, Test, Unit, Window,
};
use crate::error::Problem;
use lex::{Tok, Token};

pub use json::{from_json, from_json_value};

/// Longest text form accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Deepest nesting of conditions accepted, in either form; the parser
/// recurses once per level, so this also bounds its stack.
pub const MAX_DEPTH: usize = 64;

/// Every word the text form gives a meaning to. A field or property named
/// like one of them is written in double quotes.
#[rustfmt::skip]
pub(crate) const KEYWORDS: &[&str] = &[
    "people", "accounts", "where", "all", "any", "none", "of", "not", "is", "empty",
    "contains", "does", "contain", "starts", "ends", "with", "matches", "in", "exists", "between",
    "and", "before", "after", "within", "last", "next", "more", "than", "ago", "anniversary",
    "has", "did", "then", "at", "least", "most", "exactly", "time", "times", "since",
    "ever", "sum", "average", "min", "max", "distinct", "count", "first", "segment", "subscribed",
    "unsubscribed", "to", "from", "via", "account", "member", "members", "no", "true", "false",
    "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks",
];

/// Words that start a condition other than a field test.
#[rustfmt::skip]
const CONDITION_WORDS: &[&str] = &[
    "all", "any", "none", "not", "did", "first", "last", "sum", "average", "min",
    "max", "distinct", "in", "subscribed", "unsubscribed", "account", "no",
];

/// Words that start a test after a field name.
#[rustfmt::skip]
const TEST_WORDS: &[&str] = &[
    "is", "contains", "does", "starts", "ends", "matches", "in", "not", "exists", "between",
    "before", "after", "within", "more", "anniversary", "has",
];

/// Words that may continue a condition's line, for typos where its end
/// was expected.
#[rustfmt::skip]
const CONTINUATION_WORDS: &[&str] = &[
    "where", "at", "exactly", "in", "between", "since", "ever", "then", "via", "times",
];

#[rustfmt::skip]
const UNIT_WORDS: &[&str] = &[
    "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks",
];

const TEST_EXAMPLES: &str = "a test such as `is`, `contains`, `in` or `exists`";

/// Parse the text form. Every problem carries a stable code and the span of
/// the token it is about.
pub fn parse(text: &str) -> Result<Segment, Vec<Problem>> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(vec![too_long(text)]);
    }
    let tokens = lex::lex(text)?;
    let mut parser = Parser::new(tokens);
    let result = parser.segment();
    let mut problems = parser.problems;
    match result {
        Ok(segment) if problems.is_empty() => Ok(segment),
        Ok(_) => Err(problems),
        Err(problem) => {
            problems.push(problem);
            problems.sort_by_key(|p| p.span.map(|s| s.start));
            Err(problems)
        }
    }
}

fn too_long(text: &str) -> Problem {
    let mut at = MAX_TEXT_BYTES;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let span = Span {
        start: at,
        end: text.len(),
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    };
    Problem::new(
        "too_long",
        format!(
            "the condition is {} bytes long; the limit is {MAX_TEXT_BYTES} bytes (64 KiB)",
            text.len()
        ),
    )
    .at(span, "")
}

/// `contians` → `contains`: the closest of the words that could stand
/// here. Only those: a name the user chose must not be "corrected" into an
/// unrelated keyword.
fn suggest(word: &str, expected: &[&'static str]) -> Option<&'static str> {
    if KEYWORDS.contains(&word) {
        return None;
    }
    closest(word, expected.iter().copied())
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("`{w}`"),
        Tok::Str(s) => {
            let short: String = s.chars().take(40).collect();
            let more = if short.len() < s.len() { "…" } else { "" };
            format!("the text \"{}{more}\"", short.escape_debug())
        }
        Tok::Num { raw, .. } => format!("the number `{raw}`"),
        Tok::Colon => "`:`".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::Gt => "`>`".into(),
        Tok::Ge => "`>=`".into(),
        Tok::Lt => "`<`".into(),
        Tok::Le => "`<=`".into(),
        Tok::Eof => "the end of the text".into(),
    }
}

fn syntax(message: String, span: Span) -> Problem {
    Problem::new("syntax", message).at(span, "")
}

type Res<T> = Result<T, Problem>;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Nesting of the condition being read.
    depth: usize,
    /// Where the last consumed token ended: byte, line, column.
    last_end: (usize, u32, u32),
    /// Problems already reported inside blocks that went on after them.
    problems: Vec<Problem>,
}

impl Parser {
    fn new(tokens: Vec<Token>) -> Parser {
        Parser {
            tokens,
            pos: 0,
            depth: 0,
            last_end: (0, 1, 1),
            problems: Vec::new(),
        }
    }

    // ---- reading tokens ----

    /// The token at `i`; past the end, the final end-of-text token.
    fn tok(&self, i: usize) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[i.min(last)]
    }

    fn current(&self) -> &Token {
        self.tok(self.pos)
    }

    /// The current token, if it continues the line being read.
    fn cont(&self) -> Option<&Token> {
        let t = self.current();
        (!t.line_start).then_some(t)
    }

    /// The token `n` places ahead, if it is on the current token's line.
    fn ahead(&self, n: usize) -> Option<&Tok> {
        for i in 1..=n {
            if self.tok(self.pos + i).line_start {
                return None;
            }
        }
        Some(&self.tok(self.pos + n).tok)
    }

    fn ahead_word(&self, n: usize, word: &str) -> bool {
        matches!(self.ahead(n), Some(Tok::Word(w)) if w == word)
    }

    /// Whether the current token, continuing the line, is `word`.
    fn at(&self, word: &str) -> bool {
        matches!(self.cont(), Some(Token { tok: Tok::Word(w), .. }) if w == word)
    }

    fn at_tok(&self, tok: &Tok) -> bool {
        self.cont().is_some_and(|t| t.tok == *tok)
    }

    fn advance(&mut self) -> Token {
        let t = self.current().clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
            self.last_end = (t.span.end, t.span.line, t.end_column);
        }
        t
    }

    /// A node's span: from its first token to the last one consumed.
    fn span_from(&self, start: Span) -> Span {
        Span {
            end: self.last_end.0.max(start.start),
            ..start
        }
    }

    // ---- problems ----

    /// What stands where a continuation of the line was expected, and where.
    fn found(&self) -> (String, Span) {
        if let Some(t) = self.cont() {
            return (describe(&t.tok), t.span);
        }
        let (end, line, column) = self.last_end;
        let span = Span {
            start: end,
            end,
            line,
            column,
        };
        if self.pos == 0 {
            return (describe(&Tok::Eof), self.current().span);
        }
        let what = if self.current().tok == Tok::Eof {
            "the end of the text"
        } else {
            "the end of the line"
        };
        (what.into(), span)
    }

    /// `expected …, found …`, or `unknown word …; did you mean …?` when the
    /// word found is a likely typo of one of `words`.
    fn unexpected(&self, expected: &str, words: &[&'static str]) -> Problem {
        let (what, span) = self.found();
        if let Some(Token {
            tok: Tok::Word(w), ..
        }) = self.cont()
            && let Some(near) = suggest(w, words)
        {
            return syntax(format!("unknown word `{w}`; did you mean `{near}`?"), span);
        }
        syntax(format!("expected {expected}, found {what}"), span)
    }

    fn expect_word(&mut self, word: &'static str, after: &str) -> Res<Token> {
        if self.at(word) {
            return Ok(self.advance());
        }
        Err(self.unexpected(&format!("`{word}` after {after}"), &[word]))
    }

    /// The second word of a keyword form (`account where`, `sum of`). The
    /// first may have been a field named like the keyword with a mistyped
    /// test, so test words are suggested too.
    fn expect_form_word(&mut self, word: &'static str, after: &str) -> Res<Token> {
        if self.at(word) {
            return Ok(self.advance());
        }
        let mut words = vec![word];
        words.extend_from_slice(TEST_WORDS);
        Err(self.unexpected(&format!("`{word}` after {after}"), &words))
    }

    fn expect_tok(&mut self, tok: Tok, after: &str) -> Res<Token> {
        if self.at_tok(&tok) {
            return Ok(self.advance());
        }
        Err(self.unexpected(&format!("{} after {after}", describe(&tok)), &[]))
    }

    /// A text in double quotes, such as an event or segment name.
    fn text(&mut self, what: &str, after: &str) -> Res<String> {
        if let Some(Token {
            tok: Tok::Str(s), ..
        }) = self.cont()
        {
            let s = s.clone();
            self.advance();
            return Ok(s);
        }
        if let Some(Token {
            tok: Tok::Word(w),
            span,
            ..
        }) = self.cont()
            && !KEYWORDS.contains(&w.as_str())
        {
            return Err(syntax(
                format!(
                    "expected {what} in double quotes after {after}, found `{w}`; write it as \"{w}\""
                ),
                *span,
            ));
        }
        Err(self.unexpected(&format!("{what} in double quotes after {after}"), &[]))
    }

    /// A field, property or channel name: a plain word or a quoted text.
    fn name(&mut self, what: &str, after: &str) -> Res<String> {
        match self.cont().map(|t| &t.tok) {
            Some(Tok::Word(w) | Tok::Str(w)) => {
                let w = w.clone();
                self.advance();
                Ok(w)
            }
            _ => Err(self.unexpected(&format!("{what} after {after}"), &[])),
        }
    }

    fn whole_number(&mut self, what: &str, after: &str) -> Res<u32> {
        let Some(Token {
            tok: Tok::Num { raw, .. },
            span,
            ..
        }) = self.cont()
        else {
            return Err(self.unexpected(&format!("{what} after {after}"), &[]));
        };
        match raw.parse::<u32>() {
            Ok(n) => {
                self.advance();
                Ok(n)
            }
            Err(_) => Err(Problem::new(
                "number_invalid",
                format!(
                    "expected {what} after {after}: a whole number from 0 to {}, found `{raw}`",
                    u32::MAX
                ),
            )
            .at(*span, "")),
        }
    }

    /// Skips the rest of a broken block line, up to the next line of the
    /// block (or of an enclosing one), so later lines are still checked.
    fn skip_line(&mut self, block_indent: u32, force: bool) {
        if force {
            self.advance();
        }
        loop {
            let t = self.current();
            if t.tok == Tok::Eof || (t.line_start && t.indent <= block_indent) {
                return;
            }
            self.advance();
        }
    }

    // ---- the segment ----

    fn segment(&mut self) -> Res<Segment> {
        let mut subject = Subject::People;
        if let Tok::Word(w) = &self.current().tok
            && let Some(s) = Subject::parse(w)
            && self.ahead_word(1, "where")
        {
            subject = s;
            self.advance();
            self.advance();
        }
        // The condition may start on the line after `people where`.
        let condition = self.condition(true)?;
        let t = self.current();
        if let Some(Token {
            tok: Tok::Word(w),
            span,
            line_start: false,
            ..
        }) = Some(t)
            && let Some(near) = suggest(w, CONTINUATION_WORDS)
        {
            return Err(syntax(
                format!("unknown word `{w}`; did you mean `{near}`?"),
                *span,
            ));
        }
        if t.tok != Tok::Eof {
            let message = format!(
                "expected the end of the text, found {}; to combine conditions, list them under `all of:`",
                describe(&t.tok)
            );
            return Err(syntax(message, t.span));
        }
        Ok(Segment { subject, condition })
    }

    // ---- conditions ----

    /// One condition. `fresh_line` allows it to start a line (block lines,
    /// the top); elsewhere it must continue the line it is on.
    fn condition(&mut self, fresh_line: bool) -> Res<Condition> {
        let first = self.current().clone();
        if first.tok == Tok::Eof || (first.line_start && !fresh_line) {
            return Err(self.unexpected("a condition", CONDITION_WORDS));
        }
        if self.depth >= MAX_DEPTH {
            return Err(Problem::new(
                "too_deep",
                format!(
                    "conditions are nested more than {MAX_DEPTH} deep here; flatten the condition"
                ),
            )
            .at(first.span, ""));
        }
        self.depth += 1;
        let result = self.condition_at(first);
        self.depth -= 1;
        result
    }

    fn condition_at(&mut self, first: Token) -> Res<Condition> {
        let word = match &first.tok {
            Tok::Str(name) => {
                let name = name.clone();
                self.advance();
                return self.field(name, first.span);
            }
            Tok::Word(w) => w.clone(),
            other => {
                let message = format!(
                    "expected a condition, such as a field test or `did \"Event\"`, found {}",
                    describe(other)
                );
                return Err(syntax(message, first.span));
            }
        };
        // A field may be named like a keyword: a test right after the word
        // decides that it is a field.
        if self.test_at(1) {
            self.advance();
            return self.field(word, first.span);
        }
        let next_is = |w: &str| self.ahead_word(1, w);
        match word.as_str() {
            "all" | "any" | "none" if next_is("of") => self.group(first),
            "all" | "any" | "no" if next_is("member") || next_is("members") => self.members(first),
            "not" => self.not(first),
            "did" => self.did(first),
            "first" | "last" => self.occurrence(first),
            "sum" | "average" | "min" | "max" | "distinct" => self.aggregate(first),
            "in" => self.in_segment(first),
            "subscribed" | "unsubscribed" => self.consent(first),
            "account" => self.account(first),
            _ => self.bare_field(word, first),
        }
    }

    /// A condition starting with a word that is not a keyword form: a field
    /// test, or a mistyped keyword.
    fn bare_field(&mut self, word: String, first: Token) -> Res<Condition> {
        let next_is_typo =
            matches!(self.ahead(1), Some(Tok::Word(w)) if suggest(w, TEST_WORDS).is_some());
        if !next_is_typo
            && word.chars().count() >= 2
            && let Some(near) = suggest(&word, CONDITION_WORDS)
            && near != word
        {
            return Err(syntax(
                format!("unknown word `{word}`; did you mean `{near}`?"),
                first.span,
            ));
        }
        self.advance();
        self.field(word, first.span)
    }

    fn field(&mut self, field: String, start: Span) -> Res<Condition> {
        let test = self.test(&format!("`{field}`"))?;
        Ok(Condition::Field {
            field,
            test,
            span: self.span_from(start),
        })
    }

    fn group(&mut self, first: Token) -> Res<Condition> {
        let word = match &first.tok {
            Tok::Word(w) => w.clone(),
            _ => String::new(),
        };
        self.advance();
        self.advance();
        let opener = format!("{word} of");
        let of = if self.at_tok(&Tok::Colon) {
            let colon = self.advance();
            self.block(&colon, &opener)?
        } else if self.at_tok(&Tok::LParen) {
            self.paren_list(&opener)?
        } else {
            return Err(self.unexpected(&format!("`:` or `(` after `{opener}`"), &[]));
        };
        let span = self.span_from(first.span);
        Ok(match word.as_str() {
            "all" => Condition::All { of, span },
            "any" => Condition::Any { of, span },
            _ => Condition::None { of, span },
        })
    }

    /// The indented lines under `all of:`, one condition each.
    fn block(&mut self, colon: &Token, opener: &str) -> Res<Vec<Condition>> {
        let first = self.current().clone();
        if first.tok == Tok::Eof || !first.line_start {
            let expected = format!("a new, indented line after `{opener}:`");
            return Err(self.unexpected(&expected, &[]));
        }
        if first.indent <= colon.indent {
            return Err(Problem::new(
                "indent_invalid",
                format!(
                    "expected the lines under `{opener}:` to be indented more than line {}, found a line indented {} spaces",
                    colon.span.line, first.indent
                ),
            )
            .at(first.span, ""));
        }
        let indent = first.indent;
        let mut items = Vec::new();
        loop {
            let start = self.pos;
            match self.condition(true) {
                Ok(c) => items.push(c),
                Err(p) if p.code == "too_deep" => return Err(p),
                Err(p) => {
                    self.problems.push(p);
                    self.skip_line(indent, self.pos == start);
                }
            }
            if !self.next_block_line(indent, colon.indent) {
                return Ok(items);
            }
        }
    }

    /// After a block line: whether another line of the same block follows.
    /// Reports lines that fit no block and skips them.
    fn next_block_line(&mut self, indent: u32, opener_indent: u32) -> bool {
        loop {
            let t = self.current().clone();
            if t.tok == Tok::Eof {
                return false;
            }
            if !t.line_start {
                let p = self.unexpected("the end of the line", CONTINUATION_WORDS);
                self.problems.push(p);
                self.skip_line(indent, false);
                continue;
            }
            if t.indent == indent {
                return true;
            }
            if t.indent <= opener_indent {
                return false;
            }
            let message = if t.indent > indent {
                format!(
                    "this line is indented {} spaces, more than the line above it in the same block ({indent}); only a line ending in `:` opens a deeper block",
                    t.indent
                )
            } else {
                format!(
                    "this line is indented {} spaces, which lines up with no block; indent it {indent} spaces to continue the block above",
                    t.indent
                )
            };
            self.problems
                .push(Problem::new("indent_invalid", message).at(t.span, ""));
            self.skip_line(indent, true);
        }
    }

    /// `( condition, condition, … )`
    fn paren_list(&mut self, opener: &str) -> Res<Vec<Condition>> {
        self.advance();
        let mut items = Vec::new();
        if self.at_tok(&Tok::RParen) {
            self.advance();
            return Ok(items);
        }
        loop {
            items.push(self.condition(false)?);
            if self.at_tok(&Tok::Comma) {
                self.advance();
            } else if self.at_tok(&Tok::RParen) {
                self.advance();
                return Ok(items);
            } else {
                let expected = format!("`,` or `)` in the list of `{opener} (…)`");
                return Err(self.unexpected(&expected, &[]));
            }
        }
    }

    fn not(&mut self, first: Token) -> Res<Condition> {
        self.advance();
        let condition = Box::new(self.condition(false)?);
        Ok(Condition::Not {
            condition,
            span: self.span_from(first.span),
        })
    }

    fn did(&mut self, first: Token) -> Res<Condition> {
        self.advance();
        let negated = self.at("not");
        if negated {
            self.advance();
        }
        let after = if negated { "`did not`" } else { "`did`" };
        let event = self.text("an event name", after)?;
        if self.at("then") {
            if negated {
                let (_, span) = self.found();
                return Err(syntax(
                    "`did not` cannot start a sequence; write `did \"A\" then not \"B\" within …`"
                        .into(),
                    span,
                ));
            }
            return self.sequence(first, event);
        }
        let mut count = if negated { Count::NEVER } else { Count::ONCE };
        if self.at("at") || self.at("exactly") {
            if negated {
                let (_, span) = self.found();
                return Err(syntax(
                    "`did not` already means zero times and takes no count; remove `not` to give a count"
                        .into(),
                    span,
                ));
            }
            count = self.count()?;
        }
        let window = self.window()?;
        let filter = self.filter()?;
        Ok(Condition::Did {
            event,
            count,
            window,
            filter,
            span: self.span_from(first.span),
        })
    }

    fn count(&mut self) -> Res<Count> {
        let op = if self.at("exactly") {
            self.advance();
            CountOp::Exactly
        } else {
            self.advance();
            if self.at("least") {
                self.advance();
                CountOp::AtLeast
            } else if self.at("most") {
                self.advance();
                CountOp::AtMost
            } else {
                return Err(self.unexpected("`least` or `most` after `at`", &["least", "most"]));
            }
        };
        let times = self.whole_number("a number of times", "the count")?;
        if self.at("times") || self.at("time") {
            self.advance();
        } else {
            return Err(self.unexpected("`times` after the number", &["time", "times"]));
        }
        Ok(Count { op, times })
    }

    /// An optional event window; `ever` when none is written.
    fn window(&mut self) -> Res<Window> {
        if self.at("in") && self.ahead(1) != Some(&Tok::LBracket) {
            self.advance();
            self.expect_word("last", "`in`")?;
            let amount = self.duration("`in last`")?;
            return Ok(Window::Last { amount });
        }
        if self.at("between") {
            self.advance();
            let from = self.text("a date", "`between`")?;
            self.expect_word("and", "the first date")?;
            let to = self.text("a date", "`and`")?;
            return Ok(Window::Between { from, to });
        }
        if self.at("since") {
            self.advance();
            let from = self.text("a date", "`since`")?;
            return Ok(Window::Since { from });
        }
        if self.at("ever") {
            self.advance();
        }
        Ok(Window::Ever)
    }

    /// Whether an aggregate's window starts here rather than its test:
    /// `between "A" and "B"` is the window only when a test follows it.
    fn window_at(&self) -> bool {
        if self.at("in") {
            return self.ahead(1) != Some(&Tok::LBracket);
        }
        if self.at("since") || self.at("ever") {
            return true;
        }
        self.at("between")
            && matches!(self.ahead(1), Some(Tok::Str(_)))
            && self.ahead_word(2, "and")
            && matches!(self.ahead(3), Some(Tok::Str(_)))
            && self.test_at(4)
    }

    /// An optional `where` and the condition on the event's properties.
    fn filter(&mut self) -> Res<Option<Box<Condition>>> {
        if !self.at("where") {
            return Ok(None);
        }
        self.advance();
        Ok(Some(Box::new(self.condition(false)?)))
    }

    fn sequence(&mut self, first: Token, event: String) -> Res<Condition> {
        self.advance();
        let negated = self.at("not");
        if negated {
            self.advance();
        }
        let then = self.text("an event name", "`then`")?;
        self.expect_word("within", "the second event")?;
        let within = self.duration("`within`")?;
        let window = self.window()?;
        Ok(Condition::Sequence {
            first: event,
            then,
            negated,
            within,
            window,
            span: self.span_from(first.span),
        })
    }

    fn aggregate(&mut self, first: Token) -> Res<Condition> {
        let head = self.advance();
        let function = match &head.tok {
            Tok::Word(w) if w == "sum" => Aggregate::Sum,
            Tok::Word(w) if w == "average" => Aggregate::Average,
            Tok::Word(w) if w == "min" => Aggregate::Min,
            Tok::Word(w) if w == "max" => Aggregate::Max,
            _ => {
                self.expect_form_word("count", "`distinct`")?;
                Aggregate::DistinctCount
            }
        };
        let after = format!("`{}`", function.as_str());
        self.expect_form_word("of", &after)?;
        let property = self.name("a property name", "`of`")?;
        self.expect_word("in", "the property")?;
        let event = self.text("an event name", "`in`")?;
        let window = if self.window_at() {
            self.window()?
        } else {
            Window::Ever
        };
        let test = self.test(&format!("`{} of {property}`", function.as_str()))?;
        let filter = self.filter()?;
        Ok(Condition::Aggregate {
            function,
            property,
            event,
            window,
            test,
            filter,
            span: self.span_from(first.span),
        })
    }

    fn occurrence(&mut self, first: Token) -> Res<Condition> {
        let head = self.advance();
        let which = match &head.tok {
            Tok::Word(w) if w == "first" => Occurrence::First,
            _ => Occurrence::Last,
        };
        let word = if which == Occurrence::First {
            "first"
        } else {
            "last"
        };
        let event = self.text("an event name", &format!("`{word}`"))?;
        let test = self.test(&format!("`{word} \"{event}\"`"))?;
        let filter = self.filter()?;
        Ok(Condition::Occurrence {
            which,
            event,
            test,
            filter,
            span: self.span_from(first.span),
        })
    }

    fn in_segment(&mut self, first: Token) -> Res<Condition> {
        self.advance();
        self.expect_form_word("segment", "`in`")?;
        let segment = self.text("a segment name", "`in segment`")?;
        Ok(Condition::InSegment {
            segment,
            span: self.span_from(first.span),
        })
    }

    fn consent(&mut self, first: Token) -> Res<Condition> {
        let state = if self.advance().tok == Tok::Word("subscribed".into()) {
            self.expect_form_word("to", "`subscribed`")?;
            ConsentState::Subscribed
        } else {
            self.expect_form_word("from", "`unsubscribed`")?;
            ConsentState::Unsubscribed
        };
        let topic = self.text("a topic name", "the consent")?;
        let mut channel = None;
        if self.at("via") {
            self.advance();
            channel = Some(self.name("a channel such as `email`", "`via`")?);
        }
        Ok(Condition::Consent {
            state,
            topic,
            channel,
            span: self.span_from(first.span),
        })
    }

    fn account(&mut self, first: Token) -> Res<Condition> {
        self.advance();
        self.expect_form_word("where", "`account`")?;
        let condition = Box::new(self.condition(false)?);
        Ok(Condition::Account {
            condition,
            span: self.span_from(first.span),
        })
    }

    fn members(&mut self, first: Token) -> Res<Condition> {
        let quantifier = match &self.advance().tok {
            Tok::Word(w) if w == "any" => Quantifier::Any,
            Tok::Word(w) if w == "all" => Quantifier::All,
            _ => Quantifier::No,
        };
        let member = self.advance();
        let after = match &member.tok {
            Tok::Word(w) => format!("`{w}`"),
            _ => String::new(),
        };
        self.expect_word("where", &after)?;
        let condition = Box::new(self.condition(false)?);
        Ok(Condition::Members {
            quantifier,
            condition,
            span: self.span_from(first.span),
        })
    }

    // ---- tests ----

    /// Whether a test starts `n` tokens ahead, on the current line.
    fn test_at(&self, n: usize) -> bool {
        match self.ahead(n) {
            Some(Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le) => true,
            Some(Tok::Word(w)) => match w.as_str() {
                "in" => self.ahead(n + 1) == Some(&Tok::LBracket),
                "not" => self.ahead_word(n + 1, "in") && self.ahead(n + 2) == Some(&Tok::LBracket),
                w => TEST_WORDS.contains(&w),
            },
            _ => false,
        }
    }

    /// The test after a field, property or event; `after` names what it
    /// follows, for messages.
    fn test(&mut self, after: &str) -> Res<Test> {
        let Some(t) = self.cont() else {
            return Err(self.unexpected(&format!("{TEST_EXAMPLES} after {after}"), TEST_WORDS));
        };
        let word = match &t.tok {
            Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le => return self.comparison(),
            Tok::Word(w) => w.clone(),
            _ => {
                return Err(self.unexpected(&format!("{TEST_EXAMPLES} after {after}"), TEST_WORDS));
            }
        };
        let test = match word.as_str() {
            "is" => return self.is(),
            "contains" => {
                self.advance();
                Test::Contains {
                    value: self.text("a text", "`contains`")?,
                }
            }
            "does" => {
                self.advance();
                self.expect_word("not", "`does`")?;
                self.expect_word("contain", "`does not`")?;
                Test::NotContains {
                    value: self.text("a text", "`does not contain`")?,
                }
            }
            "starts" | "ends" => {
                self.advance();
                self.expect_word("with", &format!("`{word}`"))?;
                let value = self.text("a text", &format!("`{word} with`"))?;
                if word == "starts" {
                    Test::StartsWith { value }
                } else {
                    Test::EndsWith { value }
                }
            }
            "matches" => {
                self.advance();
                Test::Matches {
                    pattern: self.text("a pattern", "`matches`")?,
                }
            }
            "in" => {
                self.advance();
                Test::In {
                    values: self.list("`in`")?,
                }
            }
            "not" => {
                self.advance();
                self.expect_word("in", "`not`")?;
                Test::NotIn {
                    values: self.list("`not in`")?,
                }
            }
            "exists" => {
                self.advance();
                Test::Exists
            }
            "between" => {
                self.advance();
                let low = self.literal("`between`")?;
                self.expect_word("and", "the first value")?;
                let high = self.literal("`and`")?;
                Test::Between { low, high }
            }
            "before" => {
                self.advance();
                Test::Lt {
                    value: self.literal("`before`")?,
                }
            }
            "after" => {
                self.advance();
                Test::Gt {
                    value: self.literal("`after`")?,
                }
            }
            "within" => return self.within(),
            "more" => {
                self.advance();
                self.expect_word("than", "`more`")?;
                let amount = self.duration("`more than`")?;
                self.expect_word("ago", "the length of time")?;
                Test::MoreThanAgo { amount }
            }
            "anniversary" => {
                self.advance();
                self.expect_word("within", "`anniversary`")?;
                self.expect_word("next", "`anniversary within`")?;
                let days = self.whole_number("a number of days", "`anniversary within next`")?;
                if self.at("days") || self.at("day") {
                    self.advance();
                } else {
                    return Err(self.unexpected("`days` after the number", &["day", "days"]));
                }
                Test::AnniversaryWithinNext { days }
            }
            "has" => return self.has(),
            _ => {
                return Err(self.unexpected(&format!("{TEST_EXAMPLES} after {after}"), TEST_WORDS));
            }
        };
        Ok(test)
    }

    fn comparison(&mut self) -> Res<Test> {
        let op = self.advance();
        let after = describe(&op.tok);
        let value = self.literal(&after)?;
        Ok(match op.tok {
            Tok::Gt => Test::Gt { value },
            Tok::Ge => Test::Gte { value },
            Tok::Lt => Test::Lt { value },
            _ => Test::Lte { value },
        })
    }

    /// `is …`, `is not …`, `is empty`.
    fn is(&mut self) -> Res<Test> {
        self.advance();
        if self.at("not") {
            self.advance();
            return Ok(Test::IsNot {
                value: self.literal("`is not`")?,
            });
        }
        if self.at("empty") {
            self.advance();
            return Ok(Test::IsEmpty);
        }
        Ok(Test::Is {
            value: self.literal("`is`")?,
        })
    }

    fn within(&mut self) -> Res<Test> {
        self.advance();
        if self.at("last") {
            self.advance();
            return Ok(Test::WithinLast {
                amount: self.duration("`within last`")?,
            });
        }
        if self.at("next") {
            self.advance();
            return Ok(Test::WithinNext {
                amount: self.duration("`within next`")?,
            });
        }
        Err(self.unexpected("`last` or `next` after `within`", &["last", "next"]))
    }

    /// `has any of […]`, `has all of […]`, `has none of […]`.
    fn has(&mut self) -> Res<Test> {
        self.advance();
        let which = match self.cont().map(|t| &t.tok) {
            Some(Tok::Word(w)) if ["any", "all", "none"].contains(&w.as_str()) => w.clone(),
            _ => {
                return Err(self.unexpected(
                    "`any of`, `all of` or `none of` after `has`",
                    &["any", "all", "none"],
                ));
            }
        };
        self.advance();
        self.expect_word("of", &format!("`has {which}`"))?;
        let after = format!("`has {which} of`");
        let values = self.list_items(&after)?;
        let mut texts = Vec::with_capacity(values.len());
        for (value, span) in values {
            match value {
                Literal::Text(s) => texts.push(s),
                _ => {
                    return Err(syntax(
                        format!("expected only texts in double quotes in the list after {after}"),
                        span,
                    ));
                }
            }
        }
        Ok(match which.as_str() {
            "any" => Test::HasAny { values: texts },
            "all" => Test::HasAll { values: texts },
            _ => Test::HasNone { values: texts },
        })
    }

    /// `[value, value, …]`
    fn list(&mut self, after: &str) -> Res<Vec<Literal>> {
        let items = self.list_items(after)?;
        Ok(items.into_iter().map(|(value, _)| value).collect())
    }

    /// The values of a list, each with where it was written.
    fn list_items(&mut self, after: &str) -> Res<Vec<(Literal, Span)>> {
        self.expect_tok(Tok::LBracket, after)?;
        let mut values = Vec::new();
        if self.at_tok(&Tok::RBracket) {
            self.advance();
            return Ok(values);
        }
        loop {
            let span = self.current().span;
            values.push((self.literal("`[`")?, span));
            if self.at_tok(&Tok::Comma) {
                self.advance();
            } else if self.at_tok(&Tok::RBracket) {
                self.advance();
                return Ok(values);
            } else {
                return Err(self.unexpected("`,` or `]` in the list", &[]));
            }
        }
    }

    /// A text, a number, `true` or `false`.
    fn literal(&mut self, after: &str) -> Res<Literal> {
        let value = match self.cont().map(|t| &t.tok) {
            Some(Tok::Str(s)) => Literal::Text(s.clone()),
            Some(Tok::Num { value, .. }) => Literal::Number(*value),
            Some(Tok::Word(w)) if w == "true" => Literal::Bool(true),
            Some(Tok::Word(w)) if w == "false" => Literal::Bool(false),
            Some(Tok::Word(w)) if !KEYWORDS.contains(&w.as_str()) => {
                let (_, span) = self.found();
                return Err(syntax(
                    format!(
                        "expected a value after {after}, found `{w}`; write a text in double quotes, as in \"{w}\""
                    ),
                    span,
                ));
            }
            _ => {
                let expected = format!(
                    "a value after {after}: a text in double quotes, a number, `true` or `false`"
                );
                return Err(self.unexpected(&expected, &["true", "false"]));
            }
        };
        self.advance();
        Ok(value)
    }

    /// `30 days`, `1 hour`, …
    fn duration(&mut self, after: &str) -> Res<Duration> {
        let amount = self.whole_number("a length of time", after)?;
        let unit = match self.cont().map(|t| &t.tok) {
            Some(Tok::Word(w)) => match w.as_str() {
                "minute" | "minutes" => Some(Unit::Minutes),
                "hour" | "hours" => Some(Unit::Hours),
                "day" | "days" => Some(Unit::Days),
                "week" | "weeks" => Some(Unit::Weeks),
                _ => None,
            },
            _ => None,
        };
        let Some(unit) = unit else {
            return Err(self.unexpected(
                "a unit of time after the number: `minutes`, `hours`, `days` or `weeks`",
                UNIT_WORDS,
            ));
        };
        self.advance();
        Ok(Duration { amount, unit })
    }
}
