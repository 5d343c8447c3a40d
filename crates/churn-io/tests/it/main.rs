//! The CRM and messaging adapters against local HTTP servers (wiremock) that answer as
//! each API documents: exact requests, per-record errors, 429 with `Retry-After`, 5xx,
//! timeouts, malformed answers, expired sessions and refused credentials.

mod hubspot; // batch upsert (207 multi-status), tasks, Retry-After, malformed answers
mod oauth; // issued tokens: refresh-token and JWT bearer flows, one renewal per expiry, refusals
mod providers; // connections to the local servers, and a HubSpot look-alike
mod salesforce; // sObject Collections upsert, REQUEST_LIMIT_EXCEEDED, task upsert by key
mod twilio; // form-encoded messages, masked numbers, timeouts, finding a message sent
mod webhook; // HMAC signature and Idempotency-Key
mod zoho; // upsert with duplicate check, per-record errors, 5xx retried

use providers::{TOKENS, hubspot_at, json_body, push_at, sinks, sinks_with, twilio_at};
