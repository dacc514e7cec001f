use leptos::prelude::*;
use leptos_router::components::Redirect;

use super::{Card, PasskeyPanel};
use crate::api::{
    AUTHENTICATOR_PAGE_PATH, AccountView, EndOtherSessions, EndSession, Notice, RemovePasskey, RenamePasskey, SignOut,
    StartAuthenticator, account, passkey_paths as paths,
};
use crate::domain::Channel;

/// Every button is a plain form post, and doing one twice does no harm;
/// the one island is "Add a passkey", shown only where the browser can.
#[component]
pub fn Account() -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <Card title="Your account"><p>"Loading…"</p></Card> }>
            {Suspend::new(async move {
                match account().await {
                    Ok(Some(a)) => view! { <Overview a/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/sign-in"/> }.into_any(),
                    Err(e) => view! {
                        <Card title="Your account">
                            <p class="field-error" role="alert">{e.to_string()}</p>
                        </Card>
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Overview(a: AccountView) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let end_session = ServerAction::<EndSession>::new();
    let end_others = ServerAction::<EndOtherSessions>::new();
    let how = if a.user.channel == Channel::Sms { "phone number" } else { "email address" };
    let others = a.sessions.iter().filter(|s| !s.this_browser).count();
    let sessions = a
        .sessions
        .into_iter()
        .map(|s| {
            let end = (!s.this_browser).then(|| {
                view! {
                    <ActionForm action=end_session attr:class="inline-form">
                        <input type="hidden" name="id" value=s.id.clone()/>
                        <button type="submit" class="secondary small">"Sign out"</button>
                    </ActionForm>
                }
            });
            let this = s.this_browser.then(|| view! { <strong class="this-browser">" (this browser)"</strong> });
            view! {
                <li class="session" data-testid="session">
                    <p class="session-what">{s.browser}{this}</p>
                    <p class="hint">
                        {s.ip.map(|ip| format!("{ip} · "))}
                        "Signed in " {s.signed_in} " · last seen " {s.last_seen}
                    </p>
                    {end}
                </li>
            }
        })
        .collect_view();
    let events = |list: Vec<crate::api::ActivityView>| {
        list.into_iter()
            .map(|e| {
                view! {
                    <li class="event" data-testid="event">
                        <p class="event-what">{e.what}</p>
                        <p class="hint">{e.when} {e.from.map(|f| format!(" · from {f}"))}</p>
                    </li>
                }
            })
            .collect_view()
    };
    let sign_ins = events(a.sign_ins);
    let activity = events(a.activity);
    let notice = a.notice.and_then(|n| match n {
        Notice::PasskeyAdded => Some("Passkey added. Next time you can sign in with it."),
        Notice::PasskeyRemoved => Some("Passkey removed."),
        Notice::AuthenticatorOff => Some("Authenticator app turned off. Its backup codes no longer work."),
        Notice::Confirmed => {
            Some("Thanks: for the next few minutes you can remove passkeys and sign out other devices.")
        }
        Notice::Resent
        | Notice::Switched
        | Notice::Reported
        | Notice::ReportedEndedSession
        | Notice::AlreadyReported => None,
    });
    let passkeys = a.passkeys_enabled.then(|| {
        let rename = ServerAction::<RenamePasskey>::new();
        let remove = ServerAction::<RemovePasskey>::new();
        let rename_error = rename.value().get_untracked().and_then(Result::err);
        let list = a
            .passkeys
            .into_iter()
            .map(|p| {
                let field = format!("passkey-name-{}", p.id);
                let id = p.id.clone();
                view! {
                    <li class="session" data-testid="passkey">
                        <p class="session-what">{p.name.clone()}</p>
                        <p class="hint">
                            "Added " {p.created} " · "
                            {p.last_used.map_or_else(|| "never used".to_owned(), |t| format!("last used {t}"))}
                        </p>
                        <ActionForm action=rename attr:class="inline-form">
                            <input type="hidden" name="id" value=p.id.clone()/>
                            <label for=field.clone() class="visually-hidden">{format!("New name for {}", p.name)}</label>
                            <input id=field name="name" type="text" value=p.name.clone() maxlength="64" required
                                class="small-input"/>
                            <button type="submit" class="secondary small">"Rename"</button>
                        </ActionForm>
                        <ActionForm action=remove attr:class="inline-form">
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class="secondary small">"Remove"</button>
                        </ActionForm>
                    </li>
                }
            })
            .collect_view();
        view! {
            <h2>"Passkeys"</h2>
            <p class="hint">
                "Sign in with your fingerprint, face or screen lock instead of a code. Codes still work."
            </p>
            <p class="field-error" role="alert">{rename_error.map(|e| e.to_string())}</p>
            <ul class="sessions" aria-label="Passkeys">{list}</ul>
            <PasskeyPanel mode="add" options=paths::ADD_OPTIONS finish=paths::ADD label="Add a passkey" class="secondary"/>
        }
    });
    // Off: a button to set one up (after a fresh proof). On: since when,
    // and the page that makes new backup codes or turns it off.
    let authenticator = a.authenticator.map(|t| {
        let start = ServerAction::<StartAuthenticator>::new();
        let start_error = start.value().get_untracked().and_then(Result::err);
        let state = match t.on_since {
            Some(since) => view! {
                <p class="hint" data-testid="authenticator-status">
                    {format!("On since {since}. {} of 10 backup codes left.", t.backup_codes_left)}
                </p>
                <p><a href=AUTHENTICATOR_PAGE_PATH class="link">"Backup codes, or turn it off"</a></p>
            }
            .into_any(),
            None => view! {
                <p class="hint">
                    "After a code or a link, also ask for the code an authenticator app on your phone shows. "
                    "Passkeys count as both."
                </p>
                <p class="field-error" role="alert">{start_error.map(|e| e.to_string())}</p>
                <ActionForm action=start attr:class="form">
                    <button type="submit" class="secondary">"Set up an authenticator app"</button>
                </ActionForm>
            }
            .into_any(),
        };
        view! {
            <h2>"Authenticator app"</h2>
            {state}
        }
    });
    let confirmed = a.confirmed_until.map(|until| {
        view! { <p class="hint" data-testid="confirmed">"Confirmed it's you " {until} "."</p> }
    });
    // The apps behind forward auth that the access rules let this account
    // open, by name (rules with a wildcard name no host to link to).
    let apps = (!a.apps.is_empty()).then(|| {
        let links = a
            .apps
            .into_iter()
            .map(|url| {
                let host = url.split("://").nth(1).unwrap_or(&url).trim_end_matches('/').to_owned();
                view! { <li class="app"><a href=url class="link">{host}</a></li> }
            })
            .collect_view();
        view! {
            <h2>"Where you can go"</h2>
            <ul class="apps" aria-label="Where you can go">{links}</ul>
        }
    });
    view! {
        <Card title="You're signed in">
            <p class="notice" role="status" aria-live="polite">{notice}</p>
            <p class="lede">"Signed in with the " {how}</p>
            <p class="identity" data-testid="identity">{a.user.identifier}</p>
            <ActionForm action=sign_out attr:class="form">
                <button type="submit" class="secondary">"Sign out"</button>
            </ActionForm>
            {apps}
            {passkeys}
            {authenticator}
            <h2>"Where you're signed in"</h2>
            {confirmed}
            <ul class="sessions" aria-label="Where you're signed in">{sessions}</ul>
            {(others > 0).then(|| view! {
                <ActionForm action=end_others attr:class="form">
                    <button type="submit" class="secondary">"Sign out everywhere else"</button>
                </ActionForm>
            })}
            // Sign-ins apart from the rest: nobody can push one out of sight
            // with wrong codes or refused requests.
            <h2>"Recent sign-ins"</h2>
            <ul class="activity" aria-label="Recent sign-ins" data-testid="sign-ins">{sign_ins}</ul>
            <h2>"Other security activity"</h2>
            <ul class="activity" aria-label="Other security activity" data-testid="other-activity">{activity}</ul>
        </Card>
    }
}
