//! One delivery that routes each message by its channel.

use std::sync::Arc;

use crate::auth::{Delivery, DeliveryFuture, Message};
use crate::domain::Channel;

/// Sends each message the way its channel needs.
pub struct ByChannel {
    pub email: Arc<dyn Delivery>,
    pub sms: Arc<dyn Delivery>,
}

impl Delivery for ByChannel {
    fn send<'a>(&'a self, message: &'a Message) -> DeliveryFuture<'a> {
        match message.channel() {
            Channel::Email => self.email.send(message),
            Channel::Sms => self.sms.send(message),
        }
    }

    fn describe(&self) -> &'static str {
        "email and SMS by channel"
    }
}
