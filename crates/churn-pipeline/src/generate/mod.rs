//! The generator of realistic raw data: `churn generate`.
//!
//! Writes the six raw sources for N simulated customers over a history window, in CSV,
//! JSON Lines or Parquet, with optional injected dirt, deterministically for a seed.
//! Customers are simulated in chunks on all cores and written in order, so memory stays
//! bounded (a few chunks) whatever N is, and the output does not depend on the number of
//! threads. A manifest (`raw/_generator.json`) records the parameters, the rows written
//! and the dirt injected, with what ingest must therefore quarantine and drop. [`Drift`]
//! scenarios change the population from a day on, for the monitor to find.

mod dirt;
mod drift;
mod simulate;
mod value;
mod write;

use std::collections::BTreeMap;
use std::fs;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Serialize;

pub use dirt::{DirtCounts, DirtKind, Fate, FileStyle};
pub use drift::Drift;
pub use simulate::customer_id;

use crate::contract::Source;
use crate::dates::{add_months, to_days};
use crate::error::{PipelineError, Result};
use crate::progress::Progress;
use crate::rng::Rng;
use crate::store::{RawFormat, Store, write_json};
use dirt::{Injector, Line};
use simulate::{Window, simulate};
use write::PartWriter;

/// Parameters of a generation run.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Number of customers.
    pub customers: u64,
    /// Seed: the same seed and parameters give the same bytes.
    pub seed: u64,
    /// File format of the raw files.
    pub format: RawFormat,
    /// Last day of the history (the extract date).
    pub end_date: NaiveDate,
    /// Length of the history window in months.
    pub history_months: u32,
    /// Probability that a row carries one kind of dirt (0 for clean data).
    pub dirt_rate: f64,
    /// Customers per raw file: each source is split into parts of this many customers.
    pub customers_per_file: u64,
    /// Replace raw data already in the store.
    pub overwrite: bool,
    /// Changes of the population from a day on ([`Drift`]), applied in order.
    pub drift: Vec<Drift>,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self {
            customers: 10_000,
            seed: 42,
            format: RawFormat::Csv,
            end_date: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap_or_default(),
            history_months: 18,
            dirt_rate: 0.0,
            customers_per_file: 250_000,
            overwrite: false,
            drift: Vec::new(),
        }
    }
}

/// What a generation run wrote; also saved as `raw/_generator.json`.
#[derive(Debug, Clone, Serialize)]
pub struct GenerateManifest {
    /// Program that wrote it.
    pub generator: String,
    /// Number of customers.
    pub customers: u64,
    /// Seed.
    pub seed: u64,
    /// File format.
    pub format: &'static str,
    /// First day of the history.
    pub window_start: String,
    /// Last day of the history.
    pub window_end: String,
    /// Dirt rate.
    pub dirt_rate: f64,
    /// Per source: files, rows written and dirt.
    pub sources: BTreeMap<&'static str, SourceManifest>,
    /// The drift scenarios simulated, as `--drift` takes them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
}

/// What was written for one source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceManifest {
    /// Files written, relative to the store root.
    pub files: Vec<String>,
    /// Rows (lines after the header) written, dirty ones included.
    pub rows_written: u64,
    /// Dirt injected, by kind.
    pub dirt: DirtCounts,
    /// Files written with CRLF line endings (file-level dirt; compressed files show in
    /// their names).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub crlf_files: Vec<String>,
    /// Rows whose customer's own row is quarantined: ingest quarantines them too
    /// ("customer quarantined"), whatever their own dirt.
    #[serde(skip_serializing_if = "is_zero")]
    pub orphaned_rows: u64,
    /// Rows ingest must quarantine because of the dirt (`orphaned_rows` included).
    pub expected_quarantined: u64,
    /// Rows ingest must drop as duplicates.
    pub expected_duplicates: u64,
}

const CHUNK_CUSTOMERS: u64 = 2_000;
const DIRT_STREAM_SALT: u64 = 0xd1b5_4a32_d192_ed03;

struct ChunkOutput {
    lines: [Vec<Line>; 6],
    dirt: [DirtCounts; 6],
    /// Per source: rows quarantined only because their customer is (see
    /// [`SourceManifest::orphaned_rows`]).
    orphaned: [u64; 6],
}

/// Keeps a zero count out of the manifest, so that clean data writes what it always did.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// Generates raw data into `store` under `raw/`.
pub fn generate(
    store: &Store,
    config: &GenerateConfig,
    progress: &dyn Progress,
) -> Result<GenerateManifest> {
    validate(config)?;
    prepare_raw_dirs(store, config.overwrite)?;
    let window = Window {
        start: to_days(add_months(config.end_date, -(config.history_months as i32))) + 1,
        end: to_days(config.end_date),
    };
    let injector = Injector::new(config.dirt_rate, config.format, window.end);
    let mut manifest = GenerateManifest {
        generator: format!("churn {}", env!("CARGO_PKG_VERSION")),
        customers: config.customers,
        seed: config.seed,
        format: config.format.extension(),
        window_start: crate::dates::from_days(window.start).to_string(),
        window_end: config.end_date.to_string(),
        dirt_rate: config.dirt_rate,
        sources: Source::ALL
            .iter()
            .map(|source| (source.name(), SourceManifest::default()))
            .collect(),
        drift: config.drift.iter().map(ToString::to_string).collect(),
    };

    progress.begin("generate", Some(config.customers), "customers");
    let parts = config.customers.div_ceil(config.customers_per_file);
    let batch = 2 * rayon::current_num_threads().max(1);
    for part in 0..parts {
        let part_start = part * config.customers_per_file;
        let part_end = (part_start + config.customers_per_file).min(config.customers);
        let mut writers = Vec::with_capacity(Source::ALL.len());
        let mut styles = Vec::with_capacity(Source::ALL.len());
        for (index, source) in Source::ALL.into_iter().enumerate() {
            let style = FileStyle::of(config.seed, part, index, config.dirt_rate, config.format);
            let name = format!(
                "part-{part:05}.{}{}",
                config.format.extension(),
                style.compression.extension()
            );
            let path = store.raw_dir(source).join(&name);
            writers.push(PartWriter::create(
                path,
                config.format,
                source.contract(),
                style,
            )?);
            styles.push(style);
        }
        let chunks: Vec<(u64, u64)> = (part_start..part_end)
            .step_by(CHUNK_CUSTOMERS as usize)
            .map(|start| (start, (start + CHUNK_CUSTOMERS).min(part_end)))
            .collect();
        for group in chunks.chunks(batch) {
            let outputs: Vec<ChunkOutput> = group
                .par_iter()
                .map(|&(start, end)| simulate_chunk(config, window, &injector, start, end))
                .collect();
            for output in outputs {
                for (index, source) in Source::ALL.iter().enumerate() {
                    writers[index].write(&output.lines[index])?;
                    let entry = manifest.sources.entry(source.name()).or_default();
                    entry.rows_written += output.lines[index].len() as u64;
                    entry.orphaned_rows += output.orphaned[index];
                    for (kind, count) in &output.dirt[index] {
                        *entry.dirt.entry(*kind).or_default() += count;
                    }
                }
            }
            progress.advance(group.iter().map(|(start, end)| end - start).sum());
        }
        for ((writer, source), style) in writers.into_iter().zip(Source::ALL).zip(styles) {
            let path = writer.finish()?;
            let relative = path
                .strip_prefix(store.root())
                .unwrap_or(&path)
                .display()
                .to_string();
            let entry = manifest.sources.entry(source.name()).or_default();
            if style.crlf {
                entry.crlf_files.push(relative.clone());
            }
            entry.files.push(relative);
        }
    }
    progress.end();

    for entry in manifest.sources.values_mut() {
        entry.expected_quarantined += entry.orphaned_rows;
        for (kind, count) in &entry.dirt {
            match kind.fate() {
                Fate::Quarantined => entry.expected_quarantined += count,
                Fate::Duplicate => entry.expected_duplicates += count,
                Fate::Kept => {}
            }
        }
    }
    write_json(
        store.at(&churn_core::layout::generator_manifest()),
        &manifest,
    )?;
    Ok(manifest)
}

fn validate(config: &GenerateConfig) -> Result<()> {
    let fail = |message: String| Err(PipelineError::InvalidInput(message));
    if config.customers == 0 {
        return fail("--customers must be at least 1".into());
    }
    if config.customers > 100_000_000 {
        return fail("--customers above 100,000,000 is not supported (ids have 7 digits... and a run would take hours)".into());
    }
    if !(0.0..=0.5).contains(&config.dirt_rate) {
        return fail(format!(
            "--dirt {} is out of range: use a probability per row between 0 and 0.5",
            config.dirt_rate
        ));
    }
    if config.history_months == 0 || config.history_months > 120 {
        return fail(format!(
            "--history-months {} is out of range: use 1 to 120",
            config.history_months
        ));
    }
    if config.customers_per_file == 0 {
        return fail("--customers-per-file must be at least 1".into());
    }
    // The first day of the history: a scenario must start after it (so that a model can
    // be trained on undrifted days) and by its last day (or nothing would change).
    let first = add_months(config.end_date, -(config.history_months as i32)) + chrono::Days::new(1);
    for drift in &config.drift {
        drift.check()?;
        let since = drift.since();
        if since <= first || since > config.end_date {
            return fail(format!(
                "--drift {drift}: {since} is outside the history after its first day ({first} to {}): start it between them",
                config.end_date
            ));
        }
    }
    Ok(())
}

fn prepare_raw_dirs(store: &Store, overwrite: bool) -> Result<()> {
    for source in Source::ALL {
        let dir = store.raw_dir(source);
        let occupied = fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some());
        if occupied {
            if !overwrite {
                return Err(PipelineError::InvalidInput(format!(
                    "{} already holds data; pass --force to replace the raw data in {}",
                    dir.display(),
                    store.root().display()
                )));
            }
            fs::remove_dir_all(&dir).map_err(|e| PipelineError::io(&dir, e))?;
        }
    }
    Ok(())
}

fn simulate_chunk(
    config: &GenerateConfig,
    window: Window,
    injector: &Injector,
    start: u64,
    end: u64,
) -> ChunkOutput {
    let mut output = ChunkOutput {
        lines: Default::default(),
        dirt: Default::default(),
        orphaned: [0; 6],
    };
    let seed = config.seed;
    for index in start..end {
        let mut history = simulate(seed, index, window);
        drift::apply(&config.drift, seed, index, &mut history);
        let mut rng = Rng::for_stream(seed ^ DIRT_STREAM_SALT, index);
        let sets = [
            history.customers,
            history.accounts,
            history.billing,
            history.sessions,
            history.tickets,
            history.churn_labels,
        ];
        // Customers come first: whether this customer's row is quarantined decides the
        // fate of all the rows that refer to it.
        let mut customer_quarantined = false;
        for (slot, (rows, source)) in sets.into_iter().zip(Source::ALL).enumerate() {
            let mut dirt = DirtCounts::new();
            let before = output.lines[slot].len();
            injector.apply(&mut rng, source, rows, &mut output.lines[slot], &mut dirt);
            if source == Source::Customers {
                // A key conflict quarantines the second row only: the first is curated.
                customer_quarantined = dirt
                    .keys()
                    .any(|kind| kind.fate() == Fate::Quarantined && *kind != DirtKind::KeyConflict);
            } else if customer_quarantined {
                // Every line is quarantined but the extra copies of duplicates, which
                // are still dropped as duplicates; the row's own dirt is counted apart.
                let count = |fate: Fate| -> u64 {
                    dirt.iter()
                        .filter(|(kind, _)| kind.fate() == fate)
                        .map(|(_, n)| n)
                        .sum()
                };
                let lines = (output.lines[slot].len() - before) as u64;
                output.orphaned[slot] += lines - count(Fate::Duplicate) - count(Fate::Quarantined);
            }
            for (kind, count) in dirt {
                *output.dirt[slot].entry(kind).or_default() += count;
            }
        }
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drift_scenario_outside_the_history_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (since, refused) in [
            ("2026-11-01", true),
            ("2025-05-01", true),
            ("2025-05-02", false),
            ("2026-10-31", false),
        ] {
            let config = GenerateConfig {
                customers: 10,
                drift: vec![format!("price-rise@{since}=1.2").parse().expect("scenario")],
                overwrite: true,
                ..GenerateConfig::default()
            };
            let result = generate(
                &Store::new(dir.path()),
                &config,
                &crate::progress::NoProgress,
            );
            match result {
                Err(error) => {
                    assert!(refused, "{since}: {error}");
                    assert!(error.to_string().contains("outside the history"), "{error}");
                }
                Ok(_) => assert!(!refused, "{since} was taken"),
            }
        }
    }
}
