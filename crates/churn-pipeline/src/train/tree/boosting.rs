//! Gradient-boosted trees for log-loss, after LightGBM: histogram splits, leaf-wise
//! growth with a leaf and depth budget, L2-regularised leaves, minimum child weight, row
//! and column subsampling, shrinkage, native missing values, and early stopping on a
//! validation set.

use churn_core::model::{Aggregation, Tree, TreeEnsemble};

use super::bins::{BinMapper, Binned};
use super::grow::{GrownTree, TreeParams, grow};
use crate::rng::{Rng, sigmoid};

/// Hyperparameters of boosting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostParams {
    /// Most trees (early stopping usually ends sooner).
    pub max_trees: usize,
    /// Shrinkage of every tree.
    pub learning_rate: f64,
    /// Limits of each tree.
    pub tree: TreeParams,
    /// Share of rows each tree sees (without replacement).
    pub row_fraction: f64,
    /// Share of columns each tree sees.
    pub column_fraction: f64,
    /// Stop after this many trees without improving validation log-loss.
    pub early_stopping: usize,
    /// Weight of a churner relative to a stayer.
    pub positive_weight: f64,
}

/// A fitted booster.
#[derive(Debug, Clone)]
pub struct Boosted {
    /// The trees, ready for an artifact.
    pub ensemble: TreeEnsemble,
    /// Trees kept (the best validation iteration, or all without validation).
    pub trees: usize,
}

fn log_loss_of(margins: &[f64], labels: &[bool]) -> f64 {
    let total: f64 = margins
        .iter()
        .zip(labels)
        .map(|(&m, &y)| {
            // log(1 + e^-m) for churners, log(1 + e^m) for stayers, computed stably.
            let z = if y { -m } else { m };
            z.max(0.0) + (-z.abs()).exp().ln_1p()
        })
        .sum();
    total / labels.len().max(1) as f64
}

/// Fits a booster on binned training rows, stopping early on `valid` when given.
pub fn fit(
    mapper: &BinMapper,
    train: &Binned,
    labels: &[bool],
    valid: Option<(&Binned, &[bool])>,
    params: &BoostParams,
    seed: u64,
) -> Boosted {
    let mut rng = Rng::for_stream(seed, 0xb005);
    let weight = |y: bool| if y { params.positive_weight } else { 1.0 };
    let total_weight: f64 = labels.iter().map(|&y| weight(y)).sum();
    let positive_weight: f64 = labels.iter().filter(|y| **y).map(|&y| weight(y)).sum();
    let rate = (positive_weight / total_weight).clamp(1e-6, 1.0 - 1e-6);
    let base_score = (rate / (1.0 - rate)).ln();
    let mut margins = vec![base_score; train.rows];
    let mut valid_margins = valid.map(|(binned, _)| vec![base_score; binned.rows]);
    let mut gradients = vec![0.0; train.rows];
    let mut hessians = vec![0.0; train.rows];
    let columns: Vec<usize> = (0..train.columns.len()).collect();
    let mut grown: Vec<GrownTree> = Vec::new();
    let (mut best_loss, mut best_trees) = (f64::INFINITY, 0);

    for _ in 0..params.max_trees {
        for row in 0..train.rows {
            let p = sigmoid(margins[row]);
            let y = labels[row];
            let w = weight(y);
            gradients[row] = (p - f64::from(u8::from(y))) * w;
            hessians[row] = (p * (1.0 - p)).max(1e-16) * w;
        }
        let rows: Vec<u32> = if params.row_fraction < 1.0 {
            (0..train.rows as u32)
                .filter(|_| rng.chance(params.row_fraction))
                .collect()
        } else {
            (0..train.rows as u32).collect()
        };
        let tree_columns = sample_columns(&columns, params.column_fraction, &mut rng);
        let mut tree = grow(
            train,
            mapper,
            rows,
            &gradients,
            &hessians,
            &tree_columns,
            &params.tree,
            params.learning_rate,
            &mut rng,
        );
        // The rows the tree was grown on get their leaf's value from the leaf's rows; the
        // rows left out of this tree's sample walk the tree.
        let mut updated = vec![false; train.rows];
        for (node, rows) in std::mem::take(&mut tree.leaf_rows) {
            let value = tree.nodes[node].value;
            for row in rows {
                let row = row as usize;
                margins[row] += value;
                updated[row] = true;
            }
        }
        for (row, margin) in margins.iter_mut().enumerate() {
            if !updated[row] {
                *margin += tree.predict_binned(train, row);
            }
        }
        grown.push(tree);
        if let (Some((binned, valid_labels)), Some(valid_margins)) = (valid, valid_margins.as_mut())
        {
            let tree = &grown[grown.len() - 1];
            for (row, margin) in valid_margins.iter_mut().enumerate() {
                *margin += tree.predict_binned(binned, row);
            }
            let loss = log_loss_of(valid_margins, valid_labels);
            if loss < best_loss - 1e-12 {
                best_loss = loss;
                best_trees = grown.len();
            } else if grown.len() - best_trees >= params.early_stopping {
                break;
            }
        } else {
            best_trees = grown.len();
        }
    }
    grown.truncate(best_trees.max(1));
    Boosted {
        trees: grown.len(),
        ensemble: TreeEnsemble {
            aggregation: Aggregation::Sum { base_score },
            trees: grown
                .into_iter()
                .map(|tree| Tree { nodes: tree.nodes })
                .collect(),
        },
    }
}

/// A random subset of `fraction` of the columns (at least one), sorted.
pub fn sample_columns(columns: &[usize], fraction: f64, rng: &mut Rng) -> Vec<usize> {
    if fraction >= 1.0 {
        return columns.to_vec();
    }
    let count = ((columns.len() as f64 * fraction).round() as usize).clamp(1, columns.len());
    let mut chosen = columns.to_vec();
    rng.shuffle(&mut chosen);
    chosen.truncate(count);
    chosen.sort_unstable();
    chosen
}
