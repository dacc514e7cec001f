mod account;
mod authenticator;
mod confirm;
mod link;
mod not_you;
mod passkey_offer;
mod sign_in;
mod verify;

pub use account::Account;
pub use authenticator::{AuthenticatorPage, SecondStep};
pub use confirm::ConfirmItsYou;
pub use link::{Approved, ConfirmLink};
pub use not_you::NotYou;
pub use passkey_offer::PasskeyOffer;
pub use sign_in::SignIn;
pub use verify::Verify;

pub use crate::islands::PasskeyPanel;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::domain::{AppError, Field};

/// The card every page sits in.
#[component]
pub fn Card(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <Title text=title.clone()/>
        <section class="card" aria-labelledby="page-title">
            <p class="brand" aria-hidden="true">
                <span class="brand-mark">"●"</span>
                " Passcode"
            </p>
            <h1 id="page-title">{title}</h1>
            {children()}
        </section>
    }
}

/// The message next to a field, when the last post's error belongs there.
/// It is always in the page (empty when there is nothing to say).
#[component]
pub fn FieldMessage(id: &'static str, field: Field, error: Option<AppError>) -> impl IntoView {
    let text = error.filter(|e| e.field() == field).map(|e| e.to_string());
    view! {
        <p id=id class="field-error" role="alert" aria-live="assertive">
            {text}
        </p>
    }
}

/// Whether this deployment offers passkeys (pages are rendered on the
/// server, which knows).
pub fn passkeys_on() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<crate::web::AppState>().is_some_and(|s| s.auth.passkeys_enabled())
    }
    #[cfg(not(feature = "ssr"))]
    false
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Card title="Page not found">
            <p>"There is nothing at this address."</p>
            <p><a href="/sign-in">"Go to sign in"</a></p>
        </Card>
    }
}
