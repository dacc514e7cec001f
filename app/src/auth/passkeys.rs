//! Passkeys (WebAuthn, through webauthn-rs): adding one to the signed-in
//! account, signing in with one (autofill or the button), confirming a
//! session with one, and naming and removing them.
//!
//! Every ceremony's state lives in a database row (`ceremonies`) found by
//! the hash of a token in an HttpOnly cookie, for five minutes, and its
//! finish takes the row (one DELETE): an answer can be checked once, and a
//! browser never holds the challenge it is asked to sign.
//!
//! Fresh proof: removing or adding a passkey and ending other sessions need
//! a session that proved itself in the last `fresh_proof` (signed in, or
//! confirmed with a passkey or a new code; see `confirm`).

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use webauthn_rs_proto::ResidentKeyRequirement;

use crate::domain::{CeremonyToken, PasskeyName, SessionToken, aaguid_in_attestation, authenticator_name};

use super::audit::AuditKind;
use super::error::AuthError;
use super::keys::keyed_hash;
use super::service::{AuthService, IpAction, NewSession, RequestContext, SignInMethod, SignedInUser};
use super::store::{CeremonyKind, CeremonyRow, NewCeremony, PasskeyRow, Store};
use super::user_agent::describe_user_agent;

/// Why a passkey was refused, after its name in the audit detail
/// (`"<name>: <why>"`); the activity list says each in the reader's
/// language (`api::activity_view`).
pub const REFUSED_COUNTER_WENT_BACK: &str = "its counter went back (a copied authenticator?)";
pub const REFUSED_UNVERIFIED: &str = "its answer did not verify";
pub const REFUSED_REPLAYED: &str = "its counter was already used";

/// How long a started ceremony may wait for its finish.
pub const CEREMONY_MS: i64 = 5 * 60_000;

/// A started ceremony: the browser keeps `token` in a cookie and passes
/// `options` (WebAuthn's JSON) to `navigator.credentials`.
pub struct CeremonyStart {
    pub token: CeremonyToken,
    pub options: String,
}

/// One of an account's passkeys, as its owner sees it.
#[derive(Debug, Clone)]
pub struct PasskeySummary {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The relying party: this deployment's host and origin.
pub(super) fn relying_party(public_url: &str, public_host: &str, product_name: &str) -> Option<Webauthn> {
    // WebAuthn is bound to a domain: browsers refuse an IP address.
    if public_host.parse::<std::net::IpAddr>().is_ok() || public_host.starts_with('[') {
        tracing::info!(
            host = public_host,
            "passkeys are off: WebAuthn needs a domain name in PASSCODE_PUBLIC_URL (an IP address can't have passkeys)"
        );
        return None;
    }
    let origin = Url::parse(public_url).ok()?;
    let built = WebauthnBuilder::new(public_host, &origin)
        .and_then(|b| b.rp_name(product_name).timeout(std::time::Duration::from_millis(CEREMONY_MS as u64)).build());
    match built {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, host = public_host, "passkeys are off: the public URL does not make a WebAuthn relying party");
            None
        }
    }
}

/// The user handle an authenticator keeps for an account: a UUID derived
/// from the account's id, so it names the account without the address.
fn user_handle(user_id: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("passcode user handle\n{user_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid_v4_shape(bytes)
}

fn uuid_v4_shape(mut bytes: [u8; 16]) -> Uuid {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

fn unexpected(e: impl std::fmt::Display) -> AuthError {
    AuthError::Unexpected(anyhow::anyhow!("webauthn: {e}"))
}

impl<S: Store> AuthService<S> {
    fn webauthn(&self) -> Result<&Webauthn, AuthError> {
        self.webauthn.as_ref().ok_or(AuthError::PasskeysOff)
    }

    /// Whether this deployment offers passkeys at all.
    pub fn passkeys_enabled(&self) -> bool {
        self.webauthn.is_some()
    }

    /// Refuses unless the session proved itself in the last five minutes.
    pub(super) fn require_fresh(&self, user: &SignedInUser) -> Result<(), AuthError> {
        if self.clock.now_ms() - user.proved_at <= super::clock::millis(self.settings.fresh_proof) {
            Ok(())
        } else {
            Err(AuthError::ProofNeeded)
        }
    }

    async fn start_ceremony(
        &self,
        kind: CeremonyKind,
        user: Option<&SignedInUser>,
        options: &impl serde::Serialize,
        state: &impl serde::Serialize,
    ) -> Result<CeremonyStart, AuthError> {
        let token = CeremonyToken::generate();
        let now = self.clock.now_ms();
        let state = serde_json::to_string(state).context("serialising a ceremony's state")?;
        let options = serde_json::to_string(options).context("serialising a ceremony's options")?;
        self.store
            .insert_ceremony(&NewCeremony {
                token_hash: &token.hash(),
                kind,
                user_id: user.map(|u| u.id.as_str()),
                session_id: user.map(|u| u.session_id.as_str()),
                state: &state,
                now,
                expires_at: now + CEREMONY_MS,
            })
            .await?;
        Ok(CeremonyStart { token, options })
    }

    /// The ceremony `token` names, if it is of `kind`, still live and (for a
    /// signed-in ceremony) started by this very session. Taken: a second
    /// finish with the same cookie finds nothing.
    async fn take_ceremony(
        &self,
        token: &CeremonyToken,
        kind: CeremonyKind,
        user: Option<&SignedInUser>,
    ) -> Result<CeremonyRow, AuthError> {
        let row = self
            .store
            .take_ceremony(&token.hash(), kind, self.clock.now_ms())
            .await?
            .ok_or(AuthError::PasskeyCeremonyGone)?;
        if let Some(user) = user
            && (row.user_id.as_deref() != Some(user.id.as_str())
                || row.session_id.as_deref() != Some(user.session_id.as_str()))
        {
            return Err(AuthError::PasskeyCeremonyGone);
        }
        Ok(row)
    }

    async fn signed_in(&self, token: &SessionToken) -> Result<SignedInUser, AuthError> {
        self.current_user(token).await?.ok_or(AuthError::NotSignedIn)
    }

    // ---- Signing in ----

    /// Starts a passkey sign-in: options for a discoverable credential (the
    /// browser's autofill, or its passkey dialog). Counted in the client's
    /// per-IP allowance of attempts.
    pub async fn start_passkey_sign_in(&self, ctx: &RequestContext) -> Result<CeremonyStart, AuthError> {
        let webauthn = self.webauthn()?;
        self.ip_limited(IpAction::Verify, ctx).await?;
        let (options, state) = webauthn.start_discoverable_authentication().map_err(unexpected)?;
        self.start_ceremony(CeremonyKind::SignIn, None, &options, &state).await
    }

    /// Finishes a passkey sign-in with the browser's answer (the
    /// credential's JSON): the same session, cookie rules and audit row as a
    /// code.
    pub async fn finish_passkey_sign_in(
        &self,
        ceremony: &CeremonyToken,
        response: &str,
        ctx: &RequestContext,
    ) -> Result<NewSession, AuthError> {
        let webauthn = self.webauthn()?;
        self.ip_limited(IpAction::Verify, ctx).await?;
        let row = self.take_ceremony(ceremony, CeremonyKind::SignIn, None).await?;
        let state: DiscoverableAuthentication =
            serde_json::from_str(&row.state).context("a stored sign-in ceremony no longer reads")?;
        let credential: PublicKeyCredential = serde_json::from_str(response).map_err(|e| {
            tracing::info!(error = %e, "a passkey answer that does not read as one");
            AuthError::PasskeyRefused
        })?;
        let (handle, credential_id) =
            webauthn.identify_discoverable_authentication(&credential).map_err(|_| AuthError::PasskeyUnknown)?;
        let stored = self
            .store
            .passkey_by_credential(&URL_SAFE_NO_PAD.encode(credential_id))
            .await?
            .filter(|p| p.user_handle == handle.to_string())
            .ok_or_else(|| {
                tracing::info!(ip = ?ctx.client_ip, "a passkey that is not registered here (removed, or another site's)");
                AuthError::PasskeyUnknown
            })?;
        let mut passkey: Passkey = serde_json::from_str(&stored.passkey).context("a stored passkey no longer reads")?;
        let result = webauthn.finish_discoverable_authentication_v2(&credential, state, &passkey);
        self.record_use(&stored, &mut passkey, result, ctx).await?;
        let session = self.open_session_for_user(&stored.user_id, SignInMethod::Passkey, ctx).await?;
        session.ok_or(AuthError::PasskeyUnknown)
    }

    /// Checks an assertion's outcome and stores the passkey's new counter,
    /// only if it moved on: of two answers from one authenticator, or one
    /// from a clone, the one with the stale counter is refused.
    async fn record_use(
        &self,
        stored: &PasskeyRow,
        passkey: &mut Passkey,
        result: Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let refused = |why: &'static str| {
            AuditKind::PasskeyRefused.note().user(stored.user_id.clone()).detail(format!("{}: {why}", stored.name))
        };
        let result = match result {
            Ok(r) => r,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                tracing::warn!(ip = ?ctx.client_ip, "a passkey's counter went back: possibly a cloned authenticator");
                self.audit(refused(REFUSED_COUNTER_WENT_BACK), ctx).await;
                return Err(AuthError::PasskeyRefused);
            }
            Err(e) => {
                tracing::info!(error = %e, ip = ?ctx.client_ip, "a passkey answer failed verification");
                self.audit(refused(REFUSED_UNVERIFIED), ctx).await;
                return Err(AuthError::PasskeyRefused);
            }
        };
        passkey.update_credential(&result);
        let json = serde_json::to_string(&*passkey).context("serialising a passkey")?;
        let counter = i64::from(result.counter());
        let now = self.clock.now_ms();
        if !self.store.record_passkey_use(&stored.id, &json, stored.counter, counter, now).await? {
            tracing::warn!(ip = ?ctx.client_ip, "a passkey answer with a counter already used");
            self.audit(refused(REFUSED_REPLAYED), ctx).await;
            return Err(AuthError::PasskeyRefused);
        }
        Ok(())
    }

    // ---- Adding ----

    /// Starts adding a passkey to the signed-in account (after a fresh
    /// proof). The authenticator is asked for a discoverable credential,
    /// and not to make a second one where it holds one for this account.
    pub async fn start_adding_passkey(&self, token: &SessionToken) -> Result<CeremonyStart, AuthError> {
        let webauthn = self.webauthn()?;
        let user = self.signed_in(token).await?;
        self.require_fresh(&user)?;
        let exclude: Vec<_> = self
            .store
            .passkeys_of(&user.id)
            .await?
            .iter()
            .filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok())
            .collect();
        let name = user.identifier.as_ref();
        let (mut options, state): (_, PasskeyRegistration) = webauthn
            .start_passkey_registration(user_handle(&user.id), name, name, Some(exclude))
            .map_err(unexpected)?;
        // Discoverable, so that it can sign in from the autofill list with
        // nothing typed (webauthn-rs asks for a server-side one by default).
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Required);
            selection.require_resident_key = true;
        }
        self.start_ceremony(CeremonyKind::Add, Some(&user), &options, &state).await
    }

    /// Finishes adding a passkey; returns its name. Named after its maker
    /// when the authenticator says who that is, else after the browser.
    pub async fn finish_adding_passkey(
        &self,
        token: &SessionToken,
        ceremony: &CeremonyToken,
        response: &str,
        ctx: &RequestContext,
    ) -> Result<String, AuthError> {
        let webauthn = self.webauthn()?;
        let user = self.signed_in(token).await?;
        let row = self.take_ceremony(ceremony, CeremonyKind::Add, Some(&user)).await?;
        let state: PasskeyRegistration =
            serde_json::from_str(&row.state).context("a stored registration no longer reads")?;
        let credential: RegisterPublicKeyCredential = serde_json::from_str(response).map_err(|e| {
            tracing::info!(error = %e, "a passkey registration that does not read as one");
            AuthError::PasskeyRefused
        })?;
        let passkey = webauthn.finish_passkey_registration(&credential, &state).map_err(|e| match e {
            WebauthnError::CredentialExcludedFromRequest | WebauthnError::CredentialAlreadyExists => {
                AuthError::PasskeyAlreadyAdded
            }
            e => {
                tracing::info!(error = %e, "a passkey registration failed verification");
                AuthError::PasskeyRefused
            }
        })?;
        let (aaguid, counter) = aaguid_in_attestation(&credential.response.attestation_object).unwrap_or((None, 0));
        let name = match aaguid.as_ref().and_then(authenticator_name) {
            Some(maker) => PasskeyName::fallback(maker),
            None => PasskeyName::fallback(
                &ctx.user_agent.as_deref().and_then(describe_user_agent).unwrap_or_else(|| "Passkey".into()),
            ),
        };
        let now = self.clock.now_ms();
        let row = PasskeyRow {
            id: crate::domain::random_id(),
            user_id: user.id.clone(),
            user_handle: user_handle(&user.id).to_string(),
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            passkey: serde_json::to_string(&passkey).context("serialising a passkey")?,
            counter: i64::from(counter),
            name: name.as_ref().to_owned(),
            created_at: now,
            last_used_at: None,
        };
        if !self.store.add_passkey(&row).await? {
            return Err(AuthError::PasskeyAlreadyAdded);
        }
        tracing::info!(user = %user.id, "passkey added");
        self.audit(AuditKind::PasskeyAdded.note().user(user.id).detail(name.as_ref()), ctx).await;
        Ok(name.as_ref().to_owned())
    }

    // ---- Confirming a session ----

    /// Starts confirming the signed-in session with one of its account's
    /// passkeys.
    pub async fn start_confirming_with_passkey(
        &self,
        token: &SessionToken,
        ctx: &RequestContext,
    ) -> Result<CeremonyStart, AuthError> {
        let webauthn = self.webauthn()?;
        let user = self.signed_in(token).await?;
        self.ip_limited(IpAction::Verify, ctx).await?;
        let passkeys: Vec<Passkey> = self
            .store
            .passkeys_of(&user.id)
            .await?
            .iter()
            .filter_map(|p| serde_json::from_str(&p.passkey).ok())
            .collect();
        if passkeys.is_empty() {
            return Err(AuthError::NoPasskeys);
        }
        let (options, state) = webauthn.start_passkey_authentication(&passkeys).map_err(unexpected)?;
        self.start_ceremony(CeremonyKind::Confirm, Some(&user), &options, &state).await
    }

    /// Finishes confirming the session with a passkey: the session counts
    /// as freshly proved.
    pub async fn finish_confirming_with_passkey(
        &self,
        token: &SessionToken,
        ceremony: &CeremonyToken,
        response: &str,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let webauthn = self.webauthn()?;
        let user = self.signed_in(token).await?;
        self.ip_limited(IpAction::Verify, ctx).await?;
        let row = self.take_ceremony(ceremony, CeremonyKind::Confirm, Some(&user)).await?;
        let state: PasskeyAuthentication =
            serde_json::from_str(&row.state).context("a stored confirmation no longer reads")?;
        let credential: PublicKeyCredential = serde_json::from_str(response).map_err(|_| AuthError::PasskeyRefused)?;
        let stored = self
            .store
            .passkey_by_credential(&URL_SAFE_NO_PAD.encode(credential.get_credential_id()))
            .await?
            .filter(|p| p.user_id == user.id)
            .ok_or(AuthError::PasskeyUnknown)?;
        let mut passkey: Passkey = serde_json::from_str(&stored.passkey).context("a stored passkey no longer reads")?;
        let result = webauthn.finish_passkey_authentication(&credential, &state);
        self.record_use(&stored, &mut passkey, result, ctx).await?;
        if !self.store.mark_proved(&user.session_id, self.clock.now_ms()).await? {
            return Err(AuthError::NotSignedIn);
        }
        tracing::info!(user = %user.id, "session confirmed with a passkey");
        self.audit(AuditKind::IdentityConfirmed.note().user(user.id).detail("passkey"), ctx).await;
        Ok(())
    }

    // ---- Managing ----

    /// The signed-in account's passkeys, oldest first.
    pub(super) async fn passkey_summaries(&self, user_id: &str) -> Result<Vec<PasskeySummary>, AuthError> {
        Ok(self
            .store
            .passkeys_of(user_id)
            .await?
            .into_iter()
            .map(|p| PasskeySummary { id: p.id, name: p.name, created_at: p.created_at, last_used_at: p.last_used_at })
            .collect())
    }

    pub async fn rename_passkey(
        &self,
        token: &SessionToken,
        id: &str,
        raw_name: &str,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let user = self.signed_in(token).await?;
        let name = PasskeyName::parse(raw_name)?;
        if !self.store.rename_passkey(&user.id, id, name.as_ref()).await? {
            return Err(AuthError::NoSuchPasskey);
        }
        self.audit(AuditKind::PasskeyRenamed.note().user(user.id).detail(name.as_ref()), ctx).await;
        Ok(())
    }

    /// Removes one of the account's passkeys (after a fresh proof).
    pub async fn remove_passkey(&self, token: &SessionToken, id: &str, ctx: &RequestContext) -> Result<(), AuthError> {
        let user = self.signed_in(token).await?;
        self.require_fresh(&user)?;
        let Some(name) = self.store.remove_passkey(&user.id, id).await? else {
            return Err(AuthError::NoSuchPasskey);
        };
        tracing::info!(user = %user.id, "passkey removed");
        self.audit(AuditKind::PasskeyRemoved.note().user(user.id).detail(name), ctx).await;
        Ok(())
    }

    /// What the "this browser has a passkey for the account" cookie holds:
    /// a keyed hash of the account's id, so the cookie names no account and
    /// can't be made for another.
    pub fn passkey_here_mark(&self, user_id: &str) -> String {
        keyed_hash(&self.link_page_key, &format!("passkey here\n{user_id}"))[..32].to_owned()
    }

    /// Whether to offer a passkey after a sign-in by code: passkeys are on
    /// and this browser holds none for the account (as far as its cookie
    /// says, or the account has none at all).
    pub async fn offers_passkey(&self, user_id: &str, here_mark: Option<&str>) -> Result<bool, AuthError> {
        if !self.passkeys_enabled() {
            return Ok(false);
        }
        let marked_here = here_mark
            .is_some_and(|m| super::keys::constant_time_eq(m.as_bytes(), self.passkey_here_mark(user_id).as_bytes()));
        if !marked_here {
            return Ok(true);
        }
        Ok(self.store.passkeys_of(user_id).await?.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_handles_are_stable_uuids_that_name_no_address() {
        let a = user_handle("some-user-id");
        assert_eq!(a, user_handle("some-user-id"));
        assert_ne!(a, user_handle("another-user-id"));
        assert_eq!(a.get_version_num(), 4);
    }

    #[test]
    fn relying_parties_need_a_domain_name() {
        assert!(relying_party("http://127.0.0.1:3000", "127.0.0.1", "Passcode").is_none());
        assert!(relying_party("http://[::1]:3000", "[::1]", "Passcode").is_none());
        assert!(relying_party("http://localhost:3000", "localhost", "Passcode").is_some());
        assert!(relying_party("https://login.example.com", "login.example.com", "Passcode").is_some());
    }
}
