//! Who may enter which app behind forward auth (`PASSCODE_ACCESS_FILE`).
//! Rules name a host (exactly, or every host under a domain with
//! `*.example.com`) and who it lets in: exact addresses and phone numbers,
//! everyone at an email domain (`@example.com`), or anyone signed in. The
//! first rule whose host matches decides; a host no rule names gets the
//! default. Without a file, anyone signed in may enter anything (the
//! behaviour before rules existed).
//!
//! The file is read and checked by the server's configuration; this is the
//! parsed form and the decision, pure and in memory, because it runs on
//! every request to every protected app.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use crate::domain::Channel;

/// A host a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `wiki.example.com`: that host only.
    Exact(String),
    /// `*.example.com`: every host under `example.com` (at any depth), not
    /// `example.com` itself.
    Under(String),
}

impl HostPattern {
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => host == h,
            HostPattern::Under(domain) => crate::domain::is_under(host, domain),
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(h) => f.write_str(h),
            HostPattern::Under(d) => write!(f, "*.{d}"),
        }
    }
}

/// Whom a rule lets in. Addresses are in the form accounts are stored in
/// (lower-case email, E.164 phone), so comparing is equality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// Anyone who is signed in.
    SignedIn,
    /// One email address or phone number.
    Identifier(String),
    /// Every email address at this domain (exactly; not its sub-domains).
    EmailDomain(String),
}

impl Allowed {
    fn admits(&self, who: &Who<'_>) -> bool {
        match self {
            Allowed::SignedIn => true,
            Allowed::Identifier(id) => id == who.identifier,
            Allowed::EmailDomain(domain) => {
                who.channel == Channel::Email
                    && who.identifier.rsplit_once('@').is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
            }
        }
    }
}

/// One `[[rule]]` of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub host: HostPattern,
    pub allow: Vec<Allowed>,
    /// Where it starts in the file, for logs and the audit trail.
    pub line: usize,
}

/// What a host that no rule names gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAccess {
    /// Nobody.
    Deny,
    /// Anyone signed in.
    SignedIn,
}

/// The signed-in person a decision is about.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// As stored: lower-case email or E.164.
    pub identifier: &'a str,
    pub channel: Channel,
}

/// What decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    /// No access file: anyone signed in.
    NoRules,
    /// The rule at this line of the file.
    Rule { line: usize },
    /// The file's default, for a host no rule names.
    Default,
}

impl fmt::Display for DecidedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecidedBy::NoRules => f.write_str("no access file: anyone signed in"),
            DecidedBy::Rule { line } => write!(f, "the rule at line {line}"),
            DecidedBy::Default => f.write_str("the default"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessDecision {
    pub allowed: bool,
    pub by: DecidedBy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRules {
    /// `None`: no file.
    rules: Option<(Vec<AccessRule>, DefaultAccess)>,
}

impl Default for AccessRules {
    fn default() -> Self {
        Self::anyone_signed_in()
    }
}

impl AccessRules {
    /// No file: anyone signed in may enter anything.
    pub fn anyone_signed_in() -> Self {
        Self { rules: None }
    }

    pub fn new(rules: Vec<AccessRule>, default: DefaultAccess) -> Self {
        Self { rules: Some((rules, default)) }
    }

    /// May `who` open `host` (lower case, no port)?
    pub fn decide(&self, host: &str, who: &Who<'_>) -> AccessDecision {
        let Some((rules, default)) = &self.rules else {
            return AccessDecision { allowed: true, by: DecidedBy::NoRules };
        };
        match rules.iter().find(|r| r.host.matches(host)) {
            Some(rule) => AccessDecision {
                allowed: rule.allow.iter().any(|a| a.admits(who)),
                by: DecidedBy::Rule { line: rule.line },
            },
            None => AccessDecision { allowed: *default == DefaultAccess::SignedIn, by: DecidedBy::Default },
        }
    }

    /// The hosts the rules name exactly that `who` may open, in the file's
    /// order (wildcards name no host one could link to).
    pub fn hosts_for(&self, who: &Who<'_>) -> Vec<String> {
        let Some((rules, _)) = &self.rules else { return Vec::new() };
        let mut hosts: Vec<String> = Vec::new();
        for rule in rules {
            if let HostPattern::Exact(host) = &rule.host
                && !hosts.contains(host)
                && self.decide(host, who).allowed
            {
                hosts.push(host.clone());
            }
        }
        hosts
    }
}

/// Refusals already in the audit trail: a browser that keeps asking for a
/// page it may not open (a dashboard polling, a reload) would otherwise
/// write a row per request. One row per session and host per window, and at
/// most `HOSTS_PER_SESSION` hosts per session in a window (the host comes
/// from the request, so a session could otherwise name endless ones).
pub struct RecentRefusals {
    seen: Mutex<HashMap<(String, String), i64>>,
    window_ms: i64,
}

/// Distinct hosts one session's refusals are written for in a window.
const HOSTS_PER_SESSION: usize = 10;

/// More entries than any honest use makes in a window; past it the map
/// starts over (the worst case is one extra audit row per entry).
const REFUSALS_KEPT: usize = 4096;

impl RecentRefusals {
    pub fn new(window_ms: i64) -> Self {
        Self { seen: Mutex::new(HashMap::new()), window_ms }
    }

    /// Whether this refusal is the first of its session and host in the
    /// window (and so worth a row).
    pub fn first_in_window(&self, session_id: &str, host: &str, now: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let key = (session_id.to_owned(), host.to_owned());
        if seen.get(&key).is_some_and(|&at| now - at < self.window_ms) {
            return false;
        }
        let cutoff = now - self.window_ms;
        let hosts = seen.iter().filter(|((s, _), at)| s == session_id && **at > cutoff).count();
        if hosts >= HOSTS_PER_SESSION {
            return false;
        }
        if seen.len() >= REFUSALS_KEPT {
            let cutoff = now - self.window_ms;
            seen.retain(|_, at| *at > cutoff);
            if seen.len() >= REFUSALS_KEPT {
                seen.clear();
            }
        }
        seen.insert(key, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> AccessRules {
        AccessRules::new(
            vec![
                AccessRule {
                    host: HostPattern::Exact("wiki.example.com".into()),
                    allow: vec![
                        Allowed::EmailDomain("example.com".into()),
                        Allowed::Identifier("jane@gmail.com".into()),
                    ],
                    line: 3,
                },
                AccessRule {
                    host: HostPattern::Exact("ops.example.com".into()),
                    allow: vec![Allowed::Identifier("+447911123456".into())],
                    line: 7,
                },
                AccessRule {
                    host: HostPattern::Under("tools.example.com".into()),
                    allow: vec![Allowed::SignedIn],
                    line: 10,
                },
                // Never reached for wiki: the first rule naming a host decides.
                AccessRule { host: HostPattern::Under("example.com".into()), allow: vec![Allowed::SignedIn], line: 13 },
            ],
            DefaultAccess::Deny,
        )
    }

    fn email(s: &str) -> Who<'_> {
        Who { identifier: s, channel: Channel::Email }
    }

    #[test]
    fn first_matching_host_decides() {
        let r = rules();
        let wiki = "wiki.example.com";
        assert_eq!(
            r.decide(wiki, &email("bob@example.com")),
            AccessDecision { allowed: true, by: DecidedBy::Rule { line: 3 } }
        );
        assert!(r.decide(wiki, &email("jane@gmail.com")).allowed);
        // A later wildcard that would let anyone in does not: first match wins.
        assert_eq!(
            r.decide(wiki, &email("eve@gmail.com")),
            AccessDecision { allowed: false, by: DecidedBy::Rule { line: 3 } }
        );
        // A sub-domain of the email domain is another domain.
        assert!(!r.decide(wiki, &email("bob@mail.example.com")).allowed);
        // A phone number is not at an email domain.
        let phone = Who { identifier: "+447911123456", channel: Channel::Sms };
        assert!(!r.decide(wiki, &phone).allowed);
        assert!(r.decide("ops.example.com", &phone).allowed);
        assert!(!r.decide("ops.example.com", &email("bob@example.com")).allowed);
        // Wildcards: any depth under the domain, never the domain itself.
        assert_eq!(r.decide("a.tools.example.com", &email("eve@gmail.com")).by, DecidedBy::Rule { line: 10 });
        assert_eq!(r.decide("a.b.tools.example.com", &email("eve@gmail.com")).by, DecidedBy::Rule { line: 10 });
        assert_eq!(r.decide("tools.example.com", &email("eve@gmail.com")).by, DecidedBy::Rule { line: 13 });
        assert_eq!(
            r.decide("example.com", &email("bob@example.com")),
            AccessDecision { allowed: false, by: DecidedBy::Default }
        );
        assert!(!r.decide("eviltools.example.com.evil", &email("bob@example.com")).allowed);
        assert_eq!(r.decide("xtools.example.com", &email("bob@example.com")).by, DecidedBy::Rule { line: 13 });
        // The default for hosts no rule names.
        let open = AccessRules::new(Vec::new(), DefaultAccess::SignedIn);
        assert_eq!(open.decide("any.host", &email("x@y.z")), AccessDecision { allowed: true, by: DecidedBy::Default });
        assert_eq!(
            AccessRules::anyone_signed_in().decide("any.host", &email("x@y.z")),
            AccessDecision { allowed: true, by: DecidedBy::NoRules }
        );
    }

    #[test]
    fn hosts_for_lists_exact_hosts_this_person_may_open() {
        let r = rules();
        assert_eq!(r.hosts_for(&email("bob@example.com")), vec!["wiki.example.com"]);
        assert_eq!(r.hosts_for(&Who { identifier: "+447911123456", channel: Channel::Sms }), vec!["ops.example.com"]);
        assert!(r.hosts_for(&email("eve@gmail.com")).is_empty());
        assert!(AccessRules::anyone_signed_in().hosts_for(&email("bob@example.com")).is_empty());
    }

    #[test]
    fn one_refusal_row_per_session_and_host_per_window() {
        let recent = RecentRefusals::new(600_000);
        assert!(recent.first_in_window("s1", "wiki", 0));
        assert!(!recent.first_in_window("s1", "wiki", 599_999));
        assert!(recent.first_in_window("s1", "ops", 1));
        assert!(recent.first_in_window("s2", "wiki", 1));
        assert!(recent.first_in_window("s1", "wiki", 600_000));
        // A session naming endless hosts gets a bounded number of rows.
        let written = (0..100).filter(|i| recent.first_in_window("s9", &format!("h{i}"), 700_000)).count();
        assert_eq!(written, HOSTS_PER_SESSION);
        for i in 0..(REFUSALS_KEPT * 2) {
            recent.first_in_window(&format!("s{i}"), "wiki", 700_000);
        }
        assert!(recent.seen.lock().unwrap().len() <= REFUSALS_KEPT);
    }
}
