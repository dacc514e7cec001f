//! A short, safe summary of a User-Agent header, and of where a request
//! came from.

/// Browsers by a marker in their User-Agent, and their names. Order
/// matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
pub const BROWSERS: [(&str, &str); 6] = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
];

/// Operating systems, the same way.
pub const SYSTEMS: [(&str, &str); 7] = [
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
];

/// "Firefox on Windows" (stored so, in English: the `on` is put in a
/// reader's language where it is shown, `i18n::words::devices`): enough for a person to recognise their own request
/// (or not), never the raw header, which an attacker controls.
pub fn describe_user_agent(ua: &str) -> Option<String> {
    let browser = BROWSERS.into_iter().find(|(marker, _)| ua.contains(marker)).map(|(_, name)| name);
    let os = SYSTEMS.into_iter().find(|(marker, _)| ua.contains(marker)).map(|(_, name)| name);
    match (browser, os) {
        (Some(b), Some(o)) => Some(format!("{b} on {o}")),
        (Some(b), None) => Some(b.to_owned()),
        (None, Some(o)) => Some(o.to_owned()),
        (None, None) => None,
    }
}

/// "203.0.113.7 (Firefox on Windows)", or as much of it as is known: how
/// the email and the account page say where something came from.
pub fn where_from(ip: Option<&str>, browser: Option<&str>) -> Option<String> {
    match (ip, browser) {
        (Some(ip), Some(browser)) => Some(format!("{ip} ({browser})")),
        (Some(ip), None) => Some(ip.to_owned()),
        (None, browser) => browser.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_become_a_short_description() {
        let table = [
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                Some("Safari on macOS"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                Some("Edge on Windows"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                Some("Chrome on Android"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                Some("Safari on iOS"),
            ),
            ("curl/8.5.0", None),
        ];
        for (ua, expected) in table {
            assert_eq!(describe_user_agent(ua).as_deref(), expected, "{ua}");
        }
    }
}
