//! Dataset versions: what an ingest publishes, as one step, and what every reader of
//! curated data follows.
//!
//! An ingest writes its outputs (curated tables, quarantine, report) into a staging folder
//! of its own, then moves them into `curated/v=<version>/`, `quarantine/v=<version>/` and
//! `reports/v=<version>/`, where the version is a hash of the curated and quarantined
//! content, and only then writes `curated/_current.json`, whole, naming the version. That
//! write is the publication: a run that fails or is killed before it leaves the published
//! version as it was, and a reader (features, actions, a Lambda downloading `curated/`)
//! reads the version the pointer names or refuses, never a mix of two runs.
//!
//! One ingest at a time per data directory: [`IngestLock`] (an OS file lock, released when
//! the process ends however it ends). Holding it, an ingest removes what crashed runs left
//! behind and the versions older than the current and the previous one.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::contract::Source;
use crate::error::{PipelineError, Result};
use crate::store::{Store, write_json};
use churn_core::layout::{self, Key};

/// The published version's pointer, `curated/_current.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Layout of this file.
    pub format: u32,
    /// The version every reader reads.
    pub version: String,
    /// The version published before it (kept for a rollback), if any.
    #[serde(default)]
    pub previous: Option<String>,
    /// The ingest's reference date.
    pub reference_date: String,
}

const POINTER_FORMAT: u32 = 1;

/// A published dataset version of a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub published: Published,
}

impl Dataset {
    /// The version `curated/_current.json` names. Curated data without a pointer (written
    /// by an older churn, or by a run that was killed while writing) is refused: it may
    /// be a mix of two runs.
    pub fn current(store: &Store) -> Result<Self> {
        let pointer = store.at(&layout::dataset_pointer());
        let text = match fs::read_to_string(&pointer) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let curated = store.at(&layout::root(layout::CURATED));
                let what = if curated.exists() {
                    "holds no published dataset (it was written by an older churn, or by an \
                     ingest that did not finish, and may mix two runs)"
                } else {
                    "does not exist"
                };
                return Err(PipelineError::Missing(format!(
                    "{} {what}: run `churn ingest --dir {}` first",
                    curated.display(),
                    store.root().display()
                )));
            }
            Err(e) => return Err(PipelineError::io(&pointer, e)),
        };
        let published: Published =
            serde_json::from_str(&text).map_err(|source| PipelineError::Json {
                context: format!("reading {}", pointer.display()),
                source,
            })?;
        if published.format > POINTER_FORMAT {
            return Err(PipelineError::bad_file(
                &pointer,
                format!(
                    "format {} is newer than this churn reads ({POINTER_FORMAT}): upgrade churn",
                    published.format
                ),
            ));
        }
        let folder = store.at(&layout::version_folder(layout::CURATED, &published.version));
        if !folder.is_dir() {
            return Err(PipelineError::Missing(format!(
                "{} names version {}, but {} does not exist: run `churn ingest` again",
                pointer.display(),
                published.version,
                folder.display()
            )));
        }
        Ok(Self { published })
    }

    /// The version.
    pub fn version(&self) -> &str {
        &self.published.version
    }

    /// A source's curated table (absent for a source without rows).
    pub fn curated(&self, source: Source) -> Key {
        layout::curated(self.version(), source)
    }

    /// A source's quarantined rows.
    pub fn quarantine(&self, source: Source) -> Key {
        layout::quarantine(self.version(), source)
    }

    /// The ingest report.
    pub fn report(&self) -> Key {
        layout::ingest_report(self.version())
    }
}

/// The lock an ingest holds on its data directory. Another ingest finds it held and stops
/// with a clear error, instead of both publishing and the last one losing the other's
/// rows. An OS lock: it goes with the process, so a killed run leaves none behind.
#[derive(Debug)]
pub struct IngestLock {
    _file: File,
}

impl IngestLock {
    /// Takes the lock of `store`, or says who holds it.
    pub fn acquire(store: &Store) -> Result<Self> {
        let path = store.at(&layout::ingest_lock());
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| PipelineError::io(parent, e))?;
        }
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| PipelineError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => String::new(),
                    who => format!(" ({who})"),
                };
                return Err(PipelineError::InvalidInput(format!(
                    "another ingest is running on {}{holder}: wait for it to finish",
                    store.root().display()
                )));
            }
            Err(fs::TryLockError::Error(e)) => return Err(PipelineError::io(&path, e)),
        }
        // Who holds it, for the message of the next one (the lock itself is the OS's).
        file.set_len(0).map_err(|e| PipelineError::io(&path, e))?;
        std::io::Write::write_all(
            &mut file,
            format!("process {}", std::process::id()).as_bytes(),
        )
        .map_err(|e| PipelineError::io(&path, e))?;
        Ok(Self { _file: file })
    }
}

/// Where a run stages its outputs: a folder laid out like the data directory, holding
/// the outputs under the version [`layout::STAGED_VERSION`]. Dropped unpublished (the run
/// failed), it is removed.
#[derive(Debug)]
pub struct Staging {
    store: Store,
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Published, it is gone already; a failure here leaves it to the next run's clean.
        let _ = fs::remove_dir_all(self.store.root());
    }
}

impl Staging {
    /// A fresh staging folder for this process's run.
    pub fn new(store: &Store) -> Result<Self> {
        let dir = store.at(&layout::ingest_staging(&std::process::id().to_string()));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| PipelineError::io(&dir, e))?;
        }
        fs::create_dir_all(&dir).map_err(|e| PipelineError::io(&dir, e))?;
        Ok(Self {
            store: Store::new(dir),
        })
    }

    /// The staging folder as a store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Where a source's curated table is staged.
    pub fn curated_file(&self, source: Source) -> PathBuf {
        self.store
            .at(&layout::curated(layout::STAGED_VERSION, source))
    }

    /// Where a source's quarantined rows are staged.
    pub fn quarantine_file(&self, source: Source) -> PathBuf {
        self.store
            .at(&layout::quarantine(layout::STAGED_VERSION, source))
    }

    /// Publishes the staged outputs as a version of `store`, with `report` (which may
    /// name the version) written into it: the version's folders first, the pointer last.
    pub fn publish<R: Serialize>(
        self,
        store: &Store,
        reference_date: &str,
        report: impl FnOnce(&str) -> R,
    ) -> Result<Dataset> {
        let staged = |folder: &str| {
            self.store
                .at(&layout::version_folder(folder, layout::STAGED_VERSION))
        };
        let version = fingerprint(&[
            staged(layout::CURATED).as_path(),
            staged(layout::QUARANTINE).as_path(),
        ])?;
        let report = report(&version);
        write_json(
            self.store
                .at(&layout::ingest_report(layout::STAGED_VERSION)),
            &report,
        )?;
        for folder in layout::DATASET_FOLDERS {
            let from = staged(folder);
            let to = store.at(&layout::version_folder(folder, &version));
            if to.exists() {
                // The same content was published before; its report is replaced.
                if folder == layout::REPORTS {
                    fs::remove_dir_all(&to).map_err(|e| PipelineError::io(&to, e))?;
                } else {
                    continue;
                }
            }
            if !from.exists() {
                fs::create_dir_all(&from).map_err(|e| PipelineError::io(&from, e))?;
            }
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(|e| PipelineError::io(parent, e))?;
            }
            fs::rename(&from, &to).map_err(|e| PipelineError::io(&to, e))?;
        }
        let previous = Dataset::current(store)
            .ok()
            .map(|d| d.published.version)
            .filter(|v| *v != version);
        let published = Published {
            format: POINTER_FORMAT,
            version,
            previous,
            reference_date: reference_date.to_owned(),
        };
        write_json(store.at(&layout::dataset_pointer()), &published)?;
        Ok(Dataset { published })
    }
}

/// Removes what crashed or older runs left: staging folders, files of the layout before
/// versions, temporary files, and versions other than the current and the previous one.
/// Only while holding the [`IngestLock`].
pub fn clean_stale(store: &Store, _lock: &IngestLock) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let mut remove = |path: PathBuf| -> Result<()> {
        let result = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        result.map_err(|e| PipelineError::io(&path, e))?;
        tracing::info!(path = %path.display(), "removed what an earlier run left");
        removed.push(path);
        Ok(())
    };
    let work = store.at(&layout::root(layout::INGEST_WORK));
    for entry in entries(&work)? {
        if entry.file_name().is_some_and(|n| n != "lock") {
            remove(entry)?;
        }
    }
    let keep: Vec<String> = match Dataset::current(store) {
        Ok(dataset) => std::iter::once(dataset.published.version)
            .chain(dataset.published.previous)
            .collect(),
        Err(_) => Vec::new(),
    };
    for folder in layout::DATASET_FOLDERS {
        for entry in entries(&store.at(&layout::root(folder)))? {
            let Some(name) = entry
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
            else {
                continue;
            };
            let stale = match layout::parse_version(&name) {
                Some(version) => !keep.iter().any(|k| k == version),
                // What the layout before versions wrote, and temporary files; the
                // pointer, and the raw objects a Lambda set aside, stay.
                None => {
                    name != layout::DATASET_POINTER_FILE
                        && !(folder == layout::QUARANTINE && name == "objects")
                        && (folder != layout::REPORTS || name == layout::INGEST_REPORT_FILE)
                }
            };
            if stale {
                remove(entry)?;
            }
        }
    }
    Ok(removed)
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            let mut paths = Vec::new();
            for entry in entries {
                paths.push(entry.map_err(|e| PipelineError::io(dir, e))?.path());
            }
            paths.sort();
            Ok(paths)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(PipelineError::io(dir, e)),
    }
}

/// A fingerprint of the files under `dirs` (their paths below each dir and their
/// contents, in name order): the same data gives the same fingerprint, any change another.
pub fn fingerprint(dirs: &[&Path]) -> Result<String> {
    let mut hash = churn_core::Fnv64::default();
    for dir in dirs {
        let mut files = Vec::new();
        collect_files(dir, &mut files)?;
        files.sort();
        for path in files {
            let name = path.strip_prefix(dir).unwrap_or(&path);
            hash.write_str(&name.to_string_lossy().replace('\\', "/"));
            // In blocks: the curated sessions of a million customers are hundreds of MB.
            let mut file = File::open(&path).map_err(|e| PipelineError::io(&path, e))?;
            let mut block = vec![0u8; 1 << 20];
            loop {
                let read = file
                    .read(&mut block)
                    .map_err(|e| PipelineError::io(&path, e))?;
                if read == 0 {
                    break;
                }
                hash.write(&block[..read]);
            }
            hash.write(&[0xff]);
        }
        hash.write(&[0xfe]);
    }
    Ok(hash.finish_hex())
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for path in entries(dir)? {
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_ingest_finds_the_lock_held_and_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::new(dir.path());
        let held = IngestLock::acquire(&store).expect("first");
        let error = IngestLock::acquire(&store).expect_err("second");
        assert!(
            error.to_string().contains("another ingest is running")
                && error.to_string().contains(&std::process::id().to_string()),
            "{error}"
        );
        drop(held);
        IngestLock::acquire(&store).expect("free again");
    }

    #[test]
    fn curated_data_without_a_pointer_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::new(dir.path());
        let missing = Dataset::current(&store).expect_err("nothing");
        assert!(
            missing.to_string().contains("run `churn ingest"),
            "{missing}"
        );
        fs::create_dir_all(dir.path().join("curated/customers")).expect("mkdir");
        let mix = Dataset::current(&store).expect_err("no pointer");
        assert!(mix.to_string().contains("may mix two runs"), "{mix}");
    }

    #[test]
    fn fingerprints_follow_names_and_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("a")).expect("mkdir");
        fs::write(dir.path().join("a/x"), b"1").expect("write");
        let first = fingerprint(&[dir.path()]).expect("hash");
        assert_eq!(fingerprint(&[dir.path()]).expect("hash"), first);
        fs::write(dir.path().join("a/x"), b"2").expect("write");
        assert_ne!(fingerprint(&[dir.path()]).expect("hash"), first);
    }
}
