//! Rendering a template for one person: MJML to HTML, personalisation in a sandbox, links rewritten for tracking and tagged.
//!
//! A template is prepared once per broadcast (MJML converted, the three
//! parts compiled, unknown filters caught with their line) and then rendered
//! per person from a [`Personal`] — the only data a template can see. Pure:
//! no database, no clock, no network.

use std::collections::BTreeSet;
use std::fmt;

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value as Jinja};
use pitcrew_core::campaign::TemplateFormat;
use serde_json::{Map, Value};

/// Work one part of one email may do: enough for loops over a person's
/// data, far too little for a runaway loop.
const FUEL: u64 = 100_000;
/// Nesting of blocks and calls a template may use.
const RECURSION_LIMIT: usize = 100;
/// Largest body (HTML or MJML) accepted, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;
/// Largest subject accepted, in bytes.
pub const MAX_SUBJECT: usize = 2000;

const SUBJECT: &str = "subject";
const HTML: &str = "html";
const TEXT: &str = "text";

/// Globals of the template language: not data, so not reported as variables.
const GLOBALS: &[&str] = &["range", "dict", "namespace", "debug"];

/// Filters offered by the template language, for "did you mean" hints.
const KNOWN_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
];

/// Tests offered by the template language, for "did you mean" hints.
const KNOWN_TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "gt",
    "in",
    "integer",
    "iterable",
    "le",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// Why a template could not be prepared or rendered, said so a marketer
/// can fix it: which part, which line, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    /// `subject`, `html`, `text` or `mjml`.
    pub part: &'static str,
    pub message: String,
    /// The line of the part's source, where known.
    pub line: Option<usize>,
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}: {}", self.part, self.message),
            None => write!(f, "{}: {}", self.part, self.message),
        }
    }
}

impl std::error::Error for RenderError {}

/// What a template may see of one person, and nothing else.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Personal {
    /// The contact's fields by key (`email`, `first_name`, ...). A field
    /// without a value is absent, so `default(...)` applies to it.
    pub contact: Map<String, Value>,
    /// The contact's account's fields, if the contact belongs to one.
    pub account: Option<Map<String, Value>>,
    /// The sender's postal address (required by anti-spam laws).
    pub postal_address: String,
    /// The one-click unsubscribe link for this person; never rewritten.
    pub unsubscribe_url: String,
    /// The preference-center link for this person; never rewritten.
    pub preferences_url: String,
}

/// What happens to links after personalisation.
#[derive(Clone, Copy, Default)]
pub struct LinkPolicy<'a> {
    /// Query parameters added to every web link that lacks them
    /// (`utm_source`, `utm_medium`, `utm_campaign`, ...).
    pub utm: &'a [(String, String)],
    /// Turns a final link into its tracked form (a redirect through
    /// pitcrew); `None` leaves links as they are.
    pub track: Option<&'a dyn Fn(&str) -> String>,
    /// The open-tracking pixel's address; `None` adds no pixel.
    pub open_pixel: Option<&'a str>,
}

/// One email for one person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Rendered {
    /// On one line: line breaks are folded into spaces.
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// A template ready to be rendered for many people.
pub struct Prepared {
    env: Environment<'static>,
    format: TemplateFormat,
    /// No plain-text part was written: it is derived from the HTML.
    derive_text: bool,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("format", &self.format)
            .field("derive_text", &self.derive_text)
            .finish_non_exhaustive()
    }
}

/// The sandbox every part runs in: no loader (nothing outside the three
/// parts can be reached), a fuel budget, a recursion limit, escaping for the
/// HTML part only, and "none" never printed.
fn sandbox<'s>() -> Environment<'s> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_auto_escape_callback(|name| {
        if name == HTML {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            return Ok(());
        }
        minijinja::escape_formatter(out, state, value)
    });
    // `debug()` would print the whole context into the email.
    env.remove_global("debug");
    env
}

/// Prepare a template once: convert MJML, compile the subject, HTML and
/// text parts, and refuse unknown filters and runaway templates with the
/// part and line to fix. An empty `text_body` means the plain-text part is
/// derived from the HTML of each email.
pub fn prepare(
    subject: &str,
    format: TemplateFormat,
    body: &str,
    text_body: &str,
) -> Result<Prepared, RenderError> {
    let body_part = match format {
        TemplateFormat::Html => HTML,
        TemplateFormat::Mjml => "mjml",
    };
    too_large(SUBJECT, subject, MAX_SUBJECT)?;
    too_large(body_part, body, MAX_BODY)?;
    too_large(TEXT, text_body, MAX_BODY)?;
    let mut env = sandbox();
    env.add_template_owned(SUBJECT, subject.to_string())
        .map_err(|e| template_error(SUBJECT, &e, true))?;
    check_names(&env, SUBJECT, subject)?;
    let html = match format {
        TemplateFormat::Html => body.to_string(),
        TemplateFormat::Mjml => {
            // Template syntax is checked on the MJML source, so errors point
            // at the lines the marketer wrote.
            sandbox()
                .add_template("mjml", body)
                .map_err(|e| template_error(body_part, &e, true))?;
            check_names(&env, body_part, body)?;
            mjml_to_html(body)?
        }
    };
    env.add_template_owned(HTML, html).map_err(|e| {
        // An MJML source that compiled converts to HTML that compiles;
        // should it not, its line would point into generated HTML.
        template_error(body_part, &e, format == TemplateFormat::Html)
    })?;
    if format == TemplateFormat::Html {
        check_names(&env, body_part, body)?;
    }
    let derive_text = text_body.trim().is_empty();
    if !derive_text {
        env.add_template_owned(TEXT, text_body.to_string())
            .map_err(|e| template_error(TEXT, &e, true))?;
        check_names(&env, TEXT, text_body)?;
    }
    let prepared = Prepared {
        env,
        format,
        derive_text,
    };
    prepared.dry_run()?;
    Ok(prepared)
}

fn too_large(part: &'static str, source: &str, max: usize) -> Result<(), RenderError> {
    if source.len() <= max {
        return Ok(());
    }
    Err(RenderError {
        part,
        message: format!(
            "is {} KB; keep it under {} KB (host large images and link to them)",
            source.len() / 1024,
            max / 1024
        ),
        line: None,
    })
}

/// Convert MJML to HTML, leaving template tags in text and attributes as
/// they are.
fn mjml_to_html(body: &str) -> Result<String, RenderError> {
    if !body.contains("<mjml") {
        return Err(mjml_error(body, &mrml::prelude::parser::Error::NoRootNode));
    }
    let parsed = mrml::parse(body).map_err(|e| mjml_error(body, &e))?;
    let options = mrml::prelude::render::RenderOptions {
        // No web fonts are fetched unless the template asks with
        // <mj-font>: loading fonts from a third party tells it who opened
        // the email.
        fonts: Default::default(),
        ..Default::default()
    };
    parsed.element.render(&options).map_err(|e| RenderError {
        part: "mjml",
        message: format!("could not be converted to HTML: {e}"),
        line: None,
    })
}

fn mjml_error(body: &str, e: &mrml::prelude::parser::Error) -> RenderError {
    use mrml::prelude::parser::Error as E;
    let (message, at) = match e {
        E::UnexpectedElement { position, .. } => (
            "an element is not allowed here; check it sits inside the right parent (e.g. <mj-text> inside <mj-column>)".to_string(),
            Some(position.start),
        ),
        E::UnexpectedToken { position, .. } => (
            "unexpected text or tag; check the tags are spelled right and closed in order"
                .to_string(),
            Some(position.start),
        ),
        E::MissingAttribute { name, position, .. } => (
            format!("an element needs the attribute \"{name}\""),
            Some(position.start),
        ),
        E::InvalidAttribute { position, .. } => (
            "an attribute is not valid here".to_string(),
            Some(position.start),
        ),
        E::InvalidFormat { position, .. } => (
            "a value has the wrong format".to_string(),
            Some(position.start),
        ),
        E::EndOfStream { .. } => (
            "the MJML ends too early; an element is not closed".to_string(),
            None,
        ),
        E::SizeLimit { .. } => ("the MJML is too large".to_string(), None),
        E::ParserError { source, .. } => (format!("the MJML cannot be read: {source}"), None),
        E::NoRootNode => (
            "no <mjml> element found; an MJML template starts with <mjml> and ends with </mjml>".to_string(),
            None,
        ),
        E::IncludeLoaderError { position, .. } => (
            "<mj-include> is not supported; paste the included content into the template".to_string(),
            Some(position.start),
        ),
    };
    RenderError {
        part: "mjml",
        message,
        line: at.map(|offset| line_at(body, offset)),
    }
}

/// The 1-based line of a byte offset.
fn line_at(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// A template engine error as a marketer reads it. `with_line` is false
/// where the engine's line would point into generated HTML.
fn template_error(part: &'static str, e: &minijinja::Error, with_line: bool) -> RenderError {
    let detail = e.detail().unwrap_or_default();
    let message = match e.kind() {
        ErrorKind::SyntaxError => format!(
            "syntax error: {detail}; check that every {{{{ has its }}}} and every {{% if %}} or {{% for %}} is closed"
        ),
        ErrorKind::OutOfFuel => "the template does too much work for one email and was stopped; shorten or remove the loop".to_string(),
        ErrorKind::TemplateNotFound | ErrorKind::BadInclude => {
            "a template cannot include or import other templates; paste the content in instead".to_string()
        }
        ErrorKind::UnknownFunction => format!("unknown function: {detail}"),
        kind if detail.is_empty() => kind.to_string(),
        kind => format!("{kind}: {detail}"),
    };
    RenderError {
        part,
        message,
        line: if with_line { e.line() } else { None },
    }
}

/// Refuse filters and tests that do not exist, wherever they are
/// written (also in branches no test person would reach).
fn check_names(env: &Environment<'_>, part: &'static str, source: &str) -> Result<(), RenderError> {
    for used in filters_and_tests(source) {
        let (probe, kind, word, known) = match used.kind {
            Named::Filter => (
                format!("{{{{ none|{} }}}}", used.name),
                ErrorKind::UnknownFilter,
                "filter",
                KNOWN_FILTERS,
            ),
            Named::Test => (
                format!("{{{{ none is {} }}}}", used.name),
                ErrorKind::UnknownTest,
                "test",
                KNOWN_TESTS,
            ),
        };
        let unknown = matches!(env.render_str(&probe, ()), Err(e) if e.kind() == kind);
        if unknown {
            let hint = match pitcrew_core::suggest::closest(used.name, known.iter().copied()) {
                Some(s) => format!("; did you mean \"{s}\"?"),
                None => String::new(),
            };
            return Err(RenderError {
                part,
                message: format!("unknown {word} \"{}\"{hint}", used.name),
                line: Some(used.line),
            });
        }
    }
    Ok(())
}

impl Prepared {
    /// How the body was written.
    pub fn format(&self) -> TemplateFormat {
        self.format
    }

    fn body_part(&self) -> &'static str {
        match self.format {
            TemplateFormat::Html => HTML,
            TemplateFormat::Mjml => "mjml",
        }
    }

    /// Render once for nobody in particular and refuse what cannot work for
    /// anyone: unknown functions, includes, a loop that runs out of fuel.
    /// Errors that depend on a person's data are left to each render.
    fn dry_run(&self) -> Result<(), RenderError> {
        let nobody = Personal {
            unsubscribe_url: "https://example.invalid/unsubscribe".into(),
            preferences_url: "https://example.invalid/preferences".into(),
            ..Personal::default()
        };
        let ctx = context(&nobody);
        let mut parts = vec![SUBJECT, HTML];
        if !self.derive_text {
            parts.push(TEXT);
        }
        for part in parts {
            if let Err(f) = self.part(part, &ctx)
                && f.for_everyone
            {
                return Err(f.error);
            }
        }
        Ok(())
    }

    /// Render one part.
    fn part(&self, part: &'static str, ctx: &Jinja) -> Result<String, Failure> {
        let shown = if part == HTML { self.body_part() } else { part };
        let with_line = part != HTML || self.format == TemplateFormat::Html;
        let template = self.env.get_template(part).map_err(|e| Failure {
            error: template_error(shown, &e, false),
            for_everyone: true,
        })?;
        template.render(ctx).map_err(|e| Failure {
            for_everyone: matches!(
                e.kind(),
                ErrorKind::UnknownFilter
                    | ErrorKind::UnknownTest
                    | ErrorKind::UnknownFunction
                    | ErrorKind::OutOfFuel
                    | ErrorKind::TemplateNotFound
                    | ErrorKind::BadInclude
            ),
            error: template_error(shown, &e, with_line),
        })
    }

    /// Render the email for one person and apply the link policy.
    pub fn render(&self, p: &Personal, links: &LinkPolicy) -> Result<Rendered, RenderError> {
        let ctx = context(p);
        let subject = one_line(&self.part(SUBJECT, &ctx)?);
        let html = self.part(HTML, &ctx)?;
        let text = if self.derive_text {
            text_from_html(&html)
        } else {
            self.part(TEXT, &ctx)?
        };
        Ok(Rendered {
            subject,
            html: rewrite_html(&html, p, links),
            text: rewrite_text(&text, p, links),
        })
    }

    /// The variables the three parts use, dotted (`contact.first_name`,
    /// `unsubscribe_url`), without the language's own globals such as
    /// `range`. Lets the caller check the unsubscribe link and postal
    /// address are there and spot misspelt names.
    pub fn variables(&self) -> BTreeSet<String> {
        let mut all = BTreeSet::new();
        for (_, template) in self.env.templates() {
            all.extend(template.undeclared_variables(true));
        }
        all.retain(|v| {
            let root = v.split('.').next().unwrap_or(v);
            !GLOBALS.contains(&root)
        });
        all
    }
}

/// A part that failed to render, and whether it would fail for anyone
/// (so preparing the template refuses it) or only for some data.
struct Failure {
    error: RenderError,
    for_everyone: bool,
}

impl From<Failure> for RenderError {
    fn from(f: Failure) -> RenderError {
        f.error
    }
}

// ---- the context ------------------------------------------------------------

/// The template context of one person.
fn context(p: &Personal) -> Jinja {
    let mut pairs = vec![
        ("contact", fields(&p.contact)),
        ("postal_address", Jinja::from(p.postal_address.as_str())),
        ("unsubscribe_url", url_value(&p.unsubscribe_url)),
        ("preferences_url", url_value(&p.preferences_url)),
    ];
    if let Some(account) = &p.account {
        pairs.push(("account", fields(account)));
    }
    Jinja::from_pairs(pairs)
}

/// Field values without nulls: a field with no value is absent, so it prints
/// nothing and `default(...)` replaces it.
fn fields(m: &Map<String, Value>) -> Jinja {
    Jinja::from_pairs(
        m.iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.as_str(), json(v))),
    )
}

fn json(v: &Value) -> Jinja {
    match v {
        Value::Null => Jinja::from(()),
        Value::Bool(b) => Jinja::from(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Jinja::from(i),
            (None, Some(u), _) => Jinja::from(u),
            (None, None, f) => Jinja::from(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => Jinja::from(s.as_str()),
        Value::Array(items) => Jinja::from(items.iter().map(json).collect::<Vec<_>>()),
        Value::Object(m) => Jinja::from_pairs(m.iter().map(|(k, v)| (k.as_str(), json(v)))),
    }
}

/// Links pitcrew made are inserted verbatim (they must reach the reader
/// exactly as made), unless they hold characters HTML needs escaped.
fn url_value(url: &str) -> Jinja {
    if url.contains(['&', '<', '>', '"', '\'']) {
        Jinja::from(url)
    } else {
        Jinja::from_safe_string(url.to_string())
    }
}

/// A subject on one line: line breaks and other control characters become
/// one space, so a value cannot add a header.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() && !out.ends_with(' ') && c != ' ' {
            out.push(' ');
        }
        gap = false;
        out.push(c);
    }
    out.trim().to_string()
}

// ---- filters and tests a source uses ------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Filter,
    Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Used<'a> {
    kind: Named,
    name: &'a str,
    line: usize,
}

/// The filters (`x|upper`, `{% filter upper %}`) and tests (`x is defined`)
/// a template source names, with their lines. Strings, comments and raw
/// blocks are skipped.
fn filters_and_tests(src: &str) -> Vec<Used<'_>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < b.len() {
        if b[i] == b'\n' {
            line += 1;
        }
        if b[i] != b'{' || i + 1 >= b.len() {
            i += 1;
            continue;
        }
        match b[i + 1] {
            b'#' => i = skip_past(b, i + 2, b"#}", &mut line),
            b'{' | b'%' => {
                let statement = b[i + 1] == b'%';
                let (end, raw) = scan_block(src, i + 2, statement, &mut line, &mut out);
                i = end;
                if raw {
                    i = skip_past(b, i, b"endraw", &mut line);
                    i = skip_past(b, i, b"%}", &mut line);
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Index just after the next `needle` from `from` (or the end), counting lines.
fn skip_past(b: &[u8], from: usize, needle: &[u8], line: &mut usize) -> usize {
    let mut i = from;
    while i < b.len() {
        if b[i..].starts_with(needle) {
            return i + needle.len();
        }
        if b[i] == b'\n' {
            *line += 1;
        }
        i += 1;
    }
    b.len()
}

/// Scan one `{{ }}` or `{% %}` block from `i` (just inside it). Returns
/// where it ends and whether it opened a raw block.
fn scan_block<'a>(
    src: &'a str,
    mut i: usize,
    statement: bool,
    line: &mut usize,
    out: &mut Vec<Used<'a>>,
) -> (usize, bool) {
    #[derive(PartialEq)]
    enum Prev {
        Nothing,
        Pipe,
        Is,
        Dot,
        Other,
    }
    let b = src.as_bytes();
    let close = if statement { b'%' } else { b'}' };
    let mut prev = Prev::Nothing;
    let mut words = 0;
    let mut first = "";
    while i < b.len() {
        let c = b[i];
        if c == close && b.get(i + 1) == Some(&b'}') {
            return (i + 2, statement && first == "raw");
        }
        match c {
            b'\n' => {
                *line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'"' | b'\'' => {
                i += 1;
                while i < b.len() && b[i] != c {
                    if b[i] == b'\\' {
                        i += 1;
                    } else if b[i] == b'\n' {
                        *line += 1;
                    }
                    i += 1;
                }
                i += 1;
                prev = Prev::Other;
            }
            b'|' => {
                i += 1;
                prev = Prev::Pipe;
            }
            b'.' => {
                i += 1;
                prev = Prev::Dot;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &src[start..i];
                words += 1;
                if words == 1 {
                    first = word;
                }
                let used = |kind| Used {
                    kind,
                    name: word,
                    line: *line,
                };
                prev = match prev {
                    Prev::Pipe => {
                        out.push(used(Named::Filter));
                        Prev::Other
                    }
                    Prev::Is if word == "not" => Prev::Is,
                    Prev::Is => {
                        out.push(used(Named::Test));
                        Prev::Other
                    }
                    Prev::Dot => Prev::Other,
                    _ if statement && words == 2 && first == "filter" => {
                        out.push(used(Named::Filter));
                        Prev::Other
                    }
                    _ if word == "is" => Prev::Is,
                    _ => Prev::Other,
                };
            }
            _ => {
                i += 1;
                prev = Prev::Other;
            }
        }
    }
    (b.len(), false)
}

// ---- links -------------------------------------------------------------------

/// An `href` attribute value found in HTML: its byte range (without quotes).
struct Href {
    start: usize,
    end: usize,
}

/// Every `href` of `<a>` and `<area>` tags, in document order.
fn hrefs(html: &str) -> Vec<Href> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(offset) = html[i..].find('<') {
        i += offset + 1;
        let name_end = b[i..]
            .iter()
            .position(|c| !c.is_ascii_alphanumeric())
            .map_or(b.len(), |p| i + p);
        let name = &html[i..name_end];
        if !(name.eq_ignore_ascii_case("a") || name.eq_ignore_ascii_case("area")) {
            continue;
        }
        i = name_end;
        // Attributes up to the end of the tag.
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                break;
            }
            let attr_start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !b"=>/".contains(&b[i]) {
                i += 1;
            }
            let attr = &html[attr_start..i];
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= b.len() || b[i] != b'=' {
                continue;
            }
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let (start, end) = match b.get(i) {
                Some(q @ (b'"' | b'\'')) => {
                    let start = i + 1;
                    let end = b[start..]
                        .iter()
                        .position(|c| c == q)
                        .map_or(b.len(), |p| start + p);
                    i = (end + 1).min(b.len());
                    (start, end)
                }
                _ => {
                    let start = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    (start, i)
                }
            };
            if attr.eq_ignore_ascii_case("href") {
                out.push(Href { start, end });
            }
        }
    }
    out
}

/// The link targets of rendered HTML (`href` of `<a>` and `<area>`), with
/// entities decoded, in document order.
pub fn links(html: &str) -> Vec<String> {
    hrefs(html)
        .iter()
        .map(|h| decode_entities(&html[h.start..h.end]).trim().to_string())
        .collect()
}

/// A link's new form under the policy, or `None` to leave it untouched:
/// anchors, `mailto:`, `tel:`, anything not http(s), and the unsubscribe
/// and preference links stay exactly as written.
fn rewrite_url(raw: &str, p: &Personal, links: &LinkPolicy) -> Option<String> {
    let url = raw.trim();
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    if url == p.unsubscribe_url || url == p.preferences_url {
        return None;
    }
    let tagged = with_utm(url, links.utm);
    let target = tagged.as_deref().unwrap_or(url);
    match links.track {
        Some(track) => Some(track(target)),
        None => tagged,
    }
}

/// The link with the UTM parameters it lacks; `None` when it lacks none
/// (or cannot be read), so it keeps its exact spelling.
fn with_utm(url: &str, utm: &[(String, String)]) -> Option<String> {
    if utm.is_empty() {
        return None;
    }
    let mut parsed = url::Url::parse(url).ok()?;
    let present: BTreeSet<String> = parsed.query_pairs().map(|(k, _)| k.into_owned()).collect();
    let missing: Vec<&(String, String)> = utm
        .iter()
        .filter(|(k, _)| !present.contains(k.as_str()))
        .collect();
    if missing.is_empty() {
        return None;
    }
    {
        let mut query = parsed.query_pairs_mut();
        for (k, v) in missing {
            query.append_pair(k, v);
        }
    }
    Some(parsed.to_string())
}

fn rewrite_html(html: &str, p: &Personal, links: &LinkPolicy) -> String {
    let rewrites = !links.utm.is_empty() || links.track.is_some();
    let mut out = String::with_capacity(html.len() + 256);
    let mut copied = 0;
    if rewrites {
        for h in hrefs(html) {
            let raw = decode_entities(&html[h.start..h.end]);
            if let Some(new) = rewrite_url(&raw, p, links) {
                out.push_str(&html[copied..h.start]);
                out.push_str(&escape_attribute(&new));
                copied = h.end;
            }
        }
    }
    out.push_str(&html[copied..]);
    if let Some(pixel) = links.open_pixel {
        let img = format!(
            r#"<img src="{}" width="1" height="1" alt="" style="display:none">"#,
            escape_attribute(pixel)
        );
        match rfind_ignore_case(&out, "</body") {
            Some(at) => out.insert_str(at, &img),
            None => out.push_str(&img),
        }
    }
    out
}

fn rfind_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..=h.len().checked_sub(n.len())?)
        .rev()
        .find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Web links in plain text, rewritten under the policy.
fn rewrite_text(text: &str, p: &Personal, links: &LinkPolicy) -> String {
    if links.utm.is_empty() && links.track.is_none() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 256);
    let mut copied = 0;
    for (start, end) in text_urls(text) {
        if let Some(new) = rewrite_url(&text[start..end], p, links) {
            out.push_str(&text[copied..start]);
            out.push_str(&new);
            copied = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Byte ranges of http(s) links in plain text. A link ends at white space
/// or a quote or angle bracket; trailing punctuation belongs to the sentence.
fn text_urls(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        let starts = rest.len() >= 7
            && (rest[..7].eq_ignore_ascii_case(b"http://")
                || rest.len() >= 8 && rest[..8].eq_ignore_ascii_case(b"https://"));
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if !(starts && boundary) {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < b.len() && !b[end].is_ascii_whitespace() && !b"<>\"'".contains(&b[end]) {
            end += 1;
        }
        let opens = |end: usize, c: u8| b[i..end].contains(&c);
        while end > i {
            match b[end - 1] {
                b'.' | b',' | b';' | b':' | b'!' | b'?' => end -= 1,
                b')' if !opens(end, b'(') => end -= 1,
                b']' if !opens(end, b'[') => end -= 1,
                _ => break,
            }
        }
        out.push((i, end));
        i = end.max(i + 1);
    }
    out
}

// ---- plain text from HTML ----------------------------------------------------------

/// A readable plain-text version of an email's HTML: tags removed, links
/// kept as `text (url)`, entities decoded, white space collapsed.
pub fn text_from_html(html: &str) -> String {
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len() / 2);
    // Open links: their target and where their text starts in `out`.
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts_tag = b[i] == b'<'
            && b.get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || b"/!".contains(c));
        if !starts_tag {
            let next = html[i + 1..].find('<').map_or(b.len(), |p| i + 1 + p);
            push_text(&mut out, &decode_entities(&html[i..next]));
            i = next;
            continue;
        }
        if b[i..].starts_with(b"<!--") {
            i = html[i + 4..].find("-->").map_or(b.len(), |p| i + 4 + p + 3);
            continue;
        }
        let end = tag_end(b, i);
        let tag = &html[i + 1..end.saturating_sub(1).max(i + 1)];
        i = end;
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        match (name.as_str(), closing) {
            ("head" | "style" | "script" | "title", false) => {
                let close = format!("</{name}");
                i = find_ignore_case(html, i, &close).map_or(b.len(), |at| tag_end(b, at));
            }
            ("a", false) => {
                let target = links(&format!("<{tag}>")).pop().unwrap_or_default();
                open.push((target, out.len()));
            }
            ("a", true) => {
                if let Some((target, start)) = open.pop() {
                    let shown = out.get(start..).unwrap_or("").trim().to_string();
                    append_target(&mut out, &shown, &target);
                }
            }
            ("br", _) => out.push('\n'),
            ("li", false) => out.push_str("\n- "),
            ("p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table" | "blockquote", _) => {
                out.push_str("\n\n")
            }
            ("div" | "tr" | "ul" | "ol" | "section" | "hr", _) => out.push('\n'),
            ("td" | "th", _) => out.push(' '),
            _ => {}
        }
    }
    tidy(&out)
}

/// After a link's text, its target, unless the text already says it.
fn append_target(out: &mut String, shown: &str, target: &str) {
    let lower = target.to_ascii_lowercase();
    let shown_target = if lower.starts_with("mailto:") {
        &target[7..]
    } else if lower.starts_with("http://") || lower.starts_with("https://") {
        target
    } else {
        return;
    };
    if shown == target || shown == shown_target {
        return;
    }
    if shown.is_empty() {
        out.push_str(shown_target);
    } else {
        out.push_str(" (");
        out.push_str(shown_target);
        out.push(')');
    }
}

/// Index just after the `>` closing the tag that starts at `start`, quotes respected.
fn tag_end(b: &[u8], start: usize) -> usize {
    let mut quote = None;
    for (k, c) in b.iter().enumerate().skip(start + 1) {
        match (quote, c) {
            (None, b'"' | b'\'') => quote = Some(*c),
            (Some(q), c) if q == *c => quote = None,
            (None, b'>') => return k + 1,
            _ => {}
        }
    }
    b.len()
}

fn find_ignore_case(haystack: &str, from: usize, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (from..=h.len().checked_sub(n.len())?).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Text as a browser shows it: runs of white space are one space.
fn push_text(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_whitespace() && c != '\u{a0}' {
            if !out.ends_with([' ', '\n']) && !out.is_empty() {
                out.push(' ');
            }
        } else if c == '\u{a0}' {
            out.push(' ');
        } else if !is_invisible(c) {
            out.push(c);
        }
    }
}

/// Characters email HTML uses as invisible padding (preview-text fillers).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200d}' | '\u{034f}' | '\u{feff}' | '\u{ad}'
    )
}

/// Lines trimmed, at most one blank line in a row, none at either end.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(&line);
    }
    out
}

/// Decode the HTML entities emails commonly carry; unknown ones stay as written.
pub fn decode_entities(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest[1..]
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .map(|(k, _)| k + 1);
        let decoded = end.and_then(|end| entity(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "zwnj" => '\u{200c}',
        "zwj" => '\u{200d}',
        "shy" => '\u{ad}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "deg" => '°',
        "times" => '×',
        _ => return None,
    })
}

/// Escape a value for a quoted HTML attribute.
fn escape_attribute(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const UNSUBSCRIBE: &str = "https://mail.acme.example/u/7.abc.def";
    const PREFERENCES: &str = "https://mail.acme.example/u/7.abc.def/preferences";

    fn person(contact: Value) -> Personal {
        let Value::Object(contact) = contact else {
            panic!("a JSON object");
        };
        Personal {
            contact,
            account: None,
            postal_address: "Acme GmbH, Hauptstr. 1, 10115 Berlin".into(),
            unsubscribe_url: UNSUBSCRIBE.into(),
            preferences_url: PREFERENCES.into(),
        }
    }

    fn ana() -> Personal {
        person(json!({"email": "ana@example.com", "first_name": "Ana"}))
    }

    fn html(body: &str) -> Prepared {
        prepare("Hello", TemplateFormat::Html, body, "").expect("prepares")
    }

    fn plain(p: &Prepared, who: &Personal) -> Rendered {
        p.render(who, &LinkPolicy::default()).expect("renders")
    }

    fn utm() -> Vec<(String, String)> {
        vec![
            ("utm_source".into(), "pitcrew".into()),
            ("utm_medium".into(), "email".into()),
            ("utm_campaign".into(), "spring sale".into()),
        ]
    }

    #[test]
    fn fields_are_escaped_in_html_and_kept_raw_in_text_and_subject() {
        let p = prepare(
            "Hi {{ contact.first_name }}",
            TemplateFormat::Html,
            "<p>Hi {{ contact.first_name }}</p>",
            "Hi {{ contact.first_name }}",
        )
        .expect("prepares");
        let r = plain(&p, &person(json!({"first_name": "<script>x</script>"})));
        assert_eq!(r.html, "<p>Hi &lt;script&gt;x&lt;&#x2f;script&gt;</p>");
        assert_eq!(r.text, "Hi <script>x</script>");
        assert_eq!(r.subject, "Hi <script>x</script>");
    }

    #[test]
    fn missing_fields_fall_back_to_default_and_never_print_none() {
        let p = html(concat!(
            "Hi {{ contact.first_name | default(\"there\") }}!",
            "[{{ contact.nickname }}][{{ contact.middle_name }}]",
            "[{{ account.name }}][{{ account.address.city }}][{{ none }}]",
        ));
        let who = person(json!({"email": "a@b.example", "middle_name": null}));
        assert_eq!(plain(&p, &who).html, "Hi there![][][][][]");
        assert_eq!(plain(&p, &ana()).html, "Hi Ana![][][][][]");
    }

    #[test]
    fn the_account_is_visible_when_the_contact_has_one() {
        let p = html("{{ account.name }} / {{ contact.first_name }}");
        let mut who = ana();
        who.account = Some(
            json!({"name": "Acme"})
                .as_object()
                .cloned()
                .expect("object"),
        );
        assert_eq!(plain(&p, &who).html, "Acme / Ana");
    }

    #[test]
    fn line_breaks_in_the_subject_fold_into_spaces() {
        let p = prepare(
            "Hi {{ contact.first_name }}\n",
            TemplateFormat::Html,
            "<p>x</p>",
            "",
        )
        .expect("prepares");
        let r = plain(
            &p,
            &person(json!({"first_name": "Ana\r\nBcc: evil@example.com"})),
        );
        assert_eq!(r.subject, "Hi Ana Bcc: evil@example.com");
    }

    #[test]
    fn an_unknown_filter_is_reported_with_part_line_and_suggestion() {
        let e = prepare(
            "Hello",
            TemplateFormat::Html,
            "<p>\nHi\n{{ contact.first_name | uper }}</p>",
            "",
        )
        .expect_err("unknown filter");
        assert_eq!((e.part, e.line), ("html", Some(3)));
        assert_eq!(
            e.to_string(),
            "html line 3: unknown filter \"uper\"; did you mean \"upper\"?"
        );
    }

    #[test]
    fn unknown_filters_and_tests_are_found_in_branches_nobody_reaches() {
        let cases = [
            (
                "{% if false %}\n{{ x|uper }}{% endif %}",
                "unknown filter \"uper\"",
                2,
            ),
            (
                "{% filter shout %}x{% endfilter %}",
                "unknown filter \"shout\"",
                1,
            ),
            (
                "{% if x is not defind %}y{% endif %}",
                "unknown test \"defind\"",
                1,
            ),
        ];
        for (body, message, line) in cases {
            let e = prepare("", TemplateFormat::Html, body, "").expect_err(body);
            assert!(e.message.starts_with(message), "{body}: {e}");
            assert_eq!(e.line, Some(line), "{body}");
        }
    }

    #[test]
    fn filter_like_text_in_strings_comments_and_raw_blocks_is_not_a_filter() {
        let body = concat!(
            "{{ \"a|b\" }}{# x|nope #}{% raw %}{{ y|nope }}{% endraw %}",
            "{{ contact.is_vip }}{{ contact.tags | join(\", \") | upper }}",
            "{% if contact.first_name is defined %}yes{% endif %}",
        );
        let p = html(body);
        let r = plain(&p, &person(json!({"tags": ["a", "b"], "first_name": "A"})));
        assert_eq!(r.html, "a|b{{ y|nope }}A, Byes");
    }

    #[test]
    fn syntax_errors_name_their_part_and_line() {
        let e = prepare(
            "",
            TemplateFormat::Html,
            "<p>\n{{ contact.first_name </p>",
            "",
        )
        .expect_err("unclosed");
        assert_eq!((e.part, e.line), ("html", Some(2)), "{e}");
        assert!(e.message.starts_with("syntax error"), "{e}");
        let e = prepare("Hi {% if %}", TemplateFormat::Html, "<p>x</p>", "").expect_err("subject");
        assert_eq!(e.part, "subject");
        let e = prepare("", TemplateFormat::Html, "<p>x</p>", "a\nb\n{% for %}").expect_err("text");
        assert_eq!((e.part, e.line), ("text", Some(3)));
    }

    #[test]
    fn a_runaway_loop_stops_with_a_clear_error() {
        let huge = "{% for i in range(10**9) %}x{% endfor %}";
        let outcome = prepare("", TemplateFormat::Html, huge, "")
            .and_then(|p| p.render(&ana(), &LinkPolicy::default()));
        let e = outcome.expect_err("stopped");
        assert!(e.message.contains("range has too many elements"), "{e}");

        let nested =
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
        let e = prepare("", TemplateFormat::Html, nested, "").expect_err("out of fuel");
        assert!(e.message.contains("too much work"), "{e}");
        assert_eq!(e.part, "html");
    }

    #[test]
    fn templates_cannot_reach_other_templates_or_dump_their_context() {
        for body in [
            "{% include \"text\" %}",
            "{% import \"subject\" as s %}",
            "{% extends \"base.html\" %}",
            "{{ debug() }}",
        ] {
            let outcome = prepare("", TemplateFormat::Html, body, "")
                .and_then(|p| p.render(&ana(), &LinkPolicy::default()));
            assert!(outcome.is_err(), "{body}: {outcome:?}");
        }
    }

    #[test]
    fn mjml_keeps_template_tags_in_text_and_attributes() {
        let mjml = r#"<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {{ contact.first_name | default("there") }}{% if account.name %} from {{ account.name }}{% endif %}</mj-text>
        <mj-button href="https://acme.example/offer?who={{ contact.first_name }}">Shop</mj-button>
        <mj-text><a href="{{ unsubscribe_url }}">Unsubscribe</a> {{ postal_address }}</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"#;
        let p = prepare("Hi", TemplateFormat::Mjml, mjml, "").expect("prepares");
        let r = plain(&p, &ana());
        assert!(r.html.contains("Hello Ana"), "{}", r.html);
        assert!(
            r.html
                .contains(r#"href="https://acme.example/offer?who=Ana""#),
            "{}",
            r.html
        );
        assert!(
            r.html.contains(&format!(r#"href="{UNSUBSCRIBE}""#)),
            "{}",
            r.html
        );
        assert!(r.html.contains("Hauptstr. 1"));
        assert!(
            !r.html.contains("fonts.googleapis.com"),
            "no third-party fonts"
        );
        let nobody = person(json!({}));
        assert!(plain(&p, &nobody).html.contains("Hello there"));
        // The derived plain text is readable: no markup, no styles.
        assert!(r.text.contains("Hello Ana"), "{}", r.text);
        assert!(
            r.text.contains("Shop (https://acme.example/offer?who=Ana)"),
            "{}",
            r.text
        );
        assert!(!r.text.contains('<') && !r.text.contains('{'), "{}", r.text);
    }

    #[test]
    fn mjml_sections_can_be_shown_conditionally() {
        let mjml = "<mjml><mj-body>{% if account.name %}<mj-section><mj-column><mj-text>Team {{ account.name }}</mj-text></mj-column></mj-section>{% endif %}</mj-body></mjml>";
        let p = prepare("", TemplateFormat::Mjml, mjml, "").expect("prepares");
        assert!(!plain(&p, &ana()).html.contains("Team"));
        let mut member = ana();
        member.account = Some(
            json!({"name": "Acme"})
                .as_object()
                .cloned()
                .expect("object"),
        );
        assert!(plain(&p, &member).html.contains("Team Acme"));
    }

    #[test]
    fn mjml_errors_point_at_the_mjml_line() {
        let e = prepare(
            "",
            TemplateFormat::Mjml,
            "<mjml>\n<mj-body><mj-section><mj-column>\n<mj-text>{{ contact.first_name | uper }}</mj-text>\n</mj-column></mj-section></mj-body>\n</mjml>",
            "",
        )
        .expect_err("unknown filter");
        assert_eq!((e.part, e.line), ("mjml", Some(3)), "{e}");
        let e = prepare("", TemplateFormat::Mjml, "<p>not mjml</p>", "").expect_err("no root");
        assert_eq!(e.part, "mjml");
        assert!(e.message.contains("<mjml>"), "{e}");
        let e = prepare(
            "",
            TemplateFormat::Mjml,
            "<mjml>\n<mj-body>\n<mj-section>\n</mj-body>\n</mjml>",
            "",
        )
        .expect_err("unclosed section");
        assert_eq!(e.part, "mjml");
    }

    #[test]
    fn web_links_get_missing_utm_tags_keeping_query_and_fragment() {
        let p = html(concat!(
            r#"<a href="https://acme.example/p?a=1&amp;b=2#top">x</a>"#,
            r#"<a href='https://acme.example/q?utm_source=partner'>y</a>"#,
        ));
        let utm = utm();
        let r = p
            .render(
                &ana(),
                &LinkPolicy {
                    utm: &utm,
                    ..LinkPolicy::default()
                },
            )
            .expect("renders");
        assert_eq!(
            links(&r.html),
            [
                "https://acme.example/p?a=1&b=2&utm_source=pitcrew&utm_medium=email&utm_campaign=spring+sale#top",
                "https://acme.example/q?utm_source=partner&utm_medium=email&utm_campaign=spring+sale",
            ]
        );
        assert!(
            r.html.contains("a=1&amp;b=2&amp;utm_source"),
            "escaped again: {}",
            r.html
        );
    }

    #[test]
    fn tracking_wraps_web_links_but_never_unsubscribe_mailto_tel_or_anchors() {
        let p = prepare(
            "",
            TemplateFormat::Html,
            concat!(
                r#"<html><body><a href="https://acme.example/shoes">Shoes</a>"#,
                r#"<area href="http://acme.example/map"><a href="mailto:hi@acme.example">Mail</a>"#,
                r##"<a href="tel:+4930123">Call</a><a href="#top">Top</a><a name="x">n</a>"##,
                r#"<a href="{{ unsubscribe_url }}">Unsubscribe</a><a href="{{ preferences_url }}">Prefs</a>"#,
                "</body></html>",
            ),
            "Shoes: https://acme.example/shoes.\nUnsubscribe: {{ unsubscribe_url }}\nMail: mailto:hi@acme.example",
        )
        .expect("prepares");
        let track = |u: &str| format!("https://t.example/c/{}", u.len());
        let utm = utm();
        let policy = LinkPolicy {
            utm: &utm,
            track: Some(&track),
            open_pixel: Some("https://t.example/o/1"),
        };
        let r = p.render(&ana(), &policy).expect("renders");
        let tags = "utm_source=pitcrew&utm_medium=email&utm_campaign=spring+sale";
        let tagged = format!("https://acme.example/shoes?{tags}");
        let area = format!("http://acme.example/map?{tags}");
        assert_eq!(
            links(&r.html),
            [
                format!("https://t.example/c/{}", tagged.len()).as_str(),
                format!("https://t.example/c/{}", area.len()).as_str(),
                "mailto:hi@acme.example",
                "tel:+4930123",
                "#top",
                UNSUBSCRIBE,
                PREFERENCES,
            ]
        );
        assert!(r.html.ends_with(
            r#"<img src="https://t.example/o/1" width="1" height="1" alt="" style="display:none"></body></html>"#
        ));
        assert_eq!(
            r.text,
            format!(
                "Shoes: https://t.example/c/{}.\nUnsubscribe: {UNSUBSCRIBE}\nMail: mailto:hi@acme.example",
                tagged.len()
            )
        );
    }

    #[test]
    fn the_open_pixel_goes_at_the_end_when_there_is_no_body_tag() {
        let p = html("<p>x</p>");
        let policy = LinkPolicy {
            open_pixel: Some("https://t.example/o/1?a=1&b=2"),
            ..LinkPolicy::default()
        };
        let r = p.render(&ana(), &policy).expect("renders");
        assert_eq!(
            r.html,
            r#"<p>x</p><img src="https://t.example/o/1?a=1&amp;b=2" width="1" height="1" alt="" style="display:none">"#
        );
    }

    #[test]
    fn links_are_left_exactly_as_written_without_a_policy() {
        let body =
            r#"<a href="https://Acme.example">x</a> <a href=https://acme.example/a?b=c>y</a>"#;
        assert_eq!(plain(&html(body), &ana()).html, body);
        assert_eq!(
            links(body),
            ["https://Acme.example", "https://acme.example/a?b=c"]
        );
    }

    #[test]
    fn the_unsubscribe_link_is_inserted_verbatim() {
        let r = plain(&html(r#"<a href="{{ unsubscribe_url }}">u</a>"#), &ana());
        assert_eq!(r.html, format!(r#"<a href="{UNSUBSCRIBE}">u</a>"#));
        let mut odd = ana();
        odd.unsubscribe_url = "https://x.example/u?a=1&b=\"2\"".into();
        let r = plain(&html(r#"<a href="{{ unsubscribe_url }}">u</a>"#), &odd);
        assert_eq!(links(&r.html), [odd.unsubscribe_url.as_str()]);
    }

    #[test]
    fn plain_text_is_derived_from_the_html_when_none_is_written() {
        let p = html(concat!(
            "<html><head><title>T</title><style>p { color: red }</style></head><body>",
            "<!--[if mso]><table><tr><td><![endif]-->",
            "<h1>Hello&nbsp;{{ contact.first_name }}</h1>\n\n\n<p>See   <a href=\"https://acme.example/x?a=1&amp;b=2\">our shoes</a> &amp; more &#8212; now.</p>",
            "<ul><li>One</li><li>Two</li></ul><p><a href=\"https://acme.example\">https://acme.example</a>",
            "<br>Write to <a href=\"mailto:hi@acme.example\">hi@acme.example</a></p>",
            "<p>1 < 2</p><script>alert(1)</script></body></html>",
        ));
        assert_eq!(
            plain(&p, &ana()).text,
            "Hello Ana\n\nSee our shoes (https://acme.example/x?a=1&b=2) & more — now.\n\n- One\n- Two\n\nhttps://acme.example\nWrite to hi@acme.example\n\n1 < 2"
        );
    }

    #[test]
    fn variables_lists_the_dotted_names_used_without_globals() {
        let p = prepare(
            "{{ contact.first_name }}",
            TemplateFormat::Html,
            "{% for i in range(3) %}{{ i }}{% endfor %}{{ contatc.first_name }}<a href=\"{{ unsubscribe_url }}\">u</a>",
            "{{ postal_address }} {{ account.name }}",
        )
        .expect("prepares");
        let expected: BTreeSet<String> = [
            "account.name",
            "contact.first_name",
            "contatc.first_name",
            "postal_address",
            "unsubscribe_url",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(p.variables(), expected);
    }

    #[test]
    fn text_links_end_before_sentence_punctuation() {
        let text =
            "See https://a.example/x. Or (https://a.example/y), or https://en.example/wiki/A_(b)!";
        let found: Vec<&str> = text_urls(text).iter().map(|(s, e)| &text[*s..*e]).collect();
        assert_eq!(
            found,
            [
                "https://a.example/x",
                "https://a.example/y",
                "https://en.example/wiki/A_(b)"
            ]
        );
    }

    #[test]
    fn entities_decode_and_unknown_ones_stay() {
        assert_eq!(
            decode_entities("a&amp;b &lt;&#x2f;&#47;&gt; &bogus; & &#0; &copy;"),
            "a&b <//> &bogus; & &#0; ©"
        );
    }

    #[test]
    fn oversized_bodies_are_refused() {
        let e = prepare("", TemplateFormat::Html, &"x".repeat(MAX_BODY + 1), "")
            .expect_err("too large");
        assert_eq!(e.part, "html");
        assert!(e.message.contains("keep it under"), "{e}");
    }

    /// Run with `cargo test --release -- --ignored renders_a_newsletter`.
    #[test]
    #[ignore = "a speed check; meaningful in release builds only"]
    fn renders_a_newsletter_well_over_300_times_a_second() {
        let section = r#"<mj-section><mj-column>
<mj-image src="https://acme.example/img.png" alt="Shoes" href="https://acme.example/shoes" />
<mj-text>Hello {{ contact.first_name | default("there") }}, our spring collection is here.
{% if account.name %}Your team at {{ account.name }} gets 10% off.{% endif %}</mj-text>
<mj-button href="https://acme.example/shop?ref=news">Shop now</mj-button>
</mj-column></mj-section>"#;
        let mjml = format!(
            "<mjml><mj-body>{}<mj-section><mj-column><mj-text><a href=\"{{{{ unsubscribe_url }}}}\">Unsubscribe</a> {{{{ postal_address }}}}</mj-text></mj-column></mj-section></mj-body></mjml>",
            section.repeat(8)
        );
        let p = prepare(
            "Spring for {{ contact.first_name }}",
            TemplateFormat::Mjml,
            &mjml,
            "",
        )
        .expect("prepares");
        let utm = utm();
        let track = |u: &str| format!("https://t.example/c/{}", u.len());
        let policy = LinkPolicy {
            utm: &utm,
            track: Some(&track),
            open_pixel: Some("https://t.example/o/1"),
        };
        let n = 2000;
        let started = std::time::Instant::now();
        for i in 0..n {
            let who = person(
                json!({"email": format!("p{i}@example.com"), "first_name": format!("P{i}")}),
            );
            p.render(&who, &policy).expect("renders");
        }
        let per_second = f64::from(n) / started.elapsed().as_secs_f64();
        println!("{per_second:.0} renders per second");
        assert!(per_second > 300.0, "{per_second:.0} renders per second");
    }
}
