//! The Passcode server: configuration, database, router and start-up. `main`
//! is a thin wrapper so integration tests can start the same server in
//! process on a random port.

pub mod config;
pub mod db;
mod jobs;
pub mod shutdown;
pub mod web;

pub use jobs::Jobs;

use std::sync::Arc;

use anyhow::Context;
use axum::Router;

use app::auth::{AuthService, Clock, CodeHasher, Delivery};
use app::delivery::{ByChannel, HttpSms, Outbox, SmsApi, Smtp};
use app::domain::ReturnRules;
use app::store::SqlStore;
use app::web::{AppState, SessionCookie};
use config::{Config, EmailConfig, Mode, Secret, SmsProvider};
use web::assets::Assets;

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

/// The key that seals authenticator-app secrets: from configuration, or
/// (development only) generated once in the data directory. `None`:
/// production without `PASSCODE_TOTP_KEY`, where apps can't be turned on.
fn load_or_create_totp_keys(config: &Config) -> anyhow::Result<Option<app::auth::sealing::SealingKeys>> {
    use app::auth::sealing::SealingKeys;
    if let Some(keys) = &config.totp_keys {
        return Ok(Some(SealingKeys::new(&keys.current, &keys.old)));
    }
    if config.mode != Mode::Development {
        tracing::info!("authenticator apps are off: set PASSCODE_TOTP_KEY (`openssl rand -hex 32`) to offer them");
        return Ok(None);
    }
    let path = config.data_dir.join("totp.key");
    if !path.exists() {
        use rand::RngCore;
        std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        write_private(&path, &app::domain::to_hex(&bytes)).with_context(|| format!("writing {}", path.display()))?;
        tracing::info!(path = %path.display(), "generated a development key for authenticator-app secrets");
    }
    let hex = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let key = config::parse_totp_key("PASSCODE_TOTP_KEY", &hex)
        .with_context(|| format!("{} is not a valid key; delete it to generate a new one", path.display()))?;
    Ok(Some(SealingKeys::new(&key, &[])))
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
fn delivery(config: &Config, outbox: &Outbox) -> anyhow::Result<Arc<dyn Delivery>> {
    let outbox: Arc<dyn Delivery> = Arc::new(outbox.clone());
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

/// A built server: the router to serve, what its shutdown needs (the drain
/// state, the background jobs, the pool to close), and the auth service
/// (for tests that drive its background work). Dropping `jobs` without
/// stopping them leaves them running.
pub struct Server {
    pub router: Router,
    pub drain: Arc<shutdown::Drain>,
    pub jobs: Jobs,
    /// The metrics listener's router (`PASSCODE_METRICS_ADDR` set), to be
    /// served on its own address.
    pub metrics: Option<Router>,
    pub pool: sqlx::AnyPool,
    pub auth: Arc<app::web::Auth>,
}

/// Builds everything the server needs and applies migrations. `clock` is
/// injectable so tests can move time instead of sleeping.
pub async fn build(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
    tracing::info!(mode = ?config.mode, because = %config.mode_reason, "rules in force");
    let secret = load_or_create_secret(config)?;
    // Before anything records: without a recorder every metric is a no-op.
    let metrics = match config.metrics.addr {
        Some(_) => {
            let handle = web::metrics::recorder().context("installing the metrics recorder")?;
            web::metrics::spawn_upkeep(handle.clone());
            Some(web::metrics::router(handle))
        }
        None => None,
    };
    let (pool, backend) = db::pool(&config.database.url, &config.database.pool)?;
    db::migrate(&pool, backend).await?;
    let store = SqlStore::new(pool.clone());
    let mut jobs = Jobs::default();
    jobs::spawn_purge(&mut jobs, store.clone(), clock.clone(), &config.database, config.auth.session_idle);
    if metrics.is_some() {
        jobs::spawn_metrics_sampler(&mut jobs, pool.clone(), store.clone(), clock.clone(), config.auth.session_idle);
    }
    let outbox = Outbox::new(pool.clone(), clock.clone());
    let delivery = delivery(config, &outbox)?;
    let hashing = &config.hashing;
    let hasher = CodeHasher::new(secret.expose(), hashing.argon2, hashing.concurrency, hashing.max_wait)?;
    let mut auth = AuthService::new(store, hasher, delivery, clock, config.auth.clone(), secret.expose());
    if let Some(keys) = load_or_create_totp_keys(config)? {
        auth = auth.with_sealing_keys(keys);
    }
    if let Some(redis) = &config.redis {
        let buckets = app::store::RedisBuckets::new(&redis.url, &redis.prefix, redis.timeout)?;
        tracing::info!(
            buckets = %app::auth::SharedBuckets::describe(&buckets),
            "per-IP limits shared by every instance through Redis (each instance counts on its own while Redis \
             can't be reached)"
        );
        auth = auth.with_shared_ip_limits(Arc::new(buckets));
    }
    let auth = Arc::new(auth);
    jobs::spawn_refusal_summaries(&mut jobs, auth.clone());
    // With several instances on Postgres, a session ended on one must stop
    // opening apps on every other at once: they hear of it by NOTIFY.
    if backend == db::Backend::Postgres && !config.auth.forward_auth_cache.is_zero() {
        jobs::spawn_session_listener(&mut jobs, config.database.url.clone(), auth.clone());
    }
    log_client_addresses(config);
    // A real provider only: texts to the development outbox cost nothing.
    let paid_texts = matches!(config.sms.provider, SmsProvider::Twilio { .. } | SmsProvider::Webhook { .. });
    if paid_texts && config.auth.sms_countries.is_none() {
        tracing::warn!(
            "text messages may go to every country: anyone can make you pay for texts to premium-rate ranges \
             abroad (SMS pumping). Set PASSCODE_SMS_COUNTRIES to the calling codes you serve, or \
             PASSCODE_DEFAULT_REGION to serve one country"
        );
    }
    let state = AppState {
        auth: auth.clone(),
        leptos_options: config.server.leptos.clone(),
        proxies: Arc::new(config.server.proxies.clone()),
        outbox: config.outbox_enabled().then_some(outbox),
        session_cookie: SessionCookie { domain: config.server.cookie_domain.clone() },
        return_rules: ReturnRules {
            public_host: config.auth.public_host.to_ascii_lowercase(),
            cookie_domain: config.server.cookie_domain.clone(),
            loopback_http: config.mode == Mode::Development,
        },
    };
    let form_errors = web::form_errors::FormErrorKey::derive(secret.expose());
    let assets = Arc::new(load_assets(config)?);
    let drain = Arc::new(shutdown::Drain::default());
    let router = web::router(config, state, form_errors, pool.clone(), backend, assets, drain.clone());
    Ok(Server { router, drain, jobs, metrics, pool, auth })
}

/// Says at start-up where client addresses come from, so that a proxy
/// whose header is not the one we read shows in the first lines of the log.
fn log_client_addresses(config: &Config) {
    let proxies = &config.server.proxies;
    if proxies.nets.is_empty() {
        tracing::info!(
            "client addresses: the TCP peer; no forwarding header is read (behind a reverse proxy, set \
             PASSCODE_TRUSTED_PROXIES and PASSCODE_FORWARDED_HEADER)"
        );
    } else {
        let nets: Vec<String> = proxies.nets.iter().map(ToString::to_string).collect();
        tracing::info!(
            header = %proxies.header,
            trusted_proxies = %nets.join(","),
            "client addresses: the right-most address in {} that is not a trusted proxy, read only from \
             requests whose peer is one (PASSCODE_FORWARDED_HEADER names the header your proxy writes)",
            proxies.header
        );
    }
    match &config.server.cookie_domain {
        Some(domain) => tracing::info!(
            %domain,
            "session cookie: {} for {domain} and every host under it (PASSCODE_COOKIE_DOMAIN)",
            app::web::DOMAIN_SESSION_COOKIE
        ),
        None => tracing::debug!("session cookie: {} for this host only", app::web::SESSION_COOKIE),
    }
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
