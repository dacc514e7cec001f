use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{Card, FieldMessage};
use crate::api::RequestCode;
use crate::domain::{AppError, Field};
use crate::islands::SendCodeButton;

/// Rendered on the server only; the button is the one island.
#[component]
pub fn SignIn() -> impl IntoView {
    let by_phone = use_query_map().read_untracked().get("with").as_deref() == Some("phone");
    let action = ServerAction::<RequestCode>::new();
    // A failed post comes back here with its (signed) error.
    let error = action.value().get_untracked().and_then(Result::err);
    let invalid = error.as_ref().is_some_and(|e| e.field() == Field::Identifier);
    let suggests_email = error.as_ref().is_some_and(AppError::suggests_email);
    let current = |yes: bool| yes.then_some("page");

    // The field with the error takes the focus, so a screen reader reads its
    // label, "invalid" and the message (aria-describedby) on arrival.
    let input = if by_phone {
        view! {
            <p class="hint" id="identifier-hint">"Include your country code, like +44 7911 123456."</p>
            <input id="identifier" name="identifier" type="tel" autocomplete="tel" inputmode="tel"
                required maxlength="64" aria-describedby="identifier-hint identifier-error"
                aria-invalid=invalid.then_some("true") autofocus=invalid/>
        }
        .into_any()
    } else {
        view! {
            <input id="identifier" name="identifier" type="email" autocomplete="email"
                spellcheck="false" autocapitalize="none" required maxlength="254"
                aria-describedby="identifier-error" aria-invalid=invalid.then_some("true") autofocus=invalid/>
        }
        .into_any()
    };

    view! {
        <Card title="Sign in">
            <p class="lede">"We'll send you a one-time code. No password needed."</p>
            <nav class="switch" aria-label="Sign in with">
                // Two links to one path: <A> would mark both current.
                <a href="/sign-in" class="switch-option" aria-current=current(!by_phone)>"Email"</a>
                <a href="/sign-in?with=phone" class="switch-option" aria-current=current(by_phone)>"Phone"</a>
            </nav>
            // novalidate: our own messages, next to the field, are clearer
            // than the browser's bubbles and work the same without JavaScript.
            <ActionForm action attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="identifier">{if by_phone { "Phone number" } else { "Email address" }}</label>
                    {input}
                    <FieldMessage id="identifier-error" field=Field::Identifier error=error.clone()/>
                    {suggests_email.then(|| view! {
                        <p><a href="/sign-in" class="link">"Use your email address instead"</a></p>
                    })}
                </div>
                <FieldMessage id="form-error" field=Field::Form error/>
                <SendCodeButton/>
            </ActionForm>
        </Card>
    }
}
