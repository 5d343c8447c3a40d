//! Ingest: `churn ingest`. Raw files in, curated Parquet and quarantine out, every row
//! accounted for.
//!
//! For each source (customers first, since the others refer to it), every raw file is
//! streamed in chunks ([`read`]), each chunk validated as one polars plan ([`validate`]),
//! and the valid rows of the whole source cleaned together ([`clean`]): duplicates,
//! key conflicts, unknown customers, outliers. Outputs are staged and published only when
//! every source succeeded, then the report is written: a failed run changes nothing.

pub mod clean;
pub mod quarantine;
pub mod read;
pub mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::sync_channel;

use polars::prelude::*;
use serde::Serialize;

use crate::contract::Source;
use crate::error::{PipelineError, PolarsContext, Result};
use crate::progress::Progress;
use crate::store::{AtomicFile, RawFormat, Store, write_json};
use clean::{FILE, OutlierReport, mark, outlier_fences, write_curated};
use quarantine::QuarantineWriter;
use read::FileLayout;
use validate::{ChunkStats, validate_chunk};

/// Options of an ingest run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Rows per chunk: bounds the memory of reading and validation.
    pub chunk_rows: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            chunk_rows: 500_000,
        }
    }
}

/// The ingest report, written to `reports/ingest-report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// Program that wrote it.
    pub generated_by: String,
    /// True when `rows_in = curated + quarantined + duplicates` holds for every source.
    pub balanced: bool,
    /// Per source.
    pub sources: BTreeMap<&'static str, SourceReport>,
}

/// What happened to the rows of one source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceReport {
    /// Files read, in order.
    pub files: Vec<FileReport>,
    /// Rows read (lines after the header; blank lines are not rows).
    pub rows_in: u64,
    /// Rows written to `curated/<source>/data.parquet`.
    pub curated: u64,
    /// Rows written to `quarantine/<source>.jsonl`.
    pub quarantined: u64,
    /// Exact copies of earlier rows, dropped.
    pub duplicates: u64,
    /// `rows_in == curated + quarantined + duplicates`.
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
    /// Rows read from it.
    pub rows_in: u64,
    /// Layout details.
    #[serde(flatten)]
    pub layout: FileLayout,
}

struct Staged {
    curated: Option<AtomicFile>,
    quarantine: Option<AtomicFile>,
    stale: Vec<std::path::PathBuf>,
}

/// Ingests every source of `store`'s `raw/` folder.
pub fn ingest(
    store: &Store,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestReport> {
    let mut report = IngestReport {
        generated_by: format!("churn {}", env!("CARGO_PKG_VERSION")),
        balanced: true,
        sources: BTreeMap::new(),
    };
    let mut staged = Vec::new();
    let mut known_customers: Option<Series> = None;
    for source in Source::ALL {
        let files = store.raw_files(source)?;
        if files.is_empty() {
            if source.contract().required {
                return Err(PipelineError::Missing(format!(
                    "no raw files for the required source '{source}' in {} (expected .csv, \
                     .jsonl, .ndjson or .parquet files; `churn generate` writes a sample)",
                    store.raw_dir(source).display()
                )));
            }
            tracing::warn!(source = source.name(), dir = %store.raw_dir(source).display(), "no raw files; features that need this source will be empty");
            staged.push(Staged {
                curated: None,
                quarantine: None,
                stale: vec![store.curated_file(source), store.quarantine_file(source)],
            });
            report.sources.insert(
                source.name(),
                SourceReport {
                    balanced: true,
                    ..Default::default()
                },
            );
            continue;
        }
        let (source_report, stage, ids) = ingest_source(
            store,
            source,
            &files,
            known_customers.as_ref(),
            options,
            progress,
        )?;
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
    // Every source succeeded: publish.
    for stage in staged {
        for file in [stage.curated, stage.quarantine].into_iter().flatten() {
            file.commit()?;
        }
        for path in stage.stale {
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| PipelineError::io(&path, e))?;
            }
        }
    }
    write_json(store.report_file("ingest-report.json"), &report)?;
    Ok(report)
}

fn relative(store: &Store, path: &Path) -> String {
    path.strip_prefix(store.root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn ingest_source(
    store: &Store,
    source: Source,
    files: &[(std::path::PathBuf, RawFormat)],
    known_customers: Option<&Series>,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<(SourceReport, Staged, Option<Series>)> {
    let contract = source.contract();
    let mut report = SourceReport::default();
    let mut quarantine = QuarantineWriter::create(store.quarantine_file(source))?;
    let file_names: Vec<String> = files
        .iter()
        .map(|(path, _)| relative(store, path))
        .collect();
    let mut valid_chunks: Vec<DataFrame> = Vec::new();
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
    let mut stats = ChunkStats::default();
    let mut ids: Vec<Series> = Vec::new();

    progress.begin(source.name(), None, "rows");
    for (file_index, (path, format)) in files.iter().enumerate() {
        let (mut layout, chunks) = read::open(path, *format, contract, options.chunk_rows)?;
        let file_name = &file_names[file_index];
        let mut file_rows = 0u64;
        let mut ignored_keys = Vec::new();
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
                let validated = validate_chunk(chunk.frame, contract)?;
                quarantine.write_frame(&validated.quarantined, contract, &|_| file_name.clone())?;
                merge_stats(&mut stats, validated.stats);
                let mut valid = validated.valid;
                let height = valid.height();
                valid
                    .with_column(Column::new(FILE.into(), vec![file_index as u32; height]))
                    .context(|| "tagging rows with their file".into())?;
                valid_chunks.push(valid);
                progress.advance(rows);
            }
            Ok(())
        })?;
        layout.ignored_columns.extend(ignored_keys);
        if !layout.ignored_columns.is_empty() {
            tracing::warn!(file = file_name.as_str(), ignored = ?layout.ignored_columns, "columns outside the contract are ignored");
        }
        report.rows_in += file_rows;
        report.files.push(FileReport {
            path: file_name.clone(),
            format: format.extension(),
            rows_in: file_rows,
            layout,
        });
    }
    progress.end();
    lap("read and validate");

    let all = stack(valid_chunks, contract)?;
    lap("stack");
    let marks = mark(&all, contract, known_customers, &file_names)?;
    report.duplicates = marks.duplicates;
    for rejected in &marks.rejected {
        quarantine.write_frame(rejected, contract, &file_lookup(rejected, &file_names))?;
    }
    lap("keys and customers");
    let fences = outlier_fences(&all, &marks.keep, contract)?;
    lap("outlier fences");
    let curated_target = store.curated_file(source);
    let curated_file = AtomicFile::new(&curated_target)?;
    let (curated_rows, outliers) = write_curated(
        &all,
        &marks.keep,
        &fences,
        &file_names,
        curated_file.create_file()?,
    )?;
    lap("write curated");
    report.outliers = outliers;
    report.curated = curated_rows;
    report.quarantined = quarantine.rows();
    report.quarantined_by_kind = quarantine.by_kind().clone();
    report.imputed = stats.imputed;
    report.missing_kept = stats.missing_kept;
    report.unexpected_values = stats.unexpected;
    report.balanced = report.rows_in == report.curated + report.quarantined + report.duplicates;
    report.curated_file = Some(relative(store, &curated_target));
    report.quarantine_file = Some(relative(store, &store.quarantine_file(source)));
    let quarantine_file = quarantine.finish()?;

    let known = if source == Source::Customers && !ids.is_empty() {
        let mut all_ids = ids.remove(0);
        for more in &ids {
            all_ids
                .append(more)
                .context(|| "collecting customer ids".into())?;
        }
        Some(
            all_ids
                .str()
                .context(|| "reading customer ids".into())?
                .apply_values(|id| id.trim().to_owned().into())
                .into_series()
                .drop_nulls()
                .unique()
                .context(|| "collecting customer ids".into())?,
        )
    } else {
        None
    };
    Ok((
        report,
        Staged {
            curated: Some(curated_file),
            quarantine: Some(quarantine_file),
            stale: Vec::new(),
        },
        known,
    ))
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
