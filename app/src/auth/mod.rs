//! The auth core: the rules of signing in, in plain Rust with no Leptos, no
//! SQL and no network code. It talks to the outside world through small
//! traits (`Store` and its parts, `Delivery`, `Clock`), which the adapters
//! in `crate::store` and `crate::delivery` implement. Server functions call
//! [`AuthService`]; tests call it directly.
//!
//! Where things are decided: codes hashed in `code_hash`, limits in
//! `limits` (counted through `LimitStore`; per client IP in `ip_limits`), sending in `send`, checking in
//! `verify`, sessions in `sessions`, passkeys in `passkeys`,
//! a session proving itself again by code in `confirm`, approving a sign-in
//! from another device in `approve`, "Not you?" in `report`, the
//! authenticator-app step in `authenticator` (its codes in `totp`, its
//! secrets sealed in `sealing`), message words in `message`, who may
//! open which app behind forward auth in `access` and `forward`.

mod access;
mod approve;
mod audit;
mod authenticator;
mod clock;
mod code_hash;
mod confirm;
mod delivery;
mod error;
mod forward;
mod ip_limits;
mod keys;
mod limits;
pub mod message;
mod passkeys;
mod refusals;
mod report;
pub mod sealing;
mod send;
mod service;
mod session_cache;
mod sessions;
mod store;
pub mod totp;
pub mod user_agent;
mod verify;

pub use access::{AccessDecision, AccessRule, AccessRules, Allowed, DecidedBy, DefaultAccess, HostPattern, Who};
pub use approve::{APPROVAL_PICKUP_MS, Approval};
pub use audit::{AuditEvent, AuditKind, AuditNote};
pub use authenticator::{
    AuthenticatorSetup, AuthenticatorStatus, MAX_SECOND_STEP_ANSWERS, SECOND_STEP_MS, SecondStepInfo, SignInOutcome,
};
pub use clock::{Clock, ManualClock, SystemClock, millis};
pub use code_hash::{CodeHasher, HashError, HashParams, HashSlot};
pub use delivery::{Delivery, DeliveryError, DeliveryFuture, DeliveryTurn, Message};
pub use error::AuthError;
pub use forward::{Access, REFUSAL_AUDIT_WINDOW_MS, Visitor};
pub use ip_limits::{Bucket, IpLimits, SHARED_RETRY, SharedBuckets, SharedBucketsError, TakeFuture};
pub use keys::{constant_time_eq, keyed_hash};
pub use limits::{
    IpLimiter, Limit, Limits, SendRow, client_key, failure_key, ip_key, key_text, network_key, send_rows,
};
pub use message::{civil_date, clock_time_utc, escape_html};
pub use passkeys::{
    CEREMONY_MS, CeremonyStart, PasskeySummary, REFUSED_COUNTER_WENT_BACK, REFUSED_REPLAYED, REFUSED_UNVERIFIED,
};
pub use report::{REPORT_WINDOW_MS, ReportInfo, Reported};
pub use service::{
    AuthService, AuthSettings, LINK_PATH, LinkInfo, NewSession, Pending, REPORT_PATH, RequestContext, RequestedFrom,
    SignedInUser,
};
pub use session_cache::SessionCache;
pub use sessions::{AccountOverview, ActivityEntry, ENDED_ELSEWHERE, REPLACED, Revoked, SessionSummary};
pub use store::{
    AuditStore, AuthenticatorRow, AuthenticatorStore, CeremonyKind, CeremonyRow, ChallengeKey, ChallengeState,
    ChallengeStore, ChallengeView, LimitStore, NewCeremony, NewChallenge, NewReport, NewSecondStep, NewSessionRow,
    PasskeyRow, PasskeyStore, ReportOf, Reservation, ReservedAttempt, SecondFactorSpend, SecondStepRow, SendClaim,
    SessionRow, SessionStore, SignInEvent, SignedIn, Store, StoreError, StoreResult, UserRow,
};
pub use user_agent::{describe_user_agent, where_from};
