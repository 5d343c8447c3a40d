use std::path::Path;

use churn_pipeline::ingest::{IngestOptions, ingest};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;
use polars::prelude::*;

use crate::common::{curated_path, ingest_on, quarantine, report_json, write_raw};

const CUSTOMERS: &str = "customer_id,signup_date,birth_year,gender,region,partner,dependents,acquisition_channel,email,phone,contact_opt_out
C1,2024-01-10,1980,female,north,yes,no,organic,c1@example.com,+15550000001,false
C2,2024-03-05,1991,male,south,no,no,referral,,,
";
const ACCOUNTS: &str = "account_id,customer_id,plan,contract_type,start_date,end_date,monthly_charge,payment_method,paperless_billing
A1,C1,basic,month-to-month,2024-01-10,,25.5,credit-card,true
A2,C2,premium,two-year,2024-03-05,,80,bank-transfer,false
";
/// Lines 1–5 are good (line 3 a redelivery of line 2), lines 6–11 each wrong in one way.
const EVENTS: &str = r#"{"customer_id":"C1","occurred_at":"2026-03-01T10:00:00Z","event":"app_open","duration_seconds":120,"bytes":1000000,"device":"Mobile"}
{"customer_id":"C1","occurred_at":"2026-03-01T10:20:00Z","event":"video_play","bytes":2000000}
{"customer_id":"C1","occurred_at":"2026-03-01T10:20:00Z","event":"video_play","bytes":2000000}
{"customer_id":"C1","occurred_at":"2026-03-01T11:10:00Z","event":"app_open"}
{"customer_id":"C2","occurred_at":"2026-03-02T08:00:00","event":"app_open","device":"desktop"}
this is not JSON
{"customer_id":"C9","occurred_at":"2026-03-01T10:00:00","event":"app_open"}
{"customer_id":"C1","occurred_at":"2099-01-01T00:00:00","event":"app_open"}
{"customer_id":"C2","occurred_at":"yesterday","event":"app_open"}
{"customer_id":"C2","occurred_at":"2026-03-02T09:00:00","event":" "}
{"customer_id":"C2","occurred_at":"2026-03-02T09:00:00","event":"call","duration_seconds":-5}
"#;
/// One session of 24 h 30 min: longer than the sessions' contract allows.
const LONG_EVENTS: &str = "customer_id,occurred_at,event,duration_seconds,bytes,device
C2,2026-03-05T00:00:00,stream,86400,,tv
C2,2026-03-05T23:30:00,stream,3600,,tv
";
/// A session recorded directly, with the same key as the first sessionised one.
const SESSIONS: &str = "customer_id,started_at,duration_minutes,minutes_used,data_used_mb,device
C1,2026-03-01T10:00:00,5,,,mobile
";

fn extract(dir: &Path) {
    write_raw(dir, "customers", "part-0.csv", CUSTOMERS.as_bytes());
    write_raw(dir, "accounts", "part-0.csv", ACCOUNTS.as_bytes());
    write_raw(dir, "events", "app.jsonl", EVENTS.as_bytes());
    write_raw(dir, "events", "long.csv", LONG_EVENTS.as_bytes());
    write_raw(dir, "sessions", "part-0.csv", SESSIONS.as_bytes());
}

fn curated_sessions(dir: &Path) -> DataFrame {
    let file = std::fs::File::open(curated_path(dir, "sessions")).expect("curated sessions");
    ParquetReader::new(file).finish().expect("parquet")
}

#[test]
fn app_events_become_sessions_and_every_event_is_accounted_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    extract(dir.path());
    let report = ingest_on(dir.path(), "2026-06-01").expect("ingest");
    assert!(report.balanced);

    let events = report.events.as_ref().expect("an events entry");
    assert_eq!(events.rows.rows_in, 13);
    assert_eq!(events.rows.duplicates, 1, "line 3 repeats line 2");
    assert_eq!(events.rows.quarantined, 6);
    assert_eq!(events.rows.curated, 6, "events that went into sessions");
    assert!(events.rows.balanced);
    assert_eq!(events.session_gap_minutes, 30);
    // C1 10:00–10:20, C1 11:10, C2 08:00, and C2's 24.5-hour stream.
    assert_eq!(events.sessions, 4);
    assert_eq!(report.quarantined(), 6 + 2);

    let mut reasons: Vec<(u64, String)> = quarantine(dir.path(), "events")
        .iter()
        .map(|record| {
            (
                record["line"].as_u64().expect("line"),
                record["kind"].as_str().expect("kind").to_owned(),
            )
        })
        .collect();
    reasons.sort();
    let kinds: Vec<&str> = reasons.iter().map(|(_, kind)| kind.as_str()).collect();
    assert_eq!(
        reasons.iter().map(|(line, _)| *line).collect::<Vec<_>>(),
        [6, 7, 8, 9, 10, 11]
    );
    assert_eq!(kinds[1], "unknown customer");
    assert_eq!(kinds[2], "future");
    assert!(kinds.iter().all(|kind| !kind.is_empty()), "{kinds:?}");
    assert_eq!(
        events.rows.quarantined_by_kind.values().sum::<u64>(),
        6,
        "{:?}",
        events.rows.quarantined_by_kind
    );

    // The sessions: one from raw/sessions/ and four from the events.
    let sessions = &report.sources["sessions"];
    assert_eq!(sessions.rows_in, 5);
    assert_eq!(sessions.curated, 3);
    assert_eq!(sessions.quarantined, 2);
    assert!(sessions.balanced);
    let files: Vec<(&str, &str, u64)> = sessions
        .files
        .iter()
        .map(|file| (file.path.as_str(), file.format, file.rows_in))
        .collect();
    assert_eq!(
        files,
        [
            ("raw/sessions/part-0.csv", "csv", 1),
            ("raw/events/app.jsonl", "app events, sessionised", 3),
            ("raw/events/long.csv", "app events, sessionised", 1),
        ]
    );
    let refused = quarantine(dir.path(), "sessions");
    let mut refused: Vec<(String, u64, String)> = refused
        .iter()
        .map(|record| {
            (
                record["file"].as_str().expect("file").to_owned(),
                record["line"].as_u64().expect("line"),
                record["kind"].as_str().expect("kind").to_owned(),
            )
        })
        .collect();
    refused.sort();
    assert_eq!(refused[0].0, "raw/events/app.jsonl");
    assert_eq!(refused[0].1, 1, "the session began at line 1");
    assert_eq!(
        refused[0].2, "key conflict",
        "raw/sessions/ holds the same key"
    );
    assert_eq!(refused[1].0, "raw/events/long.csv");
    assert_eq!(refused[1].1, 2, "the session began at the first row");
    assert!(
        refused[1].2.contains("range"),
        "24.5 hours is out of range: {refused:?}"
    );

    let curated = curated_sessions(dir.path());
    let sorted = curated
        .sort(
            ["customer_id", "started_at"],
            SortMultipleOptions::default(),
        )
        .expect("sort");
    let texts = |name: &str| -> Vec<Option<String>> {
        let column = sorted
            .column(name)
            .expect("column")
            .cast(&DataType::String)
            .expect("cast");
        column
            .str()
            .expect("text")
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    };
    assert_eq!(
        texts("customer_id"),
        [Some("C1".into()), Some("C1".into()), Some("C2".into())]
    );
    assert_eq!(
        texts("duration_minutes"),
        [Some("5.0".into()), Some("0.0".into()), Some("0.0".into())]
    );
    assert_eq!(
        texts("device"),
        [
            Some("mobile".into()),
            Some("unknown".into()),
            Some("desktop".into())
        ]
    );

    // The published report names the events' quarantine file.
    let json = report_json(dir.path());
    let file = json["events"]["quarantine_file"]
        .as_str()
        .expect("a quarantine file");
    assert!(file.ends_with("events.jsonl"), "{file}");
    assert_eq!(json["events"]["sessions"], 4);
}

#[test]
fn the_session_gap_is_an_option() {
    let dir = tempfile::tempdir().expect("tempdir");
    extract(dir.path());
    // Without raw/sessions/, so the C1 session from 10:00 is curated.
    std::fs::remove_dir_all(dir.path().join("raw/sessions")).expect("rm");
    let reference_date = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
    let options = IngestOptions {
        session_gap_minutes: 60,
        ..IngestOptions::new(reference_date)
    };
    let report = ingest(&Store::new(dir.path()), &options, &NoProgress).expect("ingest");
    let events = report.events.as_ref().expect("events");
    assert_eq!(events.session_gap_minutes, 60);
    // 11:10 is 50 minutes after 10:20: one session for C1 now.
    assert_eq!(events.sessions, 3);
    let curated = curated_sessions(dir.path());
    let c1 = curated
        .lazy()
        .filter(col("customer_id").eq(lit("C1")))
        .collect()
        .expect("filter");
    assert_eq!(c1.height(), 1);
    let minutes = c1
        .column("duration_minutes")
        .expect("minutes")
        .f64()
        .expect("f64")
        .get(0);
    assert_eq!(minutes, Some(70.0));
    let mb = c1
        .column("data_used_mb")
        .expect("mb")
        .f64()
        .expect("f64")
        .get(0);
    assert_eq!(mb, Some(3.0));

    let zero = IngestOptions {
        session_gap_minutes: 0,
        ..IngestOptions::new(reference_date)
    };
    let error = ingest(&Store::new(dir.path()), &zero, &NoProgress).expect_err("refused");
    assert!(error.to_string().contains("session gap"), "{error}");
}

#[test]
fn an_events_folder_without_files_is_reported_not_passed_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    extract(dir.path());
    for name in ["app.jsonl", "long.csv"] {
        std::fs::remove_file(dir.path().join("raw/events").join(name)).expect("rm");
    }
    write_raw(dir.path(), "events", "notes.txt", b"not data");
    let report = ingest_on(dir.path(), "2026-06-01").expect("ingest");
    let events = report.events.as_ref().expect("events");
    assert_eq!(events.rows.rows_in, 0);
    assert_eq!(events.rows.skipped.len(), 1);
    assert!(
        events.rows.skipped[0]
            .path
            .ends_with("raw/events/notes.txt")
    );
    assert!(report.skipped.is_empty(), "raw/events/ is a known folder");
    assert_eq!(report.sources["sessions"].curated, 1);
}
