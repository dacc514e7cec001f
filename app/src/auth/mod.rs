//! The auth core: plain Rust, no Leptos. Server functions call
//! [`AuthService`]; tests call it directly.

mod clock;
mod code_hash;
mod delivery;
mod email;
mod error;
mod keys;
mod limits;
mod service;
mod sms;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use code_hash::{CodeHasher, HashError, HashParams, HashSlot};
pub use delivery::{ByChannel, Delivery, DeliveryError, Message, Outbox, OutboxEntry};
pub use email::{Smtp, SmtpSecurity, SmtpSettings, clock_time_utc, escape_html};
pub use error::AuthError;
pub use keys::{constant_time_eq, keyed_hash};
pub use limits::{IpLimiter, Limits, ip_key};
pub use service::{
    AuthService, AuthSettings, LINK_PATH, LinkInfo, NewSession, Pending, RequestContext, RequestedFrom, SignedInUser,
};
pub use sms::{HttpSms, SmsApi, TwilioSender};
pub use store::{AuditEvent, AuditKind, Store};
