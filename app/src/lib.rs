//! Passcode's pages, routes and server functions. Server-only code (the auth
//! core, storage, delivery) sits behind the `ssr` feature and never reaches
//! the browser's wasm.

pub mod api;
pub mod error;
mod pages;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod client_ip;
#[cfg(feature = "ssr")]
pub mod domain;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment, path};

/// Base name of the generated files (`/pkg/passcode.js` …); must match
/// `name` in Cargo.toml's `[[workspace.metadata.leptos]]` and `output-name`
/// in Leptos.toml (a test checks both).
pub const OUTPUT_NAME: &str = "passcode";

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href=format!("/pkg/{OUTPUT_NAME}.css")/>
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
                    // Where the email's sign-in link lands (server/src/link.rs).
                    <Route path=path!("/sign-in/confirm") view=pages::ConfirmLink ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
