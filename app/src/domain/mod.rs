//! Parsed, trusted values and the words that cross the wire. Raw form input
//! becomes one of these at the edge; nothing downstream re-checks strings.
//!
//! `Channel`, `AppError` and the wire types compile into the browser's wasm
//! too, so pages and islands match on enums; the parsers (which need
//! `phonenumber`, a CSPRNG and hashing) are server-only.

mod channel;
mod error;
mod wire;

pub use channel::{Channel, UnknownChannel};
pub use error::{AppError, Field, human_wait};
pub use wire::{
    AccountView, ActivityView, AuthenticatorPageView, AuthenticatorSetupView, AuthenticatorView, ConfirmView, LinkView,
    Notice, PasskeyView, PendingView, ReportView, SecondStepView, SessionView, UserView,
};

#[cfg(feature = "ssr")]
mod code;
#[cfg(feature = "ssr")]
mod device;
#[cfg(feature = "ssr")]
mod identifier;
#[cfg(feature = "ssr")]
mod passkey;
#[cfg(feature = "ssr")]
mod return_to;
#[cfg(feature = "ssr")]
mod token;

#[cfg(feature = "ssr")]
pub use code::{Code, CodeAlphabet, CodeError, CodePolicy};
#[cfg(feature = "ssr")]
pub use device::{DeviceCookie, DeviceEntry};
#[cfg(feature = "ssr")]
pub use identifier::{EmailAddress, Identifier, IdentifierError, PhoneNumber};
#[cfg(feature = "ssr")]
pub use passkey::{PasskeyName, PasskeyNameError, aaguid_in_attestation, authenticator_name};
#[cfg(feature = "ssr")]
pub use return_to::{MAX_RETURN_LEN, RETURN_TO_CASES, ReturnRules, ReturnTo, is_loopback_host, is_under};
#[cfg(feature = "ssr")]
pub use token::{
    CeremonyToken, ChallengeId, LinkToken, ReportToken, SecondStepToken, SessionToken, TokenError, random_id, to_hex,
};
