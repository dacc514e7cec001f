//! The ways a message leaves: SMTP (`smtp`), an SMS provider's HTTP API
//! (`sms`) and, in development, the outbox (`outbox`). Each implements the
//! core's `Delivery`; `retry` holds what the real ones share.

mod by_channel;
mod outbox;
mod retry;
mod sms;
mod smtp;

pub use by_channel::ByChannel;
pub use outbox::{Outbox, OutboxEntry};
pub use retry::{Failure, InFlight};
pub use sms::{HttpSms, SmsApi, TwilioSender};
pub use smtp::{Smtp, SmtpSecurity, SmtpSettings};
