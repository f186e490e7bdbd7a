//! Routes of this area.

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r
}
