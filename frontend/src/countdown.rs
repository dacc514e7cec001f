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

#[derive(Debug, PartialEq, Eq)]
enum Unit {
    Seconds,
    Minutes,
    Hours,
}

/// Which line shows `left` seconds: under 90 s, seconds; under 90 minutes,
/// whole minutes rounded up; else whole hours rounded up (the server's
/// `i18n::words::wait` rounds the same way). `None` at zero.
fn label_for(left: u32) -> Option<(Unit, usize)> {
    match left {
        0 => None,
        1..90 => Some((Unit::Seconds, left as usize)),
        90..5400 => Some((Unit::Minutes, left.div_ceil(60) as usize)),
        _ => Some((Unit::Hours, left.div_ceil(3600) as usize)),
    }
}

pub fn start() {
    let Some(button) = dom::element("resend").and_then(|e| e.dyn_into::<HtmlButtonElement>().ok()) else {
        return;
    };
    let wait = button.form().and_then(|f| f.get_attribute("data-wait")).and_then(|w| dom::number(&w)).unwrap_or(0);
    if wait == 0 {
        return;
    }
    let label = button.text_content().unwrap_or_default();
    let lines = |name: &str| -> Vec<String> {
        button.get_attribute(name).unwrap_or_default().split('\n').map(String::from).collect()
    };
    let (seconds, minutes, hours) =
        (lines("data-counting"), lines("data-counting-minutes"), lines("data-counting-hours"));
    let show = move |wait: u32| {
        button.set_disabled(wait > 0);
        let text = match label_for(wait) {
            Some((Unit::Seconds, n)) => seconds.get(n - 1),
            Some((Unit::Minutes, n)) => minutes.get(n - 1),
            Some((Unit::Hours, n)) => hours.get(n - 1),
            None => None,
        };
        button.set_text_content(Some(text.filter(|t| !t.is_empty()).unwrap_or(&label).as_str()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_left_picks_its_unit_and_line() {
        assert_eq!(label_for(0), None);
        assert_eq!(label_for(1), Some((Unit::Seconds, 1)));
        assert_eq!(label_for(89), Some((Unit::Seconds, 89)));
        assert_eq!(label_for(90), Some((Unit::Minutes, 2)));
        assert_eq!(label_for(121), Some((Unit::Minutes, 3)));
        assert_eq!(label_for(5399), Some((Unit::Minutes, 90)));
        assert_eq!(label_for(5400), Some((Unit::Hours, 2)));
        assert_eq!(label_for(86_400), Some((Unit::Hours, 24)));
    }
}
