//! Salesforce's JWT bearer assertions (RFC 7523): RS256 with the connected app's private
//! key, through aws-lc-rs (the crypto rustls and the AWS SDK already link), and the key
//! read from PEM. Owns the encoding and the signature; the claims' values come from the
//! configuration and the clock from the caller.

use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject as _;

use crate::IoError;
use crate::secrets::Secret;

/// JWT bearer assertions are valid this long (Salesforce allows at most 3 minutes).
pub(super) const ASSERTION_SECONDS: i64 = 180;

/// The claims of a Salesforce JWT bearer assertion, in the order they are written.
#[derive(serde::Serialize)]
pub(super) struct Claims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub exp: i64,
}

/// A signed RS256 JWT: `base64url(header).base64url(claims).base64url(signature)`.
pub(super) fn jwt_assertion(key: &RsaKeyPair, claims: &Claims<'_>) -> Result<String, String> {
    let claims = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "the key cannot sign".to_owned())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// An RSA private key from PEM text.
pub(super) fn rsa_key(pem: &Secret, source: &str) -> Result<RsaKeyPair, IoError> {
    let invalid = |message: String| IoError::config(source, message);
    // A PEM pasted into an environment variable often arrives with its line breaks
    // written as `\n`.
    let text = if pem.expose().contains('\n') {
        pem.expose().to_owned()
    } else {
        pem.expose().replace("\\n", "\n")
    };
    let der = PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|_| {
        invalid(
            "is not a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA \
             PRIVATE KEY-----, unencrypted)"
                .into(),
        )
    })?;
    let key = match &der {
        PrivateKeyDer::Pkcs8(key) => RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(key) => RsaKeyPair::from_der(key.secret_pkcs1_der()),
        _ => {
            return Err(invalid(
                "is not an RSA key: Salesforce signs with RSA".into(),
            ));
        }
    };
    key.map_err(|e| invalid(format!("is not an RSA key Salesforce accepts ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assertion_is_three_base64url_parts_signed_over_the_first_two() {
        use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

        let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("key");
        let claims = Claims {
            iss: "3MVG9.id",
            sub: "u@example.com",
            aud: "https://login.salesforce.com",
            exp: 1_767_225_780,
        };
        let assertion = jwt_assertion(&key, &claims).expect("signed");
        let parts: Vec<&str> = assertion.split('.').collect();
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).expect("base64url");
        assert_eq!(decode(parts[0]), br#"{"alg":"RS256"}"#);
        assert_eq!(
            String::from_utf8(decode(parts[1])).expect("utf-8"),
            r#"{"iss":"3MVG9.id","sub":"u@example.com","aud":"https://login.salesforce.com","exp":1767225780}"#
        );
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key().as_ref())
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &decode(parts[2]),
            )
            .expect("verifies");
    }

    #[test]
    fn a_private_key_that_is_not_rsa_pem_is_a_config_error_that_hides_it() {
        let error = rsa_key(&Secret::new("garbage-5ecret"), "crm.private_key (env K)")
            .expect_err("not PEM");
        let message = error.to_string();
        assert!(
            message.starts_with("crm.private_key (env K): is not a PEM private key")
                && !message.contains("5ecret"),
            "{message}"
        );
    }
}
