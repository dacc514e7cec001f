//! The passkey ceremonies, through the WebAuthn JSON helpers
//! (`PublicKeyCredential.parse…OptionsFromJSON` and `toJSON`, in Chrome 129,
//! Firefox 119 and Safari 18.4): the options go from the server's JSON to
//! `navigator.credentials` and the answer back as JSON, so no WebAuthn
//! types or base64 code ship in the wasm.
//!
//! The page renders the controls hidden inside `#passkey`: `data-passkey`
//! says which ceremony (`sign-in`, `add`, `confirm`), `data-options` and
//! `data-finish` name its two endpoints (`server/src/web/passkeys.rs`), and
//! `data-failed`, `data-not-used`, `data-not-created` and `data-already`
//! hold the words for what can go wrong. They are shown only where the
//! browser can make and use passkeys, so without JavaScript (or WebAuthn)
//! nobody sees a button that can't work. On the sign-in page the passkey is
//! also offered in the address field's autofill list.
//!
//! Each step is a callback on the browser's own promises rather than a Rust
//! `async` block: an executor and futures would cost the sign-in page
//! several KB.

use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;

use js_sys::{JSON, Object, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

use crate::dom::{self, get, set};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = PublicKeyCredential, js_name = parseRequestOptionsFromJSON, catch)]
    fn parse_request(options: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = PublicKeyCredential, js_name = parseCreationOptionsFromJSON, catch)]
    fn parse_creation(options: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = PublicKeyCredential, js_name = isConditionalMediationAvailable, catch)]
    fn conditional_available() -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = PublicKeyCredential, js_name = isUserVerifyingPlatformAuthenticatorAvailable, catch)]
    fn platform_available() -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["navigator", "credentials"], js_name = get, catch)]
    fn credentials_get(options: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["navigator", "credentials"], js_name = create, catch)]
    fn credentials_create(options: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = fetch, catch)]
    fn fetch_with(url: &str, init: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = AbortController)]
    type AbortController;
    #[wasm_bindgen(constructor, js_class = AbortController, catch)]
    fn new() -> Result<AbortController, JsValue>;
    #[wasm_bindgen(method, getter, js_class = AbortController)]
    fn signal(this: &AbortController) -> JsValue;
    #[wasm_bindgen(method, js_class = AbortController)]
    fn abort(this: &AbortController);
    type FetchResponse;
    #[wasm_bindgen(method, getter)]
    fn ok(this: &FetchResponse) -> bool;
    #[wasm_bindgen(method, catch)]
    fn json(this: &FetchResponse) -> Result<Promise, JsValue>;
}

/// How a ceremony ends without leaving the page: which of the panel's
/// messages to show (`data-…`), if any.
type Report = Rc<dyn Fn(Option<&str>)>;

/// The property of `#passkey` that holds the autofill request's
/// AbortController while it waits (state lives on the page: `no_std` has no
/// thread-locals).
const WAITING: &str = "passcodeWaiting";
/// The attribute of `<html>` that says this device has a platform
/// authenticator that verifies its user (fingerprint, face, screen lock):
/// the passkey offer can be taken.
const CAN_MAKE: &str = "data-can-make-passkey";

#[inline(never)]
fn go_to(url: &str) {
    _ = dom::window().location().assign(url);
}

/// WebAuthn with its JSON helpers.
fn supported() -> bool {
    let pkc = get(&dom::window(), "PublicKeyCredential");
    get(&pkc, "parseRequestOptionsFromJSON").is_function() && get(&pkc, "parseCreationOptionsFromJSON").is_function()
}

/// Finds out whether this device could make a passkey, so that the offer
/// after a code comes only where it can be taken (a browser without such an
/// authenticator would only be asked for a security key).
/// `done` runs with the answer known.
pub fn probe(done: impl FnOnce() + 'static) {
    if !supported() {
        return done();
    }
    let done = Rc::new(core::cell::Cell::new(Some(done)));
    let failed = done.clone();
    let yes = move |v: JsValue| {
        if let (true, Some(html)) = (v.is_truthy(), dom::document().document_element()) {
            _ = html.set_attribute(CAN_MAKE, "");
        }
        if let Some(done) = done.take() {
            done()
        }
    };
    dom::then(platform_available(), yes, move |_| {
        if let Some(done) = failed.take() {
            done()
        }
    });
}

pub fn can_make() -> bool {
    dom::document().document_element().is_some_and(|html| html.has_attribute(CAN_MAKE))
}

pub fn start() {
    let Some(panel) = dom::element("passkey") else { return };
    if !supported() {
        return;
    }
    _ = panel.remove_attribute("hidden");
    if let Some(button) = dom::element("passkey-button") {
        dom::listen(&button, "click", |_| run(false));
    }
    if panel.get_attribute("data-passkey").as_deref() == Some("sign-in") {
        dom::then(
            conditional_available(),
            |v| {
                if v.is_truthy() {
                    run(true)
                }
            },
            |_| {},
        );
    }
}

/// Ends the sign-in page's autofill request, if it is waiting: before the
/// button's own request (a browser runs one at a time), and before the page
/// is replaced in place (`swap.rs`), so that nothing waits on a field that
/// is gone.
pub fn stop() {
    let Some(panel) = dom::element("passkey") else { return };
    let waiting = get(&panel, WAITING);
    if !waiting.is_undefined() {
        set(&panel, WAITING, &JsValue::UNDEFINED);
        waiting.unchecked_into::<AbortController>().abort();
    }
}

/// One ceremony. `quietly`: the sign-in page's autofill request, which waits
/// until a passkey is picked there; the button's own request cancels it
/// first (a browser runs one at a time).
fn run(quietly: bool) {
    let Some(panel) = dom::element("passkey") else { return };
    let button = dom::element("passkey-button");
    if !quietly {
        stop();
        if let Some(b) = &button {
            if b.has_attribute("aria-disabled") {
                return;
            }
            _ = b.set_attribute("aria-disabled", "true");
        }
    }
    say(&panel, None);
    let shown = panel.clone();
    let report: Report = Rc::new(move |message: Option<&str>| {
        if let Some(message) = message {
            say(&shown, Some(message));
        }
        if let (false, Some(b)) = (quietly, &button) {
            _ = b.remove_attribute("aria-disabled");
        }
    });
    let attr = |name: &str| panel.get_attribute(name).unwrap_or_default();
    let create = attr("data-passkey") == "add";
    let finish = attr("data-finish");
    let next = report.clone();
    let asking = panel.clone();
    post(&attr("data-options"), None, move |answer| ask(answer, &asking, create, quietly, finish, next), report);
}

/// Shows one of the panel's messages (`data-…`), or a message the server
/// wrote (`=…`), in `#passkey-status`; `None` clears it.
#[inline(never)]
fn say(panel: &Element, message: Option<&str>) {
    let text = match message {
        Some(m) => match m.strip_prefix('=') {
            Some(server) => Some(server.to_owned()),
            None => panel.get_attribute(m),
        },
        None => None,
    };
    if let Some(status) = dom::element("passkey-status") {
        status.set_text_content(text.as_deref());
    }
}

/// Hands the server's options to the browser, and its answer back.
#[inline(never)]
fn ask(answer: JsValue, panel: &Element, create: bool, quietly: bool, finish: String, report: Report) {
    if let Some(go) = get(&answer, "go").as_string() {
        return go_to(&go);
    }
    let public_key = get(&answer, "publicKey");
    let Ok(public_key) = (if create { parse_creation(&public_key) } else { parse_request(&public_key) }) else {
        return report(Some("data-failed"));
    };
    let options = Object::new();
    set(&options, "publicKey", &public_key);
    if quietly {
        // The page moved on while the options were on their way (the code
        // page shown in place): there is no field left to offer them in,
        // and nothing could cancel the request later.
        if !panel.is_connected() {
            return report(None);
        }
        let Ok(controller) = AbortController::new() else { return report(None) };
        set(&options, "mediation", &JsValue::from_str("conditional"));
        set(&options, "signal", &controller.signal());
        set(panel, WAITING, &controller);
    }
    let asked = if create { credentials_create(&options) } else { credentials_get(&options) };
    let failed = report.clone();
    dom::then(
        asked,
        move |credential| match JSON::stringify(&credential) {
            Ok(body) => {
                let gone = report.clone();
                let arrived = move |answer: JsValue| match get(&answer, "go").as_string() {
                    Some(go) => go_to(&go),
                    None => gone(Some("data-failed")),
                };
                post(&finish, Some(&body.into()), arrived, report);
            }
            Err(_) => report(Some("data-failed")),
        },
        move |e| {
            let name = get(&e, "name").as_string().unwrap_or_default();
            let message = if quietly || name == "AbortError" {
                None
            } else if !create {
                Some("data-not-used")
            } else if name == "InvalidStateError" {
                Some("data-already")
            } else {
                Some("data-not-created")
            };
            failed(message);
        },
    );
}

/// POSTs to one of our endpoints: `done` gets its JSON (a success, or an
/// answer naming where to go first), `report` the words of a failure.
#[inline(never)]
fn post(url: &str, body: Option<&JsValue>, done: impl FnOnce(JsValue) + 'static, report: Report) {
    let init = Object::new();
    set(&init, "method", &JsValue::from_str("POST"));
    if let Some(body) = body {
        let headers = Object::new();
        set(&headers, "content-type", &JsValue::from_str("application/json"));
        set(&init, "headers", &headers);
        set(&init, "body", body);
    }
    let failed = report.clone();
    dom::then(
        fetch_with(url, &init),
        move |res| {
            let res: FetchResponse = res.unchecked_into();
            let ok = res.ok();
            let failed = report.clone();
            let read = move |json: JsValue| {
                if ok || get(&json, "go").is_string() {
                    done(json)
                } else {
                    match get(&json, "error").as_string() {
                        Some(error) => {
                            let mut own = String::from("=");
                            own.push_str(&error);
                            report(Some(&own))
                        }
                        None => report(Some("data-failed")),
                    }
                }
            };
            dom::then(res.json(), read, move |_| failed(Some("data-failed")));
        },
        move |_| failed(Some("data-failed")),
    );
}
