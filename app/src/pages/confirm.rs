use leptos::prelude::*;
use leptos_router::components::Redirect;

use super::{Card, FieldMessage, PasskeyPanel, passkeys_on};
use crate::api::{ConfirmView, ConfirmWithCode, SendConfirmationCode, confirmation, passkey_paths as paths};
use crate::domain::{Channel, Field};

/// "Confirm it's you": before removing or adding a passkey or ending other
/// sessions, a session that has not proved itself in the last five minutes
/// (`PASSCODE_FRESH_PROOF_SECS`) does so here, with a passkey or a new code to the account's address.
/// Then it goes back to the account page to do what it came to do.
#[component]
pub fn ConfirmItsYou() -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <Card title="Confirm it's you"><p>"Loading…"</p></Card> }>
            {Suspend::new(async move {
                match confirmation().await {
                    Ok(Some(c)) => view! { <Confirm c/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/sign-in"/> }.into_any(),
                    Err(e) => view! {
                        <Card title="Confirm it's you">
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
fn Confirm(c: ConfirmView) -> impl IntoView {
    let send = ServerAction::<SendConfirmationCode>::new();
    let check = ServerAction::<ConfirmWithCode>::new();
    let send_error = send.value().get_untracked().and_then(Result::err);
    let check_error = check.value().get_untracked().and_then(Result::err);
    let invalid = check_error.as_ref().is_some_and(|e| e.field() == Field::Code);
    let by = if c.channel == Channel::Sms { "Text me a code" } else { "Email me a code" };
    let (inputmode, pattern) = if c.numeric { ("numeric", "[0-9 -]*") } else { ("text", "[A-Za-z0-9 -]*") };
    let passkey = (c.has_passkeys && passkeys_on()).then(|| {
        view! {
            <PasskeyPanel mode="confirm" options=paths::CONFIRM_OPTIONS finish=paths::CONFIRM label="Use your passkey"/>
        }
    });
    let hint = format!(
        "We sent a {}-{} code to {}.",
        c.code_length,
        if c.numeric { "digit" } else { "character" },
        c.masked_destination
    );
    let code_form = c.code_sent.then(|| {
        view! {
            <ActionForm action=check attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="code">"Code"</label>
                    <p class="hint" id="code-hint">{hint}</p>
                    <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode=inputmode
                        pattern=pattern maxlength="24" required autofocus=true spellcheck="false"
                        autocapitalize="characters" class="code-input" aria-describedby="code-hint code-error"
                        aria-invalid=invalid.then_some("true")/>
                    <FieldMessage id="code-error" field=Field::Code error=check_error.clone()/>
                </div>
                {c.asks_app.then(|| view! {
                    <div class="field">
                        <label for="app-code">"Code from your authenticator app"</label>
                        <p class="hint" id="app-code-hint">"Or one of your backup codes."</p>
                        <input id="app-code" name="app_code" type="text" autocomplete="one-time-code"
                            inputmode="numeric" maxlength="24" required spellcheck="false" class="code-input"
                            aria-describedby="app-code-hint code-error"/>
                    </div>
                })}
                <FieldMessage id="form-error" field=Field::Form error=check_error/>
                <button type="submit" class="primary">"Confirm"</button>
            </ActionForm>
        }
    });
    view! {
        <Card title="Confirm it's you">
            <p class="lede">
                "Removing or adding a passkey, changing your authenticator app and signing out other devices "
                "need a recent proof that this is you. It lasts a few minutes."
            </p>
            {passkey}
            {code_form}
            <ActionForm action=send attr:class="form">
                <p class="hint">{format!("Or get a new code sent to {}.", c.masked_destination)}</p>
                <button type="submit" class="secondary">{if c.code_sent { "Send a new code" } else { by }}</button>
            </ActionForm>
            <p id="send-error" class="field-error" role="alert" aria-live="assertive">
                {send_error.map(|e| e.to_string())}
            </p>
            <p><a href="/account" class="link">"Back to your account"</a></p>
        </Card>
    }
}
