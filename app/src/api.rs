//! Server functions: the app's server actions. Each one reads request facts,
//! calls the auth core and turns the outcome into cookies, a redirect or an
//! `AppError`. No auth logic lives here.
//!
//! Cross-site requests never reach these: the server's `cross_site_guard`
//! middleware refuses them first. All use POST (the default encoding).

use crate::domain::AppError;
pub use crate::domain::{AccountView, ActivityView, LinkView, Notice, PendingView, SessionView, UserView};

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

/// Both ways in end here: the session cookie, no pending code left in this
/// browser, and the page this browser asked to go back to (a checked `rd`)
/// or the account page.
#[cfg(feature = "ssr")]
fn signed_in(state: &crate::web::AppState, session: &crate::auth::NewSession) {
    use crate::web::*;
    set_session_cookie(&state.session_cookie, &session.token, seconds_until(state, session.expires_at));
    set_device_cookie(&session.device);
    clear_pending_cookie();
    let back = return_to(&state.return_rules);
    clear_return_cookie();
    match back {
        Some(to) => leptos_axum::redirect(to.as_str()),
        None => leptos_axum::redirect("/account"),
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

#[server(prefix = "/api", endpoint = "verify_code")]
pub async fn verify_code(code: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let challenge = pending_challenge_id().ok_or_else(|| fail(AppError::NoChallenge))?;
    let session = state.auth.verify_code(&challenge, &code, &request_context()).await.map_err(fail)?;
    signed_in(&state, &session);
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
    Ok(overview.map(|a| account_view(&state, a)))
}

/// Ends another session of this account (`id`: its public handle).
#[server(prefix = "/api", endpoint = "end_session")]
pub async fn end_session(id: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    match state.auth.revoke_session(&token, &id, &request_context()).await.map_err(fail)? {
        crate::auth::Revoked::Other => leptos_axum::redirect("/account"),
        crate::auth::Revoked::ThisBrowser => {
            sign_out_browser(&state.session_cookie);
            leptos_axum::redirect("/sign-in");
        }
    }
    Ok(())
}

/// Ends every session of this account but this browser's.
#[server(prefix = "/api", endpoint = "end_other_sessions")]
pub async fn end_other_sessions() -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let token = session_token().ok_or_else(|| fail(AppError::NotSignedIn))?;
    state.auth.revoke_other_sessions(&token, &request_context()).await.map_err(fail)?;
    leptos_axum::redirect("/account");
    Ok(())
}

#[cfg(feature = "ssr")]
fn account_view(state: &crate::web::AppState, a: crate::auth::AccountOverview) -> AccountView {
    use crate::auth::utc_date_time;
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
            browser: s.browser.unwrap_or_else(|| "Unknown browser".into()),
            ip: s.ip,
            signed_in: utc_date_time(s.signed_in_at),
            last_seen: utc_date_time(s.last_seen_at),
            this_browser: s.this_browser,
        })
        .collect();
    let words = |entries: Vec<crate::auth::ActivityEntry>| -> Vec<ActivityView> {
        entries.into_iter().map(activity_view).collect()
    };
    let (sign_ins, activity) = (words(a.sign_ins), words(a.activity));
    AccountView {
        user: UserView { identifier: a.user.identifier.as_ref().to_owned(), channel: a.user.identifier.channel() },
        sessions,
        sign_ins,
        activity,
        apps,
    }
}

/// One security event in words.
#[cfg(feature = "ssr")]
fn activity_view(e: crate::auth::ActivityEntry) -> ActivityView {
    use crate::auth::{AuditKind, ENDED_ELSEWHERE, REPLACED, utc_date_time};
    let detail = e.detail.as_deref().unwrap_or("");
    let what = match e.kind {
        AuditKind::CodeSent if detail == "sms" => "Sign-in code sent by text message".to_owned(),
        AuditKind::CodeSent => "Sign-in code sent by email".to_owned(),
        AuditKind::DeliveryFailed => "A sign-in code could not be delivered".to_owned(),
        AuditKind::RateLimited => "A request was refused: too many in a short time".to_owned(),
        AuditKind::VerificationFailed => "Wrong code entered".to_owned(),
        AuditKind::ChallengeBurned => "A code stopped working after too many wrong tries".to_owned(),
        AuditKind::DestinationLocked => "Sign-in locked for a while after too many wrong codes".to_owned(),
        AuditKind::SignedIn if detail == "link" => "Signed in with the email's link".to_owned(),
        AuditKind::SignedIn => "Signed in with a code".to_owned(),
        AuditKind::SignedOut if detail.is_empty() => "Signed out".to_owned(),
        AuditKind::SignedOut if detail == ENDED_ELSEWHERE => "A session was ended from another browser".to_owned(),
        AuditKind::SignedOut if detail == REPLACED => "Signed in again in the same browser".to_owned(),
        AuditKind::SignedOut => format!("Signed out everywhere else ({detail})"),
        // The host came through a proxy from a request URL: the
        // audit trail has it, the page keeps to our own words.
        AuditKind::AccessRefused => "This account was refused entry to an app".to_owned(),
    };
    let from = crate::auth::where_from(e.ip.as_deref(), e.browser.as_deref());
    ActivityView { what, when: utc_date_time(e.at), from }
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
    let info = state.auth.link_info(&link, pending_challenge_id().as_ref()).await.map_err(fail)?;
    Ok(info.map(|i| LinkView {
        shown: i.shown,
        address: i.address,
        requested_elsewhere: i.requested_elsewhere.map(|r| {
            let at = crate::auth::clock_time_utc(r.at_ms);
            match r.browser {
                Some(browser) => format!("{browser} at {at} UTC"),
                None => format!("another browser at {at} UTC"),
            }
        }),
    }))
}

/// The "Sign in" button on the link's confirmation page: the only place a
/// link is used up. `shown`: which link the page showed (see
/// `auth::LinkInfo::shown`); the cookie's link must be that one.
#[server(prefix = "/api", endpoint = "confirm_link")]
pub async fn confirm_link(#[server(default)] shown: String) -> Result<(), AppError> {
    use crate::web::*;
    let state = app_state()?;
    let link = link_token().ok_or_else(|| fail(AppError::LinkUnusable))?;
    let session = state.auth.sign_in_with_link(&link, &shown, &request_context()).await.map_err(fail)?;
    clear_link_cookie();
    signed_in(&state, &session);
    Ok(())
}
