//! People: the searchable, sortable list of contacts with the columns a
//! marketer picks, each contact's page (fields, account, consent, segments
//! with why, timeline), and the forms to add and edit a contact.

mod contact;
mod form;
pub(super) mod listing;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use pitcrew_app::record;
use pitcrew_core::admin::Action;
use pitcrew_core::record::{FieldDef, ObjectKind};
use serde_json::json;

use super::view::{Page, PageMeta, Viewer, render};
use crate::AppState;
use listing::{ListQuery, cell, person_name};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/people", get(list))
        .route("/people/new", get(form::new_form).post(form::create))
        .route("/people/{id}", get(contact::show))
        .route("/people/{id}/edit", get(form::edit_form).post(form::update))
        .route("/people/{id}/timeline", get(contact::timeline))
        .route("/people/{id}/why/{segment}", get(contact::why))
}

/// Columns shown until the marketer picks their own.
const DEFAULT_COLUMNS: &[&str] = &["email", "company", "lifecycle_stage", "country"];

/// Whether htmx asked for the list alone, not for a page it restores from history.
pub(super) fn wants_fragment(v: &Viewer, headers: &HeaderMap) -> bool {
    v.htmx && !headers.contains_key("hx-history-restore-request")
}

/// A list of `part` (`people`, `accounts`): the whole page, or only its
/// results (`part/results.html`) when htmx asks, as a search as you type.
pub(super) fn list_page(
    v: &Viewer,
    headers: &HeaderMap,
    meta: PageMeta<'_>,
    part: &str,
    mut ctx: serde_json::Value,
) -> Page {
    let results = format!("{part}/results.html");
    if wants_fragment(v, headers) {
        return v.fragment(&results, ctx);
    }
    ctx["results"] = json!(render(&results, &ctx)?);
    v.page(meta, &format!("{part}/list.html"), ctx)
}

async fn list(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Page {
    let fields = record::list_fields(&s.db, &v.actor, Some(ObjectKind::Contact)).await?;
    let mut query = ListQuery::parse(raw.as_deref());
    query.keep_known_sort(&fields);
    query.cols.retain(|c| fields.iter().any(|f| &f.key == c));
    let columns: Vec<&FieldDef> = if query.cols.is_empty() {
        DEFAULT_COLUMNS
            .iter()
            .filter_map(|k| fields.iter().find(|f| f.key == *k))
            .collect()
    } else {
        query
            .cols
            .iter()
            .filter_map(|k| fields.iter().find(|f| &f.key == k))
            .collect()
    };
    let params = query.params();
    let (records, total, _, _) =
        record::list_records(&s.db, &v.actor, ObjectKind::Contact, params).await?;
    let rows: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": person_name(r.id, &r.fields),
                "cells": columns.iter().map(|f| cell(f, r.fields.get(&f.key))).collect::<Vec<_>>(),
            })
        })
        .collect();
    let chosen: Vec<&str> = columns.iter().map(|f| f.key.as_str()).collect();
    let ctx = json!({
        "q": query.q,
        "sort": query.sort,
        "columns": columns.iter().map(|f| query.column("/people", f)).collect::<Vec<_>>(),
        "choices": fields.iter().map(|f| json!({
            "key": f.key,
            "label": f.label,
            "chosen": chosen.contains(&f.key.as_str()),
        })).collect::<Vec<_>>(),
        "rows": rows,
        "pager": query.pager("/people", rows.len(), total),
        "can_write": v.can(Action::WriteRecords),
    });
    let meta = PageMeta {
        title: "People",
        section: "people",
    };
    list_page(&v, &headers, meta, "people", ctx)
}
