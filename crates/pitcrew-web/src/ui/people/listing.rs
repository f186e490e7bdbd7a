//! What the people and account lists share: reading the list's query
//! string (search, sort, page, columns), building links that keep it, and
//! showing stored values the way the data model labels them.

use pitcrew_app::record::ListParams;
use pitcrew_core::record::country;
use pitcrew_core::record::{FieldDef, FieldType};

use crate::ui::view::number;
use serde_json::{Map, Value, json};

/// Rows per page of a list.
pub(in crate::ui) const PAGE_SIZE: i64 = 25;

/// A list as the query string asks for it. Anything unreadable falls back
/// to the default rather than failing: a hand-edited link still opens.
#[derive(Debug, Default, Clone, PartialEq)]
pub(in crate::ui) struct ListQuery {
    pub q: String,
    /// A field key, `-` in front for descending; `None` for newest first.
    pub sort: Option<String>,
    pub offset: i64,
    /// Field keys chosen as columns, in the order given.
    pub cols: Vec<String>,
}

impl ListQuery {
    /// The page of records this query asks for: search, sort and offset.
    pub fn params(&self) -> ListParams {
        ListParams {
            q: Some(self.q.clone()).filter(|q| !q.is_empty()),
            sort: self.sort.clone(),
            limit: Some(PAGE_SIZE),
            offset: Some(self.offset),
            ..ListParams::default()
        }
    }

    pub fn parse(raw: Option<&str>) -> ListQuery {
        let mut out = ListQuery::default();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "q" => out.q = v.trim().to_string(),
                "sort" if !v.trim().is_empty() => out.sort = Some(v.trim().to_string()),
                "offset" => out.offset = v.trim().parse::<i64>().unwrap_or(0).max(0),
                "col" if !v.is_empty() && !out.cols.contains(&v.to_string()) => {
                    out.cols.push(v.into_owned());
                }
                _ => {}
            }
        }
        out
    }

    /// Keep only a sort by a field of `fields` (or `id`), so a stale link
    /// sorts by the default instead of failing.
    pub fn keep_known_sort(&mut self, fields: &[FieldDef]) {
        let known = self.sort.as_deref().is_some_and(|s| {
            let key = s.strip_prefix('-').unwrap_or(s);
            key == "id" || fields.iter().any(|f| f.key == key)
        });
        if !known {
            self.sort = None;
        }
    }

    /// The link to this list at `base` with these choices; defaults are left out.
    pub fn href(&self, base: &str) -> String {
        let mut enc = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            enc.append_pair("q", &self.q);
        }
        if let Some(s) = &self.sort {
            enc.append_pair("sort", s);
        }
        for c in &self.cols {
            enc.append_pair("col", c);
        }
        if self.offset > 0 {
            enc.append_pair("offset", &self.offset.to_string());
        }
        let query = enc.finish();
        if query.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{query}")
        }
    }

    /// A column heading that sorts by `key`: its link (ascending first,
    /// then descending) and its current order for `aria-sort`.
    pub fn column(&self, base: &str, field: &FieldDef) -> Value {
        let current = match self.sort.as_deref() {
            Some(s) if s == field.key => Some("ascending"),
            Some(s) if s.strip_prefix('-') == Some(field.key.as_str()) => Some("descending"),
            _ => None,
        };
        let next = if current == Some("ascending") {
            format!("-{}", field.key)
        } else {
            field.key.clone()
        };
        let link = ListQuery {
            sort: Some(next),
            offset: 0,
            ..self.clone()
        };
        json!({
            "key": field.key,
            "label": field.label,
            "href": link.href(base),
            "sorted": current,
            "num": field.field_type == FieldType::Number,
        })
    }

    /// The pager: where this page starts and ends, and the links before and after.
    pub fn pager(&self, base: &str, shown: usize, total: i64) -> Value {
        let first = if shown == 0 { 0 } else { self.offset + 1 };
        let last = self.offset + i64::try_from(shown).unwrap_or(0);
        let previous = (self.offset > 0).then(|| {
            ListQuery {
                offset: (self.offset - PAGE_SIZE).max(0),
                ..self.clone()
            }
            .href(base)
        });
        let next = (last < total).then(|| {
            ListQuery {
                offset: last,
                ..self.clone()
            }
            .href(base)
        });
        json!({"first": first, "last": last, "total": total, "previous": previous, "next": next})
    }
}

/// A stored value as people read it: picklist labels, yes/no, dates
/// without seconds. Empty when there is none.
pub(in crate::ui) fn shown(field: &FieldDef, value: Option<&Value>) -> String {
    let label = |v: &str| {
        field
            .options
            .iter()
            .find(|o| o.value == v)
            .map_or_else(|| v.to_string(), |o| o.label.clone())
    };
    match (field.field_type, value) {
        (_, None | Some(Value::Null)) => String::new(),
        (FieldType::Picklist, Some(Value::String(s))) => label(s),
        (FieldType::MultiPicklist, Some(Value::Array(items))) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), label))
            .collect::<Vec<_>>()
            .join(", "),
        (_, Some(Value::Bool(b))) => if *b { "Yes" } else { "No" }.to_string(),
        (FieldType::Country, Some(Value::String(code))) => {
            country::by_alpha2(code).map_or_else(|| code.clone(), |c| c.name.to_string())
        }
        (FieldType::Datetime, Some(Value::String(s))) => match s.split_once('T') {
            Some((date, time)) if time.len() >= 5 => format!("{date} {} UTC", &time[..5]),
            _ => s.clone(),
        },
        (FieldType::Number, Some(Value::Number(n))) => {
            n.as_i64().map_or_else(|| n.to_string(), number)
        }
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(other)) => other.to_string(),
    }
}

/// A table cell: its text, and whether it is a number (aligned right).
pub(in crate::ui) fn cell(field: &FieldDef, value: Option<&Value>) -> Value {
    json!({
        "text": shown(field, value),
        "num": field.field_type == FieldType::Number,
    })
}

/// What a person is called on pages: their name, else their email, else
/// their number.
pub(in crate::ui) fn person_name(id: i64, fields: &Map<String, Value>) -> String {
    let part = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or("").trim();
    let name = format!("{} {}", part("first_name"), part("last_name"));
    let name = name.trim();
    if !name.is_empty() {
        return name.to_string();
    }
    let email = part("email");
    if !email.is_empty() {
        return email.to_string();
    }
    format!("Contact {id}")
}

/// What an account is called on pages: its name, else its domain, else its number.
pub(in crate::ui) fn account_name(id: i64, fields: &Map<String, Value>) -> String {
    ["name", "domain"]
        .iter()
        .filter_map(|k| fields.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map_or_else(|| format!("Account {id}"), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pitcrew_core::record::ObjectKind;
    use pitcrew_core::record::builtin::fields_for;

    fn field(key: &str) -> FieldDef {
        fields_for(ObjectKind::Contact)
            .into_iter()
            .find(|f| f.key == key)
            .expect("built-in field")
    }

    #[test]
    fn a_list_link_keeps_search_sort_and_columns_and_drops_defaults() {
        let q = ListQuery::parse(Some("q=ada+l&sort=-email&col=email&col=country&offset=25"));
        assert_eq!(q.q, "ada l");
        assert_eq!(q.sort.as_deref(), Some("-email"));
        assert_eq!(q.cols, ["email", "country"]);
        assert_eq!(q.offset, 25);
        assert_eq!(
            q.href("/people"),
            "/people?q=ada+l&sort=-email&col=email&col=country&offset=25"
        );
        assert_eq!(ListQuery::parse(None).href("/people"), "/people");
    }

    #[test]
    fn an_unreadable_offset_or_unknown_sort_falls_back_to_the_default() {
        let mut q = ListQuery::parse(Some("offset=-3&sort=shoe_size"));
        assert_eq!(q.offset, 0);
        q.keep_known_sort(&fields_for(ObjectKind::Contact));
        assert_eq!(q.sort, None);
        assert_eq!(ListQuery::parse(Some("offset=abc")).offset, 0);
    }

    #[test]
    fn a_sorted_column_turns_around_when_clicked_again() {
        let email = field("email");
        let q = ListQuery::parse(Some("sort=email"));
        let col = q.column("/people", &email);
        assert_eq!(col["sorted"], "ascending");
        assert_eq!(col["href"], "/people?sort=-email");
        let q = ListQuery::parse(Some("sort=-email"));
        assert_eq!(q.column("/people", &email)["href"], "/people?sort=email");
    }

    #[test]
    fn values_show_with_their_labels() {
        let stage = field("lifecycle_stage");
        assert_eq!(
            shown(&stage, Some(&json!("mql"))),
            "Marketing qualified lead"
        );
        let created = field("created_at");
        assert_eq!(
            shown(&created, Some(&json!("2026-11-23T14:05:09.000Z"))),
            "2026-11-23 14:05 UTC"
        );
        assert_eq!(shown(&stage, None), "");
        let employees = fields_for(ObjectKind::Account)
            .into_iter()
            .find(|f| f.key == "employees")
            .expect("built-in field");
        assert_eq!(shown(&employees, Some(&json!(399500000))), "399,500,000");
        assert_eq!(shown(&employees, Some(&json!(-1200))), "-1,200");
        assert_eq!(shown(&employees, Some(&json!(12.5))), "12.5");
        assert_eq!(shown(&field("country"), Some(&json!("DE"))), "Germany");
    }

    #[test]
    fn a_person_is_called_by_name_then_email_then_number() {
        let m = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(
            person_name(1, &m(json!({"first_name": "Ada", "email": "a@x.io"}))),
            "Ada"
        );
        assert_eq!(person_name(1, &m(json!({"email": "a@x.io"}))), "a@x.io");
        assert_eq!(person_name(7, &m(json!({}))), "Contact 7");
    }
}
