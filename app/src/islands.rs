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
    #[cfg(feature = "hydrate")]
    passkey::probe();
    signing_in_button("Sign in", "Checking…")
}

/// The code page's "send it by email instead" button.
#[island]
pub fn EmailCodeButton() -> impl IntoView {
    submit_button("Email me a code", "Sending…", "secondary")
}

/// The sign-in link's confirmation button.
#[island]
pub fn ConfirmLinkButton() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    passkey::probe();
    signing_in_button("Sign in", "Signing in…")
}

/// The passkey controls of a page (sign in, add one, confirm it's you).
/// The page renders them hidden inside `#passkey`, whose `data-passkey`
/// says which ceremony and whose `data-options` and `data-finish` name its
/// two endpoints (`server/src/web/passkeys.rs`); this shows them only
/// where the browser can make and use passkeys, so without JavaScript (or
/// WebAuthn) nobody sees a button that can't work. On the sign-in page it
/// also offers the passkey in the address field's autofill list.
#[island]
pub fn PasskeyControls() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    request_animation_frame(passkey::start);
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

/// A button that signs in by code: as `submit_button`, and it tells the
/// server when this browser could make a passkey (a hidden `webauthn`
/// field), so that the passkey offer comes only where it can be taken.
fn signing_in_button(label: &'static str, busy: &'static str) -> impl IntoView {
    view! {
        <button type="submit" class="primary" on:click=move |ev| browser::press_signing_in(ev, busy)>
            {label}
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

    /// `press`, after adding `webauthn=true` to the form when this device
    /// can make a passkey (see `passkey::probe`).
    pub fn press_signing_in(ev: MouseEvent, busy: &str) {
        if super::passkey::can_make()
            && let Some(form) = ev.current_target().and_then(|t| t.dyn_into::<HtmlButtonElement>().ok()?.form())
            && form.query_selector("input[name=webauthn]").ok().flatten().is_none()
            && let Ok(input) = document().create_element("input")
        {
            _ = input.set_attribute("type", "hidden");
            _ = input.set_attribute("name", "webauthn");
            _ = input.set_attribute("value", "true");
            _ = form.append_child(&input);
        }
        press(ev, busy);
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

/// The passkey ceremonies in the browser, through the WebAuthn JSON helpers
/// (`PublicKeyCredential.parse…OptionsFromJSON` and `toJSON`, in Chrome 129,
/// Firefox 119 and Safari 18.4): the options go from the server's JSON to
/// `navigator.credentials` and the answer back as JSON, so no WebAuthn
/// types or base64 code ship in the wasm. Written for size, as the rest:
/// the browser functions are imported one by one (a call is a few bytes of
/// wasm; its name lives in the loader script), and each step is a callback
/// on the browser's own promises through one closure type rather than a
/// Rust `async` block (an executor, futures and a closure type per step
/// cost the sign-in page several KB).
#[cfg(feature = "hydrate")]
mod passkey {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use js_sys::{JSON, Object, Promise, Reflect};
    use leptos::prelude::*;
    use leptos::wasm_bindgen::{self, JsCast, JsValue, closure::Closure, prelude::wasm_bindgen};
    use web_sys::Element;

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

    const NOT_USED: &str =
        "No passkey was used: it was cancelled, or this device has none for this site. You can use a code instead.";
    const NOT_CREATED: &str = "No passkey was made: it was cancelled, or this device can't make one. You can add one later from your account page.";
    const ALREADY: &str = "This device already has a passkey for this account.";
    const FAILED: &str = "Something went wrong with the passkey. Please try again, or use a code instead.";

    /// How a ceremony ends without leaving the page: the words to show, if
    /// any.
    type Report = Rc<dyn Fn(Option<String>)>;

    thread_local! {
        /// The autofill request's AbortController, while it waits.
        static WAITING: RefCell<Option<AbortController>> = const { RefCell::new(None) };
        /// This device has a platform authenticator that verifies its user
        /// (fingerprint, face, screen lock): the passkey offer can be taken.
        static CAN_MAKE: Cell<bool> = const { Cell::new(false) };
    }

    #[inline(never)]
    fn get(on: &JsValue, key: &str) -> JsValue {
        Reflect::get(on, &JsValue::from_str(key)).unwrap_or_default()
    }

    #[inline(never)]
    fn set(on: &JsValue, key: &str, value: &JsValue) {
        _ = Reflect::set(on, &JsValue::from_str(key), value);
    }

    /// `ok` with what the promise resolves to, or `err` with why not (or
    /// why there was no promise).
    fn then(
        promise: Result<Promise, JsValue>,
        ok: impl FnOnce(JsValue) + 'static,
        err: impl FnOnce(JsValue) + 'static,
    ) {
        match promise {
            Ok(p) => settle(&p, Box::new(ok), Box::new(err)),
            Err(e) => err(e),
        }
    }

    /// Every callback goes through this one closure type: wasm-bindgen
    /// writes glue for each closure type it is given, and for one `dyn`
    /// type only once.
    #[inline(never)]
    fn settle(promise: &Promise, ok: Box<dyn FnOnce(JsValue)>, err: Box<dyn FnOnce(JsValue)>) {
        let once = |f: Box<dyn FnOnce(JsValue)>| {
            let mut f = Some(f);
            Closure::<dyn FnMut(JsValue)>::new(move |v| {
                if let Some(f) = f.take() {
                    f(v)
                }
            })
        };
        let (ok, err) = (once(ok), once(err));
        _ = promise.then2(&ok, &err);
        // Freed by the browser's garbage collector with the promise.
        _ = (ok.into_js_value(), err.into_js_value());
    }

    #[inline(never)]
    fn element(id: &str) -> Option<Element> {
        document().get_element_by_id(id)
    }

    #[inline(never)]
    fn go_to(url: &str) {
        _ = window().location().assign(url);
    }

    /// WebAuthn with its JSON helpers.
    pub fn supported() -> bool {
        let pkc = get(&window(), "PublicKeyCredential");
        get(&pkc, "parseRequestOptionsFromJSON").is_function()
            && get(&pkc, "parseCreationOptionsFromJSON").is_function()
    }

    /// Finds out, once the page is up, whether this device could make a
    /// passkey, so that the offer after a code comes only where it can be
    /// taken (a browser without such an authenticator would only be asked
    /// for a security key).
    pub fn probe() {
        if supported() {
            then(platform_available(), |v| CAN_MAKE.with(|c| c.set(v.is_truthy())), |_| {});
        }
    }

    pub fn can_make() -> bool {
        CAN_MAKE.with(Cell::get)
    }

    pub fn start() {
        let Some(panel) = element("passkey") else { return };
        if !supported() {
            return;
        }
        _ = panel.remove_attribute("hidden");
        if let Some(button) = element("passkey-button") {
            let click = Closure::<dyn Fn()>::new(move || run(false));
            _ = button.add_event_listener_with_callback("click", click.as_ref().unchecked_ref());
            click.forget();
        }
        if panel.get_attribute("data-passkey").as_deref() == Some("sign-in") {
            then(
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

    /// One ceremony. `quietly`: the sign-in page's autofill request, which
    /// waits until a passkey is picked there; the button's own request
    /// cancels it first (a browser runs one at a time).
    fn run(quietly: bool) {
        let Some(panel) = element("passkey") else { return };
        let button = element("passkey-button");
        if !quietly {
            if let Some(waiting) = WAITING.with(|w| w.borrow_mut().take()) {
                waiting.abort();
            }
            if let Some(b) = &button {
                if b.has_attribute("aria-disabled") {
                    return;
                }
                _ = b.set_attribute("aria-disabled", "true");
            }
        }
        let say = |text: Option<&str>| {
            if let Some(status) = element("passkey-status") {
                status.set_text_content(text);
            }
        };
        say(None);
        let report: Report = Rc::new(move |text: Option<String>| {
            if let Some(text) = text {
                say(Some(&text));
            }
            if let (false, Some(b)) = (quietly, &button) {
                _ = b.remove_attribute("aria-disabled");
            }
        });
        let attr = |name: &str| panel.get_attribute(name).unwrap_or_default();
        let create = attr("data-passkey") == "add";
        let finish = attr("data-finish");
        let next = report.clone();
        post(&attr("data-options"), None, move |answer| ask(answer, create, quietly, finish, next), report);
    }

    /// Hands the server's options to the browser, and its answer back.
    #[inline(never)]
    fn ask(answer: JsValue, create: bool, quietly: bool, finish: String, report: Report) {
        if let Some(go) = get(&answer, "go").as_string() {
            return go_to(&go);
        }
        let public_key = get(&answer, "publicKey");
        let Ok(public_key) = (if create { parse_creation(&public_key) } else { parse_request(&public_key) }) else {
            return report(Some(FAILED.to_owned()));
        };
        let options = Object::new();
        set(&options, "publicKey", &public_key);
        if quietly {
            let Ok(controller) = AbortController::new() else { return report(None) };
            set(&options, "mediation", &JsValue::from_str("conditional"));
            set(&options, "signal", &controller.signal());
            WAITING.with(|w| *w.borrow_mut() = Some(controller));
        }
        let asked = if create { credentials_create(&options) } else { credentials_get(&options) };
        let failed = report.clone();
        then(
            asked,
            move |credential| match JSON::stringify(&credential) {
                Ok(body) => {
                    let gone = report.clone();
                    let arrived = move |answer: JsValue| match get(&answer, "go").as_string() {
                        Some(go) => go_to(&go),
                        None => gone(Some(FAILED.to_owned())),
                    };
                    post(&finish, Some(&body.into()), arrived, report);
                }
                Err(_) => report(Some(FAILED.to_owned())),
            },
            move |e| {
                let name = get(&e, "name").as_string().unwrap_or_default();
                let words = if quietly || name == "AbortError" {
                    None
                } else if !create {
                    Some(NOT_USED)
                } else if name == "InvalidStateError" {
                    Some(ALREADY)
                } else {
                    Some(NOT_CREATED)
                };
                failed(words.map(str::to_owned));
            },
        );
    }

    /// POSTs to one of our endpoints: `done` gets its JSON (a success, or
    /// an answer naming where to go first), `report` the words of a failure.
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
        then(
            fetch_with(url, &init),
            move |res| {
                let res: FetchResponse = res.unchecked_into();
                let ok = res.ok();
                let failed = report.clone();
                let read = move |json: JsValue| {
                    if ok || get(&json, "go").is_string() {
                        done(json)
                    } else {
                        report(Some(get(&json, "error").as_string().unwrap_or_else(|| FAILED.to_owned())))
                    }
                };
                then(res.json(), read, move |_| failed(Some(FAILED.to_owned())));
            },
            move |_| failed(Some(FAILED.to_owned())),
        );
    }
}

/// On the server the buttons render as plain HTML: nothing here runs.
#[cfg(not(feature = "hydrate"))]
mod browser {
    pub fn press(_: leptos::ev::MouseEvent, _: &str) {}
    pub fn press_signing_in(_: leptos::ev::MouseEvent, _: &str) {}
}
