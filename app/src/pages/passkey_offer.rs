use leptos::prelude::*;
use leptos_router::components::Redirect;

use super::{Card, PasskeyPanel};
use crate::api::{PasskeyNotNow, passkey_offer, passkey_paths as paths};

/// After a sign-in by code in a browser that can make passkeys: "Sign in
/// faster next time with a passkey". Making one, or "Not now", goes on to
/// where the person was going. Only browsers whose island said they can
/// make a passkey are sent here; "Not now" is a plain form.
#[component]
pub fn PasskeyOffer() -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <Card title="Sign in faster next time"><p>"Loading…"</p></Card> }>
            {Suspend::new(async move {
                match passkey_offer().await {
                    Ok(Some(user)) => view! { <Offer identifier=user.identifier/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/sign-in"/> }.into_any(),
                    Err(e) => view! {
                        <Card title="Sign in faster next time">
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
fn Offer(identifier: String) -> impl IntoView {
    let not_now = ServerAction::<PasskeyNotNow>::new();
    view! {
        <Card title="Sign in faster next time with a passkey">
            <p class="lede">"You're signed in as " <strong>{identifier}</strong> "."</p>
            <p>
                "A passkey lets this device sign you in with your fingerprint, face or screen lock, "
                "with no code to wait for. It can't be phished, and your code by email or text still works."
            </p>
            <PasskeyPanel mode="add" options=paths::ADD_OPTIONS finish=paths::ADD label="Create a passkey"/>
            <ActionForm action=not_now attr:class="form">
                <button type="submit" class="secondary">"Not now"</button>
            </ActionForm>
        </Card>
    }
}
