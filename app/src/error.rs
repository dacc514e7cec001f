//! The one error type that crosses the wire. Every variant is safe to show:
//! none carries a code, a hash, a token or a hint about whether an identifier
//! is known. Server-side causes are logged where they are mapped, not here.

use serde::{Deserialize, Serialize};
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The email address or phone number could not be understood; the text
    /// says what to fix.
    #[error("{0}")]
    InvalidIdentifier(String),
    /// The code is malformed (length or characters); the text says what to fix.
    #[error("{0}")]
    InvalidCode(String),
    #[error("That code isn't right. You have {attempts_left} {} left.", if *attempts_left == 1 { "try" } else { "tries" })]
    WrongCode { attempts_left: u32 },
    #[error("Too many wrong codes. This code no longer works: send a new one.")]
    TooManyAttempts,
    #[error("This code has expired. Send a new one.")]
    CodeExpired,
    #[error("This code has already been used. Send a new one if you need to sign in again.")]
    CodeUsed,
    #[error("A newer code was sent. Use the code from the latest message.")]
    CodeSuperseded,
    #[error("There is no sign-in in progress in this browser. Start again with your email address or phone number.")]
    NoChallenge,
    #[error("We couldn't send a code to {destination}. Please try again.")]
    DeliveryFailed { destination: String },
    #[error("You are not signed in.")]
    NotSignedIn,
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Unavailable,
    /// Transport-level failures (network down, malformed request).
    #[error("The request could not be completed. Check your connection and try again.")]
    Request(String),
}

impl AppError {
    /// Status for clients that are not plain browser form posts.
    pub fn status(&self) -> u16 {
        match self {
            AppError::InvalidIdentifier(_) | AppError::InvalidCode(_) => 422,
            AppError::WrongCode { .. } => 401,
            AppError::TooManyAttempts
            | AppError::CodeExpired
            | AppError::CodeUsed
            | AppError::CodeSuperseded => 410,
            AppError::NoChallenge => 404,
            AppError::NotSignedIn => 401,
            AppError::DeliveryFailed { .. } => 502,
            AppError::Unavailable => 503,
            AppError::Request(_) => 400,
        }
    }

    /// Which form field the message belongs next to.
    pub fn field(&self) -> Field {
        match self {
            AppError::InvalidIdentifier(_) | AppError::DeliveryFailed { .. } => Field::Identifier,
            AppError::InvalidCode(_)
            | AppError::WrongCode { .. }
            | AppError::TooManyAttempts
            | AppError::CodeExpired
            | AppError::CodeUsed
            | AppError::CodeSuperseded => Field::Code,
            _ => Field::Form,
        }
    }

    /// Whether asking for a new code is the way forward.
    pub fn needs_new_code(&self) -> bool {
        matches!(
            self,
            AppError::TooManyAttempts
                | AppError::CodeExpired
                | AppError::CodeUsed
                | AppError::CodeSuperseded
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Identifier,
    Code,
    Form,
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // Deserialisation failures of our own arguments (a missing field in a
        // hand-made POST) and network errors land here.
        AppError::Request(value.to_string())
    }
}
