use leptos::prelude::*;
use leptos_router::components::Redirect;

use super::Card;
use crate::api::{SignOut, current_user};
use crate::domain::Channel;

/// No island: signing out twice does no harm, so the page ships no script.
#[component]
pub fn Account() -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();

    view! {
        <Suspense fallback=|| view! { <Card title="Your account"><p>"Loading…"</p></Card> }>
            {Suspend::new(async move {
                match current_user().await {
                    Ok(Some(u)) => {
                        let how = if u.channel == Channel::Sms { "phone number" } else { "email address" };
                        view! {
                            <Card title="You're signed in">
                                <p class="lede">"Signed in with the " {how}</p>
                                <p class="identity" data-testid="identity">{u.identifier}</p>
                                <ActionForm action=sign_out attr:class="form">
                                    <button type="submit" class="secondary">"Sign out"</button>
                                </ActionForm>
                            </Card>
                        }
                            .into_any()
                    }
                    Ok(None) => view! { <Redirect path="/sign-in"/> }.into_any(),
                    Err(e) => view! {
                        <Card title="Your account">
                            <p class="field-error" role="alert">{e.to_string()}</p>
                        </Card>
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}
