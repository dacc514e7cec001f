//! Requests as a browser's form posts make them, and what their answers say.

/// A form post as a browser makes it from the page at `referer`: the
/// server answers with a redirect, to the next page or (with `__err`) back.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    referer: &str,
    body: String,
    cookie: Option<&str>,
) -> Result<reqwest::Response, String> {
    let mut req = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        .header("referer", referer)
        .header("sec-fetch-site", "same-origin")
        .body(body);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    req.send().await.map_err(|e| if e.is_timeout() { "timeout".into() } else { "connection error".into() })
}

/// The `name=value` of the cookie `name` that the response sets, if any.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .find(|pair| pair.strip_prefix(name).is_some_and(|rest| rest.starts_with('=') && rest.len() > 1))
        .map(str::to_owned)
}

/// The error a form post was sent back with: `__err` in the redirect's
/// query, the error as base64url JSON (`{"WrongCode":{…}}`).
pub fn redirect_error(res: &reqwest::Response) -> Option<String> {
    error_in(res.headers().get("location")?.to_str().ok()?)
}

pub fn error_in(location: &str) -> Option<String> {
    use base64::Engine;
    let encoded = location.split(['?', '&']).find_map(|pair| pair.strip_prefix("__err="))?;
    let encoded = percent_encoding::percent_decode_str(encoded).decode_utf8().ok()?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')).ok()?;
    String::from_utf8(json).ok()
}

pub fn form_value(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The right code with its last character changed: always wrong, same shape.
pub fn wrong_code(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    if let Some(last) = chars.last_mut() {
        *last = match *last {
            '9' => '0',
            'Z' => 'A',
            c if c.is_ascii_digit() || c.is_ascii_uppercase() => (c as u8 + 1) as char,
            _ => '0',
        };
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_code_is_always_wrong_and_the_same_shape() {
        for code in ["000000", "123459", "999999", "ABCDEZ", "K7M2P9"] {
            let wrong = wrong_code(code);
            assert_ne!(wrong, code);
            assert_eq!(wrong.len(), code.len());
        }
    }

    #[test]
    fn the_error_comes_out_of_the_redirect() {
        // As the server sent it back after a wrong code.
        let location = "http://127.0.0.1:3995/verify?__path=%2Fapi%2Fverify_code\
                        &__err=eyJXcm9uZ0NvZGUiOnsiYXR0ZW1wdHNfbGVmdCI6NH19&__sig=ef437f6413e8";
        assert_eq!(error_in(location).as_deref(), Some(r#"{"WrongCode":{"attempts_left":4}}"#));
        assert_eq!(error_in("/verify"), None);
    }
}
