//! The sign-in form without a page load: a `form[data-swap]` is sent by
//! script, and the page the server's answer leads to replaces this page's
//! body in place, its address pushed onto the history.
//!
//! Why (issue 26): pressing "Send code" used to be a page load, and even for
//! a page with no script a page load costs Chromium a new document and its
//! render-blocking stylesheet: 80 to 200 ms from the press to the first
//! paint on this machine, depending on the day. In place, the code field is
//! on screen one round trip and one frame after the press, about 30 ms
//! (docs/benchmarks.md, "Speed where a person feels it"; `scripts/speed` measures both).
//!
//! The server cannot tell the difference, and needs none: the request is
//! the form's own (its fields, form-encoded, `Accept: text/html`), so it gets
//! the same answer a plain post gets, a redirect to the next page
//! (post/redirect/get), which the request follows with the cookies it sets.
//! A reload, or Back and Forward, asks the server for the address shown.
//! Without JavaScript, or before this module has loaded, the form posts as
//! it always did, and so it does when this request gets no answer.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Event, HtmlElement, HtmlFormElement};

use crate::dom::{self, get, set};

// XMLHttpRequest rather than `fetch`: it parses the answer into a document
// itself and says when it is done in one event, which keeps the wasm
// smaller than `fetch`, `text()` and a DOMParser (each promise step is a
// closure of its own in the wasm).
#[wasm_bindgen]
extern "C" {
    type FormData;
    #[wasm_bindgen(constructor, js_class = FormData, catch)]
    fn new(form: &HtmlFormElement) -> Result<FormData, JsValue>;
    #[wasm_bindgen(js_name = URLSearchParams)]
    type FormEncoded;
    #[wasm_bindgen(constructor, js_class = URLSearchParams, catch)]
    fn new(fields: &FormData) -> Result<FormEncoded, JsValue>;
    #[wasm_bindgen(js_name = XMLHttpRequest)]
    #[derive(Clone)]
    type Request;
    #[wasm_bindgen(constructor, js_class = XMLHttpRequest)]
    fn new() -> Request;
    #[wasm_bindgen(method, js_class = XMLHttpRequest)]
    fn open(this: &Request, method: &str, url: &JsValue);
    #[wasm_bindgen(method, js_class = XMLHttpRequest, js_name = setRequestHeader)]
    fn header(this: &Request, name: &str, value: &str);
    #[wasm_bindgen(method, js_class = XMLHttpRequest)]
    fn send(this: &Request, body: &FormEncoded);
    /// The answer parsed as a page; none when it was not HTML, or did not
    /// come.
    #[wasm_bindgen(method, getter = responseXML, js_class = XMLHttpRequest)]
    fn page(this: &Request) -> Option<Document>;
    /// Where the answer came from, after the redirects.
    #[wasm_bindgen(method, getter = responseURL, js_class = XMLHttpRequest)]
    fn url(this: &Request) -> JsValue;
    #[wasm_bindgen(js_namespace = history, js_name = pushState)]
    fn push_state(state: &JsValue, unused: &str, url: &JsValue);
    #[wasm_bindgen(js_name = URL)]
    type Address;
    #[wasm_bindgen(constructor, js_class = URL, catch)]
    fn new(url: &JsValue) -> Result<Address, JsValue>;
    #[wasm_bindgen(method, getter, js_class = URL)]
    fn origin(this: &Address) -> JsValue;
}

pub fn bind() {
    if !dom::exists("form[data-swap]") {
        return;
    }
    // On the document, after the form's own listeners: a submission that
    // something else took (`preventDefault`) is left alone.
    dom::listen(&dom::document(), "submit", submit);
    // Back or Forward to an address that was shown in place: this document
    // still holds the other page, so load the one at the address. And once
    // a page was shown in place, this document holds a page the server
    // never lets a cache keep (`/verify` is `no-store`; the sign-in page
    // this document came as is not): when Back brings it out of the
    // browser's back/forward cache, ask the server for it again.
    // (Every `popstate`: Chromium keeps the entries this document pushed
    // as its own after a reload, so the document at the address reached may
    // never have been swapped.)
    let reload = dom::callback(|ev| {
        let swapped = dom::document().document_element().is_some_and(|html| html.has_attribute(SWAPPED));
        if get(&ev, "type") == "popstate" || (swapped && get(&ev, "persisted").is_truthy()) {
            _ = dom::window().location().reload();
        }
    });
    for event in ["popstate", "pageshow"] {
        _ = dom::window().add_event_listener_with_callback(event, reload.unchecked_ref());
    }
}

/// The attribute of `<html>` that says this document shows a page it did
/// not load.
const SWAPPED: &str = "data-swapped";

fn submit(ev: JsValue) {
    let ev: Event = ev.unchecked_into();
    if ev.default_prevented() {
        return;
    }
    let Some(form) = ev.target().and_then(|t| t.dyn_into::<HtmlFormElement>().ok()) else { return };
    if !form.has_attribute("data-swap") {
        return;
    }
    // Encoded as the browser encodes the form (not multipart).
    let Ok(body) = FormData::new(&form).and_then(|fields| FormEncoded::new(&fields)) else { return };
    ev.prevent_default();
    let request = Request::new();
    request.open("POST", &get(&form, "action"));
    // The headers of a browser's own form post: the server then answers
    // with a redirect to the next page, not with a server function's data.
    request.header("accept", "text/html");
    request.header("content-type", "application/x-www-form-urlencoded");
    set(&request, "responseType", &JsValue::from_str("document"));
    let answered = request.clone();
    dom::listen(request.unchecked_ref(), "loadend", move |_| {
        let url = answered.url();
        match answered.page() {
            Some(page) if ours(&url) => show(&url, &page),
            // No answer, or not one of our pages (a proxy's error, say): the
            // form the plain way, which shows the browser's own account of
            // what failed, as without this module.
            _ => _ = form.submit(),
        }
    });
    request.send(&body);
}

/// `url` is on this site (the server's redirects always are; a page from
/// anywhere else is never shown as ours).
fn ours(url: &JsValue) -> bool {
    Address::new(url).is_ok_and(|a| a.origin() == get(&dom::window().location(), "origin"))
}

/// Puts `page` (from `url`) in place of this one, as a navigation would:
/// title, body, address, scroll position, focus, behaviours.
fn show(url: &JsValue, page: &Document) {
    let doc = dom::document();
    // A parsed HTML page always has a body.
    let (Some(body), Some(old)) = (page.body(), doc.body()) else { return };
    // Nothing may wait on the field that is about to go.
    crate::passkey::stop();
    if let Some(html) = doc.document_element() {
        _ = html.remove_attribute("data-islands");
        _ = html.set_attribute(SWAPPED, "");
    }
    set(&doc, "title", &get(page, "title"));
    // The answer's scripts never run (a parsed answer's don't): the page's
    // loader is already done, and this module binds the new body below.
    _ = old.replace_with_with_node_1(&body);
    if get(&dom::window().location(), "href") != *url {
        push_state(&JsValue::NULL, "", url);
    }
    dom::window().scroll_to_with_x_and_y(0.0, 0.0);
    focus(&doc);
    crate::countdown::start();
    crate::passkey::start();
    crate::approval::start();
    crate::settle();
}

/// Where a new page puts the person: its `autofocus` field (the code field;
/// a field with an error), else its heading, so a screen reader starts
/// reading the new page there.
fn focus(doc: &Document) {
    let target = doc.query_selector("[autofocus]").ok().flatten().or_else(|| {
        let heading = doc.query_selector("h1").ok().flatten()?;
        _ = heading.set_attribute("tabindex", "-1");
        Some(heading)
    });
    if let Some(target) = target {
        _ = target.unchecked_into::<HtmlElement>().focus();
    }
}
