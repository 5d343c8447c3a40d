//! What a training run produces: the trials of the search, the held-out metrics of each
//! family's final model, and the whole run's summary (`training.json`).

use std::collections::BTreeMap;

use churn_core::ModelArtifact;
use churn_core::metrics::{self, Confusion};
use serde::{Deserialize, Serialize};

/// One config's cross-validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    /// Hyperparameters.
    pub params: BTreeMap<String, String>,
    /// Metric per fold.
    pub folds: Vec<f64>,
    /// Mean over folds.
    pub mean: f64,
    /// Boosting: trees kept per fold by early stopping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trees: Vec<usize>,
    /// Seconds its fold fits took, added up (folds and trials run side by side, so the
    /// trials of a search add up to more than its wall time).
    pub seconds: f64,
    /// Dropped after its first folds, trailing its family's best there: `folds` holds
    /// those folds only, and the trial is not a candidate for the final model.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pruned: bool,
}

/// Held-out metrics of one model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldOut {
    /// ROC-AUC.
    pub roc_auc: f64,
    /// Average precision.
    pub pr_auc: f64,
    /// Log loss of the calibrated probabilities.
    pub log_loss: f64,
    /// Brier score.
    pub brier: f64,
    /// Accuracy at the threshold.
    pub accuracy: f64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
    /// F1 at the threshold.
    pub f1: f64,
    /// The threshold.
    pub threshold: f64,
    /// Confusion at the threshold.
    pub confusion: Confusion,
}

impl HeldOut {
    /// Metrics of calibrated `probabilities` against `labels` at `threshold`.
    pub fn compute(labels: &[bool], probabilities: &[f64], threshold: f64) -> Self {
        let confusion = Confusion::at(labels, probabilities, threshold);
        Self {
            roc_auc: metrics::roc_auc(labels, probabilities).unwrap_or(f64::NAN),
            pr_auc: metrics::average_precision(labels, probabilities).unwrap_or(f64::NAN),
            log_loss: metrics::log_loss(labels, probabilities),
            brier: metrics::brier_score(labels, probabilities),
            accuracy: confusion.accuracy(),
            precision: confusion.precision(),
            recall: confusion.recall(),
            f1: confusion.f1(),
            threshold,
            confusion,
        }
    }

    /// The headline numbers, for artifact metadata.
    pub fn as_map(&self) -> BTreeMap<String, f64> {
        [
            ("test_roc_auc", self.roc_auc),
            ("test_pr_auc", self.pr_auc),
            ("test_log_loss", self.log_loss),
            ("test_brier", self.brier),
            ("test_accuracy", self.accuracy),
            ("test_precision", self.precision),
            ("test_recall", self.recall),
            ("test_f1", self.f1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// What training found for one family.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FamilyResult {
    /// The family.
    pub family: String,
    /// Every config tried.
    pub trials: Vec<Trial>,
    /// The trials averaged into the final model, best first.
    pub members: Vec<usize>,
    /// Cross-validated metric of that average.
    pub cv_metric: f64,
    /// The final model on the test split.
    pub test: HeldOut,
    /// Seconds to refit, calibrate and test the final model.
    pub final_seconds: f64,
    /// The finished artifact (written to `candidates/<family>.json`, not to the summary).
    #[serde(skip, default)]
    pub artifact: Option<ModelArtifact>,
}

/// Everything a training run produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// Program that trained.
    pub generated_by: String,
    /// The feature folder trained on.
    pub features: String,
    /// Fingerprint of the table.
    pub data_hash: String,
    /// Labelled rows.
    pub rows: usize,
    /// Rows in the train split.
    pub train_rows: usize,
    /// Rows in the test split.
    pub test_rows: usize,
    /// Churners among the labelled rows.
    pub positives: usize,
    /// Seed.
    pub seed: u64,
    /// Folds.
    pub folds: usize,
    /// The selection metric.
    pub metric: String,
    /// The winning family.
    pub champion: String,
    /// Per family, in training order.
    pub families: Vec<FamilyResult>,
    /// Ids of the test split (what `churn evaluate` scores).
    pub test_ids: Vec<String>,
    /// Seconds of the search and in all.
    pub seconds: BTreeMap<String, f64>,
    /// Things the user should know.
    pub warnings: Vec<String>,
    /// Rows the deployed model was fitted on: the train split, or every labelled row
    /// when the champion was refitted on them after its test.
    #[serde(default)]
    pub final_rows: usize,
    /// The champion refitted on every labelled row, when it was (written as `model.bin`
    /// and `model.json`; `candidates/` keeps the models the test split measured).
    #[serde(skip, default)]
    pub refitted: Option<ModelArtifact>,
}

impl TrainOutcome {
    /// The model to deploy: the refitted champion, or the champion as measured.
    pub fn deployed(&self) -> Option<&ModelArtifact> {
        self.refitted.as_ref().or(self.champion().artifact.as_ref())
    }

    /// The champion's result.
    pub fn champion(&self) -> &FamilyResult {
        // `train` always produces at least one family.
        self.families
            .iter()
            .find(|family| family.family == self.champion)
            .unwrap_or(&self.families[0])
    }
}
