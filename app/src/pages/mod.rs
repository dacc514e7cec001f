mod account;
mod authenticator;
mod confirm;
mod link;
mod not_you;
mod passkey_offer;
mod sign_in;
mod verify;

pub use account::Account;
pub use authenticator::{AuthenticatorPage, SecondStep};
pub use confirm::ConfirmItsYou;
pub use link::{Approved, ConfirmLink};
pub use not_you::NotYou;
pub use passkey_offer::PasskeyOffer;
pub use sign_in::SignIn;
pub use verify::Verify;

pub use crate::islands::PasskeyPanel;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::domain::{AppError, Field};
use crate::i18n::{Locale, td_string};

/// The language this page is rendered in (`web::locale`).
pub fn locale() -> Locale {
    #[cfg(feature = "ssr")]
    {
        crate::web::locale()
    }
    #[cfg(not(feature = "ssr"))]
    Locale::default()
}

/// An error's words in this page's language.
pub fn words(e: &AppError) -> String {
    #[cfg(feature = "ssr")]
    {
        crate::i18n::words::error(e, locale())
    }
    #[cfg(not(feature = "ssr"))]
    e.to_string()
}

/// The card every page sits in.
#[component]
pub fn Card(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <Title text=title.clone()/>
        <section class="card" aria-labelledby="page-title">
            <p class="brand" aria-hidden="true">
                <span class="brand-mark">"●"</span>
                " " {td_string!(locale(), brand)}
            </p>
            <h1 id="page-title">{title}</h1>
            {children()}
        </section>
    }
}

/// The message next to a field, when the last post's error belongs there.
/// It is always in the page (empty when there is nothing to say).
#[component]
pub fn FieldMessage(id: &'static str, field: Field, error: Option<AppError>) -> impl IntoView {
    let text = error.filter(|e| e.field() == field).map(|e| words(&e));
    view! {
        <p id=id class="field-error" role="alert" aria-live="assertive">
            {text}
        </p>
    }
}

/// Whether this deployment offers passkeys (pages are rendered on the
/// server, which knows).
pub fn passkeys_on() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<crate::web::AppState>().is_some_and(|s| s.auth.passkeys_enabled())
    }
    #[cfg(not(feature = "ssr"))]
    false
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    let l = locale();
    view! {
        <Card title=td_string!(l, not_found.title)>
            <p>{td_string!(l, not_found.body)}</p>
            <p><a href="/sign-in">{td_string!(l, not_found.go_sign_in)}</a></p>
        </Card>
    }
}

/// The footer's language menu: each language named in itself, as a plain
/// link (no script needed) to `LANGUAGE_PATH`, which keeps the choice in a
/// cookie and comes back to this page. Not under backup codes shown for
/// the only time: coming back would not show them again.
#[component]
pub fn LanguageMenu() -> impl IntoView {
    if showing_backup_codes() {
        return None;
    }
    let here = locale();
    let back = current_page();
    let items = crate::i18n::all()
        .iter()
        .map(|&l| {
            let tag = crate::i18n::tag(l);
            let name = td_string!(l, language_name);
            if l == here {
                view! { <li><span lang=tag aria-current="true">{name}</span></li> }.into_any()
            } else {
                let href = format!("{}?set={tag}&back={}", crate::LANGUAGE_PATH, encode_component(&back));
                view! { <li><a href=href lang=tag hreflang=tag class="link">{name}</a></li> }.into_any()
            }
        })
        .collect_view();
    Some(view! {
        <footer class="languages">
            <nav aria-label=td_string!(here, language_menu)>
                <ul class="language-list">{items}</ul>
            </nav>
        </footer>
    })
}

/// Whether this page shows the backup codes, once (their sealed cookie came
/// with the request).
fn showing_backup_codes() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .is_some_and(|p| crate::web::cookie_in(&p.headers, crate::web::BACKUP_CODES_COOKIE).is_some())
    }
    #[cfg(not(feature = "ssr"))]
    false
}

/// This page, for coming back to it: one of our pages (else the sign-in
/// page), without its query but for the sign-in page's own (the tab, and
/// `rd` only where the return rules take it). The link never carries on
/// anything a URL brought that the page would not use itself.
fn current_page() -> String {
    #[cfg(feature = "ssr")]
    {
        let Some(parts) = use_context::<http::request::Parts>() else { return "/sign-in".to_owned() };
        let path = parts.uri.path();
        if path == "/" || path == "/sign-in" {
            let by_phone = parts
                .uri
                .query()
                .is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "with" && v == "phone"));
            return sign_in::sign_in_href(by_phone, sign_in::checked_return().as_deref());
        }
        if crate::PAGE_PATHS.contains(&path) { path.to_owned() } else { "/sign-in".to_owned() }
    }
    #[cfg(not(feature = "ssr"))]
    "/sign-in".to_owned()
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn encode_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
