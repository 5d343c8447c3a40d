//! The end of the data: an event after the ingest's reference date is quarantined, and
//! the data end is the last day every source reaches, naming the source that limits it.

use std::path::Path;

use chrono::NaiveDate;
use churn_pipeline::features::build_as_of;
use churn_pipeline::store::Store;

use crate::common::{ingest_on, quarantine, write_raw};
use crate::hostile_input::{
    ACCOUNT_HEADER, CUSTOMER_HEADER, SESSION_HEADER, customer_lines, with_header,
};

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

fn clean_extract(dir: &Path) {
    write_raw(
        dir,
        "customers",
        "c.csv",
        with_header(CUSTOMER_HEADER, &customer_lines(3)).as_bytes(),
    );
    write_raw(
        dir,
        "accounts",
        "a.csv",
        format!(
            "{ACCOUNT_HEADER}\n\
             A1,C0001,basic,month-to-month,2025-01-01,,25,credit-card,true\n\
             A2,C0002,basic,month-to-month,2025-01-01,,25,credit-card,true\n\
             A3,C0003,basic,month-to-month,2026-03-30,,25,credit-card,true\n"
        )
        .as_bytes(),
    );
    write_raw(
        dir,
        "billing",
        "b.csv",
        b"invoice_id,customer_id,invoice_date,due_date,amount,paid_date,status
I1,C0001,2026-03-25,2026-04-08,25,2026-03-30,paid
I2,C0002,2026-03-25,2026-04-08,25,2027-01-01,paid
",
    );
}

/// Issue 12.2: a churn in 2099 or a session in 2030 used to become the data's end date,
/// so every label looked known. Events after the reference date are quarantined.
#[test]
fn future_events_are_quarantined_and_do_not_move_the_data_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_extract(dir.path());
    write_raw(
        dir.path(),
        "sessions",
        "s.csv",
        format!(
            "{SESSION_HEADER}\n\
             C0001,2026-03-30T10:00:00Z,5,1,1,tv\n\
             C0002,2030-01-01T00:00:00Z,5,1,1,tv\n\
             C0003,2026-04-01T23:59:59Z,5,1,1,tv\n"
        )
        .as_bytes(),
    );
    write_raw(
        dir.path(),
        "churn_labels",
        "l.csv",
        b"customer_id,churn_date,churn_type\nC0001,2026-03-28,voluntary\nC0002,2099-01-01,voluntary\n",
    );
    let report = ingest_on(dir.path(), "2026-04-01").expect("ingest");
    for (source, line, value) in [
        ("sessions", 3, "2030-01-01T00:00:00Z"),
        ("churn_labels", 3, "2099-01-01"),
        ("billing", 3, "2027-01-01"),
    ] {
        let rows = quarantine(dir.path(), source);
        assert_eq!(rows.len(), 1, "{source}: {rows:?}");
        assert_eq!(rows[0]["kind"], "future", "{source}");
        assert_eq!(rows[0]["line"], line, "{source}");
        let reason = rows[0]["reason"].as_str().expect("reason");
        assert!(
            reason.contains(value) && reason.contains("2026-04-01"),
            "{source}: {reason}"
        );
    }
    assert!(report.balanced);

    let summary =
        build_as_of(&Store::new(dir.path()), date("2026-03-01"), 30, None).expect("features");
    assert_eq!(summary.data_end.as_deref(), Some("2026-04-01"));
}

/// Issue 12.2: the data end is the last day every source reaches; a source that stops
/// early limits it and is named, in the summary and in the "labels left empty" warning.
#[test]
fn a_source_that_stops_early_limits_the_data_end_and_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    clean_extract(dir.path());
    write_raw(
        dir.path(),
        "sessions",
        "s.csv",
        format!("{SESSION_HEADER}\nC0001,2026-03-31T10:00:00Z,5,1,1,tv\n").as_bytes(),
    );
    write_raw(
        dir.path(),
        "churn_labels",
        "l.csv",
        b"customer_id,churn_date,churn_type\nC0002,2026-02-01,voluntary\n",
    );
    ingest_on(dir.path(), "2026-04-01").expect("ingest");
    let store = Store::new(dir.path());
    let summary = build_as_of(&store, date("2026-01-10"), 30, None).expect("features");
    assert_eq!(summary.data_end.as_deref(), Some("2026-02-01"));
    assert_eq!(summary.labelled, 0, "the churns of February are not known");
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("left empty") && w.contains("churn_labels")),
        "{:?}",
        summary.warnings
    );
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("features/as_of=2026-01-10/summary.json"))
            .expect("summary"),
    )
    .expect("json");
    assert_eq!(written["data_end"], "2026-02-01");
    assert_eq!(written["data_end_source"], "churn_labels");
}
