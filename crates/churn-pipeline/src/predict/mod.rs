//! Batch prediction: `churn predict`. Scores every row of a feature table with a model
//! artifact, with tiers and reason codes, and writes a ranked high-risk list for a CRM
//! and every customer's line of the list the API ranks (`customers.jsonl`: score, tier,
//! segment, monthly charge, reasons), streamed like the scores.
//!
//! The table is read and scored in slices (`batch_rows` at a time, on all cores), and
//! predictions are appended to the output as each slice finishes: ten million rows never
//! sit in memory at once. Only the high-risk rows are kept until the end, to be ranked
//! (`max_high_risk` bounds them too).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use churn_core::{FeatureKind, FeatureSpec, Scorer, Tier, Value};
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub mod shards;

use crate::error::{OptionError, PipelineError, PolarsContext, Result};
use crate::features::{SPEC_FILE, table_files};
use crate::models::read_artifact;
use crate::progress::Progress;
use crate::store::{AtomicFile, scan_parquet_file, write_json};

/// The scores of every customer, inside a prediction folder.
pub const PREDICTIONS_FILE: &str = "predictions.parquet";
/// The ranked high-risk list, for people and CRM imports.
pub const HIGH_RISK_CSV: &str = "high_risk.csv";
/// The same list, for programs.
pub const HIGH_RISK_PARQUET: &str = "high_risk.parquet";
/// What the run did; written last, so a folder with it is complete.
pub const SUMMARY_FILE: &str = churn_core::layout::PREDICTIONS_SUMMARY_FILE;
/// Every customer scored, a JSON line each, for the API's ranked list.
pub const CUSTOMER_LIST_FILE: &str = churn_core::layout::CUSTOMER_LIST_FILE;
/// The feature whose value is a customer's segment in the customer list, unless told
/// otherwise.
pub const SEGMENT_FEATURE: &str = "contract_type";
/// The feature the customer list reads as what a customer pays a month.
pub const CHARGE_FEATURE: &str = "monthly_charge";

/// Options of a prediction run.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// Rows scored per slice.
    pub batch_rows: usize,
    /// Reason codes per customer (0 skips the explanation, which is most of the cost).
    pub reasons: usize,
    /// Explain only customers at or above this tier: reasons are for acting on, and the
    /// lower tiers are most customers and most of the cost (`Low` explains everyone: at
    /// a million customers of a large booster, minutes rather than seconds; see
    /// `bench/reasons-scale`).
    pub reasons_from: Tier,
    /// Keep at most this many customers in the high-risk list (the riskiest).
    pub max_high_risk: Option<usize>,
    /// The column of the table whose value is a customer's segment in the customer list
    /// (the dashboard's segment filter). A table without it lists no segments.
    pub segment_feature: String,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            batch_rows: 100_000,
            reasons: 3,
            reasons_from: Tier::High,
            max_high_risk: None,
            segment_feature: SEGMENT_FEATURE.to_owned(),
        }
    }
}

/// Prediction options that passed [`PredictOptions::validate`]; read the fields through
/// `Deref`.
#[derive(Debug, Clone)]
pub struct ValidPredictOptions(PredictOptions);

impl std::ops::Deref for ValidPredictOptions {
    type Target = PredictOptions;

    fn deref(&self) -> &PredictOptions {
        &self.0
    }
}

impl PredictOptions {
    /// Checks the options once, naming the field that cannot be used.
    pub fn validate(self) -> Result<ValidPredictOptions, OptionError> {
        if self.batch_rows == 0 {
            // A slice of no rows would never reach the end of the table.
            return Err(OptionError::new(
                "batch_rows",
                "0: score at least 1 row per slice",
            ));
        }
        if self.segment_feature.trim().is_empty() {
            return Err(OptionError::new(
                "segment_feature",
                "empty: name a column of the feature table (contract_type by default)",
            ));
        }
        Ok(ValidPredictOptions(self))
    }
}

/// What a prediction run wrote; saved as `summary.json` beside the predictions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PredictSummary {
    /// Model used.
    pub model_id: String,
    /// Rows scored.
    pub rows: u64,
    /// Customers per tier.
    pub tiers: std::collections::BTreeMap<String, u64>,
    /// Customers in the high-risk list.
    pub high_risk: u64,
    /// The decision threshold.
    pub threshold: f64,
    /// The model's horizon: the predictions are of churn within this many days of the
    /// features' date (unknown for models older than the record).
    #[serde(default)]
    pub horizon_days: Option<u32>,
    /// Files written.
    pub files: Vec<String>,
    /// Wall time.
    pub seconds: f64,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

/// One scored customer of the high-risk list.
#[derive(Debug, Clone, PartialEq)]
struct HighRisk {
    probability: f64,
    id: String,
    reasons: String,
}

/// Writes a ranked high-risk list (riskiest first) as `high_risk.csv` and
/// `high_risk.parquet` in `out`.
fn write_high_risk(out: &Path, id_column: &str, mut list: Vec<HighRisk>) -> Result<usize> {
    list.sort();
    let mut ranked = DataFrame::new(
        list.len(),
        vec![
            Column::new("rank".into(), (1..=list.len() as u32).collect::<Vec<_>>()),
            Column::new(
                id_column.into(),
                list.iter().map(|h| h.id.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "churn_probability".into(),
                list.iter().map(|h| h.probability).collect::<Vec<_>>(),
            ),
            Column::new(
                "reasons".into(),
                list.iter().map(|h| h.reasons.clone()).collect::<Vec<_>>(),
            ),
        ],
    )
    .context(|| "assembling the high-risk list".into())?;
    let csv = AtomicFile::new(out.join(HIGH_RISK_CSV))?;
    CsvWriter::new(csv.create_file()?)
        .finish(&mut ranked)
        .context(|| "writing high_risk.csv".into())?;
    csv.commit_file()?;
    let parquet = AtomicFile::new(out.join(HIGH_RISK_PARQUET))?;
    ParquetWriter::new(parquet.create_file()?)
        .finish(&mut ranked)
        .context(|| "writing high_risk.parquet".into())?;
    parquet.commit_file()?;
    Ok(list.len())
}

impl Eq for HighRisk {}

impl Ord for HighRisk {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Riskiest first; ties by id for a stable order.
        other
            .probability
            .total_cmp(&self.probability)
            .then_with(|| self.id.cmp(&other.id))
    }
}

impl PartialOrd for HighRisk {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A column of the table, typed as its feature reads it.
enum Input {
    Number(Float64Chunked),
    Flag(BooleanChunked),
    Text(StringChunked),
}

impl Input {
    fn value(&self, row: usize) -> Value<'_> {
        match self {
            Input::Number(values) => values
                .get(row)
                .filter(|x| !x.is_nan())
                .map_or(Value::Missing, Value::Number),
            Input::Flag(values) => values.get(row).map_or(Value::Missing, Value::Bool),
            Input::Text(values) => values.get(row).map_or(Value::Missing, Value::Text),
        }
    }
}

/// The table files to score (a folder's `features.parquet` or its parts, or the file
/// given) and the folder's spec.
fn table_paths(features: &Path) -> Result<(Vec<PathBuf>, Option<PathBuf>)> {
    if features.is_dir() {
        Ok((table_files(features)?, Some(features.join(SPEC_FILE))))
    } else {
        Ok((vec![features.to_path_buf()], None))
    }
}

/// The names the customer list's segment and charge are read under in a batch (apart
/// from the model's own columns, which the projection casts for scoring).
const LIST_SEGMENT: &str = "__list_segment";
const LIST_CHARGE: &str = "__list_charge";

/// The table's segment and charge columns for the customer list, when it has them with
/// a type they can be read as.
fn listing_columns(schema: &Schema, options: &PredictOptions) -> Vec<Expr> {
    let mut columns = Vec::new();
    if matches!(schema.get(&options.segment_feature), Some(DataType::String)) {
        columns.push(col(options.segment_feature.as_str()).alias(LIST_SEGMENT));
    }
    if schema
        .get(CHARGE_FEATURE)
        .is_some_and(|dtype| dtype.is_primitive_numeric())
    {
        columns.push(
            col(CHARGE_FEATURE)
                .cast(DataType::Float64)
                .alias(LIST_CHARGE),
        );
    }
    columns
}

/// Checks the table's columns against the model's spec.
fn check_schema(schema: &Schema, spec: &FeatureSpec, table: &Path, id_column: &str) -> Result<()> {
    let mut problems = Vec::new();
    if schema.get(id_column).is_none() {
        problems.push(format!("no id column '{id_column}'"));
    }
    for feature in &spec.features {
        match schema.get(&feature.name) {
            None => problems.push(format!("no column '{}'", feature.name)),
            Some(dtype) => {
                let fits = match feature.kind {
                    FeatureKind::Numeric => dtype.is_primitive_numeric() || dtype.is_bool(),
                    FeatureKind::Boolean => dtype.is_bool(),
                    FeatureKind::Categorical => matches!(dtype, DataType::String),
                };
                if !fits {
                    problems.push(format!(
                        "column '{}' is {dtype}, the model reads it as {}",
                        feature.name,
                        feature.kind.as_str()
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PipelineError::bad_file(
            table,
            format!("the table does not fit the model: {}", problems.join("; ")),
        ))
    }
}

/// Scores a feature table (a feature folder or a Parquet file) into `out`.
pub fn predict(
    model: &Path,
    features: &Path,
    out: &Path,
    options: &ValidPredictOptions,
    progress: &dyn Progress,
) -> Result<PredictSummary> {
    let started = Instant::now();
    let artifact = read_artifact(model)?;
    let spec = artifact.feature_spec.clone();
    let scorer =
        Scorer::new(artifact).map_err(|e| PipelineError::bad_file(model, e.to_string()))?;
    let (tables, spec_path) = table_paths(features)?;
    let mut warnings = Vec::new();
    if let Some(spec_path) = spec_path.filter(|p| p.exists()) {
        let text =
            std::fs::read_to_string(&spec_path).map_err(|e| PipelineError::io(&spec_path, e))?;
        if let Ok(table_spec) = serde_json::from_str::<FeatureSpec>(&text)
            && table_spec.hash != spec.hash
        {
            warnings.push(format!(
                "the table was built with feature spec {} and the model with {}: scoring by column name",
                table_spec.hash, spec.hash
            ));
        }
    }
    let mut projection = vec![col(spec.id_column.as_str()).cast(DataType::String)];
    projection.extend(spec.features.iter().map(|feature| {
        let column = col(feature.name.as_str());
        match feature.kind {
            FeatureKind::Numeric => column.cast(DataType::Float64),
            FeatureKind::Boolean | FeatureKind::Categorical => column,
        }
    }));
    // Every file is checked before anything is written.
    let mut frames = Vec::with_capacity(tables.len());
    for table in &tables {
        let mut scan = scan_parquet_file(table)?;
        let schema = scan
            .collect_schema()
            .context(|| format!("reading {}", table.display()))?;
        check_schema(&schema, &spec, table, &spec.id_column)?;
        let rows = crate::store::row_count(scan.clone())
            .context(|| format!("counting {}", table.display()))?;
        let mut columns = projection.clone();
        columns.extend(listing_columns(&schema, options));
        frames.push((table, scan.select(columns), rows));
    }
    let rows: u64 = frames.iter().map(|(_, _, rows)| rows).sum();

    let reasons = options.reasons;
    let predictions_file = AtomicFile::new(out.join(PREDICTIONS_FILE))?;
    let mut writer = ParquetWriter::new(predictions_file.create_file()?)
        .batched(&predictions_schema(reasons))
        .context(|| "starting predictions.parquet".into())?;
    let mut tiers: std::collections::BTreeMap<String, u64> = ["high", "medium", "low"]
        .into_iter()
        .map(|tier| (tier.to_owned(), 0))
        .collect();
    let mut high_risk: BinaryHeap<Reverse<HighRisk>> = BinaryHeap::new();
    let mut high_list: Vec<HighRisk> = Vec::new();
    let list_file = AtomicFile::new(out.join(CUSTOMER_LIST_FILE))?;
    let mut list = list_file.create_writer()?;
    progress.begin("predict", Some(rows), "customers");
    for (table, frame, table_rows) in &frames {
        let mut offset = 0u64;
        while offset < *table_rows {
            let batch = frame
                .clone()
                .slice(offset as i64, options.batch_rows as IdxSize)
                .collect()
                .context(|| format!("reading rows from {offset} of {}", table.display()))?;
            let height = batch.height();
            let ids = batch
                .column(&spec.id_column)
                .and_then(|c| c.str().cloned())
                .context(|| "reading ids".into())?;
            let inputs: Vec<Input> = spec
                .features
                .iter()
                .map(|feature| {
                    let column = batch
                        .column(&feature.name)
                        .context(|| format!("reading {}", feature.name))?;
                    Ok(match feature.kind {
                        FeatureKind::Numeric => {
                            Input::Number(column.f64().context(|| "numbers".into())?.clone())
                        }
                        FeatureKind::Boolean => {
                            Input::Flag(column.bool().context(|| "flags".into())?.clone())
                        }
                        FeatureKind::Categorical => {
                            Input::Text(column.str().context(|| "text".into())?.clone())
                        }
                    })
                })
                .collect::<Result<_>>()?;
            let scored: Vec<std::result::Result<Scored, String>> = (0..height)
                .into_par_iter()
                .map_init(
                    || (Vec::with_capacity(inputs.len()), Vec::new()),
                    |(values, buffer), row| {
                        values.clear();
                        values.extend(inputs.iter().map(|input| input.value(row)));
                        score_row(&scorer, values, buffer, reasons, options.reasons_from)
                            .map_err(|e| format!("customer '{}': {e}", ids.get(row).unwrap_or("")))
                    },
                )
                .collect();
            let segments = batch.column(LIST_SEGMENT).ok().and_then(|c| c.str().ok());
            let charges = batch.column(LIST_CHARGE).ok().and_then(|c| c.f64().ok());
            let mut columns = PredictionColumns::new(height, reasons);
            for (row, result) in scored.into_iter().enumerate() {
                let scored = result.map_err(PipelineError::InvalidInput)?;
                let id = ids.get(row).unwrap_or("").to_owned();
                let listed = churn_core::listing::Listed {
                    customer_id: id.clone(),
                    probability: scored.probability,
                    tier: scored.tier,
                    segment: segments.and_then(|s| s.get(row)).map(str::to_owned),
                    monthly_charge: charges.and_then(|c| c.get(row)).filter(|x| x.is_finite()),
                    reasons: scored.labels.clone(),
                };
                serde_json::to_writer(&mut list, &listed)
                    .map_err(std::io::Error::from)
                    .and_then(|()| list.write_all(b"\n"))
                    .map_err(|e| PipelineError::io(list_file.temp_path(), e))?;
                *tiers.entry(scored.tier.as_str().to_owned()).or_default() += 1;
                if scored.tier == Tier::High {
                    let entry = HighRisk {
                        probability: scored.probability,
                        id: id.clone(),
                        reasons: scored.labels.join("; "),
                    };
                    match options.max_high_risk {
                        Some(limit) => {
                            high_risk.push(Reverse(entry));
                            if high_risk.len() > limit {
                                high_risk.pop();
                            }
                        }
                        None => high_list.push(entry),
                    }
                }
                columns.push(id, &scored);
            }
            writer
                .write_batch(&columns.finish(scorer.artifact().model_id.as_str())?)
                .context(|| "writing predictions.parquet".into())?;
            offset += height as u64;
            progress.advance(height as u64);
        }
    }
    progress.end();
    writer
        .finish()
        .context(|| "finishing predictions.parquet".into())?;
    drop(writer);
    predictions_file.commit_file()?;
    list_file.commit_writer(list)?;

    high_list.extend(high_risk.into_iter().map(|Reverse(entry)| entry));
    let high_risk = write_high_risk(out, &spec.id_column, high_list)?;

    let summary = PredictSummary {
        model_id: scorer.artifact().model_id.clone(),
        rows,
        tiers,
        high_risk: high_risk as u64,
        threshold: scorer.artifact().decision.threshold,
        horizon_days: scorer.artifact().lineage.horizon_days,
        files: [
            PREDICTIONS_FILE,
            CUSTOMER_LIST_FILE,
            HIGH_RISK_CSV,
            HIGH_RISK_PARQUET,
            SUMMARY_FILE,
        ]
        .iter()
        .map(|name| out.join(name).display().to_string())
        .collect(),
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    };
    write_json(out.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

/// Scores the features with a challenger in shadow beside the champion's day folder
/// `day_out`: into `day_out/challenger=<model id>/`, its scores and summary only (no
/// reasons, no high-risk list: only the champion drives actions). The monitor compares
/// the two once the day's labels mature.
pub fn shadow(
    model: &Path,
    features: &Path,
    day_out: &Path,
    progress: &dyn Progress,
) -> Result<(PathBuf, PredictSummary)> {
    let model_id = read_artifact(model)?.model_id;
    let out = day_out.join(format!(
        "{}{model_id}",
        churn_core::layout::CHALLENGER_PREFIX
    ));
    let summary = shadow_into(model, features, &out, progress)?;
    Ok((out, summary))
}

/// [`shadow`] into the folder `out` itself (a shard of a challenger's day:
/// `challenger=<id>/shard=<part>/`).
pub fn shadow_into(
    model: &Path,
    features: &Path,
    out: &Path,
    progress: &dyn Progress,
) -> Result<PredictSummary> {
    let options = PredictOptions {
        reasons: 0,
        max_high_risk: Some(0),
        ..PredictOptions::default()
    }
    .validate()?;
    let mut summary = predict(model, features, out, &options, progress)?;
    for name in [CUSTOMER_LIST_FILE, HIGH_RISK_CSV, HIGH_RISK_PARQUET] {
        let path = out.join(name);
        std::fs::remove_file(&path).map_err(|e| PipelineError::io(&path, e))?;
    }
    summary.files = [PREDICTIONS_FILE, SUMMARY_FILE]
        .iter()
        .map(|name| out.join(name).display().to_string())
        .collect();
    write_json(out.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

struct Scored {
    probability: f64,
    tier: Tier,
    reasons: Vec<(String, String, f64)>,
    labels: Vec<String>,
}

fn score_row(
    scorer: &Scorer,
    values: &[Value<'_>],
    buffer: &mut Vec<f64>,
    reasons: usize,
    reasons_from: Tier,
) -> std::result::Result<Scored, churn_core::ScoreError> {
    let score = scorer.score_with(values, buffer)?;
    if reasons == 0 || score.tier < reasons_from {
        return Ok(Scored {
            probability: score.probability,
            tier: score.tier,
            reasons: Vec::new(),
            labels: Vec::new(),
        });
    }
    let explanation = scorer.explain(values)?;
    let top: Vec<&churn_core::Reason> = explanation.top_reasons(reasons).collect();
    Ok(Scored {
        probability: explanation.score.probability,
        tier: explanation.score.tier,
        labels: top.iter().map(|r| r.label()).collect(),
        reasons: top
            .iter()
            .map(|r| (r.feature.clone(), r.value.clone(), r.contribution))
            .collect(),
    })
}

fn predictions_schema(reasons: usize) -> Schema {
    let mut fields = vec![
        Field::new("customer_id".into(), DataType::String),
        Field::new("churn_probability".into(), DataType::Float64),
        Field::new("tier".into(), DataType::String),
    ];
    for n in 1..=reasons {
        fields.push(Field::new(format!("reason_{n}").into(), DataType::String));
        fields.push(Field::new(
            format!("reason_{n}_value").into(),
            DataType::String,
        ));
        fields.push(Field::new(
            format!("reason_{n}_impact").into(),
            DataType::Float64,
        ));
    }
    fields.push(Field::new("model_id".into(), DataType::String));
    fields.into_iter().collect()
}

/// The columns of the N-th reason: feature, value, impact.
type ReasonColumns = (Vec<Option<String>>, Vec<Option<String>>, Vec<Option<f64>>);

struct PredictionColumns {
    ids: Vec<String>,
    probabilities: Vec<f64>,
    tiers: Vec<&'static str>,
    reasons: Vec<ReasonColumns>,
}

impl PredictionColumns {
    fn new(capacity: usize, reasons: usize) -> Self {
        Self {
            ids: Vec::with_capacity(capacity),
            probabilities: Vec::with_capacity(capacity),
            tiers: Vec::with_capacity(capacity),
            reasons: (0..reasons)
                .map(|_| {
                    (
                        Vec::with_capacity(capacity),
                        Vec::with_capacity(capacity),
                        Vec::with_capacity(capacity),
                    )
                })
                .collect(),
        }
    }

    fn push(&mut self, id: String, scored: &Scored) {
        self.ids.push(id);
        self.probabilities.push(scored.probability);
        self.tiers.push(scored.tier.as_str());
        for (index, (features, values, impacts)) in self.reasons.iter_mut().enumerate() {
            let reason = scored.reasons.get(index);
            features.push(reason.map(|r| r.0.clone()));
            values.push(reason.map(|r| r.1.clone()));
            impacts.push(reason.map(|r| r.2));
        }
    }

    fn finish(self, model_id: &str) -> Result<DataFrame> {
        let height = self.ids.len();
        let mut columns = vec![
            Column::new("customer_id".into(), self.ids),
            Column::new("churn_probability".into(), self.probabilities),
            Column::new("tier".into(), self.tiers),
        ];
        for (index, (features, values, impacts)) in self.reasons.into_iter().enumerate() {
            let n = index + 1;
            columns.push(Column::new(format!("reason_{n}").into(), features));
            columns.push(Column::new(format!("reason_{n}_value").into(), values));
            columns.push(Column::new(format!("reason_{n}_impact").into(), impacts));
        }
        columns.push(Column::new("model_id".into(), vec![model_id; height]));
        DataFrame::new(height, columns).context(|| "assembling predictions".into())
    }
}
