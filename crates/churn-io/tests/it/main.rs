//! The CRM and messaging adapters and the dispatcher against local HTTP servers
//! (wiremock) that answer as each API documents: exact requests, per-record errors,
//! 429 with `Retry-After`, 5xx, timeouts, malformed answers, expired sessions and
//! refused credentials; and a day's plan sent once however often it is run.

mod dispatch; // plans sent once: replays, crashes, partial failures, quiet hours, cool-downs, logs
mod hubspot; // batch upsert (207 multi-status), tasks, Retry-After, malformed answers
mod oauth; // issued tokens: refresh-token and JWT bearer flows, one renewal per expiry, refusals
mod salesforce; // sObject Collections upsert, REQUEST_LIMIT_EXCEEDED, task upsert by key
mod twilio; // form-encoded messages, masked numbers, timeouts, finding a message sent
mod webhook; // HMAC signature and Idempotency-Key
mod zoho; // upsert with duplicate check, per-record errors, 5xx retried

use churn_io::connections::{Connections, Sinks};
use churn_io::secrets::Secrets;

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
