//! Background jobs. Each instance runs them; they are written so that
//! several instances running them at once is harmless. At shutdown each is
//! asked to stop (`Jobs::stop`) and stops between two pieces of work: a
//! purge under way finishes, and the refusals not yet written are written.
//! One still busy when the shutdown's time is up is cut off (and named in
//! the log); a purge cut off leaves what it had not deleted to the next
//! run (each of its deletes is one statement: whole or not at all).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use app::auth::{Clock, millis};
use app::store::SqlStore;

use crate::config::DatabaseSettings;

/// The jobs this instance runs, and the word that stops them.
pub struct Jobs {
    stop: watch::Sender<bool>,
    running: Vec<(&'static str, JoinHandle<()>)>,
}

/// A job's side of the stop word.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Resolves once a stop is asked for. Never, if the `Jobs` were dropped
    /// without one (a test that keeps only the router): its jobs run on.
    pub async fn asked(&mut self) {
        if self.0.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Default for Jobs {
    fn default() -> Self {
        Self { stop: watch::channel(false).0, running: Vec::new() }
    }
}

impl Jobs {
    fn spawn<F, Fut>(&mut self, name: &'static str, job: F)
    where
        F: FnOnce(Stop) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stop = Stop(self.stop.subscribe());
        self.running.push((name, tokio::spawn(job(stop))));
    }

    /// Asks every job to stop and waits for them, at most `within`; one that
    /// is still busy then is cut off, and named in the log.
    pub async fn stop(self, within: Duration) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + within;
        for (name, mut handle) in self.running {
            if tokio::time::timeout_at(deadline, &mut handle).await.is_err() {
                tracing::warn!(job = name, "a background job did not stop in time: cut off");
                handle.abort();
            }
        }
        tracing::info!("background jobs stopped");
    }
}

/// Deletes expired challenges and sessions (past their end or idle past
/// `session_idle`), old audit rows and stale counters every
/// `PASSCODE_PURGE_INTERVAL_SECS`.
pub fn spawn_purge(
    jobs: &mut Jobs,
    store: SqlStore,
    clock: Arc<dyn Clock>,
    settings: &DatabaseSettings,
    session_idle: Duration,
) {
    let every = settings.purge_interval;
    let (audit_keep_ms, session_idle_ms) = (millis(settings.audit_retention), millis(session_idle));
    jobs.spawn("purge", |mut stop| async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // A stop asked for wins over a tick that is also due.
                biased;
                () = stop.asked() => return,
                _ = tick.tick() => {}
            }
            match store.purge(clock.now_ms(), audit_keep_ms, session_idle_ms).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "purged expired rows"),
                // The database may be down; the next tick tries again.
                Err(e) => tracing::warn!(error = %e, "purge failed"),
            }
        }
    });
}

/// Listens for sessions ended on other instances (Postgres `NOTIFY`, sent by
/// `SqlStore::announce_sessions_ended`) and empties this instance's forward-
/// auth session cache when one arrives. The cache is on only while the
/// listener is connected: an instance that can't hear of ended sessions
/// asks the database on every check, and says so in its log.
pub fn spawn_session_listener(jobs: &mut Jobs, database_url: String, auth: Arc<app::web::Auth>) {
    auth.session_cache().set_enabled(false);
    // It only listens: stopping it anywhere loses nothing.
    jobs.spawn("session listener", |mut stop| async move {
        tokio::select! {
            () = listen_for_ended_sessions(database_url, auth.clone()) => {}
            () = stop.asked() => {}
        }
        // Nobody listens any more: a request still being answered must ask
        // the database, never trust what it remembers.
        auth.session_cache().set_enabled(false);
    });
}

async fn listen_for_ended_sessions(database_url: String, auth: Arc<app::web::Auth>) {
    let cache = || auth.session_cache();
    let mut backoff = Duration::from_millis(250);
    loop {
        match sqlx::postgres::PgListener::connect(&database_url).await {
            Ok(mut listener) => match listener.listen(app::store::SESSIONS_ENDED_CHANNEL).await {
                Ok(()) => {
                    // Anything that ended while nobody listened is
                    // forgotten with the rest.
                    cache().clear();
                    cache().set_enabled(true);
                    backoff = Duration::from_millis(250);
                    tracing::info!("listening for sessions ended on other instances (forward-auth session cache on)");
                    // `try_recv` returns Ok(None) when the connection was
                    // lost: whatever was said meanwhile is lost with it,
                    // so the cache goes off and the listener starts over.
                    while let Ok(Some(_)) = listener.try_recv().await {
                        cache().clear();
                    }
                    cache().set_enabled(false);
                    tracing::warn!(
                        "lost the database connection that hears of ended sessions: forward-auth checks ask \
                         the database until it is back"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "could not listen for ended sessions"),
            },
            Err(e) => tracing::warn!(
                error = %e,
                "could not connect to hear of ended sessions: forward-auth checks ask the database until it can"
            ),
        }
        cache().set_enabled(false);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Writes the per-IP limits' refusals as summary rows once a minute (see
/// `app::auth::AuthService::flush_refusals`), and once more when stopped,
/// so a deploy loses none of the last minute's.
pub fn spawn_refusal_summaries(jobs: &mut Jobs, auth: Arc<app::web::Auth>) {
    jobs.spawn("refusal summaries", |mut stop| async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stopping = tokio::select! {
                biased;
                () = stop.asked() => true,
                _ = tick.tick() => false,
            };
            auth.flush_refusals().await;
            if stopping {
                return;
            }
        }
    });
}

/// Samples what is a level rather than an event, for the metrics: the
/// database pool every 5 s (connections in use and idle, and how long a
/// probe waits for one: the wait a request meets), and the live sessions
/// every 30 s (one COUNT over the whole table, never per request).
pub fn spawn_metrics_sampler(
    jobs: &mut Jobs,
    pool: sqlx::AnyPool,
    store: SqlStore,
    clock: Arc<dyn Clock>,
    session_idle: Duration,
) {
    let session_idle_ms = millis(session_idle);
    jobs.spawn("metrics sampler", |mut stop| async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for n in 0u64.. {
            tokio::select! {
                biased;
                () = stop.asked() => return,
                _ = tick.tick() => {}
            }
            let max = pool.options().get_max_connections();
            app::metrics::db_pool(pool.size(), pool.num_idle(), max);
            let started = std::time::Instant::now();
            // Given back at once; a pool that can't give one in time shows
            // as a long wait (the probe gives up with the pool's timeout).
            if pool.acquire().await.is_ok() {
                app::metrics::db_acquire(started.elapsed());
            }
            if n % 6 == 0 {
                match store.live_sessions(clock.now_ms(), session_idle_ms).await {
                    Ok(live) => app::metrics::sessions_live(live),
                    Err(e) => tracing::debug!(error = %e, "could not count live sessions for the metrics"),
                }
            }
        }
    });
}
