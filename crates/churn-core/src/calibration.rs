//! Calibration: turns a model's margin into a probability that means what it says (of 100
//! customers scored 0.3, about 30 churn). Fitted on out-of-fold predictions by the
//! trainer; applied here.

use serde::{Deserialize, Serialize};

use crate::error::{ArtifactError, require_finite};

/// A fitted calibration map from margin to probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calibration {
    /// The logistic function of the margin (or the margin itself when it is already a
    /// probability).
    None,
    /// Platt scaling: `sigmoid(a · logit + b)`, where `logit` is the margin in log-odds.
    Platt {
        /// Slope.
        a: f64,
        /// Intercept.
        b: f64,
    },
    /// Isotonic regression: a non-decreasing step function of the uncalibrated probability,
    /// interpolated linearly between its knots.
    Isotonic {
        /// Uncalibrated probabilities, increasing.
        x: Vec<f64>,
        /// Calibrated probabilities, non-decreasing.
        y: Vec<f64>,
    },
}

/// The logistic function.
///
/// Scoring uses `libm` rather than the platform's `exp` and `ln`: glibc and the wasm
/// runtime round some results differently in the last bit, and the CLI, the Lambdas and
/// the browser must agree bit for bit.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-x))
}

/// Log-odds of a probability, clamped away from 0 and 1.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    libm::log(p / (1.0 - p))
}

impl Calibration {
    /// The calibrated probability of a margin (`margin_is_probability` for forests).
    pub fn probability(&self, margin: f64, margin_is_probability: bool) -> f64 {
        let raw = if margin_is_probability {
            margin
        } else {
            sigmoid(margin)
        };
        match self {
            Calibration::None => raw,
            Calibration::Platt { a, b } => {
                let log_odds = if margin_is_probability {
                    logit(margin)
                } else {
                    margin
                };
                sigmoid(a * log_odds + b)
            }
            Calibration::Isotonic { x, y } => interpolate(x, y, raw),
        }
    }

    /// Checks the numbers are finite and the isotonic knots increase.
    pub fn validate(&self) -> Result<(), ArtifactError> {
        match self {
            Calibration::None => {}
            Calibration::Platt { a, b } => {
                for value in [a, b] {
                    require_finite(*value, || "the Platt calibration".into())?;
                }
            }
            Calibration::Isotonic { x, y } => {
                for value in x.iter().chain(y) {
                    require_finite(*value, || "the isotonic calibration".into())?;
                }
            }
        }
        if let Calibration::Isotonic { x, y } = self {
            let increasing = x.windows(2).all(|w| w[0] < w[1]);
            let monotone = y.windows(2).all(|w| w[0] <= w[1]);
            if x.is_empty() || x.len() != y.len() || !increasing || !monotone {
                return Err(ArtifactError::Inconsistent(
                    "isotonic calibration knots are not increasing".into(),
                ));
            }
        }
        Ok(())
    }
}

fn interpolate(x: &[f64], y: &[f64], value: f64) -> f64 {
    let upper = x.partition_point(|knot| *knot < value);
    if upper == 0 {
        return y[0];
    }
    if upper == x.len() {
        return y[y.len() - 1];
    }
    let (x0, x1, y0, y1) = (x[upper - 1], x[upper], y[upper - 1], y[upper]);
    y0 + (y1 - y0) * (value - x0) / (x1 - x0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platt_and_isotonic_map_as_specified() {
        assert_eq!(Calibration::None.probability(0.0, false), 0.5);
        assert_eq!(Calibration::None.probability(0.3, true), 0.3);
        let platt = Calibration::Platt { a: 2.0, b: -1.0 };
        assert!((platt.probability(0.5, false) - 0.5).abs() < 1e-15);
        let isotonic = Calibration::Isotonic {
            x: vec![0.1, 0.5, 0.9],
            y: vec![0.0, 0.4, 1.0],
        };
        assert_eq!(isotonic.probability(0.05, true), 0.0);
        assert!((isotonic.probability(0.3, true) - 0.2).abs() < 1e-15);
        assert_eq!(isotonic.probability(0.95, true), 1.0);
        assert!(isotonic.validate().is_ok());
    }
}
