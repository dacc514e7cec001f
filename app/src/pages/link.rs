use leptos::prelude::*;

use super::{Card, FieldMessage};
use crate::api::{ApproveLink, ConfirmLink as ConfirmLinkAction, LinkView, ReportLink, link_destination};
use crate::domain::{AppError, Field};
use crate::islands::{ApproveButton, ConfirmLinkButton, NotMeButton};

/// Where a sign-in link from an email lands. Opening it signs nobody in
/// (mail scanners open links too); a button does. Opened in the browser
/// that asked, it asks one question; opened anywhere else (the phone that
/// reads the mail), it says so and offers to approve the sign-in on the
/// device that asked, to sign in here instead, or to report it.
#[component]
pub fn ConfirmLink() -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <Card title="Sign in"><p>"Loading…"</p></Card> }>
            {Suspend::new(async move {
                match link_destination().await {
                    Ok(Some(link)) if link.requested_elsewhere => view! { <Elsewhere link/> }.into_any(),
                    Ok(Some(link)) => view! { <SameBrowser link/> }.into_any(),
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

#[component]
fn SameBrowser(link: LinkView) -> impl IntoView {
    let confirm = ServerAction::<ConfirmLinkAction>::new();
    let error = confirm.value().get_untracked().and_then(Result::err);
    view! {
        <Card title="Sign in">
            // The whole address guards against being signed in to someone
            // else's account by their link.
            <p class="lede">"Sign in as " <strong data-testid="link-address">{link.address}</strong> " in this browser?"</p>
            <ActionForm action=confirm attr:class="form">
                <FieldMessage id="form-error" field=Field::Form error=error/>
                // Which link this page shows: a link swapped into the cookie
                // since signs nobody in.
                <input type="hidden" name="shown" value=link.shown/>
                <ConfirmLinkButton/>
            </ActionForm>
            <p class="hint">"Didn't ask to sign in? Close this page; nothing happens."</p>
        </Card>
    }
}

/// The link opened in a browser that did not ask for the code.
#[component]
fn Elsewhere(link: LinkView) -> impl IntoView {
    let approve = ServerAction::<ApproveLink>::new();
    let confirm = ServerAction::<ConfirmLinkAction>::new();
    let report = ServerAction::<ReportLink>::new();
    // Whichever was pressed last: each post comes back to a fresh page.
    let error = [
        approve.value().get_untracked().and_then(Result::err),
        confirm.value().get_untracked().and_then(Result::err),
        report.value().get_untracked().and_then(Result::err),
    ]
    .into_iter()
    .flatten()
    .next();
    let browser = link.from_browser.unwrap_or_else(|| "A browser that didn't say which".to_owned());
    let ip = link.from_ip.map(|ip| view! { <dt>"Address"</dt><dd data-testid="requested-ip">{ip}</dd> });
    let (shown_approve, shown_confirm, shown_report) = (link.shown.clone(), link.shown.clone(), link.shown);
    view! {
        <Card title="Sign in on another device?">
            <p class="notice warning" role="note" data-testid="requested-elsewhere">
                "This sign-in was asked for on another device, not in this browser."
            </p>
            <dl class="request">
                <dt>"Account"</dt><dd data-testid="link-address">{link.address}</dd>
                <dt>"Browser"</dt><dd data-testid="requested-browser">{browser}</dd>
                {ip}
                <dt>"When"</dt><dd>{link.requested_at}</dd>
            </dl>
            <p>"Approve only if the other device shows this number:"</p>
            <p class="pair-number" data-testid="pair-number">{link.pair_number}</p>
            <p id="form-error" class="field-error" role="alert" aria-live="assertive">{error.map(|e| e.to_string())}</p>
            <ActionForm action=approve attr:class="form">
                <input type="hidden" name="shown" value=shown_approve/>
                <ApproveButton/>
            </ActionForm>
            <ActionForm action=confirm attr:class="form">
                <input type="hidden" name="shown" value=shown_confirm/>
                <ConfirmLinkButton label="Sign in on this device instead" class="secondary"/>
                // Someone may have mailed their own link to this person:
                // signing in here would put them in that account.
                <p class="hint" data-testid="sign-in-here-warning">
                    "Signing in here puts this browser in the account above: only if it is yours."
                </p>
            </ActionForm>
            <ActionForm action=report attr:class="form">
                <input type="hidden" name="shown" value=shown_report/>
                <NotMeButton/>
            </ActionForm>
            <p class="hint">
                "“That wasn't me” ends this sign-in: its code and this link stop working, and for a day only "
                "browsers that signed in to this account before get new codes."
            </p>
        </Card>
    }
}

/// The phone, after approving: it stays signed out.
#[component]
pub fn Approved() -> impl IntoView {
    view! {
        <Card title="Sign-in approved">
            <p class="lede">
                "The other device is signing in now. This browser stays signed out; you can close this page."
            </p>
        </Card>
    }
}
