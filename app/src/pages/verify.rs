use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::sign_in::sign_in_href;
use super::{Card, FieldMessage, locale, words};
use crate::api::{CheckApproval, Notice, PendingView, ResendCode, SwitchToEmail, VerifyCode, pending_challenge};
use crate::domain::{AppError, Channel, Field};
use crate::i18n::{td, td_string};
use crate::islands::{ApprovedButton, EmailCodeButton, ResendButton, SignInButton};

#[component]
pub fn Verify() -> impl IntoView {
    let l = locale();
    view! {
        <Suspense fallback=move || view! { <Card title=td_string!(l, verify.title)><p>{td_string!(l, loading)}</p></Card> }>
            {Suspend::new(async move {
                match pending_challenge().await {
                    Ok(Some(p)) => view! { <CodeForm pending=p/> }.into_any(),
                    Ok(None) => view! { <NoChallenge/> }.into_any(),
                    Err(e) => view! {
                        <Card title=td_string!(l, verify.title)>
                            <p class="field-error" role="alert">{words(&e)}</p>
                        </Card>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn NoChallenge() -> impl IntoView {
    let l = locale();
    view! {
        <Card title=td_string!(l, verify.title)>
            <p>{words(&AppError::NoChallenge)}</p>
            <p><a href="/sign-in" class="button primary">{td_string!(l, verify.start_again)}</a></p>
        </Card>
    }
}

/// Rendered on the server from the pending challenge and the outcome of the
/// last post (its signed error, or a one-time notice); each post comes back
/// to a fresh page, so only the newest outcome is ever shown.
#[component]
fn CodeForm(pending: PendingView) -> impl IntoView {
    let verify = ServerAction::<VerifyCode>::new();
    let resend = ServerAction::<ResendCode>::new();
    let switch = ServerAction::<SwitchToEmail>::new();
    let check = ServerAction::<CheckApproval>::new();
    let check_error = check.value().get_untracked().and_then(Result::err);
    let verify_error = verify.value().get_untracked().and_then(Result::err);
    let resend_error = resend.value().get_untracked().and_then(Result::err);
    let switch_error = switch.value().get_untracked().and_then(Result::err);

    let l = locale();
    let by_sms = pending.channel == Channel::Sms;
    let invalid = verify_error.as_ref().is_some_and(|e| e.field() == Field::Code);
    let switch_invalid = switch_error.is_some();
    // A text that could not be sent opens the email option by itself.
    let open_switch = switch_invalid || resend_error.as_ref().is_some_and(AppError::suggests_email);
    let (other_way, other_label) = if by_sms {
        (sign_in_href(true, pending.return_to.as_deref()), td_string!(l, verify.different_number))
    } else {
        (sign_in_href(false, pending.return_to.as_deref()), td_string!(l, verify.different_email))
    };
    let (inputmode, pattern) = if pending.numeric { ("numeric", "[0-9 -]*") } else { ("text", "[A-Za-z0-9 -]*") };
    let (count, destination) = (pending.code_length, pending.masked_destination.as_str());
    let hint = if pending.numeric {
        td_string!(l, verify.hint_digits, count = count, destination = destination).to_string()
    } else {
        td_string!(l, verify.hint_characters, count = count, destination = destination).to_string()
    };
    let notice = pending.notice.and_then(|n| match n {
        Notice::Resent => Some(td_string!(l, verify.resent)),
        Notice::Switched => Some(td_string!(l, verify.switched)),
        // The account page's.
        Notice::PasskeyAdded
        | Notice::PasskeyRemoved
        | Notice::Confirmed
        | Notice::Reported
        | Notice::ReportedEndedSession
        | Notice::AlreadyReported
        | Notice::AuthenticatorOff => None,
    });

    let approval = approval_section(&pending, check, check_error);
    view! {
        <Card title=td_string!(l, verify.title)>
            {approval.0}
            <p class="lede" id="code-hint">{hint}</p>
            <p class="notice" id="code-notice" role="status" aria-live="polite">{notice}</p>
            <ActionForm action=verify attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="code">{td_string!(l, verify.code_label)}</label>
                    // Focus lands here on every visit; the description reads
                    // out whatever the last post said, wherever it is shown.
                    <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode=inputmode
                        pattern=pattern maxlength="24" required autofocus=!switch_invalid && !pending.approved spellcheck="false" autocapitalize="characters"
                        class="code-input" aria-describedby="code-hint code-notice code-error resend-error"
                        aria-invalid=invalid.then_some("true")/>
                    <FieldMessage id="code-error" field=Field::Code error=verify_error.clone()/>
                </div>
                <FieldMessage id="form-error" field=Field::Form error=verify_error/>
                <SignInButton/>
            </ActionForm>
            {approval.1}
            <div class="secondary-actions">
                // The countdown starts from the seconds left when the page
                // was made.
                <form action=ResendCode::url() method="post" class="inline-form" data-wait=pending.resend_in_secs>
                    <ResendButton wait=pending.resend_in_secs/>
                </form>
                <a href=other_way class="link">{other_label}</a>
            </div>
            <p id="resend-error" class="field-error" role="alert" aria-live="assertive">
                {resend_error.map(|e| words(&e))}
            </p>
            // Without JavaScript <details> still opens, and the form posts
            // and comes back to this page showing the new destination.
            {by_sms.then(|| view! {
                <details class="switch-channel" open=open_switch>
                    <summary>{td_string!(l, verify.by_email_instead)}</summary>
                    <ActionForm action=switch attr:novalidate=true attr:class="form">
                        <div class="field">
                            <label for="switch-email">{td_string!(l, verify.email_label)}</label>
                            <input id="switch-email" name="email" type="email" autocomplete="email" spellcheck="false"
                                autocapitalize="none" required maxlength="254" aria-describedby="switch-error"
                                aria-invalid=switch_invalid.then_some("true") autofocus=switch_invalid/>
                            <p id="switch-error" class="field-error" role="alert" aria-live="assertive">
                                {switch_error.map(|e| words(&e))}
                            </p>
                        </div>
                        <EmailCodeButton/>
                    </ActionForm>
                </details>
            })}
        </Card>
    }
}

/// The email's link opened on another device can approve this sign-in: the
/// number that device shows, and the form that signs in here once it is
/// approved (sent by the page's script when it notices; pressed by the
/// person without one). Before the code form when approved (focus lands on
/// "Continue"), after it while waiting.
fn approval_section(
    pending: &PendingView,
    check: ServerAction<CheckApproval>,
    error: Option<AppError>,
) -> (Option<AnyView>, Option<AnyView>) {
    let Some(number) = pending.pair_number else { return (None, None) };
    let l = locale();
    let error = view! { <p id="approval-error" class="field-error" role="alert" aria-live="assertive">{error.map(|e| words(&e))}</p> };
    if pending.approved {
        let approved = view! {
            <div class="approval" data-testid="approval">
                <p class="notice" role="status">{td_string!(l, verify.approved)}</p>
                {error}
                <ActionForm action=check attr:class="form">
                    <ApprovedButton label=td_string!(l, verify.continue_button) class="primary"/>
                </ActionForm>
            </div>
        };
        return (Some(approved.into_any()), None);
    }
    // Used, expired, replaced or reported: nothing to approve any more, but
    // the last check's word (why it closed) stays.
    if !pending.awaiting_approval {
        return (None, Some(error.into_any()));
    }
    // The script stops asking once the form is sent, and a page rendered
    // after the sign-in closed never asks.
    let poll = crate::APPROVAL_STATUS_PATH;
    let waiting = view! {
        <div class="approval" data-testid="approval">
            <p class="hint">
                {td!(l, verify.approval_waiting, number = move || number,
                    <strong> = |children: ChildrenFn| view! { <strong data-testid="pair-number">{children()}</strong> })}
            </p>
            {error}
            <ActionForm action=check attr:id="approval" attr:class="inline-form" attr:data-approval=poll>
                <ApprovedButton label=td_string!(l, verify.i_approved) class="link-button"/>
            </ActionForm>
        </div>
    };
    (None, Some(waiting.into_any()))
}
