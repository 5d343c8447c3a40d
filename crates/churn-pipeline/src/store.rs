//! The local store: one directory holding the same key layout the S3 bucket will
//! (`raw/`, `curated/`, `quarantine/`, `features/`, `reports/`, ...).
//!
//! Every file is written whole: to a temporary name beside its target, then renamed, so a
//! crash never leaves a half-written file that a reader would take as complete.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::contract::Source;
use crate::error::{PipelineError, Result};
use churn_core::layout::{self, Key};

/// A data directory laid out by key prefix.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of a key such as `curated/accounts/data.parquet`.
    pub fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The path of a key of the [`layout`].
    pub fn at(&self, key: &Key) -> PathBuf {
        key.local(&self.root)
    }

    /// `raw/<source>/`.
    pub fn raw_dir(&self, source: Source) -> PathBuf {
        self.at(&layout::raw_source(source))
    }

    /// `reports/<name>`.
    pub fn report_file(&self, name: &str) -> PathBuf {
        self.at(&layout::report(name))
    }

    /// The raw files of a source, sorted by name, with their format and compression, and
    /// every other entry of its folder with the reason it is not read: nothing in
    /// `raw/<source>/` is passed over without a word.
    pub fn raw_files(&self, source: Source) -> Result<RawListing> {
        let dir = self.raw_dir(source);
        let mut listing = RawListing::default();
        if !dir.exists() {
            return Ok(listing);
        }
        for entry in fs::read_dir(&dir).map_err(|e| PipelineError::io(&dir, e))? {
            let path = entry.map_err(|e| PipelineError::io(&dir, e))?.path();
            match RawFile::classify(&path) {
                Ok(file) => listing.files.push(file),
                Err(reason) => listing.skipped.push(SkippedFile { path, reason }),
            }
        }
        listing.files.sort_by(|a, b| a.path.cmp(&b.path));
        listing.skipped.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(listing)
    }
}

impl Store {
    /// Entries of `raw/` that are neither a source folder nor the generator's manifest,
    /// with the reason they are not read: a folder named `customer/` must not pass for
    /// an absent source without a word.
    pub fn raw_unknown_entries(&self) -> Result<Vec<SkippedFile>> {
        let dir = self.root.join("raw");
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut skipped = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| PipelineError::io(&dir, e))? {
            let path = entry.map_err(|e| PipelineError::io(&dir, e))?.path();
            let name = path.file_name().and_then(|name| name.to_str());
            let is_dir = path.is_dir();
            let reason = match name {
                Some(name) if is_dir && Source::from_name(name).is_some() => continue,
                Some(layout::GENERATOR_MANIFEST_FILE) if !is_dir => continue,
                _ if is_dir => format!(
                    "not a source folder (the sources are {})",
                    Source::ALL.map(Source::name).join(", ")
                ),
                _ => "a file directly under raw/: raw files go in raw/<source>/".to_owned(),
            };
            skipped.push(SkippedFile { path, reason });
        }
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(skipped)
    }
}

/// What a source folder under `raw/` holds.
#[derive(Debug, Clone, Default)]
pub struct RawListing {
    /// Files to read, sorted by name.
    pub files: Vec<RawFile>,
    /// Entries that are not read, sorted by name, each with its reason.
    pub skipped: Vec<SkippedFile>,
}

/// An entry of a raw folder that is not read.
#[derive(Debug, Clone)]
pub struct SkippedFile {
    /// The file or folder.
    pub path: PathBuf,
    /// Why it is not read.
    pub reason: String,
}

/// A raw file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its format once decompressed.
    pub format: RawFormat,
    /// How it is compressed.
    pub compression: Compression,
}

impl RawFile {
    /// A readable raw file, or the reason `path` is not one.
    pub fn classify(path: &Path) -> std::result::Result<Self, String> {
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            return Err("the name is not valid UTF-8; rename it".into());
        };
        if name.starts_with('.') {
            return Err("a hidden file (its name starts with '.')".into());
        }
        if path.is_dir() {
            return Err(
                "a folder: raw/<source>/ is not read recursively; move its files up".into(),
            );
        }
        if !path.is_file() {
            return Err("not a regular file".into());
        }
        let lower = name.to_ascii_lowercase();
        let (stem, compression) = Compression::split(&lower);
        let format = Path::new(stem)
            .extension()
            .and_then(|e| e.to_str())
            .and_then(|extension| match extension {
                "csv" => Some(RawFormat::Csv),
                "jsonl" | "ndjson" => Some(RawFormat::JsonLines),
                "parquet" => Some(RawFormat::Parquet),
                _ => None,
            });
        match format {
            // Parquet compresses its pages itself; a compressed Parquet file cannot be
            // read in row groups without decompressing it whole.
            Some(RawFormat::Parquet) if compression != Compression::None => Err(format!(
                "a {} compressed Parquet file: decompress it (Parquet compresses its own pages)",
                compression.name().unwrap_or_default()
            )),
            Some(format) => Ok(Self {
                path: path.to_owned(),
                format,
                compression,
            }),
            None => Err(format!(
                "the extension {} is not a raw data format (expected .csv, .jsonl, .ndjson or \
                 .parquet; CSV and JSON Lines may be compressed as .gz or .zst)",
                Path::new(&lower)
                    .extension()
                    .and_then(|e| e.to_str())
                    .map_or_else(|| "(none)".to_owned(), |e| format!("'.{e}'"))
            )),
        }
    }
}

/// How a raw text file is compressed, from its last extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip (`.gz`), possibly several members one after another.
    Gzip,
    /// Zstandard (`.zst`, `.zstd`), possibly several frames.
    Zstd,
}

impl Compression {
    /// Splits a lowercase file name into the name without the compression extension and
    /// the compression.
    fn split(name: &str) -> (&str, Self) {
        for (suffix, compression) in [
            (".gz", Self::Gzip),
            (".zst", Self::Zstd),
            (".zstd", Self::Zstd),
        ] {
            if let Some(stem) = name.strip_suffix(suffix) {
                return (stem, compression);
            }
        }
        (name, Self::None)
    }

    /// The name used in reports (none when not compressed).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Gzip => Some("gzip"),
            Self::Zstd => Some("zstd"),
        }
    }

    /// The extension appended to a file's name (empty when not compressed).
    pub fn extension(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Gzip => ".gz",
            Self::Zstd => ".zst",
        }
    }
}

/// The file formats raw data may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RawFormat {
    /// Comma-separated values with a header.
    Csv,
    /// One JSON object per line.
    JsonLines,
    /// Apache Parquet.
    Parquet,
}

impl RawFormat {
    /// The format of an uncompressed file, by extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::JsonLines),
            "parquet" => Some(Self::Parquet),
            _ => None,
        }
    }

    /// The extension written by the generator.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::JsonLines => "jsonl",
            Self::Parquet => "parquet",
        }
    }

    /// Parses a `--format` value.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" | "json" => Some(Self::JsonLines),
            "parquet" => Some(Self::Parquet),
            _ => None,
        }
    }
}

/// A file being written under a temporary name beside its target; [`AtomicFile::commit`]
/// renames it into place. Dropped without a commit, the temporary file is removed.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Prepares to write `target`, creating its folder.
    pub fn new(target: impl Into<PathBuf>) -> Result<Self> {
        let target = target.into();
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| PipelineError::io(parent, e))?;
        }
        let file_name = target
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("output");
        let temp = target.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
        Ok(Self {
            target,
            temp,
            committed: false,
        })
    }

    /// Where to write the content.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Creates the temporary file for buffered writing.
    pub fn create_writer(&self) -> Result<BufWriter<File>> {
        let file = File::create(&self.temp).map_err(|e| PipelineError::io(&self.temp, e))?;
        Ok(BufWriter::with_capacity(1 << 20, file))
    }

    /// Creates the temporary file for unbuffered writing: for writers that buffer
    /// themselves and would otherwise lose a flush error in a `BufWriter`'s drop
    /// (Parquet).
    pub fn create_file(&self) -> Result<File> {
        File::create(&self.temp).map_err(|e| PipelineError::io(&self.temp, e))
    }

    /// Syncs the file written through a handle from [`AtomicFile::create_file`] and
    /// renames it into place.
    pub fn commit_file(self) -> Result<PathBuf> {
        File::open(&self.temp)
            .and_then(|file| file.sync_all())
            .map_err(|e| PipelineError::io(&self.temp, e))?;
        self.commit()
    }

    /// Flushes `writer`, syncs it and renames the file into place.
    pub fn commit_writer(self, writer: BufWriter<File>) -> Result<PathBuf> {
        let file = writer
            .into_inner()
            .map_err(|e| PipelineError::io(&self.temp, e.into_error()))?;
        file.sync_all()
            .map_err(|e| PipelineError::io(&self.temp, e))?;
        drop(file);
        self.commit()
    }

    /// Renames the (already closed) temporary file into place.
    pub fn commit(mut self) -> Result<PathBuf> {
        fs::rename(&self.temp, &self.target).map_err(|e| PipelineError::io(&self.target, e))?;
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// The folders of `dir` whose names start with `prefix` (`shard=`, `challenger=`), in
/// name order; none when `dir` does not exist.
pub fn subfolders(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| {
                path.is_dir()
                    && path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(PipelineError::io(dir, e)),
    };
    found.sort();
    Ok(found)
}

/// Writes `bytes` to `target` atomically.
pub fn write_atomic(target: impl Into<PathBuf>, bytes: &[u8]) -> Result<PathBuf> {
    let file = AtomicFile::new(target)?;
    let mut writer = file.create_writer()?;
    writer
        .write_all(bytes)
        .map_err(|e| PipelineError::io(file.temp_path(), e))?;
    file.commit_writer(writer)
}

/// Writes `value` as pretty JSON to `target` atomically.
pub fn write_json<T: serde::Serialize>(target: impl Into<PathBuf>, value: &T) -> Result<PathBuf> {
    let target = target.into();
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| PipelineError::Json {
        context: format!("encoding {}", target.display()),
        source,
    })?;
    bytes.push(b'\n');
    write_atomic(target, &bytes)
}

/// Scans one Parquet file lazily. Hive partitioning is off: our folders such as
/// `features/as_of=2026-01-31/` name a build, not a column to add.
pub fn scan_parquet_file(path: &Path) -> Result<polars::prelude::LazyFrame> {
    use polars::prelude::{LazyFrame, PlRefPath, ScanArgsParquet};
    let text = path
        .to_str()
        .ok_or_else(|| PipelineError::bad_file(path, "the path is not valid UTF-8; rename it"))?;
    let mut args = ScanArgsParquet::default();
    args.hive_options.enabled = Some(false);
    LazyFrame::scan_parquet(PlRefPath::new(text), args).map_err(|error| {
        PipelineError::bad_file(path, format!("not a readable Parquet file: {error}"))
    })
}

/// The number of rows of a lazy frame (a `len()` query: Parquet answers it from its
/// metadata, CSV by counting lines, without materialising the rows).
pub fn row_count(frame: polars::prelude::LazyFrame) -> polars::prelude::PolarsResult<u64> {
    use polars::prelude::len;
    Ok(frame
        .select([len()])
        .collect()?
        .column("len")
        .ok()
        .and_then(|column| column.get(0).ok())
        .and_then(|value| value.extract::<u64>())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_files_leave_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("a/b/out.txt");
        {
            let file = AtomicFile::new(&target).expect("create");
            let mut writer = file.create_writer().expect("writer");
            writer.write_all(b"half").expect("write");
            writer.flush().expect("flush");
        }
        assert!(!target.exists());
        assert_eq!(
            fs::read_dir(dir.path().join("a/b")).expect("dir").count(),
            0
        );

        write_atomic(&target, b"whole").expect("write");
        assert_eq!(fs::read(&target).expect("read"), b"whole");
        assert_eq!(
            fs::read_dir(dir.path().join("a/b")).expect("dir").count(),
            1
        );
    }

    #[test]
    fn raw_files_are_sorted_and_the_rest_listed_with_a_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::new(dir.path());
        let raw = store.raw_dir(Source::Sessions);
        fs::create_dir_all(raw.join("old")).expect("mkdir");
        for name in [
            "b.csv",
            "a.parquet",
            "c.JSONL",
            "d.csv.gz",
            "e.ndjson.ZST",
            "notes.txt",
            ".hidden.csv",
            "f.parquet.gz",
            "_SUCCESS",
        ] {
            fs::write(raw.join(name), b"").expect("write");
        }
        let listing = store.raw_files(Source::Sessions).expect("list");
        let name = |path: &Path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned()
        };
        let files: Vec<_> = listing
            .files
            .iter()
            .map(|file| (name(&file.path), file.format, file.compression))
            .collect();
        assert_eq!(
            files,
            [
                ("a.parquet".into(), RawFormat::Parquet, Compression::None),
                ("b.csv".into(), RawFormat::Csv, Compression::None),
                ("c.JSONL".into(), RawFormat::JsonLines, Compression::None),
                ("d.csv.gz".into(), RawFormat::Csv, Compression::Gzip),
                (
                    "e.ndjson.ZST".into(),
                    RawFormat::JsonLines,
                    Compression::Zstd
                ),
            ]
        );
        let skipped: Vec<_> = listing.skipped.iter().map(|s| name(&s.path)).collect();
        assert_eq!(
            skipped,
            [
                ".hidden.csv",
                "_SUCCESS",
                "f.parquet.gz",
                "notes.txt",
                "old"
            ]
        );
        assert!(listing.skipped.iter().all(|s| !s.reason.is_empty()));
    }
}
