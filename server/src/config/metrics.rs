//! Metrics: `PASSCODE_METRICS_ADDR`, the address of a second listener that
//! serves only `/metrics` (Prometheus text format). Off unless set, and
//! never the public listener: what an operator watches is not for the
//! people signing in, and a scrape must not count against their limits.

use std::net::SocketAddr;

use super::{ConfigError, Source, err};

#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// `None`: no metrics listener, and nothing is recorded.
    pub addr: Option<SocketAddr>,
}

impl MetricsSettings {
    pub(super) fn read(src: &dyn Source, public: SocketAddr) -> Result<Self, ConfigError> {
        const VAR: &str = "PASSCODE_METRICS_ADDR";
        let Some(raw) = src.get(VAR) else { return Ok(Self::default()) };
        let addr: SocketAddr = raw.trim().parse().map_err(|_| {
            err(VAR, format!("expected an address like 127.0.0.1:9464 (a private interface), got {raw:?}"))
        })?;
        // Port 0 is "any free port" for both: never the same one.
        let same_port = addr.port() != 0 && addr.port() == public.port();
        let overlapping = addr.ip() == public.ip() || addr.ip().is_unspecified() || public.ip().is_unspecified();
        if same_port && overlapping {
            return Err(err(
                VAR,
                format!("is the public listener ({public}): metrics get a listener of their own, on another port"),
            ));
        }
        Ok(Self { addr: Some(addr) })
    }
}

#[cfg(test)]
mod tests {
    use super::super::helpers::source as src;
    use super::*;

    #[test]
    fn off_by_default_and_never_the_public_listener() {
        let public: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        assert!(MetricsSettings::read(&src(&[]), public).unwrap().addr.is_none());
        let on = MetricsSettings::read(&src(&[("PASSCODE_METRICS_ADDR", "127.0.0.1:9464")]), public).unwrap();
        assert_eq!(on.addr, Some("127.0.0.1:9464".parse().unwrap()));
        for same in ["127.0.0.1:3000", "0.0.0.0:3000", "[::]:3000"] {
            let e = MetricsSettings::read(&src(&[("PASSCODE_METRICS_ADDR", same)]), public).unwrap_err();
            assert!(e.var == "PASSCODE_METRICS_ADDR" && e.message.contains("public listener"), "{same}: {e}");
        }
        // Another interface on the same port is another listener.
        assert!(MetricsSettings::read(&src(&[("PASSCODE_METRICS_ADDR", "10.0.0.5:3000")]), public).is_ok());
        let e = MetricsSettings::read(&src(&[("PASSCODE_METRICS_ADDR", "9464")]), public).unwrap_err();
        assert!(e.message.contains("127.0.0.1:9464"), "{e}");
    }
}
