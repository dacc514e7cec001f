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
//! | `#resend[data-counting]` in a `form[data-wait]` | disabled, counting down the seconds in place of `{}` |
//! | `#passkey[data-passkey][data-options][data-finish]` | shown where WebAuthn works; runs the ceremony (`frontend/src/passkey.rs`) |
//! | `form#approval[data-approval]` | listens to the server-sent events at `data-approval` (the browser asks again as the server says, 2 s backing off to 10 s) and sends the form on its one event, `approved` (`frontend/src/approval.rs`) |
//! | `form[data-swap]` | sent by script (XMLHttpRequest) as the browser would post it; the page the answer redirects to replaces this one in place, its address pushed onto the history (`frontend/src/swap.rs`) |
//!
//! Every word the browser shows comes from here, in the page: the wasm
//! carries none. Pages that hold one of these load the module
//! (`PAGES_WITH_ISLANDS` in `lib.rs`); no other page loads any script.

use leptos::prelude::*;

/// The sign-in page's button.
#[component]
pub fn SendCodeButton() -> impl IntoView {
    submit_button("Send code", "Sending…", "primary")
}

/// The code page's button.
#[component]
pub fn SignInButton() -> impl IntoView {
    signing_in_button("Sign in", "Checking…")
}

/// The code page's "send it by email instead" button.
#[component]
pub fn EmailCodeButton() -> impl IntoView {
    submit_button("Email me a code", "Sending…", "secondary")
}

/// The sign-in link's confirmation button ("Sign in on this device
/// instead" where the code was asked for elsewhere).
#[component]
pub fn ConfirmLinkButton(
    #[prop(default = "Sign in")] label: &'static str,
    #[prop(default = "primary")] class: &'static str,
) -> impl IntoView {
    signing_in_button_as(label, "Signing in…", class)
}

/// "Approve sign-in on that device", on the link's page on another device.
#[component]
pub fn ApproveButton() -> impl IntoView {
    submit_button("Approve sign-in on that device", "Approving…", "primary")
}

/// "That wasn't me": on the "Not you?" page and the link's page.
#[component]
pub fn NotMeButton(#[prop(default = "danger")] class: &'static str) -> impl IntoView {
    submit_button("That wasn't me", "Reporting…", class)
}

/// The waiting code page's "I've approved it" ("Continue" once approved):
/// it signs in here, so it tells the server about passkeys as "Sign in" does.
#[component]
pub fn ApprovedButton(label: &'static str, class: &'static str) -> impl IntoView {
    signing_in_button_as(label, "Checking…", class)
}

/// "Send a new code" on the code page. The form around it carries the
/// seconds until the server will send another code in `data-wait`; the
/// browser counts them down on the button. Without JavaScript the button
/// stays usable and the server answers with the wait in words.
#[component]
pub fn ResendButton() -> impl IntoView {
    view! {
        <button type="submit" id="resend" class="link-button" data-busy="Sending…" data-counting="Send a new code ({} s)">
            "Send a new code"
        </button>
    }
}

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
    let (not_used, not_created, already) = match mode {
        "add" => (
            None,
            Some(
                "No passkey was made: it was cancelled, or this device can't make one. You can add one later from your account page.",
            ),
            Some("This device already has a passkey for this account."),
        ),
        _ => (
            Some(
                "No passkey was used: it was cancelled, or this device has none for this site. You can use a code instead.",
            ),
            None,
            None,
        ),
    };
    view! {
        <div id="passkey" class="passkey" data-passkey=mode data-options=options data-finish=finish hidden
            data-failed="Something went wrong with the passkey. Please try again, or use a code instead."
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
