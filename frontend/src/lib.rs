//! The islands' browser code: the only code that runs in the browser.
//!
//! Every page is rendered on the server and works as plain HTML forms. This
//! module gives the few elements that need a script their behaviour, found
//! by the ids and `data-*` attributes the server renders for them
//! (`app/src/islands.rs` holds that markup and lists the contract):
//! - `pending`: a pressed button says it is working and sends its form once;
//! - `countdown`: "Send a new code" counts down to when the server will send;
//! - `passkey`: the passkey ceremonies, shown only where they can work;
//! - `swap`: the sign-in form is sent without a page load, and the code
//!   page shown in place;
//! - `approval`: the code page notices a sign-in approved on another device.
//!
//! Written for size, because the sign-in page loads it on a first visit
//! (budget 25,000 B brotli for the whole page; `scripts/page-weight`):
//! - No framework. Leptos's client runtime (hydration, the reactive graph,
//!   an async executor) was most of the 36 KB brotli the islands cost.
//! - No words. Every label and message comes from the page, in the page's
//!   language; the wasm carries none.
//! - No std in the browser (`no_std` with std's own allocator): a panic
//!   stops the module at once, so the formatting machinery std's panic
//!   handler needs (about 4 KB brotli) is not in the wasm. No `format!`
//!   either, and one closure type for every callback (wasm-bindgen writes
//!   glue per closure type).

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

mod approval;
mod countdown;
mod dom;
mod passkey;
mod pending;
mod swap;

use wasm_bindgen::prelude::wasm_bindgen;

/// Runs once the wasm is instantiated: binds what the page has, then says
/// so (`<html data-islands=hydrated>`, once the passkey probe has its
/// answer where there is one), for tests and for anything that must wait
/// for the buttons. The loader is an async module, which may run before the
/// page is parsed: then this waits for the document.
#[wasm_bindgen(start)]
pub fn start() {
    if dom::document().ready_state() == "loading" {
        dom::listen(&dom::document(), "DOMContentLoaded", |_| bind());
    } else {
        bind();
    }
}

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// A panic (a bug) stops the module; the page goes on as plain HTML forms.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

fn bind() {
    countdown::start();
    passkey::start();
    approval::start();
    pending::bind();
    swap::bind();
    settle();
}

/// Marks the page ready (`<html data-islands=hydrated>`) once what its
/// buttons need is known: a button that signs in by code tells the server
/// whether this device could make a passkey, so a page with one waits for
/// that probe. Again after a page shown in place (`swap.rs`), which may be
/// the first with such a button.
fn settle() {
    let ready = || {
        if let Some(html) = dom::document().document_element() {
            _ = html.set_attribute("data-islands", "hydrated");
        }
    };
    if dom::exists("button[data-webauthn]") {
        passkey::probe(ready);
    } else {
        ready();
    }
}
