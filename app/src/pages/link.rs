use leptos::prelude::*;

use super::{Card, FieldMessage};
use crate::api::{ConfirmLink as ConfirmLinkAction, link_destination};
use crate::domain::{AppError, Field};
use crate::islands::ConfirmLinkButton;

/// Where a sign-in link from an email lands. Opening it signs nobody in
/// (mail scanners open links too); the button does.
#[component]
pub fn ConfirmLink() -> impl IntoView {
    let confirm = ServerAction::<ConfirmLinkAction>::new();
    let error = confirm.value().get_untracked().and_then(Result::err);

    view! {
        <Suspense fallback=|| view! { <Card title="Sign in"><p>"Loading…"</p></Card> }>
            {Suspend::new(async move {
                match link_destination().await {
                    Ok(Some(link)) => view! {
                        <Card title="Sign in">
                            // The whole address guards against being signed
                            // in to someone else's account by their link.
                            <p class="lede">"Sign in as " <strong data-testid="link-address">{link.address}</strong> " in this browser?"</p>
                            {link.requested_elsewhere.map(|from| view! {
                                <p class="notice warning" role="note" data-testid="requested-elsewhere">
                                    "This sign-in was asked for from " {from} ", not from this browser. "
                                    "If that wasn't you, close this page: signing in would put you in that person's account."
                                </p>
                            })}
                            <ActionForm action=confirm attr:class="form">
                                <FieldMessage id="form-error" field=Field::Form error=error.clone()/>
                                // Which link this page shows: a link swapped
                                // into the cookie since signs nobody in.
                                <input type="hidden" name="shown" value=link.shown/>
                                <ConfirmLinkButton/>
                            </ActionForm>
                            <p class="hint">"Didn't ask to sign in? Close this page; nothing happens."</p>
                        </Card>
                    }
                        .into_any(),
                    Ok(None) => view! {
                        <Card title="This link can't be used">
                            <p>{AppError::LinkUnusable.to_string()}</p>
                            <p><a href="/sign-in" class="button primary">"Sign in"</a></p>
                        </Card>
                    }
                        .into_any(),
                    Err(e) => view! {
                        <Card title="Sign in">
                            <p class="field-error" role="alert">{e.to_string()}</p>
                        </Card>
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}
