//! The only code that runs in the browser. Every page is rendered on the
//! server and works as plain HTML forms; these islands add what a page needs
//! a script for, and nothing else reaches the wasm.
//!
//! They are written for size, because the sign-in page downloads all of
//! them (budget: 50 KB brotli for the whole page; `scripts/page-weight`):
//! - No props. Props cross as JSON, and serde_json cost 23 KB brotli of
//!   wasm, so each button is its own island and the countdown reads its
//!   start from the form around it.
//! - No signals. The few changes (a label, `aria-disabled`, the seconds)
//!   are made on the element in the event handler; Leptos's reactive
//!   attributes and effects cost another 11 KB here.

use leptos::prelude::*;

/// The sign-in page's button.
#[island]
pub fn SendCodeButton() -> impl IntoView {
    submit_button("Send code", "Sending…", "primary")
}

/// The code page's button.
#[island]
pub fn SignInButton() -> impl IntoView {
    submit_button("Sign in", "Checking…", "primary")
}

/// The code page's "send it by email instead" button.
#[island]
pub fn EmailCodeButton() -> impl IntoView {
    submit_button("Email me a code", "Sending…", "secondary")
}

/// The sign-in link's confirmation button.
#[island]
pub fn ConfirmLinkButton() -> impl IntoView {
    submit_button("Sign in", "Signing in…", "primary")
}

/// Id of the resend button, which the countdown finds.
const RESEND_ID: &str = "resend";
/// Its label, on the server and again when the countdown ends.
const RESEND_LABEL: &str = "Send a new code";

/// "Send a new code" on the code page. Once the island runs it counts down
/// the seconds until the server will send another code: the form around it
/// carries them in `data-wait`. Without JavaScript the button stays usable
/// and the server answers with the wait in words.
#[island]
pub fn ResendButton() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    request_animation_frame(browser::count_down);
    view! {
        <button type="submit" id=RESEND_ID class="link-button" on:click=|ev| browser::press(ev, "Sending…")>
            {RESEND_LABEL}
        </button>
    }
}

/// A form's submit button that, once pressed, says it is working and does
/// not send the form again. The page is replaced by the server's answer.
fn submit_button(label: &'static str, busy: &'static str, class: &'static str) -> impl IntoView {
    view! {
        <button type="submit" class=class on:click=move |ev| browser::press(ev, busy)>
            {label}
        </button>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use leptos::wasm_bindgen::{JsCast, closure::Closure};
    use web_sys::{AddEventListenerOptions, HtmlButtonElement, MouseEvent};

    /// The first press sends the form and marks the button pending; later
    /// presses are swallowed. `disabled` is not set: a button disabled
    /// while its own click is handled does not submit its form.
    pub fn press(ev: MouseEvent, busy: &str) {
        let Some(button) = ev.current_target().and_then(|t| t.dyn_into::<HtmlButtonElement>().ok()) else {
            return;
        };
        if button.has_attribute("aria-disabled") {
            ev.prevent_default();
            return;
        }
        let label = button.text_content();
        _ = button.set_attribute("aria-disabled", "true");
        button.set_text_content(Some(busy));
        // Back and forward restore the page from the browser's cache as it
        // was left: pending. The form is no longer on its way, so the
        // button works again.
        let restore = Closure::once_into_js(move || {
            _ = button.remove_attribute("aria-disabled");
            button.set_text_content(label.as_deref());
        });
        let once = AddEventListenerOptions::new();
        once.set_once(true);
        _ = window().add_event_listener_with_callback_and_add_event_listener_options(
            "pageshow",
            restore.unchecked_ref(),
            &once,
        );
    }

    pub fn count_down() {
        let Some(button) =
            document().get_element_by_id(super::RESEND_ID).and_then(|e| e.dyn_into::<HtmlButtonElement>().ok())
        else {
            return;
        };
        let wait: u32 =
            button.form().and_then(|f| f.get_attribute("data-wait")).and_then(|w| w.parse().ok()).unwrap_or(0);
        let show = move |wait: u32| {
            button.set_disabled(wait > 0);
            let text =
                if wait > 0 { format!("{} ({wait} s)", super::RESEND_LABEL) } else { super::RESEND_LABEL.into() };
            button.set_text_content(Some(&text));
        };
        show(wait);
        if wait == 0 {
            return;
        }
        let wait = std::cell::Cell::new(wait);
        let handle = std::rc::Rc::new(std::cell::Cell::new(None::<IntervalHandle>));
        let slot = handle.clone();
        let tick = move || {
            wait.set(wait.get() - 1);
            show(wait.get());
            if wait.get() == 0
                && let Some(h) = slot.take()
            {
                h.clear();
            }
        };
        handle.set(set_interval_with_handle(tick, std::time::Duration::from_secs(1)).ok());
    }
}

/// On the server the buttons render as plain HTML: nothing here runs.
#[cfg(not(feature = "hydrate"))]
mod browser {
    pub fn press(_: leptos::ev::MouseEvent, _: &str) {}
}
