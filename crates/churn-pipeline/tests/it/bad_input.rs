use std::path::Path;

use crate::common::{curated_path, dataset, ingest_dir, quarantine, write_raw};

const CUSTOMERS: &str = "customer_id,signup_date,birth_year,gender,region,partner,dependents,acquisition_channel,email,phone,contact_opt_out
C1,2024-01-10,1980,female,north,yes,no,organic,c1@example.com,+15550000001,false
C2,2024-03-05,1991,Male,SOUTH,no,no,referral,,,
";
const ACCOUNTS: &str = "account_id,customer_id,plan,contract_type,start_date,end_date,monthly_charge,payment_method,paperless_billing
A1,C1,basic,month-to-month,2024-01-10,,25.5,credit-card,true
A2,C2,premium,Two Year,2024-03-05,,80,bank_transfer,false
";

fn base(dir: &Path) {
    write_raw(dir, "customers", "part-0.csv", CUSTOMERS.as_bytes());
    write_raw(dir, "accounts", "part-0.csv", ACCOUNTS.as_bytes());
}

fn error_of(dir: &Path) -> String {
    ingest_dir(dir).expect_err("ingest must fail").to_string()
}

#[test]
fn a_clean_minimal_extract_ingests() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    let report = ingest_dir(dir.path()).expect("ingest");
    assert_eq!(report.sources["customers"].curated, 2);
    assert_eq!(report.sources["accounts"].curated, 2);
    assert_eq!(
        report.sources["sessions"].rows_in, 0,
        "optional sources may be absent"
    );
    assert!(report.balanced);
}

#[test]
fn an_empty_file_names_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    write_raw(dir.path(), "sessions", "empty.csv", b"");
    let error = error_of(dir.path());
    assert!(error.contains("raw/sessions/empty.csv"), "{error}");
    assert!(error.contains("empty (0 bytes)"), "{error}");
    assert!(
        error.contains("customer_id,started_at"),
        "the message shows the expected header: {error}"
    );
}

#[test]
fn a_missing_required_source_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_raw(dir.path(), "customers", "part-0.csv", CUSTOMERS.as_bytes());
    let error = error_of(dir.path());
    assert!(error.contains("'accounts'"), "{error}");
    assert!(error.contains("raw/accounts"), "{error}");
}

#[test]
fn a_wrong_header_names_the_missing_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    write_raw(
        dir.path(),
        "sessions",
        "s.csv",
        b"customer,start,duration\nC1,2024-05-01T10:00:00,3\n",
    );
    let error = error_of(dir.path());
    assert!(error.contains("raw/sessions/s.csv line 1"), "{error}");
    assert!(
        error.contains("'customer_id', 'started_at', 'duration_minutes'"),
        "{error}"
    );
    assert!(
        error.contains("customer, start, duration"),
        "the message shows what was found: {error}"
    );
}

#[test]
fn a_semicolon_file_is_read_and_an_unknown_delimiter_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    write_raw(
        dir.path(),
        "sessions",
        "s.csv",
        b"customer_id;started_at;duration_minutes;minutes_used;data_used_mb;device\nC1;2024-05-01T10:00:00Z;3.5;1;20;mobile\n",
    );
    let report = ingest_dir(dir.path()).expect("semicolons are detected");
    assert_eq!(report.sources["sessions"].curated, 1);
    assert_eq!(
        report.sources["sessions"].files[0]
            .layout
            .delimiter
            .as_deref(),
        Some(";")
    );

    write_raw(
        dir.path(),
        "sessions",
        "s.csv",
        b"customer_id:started_at:duration_minutes\nC1:2024-05-01T10:00:00Z:3.5\n",
    );
    let error = error_of(dir.path());
    assert!(
        error.contains("line 1") && error.contains("delimiters tried"),
        "{error}"
    );
}

#[test]
fn bad_values_are_quarantined_with_file_line_column_and_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    let mut sessions =
        b"customer_id,started_at,duration_minutes,minutes_used,data_used_mb,device,extra_column\n"
            .to_vec();
    sessions.extend_from_slice(b"C1,2024-05-01T10:00:00Z,3.5,1,20,mobile,x\n"); // line 2: fine
    sessions.extend_from_slice(b"C1,2024-13-01T10:00:00Z,3.5,1,20,mobile,x\n"); // 3: bad timestamp
    sessions.extend_from_slice(b"C1,2024-05-02T10:00:00Z,-4,1,20,mobile,x\n"); // 4: negative
    sessions.extend_from_slice(b"C1,2024-05-03T10:00:00Z,3,1,20,mobil\xe9,x\n"); // 5: not UTF-8
    sessions.extend_from_slice(b"C1,2024-05-04T10:00:00Z,3,1,20\n"); // 6: short
    sessions.extend_from_slice(b"C9,2024-05-05T10:00:00Z,3,1,20,tv,x\n"); // 7: unknown customer
    sessions.extend_from_slice(b"C2,2024-05-06 10:00:00.25,NaN,1,20,tv,x\n"); // 8: NaN
    sessions.extend_from_slice(b"C2,2024-05-07T10:00:00,,1,20,tv,x\n"); // 9: missing required
    sessions.extend_from_slice(b"C2,\"2024-05-08T10:00:00\",2,\"1\",20, TV ,x\n"); // 10: fine
    write_raw(dir.path(), "sessions", "s.csv", &sessions);
    let mut billing =
        b"invoice_id,customer_id,invoice_date,due_date,amount,paid_date,status\n".to_vec();
    billing.extend_from_slice(b"I1,C1,2024-02-10,2024-02-24,25.5,31/02/2024,paid\n"); // 2: bad date
    billing.extend_from_slice(b"I2,C1,2024-03-10,2024-03-01,25.5,,open\n"); // 3: due before invoice
    billing.extend_from_slice(b"I3,C1,2024-04-10,2024-04-24,25.5,,paid\n"); // 4: paid without date
    billing.extend_from_slice(b"I4,C1,2024-05-10,2024-05-24,25.5,,refunded\n"); // 5: unknown status
    billing.extend_from_slice(b"I5,C1,2024-06-10,2024-06-24,25.5,2024-06-20,PAID\n"); // 6: fine
    write_raw(dir.path(), "billing", "b.csv", &billing);

    let report = ingest_dir(dir.path()).expect("bad rows do not stop ingest");
    let sessions = &report.sources["sessions"];
    assert_eq!(
        (sessions.rows_in, sessions.curated, sessions.quarantined),
        (9, 2, 7)
    );
    assert_eq!(sessions.files[0].layout.ignored_columns, ["extra_column"]);
    let rows = quarantine(dir.path(), "sessions");
    let by_line = |line: u64| {
        rows.iter()
            .find(|row| row["line"] == line)
            .unwrap_or_else(|| panic!("line {line} quarantined: {rows:?}"))
    };
    let expect = |line: u64, column: Option<&str>, reason: &str| {
        let row = by_line(line);
        assert_eq!(row["file"], "raw/sessions/s.csv");
        assert_eq!(row["column"].as_str(), column, "{row}");
        assert!(
            row["reason"].as_str().expect("reason").contains(reason),
            "{row}"
        );
    };
    expect(
        3,
        Some("started_at"),
        "'2024-13-01T10:00:00Z' is not a timestamp",
    );
    expect(4, Some("duration_minutes"), "'-4' is below the minimum 0");
    expect(5, Some("device"), "not valid UTF-8: byte 0xE9");
    expect(6, None, "expected 7 fields as in the header, found 5");
    expect(
        7,
        Some("customer_id"),
        "customer_id 'C9' has no row in customers",
    );
    expect(8, Some("duration_minutes"), "'NaN' is not a finite number");
    expect(9, Some("duration_minutes"), "missing required value");

    let billing = &report.sources["billing"];
    assert_eq!((billing.curated, billing.quarantined), (1, 4));
    let rows = quarantine(dir.path(), "billing");
    let reasons: Vec<&str> = rows
        .iter()
        .map(|r| r["reason"].as_str().expect("reason"))
        .collect();
    assert!(
        reasons[0].contains("'31/02/2024' is not a date (YYYY-MM-DD)"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("due_date 2024-03-01 is before invoice_date 2024-03-10"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].contains("paid_date must be present when status is 'paid'"),
        "{reasons:?}"
    );
    assert!(
        reasons[3].contains("unknown value 'refunded' (allowed: paid, failed, open)"),
        "{reasons:?}"
    );
}

#[test]
fn a_2_gb_file_without_line_breaks_is_refused_quickly() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    let folder = dir.path().join("raw/sessions");
    std::fs::create_dir_all(&folder).expect("mkdir");
    // A sparse file: 2 GiB of zero bytes that take no disk space.
    let file = std::fs::File::create(folder.join("huge.csv")).expect("create");
    file.set_len(2 << 30).expect("grow");
    let started = std::time::Instant::now();
    let error = error_of(dir.path());
    assert!(error.contains("raw/sessions/huge.csv line 1"), "{error}");
    assert!(error.contains("longer than 8 MiB"), "{error}");
    assert!(
        started.elapsed().as_secs() < 60,
        "it must not read the whole file"
    );
}

#[test]
fn a_header_that_is_not_utf8_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    write_raw(
        dir.path(),
        "tickets",
        "t.csv",
        b"ticket_id,customer_id,opened\xe9_at\nT1,C1,2024-01-01\n",
    );
    let error = error_of(dir.path());
    assert!(error.contains("raw/tickets/t.csv line 1"), "{error}");
    assert!(error.contains("not valid UTF-8"), "{error}");
}

#[test]
fn a_damaged_parquet_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    write_raw(
        dir.path(),
        "tickets",
        "t.parquet",
        b"PAR1 this is not parquet at all",
    );
    let error = error_of(dir.path());
    assert!(error.contains("raw/tickets/t.parquet"), "{error}");
    assert!(error.contains("not a readable Parquet file"), "{error}");
}

#[test]
fn json_lines_problems_are_quarantined_by_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    let lines = concat!(
        "{\"customer_id\":\"C1\",\"churn_date\":\"2024-06-01\",\"churn_type\":\"voluntary\"}\n",
        "\n",
        "{\"customer_id\":\"C2\",\"churn_date\":\"2024-06-0\n",
        "{\"customer_id\":\"C2\",\"churn_date\":[\"2024-06-01\"]}\n",
        "{\"Customer_ID\":\"C2\",\"churn_date\":\"2024-07-01\",\"note\":\"kept\"}\n",
    );
    write_raw(dir.path(), "churn_labels", "l.jsonl", lines.as_bytes());
    let report = ingest_dir(dir.path()).expect("ingest");
    let labels = &report.sources["churn_labels"];
    assert_eq!(
        (labels.rows_in, labels.curated, labels.quarantined),
        (4, 2, 2)
    );
    assert_eq!(labels.files[0].layout.ignored_columns, ["note"]);
    assert_eq!(
        labels.imputed["churn_type"], 1,
        "missing churn_type becomes 'unknown'"
    );
    let rows = quarantine(dir.path(), "churn_labels");
    assert_eq!(rows[0]["line"], 3);
    assert!(
        rows[0]["reason"]
            .as_str()
            .expect("reason")
            .contains("not a JSON object")
    );
    assert_eq!(rows[1]["line"], 4);
    assert!(
        rows[1]["reason"]
            .as_str()
            .expect("reason")
            .contains("array or object")
    );
}

/// A failed run publishes nothing: earlier outputs stay as they were, and no temporary
/// file is left behind.
#[test]
fn a_failed_ingest_leaves_earlier_outputs_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    ingest_dir(dir.path()).expect("first ingest");
    let published = dataset(dir.path());
    let curated = curated_path(dir.path(), "customers");
    let before = std::fs::read(&curated).expect("curated");
    let report = published.report().local(dir.path());
    let report_before = std::fs::read(&report).expect("report");

    write_raw(
        dir.path(),
        "customers",
        "part-1.csv",
        b"customer_id,signup_date\nC3,2024-05-01\n",
    );
    write_raw(dir.path(), "tickets", "t.csv", b""); // fails after customers were processed
    ingest_dir(dir.path()).expect_err("empty file");

    assert_eq!(
        dataset(dir.path()),
        published,
        "the same version is published"
    );
    assert_eq!(std::fs::read(&curated).expect("curated"), before);
    assert_eq!(std::fs::read(&report).expect("report"), report_before);
    let leftovers: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|path| path.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
