use leptos::prelude::*;
use leptos_router::components::Redirect;

use super::{Card, PasskeyPanel, locale, words};
use crate::api::{
    AUTHENTICATOR_PAGE_PATH, AccountView, EndOtherSessions, EndSession, Notice, RemovePasskey, RenamePasskey, SignOut,
    StartAuthenticator, account, passkey_paths as paths,
};
use crate::domain::Channel;
use crate::i18n::td_string;

/// Every button is a plain form post, and doing one twice does no harm;
/// the one island is "Add a passkey", shown only where the browser can.
#[component]
pub fn Account() -> impl IntoView {
    let l = locale();
    view! {
        <Suspense fallback=move || view! { <Card title=td_string!(l, account.title)><p>{td_string!(l, loading)}</p></Card> }>
            {Suspend::new(async move {
                match account().await {
                    Ok(Some(a)) => view! { <Overview a/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/sign-in"/> }.into_any(),
                    Err(e) => view! {
                        <Card title=td_string!(l, account.title)>
                            <p class="field-error" role="alert">{words(&e)}</p>
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
    let l = locale();
    let how =
        if a.user.channel == Channel::Sms { td_string!(l, account.by_phone) } else { td_string!(l, account.by_email) };
    let others = a.sessions.iter().filter(|s| !s.this_browser).count();
    let sessions = a
        .sessions
        .into_iter()
        .map(|s| {
            let end = (!s.this_browser).then(|| {
                view! {
                    <ActionForm action=end_session attr:class="inline-form">
                        <input type="hidden" name="id" value=s.id.clone()/>
                        <button type="submit" class="secondary small">{td_string!(l, account.sign_out)}</button>
                    </ActionForm>
                }
            });
            let this = s.this_browser.then(|| view! { " " <strong class="this-browser">{td_string!(l, account.this_browser)}</strong> });
            view! {
                <li class="session" data-testid="session">
                    <p class="session-what">{s.browser}{this}</p>
                    <p class="hint">
                        {s.ip.map(|ip| format!("{ip} · "))}
                        {td_string!(l, account.session_times, signed_in = s.signed_in, last_seen = s.last_seen).to_string()}
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
                        <p class="hint">
                            {e.when}
                            {e.from.map(|f| format!(" · {}", td_string!(l, account.from, place = f)))}
                        </p>
                    </li>
                }
            })
            .collect_view()
    };
    let sign_ins = events(a.sign_ins);
    let activity = events(a.activity);
    let notice = a.notice.and_then(|n| match n {
        Notice::PasskeyAdded => Some(td_string!(l, account.passkey_added)),
        Notice::PasskeyRemoved => Some(td_string!(l, account.passkey_removed)),
        Notice::AuthenticatorOff => Some(td_string!(l, account.authenticator_off)),
        Notice::Confirmed => Some(td_string!(l, account.confirmed_notice)),
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
                            {td_string!(l, account.passkey_added_on, when = p.created).to_string()} " · "
                            {p.last_used.map_or_else(
                                || td_string!(l, account.never_used).to_owned(),
                                |t| td_string!(l, account.last_used, when = t).to_string(),
                            )}
                        </p>
                        <ActionForm action=rename attr:class="inline-form">
                            <input type="hidden" name="id" value=p.id.clone()/>
                            <label for=field.clone() class="visually-hidden">{td_string!(l, account.new_name_for, name = &p.name).to_string()}</label>
                            <input id=field name="name" type="text" value=p.name.clone() maxlength="64" required
                                class="small-input"/>
                            <button type="submit" class="secondary small">{td_string!(l, account.rename)}</button>
                        </ActionForm>
                        <ActionForm action=remove attr:class="inline-form">
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class="secondary small">{td_string!(l, account.remove)}</button>
                        </ActionForm>
                    </li>
                }
            })
            .collect_view();
        view! {
            <h2>{td_string!(l, account.passkeys)}</h2>
            <p class="hint">{td_string!(l, account.passkeys_hint)}</p>
            <p class="field-error" role="alert">{rename_error.map(|e| words(&e))}</p>
            <ul class="sessions" aria-label=td_string!(l, account.passkeys)>{list}</ul>
            <PasskeyPanel mode="add" options=paths::ADD_OPTIONS finish=paths::ADD label=td_string!(l, account.add_passkey) class="secondary"/>
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
                    {td_string!(l, account.authenticator_on_since, when = since).to_string()} " "
                    {td_string!(l, account.backup_codes_left, count = t.backup_codes_left).to_string()}
                </p>
                <p><a href=AUTHENTICATOR_PAGE_PATH class="link">{td_string!(l, account.authenticator_manage)}</a></p>
            }
            .into_any(),
            None => view! {
                <p class="hint">{td_string!(l, account.authenticator_offer)}</p>
                <p class="field-error" role="alert">{start_error.map(|e| words(&e))}</p>
                <ActionForm action=start attr:class="form">
                    <button type="submit" class="secondary">{td_string!(l, account.authenticator_set_up)}</button>
                </ActionForm>
            }
            .into_any(),
        };
        view! {
            <h2>{td_string!(l, account.authenticator)}</h2>
            {state}
        }
    });
    let confirmed = a.confirmed_until.map(|until| {
        view! { <p class="hint" data-testid="confirmed">{td_string!(l, account.confirmed_until, when = until).to_string()}</p> }
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
            <h2>{td_string!(l, account.where_you_can_go)}</h2>
            <ul class="apps" aria-label=td_string!(l, account.where_you_can_go)>{links}</ul>
        }
    });
    view! {
        <Card title=td_string!(l, account.title)>
            <p class="notice" role="status" aria-live="polite">{notice}</p>
            <p class="lede">{how}</p>
            <p class="identity" data-testid="identity">{a.user.identifier}</p>
            <ActionForm action=sign_out attr:class="form">
                <button type="submit" class="secondary">{td_string!(l, account.sign_out)}</button>
            </ActionForm>
            {apps}
            {passkeys}
            {authenticator}
            <h2>{td_string!(l, account.where_signed_in)}</h2>
            {confirmed}
            <ul class="sessions" aria-label=td_string!(l, account.where_signed_in)>{sessions}</ul>
            {(others > 0).then(|| view! {
                <ActionForm action=end_others attr:class="form">
                    <button type="submit" class="secondary">{td_string!(l, account.sign_out_others)}</button>
                </ActionForm>
            })}
            // Sign-ins apart from the rest: nobody can push one out of sight
            // with wrong codes or refused requests.
            <h2>{td_string!(l, account.recent_sign_ins)}</h2>
            <ul class="activity" aria-label=td_string!(l, account.recent_sign_ins) data-testid="sign-ins">{sign_ins}</ul>
            <h2>{td_string!(l, account.other_activity)}</h2>
            <ul class="activity" aria-label=td_string!(l, account.other_activity) data-testid="other-activity">{activity}</ul>
        </Card>
    }
}
