//! One integration-test binary: each test starts the real server in process
//! on a random port, against a fresh SQLite file.

mod approve;
mod assets;
mod authenticator;
mod config_extremes;
mod email;
mod forward_auth;
mod hardening;
mod headers;
mod helpers;
mod limits;
mod locales;
mod metrics;
mod operations;
mod pages;
mod passkeys;
mod proxies;
mod sessions;
mod shared_limits;
mod shutdown;
mod sign_in;
mod sms;
mod two_instances;
