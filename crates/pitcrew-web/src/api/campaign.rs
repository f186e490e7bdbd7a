//! The campaign API: subscription topics and each person's consent,
//! suppression lists, sending setup (providers, rules, DKIM), templates,
//! broadcasts with their checks, approval, sending controls and results, and
//! the upload of bounce and complaint reports. One submodule per area; the
//! use cases live in `pitcrew_app::campaign`.

mod broadcast;
mod consent;
mod sending;
mod suppression;
mod template;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    let r = consent::routes(r);
    let r = suppression::routes(r);
    let r = sending::routes(r);
    let r = template::routes(r);
    broadcast::routes(r)
}
