//! A day's predictions as the monitor reads them, and their drift against the model's
//! score reference: the distribution of probabilities (PSI, KS) and the tier shares.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use churn_core::drift::{self, Level, NumericProfile};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, PolarsContext, Result};
use crate::predict::{PREDICTIONS_FILE, PredictSummary, SUMMARY_FILE};
use crate::reference::ScoreReference;
use crate::store::scan_parquet_file;
use churn_core::layout::{self, SHARD_PREFIX};

/// Bins of the score histograms (of `[0, 1]`).
pub const HISTOGRAM_BINS: usize = 20;

/// The predictions of one day: a `predictions/dt=<day>/` folder (or its shards).
#[derive(Debug, Clone)]
pub struct DayScores {
    /// The day the features were taken (the folder's `dt=`).
    pub date: String,
    pub summary: PredictSummary,
    pub ids: Vec<String>,
    pub probabilities: Vec<f64>,
}

impl DayScores {
    /// Reads a prediction folder: its `predictions.parquet`, or those of its
    /// `shard=*` folders (a day the Distributed Map scored). `summary.json` must be
    /// there: a folder without it is unfinished.
    pub fn read(dir: &Path) -> Result<DayScores> {
        let date = layout::parse_day_folder(dir).ok_or_else(|| {
            PipelineError::InvalidInput(format!(
                "{}: a prediction folder is named dt=<date> (the day its features were taken), as `churn predict --out .../predictions/dt=<date>` writes it",
                dir.display()
            ))
        })?;
        crate::dates::parse_date(&date, &format!("the date of {}", dir.display()))?;
        let summary_path = dir.join(SUMMARY_FILE);
        let text = std::fs::read_to_string(&summary_path).map_err(|e| {
            PipelineError::Missing(format!(
                "{}: {e} (a prediction folder without its summary is unfinished: run `churn predict` again)",
                summary_path.display()
            ))
        })?;
        let summary: PredictSummary =
            serde_json::from_str(&text).map_err(|source| PipelineError::Json {
                context: format!("reading {}", summary_path.display()),
                source,
            })?;
        let mut ids = Vec::new();
        let mut probabilities = Vec::new();
        for file in table_files(dir)? {
            let frame = scan_parquet_file(&file)?
                .select([
                    col("customer_id").cast(DataType::String),
                    col("churn_probability"),
                ])
                .collect()
                .context(|| format!("reading {}", file.display()))?;
            let id = frame
                .column("customer_id")
                .context(|| file.display().to_string())?;
            let p = frame
                .column("churn_probability")
                .context(|| file.display().to_string())?;
            let p = p
                .f64()
                .context(|| format!("{}: churn_probability", file.display()))?;
            let id = id
                .str()
                .context(|| format!("{}: customer_id", file.display()))?;
            for row in 0..id.len() {
                ids.push(id.get(row).unwrap_or_default().to_owned());
                probabilities.push(p.get(row).unwrap_or(f64::NAN));
            }
        }
        Ok(DayScores {
            date,
            summary,
            ids,
            probabilities,
        })
    }
}

/// The predictions files of a day's folder.
/// The challengers' folders of a prediction day (`challenger=<model>/`), in name order.
pub fn challengers(day_dir: &Path) -> Result<Vec<PathBuf>> {
    crate::store::subfolders(day_dir, layout::CHALLENGER_PREFIX)
}

fn table_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join(PREDICTIONS_FILE);
    if single.exists() {
        return Ok(vec![single]);
    }
    let mut shards: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| PipelineError::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(SHARD_PREFIX))
        })
        .map(|shard| shard.join(PREDICTIONS_FILE))
        .filter(|file| file.exists())
        .collect();
    shards.sort();
    if shards.is_empty() {
        return Err(PipelineError::Missing(format!(
            "{}: no {PREDICTIONS_FILE} (nor in {SHARD_PREFIX}* folders)",
            dir.display()
        )));
    }
    Ok(shards)
}

/// The scores of a day against the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionDrift {
    /// The day.
    pub date: String,
    /// The model that scored the day, and the one the reference is of.
    pub models: [String; 2],
    /// Customers in the reference and scored that day.
    pub rows: [u64; 2],
    /// PSI of the probabilities over the reference's deciles.
    pub psi: Option<f64>,
    /// Kolmogorov–Smirnov statistic of the probabilities.
    pub ks: Option<f64>,
    /// By the PSI (warn >= 0.1, alert >= 0.25).
    pub level: Level,
    /// Mean probability in the reference and that day.
    pub mean: [f64; 2],
    /// Share per tier in the reference and that day.
    pub tiers: BTreeMap<String, [f64; 2]>,
    /// Share of customers per probability bin of `[0, 1]` ([`HISTOGRAM_BINS`] equal
    /// bins), in the reference and that day: the report's histogram.
    pub histogram: [Vec<f64>; 2],
}

/// The drift of a day's scores against the model's score reference.
pub fn prediction_drift(
    reference: &ScoreReference,
    day: &DayScores,
    band: super::data::Band,
) -> PredictionDrift {
    let now = NumericProfile::of(&day.probabilities);
    let psi = drift::psi(&reference.distribution, &day.probabilities);
    let scored = day.summary.tiers.values().sum::<u64>().max(1) as f64;
    let mut tiers: BTreeMap<String, [f64; 2]> = reference
        .tiers
        .iter()
        .map(|(tier, share)| (tier.clone(), [*share, 0.0]))
        .collect();
    for (tier, count) in &day.summary.tiers {
        tiers.entry(tier.clone()).or_insert([0.0, 0.0])[1] = *count as f64 / scored;
    }
    let edges: Vec<f64> = (0..=HISTOGRAM_BINS)
        .map(|i| i as f64 / HISTOGRAM_BINS as f64)
        .collect();
    let reference_bins = edges
        .windows(2)
        .map(|w| {
            let below = |x: f64| reference.distribution.cdf(x);
            // The first bin holds 0 itself.
            let low = if w[0] == 0.0 { 0.0 } else { below(w[0]) };
            (below(w[1]) - low).max(0.0)
        })
        .collect();
    let mut now_bins = vec![0.0; HISTOGRAM_BINS];
    let present = day.probabilities.iter().filter(|p| !p.is_nan());
    for &p in present.clone() {
        let bin = ((p.clamp(0.0, 1.0) * HISTOGRAM_BINS as f64) as usize).min(HISTOGRAM_BINS - 1);
        now_bins[bin] += 1.0;
    }
    let count = present.count().max(1) as f64;
    for bin in &mut now_bins {
        *bin /= count;
    }
    PredictionDrift {
        date: day.date.clone(),
        models: [day.summary.model_id.clone(), reference.model_id.clone()],
        rows: [reference.distribution.rows, day.probabilities.len() as u64],
        psi,
        ks: drift::kolmogorov_smirnov(&reference.distribution, &day.probabilities),
        level: psi.map_or(Level::Stable, |psi| band.level(psi)),
        mean: [reference.distribution.mean, now.mean],
        tiers,
        histogram: [reference_bins, now_bins],
    }
}
