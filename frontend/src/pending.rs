//! Buttons that say they are working: the first press of a
//! `button[data-busy]` sends its form and shows the `data-busy` label with
//! `aria-disabled`; later presses are swallowed, so nothing is sent twice.
//! `disabled` is not set: a button disabled while its own click is handled
//! does not submit its form. A `data-webauthn` button also tells the server,
//! in a hidden `webauthn` field, that this device could make a passkey, so
//! the passkey offer comes only where it can be taken.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, Event, HtmlButtonElement};

use crate::dom;

pub fn bind() {
    if !dom::exists("button[data-busy]") {
        return;
    }
    // One listener for the page: a press anywhere reaches it, and stopping
    // the form's submission there works as well as on the button.
    dom::listen(&dom::document(), "click", press);
    // Back and forward restore the page from the browser's cache as it was
    // left: pending. The form is no longer on its way, so the buttons work
    // again.
    dom::listen(&dom::window(), "pageshow", |_| {
        let Ok(pressed) = dom::document().query_selector_all("button[data-label]") else { return };
        for i in 0..pressed.length() {
            if let Some(button) = pressed.item(i).and_then(|b| b.dyn_into::<Element>().ok()) {
                button.set_text_content(button.get_attribute("data-label").as_deref());
                _ = button.remove_attribute("data-label");
                _ = button.remove_attribute("aria-disabled");
            }
        }
    });
}

fn press(ev: JsValue) {
    let ev: Event = ev.unchecked_into();
    let Some(button) = ev
        .target()
        .and_then(|t| t.dyn_into::<Element>().ok())
        .and_then(|t| t.closest("button[data-busy]").ok().flatten())
        .and_then(|b| b.dyn_into::<HtmlButtonElement>().ok())
    else {
        return;
    };
    if button.has_attribute("aria-disabled") {
        ev.prevent_default();
        return;
    }
    if button.has_attribute("data-webauthn") && crate::passkey::can_make() {
        add_webauthn_field(&button);
    }
    let label = button.text_content().unwrap_or_default();
    let busy = button.get_attribute("data-busy").unwrap_or_default();
    _ = button.set_attribute("data-label", &label);
    _ = button.set_attribute("aria-disabled", "true");
    button.set_text_content(Some(&busy));
}

fn add_webauthn_field(button: &HtmlButtonElement) {
    let Some(form) = button.form() else { return };
    if form.query_selector("input[name=webauthn]").ok().flatten().is_some() {
        return;
    }
    if let Ok(input) = dom::document().create_element("input") {
        _ = input.set_attribute("type", "hidden");
        _ = input.set_attribute("name", "webauthn");
        _ = input.set_attribute("value", "true");
        _ = form.append_child(&input);
    }
}
