//! An authenticator app as a second step, and its backup codes. A person
//! turns it on from the account page (after a fresh proof): the page shows
//! a QR code and the secret in text, and the app's first code turns it on
//! and shows ten backup codes once. From then on a code, link or approval
//! sign-in (the first step) opens no session: it leaves a half-finished
//! sign-in, named by an HttpOnly cookie, that the app's code (or a backup
//! code) finishes. Five wrong answers end it. A passkey is both steps in
//! one and is never asked.
//!
//! Every "only once" is the store's one conditional statement: a step of
//! the app's codes (`use_totp_step`), a backup code (`use_backup_code`), an
//! answer's turn (`reserve_second_step`), the session (`finish_second_step`).

use crate::domain::{SecondStepToken, SessionToken};

use super::audit::AuditKind;
use super::error::AuthError;
use super::keys::keyed_hash;
use super::sealing::SealingKeys;
use super::service::{AuthService, IpAction, NewSession, RequestContext, SignInMethod, SignedInUser};
use super::store::{AuthenticatorRow, SecondFactorSpend, Store};
use super::totp::{BACKUP_CODES, BackupCode, SecondFactor, TotpCode, TotpSecret};

/// How long a half-finished sign-in waits for the app's code.
pub const SECOND_STEP_MS: i64 = 10 * 60 * 1000;
/// Wrong answers a half-finished sign-in takes before it ends.
pub const MAX_SECOND_STEP_ANSWERS: i64 = 5;
/// Answers checked against one account's app in an hour, on every path
/// and every instance together (the owner's right ones too): someone with
/// the inbox who starts sign-in after sign-in gets no more guesses than
/// this, and the owner is only delayed.
pub const APP_ANSWERS_PER_HOUR: i64 = 10;

/// Where a sign-in's first step leads.
#[derive(Debug)]
pub enum SignInOutcome {
    /// Signed in.
    Session(NewSession),
    /// The account's authenticator app is asked for next: `token` goes in
    /// an HttpOnly cookie until `expires_at`.
    SecondStep { token: SecondStepToken, expires_at: i64 },
}

impl SignInOutcome {
    pub(super) fn session(self) -> Option<NewSession> {
        match self {
            SignInOutcome::Session(s) => Some(s),
            SignInOutcome::SecondStep { .. } => None,
        }
    }
}

/// The account page's view of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorStatus {
    /// This deployment can seal secrets (or the account has one on).
    pub offered: bool,
    /// When it was turned on; `None`: off.
    pub on_since: Option<i64>,
    pub backup_codes_left: i64,
}

/// The set-up page: what the app scans or the person types. Never
/// printed: both hold the secret.
#[derive(Clone)]
pub struct AuthenticatorSetup {
    /// An SVG data URL for an `<img>`.
    pub qr: String,
    /// Base32 in groups of four.
    pub typed: String,
    /// The name the app lists it under.
    pub account: String,
}

impl std::fmt::Debug for AuthenticatorSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthenticatorSetup(<redacted>)")
    }
}

/// The second step's page.
#[derive(Debug, Clone)]
pub struct SecondStepInfo {
    pub masked: String,
    pub answers_left: u32,
}

impl<S: Store> AuthService<S> {
    fn sealing(&self) -> Result<&SealingKeys, AuthError> {
        self.sealing.as_ref().ok_or(AuthError::AuthenticatorsOff)
    }

    fn backup_hash(&self, code: &BackupCode) -> String {
        keyed_hash(&self.backup_key, code.as_str())
    }

    /// Ten new backup codes, and the hashes the store keeps of them.
    fn new_backup_set(&self) -> (Vec<BackupCode>, Vec<String>) {
        let codes: Vec<BackupCode> = (0..BACKUP_CODES).map(|_| BackupCode::generate()).collect();
        let hashes = codes.iter().map(|c| self.backup_hash(c)).collect();
        (codes, hashes)
    }

    /// Opens the account's stored secret; for an app that is on, seals it
    /// again under the current key when an old one sealed it (a set-up is
    /// left alone: its row is compared by value when it is turned on).
    async fn open_secret(&self, user_id: &str, row: &AuthenticatorRow) -> Result<TotpSecret, AuthError> {
        let keys = self.sealing.as_ref().ok_or(AuthError::AuthenticatorSealed(super::sealing::OpenError::NoKey))?;
        let opened = keys.open(&row.secret, user_id)?;
        if opened.reseal && row.enabled_at.is_some() {
            let resealed = keys.seal(&opened.plaintext, user_id);
            // A failed write leaves the old seal, which still opens.
            if let Err(e) = self.store.reseal_authenticator(user_id, &row.secret, &resealed).await {
                tracing::warn!(error = %e.0, "could not seal an authenticator secret under the new key");
            }
        }
        Ok(TotpSecret::from_bytes(opened.plaintext))
    }

    /// Whether `answer` is right for the account's app that is on, and
    /// uses it up: the app's step (refused if that step or a later one was
    /// used), or the backup code.
    async fn second_factor_right(&self, user_id: &str, answer: &SecondFactor, now: i64) -> Result<bool, AuthError> {
        Ok(match self.spend_for(user_id, answer, now).await? {
            Some(SecondFactorSpend::Step(step)) => self.store.use_totp_step(user_id, step).await?,
            Some(SecondFactorSpend::Backup(hash)) => self.store.use_backup_code(user_id, &hash, now).await?,
            None => false,
        })
    }

    /// What `answer` would use up if right: the app's step it is a code of
    /// (`None`: not a code of the app now), or the backup code's hash
    /// (whether it is one of the account's, spending it tells). Takes one
    /// of the account's answers this hour first.
    async fn spend_for(
        &self,
        user_id: &str,
        answer: &SecondFactor,
        now: i64,
    ) -> Result<Option<SecondFactorSpend>, AuthError> {
        if let Err(retry_at) = self.store.claim_authenticator_answer(user_id, now, APP_ANSWERS_PER_HOUR).await? {
            return Err(AuthError::VerifyLimited {
                retry_after_secs: super::service::secs_until(now, retry_at),
                limit: super::limits::Limit::AppAnswers,
            });
        }
        Ok(match answer {
            SecondFactor::App(code) => {
                let Some(stored) = self.store.authenticator(user_id).await?.filter(|r| r.enabled_at.is_some()) else {
                    return Ok(None);
                };
                self.open_secret(user_id, &stored).await?.check(code, now).map(SecondFactorSpend::Step)
            }
            SecondFactor::Backup(code) => Some(SecondFactorSpend::Backup(self.backup_hash(code))),
        })
    }

    /// Changing the second step itself (new backup codes, turning it off)
    /// takes the second step too, beside the fresh proof: a stolen session
    /// whose thief also reads the inbox can make a fresh proof by code, but
    /// must not strip the app the inbox alone could not pass.
    pub(super) async fn require_second_factor(
        &self,
        user: &SignedInUser,
        raw: &str,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let answer = SecondFactor::parse(raw)?;
        self.ip_limited(IpAction::Verify, ctx).await?;
        if self.second_factor_right(&user.id, &answer, self.clock.now_ms()).await? {
            return Ok(());
        }
        tracing::info!(ip = ?ctx.client_ip, "wrong authenticator code to change the authenticator app");
        let note = AuditKind::SecondStepFailed.note().to(user.identifier.as_ref()).user(user.id.clone());
        self.audit(note.detail("to change the authenticator app"), ctx).await;
        Err(AuthError::WrongSecondFactor)
    }

    async fn signed_in_user(&self, token: &SessionToken) -> Result<SignedInUser, AuthError> {
        self.current_user(token).await?.ok_or(AuthError::NotSignedIn)
    }

    /// Whether the account has the app on, for the account page.
    pub async fn authenticator_status(&self, user_id: &str) -> Result<AuthenticatorStatus, AuthError> {
        let on_since = self.store.authenticator(user_id).await?.and_then(|row| row.enabled_at);
        let backup_codes_left = if on_since.is_some() { self.store.backup_codes_left(user_id).await? } else { 0 };
        // An app that is on is shown (and can be turned off) even where
        // no key is configured any more.
        Ok(AuthenticatorStatus { offered: self.sealing.is_some() || on_since.is_some(), on_since, backup_codes_left })
    }

    /// "Turn on" on the account page: after a fresh proof, a new secret is
    /// sealed and kept as being set up (replacing an earlier set-up, never
    /// an app that is on).
    pub async fn start_authenticator(&self, token: &SessionToken) -> Result<(), AuthError> {
        let user = self.signed_in_user(token).await?;
        let keys = self.sealing()?;
        self.require_fresh(&user)?;
        let secret = TotpSecret::generate();
        let sealed = keys.seal(secret.expose(), &user.id);
        if !self.store.start_authenticator(&user.id, &sealed, &user.session_id, self.clock.now_ms()).await? {
            return Err(AuthError::AuthenticatorAlreadyOn);
        }
        tracing::info!(user = %user.id, "authenticator app set-up started");
        Ok(())
    }

    /// The set-up page's QR code and secret. `None`: nothing is being set
    /// up (never started, turned on already, or purged after a day).
    pub async fn authenticator_setup(&self, token: &SessionToken) -> Result<Option<AuthenticatorSetup>, AuthError> {
        let user = self.signed_in_user(token).await?;
        // Only the session that started it, while its proof is fresh: a
        // stolen session can't read a secret its owner is setting up.
        let Some(row) = self
            .store
            .authenticator(&user.id)
            .await?
            .filter(|r| r.enabled_at.is_none() && r.setup_session.as_deref() == Some(user.session_id.as_str()))
        else {
            return Ok(None);
        };
        self.require_fresh(&user)?;
        let secret = self.open_secret(&user.id, &row).await?;
        let account = user.identifier.as_ref().to_owned();
        let issuer = &self.settings.product_name;
        Ok(Some(AuthenticatorSetup { qr: secret.qr_data_url(&account, issuer)?, typed: secret.typed(), account }))
    }

    /// The app's first code: it was set up right, so it is turned on (its
    /// step used) with ten new backup codes, returned to be shown once.
    /// Needs a fresh proof too: a stolen session could otherwise try codes
    /// against a set-up its owner left open.
    pub async fn enable_authenticator(
        &self,
        token: &SessionToken,
        raw_code: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<BackupCode>, AuthError> {
        let user = self.signed_in_user(token).await?;
        self.require_fresh(&user)?;
        let code = TotpCode::parse(raw_code)?;
        self.ip_limited(IpAction::Verify, ctx).await?;
        let row = self
            .store
            .authenticator(&user.id)
            .await?
            .filter(|r| r.enabled_at.is_none() && r.setup_session.as_deref() == Some(user.session_id.as_str()))
            .ok_or(AuthError::NoAuthenticatorSetup)?;
        let secret = self.open_secret(&user.id, &row).await?;
        let now = self.clock.now_ms();
        let Some(step) = secret.check(&code, now) else {
            // Not counted: the fresh proof (and the per-IP limit) bound how
            // long anyone can try, and only the owner has one.
            return Err(AuthError::WrongSetupCode);
        };
        let (codes, hashes) = self.new_backup_set();
        // The row read above is the set-up the page showed; a set-up started
        // again since is another secret, and this code does not turn it on.
        let secret_now = self.store.authenticator(&user.id).await?.map(|r| r.secret);
        let sealed = secret_now.filter(|s| *s == row.secret).ok_or(AuthError::NoAuthenticatorSetup)?;
        if !self.store.enable_authenticator(&user.id, &sealed, &user.session_id, step, &hashes, now).await? {
            return Err(AuthError::NoAuthenticatorSetup);
        }
        tracing::info!(user = %user.id, "authenticator app turned on");
        let to = user.identifier.as_ref();
        self.audit(AuditKind::AuthenticatorOn.note().to(to).user(user.id.clone()), ctx).await;
        Ok(codes)
    }

    /// The signed-in account about to change its app: a fresh proof, and
    /// the app's code (or a backup code) now.
    async fn changing_the_app(
        &self,
        token: &SessionToken,
        raw_code: &str,
        ctx: &RequestContext,
    ) -> Result<SignedInUser, AuthError> {
        let user = self.signed_in_user(token).await?;
        self.require_fresh(&user)?;
        self.require_second_factor(&user, raw_code, ctx).await?;
        Ok(user)
    }

    /// Ten new backup codes in place of the old ones, after a fresh proof
    /// and with the app's code (or a backup code).
    pub async fn new_backup_codes(
        &self,
        token: &SessionToken,
        raw_code: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<BackupCode>, AuthError> {
        let user = self.changing_the_app(token, raw_code, ctx).await?;
        let (codes, hashes) = self.new_backup_set();
        if !self.store.replace_backup_codes(&user.id, &hashes).await? {
            return Err(AuthError::NoAuthenticator);
        }
        let to = user.identifier.as_ref();
        self.audit(AuditKind::BackupCodesMade.note().to(to).user(user.id.clone()), ctx).await;
        Ok(codes)
    }

    /// Turns the app off (secret, backup codes, waiting sign-ins), after a
    /// fresh proof and with the app's code (or a backup code).
    pub async fn disable_authenticator(
        &self,
        token: &SessionToken,
        raw_code: &str,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let user = self.changing_the_app(token, raw_code, ctx).await?;
        if !self.store.disable_authenticator(&user.id).await? {
            return Err(AuthError::NoAuthenticator);
        }
        tracing::info!(user = %user.id, "authenticator app turned off");
        let to = user.identifier.as_ref();
        self.audit(AuditKind::AuthenticatorOff.note().to(to).user(user.id.clone()), ctx).await;
        Ok(())
    }

    /// Backup codes sealed for the page that shows them once, which only
    /// this session can open.
    pub fn seal_backup_codes(&self, codes: &[BackupCode], session: &SessionToken) -> String {
        let text: Vec<String> = codes.iter().map(BackupCode::shown).collect();
        self.flash_keys.seal(text.join(" ").as_bytes(), &format!("backup codes\n{}", session.hash()))
    }

    /// What `seal_backup_codes` sealed for this session (nothing for
    /// another's, or for anything damaged).
    pub fn open_backup_codes(&self, sealed: &str, session: &SessionToken) -> Vec<String> {
        self.flash_keys
            .open(sealed, &format!("backup codes\n{}", session.hash()))
            .ok()
            .and_then(|o| String::from_utf8(o.plaintext).ok())
            .map(|t| t.split(' ').filter(|c| !c.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The second step's page: whose sign-in, and how many answers are
    /// left. `None`: no half-finished sign-in (expired, ended, or none).
    pub async fn second_step_info(&self, token: &SecondStepToken) -> Result<Option<SecondStepInfo>, AuthError> {
        let Some(row) = self.store.second_step(&token.hash(), self.clock.now_ms()).await? else { return Ok(None) };
        let masked = crate::domain::Identifier::from_stored(row.channel, &row.destination)
            .map(|i| i.masked())
            .unwrap_or_default();
        let answers_left = (MAX_SECOND_STEP_ANSWERS - row.failures).max(0) as u32;
        Ok(Some(SecondStepInfo { masked, answers_left }))
    }

    /// The app's code (or a backup code) for a half-finished sign-in. The
    /// answer's turn is taken before it is checked; right, the session
    /// opens and the half-finished sign-in is gone with it; wrong for the
    /// fifth time, it ends.
    pub async fn finish_second_step(
        &self,
        token: &SecondStepToken,
        raw: &str,
        ctx: &RequestContext,
    ) -> Result<NewSession, AuthError> {
        let result = self.answer_second_step(token, raw, ctx).await;
        crate::metrics::second_step_answer(&result);
        result
    }

    async fn answer_second_step(
        &self,
        token: &SecondStepToken,
        raw: &str,
        ctx: &RequestContext,
    ) -> Result<NewSession, AuthError> {
        let answer = SecondFactor::parse(raw)?;
        self.ip_limited(IpAction::Verify, ctx).await?;
        // No key to open the app's secret: say so before a try is taken
        // (a backup code still works).
        if matches!(answer, SecondFactor::App(_)) && self.sealing.is_none() {
            return Err(AuthError::AuthenticatorSealed(super::sealing::OpenError::NoKey));
        }
        let hash = token.hash();
        let now = self.clock.now_ms();
        let row = self
            .store
            .reserve_second_step(&hash, now, MAX_SECOND_STEP_ANSWERS)
            .await?
            .ok_or(AuthError::SecondStepGone)?;
        let first = SignInMethod::parse_first(&row.method)
            .ok_or_else(|| AuthError::Unexpected(anyhow::anyhow!("a second step after {:?}", row.method)))?;
        let with = match answer {
            SecondFactor::App(_) => SignInMethod::ThenApp(first),
            SecondFactor::Backup(_) => SignInMethod::ThenBackup(first),
        };
        // Spent in the same transaction that opens the session: a right
        // answer either signs in or is left unused.
        if let Some(spend) = self.spend_for(&row.user_id, &answer, now).await? {
            if let Some(session) = self.open_second_step_session(token, &spend, with, ctx).await? {
                if matches!(spend, SecondFactorSpend::Backup(_)) {
                    tracing::info!(user = %row.user_id, "a backup code was used");
                }
                return Ok(session);
            }
            // Nothing opened: the sign-in is gone, or the answer was spent
            // already (a used step or backup code: as wrong as any).
            if self.store.second_step(&hash, now).await?.is_none() {
                return Err(AuthError::SecondStepGone);
            }
        }
        let dest = row.destination.as_str();
        let left = (MAX_SECOND_STEP_ANSWERS - row.failures).max(0) as u32;
        tracing::info!(ip = ?ctx.client_ip, answers_left = left, "wrong authenticator code");
        let note = AuditKind::SecondStepFailed.note().to(dest).user(row.user_id.clone());
        self.audit(note.detail(format!("{left} tries left")), ctx).await;
        if left == 0 {
            self.store.end_second_step(&hash).await?;
            self.audit(AuditKind::SecondStepEnded.note().to(dest).user(row.user_id.clone()), ctx).await;
            return Err(AuthError::SecondStepEnded);
        }
        Err(AuthError::WrongCode { attempts_left: left })
    }
}
