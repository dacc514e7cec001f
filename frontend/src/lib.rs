//! The browser entry: hydrates the islands of a server-rendered page
//! (`app::islands`). Nothing else of the app runs in the browser.

// The island exports live in `app`; without a use of the crate the linker
// would drop them.
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Panic messages in the console while developing; a release build
    // leaves out the formatting code this pulls in.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Leptos's loader hydrates every island right after this returns, before
    // the next frame: then the page says so (`<html data-islands=hydrated>`),
    // for tests and for anything that must wait for the buttons.
    leptos::prelude::request_animation_frame(|| {
        if let Some(html) = leptos::prelude::document().document_element() {
            _ = html.set_attribute("data-islands", "hydrated");
        }
    });
}
