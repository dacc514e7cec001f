//! Turns the message catalogues (`locales/*.json`) into the `i18n` module
//! (`src/i18n/mod.rs` includes it), after checking that every language has
//! every message with the same arguments: a gap fails the build here, never
//! a page at run time. leptos_i18n only warns about a missing key (and then
//! shows English), which a German page must not do, so its warnings fail
//! the build too.

use std::error::Error;
use std::path::{Path, PathBuf};

// The same file is the `i18n::check` module, unit-tested there.
#[path = "src/i18n/check.rs"]
mod check;

use leptos_i18n_parser::parse_locales::options::{Config, ParseOptions};
use leptos_i18n_parser::parse_locales::parse_locales;

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
    let parsed = parse_locales(None, cfg)?;
    let (warnings, errors) = (parsed.diag.warnings(), parsed.diag.errors());
    for problem in warnings.iter().map(ToString::to_string).chain(errors.iter().map(ToString::to_string)) {
        println!("cargo::error={problem}");
    }
    if !warnings.is_empty() || !errors.is_empty() {
        return Err("leptos_i18n found problems in app/locales (listed above)".into());
    }
    for file in parsed.tracked_files.iter().flatten() {
        println!("cargo::rerun-if-changed={file}");
    }
    // The generated module, as leptos_i18n_build writes it.
    let code = leptos_i18n_codegen::gen_code(&parsed, None, false, None, false)?;
    let dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR unset")?).join("i18n");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("mod.rs"), code.to_string())?;
    Ok(())
}
