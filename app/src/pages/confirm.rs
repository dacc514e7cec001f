use leptos::prelude::*;
use leptos_router::components::Redirect;

use super::{Card, FieldMessage, PasskeyPanel, locale, passkeys_on, words};
use crate::api::{ConfirmView, ConfirmWithCode, SendConfirmationCode, confirmation, passkey_paths as paths};
use crate::domain::{Channel, Field};
use crate::i18n::td_string;

/// "Confirm it's you": before removing or adding a passkey or ending other
/// sessions, a session that has not proved itself in the last five minutes
/// (`PASSCODE_FRESH_PROOF_SECS`) does so here, with a passkey or a new code to the account's address.
/// Then it goes back to the account page to do what it came to do.
#[component]
pub fn ConfirmItsYou() -> impl IntoView {
    let l = locale();
    view! {
        <Suspense fallback=move || view! { <Card title=td_string!(l, confirm.title)><p>{td_string!(l, loading)}</p></Card> }>
            {Suspend::new(async move {
                match confirmation().await {
                    Ok(Some(c)) => view! { <Confirm c/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/sign-in"/> }.into_any(),
                    Err(e) => view! {
                        <Card title=td_string!(l, confirm.title)>
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
fn Confirm(c: ConfirmView) -> impl IntoView {
    let send = ServerAction::<SendConfirmationCode>::new();
    let check = ServerAction::<ConfirmWithCode>::new();
    let send_error = send.value().get_untracked().and_then(Result::err);
    let check_error = check.value().get_untracked().and_then(Result::err);
    let invalid = check_error.as_ref().is_some_and(|e| e.field() == Field::Code);
    let l = locale();
    let by = if c.channel == Channel::Sms { td_string!(l, confirm.text_me) } else { td_string!(l, confirm.email_me) };
    let (inputmode, pattern) = if c.numeric { ("numeric", "[0-9 -]*") } else { ("text", "[A-Za-z0-9 -]*") };
    let passkey = (c.has_passkeys && passkeys_on()).then(|| {
        view! {
            <PasskeyPanel mode="confirm" options=paths::CONFIRM_OPTIONS finish=paths::CONFIRM label=td_string!(l, confirm.use_passkey)/>
        }
    });
    let (count, destination) = (c.code_length, c.masked_destination.as_str());
    let hint = if c.numeric {
        td_string!(l, verify.hint_digits, count = count, destination = destination).to_string()
    } else {
        td_string!(l, verify.hint_characters, count = count, destination = destination).to_string()
    };
    let code_form = c.code_sent.then(|| {
        view! {
            <ActionForm action=check attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="code">{td_string!(l, confirm.code_label)}</label>
                    <p class="hint" id="code-hint">{hint}</p>
                    <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode=inputmode
                        pattern=pattern maxlength="24" required autofocus=true spellcheck="false"
                        autocapitalize="characters" class="code-input" aria-describedby="code-hint code-error"
                        aria-invalid=invalid.then_some("true")/>
                    <FieldMessage id="code-error" field=Field::Code error=check_error.clone()/>
                </div>
                {c.asks_app.then(|| view! {
                    <div class="field">
                        <label for="app-code">{td_string!(l, confirm.app_code_label)}</label>
                        <p class="hint" id="app-code-hint">{td_string!(l, confirm.app_code_hint)}</p>
                        <input id="app-code" name="app_code" type="text" autocomplete="one-time-code"
                            inputmode="numeric" maxlength="24" required spellcheck="false" class="code-input"
                            aria-describedby="app-code-hint code-error"/>
                    </div>
                })}
                <FieldMessage id="form-error" field=Field::Form error=check_error/>
                <button type="submit" class="primary">{td_string!(l, confirm.confirm)}</button>
            </ActionForm>
        }
    });
    view! {
        <Card title=td_string!(l, confirm.title)>
            <p class="lede">{td_string!(l, confirm.why)}</p>
            {passkey}
            {code_form}
            <ActionForm action=send attr:class="form">
                <p class="hint">{td_string!(l, confirm.new_code_to, destination = &c.masked_destination).to_string()}</p>
                <button type="submit" class="secondary">{if c.code_sent { td_string!(l, confirm.send_new) } else { by }}</button>
            </ActionForm>
            <p id="send-error" class="field-error" role="alert" aria-live="assertive">
                {send_error.map(|e| words(&e))}
            </p>
            <p><a href="/account" class="link">{td_string!(l, confirm.back)}</a></p>
        </Card>
    }
}
