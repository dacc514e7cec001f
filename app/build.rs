//! Turns the message catalogues (`locales/*.json`) into the `i18n` module
//! (`src/i18n/mod.rs` includes it), after checking that every language has
//! every message with the same arguments: a gap fails the build here, never
//! a page at run time. leptos_i18n only warns about a missing key (and then
//! shows English), which a German page must not do.

use std::error::Error;
use std::path::{Path, PathBuf};

// The same file is the `i18n::check` module, unit-tested there.
#[path = "src/i18n/check.rs"]
mod check;

use leptos_i18n_build::{Config, ParseOptions, TranslationsInfos};

/// The default first: what a request that asks for nothing we have gets.
const LOCALES: [&str; 4] = ["en", "de", "fr", "es"];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=locales");
    let dir = Path::new("locales");
    if let Err(problems) = check::check_catalogues(dir, &LOCALES) {
        // One line each, so a translator sees every gap at once.
        for p in &problems {
            println!("cargo::error={p}");
        }
        return Err(format!("{} problem(s) in app/locales (listed above)", problems.len()).into());
    }

    let mut cfg = Config::new(LOCALES[0])?;
    for l in &LOCALES[1..] {
        cfg = cfg.add_locale(l)?;
    }
    // Strings as well as views: emails, texts and attributes need them.
    let cfg = cfg.parse_options(ParseOptions::default().interpolate_display(true));
    let infos = TranslationsInfos::parse(cfg)?;
    infos.emit_diagnostics();
    infos.rerun_if_locales_changed();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR unset")?).join("i18n");
    infos.generate_i18n_module(out)?;
    Ok(())
}
