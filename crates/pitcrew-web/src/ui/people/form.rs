//! Adding and editing a person. The form shows every field of the data
//! model a person may set; the server checks the values (the same use
//! cases as the API) and a refused form comes back with each message
//! beside its field.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use pitcrew_app::record::{self, ListParams, RecordInput, RecordPatch};
use pitcrew_app::{AppError, ErrorKind, now_ms};
use pitcrew_core::admin::Action;
use pitcrew_core::record::{FieldDef, FieldType, ObjectKind};
use serde_json::{Map, Value, json};

use super::contact::id_of;
use super::listing::{account_name, person_name};
use crate::AppState;
use crate::ui::view::{Page, PageMeta, UiError, Viewer, form_errors, status_of};

/// Accounts offered in the account picker; beyond this many the form asks
/// for the account's number instead.
const MAX_ACCOUNT_CHOICES: i64 = 500;

/// A submitted form, in order, repeated names kept (multi-picklists).
struct Submitted(Vec<(String, String)>);

impl Submitted {
    fn parse(body: &[u8]) -> Submitted {
        Submitted(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The form field of a data-model field.
fn input_name(key: &str) -> String {
    format!("f.{key}")
}

/// The fields a person may set, with how each is asked for.
fn form_fields(fields: &[FieldDef]) -> Vec<Value> {
    fields
        .iter()
        .filter(|f| !f.read_only)
        .map(|f| {
            let (control, input, hint) = match f.field_type {
                FieldType::Boolean => ("yesno", "", ""),
                FieldType::Picklist => ("select", "", ""),
                FieldType::MultiPicklist => ("checkboxes", "", ""),
                FieldType::Email => ("input", "email", ""),
                FieldType::Phone => ("input", "tel", "With the country code, e.g. +49 30 1234567"),
                FieldType::Url => ("input", "url", "e.g. https://example.com"),
                FieldType::Date => ("input", "date", "YYYY-MM-DD"),
                FieldType::Datetime => ("input", "text", "e.g. 2026-03-31T09:00:00Z"),
                FieldType::Number => ("input", "text", "Digits, a dot for decimals, e.g. 1250.50"),
                FieldType::Country => ("input", "text", "Its name or ISO code, e.g. Germany or DE"),
                FieldType::Text => ("input", "text", ""),
            };
            json!({
                "key": f.key,
                "name": input_name(&f.key),
                "label": f.label,
                "required": f.required,
                "control": control,
                "input": input,
                "numeric": f.field_type == FieldType::Number,
                "hint": hint,
                "options": f.options,
            })
        })
        .collect()
}

/// A stored value as the form shows it for editing.
fn editable(value: Option<&Value>) -> Value {
    match value {
        None | Some(Value::Null) => json!(""),
        Some(Value::Array(items)) => json!(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
        ),
        Some(Value::String(s)) => json!(s),
        Some(other) => json!(other.to_string()),
    }
}

/// What the form holds: the stored record's values, or what was sent.
struct FormValues {
    external_id: String,
    account_id: String,
    fields: Map<String, Value>,
}

impl FormValues {
    fn of_record(fields: &[FieldDef], r: &pitcrew_store::record::StoredRecord) -> FormValues {
        FormValues {
            external_id: r.external_id.clone().unwrap_or_default(),
            account_id: r.account_id.map(|a| a.to_string()).unwrap_or_default(),
            fields: fields
                .iter()
                .filter(|f| !f.read_only)
                .map(|f| (f.key.clone(), editable(r.fields.get(&f.key))))
                .collect(),
        }
    }

    fn of_form(fields: &[FieldDef], form: &Submitted) -> FormValues {
        FormValues {
            external_id: form.get("external_id").unwrap_or("").to_string(),
            account_id: form.get("account_id").unwrap_or("").to_string(),
            fields: fields
                .iter()
                .filter(|f| !f.read_only)
                .map(|f| {
                    let name = input_name(&f.key);
                    let v = if f.field_type == FieldType::MultiPicklist {
                        json!(form.all(&name))
                    } else {
                        json!(form.get(&name).unwrap_or(""))
                    };
                    (f.key.clone(), v)
                })
                .collect(),
        }
    }
}

/// The values a form sends for the use case: only the fields it holds;
/// an empty one is `Null` (cleared on edit, left to its default on create).
fn sent_values(fields: &[FieldDef], form: &Submitted) -> Map<String, Value> {
    let mut out = Map::new();
    for f in fields.iter().filter(|f| !f.read_only) {
        let name = input_name(&f.key);
        if form.get(&name).is_none() {
            continue;
        }
        let value = if f.field_type == FieldType::MultiPicklist {
            let chosen = form.all(&name);
            if chosen.is_empty() {
                Value::Null
            } else {
                json!(chosen)
            }
        } else {
            match form.get(&name).map(str::trim) {
                Some("") | None => Value::Null,
                Some(s) => json!(s),
            }
        };
        out.insert(f.key.clone(), value);
    }
    out
}

/// The account chosen on the form: none when left empty.
fn account_choice(form: &Submitted) -> Result<Option<Option<i64>>, AppError> {
    let Some(raw) = form.get("account_id").map(str::trim) else {
        return Ok(None);
    };
    if raw.is_empty() {
        return Ok(Some(None));
    }
    raw.parse::<i64>().map(|a| Some(Some(a))).map_err(|_| {
        AppError::invalid(
            "account_id_invalid",
            "account_id",
            format!("`{raw}` is not an account number; pick the account from the list or copy its number from its page"),
        )
    })
}

fn refuse_unless_writer(v: &Viewer) -> Result<(), UiError> {
    if v.can(Action::WriteRecords) {
        return Ok(());
    }
    Err(UiError::App(AppError::forbidden(
        "your role cannot add or change people; ask a workspace admin for the marketer role",
    )))
}

/// The accounts to pick from, by name, or `None` when there are too many to list.
async fn account_choices(s: &AppState, v: &Viewer) -> Result<Option<Vec<Value>>, UiError> {
    let params = ListParams {
        sort: Some("name".into()),
        limit: Some(MAX_ACCOUNT_CHOICES),
        ..ListParams::default()
    };
    let (accounts, total, _, _) =
        record::list_records(&s.db, &v.actor, ObjectKind::Account, params).await?;
    if total > MAX_ACCOUNT_CHOICES {
        return Ok(None);
    }
    Ok(Some(
        accounts
            .iter()
            .map(|a| json!({"id": a.id.to_string(), "name": account_name(a.id, &a.fields)}))
            .collect(),
    ))
}

/// Where the form is and what it is called: adding, or editing person `id`.
struct Target {
    id: Option<i64>,
    name: String,
}

async fn form_page(
    s: &AppState,
    v: &Viewer,
    target: &Target,
    fields: &[FieldDef],
    values: FormValues,
    errors: Value,
    status: StatusCode,
) -> Page {
    let known: Vec<String> = fields
        .iter()
        .filter(|f| !f.read_only)
        .map(|f| f.key.clone())
        .chain(["external_id".to_string(), "account_id".to_string()])
        .collect();
    let other_errors: Vec<Value> = errors
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !known.contains(k))
                .map(|(_, msg)| msg.clone())
                .collect()
        })
        .unwrap_or_default();
    let problems = errors.as_object().map_or(0, Map::len);
    let (title, action) = match target.id {
        Some(id) => (
            format!("Edit {}", target.name),
            format!("/people/{id}/edit"),
        ),
        None => ("Add a person".to_string(), "/people/new".to_string()),
    };
    let mut page = v.page(
        PageMeta {
            title: &title,
            section: "people",
        },
        "people/form.html",
        json!({
            "title": title,
            "action": action,
            "id": target.id,
            "name": target.name,
            "fields": form_fields(fields),
            "values": values.fields,
            "external_id": values.external_id,
            "account_id": values.account_id,
            "accounts": account_choices(s, v).await?,
            "errors": errors,
            "problems": problems,
            "other_errors": other_errors,
        }),
    )?;
    *page.status_mut() = status;
    Ok(page)
}

/// A refused save: back to the form with the messages, or the error page
/// when it was not the input that was wrong.
async fn refused(
    s: &AppState,
    v: &Viewer,
    target: &Target,
    fields: &[FieldDef],
    form: &Submitted,
    e: AppError,
) -> Page {
    if !matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) {
        return Err(e.into());
    }
    let values = FormValues::of_form(fields, form);
    form_page(
        s,
        v,
        target,
        fields,
        values,
        form_errors(&e),
        status_of(e.kind),
    )
    .await
}

pub(super) async fn new_form(
    State(s): State<AppState>,
    v: Viewer,
    RawQuery(raw): RawQuery,
) -> Page {
    refuse_unless_writer(&v)?;
    let fields = record::list_fields(&s.db, &v.actor, Some(ObjectKind::Contact)).await?;
    let account = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "account")
        .map(|(_, a)| a.into_owned())
        .unwrap_or_default();
    let values = FormValues {
        external_id: String::new(),
        account_id: account,
        fields: Map::new(),
    };
    let target = Target {
        id: None,
        name: String::new(),
    };
    form_page(&s, &v, &target, &fields, values, json!({}), StatusCode::OK).await
}

pub(super) async fn create(State(s): State<AppState>, v: Viewer, body: Bytes) -> Page {
    let form = Submitted::parse(&body);
    let fields = record::list_fields(&s.db, &v.actor, Some(ObjectKind::Contact)).await?;
    let target = Target {
        id: None,
        name: String::new(),
    };
    let account_id = match account_choice(&form) {
        Ok(a) => a.flatten(),
        Err(e) => return refused(&s, &v, &target, &fields, &form, e).await,
    };
    let mut values = sent_values(&fields, &form);
    values.retain(|_, v| !v.is_null());
    let input = RecordInput {
        external_id: form.get("external_id").map(str::to_string),
        account_id,
        fields: values,
    };
    match record::create_record(&s.db, &v.actor, ObjectKind::Contact, input, now_ms()).await {
        Ok(r) => Ok(Redirect::to(&format!("/people/{}", r.id)).into_response()),
        Err(e) => refused(&s, &v, &target, &fields, &form, e).await,
    }
}

pub(super) async fn edit_form(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
) -> Page {
    let id = id_of(&id, "a person's")?;
    refuse_unless_writer(&v)?;
    let person = record::get_record(&s.db, &v.actor, ObjectKind::Contact, id).await?;
    let fields = record::list_fields(&s.db, &v.actor, Some(ObjectKind::Contact)).await?;
    let target = Target {
        id: Some(id),
        name: person_name(id, &person.fields),
    };
    let values = FormValues::of_record(&fields, &person);
    form_page(&s, &v, &target, &fields, values, json!({}), StatusCode::OK).await
}

pub(super) async fn update(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Page {
    let id = id_of(&id, "a person's")?;
    let form = Submitted::parse(&body);
    let person = record::get_record(&s.db, &v.actor, ObjectKind::Contact, id).await?;
    let fields = record::list_fields(&s.db, &v.actor, Some(ObjectKind::Contact)).await?;
    let target = Target {
        id: Some(id),
        name: person_name(id, &person.fields),
    };
    let account_id = match account_choice(&form) {
        Ok(a) => a,
        Err(e) => return refused(&s, &v, &target, &fields, &form, e).await,
    };
    let patch = RecordPatch {
        external_id: form.get("external_id").map(|x| Some(x.to_string())),
        account_id,
        fields: sent_values(&fields, &form),
    };
    match record::update_record(&s.db, &v.actor, ObjectKind::Contact, id, patch, now_ms()).await {
        Ok(_) => Ok(Redirect::to(&format!("/people/{id}")).into_response()),
        Err(e) => refused(&s, &v, &target, &fields, &form, e).await,
    }
}
