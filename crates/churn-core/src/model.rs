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

/// Trees flattened into one node array for fast scoring, built once per loaded model.
///
/// Each node packs what a walk needs into 24 bytes; children are absolute indices.
#[derive(Debug, Clone)]
pub struct CompiledTrees {
    nodes: Vec<PackedNode>,
    roots: Vec<u32>,
    aggregation: Aggregation,
}

#[derive(Debug, Clone, Copy)]
struct PackedNode {
    threshold: f64,
    /// Column tested, or `u32::MAX` for a leaf (then `threshold` holds the value).
    feature: u32,
    /// Left child; the right child is `left + 1` or `right` below.
    left: u32,
    right: u32,
    missing_left: bool,
}

impl CompiledTrees {
    /// Flattens an ensemble (already validated).
    pub fn new(ensemble: &TreeEnsemble) -> Self {
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
        Self {
            nodes,
            roots,
            aggregation: ensemble.aggregation,
        }
    }

    #[inline]
    fn walk(&self, mut index: u32, x: &[f64]) -> f64 {
        loop {
            let node = &self.nodes[index as usize];
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

    fn finish(&self, total: f64) -> f64 {
        match self.aggregation {
            Aggregation::Sum { base_score } => base_score + total,
            Aggregation::Mean => total / self.roots.len() as f64,
        }
    }

    /// The margin of one encoded row. Four trees are walked at a time so that their
    /// independent memory accesses overlap; leaves are still added in tree order, so the
    /// result is bit-identical to [`CompiledTrees::margins`] and [`Model::margin`].
    pub fn margin(&self, x: &[f64]) -> f64 {
        let mut chunks = self.roots.chunks_exact(4);
        let mut total = 0.0;
        for roots in &mut chunks {
            let leaves = [
                self.walk(roots[0], x),
                self.walk(roots[1], x),
                self.walk(roots[2], x),
                self.walk(roots[3], x),
            ];
            for leaf in leaves {
                total += leaf;
            }
        }
        for root in chunks.remainder() {
            total += self.walk(*root, x);
        }
        self.finish(total)
    }

    /// Margins of many encoded rows (`rows.len() / width` of them) into `out`. Rows are
    /// scored in blocks, tree by tree, so a tree's nodes stay in cache across the block.
    pub fn margins(&self, rows: &[f64], width: usize, out: &mut [f64]) {
        const BLOCK: usize = 64;
        for (block, out) in rows.chunks(BLOCK * width).zip(out.chunks_mut(BLOCK)) {
            let mut totals = [0.0; BLOCK];
            let count = out.len();
            for root in &self.roots {
                for (row, total) in totals.iter_mut().enumerate().take(count) {
                    *total += self.walk(*root, &block[row * width..(row + 1) * width]);
                }
            }
            for (slot, total) in out.iter_mut().zip(totals) {
                *slot = self.finish(total);
            }
        }
    }
}
