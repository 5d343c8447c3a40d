use churn_pipeline::contract::Source;
use churn_pipeline::store::RawFormat;

use crate::common::{generate_into, ingest_dir, quarantine};

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
/// exactly those the generator's manifest predicts from the dirt it injected.
#[test]
fn ingest_accounts_for_every_row_in_every_format() {
    for format in [RawFormat::Csv, RawFormat::JsonLines, RawFormat::Parquet] {
        let dir = tempfile::tempdir().expect("tempdir");
        let manifest = generate_into(dir.path(), 400, 0.03, format);
        let report = ingest_dir(dir.path()).expect("ingest");
        assert!(report.balanced, "{format:?}");
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
            }
            let curated =
                std::fs::metadata(dir.path().join(format!("curated/{source}/data.parquet")));
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
    let path = dir.path().join("curated/accounts/data.parquet");
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
