//! The options of a training run, and their validation: linfa's params → checked params.
//!
//! [`TrainOptions`] is what a caller fills in (the CLI from its flags, a function from its
//! environment); [`TrainOptions::validate`] checks every field once and returns
//! [`ValidTrainOptions`], the only thing [`super::train`] accepts. A check that needs the
//! data (too few rows for the folds, a test split with one class) stays in training.
//! An [`OptionError`] names the field, so that a front end can name its own flag.

use std::collections::BTreeMap;
use std::time::Duration;

use churn_core::metrics;

use super::calibrate::CalibrationKind;
use super::encode::ScalingKind;
use super::family::Family;
use super::threshold::ThresholdRule;
pub use crate::error::OptionError;

/// The metric that selects models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionMetric {
    /// Area under the ROC curve.
    RocAuc,
    /// Average precision (area under the precision-recall curve).
    PrAuc,
}

impl SelectionMetric {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            SelectionMetric::RocAuc => "roc_auc",
            SelectionMetric::PrAuc => "pr_auc",
        }
    }

    pub(crate) fn compute(self, labels: &[bool], scores: &[f64]) -> f64 {
        match self {
            SelectionMetric::RocAuc => metrics::roc_auc(labels, scores),
            SelectionMetric::PrAuc => metrics::average_precision(labels, scores),
        }
        .unwrap_or(0.5)
    }
}

/// How churners are weighted against stayers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClassWeight {
    /// Equal weights.
    None,
    /// Weights that make both classes weigh the same in total.
    Balanced,
}

/// Options of a training run, as a caller fills them in; [`TrainOptions::validate`]
/// turns them into the [`ValidTrainOptions`] that training takes.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Cross-validation folds (at least 2).
    pub folds: usize,
    /// Share of labelled rows held out for the test split (0.05 to 0.5; unused with
    /// `test_ids`).
    pub test_fraction: f64,
    /// Ids of the test split, instead of a random one (e.g. a reference split).
    pub test_ids: Option<Vec<String>>,
    /// Families to train (at least one, each once).
    pub families: Vec<Family>,
    /// Configs tried per family, the default config included (at least 1; a family
    /// missing here tries its defaults only).
    pub trials: BTreeMap<Family, usize>,
    /// Stop starting new trials after this long.
    pub time_budget: Option<Duration>,
    /// The metric that picks configs and the champion.
    pub metric: SelectionMetric,
    /// The calibration fitted on out-of-fold predictions.
    pub calibration: CalibrationKind,
    /// How the decision threshold is chosen.
    pub threshold: ThresholdRule,
    /// Scaling of linear-model inputs.
    pub scaling: ScalingKind,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// When the run started, for lineage (`trained_at`).
    pub trained_at: String,
    /// The search cross-validates on a stratified sample of at most this many training
    /// rows (at least [`MIN_SEARCH_ROWS`]); the final models are fitted on all of them.
    pub search_rows: usize,
    /// Final boosters per selected boosting config, each refitted with its own seed
    /// (its own row and column samples) and averaged: a steadier model on small data,
    /// at the cost of scoring that many times the trees. 1 refits once, and so does a
    /// train split of more than [`BAG_MAX_ROWS`] rows, where variance is low and a refit
    /// costs minutes. At least 1.
    pub bags: usize,
    /// Refit the champion's configuration on every labelled row (train and test splits)
    /// once the test split has measured it, and deploy that model; the test figures then
    /// describe the same configuration fitted on the train split. `false` deploys the
    /// measured model itself, fitted on the train split only.
    pub refit_on_all_rows: bool,
    /// Train even when one feature alone separates the classes almost perfectly (see
    /// [`crate::features::leakage`]); otherwise that is refused, naming the feature.
    pub allow_leaky: bool,
}

/// Train splits larger than this refit each booster once, whatever [`TrainOptions::bags`].
pub const BAG_MAX_ROWS: usize = 100_000;

/// The smallest [`TrainOptions::search_rows`]: fewer rows cannot fill the folds with
/// both classes, and would give a search that means nothing.
pub const MIN_SEARCH_ROWS: usize = 100;

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            folds: 5,
            test_fraction: 0.2,
            test_ids: None,
            families: Family::ALL.to_vec(),
            trials: [
                (Family::Linear, 8),
                (Family::Forest, 3),
                (Family::Boosting, 16),
            ]
            .into_iter()
            .collect(),
            time_budget: None,
            metric: SelectionMetric::RocAuc,
            calibration: CalibrationKind::Platt,
            threshold: ThresholdRule::MaxF1,
            scaling: ScalingKind::Standard,
            class_weight: ClassWeight::None,
            trained_at: String::new(),
            search_rows: 100_000,
            bags: 3,
            refit_on_all_rows: true,
            allow_leaky: false,
        }
    }
}

/// Training options that passed [`TrainOptions::validate`]. Read the fields through
/// `Deref`; the only way to build one is to validate.
#[derive(Debug, Clone)]
pub struct ValidTrainOptions(TrainOptions);

impl std::ops::Deref for ValidTrainOptions {
    type Target = TrainOptions;

    fn deref(&self) -> &TrainOptions {
        &self.0
    }
}

impl ValidTrainOptions {
    /// The options, to change and validate again.
    pub fn into_inner(self) -> TrainOptions {
        self.0
    }

    /// Configs tried for `family` (a family without an entry tries its defaults only).
    pub fn trials_of(&self, family: Family) -> usize {
        self.0.trials.get(&family).copied().unwrap_or(1)
    }
}

impl TrainOptions {
    /// Checks every option; the first one that cannot be used is the error.
    pub fn validate(self) -> Result<ValidTrainOptions, OptionError> {
        if self.folds < 2 {
            return Err(OptionError::new(
                "folds",
                format!("{}: use at least 2", self.folds),
            ));
        }
        match &self.test_ids {
            None if !(0.05..=0.5).contains(&self.test_fraction) => {
                return Err(OptionError::new(
                    "test_fraction",
                    format!("{} is out of range: use 0.05 to 0.5", self.test_fraction),
                ));
            }
            Some(ids) if ids.is_empty() => {
                return Err(OptionError::new(
                    "test_ids",
                    "is an empty list: give the ids of the test split, or none for a random split",
                ));
            }
            _ => {}
        }
        if self.families.is_empty() {
            return Err(OptionError::new(
                "families",
                "is empty: train at least one family (lr, rf or gbdt)",
            ));
        }
        for (index, family) in self.families.iter().enumerate() {
            if self.families[..index].contains(family) {
                return Err(OptionError::new(
                    "families",
                    format!("lists {} twice: name each family once", family.name()),
                ));
            }
            if self.trials.get(family) == Some(&0) {
                return Err(OptionError::new(
                    "trials",
                    format!(
                        "of {} is 0: try at least 1 config (the defaults)",
                        family.name()
                    ),
                ));
            }
        }
        if self.search_rows < MIN_SEARCH_ROWS {
            return Err(OptionError::new(
                "search_rows",
                format!("{}: use at least {MIN_SEARCH_ROWS}", self.search_rows),
            ));
        }
        if self.bags == 0 {
            return Err(OptionError::new(
                "bags",
                "0: refit each boosting config at least once",
            ));
        }
        check_threshold(self.threshold)?;
        Ok(ValidTrainOptions(self))
    }
}

fn check_threshold(rule: ThresholdRule) -> Result<(), OptionError> {
    let share = |field: &'static str, value: f64| {
        if (0.0..=1.0).contains(&value) {
            Ok(())
        } else {
            Err(OptionError::new(
                field,
                format!("{value} is out of range: use a share from 0 to 1"),
            ))
        }
    };
    let amount = |field: &'static str, value: f64| {
        if value.is_finite() && value >= 0.0 {
            Ok(())
        } else {
            Err(OptionError::new(
                field,
                format!("{value} is out of range: use an amount of 0 or more"),
            ))
        }
    };
    match rule {
        ThresholdRule::MaxF1 => Ok(()),
        ThresholdRule::TargetRecall(recall) => share("threshold", recall).map_err(|_| {
            OptionError::new(
                "threshold",
                format!("recall:{recall} is out of range: use a recall from 0 to 1"),
            )
        }),
        ThresholdRule::MaxProfit {
            offer_cost,
            customer_value,
            save_rate,
        } => {
            amount("offer_cost", offer_cost)?;
            amount("customer_value", customer_value)?;
            share("save_rate", save_rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(options: TrainOptions) -> &'static str {
        options.validate().expect_err("refused").field
    }

    #[test]
    fn the_defaults_are_valid() {
        let valid = TrainOptions::default().validate().expect("valid");
        assert_eq!(valid.trials_of(Family::Boosting), 16);
        let only = TrainOptions {
            trials: BTreeMap::new(),
            ..TrainOptions::default()
        };
        assert_eq!(only.validate().expect("valid").trials_of(Family::Linear), 1);
    }

    #[test]
    fn each_unusable_option_is_named_by_its_field() {
        let defaults = TrainOptions::default;
        let cases = [
            (
                TrainOptions {
                    folds: 1,
                    ..defaults()
                },
                "folds",
            ),
            (
                TrainOptions {
                    test_fraction: 0.7,
                    ..defaults()
                },
                "test_fraction",
            ),
            (
                TrainOptions {
                    test_fraction: f64::NAN,
                    ..defaults()
                },
                "test_fraction",
            ),
            (
                TrainOptions {
                    test_ids: Some(Vec::new()),
                    ..defaults()
                },
                "test_ids",
            ),
            (
                TrainOptions {
                    families: Vec::new(),
                    ..defaults()
                },
                "families",
            ),
            (
                TrainOptions {
                    families: vec![Family::Linear, Family::Linear],
                    ..defaults()
                },
                "families",
            ),
            (
                TrainOptions {
                    trials: [(Family::Forest, 0)].into_iter().collect(),
                    ..defaults()
                },
                "trials",
            ),
            (
                TrainOptions {
                    search_rows: 10,
                    ..defaults()
                },
                "search_rows",
            ),
            (
                TrainOptions {
                    bags: 0,
                    ..defaults()
                },
                "bags",
            ),
            (
                TrainOptions {
                    threshold: ThresholdRule::TargetRecall(1.5),
                    ..defaults()
                },
                "threshold",
            ),
            (
                TrainOptions {
                    threshold: ThresholdRule::MaxProfit {
                        offer_cost: -1.0,
                        customer_value: 500.0,
                        save_rate: 0.3,
                    },
                    ..defaults()
                },
                "offer_cost",
            ),
            (
                TrainOptions {
                    threshold: ThresholdRule::MaxProfit {
                        offer_cost: 100.0,
                        customer_value: f64::INFINITY,
                        save_rate: 0.3,
                    },
                    ..defaults()
                },
                "customer_value",
            ),
            (
                TrainOptions {
                    threshold: ThresholdRule::MaxProfit {
                        offer_cost: 100.0,
                        customer_value: 500.0,
                        save_rate: 2.0,
                    },
                    ..defaults()
                },
                "save_rate",
            ),
        ];
        for (options, field) in cases {
            assert_eq!(field_of(options), field);
        }
        let error = TrainOptions {
            test_fraction: 0.7,
            ..defaults()
        }
        .validate()
        .expect_err("refused");
        assert_eq!(
            error.to_string(),
            "test_fraction 0.7 is out of range: use 0.05 to 0.5"
        );
        // A test-id list makes the fraction irrelevant.
        let with_ids = TrainOptions {
            test_fraction: 0.9,
            test_ids: Some(vec!["C1".into()]),
            ..defaults()
        };
        assert!(with_ids.validate().is_ok());
    }
}
