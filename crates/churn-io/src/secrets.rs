//! Secrets (API tokens, signing keys) named in configuration, resolved from the
//! environment or AWS Secrets Manager. A [`Secret`] never prints its value: `Debug` and
//! error messages show only where it came from.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer};
use tokio::sync::Mutex;

use crate::IoError;

/// A secret value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, to put in a request header and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a secret is: `{ env = "HUBSPOT_TOKEN" }` or
/// `{ secret = "churn/hubspot", key = "token" }` (a Secrets Manager secret, and the
/// field of its JSON value; without `key` the whole value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    Manager { secret: String, key: Option<String> },
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "environment variable {name}"),
            SecretRef::Manager { secret, key: None } => write!(f, "secret '{secret}'"),
            SecretRef::Manager {
                secret,
                key: Some(key),
            } => write!(f, "field '{key}' of secret '{secret}'"),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            env: Option<String>,
            secret: Option<String>,
            key: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            // A token pasted in: refused, and never echoed.
            Text(#[allow(dead_code)] String),
            Table(Table),
        }
        let how = "write { env = \"NAME\" } or { secret = \"name\", key = \"field\" }";
        match Raw::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom(format!("a secret: {how}")))?
        {
            Raw::Text(_) => Err(serde::de::Error::custom(format!(
                "secrets do not go in configuration files: {how}"
            ))),
            Raw::Table(Table {
                env: Some(env),
                secret: None,
                key: None,
            }) if !env.is_empty() => Ok(SecretRef::Env(env)),
            Raw::Table(Table {
                env: None,
                secret: Some(secret),
                key,
            }) if !secret.is_empty() => Ok(SecretRef::Manager { secret, key }),
            Raw::Table(_) => Err(serde::de::Error::custom(format!(
                "a secret is either in the environment or in Secrets Manager: {how}"
            ))),
        }
    }
}

/// An environment lookup.
type Env = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Resolves secrets, each Secrets Manager secret fetched once.
pub struct Secrets {
    env: Env,
    manager: Option<aws_sdk_secretsmanager::Client>,
    cache: Mutex<HashMap<String, String>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("manager", &self.manager.is_some())
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// The process environment, and Secrets Manager when a client is given.
    pub fn new(manager: Option<aws_sdk_secretsmanager::Client>) -> Self {
        Self::with_env(|name| std::env::var(name).ok(), manager)
    }

    /// Any environment (a map in tests).
    pub fn with_env(
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
        manager: Option<aws_sdk_secretsmanager::Client>,
    ) -> Self {
        Self {
            env: Box::new(env),
            manager,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The value of `reference`, for `what` (`crm.token`), or an error saying where it
    /// was looked for.
    pub async fn resolve(&self, what: &str, reference: &SecretRef) -> Result<Secret, IoError> {
        let missing = |message: String| IoError::config(format!("{what} ({reference})"), message);
        match reference {
            SecretRef::Env(name) => (self.env)(name)
                .filter(|v| !v.is_empty())
                .map(Secret)
                .ok_or_else(|| missing("is not set".into())),
            SecretRef::Manager { secret, key } => {
                let Some(client) = &self.manager else {
                    return Err(missing("Secrets Manager is not available here".into()));
                };
                let value = {
                    let mut cache = self.cache.lock().await;
                    match cache.get(secret) {
                        Some(value) => value.clone(),
                        None => {
                            let output = client
                                .get_secret_value()
                                .secret_id(secret)
                                .send()
                                .await
                                .map_err(|e| {
                                IoError::sdk("GetSecretValue", format!("secret '{secret}'"), e)
                            })?;
                            let value =
                                output.secret_string().map(str::to_owned).ok_or_else(|| {
                                    missing("has no text value (SecretString)".into())
                                })?;
                            cache.insert(secret.clone(), value.clone());
                            value
                        }
                    }
                };
                match key {
                    None => Ok(Secret(value)),
                    Some(key) => {
                        let object: serde_json::Map<String, serde_json::Value> =
                            serde_json::from_str(&value).map_err(|_| {
                                missing("is not a JSON object, so it has no fields".into())
                            })?;
                        match object.get(key) {
                            Some(serde_json::Value::String(text)) if !text.is_empty() => {
                                Ok(Secret(text.clone()))
                            }
                            Some(_) => Err(missing("is not a non-empty string".into())),
                            None => Err(missing("is not in the secret".into())),
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_from_the_environment_and_never_prints_the_value() {
        let secrets = Secrets::with_env(
            |name| (name == "TOKEN").then(|| "pat-na1-secret".to_owned()),
            None,
        );
        let value = secrets
            .resolve("crm.token", &SecretRef::Env("TOKEN".into()))
            .await
            .expect("resolved");
        assert_eq!(value.expose(), "pat-na1-secret");
        assert_eq!(format!("{value:?}"), "Secret(***)");
        let error = secrets
            .resolve("crm.token", &SecretRef::Env("OTHER".into()))
            .await
            .expect_err("missing");
        assert_eq!(
            error.to_string(),
            "crm.token (environment variable OTHER): is not set"
        );
        let error = secrets
            .resolve(
                "sms.auth_token",
                &SecretRef::Manager {
                    secret: "churn/twilio".into(),
                    key: Some("token".into()),
                },
            )
            .await
            .expect_err("no manager");
        assert!(
            error
                .to_string()
                .contains("field 'token' of secret 'churn/twilio'")
        );
    }
}
