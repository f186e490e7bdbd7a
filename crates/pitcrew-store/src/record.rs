//! Fields of the data model standard, contacts and accounts.
//!
//! Contacts and accounts share one storage shape: a few columns that are
//! identities or times (`email` for contacts, `external_id`, `created_at`,
//! `updated_at`) and a JSON column holding every other field value. Custom
//! fields never become SQL columns.

use pitcrew_core::record::{Account, Contact, FieldDef, FieldType, ObjectKind, PicklistOption};
use pitcrew_core::time::format_ms;
use serde_json::{Map, Value};

use crate::{Conn, Engine, Param, Row, StoreError, json_text, json_value, like_pattern, params};

// ---- fields -------------------------------------------------------------

const FIELD_SELECT: &str = "SELECT object, key, label, type, required, default_value, options, builtin, read_only FROM fields";

fn field(row: &Row) -> Result<FieldDef, StoreError> {
    let object = row.text("object")?;
    let type_name = row.text("type")?;
    let options: Vec<PicklistOption> = serde_json::from_value(row.json("options")?)
        .map_err(|e| StoreError::Corrupt(format!("field options: {e}")))?;
    let default = Some(row.json("default_value")?).filter(|v| !v.is_null());
    Ok(FieldDef {
        object: ObjectKind::parse(&object)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown object `{object}`")))?,
        key: row.text("key")?,
        label: row.text("label")?,
        field_type: FieldType::parse(&type_name)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown field type `{type_name}`")))?,
        required: row.bool("required")?,
        default,
        options,
        builtin: row.bool("builtin")?,
        read_only: row.bool("read_only")?,
    })
}

fn field_params(ws: i64, def: &FieldDef) -> Vec<Param> {
    let options = serde_json::to_value(&def.options).unwrap_or(Value::Array(Vec::new()));
    params![
        ws,
        def.object.as_str(),
        def.key.as_str(),
        def.label.as_str(),
        def.field_type.as_str(),
        def.required,
        def.default.clone().unwrap_or(Value::Null),
        options,
    ]
}

/// The fields of a workspace in display order, for one object or both.
pub async fn list_fields(
    mut c: Conn<'_>,
    ws: i64,
    object: Option<ObjectKind>,
) -> Result<Vec<FieldDef>, StoreError> {
    c.fetch_all(
        &format!("{FIELD_SELECT} WHERE workspace_id = $1 AND ($2 IS NULL OR object = $2) ORDER BY object DESC, position, id"),
        params![ws, object.map(ObjectKind::as_str)],
    )
    .await?
    .iter()
    .map(field)
    .collect()
}

pub async fn get_field(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    key: &str,
) -> Result<Option<FieldDef>, StoreError> {
    c.fetch_optional(
        &format!("{FIELD_SELECT} WHERE workspace_id = $1 AND object = $2 AND key = $3"),
        params![ws, object.as_str(), key],
    )
    .await?
    .map(|r| field(&r))
    .transpose()
}

pub async fn insert_field(
    mut c: Conn<'_>,
    ws: i64,
    def: &FieldDef,
    now: i64,
) -> Result<(), StoreError> {
    let mut p = field_params(ws, def);
    p.extend(params![def.builtin, def.read_only, now]);
    c.execute(
        "INSERT INTO fields (workspace_id, object, key, label, type, required, default_value, options, builtin, read_only, position, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         (SELECT COALESCE(MAX(position), 0) + 1 FROM fields WHERE workspace_id = $1 AND object = $2), $11, $11)",
        p,
    )
    .await?;
    Ok(())
}

/// Store a field's new label, type, rules and options.
pub async fn update_field(
    mut c: Conn<'_>,
    ws: i64,
    def: &FieldDef,
    now: i64,
) -> Result<(), StoreError> {
    let mut p = field_params(ws, def);
    p.push(Param::Int(now));
    c.execute(
        "UPDATE fields SET label = $4, type = $5, required = $6, default_value = $7, options = $8, updated_at = $9 \
         WHERE workspace_id = $1 AND object = $2 AND key = $3",
        p,
    )
    .await?;
    Ok(())
}

pub async fn delete_field(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    key: &str,
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM fields WHERE workspace_id = $1 AND object = $2 AND key = $3",
        params![ws, object.as_str(), key],
    )
    .await?;
    Ok(())
}

// ---- contacts and accounts ----------------------------------------------

pub(crate) fn table(object: ObjectKind) -> &'static str {
    match object {
        ObjectKind::Contact => "contacts",
        ObjectKind::Account => "accounts",
    }
}

pub(crate) fn select(object: ObjectKind) -> String {
    match object {
        ObjectKind::Contact => {
            "SELECT id, external_id, email, account_id, data, created_at, updated_at FROM contacts"
                .into()
        }
        ObjectKind::Account => {
            "SELECT id, external_id, data, created_at, updated_at FROM accounts".into()
        }
    }
}

/// A contact or account as stored, with every field value in `fields`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub id: i64,
    pub external_id: Option<String>,
    pub account_id: Option<i64>,
    pub fields: Map<String, Value>,
}

impl StoredRecord {
    pub fn into_contact(self) -> Contact {
        Contact {
            id: self.id,
            external_id: self.external_id,
            account_id: self.account_id,
            fields: self.fields,
        }
    }

    pub fn into_account(self) -> Account {
        Account {
            id: self.id,
            external_id: self.external_id,
            fields: self.fields,
        }
    }
}

pub(crate) fn stored(object: ObjectKind, row: &Row) -> Result<StoredRecord, StoreError> {
    let mut fields = match row.json("data")? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut account_id = None;
    if object == ObjectKind::Contact {
        if let Some(email) = row.opt_text("email")? {
            fields.insert("email".into(), Value::String(email));
        }
        account_id = row.opt_int("account_id")?;
    }
    fields.insert(
        "created_at".into(),
        Value::String(format_ms(row.int("created_at")?)),
    );
    fields.insert(
        "updated_at".into(),
        Value::String(format_ms(row.int("updated_at")?)),
    );
    Ok(StoredRecord {
        id: row.int("id")?,
        external_id: row.opt_text("external_id")?,
        account_id,
        fields,
    })
}

/// Split field values into the email column and the JSON document.
pub(crate) fn split(object: ObjectKind, fields: &Map<String, Value>) -> (Option<String>, Value) {
    let mut data = fields.clone();
    data.remove("created_at");
    data.remove("updated_at");
    let email = match object {
        ObjectKind::Contact => data
            .remove("email")
            .and_then(|v| v.as_str().map(str::to_string)),
        ObjectKind::Account => None,
    };
    (email, Value::Object(data))
}

/// The fields that list search looks in, per object.
const SEARCHED: &[(ObjectKind, &[&str])] = &[
    (
        ObjectKind::Contact,
        &["email", "first_name", "last_name", "company"],
    ),
    (ObjectKind::Account, &["name", "domain"]),
];

/// The lowercased text list search matches against, kept in its own column
/// so both engines search case-insensitively in every script (SQLite's
/// `lower()` only knows ASCII).
pub(crate) fn search_text(
    object: ObjectKind,
    external_id: Option<&str>,
    fields: &Map<String, Value>,
) -> String {
    let keys = SEARCHED
        .iter()
        .find(|(o, _)| *o == object)
        .map_or(&[][..], |(_, k)| *k);
    let mut parts: Vec<&str> = keys
        .iter()
        .filter_map(|k| fields.get(*k).and_then(Value::as_str))
        .collect();
    parts.extend(external_id);
    parts.join("\n").to_lowercase()
}

/// Read one record; `lock` holds it against concurrent writers until the
/// transaction ends (PostgreSQL; SQLite transactions already serialise).
pub async fn get_record(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    id: i64,
    lock: bool,
) -> Result<Option<StoredRecord>, StoreError> {
    let lock = if lock && c.engine() == Engine::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    c.fetch_optional(
        &format!(
            "{} WHERE workspace_id = $1 AND id = $2{lock}",
            select(object)
        ),
        params![ws, id],
    )
    .await?
    .map(|r| stored(object, &r))
    .transpose()
}

/// How to find a record other than by id.
#[derive(Debug, Clone)]
pub enum Lookup {
    Email(String),
    ExternalId(String),
}

pub async fn find_record(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    by: &Lookup,
) -> Result<Option<StoredRecord>, StoreError> {
    let (column, value) = match (by, object) {
        (Lookup::Email(e), ObjectKind::Contact) => ("email", e),
        (Lookup::Email(_), ObjectKind::Account) => return Ok(None),
        (Lookup::ExternalId(x), _) => ("external_id", x),
    };
    c.fetch_optional(
        &format!(
            "{} WHERE workspace_id = $1 AND {column} = $2",
            select(object)
        ),
        params![ws, value.as_str()],
    )
    .await?
    .map(|r| stored(object, &r))
    .transpose()
}

/// Identity columns of a record being written.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub external_id: Option<String>,
    pub account_id: Option<i64>,
}

pub async fn insert_record(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    identity: &Identity,
    fields: &Map<String, Value>,
    now: i64,
) -> Result<StoredRecord, StoreError> {
    let (email, data) = split(object, fields);
    let search = search_text(object, identity.external_id.as_deref(), fields);
    let row = match object {
        ObjectKind::Contact => {
            c.fetch_one(
                "INSERT INTO contacts (workspace_id, external_id, email, account_id, data, created_at, updated_at, search) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) RETURNING id, external_id, email, account_id, data, created_at, updated_at",
                params![ws, identity.external_id.clone(), email, identity.account_id, data, now, search.clone()],
            )
            .await?
        }
        ObjectKind::Account => {
            c.fetch_one(
                "INSERT INTO accounts (workspace_id, external_id, data, created_at, updated_at, search) VALUES ($1, $2, $3, $4, $4, $5) RETURNING id, external_id, data, created_at, updated_at",
                params![ws, identity.external_id.clone(), data, now, search.clone()],
            )
            .await?
        }
    };
    stored(object, &row)
}

/// Replace a record's identity columns and field values.
pub async fn update_record(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    id: i64,
    identity: &Identity,
    fields: &Map<String, Value>,
    now: i64,
) -> Result<(), StoreError> {
    let (email, data) = split(object, fields);
    let search = search_text(object, identity.external_id.as_deref(), fields);
    match object {
        ObjectKind::Contact => {
            c.execute(
                "UPDATE contacts SET external_id = $3, email = $4, account_id = $5, data = $6, updated_at = $7, search = $8 WHERE workspace_id = $1 AND id = $2",
                params![ws, id, identity.external_id.clone(), email, identity.account_id, data, now, search.clone()],
            )
            .await?
        }
        ObjectKind::Account => {
            c.execute(
                "UPDATE accounts SET external_id = $3, data = $4, updated_at = $5, search = $6 WHERE workspace_id = $1 AND id = $2",
                params![ws, id, identity.external_id.clone(), data, now, search.clone()],
            )
            .await?
        }
    };
    Ok(())
}

/// Delete a record; for an account its contacts are unlinked first.
/// Returns whether it existed and how many contacts were unlinked.
pub async fn delete_record(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    id: i64,
) -> Result<(bool, u64), StoreError> {
    let mut unlinked = 0;
    if object == ObjectKind::Contact {
        // Deleting a person erases what points at them: their ids (so later
        // events start a new profile) and their events.
        for sql in [
            "DELETE FROM identities WHERE workspace_id = $1 AND contact_id = $2",
            "DELETE FROM events WHERE workspace_id = $1 AND contact_id = $2",
            "DELETE FROM merges WHERE workspace_id = $1 AND winner_id = $2",
        ] {
            c.execute(sql, params![ws, id]).await?;
        }
    }
    if object == ObjectKind::Account {
        unlinked = c
            .execute(
                "UPDATE contacts SET account_id = NULL WHERE workspace_id = $1 AND account_id = $2",
                params![ws, id],
            )
            .await?;
    }
    let n = c
        .execute(
            &format!(
                "DELETE FROM {} WHERE workspace_id = $1 AND id = $2",
                table(object)
            ),
            params![ws, id],
        )
        .await?;
    Ok((n > 0, unlinked))
}

/// A page of records, searched and sorted.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Case-insensitive text found in the email, names or external id.
    pub search: Option<String>,
    /// A field key (already checked against the registry) or `id`.
    pub sort: String,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
    /// Only contacts of this account.
    pub account_id: Option<i64>,
    /// A boolean SQL expression over the table by its own name, compiled
    /// from the filter language with every value inline.
    pub condition: Option<String>,
}

fn sort_expr(engine: Engine, object: ObjectKind, key: &str) -> String {
    match (key, object) {
        ("id" | "created_at" | "updated_at" | "external_id", _)
        | ("email", ObjectKind::Contact) => key.to_string(),
        _ => json_value(engine, "data", key),
    }
}

/// The records of one page and the total that match.
pub async fn list_records(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    q: &ListQuery,
) -> Result<(Vec<StoredRecord>, i64), StoreError> {
    let engine = c.engine();
    let mut filter = String::from("workspace_id = $1");
    let mut p = params![ws];
    if let Some(needle) = q.search.as_deref().filter(|s| !s.trim().is_empty()) {
        p.push(Param::Text(like_pattern(needle.trim())));
        filter.push_str(&format!(" AND search LIKE ${} ESCAPE '\\'", p.len()));
    }
    if let (Some(account), ObjectKind::Contact) = (q.account_id, object) {
        p.push(Param::Int(account));
        filter.push_str(&format!(" AND account_id = ${}", p.len()));
    }
    if let Some(condition) = &q.condition {
        filter.push_str(&format!(" AND ({condition})"));
    }
    let total = c
        .fetch_one(
            &format!("SELECT COUNT(*) AS n FROM {} WHERE {filter}", table(object)),
            p.clone(),
        )
        .await?
        .int("n")?;
    let expr = sort_expr(engine, object, &q.sort);
    let dir = if q.descending { "DESC" } else { "ASC" };
    p.push(Param::Int(q.limit));
    p.push(Param::Int(q.offset));
    let n = p.len();
    // Records without a value sort last in both directions, on both engines.
    let sql = format!(
        "{} WHERE {filter} ORDER BY ({expr}) IS NULL, {expr} {dir}, id {dir} LIMIT ${} OFFSET ${n}",
        select(object),
        n - 1
    );
    let rows = c.fetch_all(&sql, p).await?;
    let records = rows
        .iter()
        .map(|r| stored(object, r))
        .collect::<Result<_, _>>()?;
    Ok((records, total))
}

/// Every stored value of one field, with the record's country (which reads
/// national phone numbers), for checking a change of type or options.
pub async fn field_values(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    key: &str,
) -> Result<Vec<(i64, Value, Option<String>)>, StoreError> {
    let engine = c.engine();
    let value = json_value(engine, "data", key);
    let country = json_text(engine, "data", "country");
    let sql = match engine {
        // `->` keeps the JSON text (json_extract would turn true into 1).
        Engine::Sqlite => format!(
            "SELECT id, data -> '$.{key}' AS value, {country} AS country FROM {} WHERE workspace_id = $1 AND {value} IS NOT NULL ORDER BY id",
            table(object)
        ),
        Engine::Postgres => format!(
            "SELECT id, {value} AS value, {country} AS country FROM {} WHERE workspace_id = $1 AND {value} IS NOT NULL ORDER BY id",
            table(object)
        ),
    };
    c.fetch_all(&sql, params![ws])
        .await?
        .iter()
        .map(|r| Ok((r.int("id")?, r.json("value")?, r.opt_text("country")?)))
        .collect()
}

/// Store converted values of one field, or remove them (`Value::Null`).
pub async fn set_field_values(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    key: &str,
    values: &[(i64, Value)],
) -> Result<(), StoreError> {
    let engine = c.engine();
    let table = table(object);
    for (id, value) in values {
        let sql = match (engine, value.is_null()) {
            (Engine::Sqlite, true) => format!(
                "UPDATE {table} SET data = json_remove(data, '$.{key}') WHERE workspace_id = $1 AND id = $2"
            ),
            (Engine::Sqlite, false) => format!(
                "UPDATE {table} SET data = json_set(data, '$.{key}', json($3)) WHERE workspace_id = $1 AND id = $2"
            ),
            (Engine::Postgres, true) => format!(
                "UPDATE {table} SET data = data - '{key}' WHERE workspace_id = $1 AND id = $2"
            ),
            (Engine::Postgres, false) => format!(
                "UPDATE {table} SET data = jsonb_set(data, '{{{key}}}', $3) WHERE workspace_id = $1 AND id = $2"
            ),
        };
        let mut p = params![ws, *id];
        if !value.is_null() {
            p.push(Param::Json(value.clone()));
        }
        c.execute(&sql, p).await?;
    }
    Ok(())
}

/// Remove a field's values from every record (the field is being deleted).
pub async fn remove_field_values(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
    key: &str,
) -> Result<u64, StoreError> {
    let sql = match c.engine() {
        Engine::Sqlite => format!(
            "UPDATE {t} SET data = json_remove(data, '$.{key}') WHERE workspace_id = $1 AND json_extract(data, '$.{key}') IS NOT NULL",
            t = table(object)
        ),
        Engine::Postgres => format!(
            "UPDATE {t} SET data = data - '{key}' WHERE workspace_id = $1 AND data ? '{key}'",
            t = table(object)
        ),
    };
    c.execute(&sql, params![ws]).await
}

/// How many records exist per object, for the workspace overview.
pub async fn count_records(
    mut c: Conn<'_>,
    ws: i64,
    object: ObjectKind,
) -> Result<i64, StoreError> {
    c.fetch_one(
        &format!(
            "SELECT COUNT(*) AS n FROM {} WHERE workspace_id = $1",
            table(object)
        ),
        params![ws],
    )
    .await?
    .int("n")
}
