//! "Send a new code" counts down: the button `#resend` is disabled until the
//! server will send another code, showing the label for the seconds left:
//! line *n* of its `data-counting` is the label at *n* seconds, written by
//! the server in the page's language and plural forms (this module carries
//! no words and no plural rules). The form around it carries the wait in
//! `data-wait`. Without JavaScript the button stays usable and the server
//! answers with the wait in words.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;

use wasm_bindgen::JsCast;
use web_sys::HtmlButtonElement;

use crate::dom;

pub fn start() {
    let Some(button) = dom::element("resend").and_then(|e| e.dyn_into::<HtmlButtonElement>().ok()) else {
        return;
    };
    let wait = button.form().and_then(|f| f.get_attribute("data-wait")).and_then(|w| dom::number(&w)).unwrap_or(0);
    if wait == 0 {
        return;
    }
    let label = button.text_content().unwrap_or_default();
    let counting = button.get_attribute("data-counting").unwrap_or_default();
    // Label n-1 is for n seconds; past the last one, the plain label.
    let labels: Vec<String> = counting.split('\n').map(String::from).collect();
    let show = move |wait: u32| {
        button.set_disabled(wait > 0);
        let text = match labels.get((wait as usize).wrapping_sub(1)) {
            Some(l) if wait > 0 && !l.is_empty() => l.clone(),
            _ => label.clone(),
        };
        button.set_text_content(Some(&text));
    };
    show(wait);
    let left = Cell::new(wait);
    let handle = Rc::new(Cell::new(0));
    let slot = handle.clone();
    let tick = dom::callback(move |_| {
        left.set(left.get().saturating_sub(1));
        show(left.get());
        if left.get() == 0 {
            dom::window().clear_interval_with_handle(slot.get());
        }
    });
    if let Ok(h) = dom::window().set_interval_with_callback_and_timeout_and_arguments_0(tick.unchecked_ref(), 1000) {
        handle.set(h);
    }
}
