//! Stopping: `PASSCODE_SHUTDOWN_GRACE_SECS` (how long a stop may take, all
//! told) and `PASSCODE_SHUTDOWN_UNREADY_SECS` (how much of it, after a
//! SIGTERM, `/readyz` answers 503 while requests are still served, so that
//! a proxy's health check takes the instance out before it stops accepting).

use std::time::Duration;

use super::helpers::ranged;
use super::{ConfigError, Source, err};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownSettings {
    /// From the signal to the process ending: unready time, then requests
    /// in flight finishing, then background jobs and the database pool.
    /// Whatever is still running at the end of it is cut off.
    pub grace: Duration,
    /// After SIGTERM only (what service managers and orchestrators send): a
    /// Ctrl-C at a terminal skips it.
    pub unready: Duration,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        Self { grace: Duration::from_secs(30), unready: Duration::from_secs(5) }
    }
}

impl ShutdownSettings {
    pub(super) fn read(src: &dyn Source) -> Result<Self, ConfigError> {
        let d = Self::default();
        let grace = ranged(src, "PASSCODE_SHUTDOWN_GRACE_SECS", d.grace.as_secs(), "seconds", 1, 3600)?;
        let unready =
            ranged(src, "PASSCODE_SHUTDOWN_UNREADY_SECS", d.unready.as_secs().min(grace - 1), "seconds", 0, 3600)?;
        // Unready for the whole grace would leave nothing to finish the
        // requests in flight.
        if unready >= grace {
            return Err(err(
                "PASSCODE_SHUTDOWN_UNREADY_SECS",
                format!(
                    "must be less than PASSCODE_SHUTDOWN_GRACE_SECS ({grace}), got {unready}: requests in flight \
                     need part of the grace to finish"
                ),
            ));
        }
        Ok(Self { grace: Duration::from_secs(grace), unready: Duration::from_secs(unready) })
    }
}

#[cfg(test)]
mod tests {
    use super::super::helpers::source as src;
    use super::*;

    #[test]
    fn thirty_seconds_of_which_five_unready_by_default() {
        assert_eq!(ShutdownSettings::read(&src(&[])).unwrap(), ShutdownSettings::default());
        // A short grace keeps the unready default inside it.
        let short = ShutdownSettings::read(&src(&[("PASSCODE_SHUTDOWN_GRACE_SECS", "3")])).unwrap();
        assert_eq!((short.grace.as_secs(), short.unready.as_secs()), (3, 2));
        let one = ShutdownSettings::read(&src(&[("PASSCODE_SHUTDOWN_GRACE_SECS", "1")])).unwrap();
        assert_eq!(one.unready, Duration::ZERO);
        let e = ShutdownSettings::read(&src(&[
            ("PASSCODE_SHUTDOWN_GRACE_SECS", "10"),
            ("PASSCODE_SHUTDOWN_UNREADY_SECS", "10"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "PASSCODE_SHUTDOWN_UNREADY_SECS");
        assert!(e.message.contains("less than PASSCODE_SHUTDOWN_GRACE_SECS"), "{e}");
        for bad in [("PASSCODE_SHUTDOWN_GRACE_SECS", "0"), ("PASSCODE_SHUTDOWN_GRACE_SECS", "soon")] {
            let e = ShutdownSettings::read(&src(&[bad])).unwrap_err();
            assert_eq!(e.var, bad.0);
        }
    }
}
