use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::sign_in::sign_in_href;
use super::{Card, FieldMessage};
use crate::api::{CheckApproval, Notice, PendingView, ResendCode, SwitchToEmail, VerifyCode, pending_challenge};
use crate::domain::{AppError, Channel, Field};
use crate::islands::{ApprovedButton, EmailCodeButton, ResendButton, SignInButton};

#[component]
pub fn Verify() -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <Card title="Enter your code"><p>"Loading…"</p></Card> }>
            {Suspend::new(async move {
                match pending_challenge().await {
                    Ok(Some(p)) => view! { <CodeForm pending=p/> }.into_any(),
                    Ok(None) => view! { <NoChallenge/> }.into_any(),
                    Err(e) => view! {
                        <Card title="Enter your code">
                            <p class="field-error" role="alert">{e.to_string()}</p>
                        </Card>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn NoChallenge() -> impl IntoView {
    view! {
        <Card title="Enter your code">
            <p>{AppError::NoChallenge.to_string()}</p>
            <p><a href="/sign-in" class="button primary">"Start again"</a></p>
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

    let by_sms = pending.channel == Channel::Sms;
    let invalid = verify_error.as_ref().is_some_and(|e| e.field() == Field::Code);
    let switch_invalid = switch_error.is_some();
    // A text that could not be sent opens the email option by itself.
    let open_switch = switch_invalid || resend_error.as_ref().is_some_and(AppError::suggests_email);
    let (other_way, other_label) = if by_sms {
        (sign_in_href(true, pending.return_to.as_deref()), "Use a different number")
    } else {
        (sign_in_href(false, pending.return_to.as_deref()), "Use a different email address")
    };
    let (inputmode, pattern) = if pending.numeric { ("numeric", "[0-9 -]*") } else { ("text", "[A-Za-z0-9 -]*") };
    let hint = format!(
        "We sent a {}-{} code to {}.",
        pending.code_length,
        if pending.numeric { "digit" } else { "character" },
        pending.masked_destination
    );
    let notice = pending.notice.and_then(|n| match n {
        Notice::Resent => Some("A new code is on its way. Earlier codes no longer work."),
        Notice::Switched => Some("A code is on its way to your email."),
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
        <Card title="Enter your code">
            {approval.0}
            <p class="lede" id="code-hint">{hint}</p>
            <p class="notice" id="code-notice" role="status" aria-live="polite">{notice}</p>
            <ActionForm action=verify attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="code">"Code"</label>
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
                    <ResendButton/>
                </form>
                <a href=other_way class="link">{other_label}</a>
            </div>
            <p id="resend-error" class="field-error" role="alert" aria-live="assertive">
                {resend_error.map(|e| e.to_string())}
            </p>
            // Without JavaScript <details> still opens, and the form posts
            // and comes back to this page showing the new destination.
            {by_sms.then(|| view! {
                <details class="switch-channel" open=open_switch>
                    <summary>"Send the code by email instead"</summary>
                    <ActionForm action=switch attr:novalidate=true attr:class="form">
                        <div class="field">
                            <label for="switch-email">"Email address"</label>
                            <input id="switch-email" name="email" type="email" autocomplete="email" spellcheck="false"
                                autocapitalize="none" required maxlength="254" aria-describedby="switch-error"
                                aria-invalid=switch_invalid.then_some("true") autofocus=switch_invalid/>
                            <p id="switch-error" class="field-error" role="alert" aria-live="assertive">
                                {switch_error.map(|e| e.to_string())}
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
    let error = view! { <p id="approval-error" class="field-error" role="alert" aria-live="assertive">{error.map(|e| e.to_string())}</p> };
    if pending.approved {
        let approved = view! {
            <div class="approval" data-testid="approval">
                <p class="notice" role="status">"Approved on your other device."</p>
                {error}
                <ActionForm action=check attr:class="form">
                    <ApprovedButton label="Continue" class="primary"/>
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
                "Opening the link in the email on another device? It shows "
                <strong data-testid="pair-number">{number}</strong>
                ". Approve there and this page signs you in."
            </p>
            {error}
            <ActionForm action=check attr:id="approval" attr:class="inline-form" attr:data-approval=poll>
                <ApprovedButton label="I've approved it" class="link-button"/>
            </ActionForm>
        </div>
    };
    (None, Some(waiting.into_any()))
}
