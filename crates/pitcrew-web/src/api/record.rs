//! `/api/v1/fields`, `/api/v1/contacts` and `/api/v1/accounts`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pitcrew_app::now_ms;
use pitcrew_app::record::{self as uc, FieldPatch, ListParams, NewField, RecordInput, RecordPatch};
use pitcrew_core::record::{Account, Contact, FieldDef, ObjectKind};
use pitcrew_store::record::{Lookup, StoredRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(list_fields, create_field))
        .routes(routes!(get_field, update_field, delete_field))
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(lookup_contact))
        .routes(routes!(get_contact, update_contact, delete_contact))
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(lookup_account))
        .routes(routes!(get_account, update_account, delete_account))
        .routes(routes!(account_contacts))
}

type ApiResult<T> = Result<T, ApiError>;

// ---- fields -------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct FieldFilter {
    /// `contact` or `account`; both when absent.
    object: Option<ObjectKind>,
}

/// The data model standard: every field of contacts and accounts.
#[utoipa::path(get, path = "/api/v1/fields", tag = "fields", params(FieldFilter),
    responses((status = 200, body = Vec<FieldDef>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_fields(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(f): ApiQuery<FieldFilter>,
) -> ApiResult<Json<Vec<FieldDef>>> {
    Ok(Json(uc::list_fields(&s.db, &a, f.object).await?))
}

/// Add a custom field (admins). Values live in the record's JSON, never as new columns.
#[utoipa::path(post, path = "/api/v1/fields", tag = "fields", request_body = NewField,
    responses((status = 201, body = FieldDef), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_field(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(new): ApiJson<NewField>,
) -> ApiResult<(StatusCode, Json<FieldDef>)> {
    Ok((
        StatusCode::CREATED,
        Json(uc::create_field(&s.db, &a, new, now_ms()).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/fields/{object}/{key}", tag = "fields",
    params(("object" = ObjectKind, Path), ("key" = String, Path)),
    responses((status = 200, body = FieldDef), (status = 404, body = ErrorBody)))]
async fn get_field(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath((object, key)): ApiPath<(ObjectKind, String)>,
) -> ApiResult<Json<FieldDef>> {
    Ok(Json(uc::get_field(&s.db, &a, object, &key).await?))
}

/// Change a field's label, type, rules or options. A change of type or options
/// is refused, with the records that block it, when stored values would not convert.
#[utoipa::path(patch, path = "/api/v1/fields/{object}/{key}", tag = "fields", request_body = FieldPatch,
    params(("object" = ObjectKind, Path), ("key" = String, Path)),
    responses((status = 200, body = FieldDef), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_field(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath((object, key)): ApiPath<(ObjectKind, String)>,
    ApiJson(patch): ApiJson<FieldPatch>,
) -> ApiResult<Json<FieldDef>> {
    Ok(Json(
        uc::update_field(&s.db, &a, object, &key, patch, now_ms()).await?,
    ))
}

/// Delete a custom field and its values.
#[utoipa::path(delete, path = "/api/v1/fields/{object}/{key}", tag = "fields",
    params(("object" = ObjectKind, Path), ("key" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_field(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath((object, key)): ApiPath<(ObjectKind, String)>,
) -> ApiResult<StatusCode> {
    uc::delete_field(&s.db, &a, object, &key, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- contacts -----------------------------------------------------------

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ContactPage {
    items: Vec<Contact>,
    /// How many contacts match, across all pages.
    total: i64,
    limit: i64,
    offset: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AccountPage {
    items: Vec<Account>,
    total: i64,
    limit: i64,
    offset: i64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct LookupParams {
    email: Option<String>,
    external_id: Option<String>,
}

fn lookup(p: LookupParams) -> ApiResult<Lookup> {
    match (p.email, p.external_id) {
        (Some(e), None) => Ok(Lookup::Email(e)),
        (None, Some(x)) => Ok(Lookup::ExternalId(x)),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "lookup_invalid",
            "give exactly one of `email` or `external_id`",
        )),
    }
}

async fn list(
    s: &AppState,
    a: &pitcrew_app::Actor,
    object: ObjectKind,
    p: ListParams,
) -> ApiResult<(Vec<StoredRecord>, i64, i64, i64)> {
    Ok(uc::list_records(&s.db, a, object, p).await?)
}

/// Contacts, searched, sorted and paged.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ListParams),
    responses((status = 200, body = ContactPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_contacts(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<ContactPage>> {
    let (items, total, limit, offset) = list(&s, &a, ObjectKind::Contact, p).await?;
    Ok(Json(ContactPage {
        items: items.into_iter().map(StoredRecord::into_contact).collect(),
        total,
        limit,
        offset,
    }))
}

/// Create a contact. Every value is checked and normalised against the data model.
#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = RecordInput,
    responses((status = 201, body = Contact), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_contact(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(input): ApiJson<RecordInput>,
) -> ApiResult<(StatusCode, Json<Contact>)> {
    let r = uc::create_record(&s.db, &a, ObjectKind::Contact, input, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(r.into_contact())))
}

/// Find a contact by email or external id.
#[utoipa::path(get, path = "/api/v1/contacts/lookup", tag = "contacts", params(LookupParams),
    responses((status = 200, body = Contact), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn lookup_contact(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<LookupParams>,
) -> ApiResult<Json<Contact>> {
    Ok(Json(
        uc::find_record(&s.db, &a, ObjectKind::Contact, lookup(p)?)
            .await?
            .into_contact(),
    ))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = Contact), (status = 404, body = ErrorBody)))]
async fn get_contact(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Contact>> {
    Ok(Json(
        uc::get_record(&s.db, &a, ObjectKind::Contact, id)
            .await?
            .into_contact(),
    ))
}

/// Change some of a contact's values; `null` clears one.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)), request_body = RecordPatch,
    responses((status = 200, body = Contact), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_contact(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(p): ApiJson<RecordPatch>,
) -> ApiResult<Json<Contact>> {
    Ok(Json(
        uc::update_record(&s.db, &a, ObjectKind::Contact, id, p, now_ms())
            .await?
            .into_contact(),
    ))
}

#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_contact(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    uc::delete_record(&s.db, &a, ObjectKind::Contact, id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- accounts -----------------------------------------------------------

/// An account being created.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AccountInput {
    external_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    fields: Map<String, Value>,
}

/// Changes to an account; `null` clears a value.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AccountPatch {
    #[serde(default, deserialize_with = "uc::double_option")]
    #[schema(value_type = Option<String>)]
    external_id: Option<Option<String>>,
    #[serde(default)]
    #[schema(value_type = Object)]
    fields: Map<String, Value>,
}

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(ListParams),
    responses((status = 200, body = AccountPage), (status = 400, body = ErrorBody)))]
async fn list_accounts(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<AccountPage>> {
    let (items, total, limit, offset) = list(&s, &a, ObjectKind::Account, p).await?;
    Ok(Json(AccountPage {
        items: items.into_iter().map(StoredRecord::into_account).collect(),
        total,
        limit,
        offset,
    }))
}

#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = AccountInput,
    responses((status = 201, body = Account), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_account(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiJson(input): ApiJson<AccountInput>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    let input = RecordInput {
        external_id: input.external_id,
        account_id: None,
        fields: input.fields,
    };
    let r = uc::create_record(&s.db, &a, ObjectKind::Account, input, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(r.into_account())))
}

/// Find an account by external id.
#[utoipa::path(get, path = "/api/v1/accounts/lookup", tag = "accounts", params(LookupParams),
    responses((status = 200, body = Account), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn lookup_account(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiQuery(p): ApiQuery<LookupParams>,
) -> ApiResult<Json<Account>> {
    let by = lookup(p)?;
    if let Lookup::Email(_) = by {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "lookup_invalid",
            "accounts are looked up by `external_id`",
        ));
    }
    Ok(Json(
        uc::find_record(&s.db, &a, ObjectKind::Account, by)
            .await?
            .into_account(),
    ))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 200, body = Account), (status = 404, body = ErrorBody)))]
async fn get_account(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Account>> {
    Ok(Json(
        uc::get_record(&s.db, &a, ObjectKind::Account, id)
            .await?
            .into_account(),
    ))
}

#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path)), request_body = AccountPatch,
    responses((status = 200, body = Account), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_account(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(p): ApiJson<AccountPatch>,
) -> ApiResult<Json<Account>> {
    let patch = RecordPatch {
        external_id: p.external_id,
        account_id: None,
        fields: p.fields,
    };
    Ok(Json(
        uc::update_record(&s.db, &a, ObjectKind::Account, id, patch, now_ms())
            .await?
            .into_account(),
    ))
}

/// Delete an account; its contacts stay and are unlinked.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_account(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    uc::delete_record(&s.db, &a, ObjectKind::Account, id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The contacts of an account.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/contacts", tag = "accounts", params(("id" = i64, Path), ListParams),
    responses((status = 200, body = ContactPage), (status = 404, body = ErrorBody)))]
async fn account_contacts(
    State(s): State<AppState>,
    Caller(a): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(mut p): ApiQuery<ListParams>,
) -> ApiResult<Json<ContactPage>> {
    uc::get_record(&s.db, &a, ObjectKind::Account, id).await?;
    p.account_id = Some(id);
    let (items, total, limit, offset) = list(&s, &a, ObjectKind::Contact, p).await?;
    Ok(Json(ContactPage {
        items: items.into_iter().map(StoredRecord::into_contact).collect(),
        total,
        limit,
        offset,
    }))
}
