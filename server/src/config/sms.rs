//! How text messages leave: `PASSCODE_SMS_*` and `PASSCODE_TWILIO_*`.

use std::time::Duration;

use app::delivery::TwilioSender;

use super::helpers::{UrlRule, config_url, ranged};
use super::mode::{Mode, Rules};
use super::secret::Secret;
use super::{ConfigError, Source, err};

#[derive(Debug, Clone)]
pub struct SmsSettings {
    pub provider: SmsProvider,
    /// Per request to the provider.
    pub timeout: Duration,
    pub max_in_flight: usize,
}

/// How text messages leave (`PASSCODE_SMS_PROVIDER`).
#[derive(Debug, Clone)]
pub enum SmsProvider {
    /// Not at all: phone numbers are turned away with a message saying so.
    Off,
    /// Into the dev outbox, with the email.
    Outbox,
    Twilio {
        base_url: String,
        account_sid: String,
        auth_token: Secret,
        sender: TwilioSender,
    },
    Webhook {
        url: String,
        token: Secret,
    },
}

/// Provider credentials travel with every request: https only, except to
/// this machine.
const PROVIDER_URL: UrlRule = UrlRule {
    example: "https://api.example.com",
    schemes: &["https", "http"],
    plain_only_here: Some("http"),
    server_only: false,
    no_credentials: false,
};

impl SmsSettings {
    pub(super) fn read(src: &dyn Source, rules: &Rules) -> Result<Self, ConfigError> {
        Ok(Self {
            provider: provider(src, rules)?,
            timeout: Duration::from_millis(ranged(
                src,
                "PASSCODE_SMS_TIMEOUT_MS",
                10_000u64,
                "milliseconds",
                100,
                120_000,
            )?),
            max_in_flight: ranged(src, "PASSCODE_SMS_MAX_IN_FLIGHT", 32usize, "a number", 1, 10_000)?,
        })
    }
}

fn provider(src: &dyn Source, rules: &Rules) -> Result<SmsProvider, ConfigError> {
    let required =
        |var: &'static str| src.get(var).ok_or_else(|| err(var, "is required for this PASSCODE_SMS_PROVIDER"));
    let provider_url = |var: &'static str, raw: String| {
        config_url(var, &raw, &PROVIDER_URL)?;
        Ok::<_, ConfigError>(raw.trim().to_owned())
    };
    let sms_provider = src.get("PASSCODE_SMS_PROVIDER").map(|v| v.trim().to_ascii_lowercase());
    Ok(match sms_provider.as_deref() {
        // Development shows texts in the outbox; production sends none
        // until a provider is configured.
        None if rules.mode == Mode::Production => SmsProvider::Off,
        None | Some("outbox") => {
            rules.check_outbox("PASSCODE_SMS_PROVIDER", "outbox in production")?;
            SmsProvider::Outbox
        }
        Some("off") => SmsProvider::Off,
        Some("twilio") => {
            let sender = match (src.get("PASSCODE_TWILIO_FROM"), src.get("PASSCODE_TWILIO_MESSAGING_SERVICE_SID")) {
                (Some(from), None) => TwilioSender::From(from),
                (None, Some(sid)) => TwilioSender::MessagingService(sid),
                _ => {
                    return Err(err(
                        "PASSCODE_TWILIO_FROM",
                        "set exactly one of PASSCODE_TWILIO_FROM and PASSCODE_TWILIO_MESSAGING_SERVICE_SID",
                    ));
                }
            };
            SmsProvider::Twilio {
                base_url: provider_url(
                    "PASSCODE_SMS_BASE_URL",
                    src.get("PASSCODE_SMS_BASE_URL").unwrap_or_else(|| "https://api.twilio.com".into()),
                )?,
                account_sid: required("PASSCODE_TWILIO_ACCOUNT_SID")?,
                auth_token: Secret(required("PASSCODE_TWILIO_AUTH_TOKEN")?.into_bytes()),
                sender,
            }
        }
        Some("webhook") => SmsProvider::Webhook {
            url: provider_url("PASSCODE_SMS_WEBHOOK_URL", required("PASSCODE_SMS_WEBHOOK_URL")?)?,
            token: Secret(required("PASSCODE_SMS_WEBHOOK_TOKEN")?.into_bytes()),
        },
        Some(other) => {
            return Err(err(
                "PASSCODE_SMS_PROVIDER",
                format!("expected twilio, webhook, off or outbox, got {other:?}"),
            ));
        }
    })
}

/// Country calling codes texts may go to (`AuthSettings::sms_countries`;
/// `None`: all).
/// `PASSCODE_SMS_COUNTRIES`; unset, the country of `PASSCODE_DEFAULT_REGION`
/// when one is set (a service for one country should not pay for texts to
/// every other), else every country (start-up then warns).
pub(super) fn countries(src: &dyn Source, default_region: Option<&str>) -> Result<Option<Vec<u16>>, ConfigError> {
    let Some(list) = src.get("PASSCODE_SMS_COUNTRIES") else {
        return Ok(match default_region {
            Some(region) => Some(vec![app::domain::PhoneNumber::calling_code_of(region).ok_or_else(|| {
                err("PASSCODE_DEFAULT_REGION", format!("{region:?} is not a region phone numbers are known for"))
            })?]),
            None => None,
        });
    };
    list.split(',')
        .map(|c| c.trim().trim_start_matches('+'))
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<u16>()
                .map_err(|_| err("PASSCODE_SMS_COUNTRIES", format!("expected calling codes like 44,1,49, got {c:?}")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::super::helpers::source as src;

    #[test]
    fn texts_go_to_the_default_regions_country_unless_told_otherwise() {
        let c = Config::from_source(&src(&[("PASSCODE_DEFAULT_REGION", "gb")])).unwrap();
        assert_eq!(c.auth.sms_countries, Some(vec![44]));
        let c = Config::from_source(&src(&[("PASSCODE_DEFAULT_REGION", "US"), ("PASSCODE_SMS_COUNTRIES", "1,52")]))
            .unwrap();
        assert_eq!(c.auth.sms_countries, Some(vec![1, 52]));
        assert_eq!(Config::from_source(&src(&[])).unwrap().auth.sms_countries, None);
        let e = Config::from_source(&src(&[("PASSCODE_DEFAULT_REGION", "XQ")])).unwrap_err();
        assert_eq!(e.var, "PASSCODE_DEFAULT_REGION");
    }

    #[test]
    fn sms_provider_urls_must_be_https_except_to_localhost() {
        let twilio = |base: &str| {
            Config::from_source(&src(&[
                ("PASSCODE_ENV", "development"),
                ("PASSCODE_SMS_PROVIDER", "twilio"),
                ("PASSCODE_SMS_BASE_URL", base),
                ("PASSCODE_TWILIO_ACCOUNT_SID", "AC1"),
                ("PASSCODE_TWILIO_AUTH_TOKEN", "t"),
                ("PASSCODE_TWILIO_FROM", "+15005550006"),
            ]))
        };
        assert!(twilio("https://api.example.com").is_ok());
        assert!(twilio("http://127.0.0.1:9000").is_ok());
        assert_eq!(twilio("http://api.example.com").unwrap_err().var, "PASSCODE_SMS_BASE_URL");
        // Hosts are compared as hosts, not as string prefixes.
        for bad in
            ["http://localhost.attacker.example", "http://127.0.0.1.attacker.example", "http://localhost@evil.example"]
        {
            assert_eq!(twilio(bad).unwrap_err().var, "PASSCODE_SMS_BASE_URL", "{bad}");
        }
        assert!(twilio("http://localhost:9000").is_ok());
        assert!(twilio("http://[::1]:9000").is_ok());
        let hook = Config::from_source(&src(&[
            ("PASSCODE_ENV", "development"),
            ("PASSCODE_SMS_PROVIDER", "webhook"),
            ("PASSCODE_SMS_WEBHOOK_URL", "http://gateway.example.com/send"),
            ("PASSCODE_SMS_WEBHOOK_TOKEN", "t"),
        ]));
        assert_eq!(hook.unwrap_err().var, "PASSCODE_SMS_WEBHOOK_URL");
    }
}
