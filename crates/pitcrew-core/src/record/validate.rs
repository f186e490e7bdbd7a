//! A whole record against the registry: unknown keys, read-only fields,
//! required fields, defaults, and every value normalised — all problems
//! reported at once, each naming its field.

use serde::Serialize;
use serde_json::{Map, Value};

use super::field::{FieldDef, FieldType};
use super::value::normalize;
use crate::suggest;

/// Whether the record is being created (defaults and required apply to
/// every field) or changed (only the fields sent are touched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// One problem with one field of a record.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldIssue {
    /// Stable machine-readable code: `field_unknown`, `field_invalid`,
    /// `field_required` or `field_read_only`.
    pub code: &'static str,
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    pub message: String,
}

/// Check `input` against `fields` and return the canonical values to store.
///
/// In `Create` mode the result is the whole record (defaults applied, no
/// nulls). In `Update` mode it holds only the keys sent, with `Null` for a
/// value being cleared. `existing` is the stored record, for updates.
pub fn validate_record(
    fields: &[FieldDef],
    input: &Map<String, Value>,
    existing: Option<&Map<String, Value>>,
    mode: Mode,
) -> Result<Map<String, Value>, Vec<FieldIssue>> {
    let mut issues = Vec::new();
    let mut out = Map::new();
    let country = record_country(fields, input, existing);

    for (key, raw) in input {
        let Some(def) = fields.iter().find(|f| &f.key == key) else {
            let hint = suggest::closest(key, fields.iter().map(|f| f.key.as_str()))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_else(|| "; add it to the data model first".to_string());
            issues.push(FieldIssue {
                code: "field_unknown",
                field: key.clone(),
                value: Some(raw.clone()),
                message: format!("there is no field `{key}`{hint}"),
            });
            continue;
        };
        if def.read_only {
            issues.push(FieldIssue {
                code: "field_read_only",
                field: key.clone(),
                value: Some(raw.clone()),
                message: format!("`{key}` is maintained by pitcrew and cannot be set"),
            });
            continue;
        }
        match normalize(def, raw, country.as_deref()) {
            Ok(Value::Null) if def.required => issues.push(required(def)),
            Ok(Value::Null) if mode == Mode::Create => {}
            Ok(v) => {
                out.insert(key.clone(), v);
            }
            Err(message) => issues.push(FieldIssue {
                code: "field_invalid",
                field: key.clone(),
                value: Some(raw.clone()),
                message: format!("{}: {message}", def.label),
            }),
        }
    }

    if mode == Mode::Create {
        for def in fields.iter().filter(|f| !f.read_only) {
            if out.contains_key(&def.key) || input.contains_key(&def.key) {
                continue;
            }
            match &def.default {
                Some(v) if !v.is_null() => {
                    out.insert(def.key.clone(), v.clone());
                }
                _ if def.required => issues.push(required(def)),
                _ => {}
            }
        }
    }

    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}

fn required(def: &FieldDef) -> FieldIssue {
    FieldIssue {
        code: "field_required",
        field: def.key.clone(),
        value: None,
        message: format!("{} (`{}`) is required; give it a value", def.label, def.key),
    }
}

/// The record's country, used to read national phone numbers: the one being
/// sent if it is valid, otherwise the stored one.
fn record_country(
    fields: &[FieldDef],
    input: &Map<String, Value>,
    existing: Option<&Map<String, Value>>,
) -> Option<String> {
    let def = fields
        .iter()
        .find(|f| f.key == "country" && f.field_type == FieldType::Country)?;
    let sent = input
        .get("country")
        .and_then(|raw| normalize(def, raw, None).ok())
        .and_then(|v| v.as_str().map(str::to_string));
    sent.or_else(|| {
        existing
            .and_then(|e| e.get("country"))
            .and_then(Value::as_str)
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::builtin::{account_fields, contact_fields};
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn unknown_field_suggests_the_closest_key() {
        let issues = validate_record(
            &contact_fields(),
            &obj(json!({"lifecyle_stage": "mql"})),
            None,
            Mode::Create,
        )
        .expect_err("unknown field");
        assert_eq!(issues[0].code, "field_unknown");
        assert!(issues[0].message.contains("did you mean `lifecycle_stage`"));
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let issues = validate_record(
            &contact_fields(),
            &obj(json!({"email": "nope", "country": "Atlantis", "created_at": "2020-01-01"})),
            None,
            Mode::Create,
        )
        .expect_err("bad fields");
        let codes: Vec<_> = issues.iter().map(|i| (i.field.as_str(), i.code)).collect();
        assert!(codes.contains(&("email", "field_invalid")));
        assert!(codes.contains(&("country", "field_invalid")));
        assert!(codes.contains(&("created_at", "field_read_only")));
    }

    #[test]
    fn phone_is_read_in_the_country_sent_alongside() {
        let out = validate_record(
            &contact_fields(),
            &obj(json!({"phone": "(415) 555-0132", "country": "United States"})),
            None,
            Mode::Create,
        )
        .expect("valid");
        assert_eq!(out["phone"], json!("+14155550132"));
        assert_eq!(out["country"], json!("US"));
    }

    #[test]
    fn phone_update_uses_the_stored_country() {
        let stored = obj(json!({"country": "GB"}));
        let out = validate_record(
            &contact_fields(),
            &obj(json!({"phone": "020 7946 0958"})),
            Some(&stored),
            Mode::Update,
        )
        .expect("valid");
        assert_eq!(out["phone"], json!("+442079460958"));
    }

    #[test]
    fn required_field_must_be_present_on_create_and_cannot_be_cleared() {
        let issues = validate_record(&account_fields(), &Map::new(), None, Mode::Create)
            .expect_err("name required");
        assert_eq!(
            (issues[0].code, issues[0].field.as_str()),
            ("field_required", "name")
        );
        let issues = validate_record(
            &account_fields(),
            &obj(json!({"name": ""})),
            None,
            Mode::Update,
        )
        .expect_err("cannot clear");
        assert_eq!(issues[0].code, "field_required");
    }

    #[test]
    fn defaults_fill_missing_values_on_create_only() {
        let mut fields = contact_fields();
        if let Some(f) = fields.iter_mut().find(|f| f.key == "lifecycle_stage") {
            f.default = Some(json!("subscriber"));
        }
        let created = validate_record(&fields, &Map::new(), None, Mode::Create).expect("valid");
        assert_eq!(created["lifecycle_stage"], json!("subscriber"));
        let updated = validate_record(
            &fields,
            &obj(json!({"first_name": "Ada"})),
            None,
            Mode::Update,
        )
        .expect("valid");
        assert!(!updated.contains_key("lifecycle_stage"));
    }

    #[test]
    fn update_keeps_null_to_clear_a_value() {
        let out = validate_record(
            &contact_fields(),
            &obj(json!({"job_title": null})),
            None,
            Mode::Update,
        )
        .expect("valid");
        assert_eq!(out.get("job_title"), Some(&Value::Null));
    }
}
