//! The catalogues' consistency check, run by `app/build.rs` before the
//! catalogues become code: every language has every message of the first
//! (English), with the same arguments and tags, plural or not alike. Kept
//! free of the crate's own items so the build script can include it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// CLDR's plural categories: `key_one`, `key_other`… are one message.
const PLURAL_CATEGORIES: [&str; 6] = ["zero", "one", "two", "few", "many", "other"];

/// What one message needs: its arguments and its tags (`<a>`, `<strong>`),
/// over all its plural forms, and those forms.
#[derive(Debug, PartialEq, Eq, Default)]
struct Shape {
    arguments: BTreeSet<String>,
    tags: BTreeMap<String, usize>,
    plural: Option<BTreeSet<String>>,
}

pub fn check_catalogues(dir: &Path, locales: &[&str]) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let mut shapes = Vec::new();
    for &l in locales {
        let path = dir.join(format!("{l}.json"));
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(v) => {
                let mut messages = BTreeMap::new();
                flatten("", &v, &mut messages);
                shapes.push((l, shapes_of(&messages, l, &mut problems)));
            }
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
    if let Some(((_, english), others)) = shapes.split_first() {
        for (l, theirs) in others {
            for (key, shape) in english {
                match theirs.get(key) {
                    None => problems.push(format!("{l}.json lacks `{key}`")),
                    Some(s) if s.arguments != shape.arguments => problems
                        .push(format!("{l}.json `{key}` takes {:?}, English takes {:?}", s.arguments, shape.arguments)),
                    Some(s) if s.tags != shape.tags => {
                        problems.push(format!("{l}.json `{key}` has tags {:?}, English {:?}", s.tags, shape.tags))
                    }
                    Some(s) if s.plural.is_some() != shape.plural.is_some() => {
                        problems.push(format!("{l}.json `{key}`: plural in one language, not in the other"))
                    }
                    Some(_) => {}
                }
            }
            for key in theirs.keys().filter(|k| !english.contains_key(*k)) {
                problems.push(format!("{l}.json has `{key}`, which English lacks"));
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// One form of a message: its key, arguments and tags.
type Form<'a> = (&'a str, BTreeSet<String>, BTreeMap<String, usize>);

/// Plural forms folded into their message; each message's shape. Within
/// one language, every form of a plural names every argument (a form may
/// leave out `count`: "eine Minute") and has the same tags; and no message
/// holds a line break (the countdown's labels are lines), an `&` or a `<`
/// that opens no tag (messages go into HTML as they are).
fn shapes_of(messages: &BTreeMap<String, String>, locale: &str, problems: &mut Vec<String>) -> BTreeMap<String, Shape> {
    let mut forms: BTreeMap<String, Vec<Form<'_>>> = BTreeMap::new();
    let mut out: BTreeMap<String, Shape> = BTreeMap::new();
    for (key, text) in messages {
        let (base, category) = match key.rsplit_once('_') {
            Some((base, c)) if PLURAL_CATEGORIES.contains(&c) => (base.to_owned(), Some(c.to_owned())),
            _ => (key.clone(), None),
        };
        if text.contains(['\n', '\r', '&'])
            || text.split('<').skip(1).any(|t| !t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/'))
        {
            problems.push(format!("{locale}.json `{key}`: no line breaks, `&` or a `<` that opens no tag"));
        }
        let shape = out.entry(base.clone()).or_default();
        let (arguments, tags) = (arguments(text), tags(text));
        shape.arguments.extend(arguments.iter().cloned());
        shape.tags = tags.clone();
        if let Some(c) = category {
            shape.plural.get_or_insert_with(BTreeSet::new).insert(c);
        }
        forms.entry(base).or_default().push((key, arguments, tags));
    }
    for (base, shape) in &out {
        for (key, arguments, tags) in &forms[base] {
            let missing: Vec<&String> =
                shape.arguments.iter().filter(|a| *a != "count" && !arguments.contains(*a)).collect();
            if !missing.is_empty() {
                problems.push(format!("{locale}.json `{key}` leaves out {missing:?}, which its other forms show"));
            }
            if *tags != shape.tags {
                problems.push(format!("{locale}.json `{key}`: its plural forms have different tags"));
            }
        }
        if let Some(plural) = &shape.plural {
            if !plural.contains("other") {
                problems.push(format!("{locale}.json `{base}`: a plural needs its `other` form"));
            }
            if !shape.arguments.contains("count") {
                problems.push(format!("{locale}.json `{base}`: a plural's forms should show `{{{{ count }}}}`"));
            }
        }
    }
    out
}

/// `{{ name }}` arguments.
fn arguments(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else { break };
        found.insert(rest[start + 2..start + end].trim().to_owned());
        rest = &rest[start + end + 2..];
    }
    found
}

/// Opening tags by name, counted.
fn tags(text: &str) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    for part in text.split('<').skip(1) {
        let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if !name.is_empty() {
            *found.entry(name).or_insert(0) += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, locale: &str, json: &str) {
        std::fs::write(dir.join(format!("{locale}.json")), json).unwrap();
    }

    fn problems(en: &str, de: &str) -> Vec<String> {
        let dir = std::env::temp_dir().join(format!("passcode-i18n-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write(&dir, "en", en);
        write(&dir, "de", de);
        let out = check_catalogues(&dir, &["en", "de"]).err().unwrap_or_default();
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    #[test]
    fn a_gap_in_any_language_is_named() {
        let en =
            r#"{"a": {"b": "Hi {{ name }}", "c": "<a>x</a>", "n_one": "{{ count }} s", "n_other": "{{ count }} s"}}"#;
        assert!(problems(en, en).is_empty());
        let missing = problems(en, r#"{"a": {"c": "<a>y</a>", "n_one": "{{ count }}", "n_other": "{{ count }}"}}"#);
        assert_eq!(missing, ["de.json lacks `a.b`"]);
        let argument = problems(
            en,
            r#"{"a": {"b": "Hallo {{ nom }}", "c": "<a>y</a>", "n_one": "{{ count }}", "n_other": "{{ count }}"}}"#,
        );
        assert_eq!(argument.len(), 1, "{argument:?}");
        assert!(argument[0].contains("`a.b` takes"), "{argument:?}");
        let tag = problems(
            en,
            r#"{"a": {"b": "Hallo {{ name }}", "c": "y", "n_one": "{{ count }}", "n_other": "{{ count }}"}}"#,
        );
        assert!(tag[0].contains("`a.c` has tags"), "{tag:?}");
        let plural = problems(en, r#"{"a": {"b": "Hallo {{ name }}", "c": "<a>y</a>", "n": "{{ count }}"}}"#);
        assert!(plural[0].contains("plural in one language"), "{plural:?}");
        let surplus = problems(en, &en.replace("\"c\"", "\"d\": \"x\", \"c\""));
        assert_eq!(surplus, ["de.json has `a.d`, which English lacks"]);
        let no_other = problems(r#"{"n_one": "{{ count }}"}"#, r#"{"n_one": "{{ count }}"}"#);
        assert!(no_other.iter().any(|p| p.contains("needs its `other` form")), "{no_other:?}");
        // Each form on its own: `_other` without the destination, or with a
        // tag its `_one` lacks, is caught though the message as a whole has both.
        let en = r#"{"h_one": "{{ count }} to {{ to }}", "h_other": "{{ count }} to <b>{{ to }}</b>"}"#;
        let en_ok = r#"{"h_one": "<b>{{ to }}</b>: {{ count }}", "h_other": "<b>{{ to }}</b>: {{ count }}"}"#;
        assert!(problems(en_ok, en_ok).is_empty());
        let form = problems(en_ok, r#"{"h_one": "eine an <b>{{ to }}</b>", "h_other": "<b>x</b>: {{ count }}"}"#);
        assert!(form.iter().any(|p| p.contains("`h_other` leaves out [\"to\"]")), "{form:?}");
        assert!(problems(en, en).iter().any(|p| p.contains("different tags")));
        // Text that would break a line-per-label attribute or the HTML.
        for bad in ["a\\nb", "Fish & chips", "1 < 2"] {
            let json = format!(r#"{{"m": "{bad}"}}"#);
            assert!(problems(&json, &json).iter().any(|p| p.contains("no line breaks")), "{bad}");
        }
    }
}
