//! Fitted models: a linear model or a tree ensemble over the encoded columns, producing a
//! margin (log-odds for logistic regression and boosted trees, a probability for a random
//! forest). Trained by churn-pipeline; evaluated here, by every scorer.

use serde::{Deserialize, Serialize};

use crate::error::{ArtifactError, require_finite};

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
            for value in [node.threshold, node.value, node.cover] {
                require_finite(value, || format!("tree {index}, node {position}"))?;
            }
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
            Model::Linear(linear) => {
                require_finite(linear.intercept, || "the intercept".into())?;
                for (column, weight) in linear.weights.iter().enumerate() {
                    require_finite(*weight, || format!("the weight of column {column}"))?;
                }
                Ok(())
            }
            Model::Trees(ensemble) => {
                if let Aggregation::Sum { base_score } = ensemble.aggregation {
                    require_finite(base_score, || "the base score".into())?;
                }
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
/// Trees of depth at most [`COMPLETE_DEPTH`] (every boosted model we train) over at most
/// [`COMPLETE_COLUMNS`] encoded columns are laid out as complete binary trees of one
/// depth: node `p`'s children are `2p + 1` and `2p + 2`, a leaf shallower than the rest
/// becomes a chain of "always left" nodes. A walk is then a fixed number of steps with no
/// data-dependent branch, and the rows of a block walk side by side. Deeper trees (large
/// forests) and wider inputs keep a linked layout. Either way the leaves are added in tree
/// order, so every path gives bit-identical sums.
#[derive(Debug, Clone)]
pub struct CompiledTrees {
    layout: Layout,
    trees: usize,
    columns: usize,
    aggregation: Aggregation,
}

/// Trees at most this deep get the complete layout (up to 256 leaves per tree).
pub const COMPLETE_DEPTH: usize = 8;

/// Inputs at most this wide get the complete layout: a widened row (every column twice)
/// is padded to a power of two of at most 1,024 values.
pub const COMPLETE_COLUMNS: usize = 512;

/// Trees at most this deep get arrays of 64 slots, deeper ones of 2^[`COMPLETE_DEPTH`]:
/// a fixed power of two, so a mask rather than a bounds check keeps every index in range,
/// and no larger than needed, so the common trees take few cache lines.
const SHALLOW_DEPTH: usize = 6;

#[derive(Debug, Clone)]
enum Layout {
    /// Depth at most [`SHALLOW_DEPTH`].
    Shallow {
        depth: usize,
        trees: Vec<CompleteTree<{ 1 << SHALLOW_DEPTH }>>,
    },
    Deep {
        depth: usize,
        trees: Vec<CompleteTree<{ 1 << COMPLETE_DEPTH }>>,
    },
    Linked {
        nodes: Vec<PackedNode>,
        roots: Vec<u32>,
    },
}

/// One tree of the complete layout, as parallel arrays of `S` slots (the first `2^depth`
/// used). Split `p` goes right when `input[features[p]] > thresholds[p]`, where the
/// input holds every column twice, missing values as −∞ in the first copy and as +∞ in
/// the second: a split sending missing values left reads the first copy, one sending them
/// right the second, so one comparison decides every step, missing or not.
#[derive(Debug, Clone)]
struct CompleteTree<const S: usize> {
    features: [u16; S],
    thresholds: [f64; S],
    /// Leaf `p - (2^depth - 1)` of the walk ending at position `p`.
    leaves: [f64; S],
}

impl<const S: usize> CompleteTree<S> {
    /// `tree` as a complete tree of `depth` over `columns` encoded columns.
    fn new(tree: &Tree, depth: usize, columns: usize) -> Self {
        let mut complete = Self {
            features: [0; S],
            // Nothing is greater than +∞: "always left".
            thresholds: [f64::INFINITY; S],
            leaves: [0.0; S],
        };
        complete.fill(tree, (0, 0, 0), depth, columns);
        complete
    }

    /// The leaf that the walk ending at `position` reaches.
    #[inline]
    fn leaf(&self, position: usize, depth: usize) -> f64 {
        self.leaves[(position - ((1 << depth) - 1)) & (S - 1)]
    }

    /// Copies `tree`'s subtree at `source` to `position` (at `level`) of a complete tree
    /// of `depth` over `columns` encoded columns.
    fn fill(
        &mut self,
        tree: &Tree,
        (source, position, level): (usize, usize, usize),
        depth: usize,
        columns: usize,
    ) {
        let node = &tree.nodes[source];
        if level == depth {
            // Validation and the depth check guarantee a leaf here.
            self.leaves[position - ((1 << depth) - 1)] = node.value;
            return;
        }
        let (left, right) = if node.is_leaf() {
            // An "always left" chain down to the leaf (the right side is never reached).
            (source, source)
        } else {
            let copy = if node.missing_left { 0 } else { columns };
            self.features[position] = (node.feature as usize + copy) as u16;
            self.thresholds[position] = node.threshold;
            (node.left as usize, node.right as usize)
        };
        self.fill(tree, (left, 2 * position + 1, level + 1), depth, columns);
        self.fill(tree, (right, 2 * position + 2, level + 1), depth, columns);
    }
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
        fn complete<const S: usize>(
            ensemble: &TreeEnsemble,
            depth: usize,
            columns: usize,
        ) -> Vec<CompleteTree<S>> {
            let trees = ensemble.trees.iter();
            trees
                .map(|t| CompleteTree::new(t, depth, columns))
                .collect()
        }
        let layout = if depth <= SHALLOW_DEPTH && columns <= COMPLETE_COLUMNS {
            let trees = complete(ensemble, depth, columns);
            Layout::Shallow { depth, trees }
        } else if depth <= COMPLETE_DEPTH && columns <= COMPLETE_COLUMNS {
            let trees = complete(ensemble, depth, columns);
            Layout::Deep { depth, trees }
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
        let total = match &self.layout {
            Layout::Shallow { depth, trees } => self.complete_margin(trees, *depth, x),
            Layout::Deep { depth, trees } => self.complete_margin(trees, *depth, x),
            Layout::Linked { nodes, roots } => roots
                .iter()
                .map(|root| Self::walk_linked(nodes, *root, x))
                .sum(),
        };
        self.finish(total)
    }

    /// The sum of the leaves of one encoded row through complete trees.
    fn complete_margin<const S: usize>(
        &self,
        trees: &[CompleteTree<S>],
        depth: usize,
        x: &[f64],
    ) -> f64 {
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
        let step = |tree: &CompleteTree<S>, position: usize| {
            let slot = position & (S - 1);
            let x = wide[usize::from(tree.features[slot])];
            2 * position + 1 + usize::from(x > tree.thresholds[slot])
        };
        let mut total = 0.0;
        let mut quads = trees.chunks_exact(4);
        for quad in &mut quads {
            let mut positions = [0usize; 4];
            for _ in 0..depth {
                for (tree, position) in quad.iter().zip(&mut positions) {
                    *position = step(tree, *position);
                }
            }
            for (tree, position) in quad.iter().zip(positions) {
                total += tree.leaf(position, depth);
            }
        }
        for tree in quads.remainder() {
            let mut position = 0;
            for _ in 0..depth {
                position = step(tree, position);
            }
            total += tree.leaf(position, depth);
        }
        total
    }

    /// Margins of many encoded rows (`rows.len() / width` of them) into `out`. Rows go in
    /// blocks, tree by tree: a tree's nodes stay in cache across the block, and the rows
    /// of a block step through it side by side.
    pub fn margins(&self, rows: &[f64], width: usize, out: &mut [f64]) {
        let width = width.max(1);
        match &self.layout {
            Layout::Shallow { depth, trees } => {
                self.padded_margins(trees, *depth, rows, width, out)
            }
            Layout::Deep { depth, trees } => self.padded_margins(trees, *depth, rows, width, out),
            Layout::Linked { nodes, roots } => {
                for (row, slot) in rows.chunks(width).zip(out.iter_mut()) {
                    let mut total = 0.0;
                    for root in roots {
                        total += Self::walk_linked(nodes, *root, row);
                    }
                    *slot = self.finish(total);
                }
            }
        }
    }

    /// [`Self::margins`] through complete trees: widened rows are padded to a power of two
    /// (at least 16 values; 1,024 in the browser build), so a mask keeps every column
    /// index in range.
    fn padded_margins<const S: usize>(
        &self,
        trees: &[CompleteTree<S>],
        depth: usize,
        rows: &[f64],
        width: usize,
        out: &mut [f64],
    ) {
        let run = (trees, depth, rows, width);
        // The browser build keeps one width: each is a copy of the walk (7 of them were a
        // third of the module), and a block of the widest rows is only 128 KiB.
        if cfg!(target_arch = "wasm32") {
            return self.complete_margins::<1024, S>(run, out);
        }
        match (2 * width).next_power_of_two() {
            0..=16 => self.complete_margins::<16, S>(run, out),
            32 => self.complete_margins::<32, S>(run, out),
            64 => self.complete_margins::<64, S>(run, out),
            128 => self.complete_margins::<128, S>(run, out),
            256 => self.complete_margins::<256, S>(run, out),
            512 => self.complete_margins::<512, S>(run, out),
            _ => self.complete_margins::<1024, S>(run, out),
        }
    }

    /// [`Self::margins`] through complete trees, for widened rows of `P` values.
    fn complete_margins<const P: usize, const S: usize>(
        &self,
        (trees, depth, rows, width): (&[CompleteTree<S>], usize, &[f64], usize),
        out: &mut [f64],
    ) {
        // On the heap: 16 rows of up to 1,024 values would take 128 KiB of stack.
        // Not `expect`: its message would format the slice it failed on, and with it
        // every f64: `Debug` and float formatting were 10 KB of the gzipped browser build.
        let Ok(mut block): Result<Box<[[f64; P]; BLOCK]>, _> =
            vec![[0.0; P]; BLOCK].into_boxed_slice().try_into()
        else {
            unreachable!("a vector of BLOCK rows converts to an array of BLOCK rows")
        };
        for (encoded, out) in rows.chunks(BLOCK * width).zip(out.chunks_mut(BLOCK)) {
            // A short last block walks its rows plus stale ones, whose sums are dropped.
            for (row, wide) in encoded.chunks(width).zip(block.iter_mut()) {
                widen(row, &mut wide[..2 * width]);
            }
            let mut totals = [0.0; BLOCK];
            walk_block(trees, depth, &block, &mut totals);
            for (slot, total) in out.iter_mut().zip(totals) {
                *slot = self.finish(total);
            }
        }
    }
}

/// Rows scored together: few enough that their positions stay in registers, enough for
/// their independent steps to overlap.
const BLOCK: usize = 16;

/// Adds every tree's leaf to each row's total, the rows of the block side by side. All
/// rows start at the root, so its split is read once per tree.
fn walk_block<const P: usize, const S: usize>(
    trees: &[CompleteTree<S>],
    depth: usize,
    block: &[[f64; P]; BLOCK],
    totals: &mut [f64; BLOCK],
) {
    for tree in trees {
        let mut positions = [0u32; BLOCK];
        let (root, threshold) = (usize::from(tree.features[0]) & (P - 1), tree.thresholds[0]);
        for (position, row) in positions.iter_mut().zip(block) {
            *position = 1 + u32::from(row[root] > threshold);
        }
        for _ in 1..depth {
            for (position, row) in positions.iter_mut().zip(block) {
                let slot = *position as usize & (S - 1);
                let x = row[usize::from(tree.features[slot]) & (P - 1)];
                *position = 2 * *position + 1 + u32::from(x > tree.thresholds[slot]);
            }
        }
        for (total, position) in totals.iter_mut().zip(positions) {
            *total += tree.leaf(position as usize, depth);
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

    /// A lopsided tree (leaves at depths 1 to 3) and chains of depth 7 and 8 (complete
    /// layout of 256 slots) and 12 (linked layout).
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
        let chain = |levels: u32| {
            let mut nodes = Vec::new();
            for level in 0..levels {
                let here = nodes.len() as u32;
                nodes.push(split(
                    level % 3,
                    f64::from(level) * 0.1,
                    here + 2,
                    here + 1,
                    level % 2 == 0,
                ));
                nodes.push(TreeNode::leaf(f64::from(level), 1.0));
                if level + 1 == levels {
                    nodes.push(TreeNode::leaf(-7.0, 1.0));
                }
            }
            Tree { nodes }
        };
        vec![
            TreeEnsemble {
                aggregation: Aggregation::Sum { base_score: 0.5 },
                trees: vec![lopsided.clone(); 7],
            },
            TreeEnsemble {
                aggregation: Aggregation::Sum { base_score: -1.0 },
                trees: vec![lopsided.clone(), chain(7), chain(8), lopsided.clone()],
            },
            TreeEnsemble {
                aggregation: Aggregation::Mean,
                trees: vec![lopsided, chain(12)],
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
        // Narrow and wide inputs (the trees read the first three columns; 600 columns
        // takes the linked layout), over two blocks and a short one.
        for columns in [3, 20, 300, 600] {
            let rows: Vec<Vec<f64>> = rows
                .iter()
                .cycle()
                .take(37)
                .map(|row| {
                    let mut wide = row.to_vec();
                    wide.resize(columns, 0.0);
                    wide
                })
                .collect();
            for ensemble in ensembles() {
                ensemble
                    .trees
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, t)| t.validate(columns, i))
                    .expect("valid");
                let model = Model::Trees(ensemble.clone());
                let compiled = CompiledTrees::new(&ensemble, columns);
                let flat: Vec<f64> = rows.iter().flatten().copied().collect();
                let mut batch = vec![0.0; rows.len()];
                compiled.margins(&flat, columns, &mut batch);
                for (row, batched) in rows.iter().zip(&batch) {
                    let plain = model.margin(row);
                    assert_eq!(compiled.margin(row).to_bits(), plain.to_bits(), "{row:?}");
                    assert_eq!(batched.to_bits(), plain.to_bits(), "{columns}: {row:?}");
                }
            }
        }
    }
}
