//! The home page: where a newcomer lands after signing in. It shows what
//! the workspace holds, the latest broadcasts and their results, and the
//! next steps, each a link into the part that does it.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use pitcrew_app::campaign::broadcast;
use pitcrew_app::record::{self, ListParams};
use pitcrew_app::{admin, audience};
use pitcrew_core::campaign::BroadcastStatus;
use pitcrew_core::record::ObjectKind;
use serde_json::json;

use super::view::{Page, PageMeta, Viewer};
use crate::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/", get(home))
}

/// How many records of a kind the workspace holds.
async fn total(s: &AppState, v: &Viewer, object: ObjectKind) -> Result<i64, pitcrew_app::AppError> {
    let params = ListParams {
        limit: Some(1),
        ..ListParams::default()
    };
    Ok(record::list_records(&s.db, &v.actor, object, params)
        .await?
        .1)
}

async fn home(State(s): State<AppState>, v: Viewer) -> Page {
    // Greet the member by name when they gave one.
    let greeting = admin::list_members(&s.db, &v.actor)
        .await?
        .into_iter()
        .find(|m| Some(m.user_id) == v.actor.user_id && !m.name.trim().is_empty())
        .map_or_else(|| v.actor.label.clone(), |m| m.name);
    let people = total(&s, &v, ObjectKind::Contact).await?;
    let accounts = total(&s, &v, ObjectKind::Account).await?;
    let segments = audience::list_segments(&s.db, &v.actor).await?;
    let mut broadcasts = broadcast::list_broadcasts(&s.db, &v.actor, None).await?;
    broadcasts.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
    let mut recent = Vec::new();
    for b in broadcasts.iter().take(5) {
        let stats = if matches!(
            b.status,
            BroadcastStatus::Sending | BroadcastStatus::Sent | BroadcastStatus::Paused
        ) {
            Some(broadcast::stats(&s.db, &v.actor, b.id).await?)
        } else {
            None
        };
        recent.push(json!({"broadcast": b, "stats": stats}));
    }
    v.page(
        PageMeta {
            title: "Home",
            section: "home",
        },
        "home.html",
        json!({
            "greeting": greeting,
            "people": people,
            "accounts": accounts,
            "segments": segments.len(),
            "broadcasts": broadcasts.len(),
            "recent": recent,
        }),
    )
}
