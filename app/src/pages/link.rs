use leptos::prelude::*;

use super::{Card, FieldMessage, locale, words};
use crate::api::{ApproveLink, ConfirmLink as ConfirmLinkAction, LinkView, ReportLink, link_destination};
use crate::domain::{AppError, Field};
use crate::i18n::{td, td_string};
use crate::islands::{ApproveButton, ConfirmLinkButton, NotMeButton};

/// Where a sign-in link from an email lands. Opening it signs nobody in
/// (mail scanners open links too); a button does. Opened in the browser
/// that asked, it asks one question; opened anywhere else (the phone that
/// reads the mail), it says so and offers to approve the sign-in on the
/// device that asked, to sign in here instead, or to report it.
#[component]
pub fn ConfirmLink() -> impl IntoView {
    let l = locale();
    view! {
        <Suspense fallback=move || view! { <Card title=td_string!(l, link.title)><p>{td_string!(l, loading)}</p></Card> }>
            {Suspend::new(async move {
                match link_destination().await {
                    Ok(Some(link)) if link.requested_elsewhere => view! { <Elsewhere link/> }.into_any(),
                    Ok(Some(link)) => view! { <SameBrowser link/> }.into_any(),
                    Ok(None) => view! {
                        <Card title=td_string!(l, link.unusable_title)>
                            <p>{words(&AppError::LinkUnusable)}</p>
                            <p><a href="/sign-in" class="button primary">{td_string!(l, link.sign_in)}</a></p>
                        </Card>
                    }
                        .into_any(),
                    Err(e) => view! {
                        <Card title=td_string!(l, link.title)>
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
fn SameBrowser(link: LinkView) -> impl IntoView {
    let confirm = ServerAction::<ConfirmLinkAction>::new();
    let error = confirm.value().get_untracked().and_then(Result::err);
    let l = locale();
    let address = link.address;
    view! {
        <Card title=td_string!(l, link.title)>
            // The whole address guards against being signed in to someone
            // else's account by their link.
            <p class="lede">
                {td!(l, link.confirm_question, address = move || address.clone(),
                    <strong> = |children: ChildrenFn| view! { <strong data-testid="link-address">{children()}</strong> })}
            </p>
            <ActionForm action=confirm attr:class="form">
                <FieldMessage id="form-error" field=Field::Form error=error/>
                // Which link this page shows: a link swapped into the cookie
                // since signs nobody in.
                <input type="hidden" name="shown" value=link.shown/>
                <ConfirmLinkButton/>
            </ActionForm>
            <p class="hint">{td_string!(l, link.didnt_ask)}</p>
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
    let l = locale();
    let browser = link.from_browser.unwrap_or_else(|| td_string!(l, link.unknown_browser).to_owned());
    let ip =
        link.from_ip.map(|ip| view! { <dt>{td_string!(l, link.address)}</dt><dd data-testid="requested-ip">{ip}</dd> });
    let (shown_approve, shown_confirm, shown_report) = (link.shown.clone(), link.shown.clone(), link.shown);
    view! {
        <Card title=td_string!(l, link.elsewhere_title)>
            <p class="notice warning" role="note" data-testid="requested-elsewhere">
                {td_string!(l, link.elsewhere_notice)}
            </p>
            <dl class="request">
                <dt>{td_string!(l, link.account)}</dt><dd data-testid="link-address">{link.address}</dd>
                <dt>{td_string!(l, link.browser)}</dt><dd data-testid="requested-browser">{browser}</dd>
                {ip}
                <dt>{td_string!(l, link.when)}</dt><dd>{link.requested_at}</dd>
            </dl>
            <p>{td_string!(l, link.approve_if)}</p>
            <p class="pair-number" data-testid="pair-number">{link.pair_number}</p>
            <p id="form-error" class="field-error" role="alert" aria-live="assertive">{error.map(|e| words(&e))}</p>
            <ActionForm action=approve attr:class="form">
                <input type="hidden" name="shown" value=shown_approve/>
                <ApproveButton/>
            </ActionForm>
            <ActionForm action=confirm attr:class="form">
                <input type="hidden" name="shown" value=shown_confirm/>
                <ConfirmLinkButton label=td_string!(l, link.sign_in_here) class="secondary"/>
                // Someone may have mailed their own link to this person:
                // signing in here would put them in that account.
                <p class="hint" data-testid="sign-in-here-warning">{td_string!(l, link.sign_in_here_warning)}</p>
            </ActionForm>
            <ActionForm action=report attr:class="form">
                <input type="hidden" name="shown" value=shown_report/>
                <NotMeButton/>
            </ActionForm>
            <p class="hint">{td_string!(l, link.not_me_explained)}</p>
        </Card>
    }
}

/// The phone, after approving: it stays signed out.
#[component]
pub fn Approved() -> impl IntoView {
    let l = locale();
    view! {
        <Card title=td_string!(l, link.approved_title)>
            <p class="lede">{td_string!(l, link.approved_body)}</p>
        </Card>
    }
}
