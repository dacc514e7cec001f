//! The authenticator app's pages: setting it up from the account page (a
//! QR code and the secret in text, then its first code; the backup codes
//! shown once), and the second step of a sign-in, which asks for its code.
//! Plain forms: both work without JavaScript.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::Redirect;

use super::{Card, FieldMessage};
use crate::api::{
    AuthenticatorPageView, DisableAuthenticator, EnableAuthenticator, FinishSignIn, NewBackupCodes, SecondStepView,
    StartAuthenticator, authenticator_page, second_step,
};
use crate::domain::{AppError, Field};
use crate::islands::SignInButton;

/// `/sign-in/authenticator`: after a right code, link or approval, for an
/// account with an authenticator app on.
#[component]
pub fn SecondStep() -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <Card title="Enter your authenticator code"><p>"Loading…"</p></Card> }>
            {Suspend::new(async move {
                match second_step().await {
                    Ok(Some(s)) => view! { <SecondStepForm s/> }.into_any(),
                    Ok(None) => view! { <SecondStepGone/> }.into_any(),
                    Err(e) => view! {
                        <Card title="Enter your authenticator code">
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
fn SecondStepGone() -> impl IntoView {
    let finish = ServerAction::<FinishSignIn>::new();
    // The last answer's word when it ended the sign-in ("too many wrong
    // codes"), else the general one.
    let said = finish.value().get_untracked().and_then(Result::err).unwrap_or(AppError::SecondStepGone);
    view! {
        <Card title="Enter your authenticator code">
            <p role="alert">{said.to_string()}</p>
            <p><a href="/sign-in" class="button primary">"Start again"</a></p>
        </Card>
    }
}

#[component]
fn SecondStepForm(s: SecondStepView) -> impl IntoView {
    let finish = ServerAction::<FinishSignIn>::new();
    let error = finish.value().get_untracked().and_then(Result::err);
    let invalid = error.as_ref().is_some_and(|e| e.field() == Field::Code);
    let hint = format!(
        "The code to {} was right. This account also asks for the 6-digit code your authenticator app shows.",
        s.masked_destination
    );
    view! {
        <Card title="Enter your authenticator code">
            <p class="lede" id="totp-hint">{hint}</p>
            <ActionForm action=finish attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="code">"Code from your app"</label>
                    <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"
                        pattern="[0-9 -]*|[A-Za-z2-9 -]*" maxlength="24" required autofocus=true spellcheck="false"
                        class="code-input" aria-describedby="totp-hint code-error backup-hint"
                        aria-invalid=invalid.then_some("true")/>
                    <FieldMessage id="code-error" field=Field::Code error=error.clone()/>
                </div>
                <FieldMessage id="form-error" field=Field::Form error=error/>
                <SignInButton/>
            </ActionForm>
            <p class="hint" id="backup-hint">
                "No phone to hand? Type one of your backup codes in the same box instead. Each works once. "
                "Five wrong answers end this sign-in."
            </p>
            <p><a href="/sign-in" class="link">"Start again"</a></p>
        </Card>
    }
}

/// `/account/authenticator`: setting the app up, and the backup codes.
#[component]
pub fn AuthenticatorPage() -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <Card title="Authenticator app"><p>"Loading…"</p></Card> }>
            {Suspend::new(async move {
                match authenticator_page().await {
                    Ok(Some(p)) => view! { <Authenticator p/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/sign-in"/> }.into_any(),
                    Err(e) => view! {
                        <Card title="Authenticator app">
                            <p class="field-error" role="alert">{e.to_string()}</p>
                            <p><a href="/account" class="link">"Back to your account"</a></p>
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
    let codes = (!p.backup_codes.is_empty()).then(|| {
        let list = p.backup_codes.iter().map(|c| view! { <li><code>{c.clone()}</code></li> }).collect_view();
        view! {
            <h2>"Your backup codes"</h2>
            <p class="notice" role="status">
                "Save these now: this is the only time they are shown. Each one signs you in once when your "
                "phone is not to hand. Keep them somewhere safe, apart from your phone."
            </p>
            <ul class="backup-codes" data-testid="backup-codes" aria-label="Backup codes">{list}</ul>
        }
    });
    let body = if let Some(setup) = p.setup {
        view! {
            <p class="lede">
                "Scan this QR code with your authenticator app (such as Google Authenticator, Microsoft "
                "Authenticator, 1Password or Aegis), then type the 6-digit code it shows."
            </p>
            <img class="qr" src=setup.qr width="200" height="200"
                alt="QR code for your authenticator app; the same key is written below"/>
            <p class="hint" id="secret-hint">"Can't scan it? Add an account by hand with this key (time-based):"</p>
            <p class="secret" data-testid="totp-secret" aria-describedby="secret-hint"><code>{setup.typed}</code></p>
            <p class="hint">"It will be listed as " <strong>{setup.account}</strong> "."</p>
            <ActionForm action=enable attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="code">"Code from your app"</label>
                    <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"
                        pattern="[0-9 -]*" maxlength="12" required autofocus=true spellcheck="false"
                        class="code-input" aria-describedby="code-error" aria-invalid=invalid.then_some("true")/>
                    <FieldMessage id="code-error" field=Field::Code error=enable_error.clone()/>
                </div>
                <FieldMessage id="form-error" field=Field::Form error=enable_error/>
                <button type="submit" class="primary">"Turn on"</button>
            </ActionForm>
        }
        .into_any()
    } else if p.on {
        // One field for both changes: each takes the app's code now (or a
        // backup code) besides a fresh proof.
        let change_invalid = change_error.as_ref().is_some_and(|e| e.field() == Field::Code);
        view! {
            <p class="lede" data-testid="authenticator-on">
                "Your authenticator app is on: after a code or link, signing in asks for its code too."
            </p>
            <p class="hint">{format!("{} of 10 backup codes left.", p.backup_codes_left)}</p>
            <ActionForm action=renew attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="code">"Code from your app"</label>
                    <p class="hint" id="change-hint">
                        "To make new backup codes or turn the app off, type the code it shows now (or a backup code)."
                    </p>
                    <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"
                        maxlength="24" required spellcheck="false" class="code-input"
                        aria-describedby="change-hint code-error" aria-invalid=change_invalid.then_some("true")/>
                    <FieldMessage id="code-error" field=Field::Code error=change_error.clone()/>
                </div>
                <FieldMessage id="form-error" field=Field::Form error=change_error/>
                <button type="submit" class="secondary">"Make new backup codes"</button>
                <button type="submit" class="secondary" formaction=DisableAuthenticator::url()>
                    "Turn off the authenticator app"
                </button>
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <p class="lede">"No authenticator app is being set up."</p>
            <ActionForm action=start attr:class="form">
                <button type="submit" class="primary">"Set up an authenticator app"</button>
            </ActionForm>
        }
        .into_any()
    };
    view! {
        <Card title="Authenticator app">
            {codes}
            {body}
            <p class="field-error" role="alert">{other_error.map(|e| e.to_string())}</p>
            <p><a href="/account" class="link">"Back to your account"</a></p>
        </Card>
    }
}
