//! Growing one tree on binned data from gradients and hessians, leaf-wise (best-first),
//! as LightGBM does: the leaf whose best split gains most is split next, until the leaf
//! budget, the depth limit or the gain runs out. Histograms of the smaller child are built
//! from its rows and the larger child's are the parent's minus the smaller's.
//!
//! Missing values (bin 0) go to whichever side gains more at each split; that side is
//! stored in the node, so scoring routes missing values the way training did.
//!
//! Used by boosting (log-loss gradients) and by the random forest (gradients `-y`,
//! hessians 1, no regularisation: leaves hold churn rates, gains are Gini reductions).

use super::bins::{BinMapper, Binned};
use super::histogram::{self, BinStats, Histogram};
use crate::rng::Rng;
use churn_core::model::TreeNode;

/// Limits of one tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeParams {
    /// Most leaves.
    pub max_leaves: usize,
    /// Deepest leaf (root is depth 0).
    pub max_depth: usize,
    /// Least hessian sum in a leaf.
    pub min_child_weight: f64,
    /// Fewest rows in a leaf.
    pub min_rows_in_leaf: u32,
    /// L2 regularisation of leaf values.
    pub lambda: f64,
    /// Share of the allowed columns drawn at each split (random forest); 1.0 for all.
    pub columns_per_split: f64,
    /// Grow a symmetric (oblivious) tree, as CatBoost does: level by level, every node
    /// of a level splitting on the same column and threshold, to `max_depth` levels.
    /// A strong regulariser on small data; `max_leaves` is then ignored.
    pub symmetric: bool,
}

#[derive(Debug, Clone, Copy)]
struct Split {
    /// Position in the allowed columns.
    column: usize,
    /// Bins 1..=bin go left.
    bin: u8,
    missing_left: bool,
    gain: f64,
    left: BinStats,
    right: BinStats,
}

struct Leaf {
    node: usize,
    rows: Vec<u32>,
    total: BinStats,
    depth: usize,
    /// Per allowed column, its non-empty bins.
    histogram: Histogram,
    best: Option<Split>,
}

/// A grown tree: churn-core nodes, plus each internal node's bin for binned traversal.
#[derive(Debug, Clone)]
pub struct GrownTree {
    /// Nodes (children after parents).
    pub nodes: Vec<TreeNode>,
    /// For internal nodes, bins `1..=split_bin` go left.
    pub split_bins: Vec<u8>,
    /// Each leaf's node and the rows it was grown on that fell in it (a row repeats when
    /// it was drawn more than once): the training rows' leaf values without traversal.
    pub leaf_rows: Vec<(usize, Vec<u32>)>,
}

impl GrownTree {
    /// The leaf value of a binned row.
    #[inline]
    pub fn predict_binned(&self, binned: &Binned, row: usize) -> f64 {
        let mut index = 0;
        loop {
            let node = &self.nodes[index];
            if node.is_leaf() {
                return node.value;
            }
            let bin = binned.columns[node.feature as usize][row];
            let left = if bin == 0 {
                node.missing_left
            } else {
                bin <= self.split_bins[index]
            };
            index = if left { node.left } else { node.right } as usize;
        }
    }
}

fn score(stats: &BinStats, lambda: f64) -> f64 {
    stats.gradient * stats.gradient / (stats.hessian + lambda)
}

fn best_split(
    leaf: &Leaf,
    params: &TreeParams,
    candidates: &[usize],
    bin_counts: &[usize],
) -> Option<Split> {
    let parent = score(&leaf.total, params.lambda);
    let allowed = |stats: &BinStats| {
        stats.hessian >= params.min_child_weight && stats.rows >= params.min_rows_in_leaf
    };
    let mut best: Option<Split> = None;
    for &position in candidates {
        let histogram = &leaf.histogram[position];
        let missing = histogram::missing(histogram);
        // The last bin cannot be a left side: everything would go left.
        let last = bin_counts[position].saturating_sub(1);
        let mut left = BinStats::default();
        let mut try_split = |bin: u8, left: &BinStats| {
            for missing_left in [false, true] {
                let mut l = *left;
                if missing_left {
                    if missing.rows == 0 {
                        continue;
                    }
                    l.add(&missing);
                }
                let r = leaf.total.minus(&l);
                if !allowed(&l) || !allowed(&r) {
                    continue;
                }
                let gain = score(&l, params.lambda) + score(&r, params.lambda) - parent;
                if gain > best.map_or(1e-12, |b| b.gain) {
                    best = Some(Split {
                        column: position,
                        bin,
                        // Without missing values in training, send them to the larger side.
                        missing_left: if missing.rows == 0 {
                            l.rows >= r.rows
                        } else {
                            missing_left
                        },
                        gain,
                        left: l,
                        right: r,
                    });
                }
            }
        };
        // Bin 1 is always tried (with nothing on its left, it is "missing values alone");
        // after it only the bins that hold rows: an empty one moves nothing to the left,
        // so its splits are the previous bin's, which a later one can only tie (ties keep
        // the first).
        let mut tried_first = false;
        for stats in histogram {
            let bin = stats.bin;
            if bin == 0 {
                continue;
            }
            if bin as usize >= last {
                break;
            }
            if bin > 1 && !tried_first {
                try_split(1, &left);
                tried_first = true;
            }
            if stats.rows == 0 && bin > 1 {
                continue;
            }
            left.add(stats);
            try_split(bin, &left);
            tried_first = true;
        }
        if !tried_first && last > 1 {
            try_split(1, &left);
        }
    }
    best
}

fn leaf_value(stats: &BinStats, lambda: f64, scale: f64) -> f64 {
    -stats.gradient / (stats.hessian + lambda) * scale
}

/// Grows a tree on `rows` (a row may repeat: bootstrap) using `columns`.
#[allow(clippy::too_many_arguments)]
pub fn grow(
    binned: &Binned,
    mapper: &BinMapper,
    rows: Vec<u32>,
    gradients: &[f64],
    hessians: &[f64],
    columns: &[usize],
    params: &TreeParams,
    leaf_scale: f64,
    rng: &mut Rng,
) -> GrownTree {
    if params.symmetric {
        grow_symmetric(
            binned, mapper, rows, gradients, hessians, columns, params, leaf_scale,
        )
    } else {
        grow_leaf_wise(
            binned, mapper, rows, gradients, hessians, columns, params, leaf_scale, rng,
        )
    }
}

/// The tree, its leaves (node, totals, rows) given their values.
fn finish(
    mut nodes: Vec<TreeNode>,
    split_bins: Vec<u8>,
    leaves: impl Iterator<Item = (usize, BinStats, Vec<u32>)>,
    lambda: f64,
    leaf_scale: f64,
) -> GrownTree {
    let leaf_rows = leaves
        .map(|(node, total, rows)| {
            nodes[node].value = leaf_value(&total, lambda, leaf_scale);
            (node, rows)
        })
        .collect();
    GrownTree {
        nodes,
        split_bins,
        leaf_rows,
    }
}

fn totals(rows: &[u32], gradients: &[f64], hessians: &[f64]) -> BinStats {
    let mut total = BinStats::default();
    for &row in rows {
        total.add(&BinStats {
            gradient: gradients[row as usize],
            hessian: hessians[row as usize],
            rows: 1,
            bin: 0,
        });
    }
    total
}

/// Splits a node's rows, each side in their order: the left side reuses the node's
/// buffer (written front to back, never ahead of what is read).
fn split_rows(mut rows: Vec<u32>, goes_left: impl Fn(u32) -> bool) -> (Vec<u32>, Vec<u32>) {
    let mut right = Vec::with_capacity(rows.len() / 2);
    let mut kept = 0;
    for index in 0..rows.len() {
        let row = rows[index];
        if goes_left(row) {
            rows[kept] = row;
            kept += 1;
        } else {
            right.push(row);
        }
    }
    rows.truncate(kept);
    (rows, right)
}

struct LevelLeaf {
    node: usize,
    rows: Vec<u32>,
    total: BinStats,
    histogram: Histogram,
}

/// A symmetric tree: one (column, threshold, missing side) per level, chosen for the
/// largest gain summed over the level's nodes.
#[allow(clippy::too_many_arguments)]
fn grow_symmetric(
    binned: &Binned,
    mapper: &BinMapper,
    rows: Vec<u32>,
    gradients: &[f64],
    hessians: &[f64],
    columns: &[usize],
    params: &TreeParams,
    leaf_scale: f64,
) -> GrownTree {
    let total = totals(&rows, gradients, hessians);
    let mut nodes = vec![TreeNode::leaf(0.0, total.hessian)];
    let mut split_bins = vec![0u8];
    let histogram = histogram::build(binned, mapper, columns, None, &rows, gradients, hessians);
    let mut level = vec![LevelLeaf {
        node: 0,
        rows,
        total,
        histogram,
    }];
    let allowed = |stats: &BinStats| {
        stats.hessian >= params.min_child_weight && stats.rows >= params.min_rows_in_leaf
    };
    for depth in 0..params.max_depth {
        // The last level's leaves are not split: they need no histograms.
        let last_level = depth + 1 == params.max_depth;
        // (gain, column position, bin, missing_left)
        let mut best: Option<(f64, usize, u8, bool)> = None;
        for (position, &column) in columns.iter().enumerate() {
            let bins = mapper.bins(column);
            if bins < 3 {
                continue;
            }
            // The level's gain of each (bin, missing side) is the sum of its leaves'. A
            // leaf's gain changes only at the bins that hold rows of it, so each leaf adds
            // just those changes (a difference array, summed over the bins once): a leaf
            // costs its non-empty bins, not every bin.
            let mut changes = vec![[0.0f64; 2]; bins];
            let mut moved = vec![false; bins];
            for leaf in &level {
                let histogram = &leaf.histogram[position];
                let missing = histogram::missing(histogram);
                let parent = score(&leaf.total, params.lambda);
                let leaf_gain = |left: &BinStats, missing_left: bool| {
                    let mut l = *left;
                    if missing_left {
                        l.add(&missing);
                    }
                    let r = leaf.total.minus(&l);
                    if allowed(&l) && allowed(&r) {
                        score(&l, params.lambda) + score(&r, params.lambda) - parent
                    } else {
                        0.0
                    }
                };
                let mut left = BinStats::default();
                let mut gains = [leaf_gain(&left, false), leaf_gain(&left, true)];
                for (change, gain) in changes[1].iter_mut().zip(gains) {
                    *change += gain;
                }
                for stats in histogram.iter().filter(|stats| {
                    stats.rows > 0 && stats.bin >= 1 && (stats.bin as usize) < bins - 1
                }) {
                    left.add(stats);
                    let now = [leaf_gain(&left, false), leaf_gain(&left, true)];
                    let bin = stats.bin as usize;
                    for side in 0..2 {
                        changes[bin][side] += now[side] - gains[side];
                    }
                    gains = now;
                    moved[bin] = true;
                }
            }
            let mut level_gains = [0.0f64; 2];
            for bin in 1..bins - 1 {
                for side in 0..2 {
                    level_gains[side] += changes[bin][side];
                }
                // Nothing moved: the same splits as the previous bin, which this one can
                // only tie.
                if !moved[bin] && bin > 1 {
                    continue;
                }
                for (side, missing_left) in [false, true].into_iter().enumerate() {
                    let gain = level_gains[side];
                    if gain > best.map_or(1e-12, |b| b.0) {
                        best = Some((gain, position, bin as u8, missing_left));
                    }
                }
            }
        }
        let Some((_, position, bin, missing_left)) = best else {
            break;
        };
        let column = columns[position];
        let threshold = mapper.threshold(column, bin);
        let bins = &binned.columns[column];
        let mut next = Vec::with_capacity(level.len() * 2);
        for leaf in level {
            let (left_rows, right_rows) = split_rows(leaf.rows, |row| {
                let value = bins[row as usize];
                if value == 0 {
                    missing_left
                } else {
                    value <= bin
                }
            });
            let (left_histogram, right_histogram) = if last_level {
                (Vec::new(), Vec::new())
            } else {
                histogram::children(
                    binned,
                    mapper,
                    columns,
                    leaf.histogram,
                    &left_rows,
                    &right_rows,
                    gradients,
                    hessians,
                )
            };
            let left_total = totals(&left_rows, gradients, hessians);
            let right_total = leaf.total.minus(&left_total);
            let left_node = nodes.len();
            nodes.push(TreeNode::leaf(0.0, left_total.hessian));
            nodes.push(TreeNode::leaf(0.0, right_total.hessian));
            split_bins.extend([0, 0]);
            nodes[leaf.node] = TreeNode {
                feature: column as u32,
                threshold,
                left: left_node as u32,
                right: left_node as u32 + 1,
                missing_left,
                value: 0.0,
                cover: leaf.total.hessian,
            };
            split_bins[leaf.node] = bin;
            next.push(LevelLeaf {
                node: left_node,
                rows: left_rows,
                total: left_total,
                histogram: left_histogram,
            });
            next.push(LevelLeaf {
                node: left_node + 1,
                rows: right_rows,
                total: right_total,
                histogram: right_histogram,
            });
        }
        level = next;
    }
    let leaves = level.into_iter().map(|l| (l.node, l.total, l.rows));
    finish(nodes, split_bins, leaves, params.lambda, leaf_scale)
}

#[allow(clippy::too_many_arguments)]
fn grow_leaf_wise(
    binned: &Binned,
    mapper: &BinMapper,
    rows: Vec<u32>,
    gradients: &[f64],
    hessians: &[f64],
    columns: &[usize],
    params: &TreeParams,
    leaf_scale: f64,
    rng: &mut Rng,
) -> GrownTree {
    let total = totals(&rows, gradients, hessians);
    let mut nodes = vec![TreeNode::leaf(0.0, total.hessian)];
    let mut split_bins = vec![0u8];
    let draw = |rng: &mut Rng| -> Vec<usize> {
        let all: Vec<usize> = (0..columns.len()).collect();
        if params.columns_per_split >= 1.0 {
            return all;
        }
        let count = ((columns.len() as f64 * params.columns_per_split).ceil() as usize)
            .clamp(1, columns.len());
        let mut shuffled = all;
        rng.shuffle(&mut shuffled);
        shuffled.truncate(count);
        shuffled.sort_unstable();
        shuffled
    };
    // Columns drawn at every split: each node's histograms are its candidates', built
    // from its rows. Otherwise every column's, the larger child's by subtraction.
    let per_split = params.columns_per_split < 1.0;
    let candidates = draw(rng);
    let histogram = histogram::build(
        binned,
        mapper,
        columns,
        per_split.then_some(candidates.as_slice()),
        &rows,
        gradients,
        hessians,
    );
    // Bins per allowed column.
    let bin_counts: Vec<usize> = columns.iter().map(|&c| mapper.bins(c)).collect();
    let mut root = Leaf {
        node: 0,
        rows,
        total,
        depth: 0,
        histogram,
        best: None,
    };
    root.best = (params.max_depth > 0)
        .then(|| best_split(&root, params, &candidates, &bin_counts))
        .flatten();
    let mut leaves = vec![root];

    while leaves.len() < params.max_leaves {
        let Some(chosen) = leaves
            .iter()
            .enumerate()
            .filter_map(|(index, leaf)| leaf.best.map(|split| (index, split.gain)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(index, _)| index)
        else {
            break;
        };
        let leaf = leaves.swap_remove(chosen);
        let Some(split) = leaf.best else { break };
        let column = columns[split.column];
        let bins = &binned.columns[column];
        let (left_rows, right_rows) = split_rows(leaf.rows, |row| {
            let bin = bins[row as usize];
            if bin == 0 {
                split.missing_left
            } else {
                bin <= split.bin
            }
        });
        let left_node = nodes.len();
        nodes.push(TreeNode::leaf(0.0, split.left.hessian));
        nodes.push(TreeNode::leaf(0.0, split.right.hessian));
        split_bins.extend([0, 0]);
        nodes[leaf.node] = TreeNode {
            feature: column as u32,
            threshold: mapper.threshold(column, split.bin),
            left: left_node as u32,
            right: left_node as u32 + 1,
            missing_left: split.missing_left,
            value: 0.0,
            cover: leaf.total.hessian,
        };
        split_bins[leaf.node] = split.bin;

        let depth = leaf.depth + 1;
        // Children that will not be split need no histograms: the tree is full once they
        // are in (`leaves` holds the others), they are as deep as allowed, or neither can
        // keep `min_rows_in_leaf` rows on both sides of a split.
        let can_split = |rows: &[u32]| rows.len() >= 2 * params.min_rows_in_leaf.max(1) as usize;
        let split_later = leaves.len() + 2 < params.max_leaves
            && depth < params.max_depth
            && (can_split(&left_rows) || can_split(&right_rows));
        // Drawn even when unused, so the column draws stay in step.
        let [left_candidates, right_candidates] =
            [(); 2].map(|()| (depth < params.max_depth).then(|| draw(rng)));
        let (left_histogram, right_histogram) = match (split_later, per_split) {
            (false, _) => (Vec::new(), Vec::new()),
            (true, false) => histogram::children(
                binned,
                mapper,
                columns,
                leaf.histogram,
                &left_rows,
                &right_rows,
                gradients,
                hessians,
            ),
            (true, true) => {
                let of = |candidates: &Option<Vec<usize>>, rows: &[u32]| {
                    histogram::build(
                        binned,
                        mapper,
                        columns,
                        Some(candidates.as_deref().unwrap_or_default()),
                        rows,
                        gradients,
                        hessians,
                    )
                };
                (
                    of(&left_candidates, &left_rows),
                    of(&right_candidates, &right_rows),
                )
            }
        };
        for (node, rows, total, histogram, candidates) in [
            (
                left_node,
                left_rows,
                split.left,
                left_histogram,
                left_candidates,
            ),
            (
                left_node + 1,
                right_rows,
                split.right,
                right_histogram,
                right_candidates,
            ),
        ] {
            let mut child = Leaf {
                node,
                rows,
                total,
                depth,
                histogram,
                best: None,
            };
            if let (true, Some(candidates)) = (split_later, candidates) {
                child.best = best_split(&child, params, &candidates, &bin_counts);
            }
            leaves.push(child);
        }
    }
    let leaves = leaves.into_iter().map(|l| (l.node, l.total, l.rows));
    finish(nodes, split_bins, leaves, params.lambda, leaf_scale)
}
