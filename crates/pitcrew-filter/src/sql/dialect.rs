//! What differs between SQLite and PostgreSQL: writing literals inline (text
//! always through the query builder's escaping, never pasted), JSON access
//! (`json_extract` on TEXT columns against JSONB operators) and JSON types.

use sea_query::{PostgresQueryBuilder, QueryBuilder, SqliteQueryBuilder, Value};

use crate::error::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A JSON type a test accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonType {
    Number,
    Text,
    Bool,
    Array,
}

impl Dialect {
    /// A text literal, escaped for this engine. NUL cannot be stored in
    /// PostgreSQL text and ends a C string in SQLite, so it is refused.
    pub(crate) fn text(self, s: &str) -> Result<String, Problem> {
        if s.contains('\0') {
            return Err(Problem::new(
                "text_invalid",
                "a text value contains a NUL character, which cannot be matched; remove it",
            ));
        }
        let value = Value::String(Some(s.to_string()));
        Ok(match self {
            Dialect::Sqlite => SqliteQueryBuilder.value_to_string(&value),
            Dialect::Postgres => PostgresQueryBuilder.value_to_string(&value),
        })
    }

    /// Comma-separated text literals, for `IN (…)` and `ARRAY[…]`.
    pub(crate) fn text_list<'a>(
        self,
        items: impl IntoIterator<Item = &'a str>,
    ) -> Result<String, Problem> {
        let quoted = items
            .into_iter()
            .map(|s| self.text(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(quoted.join(", "))
    }

    /// A number literal both engines read back as the same double: the
    /// shortest exact decimal, in exponent form when that is much shorter.
    pub(crate) fn number(self, n: f64) -> Result<String, Problem> {
        if !n.is_finite() {
            return Err(Problem::new(
                "number_invalid",
                "a number in the condition is not finite; use an ordinary number",
            ));
        }
        let plain = format!("{n}");
        Ok(if plain.len() > 20 {
            format!("{n:e}")
        } else {
            plain
        })
    }

    /// The JSON value `true` or `false` as the engine returns it.
    pub(crate) fn bool_literal(self, b: bool) -> &'static str {
        match (self, b) {
            (Dialect::Sqlite, true) => "1",
            (Dialect::Sqlite, false) => "0",
            (Dialect::Postgres, true) => "'true'::jsonb",
            (Dialect::Postgres, false) => "'false'::jsonb",
        }
    }

    /// SQLite's JSON path for one object key: `$."key"`, with `"` and `\`
    /// escaped inside the quotes, as an escaped SQL literal.
    fn sqlite_path(self, key: &str) -> Result<String, Problem> {
        let mut path = String::with_capacity(key.len() + 4);
        path.push_str("$.\"");
        for c in key.chars() {
            if c == '"' || c == '\\' {
                path.push('\\');
            }
            path.push(c);
        }
        path.push('"');
        self.text(&path)
    }

    /// The value under `key` in the JSON document `doc` as SQL text (strings
    /// unquoted); NULL when missing or JSON null.
    pub(crate) fn json_text(self, doc: &str, key: &str) -> Result<String, Problem> {
        Ok(match self {
            Dialect::Sqlite => format!("json_extract({doc}, {})", self.sqlite_path(key)?),
            Dialect::Postgres => format!("{doc}->>{}", self.text(key)?),
        })
    }

    /// The value under `key` as a double; only meaningful for JSON numbers.
    pub(crate) fn json_number(self, doc: &str, key: &str) -> Result<String, Problem> {
        Ok(match self {
            Dialect::Sqlite => format!(
                "CAST(json_extract({doc}, {}) AS REAL)",
                self.sqlite_path(key)?
            ),
            Dialect::Postgres => format!("({doc}->>{})::float8", self.text(key)?),
        })
    }

    /// The value under `key` in the form booleans compare in (see
    /// `bool_literal`).
    pub(crate) fn json_bool(self, doc: &str, key: &str) -> Result<String, Problem> {
        Ok(match self {
            Dialect::Sqlite => format!("json_extract({doc}, {})", self.sqlite_path(key)?),
            Dialect::Postgres => format!("({doc}->{})", self.text(key)?),
        })
    }

    /// The value under `key` as JSON (PostgreSQL) or as SQLite's extracted
    /// value, for counting distinct values.
    pub(crate) fn json_raw(self, doc: &str, key: &str) -> Result<String, Problem> {
        Ok(match self {
            Dialect::Sqlite => format!("json_extract({doc}, {})", self.sqlite_path(key)?),
            Dialect::Postgres => format!("{doc}->{}", self.text(key)?),
        })
    }

    /// The engine's name of the JSON type under `key`; NULL when missing.
    pub(crate) fn json_type(self, doc: &str, key: &str) -> Result<String, Problem> {
        Ok(match self {
            Dialect::Sqlite => format!("json_type({doc}, {})", self.sqlite_path(key)?),
            Dialect::Postgres => format!("jsonb_typeof({doc}->{})", self.text(key)?),
        })
    }

    /// True when the value under `key` has one of `types`; NULL when missing.
    pub(crate) fn json_is(
        self,
        doc: &str,
        key: &str,
        types: &[JsonType],
    ) -> Result<String, Problem> {
        let names: Vec<&str> = types
            .iter()
            .flat_map(|t| self.type_names(*t))
            .copied()
            .collect();
        let of = self.json_type(doc, key)?;
        Ok(match names.as_slice() {
            [one] => format!("{of} = '{one}'"),
            many => format!(
                "{of} IN ({})",
                many.iter()
                    .map(|n| format!("'{n}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    fn type_names(self, t: JsonType) -> &'static [&'static str] {
        match (self, t) {
            (Dialect::Sqlite, JsonType::Number) => &["integer", "real"],
            (Dialect::Sqlite, JsonType::Text) => &["text"],
            (Dialect::Sqlite, JsonType::Bool) => &["true", "false"],
            (Dialect::Postgres, JsonType::Number) => &["number"],
            (Dialect::Postgres, JsonType::Text) => &["string"],
            (Dialect::Postgres, JsonType::Bool) => &["boolean"],
            (_, JsonType::Array) => &["array"],
        }
    }

    /// The length of the JSON array under `key` (only asked under an
    /// array type check).
    pub(crate) fn json_array_length(self, doc: &str, key: &str) -> Result<String, Problem> {
        Ok(match self {
            Dialect::Sqlite => format!("json_array_length({doc}, {})", self.sqlite_path(key)?),
            Dialect::Postgres => format!("jsonb_array_length({doc}->{})", self.text(key)?),
        })
    }

    /// `json_each(doc, path)` for SQLite's array searches.
    pub(crate) fn sqlite_each(self, doc: &str, key: &str) -> Result<String, Problem> {
        Ok(format!("json_each({doc}, {})", self.sqlite_path(key)?))
    }

    /// `v LIKE pattern ESCAPE '\'`, ignoring the case of ASCII letters only:
    /// SQLite's LIKE already does; PostgreSQL's LIKE is case-sensitive, so
    /// both sides are lowered with `translate`, which touches A–Z alone.
    pub(crate) fn like(
        self,
        value: &str,
        prefix: bool,
        needle: &str,
        suffix: bool,
    ) -> Result<String, Problem> {
        let mut pattern = String::with_capacity(needle.len() + 2);
        if prefix {
            pattern.push('%');
        }
        for c in needle.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(if self == Dialect::Postgres {
                c.to_ascii_lowercase()
            } else {
                c
            });
        }
        if suffix {
            pattern.push('%');
        }
        let pattern = self.text(&pattern)?;
        let escape = self.text("\\")?;
        Ok(match self {
            Dialect::Sqlite => format!("{value} LIKE {pattern} ESCAPE {escape}"),
            Dialect::Postgres => format!(
                "translate({value}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') LIKE {pattern} ESCAPE {escape}"
            ),
        })
    }

    /// An unanchored regular-expression search where `.` matches a line
    /// break too.
    pub(crate) fn regex(self, value: &str, pattern: &str) -> Result<String, Problem> {
        Ok(match self {
            Dialect::Sqlite => format!("{value} REGEXP {}", self.text(&format!("(?s){pattern}"))?),
            Dialect::Postgres => format!("{value} ~ {}", self.text(pattern)?),
        })
    }

    /// `MM-DD` of an epoch-milliseconds column, in UTC, like characters 6–10
    /// of the canonical text form.
    pub(crate) fn month_day_of_millis(self, value: &str) -> String {
        match self {
            Dialect::Sqlite => format!("strftime('%m-%d', {value} / 1000.0, 'unixepoch')"),
            Dialect::Postgres => {
                format!("to_char(to_timestamp({value} / 1000.0) AT TIME ZONE 'UTC', 'MM-DD')")
            }
        }
    }

    /// Text compared by code point order, the order of the in-memory
    /// evaluator, whatever the database's collation.
    pub(crate) fn binary_order(self, value: &str) -> String {
        match self {
            Dialect::Sqlite => value.to_string(),
            Dialect::Postgres => format!("({value}) COLLATE \"C\""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_escaped_for_each_engine() {
        assert_eq!(Dialect::Sqlite.text("it's").as_deref(), Ok("'it''s'"));
        assert_eq!(Dialect::Postgres.text("it's").as_deref(), Ok("E'it\\'s'"));
        assert_eq!(Dialect::Postgres.text("a\\b").as_deref(), Ok("E'a\\\\b'"));
        assert_eq!(Dialect::Sqlite.text("a\\b").as_deref(), Ok("'a\\b'"));
    }

    #[test]
    fn a_nul_character_is_refused() {
        let err = Dialect::Sqlite.text("a\0b").expect_err("NUL refused");
        assert_eq!(err.code, "text_invalid");
    }

    #[test]
    fn sqlite_paths_quote_the_key() {
        assert_eq!(
            Dialect::Sqlite.json_text("d", "a\"b\\c").as_deref(),
            Ok("json_extract(d, '$.\"a\\\"b\\\\c\"')")
        );
    }

    #[test]
    fn numbers_are_written_exactly() {
        assert_eq!(Dialect::Sqlite.number(0.1).as_deref(), Ok("0.1"));
        assert_eq!(Dialect::Sqlite.number(-5.0).as_deref(), Ok("-5"));
        assert_eq!(Dialect::Sqlite.number(1e300).as_deref(), Ok("1e300"));
        assert_eq!(Dialect::Sqlite.number(1.5e-300).as_deref(), Ok("1.5e-300"));
        assert!(Dialect::Sqlite.number(f64::NAN).is_err());
    }

    #[test]
    fn like_needles_escape_wildcards() {
        assert_eq!(
            Dialect::Sqlite.like("v", true, "50%_a\\", true).as_deref(),
            Ok("v LIKE '%50\\%\\_a\\\\%' ESCAPE '\\'")
        );
        assert_eq!(
            Dialect::Postgres.like("v", false, "AbÄ", true).as_deref(),
            Ok(
                "translate(v, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') LIKE 'abÄ%' ESCAPE E'\\\\'"
            )
        );
    }
}
