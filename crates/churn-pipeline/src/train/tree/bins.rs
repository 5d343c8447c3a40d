//! Histogram binning, as LightGBM does it: every encoded column is cut into at most 255
//! value bins at training-data quantiles (bin 0 holds missing values), so that finding a
//! split scans bins instead of sorting rows.

/// Most value bins per column (bin 0, missing, comes on top).
pub const MAX_BINS: usize = 255;

/// Bin boundaries of every column: bin `b >= 1` holds values in
/// `(boundaries[b - 2], boundaries[b - 1]]`, with the first and last bins open-ended.
#[derive(Debug, Clone)]
pub struct BinMapper {
    /// Upper boundaries per column, increasing.
    pub boundaries: Vec<Vec<f64>>,
}

impl BinMapper {
    /// Fits boundaries on a row-major matrix.
    pub fn fit(matrix: &[f64], width: usize) -> Self {
        let boundaries = (0..width)
            .map(|column| {
                let mut values: Vec<f64> = matrix
                    .iter()
                    .skip(column)
                    .step_by(width)
                    .copied()
                    .filter(|x| !x.is_nan())
                    .collect();
                values.sort_by(f64::total_cmp);
                boundaries_of(&values)
            })
            .collect();
        Self { boundaries }
    }

    /// Number of bins of a column, the missing bin included.
    pub fn bins(&self, column: usize) -> usize {
        self.boundaries[column].len() + 2
    }

    /// The bin of a value.
    #[inline]
    pub fn bin(&self, column: usize, x: f64) -> u8 {
        if x.is_nan() {
            0
        } else {
            1 + self.boundaries[column].partition_point(|u| *u < x) as u8
        }
    }

    /// The threshold of "bin <= `bin`": a value goes left exactly when `x <= threshold`.
    pub fn threshold(&self, column: usize, bin: u8) -> f64 {
        self.boundaries[column][bin as usize - 1]
    }

    /// Bins a row-major matrix into columns.
    pub fn apply(&self, matrix: &[f64], width: usize) -> Binned {
        let rows = matrix.len().checked_div(width).unwrap_or(0);
        let columns = (0..width)
            .map(|column| {
                (0..rows)
                    .map(|row| self.bin(column, matrix[row * width + column]))
                    .collect()
            })
            .collect();
        Binned { rows, columns }
    }
}

/// Cuts sorted values into at most [`MAX_BINS`] bins of similar counts; boundaries lie
/// halfway between neighbouring distinct values.
fn boundaries_of(sorted: &[f64]) -> Vec<f64> {
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for &x in sorted {
        match distinct.last_mut() {
            Some((value, count)) if *value == x => *count += 1,
            _ => distinct.push((x, 1)),
        }
    }
    if distinct.len() <= 1 {
        return Vec::new();
    }
    let mut boundaries = Vec::new();
    if distinct.len() <= MAX_BINS {
        for pair in distinct.windows(2) {
            boundaries.push(midpoint(pair[0].0, pair[1].0));
        }
        return boundaries;
    }
    let per_bin = sorted.len() as f64 / MAX_BINS as f64;
    let mut seen = 0usize;
    for (index, (value, count)) in distinct.iter().enumerate().take(distinct.len() - 1) {
        seen += count;
        let wanted = (boundaries.len() + 1) as f64 * per_bin;
        if seen as f64 >= wanted && boundaries.len() < MAX_BINS - 1 {
            boundaries.push(midpoint(*value, distinct[index + 1].0));
        }
    }
    boundaries
}

fn midpoint(a: f64, b: f64) -> f64 {
    let mid = a + (b - a) / 2.0;
    // Rounding can land on b; the boundary must stay below it.
    if mid < b { mid } else { a }
}

/// Binned columns (column-major).
#[derive(Debug, Clone)]
pub struct Binned {
    /// Rows.
    pub rows: usize,
    /// One bin per row, per column.
    pub columns: Vec<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_values_get_one_bin_each_and_thresholds_separate_them() {
        let matrix = [1.0, 5.0, f64::NAN, 5.0, 1.0, 3.0];
        let mapper = BinMapper::fit(&matrix, 1);
        assert_eq!(mapper.boundaries[0], [2.0, 4.0]);
        assert_eq!(mapper.bins(0), 4);
        let binned = mapper.apply(&matrix, 1);
        assert_eq!(binned.columns[0], [1, 3, 0, 3, 1, 2]);
        for (x, bin) in matrix.iter().zip(&binned.columns[0]) {
            if *bin >= 1 && (*bin as usize) <= mapper.boundaries[0].len() {
                assert!(*x <= mapper.threshold(0, *bin));
            }
        }
    }

    #[test]
    fn many_values_are_cut_at_quantiles() {
        let matrix: Vec<f64> = (0..10_000).map(|i| f64::from(i) * 0.37).collect();
        let mapper = BinMapper::fit(&matrix, 1);
        assert_eq!(mapper.bins(0), MAX_BINS + 1);
        let binned = mapper.apply(&matrix, 1);
        let mut counts = vec![0; mapper.bins(0)];
        for bin in &binned.columns[0] {
            counts[*bin as usize] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!(
            counts[1..].iter().all(|&c| (35..=45).contains(&c)),
            "{counts:?}"
        );
    }
}
