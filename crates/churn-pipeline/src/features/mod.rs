//! Feature engineering: `churn features`.
//!
//! Two ways in: from the curated sources, as of a date ([`build_as_of`], leak-free by
//! construction, see [`asof`]); or from a flat table a team already has ([`table`]), with
//! column kinds inferred. Both write the table as Parquet with its [`FeatureSpec`] and a
//! summary beside it.

pub mod asof;
pub mod catalog;
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
    /// Last day the data covers (as-of builds only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_end: Option<String>,
    /// Anything the user should know (labels left empty, columns dropped...).
    pub warnings: Vec<String>,
    /// The spec's hash.
    pub spec_hash: String,
}

/// Loads the curated sources of a store (an absent optional source is empty).
pub fn load_sources(store: &Store) -> Result<Sources> {
    let load = |source: Source| -> Result<LazyFrame> {
        let path = store.curated_file(source);
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

/// The last day any source has an event on.
pub fn data_end(sources: &Sources) -> Result<Option<i32>> {
    let last_day = |frame: &LazyFrame, column: &str, timestamp: bool| -> Result<Option<i32>> {
        let expr = if timestamp {
            col(column).max().dt().date()
        } else {
            col(column).max()
        };
        let out = frame
            .clone()
            .select([expr.cast(DataType::Int32).alias("day")])
            .collect()
            .context(|| format!("finding the last {column}"))?;
        Ok(out
            .column("day")
            .ok()
            .and_then(|column| column.get(0).ok())
            .and_then(|value| value.extract::<i32>()))
    };
    let days = [
        last_day(&sources.accounts, "start_date", false)?,
        last_day(&sources.billing, "invoice_date", false)?,
        last_day(&sources.sessions, "started_at", true)?,
        last_day(&sources.tickets, "opened_at", true)?,
        last_day(&sources.churn_labels, "churn_date", false)?,
    ];
    Ok(days.into_iter().flatten().max())
}

/// `features/as_of=<date>/`.
pub fn as_of_dir(store: &Store, as_of: NaiveDate) -> PathBuf {
    store.path(&format!("features/as_of={as_of}"))
}

/// Builds the as-of feature table from the curated sources and writes it to `out`
/// (default `features/as_of=<date>/`).
pub fn build_as_of(
    store: &Store,
    as_of: NaiveDate,
    horizon_days: u32,
    out: Option<&Path>,
) -> Result<FeatureSummary> {
    if horizon_days == 0 || horizon_days > 3650 {
        return Err(PipelineError::InvalidInput(format!(
            "--horizon {horizon_days} is out of range: use 1 to 3650 days"
        )));
    }
    let sources = load_sources(store)?;
    let end = data_end(&sources)?;
    let as_of_day = to_days(as_of);
    let horizon_end = as_of_day + horizon_days as i32 - 1;
    let mut warnings = Vec::new();
    let label_known = end.is_some_and(|end| end >= horizon_end);
    if !label_known {
        warnings.push(format!(
            "the data ends on {}, before the horizon does ({}): the '{LABEL_COLUMN}' column is \
             left empty (this table is for prediction, not training)",
            end.map_or_else(
                || "(no events)".to_owned(),
                |day| from_days(day).to_string()
            ),
            from_days(horizon_end)
        ));
    }
    let cutoff = Cutoff {
        as_of: as_of_day,
        horizon_days: horizon_days as i32,
        label_known,
    };
    let mut frame = asof::build(&sources, cutoff)?;
    if frame.height() == 0 {
        warnings.push(format!(
            "no customer has an account running on {as_of}: is the date inside the data \
             (which ends on {})?",
            end.map_or_else(
                || "(no events)".to_owned(),
                |day| from_days(day).to_string()
            )
        ));
    }
    let spec = FeatureSpec::new(ID_COLUMN, Some(LABEL_COLUMN), as_of_feature_defs());
    let dir = out.map_or_else(|| as_of_dir(store, as_of), Path::to_path_buf);
    let mut summary = write_table(&dir, &mut frame, &spec, warnings)?;
    summary.as_of = Some(as_of.to_string());
    summary.horizon_days = Some(horizon_days);
    summary.data_end = end.map(|day| from_days(day).to_string());
    write_json(dir.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

/// Writes a feature table with its spec and summary into `dir`.
pub fn write_table(
    dir: &Path,
    frame: &mut DataFrame,
    spec: &FeatureSpec,
    warnings: Vec<String>,
) -> Result<FeatureSummary> {
    let (positives, labelled) = match spec
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
    };
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
        warnings,
        spec_hash: spec.hash.clone(),
    };
    write_json(dir.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

/// The rows of a feature folder as JSON objects (feature name to value, null when
/// missing), with their customer ids: what the online feature table stores for the
/// scoring API.
pub fn rows_as_json(
    dir: &Path,
) -> Result<Vec<(String, serde_json::Map<String, serde_json::Value>)>> {
    let dataset = crate::train::data::load_dir(dir, false)?;
    let names: Vec<&str> = dataset
        .spec
        .features
        .iter()
        .map(|feature| feature.name.as_str())
        .collect();
    Ok((0..dataset.len())
        .map(|row| {
            let values = names
                .iter()
                .zip(dataset.row_values(row))
                .map(|(name, value)| {
                    let json = match value {
                        churn_core::Value::Missing => serde_json::Value::Null,
                        churn_core::Value::Number(x) => serde_json::json!(x),
                        churn_core::Value::Bool(flag) => serde_json::Value::Bool(flag),
                        churn_core::Value::Text(text) => serde_json::Value::String(text.to_owned()),
                    };
                    ((*name).to_owned(), json)
                })
                .collect();
            (dataset.ids[row].clone(), values)
        })
        .collect())
}
