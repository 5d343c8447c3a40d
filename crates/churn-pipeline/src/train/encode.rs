//! Fitting the preprocessing on training rows, and encoding rows with it.
//!
//! The fitted [`Preprocessing`] is churn-core's, so the encoding of a row here is the
//! encoding every scorer computes. The one exception is training rows of target-encoded
//! categories: they get ordered target statistics (CatBoost's idea: a row's encoding uses
//! only the rows before it in a random order), so that no row sees its own label.

use churn_core::preprocess::{Encoding, InputEncoding, Preprocessing, Scaling};

use crate::features::data::{Dataset, FeatureColumn, MISSING_CODE};
use crate::rng::Rng;

/// How a family wants its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Imputed and scaled (linear models).
    Linear(ScalingKind),
    /// Missing values kept as NaN, no scaling (trees route missing values themselves).
    Trees,
}

/// The scaling of a linear model's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalingKind {
    /// To mean 0 and standard deviation 1.
    Standard,
    /// To the range 0 to 1.
    MinMax,
}

/// Categories up to this many levels are one-hot encoded; more are target encoded.
pub const MAX_ONE_HOT: usize = 16;
/// Pseudo-count pulling a category's target encoding towards the prior.
const TARGET_SMOOTHING: f64 = 1.0;

/// A fitted preprocessing and the encoded training rows.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// What every scorer will apply.
    pub preprocessing: Preprocessing,
    /// The training rows, encoded (row-major, `preprocessing.width()` columns).
    pub matrix: Vec<f64>,
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

/// Fits the preprocessing on `rows` of `data` and encodes them.
pub fn fit(data: &Dataset, rows: &[usize], style: Style, seed: u64) -> Encoded {
    let linear = matches!(style, Style::Linear(_));
    let prior = rows.iter().filter(|&&r| data.labels[r]).count() as f64 / rows.len().max(1) as f64;
    let mut inputs = Vec::with_capacity(data.columns.len());
    // (output column, ordered encoding of each training row) for target encodings.
    let mut ordered: Vec<(usize, Vec<f64>)> = Vec::new();
    let mut column = 0;
    for (feature, values) in data.spec.features.iter().zip(&data.columns) {
        let encoding = match values {
            FeatureColumn::Numeric(values) => {
                let mut present: Vec<f64> = rows
                    .iter()
                    .map(|&r| values[r])
                    .filter(|x| !x.is_nan())
                    .collect();
                Encoding::Numeric {
                    with_log: linear && heavy_tailed(&present),
                    impute: linear.then(|| median(&mut present).unwrap_or(0.0)),
                }
            }
            FeatureColumn::Boolean(values) => {
                let trues = rows.iter().filter(|&&r| values[r] == Some(true)).count();
                let falses = rows.iter().filter(|&&r| values[r] == Some(false)).count();
                Encoding::Boolean {
                    impute: linear.then(|| f64::from(u8::from(trues > falses))),
                }
            }
            FeatureColumn::Categorical { codes, levels } => {
                let mut counts = vec![(0.0f64, 0.0f64); levels.len()];
                for &row in rows {
                    if codes[row] != MISSING_CODE {
                        let entry = &mut counts[codes[row] as usize];
                        entry.0 += f64::from(u8::from(data.labels[row]));
                        entry.1 += 1.0;
                    }
                }
                let seen: Vec<usize> = (0..levels.len()).filter(|&l| counts[l].1 > 0.0).collect();
                let categories: Vec<String> = seen.iter().map(|&l| levels[l].clone()).collect();
                if categories.len() <= MAX_ONE_HOT {
                    Encoding::OneHot { categories }
                } else {
                    let smoothed = |(positives, count): (f64, f64)| {
                        (positives + TARGET_SMOOTHING * prior) / (count + TARGET_SMOOTHING)
                    };
                    ordered.push((
                        column,
                        ordered_target(
                            codes,
                            &data.labels,
                            rows,
                            levels.len(),
                            prior,
                            seed ^ column as u64,
                        ),
                    ));
                    Encoding::Target {
                        values: seen.iter().map(|&l| smoothed(counts[l])).collect(),
                        categories,
                        prior,
                    }
                }
            }
        };
        let input = InputEncoding {
            feature: feature.name.clone(),
            encoding,
        };
        column += input.width();
        inputs.push(input);
    }
    let mut preprocessing = Preprocessing {
        inputs,
        scaling: Vec::new(),
    };
    let width = preprocessing.width();
    let mut matrix = encode(data, &preprocessing, rows);
    for (column, values) in &ordered {
        for (position, value) in values.iter().enumerate() {
            matrix[position * width + column] = *value;
        }
    }
    if let Style::Linear(kind) = style {
        preprocessing.scaling = (0..width)
            .map(|c| scaling_of(matrix.iter().skip(c).step_by(width).copied(), kind))
            .collect();
        for row in matrix.chunks_mut(width) {
            for (x, scaling) in row.iter_mut().zip(&preprocessing.scaling) {
                *x = scaling.apply(*x);
            }
        }
    }
    Encoded {
        preprocessing,
        matrix,
    }
}

/// Non-negative and right-skewed (sample skewness above 0.75, the usual rule of thumb):
/// a linear model is offered such a column on a log scale too.
fn heavy_tailed(values: &[f64]) -> bool {
    if values.len() < 3 || values.iter().any(|x| *x < 0.0) {
        return false;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let (m2, m3) = values.iter().fold((0.0, 0.0), |(m2, m3), x| {
        let d = x - mean;
        (m2 + d * d, m3 + d * d * d)
    });
    let variance = m2 / n;
    variance > 0.0 && (m3 / n) / variance.powf(1.5) > 0.75
}

fn scaling_of(values: impl Iterator<Item = f64> + Clone, kind: ScalingKind) -> Scaling {
    match kind {
        ScalingKind::Standard => {
            let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
            for x in values {
                n += 1.0;
                let delta = x - mean;
                mean += delta / n;
                m2 += delta * (x - mean);
            }
            let std = (m2 / n.max(1.0)).sqrt();
            Scaling::Standard {
                mean,
                std: if std > 1e-12 { std } else { 1.0 },
            }
        }
        ScalingKind::MinMax => {
            let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            });
            if max > min {
                Scaling::MinMax { min, max }
            } else {
                Scaling::MinMax {
                    min: if min.is_finite() { min } else { 0.0 },
                    max: if min.is_finite() { min + 1.0 } else { 1.0 },
                }
            }
        }
    }
}

/// Ordered target statistics for the training rows, in `rows` order.
fn ordered_target(
    codes: &[u32],
    labels: &[bool],
    rows: &[usize],
    levels: usize,
    prior: f64,
    seed: u64,
) -> Vec<f64> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    Rng::for_stream(seed, 0x0dde).shuffle(&mut order);
    let mut running = vec![(0.0f64, 0.0f64); levels];
    let mut out = vec![prior; rows.len()];
    for position in order {
        let row = rows[position];
        let code = codes[row];
        if code == MISSING_CODE {
            continue;
        }
        let (positives, count) = running[code as usize];
        out[position] = (positives + TARGET_SMOOTHING * prior) / (count + TARGET_SMOOTHING);
        running[code as usize] = (positives + f64::from(u8::from(labels[row])), count + 1.0);
    }
    out
}

/// Encodes `rows` of `data` with a fitted preprocessing, exactly as a scorer would.
pub fn encode(data: &Dataset, preprocessing: &Preprocessing, rows: &[usize]) -> Vec<f64> {
    let width = preprocessing.width();
    let mut matrix = vec![0.0; rows.len() * width];
    for (out, &row) in matrix.chunks_mut(width.max(1)).zip(rows) {
        // The dataset's values always have the spec's types, so encoding cannot fail.
        if preprocessing.encode(&data.row_values(row), out).is_err() {
            out.fill(f64::NAN);
        }
    }
    matrix
}
