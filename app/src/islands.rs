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
/// types or base64 code ship in the wasm. Calls go through `Reflect`, for
/// the same reason.
#[cfg(feature = "hydrate")]
mod passkey {
    use std::cell::RefCell;

    use js_sys::{Array, Function, JSON, Object, Promise, Reflect};
    use leptos::prelude::*;
    use leptos::wasm_bindgen::{JsCast, JsValue, closure::Closure};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::Element;

    const NOT_USED: &str =
        "No passkey was used: it was cancelled, or this device has none for this site. You can use a code instead.";
    const NOT_CREATED: &str = "No passkey was made: it was cancelled, or this device can't make one. You can add one later from your account page.";
    const ALREADY: &str = "This device already has a passkey for this account.";
    const FAILED: &str = "Something went wrong with the passkey. Please try again, or use a code instead.";

    thread_local! {
        /// The autofill request's AbortController, while it waits.
        static WAITING: RefCell<Option<JsValue>> = const { RefCell::new(None) };
        /// This device has a platform authenticator that verifies its user
        /// (fingerprint, face, screen lock): the passkey offer can be taken.
        static CAN_MAKE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Finds out, once the page is up, whether this device could make a
    /// passkey, so that the offer after a code comes only where it can be
    /// taken (a browser without such an authenticator would only be asked
    /// for a security key).
    pub fn probe() {
        if !supported() {
            return;
        }
        leptos::task::spawn_local(async {
            let pkc = get(&window(), "PublicKeyCredential");
            let available = call(&pkc, "isUserVerifyingPlatformAuthenticatorAvailable", &JsValue::UNDEFINED).await;
            CAN_MAKE.with(|c| c.set(available.is_ok_and(|v| v.is_truthy())));
        });
    }

    pub fn can_make() -> bool {
        CAN_MAKE.with(std::cell::Cell::get)
    }

    fn get(on: &JsValue, key: &str) -> JsValue {
        Reflect::get(on, &JsValue::from_str(key)).unwrap_or_default()
    }

    fn set(on: &JsValue, key: &str, value: &JsValue) {
        _ = Reflect::set(on, &JsValue::from_str(key), value);
    }

    /// `on[method](arg)`, awaited when it returns a promise.
    async fn call(on: &JsValue, method: &str, arg: &JsValue) -> Result<JsValue, JsValue> {
        let f: Function = get(on, method).dyn_into()?;
        let out = f.call1(on, arg)?;
        match out.dyn_into::<Promise>() {
            Ok(p) => JsFuture::from(p).await,
            Err(v) => Ok(v),
        }
    }

    fn element(id: &str) -> Option<Element> {
        document().get_element_by_id(id)
    }

    /// WebAuthn with its JSON helpers.
    pub fn supported() -> bool {
        let pkc = get(&window(), "PublicKeyCredential");
        get(&pkc, "parseRequestOptionsFromJSON").is_function()
            && get(&pkc, "parseCreationOptionsFromJSON").is_function()
    }

    pub fn start() {
        let Some(panel) = element("passkey") else { return };
        if !supported() {
            return;
        }
        _ = panel.remove_attribute("hidden");
        let mode = panel.get_attribute("data-passkey").unwrap_or_default();
        if let Some(button) = element("passkey-button") {
            let m = mode.clone();
            let click = Closure::<dyn Fn()>::new(move || leptos::task::spawn_local(run(m.clone(), false)));
            _ = button.add_event_listener_with_callback("click", click.as_ref().unchecked_ref());
            click.forget();
        }
        if mode == "sign-in" {
            leptos::task::spawn_local(async move {
                let pkc = get(&window(), "PublicKeyCredential");
                let available = call(&pkc, "isConditionalMediationAvailable", &JsValue::UNDEFINED).await;
                if available.is_ok_and(|v| v.is_truthy()) {
                    run(mode, true).await;
                }
            });
        }
    }

    /// One ceremony. `quietly`: the sign-in page's autofill request, which
    /// waits until a passkey is picked there; the button's own request
    /// cancels it first (a browser runs one at a time).
    async fn run(mode: String, quietly: bool) {
        let button = element("passkey-button");
        if !quietly {
            if let Some(waiting) = WAITING.with(|w| w.borrow_mut().take())
                && let Ok(abort) = get(&waiting, "abort").dyn_into::<Function>()
            {
                _ = abort.call0(&waiting);
            }
            if let Some(b) = &button {
                if b.has_attribute("aria-disabled") {
                    return;
                }
                _ = b.set_attribute("aria-disabled", "true");
            }
        }
        let say = |text: &str| {
            if let Some(status) = element("passkey-status") {
                status.set_text_content(Some(text));
            }
        };
        say("");
        match ceremony(&mode, quietly).await {
            Ok(go) => {
                _ = window().location().assign(&go);
                return;
            }
            Err(Some(text)) => say(&text),
            Err(None) => {}
        }
        if let (false, Some(b)) = (quietly, &button) {
            _ = b.remove_attribute("aria-disabled");
        }
    }

    /// Where to go next, or what to tell the person (`None`: nothing).
    async fn ceremony(mode: &str, quietly: bool) -> Result<String, Option<String>> {
        let panel = element("passkey").ok_or(None)?;
        let attr = |name: &str| panel.get_attribute(name).unwrap_or_default();
        let answer = post(&attr("data-options"), None).await?;
        if let Some(go) = get(&answer, "go").as_string() {
            return Ok(go);
        }
        let create = mode == "add";
        let pkc = get(&window(), "PublicKeyCredential");
        let parse = if create { "parseCreationOptionsFromJSON" } else { "parseRequestOptionsFromJSON" };
        let public_key = call(&pkc, parse, &get(&answer, "publicKey")).await.map_err(|_| Some(FAILED.to_owned()))?;
        let options = Object::new();
        set(&options, "publicKey", &public_key);
        if quietly {
            let controller = get(&window(), "AbortController")
                .dyn_into::<Function>()
                .and_then(|c| Reflect::construct(&c, &Array::new()))
                .map_err(|_| None)?;
            set(&options, "mediation", &JsValue::from_str("conditional"));
            set(&options, "signal", &get(&controller, "signal"));
            WAITING.with(|w| *w.borrow_mut() = Some(controller));
        }
        let credentials = get(&get(&window(), "navigator"), "credentials");
        let credential = call(&credentials, if create { "create" } else { "get" }, &options).await.map_err(|e| {
            let name = get(&e, "name").as_string().unwrap_or_default();
            if quietly || name == "AbortError" {
                return None;
            }
            Some(
                if !create {
                    NOT_USED
                } else if name == "InvalidStateError" {
                    ALREADY
                } else {
                    NOT_CREATED
                }
                .to_owned(),
            )
        })?;
        let mut finish = attr("data-finish");
        // Where to go after signing in travels as the form carries it.
        if let Some(rd) =
            document().query_selector("input[name=rd]").ok().flatten().and_then(|i| i.get_attribute("value"))
        {
            finish.push_str("?rd=");
            finish.push_str(&String::from(js_sys::encode_uri_component(&rd)));
        }
        let body = JSON::stringify(&credential).map_err(|_| Some(FAILED.to_owned()))?;
        let answer = post(&finish, Some(&body.into())).await?;
        get(&answer, "go").as_string().ok_or_else(|| Some(FAILED.to_owned()))
    }

    /// POSTs to one of our endpoints; its JSON, or its words on failure.
    async fn post(url: &str, body: Option<&JsValue>) -> Result<JsValue, Option<String>> {
        let init = Object::new();
        set(&init, "method", &JsValue::from_str("POST"));
        if let Some(body) = body {
            let headers = Object::new();
            set(&headers, "content-type", &JsValue::from_str("application/json"));
            set(&init, "headers", &headers);
            set(&init, "body", body);
        }
        let fetch: Function = get(&window(), "fetch").dyn_into().map_err(|_| None)?;
        let res = fetch.call2(&window(), &JsValue::from_str(url), &init).map_err(|_| Some(FAILED.to_owned()))?;
        let res = JsFuture::from(Promise::from(res)).await.map_err(|_| Some(FAILED.to_owned()))?;
        let json = call(&res, "json", &JsValue::UNDEFINED).await.map_err(|_| Some(FAILED.to_owned()))?;
        if get(&res, "ok").is_truthy() || get(&json, "go").is_string() {
            Ok(json)
        } else {
            Err(Some(get(&json, "error").as_string().unwrap_or_else(|| FAILED.to_owned())))
        }
    }
}

/// On the server the buttons render as plain HTML: nothing here runs.
#[cfg(not(feature = "hydrate"))]
mod browser {
    pub fn press(_: leptos::ev::MouseEvent, _: &str) {}
    pub fn press_signing_in(_: leptos::ev::MouseEvent, _: &str) {}
}
