//! Exact TreeSHAP as published (Lundberg, Erion and Lee, "Consistent Individualized Feature
//! Attribution for Tree Ensembles", Algorithm 2), in O(leaves × depth²) per row and tree:
//! the scorer used it until the faster walk of the parent module replaced it, and it stays
//! as that walk's independent check in tests and in `bench/`'s reasons benchmark.

use crate::model::{Tree, TreeNode};

/// One element of the path of features a TreeSHAP walk has split on.
#[derive(Debug, Clone, Copy, Default)]
pub struct PathElement {
    /// Encoded column, or -1 for the root's placeholder.
    feature: i64,
    zero_fraction: f64,
    one_fraction: f64,
    weight: f64,
}

fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: i64) {
    path[depth] = PathElement {
        feature,
        zero_fraction: zero,
        one_fraction: one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let d = depth as f64;
    for i in (0..depth).rev() {
        let fi = i as f64;
        path[i + 1].weight += one * path[i].weight * (fi + 1.0) / (d + 1.0);
        path[i].weight = zero * path[i].weight * (d - fi) / (d + 1.0);
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let d = depth as f64;
    let mut next_one = path[depth].weight;
    for i in (0..depth).rev() {
        let fi = i as f64;
        if one != 0.0 {
            let kept = path[i].weight;
            path[i].weight = next_one * (d + 1.0) / ((fi + 1.0) * one);
            next_one = kept - path[i].weight * zero * (d - fi) / (d + 1.0);
        } else {
            path[i].weight = path[i].weight * (d + 1.0) / (zero * (d - fi));
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

/// `1 / k` for small `k`: the hot loop multiplies instead of dividing.
const RECIPROCALS: [f64; 65] = {
    let mut table = [0.0; 65];
    let mut k = 1;
    while k < 65 {
        table[k] = 1.0 / k as f64;
        k += 1;
    }
    table
};

fn reciprocal(k: usize) -> f64 {
    RECIPROCALS.get(k).copied().unwrap_or(1.0 / k as f64)
}

/// The total weight of the path with element `index` unwound, without changing it: the
/// inner loop of every leaf, so its divisions are hoisted out.
fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let d1 = (depth + 1) as f64;
    let mut total = 0.0;
    if one != 0.0 {
        let scaled = d1 / one;
        let zero_over = zero / d1;
        let mut next_one = path[depth].weight;
        for i in (0..depth).rev() {
            let share = next_one * scaled * reciprocal(i + 1);
            total += share;
            next_one = path[i].weight - share * zero_over * (depth - i) as f64;
        }
    } else {
        let scaled = d1 / zero;
        for i in (0..depth).rev() {
            total += path[i].weight * scaled * reciprocal(depth - i);
        }
    }
    total
}

/// What a walk reads.
struct Walk<'a> {
    nodes: &'a [TreeNode],
    x: &'a [f64],
    scale: f64,
}

impl Walk<'_> {
    /// Visits `node_index`. The path so far is `paths[parent..parent + depth]`; this
    /// node's path goes right after it, as in the reference implementation, so one buffer
    /// serves the whole walk.
    #[allow(clippy::too_many_arguments)]
    fn recurse(
        &self,
        phi: &mut [f64],
        paths: &mut Vec<PathElement>,
        node_index: usize,
        parent: usize,
        depth: usize,
        zero: f64,
        one: f64,
        feature: i64,
    ) {
        let start = parent + depth + 1;
        if paths.len() < start + depth + 1 {
            paths.resize(start + depth + 1, PathElement::default());
        }
        paths.copy_within(parent..parent + depth, start);
        let path = &mut paths[start..start + depth + 1];
        extend(path, depth, zero, one, feature);
        let node = self.nodes[node_index];
        if node.is_leaf() {
            for i in 1..=depth {
                let weight = unwound_sum(path, depth, i);
                let element = path[i];
                phi[element.feature as usize] += weight
                    * (element.one_fraction - element.zero_fraction)
                    * node.value
                    * self.scale;
            }
            return;
        }
        let (hot, cold) = if node.goes_left(self.x[node.feature as usize]) {
            (node.left as usize, node.right as usize)
        } else {
            (node.right as usize, node.left as usize)
        };
        let cover = node.cover;
        let fraction = |child: usize| {
            if cover > 0.0 {
                self.nodes[child].cover / cover
            } else {
                0.5
            }
        };
        let (hot_zero, cold_zero) = (fraction(hot), fraction(cold));
        let (mut incoming_zero, mut incoming_one) = (1.0, 1.0);
        let mut depth = depth;
        let split = i64::from(node.feature);
        // A column split on earlier in the path: undo its earlier contribution first.
        if let Some(index) = (1..=depth).find(|&i| path[i].feature == split) {
            incoming_zero = path[index].zero_fraction;
            incoming_one = path[index].one_fraction;
            unwind(path, depth, index);
            depth -= 1;
        }
        for (child, zero, one) in [
            (hot, hot_zero * incoming_zero, incoming_one),
            (cold, cold_zero * incoming_zero, 0.0),
        ] {
            // A branch no training weight reached and the row does not take adds nothing
            // (and would divide by zero when unwound): symmetric trees have such leaves.
            if zero > 0.0 || one > 0.0 {
                self.recurse(phi, paths, child, start, depth + 1, zero, one, split);
            }
        }
    }
}

/// Adds `scale` × the SHAP values of `tree` for row `x` into `phi` (one per column).
pub fn add_tree_shap(tree: &Tree, x: &[f64], scale: f64, phi: &mut [f64]) {
    add_tree_shap_with(tree, x, scale, phi, &mut Vec::new());
}

/// [`add_tree_shap`] with a path buffer reused across trees.
pub fn add_tree_shap_with(
    tree: &Tree,
    x: &[f64],
    scale: f64,
    phi: &mut [f64],
    paths: &mut Vec<PathElement>,
) {
    let walk = Walk {
        nodes: &tree.nodes,
        x,
        scale,
    };
    walk.recurse(phi, paths, 0, 0, 0, 1.0, 1.0, -1);
}
