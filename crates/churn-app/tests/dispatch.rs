//! A day's plan sent once, against local provider servers: replays, crashes, partial
//! failures, quiet hours, cool-downs, and logs without contact details.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use churn_app::push::{DispatchOptions, Dispatcher, Outcome, Status, run_day};
use churn_core::Tier;
use churn_core::playbook::{Candidate, ContactHistory, Day, Plan, Playbook, QuietHours, plan};
use churn_io::action_ledger::{ActionLedger, LocalActionLedger};
use churn_io::connections::{Sinks, parse_playbook};
use churn_io::store::LocalStore;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

// The same provider look-alikes and connections as the adapters' own tests (not every
// helper of the shared file is used here).
#[allow(dead_code)]
#[path = "../../churn-io/tests/it/providers.rs"]
mod providers;
use providers::{TOKENS, hubspot_at, json_body, push_at, sinks, twilio_at, upsert_like_hubspot};

const PLAYBOOK: &str = r#"
format = 1
revision = "test-1"
[value]
expected_months = 12
[budget]
daily = 100000
[caps]
call = 3
[quiet_hours]
start = "21:00"
end = "08:00"

[[actions]]
id = "call-owner"
kind = "call"
cost = 5
save_rate = 0.4
cooldown_days = 30

[[actions]]
id = "discount-sms"
kind = "discount"
channel = "sms"
cost = 0.05
discount_percent = 10
discount_months = 1
save_rate = 0.2
cooldown_days = 60
body = "{discount_percent}% off for you, {customer_id}: {offer_code}"

[[actions]]
id = "app-push"
kind = "message"
channel = "push"
cost = 0.01
save_rate = 0.06
subject = "We miss you"
body = "Come back, {customer_id}"

[[actions]]
id = "priority"
kind = "support_priority"
save_rate = 0.05

[[rules]]
name = "high"
tiers = ["high"]
actions = ["call-owner", "discount-sms"]

[[rules]]
name = "medium"
tiers = ["medium"]
actions = ["priority", "app-push"]
"#;

fn playbook() -> Playbook {
    parse_playbook(PLAYBOOK, "test playbook").expect("playbook")
}

fn day(text: &str) -> Day {
    Day::parse(text).expect("day")
}

/// Seconds since the epoch at `hour`:00 UTC on `date`.
fn at(date: &str, hour: i64) -> i64 {
    i64::from(day(date).0) * 86_400 + hour * 3600
}

fn phone(i: usize) -> String {
    format!("+1555000{i:04}")
}

/// 100 high-risk customers, 50 medium ones of whom every other has opted out.
fn candidates() -> Vec<Candidate> {
    (0..150)
        .map(|i| Candidate {
            customer_id: format!("C{i:04}"),
            probability: if i < 100 { 0.5 + i as f64 / 250.0 } else { 0.3 },
            tier: if i < 100 { Tier::High } else { Tier::Medium },
            reasons: vec!["tenure days = 40".into()],
            monthly_charge: Some(50.0),
            segment: BTreeMap::new(),
            email: Some(format!("c{i}@example.com")),
            phone: Some(phone(i)),
            opted_out: i >= 100 && i % 2 == 0,
            do_not_contact: false,
        })
        .collect()
}

fn options() -> DispatchOptions {
    DispatchOptions {
        record_attempts: 3,
        record_backoff: Duration::from_millis(10),
        concurrency: 4,
    }
}

/// HubSpot (contacts and tasks), Twilio and a push service, answering as documented.
async fn providers() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(upsert_like_hubspot)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/batch/create"))
        .respond_with(|request: &Request| {
            let results: Vec<Value> = json_body(request)["inputs"]
                .as_array()
                .expect("inputs")
                .iter()
                .map(|i| json!({ "id": format!("task-{}", i["associations"][0]["to"]["id"].as_str().unwrap_or("")), "objectWriteTraceId": i["objectWriteTraceId"] }))
                .collect();
            ResponseTemplate::new(201).set_body_json(json!({ "status": "COMPLETE", "results": results }))
        })
        .mount(&server)
        .await;
    let sids = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path_regex("^/2010-04-01/Accounts/AC123/Messages.json$"))
        .respond_with(move |_: &Request| {
            let n = sids.fetch_add(1, Ordering::Relaxed);
            ResponseTemplate::new(201)
                .set_body_json(json!({ "sid": format!("SM{n:032}"), "status": "queued" }))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/push"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    server
}

async fn all_sinks(server: &MockServer) -> Sinks {
    let uri = server.uri();
    sinks(&format!(
        "{}{}{}",
        hubspot_at(&uri),
        twilio_at(&uri),
        push_at(&uri)
    ))
    .await
}

async fn requests_to(server: &MockServer, suffix: &str, http_method: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("recorded")
        .into_iter()
        .filter(|r| r.url.path().ends_with(suffix) && r.method.as_str() == http_method)
        .collect()
}

fn statuses(outcomes: &[Outcome]) -> BTreeMap<(String, Status), usize> {
    let mut counts = BTreeMap::new();
    for outcome in outcomes {
        *counts
            .entry((outcome.action.clone(), outcome.status))
            .or_default() += 1;
    }
    counts
}

/// Sends `plan` as it would be at `clock`, with quick record retries.
async fn send(
    ledger: &LocalActionLedger,
    sinks: &Sinks,
    quiet_hours: Option<&QuietHours>,
    clock: &(dyn Fn() -> i64 + Sync),
    plan: &Plan,
) -> Vec<Outcome> {
    Dispatcher {
        ledger,
        sinks,
        quiet_hours,
        clock,
        options: options(),
    }
    .run(plan)
    .await
    .expect("dispatch")
}

fn day_plan(date: &str) -> Plan {
    plan(
        &playbook(),
        day(date),
        &candidates(),
        &ContactHistory::default(),
    )
}

#[tokio::test]
async fn a_day_is_sent_once_and_a_replay_sends_nothing() {
    let server = providers().await;
    let sinks = all_sinks(&server).await;
    let dir = tempfile::tempdir().expect("dir");
    let ledger = LocalActionLedger::new(dir.path(), 300);
    let playbook = playbook();
    let plan = day_plan("2026-12-01");
    let clock = || at("2026-12-01", 12);
    let dispatcher = Dispatcher {
        ledger: &ledger,
        sinks: &sinks,
        quiet_hours: playbook.quiet_hours.as_ref(),
        clock: &clock,
        options: options(),
    };
    let outcomes = dispatcher.run(&plan).await.expect("dispatch");
    let sent = |action: &str| {
        statuses(&outcomes)
            .get(&(action.to_owned(), Status::Sent))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(sent("crm-sync"), 150);
    assert_eq!(sent("call-owner"), 3, "the call cap");
    assert_eq!(sent("discount-sms"), 97);
    assert_eq!(sent("app-push"), 25);
    assert_eq!(
        sent("priority"),
        25,
        "opted-out customers get support priority, not a push"
    );
    assert!(
        outcomes.iter().all(|o| o.status == Status::Sent),
        "{outcomes:#?}"
    );

    // Contacts in HubSpot's batches of at most 100; tasks on the contacts written.
    let upserts = requests_to(&server, "/contacts/batch/upsert", "POST").await;
    let sizes: Vec<usize> = upserts
        .iter()
        .map(|r| json_body(r)["inputs"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [100, 50]);
    let tasks = requests_to(&server, "/tasks/batch/create", "POST").await;
    assert_eq!(tasks.len(), 1);
    let task_contacts: Vec<Value> = json_body(&tasks[0])["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|i| i["associations"][0]["to"]["id"].clone())
        .collect();
    assert_eq!(
        task_contacts,
        [
            json!("hs-c99@example.com"),
            json!("hs-c98@example.com"),
            json!("hs-c97@example.com")
        ]
    );
    assert_eq!(
        requests_to(&server, "/Messages.json", "POST").await.len(),
        97
    );
    assert_eq!(requests_to(&server, "/push", "POST").await.len(), 25);

    // A replay of the day (a Lambda retry, a second run by hand) sends nothing.
    let before = server.received_requests().await.expect("recorded").len();
    let replay = dispatcher.run(&plan).await.expect("replay");
    assert_eq!(
        server.received_requests().await.expect("recorded").len(),
        before
    );
    assert!(
        replay.iter().all(|o| o.status == Status::AlreadyDone),
        "{replay:#?}"
    );
    let sms = replay
        .iter()
        .find(|o| o.action == "discount-sms")
        .expect("an sms");
    assert!(sms.detail.starts_with("sent twilio SM"), "{}", sms.detail);
}

#[tokio::test]
async fn bad_records_are_isolated_and_flaky_ones_retried_alone() {
    let server = MockServer::start().await;
    let failed_once = Arc::new(AtomicBool::new(false));
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(move |request: &Request| {
            let body = json_body(request);
            let inputs = body["inputs"].as_array().expect("inputs");
            // HubSpot refuses a whole batch with an invalid e-mail.
            if inputs.iter().any(|i| i["id"].as_str().is_some_and(|id| id.starts_with("bad"))) {
                return ResponseTemplate::new(400).set_body_json(json!({
                    "status": "error", "category": "VALIDATION_ERROR",
                    "message": "Property values were not valid: invalid email",
                }));
            }
            let mut response = upsert_like_hubspot(request);
            if inputs.iter().any(|i| i["id"] == json!("flaky@example.com")) && !failed_once.swap(true, Ordering::SeqCst) {
                let results: Vec<Value> = inputs
                    .iter()
                    .filter(|i| i["id"] != json!("flaky@example.com"))
                    .map(|i| json!({ "id": format!("hs-{}", i["id"].as_str().unwrap_or("")), "objectWriteTraceId": i["objectWriteTraceId"] }))
                    .collect();
                response = ResponseTemplate::new(207).set_body_json(json!({
                    "status": "COMPLETE", "results": results, "numErrors": 1,
                    "errors": [{ "status": "error", "category": "RATE_LIMITS", "message": "secondly limit",
                                 "context": { "ids": ["flaky@example.com"] } }],
                }));
            }
            response
        })
        .mount(&server)
        .await;
    let sinks = sinks(&hubspot_at(&server.uri())).await;
    let playbook = parse_playbook(
        "format = 1\nrevision = \"r\"\nactions = []\n[value]\nexpected_months = 1\n[budget]\ndaily = 0\n[[rules]]\nname = \"sync only\"\nactions = []\n",
        "sync-only playbook",
    )
    .expect("playbook");
    let emails = [
        "bad0@example.com",
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
        "flaky@example.com",
        "e@example.com",
        "f@example.com",
    ];
    let candidates: Vec<Candidate> = emails
        .iter()
        .enumerate()
        .map(|(i, email)| {
            let mut c = candidates()[i].clone();
            c.email = Some((*email).to_owned());
            c
        })
        .collect();
    let plan = plan(
        &playbook,
        day("2026-12-01"),
        &candidates,
        &ContactHistory::default(),
    );
    let dir = tempfile::tempdir().expect("dir");
    let ledger = LocalActionLedger::new(dir.path(), 300);
    let clock = || at("2026-12-01", 12);
    let outcomes = send(&ledger, &sinks, None, &clock, &plan).await;
    let by_customer: BTreeMap<&str, Status> = outcomes
        .iter()
        .map(|o| (o.customer_id.as_str(), o.status))
        .collect();
    assert_eq!(by_customer["C0000"], Status::Failed, "the bad e-mail");
    let bad = outcomes
        .iter()
        .find(|o| o.customer_id == "C0000")
        .expect("outcome");
    assert!(bad.detail.contains("invalid email"), "{}", bad.detail);
    assert!(
        by_customer
            .iter()
            .filter(|(c, _)| **c != "C0000")
            .all(|(_, s)| *s == Status::Sent),
        "{outcomes:#?}"
    );
    // 8 → 400; 4 with the bad one → 400, 2 → 400, the bad one alone → 400; its partner,
    // the other 2 and the other 4 (flaky refused) → ok; the flaky one again, alone.
    let upserts = requests_to(&server, "/contacts/batch/upsert", "POST").await;
    let sizes: Vec<usize> = upserts
        .iter()
        .map(|r| json_body(r)["inputs"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [8, 4, 2, 1, 1, 2, 4, 1]);
    // The permanent failure is recorded: a re-run does not send it again.
    let again = send(&ledger, &sinks, None, &clock, &plan).await;
    assert!(again.iter().all(|o| o.status == Status::AlreadyDone));
    let bad = again
        .iter()
        .find(|o| o.customer_id == "C0000")
        .expect("outcome");
    assert!(bad.detail.starts_with("failed: "), "{}", bad.detail);
    assert_eq!(
        requests_to(&server, "/contacts/batch/upsert", "POST")
            .await
            .len(),
        8
    );
}

#[tokio::test]
async fn a_crashed_run_is_resumed_without_sending_twice() {
    let server = providers().await;
    // Twilio shows what the crashed run sent to the first customer.
    let plan = day_plan("2026-12-01");
    let sms: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| a.action == "discount-sms")
        .collect();
    let (first, second, third) = (sms[0], sms[1], sms[2]);
    let sent_body = first.message.as_ref().expect("message").body.clone();
    Mock::given(method("GET"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .respond_with(move |request: &Request| {
            let to = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "To")
                .map(|(_, v)| v.into_owned());
            let messages = if to.as_deref() == Some("+15550000096") {
                json!([{ "sid": "SM-before-the-crash", "body": sent_body, "status": "delivered" }])
            } else {
                json!([])
            };
            ResponseTemplate::new(200).set_body_json(json!({ "messages": messages }))
        })
        .mount(&server)
        .await;
    assert_eq!(
        first.phone.as_deref(),
        Some("+15550000096"),
        "the riskiest text-message customer"
    );
    let sinks = all_sinks(&server).await;
    let dir = tempfile::tempdir().expect("dir");
    let ledger = LocalActionLedger::new(dir.path(), 300);
    let call = plan
        .actions
        .iter()
        .find(|a| a.action == "call-owner")
        .expect("a call");
    // The crashed run: it claimed these, and died; the third it had settled.
    let crashed_at = at("2026-12-01", 11);
    for action in [first, second, call, third] {
        ledger.claim(&action.key, crashed_at).await.expect("claim");
    }
    ledger
        .finish(&third.key, crashed_at + 1, "sent twilio SM-earlier")
        .await
        .expect("finish");

    let clock = || at("2026-12-01", 12);
    let outcomes = send(&ledger, &sinks, None, &clock, &plan).await;
    let of = |key: &str| {
        outcomes
            .iter()
            .find(|o| o.key == key)
            .expect("outcome")
            .clone()
    };
    let found = of(&first.key);
    assert_eq!(
        (found.status, found.provider_id.as_deref()),
        (Status::Sent, Some("SM-before-the-crash"))
    );
    assert_eq!(of(&second.key).status, Status::Sent);
    assert_eq!(of(&third.key).status, Status::AlreadyDone);
    let unknown = of(&call.key);
    assert_eq!(
        unknown.status,
        Status::Unknown,
        "a HubSpot task may exist: never resent"
    );
    assert!(
        unknown.detail.contains("check hubspot"),
        "{}",
        unknown.detail
    );
    let posted: Vec<String> = requests_to(&server, "/Messages.json", "POST")
        .await
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        posted.len(),
        97 - 2,
        "neither the found one nor the settled one again"
    );
    assert!(!posted.iter().any(|body| body.contains("To=%2B15550000096")));
    let tasks = requests_to(&server, "/tasks/batch/create", "POST").await;
    assert_eq!(
        json_body(&tasks[0])["inputs"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn an_outage_leaves_actions_for_the_next_run_which_sends_only_those() {
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down for maintenance"))
        .mount(&down)
        .await;
    let up = providers().await;
    let uri = up.uri();
    // HubSpot works, Twilio is down.
    let broken = sinks(&format!(
        "{}{}{}",
        hubspot_at(&uri),
        twilio_at(&down.uri()),
        push_at(&uri)
    ))
    .await;
    let playbook = playbook();
    let plan = day_plan("2026-12-01");
    let dir = tempfile::tempdir().expect("dir");
    let ledger = LocalActionLedger::new(dir.path(), 300);
    let clock = || at("2026-12-01", 12);
    let outcomes = send(
        &ledger,
        &broken,
        playbook.quiet_hours.as_ref(),
        &clock,
        &plan,
    )
    .await;
    let counts = statuses(&outcomes);
    assert_eq!(
        counts.get(&("discount-sms".into(), Status::RetryLater)),
        Some(&97)
    );
    assert_eq!(counts.get(&("crm-sync".into(), Status::Sent)), Some(&150));
    let retry = outcomes
        .iter()
        .find(|o| o.status == Status::RetryLater)
        .expect("one");
    assert!(retry.detail.contains("HTTP 503"), "{}", retry.detail);

    let healthy = all_sinks(&up).await;
    let later = || at("2026-12-01", 13);
    let outcomes = send(
        &ledger,
        &healthy,
        playbook.quiet_hours.as_ref(),
        &later,
        &plan,
    )
    .await;
    let counts = statuses(&outcomes);
    assert_eq!(
        counts.get(&("discount-sms".into(), Status::Sent)),
        Some(&97)
    );
    assert_eq!(
        counts.get(&("crm-sync".into(), Status::AlreadyDone)),
        Some(&150)
    );
    assert_eq!(requests_to(&up, "/Messages.json", "POST").await.len(), 97);
    assert_eq!(
        requests_to(&up, "/contacts/batch/upsert", "POST")
            .await
            .len(),
        2,
        "contacts only once"
    );
}

#[tokio::test]
async fn quiet_hours_hold_texts_and_pushes_for_a_later_run() {
    let server = providers().await;
    let sinks = all_sinks(&server).await;
    let playbook = playbook();
    let plan = day_plan("2026-12-01");
    let dir = tempfile::tempdir().expect("dir");
    let ledger = LocalActionLedger::new(dir.path(), 300);
    let night = || at("2026-12-01", 23);
    let outcomes = send(
        &ledger,
        &sinks,
        playbook.quiet_hours.as_ref(),
        &night,
        &plan,
    )
    .await;
    let counts = statuses(&outcomes);
    assert_eq!(
        counts.get(&("discount-sms".into(), Status::Deferred)),
        Some(&97)
    );
    assert_eq!(
        counts.get(&("app-push".into(), Status::Deferred)),
        Some(&25)
    );
    assert_eq!(
        counts.get(&("call-owner".into(), Status::Sent)),
        Some(&3),
        "tasks wake nobody"
    );
    let deferred = outcomes
        .iter()
        .find(|o| o.status == Status::Deferred)
        .expect("one");
    assert!(
        deferred.detail.contains("2026-12-02T08:00:00Z"),
        "{}",
        deferred.detail
    );
    assert!(
        requests_to(&server, "/Messages.json", "POST")
            .await
            .is_empty()
    );

    let morning = || at("2026-12-02", 9);
    let outcomes = send(
        &ledger,
        &sinks,
        playbook.quiet_hours.as_ref(),
        &morning,
        &plan,
    )
    .await;
    let counts = statuses(&outcomes);
    assert_eq!(
        counts.get(&("discount-sms".into(), Status::Sent)),
        Some(&97)
    );
    assert_eq!(counts.get(&("app-push".into(), Status::Sent)), Some(&25));
}

#[tokio::test]
async fn the_budget_holds_and_cool_downs_carry_over_to_the_next_day() {
    let server = providers().await;
    let sinks = all_sinks(&server).await;
    let mut playbook = playbook();
    playbook.budget.daily = 300.0;
    let dir = tempfile::tempdir().expect("dir");
    let store = LocalStore::new(dir.path());
    let ledger = LocalActionLedger::new(dir.path().join("actions/ledger"), 300);
    let clock = || at("2026-12-01", 12);
    let dispatcher = Dispatcher {
        ledger: &ledger,
        sinks: &sinks,
        quiet_hours: None,
        clock: &clock,
        options: options(),
    };
    let first = run_day(
        &store,
        &ledger,
        &playbook,
        day("2026-12-01"),
        &candidates(),
        Some(&dispatcher),
    )
    .await
    .expect("day 1");
    let summary = &first.summary;
    assert!(
        summary.plan.expected_cost <= 300.0 + 1e-9,
        "{:?}",
        summary.plan
    );
    assert!(
        summary.plan.skipped.get("budget").copied().unwrap_or(0) > 0,
        "{:?}",
        summary.plan.skipped
    );
    let texts = summary
        .plan
        .planned
        .get("discount-sms")
        .copied()
        .unwrap_or(0);
    assert!(texts > 0);
    assert!(
        dir.path()
            .join("actions/dt=2026-12-01/outcomes.jsonl")
            .exists()
    );
    assert!(
        dir.path()
            .join("actions/dt=2026-12-01/summary.json")
            .exists()
    );

    // The same day again, even with a bigger budget: the frozen plan, nothing new.
    let mut bigger = playbook.clone();
    bigger.budget.daily = 100_000.0;
    bigger.revision = "test-2".into();
    let before = server.received_requests().await.expect("recorded").len();
    let replay = run_day(
        &store,
        &ledger,
        &bigger,
        day("2026-12-01"),
        &candidates(),
        Some(&dispatcher),
    )
    .await
    .expect("replay");
    assert!(replay.summary.frozen);
    assert!(replay.summary.warnings[0].contains("frozen with playbook revision 'test-1'"));
    assert_eq!(replay.summary.plan, first.summary.plan);
    assert_eq!(
        server.received_requests().await.expect("recorded").len(),
        before
    );

    // The next day: nobody gets again what they got (a text: 60 days; a call: 30).
    let next = run_day(
        &store,
        &ledger,
        &playbook,
        day("2026-12-02"),
        &candidates(),
        None,
    )
    .await
    .expect("day 2 dry run");
    let got: std::collections::BTreeSet<(String, String)> = first
        .outcomes
        .iter()
        .filter(|o| {
            o.status == Status::Sent && matches!(o.action.as_str(), "discount-sms" | "call-owner")
        })
        .map(|o| (o.customer_id.clone(), o.action.clone()))
        .collect();
    assert_eq!(got.len() as u64, texts + 3);
    for action in &next.plan.actions {
        assert!(
            !got.contains(&(action.customer_id.clone(), action.action.clone())),
            "{} again to {}",
            action.action,
            action.customer_id
        );
    }
    assert!(next.plan.skipped.iter().any(|s| {
        s.detail
            .contains("cool-down: a discount action on 2026-12-01, next from 2027-01-30")
    }));
    assert!(!next.summary.sent);
    assert!(
        !dir.path()
            .join("actions/dt=2026-12-02/outcomes.jsonl")
            .exists(),
        "a dry run sends nothing"
    );
}

#[tokio::test]
async fn controls_get_nothing_and_are_held_back_from_the_group_on_the_next_days() {
    let server = providers().await;
    let sinks = all_sinks(&server).await;
    let mut playbook = playbook();
    playbook.control_share = 0.3;
    let dir = tempfile::tempdir().expect("dir");
    let store = LocalStore::new(dir.path());
    let ledger = LocalActionLedger::new(dir.path().join("actions/ledger"), 300);
    let clock = || at("2026-12-01", 12);
    let dispatcher = Dispatcher {
        ledger: &ledger,
        sinks: &sinks,
        quiet_hours: None,
        clock: &clock,
        options: options(),
    };
    let first = run_day(
        &store,
        &ledger,
        &playbook,
        day("2026-12-01"),
        &candidates(),
        Some(&dispatcher),
    )
    .await
    .expect("day 1");
    let controls: Vec<_> = first
        .plan
        .skipped
        .iter()
        .filter_map(|s| Some((s.customer_id.clone(), s.held_back.clone()?)))
        .collect();
    assert!(controls.len() > 10, "{:?}", first.summary.plan);
    assert_eq!(
        first.summary.plan.controls.values().sum::<u64>(),
        controls.len() as u64
    );
    // Nothing went to a control: no outcome names one, and the written skipped list
    // holds them with the action held back.
    let held: std::collections::BTreeSet<&str> = controls.iter().map(|(c, _)| c.as_str()).collect();
    assert!(
        first
            .outcomes
            .iter()
            .all(|o| !held.contains(o.customer_id.as_str())
                || o.action == churn_core::playbook::CRM_SYNC)
    );
    let written = std::fs::read_to_string(dir.path().join("actions/dt=2026-12-01/skipped.jsonl"))
        .expect("skipped");
    assert_eq!(
        written.matches("\"reason\":\"control\"").count(),
        controls.len()
    );
    // The ledger holds them back from the action's group as if they had got it.
    let pairs: Vec<(String, String)> = controls
        .iter()
        .map(|(customer, held)| (customer.clone(), held.cooldown_group.clone()))
        .collect();
    let history = ledger.history(&pairs).await.expect("history");
    for (customer, group) in &pairs {
        assert_eq!(
            history.last(customer, group),
            Some(day("2026-12-01")),
            "{customer}"
        );
    }
    // The next day, a control held back from a text is not texted (60-day cool-down).
    let next = run_day(
        &store,
        &ledger,
        &playbook,
        day("2026-12-02"),
        &candidates(),
        None,
    )
    .await
    .expect("day 2 dry run");
    for (customer, held) in &controls {
        if held.action == "discount-sms" {
            assert!(
                next.plan
                    .actions
                    .iter()
                    .all(|a| &a.customer_id != customer || a.action != "discount-sms"),
                "{customer} texted after being held back"
            );
        }
    }
    // A dry run records nobody: its controls are not in the ledger.
    let dry_controls: Vec<(String, String)> = next
        .plan
        .skipped
        .iter()
        .filter_map(|s| {
            Some((
                s.customer_id.clone(),
                s.held_back.as_ref()?.cooldown_group.clone(),
            ))
        })
        .collect();
    let dry_history = ledger.history(&dry_controls).await.expect("history");
    assert!(
        dry_controls
            .iter()
            .all(|(c, g)| dry_history.last(c, g) != Some(day("2026-12-02")))
    );
}

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_and_contact_details_never_reach_logs_or_outcomes() {
    // Providers that echo what they were sent, as some error pages do.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(|request: &Request| {
            let auth = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            ResponseTemplate::new(400).set_body_string(format!(
                "bad credentials {auth} for {}",
                String::from_utf8_lossy(&request.body)
            ))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .respond_with(|request: &Request| {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            let to = body.split('&').find_map(|p| p.strip_prefix("To=")).unwrap_or("").replace("%2B", "+");
            ResponseTemplate::new(400).set_body_json(json!({ "code": 21211, "message": format!("The 'To' number {to} is not a valid phone number.") }))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/push"))
        .respond_with(|request: &Request| {
            let signature = request
                .headers
                .get("x-churn-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            ResponseTemplate::new(422).set_body_string(format!("refused {signature}"))
        })
        .mount(&server)
        .await;
    let sinks = all_sinks(&server).await;
    let plan = day_plan("2026-12-01");
    let dir = tempfile::tempdir().expect("dir");
    let ledger = LocalActionLedger::new(dir.path(), 300);
    let clock = || at("2026-12-01", 12);

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let outcomes = {
        let _guard = tracing::subscriber::set_default(subscriber);
        send(&ledger, &sinks, None, &clock, &plan).await
    };
    assert!(
        outcomes.iter().all(|o| o.status == Status::Failed),
        "{outcomes:#?}"
    );
    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(
        logs.contains("action not sent") && logs.contains("C0099"),
        "the failures are logged: {logs}"
    );
    let outcome_text = serde_json::to_string(&outcomes).expect("json");
    for text in [&logs, &outcome_text] {
        for (_, secret) in TOKENS {
            assert!(!text.contains(secret), "a token leaked: {secret}");
        }
        for candidate in candidates() {
            let (email, phone) = (
                candidate.email.expect("email"),
                candidate.phone.expect("phone"),
            );
            assert!(!text.contains(&email), "an e-mail address leaked: {email}");
            assert!(!text.contains(&phone), "a phone number leaked: {phone}");
        }
    }
    assert!(
        outcome_text.contains("+1555***"),
        "masked numbers keep the failures readable"
    );
}

/// An expired or revoked token used to fail every action of the day for good, silently:
/// now the run stops with the provider's error, nothing is recorded as failed, and the
/// next run (credentials fixed) sends every action once.
#[tokio::test]
async fn refused_credentials_stop_the_run_and_give_every_action_back() {
    let refusing = MockServer::start().await;
    for route in [
        "/crm/v3/objects/contacts/batch/upsert",
        "/crm/v3/objects/tasks/batch/create",
    ] {
        Mock::given(method("POST"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "status": "error", "category": "INVALID_AUTHENTICATION",
                "message": "Authentication credentials not found."
            })))
            .mount(&refusing)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({ "code": 20003, "message": "Authenticate", "status": 401 })),
        )
        .mount(&refusing)
        .await;
    let plan = day_plan("2026-12-01");
    let dir = tempfile::tempdir().expect("dir");
    let ledger = LocalActionLedger::new(dir.path(), 300);
    let clock = || at("2026-12-01", 12);
    for sinks in [
        sinks(&hubspot_at(&refusing.uri())).await,
        sinks(&twilio_at(&refusing.uri())).await,
    ] {
        let only: Vec<_> = plan
            .actions
            .iter()
            .filter(|a| match a.channel {
                churn_core::playbook::Channel::Crm | churn_core::playbook::Channel::Call => {
                    sinks.crm.is_some()
                }
                churn_core::playbook::Channel::Sms => sinks.sms.is_some(),
                _ => false,
            })
            .cloned()
            .collect();
        let part = Plan {
            actions: only,
            ..plan.clone()
        };
        let error = Dispatcher {
            ledger: &ledger,
            sinks: &sinks,
            quiet_hours: None,
            clock: &clock,
            options: options(),
        }
        .run(&part)
        .await
        .expect_err("the run stops");
        assert!(
            matches!(error, churn_io::IoError::Unauthorized { .. })
                || matches!(
                    error,
                    churn_io::IoError::Http {
                        status: Some(401),
                        ..
                    }
                ),
            "{error}"
        );
        for (_, secret) in TOKENS {
            assert!(!error.to_string().contains(secret), "{error}");
        }
        // Nothing was settled: every key can be claimed afresh.
        for action in &part.actions {
            let claim = ledger.claim(&action.key, clock()).await.expect("claim");
            assert_eq!(
                claim,
                churn_io::action_ledger::ActionClaim::Fresh,
                "{}",
                action.key
            );
            ledger.release(&action.key).await.expect("release");
        }
    }
    // Credentials fixed: the same plan goes out whole, once.
    let server = providers().await;
    let outcomes = send(&ledger, &all_sinks(&server).await, None, &clock, &plan).await;
    assert!(
        outcomes.iter().all(|o| o.status == Status::Sent),
        "{outcomes:#?}"
    );
}

#[tokio::test]
async fn a_plan_needing_a_missing_connection_is_refused_before_it_is_frozen() {
    let server = providers().await;
    let crm_only = sinks(&hubspot_at(&server.uri())).await;
    let dir = tempfile::tempdir().expect("dir");
    let store = LocalStore::new(dir.path());
    let ledger = LocalActionLedger::new(dir.path().join("actions/ledger"), 300);
    let clock = || at("2026-12-01", 12);
    let dispatcher = Dispatcher {
        ledger: &ledger,
        sinks: &crm_only,
        quiet_hours: None,
        clock: &clock,
        options: options(),
    };
    let error = run_day(
        &store,
        &ledger,
        &playbook(),
        day("2026-12-01"),
        &candidates(),
        Some(&dispatcher),
    )
    .await
    .expect_err("no [sms] and no [push]");
    let message = error.to_string();
    assert!(
        message.contains("97 sms action(s) need [sms]") && message.contains("need [push]"),
        "{message}"
    );
    assert!(!error.is_retryable());
    assert!(
        server
            .received_requests()
            .await
            .expect("recorded")
            .is_empty(),
        "nothing sent"
    );
    assert!(
        !dir.path().join("actions/dt=2026-12-01/plan.json").exists(),
        "nothing frozen"
    );
}
