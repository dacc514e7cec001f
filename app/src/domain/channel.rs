//! How a code travels. Compiled into the browser's wasm too, so pages match
//! on the enum rather than on strings.

use serde::{Deserialize, Serialize};

/// Email or text message; serialised as `"email"` or `"sms"`, the same text
/// the database stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            _ => None,
        }
    }
}

/// A stored channel that is neither `email` nor `sms`.
#[derive(Debug, thiserror::Error)]
#[error("unknown channel {0:?}")]
pub struct UnknownChannel(String);

/// How a stored row's `channel` column becomes a `Channel`.
impl TryFrom<String> for Channel {
    type Error = UnknownChannel;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Channel::parse(&raw).ok_or(UnknownChannel(raw))
    }
}
