//! The Passcode server: configuration, database, router and start-up. `main`
//! is a thin wrapper so integration tests can start the same server in
//! process on a random port.

pub mod assets;
mod caching;
pub mod config;
pub mod db;
mod form_errors;
mod guard;
mod jobs;
mod link;
mod outbox;

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use http::{HeaderName, HeaderValue};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use app::auth::{AuthService, ByChannel, Clock, CodeHasher, Delivery, HttpSms, Outbox, SmsApi, Smtp, Store};
use app::state::AppState;
use app::{App, shell};
use assets::Assets;
use config::{Config, EmailConfig, Mode, Secret, SmsProvider};

/// The server secret: from configuration, or (development only) generated
/// once and kept in the data directory so codes survive restarts.
fn load_or_create_secret(config: &Config) -> anyhow::Result<Secret> {
    if let Some(secret) = &config.secret {
        return Ok(secret.clone());
    }
    anyhow::ensure!(config.mode == Mode::Development, "PASSCODE_SECRET is required in production");
    let path = config.data_dir.join("secret.key");
    if !path.exists() {
        use rand::RngCore;
        std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let hex = app::domain::to_hex(&bytes);
        write_private(&path, &hex).with_context(|| format!("writing {}", path.display()))?;
        tracing::info!(path = %path.display(), "generated a development server secret");
    }
    let hex = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Secret::parse_hex("PASSCODE_SECRET", &hex)
        .with_context(|| format!("{} is not a valid secret; delete it to generate a new one", path.display()))
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// Email by SMTP or the dev outbox, SMS by a provider's API or the outbox.
fn delivery(config: &Config, store: &Store, clock: &Arc<dyn Clock>) -> anyhow::Result<Arc<dyn Delivery>> {
    let outbox: Arc<dyn Delivery> = Arc::new(Outbox::new(store.clone(), clock.clone()));
    if config.mode == Mode::Development && !config.server.addr.ip().is_loopback() {
        tracing::warn!(
            addr = %config.server.addr,
            "!!! DEVELOPMENT RULES ON A LISTENER OTHER MACHINES CAN REACH: every code is readable at /dev/outbox !!!"
        );
    }
    if config.outbox_enabled() && config.mode == Mode::Production {
        tracing::warn!(
            "!!! THE DEVELOPMENT OUTBOX IS ON IN PRODUCTION: every code is readable at /dev/outbox by anyone !!!"
        );
    }
    let email: Arc<dyn Delivery> = match &config.email {
        EmailConfig::Outbox => outbox.clone(),
        EmailConfig::Smtp(smtp) => Arc::new(Smtp::new(smtp.clone(), &config.auth.public_host)?),
    };
    let sms_api = match &config.sms.provider {
        // With SMS off nothing reaches delivery (the core refuses phone
        // numbers first); the outbox is only a safe place to point at.
        SmsProvider::Off | SmsProvider::Outbox => None,
        SmsProvider::Twilio { base_url, account_sid, auth_token, sender } => Some((
            SmsApi::Twilio {
                account_sid: account_sid.clone(),
                auth_token: auth_token.expose_str(),
                sender: sender.clone(),
            },
            base_url.clone(),
        )),
        SmsProvider::Webhook { url, token } => Some((SmsApi::Webhook { token: token.expose_str() }, url.clone())),
    };
    let sms: Arc<dyn Delivery> = match sms_api {
        None => outbox,
        Some((api, url)) => Arc::new(HttpSms::new(api, url, config.sms.timeout, config.sms.max_in_flight)?),
    };
    tracing::info!(email = email.describe(), sms = sms.describe(), "delivery configured");
    Ok(Arc::new(ByChannel { email, sms }))
}

/// A built server: the router to serve, and the pool to close on shutdown.
pub struct Server {
    pub router: Router,
    pub pool: sqlx::AnyPool,
}

/// Builds everything the server needs and applies migrations. `clock` is
/// injectable so tests can move time instead of sleeping.
pub async fn build(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
    tracing::info!(mode = ?config.mode, because = %config.mode_reason, "rules in force");
    let secret = load_or_create_secret(config)?;
    let (pool, backend) = db::pool(&config.database.url, &config.database.pool)?;
    db::migrate(&pool, backend).await?;
    let store = Store::new(pool.clone());
    jobs::spawn_purge(store.clone(), clock.clone(), &config.database);
    let delivery = delivery(config, &store, &clock)?;
    let hashing = &config.hashing;
    let hasher = CodeHasher::new(secret.expose(), hashing.argon2, hashing.concurrency, hashing.max_wait)?;
    let auth = Arc::new(AuthService::new(store, hasher, delivery, clock, config.auth.clone(), secret.expose()));
    let state = AppState {
        auth,
        leptos_options: config.server.leptos.clone(),
        trusted_proxies: Arc::from(config.server.trusted_proxies.clone()),
    };
    let form_errors = form_errors::FormErrorKey::derive(secret.expose());
    let assets = Arc::new(load_assets(config)?);
    let router = router(config, state, form_errors, pool.clone(), backend, assets);
    Ok(Server { router, pool })
}

/// The built front end. Pages work without it, so development only warns;
/// a deployment without it is a mistake worth stopping for.
fn load_assets(config: &Config) -> anyhow::Result<Assets> {
    let leptos = &config.server.leptos;
    let assets = Assets::load(&*leptos.site_root, &leptos.site_pkg_dir, config.mode == Mode::Development);
    let root = assets.root().display().to_string();
    let missing = assets.missing();
    if !missing.is_empty() {
        let missing = missing.join(", ");
        anyhow::ensure!(
            config.mode == Mode::Development,
            "the front end is not built: {root} has no {missing}. Build it with \
             `cargo leptos build --release --precompress` and set LEPTOS_SITE_ROOT to its site directory"
        );
        tracing::warn!(site = %root, %missing, "the front end is not built: pages will have no style or script (`cargo leptos build`)");
    } else if !assets.precompressed() && config.mode == Mode::Production {
        tracing::warn!(
            site = %root,
            "the front end has no precompressed copies and goes out uncompressed (about 100 KB of wasm on every first \
             visit): build it with `cargo leptos build --release --precompress`"
        );
    }
    Ok(assets)
}

async fn readyz(pool: sqlx::AnyPool, backend: db::Backend) -> axum::response::Response {
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

fn router(
    config: &Config,
    state: AppState,
    form_errors: form_errors::FormErrorKey,
    pool: sqlx::AnyPool,
    backend: db::Backend,
    assets: Arc<Assets>,
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
        .route("/readyz", get(move || readyz(pool.clone(), backend)))
        .route(app::auth::LINK_PATH, get(link::open_link))
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
        // holds a secret next to text an attacker chooses (README,
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
    let origin = guard::AllowedOrigin(Arc::from(config.server.public_url.as_str()));
    router
        .layer(axum::middleware::from_fn(caching::default_cache_control))
        .layer(axum::middleware::from_fn_with_state(form_errors, form_errors::sign_and_check))
        .layer(axum::middleware::from_fn_with_state(origin, guard::cross_site_guard))
        .layer(DefaultBodyLimit::max(config.server.max_body_bytes))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(config.server.max_body_bytes))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        // Same-origin navigations keep the full Referer: the no-JavaScript
        // form flow redirects back to it. (The sign-in link sends none.)
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
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

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
