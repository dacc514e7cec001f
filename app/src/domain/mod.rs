//! Parsed, trusted values. Raw form input becomes one of these at the edge;
//! nothing downstream re-checks strings.

mod code;
mod device;
mod identifier;
mod token;

pub use code::{Code, CodeAlphabet, CodeError, CodePolicy};
pub use device::{DeviceCookie, DeviceEntry};
pub use identifier::{Channel, EmailAddress, Identifier, IdentifierError, PhoneNumber};
pub use token::{ChallengeId, LinkToken, SessionToken, TokenError, random_id, to_hex};
