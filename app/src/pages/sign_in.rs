use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{Card, FieldMessage, PasskeyPanel, encode_component, locale, passkeys_on};
use crate::api::{RequestCode, passkey_paths as paths};
use crate::domain::{AppError, Field};
use crate::i18n::td_string;
use crate::islands::SendCodeButton;

/// The sign-in page's address, by email or by phone, keeping `rd`.
pub fn sign_in_href(by_phone: bool, rd: Option<&str>) -> String {
    let mut query = Vec::new();
    if by_phone {
        query.push(("with", "phone"));
    }
    if let Some(rd) = rd {
        query.push(("rd", rd));
    }
    if query.is_empty() {
        return "/sign-in".to_owned();
    }
    let encoded: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode_component(v))).collect();
    format!("/sign-in?{}", encoded.join("&"))
}

/// `rd` from the page's address, kept only if the return rules take it:
/// the page never carries on (or shows) an address it would not go to. It
/// is read from the request's own query string, decoded once: the router's
/// query map decodes twice, which would turn an app's `%26` into `&`.
pub(super) fn checked_return() -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        let state = use_context::<crate::web::AppState>()?;
        let query = use_context::<http::request::Parts>()?.uri.query()?.to_owned();
        let rd = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "rd").map(|(_, v)| v.into_owned())?;
        state.return_rules.parse(&rd).map(|to| to.as_str().to_owned())
    }
    #[cfg(not(feature = "ssr"))]
    {
        // Pages are rendered on the server only.
        None
    }
}

/// Rendered on the server only; the button is the one island.
#[component]
pub fn SignIn() -> impl IntoView {
    let query = use_query_map().read_untracked();
    let by_phone = query.get("with").as_deref() == Some("phone");
    let rd = checked_return();
    let action = ServerAction::<RequestCode>::new();
    // A failed post comes back here with its (signed) error.
    let error = action.value().get_untracked().and_then(Result::err);
    let invalid = error.as_ref().is_some_and(|e| e.field() == Field::Identifier);
    let suggests_email = error.as_ref().is_some_and(AppError::suggests_email);
    let current = |yes: bool| yes.then_some("page");
    let l = locale();

    let passkeys = passkeys_on();
    let passkey_finish = match &rd {
        Some(rd) => format!("{}?rd={}", paths::SIGN_IN, encode_component(rd)),
        None => paths::SIGN_IN.to_owned(),
    };
    // The field with the error takes the focus, so a screen reader reads its
    // label, "invalid" and the message (aria-describedby) on arrival.
    let input = if by_phone {
        view! {
            <p class="hint" id="identifier-hint">{td_string!(l, sign_in.phone_hint)}</p>
            <input id="identifier" name="identifier" type="tel" autocomplete=if passkeys { "tel webauthn" } else { "tel" } inputmode="tel"
                required maxlength="64" aria-describedby="identifier-hint identifier-error"
                aria-invalid=invalid.then_some("true") autofocus=invalid/>
        }
        .into_any()
    } else {
        view! {
            // "webauthn": the browser lists this site's passkeys in the
            // field's autofill (the passkey island asks for them).
            <input id="identifier" name="identifier" type="email"
                autocomplete=if passkeys { "username webauthn" } else { "email" }
                spellcheck="false" autocapitalize="none" required maxlength="254"
                aria-describedby="identifier-error" aria-invalid=invalid.then_some("true") autofocus=invalid/>
        }
        .into_any()
    };

    view! {
        <Card title=td_string!(l, sign_in.title)>
            <p class="lede">{td_string!(l, sign_in.lede)}</p>
            <nav class="switch" aria-label=td_string!(l, sign_in.with)>
                // Two links to one path: <A> would mark both current.
                <a href=sign_in_href(false, rd.as_deref()) class="switch-option" aria-current=current(!by_phone)>{td_string!(l, sign_in.email_tab)}</a>
                <a href=sign_in_href(true, rd.as_deref()) class="switch-option" aria-current=current(by_phone)>{td_string!(l, sign_in.phone_tab)}</a>
            </nav>
            // novalidate: our own messages, next to the field, are clearer
            // than the browser's bubbles and work the same without JavaScript.
            // data-swap: with JavaScript, sent without a page load and the
            // code page shown in place (app/src/islands.rs).
            <ActionForm action attr:novalidate=true attr:class="form" attr:data-swap="">
                <div class="field">
                    <label for="identifier">{if by_phone { td_string!(l, sign_in.phone_label) } else { td_string!(l, sign_in.email_label) }}</label>
                    {input}
                    <FieldMessage id="identifier-error" field=Field::Identifier error=error.clone()/>
                    {suggests_email.then(|| view! {
                        <p><a href=sign_in_href(false, rd.as_deref()) class="link">{td_string!(l, sign_in.use_email)}</a></p>
                    })}
                </div>
                <FieldMessage id="form-error" field=Field::Form error/>
                // Where the person goes after signing in travels with the
                // form, with or without JavaScript.
                {rd.clone().map(|rd| view! { <input type="hidden" name="rd" value=rd/> })}
                <SendCodeButton/>
            </ActionForm>
            // Where to go after signing in travels with the passkey's answer
            // as it does with the form.
            {passkeys.then(|| view! {
                <PasskeyPanel mode="sign-in" options=paths::SIGN_IN_OPTIONS
                    finish=passkey_finish.clone()
                    label=td_string!(l, sign_in.passkey) class="secondary" lead=td_string!(l, sign_in.or)/>
            })}
        </Card>
    }
}
