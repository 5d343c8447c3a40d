//! Feature engineering: `churn features`.
//!
//! Two ways in: from the curated sources, as of a date ([`build_as_of`], leak-free by
//! construction, see [`asof`]); or from a flat table a team already has ([`table`]), with
//! column kinds inferred. Both write the table as Parquet with its [`FeatureSpec`] and a
//! summary beside it. And one way out: [`data`] reads a feature folder back into memory,
//! checked, for training, evaluation and the online feature table.

pub mod asof;
pub mod catalog;
pub mod data;
pub mod leakage;
pub mod profile;
pub mod table;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use churn_core::FeatureSpec;
use polars::prelude::*;
use serde::Serialize;

use crate::contract::{Source, SourceContract};
use crate::dates::{from_days, to_days};
use crate::error::{PipelineError, PolarsContext, Result};
use crate::store::{AtomicFile, Store, scan_parquet_file, write_json};
use asof::{Cutoff, Sources};
use catalog::{ID_COLUMN, LABEL_COLUMN, as_of_feature_defs};

/// File name of the feature table inside its folder.
pub const TABLE_FILE: &str = "features.parquet";
/// File name of the spec inside the folder.
pub const SPEC_FILE: &str = "feature_spec.json";
/// File name of the summary inside the folder.
pub const SUMMARY_FILE: &str = "summary.json";

/// What a feature build produced, saved as `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureSummary {
    /// Program that wrote it.
    pub generated_by: String,
    /// Folder holding the table, spec and summary.
    pub dir: String,
    /// Rows (customers).
    pub rows: u64,
    /// Feature columns.
    pub features: usize,
    /// Rows labelled churned.
    pub positives: u64,
    /// Rows with a known label.
    pub labelled: u64,
    /// The as-of date (as-of builds only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// The label horizon in days (as-of builds only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizon_days: Option<u32>,
    /// Last day the data covers (as-of builds only): see [`data_coverage`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_end: Option<String>,
    /// The source that sets `data_end`: the one that stops first when one stops early,
    /// else the one with the latest event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_end_source: Option<String>,
    /// Anything the user should know (labels left empty, columns dropped...).
    pub warnings: Vec<String>,
    /// The spec's hash.
    pub spec_hash: String,
}

/// Loads the curated sources of a store (an absent optional source is empty).
pub fn load_sources(store: &Store) -> Result<Sources> {
    let dataset = crate::dataset::Dataset::current(store)?;
    let load = |source: Source| -> Result<LazyFrame> {
        let path = store.at(&dataset.curated(source));
        if !path.exists() {
            if source.contract().required {
                return Err(PipelineError::Missing(format!(
                    "{} does not exist: run `churn ingest --dir {}` first",
                    path.display(),
                    store.root().display()
                )));
            }
            return empty_frame(source.contract()).map(IntoLazy::lazy);
        }
        scan_parquet_file(&path)
    };
    Ok(Sources {
        customers: load(Source::Customers)?,
        accounts: load(Source::Accounts)?,
        billing: load(Source::Billing)?,
        sessions: load(Source::Sessions)?,
        tickets: load(Source::Tickets)?,
        churn_labels: load(Source::ChurnLabels)?,
    })
}

/// An empty frame with the validated types of a source.
pub fn empty_frame(contract: &SourceContract) -> Result<DataFrame> {
    let columns = contract
        .columns
        .iter()
        .map(|column| Column::new_empty(column.name.into(), &column.ty.dtype()))
        .collect();
    DataFrame::new(0, columns).context(|| "building an empty frame".into())
}

/// A source whose last event is at most this many days before the latest source's is
/// taken to reach that day too: sparse sources (a few churns or tickets a day, no
/// invoices on the 29th to 31st) have quiet days at the end of any extract. A source
/// further behind stopped early, and nothing after its last event is known.
pub const COVERAGE_SLACK_DAYS: i32 = 7;

/// How far the curated sources reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataCoverage {
    /// The last day the data covers, days since 1970-01-01.
    pub end: i32,
    /// The source that sets it (see [`FeatureSummary::data_end_source`]).
    pub limited_by: Source,
    /// The last event day of every source with events, in source order.
    pub last_days: Vec<(Source, i32)>,
}

/// The last day the data covers, and the source that sets it. Each source reaches its
/// last event (over its event columns; ingest quarantined events after its reference
/// date). The data end is the latest of them, unless a source stops more than
/// [`COVERAGE_SLACK_DAYS`] earlier: then it is the earliest such source's last day, since
/// a horizon past it would label its missing events (a churn, a session) as absent.
/// Customers are not counted: a signup is not an activity that runs up to the extract.
pub fn data_coverage(sources: &Sources) -> Result<Option<DataCoverage>> {
    let last_day = |frame: &LazyFrame, source: Source| -> Result<Option<i32>> {
        let contract = source.contract();
        let days: Vec<Expr> = contract
            .events
            .iter()
            .map(|name| {
                let column = col(*name);
                let day = match contract.column(name).map(|c| c.ty) {
                    Some(crate::contract::ColumnType::Timestamp) => column.dt().date(),
                    _ => column,
                };
                day.max().cast(DataType::Int32).alias(*name)
            })
            .collect();
        let out = frame
            .clone()
            .select(days)
            .collect()
            .context(|| format!("finding the last event of {source}"))?;
        Ok(out
            .columns()
            .iter()
            .filter_map(|column| column.get(0).ok().and_then(|value| value.extract::<i32>()))
            .max())
    };
    let mut last_days = Vec::new();
    for (source, frame) in [
        (Source::Accounts, &sources.accounts),
        (Source::Billing, &sources.billing),
        (Source::Sessions, &sources.sessions),
        (Source::Tickets, &sources.tickets),
        (Source::ChurnLabels, &sources.churn_labels),
    ] {
        if let Some(day) = last_day(frame, source)? {
            last_days.push((source, day));
        }
    }
    let Some(&(latest_source, latest)) = last_days.iter().max_by_key(|(_, day)| *day) else {
        return Ok(None);
    };
    let (limited_by, end) = last_days
        .iter()
        .copied()
        .filter(|(_, day)| *day < latest - COVERAGE_SLACK_DAYS)
        .min_by_key(|(_, day)| *day)
        .unwrap_or((latest_source, latest));
    Ok(Some(DataCoverage {
        end,
        limited_by,
        last_days,
    }))
}

/// The last day the data covers (see [`data_coverage`]).
pub fn data_end(sources: &Sources) -> Result<Option<i32>> {
    Ok(data_coverage(sources)?.map(|coverage| coverage.end))
}

/// The last day a label "churned within `horizon_days` of `as_of`" covers (day
/// numbers): the label is known once the data reaches it. Features and the monitor's
/// matured predictions both go by it.
pub fn horizon_end(as_of: i32, horizon_days: u32) -> i32 {
    as_of + horizon_days as i32 - 1
}

/// `features/as_of=<date>/`.
pub fn as_of_dir(store: &Store, as_of: NaiveDate) -> PathBuf {
    store.at(&churn_core::layout::features_as_of(&as_of))
}

/// Builds the as-of feature table from the curated sources and writes it to `out`
/// (default `features/as_of=<date>/`).
pub fn build_as_of(
    store: &Store,
    as_of: NaiveDate,
    horizon_days: u32,
    out: Option<&Path>,
) -> Result<FeatureSummary> {
    build_as_of_parts(store, as_of, horizon_days, out, 1)
}

/// The label horizon when none is given: "churned within 90 days". One default for the
/// CLI, the functions and the stack's template (a test holds the template to it).
pub const DEFAULT_HORIZON_DAYS: u32 = 90;

/// Customers per part of a scoring snapshot (see [`build_as_of_parts`]).
pub const ROWS_PER_PART: u64 = 100_000;

/// Prefix of the part files of a snapshot written in parts.
pub const PART_PREFIX: &str = "part-";

/// The table files of a feature folder: its `features.parquet`, or the `part-*.parquet`
/// of a snapshot written in parts, in order.
pub fn table_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join(TABLE_FILE);
    if single.exists() {
        return Ok(vec![single]);
    }
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| PipelineError::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PART_PREFIX) && n.ends_with(".parquet"))
        })
        .collect();
    parts.sort();
    if parts.is_empty() {
        return Err(PipelineError::Missing(format!(
            "{}: no {TABLE_FILE} and no {PART_PREFIX}*.parquet (`churn features` writes them)",
            dir.display()
        )));
    }
    Ok(parts)
}

/// Customers per part of a snapshot of `customers` customers: at most
/// [`ROWS_PER_PART`] each.
pub fn parts_for(customers: u64) -> usize {
    customers.div_ceil(ROWS_PER_PART).max(1) as usize
}

/// The number of customers in the curated data.
pub fn customer_count(store: &Store) -> Result<u64> {
    let sources = load_sources(store)?;
    crate::store::row_count(sources.customers).context(|| "counting customers".into())
}

/// Like [`build_as_of`], in `parts` parts by customer-id range, each written as
/// `part-<n>.parquet` (one part: `features.parquet`). The sources are read once per
/// part and hold only that part's customers, so memory is about a part's worth: a
/// million customers in ten parts fit a 2 GB Lambda. Each part can also be scored on
/// its own (the Distributed Map's shards).
pub fn build_as_of_parts(
    store: &Store,
    as_of: NaiveDate,
    horizon_days: u32,
    out: Option<&Path>,
    parts: usize,
) -> Result<FeatureSummary> {
    if horizon_days == 0 || horizon_days > 3650 {
        return Err(PipelineError::InvalidInput(format!(
            "--horizon {horizon_days} is out of range: use 1 to 3650 days"
        )));
    }
    let sources = load_sources(store)?;
    let coverage = data_coverage(&sources)?;
    let end = coverage.as_ref().map(|coverage| coverage.end);
    let as_of_day = to_days(as_of);
    let horizon_end = horizon_end(as_of_day, horizon_days);
    let mut warnings = Vec::new();
    let label_known = end.is_some_and(|end| end >= horizon_end);
    if !label_known {
        warnings.push(format!(
            "the data ends on {}, before the horizon does ({}): the '{LABEL_COLUMN}' column is \
             left empty (this table is for prediction, not training)",
            coverage.as_ref().map_or_else(
                || "(no events)".to_owned(),
                |coverage| format!(
                    "{} (the last day {} covers)",
                    from_days(coverage.end),
                    coverage.limited_by
                )
            ),
            from_days(horizon_end)
        ));
    }
    if let Some(coverage) = &coverage
        && let Some((latest_source, latest)) = coverage
            .last_days
            .iter()
            .max_by_key(|(_, day)| *day)
            .filter(|(_, day)| *day != coverage.end)
    {
        warnings.push(format!(
            "{} stops on {}, {} days before {latest_source} ({}): the data is taken to end \
             there, since later days are not covered by every source",
            coverage.limited_by,
            from_days(coverage.end),
            latest - coverage.end,
            from_days(*latest)
        ));
    }
    let cutoff = Cutoff {
        as_of: as_of_day,
        horizon_days: horizon_days as i32,
        label_known,
    };
    let spec = FeatureSpec::new(ID_COLUMN, Some(LABEL_COLUMN), as_of_feature_defs());
    let dir = out.map_or_else(|| as_of_dir(store, as_of), Path::to_path_buf);
    let mut summary = if parts <= 1 {
        let mut frame = asof::build(&sources, cutoff)?;
        write_table(&dir, &mut frame, &spec, warnings)?
    } else {
        let bounds = id_bounds(&sources, parts)?;
        let mut totals = (0u64, 0u64, 0u64);
        for part in 0..parts {
            let from = part
                .checked_sub(1)
                .and_then(|i| bounds.get(i))
                .map(String::as_str);
            let to = bounds.get(part).map(String::as_str);
            let mut frame = asof::build(&sources.restricted(from, to), cutoff)?;
            let (positives, labelled) = label_counts(&frame, &spec);
            totals = (
                totals.0 + frame.height() as u64,
                totals.1 + positives,
                totals.2 + labelled,
            );
            let file = AtomicFile::new(dir.join(format!("{PART_PREFIX}{part:05}.parquet")))?;
            ParquetWriter::new(file.create_file()?)
                .finish(&mut frame)
                .context(|| format!("writing {}", file.target().display()))?;
            file.commit_file()?;
        }
        write_json(dir.join(SPEC_FILE), &spec)?;
        FeatureSummary {
            generated_by: format!("churn {}", env!("CARGO_PKG_VERSION")),
            dir: dir.display().to_string(),
            rows: totals.0,
            features: spec.features.len(),
            positives: totals.1,
            labelled: totals.2,
            as_of: None,
            horizon_days: None,
            data_end: None,
            data_end_source: None,
            warnings,
            spec_hash: spec.hash.clone(),
        }
    };
    if summary.rows == 0 {
        summary.warnings.push(format!(
            "no customer has an account running on {as_of}: is the date inside the data \
             (which ends on {})?",
            end.map_or_else(
                || "(no events)".to_owned(),
                |day| from_days(day).to_string()
            )
        ));
    }
    summary.as_of = Some(as_of.to_string());
    summary.horizon_days = Some(horizon_days);
    summary.data_end = end.map(|day| from_days(day).to_string());
    summary.data_end_source = coverage.map(|coverage| coverage.limited_by.name().to_owned());
    write_json(dir.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

/// `parts - 1` customer ids that cut the sorted ids into parts of equal size.
fn id_bounds(sources: &Sources, parts: usize) -> Result<Vec<String>> {
    let ids = sources
        .customers
        .clone()
        .select([col(ID_COLUMN).cast(DataType::String)])
        .sort([ID_COLUMN], SortMultipleOptions::default())
        .collect()
        .context(|| "reading customer ids".into())?;
    let ids = ids
        .column(ID_COLUMN)
        .and_then(|c| c.str().cloned())
        .context(|| "reading customer ids".into())?;
    let n = ids.len();
    let mut bounds: Vec<String> = (1..parts)
        .filter_map(|k| ids.get(k * n / parts).map(str::to_owned))
        .collect();
    bounds.dedup();
    Ok(bounds)
}

/// Churned and labelled rows of a feature table.
fn label_counts(frame: &DataFrame, spec: &FeatureSpec) -> (u64, u64) {
    match spec
        .label_column
        .as_deref()
        .and_then(|label| frame.column(label).ok())
        .and_then(|column| column.bool().ok())
    {
        Some(labels) => (
            labels.sum().unwrap_or(0) as u64,
            (labels.len() - labels.null_count()) as u64,
        ),
        None => (0, 0),
    }
}

/// Writes a feature table with its spec and summary into `dir`.
pub fn write_table(
    dir: &Path,
    frame: &mut DataFrame,
    spec: &FeatureSpec,
    warnings: Vec<String>,
) -> Result<FeatureSummary> {
    let (positives, labelled) = label_counts(frame, spec);
    let table = AtomicFile::new(dir.join(TABLE_FILE))?;
    ParquetWriter::new(table.create_file()?)
        .finish(frame)
        .context(|| format!("writing {}", table.target().display()))?;
    table.commit_file()?;
    write_json(dir.join(SPEC_FILE), spec)?;
    let summary = FeatureSummary {
        generated_by: format!("churn {}", env!("CARGO_PKG_VERSION")),
        dir: dir.display().to_string(),
        rows: frame.height() as u64,
        features: spec.features.len(),
        positives,
        labelled,
        as_of: None,
        horizon_days: None,
        data_end: None,
        data_end_source: None,
        warnings,
        spec_hash: spec.hash.clone(),
    };
    write_json(dir.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

/// The rows of one table file of a feature folder as JSON objects (feature name to
/// value, null when missing), with their customer ids: what the online feature table
/// stores for the scoring API. One file at a time, so a snapshot in parts never sits in
/// memory whole.
pub fn rows_as_json(
    dir: &Path,
    table: &Path,
) -> Result<Vec<(String, serde_json::Map<String, serde_json::Value>)>> {
    let dataset = data::load_file(dir, table, false)?;
    Ok((0..dataset.len())
        .map(|row| (dataset.ids[row].clone(), row_as_json(&dataset, row)))
        .collect())
}

/// Row `row` of a feature table as a JSON object (feature name to value, null when
/// missing): the online feature row, and what `churn serve` answers for a customer.
pub fn row_as_json(
    dataset: &data::Dataset,
    row: usize,
) -> serde_json::Map<String, serde_json::Value> {
    dataset
        .spec
        .features
        .iter()
        .zip(dataset.row_values(row))
        .map(|(feature, value)| {
            let json = match value {
                churn_core::Value::Missing => serde_json::Value::Null,
                churn_core::Value::Number(x) => serde_json::json!(x),
                churn_core::Value::Bool(flag) => serde_json::Value::Bool(flag),
                churn_core::Value::Text(text) => serde_json::Value::String(text.to_owned()),
            };
            (feature.name.clone(), json)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_readme_states_the_coverage_slack() {
        let readme = include_str!("../../../../README.md").replace("\n  ", " ");
        let slack = format!(
            "more than {} days before the others",
            super::COVERAGE_SLACK_DAYS
        );
        assert!(readme.contains(&slack), "README.md says {slack}");
    }
}
