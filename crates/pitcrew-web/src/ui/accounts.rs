//! Accounts: the searchable, paged list of companies with how many people
//! each has, and each account's page with its fields and its people.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use pitcrew_app::AppError;
use pitcrew_app::record::{self, ListParams};
use pitcrew_core::admin::Action;
use pitcrew_core::record::{FieldDef, ObjectKind};
use serde_json::{Value, json};

use super::people::list_page;
use super::people::listing::{ListQuery, PAGE_SIZE, account_name, cell, person_name, shown};
use super::view::{Page, PageMeta, UiError, Viewer};
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list))
        .route("/accounts/{id}", get(show))
}

/// The columns of the account list, after the account's name.
const COLUMNS: &[&str] = &["domain", "industry", "country", "employees"];
/// The column that names each account and links to it.
const NAME: &str = "name";

/// How many people work at an account: one counting query per account
/// on the page (a page holds at most `PAGE_SIZE`).
async fn people_count(s: &AppState, v: &Viewer, account: i64) -> Result<i64, AppError> {
    let params = ListParams {
        limit: Some(1),
        account_id: Some(account),
        ..ListParams::default()
    };
    Ok(
        record::list_records(&s.db, &v.actor, ObjectKind::Contact, params)
            .await?
            .1,
    )
}

async fn list(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Page {
    let fields = record::list_fields(&s.db, &v.actor, Some(ObjectKind::Account)).await?;
    let mut query = ListQuery::parse(raw.as_deref());
    query.keep_known_sort(&fields);
    query.cols.clear();
    let field = |k: &str| fields.iter().find(|f| f.key == k);
    let columns: Vec<&FieldDef> = COLUMNS.iter().filter_map(|k| field(k)).collect();
    let params = query.params();
    let (records, total, _, _) =
        record::list_records(&s.db, &v.actor, ObjectKind::Account, params).await?;
    let mut rows = Vec::new();
    for r in &records {
        rows.push(json!({
            "id": r.id,
            "name": account_name(r.id, &r.fields),
            "cells": columns.iter().map(|f| cell(f, r.fields.get(&f.key))).collect::<Vec<_>>(),
            "people": people_count(&s, &v, r.id).await?,
        }));
    }
    let headings: Vec<Value> = field(NAME)
        .into_iter()
        .chain(columns.iter().copied())
        .map(|f| query.column("/accounts", f))
        .collect();
    let ctx = json!({
        "q": query.q,
        "sort": query.sort,
        "columns": headings,
        "rows": rows,
        "pager": query.pager("/accounts", rows.len(), total),
        "can_write": v.can(Action::WriteRecords),
    });
    let meta = PageMeta {
        title: "Accounts",
        section: "accounts",
    };
    list_page(&v, &headers, meta, "accounts", ctx)
}

async fn show(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Page {
    let id = id.parse::<i64>().map_err(|_| {
        UiError::App(AppError::not_found(
            "not_found",
            format!("`{id}` is not an account's number; open it from the list of accounts"),
        ))
    })?;
    let account = record::get_record(&s.db, &v.actor, ObjectKind::Account, id).await?;
    let fields = record::list_fields(&s.db, &v.actor, Some(ObjectKind::Account)).await?;
    let values: Vec<Value> = fields
        .iter()
        .filter_map(|f| {
            let text = shown(f, account.fields.get(&f.key));
            (!text.is_empty())
                .then(|| json!({"label": f.label, "value": text, "custom": !f.builtin}))
        })
        .collect();
    let query = ListQuery {
        sort: None,
        cols: Vec::new(),
        q: String::new(),
        ..ListQuery::parse(raw.as_deref())
    };
    let params = ListParams {
        limit: Some(PAGE_SIZE),
        offset: Some(query.offset),
        sort: Some("last_name".into()),
        account_id: Some(id),
        ..ListParams::default()
    };
    let (people, total, _, _) =
        record::list_records(&s.db, &v.actor, ObjectKind::Contact, params).await?;
    let contact_fields = record::list_fields(&s.db, &v.actor, Some(ObjectKind::Contact)).await?;
    let contact_field = |k: &str| contact_fields.iter().find(|f| f.key == k);
    let people: Vec<Value> = people
        .iter()
        .map(|p| {
            let cell = |k: &str| {
                contact_field(k)
                    .map(|f| shown(f, p.fields.get(k)))
                    .unwrap_or_default()
            };
            json!({
                "id": p.id,
                "name": person_name(p.id, &p.fields),
                "email": cell("email"),
                "job_title": cell("job_title"),
                "stage": cell("lifecycle_stage"),
            })
        })
        .collect();
    let base = format!("/accounts/{id}");
    let name = account_name(id, &account.fields);
    v.page(
        PageMeta {
            title: &name,
            section: "accounts",
        },
        "accounts/show.html",
        json!({
            "id": id,
            "name": name,
            "external_id": account.external_id,
            "values": values,
            "people": people,
            "pager": query.pager(&base, people.len(), total),
        }),
    )
}
