//! What a `[crm]` section's credential fields mean: a fixed token, the refresh-token
//! flow, or Salesforce's JWT bearer flow, exactly one of them. Where the secrets are,
//! never their values.

use crate::secrets::SecretRef;

/// How a connection gets its access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `token = {...}`: used as it is, so a 401 is final.
    AccessToken(SecretRef),
    /// `client_id`, `client_secret`, `refresh_token`.
    RefreshToken(RefreshTokenGrant),
    /// `client_id`, `username`, `private_key` (Salesforce only).
    JwtBearer(JwtBearerGrant),
}

/// The refresh-token flow (RFC 6749 section 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenGrant {
    pub client_id: SecretRef,
    pub client_secret: SecretRef,
    pub refresh_token: SecretRef,
    /// The token endpoint.
    pub token_url: String,
}

/// Salesforce's JWT bearer flow (RFC 7523): an assertion signed with the private key
/// whose certificate the connected app holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtBearerGrant {
    /// The connected app's consumer key (the assertion's `iss`).
    pub client_id: SecretRef,
    /// The user the token is issued for (`sub`).
    pub username: String,
    /// An RSA private key, PEM (PKCS#8 or PKCS#1).
    pub private_key: SecretRef,
    /// `aud`: `https://login.salesforce.com` or `https://test.salesforce.com`.
    pub audience: String,
    /// The token endpoint.
    pub token_url: String,
}

impl Credentials {
    /// Every secret the credentials name.
    pub fn secrets(&self) -> Vec<&SecretRef> {
        match self {
            Credentials::AccessToken(token) => vec![token],
            Credentials::RefreshToken(grant) => {
                vec![&grant.client_id, &grant.client_secret, &grant.refresh_token]
            }
            Credentials::JwtBearer(grant) => vec![&grant.client_id, &grant.private_key],
        }
    }
}

/// The credential fields of a `[crm]` section as written, before they are checked to
/// make one of the [`Credentials`].
#[derive(Debug, Default)]
pub(crate) struct CredentialFields {
    pub token: Option<SecretRef>,
    pub client_id: Option<SecretRef>,
    pub client_secret: Option<SecretRef>,
    pub refresh_token: Option<SecretRef>,
    pub username: Option<String>,
    pub private_key: Option<SecretRef>,
}

impl CredentialFields {
    /// The one flow the fields describe, or a message naming what is missing or does
    /// not belong. `jwt_audience` is the JWT bearer flow's audience, `None` for a
    /// provider without that flow.
    pub(crate) fn check(
        self,
        token_url: String,
        jwt_audience: Option<String>,
    ) -> Result<Credentials, String> {
        let named = |present: &[(&str, bool)]| -> Vec<String> {
            present
                .iter()
                .filter(|(_, is)| *is)
                .map(|(name, _)| format!("`{name}`"))
                .collect()
        };
        let flows = if jwt_audience.is_some() {
            "`token` (a fixed access token), or `client_id`, `client_secret` and \
             `refresh_token` (the refresh-token flow), or `client_id`, `username` and \
             `private_key` (the JWT bearer flow)"
        } else {
            "`token` (a fixed access token), or `client_id`, `client_secret` and \
             `refresh_token` (the refresh-token flow)"
        };
        let Self {
            token,
            client_id,
            client_secret,
            refresh_token,
            username,
            private_key,
        } = self;
        if let Some(token) = token {
            let extra = named(&[
                ("client_id", client_id.is_some()),
                ("client_secret", client_secret.is_some()),
                ("refresh_token", refresh_token.is_some()),
                ("username", username.is_some()),
                ("private_key", private_key.is_some()),
            ]);
            if !extra.is_empty() {
                return Err(format!(
                    "[crm] has both a fixed `token` and {}, which issue tokens: keep one of \
                     {flows}",
                    extra.join(", ")
                ));
            }
            return Ok(Credentials::AccessToken(token));
        }
        if username.is_some() || private_key.is_some() {
            let extra = named(&[
                ("client_secret", client_secret.is_some()),
                ("refresh_token", refresh_token.is_some()),
            ]);
            if !extra.is_empty() {
                return Err(format!(
                    "[crm] mixes the JWT bearer flow (`username`, `private_key`) with {}: \
                     keep one of {flows}",
                    extra.join(", ")
                ));
            }
            let Some(audience) = jwt_audience else {
                return Err(format!("[crm] takes {flows}"));
            };
            return match (client_id, username, private_key) {
                (Some(client_id), Some(username), Some(private_key)) if !username.is_empty() => {
                    Ok(Credentials::JwtBearer(JwtBearerGrant {
                        client_id,
                        username,
                        private_key,
                        audience,
                        token_url,
                    }))
                }
                (client_id, username, private_key) => Err(format!(
                    "[crm] the JWT bearer flow needs {}",
                    named(&[
                        ("client_id", client_id.is_none()),
                        ("username", username.is_none_or(|u| u.is_empty())),
                        ("private_key", private_key.is_none()),
                    ])
                    .join(" and ")
                )),
            };
        }
        match (client_id, client_secret, refresh_token) {
            (None, None, None) => Err(format!("[crm] needs credentials: {flows}")),
            (Some(client_id), Some(client_secret), Some(refresh_token)) => {
                Ok(Credentials::RefreshToken(RefreshTokenGrant {
                    client_id,
                    client_secret,
                    refresh_token,
                    token_url,
                }))
            }
            (client_id, client_secret, refresh_token) => Err(format!(
                "[crm] the refresh-token flow needs {}",
                named(&[
                    ("client_id", client_id.is_none()),
                    ("client_secret", client_secret.is_none()),
                    ("refresh_token", refresh_token.is_none()),
                ])
                .join(" and ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> CredentialFields {
        CredentialFields::default()
    }

    fn env(name: &str) -> Option<SecretRef> {
        Some(SecretRef::Env(name.into()))
    }

    #[test]
    fn the_fields_make_exactly_one_flow() {
        let check = |fields: CredentialFields| fields.check("u".into(), Some("a".into()));
        assert!(matches!(
            check(CredentialFields {
                token: env("T"),
                ..fields()
            }),
            Ok(Credentials::AccessToken(_))
        ));
        assert!(matches!(
            check(CredentialFields {
                client_id: env("I"),
                client_secret: env("S"),
                refresh_token: env("R"),
                ..fields()
            }),
            Ok(Credentials::RefreshToken(_))
        ));
        assert!(matches!(
            check(CredentialFields {
                client_id: env("I"),
                username: Some("u@example.com".into()),
                private_key: env("K"),
                ..fields()
            }),
            Ok(Credentials::JwtBearer(_))
        ));
        let message = check(fields()).expect_err("none");
        assert!(message.contains("needs credentials"), "{message}");
        let message = check(CredentialFields {
            token: env("T"),
            refresh_token: env("R"),
            ..fields()
        })
        .expect_err("both");
        assert!(message.contains("`refresh_token`"), "{message}");
        let message = check(CredentialFields {
            client_id: env("I"),
            refresh_token: env("R"),
            ..fields()
        })
        .expect_err("no secret");
        assert_eq!(
            message,
            "[crm] the refresh-token flow needs `client_secret`"
        );
        let message = check(CredentialFields {
            client_id: env("I"),
            private_key: env("K"),
            refresh_token: env("R"),
            ..fields()
        })
        .expect_err("mixed");
        assert!(message.contains("mixes the JWT bearer flow"), "{message}");
        let message = fields()
            .check("u".into(), None)
            .expect_err("none, and no JWT flow to offer");
        assert!(
            message.contains("needs credentials") && !message.contains("JWT"),
            "{message}"
        );
    }
}
