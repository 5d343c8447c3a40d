//! The two configuration files of retention actions, read from TOML:
//!
//! - the playbook (decisions, [`churn_core::playbook::Playbook`]), owned by the growth
//!   team and versioned by its `revision`;
//! - the connections (where actions go: base URLs, field mappings, and where the
//!   tokens are, never the tokens themselves), owned by whoever runs the platform.
//!
//! [`Connections::connect`] resolves the secrets and builds one adapter per configured
//! provider, each with its own rate limit.

use std::time::Duration;

use churn_core::playbook::Playbook;
use serde::Deserialize;

use crate::IoError;
use crate::crm::Crm;
use crate::crm::hubspot::{HubSpot, HubSpotConfig};
use crate::crm::oauth::{Provider, TokenSource};
use crate::crm::salesforce::{Salesforce, SalesforceConfig};
use crate::crm::zoho::{Zoho, ZohoConfig};
use crate::http::{HttpClient, RateLimit, RetryPolicy, pool};
use crate::messaging::ses::{Ses, SesConfig};
use crate::messaging::twilio::{Twilio, TwilioConfig};
use crate::messaging::webhook::{Webhook, WebhookConfig};
use crate::secrets::{SecretRef, Secrets};

/// Reads and validates a playbook; `source` names it in errors.
pub fn parse_playbook(text: &str, source: &str) -> Result<Playbook, IoError> {
    let playbook: Playbook = toml::from_str(text).map_err(|e| toml_error(text, source, &e))?;
    playbook.validate().map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        IoError::config(
            source,
            format!(
                "{} problem{}:\n{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                lines.join("\n")
            ),
        )
    })?;
    Ok(playbook)
}

/// A TOML error as `line L, column C: message`, without the quoted source line that the
/// parser's own message carries (it could be a token pasted into the wrong place).
fn toml_error(text: &str, source: &str, error: &toml::de::Error) -> IoError {
    // Errors inside a `provider = ...` section carry the whole document as their span:
    // no place is better than a wrong one.
    let place = error.span().filter(|span| span.start > 0).map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("line {line}, column {column}: ")
    });
    IoError::config(
        source,
        format!(
            "{}{}",
            place.unwrap_or_default(),
            error.message().trim_end()
        ),
    )
}

/// `[crm]`: one CRM.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum CrmConfig {
    Hubspot(HubSpotConfig),
    Salesforce(SalesforceConfig),
    Zoho(ZohoConfig),
}

/// `[sms]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum SmsConfig {
    Twilio(TwilioConfig),
}

/// `[email]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum EmailConfig {
    Ses(SesConfig),
}

/// `[retry]`: how hard each request is tried.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    #[serde(default = "attempts")]
    pub attempts: u32,
    /// First backoff, doubled per try, with full jitter.
    #[serde(default = "base_ms")]
    pub base_ms: u64,
    /// A `Retry-After` longer than this gives up (the run is retried later instead).
    #[serde(default = "max_wait_seconds")]
    pub max_wait_seconds: u64,
    #[serde(default = "timeout_seconds")]
    pub timeout_seconds: u64,
}

fn attempts() -> u32 {
    5
}
fn base_ms() -> u64 {
    250
}
fn max_wait_seconds() -> u64 {
    60
}
fn timeout_seconds() -> u64 {
    30
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            attempts: attempts(),
            base_ms: base_ms(),
            max_wait_seconds: max_wait_seconds(),
            timeout_seconds: timeout_seconds(),
        }
    }
}

impl RetryConfig {
    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            attempts: self.attempts.max(1),
            base: Duration::from_millis(self.base_ms),
            max_wait: Duration::from_secs(self.max_wait_seconds),
            timeout: Duration::from_secs(self.timeout_seconds.max(1)),
        }
    }
}

/// The connections file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connections {
    #[serde(default)]
    pub crm: Option<CrmConfig>,
    #[serde(default)]
    pub sms: Option<SmsConfig>,
    #[serde(default)]
    pub email: Option<EmailConfig>,
    /// Push notifications: a webhook to the app's notification service.
    #[serde(default)]
    pub push: Option<WebhookConfig>,
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
    #[serde(default)]
    pub retry: RetryConfig,
}

/// One adapter per configured provider.
#[derive(Debug, Default)]
pub struct Sinks {
    pub crm: Option<Crm>,
    pub sms: Option<Twilio>,
    pub email: Option<Ses>,
    pub push: Option<Webhook>,
    pub webhook: Option<Webhook>,
}

impl Connections {
    /// Reads a connections file; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, IoError> {
        toml::from_str(text).map_err(|e| toml_error(text, source, &e))
    }

    /// Whether connecting needs AWS: SES, or a token in Secrets Manager.
    pub fn needs_aws(&self) -> bool {
        let manager = |r: &SecretRef| matches!(r, SecretRef::Manager { .. });
        let crm = match &self.crm {
            Some(CrmConfig::Hubspot(c)) => manager(&c.token),
            Some(CrmConfig::Salesforce(c)) => c.credentials.secrets().into_iter().any(manager),
            Some(CrmConfig::Zoho(c)) => c.credentials.secrets().into_iter().any(manager),
            None => false,
        };
        let sms = matches!(&self.sms, Some(SmsConfig::Twilio(c)) if manager(&c.auth_token));
        let hooks = [&self.push, &self.webhook]
            .into_iter()
            .flatten()
            .any(|c| manager(&c.secret));
        self.email.is_some() || crm || sms || hooks
    }

    /// Resolves the secrets and builds the adapters. `ses` is the SES client, needed
    /// only when `[email]` is configured.
    pub async fn connect(
        &self,
        secrets: &Secrets,
        ses: Option<aws_sdk_sesv2::Client>,
    ) -> Result<Sinks, IoError> {
        let retry = self.retry.policy();
        let client = pool(retry.timeout)?;
        let http = |provider: &'static str, limit: RateLimit| {
            HttpClient::new(client.clone(), provider, limit, retry.clone())
        };
        let crm = match &self.crm {
            None => None,
            Some(CrmConfig::Hubspot(config)) => {
                let token = secrets.resolve("crm.token", &config.token).await?;
                let per_10s = config.requests_per_10s.max(1);
                let limit = RateLimit::new(per_10s, f64::from(per_10s) / 10.0);
                let http = http("hubspot", limit).redacting(&token);
                Some(Crm::HubSpot(HubSpot::new(http, config, token)))
            }
            Some(CrmConfig::Salesforce(config)) => {
                let rate = config.requests_per_second;
                let limit = RateLimit::new(rate.ceil().max(1.0) as u32, rate);
                let http = http("salesforce", limit);
                let tokens =
                    TokenSource::connect(Provider::Salesforce, &config.credentials, secrets, &http)
                        .await?;
                Some(Crm::Salesforce(Salesforce::new(http, config, tokens)))
            }
            Some(CrmConfig::Zoho(config)) => {
                let per_minute = config.requests_per_minute.max(1);
                let limit = RateLimit::new(per_minute.min(10), f64::from(per_minute) / 60.0);
                let http = http("zoho", limit);
                let tokens =
                    TokenSource::connect(Provider::Zoho, &config.credentials, secrets, &http)
                        .await?;
                Some(Crm::Zoho(Zoho::new(http, config, tokens)))
            }
        };
        let sms = match &self.sms {
            None => None,
            Some(SmsConfig::Twilio(config)) => {
                let token = secrets
                    .resolve("sms.auth_token", &config.auth_token)
                    .await?;
                let rate = config.messages_per_second;
                let limit = RateLimit::new(1, rate);
                let http = http("twilio", limit).redacting(&token);
                Some(Twilio::new(http, config, token)?)
            }
        };
        let email = match (&self.email, ses) {
            (None, _) => None,
            (Some(EmailConfig::Ses(config)), Some(client)) => Some(Ses::new(client, config)),
            (Some(EmailConfig::Ses(_)), None) => {
                return Err(IoError::config(
                    "[email]",
                    "SES needs AWS credentials and a region from the environment",
                ));
            }
        };
        let mut webhooks = Vec::new();
        for (name, provider, config) in [
            ("push", "push", &self.push),
            ("webhook", "webhook", &self.webhook),
        ] {
            webhooks.push(match config {
                None => None,
                Some(config) => {
                    let secret = secrets
                        .resolve(&format!("{name}.secret"), &config.secret)
                        .await?;
                    let rate = config.requests_per_second;
                    let limit = RateLimit::new(rate.ceil().max(1.0) as u32, rate);
                    let http = http(provider, limit).redacting(&secret);
                    Some(Webhook::new(http, config, secret))
                }
            });
        }
        let webhook = webhooks.pop().flatten();
        let push = webhooks.pop().flatten();
        Ok(Sinks {
            crm,
            sms,
            email,
            push,
            webhook,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ```toml blocks of a Markdown text.
    fn toml_blocks(markdown: &str) -> Vec<String> {
        markdown
            .split("```toml\n")
            .skip(1)
            .filter_map(|rest| rest.split("```").next().map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_examples_and_the_readme_snippets_are_valid() {
        let playbook = parse_playbook(
            include_str!("../../../examples/playbook.toml"),
            "examples/playbook.toml",
        )
        .expect("examples/playbook.toml");
        assert!(playbook.actions.len() >= 4);
        let connections = Connections::parse(
            include_str!("../../../examples/connections.toml"),
            "examples/connections.toml",
        )
        .expect("examples/connections.toml");
        assert!(
            connections.crm.is_some() && connections.sms.is_some() && connections.email.is_some()
        );
        assert!(connections.push.is_some() && connections.webhook.is_some());
        // The commented-out CRMs are valid once uncommented.
        let example = include_str!("../../../examples/connections.toml");
        let commented: Vec<String> = example
            .split("\n# [crm]\n")
            .skip(1)
            .map(|block| {
                let lines = block.lines().map_while(|line| line.strip_prefix("# "));
                format!("[crm]\n{}\n", lines.collect::<Vec<_>>().join("\n"))
            })
            .collect();
        assert_eq!(commented.len(), 2, "Salesforce and Zoho");
        for text in &commented {
            let parsed = Connections::parse(text, "a commented [crm] of the example");
            assert!(
                matches!(parsed, Ok(Connections { crm: Some(_), .. })),
                "{text}: {parsed:?}"
            );
        }
        let readme = include_str!("../../../README.md");
        let section = readme
            .split("## Retention actions")
            .nth(1)
            .expect("the README section");
        let blocks = toml_blocks(section);
        parse_playbook(&blocks[0], "the README's playbook").expect("the README's playbook");
        Connections::parse(&blocks[1], "the README's connections")
            .expect("the README's connections");
    }

    #[test]
    fn reads_every_provider_and_refuses_tokens_in_the_file() {
        let text = r#"
            [crm]
            provider = "salesforce"
            instance_url = "https://example.my.salesforce.com"
            token = { secret = "churn/salesforce", key = "access_token" }
            task_external_id = "Churn_Action_Key__c"
            fields = { churn_risk = "Risk__c" }

            [sms]
            provider = "twilio"
            account_sid = "AC123"
            auth_token = { env = "TWILIO_AUTH_TOKEN" }
            from = "+15005550006"

            [email]
            provider = "ses"
            from = "retention@example.com"

            [push]
            url = "https://push.example.com/notify"
            secret = { env = "PUSH_SECRET" }

            [retry]
            attempts = 3
        "#;
        let connections = Connections::parse(text, "connections.toml").expect("parses");
        let Some(CrmConfig::Salesforce(crm)) = &connections.crm else {
            panic!("salesforce expected");
        };
        assert_eq!(crm.fields.churn_risk.as_deref(), Some("Risk__c"));
        assert_eq!(connections.retry.attempts, 3);
        assert!(connections.webhook.is_none());

        let literal = "[crm]\nprovider = \"hubspot\"\ntoken = \"pat-na1-123\"\n";
        let error = Connections::parse(literal, "connections.toml").expect_err("literal token");
        let message = error.to_string();
        assert!(
            message.contains("secrets do not go in configuration files"),
            "{message}"
        );
        assert!(
            !message.contains("pat-na1-123"),
            "the token is echoed: {message}"
        );

        let typo =
            "[crm]\nprovider = \"hubspot\"\ntoken = { env = \"T\" }\nid_propery = \"email\"\n";
        let message = Connections::parse(typo, "connections.toml")
            .expect_err("typo")
            .to_string();
        assert!(message.contains("unknown field `id_propery`"), "{message}");
        let typo = "[retry]\nattempts = 3\nbase = 10\n";
        let message = Connections::parse(typo, "c.toml")
            .expect_err("typo")
            .to_string();
        assert!(
            message.contains("line 3") && message.contains("`base`"),
            "{message}"
        );

        let unknown = "[crm]\nprovider = \"pipedrive\"\ntoken = { env = \"T\" }\n";
        let message = Connections::parse(unknown, "c.toml")
            .expect_err("unknown")
            .to_string();
        assert!(message.contains("pipedrive"), "{message}");
    }

    #[test]
    fn reads_the_oauth_flows_and_refuses_mixed_or_partial_credentials() {
        use crate::crm::oauth::{Credentials, JwtBearerGrant, RefreshTokenGrant};

        let crm = |text: &str| Connections::parse(text, "c.toml").map(|c| c.crm);
        let env = |name: &str| SecretRef::Env(name.into());
        let salesforce =
            "[crm]\nprovider = \"salesforce\"\ninstance_url = \"https://acme.my.salesforce.com\"\n";
        let refresh = "client_id = { env = \"SF_ID\" }\nclient_secret = { secret = \"churn/salesforce\", key = \"client_secret\" }\nrefresh_token = { secret = \"churn/salesforce\", key = \"refresh_token\" }\n";

        let Ok(Some(CrmConfig::Salesforce(config))) = crm(&format!("{salesforce}{refresh}")) else {
            panic!("the refresh-token flow");
        };
        assert_eq!(
            config.credentials,
            Credentials::RefreshToken(RefreshTokenGrant {
                client_id: env("SF_ID"),
                client_secret: SecretRef::Manager {
                    secret: "churn/salesforce".into(),
                    key: Some("client_secret".into()),
                },
                refresh_token: SecretRef::Manager {
                    secret: "churn/salesforce".into(),
                    key: Some("refresh_token".into()),
                },
                token_url: "https://login.salesforce.com/services/oauth2/token".into(),
            })
        );
        let connections =
            Connections::parse(&format!("{salesforce}{refresh}"), "c.toml").expect("parses");
        assert!(connections.needs_aws(), "secrets in Secrets Manager");
        let sandbox =
            format!("{salesforce}{refresh}login_url = \"https://test.salesforce.com/\"\n");
        let Ok(Some(CrmConfig::Salesforce(config))) = crm(&sandbox) else {
            panic!("a sandbox");
        };
        assert!(matches!(
            &config.credentials,
            Credentials::RefreshToken(grant)
                if grant.token_url == "https://test.salesforce.com/services/oauth2/token"
        ));

        let jwt = "client_id = { env = \"SF_ID\" }\nusername = \"integration@acme.com\"\nprivate_key = { env = \"SF_KEY\" }\n";
        for (extra, audience) in [
            ("", "https://login.salesforce.com"),
            (
                "login_url = \"https://test.salesforce.com\"\n",
                "https://test.salesforce.com",
            ),
            (
                "login_url = \"https://acme.my.salesforce.com\"\naudience = \"https://test.salesforce.com\"\n",
                "https://test.salesforce.com",
            ),
        ] {
            let Ok(Some(CrmConfig::Salesforce(config))) = crm(&format!("{salesforce}{jwt}{extra}"))
            else {
                panic!("the JWT bearer flow with {extra:?}");
            };
            let Credentials::JwtBearer(JwtBearerGrant {
                username,
                audience: got,
                private_key,
                ..
            }) = &config.credentials
            else {
                panic!("{:?}", config.credentials);
            };
            assert_eq!(
                (username.as_str(), got.as_str(), private_key),
                ("integration@acme.com", audience, &env("SF_KEY"))
            );
        }

        let zoho = "[crm]\nprovider = \"zoho\"\nclient_id = { env = \"Z_ID\" }\nclient_secret = { env = \"Z_SECRET\" }\nrefresh_token = { env = \"Z_REFRESH\" }\n";
        for (extra, token_url) in [
            ("", "https://accounts.zoho.com/oauth/v2/token"),
            (
                "accounts_url = \"https://accounts.zoho.eu\"\n",
                "https://accounts.zoho.eu/oauth/v2/token",
            ),
        ] {
            let Ok(Some(CrmConfig::Zoho(config))) = crm(&format!("{zoho}{extra}")) else {
                panic!("zoho with {extra:?}");
            };
            assert!(
                matches!(&config.credentials, Credentials::RefreshToken(grant) if grant.token_url == token_url),
                "{:?}",
                config.credentials
            );
        }
        let fixed = "[crm]\nprovider = \"zoho\"\ntoken = { env = \"T\" }\n";
        let Ok(Some(CrmConfig::Zoho(config))) = crm(fixed) else {
            panic!("a fixed token");
        };
        assert_eq!(config.credentials, Credentials::AccessToken(env("T")));

        for (text, expected) in [
            (
                format!("{salesforce}token = {{ env = \"T\" }}\n{refresh}"),
                "has both a fixed `token` and `client_id`, `client_secret`, `refresh_token`,",
            ),
            (
                format!(
                    "{salesforce}client_id = {{ env = \"I\" }}\nrefresh_token = {{ env = \"R\" }}\n"
                ),
                "the refresh-token flow needs `client_secret`",
            ),
            (
                format!(
                    "{salesforce}client_id = {{ env = \"I\" }}\nprivate_key = {{ env = \"K\" }}\n"
                ),
                "the JWT bearer flow needs `username`",
            ),
            (
                format!("{salesforce}{jwt}client_secret = {{ env = \"S\" }}\n"),
                "mixes the JWT bearer flow",
            ),
            (
                format!(
                    "{salesforce}token = {{ env = \"T\" }}\nlogin_url = \"https://test.salesforce.com\"\n"
                ),
                "`login_url` is for issuing access tokens",
            ),
            (
                format!("{salesforce}{refresh}audience = \"https://test.salesforce.com\"\n"),
                "`audience` belongs to the JWT bearer flow",
            ),
            (salesforce.to_owned(), "[crm] needs credentials"),
            (
                format!("{fixed}accounts_url = \"https://accounts.zoho.eu\"\n"),
                "`accounts_url` is for issuing access tokens",
            ),
            (
                format!("{zoho}username = \"u@example.com\"\n"),
                "unknown field `username`",
            ),
            (
                format!("{salesforce}{refresh}refresh_tokn = {{ env = \"R\" }}\n"),
                "unknown field `refresh_tokn`",
            ),
        ] {
            let message = crm(&text).expect_err(expected).to_string();
            assert!(message.contains(expected), "{expected}: {message}");
        }
        let literal = format!(
            "{salesforce}client_id = {{ env = \"I\" }}\nclient_secret = \"sf-5ecret\"\nrefresh_token = {{ env = \"R\" }}\n"
        );
        let message = crm(&literal).expect_err("a literal secret").to_string();
        assert!(
            message.contains("secrets do not go in configuration files")
                && !message.contains("sf-5ecret"),
            "{message}"
        );
    }
}
