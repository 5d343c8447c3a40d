use super::*;

fn split(feature: u32, threshold: f64, left: u32, right: u32, cover: f64) -> TreeNode {
    TreeNode {
        feature,
        threshold,
        left,
        right,
        missing_left: true,
        value: 0.0,
        cover,
    }
}

/// The fast walk's SHAP values of one tree.
fn fast(tree: &Tree, x: &[f64]) -> Vec<f64> {
    let shap = TreeShap::new(std::slice::from_ref(tree));
    let mut phi = vec![0.0; x.len()];
    shap.add(0, tree, x, 1.0, &mut phi, &mut ShapBuffers::default());
    phi
}

fn published(tree: &Tree, x: &[f64]) -> Vec<f64> {
    let mut phi = vec![0.0; x.len()];
    reference::add_tree_shap(tree, x, 1.0, &mut phi);
    phi
}

/// Shapley values by definition: over all subsets S of the other columns, the weighted
/// marginal gain of adding column i, with v(S) the cover-weighted mean output when only the
/// columns in S are known.
fn brute_force(tree: &Tree, x: &[f64], columns: usize) -> Vec<f64> {
    fn value(tree: &Tree, x: &[f64], known: u32, node: usize) -> f64 {
        let n = tree.nodes[node];
        if n.is_leaf() {
            return n.value;
        }
        if known & (1 << n.feature) != 0 {
            let next = if n.goes_left(x[n.feature as usize]) {
                n.left
            } else {
                n.right
            };
            value(tree, x, known, next as usize)
        } else {
            let (l, r) = (n.left as usize, n.right as usize);
            (tree.nodes[l].cover * value(tree, x, known, l)
                + tree.nodes[r].cover * value(tree, x, known, r))
                / n.cover
        }
    }
    let factorial = |n: usize| (1..=n).map(|k| k as f64).product::<f64>();
    (0..columns)
        .map(|i| {
            let mut phi = 0.0;
            for subset in 0u32..(1 << columns) {
                if subset & (1 << i) != 0 {
                    continue;
                }
                let size = subset.count_ones() as usize;
                let weight = factorial(size) * factorial(columns - size - 1) / factorial(columns);
                phi += weight * (value(tree, x, subset | (1 << i), 0) - value(tree, x, subset, 0));
            }
            phi
        })
        .collect()
}

fn sample_tree() -> Tree {
    // Column 0 is split twice on one path, column 2 only on the other side.
    Tree {
        nodes: vec![
            split(0, 0.5, 1, 2, 100.0),
            split(1, 1.5, 3, 4, 60.0),
            split(2, 0.0, 5, 6, 40.0),
            split(0, 0.2, 7, 8, 35.0),
            TreeNode::leaf(0.7, 25.0),
            TreeNode::leaf(-0.4, 10.0),
            TreeNode::leaf(1.1, 30.0),
            TreeNode::leaf(-1.0, 20.0),
            TreeNode::leaf(0.3, 15.0),
        ],
    }
}

fn assert_close(a: &[f64], b: &[f64], tolerance: f64, what: &str) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tolerance, "{what}: {a:?} vs {b:?}");
    }
}

fn assert_additive(tree: &Tree, x: &[f64], phi: &[f64], tolerance: f64) {
    let total: f64 = phi.iter().sum::<f64>() + tree.expected_value();
    let output = tree.leaf(x).value;
    assert!(
        (total - output).abs() <= tolerance,
        "{x:?}: {total} != {output}"
    );
}

#[test]
fn the_newton_seed_is_the_cosine_on_the_whole_half_turn() {
    for i in 0..=10_000 {
        let theta = std::f64::consts::PI * f64::from(i) / 10_000.0;
        let error = (cos_seed(theta) - theta.cos()).abs();
        assert!(error < 1e-12, "cos {theta}: off by {error}");
    }
}

#[test]
fn quadrature_rules_integrate_polynomials_of_degree_up_to_2n_minus_1_exactly() {
    for n in 1..=40 {
        let rule = Rule::new(n);
        assert!(rule.points.windows(2).all(|w| w[0] < w[1]), "{n}");
        assert!(rule.points.iter().all(|t| *t > 0.0 && *t < 1.0), "{n}");
        for k in 0..2 * n {
            let integral: f64 = rule
                .points
                .iter()
                .zip(&rule.weights)
                .map(|(t, w)| w * t.powi(k as i32))
                .sum();
            let exact = 1.0 / (k as f64 + 1.0);
            assert!((integral - exact).abs() < 1e-14, "n {n}, t^{k}: {integral}");
        }
    }
}

#[test]
fn matches_brute_force_shapley_values_and_adds_up() {
    let tree = sample_tree();
    for x in [
        [0.1, 1.0, 5.0],
        [0.3, 1.0, -1.0],
        [0.9, 2.0, -1.0],
        [0.9, 0.0, 3.0],
        [f64::NAN, 2.0, f64::NAN],
    ] {
        let expected = brute_force(&tree, &x, 3);
        for phi in [fast(&tree, &x), published(&tree, &x)] {
            assert_close(&phi, &expected, 1e-12, &format!("{x:?}"));
            assert_additive(&tree, &x, &phi, 1e-12);
        }
    }
}

#[test]
fn empty_leaves_keep_the_values_finite_and_additive() {
    // The right child of node 1 never saw training data (cover 0).
    let tree = Tree {
        nodes: vec![
            split(0, 0.5, 1, 2, 100.0),
            split(1, 1.5, 3, 4, 60.0),
            TreeNode::leaf(2.0, 40.0),
            TreeNode::leaf(-1.0, 60.0),
            TreeNode::leaf(5.0, 0.0),
        ],
    };
    for x in [[0.1, 1.0], [0.1, 3.0], [0.9, 3.0]] {
        for phi in [fast(&tree, &x), published(&tree, &x)] {
            assert!(phi.iter().all(|v| v.is_finite()), "{phi:?}");
            assert_additive(&tree, &x, &phi, 1e-12);
        }
        assert_close(&fast(&tree, &x), &published(&tree, &x), 1e-12, "cover 0");
    }
}

#[test]
fn a_single_leaf_explains_nothing() {
    let tree = Tree {
        nodes: vec![TreeNode::leaf(0.4, 10.0)],
    };
    assert_eq!(fast(&tree, &[1.0, 2.0]), vec![0.0, 0.0]);
}

/// A deterministic generator for the random trees (xorshift64*).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random tree over `columns` columns, at most `depth` deep: columns repeat on paths,
/// some leaves come early, some splits send no training weight one way, and missing values
/// go either way.
fn random_tree(random: &mut Random, columns: usize, depth: usize) -> Tree {
    fn grow(
        random: &mut Random,
        nodes: &mut Vec<TreeNode>,
        columns: usize,
        depth: usize,
        cover: f64,
    ) -> u32 {
        let index = nodes.len();
        // Depth first with a budget of nodes: paths stay deep, trees stay small.
        if depth == 0 || nodes.len() >= 3_000 || random.uniform() < 0.1 {
            nodes.push(TreeNode::leaf(random.uniform() * 4.0 - 2.0, cover));
            return index as u32;
        }
        nodes.push(TreeNode::leaf(0.0, cover));
        let share = match random.below(20) {
            0 => 0.0,
            1 => 1.0,
            _ => random.uniform(),
        };
        let left = grow(random, nodes, columns, depth - 1, cover * share);
        let right = grow(random, nodes, columns, depth - 1, cover * (1.0 - share));
        nodes[index] = TreeNode {
            feature: random.below(columns) as u32,
            threshold: random.uniform(),
            left,
            right,
            missing_left: random.below(2) == 0,
            value: 0.0,
            cover,
        };
        index as u32
    }
    let mut nodes = Vec::new();
    grow(random, &mut nodes, columns, depth, 1000.0);
    Tree { nodes }
}

fn random_row(random: &mut Random, columns: usize) -> Vec<f64> {
    (0..columns)
        .map(|_| {
            if random.below(10) == 0 {
                f64::NAN
            } else {
                random.uniform()
            }
        })
        .collect()
}

#[test]
fn matches_the_published_algorithm_on_random_trees() {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    for (columns, depth, tolerance) in [(3, 4, 1e-12), (6, 8, 1e-12), (12, 14, 1e-11)] {
        for _ in 0..200 {
            let tree = random_tree(&mut random, columns, depth);
            let x = random_row(&mut random, columns);
            let phi = fast(&tree, &x);
            assert_close(&phi, &published(&tree, &x), tolerance, "random tree");
            assert_additive(&tree, &x, &phi, tolerance);
            // By definition only where every split saw training weight (v(S) divides by it).
            if columns <= 6 && tree.nodes.iter().all(|node| node.cover > 0.0) {
                assert_close(
                    &phi,
                    &brute_force(&tree, &x, columns),
                    tolerance,
                    "by definition",
                );
            }
        }
    }
}

#[test]
fn deep_trees_stay_within_1e_9_of_the_published_algorithm() {
    // Forests at a million customers grow paths of 30 to 40 splits.
    let mut random = Random(42);
    let mut deepest = 0;
    for _ in 0..20 {
        let tree = random_tree(&mut random, 60, 40);
        deepest = deepest.max(tree.depth());
        for _ in 0..5 {
            let x = random_row(&mut random, 60);
            let phi = fast(&tree, &x);
            assert_close(&phi, &published(&tree, &x), 1e-9, "deep tree");
            assert_additive(&tree, &x, &phi, 1e-9);
        }
    }
    assert!(
        deepest >= 25,
        "the random trees reached only depth {deepest}"
    );
}

#[test]
fn one_set_of_buffers_serves_trees_of_every_size_in_turn() {
    let mut random = Random(7);
    let trees: Vec<Tree> = [3, 12, 1, 20, 5]
        .iter()
        .map(|&depth| random_tree(&mut random, 10, depth))
        .collect();
    let shap = TreeShap::new(&trees);
    let mut buffers = ShapBuffers::default();
    for _ in 0..20 {
        let x = random_row(&mut random, 10);
        let mut together = vec![0.0; 10];
        let mut expected = vec![0.0; 10];
        for (index, tree) in trees.iter().enumerate() {
            shap.add(index, tree, &x, 0.5, &mut together, &mut buffers);
            reference::add_tree_shap(tree, &x, 0.5, &mut expected);
        }
        assert_close(&together, &expected, 1e-12, "ensemble");
    }
    let expected: Vec<f64> = trees.iter().map(Tree::expected_value).collect();
    assert_eq!(shap.expected_values().collect::<Vec<_>>(), expected);
}
