//! Gradient histograms of a node, per column a list of bins in bin order: dense (every
//! bin, empty ones too) when the node has many rows for the column's bins, sparse (only
//! the bins that hold rows) when it has few. A node's work is then bounded by its rows
//! as well as by the bins, so a deep tree or a wide table with few rows per node costs
//! what its cells cost, not columns × 255 bins per node.
//!
//! The larger child's histogram is the parent's minus the smaller child's (a child's bins
//! are a subset of its parent's), written over the parent's.

use rayon::prelude::*;

use super::bins::{BinMapper, Binned};

/// Sums over the rows of one bin.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct BinStats {
    pub(super) gradient: f64,
    pub(super) hessian: f64,
    pub(super) rows: u32,
    /// The bin (0: missing values).
    pub(super) bin: u8,
}

impl BinStats {
    pub(super) fn add(&mut self, other: &BinStats) {
        self.gradient += other.gradient;
        self.hessian += other.hessian;
        self.rows += other.rows;
    }

    pub(super) fn minus(&self, other: &BinStats) -> BinStats {
        BinStats {
            gradient: self.gradient - other.gradient,
            hessian: self.hessian - other.hessian,
            rows: self.rows - other.rows,
            bin: self.bin,
        }
    }
}

/// Per column (in the order of the columns it was built for), its bins in order, dense
/// or sparse (empty bins may be present). A column left out (not a candidate of the
/// node) is empty.
pub(super) type Histogram = Vec<Vec<BinStats>>;

/// The missing-value bin of a column's histogram, or nothing.
pub(super) fn missing(column: &[BinStats]) -> BinStats {
    column
        .first()
        .filter(|stats| stats.bin == 0)
        .copied()
        .unwrap_or_default()
}

thread_local! {
    /// A row of bins per thread for sparse builds, all zero between builds.
    static SCRATCH: std::cell::RefCell<Vec<BinStats>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Work large enough to split across threads.
const PARALLEL_WORK: usize = 50_000;

/// The gradient and hessian of each of `rows`, in their order: gathered once per node,
/// so that every column's pass reads them in sequence (LightGBM's ordered gradients).
fn ordered_pairs(rows: &[u32], gradients: &[f64], hessians: &[f64]) -> Vec<(f64, f64)> {
    rows.iter()
        .map(|&row| (gradients[row as usize], hessians[row as usize]))
        .collect()
}

/// One column's histogram of `rows`: dense when the node has at least as many rows as
/// the column has bins, sparse otherwise. Each bin sums its rows in their order, whichever
/// way it is built.
fn column(
    binned: &Binned,
    mapper: &BinMapper,
    column: usize,
    rows: &[u32],
    pairs: &[(f64, f64)],
) -> Vec<BinStats> {
    let bins = &binned.columns[column];
    let count = mapper.bins(column);
    if rows.len() < count {
        // Fewer rows than bins: sums in a reused scratch row of bins, and only the bins
        // touched are listed (and reset). The sums are the dense path's, row by row.
        return SCRATCH.with_borrow_mut(|scratch| {
            if scratch.len() < count {
                scratch.resize(count, BinStats::default());
            }
            let mut touched: Vec<u8> = Vec::with_capacity(rows.len());
            for (&row, &(gradient, hessian)) in rows.iter().zip(pairs) {
                let bin = bins[row as usize];
                let stats = &mut scratch[bin as usize];
                if stats.rows == 0 {
                    touched.push(bin);
                }
                stats.gradient += gradient;
                stats.hessian += hessian;
                stats.rows += 1;
            }
            let take = |bin: u8, scratch: &mut [BinStats]| BinStats {
                bin,
                ..std::mem::take(&mut scratch[bin as usize])
            };
            if touched.len() * 8 < count {
                touched.sort_unstable();
                touched.into_iter().map(|bin| take(bin, scratch)).collect()
            } else {
                // Many bins touched: a sweep of the bins is cheaper than sorting them.
                let mut out = Vec::with_capacity(touched.len());
                for bin in 0..count {
                    if scratch[bin].rows > 0 {
                        out.push(take(bin as u8, scratch));
                    }
                }
                out
            }
        });
    }
    let mut dense: Vec<BinStats> = (0..count)
        .map(|bin| BinStats {
            bin: bin as u8,
            ..BinStats::default()
        })
        .collect();
    for (&row, &(gradient, hessian)) in rows.iter().zip(pairs) {
        let stats = &mut dense[bins[row as usize] as usize];
        stats.gradient += gradient;
        stats.hessian += hessian;
        stats.rows += 1;
    }
    dense
}

/// The histograms of `rows` for the columns at `positions` of `columns` (all of them when
/// `positions` is `None`); the others are left empty.
pub(super) fn build(
    binned: &Binned,
    mapper: &BinMapper,
    columns: &[usize],
    positions: Option<&[usize]>,
    rows: &[u32],
    gradients: &[f64],
    hessians: &[f64],
) -> Histogram {
    let pairs = ordered_pairs(rows, gradients, hessians);
    let one = |position: usize| column(binned, mapper, columns[position], rows, &pairs);
    let all: Vec<usize>;
    let positions = match positions {
        Some(positions) => positions,
        None => {
            all = (0..columns.len()).collect();
            &all
        }
    };
    let built: Vec<Vec<BinStats>> = if rows.len() * positions.len() >= PARALLEL_WORK {
        positions.par_iter().map(|&p| one(p)).collect()
    } else {
        positions.iter().map(|&p| one(p)).collect()
    };
    if positions.len() == columns.len() {
        return built;
    }
    let mut histogram = vec![Vec::new(); columns.len()];
    for (&position, column) in positions.iter().zip(built) {
        histogram[position] = column;
    }
    histogram
}

/// The parent's histogram minus a child's, written over the parent's; the result holds
/// `rows` rows. A dense parent (every one of its `bins`) is updated bin by bin, and made
/// sparse when the result has fewer rows than bins. A sparse parent (then the child is
/// sparse too) has the child's bins found in it, and bins left without rows dropped.
fn subtract(parent: &mut Vec<BinStats>, child: &[BinStats], bins: usize, rows: usize) {
    if parent.len() == bins {
        for taken in child {
            let stats = &mut parent[taken.bin as usize];
            *stats = stats.minus(taken);
        }
        if rows < bins {
            parent.retain(|stats| stats.rows > 0);
        }
        return;
    }
    let mut child = child.iter().peekable();
    parent.retain_mut(|stats| {
        while child.next_if(|c| c.bin < stats.bin).is_some() {}
        if let Some(taken) = child.next_if(|c| c.bin == stats.bin) {
            *stats = stats.minus(taken);
        }
        stats.rows > 0
    });
}

/// Children histograms from the parent's: the smaller child's is built from its rows,
/// the larger's is the difference, written over the parent's.
#[allow(clippy::too_many_arguments)]
pub(super) fn children(
    binned: &Binned,
    mapper: &BinMapper,
    columns: &[usize],
    mut parent: Histogram,
    left_rows: &[u32],
    right_rows: &[u32],
    gradients: &[f64],
    hessians: &[f64],
) -> (Histogram, Histogram) {
    let small_is_left = left_rows.len() <= right_rows.len();
    let small_rows = if small_is_left { left_rows } else { right_rows };
    let small = build(
        binned, mapper, columns, None, small_rows, gradients, hessians,
    );
    let large_rows = left_rows.len().max(right_rows.len());
    for ((parent, child), &column) in parent.iter_mut().zip(&small).zip(columns) {
        subtract(parent, child, mapper.bins(column), large_rows);
    }
    if small_is_left {
        (small, parent)
    } else {
        (parent, small)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binned(columns: Vec<Vec<u8>>) -> (Binned, BinMapper) {
        let rows = columns[0].len();
        // The mapper only sets the bin count here: fitted on 1,000 distinct values, 256
        // (255 and the missing bin).
        let values: Vec<f64> = (0..1000).map(f64::from).collect();
        let mapper = BinMapper::fit(&values, 1);
        assert_eq!(mapper.bins(0), 256);
        (Binned { rows, columns }, mapper)
    }

    #[test]
    fn sparse_and_dense_builds_agree_and_subtraction_matches_a_direct_build() {
        // 40 rows over bins 0..=9 are built sparse (fewer rows than the 256 bins), 300
        // dense.
        for count in [40usize, 300] {
            let bins: Vec<u8> = (0..count).map(|i| (i * 7 % 10) as u8).collect();
            let (binned, mapper) = binned(vec![bins.clone()]);
            let gradients: Vec<f64> = (0..count).map(|i| i as f64 * 0.5 - 3.0).collect();
            let hessians = vec![1.0; count];
            let rows: Vec<u32> = (0..count as u32).collect();
            let all = build(&binned, &mapper, &[0], None, &rows, &gradients, &hessians);
            let bins_seen: Vec<u8> = all[0]
                .iter()
                .filter(|s| s.rows > 0)
                .map(|s| s.bin)
                .collect();
            assert_eq!(bins_seen, (0..10).collect::<Vec<u8>>());
            for stats in &all[0] {
                let members: Vec<usize> = (0..count).filter(|&i| bins[i] == stats.bin).collect();
                assert_eq!(stats.rows as usize, members.len());
                let expected: f64 = members.iter().map(|&i| gradients[i]).sum();
                assert!((stats.gradient - expected).abs() < 1e-12);
            }
            // Left: rows in bins 0..=3; the right child's histogram by subtraction equals
            // the one built from its rows, and bins emptied by the subtraction are gone.
            let (left, right): (Vec<u32>, Vec<u32>) =
                rows.iter().partition(|&&r| bins[r as usize] <= 3);
            let (from_left, from_right) = children(
                &binned,
                &mapper,
                &[0],
                all,
                &left,
                &right,
                &gradients,
                &hessians,
            );
            let direct = build(&binned, &mapper, &[0], None, &right, &gradients, &hessians);
            let non_empty = |h: &[BinStats]| -> Vec<BinStats> {
                h.iter().filter(|s| s.rows > 0).copied().collect()
            };
            let (from_right, direct) = (non_empty(&from_right[0]), non_empty(&direct[0]));
            assert_eq!(from_right.len(), direct.len());
            for (a, b) in from_right.iter().zip(&direct) {
                assert_eq!((a.bin, a.rows), (b.bin, b.rows));
                assert!((a.gradient - b.gradient).abs() < 1e-9);
            }
            assert!(from_left[0].iter().all(|s| s.bin <= 3 || s.rows == 0));
        }
    }

    #[test]
    fn a_dense_child_is_subtracted_from_a_parent_that_dropped_empty_bins() {
        // The parent's histogram came from a subtraction and lost its empty bins; its
        // smaller child has enough rows to be built dense, listing every bin.
        let count = 700usize;
        let bins: Vec<u8> = (0..count).map(|i| (i % 50 * 3) as u8).collect();
        let (binned, mapper) = binned(vec![bins.clone()]);
        let gradients: Vec<f64> = (0..count).map(|i| (i % 7) as f64 - 2.5).collect();
        let hessians = vec![0.25; count];
        let rows: Vec<u32> = (0..count as u32).collect();
        let mut parent = build(&binned, &mapper, &[0], None, &rows, &gradients, &hessians);
        parent[0].retain(|s| s.rows > 0);
        assert!(parent[0].len() < mapper.bins(0));
        let (left, right): (Vec<u32>, Vec<u32>) = rows.iter().partition(|&&r| r < 300);
        let (small, large) = children(
            &binned,
            &mapper,
            &[0],
            parent,
            &left,
            &right,
            &gradients,
            &hessians,
        );
        assert_eq!(small[0].len(), mapper.bins(0), "the small child is dense");
        let direct = build(&binned, &mapper, &[0], None, &right, &gradients, &hessians);
        let direct: Vec<&BinStats> = direct[0].iter().filter(|s| s.rows > 0).collect();
        assert_eq!(large[0].len(), direct.len());
        for (a, b) in large[0].iter().zip(direct) {
            assert_eq!((a.bin, a.rows), (b.bin, b.rows));
            assert!((a.gradient - b.gradient).abs() < 1e-9);
            assert!((a.hessian - b.hessian).abs() < 1e-9);
        }
    }
}
