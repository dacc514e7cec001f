//! Every word a person sees, in English, German, French and Spanish.
//!
//! The catalogues are `app/locales/{en,de,fr,es}.json`; `app/build.rs`
//! checks them against each other (`check`) and turns them into this
//! module's `Locale` and keys, so a message is named by a Rust path that
//! the compiler checks, with its arguments: `td_string!(locale,
//! verify.resent)`. Plural forms (`_one`, `_other`) are chosen by CLDR's
//! rules for the language (ICU4X), never by `n == 1`.
//!
//! Which language a request gets is `crate::web::locale`'s job; the page
//! shell, the messages and the challenge (for codes sent later) follow it.

#![allow(missing_docs, clippy::all)]

include!(concat!(env!("OUT_DIR"), "/i18n/mod.rs"));

pub use i18n::*;
pub use leptos_i18n::{td, td_string};

#[cfg(test)]
mod check;
#[cfg(feature = "ssr")]
pub mod words;

/// A language as a cookie, a column and `<html lang>` write it.
pub fn tag(locale: Locale) -> &'static str {
    leptos_i18n::Locale::as_str(locale)
}

/// The languages we have, the default first.
pub fn all() -> &'static [Locale] {
    <Locale as leptos_i18n::Locale>::get_all()
}

/// A language from its tag as we write it (`de`), or `None`.
pub fn parse(tag: &str) -> Option<Locale> {
    all().iter().copied().find(|l| self::tag(*l) == tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_the_four_languages_and_read_back() {
        let tags: Vec<&str> = all().iter().map(|l| tag(*l)).collect();
        assert_eq!(tags, ["en", "de", "fr", "es"]);
        for l in all() {
            assert_eq!(parse(tag(*l)), Some(*l));
        }
        assert_eq!(parse("it"), None);
        assert_eq!(parse("DE"), None, "tags are matched as we write them; negotiation lower-cases");
        assert_eq!(Locale::default(), Locale::en);
    }

    /// The countdown and waits at 1, 2 and 5: each language's own forms.
    #[test]
    fn plural_forms_follow_each_language() {
        let counting = |l: Locale, n: u64| td_string!(l, buttons.resend_counting, count = n).to_string();
        assert_eq!(counting(Locale::en, 1), "Send a new code (1 second)");
        assert_eq!(counting(Locale::en, 2), "Send a new code (2 seconds)");
        assert_eq!(counting(Locale::en, 5), "Send a new code (5 seconds)");
        for l in [Locale::de, Locale::fr, Locale::es] {
            let (one, two, five) = (counting(l, 1), counting(l, 2), counting(l, 5));
            assert!(one.contains('1') && two.contains('2') && five.contains('5'));
            assert_ne!(one.replace('1', "N"), two.replace('2', "N"), "{l:?}: one and other differ");
            assert_eq!(two.replace('2', "N"), five.replace('5', "N"), "{l:?}: 2 and 5 share a form");
        }
        // French counts 0 as singular, English does not.
        let fr0 = td_string!(Locale::fr, buttons.resend_counting, count = 0u64).to_string();
        let fr1 = td_string!(Locale::fr, buttons.resend_counting, count = 1u64).to_string();
        assert_eq!(fr0.replace('0', "N"), fr1.replace('1', "N"));
        let en0 = td_string!(Locale::en, buttons.resend_counting, count = 0u64).to_string();
        assert_eq!(en0, "Send a new code (0 seconds)");
    }

    /// Every message in the catalogue is said somewhere (`td!` or
    /// `td_string!` naming it in app/ or server/), and everything said is
    /// in the catalogue (which the compiler checks too).
    #[test]
    fn every_message_is_used() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut used = std::collections::BTreeSet::new();
        for dir in [root.join("src"), root.join("../server/src")] {
            for file in rust_files(&dir) {
                let text = std::fs::read_to_string(&file).unwrap();
                for (i, _) in text.match_indices("td") {
                    let rest = &text[i + 2..];
                    let Some(args) = rest.strip_prefix("!(").or_else(|| rest.strip_prefix("_string!(")) else {
                        continue;
                    };
                    let Some((_, after)) = args.split_once(',') else { continue };
                    let key: String = after
                        .trim_start()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                        .collect();
                    if !key.is_empty() {
                        used.insert(key);
                    }
                }
            }
        }
        let english: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("locales/en.json")).unwrap()).unwrap();
        let mut keys = std::collections::BTreeSet::new();
        collect_keys("", &english, &mut keys);
        let unused: Vec<_> = keys.iter().filter(|k| !used.contains(*k)).collect();
        assert!(unused.is_empty(), "catalogue messages nothing uses: {unused:?}");
        let unknown: Vec<_> = used.iter().filter(|k| !keys.contains(*k) && *k != "l" && !k.is_empty()).collect();
        assert!(unknown.is_empty(), "said but not in the catalogue: {unknown:?}");
    }

    fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
        out
    }

    /// Message keys, plural forms folded (`wait.seconds_one` → `wait.seconds`).
    fn collect_keys(prefix: &str, v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        if let serde_json::Value::Object(map) = v {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                if v.is_object() {
                    collect_keys(&key, v, out);
                } else {
                    let base = ["_zero", "_one", "_two", "_few", "_many", "_other"]
                        .iter()
                        .find_map(|s| key.strip_suffix(s))
                        .unwrap_or(&key);
                    out.insert(base.to_owned());
                }
            }
        }
    }

    #[test]
    fn the_catalogues_as_built_pass_their_check() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        assert_eq!(check::check_catalogues(&dir, &["en", "de", "fr", "es"]), Ok(()));
    }
}
