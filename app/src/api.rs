//! Server functions: the app's server actions. Each one reads request facts,
//! calls the auth core and turns the outcome into cookies, a redirect or an
//! `AppError`. No auth logic lives here.
//!
//! Cross-site requests never reach these: the server's `cross_site_guard`
//! middleware refuses them first. All use POST (the default encoding).

use crate::domain::AppError;
pub use crate::domain::{
    AccountView, ActivityView, AuthenticatorPageView, AuthenticatorSetupView, AuthenticatorView, ConfirmView, LinkView,
    Notice, PasskeyView, PendingView, ReportView, SecondStepView, SessionView, UserView,
};

#[allow(unused_imports)]
use leptos::prelude::*;

/// Cookie lifetime in seconds for something that expires at `expires_at_ms`
/// by the auth core's clock.
#[cfg(feature = "ssr")]
fn seconds_until(state: &crate::web::AppState, expires_at_ms: i64) -> i64 {
    ((expires_at_ms - state.auth.now_ms()) / 1000).max(60)
}

/// Keeps the challenge in this browser. The cookie outlives the code by an
/// hour so that "expired" can be told apart from "no sign-in here".
#[cfg(feature = "ssr")]
fn remember_pending(state: &crate::web::AppState, pending: &crate::auth::Pending) {
    crate::web::set_pending_cookie(&pending.challenge, seconds_until(state, pending.expires_at) + 3600);
}

/// Both ways in by code end here: the session cookie, no pending code left
/// in this browser, and the page this browser asked to go back to (a
/// checked `rd`) or the account page. `webauthn`: the browser said it can
/// make a passkey (the sign-in button's island adds it to the form); then,
/// unless this browser has one for the account or said "Not now" lately,
/// the passkey offer comes first, and the return address waits for it.
#[cfg(feature = "ssr")]
async fn signed_in(state: &crate::web::AppState, session: &crate::auth::NewSession, webauthn: bool) {
    use crate::web::*;
    set_session_cookie(&state.session_cookie, &session.token, seconds_until(state, session.expires_at));
    set_device_cookie(&session.device);
    clear_pending_cookie();
    let offer = webauthn
        && !passkey_later()
        && state.auth.offers_passkey(&session.user_id, passkey_here_mark().as_deref()).await.unwrap_or(false);
    if offer {
        leptos_axum::redirect(PASSKEY_OFFER_PATH);
        return;
    }
    go_back(state);
}

/// Where a sign-in's first step leads: signed in (as `signed_in`), or on
/// to the authenticator app's code when the account has one on. The
/// return address waits in its cookie either way.
#[cfg(feature = "ssr")]
async fn entered(state: &crate::web::AppState, outcome: crate::auth::SignInOutcome, webauthn: bool) {
    use crate::web::*;
    match outcome {
        crate::auth::SignInOutcome::Session(session) => signed_in(state, &session, webauthn).await,
        crate::auth::SignInOutcome::SecondStep { token, expires_at } => {
            set_second_step_cookie(&token, seconds_until(state, expires_at));
            clear_pending_cookie();
            leptos_axum::redirect(SECOND_STEP_PATH);
        }
    }
}

/// Where a sign-in asks for the authenticator app's code (a page).
pub const SECOND_STEP_PATH: &str = "/sign-in/authenticator";
/// Where an authenticator app is set up, and backup codes shown (a page).
pub const AUTHENTICATOR_PAGE_PATH: &str = "/account/authenticator";

/// The passkey ceremonies' endpoints: plain axum handlers
/// (`server/src/web/passkeys.rs`) that the passkey island posts JSON to.
pub mod passkey_paths {
    pub const SIGN_IN_OPTIONS: &str = "/passkeys/sign-in/options";
    pub const SIGN_IN: &str = "/passkeys/sign-in";
    pub const ADD_OPTIONS: &str = "/passkeys/add/options";
    pub const ADD: &str = "/passkeys/add";
    pub const CONFIRM_OPTIONS: &str = "/passkeys/confirm/options";
    pub const CONFIRM: &str = "/passkeys/confirm";
}

/// Where the passkey offer lives (a page).
pub const PASSKEY_OFFER_PATH: &str = "/passkeys/offer";
/// Where a signed-in person confirms it's them (a page).
pub const CONFIRM_PAGE_PATH: &str = "/account/confirm";

/// To the page this browser asked to go back to after signing in, or the
/// account page.
#[cfg(feature = "ssr")]
fn go_back(state: &crate::web::AppState) {
    use crate::web::*;
    let back = return_to(&state.return_rules);
    clear_return_cookie();
    match back {
        Some(to) => leptos_axum::redirect(to.as_str()),
        None => leptos_axum::redirect("/account"),
    }
}

/// A sensitive action that needs a fresh proof goes to the page that takes
/// one instead of failing: nothing happened, and the page says why.
#[cfg(feature = "ssr")]
fn or_confirm_first<T>(outcome: Result<T, crate::auth::AuthError>) -> Result<Option<T>, AppError> {
    match outcome {
        Ok(v) => Ok(Some(v)),
        Err(crate::auth::AuthError::ProofNeeded) => {
            leptos_axum::redirect(CONFIRM_PAGE_PATH);
            Ok(None)
        }
        Err(e) => Err(crate::web::fail(e)),
    }
}

#[cfg(feature = "ssr")]
fn wait_secs(state: &crate::web::AppState, at_ms: i64) -> u64 {
    ((at_ms - state.auth.now_ms()).max(0) as u64).div_ceil(1000)
}

/// `rd`: where to go after signing in, as the sign-in page was given it (a
/// reverse proxy's return address). Kept for this browser only if it passes
/// the return rules; anything else is dropped without a word.
#[server(prefix = "/api", endpoint = "request_code")]
pub async fn request_code(identifier: String, #[server(default)] rd: Option<String>) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let pending = state.auth.request_code(&identifier, &request_context()).await.map_err(fail)?;
    remember_pending(&state, &pending);
    match rd.as_deref().and_then(|rd| state.return_rules.parse(rd)) {
        Some(to) => set_return_cookie(&to, seconds_until(&state, pending.expires_at) + 3600),
        None => clear_return_cookie(),
    }
    leptos_axum::redirect("/verify");
    Ok(())
}

/// Returns the seconds until yet another code may be requested.
#[server(prefix = "/api", endpoint = "resend_code")]
pub async fn resend_code() -> Result<u64, AppError> {
    use crate::web::*;
    let state = app_state()?;
    let previous = pending_challenge_id().ok_or_else(|| fail(AppError::NoChallenge))?;
    let pending = state.auth.resend_code(&previous, &request_context()).await.map_err(fail)?;
    remember_pending(&state, &pending);
    set_notice(crate::api::Notice::Resent);
    Ok(wait_secs(&state, pending.next_send_at))
}

/// `webauthn`: set by the button's island when the browser can make a
/// passkey (see `signed_in`).
#[server(prefix = "/api", endpoint = "verify_code")]
pub async fn verify_code(code: String, #[server(default)] webauthn: bool) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let challenge = pending_challenge_id().ok_or_else(|| fail(AppError::NoChallenge))?;
    let outcome = state.auth.verify_code(&challenge, &code, &request_context()).await.map_err(fail)?;
    entered(&state, outcome, webauthn).await;
    Ok(())
}

#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    if let Some(token) = session_token() {
        state.auth.sign_out(&token, &request_context()).await.map_err(fail)?;
    }
    // The browser forgets what it kept of ours but its device cookie.
    sign_out_browser(&state.session_cookie);
    leptos_axum::redirect("/sign-in");
    Ok(())
}

/// The account page: who is signed in, where, and what happened lately.
#[server(prefix = "/api", endpoint = "account")]
pub async fn account() -> Result<Option<AccountView>, AppError> {
    use crate::web::*;
    let state = app_state()?;
    let Some(token) = session_token() else { return Ok(None) };
    let overview = state.auth.account(&token).await.map_err(fail)?;
    Ok(overview.map(|a| AccountView { notice: take_notice(), ..account_view(&state, a) }))
}

/// Ends another session of this account (`id`: its public handle), after a
/// fresh proof.
#[server(prefix = "/api", endpoint = "end_session")]
pub async fn end_session(id: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    match or_confirm_first(state.auth.revoke_session(&token, &id, &request_context()).await)? {
        None => {}
        Some(crate::auth::Revoked::Other) => leptos_axum::redirect("/account"),
        Some(crate::auth::Revoked::ThisBrowser) => {
            sign_out_browser(&state.session_cookie);
            leptos_axum::redirect("/sign-in");
        }
    }
    Ok(())
}

/// Ends every session of this account but this browser's, after a fresh
/// proof.
#[server(prefix = "/api", endpoint = "end_other_sessions")]
pub async fn end_other_sessions() -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    if or_confirm_first(state.auth.revoke_other_sessions(&token, &request_context()).await)?.is_some() {
        leptos_axum::redirect("/account");
    }
    Ok(())
}

/// Gives one of the account's passkeys another name.
#[server(prefix = "/api", endpoint = "rename_passkey")]
pub async fn rename_passkey(id: String, name: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    state.auth.rename_passkey(&token, &id, &name, &request_context()).await.map_err(fail)?;
    leptos_axum::redirect("/account");
    Ok(())
}

/// Removes one of the account's passkeys, after a fresh proof.
#[server(prefix = "/api", endpoint = "remove_passkey")]
pub async fn remove_passkey(id: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    if or_confirm_first(state.auth.remove_passkey(&token, &id, &request_context()).await)?.is_some() {
        set_notice(Notice::PasskeyRemoved);
        leptos_axum::redirect("/account");
    }
    Ok(())
}

/// "Not now" to the passkey offer: not asked again in this browser for 30
/// days, and on to where the person was going.
#[server(prefix = "/api", endpoint = "passkey_not_now")]
pub async fn passkey_not_now() -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    set_passkey_later();
    go_back(&state);
    Ok(())
}

/// The passkey offer page: whom it is for (`None`: not signed in).
#[server(prefix = "/api", endpoint = "passkey_offer")]
pub async fn passkey_offer() -> Result<Option<UserView>, AppError> {
    use crate::web::*;
    let state = app_state()?;
    let Some(token) = session_token() else { return Ok(None) };
    let user = state.auth.current_user(&token).await.map_err(fail)?;
    Ok(user.map(|u| UserView { identifier: u.identifier.as_ref().to_owned(), channel: u.identifier.channel() }))
}

/// The "confirm it's you" page: where a code would go, whether a passkey
/// can do instead, and whether a code is on its way (`None`: not signed in).
#[server(prefix = "/api", endpoint = "confirmation")]
pub async fn confirmation() -> Result<Option<ConfirmView>, AppError> {
    use crate::web::*;
    let state = app_state()?;
    let Some(token) = session_token() else { return Ok(None) };
    let Some(overview) = state.auth.account(&token).await.map_err(fail)? else { return Ok(None) };
    let policy = state.auth.settings().code;
    let to = &overview.user.identifier;
    Ok(Some(ConfirmView {
        masked_destination: to.masked(),
        channel: to.channel(),
        has_passkeys: !overview.passkeys.is_empty(),
        code_sent: confirm_challenge_id().is_some(),
        code_length: policy.length,
        numeric: policy.alphabet == crate::domain::CodeAlphabet::Digits,
        asks_app: overview.authenticator.on_since.is_some(),
    }))
}

/// Sends a code to the account's own address to confirm it's the owner.
#[server(prefix = "/api", endpoint = "send_confirmation_code")]
pub async fn send_confirmation_code() -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    // The code this browser asked for to confirm before is the one a new
    // one retires (never its pending sign-in code).
    let ctx = crate::auth::RequestContext { pending: confirm_challenge_id(), ..request_context() };
    let pending = state.auth.send_confirmation_code(&token, &ctx).await.map_err(fail)?;
    set_confirm_cookie(&pending.challenge, seconds_until(&state, pending.expires_at));
    leptos_axum::redirect(CONFIRM_PAGE_PATH);
    Ok(())
}

/// The confirmation code (and, for an account with an authenticator app
/// on, the app's code as `app_code`): the session counts as freshly proved.
#[server(prefix = "/api", endpoint = "confirm_with_code")]
pub async fn confirm_with_code(code: String, #[server(default)] app_code: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    let challenge = confirm_challenge_id().ok_or_else(|| fail(AppError::NoChallenge))?;
    state.auth.confirm_with_code(&token, &challenge, &code, &app_code, &request_context()).await.map_err(fail)?;
    clear_confirm_cookie();
    set_notice(Notice::Confirmed);
    leptos_axum::redirect("/account");
    Ok(())
}

#[cfg(feature = "ssr")]
fn account_view(state: &crate::web::AppState, a: crate::auth::AccountOverview) -> AccountView {
    use crate::i18n::words::{ago, clock_time, date_time};
    let l = crate::web::locale();
    let now = state.auth.now_ms();
    // Apps behind the same proxy as the sign-in page: its scheme, and its
    // port when that is not the scheme's own.
    let public = url::Url::parse(&state.auth.settings().public_url).ok();
    let scheme = public.as_ref().map_or("https", |u| u.scheme());
    let port = public.as_ref().and_then(url::Url::port).map(|p| format!(":{p}")).unwrap_or_default();
    let apps = state
        .auth
        .hosts_for(a.user.identifier.as_ref(), a.user.identifier.channel())
        .into_iter()
        .map(|host| format!("{scheme}://{host}{port}/"))
        .collect();
    let sessions = a
        .sessions
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            browser: s.browser.map_or_else(
                || crate::i18n::td_string!(l, account.unknown_browser).into(),
                |b| crate::i18n::words::devices(&b, l),
            ),
            ip: s.ip,
            signed_in: ago(s.signed_in_at, now, l),
            last_seen: ago(s.last_seen_at, now, l),
            this_browser: s.this_browser,
        })
        .collect();
    let words = |entries: Vec<crate::auth::ActivityEntry>| -> Vec<ActivityView> {
        entries.into_iter().map(|e| activity_view(e, l)).collect()
    };
    let (sign_ins, activity) = (words(a.sign_ins), words(a.activity));
    let passkeys = a
        .passkeys
        .into_iter()
        .map(|p| PasskeyView {
            id: p.id,
            name: p.name,
            created: date_time(p.created_at, l),
            last_used: p.last_used_at.map(|t| ago(t, now, l)),
        })
        .collect();
    AccountView {
        user: UserView { identifier: a.user.identifier.as_ref().to_owned(), channel: a.user.identifier.channel() },
        sessions,
        sign_ins,
        activity,
        apps,
        passkeys,
        passkeys_enabled: state.auth.passkeys_enabled(),
        confirmed_until: a.fresh_until.map(|t| clock_time(t, l)),
        notice: None,
        authenticator: a.authenticator.offered.then(|| AuthenticatorView {
            on_since: a.authenticator.on_since.map(|t| date_time(t, l)),
            backup_codes_left: a.authenticator.backup_codes_left,
        }),
    }
}

/// How a sign-in's first step was made, from an audit detail such as
/// `link+app`.
#[cfg(feature = "ssr")]
#[derive(Clone, Copy)]
enum FirstStep {
    Code,
    Link,
    Approved,
}

#[cfg(feature = "ssr")]
fn first_step(detail: &str) -> FirstStep {
    match detail.split('+').next() {
        Some("link") => FirstStep::Link,
        Some("approved") => FirstStep::Approved,
        _ => FirstStep::Code,
    }
}

/// One security event in words, in the page's language. Names and
/// addresses in a detail (a passkey's name, "203.0.113.7 (Chrome on
/// Linux)") are shown as they are; our own words come from the catalogue.
#[cfg(feature = "ssr")]
fn activity_view(e: crate::auth::ActivityEntry, l: crate::i18n::Locale) -> ActivityView {
    use crate::auth::{AuditKind, ENDED_ELSEWHERE, REPLACED};
    use crate::i18n::td_string;
    let detail = e.detail.as_deref().unwrap_or("");
    let s = |t: &dyn std::fmt::Display| t.to_string();
    let what = match e.kind {
        AuditKind::CodeSent if detail == "sms" => s(&td_string!(l, activity.code_sent_sms)),
        AuditKind::CodeSent => s(&td_string!(l, activity.code_sent_email)),
        AuditKind::DeliveryFailed => s(&td_string!(l, activity.delivery_failed)),
        AuditKind::RateLimited => s(&td_string!(l, activity.rate_limited)),
        AuditKind::VerificationFailed => s(&td_string!(l, activity.verification_failed)),
        AuditKind::ChallengeBurned => s(&td_string!(l, activity.challenge_burned)),
        AuditKind::DestinationLocked => s(&td_string!(l, activity.destination_locked)),
        AuditKind::SignedIn if detail == "link" => s(&td_string!(l, activity.signed_in_link)),
        AuditKind::SignedIn if detail == "passkey" => s(&td_string!(l, activity.signed_in_passkey)),
        AuditKind::SignedIn if detail == "approved" => s(&td_string!(l, activity.signed_in_approved)),
        AuditKind::SignedIn if detail.ends_with("+app") => s(&match first_step(detail) {
            FirstStep::Code => td_string!(l, activity.signed_in_code_app),
            FirstStep::Link => td_string!(l, activity.signed_in_link_app),
            FirstStep::Approved => td_string!(l, activity.signed_in_approved_app),
        }),
        AuditKind::SignedIn if detail.ends_with("+backup") => s(&match first_step(detail) {
            FirstStep::Code => td_string!(l, activity.signed_in_code_backup),
            FirstStep::Link => td_string!(l, activity.signed_in_link_backup),
            FirstStep::Approved => td_string!(l, activity.signed_in_approved_backup),
        }),
        AuditKind::SignedIn => s(&td_string!(l, activity.signed_in_code)),
        AuditKind::SignedOut if detail.is_empty() => s(&td_string!(l, activity.signed_out)),
        AuditKind::SignedOut if detail == ENDED_ELSEWHERE => s(&td_string!(l, activity.ended_elsewhere)),
        AuditKind::SignedOut if detail == REPLACED => s(&td_string!(l, activity.replaced)),
        // "2 other sessions ended": the count, in the language's plural.
        AuditKind::SignedOut => {
            let n: u64 = detail.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(1);
            s(&td_string!(l, activity.signed_out_others, count = n))
        }
        // The host came through a proxy from a request URL: the
        // audit trail has it, the page keeps to our own words.
        AuditKind::AccessRefused => s(&td_string!(l, activity.access_refused)),
        // Passkey names are the owner's own words (or the maker's).
        AuditKind::PasskeyAdded => s(&td_string!(l, activity.passkey_added, name = detail)),
        AuditKind::PasskeyRemoved => s(&td_string!(l, activity.passkey_removed, name = detail)),
        AuditKind::PasskeyRenamed => s(&td_string!(l, activity.passkey_renamed, name = detail)),
        // "<name>: <why>", the why one of ours.
        AuditKind::PasskeyRefused => {
            use crate::auth::{REFUSED_COUNTER_WENT_BACK, REFUSED_REPLAYED, REFUSED_UNVERIFIED};
            let (name, why) = detail.rsplit_once(": ").unwrap_or((detail, ""));
            s(&match why {
                REFUSED_COUNTER_WENT_BACK => td_string!(l, activity.passkey_refused_counter, name = name).to_string(),
                REFUSED_UNVERIFIED => td_string!(l, activity.passkey_refused_unverified, name = name).to_string(),
                REFUSED_REPLAYED => td_string!(l, activity.passkey_refused_replayed, name = name).to_string(),
                _ => td_string!(l, activity.passkey_refused).to_owned(),
            })
        }
        AuditKind::IdentityConfirmed if detail == "passkey" => s(&td_string!(l, activity.confirmed_passkey)),
        AuditKind::IdentityConfirmed => s(&td_string!(l, activity.confirmed_code)),
        // The row's facts are the approving device's; the detail names the
        // device let in ("for 203.0.113.7 (Chrome on Linux)").
        AuditKind::SignInApproved => match detail.strip_prefix("for ").filter(|d| !d.is_empty()) {
            Some(device) => s(&td_string!(l, activity.approved_for, device = crate::i18n::words::devices(device, l))),
            None => s(&td_string!(l, activity.approved)),
        },
        AuditKind::SignInReported if detail.ends_with("was ended") => s(&td_string!(l, activity.reported_ended)),
        AuditKind::SignInReported => s(&td_string!(l, activity.reported)),
        AuditKind::CodeWithheld => s(&td_string!(l, activity.code_withheld)),
        AuditKind::SecondStepAsked => s(&match first_step(detail) {
            FirstStep::Code => td_string!(l, activity.second_step_code),
            FirstStep::Link => td_string!(l, activity.second_step_link),
            FirstStep::Approved => td_string!(l, activity.second_step_approved),
        }),
        AuditKind::SecondStepFailed => s(&td_string!(l, activity.second_step_failed)),
        AuditKind::SecondStepEnded => s(&td_string!(l, activity.second_step_ended)),
        AuditKind::AuthenticatorOn => s(&td_string!(l, activity.authenticator_on)),
        AuditKind::AuthenticatorOff => s(&td_string!(l, activity.authenticator_off)),
        AuditKind::BackupCodesMade => s(&td_string!(l, activity.backup_codes_made)),
    };
    let from =
        crate::auth::where_from(e.ip.as_deref(), e.browser.as_deref()).map(|f| crate::i18n::words::devices(&f, l));
    ActivityView { what, when: crate::i18n::words::date_time(e.at, l), from }
}

#[server(prefix = "/api", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<UserView>, AppError> {
    use crate::web::*;
    let state = app_state()?;
    let Some(token) = session_token() else { return Ok(None) };
    let user = state.auth.current_user(&token).await.map_err(fail)?;
    Ok(user.map(|u| UserView { identifier: u.identifier.as_ref().to_owned(), channel: u.identifier.channel() }))
}

#[cfg(feature = "ssr")]
fn pending_view(state: &crate::web::AppState, p: crate::auth::Pending) -> PendingView {
    let policy = state.auth.settings().code;
    PendingView {
        masked_destination: p.masked_destination,
        channel: p.channel,
        code_length: policy.length,
        numeric: policy.alphabet == crate::domain::CodeAlphabet::Digits,
        resend_in_secs: wait_secs(state, p.next_send_at),
        notice: None,
        return_to: crate::web::return_to(&state.return_rules).map(|to| to.as_str().to_owned()),
        pair_number: p.pair_number,
        awaiting_approval: p.pair_number.is_some() && p.approval == crate::auth::Approval::Waiting,
        approved: p.approval == crate::auth::Approval::Approved,
    }
}

#[server(prefix = "/api", endpoint = "pending_challenge")]
pub async fn pending_challenge() -> Result<Option<PendingView>, AppError> {
    use crate::web::*;
    let state = app_state()?;
    let Some(id) = pending_challenge_id() else { return Ok(None) };
    let pending = state.auth.pending(&id, &request_context()).await.map_err(fail)?;
    Ok(pending.map(|p| PendingView { notice: take_notice(), ..pending_view(&state, p) }))
}

/// From the code page: send the code to an email address instead (the text
/// message failed, or the person would rather). The person comes back to the
/// code page, which shows where the new code went.
#[server(prefix = "/api", endpoint = "switch_to_email")]
pub async fn switch_to_email(email: String) -> Result<PendingView, AppError> {
    use crate::web::*;
    let state = app_state()?;
    let pending = state.auth.request_email_code(&email, &request_context()).await.map_err(fail)?;
    remember_pending(&state, &pending);
    set_notice(crate::api::Notice::Switched);
    Ok(pending_view(&state, pending))
}

/// Which account the sign-in link this browser opened signs in to, if the
/// link still works. Reads only.
#[server(prefix = "/api", endpoint = "link_destination")]
pub async fn link_destination() -> Result<Option<LinkView>, AppError> {
    use crate::web::*;
    let state = app_state()?;
    let Some(link) = link_token() else { return Ok(None) };
    // A confirmation code's link opened in the browser that asked for it is
    // "this browser" too.
    let asked_here: Vec<_> = [pending_challenge_id(), confirm_challenge_id()].into_iter().flatten().collect();
    let info = state.auth.link_info(&link, &asked_here).await.map_err(fail)?;
    Ok(info.map(|i| {
        let elsewhere = i.requested_elsewhere.as_ref();
        LinkView {
            shown: i.shown,
            address: i.address,
            requested_elsewhere: elsewhere.is_some(),
            from_browser: elsewhere
                .and_then(|r| r.browser.as_deref().map(|b| crate::i18n::words::devices(b, crate::web::locale()))),
            from_ip: elsewhere.and_then(|r| r.ip.clone()),
            requested_at: elsewhere
                .map(|r| crate::i18n::words::date_time(r.at_ms, crate::web::locale()))
                .unwrap_or_default(),
            pair_number: i.pair_number,
        }
    }))
}

/// "Approve sign-in on that device", on the link's page in a browser that
/// did not ask: the asking browser signs in; this one gets nothing.
#[server(prefix = "/api", endpoint = "approve_link")]
pub async fn approve_link(#[server(default)] shown: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let link = link_token().ok_or_else(|| fail(AppError::LinkUnusable))?;
    state.auth.approve_with_link(&link, &shown, &request_context()).await.map_err(fail)?;
    clear_link_cookie();
    leptos_axum::redirect(crate::APPROVED_PATH);
    Ok(())
}

/// "That wasn't me", on the link's page: as the message's "Not you?" link.
#[server(prefix = "/api", endpoint = "report_link")]
pub async fn report_link(#[server(default)] shown: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let link = link_token().ok_or_else(|| fail(AppError::LinkUnusable))?;
    let done = state.auth.report_with_link(&link, &shown, &request_context()).await.map_err(fail)?;
    clear_link_cookie();
    set_notice(report_notice(done));
    leptos_axum::redirect(crate::NOT_YOU_PATH);
    Ok(())
}

/// The waiting code page's "I've approved it" (and what its script sends
/// once the approval came): opens the session here if the sign-in was
/// approved on another device; says so if not yet.
#[server(prefix = "/api", endpoint = "check_approval")]
pub async fn check_approval(#[server(default)] webauthn: bool) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let challenge = pending_challenge_id().ok_or_else(|| fail(AppError::NoChallenge))?;
    let outcome = state.auth.sign_in_approved(&challenge, &request_context()).await.map_err(fail)?;
    entered(&state, outcome, webauthn).await;
    Ok(())
}

#[cfg(feature = "ssr")]
fn report_notice(done: crate::auth::Reported) -> Notice {
    match done {
        crate::auth::Reported::Now => Notice::Reported,
        crate::auth::Reported::EndedSession => Notice::ReportedEndedSession,
        crate::auth::Reported::Already => Notice::AlreadyReported,
    }
}

/// What the "Not you?" page shows: the notice of the press just made, or
/// the message its link (in this browser's cookie) belongs to. Reads only.
#[server(prefix = "/api", endpoint = "report_info")]
pub async fn report_info() -> Result<(Option<Notice>, Option<ReportView>), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let ours = |n: &Notice| matches!(n, Notice::Reported | Notice::ReportedEndedSession | Notice::AlreadyReported);
    if let Some(notice) = take_notice().filter(ours) {
        return Ok((Some(notice), None));
    }
    let Some(token) = report_token() else { return Ok((None, None)) };
    let info = state.auth.report_info(&token).await.map_err(fail)?;
    Ok((
        None,
        info.map(|i| ReportView {
            masked_destination: i.masked_destination,
            by_sms: i.channel == crate::domain::Channel::Sms,
            from_browser: i.requested.browser.map(|b| crate::i18n::words::devices(&b, crate::web::locale())),
            from_ip: i.requested.ip,
            requested_at: crate::i18n::words::date_time(i.requested.at_ms, crate::web::locale()),
            already: i.already,
        }),
    ))
}

/// "That wasn't me" on the "Not you?" page. Once: a second press changes
/// nothing.
#[server(prefix = "/api", endpoint = "report_not_me")]
pub async fn report_not_me() -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = report_token().ok_or_else(|| fail(AppError::ReportUnusable))?;
    let done = state.auth.report_not_me(&token, &request_context()).await.map_err(fail)?;
    clear_report_cookie();
    set_notice(report_notice(done));
    leptos_axum::redirect(crate::NOT_YOU_PATH);
    Ok(())
}

/// The "Sign in" button on the link's confirmation page: the only place a
/// link is used up. `shown`: which link the page showed (see
/// `auth::LinkInfo::shown`); the cookie's link must be that one.
#[server(prefix = "/api", endpoint = "confirm_link")]
pub async fn confirm_link(#[server(default)] shown: String, #[server(default)] webauthn: bool) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let link = link_token().ok_or_else(|| fail(AppError::LinkUnusable))?;
    let outcome = state.auth.sign_in_with_link(&link, &shown, &request_context()).await.map_err(fail)?;
    clear_link_cookie();
    entered(&state, outcome, webauthn).await;
    Ok(())
}

/// The page that asks for the authenticator app's code (`None`: no sign-in
/// is waiting for one in this browser).
#[server(prefix = "/api", endpoint = "second_step")]
pub async fn second_step() -> Result<Option<SecondStepView>, AppError> {
    use crate::web::*;
    let state = app_state()?;
    let Some(token) = second_step_token() else { return Ok(None) };
    let info = state.auth.second_step_info(&token).await.map_err(fail)?;
    Ok(info.map(|i| SecondStepView { masked_destination: i.masked, answers_left: i.answers_left }))
}

/// The authenticator app's code, or a backup code, after a sign-in's first
/// step. `webauthn`: as for `verify_code`.
#[server(prefix = "/api", endpoint = "finish_sign_in")]
pub async fn finish_sign_in(code: String, #[server(default)] webauthn: bool) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = second_step_token().ok_or_else(|| fail(AppError::SecondStepGone))?;
    match state.auth.finish_second_step(&token, &code, &request_context()).await {
        Ok(session) => {
            clear_second_step_cookie();
            signed_in(&state, &session, webauthn).await;
            Ok(())
        }
        Err(e) => {
            // Nothing left to answer: the browser forgets it.
            if matches!(e, crate::auth::AuthError::SecondStepEnded | crate::auth::AuthError::SecondStepGone) {
                clear_second_step_cookie();
            }
            Err(fail(e))
        }
    }
}

/// "Turn on" an authenticator app, after a fresh proof: on to the set-up
/// page.
#[server(prefix = "/api", endpoint = "start_authenticator")]
pub async fn start_authenticator() -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    if or_confirm_first(state.auth.start_authenticator(&token).await)?.is_some() {
        leptos_axum::redirect(AUTHENTICATOR_PAGE_PATH);
    }
    Ok(())
}

/// The set-up page: the QR code while an app is being set up, and backup
/// codes just made (shown this once). `None`: not signed in.
#[server(prefix = "/api", endpoint = "authenticator_page")]
pub async fn authenticator_page() -> Result<Option<AuthenticatorPageView>, AppError> {
    use crate::web::*;
    let state = app_state()?;
    let Some(token) = session_token() else { return Ok(None) };
    let Some(user) = state.auth.current_user(&token).await.map_err(fail)? else { return Ok(None) };
    let setup = state.auth.authenticator_setup(&token).await.map_err(fail)?;
    let status = state.auth.authenticator_status(&user.id).await.map_err(fail)?;
    let backup_codes = take_backup_codes_cookie().map(|s| state.auth.open_backup_codes(&s, &token)).unwrap_or_default();
    Ok(Some(AuthenticatorPageView {
        setup: setup.map(|s| AuthenticatorSetupView { qr: s.qr, typed: s.typed, account: s.account }),
        backup_codes,
        on: status.on_since.is_some(),
        backup_codes_left: status.backup_codes_left,
    }))
}

/// The app's first code: it is on, and the backup codes are shown once.
#[server(prefix = "/api", endpoint = "enable_authenticator")]
pub async fn enable_authenticator(code: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    if let Some(codes) = or_confirm_first(state.auth.enable_authenticator(&token, &code, &request_context()).await)? {
        set_backup_codes_cookie(state.auth.seal_backup_codes(&codes, &token));
        leptos_axum::redirect(AUTHENTICATOR_PAGE_PATH);
    }
    Ok(())
}

/// Ten new backup codes in place of the old ones, after a fresh proof and
/// with the app's code (`code`, or a backup code).
#[server(prefix = "/api", endpoint = "new_backup_codes")]
pub async fn new_backup_codes(#[server(default)] code: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    if let Some(codes) = or_confirm_first(state.auth.new_backup_codes(&token, &code, &request_context()).await)? {
        set_backup_codes_cookie(state.auth.seal_backup_codes(&codes, &token));
        leptos_axum::redirect(AUTHENTICATOR_PAGE_PATH);
    }
    Ok(())
}

/// Turns the authenticator app off, after a fresh proof and with the app's
/// code (`code`, or a backup code).
#[server(prefix = "/api", endpoint = "disable_authenticator")]
pub async fn disable_authenticator(#[server(default)] code: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    if or_confirm_first(state.auth.disable_authenticator(&token, &code, &request_context()).await)?.is_some() {
        set_notice(Notice::AuthenticatorOff);
        leptos_axum::redirect("/account");
    }
    Ok(())
}
