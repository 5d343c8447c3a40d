use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use churn_core::playbook::{Day, TaskPriority};
use churn_io::IoError;
use churn_io::crm::{ContactUpsert, Crm, RecordResult, TaskCreate, TaskRequest};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::hubspot::contact;
use crate::salesforce::collections_like_salesforce;
use crate::zoho::upsert_like_zoho;
use crate::{TOKENS, hubspot_at, sinks, sinks_with};

/// The connected app's and the Zoho client's secrets, with characters a form must
/// encode.
const SECRETS: [(&str, &str); 6] = [
    ("SF_CLIENT_ID", "3MVG9.sf-client"),
    ("SF_CLIENT_SECRET", "sf-client-5ecret"),
    ("SF_REFRESH_TOKEN", "5Aep861.rt/5ecret=="),
    ("ZOHO_CLIENT_ID", "1000.ZOHOCLIENT"),
    ("ZOHO_CLIENT_SECRET", "zoho-client-5ecret"),
    ("ZOHO_REFRESH_TOKEN", "1000.zoho-rt.5ecret"),
];

const SALESFORCE_TOKEN_PATH: &str = "/services/oauth2/token";
const SALESFORCE_CONTACTS: &str =
    "/services/data/v62.0/composite/sobjects/Contact/Churn_Customer_Id__c";
const ZOHO_TOKEN_PATH: &str = "/oauth/v2/token";

/// `[crm]` for Salesforce with the refresh-token flow: tokens from `login`, the API
/// configured at `instance` (the token answer may name another).
fn salesforce_refreshing(login: &str, instance: &str) -> String {
    format!(
        "[crm]\nprovider = \"salesforce\"\ninstance_url = \"{instance}\"\nlogin_url = \"{login}\"\n\
         client_id = {{ env = \"SF_CLIENT_ID\" }}\nclient_secret = {{ env = \"SF_CLIENT_SECRET\" }}\n\
         refresh_token = {{ env = \"SF_REFRESH_TOKEN\" }}\n"
    )
}

/// `[crm]` for Zoho with the refresh-token flow at the accounts server `accounts`.
fn zoho_refreshing(accounts: &str, api: &str) -> String {
    format!(
        "[crm]\nprovider = \"zoho\"\nbase_url = \"{api}\"\naccounts_url = \"{accounts}\"\n\
         client_id = {{ env = \"ZOHO_CLIENT_ID\" }}\nclient_secret = {{ env = \"ZOHO_CLIENT_SECRET\" }}\n\
         refresh_token = {{ env = \"ZOHO_REFRESH_TOKEN\" }}\nrequests_per_minute = 6000\n"
    )
}

async fn crm(toml: &str) -> Crm {
    sinks_with(toml, &SECRETS).await.crm.expect("crm")
}

/// A token endpoint that issues `prefix-1`, `prefix-2`, ... in turn, naming `domain`
/// under `domain_key` (Salesforce's `instance_url`, Zoho's `api_domain`).
async fn issue_tokens(
    server: &MockServer,
    token_path: &str,
    prefix: &'static str,
    domain_key: &'static str,
    domain: String,
) -> Arc<AtomicUsize> {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    Mock::given(method("POST"))
        .and(path(token_path))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("{prefix}-{n}"),
                domain_key: domain,
                "token_type": "Bearer",
                "issued_at": "1767225600000",
            }))
        })
        .mount(server)
        .await;
    issued
}

/// Salesforce's answer to an expired session.
fn invalid_session() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(json!([{
        "message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID",
    }]))
}

fn authorization(request: &Request) -> &str {
    request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn body_text(request: &Request) -> &str {
    std::str::from_utf8(&request.body).expect("utf-8")
}

fn assert_no_secret(text: &str) {
    for (_, secret) in SECRETS.iter().chain(&TOKENS) {
        assert!(!text.contains(secret), "a secret leaked ({secret}): {text}");
    }
}

fn task() -> TaskRequest {
    TaskRequest {
        key: "2026-12-01/call-owner/C0001".into(),
        customer_id: "C0001".into(),
        contact_id: "003000000000000001".into(),
        subject: "Call C0001".into(),
        body: "Why: tenure days = 40".into(),
        priority: TaskPriority::High,
        due: Day::parse("2026-12-02").expect("day"),
    }
}

#[tokio::test]
async fn salesforce_renews_an_expired_session_once_and_resends_to_the_issued_instance() {
    let login = MockServer::start().await;
    let api = MockServer::start().await;
    // The configured instance: the token answer's instance_url must win over it.
    let configured = MockServer::start().await;
    let issued = issue_tokens(
        &login,
        SALESFORCE_TOKEN_PATH,
        "00Dsf!access",
        "instance_url",
        api.uri(),
    )
    .await;
    Mock::given(method("PATCH"))
        .and(path(SALESFORCE_CONTACTS))
        .and(header("authorization", "Bearer 00Dsf!access-1"))
        .respond_with(invalid_session())
        .mount(&api)
        .await;
    Mock::given(method("PATCH"))
        .and(path(SALESFORCE_CONTACTS))
        .and(header("authorization", "Bearer 00Dsf!access-2"))
        .respond_with(collections_like_salesforce)
        .mount(&api)
        .await;
    let crm = crm(&salesforce_refreshing(&login.uri(), &configured.uri())).await;
    assert_eq!(
        issued.load(Ordering::SeqCst),
        0,
        "no token before first use"
    );

    let results = crm.upsert(&[contact(1, None)]).await.expect("upsert");
    assert!(
        matches!(&results[0], RecordResult::Done { id } if id.starts_with("003")),
        "{results:?}"
    );
    assert_eq!(
        issued.load(Ordering::SeqCst),
        2,
        "first use, then one renewal"
    );
    let tokens = login.received_requests().await.expect("recorded");
    for request in &tokens {
        assert_eq!(
            body_text(request),
            "grant_type=refresh_token&client_id=3MVG9.sf-client&client_secret=sf-client-5ecret\
             &refresh_token=5Aep861.rt%2F5ecret%3D%3D"
        );
        assert_eq!(
            request
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/x-www-form-urlencoded")
        );
        assert!(request.headers.get("authorization").is_none());
    }
    let calls = api.received_requests().await.expect("recorded");
    let auths: Vec<&str> = calls.iter().map(authorization).collect();
    assert_eq!(
        auths,
        ["Bearer 00Dsf!access-1", "Bearer 00Dsf!access-2"],
        "the request is resent once, with the new token"
    );
    assert_eq!(calls[0].body, calls[1].body, "the same request");
    assert!(
        configured
            .received_requests()
            .await
            .expect("recorded")
            .is_empty(),
        "the issued instance_url is used"
    );

    // The renewed token stays in use.
    crm.upsert(&[contact(3, None)]).await.expect("upsert");
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn concurrent_calls_share_one_token_and_one_renewal() {
    let login = MockServer::start().await;
    let api = MockServer::start().await;
    let issued = issue_tokens(
        &login,
        SALESFORCE_TOKEN_PATH,
        "00Dsf!access",
        "instance_url",
        api.uri(),
    )
    .await;
    Mock::given(method("PATCH"))
        .and(header("authorization", "Bearer 00Dsf!access-1"))
        .respond_with(invalid_session())
        .mount(&api)
        .await;
    Mock::given(method("PATCH"))
        .and(header("authorization", "Bearer 00Dsf!access-2"))
        .respond_with(collections_like_salesforce)
        .mount(&api)
        .await;
    let crm = crm(&salesforce_refreshing(&login.uri(), &api.uri())).await;
    let batches: Vec<_> = (0..6).map(|i| [contact(10 + i, None)]).collect();
    let results = futures_util::future::join_all(batches.iter().map(|b| crm.upsert(b))).await;
    for result in results {
        let records = result.expect("upsert");
        assert!(
            matches!(records[0], RecordResult::Done { .. }),
            "{records:?}"
        );
    }
    assert_eq!(
        issued.load(Ordering::SeqCst),
        2,
        "one token for all first uses, one renewal for all six expiries"
    );
    let calls = api.received_requests().await.expect("recorded");
    let renewed = calls
        .iter()
        .filter(|r| authorization(r) == "Bearer 00Dsf!access-2")
        .count();
    assert_eq!(renewed, 6, "each call resent once");
}

#[tokio::test]
async fn zoho_renews_an_invalid_token_from_the_data_centres_accounts_server() {
    let accounts = MockServer::start().await;
    let api = MockServer::start().await;
    let configured = MockServer::start().await;
    let issued = issue_tokens(
        &accounts,
        ZOHO_TOKEN_PATH,
        "1000.zoho-access",
        "api_domain",
        api.uri(),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/crm/v8/Contacts/upsert"))
        .and(header("authorization", "Zoho-oauthtoken 1000.zoho-access-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error",
        })))
        .mount(&api)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v8/Contacts/upsert"))
        .and(header(
            "authorization",
            "Zoho-oauthtoken 1000.zoho-access-2",
        ))
        .respond_with(upsert_like_zoho)
        .mount(&api)
        .await;
    let crm = crm(&zoho_refreshing(&accounts.uri(), &configured.uri())).await;
    let results = crm.upsert(&[contact(1, None)]).await.expect("upsert");
    assert_eq!(
        results[0],
        RecordResult::Done {
            id: "4876876000000624001".into()
        }
    );
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    for request in accounts.received_requests().await.expect("recorded") {
        assert_eq!(
            body_text(&request),
            "grant_type=refresh_token&client_id=1000.ZOHOCLIENT\
             &client_secret=zoho-client-5ecret&refresh_token=1000.zoho-rt.5ecret"
        );
    }
    assert_eq!(api.received_requests().await.expect("recorded").len(), 2);
    assert!(
        configured
            .received_requests()
            .await
            .expect("recorded")
            .is_empty(),
        "the issued api_domain is used"
    );
}

#[tokio::test]
async fn a_refused_refresh_is_unauthorized_for_the_whole_call_and_remembered() {
    let login = MockServer::start().await;
    let api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SALESFORCE_TOKEN_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "expired access/refresh token",
        })))
        .mount(&login)
        .await;
    let crm = crm(&salesforce_refreshing(&login.uri(), &api.uri())).await;
    let error = crm
        .upsert(&[contact(1, None), contact(3, None)])
        .await
        .expect_err("no token");
    assert!(
        error.is_unauthorized() && !error.is_retryable(),
        "{error:?}"
    );
    assert!(matches!(
        &error,
        IoError::Unauthorized {
            provider: "salesforce",
            ..
        }
    ));
    let message = error.to_string();
    assert!(
        message.starts_with("salesforce: the refresh token was refused (invalid_grant: expired access/refresh token): re-authorise the connected app")
            && message.contains("crm.refresh_token (environment variable SF_REFRESH_TOKEN)"),
        "{message}"
    );
    assert_no_secret(&message);
    // Tasks too, without asking the token endpoint again.
    let error = crm.create(&[task()]).await.expect_err("no token");
    assert!(error.is_unauthorized(), "{error}");
    assert_eq!(login.received_requests().await.expect("recorded").len(), 1);
    assert!(api.received_requests().await.expect("recorded").is_empty());
}

#[tokio::test]
async fn zohos_refusal_in_a_200_is_unauthorized_without_echoing_the_secrets() {
    let accounts = MockServer::start().await;
    let api = MockServer::start().await;
    // An answer that quotes the request, as a careless endpoint might.
    Mock::given(method("POST"))
        .and(path(ZOHO_TOKEN_PATH))
        .respond_with(|request: &Request| {
            ResponseTemplate::new(200).set_body_json(json!({
                "error": "invalid_code",
                "error_description": format!("cannot use {}", body_text(request).replace("%2F", "/")),
            }))
        })
        .mount(&accounts)
        .await;
    let crm = crm(&zoho_refreshing(&accounts.uri(), &api.uri())).await;
    let error = crm.create(&[task()]).await.expect_err("no token");
    assert!(
        matches!(
            &error,
            IoError::Unauthorized {
                provider: "zoho",
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with("zoho: the refresh token was refused (invalid_code")
            && message.contains("crm.refresh_token (environment variable ZOHO_REFRESH_TOKEN)"),
        "{message}"
    );
    assert_no_secret(&message);
    assert!(api.received_requests().await.expect("recorded").is_empty());
}

#[tokio::test]
async fn a_token_refused_after_renewal_is_unauthorized_and_never_echoed() {
    let login = MockServer::start().await;
    let api = MockServer::start().await;
    issue_tokens(
        &login,
        SALESFORCE_TOKEN_PATH,
        "00Dsf!access",
        "instance_url",
        api.uri(),
    )
    .await;
    // Every token is refused, and the answer quotes it.
    Mock::given(method("PATCH"))
        .respond_with(|request: &Request| {
            ResponseTemplate::new(401).set_body_json(json!([{
                "message": format!("Session expired or invalid: {}", authorization(request)),
                "errorCode": "INVALID_SESSION_ID",
            }]))
        })
        .mount(&api)
        .await;
    let crm = crm(&salesforce_refreshing(&login.uri(), &api.uri())).await;
    let error = crm.upsert(&[contact(1, None)]).await.expect_err("refused");
    assert!(error.is_unauthorized(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("a newly issued access token was refused too"),
        "{message}"
    );
    assert!(
        !message.contains("00Dsf!access-1") && !message.contains("00Dsf!access-2"),
        "an issued token leaked: {message}"
    );
    assert_eq!(
        api.received_requests().await.expect("recorded").len(),
        2,
        "resent once, not more"
    );
    assert_eq!(login.received_requests().await.expect("recorded").len(), 2);
}

#[tokio::test]
async fn a_fixed_tokens_401_is_unauthorized_for_every_crm() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .respond_with(invalid_session())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v8/Tasks"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error",
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": "error", "category": "INVALID_AUTHENTICATION",
            "message": "Authentication credentials not found.",
        })))
        .mount(&server)
        .await;
    let uri = server.uri();
    let salesforce = sinks(&format!(
        "[crm]\nprovider = \"salesforce\"\ninstance_url = \"{uri}\"\ntoken = {{ env = \"CRM_TOKEN\" }}\n"
    ))
    .await
    .crm
    .expect("crm");
    let zoho = sinks(&format!(
        "[crm]\nprovider = \"zoho\"\nbase_url = \"{uri}\"\ntoken = {{ env = \"CRM_TOKEN\" }}\nrequests_per_minute = 6000\n"
    ))
    .await
    .crm
    .expect("crm");
    let hubspot = sinks(&hubspot_at(&uri)).await.crm.expect("crm");

    let errors = [
        salesforce
            .upsert(&[contact(1, None)])
            .await
            .expect_err("salesforce"),
        zoho.create(&[task()]).await.expect_err("zoho"),
        hubspot
            .upsert(&[contact(1, Some("a@example.com"))])
            .await
            .expect_err("hubspot"),
    ];
    for (error, provider) in errors.iter().zip(["salesforce", "zoho", "hubspot"]) {
        assert!(
            matches!(error, IoError::Unauthorized { provider: p, .. } if *p == provider),
            "{error:?}"
        );
        assert!(!error.is_retryable());
        let message = error.to_string();
        assert!(
            message.contains("crm.token (environment variable CRM_TOKEN)")
                && message.contains("HTTP 401"),
            "{message}"
        );
        assert_no_secret(&message);
    }
    assert!(
        errors[0].to_string().contains("INVALID_SESSION_ID")
            && errors[0].to_string().contains("refresh-token flow"),
        "{}",
        errors[0]
    );
    // One request each: a fixed token is not retried, and its refusal is remembered.
    salesforce
        .create(&[task()])
        .await
        .expect_err("still refused");
    assert_eq!(server.received_requests().await.expect("recorded").len(), 3);
}

/// A fresh 2048-bit key as PEM (PKCS#8), and the key.
fn rsa_key() -> (String, KeyPair) {
    let key = KeyPair::generate(KeySize::Rsa2048).expect("key");
    let der: Pkcs8V1Der = key.as_der().expect("der");
    let bytes: &[u8] = der.as_ref();
    let base64 = STANDARD.encode(bytes);
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).expect("ascii"))
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    (pem, key)
}

fn salesforce_jwt(login: &str, instance: &str) -> String {
    format!(
        "[crm]\nprovider = \"salesforce\"\ninstance_url = \"{instance}\"\nlogin_url = \"{login}\"\n\
         client_id = {{ env = \"SF_CLIENT_ID\" }}\nusername = \"integration@example.com\"\n\
         private_key = {{ env = \"SF_PRIVATE_KEY\" }}\n"
    )
}

fn decode_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

#[tokio::test]
async fn the_jwt_bearer_assertion_carries_the_claims_and_verifies_with_the_public_key() {
    let login = MockServer::start().await;
    let api = MockServer::start().await;
    let issued = issue_tokens(
        &login,
        SALESFORCE_TOKEN_PATH,
        "00Dsf!jwt",
        "instance_url",
        api.uri(),
    )
    .await;
    Mock::given(method("PATCH"))
        .and(path(SALESFORCE_CONTACTS))
        .and(header("authorization", "Bearer 00Dsf!jwt-1"))
        .respond_with(collections_like_salesforce)
        .mount(&api)
        .await;
    let (pem, key) = rsa_key();
    let crm = sinks_with(
        &salesforce_jwt(&login.uri(), &api.uri()),
        &[
            ("SF_CLIENT_ID", "3MVG9.sf-client"),
            ("SF_PRIVATE_KEY", &pem),
        ],
    )
    .await
    .crm
    .expect("crm");
    let before = churn_io::now_epoch();
    crm.upsert(&[contact(1, None)]).await.expect("upsert");
    let after = churn_io::now_epoch();
    assert_eq!(issued.load(Ordering::SeqCst), 1);

    let requests = login.received_requests().await.expect("recorded");
    let body = body_text(&requests[0]);
    let assertion = body
        .strip_prefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")
        .unwrap_or_else(|| panic!("the JWT bearer grant: {body}"));
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3, "{assertion}");
    assert_eq!(decode_json(parts[0]), json!({ "alg": "RS256" }));
    let claims = decode_json(parts[1]);
    assert_eq!(claims["iss"], json!("3MVG9.sf-client"));
    assert_eq!(claims["sub"], json!("integration@example.com"));
    assert_eq!(claims["aud"], json!("https://login.salesforce.com"));
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(
        (before + 180..=after + 180).contains(&exp),
        "exp {exp} is not three minutes after {before}..{after}"
    );
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("base64url");
    let signed = format!("{}.{}", parts[0], parts[1]);
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key().as_ref())
        .verify(signed.as_bytes(), &signature)
        .expect("the signature verifies with the public key");
    // Another key's signature does not: the check above means something.
    let (_, other) = rsa_key();
    assert!(
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, other.public_key().as_ref())
            .verify(signed.as_bytes(), &signature)
            .is_err()
    );
}

#[tokio::test]
async fn a_refused_jwt_assertion_is_unauthorized_and_says_what_to_check() {
    let login = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SALESFORCE_TOKEN_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "user hasn't approved this consumer",
        })))
        .mount(&login)
        .await;
    let (pem, _) = rsa_key();
    // A PEM whose line breaks were written as `\n`, as in an environment variable.
    let escaped = pem.replace('\n', "\\n");
    let crm = sinks_with(
        &salesforce_jwt(&login.uri(), &login.uri()),
        &[
            ("SF_CLIENT_ID", "3MVG9.sf-client"),
            ("SF_PRIVATE_KEY", &escaped),
        ],
    )
    .await
    .crm
    .expect("crm");
    let error = crm.upsert(&[contact(1, None)]).await.expect_err("refused");
    assert!(error.is_unauthorized(), "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with("salesforce: the JWT bearer assertion for integration@example.com was refused (invalid_grant: user hasn't approved this consumer)")
            && message.contains("pre-authorised")
            && message.contains("crm.private_key (environment variable SF_PRIVATE_KEY)"),
        "{message}"
    );
    assert!(!message.contains("3MVG9.sf-client"), "{message}");
}
