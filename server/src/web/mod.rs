//! Everything HTTP at the router level: the routes (pages, server
//! functions, the sign-in link, forward auth for reverse proxies, health,
//! the dev outbox), the metrics listener, the cross-site
//! guard, cache rules, compression, security headers and static files.
//! Cookies and the client IP that server functions read are in
//! `app/src/web/`.

pub mod assets;
mod caching;
pub mod form_errors;
pub mod forward_auth;
mod forwarding;
mod guard;
mod headers;
mod health;
mod language;
mod link;
pub mod metrics;
mod outbox;
mod passkeys;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use app::api::passkey_paths as paths;
use app::web::AppState;
use app::{App, shell};

use crate::config::Config;
use crate::db;
use assets::Assets;

/// The whole application as one router, layers included.
pub fn router(
    config: &Config,
    state: AppState,
    form_errors: form_errors::FormErrorKey,
    pool: sqlx::AnyPool,
    backend: db::Backend,
    assets: Arc<Assets>,
    drain: Arc<crate::shutdown::Drain>,
) -> Router {
    let routes = generate_route_list(App);
    let app_fn = {
        let (options, assets) = (state.leptos_options.clone(), assets.clone());
        move || shell(options.clone(), assets.urls())
    };
    let not_found = leptos_axum::render_app_async_with_context(
        {
            let state = state.clone();
            move || leptos::prelude::provide_context(state.clone())
        },
        app_fn.clone(),
    );
    let mut router = Router::new()
        // Alive: the process answers. Ready: it can also serve sign-ins.
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", {
            let drain = drain.clone();
            get(move || health::readyz(pool.clone(), backend, drain.clone()))
        })
        .route(language::LANGUAGE_PATH, get(language::choose))
        .route(app::auth::LINK_PATH, get(link::open_link))
        .route(app::auth::REPORT_PATH, get(link::open_report_link))
        .route(link::APPROVAL_PATH, get(link::approval_status))
        .route(paths::SIGN_IN_OPTIONS, post(passkeys::sign_in_options))
        .route(paths::SIGN_IN, post(passkeys::sign_in))
        .route(paths::ADD_OPTIONS, post(passkeys::add_options))
        .route(paths::ADD, post(passkeys::add))
        .route(paths::CONFIRM_OPTIONS, post(passkeys::confirm_options))
        .route(paths::CONFIRM, post(passkeys::confirm))
        .merge(
            Router::new()
                .route(forward_auth::FORWARD_PATH, get(forward_auth::forward))
                .route(forward_auth::REQUEST_PATH, get(forward_auth::request))
                .with_state(Arc::new(forward_auth::ForwardAuth { app: state.clone(), assets: assets.clone() })),
        )
        .leptos_routes_with_context(&state, routes, || (), app_fn)
        .fallback({
            let assets = assets.clone();
            move |req: axum::extract::Request| {
                let (assets, not_found) = (assets.clone(), not_found.clone());
                async move {
                    if let Some(res) = assets.respond(req.method(), req.uri().path(), req.headers()) {
                        return res;
                    }
                    let mut res = not_found(req).await;
                    if res.status() == http::StatusCode::OK {
                        *res.status_mut() = http::StatusCode::NOT_FOUND;
                    }
                    res
                }
            }
        })
        // Pages and server-function answers, compressed on the fly. Safe
        // from BREACH-style guessing because no response compressed here
        // holds a secret next to text an attacker chooses (docs/architecture.md,
        // "Compression and caching"); the outbox, which would, is added
        // after this.
        .layer(
            CompressionLayer::new().br(true).gzip(true).compress_when(
                SizeAbove::new(1024)
                    .and(NotForContentType::GRPC)
                    .and(NotForContentType::IMAGES)
                    .and(NotForContentType::SSE)
                    .and(|_: http::StatusCode, _: http::Version, _: &http::HeaderMap, ext: &http::Extensions| {
                        ext.get::<assets::AssetResponse>().is_none()
                    }),
            ),
        );
    if config.outbox_enabled() {
        router = router.merge(
            Router::new()
                .route(
                    "/dev/outbox",
                    get(move |axum::extract::State(state): axum::extract::State<AppState>| {
                        outbox::outbox_html(state, assets.urls().stylesheet)
                    }),
                )
                .route("/dev/outbox.json", get(outbox::outbox_json))
                .route_layer(axum::middleware::from_fn(outbox::direct_only)),
        );
    }
    let form_targets = headers::form_targets(&state.return_rules);
    let headers = Arc::new(headers::Policy {
        form_targets,
        hsts: config.server.public_url.starts_with("https://"),
        live_reload: std::env::var_os("LEPTOS_WATCH").is_some(),
    });
    let origin = guard::AllowedOrigin(Arc::from(config.server.public_url.as_str()));
    if config.server.proxies.nets.is_empty() {
        router = router.layer(axum::middleware::from_fn_with_state(
            forwarding::Warned::default(),
            forwarding::warn_once_about_untrusted_forwarding,
        ));
    }
    router = router
        .layer(axum::middleware::from_fn(caching::default_cache_control))
        .layer(axum::middleware::from_fn_with_state(form_errors, form_errors::sign_and_check))
        .layer(axum::middleware::from_fn_with_state(origin, guard::cross_site_guard))
        .layer(DefaultBodyLimit::max(config.server.max_body_bytes))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(config.server.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(headers, headers::security_headers));
    // Outside every refusal (the cross-site guard, the body limit), so
    // those are counted too. Layers on a router run after routing, so the
    // route's template is known here.
    if config.metrics.addr.is_some() {
        router = router.layer(axum::middleware::from_fn(metrics::track));
    }
    router
        // Every request, until its response is ready: what a shutdown waits
        // for (and counts in its log if the grace runs out).
        .layer(axum::middleware::from_fn_with_state(drain, crate::shutdown::count_in_flight))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &http::Request<_>| {
                    // Method and path only: query strings can carry data we don't log.
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                // One line per request, at INFO, when the response is ready.
                .on_request(())
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(state)
}
