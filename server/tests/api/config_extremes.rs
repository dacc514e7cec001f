//! Every number the configuration accepts starts a working server. The
//! settings are the ones `src/config/` reads through `ranged(…)` (found in its
//! source, so a new setting is covered without touching this file), and
//! each one's smallest and largest accepted values are found by asking the
//! configuration itself, so a changed range is covered too.

use std::collections::HashMap;

use reqwest::StatusCode;

use crate::helpers::{SECRET, try_spawn_app_with};
use passcode::config::Config;

/// Settings that are read only when their channel is configured, with what
/// configures it (a server on this machine that nobody answers).
fn needs(var: &str) -> &'static [(&'static str, &'static str)] {
    const SMTP: &[(&str, &str)] =
        &[("PASSCODE_SMTP_URL", "smtp://127.0.0.1:9"), ("PASSCODE_EMAIL_FROM", "sign-in@passcode.example")];
    const SMS: &[(&str, &str)] = &[
        ("PASSCODE_ENV", "development"),
        ("PASSCODE_SMS_PROVIDER", "webhook"),
        ("PASSCODE_SMS_WEBHOOK_URL", "http://127.0.0.1:9/sms"),
        ("PASSCODE_SMS_WEBHOOK_TOKEN", "bench-token-0123456789"),
    ];
    // Nobody answers there: the server starts anyway, counting per-IP
    // limits on its own.
    const REDIS: &[(&str, &str)] = &[("PASSCODE_REDIS_URL", "redis://127.0.0.1:9/0")];
    match var {
        "PASSCODE_REDIS_TIMEOUT_MS" => REDIS,
        "PASSCODE_SMTP_TIMEOUT_SECS" | "PASSCODE_SMTP_POOL_SIZE" | "PASSCODE_EMAIL_MAX_IN_FLIGHT" => SMTP,
        "PASSCODE_SMS_TIMEOUT_MS" | "PASSCODE_SMS_MAX_IN_FLIGHT" => SMS,
        _ => &[],
    }
}

/// The variables the files of `src/config/` read with `ranged(src, "VAR", …)`.
/// The folder is listed when the test runs, so a new section file is
/// covered too.
fn ranged_settings() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config");
    let mut vars = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        vars.extend(
            source
                .split("ranged(")
                .skip(1)
                .filter_map(|call| call.split('"').nth(1))
                .filter(|var| var.starts_with("PASSCODE_"))
                .map(str::to_owned),
        );
    }
    vars.sort_unstable();
    vars.dedup();
    vars
}

fn accepted(var: &str, value: u64) -> bool {
    let mut src: HashMap<String, String> = [
        ("PASSCODE_SECRET", SECRET),
        ("PASSCODE_ADDR", "127.0.0.1:0"),
        ("PASSCODE_PUBLIC_URL", "http://127.0.0.1:3000"),
        ("DATABASE_URL", "sqlite::memory:"),
    ]
    .into_iter()
    .chain(needs(var).iter().copied())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    src.insert(var.to_owned(), value.to_string());
    Config::from_source(&src).is_ok()
}

/// The smallest and largest accepted values (ranges are contiguous).
fn extremes(var: &str) -> (u64, u64) {
    let some = std::iter::once(0)
        .chain((0..63).map(|e| 1u64 << e))
        .find(|&v| accepted(var, v))
        .unwrap_or_else(|| panic!("{var}: no value accepted"));
    // Largest: double until refused, then halve the gap.
    let (mut ok, mut refused) = (some, some.max(1));
    while accepted(var, refused) {
        ok = refused;
        refused = refused.checked_mul(2).unwrap_or_else(|| panic!("{var}: no upper bound"));
    }
    while refused - ok > 1 {
        let mid = ok + (refused - ok) / 2;
        if accepted(var, mid) { ok = mid } else { refused = mid }
    }
    let max = ok;
    // Smallest: between the first value found and 0.
    let min = if accepted(var, 0) {
        0
    } else {
        let (mut refused, mut ok) = (0, some);
        while ok - refused > 1 {
            let mid = refused + (ok - refused) / 2;
            if accepted(var, mid) { ok = mid } else { refused = mid }
        }
        ok
    };
    (min, max)
}

#[tokio::test]
async fn every_accepted_number_starts_a_working_server() {
    let vars = ranged_settings();
    assert!(vars.len() >= 30, "found only {vars:?}");
    assert!(vars.iter().any(|v| v == "PASSCODE_IP_SENDS_PER_10_MIN"), "{vars:?}");
    for var in vars.iter().map(String::as_str) {
        let (min, max) = extremes(var);
        assert!(min < max, "{var}: {min}..={max}");
        eprintln!("{var}: {min}..={max}");
        for value in [min, max] {
            let value_text = value.to_string();
            let mut env: Vec<(&str, &str)> = needs(var).to_vec();
            env.push((var, &value_text));
            let app = try_spawn_app_with(&env).await.unwrap_or_else(|e| panic!("{var}={value}: {e}"));
            for path in ["/readyz", "/"] {
                assert_eq!(app.get(path).await.status(), StatusCode::OK, "{var}={value}: {path}");
            }
            // The settings that shape a sign-in, used once (a channel
            // nobody answers is left out: its send fails by design).
            if needs(var).is_empty() {
                let res = app.request_code("extremes@example.com").await;
                assert_eq!(res.status(), StatusCode::OK, "{var}={value}: request_code");
            }
        }
    }
}
