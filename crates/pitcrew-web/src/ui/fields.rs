//! The data model pages: every field of contacts and accounts, and for
//! admins adding a custom field, changing a label or picklist options, and
//! deleting a field once nothing uses it. The record use cases check roles
//! and rules; these pages only turn forms into their inputs.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use pitcrew_app::audience::{self, UseKind};
use pitcrew_app::record::{self, FieldPatch, ListParams, NewField};
use pitcrew_app::{AppError, ErrorKind, now_ms};
use pitcrew_core::admin::Action;
use pitcrew_core::record::{FieldDef, FieldType, ObjectKind, PicklistOption};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::view::{Page, PageMeta, Viewer, form_errors};
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/fields", get(list).post(create))
        .route("/fields/new", get(new_form))
        .route("/fields/{object}/{key}/edit", get(edit_form).post(edit))
        .route(
            "/fields/{object}/{key}/delete",
            get(delete_confirm).post(delete),
        )
}

const SECTION: &str = "fields";

/// The types a custom field can have, in the words people use.
fn type_choices() -> Vec<Value> {
    FieldType::ALL
        .iter()
        .map(|t| json!({"value": t.as_str(), "label": type_label(*t)}))
        .collect()
}

fn type_label(t: FieldType) -> &'static str {
    match t {
        FieldType::Text => "Text",
        FieldType::Number => "Number",
        FieldType::Boolean => "Yes or no",
        FieldType::Date => "Date",
        FieldType::Datetime => "Date and time",
        FieldType::Email => "Email address",
        FieldType::Phone => "Phone number",
        FieldType::Url => "Web address",
        FieldType::Picklist => "Picklist (one choice)",
        FieldType::MultiPicklist => "Multi-picklist (several choices)",
        FieldType::Country => "Country",
    }
}

fn object_words(object: ObjectKind) -> (&'static str, &'static str) {
    match object {
        ObjectKind::Contact => ("contact", "People"),
        ObjectKind::Account => ("account", "Accounts"),
    }
}

/// A field as the pages show it.
fn shown(def: &FieldDef) -> Value {
    json!({
        "object": def.object.as_str(),
        "key": def.key,
        "label": def.label,
        "type": def.field_type.as_str(),
        "type_label": type_label(def.field_type),
        "required": def.required,
        "default": def.default,
        "options": def.options,
        "builtin": def.builtin,
        "read_only": def.read_only,
        "has_options": def.field_type.has_options(),
    })
}

fn object_of(s: &str) -> Result<ObjectKind, AppError> {
    ObjectKind::parse(s).ok_or_else(|| {
        AppError::not_found(
            "object_unknown",
            format!("`{s}` is not a kind of record; fields belong to contacts or accounts"),
        )
    })
}

async fn list(State(s): State<AppState>, v: Viewer) -> Page {
    let fields = record::list_fields(&s.db, &v.actor, None).await?;
    let group = |object: ObjectKind| {
        let (_, heading) = object_words(object);
        let items: Vec<Value> = fields
            .iter()
            .filter(|f| f.object == object)
            .map(shown)
            .collect();
        let custom = fields
            .iter()
            .filter(|f| f.object == object && !f.builtin)
            .count();
        json!({"object": object.as_str(), "heading": heading, "fields": items, "custom": custom})
    };
    v.page(
        PageMeta {
            title: "Data model",
            section: SECTION,
        },
        "fields/list.html",
        json!({"groups": [group(ObjectKind::Contact), group(ObjectKind::Account)]}),
    )
}

/// What the add and edit forms send. Every member may be absent, so a
/// tampered form still gets a page with errors, not a bare rejection.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FieldForm {
    object: String,
    key: String,
    label: String,
    #[serde(rename = "type")]
    field_type: String,
    required: Option<String>,
    options: String,
}

/// Picklist options as typed: one a line, `value` or `value | Label`.
fn parse_options(text: &str) -> Vec<PicklistOption> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('|') {
            Some((value, label)) => PicklistOption::new(value.trim(), label.trim()),
            None => PicklistOption::new(l, l),
        })
        .collect()
}

/// Options back into the text a person edits.
fn options_text(options: &[PicklistOption]) -> String {
    options
        .iter()
        .map(|o| {
            if o.label == o.value {
                o.value.clone()
            } else {
                format!("{} | {}", o.value, o.label)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Errors by the form's field names: every `options[…]` problem sits by the
/// options box, per-record details are summed up by the message itself.
fn field_form_errors(e: &AppError, known: &[&str], fallback: &str) -> Value {
    let mut out = Map::new();
    if let Value::Object(m) = form_errors(e) {
        for (k, msg) in m {
            let name = if k.starts_with("options") {
                "options".to_string()
            } else if known.contains(&k.as_str()) {
                k
            } else if k.contains(':') {
                continue;
            } else {
                fallback.to_string()
            };
            out.entry(name).or_insert(msg);
        }
    }
    if out.is_empty() {
        out.insert(fallback.to_string(), json!(e.message));
    }
    Value::Object(out)
}

/// A form error a person can fix, rather than a refusal.
fn fixable(e: &AppError) -> bool {
    matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict)
}

fn new_page(v: &Viewer, form: &FieldForm, errors: Value, status: StatusCode) -> Page {
    let mut page = v.page(
        PageMeta {
            title: "Add a field",
            section: SECTION,
        },
        "fields/new.html",
        json!({
            "form": {
                "object": if form.object.is_empty() { "contact" } else { form.object.as_str() },
                "key": form.key,
                "label": form.label,
                "type": if form.field_type.is_empty() { "text" } else { form.field_type.as_str() },
                "required": form.required.is_some(),
                "options": form.options,
            },
            "types": type_choices(),
            "errors": errors,
        }),
    )?;
    *page.status_mut() = status;
    Ok(page)
}

async fn new_form(v: Viewer, Query(start): Query<FieldForm>) -> Page {
    v.actor.require(Action::ManageFields)?;
    // `?object=account` starts the form on accounts.
    let form = FieldForm {
        object: start.object,
        ..FieldForm::default()
    };
    new_page(&v, &form, json!({}), StatusCode::OK)
}

async fn create(
    State(s): State<AppState>,
    v: Viewer,
    axum::Form(form): axum::Form<FieldForm>,
) -> Page {
    // The use case checks the role again; this only spares an outsider the form.
    v.actor.require(Action::ManageFields)?;
    let Some(object) = ObjectKind::parse(&form.object) else {
        let errors =
            json!({"object": "Choose whether the field belongs to people or to accounts."});
        return new_page(&v, &form, errors, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let Some(field_type) = FieldType::parse(&form.field_type) else {
        let errors = json!({"type": "Choose one of the listed types."});
        return new_page(&v, &form, errors, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let options = if field_type.has_options() {
        parse_options(&form.options)
    } else {
        Vec::new()
    };
    let new = NewField {
        object,
        key: form.key.trim().to_string(),
        label: form.label.clone(),
        field_type,
        required: form.required.is_some(),
        default: None,
        options,
    };
    match record::create_field(&s.db, &v.actor, new, now_ms()).await {
        Ok(def) => Ok(
            Redirect::to(&format!("/fields#{}-{}", def.object.as_str(), def.key)).into_response(),
        ),
        Err(e) if fixable(&e) => {
            let errors = field_form_errors(&e, &["key", "label", "type", "options"], "form");
            new_page(&v, &form, errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}

fn edit_page(
    v: &Viewer,
    def: &FieldDef,
    form: &FieldForm,
    errors: Value,
    status: StatusCode,
) -> Page {
    let title = format!("Change the field {}", def.label);
    let mut page = v.page(
        PageMeta {
            title: &title,
            section: SECTION,
        },
        "fields/edit.html",
        json!({
            "field": shown(def),
            "object_word": object_words(def.object).0,
            "form": {"label": form.label, "options": form.options},
            "errors": errors,
        }),
    )?;
    *page.status_mut() = status;
    Ok(page)
}

async fn edit_form(
    State(s): State<AppState>,
    v: Viewer,
    Path((object, key)): Path<(String, String)>,
) -> Page {
    v.actor.require(Action::ManageFields)?;
    let def = record::get_field(&s.db, &v.actor, object_of(&object)?, &key).await?;
    let form = FieldForm {
        label: def.label.clone(),
        options: options_text(&def.options),
        ..FieldForm::default()
    };
    edit_page(&v, &def, &form, json!({}), StatusCode::OK)
}

async fn edit(
    State(s): State<AppState>,
    v: Viewer,
    Path((object, key)): Path<(String, String)>,
    axum::Form(form): axum::Form<FieldForm>,
) -> Page {
    v.actor.require(Action::ManageFields)?;
    let object = object_of(&object)?;
    let def = record::get_field(&s.db, &v.actor, object, &key).await?;
    let mut patch = FieldPatch {
        label: Some(form.label.clone()),
        ..FieldPatch::default()
    };
    if def.field_type.has_options() && !def.read_only {
        patch.options = Some(parse_options(&form.options));
    }
    match record::update_field(&s.db, &v.actor, object, &key, patch, now_ms()).await {
        Ok(_) => Ok(Redirect::to(&format!("/fields#{}-{}", object.as_str(), key)).into_response()),
        Err(e) if fixable(&e) => {
            // A change of options that stored values would not survive is
            // reported on `type`; here it belongs by the options box.
            let errors = field_form_errors(&e, &["label", "options"], "options");
            edit_page(&v, &def, &form, errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}

/// How many records hold a value of the field, if the filter language can say.
async fn records_with_value(s: &AppState, v: &Viewer, def: &FieldDef) -> Option<i64> {
    let params = ListParams {
        limit: Some(1),
        condition: Some(format!("{} exists", def.key)),
        ..ListParams::default()
    };
    record::list_records(&s.db, &v.actor, def.object, params)
        .await
        .ok()
        .map(|(_, total, _, _)| total)
}

async fn delete_page(
    s: &AppState,
    v: &Viewer,
    def: &FieldDef,
    refusal: Option<String>,
    status: StatusCode,
) -> Page {
    let kind = match def.object {
        ObjectKind::Contact => UseKind::ContactField,
        ObjectKind::Account => UseKind::AccountField,
    };
    let users = audience::uses_of(&s.db, &v.actor, kind, &def.key).await?;
    let used_by: Vec<Value> = users
        .iter()
        .map(|u| {
            let href = (u.owner_type == "segment").then(|| format!("/segments/{}", u.id));
            json!({"type": u.owner_type, "id": u.id, "name": u.name, "href": href})
        })
        .collect();
    let values = if def.builtin {
        None
    } else {
        records_with_value(s, v, def).await
    };
    let title = format!("Delete the field {}", def.label);
    let mut page = v.page(
        PageMeta {
            title: &title,
            section: SECTION,
        },
        "fields/delete.html",
        json!({
            "field": shown(def),
            "object_word": object_words(def.object).0,
            "used_by": used_by,
            "values": values,
            "refusal": refusal,
        }),
    )?;
    *page.status_mut() = status;
    Ok(page)
}

async fn delete_confirm(
    State(s): State<AppState>,
    v: Viewer,
    Path((object, key)): Path<(String, String)>,
) -> Page {
    v.actor.require(Action::ManageFields)?;
    let def = record::get_field(&s.db, &v.actor, object_of(&object)?, &key).await?;
    delete_page(&s, &v, &def, None, StatusCode::OK).await
}

async fn delete(
    State(s): State<AppState>,
    v: Viewer,
    Path((object, key)): Path<(String, String)>,
) -> Page {
    let object = object_of(&object)?;
    match record::delete_field(&s.db, &v.actor, object, &key, now_ms()).await {
        Ok(()) => Ok(Redirect::to("/fields").into_response()),
        Err(e) if fixable(&e) => {
            let def = record::get_field(&s.db, &v.actor, object, &key).await?;
            let status = super::view::status_of(e.kind);
            delete_page(&s, &v, &def, Some(e.message), status).await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_read_one_a_line_with_an_optional_label() {
        let got = parse_options("gold | Gold customer\n\n silver \n");
        assert_eq!(
            got,
            vec![
                PicklistOption::new("gold", "Gold customer"),
                PicklistOption::new("silver", "silver"),
            ]
        );
        assert_eq!(options_text(&got), "gold | Gold customer\nsilver");
    }
}
