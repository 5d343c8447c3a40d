//! Ingest: `churn ingest`. Raw files in, curated Parquet and quarantine out, every row
//! accounted for.
//!
//! For each source (customers first, since the others refer to it), every raw file is
//! streamed in chunks ([`read`]), each chunk validated as one polars plan ([`validate`]),
//! and the valid rows of the whole source cleaned together ([`clean`]): duplicates,
//! key conflicts, unknown or quarantined customers, outliers. Every entry of `raw/` that
//! is not read is listed with its reason. The run is as of a reference date it is given
//! (never the clock): later events are quarantined. Outputs are staged and published as
//! one dataset version only when every source succeeded ([`crate::dataset`]): a failed or
//! killed run changes nothing, and two runs at once cannot both publish. Raw app events
//! (`raw/events/`) are validated the same way and grouped into sessions ([`events`]),
//! which join the rows of `raw/sessions/`.

pub mod clean;
pub mod events;
pub mod quarantine;
pub mod read;
pub mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::sync_channel;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;

use crate::contract::Source;
use crate::dataset::{IngestLock, Staging, clean_stale};
use crate::dates::to_days;
use crate::error::{PipelineError, PolarsContext, Result};
use crate::progress::Progress;
use crate::store::{AtomicFile, RawFile, SkippedFile, Store};
use churn_core::layout;
use clean::{CustomerIds, FILE, OutlierReport, mark, outlier_fences, write_curated};
use events::{DEFAULT_SESSION_GAP_MINUTES, EventsReport, FileSessions, sessionise};
use quarantine::QuarantineWriter;
use read::{FileLayout, LineTally};
use validate::{ChunkStats, validate_chunk};

/// Rows per chunk unless told otherwise: about a gigabyte at the widest source.
pub const DEFAULT_CHUNK_ROWS: usize = 500_000;

/// Options of an ingest run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Rows per chunk: bounds the memory of reading and validation.
    pub chunk_rows: usize,
    /// The day the data is taken as of, normally the day of the run: an event after it
    /// cannot have happened and quarantines its row ("future"). A parameter, not the
    /// clock, so a run can be repeated; and without a default, so that no caller can
    /// forget it (the CLI passes today's UTC date unless told otherwise).
    pub reference_date: NaiveDate,
    /// Minutes without app events that end a session ([`events`]).
    pub session_gap_minutes: u32,
}

impl IngestOptions {
    /// The usual chunk size, as of `reference_date`.
    pub fn new(reference_date: NaiveDate) -> Self {
        Self {
            chunk_rows: DEFAULT_CHUNK_ROWS,
            reference_date,
            session_gap_minutes: DEFAULT_SESSION_GAP_MINUTES,
        }
    }
}

/// The ingest report, written to `reports/v=<version>/ingest-report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// Program that wrote it.
    pub generated_by: String,
    /// The dataset version published (a hash of the curated and quarantined rows).
    pub version: String,
    /// The reference date of the run: events after it were quarantined as "future".
    pub reference_date: String,
    /// True when every source is balanced.
    pub balanced: bool,
    /// Entries of `raw/` that are not source folders, with the reason they are not read.
    pub skipped: Vec<SkippedReport>,
    /// Per source.
    pub sources: BTreeMap<&'static str, SourceReport>,
    /// The raw app events, when `raw/events/` exists: their sessions are among the rows
    /// of `sessions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<EventsReport>,
}

impl IngestReport {
    /// Rows quarantined, over every source and the app events.
    pub fn quarantined(&self) -> u64 {
        let events = self
            .events
            .as_ref()
            .map_or(0, |events| events.rows.quarantined);
        self.sources.values().map(|s| s.quarantined).sum::<u64>() + events
    }

    /// Exact copies dropped, over every source and the app events.
    pub fn duplicates(&self) -> u64 {
        let events = self
            .events
            .as_ref()
            .map_or(0, |events| events.rows.duplicates);
        self.sources.values().map(|s| s.duplicates).sum::<u64>() + events
    }
}

/// An entry of `raw/` that was not read.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedReport {
    /// Path relative to the data directory.
    pub path: String,
    /// Why it was not read.
    pub reason: String,
}

/// What happened to the rows of one source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceReport {
    /// Files read, in order.
    pub files: Vec<FileReport>,
    /// Entries of the source's folder that were not read, with the reason.
    pub skipped: Vec<SkippedReport>,
    /// Rows read: non-empty lines after a CSV header (a row whose quoted field holds
    /// line breaks counts once), non-blank lines of JSON Lines, rows of Parquet.
    pub rows_in: u64,
    /// Rows written to `curated/v=<version>/<source>/data.parquet`.
    pub curated: u64,
    /// Rows written to `quarantine/v=<version>/<source>.jsonl`.
    pub quarantined: u64,
    /// Exact copies of earlier rows, dropped.
    pub duplicates: u64,
    /// `rows_in == curated + quarantined + duplicates`, and every text file's physical
    /// lines add up (see [`FileReport::lines`]).
    pub balanced: bool,
    /// Quarantined rows by kind of failure.
    pub quarantined_by_kind: BTreeMap<String, u64>,
    /// Missing values replaced by the column's constant, by column.
    pub imputed: BTreeMap<&'static str, u64>,
    /// Missing optional values kept empty, by column.
    pub missing_kept: BTreeMap<&'static str, u64>,
    /// Values of open categories outside the expected list (kept), by column.
    pub unexpected_values: BTreeMap<&'static str, u64>,
    /// Outliers clipped, by column.
    pub outliers: BTreeMap<&'static str, OutlierReport>,
    /// Where the curated rows are, relative to the data directory (none without files).
    pub curated_file: Option<String>,
    /// Where the quarantined rows are.
    pub quarantine_file: Option<String>,
}

/// One file read.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// Path relative to the data directory.
    pub path: String,
    /// Format.
    pub format: &'static str,
    /// `gzip` or `zstd` when the file was decompressed while read.
    pub compression: Option<&'static str>,
    /// Rows read from it.
    pub rows_in: u64,
    /// Text files: where their physical lines went, counted apart from the parser, with
    /// `lines = header_lines + blank_lines + rows_in + continuation_lines`.
    #[serde(flatten)]
    pub lines: Option<LineTally>,
    /// Layout details.
    #[serde(flatten)]
    pub layout: FileLayout,
}

/// A source's outputs, written beside their staged place until every source succeeded.
struct Staged {
    curated: Option<AtomicFile>,
    quarantine: Option<AtomicFile>,
}

/// Ingests every source of `store`'s `raw/` folder and publishes the result as a new
/// dataset version ([`crate::dataset`]): one ingest at a time, and nothing changes for a
/// reader until the whole version is in place.
pub fn ingest(
    store: &Store,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestReport> {
    let lock = IngestLock::acquire(store)?;
    clean_stale(store, &lock)?;
    let staging = Staging::new(store)?;
    let mut report = IngestReport {
        generated_by: format!("churn {}", env!("CARGO_PKG_VERSION")),
        version: String::new(),
        reference_date: options.reference_date.to_string(),
        balanced: true,
        skipped: skipped_reports(store, &store.raw_unknown_entries()?),
        sources: BTreeMap::new(),
        events: None,
    };
    let mut staged = Vec::new();
    let mut known_customers: Option<CustomerIds> = None;
    for source in Source::ALL {
        let listing = store.raw_files(source)?;
        let skipped = skipped_reports(store, &listing.skipped);
        // App events become sessions: they are read just before the sessions' files.
        let mut sessionised = Vec::new();
        if source == Source::Sessions
            && let Some((events_report, stage, sessions)) =
                ingest_events(store, &staging, known_customers.as_ref(), options, progress)?
        {
            report.balanced &= events_report.rows.balanced;
            report.events = Some(events_report);
            staged.push(stage);
            sessionised = sessions;
        }
        if listing.files.is_empty() && sessionised.is_empty() {
            if source.contract().required {
                return Err(PipelineError::Missing(format!(
                    "no raw files for the required source '{source}' in {} (expected .csv, \
                     .jsonl, .ndjson or .parquet files, optionally .gz or .zst; `churn \
                     generate` writes a sample){}",
                    store.raw_dir(source).display(),
                    not_read(&skipped)
                )));
            }
            tracing::warn!(source = source.name(), dir = %store.raw_dir(source).display(), "no raw files; features that need this source will be empty");
            staged.push(Staged::none());
            report.sources.insert(
                source.name(),
                SourceReport {
                    skipped,
                    balanced: true,
                    ..Default::default()
                },
            );
            continue;
        }
        let (mut source_report, stage, ids) = ingest_source(
            store,
            &staging,
            source,
            &listing.files,
            sessionised,
            known_customers.as_ref(),
            options,
            progress,
        )?;
        source_report.skipped = skipped;
        if source == Source::Customers {
            known_customers = ids;
        }
        report.balanced &= source_report.balanced;
        tracing::info!(
            source = source.name(),
            rows_in = source_report.rows_in,
            curated = source_report.curated,
            quarantined = source_report.quarantined,
            duplicates = source_report.duplicates,
            "ingested"
        );
        report.sources.insert(source.name(), source_report);
        staged.push(stage);
    }
    // Every source succeeded: the version is published whole, its pointer last.
    for stage in staged {
        for file in [stage.curated, stage.quarantine].into_iter().flatten() {
            file.commit()?;
        }
    }
    let dataset = staging.publish(store, &report.reference_date.clone(), |version| {
        report.version = version.to_owned();
        for (name, source_report) in report.sources.iter_mut() {
            let Some(source) = Source::ALL.into_iter().find(|s| s.name() == *name) else {
                continue;
            };
            if source_report.curated_file.is_some() {
                source_report.curated_file = Some(layout::curated(version, source).to_string());
                source_report.quarantine_file =
                    Some(layout::quarantine(version, source).to_string());
            }
        }
        if let Some(events) = report.events.as_mut()
            && events.rows.quarantine_file.is_some()
        {
            events.rows.quarantine_file =
                Some(layout::quarantine(version, Source::Events).to_string());
        }
        report.clone()
    })?;
    tracing::info!(version = dataset.version(), "dataset published");
    Ok(report)
}

impl Staged {
    /// Nothing to publish for a source without rows.
    fn none() -> Self {
        Self {
            curated: None,
            quarantine: None,
        }
    }
}

fn relative(store: &Store, path: &Path) -> String {
    path.strip_prefix(store.root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The entries not read, for the report, each also logged as a warning.
fn skipped_reports(store: &Store, skipped: &[SkippedFile]) -> Vec<SkippedReport> {
    skipped
        .iter()
        .map(|entry| {
            let path = relative(store, &entry.path);
            tracing::warn!(
                path = path.as_str(),
                reason = entry.reason.as_str(),
                "not read"
            );
            SkippedReport {
                path,
                reason: entry.reason.clone(),
            }
        })
        .collect()
}

/// " (not read: a: why; b: why)" for an error message, or nothing.
fn not_read(skipped: &[SkippedReport]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let entries: Vec<String> = skipped
        .iter()
        .map(|entry| format!("{}: {}", entry.path, entry.reason))
        .collect();
    format!(" (not read: {})", entries.join("; "))
}

/// A source's files read and validated, before the source-wide checks.
struct ReadSource {
    report: SourceReport,
    quarantine: QuarantineWriter,
    /// The files' names (and after them, those of the app-event files sessions came
    /// from), as the `__file` column indexes them.
    file_names: Vec<String>,
    valid_chunks: Vec<DataFrame>,
    stats: ChunkStats,
    /// Customers only: every raw id read, also of rows quarantined.
    ids: Vec<Series>,
}

/// Reads and validates every file of a source, chunk by chunk, quarantining the rows
/// that fail.
fn read_source(
    store: &Store,
    staging: &Staging,
    source: Source,
    files: &[RawFile],
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<ReadSource> {
    let contract = source.contract();
    let reference_day = to_days(options.reference_date);
    let mut report = SourceReport {
        balanced: true,
        ..SourceReport::default()
    };
    let mut quarantine = QuarantineWriter::create(staging.quarantine_file(source))?;
    let file_names: Vec<String> = files
        .iter()
        .map(|file| relative(store, &file.path))
        .collect();
    let mut valid_chunks: Vec<DataFrame> = Vec::new();
    let mut stats = ChunkStats::default();
    let mut ids: Vec<Series> = Vec::new();

    progress.begin(source.name(), None, "rows");
    for (file_index, file) in files.iter().enumerate() {
        let (mut layout, chunks) = read::open(file, contract, options.chunk_rows)?;
        let file_name = &file_names[file_index];
        let mut file_rows = 0u64;
        let mut ignored_keys = Vec::new();
        let mut tally = None;
        std::thread::scope(|scope| -> Result<()> {
            // Read the next chunk while this one is validated.
            let (sender, receiver) = sync_channel(1);
            scope.spawn(move || {
                for chunk in chunks {
                    if sender.send(chunk).is_err() {
                        break;
                    }
                }
            });
            for chunk in receiver {
                let chunk = chunk?;
                let rows = (chunk.frame.height() + chunk.bad.len()) as u64;
                file_rows += rows;
                ignored_keys.extend(chunk.ignored_keys);
                tally = tally.or(chunk.tally);
                quarantine.write_bad_rows(file_name, &chunk.bad)?;
                if source == Source::Customers {
                    let broken: Vec<Option<String>> = chunk
                        .bad
                        .iter()
                        .map(|row| row.customer_id.clone())
                        .collect();
                    ids.push(Series::new("customer_id".into(), broken));
                    let id = chunk
                        .frame
                        .column("customer_id")
                        .context(|| "reading customer ids".into())?
                        .as_materialized_series()
                        .clone();
                    ids.push(id);
                }
                let validated = validate_chunk(chunk.frame, contract, reference_day)?;
                quarantine.write_frame(&validated.quarantined, contract, &|_| file_name.clone())?;
                merge_stats(&mut stats, validated.stats);
                valid_chunks.push(tagged(validated.valid, file_index)?);
                progress.advance(rows);
            }
            Ok(())
        })?;
        layout.ignored_columns.extend(ignored_keys);
        if !layout.ignored_columns.is_empty() {
            tracing::warn!(file = file_name.as_str(), ignored = ?layout.ignored_columns, "columns outside the contract are ignored");
        }
        if let Some(tally) = tally
            && !tally.balances(file_rows)
        {
            // Every line read is a header, blank, a row or part of one: if not, rows were
            // lost between the bytes and the parser, and the report must not say balanced.
            tracing::error!(
                file = file_name.as_str(),
                ?tally,
                rows = file_rows,
                "the lines of the file do not add up"
            );
            report.balanced = false;
        }
        report.rows_in += file_rows;
        report.files.push(FileReport {
            path: file_name.clone(),
            format: file.format.extension(),
            compression: file.compression.name(),
            rows_in: file_rows,
            lines: tally,
            layout,
        });
    }
    progress.end();
    Ok(ReadSource {
        report,
        quarantine,
        file_names,
        valid_chunks,
        stats,
        ids,
    })
}

/// Tags validated rows with the index of their file.
fn tagged(mut valid: DataFrame, file_index: usize) -> Result<DataFrame> {
    let height = valid.height();
    valid
        .with_column(Column::new(FILE.into(), vec![file_index as u32; height]))
        .context(|| "tagging rows with their file".into())?;
    Ok(valid)
}

impl ReadSource {
    /// Adds the sessions made from one app-event file as if read from a file: validated
    /// by the sessions' contract, a refused one quarantined naming the event file and
    /// the line of its first event.
    fn add_sessions(&mut self, sessions: FileSessions, reference_day: i32) -> Result<()> {
        let contract = Source::Sessions.contract();
        let rows = sessions.frame.height() as u64;
        let file_index = self.file_names.len();
        let validated = validate_chunk(sessions.frame, contract, reference_day)?;
        self.quarantine
            .write_frame(&validated.quarantined, contract, &|_| sessions.file.clone())?;
        merge_stats(&mut self.stats, validated.stats);
        self.valid_chunks.push(tagged(validated.valid, file_index)?);
        self.file_names.push(sessions.file.clone());
        self.report.rows_in += rows;
        self.report.files.push(FileReport {
            path: sessions.file,
            format: "app events, sessionised",
            compression: None,
            rows_in: rows,
            lines: None,
            layout: FileLayout::default(),
        });
        Ok(())
    }

    /// The quarantine's and validation's counts into the report, and the balance.
    fn settle(&mut self) {
        let report = &mut self.report;
        report.quarantined = self.quarantine.rows();
        report.quarantined_by_kind = self.quarantine.by_kind().clone();
        let stats = std::mem::take(&mut self.stats);
        report.imputed = stats.imputed;
        report.missing_kept = stats.missing_kept;
        report.unexpected_values = stats.unexpected;
        report.balanced &=
            report.rows_in == report.curated + report.quarantined + report.duplicates;
        // Where it will be once published (the version is named then).
        report.quarantine_file = Some(String::new());
    }
}

/// The app events of `raw/events/`, validated, deduplicated and grouped into sessions
/// (per event file), or `None` when there is no such folder.
fn ingest_events(
    store: &Store,
    staging: &Staging,
    known_customers: Option<&CustomerIds>,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Option<(EventsReport, Staged, Vec<FileSessions>)>> {
    let source = Source::Events;
    let contract = source.contract();
    if !store.raw_dir(source).exists() {
        return Ok(None);
    }
    if options.session_gap_minutes == 0 {
        return Err(PipelineError::InvalidInput(
            "the session gap must be at least one minute".into(),
        ));
    }
    let listing = store.raw_files(source)?;
    let skipped = skipped_reports(store, &listing.skipped);
    let mut report = EventsReport {
        session_gap_minutes: options.session_gap_minutes,
        ..EventsReport::default()
    };
    if listing.files.is_empty() {
        tracing::warn!(dir = %store.raw_dir(source).display(), "no app-event files");
        report.rows = SourceReport {
            skipped,
            balanced: true,
            ..Default::default()
        };
        return Ok(Some((report, Staged::none(), Vec::new())));
    }
    let mut read = read_source(store, staging, source, &listing.files, options, progress)?;
    read.report.skipped = skipped;
    if read.report.rows_in == 0 {
        tracing::warn!(files = ?read.file_names, "the app-event files hold no rows");
        report.rows = read.report;
        return Ok(Some((report, Staged::none(), Vec::new())));
    }
    let all = stack(std::mem::take(&mut read.valid_chunks), contract)?;
    let marks = mark(&all, contract, known_customers, &read.file_names)?;
    read.report.duplicates = marks.duplicates;
    for rejected in &marks.rejected {
        read.quarantine.write_frame(
            rejected,
            contract,
            &file_lookup(rejected, &read.file_names),
        )?;
    }
    let kept = all
        .filter(&marks.keep)
        .context(|| "selecting the app events to sessionise".into())?;
    drop(all);
    read.report.curated = kept.height() as u64;
    let sessions = sessionise(&kept, &read.file_names, options.session_gap_minutes)?;
    read.settle();
    report.sessions = sessions.iter().map(|file| file.frame.height() as u64).sum();
    tracing::info!(
        events = read.report.rows_in,
        sessionised = read.report.curated,
        quarantined = read.report.quarantined,
        duplicates = read.report.duplicates,
        sessions = report.sessions,
        "app events sessionised"
    );
    let quarantine = read.quarantine.finish()?;
    report.rows = read.report;
    Ok(Some((
        report,
        Staged {
            curated: None,
            quarantine: Some(quarantine),
        },
        sessions,
    )))
}

#[allow(clippy::too_many_arguments)]
fn ingest_source(
    store: &Store,
    staging: &Staging,
    source: Source,
    files: &[RawFile],
    sessionised: Vec<FileSessions>,
    known_customers: Option<&CustomerIds>,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<(SourceReport, Staged, Option<CustomerIds>)> {
    let contract = source.contract();
    let timer = std::time::Instant::now();
    let lap = |step: &str| {
        let (resident_mib, peak_mib) = crate::progress::memory_mib();
        tracing::debug!(
            source = source.name(),
            step,
            seconds = timer.elapsed().as_secs_f64(),
            resident_mib,
            peak_mib,
            "ingest step done"
        );
    };
    let mut read = read_source(store, staging, source, files, options, progress)?;
    for sessions in sessionised {
        read.add_sessions(sessions, to_days(options.reference_date))?;
    }
    lap("read and validate");
    if read.report.rows_in == 0 {
        return no_rows(source, read.report);
    }

    let all = stack(std::mem::take(&mut read.valid_chunks), contract)?;
    lap("stack");
    let file_names = std::mem::take(&mut read.file_names);
    let marks = mark(&all, contract, known_customers, &file_names)?;
    read.report.duplicates = marks.duplicates;
    for rejected in &marks.rejected {
        read.quarantine
            .write_frame(rejected, contract, &file_lookup(rejected, &file_names))?;
    }
    lap("keys and customers");
    let fences = outlier_fences(&all, &marks.keep, contract)?;
    lap("outlier fences");
    let curated_target = staging.curated_file(source);
    let curated_file = AtomicFile::new(&curated_target)?;
    let (curated_rows, outliers) = write_curated(
        &all,
        &marks.keep,
        &fences,
        &file_names,
        curated_file.create_file()?,
    )?;
    lap("write curated");
    read.report.outliers = outliers;
    read.report.curated = curated_rows;
    read.settle();
    read.report.curated_file = Some(String::new());
    let quarantine_file = read.quarantine.finish()?;

    let known = if source == Source::Customers {
        Some(customer_ids(&all, &marks.keep, read.ids)?)
    } else {
        None
    };
    Ok((
        read.report,
        Staged {
            curated: Some(curated_file),
            quarantine: Some(quarantine_file),
        },
        known,
    ))
}

/// A source whose files hold no rows (a header-only CSV): like a missing folder, a
/// warning for an optional source and an error for a required one.
fn no_rows(
    source: Source,
    report: SourceReport,
) -> Result<(SourceReport, Staged, Option<CustomerIds>)> {
    let files: Vec<&str> = report.files.iter().map(|file| file.path.as_str()).collect();
    if source.contract().required {
        return Err(PipelineError::Missing(format!(
            "no rows for the required source '{source}': {} hold no rows (a header only?)",
            files.join(", ")
        )));
    }
    tracing::warn!(source = source.name(), files = ?files, "no rows; features that need this source will be empty");
    Ok((report, Staged::none(), None))
}

/// The curated customers, and those seen only in quarantined rows: `seen` holds the raw
/// ids of every row read (also rows that could not be split into fields).
fn customer_ids(all: &DataFrame, keep: &BooleanChunked, seen: Vec<Series>) -> Result<CustomerIds> {
    let curated = all
        .filter(keep)
        .context(|| "selecting curated customers".into())?
        .column("customer_id")
        .context(|| "reading customer ids".into())?
        .as_materialized_series()
        .clone();
    let mut seen = seen.into_iter();
    let mut every = seen
        .next()
        .unwrap_or_else(|| Series::new_empty("customer_id".into(), &DataType::String));
    for more in seen {
        every
            .append(&more)
            .context(|| "collecting customer ids".into())?;
    }
    let every = every
        .str()
        .context(|| "reading customer ids".into())?
        .apply_values(|id| id.trim().to_owned().into())
        .into_series()
        .drop_nulls()
        .unique()
        .context(|| "collecting customer ids".into())?;
    let quarantined = DataFrame::new(every.len(), vec![every.into_column()])
        .context(|| "collecting customer ids".into())?
        .lazy()
        .filter(
            col("customer_id")
                .is_in(lit(curated.clone()).implode(false), false)
                .not(),
        )
        .collect()
        .context(|| "finding quarantined customers".into())?
        .column("customer_id")
        .context(|| "reading customer ids".into())?
        .as_materialized_series()
        .clone();
    Ok(CustomerIds {
        curated,
        quarantined,
    })
}

fn file_lookup<'a>(frame: &DataFrame, file_names: &'a [String]) -> impl Fn(usize) -> String + 'a {
    let indices: Vec<Option<u32>> = frame
        .column(FILE)
        .ok()
        .and_then(|column| column.u32().ok().map(|values| values.iter().collect()))
        .unwrap_or_default();
    move |row| {
        indices
            .get(row)
            .copied()
            .flatten()
            .and_then(|index| file_names.get(index as usize))
            .cloned()
            .unwrap_or_default()
    }
}

fn merge_stats(total: &mut ChunkStats, chunk: ChunkStats) {
    for (into, from) in [
        (&mut total.imputed, chunk.imputed),
        (&mut total.missing_kept, chunk.missing_kept),
        (&mut total.unexpected, chunk.unexpected),
    ] {
        for (column, count) in from {
            *into.entry(column).or_default() += count;
        }
    }
}

/// Stacks validated chunks; an empty source gives an empty frame of the right schema.
fn stack(chunks: Vec<DataFrame>, contract: &crate::contract::SourceContract) -> Result<DataFrame> {
    let mut chunks = chunks.into_iter();
    let Some(mut all) = chunks.next() else {
        return Err(PipelineError::InvalidInput(format!(
            "no rows were read for {}",
            contract.source
        )));
    };
    // Chunks stay separate: rechunking would copy the whole source.
    for chunk in chunks {
        all.vstack_mut(&chunk)
            .context(|| format!("stacking {} chunks", contract.source))?;
    }
    Ok(all)
}
