//! Regression tests of issue 12: input that used to lose rows or give a wrong result
//! with exit 0. Each test failed before its fix.

use std::io::Write as _;
use std::path::Path;

use crate::common::{curated_path, ingest_dir, quarantine, report_json, write_raw};

pub const CUSTOMER_HEADER: &str = "customer_id,signup_date,birth_year,gender,region";
pub const ACCOUNT_HEADER: &str = "account_id,customer_id,plan,contract_type,start_date,end_date,monthly_charge,payment_method,paperless_billing";
pub const SESSION_HEADER: &str =
    "customer_id,started_at,duration_minutes,minutes_used,data_used_mb,device";

fn id(index: usize) -> String {
    format!("C{index:04}")
}

/// `n` customers, C0001 on line 2 and so on; `line_of(i)` = `i + 1`.
pub fn customer_lines(n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| format!("{},2024-01-10,1980,female,north", id(i)))
        .collect()
}

/// One account per customer.
fn accounts(n: usize) -> String {
    let mut text = format!("{ACCOUNT_HEADER}\n");
    for i in 1..=n {
        text.push_str(&format!(
            "A{i:04},{},basic,month-to-month,2024-01-10,,25,credit-card,true\n",
            id(i)
        ));
    }
    text
}

pub fn with_header(header: &str, lines: &[String]) -> String {
    let mut text = format!("{header}\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn lines_of(rows: &[serde_json::Value]) -> Vec<u64> {
    let mut lines: Vec<u64> = rows
        .iter()
        .map(|row| row["line"].as_u64().expect("line"))
        .collect();
    lines.sort_unstable();
    lines
}

fn kinds(rows: &[serde_json::Value]) -> Vec<&str> {
    rows.iter()
        .map(|row| row["kind"].as_str().expect("kind"))
        .collect()
}

fn curated_lines(dir: &Path, source: &str) -> Vec<(String, u64)> {
    let path = curated_path(dir, source);
    let frame = churn_pipeline::store::scan_parquet_file(&path)
        .expect("scan")
        .collect()
        .expect("read curated");
    let files = frame
        .column("source_file")
        .expect("file")
        .str()
        .expect("text");
    let lines = frame
        .column("source_line")
        .expect("line")
        .u64()
        .expect("u64");
    files
        .iter()
        .zip(lines.iter())
        .map(|(file, line)| (file.unwrap_or("").to_owned(), line.unwrap_or(0)))
        .collect()
}

/// Issue 12.1: one stray `"` on line 101 used to swallow the rest of the file (the report
/// said rows_in=100, balanced). Now that line alone is quarantined and reading resumes.
#[test]
fn a_stray_quote_quarantines_its_line_and_reading_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut lines = customer_lines(300);
    // An opening quote that never closes, and two 10 lines apart that would pair up.
    lines[99] = format!("{},2024-01-10,1980,\"female,north", id(100));
    lines[199] = format!("{},2024-01-10,1980,\"female,north", id(200));
    lines[209] = format!("{},2024-01-10,1980,\"female,north", id(210));
    write_raw(
        dir.path(),
        "customers",
        "c.csv",
        with_header(CUSTOMER_HEADER, &lines).as_bytes(),
    );
    write_raw(dir.path(), "accounts", "a.csv", accounts(300).as_bytes());
    let report = ingest_dir(dir.path()).expect("ingest");

    let customers = &report.sources["customers"];
    assert_eq!(
        (customers.rows_in, customers.curated, customers.quarantined),
        (300, 297, 3)
    );
    let rows = quarantine(dir.path(), "customers");
    assert_eq!(lines_of(&rows), [101, 201, 211]);
    assert!(kinds(&rows).iter().all(|kind| *kind == "unclosed quote"));
    let reason = rows[0]["reason"].as_str().expect("reason");
    assert!(reason.contains("100 lines"), "{reason}");
    // The accounts of those three customers point at no curated customer.
    let accounts = &report.sources["accounts"];
    assert_eq!((accounts.curated, accounts.quarantined), (297, 3));
    assert!(report.balanced);

    // Lines are counted from the bytes, apart from the parser.
    let json = report_json(dir.path());
    let file = &json["sources"]["customers"]["files"][0];
    assert_eq!(file["lines"], 301, "{file}");
    assert_eq!(file["header_lines"], 1, "{file}");
    assert_eq!(file["continuation_lines"], 0, "{file}");
}

/// A quoted field may legitimately hold line breaks (a notes column of a CRM export):
/// the record counts once, its continuation lines are reported, and later line numbers
/// stay physical. A quote still open at the end of the file quarantines its line.
#[test]
fn a_quoted_field_may_span_lines_within_the_limits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "{CUSTOMER_HEADER},notes\n\
         C0001,2024-01-10,1980,female,north,plain\n\
         C0002,2024-01-10,1980,female,north,\"first line\nsecond, line\nthird \"\"quoted\"\" line\"\n\
         C0003,2024-13-10,1980,female,north,bad date on line 6\n\
         C0004,2024-01-10,1980,female,north,fine\n\
         C0005,2024-01-10,1980,female,\"north,never closed\n"
    );
    write_raw(dir.path(), "customers", "c.csv", text.as_bytes());
    write_raw(dir.path(), "accounts", "a.csv", accounts(4).as_bytes());
    let report = ingest_dir(dir.path()).expect("ingest");
    let customers = &report.sources["customers"];
    assert_eq!(
        (customers.rows_in, customers.curated, customers.quarantined),
        (5, 3, 2)
    );
    let rows = quarantine(dir.path(), "customers");
    assert_eq!(lines_of(&rows), [6, 8]);
    let curated: Vec<u64> = curated_lines(dir.path(), "customers")
        .into_iter()
        .map(|(_, line)| line)
        .collect();
    assert_eq!(curated, [2, 3, 7]);
    let json = report_json(dir.path());
    let file = &json["sources"]["customers"]["files"][0];
    assert_eq!(
        (&file["lines"], &file["continuation_lines"]),
        (&serde_json::json!(8), &serde_json::json!(2)),
        "{file}"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("compress");
    encoder.finish().expect("finish")
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).expect("compress")
}

fn base(dir: &Path) {
    write_raw(
        dir,
        "customers",
        "c.csv",
        with_header(CUSTOMER_HEADER, &customer_lines(3)).as_bytes(),
    );
    write_raw(dir, "accounts", "a.csv", accounts(3).as_bytes());
}

/// Issue 12.5: `part-00001.csv.gz`, `.txt` and `.hidden.csv` files were ignored without a
/// word. Compressed files are read; everything else is listed with a reason.
#[test]
fn compressed_files_are_read_and_skipped_files_are_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    let csv = |rows: &str| format!("{SESSION_HEADER}\n{rows}");
    let json = |customer: &str, at: &str| {
        format!(
            "{{\"customer_id\":\"{customer}\",\"started_at\":\"{at}\",\"duration_minutes\":4}}\n"
        )
    };
    let raw = |name: &str, bytes: &[u8]| write_raw(dir.path(), "sessions", name, bytes);
    raw(
        "part-00000.csv",
        csv("C0001,2024-05-01T10:00:00Z,5,1,1,tv\n").as_bytes(),
    );
    raw(
        "part-00001.csv.gz",
        &gzip(
            csv("C0001,2024-05-02T10:00:00Z,5,1,1,tv\nC0002,2024-05-02T10:00:00Z,x,1,1,tv\n")
                .as_bytes(),
        ),
    );
    raw(
        "part-00002.csv.zst",
        &zstd(csv("C0002,2024-05-03T10:00:00Z,5,1,1,tv\n").as_bytes()),
    );
    raw(
        "part-00003.jsonl.gz",
        &gzip(json("C0003", "2024-05-04T10:00:00Z").as_bytes()),
    );
    raw(
        "part-00004.ndjson.zst",
        &zstd(json("C0003", "2024-05-05T10:00:00Z").as_bytes()),
    );
    raw("notes.txt", b"not data");
    raw(
        ".hidden.csv",
        csv("C0001,2024-05-06T10:00:00Z,5,1,1,tv\n").as_bytes(),
    );
    raw("part-00005.parquet.gz", b"?");
    std::fs::create_dir_all(dir.path().join("raw/sessions/old")).expect("mkdir");

    let report = ingest_dir(dir.path()).expect("ingest");
    let sessions = &report.sources["sessions"];
    assert_eq!(
        (sessions.rows_in, sessions.curated, sessions.quarantined),
        (6, 5, 1)
    );
    let rows = quarantine(dir.path(), "sessions");
    assert_eq!(rows[0]["file"], "raw/sessions/part-00001.csv.gz");
    assert_eq!(rows[0]["line"], 3);

    let json = report_json(dir.path());
    let listed = &json["sources"]["sessions"];
    let compression: Vec<&serde_json::Value> = listed["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|file| &file["compression"])
        .collect();
    assert_eq!(
        compression,
        [
            &serde_json::Value::Null,
            &serde_json::json!("gzip"),
            &serde_json::json!("zstd"),
            &serde_json::json!("gzip"),
            &serde_json::json!("zstd"),
        ]
    );
    let skipped: Vec<(&str, &str)> = listed["skipped"]
        .as_array()
        .expect("skipped files are listed")
        .iter()
        .map(|s| {
            (
                s["path"].as_str().expect("path"),
                s["reason"].as_str().expect("reason"),
            )
        })
        .collect();
    let names: Vec<&str> = skipped.iter().map(|(path, _)| *path).collect();
    assert_eq!(
        names,
        [
            "raw/sessions/.hidden.csv",
            "raw/sessions/notes.txt",
            "raw/sessions/old",
            "raw/sessions/part-00005.parquet.gz",
        ]
    );
    for (path, reason) in &skipped {
        assert!(!reason.is_empty(), "{path}");
    }
    assert!(skipped[0].1.contains("hidden"), "{skipped:?}");
    assert!(skipped[1].1.contains(".txt"), "{skipped:?}");
    assert!(skipped[2].1.contains("folder"), "{skipped:?}");
}

#[test]
fn a_damaged_compressed_file_names_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    let mut damaged =
        gzip(format!("{SESSION_HEADER}\nC0001,2024-05-01T10:00:00Z,5,1,1,tv\n").as_bytes());
    let middle = damaged.len() / 2;
    damaged.truncate(middle);
    write_raw(dir.path(), "sessions", "s.csv.gz", &damaged);
    let error = ingest_dir(dir.path()).expect_err("damaged").to_string();
    assert!(error.contains("raw/sessions/s.csv.gz"), "{error}");
    assert!(error.contains("gzip"), "{error}");
}

/// Issue 12.6: in CRLF files every quarantine line and `source_line` was one too low.
#[test]
fn crlf_and_mixed_line_endings_keep_physical_line_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    let rows = [
        "C0001,2024-05-01T10:00:00Z,5,1,1,tv",  // line 2
        "C0001,2024-13-01T10:00:00Z,5,1,1,tv",  // 3: bad timestamp
        "C0002,2024-05-01T10:00:00Z,5,1,1,tv",  // 4
        "C0009,2024-05-01T10:00:00Z,5,1,1,tv",  // 5: unknown customer
        "C0003,2024-05-01T10:00:00Z,5,1,1,tv",  // 6
        "C0003,2024-05-02T10:00:00Z,-1,1,1,tv", // 7: negative
    ];
    let crlf = format!("{SESSION_HEADER}\r\n{}\r\n", rows.join("\r\n"));
    write_raw(dir.path(), "sessions", "a-crlf.csv", crlf.as_bytes());
    let mut mixed = format!("{SESSION_HEADER}\r\n");
    for (index, row) in rows.iter().enumerate() {
        mixed.push_str(&row.replace("2024-05", "2024-06"));
        mixed.push_str(if index % 2 == 0 { "\n" } else { "\r\n" });
    }
    write_raw(dir.path(), "sessions", "b-mixed.csv", mixed.as_bytes());
    let json = (0..3)
        .map(|day| {
            let bad = if day == 1 { "x" } else { "3" };
            format!(
                "{{\"customer_id\":\"C0001\",\"started_at\":\"2024-07-0{}T10:00:00Z\",\"duration_minutes\":{}}}\r\n",
                day + 1,
                if bad == "x" { "\"x\"".to_owned() } else { bad.to_owned() }
            )
        })
        .collect::<String>();
    write_raw(dir.path(), "sessions", "c-crlf.jsonl", json.as_bytes());

    let report = ingest_dir(dir.path()).expect("ingest");
    assert!(report.balanced);
    let quarantined = quarantine(dir.path(), "sessions");
    let mut found: Vec<(String, u64)> = quarantined
        .iter()
        .map(|row| {
            (
                row["file"].as_str().expect("file").to_owned(),
                row["line"].as_u64().expect("line"),
            )
        })
        .collect();
    found.sort();
    let expected = |file: &str, lines: &[u64]| -> Vec<(String, u64)> {
        lines
            .iter()
            .map(|line| (format!("raw/sessions/{file}"), *line))
            .collect()
    };
    let mut want = expected("a-crlf.csv", &[3, 5, 7]);
    want.extend(expected("b-mixed.csv", &[3, 5, 7]));
    want.extend(expected("c-crlf.jsonl", &[2]));
    assert_eq!(found, want);

    let mut curated = curated_lines(dir.path(), "sessions");
    curated.sort();
    let mut want = expected("a-crlf.csv", &[2, 4, 6]);
    want.extend(expected("b-mixed.csv", &[2, 4, 6]));
    want.extend(expected("c-crlf.jsonl", &[1, 3]));
    assert_eq!(curated, want);
}

/// Issue 12.7: a UTF-8 byte-order mark quarantined the first row of a JSON Lines file.
#[test]
fn a_json_lines_byte_order_mark_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    write_raw(
        dir.path(),
        "churn_labels",
        "l.jsonl",
        "\u{feff}{\"customer_id\":\"C0001\",\"churn_date\":\"2024-06-01\"}\n{\"customer_id\":\"C0002\",\"churn_date\":\"2024-06-02\"}\n"
            .as_bytes(),
    );
    let report = ingest_dir(dir.path()).expect("ingest");
    let labels = &report.sources["churn_labels"];
    assert_eq!((labels.curated, labels.quarantined), (2, 0));
}

/// Issue 12.7: a repeated JSON key silently kept its last value.
#[test]
fn a_repeated_json_key_quarantines_the_row_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    write_raw(
        dir.path(),
        "churn_labels",
        "l.jsonl",
        concat!(
            "{\"customer_id\":\"C0001\",\"churn_date\":\"2024-06-01\",\"churn_date\":\"2024-07-01\"}\n",
            "{\"customer_id\":\"C0002\",\"Customer_ID\":\"C0003\",\"churn_date\":\"2024-06-01\"}\n",
            "{\"customer_id\":\"C0003\",\"churn_date\":\"2024-06-01\",\"note\":1,\"note\":2}\n",
        )
        .as_bytes(),
    );
    let report = ingest_dir(dir.path()).expect("ingest");
    let labels = &report.sources["churn_labels"];
    assert_eq!(
        (labels.rows_in, labels.curated, labels.quarantined),
        (3, 1, 2)
    );
    let rows = quarantine(dir.path(), "churn_labels");
    assert_eq!(lines_of(&rows), [1, 2]);
    assert_eq!(rows[0]["kind"], "duplicate key");
    assert_eq!(rows[0]["column"], "churn_date");
    assert!(
        rows[0]["reason"]
            .as_str()
            .expect("reason")
            .contains("'churn_date'"),
        "{}",
        rows[0]
    );
    assert_eq!(rows[1]["column"], "customer_id");
}

/// Issue 12.7: a header-only file of an optional source failed the whole ingest, while a
/// missing folder was only a warning. Both are now an empty source; a required source
/// without rows is still an error.
#[test]
fn an_optional_source_without_rows_is_like_a_missing_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    base(dir.path());
    write_raw(
        dir.path(),
        "sessions",
        "s.csv",
        format!("{SESSION_HEADER}\n").as_bytes(),
    );
    write_raw(dir.path(), "tickets", "t.jsonl", b"\n");
    let report = ingest_dir(dir.path()).expect("an empty optional source is no error");
    for source in ["sessions", "tickets", "billing"] {
        let entry = &report.sources[source];
        assert_eq!((entry.rows_in, entry.curated), (0, 0), "{source}");
        assert!(entry.balanced, "{source}");
        assert!(
            !curated_path(dir.path(), source).exists(),
            "{source}: no curated file, as for a missing folder"
        );
    }
    assert_eq!(
        report.sources["sessions"].files.len(),
        1,
        "the file read is listed"
    );

    write_raw(
        dir.path(),
        "accounts",
        "a.csv",
        format!("{ACCOUNT_HEADER}\n").as_bytes(),
    );
    let error = ingest_dir(dir.path())
        .expect_err("accounts are required")
        .to_string();
    assert!(
        error.contains("'accounts'") && error.contains("no rows"),
        "{error}"
    );
}

/// Issue 12.7: the accounts of a quarantined customer stayed curated, pointing at nobody.
#[test]
fn rows_of_a_quarantined_customer_are_quarantined_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_raw(
        dir.path(),
        "customers",
        "c.csv",
        format!(
            "{CUSTOMER_HEADER}\nC0001,2024-01-10,1980,female,north\nC0002,2024-02-30,1980,female,north\nC0003,2024-01-10,1980\n"
        )
        .as_bytes(),
    );
    write_raw(
        dir.path(),
        "accounts",
        "a.csv",
        format!(
            "{ACCOUNT_HEADER}\n\
             A1,C0001,basic,month-to-month,2024-01-10,,25,credit-card,true\n\
             A2,C0002,basic,month-to-month,2024-03-01,,25,credit-card,true\n\
             A3,C0003,basic,month-to-month,2024-03-01,,25,credit-card,true\n\
             A4,C0009,basic,month-to-month,2024-03-01,,25,credit-card,true\n"
        )
        .as_bytes(),
    );
    let report = ingest_dir(dir.path()).expect("ingest");
    let accounts = &report.sources["accounts"];
    assert_eq!((accounts.curated, accounts.quarantined), (1, 3));
    assert_eq!(accounts.quarantined_by_kind["customer quarantined"], 2);
    assert_eq!(accounts.quarantined_by_kind["unknown customer"], 1);
    let rows = quarantine(dir.path(), "accounts");
    let reason = rows
        .iter()
        .find(|row| row["line"] == 3)
        .and_then(|row| row["reason"].as_str())
        .expect("line 3");
    assert!(
        reason.contains("C0002") && reason.contains("customers' quarantine file"),
        "{reason}"
    );
}
