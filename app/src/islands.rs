//! The islands: the few elements of a page that a script makes better.
//! Every page is rendered on the server and works as plain HTML forms; this
//! module renders those elements with the ids and `data-*` attributes the
//! browser code (`frontend/src/`, a small wasm module) finds them by. That
//! markup is the whole contract between the two:
//!
//! | markup | what the browser does with it |
//! |---|---|
//! | `button[data-busy]` | the first press sends the form and shows `data-busy` with `aria-disabled`; later presses send nothing |
//! | `button[data-webauthn]` | also adds `webauthn=true` to the form when this device could make a passkey |
//! | `#resend[data-counting]` in a `form[data-wait]` | disabled, counting down: under 90 s left, line *n* of `data-counting` is the label at *n* seconds; under 90 minutes, line *m* of `data-counting-minutes` at *m* minutes (rounded up); else line *h* of `data-counting-hours` |
//! | `#passkey[data-passkey][data-options][data-finish]` | shown where WebAuthn works; runs the ceremony (`frontend/src/passkey.rs`) |
//! | `form#approval[data-approval]` | listens to the server-sent events at `data-approval` (the browser asks again as the server says, 2 s backing off to 10 s) and sends the form on its one event, `approved` (`frontend/src/approval.rs`) |
//! | `form[data-swap]` | sent by script (XMLHttpRequest) as the browser would post it; the page the answer redirects to replaces this one in place, its address pushed onto the history (`frontend/src/swap.rs`) |
//!
//! Every word the browser shows comes from here, in the page: the wasm
//! carries none. Pages that hold one of these load the module
//! (`PAGES_WITH_ISLANDS` in `lib.rs`); no other page loads any script.

use leptos::prelude::*;

use crate::i18n::td_string;
use crate::pages::locale;

/// The sign-in page's button.
#[component]
pub fn SendCodeButton() -> impl IntoView {
    let l = locale();
    submit_button(td_string!(l, buttons.send_code), td_string!(l, buttons.sending), "primary")
}

/// The code page's button.
#[component]
pub fn SignInButton() -> impl IntoView {
    let l = locale();
    signing_in_button(td_string!(l, buttons.sign_in), td_string!(l, buttons.checking))
}

/// The code page's "send it by email instead" button.
#[component]
pub fn EmailCodeButton() -> impl IntoView {
    let l = locale();
    submit_button(td_string!(l, buttons.email_me), td_string!(l, buttons.sending), "secondary")
}

/// The sign-in link's confirmation button ("Sign in on this device
/// instead" where the code was asked for elsewhere).
#[component]
pub fn ConfirmLinkButton(
    #[prop(optional)] label: Option<&'static str>,
    #[prop(default = "primary")] class: &'static str,
) -> impl IntoView {
    let l = locale();
    signing_in_button_as(label.unwrap_or(td_string!(l, buttons.sign_in)), td_string!(l, buttons.signing_in), class)
}

/// "Approve sign-in on that device", on the link's page on another device.
#[component]
pub fn ApproveButton() -> impl IntoView {
    let l = locale();
    submit_button(td_string!(l, buttons.approve), td_string!(l, buttons.approving), "primary")
}

/// "That wasn't me": on the "Not you?" page and the link's page.
#[component]
pub fn NotMeButton(#[prop(default = "danger")] class: &'static str) -> impl IntoView {
    let l = locale();
    submit_button(td_string!(l, buttons.not_me), td_string!(l, buttons.reporting), class)
}

/// The waiting code page's "I've approved it" ("Continue" once approved):
/// it signs in here, so it tells the server about passkeys as "Sign in" does.
#[component]
pub fn ApprovedButton(label: &'static str, class: &'static str) -> impl IntoView {
    signing_in_button_as(label, td_string!(locale(), buttons.checking), class)
}

/// "Send a new code" on the code page. The form around it carries the
/// seconds until the server will send another code in `data-wait`; the
/// browser counts them down on the button, showing the label written here
/// for the time left, in the units `i18n::words::wait` uses (the language's
/// plural forms are the server's to choose: the wasm carries no words and
/// no plural rules). Without JavaScript the button stays usable and the
/// server answers with the wait in words.
#[component]
pub fn ResendButton(wait: u64) -> impl IntoView {
    let l = locale();
    let lines = |upto: u64, label: &dyn Fn(u64) -> String| {
        (upto > 0).then(|| (1..=upto).map(label).collect::<Vec<_>>().join("\n"))
    };
    let seconds = lines(wait.min(89), &|n| td_string!(l, buttons.resend_counting, count = n).to_string());
    let minutes = lines(if wait >= 90 { wait.div_ceil(60).min(90) } else { 0 }, &|n| {
        td_string!(l, buttons.resend_counting_minutes, count = n).to_string()
    });
    let hours = lines(if wait >= 90 * 60 { wait.div_ceil(3600).min(MAX_COUNTDOWN_HOURS) } else { 0 }, &|n| {
        td_string!(l, buttons.resend_counting_hours, count = n).to_string()
    });
    view! {
        <button type="submit" id="resend" class="link-button" data-busy=td_string!(l, buttons.sending)
            data-counting=seconds data-counting-minutes=minutes data-counting-hours=hours>
            {td_string!(l, buttons.resend)}
        </button>
    }
}

/// The longest countdown the button shows (past it, the plain label; a
/// press is answered with the wait in words). A day: the daily cap's.
pub const MAX_COUNTDOWN_HOURS: u64 = 24;

/// A page's passkey controls, hidden until the browser code finds a
/// browser that can use them. `mode`: "sign-in", "add" or "confirm";
/// `options` and `finish`: the ceremony's endpoints
/// (`server/src/web/passkeys.rs`).
#[component]
pub fn PasskeyPanel(
    mode: &'static str,
    options: &'static str,
    #[prop(into)] finish: String,
    label: &'static str,
    #[prop(default = "primary")] class: &'static str,
    #[prop(optional)] lead: Option<&'static str>,
) -> impl IntoView {
    // Only the messages this ceremony can need.
    let l = locale();
    let (not_used, not_created, already) = match mode {
        "add" => (None, Some(td_string!(l, passkey_panel.not_created)), Some(td_string!(l, passkey_panel.already))),
        _ => (Some(td_string!(l, passkey_panel.not_used)), None, None),
    };
    view! {
        <div id="passkey" class="passkey" data-passkey=mode data-options=options data-finish=finish hidden
            data-failed=td_string!(l, passkey_panel.failed)
            data-not-used=not_used data-not-created=not_created data-already=already>
            {lead.map(|t| view! { <p class="or">{t}</p> })}
            <button type="button" id="passkey-button" class=class>{label}</button>
            <p id="passkey-status" class="field-error" role="alert" aria-live="assertive"></p>
        </div>
    }
}

/// A button that signs in by code: as `submit_button`, and it tells the
/// server when this browser could make a passkey (a hidden `webauthn`
/// field), so that the passkey offer comes only where it can be taken.
fn signing_in_button(label: &'static str, busy: &'static str) -> impl IntoView {
    signing_in_button_as(label, busy, "primary")
}

fn signing_in_button_as(label: &'static str, busy: &'static str, class: &'static str) -> impl IntoView {
    view! {
        <button type="submit" class=class data-busy=busy data-webauthn="">
            {label}
        </button>
    }
}

/// A form's submit button that, once pressed, says it is working and does
/// not send the form again. The page is replaced by the server's answer.
fn submit_button(label: &'static str, busy: &'static str, class: &'static str) -> impl IntoView {
    view! {
        <button type="submit" class=class data-busy=busy>
            {label}
        </button>
    }
}
