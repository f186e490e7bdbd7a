//! One value of one field: from whatever a user, import or API sent to the
//! canonical stored form, or a reason it cannot be stored.
//!
//! Blank text and JSON null both mean "no value". The stored form is what
//! the API shows, so there is no second conversion on the way out.

use serde_json::{Number, Value};

use super::country::normalize_country;
use super::field::{FieldDef, FieldType, PicklistOption};
use super::phone::normalize_phone;
use crate::time;

/// Longest text value accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 65_535;

/// The canonical stored value of `raw` for `def`, `Value::Null` for "no value",
/// or a sentence saying what is wrong and how to fix it.
/// `country` is the record's ISO country, which reads national phone numbers.
pub fn normalize(def: &FieldDef, raw: &Value, country: Option<&str>) -> Result<Value, String> {
    let text = match raw {
        Value::Null => return Ok(Value::Null),
        Value::String(s) if s.trim().is_empty() => return Ok(Value::Null),
        Value::Array(items) if items.is_empty() => return Ok(Value::Null),
        Value::String(s) => Some(s.trim()),
        _ => None,
    };
    match def.field_type {
        FieldType::Text => match raw {
            Value::String(_) => {
                let s = text.unwrap_or_default();
                if s.chars().count() > MAX_TEXT_CHARS {
                    return Err(format!(
                        "text is longer than {MAX_TEXT_CHARS} characters; shorten it"
                    ));
                }
                Ok(Value::String(s.to_string()))
            }
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(expected("text", raw)),
        },
        FieldType::Number => number(raw, text),
        FieldType::Boolean => boolean(raw, text),
        FieldType::Date => {
            let s = text.ok_or_else(|| expected("a date such as 2026-03-31", raw))?;
            s.parse::<jiff::civil::Date>()
                .ok()
                .filter(|_| s.len() == 10)
                .map(|d| Value::String(d.to_string()))
                .ok_or_else(|| {
                    format!("`{s}` is not a date; write it as YYYY-MM-DD, e.g. 2026-03-31")
                })
        }
        FieldType::Datetime => {
            let s = text.ok_or_else(|| expected("a date and time", raw))?;
            time::parse_instant(s).map(|ts| Value::String(time::format_timestamp(ts)))
        }
        FieldType::Email => {
            let s = text.ok_or_else(|| expected("an email address", raw))?;
            normalize_email(s).map(Value::String)
        }
        FieldType::Phone => {
            let s = match raw {
                Value::Number(n) => n.to_string(),
                _ => text
                    .ok_or_else(|| expected("a phone number", raw))?
                    .to_string(),
            };
            normalize_phone(&s, country)
                .map(Value::String)
                .map_err(|e| format!("`{s}`: {e}"))
        }
        FieldType::Url => {
            let s = text.ok_or_else(|| expected("a web address", raw))?;
            normalize_url(s).map(Value::String)
        }
        FieldType::Country => {
            let s = text.ok_or_else(|| expected("a country", raw))?;
            normalize_country(s)
                .map(|c| Value::String(c.alpha2.to_string()))
                .ok_or_else(|| {
                    format!(
                        "`{s}` is not a country pitcrew recognises; use its name or ISO code, e.g. Germany or DE"
                    )
                })
        }
        FieldType::Picklist => {
            let s = text.ok_or_else(|| expected("one of the picklist values", raw))?;
            pick(&def.options, s).map(|v| Value::String(v.to_string()))
        }
        FieldType::MultiPicklist => multi_pick(&def.options, raw),
    }
}

/// Lowercased and trimmed, or why it is not an address.
pub fn normalize_email(s: &str) -> Result<String, String> {
    let email = s.trim().to_lowercase();
    let bad = |why: &str| Err(format!("`{s}` is not a valid email address: {why}"));
    if email.len() > 254 {
        return bad("it is longer than 254 characters");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return bad("it has no @");
    };
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return bad("the part before @ must be 1 to 64 characters with no second @");
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"'))
    {
        return bad("it contains spaces or one of < > , ; \"");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad("dots cannot start, end or repeat in the part before @");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return bad("the domain after @ must look like example.com");
    }
    Ok(email)
}

fn normalize_url(s: &str) -> Result<String, String> {
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("https://{s}")
    };
    let Some((scheme, rest)) = with_scheme.split_once("://") else {
        return Err(format!("`{s}` is not a web address"));
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err(format!(
            "`{s}` must be an http or https address, e.g. https://example.com"
        ));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_ok = (host.contains('.') || host.starts_with("localhost"))
        && !host.starts_with('.')
        && !host.ends_with('.');
    if !host_ok || with_scheme.chars().any(char::is_whitespace) {
        return Err(format!(
            "`{s}` is not a web address; write it like https://example.com/page"
        ));
    }
    Ok(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        rest.replacen(host, &host.to_ascii_lowercase(), 1)
    ))
}

fn number(raw: &Value, text: Option<&str>) -> Result<Value, String> {
    let parsed = match raw {
        Value::Number(n) => n.as_f64(),
        _ => text.and_then(|s| s.replace('_', "").parse::<f64>().ok()),
    };
    let Some(x) = parsed.filter(|x| x.is_finite()) else {
        return Err(format!(
            "{} is not a number; write digits with a dot for decimals and no thousands separators, e.g. 1250.50",
            shown(raw)
        ));
    };
    // Whole numbers are kept as integers so they compare and display exactly.
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation)]
        return Ok(Value::Number(Number::from(x as i64)));
    }
    Number::from_f64(x)
        .map(Value::Number)
        .ok_or_else(|| format!("{} is not a finite number", shown(raw)))
}

fn boolean(raw: &Value, text: Option<&str>) -> Result<Value, String> {
    let b = match raw {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_f64() == Some(1.0) => Some(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Some(false),
        _ => match text.map(str::to_ascii_lowercase).as_deref() {
            Some("true" | "yes" | "y" | "1" | "on") => Some(true),
            Some("false" | "no" | "n" | "0" | "off") => Some(false),
            _ => None,
        },
    };
    b.map(Value::Bool)
        .ok_or_else(|| format!("{} is not true or false (yes/no also work)", shown(raw)))
}

fn pick<'a>(options: &'a [PicklistOption], s: &str) -> Result<&'a str, String> {
    let lower = s.to_lowercase();
    options
        .iter()
        .find(|o| o.value == s)
        .or_else(|| {
            options
                .iter()
                .find(|o| o.value.to_lowercase() == lower || o.label.to_lowercase() == lower)
        })
        .map(|o| o.value.as_str())
        .ok_or_else(|| {
            let allowed: Vec<&str> = options.iter().take(12).map(|o| o.value.as_str()).collect();
            let more = if options.len() > 12 { ", …" } else { "" };
            format!(
                "`{s}` is not one of the allowed values: {}{more}",
                allowed.join(", ")
            )
        })
}

fn multi_pick(options: &[PicklistOption], raw: &Value) -> Result<Value, String> {
    let items: Vec<String> = match raw {
        Value::String(s) => s.split(';').map(|p| p.trim().to_string()).collect(),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.trim().to_string()),
                other => Err(expected("a list of picklist values", other)),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(expected("a list of picklist values", other)),
    };
    let mut chosen = Vec::new();
    for item in items.iter().filter(|i| !i.is_empty()) {
        chosen.push(pick(options, item)?);
    }
    let ordered: Vec<Value> = options
        .iter()
        .filter(|o| chosen.contains(&o.value.as_str()))
        .map(|o| Value::String(o.value.clone()))
        .collect();
    Ok(if ordered.is_empty() {
        Value::Null
    } else {
        Value::Array(ordered)
    })
}

fn expected(what: &str, got: &Value) -> String {
    format!("expected {what}, got {}", shown(got))
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
        other => format!("`{other}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::field::ObjectKind;
    use serde_json::json;

    fn field(field_type: FieldType) -> FieldDef {
        FieldDef {
            object: ObjectKind::Contact,
            key: "f".into(),
            label: "F".into(),
            field_type,
            required: false,
            default: None,
            options: vec![
                PicklistOption::new("mql", "Marketing qualified lead"),
                PicklistOption::new("sql", "Sales qualified lead"),
                PicklistOption::new("customer", "Customer"),
            ],
            builtin: false,
            read_only: false,
        }
    }

    fn ok(t: FieldType, raw: Value) -> Value {
        normalize(&field(t), &raw, Some("DE")).expect("valid value")
    }

    fn err(t: FieldType, raw: Value) -> String {
        normalize(&field(t), &raw, None).expect_err("invalid value")
    }

    #[test]
    fn blank_text_means_no_value() {
        assert_eq!(ok(FieldType::Number, json!("   ")), Value::Null);
        assert_eq!(ok(FieldType::Text, json!(null)), Value::Null);
    }

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(
            ok(FieldType::Email, json!("  Ada@Example.COM ")),
            json!("ada@example.com")
        );
    }

    #[test]
    fn malformed_emails_say_what_is_wrong() {
        assert!(err(FieldType::Email, json!("ada.example.com")).contains("no @"));
        assert!(err(FieldType::Email, json!("ada@localhost")).contains("example.com"));
        assert!(err(FieldType::Email, json!("a da@example.com")).contains("spaces"));
    }

    #[test]
    fn numbers_accept_numeric_text_and_keep_integers_whole() {
        assert_eq!(ok(FieldType::Number, json!("42")), json!(42));
        assert_eq!(ok(FieldType::Number, json!(12.5)), json!(12.5));
        assert!(err(FieldType::Number, json!("1,250")).contains("thousands"));
        assert!(err(FieldType::Number, json!("NaN")).contains("not a number"));
    }

    #[test]
    fn booleans_accept_yes_and_no() {
        assert_eq!(ok(FieldType::Boolean, json!("Yes")), json!(true));
        assert_eq!(ok(FieldType::Boolean, json!(0)), json!(false));
        assert!(err(FieldType::Boolean, json!("maybe")).contains("true or false"));
    }

    #[test]
    fn dates_must_be_iso() {
        assert_eq!(
            ok(FieldType::Date, json!("2026-02-28")),
            json!("2026-02-28")
        );
        assert!(err(FieldType::Date, json!("2026-02-30")).contains("YYYY-MM-DD"));
        assert!(err(FieldType::Date, json!("28/02/2026")).contains("YYYY-MM-DD"));
    }

    #[test]
    fn datetimes_are_stored_in_utc() {
        assert_eq!(
            ok(FieldType::Datetime, json!("2026-02-28T23:30:00-02:00")),
            json!("2026-03-01T01:30:00.000Z")
        );
    }

    #[test]
    fn country_names_become_iso_codes() {
        assert_eq!(ok(FieldType::Country, json!("Germany")), json!("DE"));
        assert_eq!(ok(FieldType::Country, json!("usa")), json!("US"));
        assert!(err(FieldType::Country, json!("Narnia")).contains("ISO code"));
    }

    #[test]
    fn national_phone_numbers_use_the_record_country() {
        assert_eq!(
            ok(FieldType::Phone, json!("030 123456")),
            json!("+4930123456")
        );
    }

    #[test]
    fn urls_get_a_scheme_and_lowercase_host() {
        assert_eq!(
            ok(FieldType::Url, json!("Example.com/Pricing")),
            json!("https://example.com/Pricing")
        );
        assert!(err(FieldType::Url, json!("ftp://example.com")).contains("http"));
        assert!(err(FieldType::Url, json!("not a url")).contains("web address"));
    }

    #[test]
    fn picklists_match_value_or_label_case_insensitively() {
        assert_eq!(ok(FieldType::Picklist, json!("MQL")), json!("mql"));
        assert_eq!(
            ok(FieldType::Picklist, json!("customer")),
            json!("customer")
        );
        assert_eq!(
            ok(FieldType::Picklist, json!("Sales qualified lead")),
            json!("sql")
        );
        let e = err(FieldType::Picklist, json!("hot"));
        assert!(e.contains("mql, sql, customer"), "{e}");
    }

    #[test]
    fn multi_picklists_dedupe_and_follow_option_order() {
        assert_eq!(
            ok(FieldType::MultiPicklist, json!("customer; mql;mql")),
            json!(["mql", "customer"])
        );
        assert_eq!(ok(FieldType::MultiPicklist, json!(["SQL"])), json!(["sql"]));
        assert!(err(FieldType::MultiPicklist, json!(["mql", "nope"])).contains("nope"));
    }

    #[test]
    fn objects_are_never_text() {
        assert!(err(FieldType::Text, json!({"a": 1})).contains("an object"));
    }
}
