use std::collections::BTreeMap;
use std::io::Read as _;

use churn_pipeline::contract::Source;
use churn_pipeline::generate::DirtKind;
use churn_pipeline::store::RawFormat;

use crate::common::{curated_path, generate_into, ingest_dir, quarantine};

/// The physical lines of a raw text file, decompressed, without their terminators.
fn physical_lines(path: &std::path::Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).expect("open");
    let name = path.to_string_lossy();
    let mut reader: Box<dyn std::io::Read> = if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else if name.ends_with(".zst") {
        Box::new(zstd::stream::read::Decoder::new(file).expect("zstd"))
    } else {
        Box::new(file)
    };
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).expect("read");
    let mut lines: Vec<Vec<u8>> = bytes
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line).to_vec())
        .collect();
    if bytes.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

/// Checks that a quarantined row's line of its file is the row: its raw text, or its ids
/// and the days of its dates (rows rejected after validation show typed values, so
/// numbers, categories and times of day may be written differently).
fn assert_line_is_the_row(dir: &std::path::Path, row: &serde_json::Value, format: RawFormat) {
    let file = row["file"].as_str().expect("file");
    let number = row["line"].as_u64().expect("line") as usize;
    let lines = physical_lines(&dir.join(file));
    let line = String::from_utf8_lossy(&lines[number - 1]).into_owned();
    if let Some(raw) = row["raw"].as_str() {
        assert_eq!(raw, line.trim_end(), "{file} line {number}: {row}");
        return;
    }
    let is_day = |text: &str| {
        text.len() >= 10
            && text.bytes().take(10).enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
    };
    for (column, value) in row["values"].as_object().expect("values") {
        let Some(text) = value.as_str() else { continue };
        let expected = if column.ends_with("_id") {
            text.trim()
        } else if is_day(text) {
            &text[..10]
        } else {
            continue;
        };
        assert!(
            line.contains(expected),
            "{format:?}: {file} line {number} has no {column} '{expected}': {line}"
        );
    }
}

fn read_all(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for source in Source::ALL {
        let folder = dir.join("raw").join(source.name());
        let mut names: Vec<_> = std::fs::read_dir(&folder)
            .expect("raw folder")
            .map(|entry| entry.expect("entry").path())
            .collect();
        names.sort();
        for path in names {
            files.push((
                path.display().to_string(),
                std::fs::read(&path).expect("read"),
            ));
        }
    }
    files
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    generate_into(a.path(), 300, 0.05, RawFormat::Csv);
    generate_into(b.path(), 300, 0.05, RawFormat::Csv);
    let strip = |files: Vec<(String, Vec<u8>)>, root: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        files
            .into_iter()
            .map(|(name, bytes)| (name.replace(&root.display().to_string(), ""), bytes))
            .collect()
    };
    assert_eq!(
        strip(read_all(a.path()), a.path()),
        strip(read_all(b.path()), b.path())
    );

    let config = churn_pipeline::generate::GenerateConfig {
        customers: 300,
        seed: 8,
        dirt_rate: 0.05,
        customers_per_file: 150,
        overwrite: true,
        ..Default::default()
    };
    churn_pipeline::generate::generate(
        &churn_pipeline::store::Store::new(b.path()),
        &config,
        &churn_pipeline::progress::NoProgress,
    )
    .expect("generate");
    assert_ne!(
        strip(read_all(a.path()), a.path()),
        strip(read_all(b.path()), b.path())
    );
}

#[test]
fn existing_raw_data_is_not_overwritten_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    generate_into(dir.path(), 20, 0.0, RawFormat::Csv);
    let config = churn_pipeline::generate::GenerateConfig {
        customers: 20,
        ..Default::default()
    };
    let error = churn_pipeline::generate::generate(
        &churn_pipeline::store::Store::new(dir.path()),
        &config,
        &churn_pipeline::progress::NoProgress,
    )
    .expect_err("refuses");
    assert!(error.to_string().contains("--force"), "{error}");
}

/// Every row read ends curated, quarantined or dropped as a duplicate, and the numbers are
/// exactly those the generator's manifest predicts from the dirt it injected (stray
/// quotes, future dates, CRLF and compressed files among it); every quarantined row of a
/// text file names the physical line it is on.
#[test]
fn ingest_accounts_for_every_row_in_every_format() {
    for format in [RawFormat::Csv, RawFormat::JsonLines, RawFormat::Parquet] {
        let dir = tempfile::tempdir().expect("tempdir");
        let manifest = generate_into(dir.path(), 400, 0.03, format);
        let report = ingest_dir(dir.path()).expect("ingest");
        assert!(report.balanced, "{format:?}");
        let mut injected: BTreeMap<DirtKind, u64> = BTreeMap::new();
        for entry in manifest.sources.values() {
            for (kind, count) in &entry.dirt {
                *injected.entry(*kind).or_default() += count;
            }
        }
        let mut expected_kinds = vec![DirtKind::FutureDate, DirtKind::KeyConflict];
        if format == RawFormat::Csv {
            expected_kinds.push(DirtKind::StrayQuote);
        }
        for kind in expected_kinds {
            assert!(
                injected.contains_key(&kind),
                "{format:?}: no {kind:?} injected"
            );
        }
        if format != RawFormat::Parquet {
            let files: Vec<&String> = manifest.sources.values().flat_map(|s| &s.files).collect();
            for extension in [".gz", ".zst"] {
                assert!(
                    files.iter().any(|f| f.ends_with(extension)),
                    "{format:?}: no {extension} file in {files:?}"
                );
            }
            assert!(
                manifest.sources.values().any(|s| !s.crlf_files.is_empty()),
                "{format:?}: no CRLF file"
            );
            let orphaned: u64 = manifest.sources.values().map(|s| s.orphaned_rows).sum();
            assert!(orphaned > 0, "{format:?}: no row of a quarantined customer");
        }
        for source in Source::ALL {
            let expected = &manifest.sources[source.name()];
            let got = &report.sources[source.name()];
            let label = format!("{format:?} {source}");
            assert_eq!(got.rows_in, expected.rows_written, "{label}: rows in");
            assert_eq!(
                got.rows_in,
                got.curated + got.quarantined + got.duplicates,
                "{label}"
            );
            assert_eq!(
                got.quarantined, expected.expected_quarantined,
                "{label}: quarantined"
            );
            assert_eq!(
                got.duplicates, expected.expected_duplicates,
                "{label}: duplicates"
            );
            let injected_outliers = expected
                .dirt
                .get(&churn_pipeline::generate::DirtKind::Outlier)
                .copied()
                .unwrap_or(0);
            let flagged: u64 = got.outliers.values().map(|o| o.count).sum();
            assert!(
                flagged >= injected_outliers,
                "{label}: {flagged} outliers flagged, {injected_outliers} injected"
            );
            let lines = quarantine(dir.path(), source.name());
            assert_eq!(
                lines.len() as u64,
                got.quarantined,
                "{label}: quarantine file"
            );
            for line in &lines {
                assert!(
                    line["file"].as_str().is_some_and(|f| f.starts_with("raw/")),
                    "{line}"
                );
                assert!(line["line"].as_u64().is_some_and(|l| l >= 1), "{line}");
                assert!(
                    line["reason"].as_str().is_some_and(|r| !r.is_empty()),
                    "{line}"
                );
                if format != RawFormat::Parquet {
                    assert_line_is_the_row(dir.path(), line, format);
                }
            }
            let curated = std::fs::metadata(curated_path(dir.path(), source.name()));
            assert!(curated.is_ok(), "{label}: curated file");
        }
    }
}

/// Injected spelling variants are normalised, outliers clipped with the original kept.
#[test]
fn curated_values_are_normalised_and_clipped() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().expect("tempdir");
    generate_into(dir.path(), 400, 0.05, RawFormat::Csv);
    ingest_dir(dir.path()).expect("ingest");
    let path = curated_path(dir.path(), "accounts");
    let frame = churn_pipeline::store::scan_parquet_file(&path)
        .expect("scan")
        .collect()
        .expect("read curated");
    let contracts: Vec<String> = frame
        .column("contract_type")
        .expect("column")
        .str()
        .expect("text")
        .unique()
        .expect("unique")
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    for value in &contracts {
        assert!(
            ["month-to-month", "one-year", "two-year"].contains(&value.as_str()),
            "{value}"
        );
    }
    let originals = frame.column("monthly_charge_original").expect("originals");
    let clipped = frame.column("monthly_charge").expect("charges");
    let flagged = originals.len() - originals.null_count();
    assert!(flagged > 0, "some outliers were injected at 5%");
    let max_clipped = clipped.f64().expect("f64").max().expect("max");
    let min_original = originals.f64().expect("f64").min().expect("min");
    assert!(
        max_clipped < min_original,
        "clipped values lie below every flagged original"
    );
    for column in ["source_file", "source_line"] {
        assert_eq!(frame.column(column).expect("lineage").null_count(), 0);
    }
}
