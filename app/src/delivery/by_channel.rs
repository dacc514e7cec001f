//! One delivery that routes each message by its channel.

use std::sync::Arc;

use crate::auth::{Delivery, DeliveryError, DeliveryFuture, DeliveryTurn, Message};
use crate::domain::Channel;

/// Sends each message the way its channel needs.
pub struct ByChannel {
    pub email: Arc<dyn Delivery>,
    pub sms: Arc<dyn Delivery>,
}

impl ByChannel {
    fn by(&self, channel: Channel) -> &dyn Delivery {
        match channel {
            Channel::Email => &*self.email,
            Channel::Sms => &*self.sms,
        }
    }
}

impl Delivery for ByChannel {
    fn turn(&self, channel: Channel) -> Result<DeliveryTurn, DeliveryError> {
        self.by(channel).turn(channel)
    }

    fn send<'a>(&'a self, turn: DeliveryTurn, message: &'a Message) -> DeliveryFuture<'a> {
        self.by(message.channel()).send(turn, message)
    }

    fn describe(&self) -> &'static str {
        "email and SMS by channel"
    }
}
