use std::sync::Arc;

use anyhow::Context;

use crate::domain::{ChallengeId, Channel, Code, CodePolicy, Identifier, SessionToken};

use super::clock::Clock;
use super::code_hash::CodeHasher;
use super::delivery::{Delivery, Message};
use super::error::AuthError;
use super::store::{ChallengeState, Store};

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub code: CodePolicy,
    pub code_ttl_ms: i64,
    pub max_attempts: u32,
    pub session_ttl_ms: i64,
    /// ISO 3166 region for phone numbers typed without a country code.
    pub default_region: Option<String>,
    /// Shown in messages ("Your Passcode sign-in code").
    pub product_name: String,
    /// Host of the public URL, for the SMS origin-bound code line (WebOTP).
    pub public_host: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            code: CodePolicy::default(),
            code_ttl_ms: 10 * 60 * 1000,
            max_attempts: 5,
            session_ttl_ms: 30 * 24 * 60 * 60 * 1000,
            default_region: None,
            product_name: "Passcode".into(),
            public_host: "localhost".into(),
        }
    }
}

/// Facts about the request that the core records or limits on. Built by the
/// web layer; the core never looks at headers.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub client_ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

/// A code is on its way; the browser keeps `challenge` in a cookie.
#[derive(Debug, Clone)]
pub struct Pending {
    pub challenge: ChallengeId,
    pub masked_destination: String,
    pub channel: Channel,
    pub expires_at: i64,
}

#[derive(Debug)]
pub struct NewSession {
    pub token: SessionToken,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct SignedInUser {
    pub id: String,
    pub identifier: Identifier,
    pub since: i64,
}

pub struct AuthService {
    store: Store,
    hasher: CodeHasher,
    delivery: Arc<dyn Delivery>,
    clock: Arc<dyn Clock>,
    settings: AuthSettings,
}

impl AuthService {
    pub fn new(
        store: Store,
        hasher: CodeHasher,
        delivery: Arc<dyn Delivery>,
        clock: Arc<dyn Clock>,
        settings: AuthSettings,
    ) -> Self {
        Self { store, hasher, delivery, clock, settings }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Parses the identifier, stores a hashed code (retiring any older one)
    /// and delivers it. If delivery fails the challenge is retired, so no
    /// usable code exists that nobody received.
    pub async fn request_code(&self, raw_identifier: &str, ctx: &RequestContext) -> Result<Pending, AuthError> {
        let to = Identifier::parse(raw_identifier, self.settings.default_region.as_deref())?;
        self.send_new_code(to, ctx).await
    }

    /// A fresh code for the destination of an earlier challenge of this
    /// browser's, whatever state that challenge is in.
    pub async fn resend_code(&self, previous: &ChallengeId, ctx: &RequestContext) -> Result<Pending, AuthError> {
        let view = self.store.challenge_view(previous).await?.ok_or(AuthError::NoChallenge)?;
        let to = Identifier::from_stored(view.channel, &view.destination).context("stored destination no longer parses")?;
        self.send_new_code(to, ctx).await
    }

    async fn send_new_code(&self, to: Identifier, ctx: &RequestContext) -> Result<Pending, AuthError> {
        let code = Code::generate(&self.settings.code);
        let code_hash = self.hasher.hash(&code).await?;
        let challenge = ChallengeId::generate();
        let now = self.clock.now_ms();
        let expires_at = now + self.settings.code_ttl_ms;
        self.store
            .replace_challenge(&challenge, &to, &code_hash, now, expires_at, i64::from(self.settings.max_attempts))
            .await?;
        let message = self.compose(&to, &code);
        if let Err(source) = self.delivery.send(&message).await {
            self.store.retire_challenge(&challenge, self.clock.now_ms()).await?;
            return Err(AuthError::Delivery { masked: to.masked(), source });
        }
        tracing::info!(to = %to.masked(), channel = to.channel().as_str(), ip = ?ctx.client_ip, "code sent");
        Ok(Pending { challenge, masked_destination: to.masked(), channel: to.channel(), expires_at })
    }

    fn compose(&self, to: &Identifier, code: &Code) -> Message {
        let minutes = (self.settings.code_ttl_ms / 60_000).max(1);
        let name = &self.settings.product_name;
        let c = code.expose();
        let body = match to.channel() {
            Channel::Email => format!(
                "Your {name} sign-in code is:\n\n    {c}\n\nIt expires in {minutes} minutes and works once.\n\n\
                 If you didn't ask for this, ignore this email: nobody can sign in without the code."
            ),
            // The last line is the origin-bound one-time-code format, so
            // browsers and phones can offer to fill the code in (WebOTP).
            Channel::Sms => format!(
                "Your {name} sign-in code is {c}. It expires in {minutes} minutes.\n\n@{host} #{c}",
                host = self.settings.public_host
            ),
        };
        Message { to: to.clone(), subject: "Your sign-in code".into(), body, code: code.clone() }
    }

    /// Where this browser's last code went (open or not: after a burned or
    /// expired code the page still offers to send a new one there).
    pub async fn pending(&self, challenge: &ChallengeId) -> Result<Option<Pending>, AuthError> {
        let view = self.store.challenge_view(challenge).await?;
        Ok(match view {
            Some(v) => {
                let to = Identifier::from_stored(v.channel, &v.destination).context("stored destination no longer parses")?;
                Some(Pending {
                    challenge: challenge.clone(),
                    masked_destination: to.masked(),
                    channel: v.channel,
                    expires_at: v.expires_at,
                })
            }
            None => None,
        })
    }

    pub async fn verify_code(
        &self,
        challenge: &ChallengeId,
        raw_code: &str,
        ctx: &RequestContext,
    ) -> Result<NewSession, AuthError> {
        let code = Code::parse(raw_code, &self.settings.code)?;
        let now = self.clock.now_ms();
        let Some(reserved) = self.store.reserve_attempt(challenge, now).await? else {
            return Err(match self.store.challenge_state(challenge, now).await? {
                ChallengeState::Missing => AuthError::NoChallenge,
                ChallengeState::Used => AuthError::Used,
                ChallengeState::Superseded => AuthError::Superseded,
                ChallengeState::Expired | ChallengeState::Open => AuthError::Expired,
                ChallengeState::Exhausted => AuthError::TooManyAttempts,
            });
        };
        if !self.hasher.verify(&code, Some(&reserved.code_hash)).await? {
            let left = (reserved.max_attempts - reserved.attempts).max(0) as u32;
            tracing::info!(ip = ?ctx.client_ip, attempts_left = left, "wrong code");
            return Err(if left == 0 { AuthError::TooManyAttempts } else { AuthError::WrongCode { attempts_left: left } });
        }
        let token = SessionToken::generate();
        let now = self.clock.now_ms();
        let expires_at = now + self.settings.session_ttl_ms;
        let new_user_id = crate::domain::random_id();
        match self.store.consume_and_sign_in(challenge, &new_user_id, &token, now, expires_at).await? {
            Some(user_id) => {
                tracing::info!(user = %user_id, ip = ?ctx.client_ip, "signed in");
                Ok(NewSession { token, expires_at })
            }
            None => Err(AuthError::Used),
        }
    }

    pub async fn current_user(&self, token: &SessionToken) -> Result<Option<SignedInUser>, AuthError> {
        let Some(row) = self.store.session_user(token, self.clock.now_ms()).await? else { return Ok(None) };
        let identifier = Identifier::from_stored(row.channel, &row.identifier).context("stored identifier no longer parses")?;
        Ok(Some(SignedInUser { id: row.id, identifier, since: row.created_at }))
    }

    pub async fn sign_out(&self, token: &SessionToken) -> Result<(), AuthError> {
        if self.store.delete_session(token).await? {
            tracing::info!("signed out");
        }
        Ok(())
    }
}
