//! Every word in the person's language (issue 25): which language a request
//! gets, the footer's menu (without JavaScript), errors after a plain form
//! post, and the language of the code's email and text message, kept with
//! the challenge.

use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

const LANG_COOKIE: &str = "__Host-passcode_lang";

/// A message from a catalogue (`app/locales/<locale>.json`), by its key.
pub fn says(locale: &str, key: &str) -> String {
    let path = format!("{}/../app/locales/{locale}.json", env!("CARGO_MANIFEST_DIR"));
    let catalogue: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let value = key.split('.').fold(&catalogue, |v, k| &v[k]);
    value.as_str().unwrap_or_else(|| panic!("{locale}: no {key}")).to_owned()
}

/// The page's text with the markup's escaping undone where ours uses it.
fn unescaped(html: &str) -> String {
    html.replace("&#x27;", "'").replace("&#39;", "'").replace("&quot;", "\"").replace("&amp;", "&")
}

async fn get_in(app: &TestApp, path: &str, accept_language: &str) -> Response {
    let res = app
        .client
        .get(app.url(path))
        .header(COOKIE, app.cookie_header())
        .header(ACCEPT, "text/html")
        .header(ACCEPT_LANGUAGE, accept_language)
        .send()
        .await
        .unwrap();
    app.keep_cookies(&res);
    res
}

async fn post_in(app: &TestApp, path: &str, form: &[(&str, &str)], accept_language: &str) -> Response {
    let res = app
        .client
        .post(app.url(path))
        .header(COOKIE, app.cookie_header())
        .header(ACCEPT_LANGUAGE, accept_language)
        .form(form)
        .send()
        .await
        .unwrap();
    app.keep_cookies(&res);
    res
}

fn html_lang(page: &str) -> &str {
    let start = page.find("<html lang=\"").expect("an html element with lang") + "<html lang=\"".len();
    &page[start..start + page[start..].find('"').unwrap()]
}

#[tokio::test]
async fn pages_speak_the_browsers_language_with_fallbacks() {
    let app = spawn_app().await;
    for (accept, want) in [
        ("de-AT,de;q=0.9,en;q=0.5", "de"),
        ("fr-CA", "fr"),
        ("it, es;q=0.4", "es"),
        ("en;q=0.2, fr;q=0.8", "fr"),
        ("pt-BR, it", "en"),
        ("", "en"),
    ] {
        let res = get_in(&app, "/sign-in", accept).await;
        assert_eq!(res.status(), StatusCode::OK);
        let vary = res.headers().get_all("vary").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
        assert!(vary.iter().any(|v| v.contains("Accept-Language")), "{vary:?}");
        let page = unescaped(&res.text().await.unwrap());
        assert_eq!(html_lang(&page), want, "{accept}");
        assert!(page.contains(&says(want, "sign_in.lede")), "{accept}: {page}");
        assert!(page.contains(&says(want, "buttons.send_code")), "{accept}");
        if want != "en" {
            assert!(!page.contains(&says("en", "sign_in.lede")), "{accept}: English left");
        }
    }
    // The 404 page too.
    let res = get_in(&app, "/no-such-page", "de").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let page = unescaped(&res.text().await.unwrap());
    assert!(page.contains(&says("de", "not_found.body")) && html_lang(&page) == "de", "{page}");
}

#[tokio::test]
async fn the_menu_remembers_a_choice_and_goes_back_to_the_page() {
    let app = spawn_app().await;
    let page = unescaped(&get_in(&app, "/sign-in?with=phone", "de").await.text().await.unwrap());
    // Each language named in itself, as a plain link back to this page.
    for (tag, name) in [("en", "English"), ("fr", "Français"), ("es", "Español")] {
        assert!(page.contains(&format!("hreflang=\"{tag}\" class=\"link\">{name}<")), "{tag}: {page}");
        assert!(page.contains(&format!("/language?set={tag}&back=%2Fsign-in%3Fwith%3Dphone")), "{tag}: {page}");
    }
    assert!(page.contains("<span lang=\"de\" aria-current=\"true\">Deutsch<"), "{page}");
    // Nothing else an address brought is carried on: not a page of ours,
    // not a query the page would not use.
    let page = unescaped(&get_in(&app, "/no-such-page?x=%3Cscript%3E", "de").await.text().await.unwrap());
    assert!(page.contains("/language?set=fr&back=%2Fsign-in\""), "{page}");
    let page = unescaped(&get_in(&app, "/verify?x=1", "de").await.text().await.unwrap());
    assert!(page.contains("/language?set=fr&back=%2Fverify\""), "{page}");

    let choose = |set: &str, back: &str, site: &'static str| {
        app.client
            .get(app.url(&format!("/language?set={set}&back={back}")))
            .header("sec-fetch-site", site)
            .header(ACCEPT_LANGUAGE, "de")
            .send()
    };
    let res = choose("fr", "%2Fsign-in%3Fwith%3Dphone", "same-origin").await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/sign-in?with=phone");
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("{LANG_COOKIE}=fr;")), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && cookie.contains("Max-Age="), "{cookie}");
    app.keep_cookies(&res);
    // The choice beats the browser's languages.
    let page = unescaped(&get_in(&app, "/sign-in?with=phone", "de").await.text().await.unwrap());
    assert_eq!(html_lang(&page), "fr");
    assert!(page.contains(&says("fr", "sign_in.phone_label")), "{page}");

    // A link from another site leads back but changes nothing.
    let res = choose("es", "%2Fverify", "cross-site").await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/verify");
    assert!(res.headers().get(SET_COOKIE).is_none());
    // Only our pages: anything else goes to the sign-in page.
    for back in
        ["https%3A%2F%2Fevil.example%2F", "%2F%2Fevil.example", "%2Fdev%2Foutbox", "%2Fsign-in%3Fa%3D%0D%0AX%3Ay"]
    {
        let res = choose("es", back, "same-origin").await.unwrap();
        let to = res.headers()[LOCATION].to_str().unwrap();
        assert!(to == "/sign-in", "{back} → {to}");
    }
    // An unknown language sets nothing.
    let res = choose("xx", "%2Fverify", "same-origin").await.unwrap();
    assert!(res.headers().get(SET_COOKIE).is_none());
}

/// The passkey island shows the server's words as they are: they are in
/// the page's language too.
#[tokio::test]
async fn the_passkey_islands_words_are_in_the_pages_language() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/passkeys/sign-in"))
        .header(ACCEPT_LANGUAGE, "fr-FR")
        .header("sec-fetch-site", "same-origin")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error() || res.status().is_server_error(), "{}", res.status());
    let body: Value = res.json().await.unwrap();
    let words = body["error"].as_str().unwrap();
    assert!(!words.is_empty());
    for en in ["passkey", "Passkey", "expired", "Please"] {
        assert!(!words.contains(en), "{words}");
    }
}

#[tokio::test]
async fn errors_after_a_plain_form_post_are_in_the_pages_language() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/request_code"))
        .header(ACCEPT, "text/html")
        .header(ACCEPT_LANGUAGE, "es-MX")
        .header("referer", app.url("/sign-in"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("identifier", "not an address")])
        .send()
        .await
        .unwrap();
    app.keep_cookies(&res);
    let back = res.headers()[LOCATION].to_str().unwrap().trim_start_matches(&app.url("")).to_owned();
    let page = unescaped(&get_in(&app, &back, "es-MX").await.text().await.unwrap());
    assert!(page.contains(&says("es", "errors.identifier_unrecognised")), "{page}");
    assert!(!page.contains(&says("en", "errors.identifier_unrecognised")), "{page}");
    // Script clients keep the JSON shape, in English (a public format).
    let res = post_in(&app, "/api/request_code", &[("identifier", "not an address")], "es").await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "InvalidIdentifier": says("en", "errors.identifier_unrecognised") }));
}

/// The code's message is in the language of the page that asked, and the
/// challenge keeps it; a new code asked from a French page is French.
#[tokio::test]
async fn a_codes_message_is_in_the_language_it_was_asked_in() {
    let app = spawn_app().await;
    assert_eq!(post_in(&app, "/api/request_code", &[("identifier", "anna@example.com")], "de-DE").await.status(), 200);
    let outbox = app.outbox().await;
    let mail = outbox.iter().find(|m| m["to"] == "anna@example.com").unwrap();
    assert_eq!(mail["subject"], says("de", "email.subject"));
    let body = mail["body"].as_str().unwrap();
    assert!(body.contains(&says("de", "email.intro").replace("{{ product }}", "Passcode")), "{body}");
    assert!(!body.contains("sign-in code"), "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM challenges WHERE locale = 'de'").await, 1);

    // The code page follows the browser too, and a new code from the
    // French page (chosen in the menu) is French.
    app.set_cookie(LANG_COOKIE, "fr");
    let page = unescaped(&get_in(&app, "/verify", "de-DE").await.text().await.unwrap());
    assert!(page.contains(&says("fr", "verify.title")), "{page}");
    app.clock.advance_ms(60_000);
    assert_eq!(post_in(&app, "/api/resend_code", &[], "de-DE").await.status(), 200);
    let outbox = app.outbox().await;
    let mail = outbox.iter().find(|m| m["to"] == "anna@example.com").unwrap();
    assert_eq!(mail["subject"], says("fr", "email.subject"), "{mail}");
    assert_eq!(app.count("SELECT COUNT(*) FROM challenges WHERE locale = 'fr'").await, 1);

    // A text message, asked for from a page whose browser prefers Spanish.
    assert_eq!(post_in(&app, "/api/request_code", &[("identifier", "+44 7911 123456")], "es").await.status(), 200);
    let outbox = app.outbox().await;
    let sms = outbox.iter().find(|m| m["channel"] == "sms").expect("a text message in the outbox");
    let text = sms["body"].as_str().unwrap();
    let code = sms["code"].as_str().unwrap();
    // The menu's choice (French) beats the browser's Spanish here too.
    assert!(text.contains(&says("fr", "sms.not_you").replace(" {{ link }}", "")), "{text}");
    assert!(text.ends_with(&format!("#{code}")), "{text}");
}

/// Words that are English and no word of German, French or Spanish: one of
/// them on a page in another language is English left behind.
/// ("in", "no", "on", "or", "minutes", "Link" and "Browser" are German,
/// Spanish or French words too, so they are not listed.)
const ENGLISH_ONLY: &[&str] = &[
    "the", "your", "you", "with", "this", "that", "sign", "send", "sent", "new", "here", "again", "please", "isn't",
    "can't", "didn't", "wasn't", "what", "when", "where", "have", "been", "will", "enter", "signed", "ago", "seconds",
    "hours", "days", "left", "back", "instead", "email", "phone", "number", "approve", "account", "try", "tries",
    "wrong", "expired", "of", "and", "by", "from", "for", "to", "it", "is", "we", "our", "not", "yes", "nothing",
    "loading",
];

/// The words a person reads on a page: its text, and the attributes that
/// are read out or shown (labels, alternatives, the buttons' busy words and
/// countdown). Scripts, styles, class names and ids are not words.
fn readable(html: &str) -> String {
    const READ: &[&str] = &[
        "aria-label",
        "alt",
        "title",
        "placeholder",
        "data-busy",
        "data-counting",
        "data-failed",
        "data-not-used",
        "data-not-created",
        "data-already",
    ];
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        rest = &rest[open..];
        for skipped in ["<script", "<style"] {
            if rest.starts_with(skipped) {
                let end = rest.find(&format!("</{}>", &skipped[1..])).map_or(rest.len(), |e| e);
                rest = &rest[end..];
            }
        }
        let close = rest.find('>').map_or(rest.len(), |c| c + 1);
        let tag = &rest[..close];
        for attribute in READ {
            let marker = format!(" {attribute}=\"");
            if let Some(at) = tag.find(&marker) {
                let value = &tag[at + marker.len()..];
                out.push_str(&value[..value.find('"').unwrap_or(value.len())]);
                out.push(' ');
            }
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    unescaped(&out)
}

/// The English words left in `text` (a page's or a message's), apart from
/// names, addresses and links.
fn english_left(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| !w.contains('@') && !w.contains("://") && !w.starts_with('/'))
        .flat_map(|w| w.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’')))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '’').to_lowercase().replace('’', "'"))
        .filter(|w| ENGLISH_ONLY.contains(&w.as_str()))
        .collect()
}

/// Every page a person can reach, and every message, in German, French and
/// Spanish: no English word left (names, addresses and codes apart). The
/// same walk in English finds those words, so the check can fail.
#[tokio::test]
async fn no_english_is_left_on_any_page_or_in_any_message() {
    for locale in ["en", "de", "fr", "es"] {
        let app = spawn_app().await;
        app.set_cookie(LANG_COOKIE, locale);
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut look = |what: &str, text: String| seen.push((what.to_owned(), text));
        for path in ["/sign-in", "/sign-in?with=phone", "/no-such-page", "/sign-in/approved", "/verify"] {
            look(path, readable(&app.get(path).await.text().await.unwrap()));
        }
        // An error next to a field, after a plain form post.
        let res = app.post_plain_form("/api/request_code", &[("identifier", "12")], "/sign-in").await;
        let back = res.headers()[LOCATION].to_str().unwrap().trim_start_matches(&app.url("")).to_owned();
        look("a field's error", readable(&app.get(&back).await.text().await.unwrap()));

        // A code by email: the code page, the email, its link and its
        // "Not you?" page (opened in the same browser).
        let email = format!("walk.{locale}@example.com");
        assert_eq!(app.request_code(&email).await.status(), StatusCode::OK);
        look("/verify (pending)", readable(&app.get("/verify").await.text().await.unwrap()));
        let outbox = app.outbox().await;
        let mail = outbox.iter().find(|m| m["to"] == email.as_str()).unwrap().clone();
        look("the email's subject", mail["subject"].as_str().unwrap().to_owned());
        look("the email's text", mail["body"].as_str().unwrap().to_owned());
        let code = mail["code"].as_str().unwrap().to_owned();
        // A wrong code first, for its words and the activity list's.
        let res = app
            .post_plain_form("/api/verify_code", &[("code", &crate::helpers::TestApp::wrong(&code))], "/verify")
            .await;
        let back = res.headers()[LOCATION].to_str().unwrap().trim_start_matches(&app.url("")).to_owned();
        look("a wrong code", readable(&app.get(&back).await.text().await.unwrap()));
        let body = mail["body"].as_str().unwrap();
        let path_of = |prefix: &str| {
            body.split_whitespace()
                .find_map(|w| w.strip_prefix("http://127.0.0.1:3000").filter(|p| p.starts_with(prefix)))
                .map(str::to_owned)
        };
        if let Some(link) = path_of("/sign-in/email-link") {
            app.get(&link).await;
            look("/sign-in/confirm", readable(&app.get("/sign-in/confirm").await.text().await.unwrap()));
        }

        // Signed in: the account page with its activity, and the pages
        // behind it.
        assert_eq!(app.verify(&code).await.status(), StatusCode::OK);
        look("/account", readable(&app.get("/account").await.text().await.unwrap()));
        look("/account/confirm", readable(&app.get("/account/confirm").await.text().await.unwrap()));
        app.post("/api/start_authenticator", &[]).await;
        look("/account/authenticator", readable(&app.get("/account/authenticator").await.text().await.unwrap()));
        look("/passkeys/offer", readable(&app.get("/passkeys/offer").await.text().await.unwrap()));
        if let Some(report) = path_of("/n?t=") {
            app.get(&report).await;
            look("/not-you", readable(&app.get("/not-you").await.text().await.unwrap()));
        }

        // A text message.
        assert_eq!(app.request_code("+44 7911 123456").await.status(), StatusCode::OK);
        let outbox = app.outbox().await;
        let sms = outbox.iter().find(|m| m["channel"] == "sms").unwrap();
        let text = sms["body"].as_str().unwrap();
        // The WebOTP line is a format, the same in every language.
        let words = text.rsplit_once("\n\n@").map_or(text, |(words, _)| words);
        look("the text message", words.to_owned());

        let left: Vec<String> = seen
            .iter()
            .map(|(what, text)| (what, english_left(text)))
            .filter(|(_, words)| !words.is_empty())
            .map(|(what, words)| format!("{what}: {words:?}"))
            .collect();
        if locale == "en" {
            // Every page and message is English here, and the walk sees it
            // (the passkey offer is a redirect where passkeys are off).
            let found: Vec<&str> = left.iter().map(|l| l.split(':').next().unwrap()).collect();
            let missed: Vec<&str> = seen
                .iter()
                .map(|(what, _)| what.as_str())
                .filter(|what| !found.contains(what) && *what != "/passkeys/offer")
                .collect();
            assert!(missed.is_empty(), "the walk saw no English on {missed:?}");
        } else {
            assert!(left.is_empty(), "{locale}: English left on\n{}", left.join("\n"));
        }
    }
}

/// The countdown's labels: each second under 90 s, then whole minutes, in
/// the page's language and plural forms, one per line.
#[tokio::test]
async fn the_countdown_has_a_label_for_every_step_of_a_long_wait() {
    let app = crate::helpers::spawn_app_with(&[("PASSCODE_RESEND_COOLDOWN_SECS", "600")]).await;
    app.set_cookie(LANG_COOKIE, "de");
    assert_eq!(app.request_code("lang.wait@example.com").await.status(), StatusCode::OK);
    let page = unescaped(&app.get("/verify").await.text().await.unwrap());
    let attribute = |name: &str| -> Vec<String> {
        let start = page.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("no {name}: {page}")) + name.len() + 3;
        page[start..start + page[start..].find('"').unwrap()].split('\n').map(str::to_owned).collect()
    };
    let seconds = attribute("data-counting");
    assert_eq!(seconds.len(), 89);
    assert_eq!(seconds[0], says("de", "buttons.resend_counting_one").replace("{{ count }}", "1"));
    assert_eq!(seconds[4], says("de", "buttons.resend_counting_other").replace("{{ count }}", "5"));
    let minutes = attribute("data-counting-minutes");
    assert_eq!(minutes.len(), 10);
    assert_eq!(minutes[9], says("de", "buttons.resend_counting_minutes_other").replace("{{ count }}", "10"));
    assert!(!page.contains("data-counting-hours"), "no hours for ten minutes");
}
