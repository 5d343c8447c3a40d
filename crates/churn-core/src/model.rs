//! Fitted models: a linear model or a tree ensemble over the encoded columns, producing a
//! margin (log-odds for logistic regression and boosted trees, a probability for a random
//! forest). Trained by churn-pipeline; evaluated here, by every scorer.

use serde::{Deserialize, Serialize};

use crate::error::ArtifactError;

/// A fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Logistic regression: `margin = intercept + weights · x`.
    Linear(LinearModel),
    /// Trees: boosted (margin = base + Σ leaves) or a forest (margin = mean of leaves).
    Trees(TreeEnsemble),
}

/// Weights of a logistic regression over the (standardised) encoded columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// Bias term.
    pub intercept: f64,
    /// One weight per encoded column.
    pub weights: Vec<f64>,
}

/// How the trees of an ensemble combine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Gradient boosting: `base_score + Σ tree outputs`, in log-odds.
    Sum {
        /// Initial log-odds (the training churn rate's).
        base_score: f64,
    },
    /// Random forest: the mean of the trees' leaf probabilities.
    Mean,
}

/// A node of a tree. Internal nodes send `x[feature] <= threshold` left, everything else
/// right, and a missing value (NaN) to the side `missing_left` says.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// Encoded column tested; `u32::MAX` marks a leaf.
    pub feature: u32,
    /// Split threshold.
    pub threshold: f64,
    /// Index of the left child in the tree's node list.
    pub left: u32,
    /// Index of the right child.
    pub right: u32,
    /// Where a missing value goes.
    pub missing_left: bool,
    /// Output of a leaf (0 for internal nodes).
    pub value: f64,
    /// Training weight that reached the node (hessian sum or row count): what TreeSHAP
    /// needs to average over the unseen branch.
    pub cover: f64,
}

impl TreeNode {
    /// Marker of a leaf's `feature`.
    pub const LEAF: u32 = u32::MAX;

    /// Whether this node is a leaf.
    pub fn is_leaf(&self) -> bool {
        self.feature == Self::LEAF
    }

    /// A leaf.
    pub fn leaf(value: f64, cover: f64) -> Self {
        Self {
            feature: Self::LEAF,
            threshold: 0.0,
            left: 0,
            right: 0,
            missing_left: false,
            value,
            cover,
        }
    }

    /// Whether `x` goes to the left child.
    #[inline]
    pub fn goes_left(&self, x: f64) -> bool {
        if x.is_nan() {
            self.missing_left
        } else {
            x <= self.threshold
        }
    }
}

/// A binary tree stored as a node list; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes.
    pub nodes: Vec<TreeNode>,
}

impl Tree {
    /// The leaf `x` falls into.
    pub fn leaf(&self, x: &[f64]) -> &TreeNode {
        let mut node = &self.nodes[0];
        while !node.is_leaf() {
            let next = if node.goes_left(x[node.feature as usize]) {
                node.left
            } else {
                node.right
            };
            node = &self.nodes[next as usize];
        }
        node
    }

    /// Depth of the deepest leaf (a lone leaf has depth 0).
    pub fn depth(&self) -> usize {
        fn depth(nodes: &[TreeNode], index: usize) -> usize {
            let node = &nodes[index];
            if node.is_leaf() {
                0
            } else {
                1 + depth(nodes, node.left as usize).max(depth(nodes, node.right as usize))
            }
        }
        depth(&self.nodes, 0)
    }

    /// The weighted mean output of the tree over its training data.
    pub fn expected_value(&self) -> f64 {
        let root = self.nodes[0].cover;
        if root <= 0.0 {
            return 0.0;
        }
        self.nodes
            .iter()
            .filter(|node| node.is_leaf())
            .map(|node| node.value * node.cover / root)
            .sum()
    }

    fn validate(&self, width: usize, index: usize) -> Result<(), ArtifactError> {
        let bad = |what: String| Err(ArtifactError::Inconsistent(format!("tree {index}: {what}")));
        if self.nodes.is_empty() {
            return bad("no nodes".into());
        }
        // Children must come after their parent: no cycles, so every walk ends at a leaf.
        for (position, node) in self.nodes.iter().enumerate() {
            if node.is_leaf() {
                continue;
            }
            if node.feature as usize >= width {
                return bad(format!(
                    "node {position} tests column {} of {width}",
                    node.feature
                ));
            }
            for child in [node.left, node.right] {
                if child as usize <= position || child as usize >= self.nodes.len() {
                    return bad(format!("node {position} points to node {child}"));
                }
            }
        }
        Ok(())
    }
}

/// Trees and how they combine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeEnsemble {
    /// Sum (boosting) or mean (forest).
    pub aggregation: Aggregation,
    /// The trees.
    pub trees: Vec<Tree>,
}

impl Model {
    /// The margin of an encoded row (the slow, obviously correct path; scorers use
    /// [`crate::Scorer`]'s compiled form).
    pub fn margin(&self, x: &[f64]) -> f64 {
        match self {
            Model::Linear(linear) => {
                linear.intercept
                    + linear
                        .weights
                        .iter()
                        .zip(x)
                        .map(|(w, v)| w * v)
                        .sum::<f64>()
            }
            Model::Trees(ensemble) => {
                let total: f64 = ensemble.trees.iter().map(|tree| tree.leaf(x).value).sum();
                match ensemble.aggregation {
                    Aggregation::Sum { base_score } => base_score + total,
                    Aggregation::Mean => total / ensemble.trees.len().max(1) as f64,
                }
            }
        }
    }

    /// Whether the margin is a probability (forest) rather than log-odds.
    pub fn margin_is_probability(&self) -> bool {
        matches!(
            self,
            Model::Trees(TreeEnsemble {
                aggregation: Aggregation::Mean,
                ..
            })
        )
    }

    /// Checks the model against the width of the encoded input.
    pub fn validate(&self, width: usize) -> Result<(), ArtifactError> {
        match self {
            Model::Linear(linear) if linear.weights.len() != width => {
                Err(ArtifactError::Inconsistent(format!(
                    "{} weights for {width} encoded columns",
                    linear.weights.len()
                )))
            }
            Model::Linear(_) => Ok(()),
            Model::Trees(ensemble) => {
                if ensemble.trees.is_empty() {
                    return Err(ArtifactError::Inconsistent(
                        "an ensemble without trees".into(),
                    ));
                }
                ensemble
                    .trees
                    .iter()
                    .enumerate()
                    .try_for_each(|(index, tree)| tree.validate(width, index))
            }
        }
    }
}

/// Trees compiled for fast scoring, built once per loaded model.
///
/// Trees of depth at most [`COMPLETE_DEPTH`] (every boosted model we train) are laid out
/// as complete binary trees of one depth: node `p`'s children are `2p + 1` and `2p + 2`,
/// a leaf shallower than the rest becomes a chain of "always left" nodes. A walk is then
/// a fixed number of steps with no data-dependent branch, and several rows (or trees)
/// walk side by side. Deeper trees (large forests) keep a linked layout. Either way the
/// leaves are added in tree order, so every path gives bit-identical sums.
#[derive(Debug, Clone)]
pub struct CompiledTrees {
    layout: Layout,
    trees: usize,
    columns: usize,
    aggregation: Aggregation,
}

/// Trees at most this deep get the complete layout (64 leaves... 256 leaves per tree).
pub const COMPLETE_DEPTH: usize = 8;

#[derive(Debug, Clone)]
enum Layout {
    Complete {
        depth: usize,
        /// `trees × 2^depth` split nodes (the last of each tree unused: a power-of-two
        /// stride lets a mask, not a bounds check, keep every index in range).
        nodes: Vec<SplitNode>,
        /// `trees × 2^depth` leaf values.
        leaves: Vec<f64>,
    },
    Linked {
        nodes: Vec<PackedNode>,
        roots: Vec<u32>,
    },
}

/// A split of the complete layout: go right when `input[feature] > threshold`, where the
/// input holds every column twice, missing values as −∞ in the first copy and as +∞ in
/// the second. A node sending missing values left reads the first copy, one sending them
/// right the second: one comparison decides every step, missing or not.
#[derive(Debug, Clone, Copy)]
struct SplitNode {
    threshold: f64,
    feature: u32,
}

/// Writes `x` twice into `out`: missing as −∞, then missing as +∞.
#[inline]
fn widen(x: &[f64], out: &mut [f64]) {
    let (low, high) = out.split_at_mut(x.len());
    for ((value, low), high) in x.iter().zip(low).zip(high) {
        if value.is_nan() {
            *low = f64::NEG_INFINITY;
            *high = f64::INFINITY;
        } else {
            *low = *value;
            *high = *value;
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct PackedNode {
    threshold: f64,
    /// Column tested, or `u32::MAX` for a leaf (then `threshold` holds the value).
    feature: u32,
    left: u32,
    right: u32,
    missing_left: bool,
}

#[allow(clippy::too_many_arguments)]
fn fill_complete(
    tree: &Tree,
    source: usize,
    position: usize,
    level: usize,
    depth: usize,
    columns: usize,
    nodes: &mut [SplitNode],
    leaves: &mut [f64],
) {
    let internal = (1 << depth) - 1;
    let node = &tree.nodes[source];
    if level == depth {
        // Validation and the depth check guarantee a leaf here.
        leaves[position - internal] = node.value;
        return;
    }
    if node.is_leaf() {
        // Nothing is greater than +∞: always left.
        nodes[position] = SplitNode {
            threshold: f64::INFINITY,
            feature: 0,
        };
        fill_complete(
            tree,
            source,
            2 * position + 1,
            level + 1,
            depth,
            columns,
            nodes,
            leaves,
        );
        fill_complete(
            tree,
            source,
            2 * position + 2,
            level + 1,
            depth,
            columns,
            nodes,
            leaves,
        );
    } else {
        let copy = if node.missing_left { 0 } else { columns as u32 };
        nodes[position] = SplitNode {
            threshold: node.threshold,
            feature: node.feature + copy,
        };
        fill_complete(
            tree,
            node.left as usize,
            2 * position + 1,
            level + 1,
            depth,
            columns,
            nodes,
            leaves,
        );
        fill_complete(
            tree,
            node.right as usize,
            2 * position + 2,
            level + 1,
            depth,
            columns,
            nodes,
            leaves,
        );
    }
}

impl CompiledTrees {
    /// Compiles an ensemble (already validated) over `columns` encoded columns.
    pub fn new(ensemble: &TreeEnsemble, columns: usize) -> Self {
        let depth = ensemble
            .trees
            .iter()
            .map(Tree::depth)
            .max()
            .unwrap_or(0)
            .max(1);
        let layout = if depth <= COMPLETE_DEPTH {
            let width = 1usize << depth;
            let mut nodes = vec![
                SplitNode {
                    threshold: f64::INFINITY,
                    feature: 0,
                };
                width * ensemble.trees.len()
            ];
            let mut leaves = vec![0.0; width * ensemble.trees.len()];
            for (index, tree) in ensemble.trees.iter().enumerate() {
                fill_complete(
                    tree,
                    0,
                    0,
                    0,
                    depth,
                    columns,
                    &mut nodes[index * width..(index + 1) * width],
                    &mut leaves[index * width..(index + 1) * width],
                );
            }
            Layout::Complete {
                depth,
                nodes,
                leaves,
            }
        } else {
            let mut nodes = Vec::new();
            let mut roots = Vec::with_capacity(ensemble.trees.len());
            for tree in &ensemble.trees {
                let offset = nodes.len() as u32;
                roots.push(offset);
                nodes.extend(tree.nodes.iter().map(|node| PackedNode {
                    threshold: if node.is_leaf() {
                        node.value
                    } else {
                        node.threshold
                    },
                    feature: node.feature,
                    left: offset + node.left,
                    right: offset + node.right,
                    missing_left: node.missing_left,
                }));
            }
            Layout::Linked { nodes, roots }
        };
        Self {
            layout,
            trees: ensemble.trees.len(),
            columns,
            aggregation: ensemble.aggregation,
        }
    }

    fn finish(&self, total: f64) -> f64 {
        match self.aggregation {
            Aggregation::Sum { base_score } => base_score + total,
            Aggregation::Mean => total / self.trees as f64,
        }
    }

    fn walk_linked(nodes: &[PackedNode], mut index: u32, x: &[f64]) -> f64 {
        loop {
            let node = &nodes[index as usize];
            if node.feature == TreeNode::LEAF {
                return node.threshold;
            }
            let value = x[node.feature as usize];
            let left = if value.is_nan() {
                node.missing_left
            } else {
                value <= node.threshold
            };
            index = if left { node.left } else { node.right };
        }
    }

    /// The margin of one encoded row. Complete trees are walked four at a time so their
    /// independent steps overlap; leaves are still added in tree order.
    pub fn margin(&self, x: &[f64]) -> f64 {
        let mut total = 0.0;
        match &self.layout {
            Layout::Complete {
                depth,
                nodes,
                leaves,
            } => {
                let stride = 1usize << depth;
                let internal = stride - 1;
                let mut stack = [0.0; 256];
                let mut heap = Vec::new();
                let wide: &mut [f64] = if 2 * self.columns <= stack.len() {
                    &mut stack[..2 * self.columns]
                } else {
                    heap.resize(2 * self.columns, 0.0);
                    &mut heap
                };
                widen(&x[..self.columns], wide);
                let wide = &*wide;
                let step = |node: &SplitNode, position: usize| {
                    2 * position + 1 + usize::from(wide[node.feature as usize] > node.threshold)
                };
                let mut tree = 0;
                while tree + 4 <= self.trees {
                    let mut positions = [0usize; 4];
                    for _ in 0..*depth {
                        for (lane, position) in positions.iter_mut().enumerate() {
                            *position = step(&nodes[(tree + lane) * stride + *position], *position);
                        }
                    }
                    for (lane, position) in positions.iter().enumerate() {
                        total += leaves[(tree + lane) * stride + position - internal];
                    }
                    tree += 4;
                }
                for tree in tree..self.trees {
                    let mut position = 0;
                    for _ in 0..*depth {
                        position = step(&nodes[tree * stride + position], position);
                    }
                    total += leaves[tree * stride + position - internal];
                }
            }
            Layout::Linked { nodes, roots } => {
                for root in roots {
                    total += Self::walk_linked(nodes, *root, x);
                }
            }
        }
        self.finish(total)
    }

    /// Margins of many encoded rows (`rows.len() / width` of them) into `out`. Rows go in
    /// blocks, tree by tree: a tree's nodes stay in cache across the block, and the rows
    /// of a block step through it side by side.
    pub fn margins(&self, rows: &[f64], width: usize, out: &mut [f64]) {
        let width = width.max(1);
        let mut wide = Vec::with_capacity(2 * BLOCK * width);
        for (block, out) in rows.chunks(BLOCK * width).zip(out.chunks_mut(BLOCK)) {
            let mut totals = [0.0; BLOCK];
            match &self.layout {
                Layout::Complete {
                    depth,
                    nodes,
                    leaves,
                } => {
                    wide.resize(out.len() * 2 * width, 0.0);
                    for (row, wide_row) in block.chunks(width).zip(wide.chunks_mut(2 * width)) {
                        widen(row, wide_row);
                    }
                    let run = Block {
                        rows: &wide,
                        width: 2 * width,
                        count: out.len(),
                    };
                    match depth {
                        1 => run.walk::<2>(nodes, leaves, &mut totals),
                        2 => run.walk::<4>(nodes, leaves, &mut totals),
                        3 => run.walk::<8>(nodes, leaves, &mut totals),
                        4 => run.walk::<16>(nodes, leaves, &mut totals),
                        5 => run.walk::<32>(nodes, leaves, &mut totals),
                        6 => run.walk::<64>(nodes, leaves, &mut totals),
                        7 => run.walk::<128>(nodes, leaves, &mut totals),
                        _ => run.walk::<256>(nodes, leaves, &mut totals),
                    }
                }
                Layout::Linked { nodes, roots } => {
                    for root in roots {
                        for (row, total) in totals.iter_mut().enumerate().take(out.len()) {
                            *total += Self::walk_linked(
                                nodes,
                                *root,
                                &block[row * width..(row + 1) * width],
                            );
                        }
                    }
                }
            }
            for (slot, total) in out.iter_mut().zip(totals) {
                *slot = self.finish(total);
            }
        }
    }
}

/// Rows scored together.
const BLOCK: usize = 32;

/// A block of encoded rows walking complete trees.
struct Block<'a> {
    /// Widened rows (every column twice, see [`SplitNode`]).
    rows: &'a [f64],
    width: usize,
    count: usize,
}

impl Block<'_> {
    /// Adds every tree's leaf to each row's total. `N` is the trees' stride (2^depth):
    /// indices are masked with `N - 1`, which keeps them in range without bounds checks.
    fn walk<const N: usize>(&self, nodes: &[SplitNode], leaves: &[f64], totals: &mut [f64; BLOCK]) {
        if self.count == BLOCK {
            self.walk_rows::<N, BLOCK>(nodes, leaves, totals);
        } else {
            for (row, total) in totals.iter_mut().enumerate().take(self.count) {
                let single = Block {
                    rows: &self.rows[row * self.width..(row + 1) * self.width],
                    width: self.width,
                    count: 1,
                };
                let mut one = [0.0; 1];
                single.walk_rows::<N, 1>(nodes, leaves, &mut one);
                *total = one[0];
            }
        }
    }

    /// Walks exactly `R` rows through every tree, side by side.
    fn walk_rows<const N: usize, const R: usize>(
        &self,
        nodes: &[SplitNode],
        leaves: &[f64],
        totals: &mut [f64],
    ) {
        let depth = N.trailing_zeros();
        let internal = N - 1;
        let mut rows: [&[f64]; R] = [&[]; R];
        for (row, slot) in rows.iter_mut().enumerate() {
            *slot = &self.rows[row * self.width..(row + 1) * self.width];
        }
        for (tree_nodes, tree_leaves) in nodes.chunks_exact(N).zip(leaves.chunks_exact(N)) {
            let (Ok(tree_nodes), Ok(tree_leaves)) = (
                <&[SplitNode; N]>::try_from(tree_nodes),
                <&[f64; N]>::try_from(tree_leaves),
            ) else {
                continue;
            };
            let mut positions = [0usize; R];
            for _ in 0..depth {
                for (position, row) in positions.iter_mut().zip(&rows) {
                    let node = &tree_nodes[*position & internal];
                    let x = row[node.feature as usize];
                    *position = 2 * *position + 1 + usize::from(x > node.threshold);
                }
            }
            for (total, position) in totals.iter_mut().zip(positions) {
                *total += tree_leaves[(position - internal) & internal];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(feature: u32, threshold: f64, left: u32, right: u32, missing_left: bool) -> TreeNode {
        TreeNode {
            feature,
            threshold,
            left,
            right,
            missing_left,
            value: 0.0,
            cover: 1.0,
        }
    }

    /// A lopsided tree (leaves at depths 1 to 3) and a deep chain (depth 12, linked layout).
    fn ensembles() -> Vec<TreeEnsemble> {
        let lopsided = Tree {
            nodes: vec![
                split(0, 0.5, 1, 2, true),
                TreeNode::leaf(1.0, 1.0),
                split(1, -1.0, 3, 4, false),
                split(2, 2.0, 5, 6, true),
                TreeNode::leaf(-2.0, 1.0),
                TreeNode::leaf(0.25, 1.0),
                TreeNode::leaf(4.0, 1.0),
            ],
        };
        // Each split's left child continues the chain; its right child is a leaf.
        let mut nodes = Vec::new();
        for level in 0..12u32 {
            let here = nodes.len() as u32;
            let is_last = level == 11;
            nodes.push(split(
                level % 3,
                f64::from(level) * 0.1,
                here + 2,
                here + 1,
                level % 2 == 0,
            ));
            nodes.push(TreeNode::leaf(f64::from(level), 1.0));
            if is_last {
                nodes.push(TreeNode::leaf(-7.0, 1.0));
            }
        }
        let deep = Tree { nodes };
        vec![
            TreeEnsemble {
                aggregation: Aggregation::Sum { base_score: 0.5 },
                trees: vec![lopsided.clone(); 7],
            },
            TreeEnsemble {
                aggregation: Aggregation::Mean,
                trees: vec![lopsided, deep],
            },
        ]
    }

    #[test]
    fn compiled_layouts_agree_with_the_plain_walk_bit_for_bit() {
        let rows: Vec<[f64; 3]> = vec![
            [0.1, 0.0, 0.0],
            [0.9, -2.0, 5.0],
            [0.9, 0.0, 1.0],
            [0.9, 0.0, 3.0],
            [f64::NAN, f64::NAN, f64::NAN],
            [0.9, f64::NAN, f64::NAN],
            [2.0, 3.0, -1.0],
            [f64::INFINITY, f64::NEG_INFINITY, 0.5],
        ];
        for ensemble in ensembles() {
            ensemble
                .trees
                .iter()
                .enumerate()
                .try_for_each(|(i, t)| t.validate(3, i))
                .expect("valid");
            let model = Model::Trees(ensemble.clone());
            let compiled = CompiledTrees::new(&ensemble, 3);
            let flat: Vec<f64> = rows.iter().flatten().copied().collect();
            let mut batch = vec![0.0; rows.len()];
            compiled.margins(&flat, 3, &mut batch);
            for (row, batched) in rows.iter().zip(&batch) {
                let plain = model.margin(row);
                assert_eq!(compiled.margin(row).to_bits(), plain.to_bits(), "{row:?}");
                assert_eq!(batched.to_bits(), plain.to_bits(), "{row:?}");
            }
        }
    }
}
