//! Exact path-dependent TreeSHAP in O(nodes × depth) per row and tree, rather than the
//! O(leaves × depth²) of Lundberg, Erion and Lee's Algorithm 2 ([`reference`](mod@reference)).
//!
//! For a leaf with value `v` whose path splits on the distinct columns `P`, let `z_j` be the
//! share of the training cover that follows the path's splits on column `j` (the product of
//! their cover ratios) and `o_j` whether the row follows all of them (0 or 1). TreeSHAP gives
//! column `i ∈ P` the share
//!
//! ```text
//! v (o_i − z_i) Σ_{S ⊆ P∖{i}} |S|! (|P| − |S| − 1)! / |P|! · Π_{j∈S} o_j · Π_{j∈P∖S∖{i}} z_j
//!   = v (o_i − z_i) ∫₀¹ Π_{j∈P∖{i}} (o_j t + z_j (1 − t)) dt
//! ```
//!
//! because `∫₀¹ t^s (1 − t)^(d−s) dt = s! (d − s)! / (d + 1)!`. The integrand is a polynomial
//! of degree `|P| − 1`, so Gauss–Legendre quadrature with `⌈depth / 2⌉` points integrates it
//! exactly, and quadrature is linear: the leaves below an edge can be summed before
//! integrating. One walk carries, at every node, the product of the path's factors at the
//! quadrature points; on the way back up it sums `v ×` those products over the leaves below
//! each edge, and the edge's column gets `(o − z) × ∫ sum / factor`: a handful of
//! multiplications per node and point. Every factor is positive at the points (they lie
//! strictly inside (0, 1)), so the division is safe and nothing cancels.
//!
//! A column split twice on one path has one merged factor (the products of both splits'
//! cover ratios and indicators); a leaf's share for that column belongs to the deepest such
//! split above it, so an edge claims only the leaves no deeper split on its column claimed.
//!
//! Both algorithms agree to rounding (tested against [`reference`](mod@reference) and against Shapley values
//! by definition); `expected_value + Σ contributions = output` for every tree.

use crate::model::{Tree, TreeNode};

pub mod reference;

/// Gauss–Legendre points and weights on [0, 1].
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    points: Vec<f64>,
    /// `1 − point`, for the factors of columns the row does not follow.
    complements: Vec<f64>,
    weights: Vec<f64>,
}

impl Rule {
    /// The `n`-point rule, exact for polynomials of degree up to `2n − 1`: the roots of the
    /// Legendre polynomial `P_n` by Newton's method from Tricomi's estimates.
    fn new(n: usize) -> Self {
        let mut points = vec![0.0; n];
        let mut weights = vec![0.0; n];
        let m = n as f64;
        for k in 0..n.div_ceil(2) {
            let mut x = cos_seed(std::f64::consts::PI * (k as f64 + 0.75) / (m + 0.5));
            let mut derivative = 0.0;
            for _ in 0..100 {
                // P_n(x) and P_n'(x) by the three-term recurrence.
                let (mut p0, mut p1) = (1.0, x);
                for j in 2..=n {
                    let j = j as f64;
                    (p0, p1) = (p1, ((2.0 * j - 1.0) * x * p1 - (j - 1.0) * p0) / j);
                }
                derivative = m * (x * p1 - p0) / (x * x - 1.0);
                let step = p1 / derivative;
                x -= step;
                if step.abs() <= 1e-16 {
                    break;
                }
            }
            let weight = 2.0 / ((1.0 - x * x) * derivative * derivative);
            // From [−1, 1] to [0, 1]: t = (1 + x) / 2, weights halved.
            points[k] = (1.0 - x) / 2.0;
            points[n - 1 - k] = (1.0 + x) / 2.0;
            weights[k] = weight / 2.0;
            weights[n - 1 - k] = weight / 2.0;
        }
        Self {
            complements: points.iter().map(|t| 1.0 - t).collect(),
            points,
            weights,
        }
    }
}

/// `cos θ` for `θ` in `[0, π]` to about 1e-12, by its Taylor series on the nearer half:
/// only the seed of Newton's method above, which converges to the same root from it, and
/// it keeps libm's cosine and its range reduction (6 KB) out of the browser build.
fn cos_seed(theta: f64) -> f64 {
    let (t, sign) = if theta > std::f64::consts::FRAC_PI_2 {
        (std::f64::consts::PI - theta, -1.0)
    } else {
        (theta, 1.0)
    };
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..=9 {
        let k = f64::from(k);
        term *= -t * t / ((2.0 * k - 1.0) * (2.0 * k));
        sum += term;
    }
    sign * sum
}

/// What one tree needs for its walks.
#[derive(Debug, Clone, PartialEq)]
struct Prepared {
    /// Longest root-to-leaf path, in splits.
    depth: usize,
    /// Index of its rule in `TreeShap::rules`.
    rule: usize,
    expected_value: f64,
}

/// An ensemble's trees prepared for TreeSHAP: each tree's depth, quadrature rule and
/// expected value, computed once.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeShap {
    trees: Vec<Prepared>,
    /// The rule of `n` points at index `n − 1` (built for the sizes used).
    rules: Vec<Option<Rule>>,
}

/// Buffers a walk reuses from tree to tree and row to row.
#[derive(Debug, Default, Clone)]
pub struct ShapBuffers {
    /// Per level: the product of the path's factors at each point.
    products: Vec<f64>,
    /// Per level: Σ over the leaves below of value × their products.
    sums: Vec<f64>,
    /// Per level: a column's claims saved while a deeper split on it is walked.
    saved: Vec<f64>,
    /// Per column: the merged (one, zero) fractions of its splits on the current path.
    path: Vec<Option<(f64, f64)>>,
    /// Per column and point: the sums of the leaves deeper splits on it claimed.
    claimed: Vec<f64>,
}

impl TreeShap {
    /// Prepares `trees` (their covers must be those of training, as for scoring).
    pub fn new(trees: &[Tree]) -> Self {
        let mut rules: Vec<Option<Rule>> = Vec::new();
        let trees = trees
            .iter()
            .map(|tree| {
                let (depth, distinct) = path_lengths(&tree.nodes);
                // The integrand of a leaf with d distinct columns has degree d − 1.
                let points = distinct.div_ceil(2).max(1);
                if rules.len() < points {
                    rules.resize(points, None);
                }
                rules[points - 1].get_or_insert_with(|| Rule::new(points));
                Prepared {
                    depth,
                    rule: points - 1,
                    expected_value: tree.expected_value(),
                }
            })
            .collect();
        Self { trees, rules }
    }

    /// The expected value (mean training output) of every tree, in order.
    pub fn expected_values(&self) -> impl Iterator<Item = f64> + '_ {
        self.trees.iter().map(|tree| tree.expected_value)
    }

    /// Adds `scale` × the SHAP values of tree `index` (of the trees this was prepared
    /// from, passed again as `tree`) for row `x` into `phi` (one per column).
    pub fn add(
        &self,
        index: usize,
        tree: &Tree,
        x: &[f64],
        scale: f64,
        phi: &mut [f64],
        buffers: &mut ShapBuffers,
    ) {
        let prepared = &self.trees[index];
        if prepared.depth == 0 {
            return;
        }
        let Some(rule) = &self.rules[prepared.rule] else {
            unreachable!("every tree's rule is built by TreeShap::new");
        };
        let n = rule.points.len();
        let levels = (prepared.depth + 1) * n;
        for buffer in [&mut buffers.products, &mut buffers.sums, &mut buffers.saved] {
            if buffer.len() < levels {
                buffer.resize(levels, 0.0);
            }
        }
        if buffers.path.len() < x.len() {
            buffers.path.resize(x.len(), None);
        }
        if buffers.claimed.len() < x.len() * n {
            buffers.claimed.resize(x.len() * n, 0.0);
        }
        buffers.products[..n].fill(1.0);
        let walk = Walk {
            nodes: &tree.nodes,
            x,
            rule,
            n,
            scale,
        };
        walk.visit(phi, buffers, 0, 0);
    }
}

/// The longest path of a tree in splits, and the most distinct columns on one path.
fn path_lengths(nodes: &[TreeNode]) -> (usize, usize) {
    fn visit(
        nodes: &[TreeNode],
        index: usize,
        depth: usize,
        counts: &mut Vec<u32>,
        distinct: usize,
        longest: &mut (usize, usize),
    ) {
        let node = nodes[index];
        if node.is_leaf() {
            longest.0 = longest.0.max(depth);
            longest.1 = longest.1.max(distinct);
            return;
        }
        let feature = node.feature as usize;
        if counts.len() <= feature {
            counts.resize(feature + 1, 0);
        }
        let new = usize::from(counts[feature] == 0);
        counts[feature] += 1;
        for child in [node.left, node.right] {
            visit(
                nodes,
                child as usize,
                depth + 1,
                counts,
                distinct + new,
                longest,
            );
        }
        counts[feature] -= 1;
    }
    let mut longest = (0, 0);
    visit(nodes, 0, 0, &mut Vec::new(), 0, &mut longest);
    longest
}

/// What a walk reads.
struct Walk<'a> {
    nodes: &'a [TreeNode],
    x: &'a [f64],
    rule: &'a Rule,
    n: usize,
    scale: f64,
}

impl Walk<'_> {
    /// Visits `index` at `level`, whose path product is `products[level]`, and leaves the
    /// sum over its leaves of value × path product in `sums[level]`.
    fn visit(&self, phi: &mut [f64], buffers: &mut ShapBuffers, index: usize, level: usize) {
        let n = self.n;
        let (here, below) = (level * n, (level + 1) * n);
        let node = self.nodes[index];
        if node.is_leaf() {
            let products = &buffers.products[here..below];
            for (sum, product) in buffers.sums[here..below].iter_mut().zip(products) {
                *sum = node.value * product;
            }
            return;
        }
        buffers.sums[here..below].fill(0.0);
        let feature = node.feature as usize;
        let goes_left = node.goes_left(self.x[feature]);
        let earlier = buffers.path[feature];
        let claims = feature * n..(feature + 1) * n;
        let Rule {
            points,
            complements,
            weights,
        } = self.rule;
        let factor = |(one, zero): (f64, f64), q: usize| one * points[q] + zero * complements[q];
        for (child, follows) in [(node.left, goes_left), (node.right, !goes_left)] {
            let child = child as usize;
            let zero = if node.cover > 0.0 {
                self.nodes[child].cover / node.cover
            } else {
                0.5
            };
            let one = f64::from(u8::from(follows));
            let merged = match earlier {
                Some((earlier_one, earlier_zero)) => (earlier_one * one, earlier_zero * zero),
                None => (one, zero),
            };
            // A branch no training weight reached and the row does not take adds nothing:
            // every leaf below has a zero factor.
            if merged == (0.0, 0.0) {
                continue;
            }
            {
                let (upper, lower) = buffers.products.split_at_mut(below);
                let (from, to) = (&upper[here..], &mut lower[..n]);
                match earlier {
                    // The column's earlier factor gives way to the merged one.
                    Some(earlier) => {
                        for q in 0..n {
                            to[q] = from[q] * factor(merged, q) / factor(earlier, q);
                        }
                    }
                    None => {
                        for q in 0..n {
                            to[q] = from[q] * factor(merged, q);
                        }
                    }
                }
            }
            buffers.path[feature] = Some(merged);
            if earlier.is_some() {
                let (saved, claimed) = (&mut buffers.saved, &buffers.claimed);
                saved[here..below].copy_from_slice(&claimed[claims.clone()]);
            }
            buffers.claimed[claims.clone()].fill(0.0);
            self.visit(phi, buffers, child, level + 1);
            let sums = &buffers.sums[below..below + n];
            let claimed = &buffers.claimed[claims.clone()];
            let mut integral = 0.0;
            for q in 0..n {
                integral += weights[q] * (sums[q] - claimed[q]) / factor(merged, q);
            }
            phi[feature] += (merged.0 - merged.1) * integral * self.scale;
            if earlier.is_some() {
                let (saved, claimed) = (&buffers.saved[here..below], &mut buffers.claimed);
                for ((claim, saved), sum) in claimed[claims.clone()].iter_mut().zip(saved).zip(sums)
                {
                    *claim = saved + sum;
                }
            }
            buffers.path[feature] = earlier;
            let (upper, lower) = buffers.sums.split_at_mut(below);
            for (total, sum) in upper[here..].iter_mut().zip(&lower[..n]) {
                *total += sum;
            }
        }
    }
}

#[cfg(test)]
mod tests;
