//! A day scored in shards: every part of the snapshot scored on its own (the
//! Distributed Map's children) into `<day>/shard=<part>/`, then summed up in `<day>/`:
//! one ranked high-risk list of every shard's and one summary. The shards' scores stay
//! where they are; [`prediction_files`] gives a reader all of them.

use std::path::{Path, PathBuf};

use super::{
    HIGH_RISK_CSV, HIGH_RISK_PARQUET, HighRisk, PREDICTIONS_FILE, PredictSummary, SUMMARY_FILE,
    write_high_risk,
};
use crate::error::{PipelineError, PolarsContext, Result};
use crate::store::{scan_parquet_file, write_json};

pub use churn_core::layout::SHARD_PREFIX;

/// The scores of a prediction folder: its `predictions.parquet`, or those of its
/// shards, in order.
pub fn prediction_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let whole = dir.join(PREDICTIONS_FILE);
    if whole.exists() {
        return Ok(vec![whole]);
    }
    let files: Vec<PathBuf> = shard_dirs(dir)?
        .into_iter()
        .map(|shard| shard.join(PREDICTIONS_FILE))
        .filter(|file| file.exists())
        .collect();
    if files.is_empty() {
        return Err(PipelineError::Missing(format!(
            "{}: no predictions.parquet and no {SHARD_PREFIX}*/predictions.parquet (run `churn predict` first)",
            dir.display()
        )));
    }
    Ok(files)
}

/// One customer's score of a prediction day, as [`read_scores`] gives it back.
#[derive(Debug, Clone, PartialEq)]
pub struct DayScore {
    pub customer_id: String,
    pub probability: f64,
    pub tier: churn_core::Tier,
    /// The reasons in plain words (`contract type = month-to-month`); batch prediction
    /// explains the tiers it was asked to.
    pub reasons: Vec<String>,
}

/// Every score of a prediction folder (its shards too), with the model that scored
/// them. Fails naming the file of a column that is missing or of the wrong type.
pub fn read_scores(dir: &Path) -> Result<(String, Vec<DayScore>)> {
    let mut model = String::new();
    let mut scores = Vec::new();
    for file in prediction_files(dir)? {
        let frame = scan_parquet_file(&file)?
            .collect()
            .context(|| format!("reading {}", file.display()))?;
        let text = |name: &str| {
            frame
                .column(name)
                .and_then(|c| c.str().cloned())
                .context(|| format!("reading {} of {}", name, file.display()))
        };
        let ids = text("customer_id")?;
        let tiers = text("tier")?;
        let probabilities = frame
            .column("churn_probability")
            .and_then(|c| c.f64().cloned())
            .context(|| format!("reading churn_probability of {}", file.display()))?;
        if let Some(first) = text("model_id")?.get(0) {
            model = first.to_owned();
        }
        let mut reasons = Vec::new();
        for n in 1.. {
            let (Ok(feature), Ok(value)) = (
                text(&format!("reason_{n}")),
                text(&format!("reason_{n}_value")),
            ) else {
                break;
            };
            reasons.push((feature, value));
        }
        for row in 0..frame.height() {
            let Some(id) = ids.get(row) else { continue };
            let tier = match tiers.get(row) {
                Some("high") => churn_core::Tier::High,
                Some("medium") => churn_core::Tier::Medium,
                Some("low") => churn_core::Tier::Low,
                other => {
                    return Err(PipelineError::bad_file(
                        &file,
                        format!("row {row}: tier {other:?} is not low, medium or high"),
                    ));
                }
            };
            scores.push(DayScore {
                customer_id: id.to_owned(),
                probability: probabilities.get(row).unwrap_or(f64::NAN),
                tier,
                reasons: reasons
                    .iter()
                    .filter_map(|(feature, value)| {
                        Some(churn_core::reason_label(feature.get(row)?, value.get(row)?))
                    })
                    .collect(),
            });
        }
    }
    Ok((model, scores))
}

fn shard_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    crate::store::subfolders(dir, SHARD_PREFIX)
}

/// Sums up the finished shards of `dir` (each holds a `summary.json`, written last):
/// `high_risk.csv`, `high_risk.parquet` and `summary.json` in `dir`. Fails, naming what
/// is missing, unless `expected` shards are finished (when given).
pub fn merge_shards(dir: &Path, expected: Option<usize>) -> Result<PredictSummary> {
    let started = std::time::Instant::now();
    let finished = finished_shards(dir, expected)?;
    let mut merged = summed(&finished)?;
    let mut list = Vec::new();
    let mut id_column = String::from("customer_id");
    for (shard, _) in &finished {
        let path = shard.join(HIGH_RISK_PARQUET);
        let frame = scan_parquet_file(&path)?
            .collect()
            .context(|| format!("reading {}", path.display()))?;
        // rank, <id>, churn_probability, reasons
        let names: Vec<String> = frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let Some(id) = names.get(1) else {
            return Err(PipelineError::bad_file(&path, "not a high-risk list"));
        };
        id_column = id.clone();
        let ids = frame
            .column(id)
            .and_then(|c| c.str().cloned())
            .context(|| format!("reading {}", path.display()))?;
        let probabilities = frame
            .column("churn_probability")
            .and_then(|c| c.f64().cloned())
            .context(|| format!("reading {}", path.display()))?;
        let reasons = frame
            .column("reasons")
            .and_then(|c| c.str().cloned())
            .context(|| format!("reading {}", path.display()))?;
        for row in 0..frame.height() {
            list.push(HighRisk {
                probability: probabilities.get(row).unwrap_or(f64::NAN),
                id: ids.get(row).unwrap_or_default().to_owned(),
                reasons: reasons.get(row).unwrap_or_default().to_owned(),
            });
        }
    }
    merged.high_risk = write_high_risk(dir, &id_column, list)? as u64;
    merged.files = [HIGH_RISK_CSV, HIGH_RISK_PARQUET, SUMMARY_FILE]
        .iter()
        .map(|name| dir.join(name).display().to_string())
        .chain(
            finished
                .iter()
                .map(|(shard, _)| shard.join(PREDICTIONS_FILE).display().to_string()),
        )
        .collect();
    merged.seconds = started.elapsed().as_secs_f64();
    write_json(dir.join(SUMMARY_FILE), &merged)?;
    Ok(merged)
}

/// Sums up a challenger's shards scored in shadow (`challenger=<id>/shard=*/`, scores and
/// summaries only) into its `summary.json`, once `expected` of them are finished.
pub fn merge_shadow_shards(dir: &Path, expected: Option<usize>) -> Result<PredictSummary> {
    let started = std::time::Instant::now();
    let finished = finished_shards(dir, expected)?;
    let mut merged = summed(&finished)?;
    merged.high_risk = finished.iter().map(|(_, s)| s.high_risk).sum();
    merged.files = std::iter::once(dir.join(SUMMARY_FILE).display().to_string())
        .chain(
            finished
                .iter()
                .map(|(shard, _)| shard.join(PREDICTIONS_FILE).display().to_string()),
        )
        .collect();
    merged.seconds = started.elapsed().as_secs_f64();
    write_json(dir.join(SUMMARY_FILE), &merged)?;
    Ok(merged)
}

/// The shards of `dir` with their summaries (written last, so a shard without one is
/// unfinished); fails unless `expected` are finished, or when none is.
fn finished_shards(dir: &Path, expected: Option<usize>) -> Result<Vec<(PathBuf, PredictSummary)>> {
    let mut finished = Vec::new();
    for shard in shard_dirs(dir)? {
        let path = shard.join(SUMMARY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let summary: PredictSummary =
                    serde_json::from_str(&text).map_err(|source| PipelineError::Json {
                        context: format!("reading {}", path.display()),
                        source,
                    })?;
                finished.push((shard, summary));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(PipelineError::io(&path, e)),
        }
    }
    if let Some(expected) = expected
        && finished.len() < expected
    {
        return Err(PipelineError::Missing(format!(
            "{}: {} of {expected} shards are finished",
            dir.display(),
            finished.len()
        )));
    }
    if finished.is_empty() {
        return Err(PipelineError::Missing(format!(
            "{}: no finished {SHARD_PREFIX}* folder to merge",
            dir.display()
        )));
    }
    Ok(finished)
}

/// The shards' summaries summed (rows, tiers, warnings), all of one model.
fn summed(finished: &[(PathBuf, PredictSummary)]) -> Result<PredictSummary> {
    let first = &finished[0].1;
    let mut merged = PredictSummary {
        model_id: first.model_id.clone(),
        rows: 0,
        tiers: Default::default(),
        high_risk: 0,
        threshold: first.threshold,
        horizon_days: first.horizon_days,
        files: Vec::new(),
        seconds: 0.0,
        warnings: Vec::new(),
    };
    for (shard, summary) in finished {
        if summary.model_id != merged.model_id {
            return Err(PipelineError::InvalidInput(format!(
                "{} was scored by {}, the other shards by {}: score the day again with one model",
                shard.display(),
                summary.model_id,
                merged.model_id
            )));
        }
        merged.rows += summary.rows;
        for (tier, count) in &summary.tiers {
            *merged.tiers.entry(tier.clone()).or_default() += count;
        }
        merged.warnings.extend(summary.warnings.iter().cloned());
    }
    Ok(merged)
}
