//! L2-regularised logistic regression by Newton's method (iteratively reweighted least
//! squares) with sample weights, on standardised inputs.
//!
//! Ours rather than smartcore's: smartcore's `LogisticRegression` takes no sample weights,
//! so it cannot weight classes; with a few dozen columns the exact Newton step is cheap,
//! converges in a handful of iterations and is deterministic to the bit.

use churn_core::model::LinearModel;
use rayon::prelude::*;

use crate::rng::sigmoid;

/// Hyperparameters of the logistic regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearParams {
    /// Inverse regularisation strength (scikit-learn's `C`): the penalty is
    /// `||w||² / (2C)`; the intercept is not penalised.
    pub c: f64,
    /// Weight of a churner relative to a stayer.
    pub positive_weight: f64,
}

const MAX_ITERATIONS: usize = 50;
const ROWS_PER_TASK: usize = 4096;

/// Solves `a x = b` for symmetric positive definite `a` (n × n, row-major) by Cholesky.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut diagonal = a[j * n + j];
        for k in 0..j {
            diagonal -= a[j * n + k] * a[j * n + k];
        }
        if diagonal <= 0.0 || !diagonal.is_finite() {
            return None;
        }
        let diagonal = diagonal.sqrt();
        a[j * n + j] = diagonal;
        for i in j + 1..n {
            let mut value = a[i * n + j];
            for k in 0..j {
                value -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = value / diagonal;
        }
    }
    for i in 0..n {
        let mut value = b[i];
        for k in 0..i {
            value -= a[i * n + k] * b[k];
        }
        b[i] = value / a[i * n + i];
    }
    for i in (0..n).rev() {
        let mut value = b[i];
        for k in i + 1..n {
            value -= a[k * n + i] * b[k];
        }
        b[i] = value / a[i * n + i];
    }
    Some(b)
}

/// Fits the model on a row-major matrix of `width` columns.
pub fn fit(matrix: &[f64], width: usize, labels: &[bool], params: &LinearParams) -> LinearModel {
    let n = width + 1; // the intercept is the last coefficient
    let mut beta = vec![0.0; n];
    let penalty = 1.0 / params.c.max(1e-12);
    for _ in 0..MAX_ITERATIONS {
        // Gradient and Hessian of the weighted negative log-likelihood, summed over row
        // blocks in parallel and combined in block order (deterministic).
        let partials: Vec<(Vec<f64>, Vec<f64>)> = matrix
            .par_chunks(ROWS_PER_TASK * width.max(1))
            .zip(labels.par_chunks(ROWS_PER_TASK))
            .map(|(rows, labels)| {
                let mut gradient = vec![0.0; n];
                let mut hessian = vec![0.0; n * n];
                // The row with the intercept's 1 appended: the inner loop below is then a
                // plain multiply-add over a prefix of it, which the compiler vectorises.
                let mut extended = vec![1.0; n];
                for (row, &y) in rows.chunks(width.max(1)).zip(labels) {
                    extended[..width].copy_from_slice(&row[..width]);
                    let margin =
                        beta[width] + row.iter().zip(&beta).map(|(x, b)| x * b).sum::<f64>();
                    let p = sigmoid(margin);
                    let weight = if y { params.positive_weight } else { 1.0 };
                    let residual = (p - f64::from(u8::from(y))) * weight;
                    let curvature = (p * (1.0 - p)).max(1e-12) * weight;
                    for (i, &xi) in extended.iter().enumerate() {
                        gradient[i] += residual * xi;
                        let scaled = curvature * xi;
                        let lower = &mut hessian[i * n..=i * n + i];
                        for (h, &xj) in lower.iter_mut().zip(&extended[..=i]) {
                            *h += scaled * xj;
                        }
                    }
                }
                (gradient, hessian)
            })
            .collect();
        let mut gradient = vec![0.0; n];
        let mut hessian = vec![0.0; n * n];
        for (g, h) in partials {
            for (total, part) in gradient.iter_mut().zip(g) {
                *total += part;
            }
            for (total, part) in hessian.iter_mut().zip(h) {
                *total += part;
            }
        }
        for i in 0..width {
            gradient[i] += penalty * beta[i];
            hessian[i * n + i] += penalty;
        }
        for i in 0..n {
            for j in 0..i {
                hessian[j * n + i] = hessian[i * n + j];
            }
        }
        // A tiny ridge on the intercept keeps separable data solvable.
        hessian[n * n - 1] += 1e-9;
        let Some(step) = solve(hessian, gradient, n) else {
            break;
        };
        let mut largest = 0.0f64;
        for (b, s) in beta.iter_mut().zip(&step) {
            *b -= s;
            largest = largest.max(s.abs());
        }
        if largest < 1e-9 {
            break;
        }
    }
    LinearModel {
        intercept: beta[width],
        weights: beta[..width].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_known_coefficients() {
        let mut rng = crate::rng::Rng::new(3);
        let rows = 20_000;
        let mut matrix = Vec::with_capacity(rows * 2);
        let mut labels = Vec::with_capacity(rows);
        for _ in 0..rows {
            let (a, b) = (rng.normal(), rng.normal());
            matrix.extend([a, b]);
            labels.push(rng.chance(sigmoid(-1.0 + 2.0 * a - 0.5 * b)));
        }
        let model = fit(
            &matrix,
            2,
            &labels,
            &LinearParams {
                c: 1e6,
                positive_weight: 1.0,
            },
        );
        assert!((model.intercept + 1.0).abs() < 0.1, "{model:?}");
        assert!((model.weights[0] - 2.0).abs() < 0.1, "{model:?}");
        assert!((model.weights[1] + 0.5).abs() < 0.1, "{model:?}");
    }

    #[test]
    fn the_penalty_shrinks_and_separable_data_stays_finite() {
        let matrix = [-2.0, -1.0, 1.0, 2.0];
        let labels = [false, false, true, true];
        let strong = fit(
            &matrix,
            1,
            &labels,
            &LinearParams {
                c: 0.01,
                positive_weight: 1.0,
            },
        );
        let weak = fit(
            &matrix,
            1,
            &labels,
            &LinearParams {
                c: 100.0,
                positive_weight: 1.0,
            },
        );
        assert!(strong.weights[0].abs() < weak.weights[0].abs());
        assert!(weak.weights[0].is_finite() && weak.weights[0] > 0.0);
    }
}
