//! Stopping without dropping anyone. On SIGTERM (what systemd, Docker and
//! Kubernetes send) `/readyz` answers 503 at once while requests are still
//! served for `PASSCODE_SHUTDOWN_UNREADY_SECS`, so that a proxy's health
//! check takes this instance out of rotation before it stops accepting;
//! then no new connection is accepted, idle keep-alive connections close,
//! and the requests in flight (a code being delivered among them: sending
//! happens inside the request that asked for it) finish. Everything is
//! bounded by `PASSCODE_SHUTDOWN_GRACE_SECS`: requests still running then
//! are counted in the log and end with the process, which then gives its
//! background jobs what is left of the grace (one second at least, to write
//! what they hold) and exits. A Ctrl-C skips the unready time (a person at
//! a terminal, no proxy to tell), and a second signal at any point exits at
//! once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

use crate::config::ShutdownSettings;

/// Whether this instance is going away, and how many requests it is
/// answering: shared by the readiness probe, the counting layer and the
/// shutdown sequence.
#[derive(Debug, Default)]
pub struct Drain {
    draining: AtomicBool,
    in_flight: AtomicUsize,
}

impl Drain {
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    fn begin(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// Counts a request from the moment it arrives until its response is ready
/// (the outermost layer, so refusals count too).
pub async fn count_in_flight(
    axum::extract::State(drain): axum::extract::State<Arc<Drain>>,
    req: Request,
    next: Next,
) -> Response {
    struct Counted(Arc<Drain>);
    impl Drop for Counted {
        // On drop, so that a request whose client went away is uncounted too.
        fn drop(&mut self) {
            self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
    drain.in_flight.fetch_add(1, Ordering::Relaxed);
    let _counted = Counted(drain);
    next.run(req).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: a service manager or an orchestrator.
    Terminate,
    /// SIGINT: Ctrl-C at a terminal.
    Interrupt,
}

/// The stop signals, as they come.
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Listens from now on (before serving, so that a signal that comes
    /// during start-up is not the default "die at once").
    pub fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    pub async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => Signal::Terminate,
                _ = self.int.recv() => Signal::Interrupt,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Interrupt
        }
    }
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every request in flight finished.
    Finished,
    /// Some were still running when the grace ran out: they end with the
    /// process.
    GraceOver,
    /// A second signal: stop now, waiting for nothing more.
    Hurried,
}

/// Where a shutdown stands once nothing more will be answered.
pub struct Stopping {
    pub drained: Drained,
    /// The end of the grace.
    pub deadline: Instant,
    /// Still listening: a further signal ends the rest of the shutdown.
    pub signals: Signals,
}

/// Serves `router` on `listener` until a stop signal, then drains as the
/// module comment says. Returns once nothing more will be answered.
pub async fn serve_until_stopped(
    listener: tokio::net::TcpListener,
    router: Router,
    drain: Arc<Drain>,
    settings: ShutdownSettings,
    mut signals: Signals,
) -> std::io::Result<Stopping> {
    let (stop_accepting, accepting_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut serving = tokio::spawn(crate::serve(listener, router, async move {
        let _ = accepting_stopped.await;
    }));
    let signal = tokio::select! {
        signal = signals.next() => signal,
        // Serving ended by itself: the listener failed.
        result = &mut serving => {
            result.map_err(std::io::Error::other)??;
            return Err(std::io::Error::other("the listener stopped by itself"));
        }
    };
    let started = Instant::now();
    let deadline = started + settings.grace;
    drain.begin();
    let unready = if signal == Signal::Terminate { settings.unready } else { Duration::ZERO };
    tracing::info!(
        signal = ?signal,
        unready_secs = unready.as_secs(),
        grace_secs = settings.grace.as_secs(),
        in_flight = drain.in_flight(),
        "shutting down: /readyz answers 503 from now; still serving for the unready time, then finishing \
         requests in flight"
    );
    let mut hurried = false;
    if !unready.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(unready) => {}
            _ = signals.next() => hurried = true,
        }
    }
    let _ = stop_accepting.send(());
    if !hurried {
        tracing::info!(in_flight = drain.in_flight(), "no longer accepting connections: finishing requests in flight");
    }
    let drained = if hurried {
        Drained::Hurried
    } else {
        tokio::select! {
            result = &mut serving => {
                result.map_err(std::io::Error::other)??;
                Drained::Finished
            }
            () = tokio::time::sleep_until(deadline) => Drained::GraceOver,
            _ = signals.next() => Drained::Hurried,
        }
    };
    match drained {
        Drained::Finished => tracing::info!(
            secs = format_args!("{:.1}", started.elapsed().as_secs_f64()),
            "every request in flight finished"
        ),
        // Each connection runs in a task of its own, which ends with the
        // process moments from now: a person among them sees a connection
        // error (behind a proxy, its "try again") and tries again, on
        // another instance.
        Drained::GraceOver => tracing::warn!(
            in_flight = drain.in_flight(),
            "PASSCODE_SHUTDOWN_GRACE_SECS ran out: stopping with requests still in flight"
        ),
        Drained::Hurried => tracing::warn!(
            in_flight = drain.in_flight(),
            "a second signal: stopping now, with requests still in flight and without waiting for background jobs"
        ),
    }
    serving.abort();
    Ok(Stopping { drained, deadline, signals })
}
