//! Refusals by the in-process per-IP limits, counted in memory. A client
//! flooding the sign-in page is refused without touching the database: a
//! row per refusal would turn its flood into a flood of writes (on SQLite,
//! everyone else waits on the one connection) kept for 90 days. Instead a
//! background job writes one summary row per client, at most once a minute
//! (`AuthService::flush_refusals`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::service::IpAction;

/// Clients with refusals waiting to be written; past this, further new
/// clients are counted together (the summary says how many requests).
const MAX_CLIENTS: usize = 10_000;

/// What one client's refusals since the last summary came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalSummary {
    /// The first address seen for the client (`None`: the overflow of many
    /// clients).
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub action: IpAction,
    pub count: u64,
    /// The longest wait any of them was told.
    pub retry_after_secs: u64,
}

#[derive(Default)]
pub struct RefusalTally {
    /// By the client's key (`limits::client_key` as text) and the action.
    counts: Mutex<HashMap<(String, IpAction), RefusalSummary>>,
}

impl RefusalTally {
    pub fn note(&self, ip: Option<IpAddr>, user_agent: Option<&str>, action: IpAction, retry_after_secs: u64) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = (ip.map(|ip| super::limits::key_text(super::limits::client_key(ip))).unwrap_or_default(), action);
        let mut ip = ip;
        if counts.len() >= MAX_CLIENTS && !counts.contains_key(&key) {
            key = ("many clients".into(), action);
            ip = None;
        }
        let entry = counts.entry(key).or_insert_with(|| RefusalSummary {
            ip,
            user_agent: user_agent.map(str::to_owned),
            action,
            count: 0,
            retry_after_secs: 0,
        });
        entry.count += 1;
        entry.retry_after_secs = entry.retry_after_secs.max(retry_after_secs);
    }

    /// Everything counted since the last call, emptied.
    pub fn take(&self) -> Vec<RefusalSummary> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.drain().map(|(_, summary)| summary).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_client_and_action_until_taken() {
        let tally = RefusalTally::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..1000 {
            tally.note(Some(a), Some("curl/8"), IpAction::Send, 30);
        }
        tally.note(Some("2001:db8::1".parse().unwrap()), None, IpAction::Verify, 5);
        tally.note(Some("2001:db8::2".parse().unwrap()), None, IpAction::Verify, 7);
        let mut summaries = tally.take();
        summaries.sort_by_key(|s| s.count);
        assert_eq!(summaries.len(), 2, "one /64 is one client: {summaries:?}");
        assert_eq!((summaries[0].count, summaries[0].retry_after_secs), (2, 7));
        assert_eq!(
            summaries[1],
            RefusalSummary {
                ip: Some(a),
                user_agent: Some("curl/8".into()),
                action: IpAction::Send,
                count: 1000,
                retry_after_secs: 30
            }
        );
        assert!(tally.take().is_empty(), "taken once");
    }

    #[test]
    fn stays_bounded() {
        let tally = RefusalTally::default();
        for i in 0..(MAX_CLIENTS as u32 + 500) {
            tally.note(Some(IpAddr::V4(i.into())), None, IpAction::Send, 1);
        }
        let summaries = tally.take();
        assert_eq!(summaries.len(), MAX_CLIENTS + 1);
        assert_eq!(summaries.iter().map(|s| s.count).sum::<u64>(), MAX_CLIENTS as u64 + 500);
    }
}
