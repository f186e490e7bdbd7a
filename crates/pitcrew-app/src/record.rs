//! Use cases of the record: the data model standard (fields) and the
//! contacts and accounts written against it.

use pitcrew_core::admin::{Action, ObjectType};
use pitcrew_core::record::value::normalize;
use pitcrew_core::record::{
    FieldDef, FieldType, Mode, ObjectKind, PicklistOption, builtin, field::check_key,
    validate_record,
};
use pitcrew_core::suggest;
use pitcrew_store::audit::Change;
use pitcrew_store::record::{self as repo, Identity, ListQuery, Lookup, StoredRecord};
use pitcrew_store::{Conn, Db, StoreError};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{Actor, AppError};

/// Most custom fields one object may have.
pub const MAX_CUSTOM_FIELDS: usize = 500;
/// Longest external id accepted.
const MAX_EXTERNAL_ID: usize = 255;

fn object_type(object: ObjectKind) -> ObjectType {
    match object {
        ObjectKind::Contact => ObjectType::Contact,
        ObjectKind::Account => ObjectType::Account,
    }
}

fn not_found(object: ObjectKind, id: impl std::fmt::Display) -> AppError {
    let code = match object {
        ObjectKind::Contact => "contact_not_found",
        ObjectKind::Account => "account_not_found",
    };
    AppError::not_found(
        code,
        format!(
            "there is no {} with id {id} in this workspace",
            object.as_str()
        ),
    )
}

// ---- fields -------------------------------------------------------------

/// Give a new workspace its built-in fields.
pub async fn seed_builtin_fields(mut c: Conn<'_>, ws: i64, now: i64) -> Result<(), StoreError> {
    for def in builtin::contact_fields()
        .iter()
        .chain(builtin::account_fields().iter())
    {
        repo::insert_field(c.reborrow(), ws, def, now).await?;
    }
    Ok(())
}

pub async fn list_fields(
    db: &Db,
    actor: &Actor,
    object: Option<ObjectKind>,
) -> Result<Vec<FieldDef>, AppError> {
    actor.require(Action::ReadRecords)?;
    Ok(repo::list_fields(db.conn(), actor.workspace_id, object).await?)
}

pub async fn get_field(
    db: &Db,
    actor: &Actor,
    object: ObjectKind,
    key: &str,
) -> Result<FieldDef, AppError> {
    actor.require(Action::ReadRecords)?;
    field_or_404(db.conn(), actor.workspace_id, object, key).await
}

async fn field_or_404(
    c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    key: &str,
) -> Result<FieldDef, AppError> {
    repo::get_field(c, ws, object, key).await?.ok_or_else(|| {
        AppError::not_found(
            "field_not_found",
            format!("there is no {} field `{key}`", object.as_str()),
        )
    })
}

/// A field a user is adding to the data model.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewField {
    pub object: ObjectKind,
    /// Lowercase letters, digits and underscores, e.g. `annual_budget`.
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<Value>,
    /// Allowed values of a picklist or multi-picklist.
    #[serde(default)]
    pub options: Vec<PicklistOption>,
}

/// Changes to a field; absent members stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldPatch {
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub field_type: Option<FieldType>,
    pub required: Option<bool>,
    /// `null` removes the default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Object)]
    pub default: Option<Option<Value>>,
    pub options: Option<Vec<PicklistOption>>,
}

/// Tell "absent" (outer None) from "null" (Some(None)) in a patch.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn check_definition(def: &FieldDef) -> Result<FieldDef, AppError> {
    let mut def = def.clone();
    def.label = def.label.trim().to_string();
    if def.label.is_empty() || def.label.chars().count() > 100 {
        return Err(AppError::invalid(
            "field_label_invalid",
            "label",
            "give the field a label of 1 to 100 characters; it is what people see",
        ));
    }
    if def.field_type.has_options() {
        if def.options.is_empty() {
            return Err(AppError::invalid(
                "field_options_missing",
                "options",
                "a picklist needs at least one option, e.g. [{\"value\": \"gold\", \"label\": \"Gold\"}]",
            ));
        }
        let mut seen = Vec::new();
        for (i, o) in def.options.iter_mut().enumerate() {
            o.value = o.value.trim().to_string();
            o.label = o.label.trim().to_string();
            if o.label.is_empty() {
                o.label.clone_from(&o.value);
            }
            if o.value.is_empty() || o.value.contains(';') {
                return Err(AppError::invalid(
                    "field_options_invalid",
                    &format!("options[{i}].value"),
                    "each option needs a value that is not empty and has no `;`",
                ));
            }
            if seen.contains(&o.value.to_lowercase()) {
                return Err(AppError::invalid(
                    "field_options_invalid",
                    &format!("options[{i}].value"),
                    format!(
                        "option `{}` appears twice; option values must be unique",
                        o.value
                    ),
                ));
            }
            seen.push(o.value.to_lowercase());
        }
    } else if !def.options.is_empty() {
        return Err(AppError::invalid(
            "field_options_invalid",
            "options",
            format!(
                "a {} field has no options; remove them or make it a picklist",
                def.field_type.as_str()
            ),
        ));
    }
    if let Some(default) = def.default.take() {
        match normalize(&def, &default, None) {
            Ok(v) => def.default = Some(v).filter(|v| !v.is_null()),
            Err(message) => {
                return Err(AppError::invalid(
                    "field_default_invalid",
                    "default",
                    message,
                ));
            }
        }
    }
    Ok(def)
}

pub async fn create_field(
    db: &Db,
    actor: &Actor,
    new: NewField,
    now: i64,
) -> Result<FieldDef, AppError> {
    actor.require(Action::ManageFields)?;
    let ws = actor.workspace_id;
    check_key(&new.key).map_err(|m| AppError::invalid("field_key_invalid", "key", m))?;
    let def = check_definition(&FieldDef {
        object: new.object,
        key: new.key,
        label: new.label,
        field_type: new.field_type,
        required: new.required,
        default: new.default,
        options: new.options,
        builtin: false,
        read_only: false,
    })?;
    let mut tx = db.begin().await?;
    let existing = repo::list_fields(tx.conn(), ws, Some(def.object)).await?;
    if existing.iter().any(|f| f.key == def.key) {
        return Err(AppError::conflict(
            "field_exists",
            "key",
            format!(
                "the {} field `{}` already exists; change it instead, or pick another key",
                def.object.as_str(),
                def.key
            ),
        ));
    }
    if existing.iter().filter(|f| !f.builtin).count() >= MAX_CUSTOM_FIELDS {
        return Err(AppError::conflict(
            "field_limit",
            "key",
            format!(
                "a {} can have at most {MAX_CUSTOM_FIELDS} custom fields; delete unused ones first",
                def.object.as_str()
            ),
        ));
    }
    repo::insert_field(tx.conn(), ws, &def, now).await?;
    actor
        .log_change(&mut tx, field_change("create", &def, None, Some(&def)), now)
        .await?;
    tx.commit().await?;
    Ok(def)
}

fn field_change<'a>(
    action: &'a str,
    def: &FieldDef,
    before: Option<&FieldDef>,
    after: Option<&FieldDef>,
) -> Change<'a> {
    let as_map = |d: Option<&FieldDef>| match d.map(serde_json::to_value) {
        Some(Ok(Value::Object(m))) => m,
        _ => Map::new(),
    };
    // Like records: nothing on the missing side, only changed members on an update.
    let (before, after) = match (before, after) {
        (Some(_), Some(_)) => diff(&as_map(before), &as_map(after)),
        _ => (as_map(before), as_map(after)),
    };
    Change {
        action,
        object_type: ObjectType::Field,
        object_id: format!("{}.{}", def.object.as_str(), def.key),
        changes: json!({ "before": before, "after": after }),
    }
}

/// Values that cannot become what a field is changing into.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Unconvertible {
    pub id: i64,
    pub value: Value,
    pub reason: String,
}

/// Change a field. A new type or new options are checked against every
/// stored value first: if any would not convert, nothing changes and the
/// error lists how many and which.
pub async fn update_field(
    db: &Db,
    actor: &Actor,
    object: ObjectKind,
    key: &str,
    patch: FieldPatch,
    now: i64,
) -> Result<FieldDef, AppError> {
    actor.require(Action::ManageFields)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let before = field_or_404(tx.conn(), ws, object, key).await?;
    let retyped = patch.field_type.is_some_and(|t| t != before.field_type);
    if before.read_only
        && (retyped
            || patch.required.is_some()
            || patch.default.is_some()
            || patch.options.is_some())
    {
        return Err(AppError::invalid(
            "field_read_only",
            "type",
            format!("`{key}` is maintained by pitcrew; only its label can change"),
        ));
    }
    if before.builtin && retyped {
        return Err(AppError::invalid(
            "field_builtin",
            "type",
            format!(
                "`{key}` is a built-in field; its type cannot change. Add a custom field instead"
            ),
        ));
    }
    let mut after = before.clone();
    if let Some(label) = patch.label {
        after.label = label;
    }
    if let Some(t) = patch.field_type {
        after.field_type = t;
        if !t.has_options() {
            after.options.clear();
        }
    }
    if let Some(required) = patch.required {
        after.required = required;
    }
    if let Some(default) = patch.default {
        after.default = default;
    }
    if let Some(options) = patch.options {
        after.options = options;
    }
    let after = check_definition(&after)?;
    if after == before {
        return Ok(before);
    }
    if retyped {
        // A saved condition compares this field as its current type.
        crate::audience::refuse_field_in_use(tx.conn(), ws, object, key, "change its type").await?;
    }
    if retyped || after.options != before.options {
        convert_values(tx.conn(), ws, &after).await?;
    }
    repo::update_field(tx.conn(), ws, &after, now).await?;
    actor
        .log_change(
            &mut tx,
            field_change("update", &after, Some(&before), Some(&after)),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(after)
}

/// Rewrite stored values into `def`'s type, or refuse with every value that
/// will not go.
async fn convert_values(mut c: Conn<'_>, ws: i64, def: &FieldDef) -> Result<(), AppError> {
    let values = repo::field_values(c.reborrow(), ws, def.object, &def.key).await?;
    let mut converted = Vec::new();
    let mut refused = Vec::new();
    for (id, value, country) in values {
        match normalize(def, &value, country.as_deref()) {
            Ok(v) if v == value => {}
            Ok(v) => converted.push((id, v)),
            Err(reason) => refused.push(Unconvertible { id, value, reason }),
        }
    }
    if !refused.is_empty() {
        let n = refused.len();
        let ids: Vec<String> = refused.iter().take(10).map(|u| u.id.to_string()).collect();
        let more = if n > 10 { ", …" } else { "" };
        let mut err = AppError::conflict(
            "field_values_unconvertible",
            "type",
            format!(
                "{n} {}(s) have `{}` values that would not fit the change (ids {}{more}); fix or clear those values first. First problem: {}",
                def.object.as_str(),
                def.key,
                ids.join(", "),
                refused[0].reason
            ),
        );
        err.details = refused
            .into_iter()
            .map(|u| pitcrew_core::record::FieldIssue {
                code: "field_invalid",
                field: format!("{}:{}", u.id, def.key),
                value: Some(u.value),
                message: u.reason,
            })
            .collect();
        return Err(err);
    }
    repo::set_field_values(c, ws, def.object, &def.key, &converted).await?;
    Ok(())
}

pub async fn delete_field(
    db: &Db,
    actor: &Actor,
    object: ObjectKind,
    key: &str,
    now: i64,
) -> Result<(), AppError> {
    actor.require(Action::ManageFields)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let def = field_or_404(tx.conn(), ws, object, key).await?;
    if def.builtin {
        return Err(AppError::invalid(
            "field_builtin",
            "key",
            format!("`{key}` is a built-in field and cannot be deleted"),
        ));
    }
    crate::audience::refuse_field_in_use(tx.conn(), ws, object, key, "delete it").await?;
    let cleared = repo::remove_field_values(tx.conn(), ws, object, key).await?;
    repo::delete_field(tx.conn(), ws, object, key).await?;
    let mut change = field_change("delete", &def, Some(&def), None);
    change.changes["values_removed"] = json!(cleared);
    actor.log_change(&mut tx, change, now).await?;
    tx.commit().await?;
    Ok(())
}

// ---- contacts and accounts ----------------------------------------------

/// A contact or account being created.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    pub external_id: Option<String>,
    /// The account a contact works at (contacts only).
    pub account_id: Option<i64>,
    /// Field values keyed by field key.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

/// Changes to a contact or account: only the members sent change; `null`
/// clears a value.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPatch {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub account_id: Option<Option<i64>>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

fn clean_external_id(raw: Option<String>) -> Result<Option<String>, AppError> {
    let Some(id) = raw.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if id.chars().count() > MAX_EXTERNAL_ID {
        return Err(AppError::invalid(
            "external_id_invalid",
            "external_id",
            format!("external ids are at most {MAX_EXTERNAL_ID} characters"),
        ));
    }
    Ok(Some(id))
}

/// Check identities against other records: unique email and external id,
/// and an account that exists in this workspace.
async fn check_identity(
    tx: &mut pitcrew_store::Tx,
    ws: i64,
    object: ObjectKind,
    id: Option<i64>,
    identity: &Identity,
    fields: &Map<String, Value>,
) -> Result<(), AppError> {
    if let Some(account_id) = identity.account_id {
        if object == ObjectKind::Account {
            return Err(AppError::invalid(
                "account_id_not_allowed",
                "account_id",
                "accounts do not belong to accounts; remove `account_id`",
            ));
        }
        if repo::get_record(tx.conn(), ws, ObjectKind::Account, account_id, false)
            .await?
            .is_none()
        {
            return Err(AppError::invalid(
                "account_not_found",
                "account_id",
                format!("there is no account with id {account_id} in this workspace"),
            ));
        }
    }
    let mut lookups = Vec::new();
    if let (ObjectKind::Contact, Some(Value::String(email))) = (object, fields.get("email")) {
        lookups.push((
            Lookup::Email(email.clone()),
            "email_taken",
            "fields.email",
            format!("another contact already has the email {email}"),
        ));
    }
    if let Some(x) = &identity.external_id {
        lookups.push((
            Lookup::ExternalId(x.clone()),
            "external_id_taken",
            "external_id",
            format!(
                "another {} already has the external id {x}",
                object.as_str()
            ),
        ));
    }
    for (lookup, code, field, message) in lookups {
        if let Some(other) = repo::find_record(tx.conn(), ws, object, &lookup).await?
            && Some(other.id) != id
        {
            return Err(AppError::conflict(
                code,
                field,
                format!("{message} (id {}); update that one instead", other.id),
            ));
        }
    }
    Ok(())
}

pub async fn create_record(
    db: &Db,
    actor: &Actor,
    object: ObjectKind,
    input: RecordInput,
    now: i64,
) -> Result<StoredRecord, AppError> {
    actor.require(Action::WriteRecords)?;
    let ws = actor.workspace_id;
    let identity = Identity {
        external_id: clean_external_id(input.external_id)?,
        account_id: input.account_id,
    };
    let mut tx = db.begin().await?;
    let fields = repo::list_fields(tx.conn(), ws, Some(object)).await?;
    let values =
        validate_record(&fields, &input.fields, None, Mode::Create).map_err(AppError::fields)?;
    check_identity(&mut tx, ws, object, None, &identity, &values).await?;
    let created = repo::insert_record(tx.conn(), ws, object, &identity, &values, now).await?;
    let after = snapshot(&created);
    actor
        .log(
            &mut tx,
            "create",
            object_type(object),
            created.id,
            json!({ "before": {}, "after": after }),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(created)
}

/// Identity members and field values of a record, for the audit log.
fn snapshot(r: &StoredRecord) -> Map<String, Value> {
    let mut m = r.fields.clone();
    m.remove("created_at");
    m.remove("updated_at");
    if let Some(x) = &r.external_id {
        m.insert("external_id".into(), json!(x));
    }
    if let Some(a) = r.account_id {
        m.insert("account_id".into(), json!(a));
    }
    m
}

/// Only what differs between two snapshots: `(before, after)`.
fn diff(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut b = Map::new();
    let mut a = Map::new();
    for key in before.keys().chain(after.keys()) {
        let (old, new) = (before.get(key), after.get(key));
        if old != new {
            b.insert(key.clone(), old.cloned().unwrap_or(Value::Null));
            a.insert(key.clone(), new.cloned().unwrap_or(Value::Null));
        }
    }
    (b, a)
}

pub async fn update_record(
    db: &Db,
    actor: &Actor,
    object: ObjectKind,
    id: i64,
    patch: RecordPatch,
    now: i64,
) -> Result<StoredRecord, AppError> {
    actor.require(Action::WriteRecords)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let existing = repo::get_record(tx.conn(), ws, object, id, true)
        .await?
        .ok_or_else(|| not_found(object, id))?;
    let fields = repo::list_fields(tx.conn(), ws, Some(object)).await?;
    let changes = validate_record(&fields, &patch.fields, Some(&existing.fields), Mode::Update)
        .map_err(AppError::fields)?;
    let mut updated = existing.clone();
    for (key, value) in changes {
        if value.is_null() {
            updated.fields.remove(&key);
        } else {
            updated.fields.insert(key, value);
        }
    }
    if let Some(x) = patch.external_id {
        updated.external_id = clean_external_id(x)?;
    }
    if let Some(a) = patch.account_id {
        updated.account_id = a;
    }
    let (before, after) = diff(&snapshot(&existing), &snapshot(&updated));
    if after.is_empty() {
        return Ok(existing);
    }
    let identity = Identity {
        external_id: updated.external_id.clone(),
        account_id: updated.account_id,
    };
    let changed_identity = Identity {
        external_id: identity
            .external_id
            .clone()
            .filter(|_| after.contains_key("external_id")),
        account_id: identity
            .account_id
            .filter(|_| after.contains_key("account_id")),
    };
    let email_change: Map<String, Value> = updated
        .fields
        .iter()
        .filter(|(k, _)| k.as_str() == "email" && after.contains_key("email"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    check_identity(
        &mut tx,
        ws,
        object,
        Some(id),
        &changed_identity,
        &email_change,
    )
    .await?;
    repo::update_record(tx.conn(), ws, object, id, &identity, &updated.fields, now).await?;
    actor
        .log(
            &mut tx,
            "update",
            object_type(object),
            id,
            json!({ "before": before, "after": after }),
            now,
        )
        .await?;
    let saved = repo::get_record(tx.conn(), ws, object, id, false)
        .await?
        .ok_or_else(|| not_found(object, id))?;
    tx.commit().await?;
    Ok(saved)
}

pub async fn delete_record(
    db: &Db,
    actor: &Actor,
    object: ObjectKind,
    id: i64,
    now: i64,
) -> Result<(), AppError> {
    actor.require(Action::DeleteRecords)?;
    let ws = actor.workspace_id;
    let mut tx = db.begin().await?;
    let existing = repo::get_record(tx.conn(), ws, object, id, true)
        .await?
        .ok_or_else(|| not_found(object, id))?;
    let (_, unlinked) = repo::delete_record(tx.conn(), ws, object, id).await?;
    let mut changes = json!({ "before": snapshot(&existing), "after": {} });
    if object == ObjectKind::Account {
        // The contacts stay; the entry says how many lost their account.
        changes["contacts_unlinked"] = json!(unlinked);
    }
    actor
        .log(&mut tx, "delete", object_type(object), id, changes, now)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get_record(
    db: &Db,
    actor: &Actor,
    object: ObjectKind,
    id: i64,
) -> Result<StoredRecord, AppError> {
    actor.require(Action::ReadRecords)?;
    repo::get_record(db.conn(), actor.workspace_id, object, id, false)
        .await?
        .ok_or_else(|| not_found(object, id))
}

pub async fn find_record(
    db: &Db,
    actor: &Actor,
    object: ObjectKind,
    lookup: Lookup,
) -> Result<StoredRecord, AppError> {
    actor.require(Action::ReadRecords)?;
    let lookup = match lookup {
        Lookup::Email(e) => Lookup::Email(e.trim().to_lowercase()),
        Lookup::ExternalId(x) => Lookup::ExternalId(x.trim().to_string()),
    };
    let shown = match &lookup {
        Lookup::Email(e) => format!("email {e}"),
        Lookup::ExternalId(x) => format!("external id {x}"),
    };
    repo::find_record(db.conn(), actor.workspace_id, object, &lookup)
        .await?
        .ok_or_else(|| not_found(object, shown))
}

/// Paging, sorting and search as a client asks for them.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Text to find in email, names, company or external id.
    pub q: Option<String>,
    /// A field key, `-` in front for descending; default `-id` (newest first).
    pub sort: Option<String>,
    /// 1 to 500; default 50.
    pub limit: Option<i64>,
    /// Records to skip; default 0.
    pub offset: Option<i64>,
    /// Only contacts of this account.
    pub account_id: Option<i64>,
    /// Only records meeting this condition of the filter language, e.g.
    /// `all of (lifecycle_stage is "mql", did "Demo Requested" in last 30 days)`.
    #[serde(rename = "where")]
    #[param(rename = "where")]
    pub condition: Option<String>,
}

pub const MAX_PAGE: i64 = 500;

pub async fn list_records(
    db: &Db,
    actor: &Actor,
    object: ObjectKind,
    params: ListParams,
) -> Result<(Vec<StoredRecord>, i64, i64, i64), AppError> {
    actor.require(Action::ReadRecords)?;
    let ws = actor.workspace_id;
    let limit = params.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid(
            "limit_invalid",
            "limit",
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    let offset = params.offset.unwrap_or(0);
    if offset < 0 {
        return Err(AppError::invalid(
            "offset_invalid",
            "offset",
            "offset cannot be negative",
        ));
    }
    let sort = params.sort.unwrap_or_else(|| "-id".into());
    let (descending, key) = match sort.strip_prefix('-') {
        Some(k) => (true, k.to_string()),
        None => (false, sort.clone()),
    };
    if key != "id" && key != "external_id" {
        let fields = repo::list_fields(db.conn(), ws, Some(object)).await?;
        if !fields.iter().any(|f| f.key == key) {
            let hint = suggest::closest(&key, fields.iter().map(|f| f.key.as_str()))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(AppError::invalid(
                "sort_unknown",
                "sort",
                format!("cannot sort by `{key}`: there is no such field{hint}"),
            ));
        }
    }
    let condition = match params.condition.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(text) => {
            Some(crate::audience::list_condition(db, ws, object, text, crate::now_ms()).await?)
        }
        None => None,
    };
    let query = ListQuery {
        search: params.q,
        sort: key,
        descending,
        limit,
        offset,
        account_id: params.account_id,
        condition,
    };
    let (records, total) = repo::list_records(db.conn(), ws, object, &query).await?;
    Ok((records, total, limit, offset))
}
