//! Which language a request gets: the person's own choice (the footer's
//! menu, kept in `LANGUAGE_COOKIE`), else the browser's `Accept-Language`
//! by its quality values (`de-AT` counts as `de`), else English.

use http::HeaderMap;
use http::header::ACCEPT_LANGUAGE;

use super::cookies::cookie_in;
use crate::i18n::{self, Locale};

/// The language chosen in the footer's menu. Not a secret and not
/// HttpOnly-worthy, but written like our other cookies (`__Host-`).
pub const LANGUAGE_COOKIE: &str = "__Host-passcode_lang";
/// A year: a choice of language is kept until changed.
pub const LANGUAGE_COOKIE_SECS: i64 = 365 * 24 * 3600;

/// The language for a request with these headers.
pub fn locale_in(headers: &HeaderMap) -> Locale {
    let chosen = cookie_in(headers, LANGUAGE_COOKIE);
    let accept = headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    negotiate(chosen.as_deref(), accept)
}

/// The language of the request being rendered or answered (English outside
/// a request).
pub fn locale() -> Locale {
    super::state::parts().map(|p| locale_in(&p.headers)).unwrap_or_default()
}

/// The rule itself, over the cookie's value and the header's.
pub fn negotiate(chosen: Option<&str>, accept_language: Option<&str>) -> Locale {
    chosen.and_then(i18n::parse).or_else(|| accept_language.and_then(from_accept_language)).unwrap_or_default()
}

/// The best of our languages in an `Accept-Language` value (RFC 9110
/// §12.5.4): ranges by quality, highest first, ties in the order written;
/// `q=0` means "not this one"; a region or script narrows a language we
/// have (`de-AT`, `zh-Hant-TW`), so it falls back to it; `*` adds nothing
/// (English comes last anyway). Malformed entries are skipped, not fatal.
fn from_accept_language(value: &str) -> Option<Locale> {
    let mut ranges: Vec<(u16, usize, &str)> = Vec::new();
    for (i, entry) in value.split(',').enumerate().take(32) {
        let mut parts = entry.split(';');
        let range = parts.next().unwrap_or("").trim();
        let mut quality = Some(1000);
        for param in parts {
            let (name, v) = param.split_once('=').unwrap_or((param, ""));
            if name.trim().eq_ignore_ascii_case("q") {
                quality = parse_quality(v.trim());
            }
        }
        if let Some(q) = quality.filter(|q| *q > 0) {
            ranges.push((q, i, range));
        }
    }
    // Highest quality first; equal qualities keep the order written.
    ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.into_iter().find_map(|(_, _, range)| {
        let primary = range.split(['-', '_']).next()?.to_ascii_lowercase();
        i18n::parse(&primary)
    })
}

/// A quality value in thousandths: `0`, `0.5`, `1`, `1.000` (at most three
/// decimals, at most 1); anything else is not a quality.
fn parse_quality(v: &str) -> Option<u16> {
    let (whole, fraction) = v.split_once('.').unwrap_or((v, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_then_the_browser_then_english() {
        let table: &[(Option<&str>, Option<&str>, Locale)] = &[
            (None, None, Locale::en),
            (None, Some("de-DE,de;q=0.9,en;q=0.8"), Locale::de),
            (None, Some("de-AT"), Locale::de),
            (None, Some("fr-CA, en;q=0.5"), Locale::fr),
            (None, Some("es-419,es;q=0.9"), Locale::es),
            (None, Some("en;q=0.5, fr;q=0.9"), Locale::fr),
            (None, Some("it, pt-BR;q=0.8, es;q=0.3"), Locale::es),
            (None, Some("it, pt"), Locale::en),
            (None, Some("*"), Locale::en),
            (None, Some("de;q=0, fr"), Locale::fr),
            (None, Some("de;q=0.000"), Locale::en),
            (None, Some("DE-de"), Locale::de),
            (None, Some("zh-Hant-TW, es_MX;q=0.2"), Locale::es),
            // Equal qualities: the order written.
            (None, Some("fr;q=0.8, de;q=0.8"), Locale::fr),
            // Malformed qualities drop their entry, not the header.
            (None, Some("de;q=2, fr;q=abc, es;q=0.7"), Locale::es),
            (None, Some("de;q=0.5555, fr;q=.5, es;q=1.0"), Locale::es),
            (None, Some(",,;;q=,fr"), Locale::fr),
            // The menu's choice wins; an unknown one is ignored.
            (Some("es"), Some("de"), Locale::es),
            (Some("xx"), Some("de"), Locale::de),
            (Some(""), None, Locale::en),
        ];
        for (chosen, accept, want) in table {
            assert_eq!(negotiate(*chosen, *accept), *want, "{chosen:?} {accept:?}");
        }
    }

    #[test]
    fn qualities_are_read_exactly() {
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0.8"), Some(800));
        assert_eq!(parse_quality("0.001"), Some(1));
        assert_eq!(parse_quality("0"), Some(0));
        for bad in ["1.5", "2", "-0.5", "0.1234", "", "q", "0.5x"] {
            assert_eq!(parse_quality(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_cookie_and_the_header_are_read_from_a_request() {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_LANGUAGE, "fr-FR,fr;q=0.9".parse().unwrap());
        assert_eq!(locale_in(&headers), Locale::fr);
        headers.insert(http::header::COOKIE, format!("a=b; {LANGUAGE_COOKIE}=de").parse().unwrap());
        assert_eq!(locale_in(&headers), Locale::de);
    }
}
