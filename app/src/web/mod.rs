//! The HTTP side of server functions and pages: the state they get, the
//! request facts they read (client IP, User-Agent), our cookies, and the
//! one mapping from a failure to a status. The router-level pieces (cross-
//! site guard, link handler, outbox pages, health) are in `server/src/web/`.

pub mod client_ip;
pub mod cookies;
pub mod locale;
pub mod state;

pub use client_ip::{ForwardedHeader, TrustedProxies};
pub use cookies::*;
pub use locale::{LANGUAGE_COOKIE, locale, locale_in};
pub use state::*;
