//! Health: alive (`/healthz`, the process answers) and ready (`/readyz`, it
//! can also serve sign-ins: the database answers and is migrated, and the
//! instance is not shutting down).

use std::sync::Arc;

use crate::db;
use crate::shutdown::Drain;

pub async fn readyz(pool: sqlx::AnyPool, backend: db::Backend, drain: Arc<Drain>) -> axum::response::Response {
    use axum::response::IntoResponse;
    // First, and without asking the database: a proxy must see it at once.
    if drain.is_draining() {
        return (http::StatusCode::SERVICE_UNAVAILABLE, "not ready: shutting down").into_response();
    }
    match db::ready(&pool, backend).await {
        Ok(()) => (http::StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!("not ready: {e:#}");
            (http::StatusCode::SERVICE_UNAVAILABLE, "not ready: the database is unreachable or not migrated")
                .into_response()
        }
    }
}
