//! Sending a code: parse the destination, check every limit, hash a fresh
//! code, store it (retiring older ones) and deliver it. Delivery that fails
//! retires the challenge, so no usable code exists that nobody received.

use crate::domain::{ChallengeId, Channel, Code, EmailAddress, Identifier, LinkToken, ReportToken};

use super::approve::Approval;
use super::audit::AuditKind;
use super::clock::millis;
use super::error::AuthError;
use super::limits::{Limit, client_key, key_text, network_key, send_rows};
use super::message;
use super::service::{AuthService, IpAction, Pending, RequestContext, secs_until};
use super::store::{NewChallenge, SendClaim, Store};
use super::user_agent::describe_user_agent;

impl<S: Store> AuthService<S> {
    /// Parses the identifier, stores a hashed code (retiring any older one)
    /// and delivers it. If delivery fails the challenge is retired, so no
    /// usable code exists that nobody received.
    pub async fn request_code(&self, raw_identifier: &str, ctx: &RequestContext) -> Result<Pending, AuthError> {
        let to = Identifier::parse(raw_identifier, self.settings.default_region.as_deref())?;
        self.send_new_code(to, ctx).await
    }

    /// The same as `request_code`, for a person switching to email on the
    /// code page: only an email address will do.
    pub async fn request_email_code(&self, raw_email: &str, ctx: &RequestContext) -> Result<Pending, AuthError> {
        let to = Identifier::Email(EmailAddress::parse(raw_email)?);
        self.send_new_code(to, ctx).await
    }

    /// A fresh code for the destination of an earlier challenge of this
    /// browser's, whatever state that challenge is in.
    pub async fn resend_code(&self, previous: &ChallengeId, ctx: &RequestContext) -> Result<Pending, AuthError> {
        let view = self.store.challenge_view(previous).await?.ok_or(AuthError::NoChallenge)?;
        let to = view.identifier()?;
        self.send_new_code(to, ctx).await
    }

    /// Every way a code is asked for ends here: the client's per-IP
    /// allowance first, then `send_to`, counted for the metrics.
    pub(super) async fn send_new_code(&self, to: Identifier, ctx: &RequestContext) -> Result<Pending, AuthError> {
        let channel = to.channel();
        crate::metrics::code_requested(channel);
        let result = match self.ip_limited(IpAction::Send, ctx).await {
            Ok(()) => self.send_to(to, ctx).await,
            Err(refused) => Err(refused),
        };
        crate::metrics::code_refused_if(channel, &result);
        result
    }

    async fn send_to(&self, to: Identifier, ctx: &RequestContext) -> Result<Pending, AuthError> {
        if to.channel() == Channel::Sms && !self.settings.sms_enabled {
            return Err(AuthError::SmsNotOffered);
        }
        if let (Identifier::Phone(phone), Some(allowed)) = (&to, &self.settings.sms_countries)
            && !allowed.contains(&phone.country_code())
        {
            return Err(AuthError::SmsCountryNotAllowed);
        }
        let l = &self.settings.limits;
        let now = self.clock.now_ms();
        let dest = to.as_ref();
        // A turn at hashing and a turn to deliver first: a "busy" answer
        // then spends nothing (no send allowance, no SMS budget or share).
        let slot = self.hasher.slot().await?;
        let turn = self.delivery.turn(to.channel()).map_err(|source| {
            tracing::warn!(channel = to.channel().as_str(), "too many sends in flight; asking to try again");
            AuthError::Delivery { masked: to.masked(), channel: to.channel(), source }
        })?;
        // Counted per client IP before anything else, so that a client over
        // its share spends nobody's allowance but its own.
        if to.channel() == Channel::Sms
            && let Some(ip) = ctx.client_ip
            && !self
                .store
                .claim_sms_for_requester(
                    &key_text(client_key(ip)),
                    &key_text(network_key(ip)),
                    now,
                    l.sms_per_ip_per_hour,
                    l.sms_per_ip_per_hour.saturating_mul(i64::from(l.ip_network_factor)),
                )
                .await?
        {
            tracing::info!(
                ip = ?ctx.client_ip,
                "client IP or its network over its hourly SMS share (PASSCODE_SMS_PER_IP_PER_HOUR)"
            );
            self.audit(AuditKind::RateLimited.note().to(dest).masked(to.masked()).detail("SMS per IP"), ctx).await;
            return Err(AuthError::SmsUnavailable { limit: Limit::SmsPerIp });
        }
        let lane = self.device_lane(ctx, dest).unwrap_or_default();
        // An address whose owner said "that wasn't me" in the last day: codes
        // only to browsers that signed in to it before (`withheld` below),
        // and half as many. Halved for those browsers only: a stranger's
        // requests are counted as ever, so no refusal comes sooner than it
        // would have and tells them.
        let allowance = to.allowance_key();
        let reported = self.store.is_reported(&allowance, now).await?;
        let halved = (reported && !lane.is_empty()).then(|| l.halved());
        let l = halved.as_ref().unwrap_or(l);
        let rows = send_rows(&allowance, &lane, ctx.client_ip, l);
        let next_send_at = match self.store.claim_send(&rows, now).await? {
            SendClaim::Granted { next_send_at } => next_send_at,
            SendClaim::Refused { retry_at, limit } => {
                let retry_after_secs = secs_until(now, retry_at);
                let detail = format!("send; retry after {retry_after_secs} s");
                self.audit(AuditKind::RateLimited.note().to(dest).masked(to.masked()).detail(detail), ctx).await;
                return Err(AuthError::SendLimited { retry_after_secs, limit });
            }
        };
        // A stranger asking for a reported address gets the answer anyone
        // gets (the code page, the same limits, a code that is hashed and
        // stored and checked like any other) and no message: nothing tells
        // them the address was reported, and the owner's inbox stays quiet.
        // (The hourly SMS budget is claimed either way: a spent budget
        // answers the same for a reported address as for any other.)
        let withheld = reported && lane.is_empty();
        if to.channel() == Channel::Sms && !self.store.claim_sms(now, l.sms_per_hour).await? {
            tracing::warn!("hourly SMS budget spent (PASSCODE_SMS_PER_HOUR); refusing SMS until the hour is over");
            self.audit(AuditKind::RateLimited.note().to(dest).masked(to.masked()).detail("global SMS budget"), ctx)
                .await;
            return Err(AuthError::SmsUnavailable { limit: Limit::SmsBudget });
        }
        let code = Code::generate(&self.settings.code);
        let code_hash = self.hasher.hash(slot, &code).await?;
        let challenge = ChallengeId::generate();
        let now = self.clock.now_ms();
        let expires_at = now + millis(self.settings.code_ttl);
        // Email carries a sign-in link too; a text message stays short.
        // Every message carries a "Not you?" link.
        let link = (to.channel() == Channel::Email && !withheld).then(LinkToken::generate);
        let report = (!withheld).then(ReportToken::generate);
        let requested_from = ctx.user_agent.as_deref().and_then(describe_user_agent);
        let requested_ip = ctx.client_ip.map(|ip| ip.to_string());
        let pair_number = pair_number();
        self.store
            .replace_challenge(&NewChallenge {
                id: &challenge,
                to: &to,
                code_hash: &code_hash,
                now,
                expires_at,
                max_attempts: i64::from(self.settings.max_attempts),
                link_hash: link.as_ref().map(LinkToken::hash).as_deref(),
                lane: &lane,
                requested_from: requested_from.as_deref(),
                requested_ip: requested_ip.as_deref(),
                pair_number,
                report_hash: report.as_ref().map(ReportToken::hash).as_deref(),
                allowance: &allowance,
                locale: crate::i18n::tag(ctx.locale),
                retires: ctx.pending.as_ref(),
            })
            .await?;
        let pending = Pending {
            challenge,
            masked_destination: to.masked(),
            channel: to.channel(),
            expires_at,
            next_send_at,
            // A withheld email's code page looks like any other: the same
            // number and the same waiting.
            pair_number: (to.channel() == Channel::Email).then_some(pair_number as u8),
            approval: if to.channel() == Channel::Email { Approval::Waiting } else { Approval::Closed },
        };
        let Some(report) = report else {
            tracing::info!(to = %to.masked(), ip = ?ctx.client_ip, "code withheld: address reported, browser unknown");
            crate::metrics::code_withheld(to.channel());
            self.audit(AuditKind::CodeWithheld.note().to(dest).masked(to.masked()).detail(to.channel().as_str()), ctx)
                .await;
            return Ok(pending);
        };
        let links = message::Links { sign_in: link.as_ref(), report: &report };
        let message = message::compose(&self.settings, &to, &code, &links, now, expires_at, ctx);
        let started = std::time::Instant::now();
        let sent = self.delivery.send(turn, &message).await;
        crate::metrics::delivery(to.channel(), sent.is_ok(), started.elapsed());
        if let Err(source) = sent {
            let source = source.masking(dest, &to.masked());
            self.store.retire_challenge(&pending.challenge, self.clock.now_ms()).await?;
            self.audit(AuditKind::DeliveryFailed.note().to(dest).masked(to.masked()).detail(source.to_string()), ctx)
                .await;
            return Err(AuthError::Delivery { masked: to.masked(), channel: to.channel(), source });
        }
        tracing::info!(to = %to.masked(), channel = to.channel().as_str(), ip = ?ctx.client_ip, "code sent");
        crate::metrics::code_sent(to.channel());
        self.audit(AuditKind::CodeSent.note().to(dest).masked(to.masked()).detail(to.channel().as_str()), ctx).await;
        Ok(pending)
    }

    /// Where this browser's last code went (open or not: after a burned or
    /// expired code the page still offers to send a new one there), and
    /// when this browser may ask for another.
    pub async fn pending(&self, challenge: &ChallengeId, ctx: &RequestContext) -> Result<Option<Pending>, AuthError> {
        let view = self.store.challenge_view(challenge).await?;
        Ok(match view {
            Some(v) => {
                let to = v.identifier()?;
                let rows = send_rows(&to.allowance_key(), &v.lane, ctx.client_ip, &self.settings.limits);
                let next_send_at = self.store.next_send_time(&rows, self.clock.now_ms()).await?;
                // Only a sign-in with an email link can be approved elsewhere.
                let pair_number =
                    (v.channel == Channel::Email && (10..=99).contains(&v.pair_number)).then_some(v.pair_number as u8);
                Some(Pending {
                    challenge: challenge.clone(),
                    masked_destination: to.masked(),
                    channel: v.channel,
                    expires_at: v.expires_at,
                    next_send_at,
                    pair_number,
                    // A text message's sign-in can't be approved elsewhere:
                    // no second read of its row.
                    approval: match pair_number {
                        Some(_) => self.approval(challenge).await?,
                        None => Approval::Closed,
                    },
                })
            }
            None => None,
        })
    }
}

/// The two-digit number (10 to 99) that the waiting code page and the
/// link's page on another device both show.
fn pair_number() -> i64 {
    use rand::Rng;
    rand::rng().random_range(10..=99)
}
