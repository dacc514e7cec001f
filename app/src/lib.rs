//! Passcode's pages, routes and server functions, over the auth core.
//!
//! - `domain`: parsed values, `Channel`, `AppError` and the wire types (the
//!   last three also in the browser's wasm).
//! - `auth`: the core's rules, behind traits for storage, delivery and time.
//! - `store`: the SQL that implements the core's storage traits.
//! - `delivery`: SMTP, SMS providers and the development outbox.
//! - `web`: what server functions read and write (state, cookies, client IP).
//! - `metrics`: every exported metric, named and described in one list.
//! - `api`: the server functions; `pages` and `islands`: what people see.
//!
//! Everything but `domain`'s wire half, `api`'s declarations, `pages` and
//! `islands` is behind the `ssr` feature and never reaches the wasm.

pub mod api;
pub mod domain;
pub mod i18n;
pub mod islands;
mod pages;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod delivery;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod web;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment, path};

/// Base name of the generated files (`pkg/passcode.js` …); must match
/// `name` in Cargo.toml's `[[workspace.metadata.leptos]]` and `output-name`
/// in Leptos.toml (a test checks both).
pub const OUTPUT_NAME: &str = "passcode";

/// Where a page fetches its static files. The server names each file after
/// its content (`server/src/web/assets.rs`), so browsers can keep it for a year,
/// and hands these to every render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetUrls {
    /// The islands' loader script (wasm-bindgen's) and its wasm.
    pub script: String,
    pub wasm: String,
    pub stylesheet: String,
    pub icon: String,
}

/// The Content-Security-Policy nonce of one response. The server's headers
/// layer makes a fresh one per request, puts it in the request's extensions
/// and names it in the policy; the shell puts it on the page's scripts.
#[derive(Clone, Debug)]
pub struct CspNonce(String);

impl CspNonce {
    /// 128 random bits.
    #[cfg(feature = "ssr")]
    pub fn generate() -> Self {
        Self(crate::domain::random_id())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The "Not you?" page (the message's link, `/n?t=…`, lands here).
pub const NOT_YOU_PATH: &str = "/not-you";
/// Where a phone lands after approving a sign-in on another device.
pub const APPROVED_PATH: &str = "/sign-in/approved";
/// What the waiting code page polls: `waiting`, `approved` or `closed`
/// (`server/src/web/link.rs`).
pub const APPROVAL_STATUS_PATH: &str = "/sign-in/approval";

/// The footer's language menu links here (`server/src/web/language.rs`).
pub const LANGUAGE_PATH: &str = "/language";

/// Every page a person can be sent back to after choosing a language.
pub const PAGE_PATHS: &[&str] = &[
    "/",
    "/sign-in",
    "/verify",
    "/account",
    "/sign-in/confirm",
    NOT_YOU_PATH,
    APPROVED_PATH,
    "/passkeys/offer",
    "/sign-in/authenticator",
    "/account/authenticator",
    "/account/confirm",
];

/// A page of ours to go back to, from the menu link's `back`: its path one
/// of `PAGE_PATHS` and its query, if any, only characters a query may hold
/// unescaped (so nothing can end the header or leave this site). The page
/// itself still checks what its query says (`rd` against the return rules).
pub fn checked_page(back: &str) -> Option<String> {
    let (path, query) = back.split_once('?').map_or((back, None), |(p, q)| (p, Some(q)));
    if !PAGE_PATHS.contains(&path) {
        return None;
    }
    let safe = |q: &str| {
        q.len() <= 2048 && q.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b))
    };
    Some(match query.filter(|q| !q.is_empty()) {
        Some(q) if safe(q) => format!("{path}?{q}"),
        _ => path.to_owned(),
    })
}

/// The pages that hold an island (see `islands`). Only these load the
/// script and the wasm; every other page is plain HTML and CSS.
pub const PAGES_WITH_ISLANDS: &[&str] = &["/", "/sign-in", "/verify", "/sign-in/confirm", "/sign-in/authenticator"];

/// Pages whose only island is the passkey one: they load the script only
/// where passkeys are on.
pub const PAGES_WITH_PASSKEY_ISLAND: &[&str] = &["/account", "/account/confirm", "/passkeys/offer"];

fn page_has_islands() -> bool {
    #[cfg(feature = "ssr")]
    {
        let Some(parts) = use_context::<http::request::Parts>() else { return true };
        let path = parts.uri.path();
        PAGES_WITH_ISLANDS.contains(&path) || (PAGES_WITH_PASSKEY_ISLAND.contains(&path) && pages::passkeys_on())
    }
    #[cfg(not(feature = "ssr"))]
    true
}

/// The HTML document around every page.
pub fn shell(options: LeptosOptions, assets: AssetUrls) -> impl IntoView {
    // Nothing is hydrated: no page needs its data written into it for the
    // browser.
    if let Some(context) = leptos::reactive::owner::Owner::current_shared_context() {
        context.set_is_hydrating(false);
    }
    #[cfg(feature = "ssr")]
    if let Some(nonce) = use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<CspNonce>().cloned()) {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0));
    }
    let scripts = page_has_islands().then(|| islands_loader(&assets));
    view! {
        <!DOCTYPE html>
        <html lang=i18n::tag(pages::locale())>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="stylesheet" href=assets.stylesheet/>
                <link rel="icon" href=assets.icon type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                {scripts}
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Loads the islands' wasm without holding up the page: an async module
/// runs when its script has arrived, whether or not the page is parsed
/// (the wasm waits for the document itself), so neither DOMContentLoaded
/// nor the first paint waits for it. The wasm is fetched at once, beside
/// the script, instead of after it.
fn islands_loader(assets: &AssetUrls) -> impl IntoView + use<> {
    let nonce = leptos::nonce::use_nonce();
    let load =
        format!("import init from {};init({{module_or_path:{}}})", js_string(&assets.script), js_string(&assets.wasm));
    view! {
        <link rel="preload" href=assets.wasm.clone() r#as="fetch" r#type="application/wasm" crossorigin=""/>
        <script type="module" async nonce=nonce>{load}</script>
    }
}

/// A JavaScript string literal of a URL we made (hex-hashed file names):
/// quoted, with anything that could end the string or the script escaped.
fn js_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '/' | '.' | '_' | '-' => out.push(c),
            _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|page: String| if page.is_empty() { "Passcode".to_owned() } else { format!("{page} · Passcode") }/>
        <Router>
            <main class="page">
                <Routes fallback=pages::NotFound>
                    <Route path=path!("") view=pages::SignIn/>
                    <Route path=StaticSegment("sign-in") view=pages::SignIn/>
                    // Async: the page needs the pending challenge (or the
                    // session) before its status and headers are decided.
                    <Route path=StaticSegment("verify") view=pages::Verify ssr=SsrMode::Async/>
                    <Route path=StaticSegment("account") view=pages::Account ssr=SsrMode::Async/>
                    // Where the email's sign-in link lands (server/src/web/link.rs).
                    <Route path=path!("/sign-in/confirm") view=pages::ConfirmLink ssr=SsrMode::Async/>
                    // The message's "Not you?" link lands here (server/src/web/link.rs).
                    <Route path=path!("/not-you") view=pages::NotYou ssr=SsrMode::Async/>
                    // The phone, after approving a sign-in on another device.
                    <Route path=path!("/sign-in/approved") view=pages::Approved/>
                    // After a sign-in by code, in a browser that can make one.
                    <Route path=path!("/passkeys/offer") view=pages::PasskeyOffer ssr=SsrMode::Async/>
                    // A sign-in's second step, for accounts with an authenticator app on.
                    <Route path=path!("/sign-in/authenticator") view=pages::SecondStep ssr=SsrMode::Async/>
                    // Setting up an authenticator app; backup codes shown once.
                    <Route path=path!("/account/authenticator") view=pages::AuthenticatorPage ssr=SsrMode::Async/>
                    // A fresh proof before removing passkeys or ending sessions.
                    <Route path=path!("/account/confirm") view=pages::ConfirmItsYou ssr=SsrMode::Async/>
                </Routes>
            </main>
            <pages::LanguageMenu/>
        </Router>
    }
}

#[cfg(test)]
mod tests {
    use super::{checked_page, js_string};

    #[test]
    fn the_language_menu_goes_back_only_to_our_pages() {
        assert_eq!(checked_page("/verify").as_deref(), Some("/verify"));
        assert_eq!(
            checked_page("/sign-in?with=phone&rd=https%3A%2F%2Fapp.example.com%2F").as_deref(),
            Some("/sign-in?with=phone&rd=https%3A%2F%2Fapp.example.com%2F")
        );
        assert_eq!(checked_page("/sign-in?").as_deref(), Some("/sign-in"));
        // A query that could break out of the header loses its query.
        assert_eq!(checked_page("/sign-in?a=b\r\nSet-Cookie:x").as_deref(), Some("/sign-in"));
        assert_eq!(checked_page("/sign-in?a=<script>").as_deref(), Some("/sign-in"));
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "/dev/outbox",
            "",
            "/verify/../x",
            "sign-in",
        ] {
            assert_eq!(checked_page(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_url_becomes_a_string_literal_that_cannot_end_the_script() {
        assert_eq!(js_string("/pkg/passcode.0123abcd.js"), r#""/pkg/passcode.0123abcd.js""#);
        let odd = js_string("/pkg/</script>\"'\\x é");
        assert!(!odd[1..odd.len() - 1].contains(['<', '>', '"', '\'', ' ']), "{odd}");
        assert_eq!(js_string("é"), r#""\u{e9}""#);
    }
}
