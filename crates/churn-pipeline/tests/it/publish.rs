use std::path::Path;

use churn_pipeline::dataset::{Dataset, IngestLock};
use churn_pipeline::features::build_as_of;
use churn_pipeline::store::{RawFormat, Store};

use crate::common::{curated_path, dataset, generate_into, ingest_dir, write_raw};

fn as_of() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("date")
}

/// Every file under `dir` with its bytes, for before/after comparisons.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let name = path
                    .strip_prefix(root)
                    .expect("inside")
                    .display()
                    .to_string();
                out.push((name, std::fs::read(&path).expect("read")));
            }
        }
    }
    let mut out = Vec::new();
    for folder in ["curated", "quarantine"] {
        walk(dir, &dir.join(folder), &mut out);
    }
    out.sort();
    out
}

/// A failure while publishing (here `reports` is a file, so its part of the version
/// cannot be made) used to leave some sources new and others old; now the version the
/// readers follow is the one before, unchanged, and features build on it.
#[test]
fn a_failure_while_publishing_leaves_the_published_version_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    generate_into(dir.path(), 300, 0.0, RawFormat::Csv);
    ingest_dir(dir.path()).expect("first ingest");
    let published = dataset(dir.path());
    let before = snapshot(dir.path());

    // New data (another customer's rows change every source's content)...
    write_raw(
        dir.path(),
        "customers",
        "zz-late.csv",
        b"customer_id,signup_date\nC9999999,2024-05-01\n",
    );
    // ... and a data directory where the report cannot be written.
    std::fs::remove_dir_all(dir.path().join("reports")).expect("rm");
    std::fs::write(dir.path().join("reports"), b"not a folder").expect("write");
    ingest_dir(dir.path()).expect_err("the report's folder cannot be made");

    assert_eq!(
        dataset(dir.path()),
        published,
        "the pointer still names the old version"
    );
    let after: Vec<_> = snapshot(dir.path())
        .into_iter()
        .filter(|(name, _)| before.iter().any(|(b, _)| b == name))
        .collect();
    assert_eq!(after, before, "the published version is untouched");
    let store = Store::new(dir.path());
    build_as_of(&store, as_of(), 90, None).expect("features on the published version");
    assert!(
        !dir.path()
            .join(".ingest")
            .read_dir()
            .expect("work")
            .any(|e| e
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .starts_with("run-")),
        "the failed run's staging is gone"
    );

    // Fixed, the next run publishes the new version and removes the half-moved one.
    std::fs::remove_file(dir.path().join("reports")).expect("rm");
    let report = ingest_dir(dir.path()).expect("ingest");
    let now = dataset(dir.path());
    assert_ne!(now.version(), published.version());
    assert_eq!(now.published.previous.as_deref(), Some(published.version()));
    assert_eq!(report.version, now.version());
}

/// What a killed run leaves (its staging folder, a version moved into place without its
/// pointer) is never read, and the next ingest removes it.
#[test]
fn what_a_killed_run_leaves_is_ignored_and_cleaned() {
    let dir = tempfile::tempdir().expect("tempdir");
    generate_into(dir.path(), 200, 0.0, RawFormat::Csv);
    ingest_dir(dir.path()).expect("ingest");
    let published = dataset(dir.path());
    let customers = curated_path(dir.path(), "customers");
    // A half-published version and a staging folder.
    let orphan = dir.path().join("curated/v=0123456789abcdef/customers");
    std::fs::create_dir_all(&orphan).expect("mkdir");
    std::fs::write(orphan.join("data.parquet"), b"half").expect("write");
    let staging = dir
        .path()
        .join(".ingest/run-999999/curated/v=staged/accounts");
    std::fs::create_dir_all(&staging).expect("mkdir");
    std::fs::write(staging.join(".data.parquet.999999.tmp"), b"half").expect("write");
    // The layout before versions, which a reader once took as complete.
    std::fs::create_dir_all(dir.path().join("curated/accounts")).expect("mkdir");
    std::fs::write(dir.path().join("curated/accounts/data.parquet"), b"old").expect("write");

    assert_eq!(dataset(dir.path()), published);
    assert_eq!(curated_path(dir.path(), "customers"), customers);
    build_as_of(&Store::new(dir.path()), as_of(), 90, None).expect("features");

    ingest_dir(dir.path()).expect("ingest again");
    for leftover in [
        dir.path().join("curated/v=0123456789abcdef"),
        dir.path().join(".ingest/run-999999"),
        dir.path().join("curated/accounts"),
    ] {
        assert!(!leftover.exists(), "{} was removed", leftover.display());
    }
    assert_eq!(
        dataset(dir.path()).version(),
        published.version(),
        "same data, same version"
    );
}

/// Two ingests of one data directory at once used to both succeed, the last one
/// publishing without the other's rows. An ingest holds the directory's lock for its whole
/// run: a second one, started meanwhile, is refused and publishes nothing.
#[test]
fn a_second_ingest_while_one_runs_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    generate_into(dir.path(), 200, 0.0, RawFormat::Csv);
    let store = Store::new(dir.path());
    let running = IngestLock::acquire(&store).expect("the running ingest's lock");
    let refused = ingest_dir(dir.path()).expect_err("one is running");
    assert!(
        refused.to_string().contains("another ingest is running")
            && refused
                .to_string()
                .contains(&std::process::id().to_string()),
        "{refused}"
    );
    assert!(Dataset::current(&store).is_err(), "nothing was published");
    drop(running);
    ingest_dir(dir.path()).expect("the lock is free again");
    Dataset::current(&store).expect("published");
}
