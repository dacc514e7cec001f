use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{Card, FieldMessage};
use crate::api::RequestCode;
use crate::error::{AppError, Field};

#[component]
pub fn SignIn() -> impl IntoView {
    let query = use_query_map();
    let by_phone = Memo::new(move |_| query.read().get("with").as_deref() == Some("phone"));
    let action = ServerAction::<RequestCode>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let invalid = move || error.get().is_some_and(|e| e.field() == Field::Identifier);

    view! {
        <Card title="Sign in">
            <p class="lede">"We'll send you a one-time code. No password needed."</p>
            <nav class="switch" aria-label="Sign in with">
                // Plain links (the router still handles them client-side):
                // <A> would mark both current, as they share a path.
                <a href="/sign-in" class="switch-option" aria-current=move || (!by_phone.get()).then_some("page")>
                    "Email"
                </a>
                <a href="/sign-in?with=phone" class="switch-option" aria-current=move || by_phone.get().then_some("page")>
                    "Phone"
                </a>
            </nav>
            // novalidate: our own messages, next to the field, are clearer
            // than the browser's bubbles and work the same without JavaScript.
            <ActionForm action attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="identifier">
                        {move || if by_phone.get() { "Phone number" } else { "Email address" }}
                    </label>
                    {move || {
                        if by_phone.get() {
                            view! {
                                <p class="hint" id="identifier-hint">"Include your country code, like +44 7911 123456."</p>
                                <input id="identifier" name="identifier" type="tel" autocomplete="tel" inputmode="tel"
                                    required maxlength="64" aria-describedby="identifier-hint identifier-error"
                                    aria-invalid=move || invalid().then_some("true")/>
                            }
                                .into_any()
                        } else {
                            view! {
                                <input id="identifier" name="identifier" type="email" autocomplete="email"
                                    spellcheck="false" autocapitalize="none" required maxlength="254"
                                    aria-describedby="identifier-error" aria-invalid=move || invalid().then_some("true")/>
                            }
                                .into_any()
                        }
                    }}
                    <FieldMessage id="identifier-error" field=Field::Identifier error/>
                    {move || {
                        error.get().filter(AppError::suggests_email).map(|_| view! {
                            <p><a href="/sign-in" class="link">"Use your email address instead"</a></p>
                        })
                    }}
                </div>
                <FieldMessage id="form-error" field=Field::Form error/>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Sending…" } else { "Send code" }}
                </button>
            </ActionForm>
        </Card>
    }
}
