//! Forward-auth checks remembered for a moment. A reverse proxy asks about
//! every request of every protected app (a page and its thirty assets, an
//! API polled each second), and on two cores a database round trip per
//! check caps them near 12,000 a second (docs/deploying.md, "Protect an app"). So a
//! live session that was just looked up is taken from memory for
//! `PASSCODE_FORWARD_AUTH_CACHE_MS` (1 s by default, 0 to look up every
//! time); pages and server functions never use this and always ask the
//! database.
//!
//! A session ended here (signing out, ending another session, a new
//! sign-in replacing one) empties the cache at once. A session ended on
//! another instance reaches this one through Postgres `NOTIFY` (the server
//! listens; while it can't, the cache is off and every check asks the
//! database); the time limit bounds what a missed message could cost.
//! Expiry and the idle timeout are checked against the remembered row on
//! every hit, so they are exact.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::store::{SessionRow, UserRow};

/// More live sessions than this in one cache window and it starts over: a
/// bound on memory (an entry is a few hundred bytes), never on correctness.
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    session: SessionRow,
    user: UserRow,
    fetched_at: i64,
}

pub struct SessionCache {
    ttl_ms: i64,
    /// Off until (and whenever) sessions ended elsewhere can't be heard of.
    enabled: AtomicBool,
    entries: Mutex<HashMap<String, Entry>>,
    /// Bumped by every `clear`: a lookup that started before a session
    /// ended must not put what it read back after the clear.
    generation: AtomicU64,
}

/// When a lookup began, as far as the cache is concerned (`SessionCache::generation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

impl SessionCache {
    /// `ttl_ms` 0: nothing is remembered. `enabled`: whether it may be
    /// used from the start (see `set_enabled`).
    pub fn new(ttl_ms: i64, enabled: bool) -> Self {
        Self {
            ttl_ms,
            enabled: AtomicBool::new(enabled),
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Taken before a database lookup whose result may be `put`.
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session with this token hash and its account, when looked up in
    /// the last `ttl_ms` and still live at `now` (`idle_cutoff`: the
    /// session must have been seen after it).
    pub fn get(&self, token_hash: &str, now: i64, idle_cutoff: i64) -> Option<(SessionRow, UserRow)> {
        if self.ttl_ms == 0 || !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries();
        let e = entries.get(token_hash)?;
        let fresh = now - e.fetched_at < self.ttl_ms && now >= e.fetched_at;
        let live = e.session.expires_at > now && e.session.last_seen_at > idle_cutoff;
        (fresh && live).then(|| (e.session.clone(), e.user.clone()))
    }

    /// Remembers a lookup that began at `since`, unless a session ended in
    /// the meantime (its row may be the one that ended).
    pub fn put(&self, since: Generation, token_hash: String, session: SessionRow, user: UserRow, now: i64) {
        if self.ttl_ms == 0 || !self.enabled.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.entries();
        // Checked under the lock `clear` takes too: a clear either ran
        // before (and bumped the generation) or runs after (and removes it).
        if self.generation.load(Ordering::Acquire) != since.0 {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            let cutoff = now - self.ttl_ms;
            entries.retain(|_, e| e.fetched_at > cutoff);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(token_hash, Entry { session, user, fetched_at: now });
    }

    /// Some session ended: nothing remembered is trusted any more, and no
    /// lookup already under way may put its row back.
    pub fn clear(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Whether ended sessions can be heard of: off empties the cache and
    /// sends every check to the database until it is on again.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Release);
        if !enabled {
            self.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel;

    fn rows(expires_at: i64, last_seen_at: i64) -> (SessionRow, UserRow) {
        (
            SessionRow {
                id: "s".into(),
                user_id: "u".into(),
                created_at: 0,
                last_seen_at,
                expires_at,
                ip: None,
                browser: None,
                proved_at: 0,
            },
            UserRow { id: "u".into(), identifier: "a@example.com".into(), channel: Channel::Email, created_at: 0 },
        )
    }

    #[test]
    fn remembers_for_its_time_and_only_what_is_live() {
        let cache = SessionCache::new(1000, true);
        let (s, u) = rows(10_000, 500);
        cache.put(cache.generation(), "t".into(), s, u, 1000);
        assert!(cache.get("t", 1999, 0).is_some());
        assert!(cache.get("t", 2000, 0).is_none(), "older than its time");
        assert!(cache.get("t", 999, 0).is_none(), "a clock that went back trusts nothing");
        assert!(cache.get("other", 1500, 0).is_none());
        // Expiry and the idle timeout are checked on every hit.
        let (s, u) = rows(1500, 500);
        cache.put(cache.generation(), "t".into(), s, u, 1000);
        assert!(cache.get("t", 1400, 0).is_some());
        assert!(cache.get("t", 1500, 0).is_none(), "expired");
        assert!(cache.get("t", 1400, 500).is_none(), "idle");
    }

    #[test]
    fn cleared_off_and_zero_remember_nothing() {
        let cache = SessionCache::new(1000, true);
        let (s, u) = rows(10_000, 500);
        cache.put(cache.generation(), "t".into(), s.clone(), u.clone(), 1000);
        cache.clear();
        assert!(cache.get("t", 1001, 0).is_none());
        cache.put(cache.generation(), "t".into(), s.clone(), u.clone(), 1000);
        cache.set_enabled(false);
        assert!(cache.get("t", 1001, 0).is_none());
        cache.put(cache.generation(), "t".into(), s.clone(), u.clone(), 1000);
        assert!(cache.is_empty(), "nothing is kept while off");
        cache.set_enabled(true);
        assert!(cache.get("t", 1001, 0).is_none(), "what was there before going off is gone");
        // A lookup that began before a session ended puts nothing back.
        let cache = SessionCache::new(1000, true);
        let since = cache.generation();
        cache.clear();
        cache.put(since, "t".into(), s.clone(), u.clone(), 1000);
        assert!(cache.get("t", 1001, 0).is_none(), "read before the clear, put after it");
        let none = SessionCache::new(0, true);
        none.put(none.generation(), "t".into(), s, u, 1000);
        assert!(none.get("t", 1000, 0).is_none());
    }

    #[test]
    fn stays_bounded() {
        let cache = SessionCache::new(1000, true);
        for i in 0..(MAX_ENTRIES + 10) {
            let (s, u) = rows(10_000, 500);
            cache.put(cache.generation(), format!("t{i}"), s, u, 1000);
        }
        assert!(cache.len() <= MAX_ENTRIES);
    }
}
