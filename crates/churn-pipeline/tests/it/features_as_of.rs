use std::path::Path;

use chrono::NaiveDate;
use churn_pipeline::features::asof::{Cutoff, Sources, build};
use churn_pipeline::features::{build_as_of, load_sources};
use churn_pipeline::store::{RawFormat, Store};
use polars::prelude::*;

use crate::common::{generate_into, ingest_dir, write_raw};

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

fn value(frame: &DataFrame, customer: &str, column: &str) -> AnyValue<'static> {
    let ids = frame
        .column("customer_id")
        .expect("ids")
        .str()
        .expect("text")
        .clone();
    let row = ids
        .iter()
        .position(|id| id == Some(customer))
        .unwrap_or_else(|| panic!("{customer} is in the table"));
    frame
        .column(column)
        .unwrap_or_else(|_| panic!("column {column}"))
        .get(row)
        .expect("row")
        .into_static()
}

fn number(frame: &DataFrame, customer: &str, column: &str) -> Option<f64> {
    value(frame, customer, column).extract::<f64>()
}

fn close(actual: Option<f64>, expected: f64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what} is empty"));
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: {actual} != {expected}"
    );
}

/// A tiny extract whose features are worked out by hand, as of 2026-03-01, horizon 30.
/// Every source reaches April (C4's rows, all after as_of), so the data covers the
/// horizon.
fn hand_made(dir: &Path) {
    write_raw(
        dir,
        "customers",
        "c.csv",
        b"customer_id,signup_date,birth_year,gender,region,partner,dependents,acquisition_channel
C1,2025-01-01,1980,female,north,yes,no,organic
C2,2024-01-01,1990,male,south,no,yes,referral
C3,2025-01-01,1970,female,east,no,no,organic
C4,2026-03-01,2000,male,west,no,no,partner
",
    );
    write_raw(dir, "accounts", "a.csv", b"account_id,customer_id,plan,contract_type,start_date,end_date,monthly_charge,payment_method,paperless_billing
A1,C1,basic,month-to-month,2025-01-01,2025-12-31,50,electronic-check,true
A2,C1,basic,month-to-month,2026-01-01,2026-03-20,60,electronic-check,true
A3,C2,premium,two-year,2024-01-01,2025-06-01,90,credit-card,false
A4,C2,premium,two-year,2026-02-20,,100,credit-card,false
A5,C3,basic,one-year,2025-01-01,2026-02-01,40,mailed-check,false
A6,C4,basic,month-to-month,2026-03-01,2026-04-05,30,mailed-check,false
A7,C4,basic,month-to-month,2026-04-08,,30,mailed-check,false
");
    write_raw(
        dir,
        "sessions",
        "s.csv",
        b"customer_id,started_at,duration_minutes,minutes_used,data_used_mb,device
C1,2025-11-01T12:00:00Z,5,1,10,mobile
C1,2026-01-15T12:00:00Z,20,2,10,mobile
C1,2026-02-20T12:00:00Z,10,3,10,mobile
C1,2026-02-27T10:00:00Z,30,4,10,mobile
C1,2026-02-28T23:59:59Z,1,5,10,mobile
C1,2026-03-01T00:00:00Z,99,99,99,mobile
C2,2026-04-10T00:00:00Z,1,1,1,tv
",
    );
    write_raw(
        dir,
        "billing",
        "b.csv",
        b"invoice_id,customer_id,invoice_date,due_date,amount,paid_date,status
I1,C1,2026-01-01,2026-01-15,60,2026-01-20,paid
I2,C1,2026-02-01,2026-02-15,60,,failed
I3,C1,2026-02-25,2026-03-11,60,,open
I4,C1,2026-03-02,2026-03-16,60,,open
I5,C4,2026-04-05,2026-04-19,30,2026-04-06,paid
",
    );
    write_raw(
        dir,
        "tickets",
        "t.csv",
        b"ticket_id,customer_id,opened_at,closed_at,category,severity,satisfaction
T1,C1,2026-02-10T00:00:00Z,2026-02-11T00:00:00Z,complaint,high,2
T2,C1,2026-02-25T00:00:00Z,2026-03-05T00:00:00Z,technical,low,5
T3,C1,2026-03-02T00:00:00Z,,cancellation,critical,
T4,C4,2026-04-05T00:00:00Z,2026-04-06T00:00:00Z,technical,low,4
",
    );
    write_raw(
        dir,
        "churn_labels",
        "l.csv",
        b"customer_id,churn_date,churn_type
C2,2025-06-01,voluntary
C3,2026-02-01,voluntary
C1,2026-03-20,voluntary
C4,2026-04-05,voluntary
",
    );
}

#[test]
fn hand_computed_features_match() {
    let dir = tempfile::tempdir().expect("tempdir");
    hand_made(dir.path());
    ingest_dir(dir.path()).expect("ingest");
    let summary =
        build_as_of(&Store::new(dir.path()), date("2026-03-01"), 30, None).expect("features");
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    assert_eq!(summary.data_end.as_deref(), Some("2026-04-10"));
    let path = dir
        .path()
        .join("features/as_of=2026-03-01/features.parquet");
    let frame = churn_pipeline::store::scan_parquet_file(&path)
        .expect("scan")
        .collect()
        .expect("read features");

    // C3 left before as_of, C4 starts on as_of: neither is active.
    let ids: Vec<_> = frame
        .column("customer_id")
        .expect("ids")
        .str()
        .expect("text")
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids, ["C1", "C2"]);

    let c1 = |column: &str| number(&frame, "C1", column);
    close(c1("session_count_7d"), 2.0, "session_count_7d");
    close(c1("session_count_30d"), 3.0, "session_count_30d");
    close(c1("session_count_90d"), 4.0, "session_count_90d");
    close(c1("avg_session_minutes_7d"), 15.5, "avg_session_minutes_7d");
    close(
        c1("avg_session_minutes_90d"),
        61.0 / 4.0,
        "avg_session_minutes_90d",
    );
    close(
        c1("daily_active_minutes_30d"),
        41.0 / 30.0,
        "daily_active_minutes_30d",
    );
    close(c1("active_days_30d"), 3.0, "active_days_30d");
    close(
        c1("days_since_last_session"),
        1.0 / 86_400.0,
        "days_since_last_session",
    );
    close(
        c1("usage_trend_30d_vs_prior_60d"),
        (42.0f64 / 11.0).ln(),
        "usage_trend",
    );
    close(c1("minutes_used_30d"), 12.0, "minutes_used_30d");
    close(c1("late_payment_count_90d"), 2.0, "late_payment_count_90d");
    close(
        c1("failed_payment_count_90d"),
        1.0,
        "failed_payment_count_90d",
    );
    close(c1("outstanding_amount"), 60.0, "outstanding_amount");
    close(
        c1("days_since_last_payment"),
        40.0,
        "days_since_last_payment",
    );
    close(c1("avg_days_late_180d"), 9.5, "avg_days_late_180d");
    close(c1("tenure_days"), 424.0, "tenure_days");
    close(
        c1("days_in_current_contract"),
        59.0,
        "days_in_current_contract",
    );
    close(c1("monthly_charge"), 60.0, "monthly_charge");
    close(
        c1("monthly_charge_change_90d"),
        10.0,
        "monthly_charge_change_90d",
    );
    close(c1("price_increases_365d"), 1.0, "price_increases_365d");
    close(c1("tickets_90d"), 2.0, "tickets_90d");
    close(c1("complaints_90d"), 1.0, "complaints_90d");
    close(
        c1("cancellation_requests_90d"),
        0.0,
        "cancellation_requests_90d",
    );
    close(
        c1("high_severity_tickets_90d"),
        1.0,
        "high_severity_tickets_90d",
    );
    close(c1("open_tickets"), 1.0, "open_tickets");
    close(c1("avg_satisfaction_90d"), 2.0, "avg_satisfaction_90d");
    close(
        c1("support_interaction_score"),
        5.0 * (-19.0f64 / 30.0).exp() + (-4.0f64 / 30.0).exp(),
        "support_interaction_score",
    );
    close(c1("days_since_last_ticket"), 4.0, "days_since_last_ticket");
    close(c1("prior_churn_count"), 0.0, "prior_churn_count");
    close(c1("age"), 46.0, "age");
    assert_eq!(
        value(&frame, "C1", "contract_type"),
        AnyValue::String("month-to-month")
    );
    assert_eq!(
        value(&frame, "C1", "is_reactivated"),
        AnyValue::Boolean(false)
    );
    assert_eq!(value(&frame, "C1", "churned"), AnyValue::Boolean(true));

    let c2 = |column: &str| number(&frame, "C2", column);
    close(c2("session_count_90d"), 0.0, "no sessions count as zero");
    assert_eq!(
        c2("avg_session_minutes_30d"),
        None,
        "no sessions: no average"
    );
    assert_eq!(c2("days_since_last_session"), None);
    close(c2("tenure_days"), 9.0, "tenure restarts on return");
    close(c2("prior_churn_count"), 1.0, "prior churn");
    close(c2("days_since_last_churn"), 273.0, "days_since_last_churn");
    close(
        c2("monthly_charge_change_90d"),
        0.0,
        "no account 90 days ago",
    );
    assert_eq!(
        value(&frame, "C2", "is_reactivated"),
        AnyValue::Boolean(true)
    );
    assert_eq!(value(&frame, "C2", "churned"), AnyValue::Boolean(false));

    let spec: churn_core::FeatureSpec = serde_json::from_slice(
        &std::fs::read(
            dir.path()
                .join("features/as_of=2026-03-01/feature_spec.json"),
        )
        .expect("spec"),
    )
    .expect("spec json");
    assert!(spec.hash_is_consistent());
    let columns: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut expected = vec!["customer_id".to_owned()];
    expected.extend(spec.features.iter().map(|f| f.name.clone()));
    expected.push("churned".into());
    assert_eq!(
        columns, expected,
        "the table has exactly the spec's columns, in order"
    );
}

#[test]
fn labels_are_left_empty_when_the_data_ends_inside_the_horizon() {
    let dir = tempfile::tempdir().expect("tempdir");
    hand_made(dir.path());
    ingest_dir(dir.path()).expect("ingest");
    let summary =
        build_as_of(&Store::new(dir.path()), date("2026-03-01"), 90, None).expect("features");
    assert_eq!(summary.labelled, 0);
    assert!(
        summary.warnings[0].contains("left empty"),
        "{:?}",
        summary.warnings
    );
}

const AS_OF: &str = "2026-01-15";

fn cutoff(label_known: bool) -> Cutoff {
    Cutoff {
        as_of: churn_pipeline::dates::to_days(date(AS_OF)),
        horizon_days: 90,
        label_known,
    }
}

fn day(offset: i32) -> Expr {
    lit(churn_pipeline::dates::to_days(date(AS_OF)) + offset).cast(DataType::Date)
}

fn instant(offset_days: i32) -> Expr {
    lit(
        i64::from(churn_pipeline::dates::to_days(date(AS_OF)) + offset_days)
            * churn_pipeline::dates::MICROS_PER_DAY,
    )
    .cast(DataType::Datetime(TimeUnit::Microseconds, None))
}

/// Drops every row whose event is on or after as_of, adds a copy of every row moved past
/// as_of, and rewrites every later value (end dates, payments, closings, scores, statuses).
fn rewrite_the_future(sources: &Sources) -> Sources {
    let shifted_dates = |frame: &LazyFrame, columns: &[&str]| {
        frame.clone().with_columns(
            columns
                .iter()
                .map(|c| {
                    (col(*c).cast(DataType::Int32) + lit(400))
                        .cast(DataType::Date)
                        .alias(*c)
                })
                .collect::<Vec<_>>(),
        )
    };
    let shifted_instants = |frame: &LazyFrame, columns: &[&str]| {
        frame.clone().with_columns(
            columns
                .iter()
                .map(|c| {
                    (col(*c).cast(DataType::Int64)
                        + lit(400 * churn_pipeline::dates::MICROS_PER_DAY))
                    .cast(DataType::Datetime(TimeUnit::Microseconds, None))
                    .alias(*c)
                })
                .collect::<Vec<_>>(),
        )
    };
    let union = |a: LazyFrame, b: LazyFrame| concat([a, b], UnionArgs::default()).expect("concat");
    let accounts = sources
        .accounts
        .clone()
        .filter(col("start_date").lt(day(0)))
        .with_column(
            when(col("end_date").gt_eq(day(0)))
                .then(lit(NULL).cast(DataType::Date))
                .otherwise(col("end_date"))
                .alias("end_date"),
        );
    let billing = sources
        .billing
        .clone()
        .filter(col("invoice_date").lt(day(0)))
        .with_columns([
            when(col("paid_date").gt_eq(day(0)))
                .then(day(300))
                .otherwise(col("paid_date"))
                .alias("paid_date"),
            when(col("due_date").gt_eq(day(0)))
                .then(lit("failed"))
                .otherwise(col("status"))
                .alias("status"),
        ]);
    let tickets = sources
        .tickets
        .clone()
        .filter(col("opened_at").lt(instant(0)))
        .with_columns([
            when(col("closed_at").gt_eq(instant(0)))
                .then(lit(1i64))
                .otherwise(col("satisfaction"))
                .alias("satisfaction"),
            when(col("closed_at").gt_eq(instant(0)))
                .then(instant(50))
                .otherwise(col("closed_at"))
                .alias("closed_at"),
        ]);
    Sources {
        customers: sources.customers.clone(),
        accounts: union(
            accounts,
            shifted_dates(&sources.accounts, &["start_date", "end_date"])
                .filter(col("start_date").gt_eq(day(0))),
        ),
        billing: union(
            billing,
            shifted_dates(&sources.billing, &["invoice_date", "due_date", "paid_date"])
                .filter(col("invoice_date").gt_eq(day(0))),
        ),
        sessions: union(
            sources
                .sessions
                .clone()
                .filter(col("started_at").lt(instant(0))),
            shifted_instants(&sources.sessions, &["started_at"])
                .filter(col("started_at").gt_eq(instant(0))),
        ),
        tickets: union(
            tickets,
            shifted_instants(&sources.tickets, &["opened_at", "closed_at"])
                .filter(col("opened_at").gt_eq(instant(0))),
        ),
        churn_labels: union(
            sources
                .churn_labels
                .clone()
                .filter(col("churn_date").lt(day(0))),
            shifted_dates(&sources.churn_labels, &["churn_date"])
                .filter(col("churn_date").gt_eq(day(0))),
        ),
    }
}

fn without_label(frame: DataFrame) -> DataFrame {
    frame.drop("churned").expect("label column")
}

/// The leakage test: every event on or after as_of is removed, moved and rewritten, and
/// not one feature value changes. Changing the past does change them, so the comparison
/// can fail.
#[test]
fn no_event_on_or_after_as_of_changes_a_feature() {
    let dir = tempfile::tempdir().expect("tempdir");
    generate_into(dir.path(), 600, 0.0, RawFormat::Parquet);
    ingest_dir(dir.path()).expect("ingest");
    let sources = load_sources(&Store::new(dir.path())).expect("sources");

    let original = build(&sources, cutoff(true)).expect("features");
    assert!(
        original.height() > 200,
        "enough active customers: {}",
        original.height()
    );
    let future_rewritten = build(&rewrite_the_future(&sources), cutoff(true)).expect("features");
    assert!(
        without_label(original.clone()).equals_missing(&without_label(future_rewritten.clone())),
        "a feature changed when only events on or after {AS_OF} changed"
    );
    // The rewrite did reach the data the label comes from.
    assert!(
        !original
            .column("churned")
            .expect("label")
            .equals_missing(future_rewritten.column("churned").expect("label"))
    );

    // The comparison is sensitive: dropping one day of past sessions changes features.
    let mut past_changed = sources.clone();
    past_changed.sessions = sources.sessions.clone().filter(
        col("started_at")
            .lt(instant(-1))
            .or(col("started_at").gt_eq(instant(0))),
    );
    let changed = build(&past_changed, cutoff(true)).expect("features");
    assert!(!without_label(original).equals_missing(&without_label(changed)));
}

/// The label is exactly "a churn date within the horizon".
#[test]
fn labels_match_the_churn_dates() {
    let dir = tempfile::tempdir().expect("tempdir");
    generate_into(dir.path(), 600, 0.0, RawFormat::Csv);
    ingest_dir(dir.path()).expect("ingest");
    let sources = load_sources(&Store::new(dir.path())).expect("sources");
    let table = build(&sources, cutoff(true)).expect("features");
    let churners: std::collections::BTreeSet<String> = sources
        .churn_labels
        .clone()
        .filter(
            col("churn_date")
                .gt_eq(day(0))
                .and(col("churn_date").lt(day(90))),
        )
        .select([col("customer_id")])
        .collect()
        .expect("labels")
        .column("customer_id")
        .expect("ids")
        .str()
        .expect("text")
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    let ids = table
        .column("customer_id")
        .expect("ids")
        .str()
        .expect("text")
        .clone();
    let labels = table
        .column("churned")
        .expect("label")
        .bool()
        .expect("bool")
        .clone();
    let mut positives = 0;
    for (id, label) in ids.iter().zip(labels.iter()) {
        let id = id.expect("id");
        assert_eq!(label, Some(churners.contains(id)), "{id}");
        positives += usize::from(label == Some(true));
    }
    assert!(
        positives > 10,
        "the generator produces churners: {positives}"
    );
}

#[test]
fn a_snapshot_in_parts_is_the_whole_table_cut_by_customer_id() {
    let dir = tempfile::tempdir().expect("dir");
    generate_into(dir.path(), 1500, 0.01, RawFormat::Parquet);
    ingest_dir(dir.path()).expect("ingest");
    let store = Store::new(dir.path());
    let as_of = date("2026-09-01");
    let whole = build_as_of(&store, as_of, 30, Some(&dir.path().join("whole"))).expect("whole");
    let parted = churn_pipeline::features::build_as_of_parts(
        &store,
        as_of,
        30,
        Some(&dir.path().join("parts")),
        4,
    )
    .expect("parts");
    assert_eq!(
        (parted.rows, parted.positives, parted.labelled),
        (whole.rows, whole.positives, whole.labelled)
    );
    let files = churn_pipeline::features::table_files(&dir.path().join("parts")).expect("parts");
    assert_eq!(files.len(), 4);
    assert!(files.iter().all(|f| {
        f.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("part-"))
    }));
    let read = |path: &Path| {
        churn_pipeline::store::scan_parquet_file(path)
            .expect("scan")
            .collect()
            .expect("read")
    };
    let mut joined = read(&files[0]);
    let mut last_id = String::new();
    for file in &files {
        let part = read(file);
        assert!(
            part.height() > 200,
            "{} rows in {}",
            part.height(),
            file.display()
        );
        let ids = part
            .column("customer_id")
            .expect("ids")
            .str()
            .expect("text")
            .clone();
        let first = ids.get(0).expect("a row").to_owned();
        assert!(first > last_id, "parts are ordered and disjoint");
        last_id = ids.get(ids.len() - 1).expect("a row").to_owned();
        if file != &files[0] {
            joined.vstack_mut(&part).expect("stack");
        }
    }
    let single = read(&dir.path().join("whole/features.parquet"));
    assert!(
        joined.equals_missing(&single),
        "the parts together are the whole table"
    );
    // Scoring and online rows read the parts like a whole table.
    let rows =
        churn_pipeline::features::rows_as_json(&dir.path().join("parts"), &files[1]).expect("rows");
    assert_eq!(rows.len(), read(&files[1]).height());
}
