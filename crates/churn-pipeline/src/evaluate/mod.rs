//! Evaluation: `churn evaluate`. Scores the held-out rows with every family's model and
//! writes `metrics.json` and a self-contained `report.html` (inline SVG charts, no
//! external files) into the model folder.
//!
//! By default the rows are the training run's test split, from the table it trained on;
//! given another labelled table (say, a later month), all of its rows are scored: that is
//! how real accuracy after deployment is measured.

/// The evaluation report in a model's folder: self-contained HTML.
pub const REPORT_FILE: &str = churn_core::layout::MODEL_REPORT_FILE;

pub mod plots;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use churn_core::metrics::{self, CalibrationBin};
use churn_core::{ModelArtifact, Scorer};
use serde::Serialize;

use crate::error::{PipelineError, Result};
use crate::features::data::{Dataset, load_dir};
use crate::models::{CANDIDATES_DIR, read_artifact, read_training};
use crate::store::{write_atomic, write_json};
use crate::train::{HeldOut, TrainOutcome, score_rows};
use plots::{Line, escape};

/// Metrics of one family on the evaluated rows.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyMetrics {
    /// The family.
    pub family: String,
    /// Its model id.
    pub model_id: String,
    /// Cross-validated metric at training time.
    pub cv_metric: f64,
    /// Metrics on the evaluated rows.
    pub held_out: HeldOut,
    /// Share of churners in the riskiest 10% and 20% of customers.
    pub gains: BTreeMap<String, f64>,
}

/// What `metrics.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Program that wrote it.
    pub generated_by: String,
    /// The feature folder scored.
    pub features: String,
    /// Which rows: the training test split, or the whole table.
    pub rows_scored: String,
    /// Which model the figures describe, and which one `model.bin` deploys.
    pub models: String,
    /// Rows evaluated.
    pub rows: usize,
    /// Churners among them.
    pub positives: usize,
    /// The champion family.
    pub champion: String,
    /// The label horizon the champion predicts, in days (`null`: unknown).
    pub horizon_days: Option<u32>,
    /// The same for people: `churn within 90 days` or `horizon unknown`.
    pub horizon: String,
    /// Every family, champion first.
    pub families: Vec<FamilyMetrics>,
    /// Mean |contribution| of each feature to the champion's score, largest first.
    pub feature_importance: Vec<(String, f64)>,
    /// Where the report is.
    pub report: String,
}

fn gains_at(labels: &[bool], scores: &[f64], share: f64) -> f64 {
    let curve = metrics::cumulative_gains(labels, scores);
    curve
        .iter()
        .find(|point| point.x >= share)
        .map_or(1.0, |point| point.y)
}

/// Evaluates the model folder `model_dir`, on `features` or the training test split.
pub fn evaluate(model_dir: &Path, features: Option<&Path>) -> Result<Evaluation> {
    let training = read_training(model_dir)?;
    let (features_dir, whole_table) = match features {
        Some(dir) => (dir.to_path_buf(), true),
        None => (PathBuf::from(&training.features), false),
    };
    let data = load_dir(&features_dir, true)?;
    let rows: Vec<usize> = if whole_table {
        (0..data.len()).collect()
    } else {
        let wanted: std::collections::HashSet<&str> =
            training.test_ids.iter().map(String::as_str).collect();
        (0..data.len())
            .filter(|&r| wanted.contains(data.ids[r].as_str()))
            .collect()
    };
    let labels: Vec<bool> = rows.iter().map(|&r| data.labels[r]).collect();
    if !labels.iter().any(|l| *l) || labels.iter().all(|l| *l) {
        return Err(PipelineError::InvalidInput(format!(
            "the {} rows to evaluate need churners and stayers",
            labels.len()
        )));
    }
    let mut families = Vec::new();
    let mut curves = Vec::new();
    let mut champion_scorer = None;
    for family in ordered_families(&training) {
        let path = model_dir
            .join(CANDIDATES_DIR)
            .join(format!("{}.json", family.family));
        let artifact = read_artifact(&path)?;
        let scorer = Scorer::new(artifact.clone())
            .map_err(|e| PipelineError::bad_file(&path, e.to_string()))?;
        let probabilities = score_rows(&scorer, &data, &rows);
        let held_out = HeldOut::compute(&labels, &probabilities, artifact.decision.threshold);
        let gains = [("top_10%", 0.1), ("top_20%", 0.2)]
            .into_iter()
            .map(|(name, share)| (name.to_owned(), gains_at(&labels, &probabilities, share)))
            .collect();
        curves.push((family.family.clone(), probabilities));
        if family.family == training.champion {
            champion_scorer = Some(scorer);
        }
        families.push(FamilyMetrics {
            family: family.family.clone(),
            model_id: artifact.model_id.clone(),
            cv_metric: family.cv_metric,
            held_out,
            gains,
        });
    }
    let champion_scorer = match champion_scorer {
        Some(scorer) => scorer,
        None => Scorer::new(read_artifact(model_dir)?)
            .map_err(|e| PipelineError::bad_file(model_dir, e.to_string()))?,
    };
    let measured = champion_scorer.artifact();
    let deployed = read_artifact(model_dir)?;
    let models = if deployed.model_id == measured.model_id {
        format!(
            "the figures are of the deployed model {}, fitted on {} rows",
            measured.model_id, measured.lineage.training_rows
        )
    } else {
        format!(
            "the figures are of {} fitted on the {} train rows; the deployed model {} is the \
             same configuration refitted on all {} labelled rows",
            measured.model_id,
            measured.lineage.training_rows,
            deployed.model_id,
            deployed.lineage.training_rows
        )
    };
    let feature_importance = importance(&champion_scorer, &data, &rows);
    let report_path = model_dir.join(REPORT_FILE);
    let evaluation = Evaluation {
        generated_by: format!("churn {}", env!("CARGO_PKG_VERSION")),
        features: features_dir.display().to_string(),
        rows_scored: if whole_table {
            "every labelled row of the table".into()
        } else {
            "the training run's held-out test split".into()
        },
        models,
        rows: rows.len(),
        positives: labels.iter().filter(|l| **l).count(),
        champion: training.champion.clone(),
        horizon_days: champion_scorer.artifact().lineage.horizon_days,
        horizon: champion_scorer.artifact().lineage.horizon_label(),
        families,
        feature_importance,
        report: report_path.display().to_string(),
    };
    let html = render(
        &evaluation,
        &training,
        champion_scorer.artifact(),
        &labels,
        &curves,
    )?;
    write_atomic(&report_path, html.as_bytes())?;
    write_json(model_dir.join("metrics.json"), &evaluation)?;
    Ok(evaluation)
}

/// The families of a run, champion first.
fn ordered_families(training: &TrainOutcome) -> Vec<&crate::train::FamilyResult> {
    let mut families: Vec<_> = training.families.iter().collect();
    families.sort_by_key(|f| f.family != training.champion);
    families
}

/// Mean absolute contribution of each feature over (up to 2,000 of) the rows.
fn importance(scorer: &Scorer, data: &Dataset, rows: &[usize]) -> Vec<(String, f64)> {
    let step = (rows.len() / 2000).max(1);
    let sample: Vec<usize> = rows.iter().step_by(step).copied().collect();
    let mut totals: BTreeMap<String, f64> = BTreeMap::new();
    for &row in &sample {
        if let Ok(explanation) = scorer.explain(&data.row_values(row)) {
            for reason in explanation.contributions {
                *totals.entry(reason.feature).or_default() +=
                    reason.contribution.abs() / sample.len() as f64;
            }
        }
    }
    let mut ranked: Vec<(String, f64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

fn render(
    evaluation: &Evaluation,
    training: &TrainOutcome,
    champion: &ModelArtifact,
    labels: &[bool],
    curves: &[(String, Vec<f64>)],
) -> Result<String> {
    let roc: Vec<Line<'_>> = curves
        .iter()
        .map(|(name, scores)| Line {
            name,
            points: plots::thin(&metrics::roc_curve(labels, scores), 400),
        })
        .collect();
    let pr: Vec<Line<'_>> = curves
        .iter()
        .map(|(name, scores)| Line {
            name,
            points: plots::thin(&metrics::pr_curve(labels, scores), 400),
        })
        .collect();
    let gains: Vec<Line<'_>> = curves
        .iter()
        .map(|(name, scores)| Line {
            name,
            points: plots::thin(&metrics::cumulative_gains(labels, scores), 400),
        })
        .collect();
    let calibration: Vec<Line<'_>> = curves
        .iter()
        .map(|(name, scores)| {
            let bins: Vec<CalibrationBin> = metrics::calibration_curve(labels, scores, 10);
            Line {
                name,
                points: plots::calibration_points(&bins),
            }
        })
        .collect();
    let base_rate = evaluation.positives as f64 / evaluation.rows.max(1) as f64;
    let diagonal = [(0.0, 0.0), (1.0, 1.0)];
    let champion_metrics = &evaluation.families[0];
    let charts: Vec<String> = [
        plots::guarded(|| {
            plots::lines(
                "ROC curve",
                "false-positive rate",
                "true-positive rate",
                &roc,
                &diagonal,
                1.0,
            )
        }),
        plots::guarded(|| {
            plots::lines(
                "Precision-recall curve",
                "recall",
                "precision",
                &pr,
                &[(0.0, base_rate), (1.0, base_rate)],
                1.0,
            )
        }),
        plots::guarded(|| {
            plots::lines(
                "Calibration",
                "predicted probability",
                "observed churn rate",
                &calibration,
                &diagonal,
                1.0,
            )
        }),
        plots::guarded(|| {
            plots::lines(
                "Cumulative gains",
                "share of customers targeted",
                "share of churners reached",
                &gains,
                &diagonal,
                1.0,
            )
        }),
        plots::guarded(|| {
            plots::confusion(
                &format!(
                    "{} at threshold {:.3}",
                    evaluation.champion, champion_metrics.held_out.threshold
                ),
                &champion_metrics.held_out.confusion,
            )
        }),
        plots::guarded(|| {
            plots::bars(
                "What drives the champion's scores",
                "mean |contribution| (log-odds)",
                &evaluation
                    .feature_importance
                    .iter()
                    .take(15)
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        }),
    ]
    .into_iter()
    .map(|chart| {
        chart.unwrap_or_else(|error| {
            format!("<p>(chart unavailable: {})</p>", escape(&error.to_string()))
        })
    })
    .collect();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Churn model report</title>\
         <style>{}</style></head><body><h1>Churn model report</h1>",
        plots::STYLE
    );
    let _ = write!(
        html,
        "<p>Champion: <b>{}</b> (<code>{}</code>), chosen by cross-validated {}. Label: <b>{}</b>. Scored on {} ({} rows, {} churners, {:.1}%). \
         Threshold {:.3} ({}). Note: {}.</p>",
        escape(&evaluation.champion),
        escape(&champion.model_id),
        escape(&training.metric),
        escape(&evaluation.horizon),
        escape(&evaluation.rows_scored),
        evaluation.rows,
        evaluation.positives,
        100.0 * base_rate,
        champion.decision.threshold,
        escape(&champion.decision.rule),
        escape(&evaluation.models)
    );
    html.push_str("<h2>Every family, side by side</h2><table><tr><th>family</th><th>CV</th><th>ROC-AUC</th><th>PR-AUC</th><th>log loss</th><th>Brier</th><th>accuracy</th><th>precision</th><th>recall</th><th>F1</th><th>threshold</th><th>churners in top 10%</th><th>top 20%</th></tr>");
    for family in &evaluation.families {
        let m = &family.held_out;
        let _ = write!(
            html,
            "<tr{}><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.1}%</td><td>{:.1}%</td></tr>",
            if family.family == evaluation.champion {
                " class=\"best\""
            } else {
                ""
            },
            escape(&family.family),
            family.cv_metric,
            m.roc_auc,
            m.pr_auc,
            m.log_loss,
            m.brier,
            m.accuracy,
            m.precision,
            m.recall,
            m.f1,
            m.threshold,
            100.0 * family.gains.get("top_10%").copied().unwrap_or(0.0),
            100.0 * family.gains.get("top_20%").copied().unwrap_or(0.0),
        );
    }
    html.push_str("</table>");
    let c = &champion_metrics.held_out.confusion;
    let _ = write!(
        html,
        "<p>Confusion of the champion: {} churners flagged, {} missed, {} stayers flagged, {} stayers left alone.</p>",
        c.true_positives, c.false_negatives, c.false_positives, c.true_negatives
    );
    html.push_str("<h2>Charts</h2><div class=\"charts\">");
    for chart in &charts {
        html.push_str(chart);
    }
    html.push_str("</div>");

    html.push_str("<h2>Model card</h2><table>");
    let row = |html: &mut String, key: &str, value: String| {
        let _ = write!(
            html,
            "<tr><td>{key}</td><td style=\"text-align:left\">{}</td></tr>",
            escape(&value)
        );
    };
    row(&mut html, "model id", champion.model_id.clone());
    row(&mut html, "family", champion.family.clone());
    row(&mut html, "predicts", evaluation.horizon.clone());
    row(&mut html, "trained by", champion.lineage.created_by.clone());
    row(&mut html, "trained at", champion.lineage.trained_at.clone());
    row(&mut html, "training table", training.features.clone());
    row(&mut html, "data hash", training.data_hash.clone());
    row(
        &mut html,
        "rows",
        format!(
            "{} labelled ({} churners): {} train, {} test",
            training.rows, training.positives, training.train_rows, training.test_rows
        ),
    );
    row(&mut html, "seed", training.seed.to_string());
    row(
        &mut html,
        "cross-validation",
        format!("{} stratified folds, {}", training.folds, training.metric),
    );
    row(
        &mut html,
        "timings",
        training
            .seconds
            .iter()
            .map(|(k, v)| format!("{k} {v:.1} s"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    row(
        &mut html,
        "feature spec",
        format!(
            "{} features, hash {}",
            champion.feature_spec.features.len(),
            champion.feature_spec.hash
        ),
    );
    row(
        &mut html,
        "calibration",
        format!("{:?}", champion.calibration)
            .chars()
            .take(120)
            .collect(),
    );
    row(
        &mut html,
        "parameters",
        champion
            .lineage
            .parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    html.push_str(
        "</table><h3>Features</h3><table><tr><th>name</th><th>kind</th><th>meaning</th></tr>",
    );
    for feature in &champion.feature_spec.features {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
            escape(&feature.name),
            feature.kind.as_str(),
            escape(&feature.description)
        );
    }
    html.push_str("</table><h3>Search</h3><table><tr><th>family</th><th>trials</th><th>dropped early (raced)</th><th>best CV</th><th>averaged</th><th>fit seconds</th></tr>");
    for family in &training.families {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td><td>{:.1}</td></tr>",
            escape(&family.family),
            family.trials.len(),
            family.trials.iter().filter(|t| t.pruned).count(),
            family.cv_metric,
            family.members.len(),
            family.trials.iter().map(|t| t.seconds).sum::<f64>() + family.final_seconds
        );
    }
    html.push_str("</table>");
    for warning in &training.warnings {
        let _ = write!(html, "<p>Note: {}</p>", escape(warning));
    }
    html.push_str("</body></html>\n");
    Ok(html)
}
