//! Health: alive (`/healthz`, the process answers) and ready (`/readyz`, it
//! can also serve sign-ins: the database answers and is migrated).

use crate::db;

pub async fn readyz(pool: sqlx::AnyPool, backend: db::Backend) -> axum::response::Response {
    use axum::response::IntoResponse;
    match db::ready(&pool, backend).await {
        Ok(()) => (http::StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!("not ready: {e:#}");
            (http::StatusCode::SERVICE_UNAVAILABLE, "not ready: the database is unreachable or not migrated")
                .into_response()
        }
    }
}
