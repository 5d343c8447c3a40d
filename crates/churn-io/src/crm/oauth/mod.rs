//! Access tokens for the Salesforce and Zoho adapters: a fixed token from the
//! configuration, or one the provider's token endpoint issues (the refresh-token flow
//! for both, Salesforce's JWT bearer flow as an option). An issued token is fetched on
//! first use, cached, and renewed when the API answers that the session expired; that
//! request is then sent once more, never more.
//!
//! Owns what the credentials mean, never where they are kept: [`crate::secrets`]
//! resolves them. A refusal (a fixed token answered 401, a refresh not granted, a new
//! token refused too) is [`IoError::Unauthorized`] and is remembered, so every later
//! call of the run gets the same error without asking the token endpoint again (Zoho
//! allows ten tokens in ten minutes). One token request at a time: concurrent calls
//! that find the session expired wait for the one renewal and use its token.
//!
//! Secrets, issued tokens and assertions are registered with the [`HttpClient`], so no
//! error carries them; the token request's body is never echoed, and of a refusal only
//! the endpoint's `error` and `error_description` are quoted.

mod credentials;
mod jwt;

use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use reqwest::StatusCode;
use serde::Deserialize;
use tokio::sync::Mutex;

pub(crate) use self::credentials::CredentialFields;
pub use self::credentials::{Credentials, JwtBearerGrant, RefreshTokenGrant};
use self::jwt::{ASSERTION_SECONDS, Claims, jwt_assertion, rsa_key};
use crate::IoError;
use crate::http::{HttpClient, Reply, Verdict, default_verdict};
use crate::secrets::{Secret, SecretRef, Secrets};

/// Whose token endpoint: what its answers carry and what its errors advise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Salesforce,
    Zoho,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Salesforce => "salesforce",
            Provider::Zoho => "zoho",
        }
    }

    /// What the client is called in the provider's console.
    fn app(self) -> &'static str {
        match self {
            Provider::Salesforce => "connected app",
            Provider::Zoho => "Zoho API console client",
        }
    }

    /// How to get a new refresh token.
    fn reauthorise(self) -> &'static str {
        match self {
            Provider::Salesforce => {
                "re-authorise the connected app (the web server flow with the `api` and \
                 `refresh_token` scopes)"
            }
            Provider::Zoho => {
                "generate a new grant code for the client in the Zoho API console (scope \
                 ZohoCRM.modules.ALL, access_type=offline) and exchange it for a refresh token"
            }
        }
    }

    /// The scopes the adapter needs.
    fn scopes(self) -> &'static str {
        match self {
            Provider::Salesforce => "`api` and `refresh_token`",
            Provider::Zoho => "ZohoCRM.modules.ALL",
        }
    }
}

/// The credentials, resolved.
#[derive(Debug)]
enum Grant {
    Fixed {
        token: Secret,
        /// Where it came from, for messages (`crm.token (environment variable T)`).
        source: String,
    },
    Refresh {
        client_id: Secret,
        client_secret: Secret,
        refresh_token: Secret,
        token_url: String,
        client_source: String,
        refresh_source: String,
    },
    Jwt {
        client_id: Secret,
        username: String,
        key: RsaKeyPair,
        audience: String,
        token_url: String,
        key_source: String,
    },
}

/// An access token in use.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub token: Secret,
    /// Where the API is when the token endpoint says (Salesforce's `instance_url`,
    /// Zoho's `api_domain`), without a trailing `/`.
    pub api_domain: Option<String>,
    /// Which token this is: a caller that found it expired renews only if no one else
    /// has since.
    generation: u64,
}

#[derive(Debug, Default)]
struct State {
    session: Option<Session>,
    generation: u64,
    /// The refusal every later call gets.
    refused: Option<String>,
    /// A refresh token the endpoint rotated (Salesforce, when the app rotates them):
    /// the configured one no longer works.
    rotated: Option<Secret>,
}

/// The access tokens of one connection.
#[derive(Debug)]
pub struct TokenSource {
    provider: Provider,
    grant: Grant,
    state: Mutex<State>,
}

/// The token endpoint's answer, success or refusal.
#[derive(Debug, Default, Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    refresh_token: Option<String>,
    instance_url: Option<String>,
    api_domain: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A refusal is read, not retried: it says what to fix. Throttling and server errors
/// are retried as anywhere else.
fn token_verdict(status: StatusCode, body: &[u8]) -> Verdict {
    if status.is_client_error()
        && status != StatusCode::TOO_MANY_REQUESTS
        && status != StatusCode::REQUEST_TIMEOUT
    {
        Verdict::Done
    } else {
        default_verdict(status, body)
    }
}

/// `what (where)`, as messages name a secret.
fn source(what: &str, reference: &SecretRef) -> String {
    format!("{what} ({reference})")
}

impl TokenSource {
    /// Resolves the credentials' secrets (and reads the private key) and registers them
    /// with `http` so no error message carries them. Nothing is sent yet.
    pub async fn connect(
        provider: Provider,
        credentials: &Credentials,
        secrets: &Secrets,
        http: &HttpClient,
    ) -> Result<Self, IoError> {
        let grant = match credentials {
            Credentials::AccessToken(token) => Grant::Fixed {
                token: secrets.resolve("crm.token", token).await?,
                source: source("crm.token", token),
            },
            Credentials::RefreshToken(grant) => Grant::Refresh {
                client_id: secrets.resolve("crm.client_id", &grant.client_id).await?,
                client_secret: secrets
                    .resolve("crm.client_secret", &grant.client_secret)
                    .await?,
                refresh_token: secrets
                    .resolve("crm.refresh_token", &grant.refresh_token)
                    .await?,
                token_url: grant.token_url.clone(),
                client_source: format!(
                    "{} and {}",
                    source("crm.client_id", &grant.client_id),
                    source("crm.client_secret", &grant.client_secret)
                ),
                refresh_source: source("crm.refresh_token", &grant.refresh_token),
            },
            Credentials::JwtBearer(grant) => {
                let key_source = source("crm.private_key", &grant.private_key);
                let pem = secrets
                    .resolve("crm.private_key", &grant.private_key)
                    .await?;
                Grant::Jwt {
                    client_id: secrets.resolve("crm.client_id", &grant.client_id).await?,
                    username: grant.username.clone(),
                    key: rsa_key(&pem, &key_source)?,
                    audience: grant.audience.clone(),
                    token_url: grant.token_url.clone(),
                    key_source,
                }
            }
        };
        match &grant {
            Grant::Fixed { token, .. } => http.redact(token),
            Grant::Refresh {
                client_id,
                client_secret,
                refresh_token,
                ..
            } => {
                for secret in [client_id, client_secret, refresh_token] {
                    http.redact(secret);
                }
            }
            Grant::Jwt { client_id, .. } => http.redact(client_id),
        }
        Ok(Self {
            provider,
            grant,
            state: Mutex::new(State::default()),
        })
    }

    /// Sends the request `build` makes with the current access token, as
    /// [`HttpClient::send`] does. A 401 that `session_expired` recognises renews the
    /// token and sends the request once more; any other 401, or one with no way to
    /// renew, is [`IoError::Unauthorized`].
    pub(crate) async fn send(
        &self,
        http: &HttpClient,
        operation: &'static str,
        build: impl Fn(&reqwest::Client, &Session) -> reqwest::RequestBuilder,
        verdict: impl Fn(StatusCode, &[u8]) -> Verdict,
        session_expired: impl Fn(&[u8]) -> bool,
    ) -> Result<Reply, IoError> {
        // A 401 comes back as a reply, so that its body can say why.
        let verdict = |status: StatusCode, body: &[u8]| {
            if status == StatusCode::UNAUTHORIZED {
                Verdict::Done
            } else {
                verdict(status, body)
            }
        };
        let session = self.session(http).await?;
        let reply = http
            .send(operation, |client| build(client, &session), verdict)
            .await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        let answer = format!("HTTP 401: {}", http.excerpt(&reply));
        let app = self.provider.app();
        if let Grant::Fixed { source, .. } = &self.grant {
            return Err(self
                .refuse(format!(
                    "the access token in {source} was refused ({answer}): it expired or was \
                     revoked. Put a new one there, or configure the refresh-token flow \
                     (client_id, client_secret, refresh_token) so that it is renewed by itself"
                ))
                .await);
        }
        if !session_expired(&reply.body) {
            return Err(self
                .refuse(format!(
                    "the API refused the access token ({answer}): check that the {app} has \
                     the scopes {} and that its user may use the API",
                    self.provider.scopes()
                ))
                .await);
        }
        tracing::info!(
            provider = self.provider.name(),
            operation,
            "the session expired: renewing the access token"
        );
        let renewed = self.renew(http, &session).await?;
        let reply = http
            .send(operation, |client| build(client, &renewed), verdict)
            .await?;
        if reply.status == StatusCode::UNAUTHORIZED {
            let answer = format!("HTTP 401: {}", http.excerpt(&reply));
            return Err(self
                .refuse(format!(
                    "a newly issued access token was refused too ({answer}): check that the \
                     {app} has the scopes {} and that its user may use the API",
                    self.provider.scopes()
                ))
                .await);
        }
        Ok(reply)
    }

    /// The access token to use, issued on first use.
    async fn session(&self, http: &HttpClient) -> Result<Session, IoError> {
        let mut state = self.state.lock().await;
        if let Some(message) = &state.refused {
            return Err(IoError::unauthorized(self.provider.name(), message.clone()));
        }
        if let Some(session) = &state.session {
            return Ok(session.clone());
        }
        self.issue(http, &mut state).await
    }

    /// A token newer than `stale`: the one another caller already got, or a new one.
    async fn renew(&self, http: &HttpClient, stale: &Session) -> Result<Session, IoError> {
        let mut state = self.state.lock().await;
        if let Some(message) = &state.refused {
            return Err(IoError::unauthorized(self.provider.name(), message.clone()));
        }
        if let Some(session) = &state.session
            && session.generation != stale.generation
        {
            return Ok(session.clone());
        }
        self.issue(http, &mut state).await
    }

    /// Remembers a refusal and returns it as the error.
    async fn refuse(&self, message: String) -> IoError {
        self.state.lock().await.refused = Some(message.clone());
        IoError::unauthorized(self.provider.name(), message)
    }

    /// Asks for a token (the caller holds the state's lock, so one request at a time).
    async fn issue(&self, http: &HttpClient, state: &mut State) -> Result<Session, IoError> {
        let (token, api_domain) = match &self.grant {
            Grant::Fixed { token, .. } => (token.clone(), None),
            Grant::Refresh { .. } | Grant::Jwt { .. } => match self.request(http, state).await {
                Ok(issued) => issued,
                Err(error) => {
                    if let IoError::Unauthorized { message, .. } = &error {
                        state.refused = Some(message.clone());
                    }
                    return Err(error);
                }
            },
        };
        state.generation += 1;
        let session = Session {
            token,
            api_domain,
            generation: state.generation,
        };
        state.session = Some(session.clone());
        Ok(session)
    }

    /// One token request: the new access token and the API's domain if given.
    async fn request(
        &self,
        http: &HttpClient,
        state: &mut State,
    ) -> Result<(Secret, Option<String>), IoError> {
        let (operation, url, form): (&'static str, &str, Vec<(&str, String)>) = match &self.grant {
            Grant::Fixed { .. } => {
                return Err(IoError::config(
                    "crm.token",
                    "a fixed access token cannot be renewed",
                ));
            }
            Grant::Refresh {
                client_id,
                client_secret,
                refresh_token,
                token_url,
                ..
            } => {
                let refresh_token = state.rotated.as_ref().unwrap_or(refresh_token);
                (
                    "refresh the access token",
                    token_url,
                    vec![
                        ("grant_type", "refresh_token".into()),
                        ("client_id", client_id.expose().into()),
                        ("client_secret", client_secret.expose().into()),
                        ("refresh_token", refresh_token.expose().into()),
                    ],
                )
            }
            Grant::Jwt {
                client_id,
                username,
                key,
                audience,
                token_url,
                key_source,
            } => {
                let claims = Claims {
                    iss: client_id.expose(),
                    sub: username,
                    aud: audience,
                    exp: crate::now_epoch() + ASSERTION_SECONDS,
                };
                let assertion = Secret::new(
                    jwt_assertion(key, &claims)
                        .map_err(|message| IoError::config(key_source.as_str(), message))?,
                );
                // Whoever holds it gets a token for three minutes.
                http.redact(&assertion);
                (
                    "issue an access token (JWT bearer)",
                    token_url,
                    vec![
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                        ),
                        ("assertion", assertion.expose().into()),
                    ],
                )
            }
        };
        let reply = http
            .send(
                operation,
                |client| {
                    client
                        .post(url)
                        .header("accept", "application/json")
                        .form(&form)
                },
                token_verdict,
            )
            .await?;
        // Zoho answers a refused refresh with 200 and an `error`: the fields decide,
        // not the status.
        let answer: TokenAnswer = serde_json::from_slice(&reply.body).unwrap_or_default();
        let access_token = answer.access_token.as_deref().filter(|t| !t.is_empty());
        let Some(access_token) = access_token.filter(|_| answer.error.is_none()) else {
            return Err(self.refusal(http, operation, &reply, &answer));
        };
        let token = Secret::new(access_token);
        http.redact(&token);
        if let Some(rotated) = answer.refresh_token.as_deref().filter(|t| !t.is_empty())
            && let Grant::Refresh {
                refresh_token,
                refresh_source,
                ..
            } = &self.grant
            && rotated != refresh_token.expose()
        {
            let rotated = Secret::new(rotated);
            http.redact(&rotated);
            state.rotated = Some(rotated);
            tracing::warn!(
                provider = self.provider.name(),
                "the token endpoint rotated the refresh token: this run uses the new one, \
                 but {refresh_source} still holds the old one, which no longer works; turn \
                 refresh token rotation off for the {}",
                self.provider.app()
            );
        }
        let api_domain = match self.provider {
            Provider::Salesforce => answer.instance_url,
            Provider::Zoho => answer.api_domain,
        }
        .map(|domain| domain.trim_end_matches('/').to_owned())
        .filter(|domain| !domain.is_empty());
        tracing::info!(
            provider = self.provider.name(),
            operation,
            "access token issued"
        );
        Ok((token, api_domain))
    }

    /// The error for a token answer without an access token: throttling is retryable,
    /// anything else is a refusal saying what to fix.
    fn refusal(
        &self,
        http: &HttpClient,
        operation: &'static str,
        reply: &Reply,
        answer: &TokenAnswer,
    ) -> IoError {
        let quote = |text: &str| -> String {
            let text = http.scrub(text);
            let mut short: String = text.chars().take(200).collect();
            if text.chars().count() > 200 {
                short.push_str("...");
            }
            short
        };
        let error = answer.error.as_deref().unwrap_or_default();
        let description = answer.error_description.as_deref().unwrap_or_default();
        // Salesforce's and Zoho's words for "too many token requests": a later run can
        // succeed. No status: theirs is a 400, which would read as a bad batch.
        if error == "rate_limit_exceeded" || error == "Access Denied" {
            return IoError::Http {
                provider: self.provider.name(),
                operation,
                status: None,
                message: format!(
                    "the token endpoint is throttling (HTTP {}, {}: {})",
                    reply.status.as_u16(),
                    quote(error),
                    quote(description)
                ),
                retryable: true,
            };
        }
        let said = match (error.is_empty(), description.is_empty()) {
            (true, _) => format!("HTTP {} without an access_token", reply.status.as_u16()),
            (false, true) => quote(error),
            (false, false) => format!("{}: {}", quote(error), quote(description)),
        };
        let app = self.provider.app();
        let message = match &self.grant {
            Grant::Refresh {
                client_source,
                refresh_source,
                ..
            } => {
                if error.starts_with("invalid_client") {
                    format!(
                        "the token endpoint refused the client ({said}): check that \
                         {client_source} are the {app}'s"
                    )
                } else {
                    format!(
                        "the refresh token was refused ({said}): {} and put the new refresh \
                         token in {refresh_source}",
                        self.provider.reauthorise()
                    )
                }
            }
            Grant::Jwt {
                username,
                audience,
                key_source,
                ..
            } => format!(
                "the JWT bearer assertion for {username} was refused ({said}): check that the \
                 {app} with this consumer key (crm.client_id) holds the certificate of \
                 {key_source}, that {username} is pre-authorised for it (admin-approved users, \
                 by profile or permission set), and that the audience {audience} is the login \
                 host (test.salesforce.com for a sandbox)"
            ),
            Grant::Fixed { source, .. } => {
                format!("the access token in {source} cannot be renewed ({said})")
            }
        };
        IoError::unauthorized(self.provider.name(), message)
    }
}
