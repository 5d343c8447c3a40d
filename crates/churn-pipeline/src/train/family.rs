//! The three model families, their default hyperparameters and their search spaces.

use std::collections::BTreeMap;

use super::encode::Style;
use super::linear::LinearParams;
use super::tree::boosting::BoostParams;
use super::tree::forest::ForestParams;
use super::tree::grow::TreeParams;
use crate::rng::Rng;

/// A model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// L2 logistic regression.
    Linear,
    /// Random forest.
    Forest,
    /// Gradient-boosted trees.
    Boosting,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 3] = [Family::Linear, Family::Forest, Family::Boosting];

    /// The name used in artifacts, reports and flags.
    pub fn name(self) -> &'static str {
        match self {
            Family::Linear => "logistic_regression",
            Family::Forest => "random_forest",
            Family::Boosting => "gradient_boosting",
        }
    }

    /// Parses a flag value (`lr`, `rf`, `gbdt` or the full name).
    pub fn parse(text: &str) -> Option<Family> {
        match text.trim().to_lowercase().as_str() {
            "lr" | "logistic" | "logistic_regression" | "linear" => Some(Family::Linear),
            "rf" | "forest" | "random_forest" => Some(Family::Forest),
            "gbdt" | "gbm" | "boosting" | "gradient_boosting" => Some(Family::Boosting),
            _ => None,
        }
    }

    /// How the family wants its inputs encoded.
    pub fn style(self, scaling: super::encode::ScalingKind) -> Style {
        match self {
            Family::Linear => Style::Linear(scaling),
            Family::Forest | Family::Boosting => Style::Trees,
        }
    }
}

/// Hyperparameters of one candidate model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Config {
    /// Logistic regression.
    Linear(LinearParams),
    /// Random forest.
    Forest(ForestParams),
    /// Boosting.
    Boosting(BoostParams),
}

fn log_uniform(rng: &mut Rng, low: f64, high: f64) -> f64 {
    (low.ln() + rng.f64() * (high.ln() - low.ln())).exp()
}

fn integer(rng: &mut Rng, low: usize, high: usize) -> usize {
    low + rng.below((high - low + 1) as u64) as usize
}

impl Config {
    /// The family of this config.
    pub fn family(&self) -> Family {
        match self {
            Config::Linear(_) => Family::Linear,
            Config::Forest(_) => Family::Forest,
            Config::Boosting(_) => Family::Boosting,
        }
    }

    /// The default config of a family: trial 0 of every search.
    pub fn default_for(family: Family, columns: usize) -> Config {
        match family {
            Family::Linear => Config::Linear(LinearParams {
                c: 1.0,
                positive_weight: 1.0,
            }),
            Family::Forest => Config::Forest(ForestParams {
                trees: 200,
                tree: TreeParams {
                    max_leaves: 256,
                    max_depth: 10,
                    min_child_weight: 0.0,
                    min_rows_in_leaf: 5,
                    lambda: 0.0,
                    columns_per_split: (columns as f64).sqrt().max(1.0) / columns.max(1) as f64,
                    symmetric: false,
                },
                positive_weight: 1.0,
            }),
            Family::Boosting => Config::Boosting(BoostParams {
                max_trees: 1000,
                learning_rate: 0.05,
                tree: TreeParams {
                    max_leaves: 15,
                    max_depth: 6,
                    min_child_weight: 1e-3,
                    min_rows_in_leaf: 20,
                    lambda: 1.0,
                    columns_per_split: 1.0,
                    symmetric: false,
                },
                row_fraction: 0.8,
                column_fraction: 0.8,
                early_stopping: 50,
                positive_weight: 1.0,
            }),
        }
    }

    /// The fixed config of trial `round` of a family, when it has one: the defaults first,
    /// then, for boosting, symmetric trees with CatBoost's defaults (depth 6, L2 3).
    pub fn preset(family: Family, round: usize, columns: usize) -> Option<Config> {
        match (family, round) {
            (_, 0) => Some(Config::default_for(family, columns)),
            (Family::Boosting, 1) => Some(Config::Boosting(BoostParams {
                max_trees: 2000,
                learning_rate: 0.05,
                tree: TreeParams {
                    max_leaves: usize::MAX,
                    max_depth: 6,
                    min_child_weight: 1e-3,
                    min_rows_in_leaf: 1,
                    lambda: 3.0,
                    columns_per_split: 1.0,
                    symmetric: true,
                },
                row_fraction: 0.8,
                column_fraction: 1.0,
                early_stopping: 80,
                positive_weight: 1.0,
            })),
            _ => None,
        }
    }

    /// A random config of a family.
    pub fn sample(family: Family, columns: usize, rng: &mut Rng) -> Config {
        match family {
            Family::Linear => Config::Linear(LinearParams {
                c: log_uniform(rng, 0.003, 30.0),
                positive_weight: 1.0,
            }),
            Family::Forest => Config::Forest(ForestParams {
                trees: 200,
                tree: TreeParams {
                    max_leaves: 1024,
                    max_depth: integer(rng, 5, 14),
                    min_child_weight: 0.0,
                    min_rows_in_leaf: log_uniform(rng, 1.0, 40.0).round() as u32,
                    lambda: 0.0,
                    columns_per_split: rng.uniform(0.1, 0.7).max(1.0 / columns.max(1) as f64),
                    symmetric: false,
                },
                positive_weight: 1.0,
            }),
            Family::Boosting if rng.chance(0.4) => Config::Boosting(BoostParams {
                max_trees: 2000,
                learning_rate: log_uniform(rng, 0.02, 0.15),
                tree: TreeParams {
                    max_leaves: usize::MAX,
                    max_depth: integer(rng, 3, 7),
                    min_child_weight: log_uniform(rng, 1e-3, 1.0),
                    min_rows_in_leaf: 1,
                    lambda: log_uniform(rng, 0.5, 20.0),
                    columns_per_split: 1.0,
                    symmetric: true,
                },
                row_fraction: rng.uniform(0.6, 1.0),
                column_fraction: rng.uniform(0.5, 1.0),
                early_stopping: 80,
                positive_weight: 1.0,
            }),
            Family::Boosting => Config::Boosting(BoostParams {
                max_trees: 1500,
                learning_rate: log_uniform(rng, 0.01, 0.2),
                tree: TreeParams {
                    max_leaves: integer(rng, 3, 48),
                    max_depth: integer(rng, 2, 8),
                    min_child_weight: log_uniform(rng, 1e-3, 5.0),
                    min_rows_in_leaf: log_uniform(rng, 5.0, 100.0).round() as u32,
                    lambda: if rng.chance(0.2) {
                        0.0
                    } else {
                        log_uniform(rng, 1e-2, 30.0)
                    },
                    columns_per_split: 1.0,
                    symmetric: false,
                },
                row_fraction: rng.uniform(0.5, 1.0),
                column_fraction: rng.uniform(0.3, 1.0),
                early_stopping: 50,
                positive_weight: 1.0,
            }),
        }
    }

    /// The hyperparameters as text, for artifacts and reports.
    pub fn describe(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut put = |key: &str, value: String| {
            out.insert(key.to_owned(), value);
        };
        let tree = |put: &mut dyn FnMut(&str, String), tree: &TreeParams| {
            put("max_leaves", tree.max_leaves.to_string());
            put("max_depth", tree.max_depth.to_string());
            put("min_child_weight", format!("{:.4}", tree.min_child_weight));
            put("min_rows_in_leaf", tree.min_rows_in_leaf.to_string());
            put("lambda_l2", format!("{:.4}", tree.lambda));
            put(
                "columns_per_split",
                format!("{:.3}", tree.columns_per_split),
            );
            put("symmetric", tree.symmetric.to_string());
        };
        match self {
            Config::Linear(p) => {
                put("c", format!("{:.5}", p.c));
                put("positive_weight", format!("{:.3}", p.positive_weight));
            }
            Config::Forest(p) => {
                put("trees", p.trees.to_string());
                put("positive_weight", format!("{:.3}", p.positive_weight));
                tree(&mut put, &p.tree);
            }
            Config::Boosting(p) => {
                put("max_trees", p.max_trees.to_string());
                put("learning_rate", format!("{:.4}", p.learning_rate));
                put("row_fraction", format!("{:.3}", p.row_fraction));
                put("column_fraction", format!("{:.3}", p.column_fraction));
                put("early_stopping", p.early_stopping.to_string());
                put("positive_weight", format!("{:.3}", p.positive_weight));
                tree(&mut put, &p.tree);
            }
        }
        out
    }

    /// The same config with churners weighted by `weight`.
    pub fn with_positive_weight(mut self, weight: f64) -> Config {
        match &mut self {
            Config::Linear(p) => p.positive_weight = weight,
            Config::Forest(p) => p.positive_weight = weight,
            Config::Boosting(p) => p.positive_weight = weight,
        }
        self
    }
}
