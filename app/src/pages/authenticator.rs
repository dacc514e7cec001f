//! The authenticator app's pages: setting it up from the account page (a
//! QR code and the secret in text, then its first code; the backup codes
//! shown once), and the second step of a sign-in, which asks for its code.
//! Plain forms: both work without JavaScript.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::Redirect;

use super::{Card, FieldMessage, locale, words};
use crate::api::{
    AuthenticatorPageView, DisableAuthenticator, EnableAuthenticator, FinishSignIn, NewBackupCodes, SecondStepView,
    StartAuthenticator, authenticator_page, second_step,
};
use crate::domain::{AppError, Field};
use crate::i18n::{td, td_string};
use crate::islands::SignInButton;

/// `/sign-in/authenticator`: after a right code, link or approval, for an
/// account with an authenticator app on.
#[component]
pub fn SecondStep() -> impl IntoView {
    let l = locale();
    view! {
        <Suspense fallback=move || view! { <Card title=td_string!(l, authenticator.second_step_title)><p>{td_string!(l, loading)}</p></Card> }>
            {Suspend::new(async move {
                match second_step().await {
                    Ok(Some(s)) => view! { <SecondStepForm s/> }.into_any(),
                    Ok(None) => view! { <SecondStepGone/> }.into_any(),
                    Err(e) => view! {
                        <Card title=td_string!(l, authenticator.second_step_title)>
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
fn SecondStepGone() -> impl IntoView {
    let finish = ServerAction::<FinishSignIn>::new();
    // The last answer's word when it ended the sign-in ("too many wrong
    // codes"), else the general one.
    let said = finish.value().get_untracked().and_then(Result::err).unwrap_or(AppError::SecondStepGone);
    let l = locale();
    view! {
        <Card title=td_string!(l, authenticator.second_step_title)>
            <p role="alert">{words(&said)}</p>
            <p><a href="/sign-in" class="button primary">{td_string!(l, authenticator.start_again)}</a></p>
        </Card>
    }
}

#[component]
fn SecondStepForm(s: SecondStepView) -> impl IntoView {
    let finish = ServerAction::<FinishSignIn>::new();
    let error = finish.value().get_untracked().and_then(Result::err);
    let invalid = error.as_ref().is_some_and(|e| e.field() == Field::Code);
    let l = locale();
    let hint = td_string!(l, authenticator.second_step_hint, destination = &s.masked_destination).to_string();
    view! {
        <Card title=td_string!(l, authenticator.second_step_title)>
            <p class="lede" id="totp-hint">{hint}</p>
            <ActionForm action=finish attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="code">{td_string!(l, authenticator.code_label)}</label>
                    <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"
                        pattern="[0-9 -]*|[A-Za-z2-9 -]*" maxlength="24" required autofocus=true spellcheck="false"
                        class="code-input" aria-describedby="totp-hint code-error backup-hint"
                        aria-invalid=invalid.then_some("true")/>
                    <FieldMessage id="code-error" field=Field::Code error=error.clone()/>
                </div>
                <FieldMessage id="form-error" field=Field::Form error=error/>
                <SignInButton/>
            </ActionForm>
            <p class="hint" id="backup-hint">{td_string!(l, authenticator.backup_hint)}</p>
            <p><a href="/sign-in" class="link">{td_string!(l, authenticator.start_again)}</a></p>
        </Card>
    }
}

/// `/account/authenticator`: setting the app up, and the backup codes.
#[component]
pub fn AuthenticatorPage() -> impl IntoView {
    let l = locale();
    view! {
        <Suspense fallback=move || view! { <Card title=td_string!(l, authenticator.title)><p>{td_string!(l, loading)}</p></Card> }>
            {Suspend::new(async move {
                match authenticator_page().await {
                    Ok(Some(p)) => view! { <Authenticator p/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/sign-in"/> }.into_any(),
                    Err(e) => view! {
                        <Card title=td_string!(l, authenticator.title)>
                            <p class="field-error" role="alert">{words(&e)}</p>
                            <p><a href="/account" class="link">{td_string!(l, authenticator.back)}</a></p>
                        </Card>
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Authenticator(p: AuthenticatorPageView) -> impl IntoView {
    let enable = ServerAction::<EnableAuthenticator>::new();
    let start = ServerAction::<StartAuthenticator>::new();
    let renew = ServerAction::<NewBackupCodes>::new();
    let disable = ServerAction::<DisableAuthenticator>::new();
    let enable_error = enable.value().get_untracked().and_then(Result::err);
    let other_error = start.value().get_untracked().and_then(Result::err);
    let change_error =
        [renew.value(), disable.value()].into_iter().find_map(|v| v.get_untracked().and_then(Result::err));
    let invalid = enable_error.as_ref().is_some_and(|e| e.field() == Field::Code);
    let l = locale();
    let codes = (!p.backup_codes.is_empty()).then(|| {
        let list = p.backup_codes.iter().map(|c| view! { <li><code>{c.clone()}</code></li> }).collect_view();
        view! {
            <h2>{td_string!(l, authenticator.your_codes)}</h2>
            <p class="notice" role="status">{td_string!(l, authenticator.save_now)}</p>
            <ul class="backup-codes" data-testid="backup-codes" aria-label=td_string!(l, authenticator.codes_label)>{list}</ul>
        }
    });
    let body = if let Some(setup) = p.setup {
        let account = setup.account;
        view! {
            <p class="lede">{td_string!(l, authenticator.scan)}</p>
            <img class="qr" src=setup.qr width="200" height="200" alt=td_string!(l, authenticator.qr_alt)/>
            <p class="hint" id="secret-hint">{td_string!(l, authenticator.by_hand)}</p>
            <p class="secret" data-testid="totp-secret" aria-describedby="secret-hint"><code>{setup.typed}</code></p>
            <p class="hint">
                {td!(l, authenticator.listed_as, account = move || account.clone(), <strong> = |c: ChildrenFn| view! { <strong>{c()}</strong> })}
            </p>
            <ActionForm action=enable attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="code">{td_string!(l, authenticator.code_label)}</label>
                    <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"
                        pattern="[0-9 -]*" maxlength="12" required autofocus=true spellcheck="false"
                        class="code-input" aria-describedby="code-error" aria-invalid=invalid.then_some("true")/>
                    <FieldMessage id="code-error" field=Field::Code error=enable_error.clone()/>
                </div>
                <FieldMessage id="form-error" field=Field::Form error=enable_error/>
                <button type="submit" class="primary">{td_string!(l, authenticator.turn_on)}</button>
            </ActionForm>
        }
        .into_any()
    } else if p.on {
        // One field for both changes: each takes the app's code now (or a
        // backup code) besides a fresh proof.
        let change_invalid = change_error.as_ref().is_some_and(|e| e.field() == Field::Code);
        view! {
            <p class="lede" data-testid="authenticator-on">{td_string!(l, authenticator.on)}</p>
            <p class="hint">{td_string!(l, account.backup_codes_left, count = p.backup_codes_left).to_string()}</p>
            <ActionForm action=renew attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="code">{td_string!(l, authenticator.code_label)}</label>
                    <p class="hint" id="change-hint">{td_string!(l, authenticator.change_hint)}</p>
                    <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"
                        maxlength="24" required spellcheck="false" class="code-input"
                        aria-describedby="change-hint code-error" aria-invalid=change_invalid.then_some("true")/>
                    <FieldMessage id="code-error" field=Field::Code error=change_error.clone()/>
                </div>
                <FieldMessage id="form-error" field=Field::Form error=change_error/>
                <button type="submit" class="secondary">{td_string!(l, authenticator.new_codes)}</button>
                <button type="submit" class="secondary" formaction=DisableAuthenticator::url()>
                    {td_string!(l, authenticator.turn_off)}
                </button>
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <p class="lede">{td_string!(l, authenticator.none)}</p>
            <ActionForm action=start attr:class="form">
                <button type="submit" class="primary">{td_string!(l, authenticator.set_up)}</button>
            </ActionForm>
        }
        .into_any()
    };
    view! {
        <Card title=td_string!(l, authenticator.title)>
            {codes}
            {body}
            <p class="field-error" role="alert">{other_error.map(|e| words(&e))}</p>
            <p><a href="/account" class="link">{td_string!(l, authenticator.back)}</a></p>
        </Card>
    }
}
