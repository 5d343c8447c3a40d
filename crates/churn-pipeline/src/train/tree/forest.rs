//! A random forest: trees grown in parallel on bootstrap samples, each split choosing among
//! a random share of the columns; leaves hold weighted churn rates and the forest averages
//! them into a probability.

use churn_core::model::{Aggregation, Tree, TreeEnsemble};
use rayon::prelude::*;

use super::bins::{BinMapper, Binned};
use super::grow::{TreeParams, grow};
use crate::rng::Rng;

/// Hyperparameters of a forest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForestParams {
    /// Trees.
    pub trees: usize,
    /// Limits of each tree (`lambda` should be 0 so leaves are plain rates).
    pub tree: TreeParams,
    /// Weight of a churner relative to a stayer.
    pub positive_weight: f64,
}

/// Fits a forest on binned rows.
pub fn fit(
    mapper: &BinMapper,
    train: &Binned,
    labels: &[bool],
    params: &ForestParams,
    seed: u64,
) -> TreeEnsemble {
    let weight = |y: bool| if y { params.positive_weight } else { 1.0 };
    let gradients: Vec<f64> = labels
        .iter()
        .map(|&y| -f64::from(u8::from(y)) * weight(y))
        .collect();
    let hessians: Vec<f64> = labels.iter().map(|&y| weight(y)).collect();
    let columns: Vec<usize> = (0..train.columns.len()).collect();
    let trees = (0..params.trees)
        .into_par_iter()
        .map(|index| {
            let mut rng = Rng::for_stream(seed, 0xf0e5_7000 + index as u64);
            let mut rows: Vec<u32> = (0..train.rows)
                .map(|_| rng.below(train.rows as u64) as u32)
                .collect();
            rows.sort_unstable();
            let tree = grow(
                train,
                mapper,
                rows,
                &gradients,
                &hessians,
                &columns,
                &params.tree,
                1.0,
                &mut rng,
            );
            Tree { nodes: tree.nodes }
        })
        .collect();
    TreeEnsemble {
        aggregation: Aggregation::Mean,
        trees,
    }
}
