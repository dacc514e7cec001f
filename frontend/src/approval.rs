//! The waiting code page, while the sign-in may be approved on another
//! device (the email's link opened on a phone): `#approval` is the page's
//! "I've approved it" form, and its `data-approval` the address of a stream
//! of server-sent events about this sign-in. The server answers each
//! connection at once and ends it: with no event while the sign-in waits
//! (only how long the browser should wait before asking again, growing from
//! 2 s to 10 s), with the event once it was approved, or with a `204` once
//! there is nothing to wait for (which stops an `EventSource`). The
//! browser's `EventSource` does the asking again by itself; on the event,
//! this sends the form, and the server opens the session. Without
//! JavaScript the person presses the button.
//!
//! Why server-sent events and not a timer here: the browser keeps the
//! schedule, so this module holds one callback (each one costs the sign-in
//! page wasm: a timer and a request per question cost 540 B brotli, this
//! about a third of that).

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlFormElement;

use crate::dom::{self, get};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = EventSource)]
    type Events;
    #[wasm_bindgen(constructor, js_class = EventSource, catch)]
    fn new(url: &JsValue) -> Result<Events, JsValue>;
    #[wasm_bindgen(method, js_class = EventSource)]
    fn close(this: &Events);
}

pub fn start() {
    let Some(form) = dom::element("approval") else { return };
    let Ok(events) = Events::new(&get(&get(&form, "dataset"), "approval")) else { return };
    let form = form.unchecked_into::<HtmlFormElement>();
    let target = events.unchecked_ref::<web_sys::EventTarget>().clone();
    dom::listen(&target, "message", move |_| {
        events.close();
        // Gone with a page shown in place: nothing to send.
        if form.is_connected() {
            _ = form.submit();
        }
    });
}
