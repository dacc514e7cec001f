//! The few browser helpers the behaviours share.

use js_sys::{Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, EventTarget, Window};

/// The page's window. A module only runs in a window, so its absence is
/// not something to handle.
pub fn window() -> Window {
    js_sys::global().unchecked_into()
}

pub fn document() -> Document {
    get(&js_sys::global(), "document").unchecked_into()
}

/// The page has an element that `selector` matches.
#[inline(never)]
pub fn exists(selector: &str) -> bool {
    document().query_selector(selector).ok().flatten().is_some()
}

#[inline(never)]
pub fn element(id: &str) -> Option<Element> {
    document().get_element_by_id(id)
}

/// Every callback goes through this one closure type: wasm-bindgen writes
/// glue for each closure type it is given, and for one `dyn` type only once.
pub type Callback = Closure<dyn FnMut(JsValue)>;

/// A JavaScript function that calls `f` each time; kept for the page's life.
#[inline(never)]
pub fn callback(f: impl FnMut(JsValue) + 'static) -> JsValue {
    Callback::new(f).into_js_value()
}

/// A JavaScript function that calls `f` the first time only.
#[inline(never)]
pub fn once(f: impl FnOnce(JsValue) + 'static) -> JsValue {
    let mut f = Some(f);
    callback(move |v| {
        if let Some(f) = f.take() {
            f(v)
        }
    })
}

#[inline(never)]
pub fn listen(target: &EventTarget, event: &str, f: impl FnMut(JsValue) + 'static) {
    _ = target.add_event_listener_with_callback(event, callback(f).unchecked_ref());
}

/// `ok` with what the promise resolves to, or `err` with why not (or why
/// there was no promise).
pub fn then(
    promise: Result<Promise, JsValue>,
    ok: impl FnOnce(JsValue) + 'static,
    err: impl FnOnce(JsValue) + 'static,
) {
    match promise {
        Ok(p) => p.unchecked_ref::<Thenable>().settle(&once(ok), &once(err)),
        Err(e) => err(e),
    }
}

#[wasm_bindgen]
extern "C" {
    /// A promise, as far as `settle` needs one.
    type Thenable;
    /// `promise.then(ok, err)` with functions made by `once`.
    #[wasm_bindgen(method, js_name = then)]
    fn settle(this: &Thenable, ok: &JsValue, err: &JsValue);
}

#[inline(never)]
pub fn get(on: &JsValue, key: &str) -> JsValue {
    Reflect::get(on, &JsValue::from_str(key)).unwrap_or_default()
}

#[inline(never)]
pub fn set(on: &JsValue, key: &str, value: &JsValue) {
    _ = Reflect::set(on, &JsValue::from_str(key), value);
}

/// The whole-number value of an attribute, if it is one.
pub fn number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 {
        return None;
    }
    text.bytes().try_fold(0u32, |n, b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_whole() {
        for n in [0, 1, 9, 10, 45, 100, 3600, 999_999_999] {
            assert_eq!(number(&n.to_string()), Some(n));
        }
        assert_eq!(number(""), None);
        assert_eq!(number("4a"), None);
        assert_eq!(number("-1"), None);
        assert_eq!(number("9999999999"), None);
    }
}
