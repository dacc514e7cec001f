use leptos::prelude::*;
use leptos_router::components::Redirect;

use super::{Card, PasskeyPanel, locale, words};
use crate::api::{PasskeyNotNow, passkey_offer, passkey_paths as paths};
use crate::i18n::{td, td_string};

/// After a sign-in by code in a browser that can make passkeys: "Sign in
/// faster next time with a passkey". Making one, or "Not now", goes on to
/// where the person was going. Only browsers whose island said they can
/// make a passkey are sent here; "Not now" is a plain form.
#[component]
pub fn PasskeyOffer() -> impl IntoView {
    let l = locale();
    view! {
        <Suspense fallback=move || view! { <Card title=td_string!(l, passkey_offer.title)><p>{td_string!(l, loading)}</p></Card> }>
            {Suspend::new(async move {
                match passkey_offer().await {
                    Ok(Some(user)) => view! { <Offer identifier=user.identifier/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/sign-in"/> }.into_any(),
                    Err(e) => view! {
                        <Card title=td_string!(l, passkey_offer.title)>
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
fn Offer(identifier: String) -> impl IntoView {
    let not_now = ServerAction::<PasskeyNotNow>::new();
    let l = locale();
    view! {
        <Card title=td_string!(l, passkey_offer.offer_title)>
            <p class="lede">
                {td!(l, passkey_offer.signed_in_as, identifier = move || identifier.clone(), <strong> = |c: ChildrenFn| view! { <strong>{c()}</strong> })}
            </p>
            <p>{td_string!(l, passkey_offer.explain)}</p>
            <PasskeyPanel mode="add" options=paths::ADD_OPTIONS finish=paths::ADD label=td_string!(l, passkey_offer.create)/>
            <ActionForm action=not_now attr:class="form">
                <button type="submit" class="secondary">{td_string!(l, passkey_offer.not_now)}</button>
            </ActionForm>
        </Card>
    }
}
