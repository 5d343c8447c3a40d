//! Connections to local provider servers, and a server that answers like HubSpot: shared
//! by the adapter tests here and by churn-app's dispatcher tests (which include this
//! file), so the two never drift apart.

use churn_io::connections::{Connections, Sinks};
use churn_io::secrets::Secrets;
use serde_json::json;
use wiremock::{Request, ResponseTemplate};

/// The secrets every test's connections name.
pub const TOKENS: [(&str, &str); 4] = [
    ("CRM_TOKEN", "tok-crm-5ecret"),
    ("TWILIO_TOKEN", "tok-twilio-5ecret"),
    ("PUSH_SECRET", "whsec-push-5ecret"),
    ("WEBHOOK_SECRET", "whsec-hook-5ecret"),
];

/// The adapters of a connections file (with fast retries), secrets from [`TOKENS`].
pub async fn sinks(toml: &str) -> Sinks {
    sinks_with(toml, &[]).await
}

/// [`sinks`] with more secrets in the environment.
pub async fn sinks_with(toml: &str, more: &[(&str, &str)]) -> Sinks {
    let text = format!(
        "{toml}\n[retry]\nattempts = 4\nbase_ms = 5\nmax_wait_seconds = 5\ntimeout_seconds = 2\n"
    );
    let connections = Connections::parse(&text, "test connections").expect("connections");
    let env: Vec<(String, String)> = TOKENS
        .iter()
        .chain(more)
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let secrets = Secrets::with_env(
        move |name| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()),
        None,
    );
    connections.connect(&secrets, None).await.expect("connect")
}

/// A `[crm]` section for HubSpot at `url`.
pub fn hubspot_at(url: &str) -> String {
    format!(
        "[crm]\nprovider = \"hubspot\"\nbase_url = \"{url}\"\ntoken = {{ env = \"CRM_TOKEN\" }}\nowner_id = \"77\"\n"
    )
}

/// An `[sms]` section for Twilio at `url`.
pub fn twilio_at(url: &str) -> String {
    format!(
        "[sms]\nprovider = \"twilio\"\nbase_url = \"{url}\"\naccount_sid = \"AC123\"\nauth_token = {{ env = \"TWILIO_TOKEN\" }}\nfrom = \"+15005550006\"\nmessages_per_second = 1000\n"
    )
}

/// A `[push]` section at `url`.
pub fn push_at(url: &str) -> String {
    format!("[push]\nurl = \"{url}/push\"\nsecret = {{ env = \"PUSH_SECRET\" }}\n")
}

/// The JSON body of a received request.
pub fn json_body(request: &wiremock::Request) -> serde_json::Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

/// HubSpot's batch upsert as documented: 200 when every input succeeds, 207 with
/// per-input errors otherwise; inputs whose id starts with "bad" fail validation.
pub fn upsert_like_hubspot(request: &Request) -> ResponseTemplate {
    let body = json_body(request);
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in body["inputs"].as_array().expect("inputs") {
        let id = input["id"].as_str().expect("id");
        if id.starts_with("bad") {
            errors.push(json!({
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": format!("Property values were not valid for {id}"),
                "context": { "ids": [id] },
            }));
        } else {
            results.push(json!({
                "id": format!("hs-{id}"),
                "objectWriteTraceId": input["objectWriteTraceId"],
                "properties": { "email": id.to_ascii_lowercase() },
                "new": false,
            }));
        }
    }
    let status = if errors.is_empty() { 200 } else { 207 };
    ResponseTemplate::new(status).set_body_json(json!({
        "status": "COMPLETE",
        "results": results,
        "numErrors": errors.len(),
        "errors": errors,
    }))
}
