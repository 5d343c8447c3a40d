//! The feature-folder reader: a feature table and its spec (as [`super`] writes them),
//! checked and held in memory by column, for training, evaluation and the online table.
//!
//! Every problem a user can cause is a clear error here, before any model is fitted: a
//! missing column, a column of the wrong type, infinite or absurdly large values (beyond
//! [`MAX_MAGNITUDE`]), a missing or one-class label, too few rows for the folds. NaN in a numeric column is read as missing (the
//! documented fallback: Parquet writers use it for "unknown"). Columns the spec does not
//! list are ignored, with a warning.

use std::path::Path;

use churn_core::{FeatureKind, FeatureSpec, Fnv64, Value};
use polars::prelude::*;

use super::{SPEC_FILE, SUMMARY_FILE, TABLE_FILE};
use crate::error::{PipelineError, PolarsContext, Result};
use crate::store::scan_parquet_file;

/// The values of one feature.
#[derive(Debug, Clone)]
pub enum FeatureColumn {
    /// Numbers; NaN is missing.
    Numeric(Vec<f64>),
    /// Booleans.
    Boolean(Vec<Option<bool>>),
    /// Categories as codes into `levels` (sorted); `u32::MAX` is missing.
    Categorical {
        /// One code per row.
        codes: Vec<u32>,
        /// The distinct values, sorted.
        levels: Vec<String>,
    },
}

/// Code of a missing category.
pub const MISSING_CODE: u32 = u32::MAX;

/// The largest magnitude a numeric feature may hold; beyond it a value is refused like an
/// infinite one, naming its column and row. No real measurement comes near it, and below
/// it the sums of squares and cubes that fitting computes (standard deviations, skewness)
/// stay finite over any number of rows: one `1e300` would make a standard deviation
/// infinite and the artifact unwritable.
pub const MAX_MAGNITUDE: f64 = 1e50;

/// A feature table in memory.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The spec the table was built with.
    pub spec: FeatureSpec,
    /// Customer ids.
    pub ids: Vec<String>,
    /// Labels, when the table has them (rows without one are dropped on load).
    pub labels: Vec<bool>,
    /// One column per spec feature, in spec order.
    pub columns: Vec<FeatureColumn>,
    /// Fingerprint of the ids, labels and values, for lineage.
    pub hash: String,
    /// Things the user should know (ignored columns, rows without label, NaN read as missing).
    pub warnings: Vec<String>,
    /// The label horizon of the table ("churned within N days"), from the folder's
    /// summary: as-of builds record it, flat tables have none.
    pub horizon_days: Option<u32>,
}

impl Dataset {
    /// Rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Positive labels.
    pub fn positives(&self) -> usize {
        self.labels.iter().filter(|l| **l).count()
    }

    /// Row `row` as scorer values (spec order).
    pub fn row_values(&self, row: usize) -> Vec<Value<'_>> {
        self.columns
            .iter()
            .map(|column| match column {
                FeatureColumn::Numeric(values) => {
                    let x = values[row];
                    if x.is_nan() {
                        Value::Missing
                    } else {
                        Value::Number(x)
                    }
                }
                FeatureColumn::Boolean(values) => values[row].map_or(Value::Missing, Value::Bool),
                FeatureColumn::Categorical { codes, levels } => match codes[row] {
                    MISSING_CODE => Value::Missing,
                    code => Value::Text(&levels[code as usize]),
                },
            })
            .collect()
    }
}

/// Reads `features.parquet` and `feature_spec.json` from a feature folder.
pub fn load_dir(dir: &Path, require_labels: bool) -> Result<Dataset> {
    load_file(dir, &dir.join(TABLE_FILE), require_labels)
}

/// Like [`load_dir`], for one table file of the folder (a part of a snapshot).
pub fn load_file(dir: &Path, table: &Path, require_labels: bool) -> Result<Dataset> {
    let spec_path = dir.join(SPEC_FILE);
    let text = std::fs::read_to_string(&spec_path).map_err(|e| {
        PipelineError::Missing(format!(
            "{}: {e}; a feature folder holds {TABLE_FILE} and {SPEC_FILE} (`churn features` writes them)",
            spec_path.display()
        ))
    })?;
    let spec: FeatureSpec = serde_json::from_str(&text).map_err(|source| PipelineError::Json {
        context: format!("reading {}", spec_path.display()),
        source,
    })?;
    if !spec.hash_is_consistent() {
        return Err(PipelineError::bad_file(
            &spec_path,
            "the spec's hash does not match its features: was it edited by hand? rebuild the features",
        ));
    }
    let frame = scan_parquet_file(table)?
        .collect()
        .context(|| format!("reading {}", table.display()))?;
    let mut dataset = from_frame(&frame, spec, require_labels, table)?;
    dataset.horizon_days = read_horizon(dir)?;
    Ok(dataset)
}

/// The label horizon a feature folder's summary records (`None` without one: a flat
/// table, or a folder written before summaries said).
pub fn read_horizon(dir: &Path) -> Result<Option<u32>> {
    #[derive(serde::Deserialize)]
    struct Summary {
        #[serde(default)]
        horizon_days: Option<u32>,
    }
    let path = dir.join(SUMMARY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(PipelineError::io(&path, e)),
    };
    let summary: Summary = serde_json::from_str(&text).map_err(|source| PipelineError::Json {
        context: format!("reading {}", path.display()),
        source,
    })?;
    Ok(summary.horizon_days)
}

fn hash_rows(ids: &[String], labels: &[bool], columns: &[FeatureColumn]) -> String {
    let mut hasher = Fnv64::default();
    for id in ids {
        hasher.write_str(id);
    }
    hasher.write(&labels.iter().map(|l| u8::from(*l)).collect::<Vec<_>>());
    for column in columns {
        match column {
            FeatureColumn::Numeric(values) => {
                for x in values {
                    hasher.write(&x.to_bits().to_le_bytes());
                }
            }
            FeatureColumn::Boolean(values) => {
                hasher.write(
                    &values
                        .iter()
                        .map(|v| v.map_or(2, u8::from))
                        .collect::<Vec<_>>(),
                );
            }
            FeatureColumn::Categorical { codes, levels } => {
                for level in levels {
                    hasher.write_str(level);
                }
                for code in codes {
                    hasher.write(&code.to_le_bytes());
                }
            }
        }
    }
    hasher.finish_hex()
}

/// Checks a frame against a spec and takes its columns.
pub fn from_frame(
    frame: &DataFrame,
    spec: FeatureSpec,
    require_labels: bool,
    origin: &Path,
) -> Result<Dataset> {
    let bad = |message: String| PipelineError::bad_file(origin, message);
    let mut warnings = Vec::new();
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let missing: Vec<&str> = std::iter::once(spec.id_column.as_str())
        .chain(spec.features.iter().map(|f| f.name.as_str()))
        .filter(|name| !names.iter().any(|n| n == name))
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "the table lacks column(s) {} that its spec lists; it has: {}",
            missing.join(", "),
            names.join(", ")
        )));
    }
    let known = |name: &str| {
        name == spec.id_column
            || spec.label_column.as_deref() == Some(name)
            || spec.feature(name).is_some()
    };
    let extra: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !known(n))
        .collect();
    if !extra.is_empty() {
        warnings.push(format!(
            "columns not in the spec are ignored: {}",
            extra.join(", ")
        ));
    }

    // Labels: rows without one cannot train, and are dropped (counted).
    let mut keep: Vec<bool> = vec![true; frame.height()];
    let mut labels = Vec::new();
    if let Some(label) = spec
        .label_column
        .as_deref()
        .filter(|l| names.iter().any(|n| n == l))
    {
        let column = frame.column(label).context(|| "reading labels".into())?;
        let values: Vec<Option<bool>> = match column.dtype() {
            DataType::Boolean => column
                .bool()
                .context(|| "reading labels".into())?
                .iter()
                .collect(),
            dtype if dtype.is_integer() => column
                .cast(&DataType::Int64)
                .context(|| "reading labels".into())?
                .i64()
                .context(|| "reading labels".into())?
                .iter()
                .map(|v| v.map(|v| v != 0))
                .collect(),
            other => {
                return Err(bad(format!(
                    "label column '{label}' is {other}; expected booleans or 0/1"
                )));
            }
        };
        let unlabelled = values.iter().filter(|v| v.is_none()).count();
        if require_labels {
            for (slot, value) in keep.iter_mut().zip(&values) {
                *slot = value.is_some();
            }
            if unlabelled > 0 {
                warnings.push(format!("{unlabelled} rows without a label are left out"));
            }
        }
        if require_labels || unlabelled == 0 {
            labels = values.into_iter().flatten().collect();
        }
    }
    if require_labels {
        if spec.label_column.is_none() || labels.is_empty() {
            return Err(bad(
                "the table has no labels to train on: build it with an --as-of date whose horizon the data covers".into(),
            ));
        }
        let positives = labels.iter().filter(|l| **l).count();
        if positives == 0 || positives == labels.len() {
            return Err(bad(format!(
                "every labelled row is {}: a model needs churners and stayers",
                if positives == 0 {
                    "a stayer"
                } else {
                    "a churner"
                }
            )));
        }
    }
    let mask = BooleanChunked::from_slice("keep".into(), &keep);
    let frame = frame
        .filter(&mask)
        .context(|| "dropping unlabelled rows".into())?;

    let ids: Vec<String> = frame
        .column(&spec.id_column)
        .and_then(|c| c.cast(&DataType::String))
        .context(|| "reading ids".into())?
        .str()
        .context(|| "reading ids".into())?
        .iter()
        .map(|id| id.unwrap_or("").to_owned())
        .collect();

    let mut columns = Vec::with_capacity(spec.features.len());
    for feature in &spec.features {
        let column = frame
            .column(&feature.name)
            .context(|| format!("reading {}", feature.name))?;
        let wrong = |expected: &str| {
            bad(format!(
                "column '{}' is {} but the spec says {} ({expected})",
                feature.name,
                column.dtype(),
                feature.kind.as_str()
            ))
        };
        columns.push(match feature.kind {
            FeatureKind::Numeric => {
                if !column.dtype().is_primitive_numeric() && !column.dtype().is_bool() {
                    return Err(wrong("a number"));
                }
                let values: Vec<f64> = column
                    .cast(&DataType::Float64)
                    .context(|| format!("reading {}", feature.name))?
                    .f64()
                    .context(|| format!("reading {}", feature.name))?
                    .iter()
                    .map(|v| v.unwrap_or(f64::NAN))
                    .collect();
                if let Some(position) = values.iter().position(|x| x.is_infinite()) {
                    return Err(bad(format!(
                        "column '{}' holds an infinite value (row {} of the labelled rows, id '{}'); fix the feature or mark the value missing",
                        feature.name,
                        position + 1,
                        ids[position]
                    )));
                }
                if let Some(position) = values.iter().position(|x| x.abs() > MAX_MAGNITUDE) {
                    return Err(bad(format!(
                        "column '{}' holds {:e} (row {} of the labelled rows, id '{}'), beyond \
                         ±{MAX_MAGNITUDE:e}, the largest a feature may hold: no real measurement is that \
                         large, and fitting on it would overflow; fix the feature or mark the value missing",
                        feature.name,
                        values[position],
                        position + 1,
                        ids[position]
                    )));
                }
                let nan = values.iter().filter(|x| x.is_nan()).count() - column.null_count();
                if nan > 0 {
                    warnings.push(format!("{nan} NaN values in '{}' are read as missing", feature.name));
                }
                FeatureColumn::Numeric(values)
            }
            FeatureKind::Boolean => {
                if !column.dtype().is_bool() {
                    return Err(wrong("true/false"));
                }
                FeatureColumn::Boolean(column.bool().context(|| "reading booleans".into())?.iter().collect())
            }
            FeatureKind::Categorical => {
                if !matches!(column.dtype(), DataType::String) {
                    return Err(wrong("text"));
                }
                let text = column.str().context(|| "reading categories".into())?;
                let mut levels: Vec<String> = text
                    .iter()
                    .flatten()
                    .map(|v| churn_core::normalize_category(v).into_owned())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                levels.retain(|level| !level.is_empty());
                let codes = text
                    .iter()
                    .map(|value| {
                        value
                            .map(churn_core::normalize_category)
                            .and_then(|v| levels.binary_search_by(|l| l.as_str().cmp(&v)).ok())
                            .map_or(MISSING_CODE, |code| code as u32)
                    })
                    .collect();
                FeatureColumn::Categorical { codes, levels }
            }
        });
    }
    let hash = hash_rows(&ids, &labels, &columns);
    Ok(Dataset {
        spec,
        ids,
        labels,
        columns,
        hash,
        warnings,
        horizon_days: None,
    })
}
