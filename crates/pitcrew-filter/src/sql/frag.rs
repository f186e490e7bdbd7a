//! Boolean SQL fragments and how they combine: `AND`, `OR` and `NOT` with only
//! the parentheses meaning needs, constants folded, and the guards that keep
//! every test two-valued (true or false, never NULL).

/// How tightly a fragment binds, to decide where parentheses are needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Prec {
    /// Self-contained: a parenthesised expression, a call, `EXISTS (…)`,
    /// `CASE … END`, `TRUE`.
    Atom,
    /// A comparison or a `NOT …`: safe as an operand of `AND` and `OR`.
    Pred,
    And,
    Or,
}

/// A boolean SQL expression that is never NULL.
#[derive(Debug, Clone)]
pub(crate) struct Frag {
    pub(crate) sql: String,
    pub(crate) prec: Prec,
    /// For `NOT x`: `x`, so that a double negation reads as the original.
    negation_of: Option<Box<Frag>>,
    /// A better way to write the negation, such as `IS NULL` for
    /// `IS NOT NULL`.
    negated: Option<String>,
}

impl Frag {
    pub(crate) fn atom(sql: impl Into<String>) -> Frag {
        Frag {
            sql: sql.into(),
            prec: Prec::Atom,
            negation_of: None,
            negated: None,
        }
    }

    pub(crate) fn pred(sql: impl Into<String>) -> Frag {
        Frag {
            sql: sql.into(),
            prec: Prec::Pred,
            negation_of: None,
            negated: None,
        }
    }

    /// The same fragment, whose negation is written `negated`.
    pub(crate) fn negated_as(self, negated: String) -> Frag {
        Frag {
            negated: Some(negated),
            ..self
        }
    }

    /// `<value> IS NOT NULL`, whose negation reads `<value> IS NULL`.
    pub(crate) fn not_null(value: &str) -> Frag {
        Frag {
            negated: Some(format!("{value} IS NULL")),
            ..Frag::pred(format!("{value} IS NOT NULL"))
        }
    }

    pub(crate) fn constant(value: bool) -> Frag {
        Frag::atom(if value { "TRUE" } else { "FALSE" })
    }

    pub(crate) fn is_true(&self) -> bool {
        self.sql == "TRUE"
    }

    pub(crate) fn is_false(&self) -> bool {
        self.sql == "FALSE"
    }

    /// The text to place as one operand of `AND`.
    pub(crate) fn and_operand(&self) -> String {
        if self.prec == Prec::Or {
            format!("({})", self.sql)
        } else {
            self.sql.clone()
        }
    }

    /// The text to place as one operand of `OR`; an `AND` inside an `OR` is
    /// parenthesised for the reader, not for the parser.
    fn or_operand(&self) -> String {
        if self.prec == Prec::And {
            format!("({})", self.sql)
        } else {
            self.sql.clone()
        }
    }

    /// The text as a whole expression that may be placed after `AND` by a
    /// caller that composes it.
    pub(crate) fn standalone(&self) -> String {
        self.and_operand()
    }
}

/// True when every part is true (true when there are none).
pub(crate) fn all(parts: Vec<Frag>) -> Frag {
    let mut kept = Vec::new();
    for part in parts {
        if part.is_false() {
            return Frag::constant(false);
        }
        if !part.is_true() {
            kept.push(part);
        }
    }
    if kept.len() <= 1 {
        return kept.pop().unwrap_or_else(|| Frag::constant(true));
    }
    let sql = kept
        .iter()
        .map(Frag::and_operand)
        .collect::<Vec<_>>()
        .join(" AND ");
    Frag {
        sql,
        prec: Prec::And,
        negation_of: None,
        negated: None,
    }
}

/// True when at least one part is true (false when there are none).
pub(crate) fn any(parts: Vec<Frag>) -> Frag {
    let mut kept = Vec::new();
    for part in parts {
        if part.is_true() {
            return Frag::constant(true);
        }
        if !part.is_false() {
            kept.push(part);
        }
    }
    if kept.len() <= 1 {
        return kept.pop().unwrap_or_else(|| Frag::constant(false));
    }
    let sql = kept
        .iter()
        .map(Frag::or_operand)
        .collect::<Vec<_>>()
        .join(" OR ");
    Frag {
        sql,
        prec: Prec::Or,
        negation_of: None,
        negated: None,
    }
}

/// The negation; exact because every fragment is two-valued.
pub(crate) fn not(part: Frag) -> Frag {
    if part.is_true() || part.is_false() {
        return Frag::constant(part.is_false());
    }
    if let Some(inner) = part.negation_of {
        return *inner;
    }
    if let Some(sql) = part.negated.clone() {
        return Frag {
            sql,
            prec: Prec::Pred,
            negation_of: Some(Box::new(part)),
            negated: None,
        };
    }
    let sql = if part.prec == Prec::Atom {
        format!("NOT {}", part.sql)
    } else {
        format!("NOT ({})", part.sql)
    };
    Frag {
        sql,
        prec: Prec::Pred,
        negation_of: Some(Box::new(part)),
        negated: None,
    }
}

/// `EXISTS (SELECT 1 FROM <table> AS <alias> WHERE …)`; false without a
/// query when the conditions can never hold.
pub(crate) fn exists(table: &str, alias: &str, conditions: Vec<Frag>) -> Frag {
    let condition = all(conditions);
    if condition.is_false() {
        return condition;
    }
    Frag::atom(format!(
        "EXISTS (SELECT 1 FROM {table} AS {alias} WHERE {})",
        condition.sql
    ))
}

/// What decides whether a value is there, so that a positive test on a
/// missing value is false rather than NULL.
#[derive(Debug, Clone)]
pub(crate) enum Guard {
    /// A NOT NULL column: always there.
    Always,
    /// There exactly when this expression IS NOT NULL.
    Present(String),
    /// There, with the type the test needs, exactly when this check is true
    /// (the check itself may be NULL for a missing key). The comparison is
    /// only evaluated under the check, so a cast in it never sees a value of
    /// another type.
    Typed(String),
    /// The value expression itself may be NULL (an aggregate over nothing).
    Nullable,
}

impl Guard {
    /// A positive test: `cmp` where the value is there, false elsewhere.
    pub(crate) fn positive(&self, cmp: String) -> Frag {
        match self {
            Guard::Always => Frag::pred(cmp),
            Guard::Present(p) => Frag::atom(format!("({p} IS NOT NULL AND {cmp})")),
            Guard::Typed(check) => {
                Frag::atom(format!("CASE WHEN {check} THEN {cmp} ELSE FALSE END"))
            }
            Guard::Nullable => Frag::atom(format!("COALESCE({cmp}, FALSE)")),
        }
    }

    /// Whether the value is there.
    pub(crate) fn exists(&self, value: &str) -> Frag {
        match self {
            Guard::Always => Frag::constant(true),
            Guard::Present(p) => Frag::not_null(p),
            Guard::Typed(check) => Frag::atom(format!("COALESCE({check}, FALSE)")),
            Guard::Nullable => Frag::not_null(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_or_inside_an_and_is_parenthesised() {
        let or = any(vec![Frag::pred("a = 1"), Frag::pred("b = 2")]);
        let and = all(vec![or, Frag::pred("c = 3")]);
        assert_eq!(and.sql, "(a = 1 OR b = 2) AND c = 3");
    }

    #[test]
    fn constants_fold_away() {
        assert!(all(vec![]).is_true());
        assert!(any(vec![]).is_false());
        assert_eq!(all(vec![Frag::constant(true), Frag::pred("x")]).sql, "x");
        assert!(any(vec![Frag::pred("x"), Frag::constant(true)]).is_true());
        assert!(not(Frag::constant(true)).is_false());
    }

    #[test]
    fn a_double_negation_reads_as_the_original() {
        let e = Frag::atom("EXISTS (SELECT 1)");
        let n = not(e);
        assert_eq!(n.sql, "NOT EXISTS (SELECT 1)");
        assert_eq!(not(n).sql, "EXISTS (SELECT 1)");
        assert_eq!(not(Frag::pred("a = 1")).sql, "NOT (a = 1)");
        assert_eq!(not(Frag::not_null("v")).sql, "v IS NULL");
        assert_eq!(not(not(Frag::not_null("v"))).sql, "v IS NOT NULL");
    }
}
