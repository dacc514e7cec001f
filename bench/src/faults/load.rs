//! The load during a fault run: workers that each sign in again and again
//! as a script client would (form posts, statuses as they are), reading
//! their codes from the mail sink, and a record of every request and what
//! came of it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::smtp::Sink;
use crate::form::{form_value, set_cookie};

const PENDING_COOKIE: &str = "__Host-passcode_pending";
const SESSION_COOKIE: &str = "__Host-passcode_session";

/// Longer than any answer Passcode or the proxy promises (the database's
/// acquire timeout, the proxy's 5 s of retries): past it, a request hung.
pub const HANG: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Answer {
    Ok,
    /// A 503 with words for the person, from Passcode.
    TryAgain,
    /// The proxy's 503 (`X-Proxy-Error`): no instance answered, or one died
    /// while answering. Clear for the person, but a sign of a crash unless
    /// a fault explains it.
    ProxyTryAgain,
    /// A 429 with `Retry-After`: a limit said when (clear, and the person
    /// waits; the load moves on to another address).
    Limited,
    /// Any other status: a 4xx that the load should never meet, a 502, a 504.
    Other(u16),
    /// A 500: never acceptable.
    ServerError,
    /// No answer within `HANG`.
    Hung,
    /// The connection to the proxy failed (the proxy is never faulted).
    NoConnection,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub started: Instant,
    pub finished: Instant,
    pub answer: Answer,
}

impl Request {
    /// Whether it was in flight at any moment of `from..=to`.
    pub fn overlaps(&self, from: Instant, to: Instant) -> bool {
        self.started <= to && self.finished >= from
    }
}

/// Everything the load saw.
#[derive(Default)]
pub struct Record {
    pub requests: Mutex<Vec<Request>>,
    /// When the sends answered "sent" whose message never reached the mail
    /// server were asked for.
    pub lost: Mutex<Vec<Instant>>,
    /// Codes that opened a second session when used again.
    pub double: AtomicUsize,
    /// Sign-ins completed (a session cookie received).
    pub signed_in: AtomicUsize,
    /// People who were told "try again" for a minute and gave up.
    pub gave_up: AtomicUsize,
    /// Verifications whose answer was lost on the way (a cut connection)
    /// and whose code then turned out used: the session exists, the
    /// browser never got its cookie. Counted, not a failure.
    pub answers_lost: AtomicUsize,
    pub unexpected: Mutex<Vec<String>>,
}

impl Record {
    fn note(&self, started: Instant, answer: Answer, what: &str, detail: impl FnOnce() -> String) {
        if !matches!(answer, Answer::Ok | Answer::TryAgain | Answer::ProxyTryAgain | Answer::Limited) {
            let mut unexpected = self.unexpected.lock().unwrap();
            if unexpected.len() < 20 {
                unexpected.push(format!("{what}: {answer:?}: {}", detail()));
            }
        }
        self.requests.lock().unwrap().push(Request { started, finished: Instant::now(), answer });
    }
}

pub struct Load {
    pub client: reqwest::Client,
    pub base: String,
    pub sink: Sink,
    pub record: Arc<Record>,
    pub stop: Arc<AtomicBool>,
    pub run: String,
}

async fn classify(res: Result<reqwest::Response, reqwest::Error>) -> (Answer, Option<reqwest::Response>, String) {
    match res {
        Ok(res) => {
            let status = res.status().as_u16();
            let answer = match status {
                200..=399 => Answer::Ok,
                503 if res.headers().contains_key("x-proxy-error") => Answer::ProxyTryAgain,
                503 => Answer::TryAgain,
                429 if res.headers().contains_key("retry-after") => Answer::Limited,
                500 => Answer::ServerError,
                s => Answer::Other(s),
            };
            if answer == Answer::Ok {
                (answer, Some(res), String::new())
            } else {
                let body = res.text().await.unwrap_or_default();
                if matches!(answer, Answer::TryAgain | Answer::ProxyTryAgain) && body.trim().is_empty() {
                    // A 503 that says nothing is not an answer for a person.
                    return (Answer::Other(503), None, "a 503 without words".into());
                }
                (answer, None, body.chars().take(200).collect())
            }
        }
        Err(e) if e.is_timeout() => (Answer::Hung, None, e.to_string()),
        Err(e) => (Answer::NoConnection, None, e.to_string()),
    }
}

impl Load {
    async fn post(&self, path: &str, form: &str, cookie: Option<&str>) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", &self.base)
            .body(form.to_owned());
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        req.send().await
    }

    /// Asks for a code for `address`: the answer, recorded, and the pending
    /// cookie with the code when it was sent. A code told sent must reach
    /// the mail server (a message newer than any before it): if not, it is
    /// lost.
    async fn send(&self, address: &str) -> (Answer, Option<(String, String)>) {
        let before = self.sink.received(address);
        let started = Instant::now();
        let form = format!("identifier={}", form_value(address));
        let (answer, res, detail) = classify(self.post("/api/request_code", &form, None).await).await;
        let cookie = res.as_ref().and_then(|r| set_cookie(r, PENDING_COOKIE));
        let answer = if answer == Answer::Ok && cookie.is_none() { Answer::Other(299) } else { answer };
        self.record.note(started, answer, "send", || detail);
        let Some(cookie) = cookie.filter(|_| answer == Answer::Ok) else { return (answer, None) };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(code) = self.sink.code_after(address, before) {
                return (answer, Some((cookie, code)));
            }
            if Instant::now() > deadline {
                self.record.lost.lock().unwrap().push(started);
                self.record.unexpected.lock().unwrap().push(format!("{address}: told sent, no message arrived"));
                return (Answer::Other(299), None);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One person's sign-in, start to end, trying again after each "try
    /// again" as a person would (a little later).
    async fn sign_in(&self, address: &str) {
        let record = &self.record;
        let (pending, code) = loop {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            match self.send(address).await {
                (_, Some(sent)) => break sent,
                (Answer::TryAgain | Answer::ProxyTryAgain | Answer::NoConnection | Answer::Hung, None) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                // Anything else ends this person's attempt (and is counted).
                _ => return,
            }
        };
        let form = format!("code={}", form_value(&code));
        let mut cut_off = false;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let started = Instant::now();
            let (answer, res, detail) = classify(self.post("/api/verify_code", &form, Some(&pending)).await).await;
            let session = res.as_ref().and_then(|r| set_cookie(r, SESSION_COOKIE));
            let answer = if answer == Answer::Ok && session.is_none() { Answer::Other(299) } else { answer };
            // A code used by a verification whose answer never came back.
            let used = detail.contains("CodeUsed");
            if cut_off && used {
                record.answers_lost.fetch_add(1, Ordering::Relaxed);
                record.note(started, Answer::Ok, "verify", String::new);
                return;
            }
            record.note(started, answer, "verify", || detail);
            match answer {
                Answer::Ok => {
                    record.signed_in.fetch_add(1, Ordering::Relaxed);
                    // The same code again: it must not open a second session.
                    let again = self.post("/api/verify_code", &form, Some(&pending)).await;
                    if again.is_ok_and(|r| set_cookie(&r, SESSION_COOKIE).is_some()) {
                        record.double.fetch_add(1, Ordering::Relaxed);
                    }
                    return;
                }
                Answer::TryAgain | Answer::ProxyTryAgain | Answer::Hung | Answer::NoConnection => {
                    // The answer may be lost after the sign-in happened
                    // (an instance killed between its commit and its reply).
                    cut_off |= answer != Answer::TryAgain;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => return,
            }
        }
        record.gave_up.fetch_add(1, Ordering::Relaxed);
        record.unexpected.lock().unwrap().push(format!("{address}: told to try again for a minute; gave up"));
    }

    /// Signs in as `worker`'s people, one after another, until stopped.
    pub async fn worker(self: Arc<Self>, worker: usize) {
        for n in 0.. {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            self.sign_in(&format!("w{worker}-{n}@{}.faults.example.com", self.run)).await;
        }
    }

    /// Seconds from now until a code can be asked for and is delivered
    /// (the whole path: proxy, instance, database, Redis, mail), asked for
    /// every 100 ms; `None` if not within `limit`. Every probe is recorded like the load's requests (a 500 or a lost
    /// code while service comes back counts too).
    pub async fn recovery(&self, label: &str, limit: Duration) -> Option<f64> {
        let started = Instant::now();
        for n in 0.. {
            let address = format!("probe-{label}-{n}@{}.faults.example.com", self.run);
            if let (Answer::Ok, Some(_)) = self.send(&address).await {
                return Some(started.elapsed().as_secs_f64());
            }
            if started.elapsed() > limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}
