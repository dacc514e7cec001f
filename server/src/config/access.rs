//! Who may open which app behind forward auth: `PASSCODE_ACCESS_FILE`, a
//! TOML file read and checked once at start-up (docs/deploying.md, "Protect an app").
//! A mistake stops start-up with the file's line and what is wrong with it.
//!
//! ```toml
//! default = "deny"                # hosts no rule names: "deny" or "signed-in"
//!
//! [[rule]]
//! host = "wiki.example.com"       # or "*.example.com": every host under it
//! allow = ["@example.com", "jane@example.org", "+44 7911 123456"]
//!
//! [[rule]]
//! host = "*.tools.example.com"
//! allow = ["signed-in"]           # anyone signed in
//! ```

use std::ops::Range;
use std::path::Path;

use app::auth::{AccessRule, AccessRules, Allowed, DefaultAccess, HostPattern};
use app::domain::{EmailAddress, PhoneNumber};
use serde::Deserialize;
use toml::Spanned;

use super::helpers::is_dns_label;
use super::{ConfigError, Source, err};

const VAR: &str = "PASSCODE_ACCESS_FILE";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    default: Option<Spanned<String>>,
    #[serde(default)]
    rule: Vec<Spanned<RuleEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    host: Spanned<String>,
    allow: Vec<Spanned<String>>,
}

/// The rules in `PASSCODE_ACCESS_FILE`, or anyone signed in without one.
pub(super) fn read(src: &dyn Source, default_region: Option<&str>) -> Result<AccessRules, ConfigError> {
    let Some(path) = src.get(VAR) else { return Ok(AccessRules::anyone_signed_in()) };
    let path = Path::new(path.trim());
    let text = std::fs::read_to_string(path).map_err(|e| err(VAR, format!("{} can't be read: {e}", path.display())))?;
    parse(&text, default_region).map_err(|(line, message)| match line {
        Some(line) => err(VAR, format!("{}, line {line}: {message}", path.display())),
        None => err(VAR, format!("{}: {message}", path.display())),
    })
}

/// A mistake: the line it is on (when the file has one for it) and what is
/// wrong.
type Mistake = (Option<usize>, String);

fn line_of(text: &str, span: &Range<usize>) -> usize {
    text[..span.start.min(text.len())].matches('\n').count() + 1
}

pub(super) fn parse(text: &str, default_region: Option<&str>) -> Result<AccessRules, Mistake> {
    let file: File = toml::from_str(text).map_err(|e| {
        // toml's own message names the line too; keep the first line of it,
        // which says what is wrong.
        let what = e.message().lines().next().unwrap_or("not valid TOML").to_owned();
        (e.span().map(|s| line_of(text, &s)), what)
    })?;
    let at = |span: Range<usize>, message: String| (Some(line_of(text, &span)), message);
    let default = match &file.default {
        None => DefaultAccess::Deny,
        Some(d) => match d.get_ref().trim() {
            "deny" => DefaultAccess::Deny,
            "signed-in" => DefaultAccess::SignedIn,
            other => {
                return Err(at(
                    d.span(),
                    format!("default must be \"deny\" (nobody) or \"signed-in\" (anyone signed in), not {other:?}"),
                ));
            }
        },
    };
    let mut rules: Vec<AccessRule> = Vec::new();
    for entry in &file.rule {
        let line = line_of(text, &entry.span());
        let entry = entry.get_ref();
        let host = host_pattern(entry.host.get_ref()).map_err(|m| at(entry.host.span(), m))?;
        if let Some(earlier) = rules.iter().find(|r| r.host == host) {
            return Err(at(
                entry.host.span(),
                format!(
                    "{host} is already named by the rule at line {}, which decides first: this one would never apply",
                    earlier.line
                ),
            ));
        }
        let allow = entry
            .allow
            .iter()
            .map(|a| allowed(a.get_ref(), default_region).map_err(|m| at(a.span(), m)))
            .collect::<Result<Vec<_>, _>>()?;
        rules.push(AccessRule { host, allow, line });
    }
    Ok(AccessRules::new(rules, default))
}

fn host_pattern(raw: &str) -> Result<HostPattern, String> {
    let lower = raw.trim().to_ascii_lowercase();
    let (wildcard, name) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    if name.is_empty() || !name.split('.').all(is_dns_label) {
        return Err(format!(
            "host {raw:?} is not a host name: write it like wiki.example.com, or *.example.com for every host \
             under example.com (no scheme, port or path)"
        ));
    }
    Ok(if wildcard { HostPattern::Under(name.to_owned()) } else { HostPattern::Exact(name.to_owned()) })
}

/// One entry of `allow`: "signed-in", "@domain", an email address or a
/// phone number, each in the form accounts are stored in.
fn allowed(raw: &str, default_region: Option<&str>) -> Result<Allowed, String> {
    let s = raw.trim();
    if s == "signed-in" {
        return Ok(Allowed::SignedIn);
    }
    if let Some(domain) = s.strip_prefix('@') {
        // Normalised as an address at that domain would be.
        let address = EmailAddress::parse(&format!("x@{domain}"))
            .map_err(|_| format!("{raw:?} is not an email domain: write it like @example.com"))?;
        let domain = address.as_ref().rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
        return Ok(Allowed::EmailDomain(domain));
    }
    if s.contains('@') {
        return EmailAddress::parse(s)
            .map(|a| Allowed::Identifier(a.as_ref().to_owned()))
            .map_err(|_| format!("{raw:?} is not an email address people can sign in with"));
    }
    PhoneNumber::parse(s, default_region).map(|p| Allowed::Identifier(p.as_ref().to_owned())).map_err(|_| {
        format!(
            "{raw:?} is not an email address, @domain, phone number (with its country code, like +44 7911 123456) \
             or \"signed-in\""
        )
    })
}

#[cfg(test)]
mod tests {
    use app::auth::{DecidedBy, Who};
    use app::domain::Channel;

    use super::*;

    const GOOD: &str = r#"
# Hosts no rule names.
default = "deny"

[[rule]]
host = "Wiki.Example.com"
allow = ["@Example.com", "Jane@Example.org", "+44 7911 123456"]

[[rule]]
host = "*.tools.example.com"
allow = ["signed-in"]
"#;

    #[test]
    fn a_good_file_becomes_rules() {
        let rules = parse(GOOD, None).unwrap();
        let email = |s| Who { identifier: s, channel: Channel::Email };
        let wiki = rules.decide("wiki.example.com", &email("bob@example.com"));
        assert!(wiki.allowed);
        assert_eq!(wiki.by, DecidedBy::Rule { line: 5 });
        assert!(rules.decide("wiki.example.com", &email("jane@example.org")).allowed);
        assert!(rules.decide("wiki.example.com", &Who { identifier: "+447911123456", channel: Channel::Sms }).allowed);
        assert!(!rules.decide("wiki.example.com", &email("eve@evil.example")).allowed);
        assert_eq!(rules.decide("a.tools.example.com", &email("eve@evil.example")).by, DecidedBy::Rule { line: 9 });
        assert_eq!(rules.decide("other.example.com", &email("bob@example.com")).by, DecidedBy::Default);
        assert!(!rules.decide("other.example.com", &email("bob@example.com")).allowed);
        // A national number with the default region.
        let uk = parse("[[rule]]\nhost = \"a.example.com\"\nallow = [\"07911 123456\"]\n", Some("GB")).unwrap();
        assert!(uk.decide("a.example.com", &Who { identifier: "+447911123456", channel: Channel::Sms }).allowed);
        // An empty file: nobody anywhere.
        assert!(!parse("", None).unwrap().decide("a.example.com", &email("bob@example.com")).allowed);
        let open = parse("default = \"signed-in\"\n", None).unwrap();
        assert!(open.decide("a.example.com", &email("bob@example.com")).allowed);
    }

    /// Every mistake names its line and says what is wrong.
    #[test]
    fn mistakes_name_their_line() {
        for (text, line, says) in [
            ("default = \"allow\"\n", 1, "default must be"),
            ("\n\n[[rule]]\nhost = \"wiki.example.com\"\nallow = [\"jane@\"]\n", 5, "not an email address"),
            ("[[rule]]\nhost = \"https://wiki.example.com\"\nallow = []\n", 2, "not a host name"),
            ("[[rule]]\nhost = \"wiki.example.com:8443\"\nallow = []\n", 2, "not a host name"),
            ("[[rule]]\nhost = \"*\"\nallow = []\n", 2, "not a host name"),
            ("[[rule]]\nhost = \"a.example.com\"\nallow = [\"@\"]\n", 3, "not an email domain"),
            ("[[rule]]\nhost = \"a.example.com\"\nallow = [\"everyone\"]\n", 3, "signed-in"),
            ("[[rule]]\nhost = \"a.example.com\"\nallow = [\"07911 123456\"]\n", 3, "country code"),
            ("[[rule]]\nhost = \"a.example.com\"\nalow = [\"signed-in\"]\n", 3, "unknown field"),
            ("[[rule]]\nhost = \"a.example.com\"\n", 1, "missing field"),
            ("[[rule]]\nhost = \"a.example.com\"\nallow = [\"signed-in\"\n", 3, ""),
            ("defualt = \"deny\"\n", 1, "unknown field"),
            (
                "[[rule]]\nhost = \"a.example.com\"\nallow = []\n\n[[rule]]\nhost = \"A.example.com\"\nallow = []\n",
                6,
                "already named by the rule at line 1",
            ),
        ] {
            let (got_line, message) = parse(text, None).err().unwrap_or_else(|| panic!("{text:?} parsed"));
            assert_eq!(got_line, Some(line), "{text:?}: {message}");
            assert!(message.contains(says), "{text:?}: {message}");
        }
    }

    #[test]
    fn the_variable_and_the_path_are_named() {
        let dir = std::env::temp_dir().join(format!("passcode-access-{}", app::domain::random_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.toml");
        std::fs::write(&path, "default = \"deny\"\n[[rule]]\nhost = \"a.example.com\"\nallow = [\"nobody@\"]\n")
            .unwrap();
        let src = super::super::helpers::source(&[(VAR, path.to_str().unwrap())]);
        let e = read(&src, None).unwrap_err();
        assert_eq!(e.var, VAR);
        assert!(e.message.contains(&format!("{}, line 4:", path.display())), "{e}");
        let missing = super::super::helpers::source(&[(VAR, "/nonexistent/access.toml")]);
        assert!(read(&missing, None).unwrap_err().message.contains("can't be read"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
