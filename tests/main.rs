//! Integration tests against an AWS emulator: real SDK calls through churn-io's adapters,
//! in one test binary. scripts/test.sh starts moto's server and exports
//! `AWS_ENDPOINT_URL`; see support.rs for what happens without it.

mod actions; // the action ledger in DynamoDB, Secrets Manager fields, e-mail through SES
mod app; // the use cases' rules: retry decisions in the ledger, corrected data retrains, queue failures
mod end_to_end; // raw files in S3 → ingest → train → batch-predict → score API → CRM push, every replay a no-op
mod event_files; // every file in events/ parses as the event its function receives
mod events; // EventBridge: batches of 10, delivered through a rule to an SQS queue
mod fan_out; // a day scored by the Distributed Map's children and merged equals a day scored at once
mod faults; // an emulator gone mid-run: retryable errors, nothing half-written
mod ledger; // the idempotency ledger: an event processed once, leases, release
mod monitor; // predict → monitor → DriftDetected through the template's rule → train, once per cool-down window
mod online; // the online feature table: round trip, more than one batch of 25
mod registry; // model versions and the champion; two promotions at once, one wins
mod score_api; // churn-score-api driven by the function-URL events in events/
mod store; // the S3 store: round trip, multipart upload, listing, URL-decoded keys
mod template; // infra/template.yaml sets what each function reads and nothing else
