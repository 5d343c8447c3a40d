//! Fitted preprocessing: how a raw feature record becomes the dense vector a model reads.
//!
//! Fitted on the training split only (by churn-pipeline) and stored in the artifact, so
//! that every scorer encodes exactly as training did. One [`InputEncoding`] per feature of
//! the spec, in spec order; each writes one or more output columns; an optional final
//! per-column [`Scaling`] applies to all outputs (linear models standardise, trees do not).

use serde::{Deserialize, Serialize};

use crate::category::normalize_category;
use crate::error::{ArtifactError, ScoreError, require_finite};
use crate::value::Value;

/// How one input feature is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// A number. Missing becomes `impute`, or NaN (trees route it) when `None`.
    Numeric {
        /// Replacement for a missing value (the training median).
        impute: Option<f64>,
        /// Also write `ln(1 + max(x, 0))` as a second column: a linear model can then fit
        /// a heavy-tailed count or amount on whichever scale suits it.
        #[serde(default)]
        with_log: bool,
    },
    /// True is 1, false is 0. Missing becomes `impute`, or NaN when `None`.
    Boolean {
        /// Replacement for a missing value.
        impute: Option<f64>,
    },
    /// One output column per known category (sorted); an unknown or missing value sets
    /// none of them.
    OneHot {
        /// Categories seen in training, sorted.
        categories: Vec<String>,
    },
    /// One output column: the category's training churn rate, smoothed towards the prior
    /// (target encoding); unknown or missing values get the prior.
    Target {
        /// Categories seen in training, sorted.
        categories: Vec<String>,
        /// Encoded value of each category.
        values: Vec<f64>,
        /// Value of unknown and missing categories.
        prior: f64,
    },
}

impl Encoding {
    /// The known categories of a categorical encoding.
    pub fn categories(&self) -> Option<&[String]> {
        match self {
            Encoding::OneHot { categories } | Encoding::Target { categories, .. } => {
                Some(categories)
            }
            Encoding::Numeric { .. } | Encoding::Boolean { .. } => None,
        }
    }
}

/// The encoding of one input feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputEncoding {
    /// The feature's name, as in the spec.
    pub feature: String,
    /// How it is encoded.
    pub encoding: Encoding,
}

impl InputEncoding {
    /// Output columns this input writes.
    pub fn width(&self) -> usize {
        match &self.encoding {
            Encoding::OneHot { categories } => categories.len(),
            Encoding::Numeric { with_log: true, .. } => 2,
            _ => 1,
        }
    }
}

/// Rescaling of one output column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// Unchanged.
    None,
    /// `(x - mean) / std`.
    Standard {
        /// Training mean.
        mean: f64,
        /// Training standard deviation (never zero: 1 for constant columns).
        std: f64,
    },
    /// `(x - min) / (max - min)`.
    MinMax {
        /// Training minimum.
        min: f64,
        /// Training maximum (greater than `min`: `min + 1` for constant columns).
        max: f64,
    },
}

impl Scaling {
    /// Applies the scaling.
    pub fn apply(&self, x: f64) -> f64 {
        match *self {
            Scaling::None => x,
            Scaling::Standard { mean, std } => (x - mean) / std,
            Scaling::MinMax { min, max } => (x - min) / (max - min),
        }
    }
}

/// The fitted preprocessing of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// One encoding per spec feature, in spec order.
    pub inputs: Vec<InputEncoding>,
    /// Scaling of each output column; empty for none.
    #[serde(default)]
    pub scaling: Vec<Scaling>,
}

impl Preprocessing {
    /// Number of output columns.
    pub fn width(&self) -> usize {
        self.inputs.iter().map(InputEncoding::width).sum()
    }

    /// Readable name of every output column (`tenure_days`, `contract_type=one-year`).
    pub fn output_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.width());
        for input in &self.inputs {
            match &input.encoding {
                Encoding::OneHot { categories } => {
                    names.extend(categories.iter().map(|c| format!("{}={c}", input.feature)));
                }
                Encoding::Numeric { with_log: true, .. } => {
                    names.push(input.feature.clone());
                    names.push(format!("log1p({})", input.feature));
                }
                _ => names.push(input.feature.clone()),
            }
        }
        names
    }

    /// The input feature behind every output column.
    pub fn output_sources(&self) -> Vec<usize> {
        let mut sources = Vec::with_capacity(self.width());
        for (index, input) in self.inputs.iter().enumerate() {
            sources.extend(std::iter::repeat_n(index, input.width()));
        }
        sources
    }

    /// Checks internal consistency (sorted, unique categories; matching lengths; finite
    /// numbers, scalings that divide by more than zero).
    pub fn validate(&self) -> Result<(), ArtifactError> {
        for input in &self.inputs {
            let categories = match &input.encoding {
                Encoding::Numeric { impute, .. } | Encoding::Boolean { impute } => {
                    if let Some(value) = impute {
                        require_finite(*value, || {
                            format!("the imputed value of '{}'", input.feature)
                        })?;
                    }
                    continue;
                }
                Encoding::OneHot { categories } => categories,
                Encoding::Target {
                    categories,
                    values,
                    prior,
                } => {
                    for value in values.iter().chain([prior]) {
                        require_finite(*value, || {
                            format!("the target encoding of '{}'", input.feature)
                        })?;
                    }
                    if values.len() != categories.len() {
                        return Err(ArtifactError::Inconsistent(format!(
                            "target encoding of '{}' has {} values for {} categories",
                            input.feature,
                            values.len(),
                            categories.len()
                        )));
                    }
                    categories
                }
            };
            if categories.windows(2).any(|pair| pair[0] >= pair[1]) {
                return Err(ArtifactError::Inconsistent(format!(
                    "the categories of '{}' are not sorted and unique",
                    input.feature
                )));
            }
        }
        if !self.scaling.is_empty() && self.scaling.len() != self.width() {
            return Err(ArtifactError::Inconsistent(format!(
                "{} scalings for {} output columns",
                self.scaling.len(),
                self.width()
            )));
        }
        for (column, scaling) in self.scaling.iter().enumerate() {
            let (low, high, positive) = match *scaling {
                Scaling::None => continue,
                Scaling::Standard { mean, std } => (mean, std, std > 0.0),
                Scaling::MinMax { min, max } => (min, max, max > min),
            };
            // Named only on failure, by the input the column encodes (the column's own
            // name would bring name formatting into the browser build).
            let name = || {
                let mut end = 0;
                let input = self.inputs.iter().find(|input| {
                    end += input.width();
                    end > column
                });
                format!(
                    "the scaling of column {column} (of '{}')",
                    input.map_or("?", |input| input.feature.as_str())
                )
            };
            require_finite(low, name)?;
            require_finite(high, name)?;
            if !positive {
                return Err(ArtifactError::Inconsistent(format!(
                    "{} divides by zero or less",
                    name()
                )));
            }
        }
        Ok(())
    }

    /// Encodes one record (values in spec order) into `out` (`width()` long).
    pub fn encode(&self, values: &[Value<'_>], out: &mut [f64]) -> Result<(), ScoreError> {
        if values.len() != self.inputs.len() {
            return Err(ScoreError::WrongArity {
                expected: self.inputs.len(),
                got: values.len(),
            });
        }
        let mut column = 0;
        for (input, value) in self.inputs.iter().zip(values) {
            let width = input.width();
            encode_one(input, *value, &mut out[column..column + width])?;
            column += width;
        }
        if !self.scaling.is_empty() {
            for (x, scaling) in out.iter_mut().zip(&self.scaling) {
                *x = scaling.apply(*x);
            }
        }
        Ok(())
    }
}

impl Preprocessing {
    /// Encodes a record given as numbers (spec order): numeric features as numbers,
    /// boolean ones as 0 or 1, categorical ones as the index of the category in the
    /// encoding's list; NaN is missing. The fast path of batch scoring: no text at all.
    pub fn encode_indexed(&self, row: &[f64], out: &mut [f64]) -> Result<(), ScoreError> {
        if row.len() != self.inputs.len() {
            return Err(ScoreError::WrongArity {
                expected: self.inputs.len(),
                got: row.len(),
            });
        }
        let mut column = 0;
        for (input, &x) in self.inputs.iter().zip(row) {
            let width = input.width();
            let slot = &mut out[column..column + width];
            match &input.encoding {
                Encoding::Numeric { impute, with_log } => {
                    let value = if x.is_nan() {
                        *impute
                    } else {
                        Some(finite(input, x)?)
                    };
                    numeric(value, *impute, *with_log, slot);
                }
                Encoding::Boolean { impute } => {
                    slot[0] = if x.is_nan() {
                        impute.unwrap_or(f64::NAN)
                    } else if x == 0.0 || x == 1.0 {
                        x
                    } else {
                        boolean(input, Value::Number(x))?.unwrap_or(f64::NAN)
                    };
                }
                Encoding::OneHot { categories } => {
                    slot.fill(0.0);
                    if let Some(index) = category_position(input, categories, x)? {
                        slot[index] = 1.0;
                    }
                }
                Encoding::Target {
                    categories,
                    values,
                    prior,
                } => {
                    slot[0] = category_position(input, categories, x)?
                        .map_or(*prior, |index| values[index]);
                }
            }
            column += width;
        }
        if !self.scaling.is_empty() {
            for (x, scaling) in out.iter_mut().zip(&self.scaling) {
                *x = scaling.apply(*x);
            }
        }
        Ok(())
    }
}

/// A category index given as a number: `None` for NaN (missing).
fn category_position(
    input: &InputEncoding,
    categories: &[String],
    x: f64,
) -> Result<Option<usize>, ScoreError> {
    if x.is_nan() {
        return Ok(None);
    }
    if x >= 0.0 && x.fract() == 0.0 && (x as usize) < categories.len() {
        return Ok(Some(x as usize));
    }
    Err(ScoreError::WrongType {
        feature: input.feature.clone(),
        expected: "a category index",
        got: "a number that is not one".to_owned(),
    })
}

fn wrong_type(input: &InputEncoding, expected: &'static str, value: Value<'_>) -> ScoreError {
    ScoreError::WrongType {
        feature: input.feature.clone(),
        expected,
        got: match value {
            Value::Text(text) => format!("text '{text}'"),
            other => other.type_name().to_owned(),
        },
    }
}

fn finite(input: &InputEncoding, x: f64) -> Result<f64, ScoreError> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(not_finite(input, x))
    }
}

#[cold]
#[inline(never)]
fn not_finite(input: &InputEncoding, x: f64) -> ScoreError {
    // Spelt out rather than formatted: float formatting would add kilobytes to the
    // browser build for three cases.
    let value = if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    };
    ScoreError::NotFinite {
        feature: input.feature.clone(),
        value: value.to_owned(),
    }
}

/// The number a value stands for, if any (`None` for missing).
fn number(input: &InputEncoding, value: Value<'_>) -> Result<Option<f64>, ScoreError> {
    match value {
        Value::Missing => Ok(None),
        Value::Number(x) => finite(input, x).map(Some),
        Value::Bool(flag) => Ok(Some(f64::from(u8::from(flag)))),
        Value::Text(text) if text.trim().is_empty() => Ok(None),
        #[cfg(feature = "parse-numbers")]
        Value::Text(text) => match text.trim().parse::<f64>() {
            Ok(x) => finite(input, x).map(Some),
            Err(_) => Err(wrong_type(input, "a number", value)),
        },
        // Without decimal parsing (the browser build), text is not a number.
        #[cfg(not(feature = "parse-numbers"))]
        Value::Text(_) => Err(wrong_type(input, "a number", value)),
    }
}

fn boolean(input: &InputEncoding, value: Value<'_>) -> Result<Option<f64>, ScoreError> {
    let truth = |flag: bool| Ok(Some(f64::from(u8::from(flag))));
    match value {
        Value::Missing => Ok(None),
        Value::Bool(flag) => truth(flag),
        Value::Number(x) if x == 0.0 || x == 1.0 => truth(x == 1.0),
        Value::Number(x) if !x.is_finite() => finite(input, x).map(Some),
        Value::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "t" | "yes" | "y" | "1" => truth(true),
            "false" | "f" | "no" | "n" | "0" => truth(false),
            _ => Err(wrong_type(
                input,
                "a boolean (true/false, yes/no, 1/0)",
                value,
            )),
        },
        Value::Number(_) => Err(wrong_type(
            input,
            "a boolean (true/false, yes/no, 1/0)",
            value,
        )),
    }
}

/// Index of a value's category, `None` for missing or unknown.
fn category_index(
    input: &InputEncoding,
    categories: &[String],
    value: Value<'_>,
) -> Result<Option<usize>, ScoreError> {
    let text = match value {
        Value::Missing => return Ok(None),
        Value::Text(text) => text,
        Value::Bool(flag) => {
            if flag {
                "true"
            } else {
                "false"
            }
        }
        Value::Number(x) => {
            finite(input, x)?;
            return Err(wrong_type(input, "a category (text)", value));
        }
    };
    let normalized = normalize_category(text);
    if normalized.is_empty() {
        return Ok(None);
    }
    Ok(categories
        .binary_search_by(|category| category.as_str().cmp(&normalized))
        .ok())
}

/// A numeric feature's columns: the value or its imputation, and its log companion.
fn numeric(value: Option<f64>, impute: Option<f64>, with_log: bool, out: &mut [f64]) {
    out[0] = value.or(impute).unwrap_or(f64::NAN);
    if with_log {
        out[1] = libm::log1p(out[0].max(0.0));
    }
}

fn encode_one(input: &InputEncoding, value: Value<'_>, out: &mut [f64]) -> Result<(), ScoreError> {
    match &input.encoding {
        Encoding::Numeric { impute, with_log } => {
            numeric(number(input, value)?, *impute, *with_log, out);
        }
        Encoding::Boolean { impute } => {
            out[0] = boolean(input, value)?.or(*impute).unwrap_or(f64::NAN);
        }
        Encoding::OneHot { categories } => {
            out.fill(0.0);
            if let Some(index) = category_index(input, categories, value)? {
                out[index] = 1.0;
            }
        }
        Encoding::Target {
            categories,
            values,
            prior,
        } => {
            out[0] =
                category_index(input, categories, value)?.map_or(*prior, |index| values[index]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preprocessing() -> Preprocessing {
        Preprocessing {
            inputs: vec![
                InputEncoding {
                    feature: "tenure".into(),
                    encoding: Encoding::Numeric {
                        impute: Some(12.0),
                        with_log: false,
                    },
                },
                InputEncoding {
                    feature: "paperless".into(),
                    encoding: Encoding::Boolean { impute: None },
                },
                InputEncoding {
                    feature: "contract".into(),
                    encoding: Encoding::OneHot {
                        categories: vec!["month-to-month".into(), "one-year".into()],
                    },
                },
                InputEncoding {
                    feature: "state".into(),
                    encoding: Encoding::Target {
                        categories: vec!["ca".into(), "ny".into()],
                        values: vec![0.2, 0.4],
                        prior: 0.3,
                    },
                },
            ],
            scaling: Vec::new(),
        }
    }

    #[test]
    fn encodes_every_kind_and_names_the_outputs() {
        let p = preprocessing();
        assert_eq!(p.width(), 5);
        assert_eq!(
            p.output_names(),
            [
                "tenure",
                "paperless",
                "contract=month-to-month",
                "contract=one-year",
                "state"
            ]
        );
        assert_eq!(p.output_sources(), [0, 1, 2, 2, 3]);
        let mut out = [0.0; 5];
        p.encode(
            &[
                Value::Number(3.0),
                Value::Text("Yes"),
                Value::Text(" One Year"),
                Value::Text("NY"),
            ],
            &mut out,
        )
        .expect("encode");
        assert_eq!(out, [3.0, 1.0, 0.0, 1.0, 0.4]);
        p.encode(
            &[
                Value::Missing,
                Value::Missing,
                Value::Text("weekly"),
                Value::Missing,
            ],
            &mut out,
        )
        .expect("encode");
        assert_eq!(out[0], 12.0);
        assert!(out[1].is_nan());
        assert_eq!(&out[2..], [0.0, 0.0, 0.3]);
    }

    #[test]
    fn refuses_wrong_types_and_non_finite_numbers() {
        let p = preprocessing();
        let mut out = [0.0; 5];
        let error = p
            .encode(
                &[
                    Value::Text("abc"),
                    Value::Missing,
                    Value::Missing,
                    Value::Missing,
                ],
                &mut out,
            )
            .expect_err("text for a number");
        assert_eq!(
            error.to_string(),
            "feature 'tenure' expects a number, got text 'abc'"
        );
        let error = p
            .encode(
                &[
                    Value::Number(f64::NAN),
                    Value::Missing,
                    Value::Missing,
                    Value::Missing,
                ],
                &mut out,
            )
            .expect_err("NaN");
        assert!(error.to_string().contains("NaN"));
        let error = p
            .encode(
                &[
                    Value::Missing,
                    Value::Missing,
                    Value::Number(2.0),
                    Value::Missing,
                ],
                &mut out,
            )
            .expect_err("number for a category");
        assert!(error.to_string().contains("'contract' expects a category"));
        assert!(matches!(
            p.encode(&[Value::Missing], &mut out),
            Err(ScoreError::WrongArity {
                expected: 4,
                got: 1
            })
        ));
    }

    #[test]
    fn records_of_numbers_encode_like_records_of_values() {
        let p = preprocessing();
        let (mut indexed, mut valued) = ([0.0; 5], [0.0; 5]);
        let nan = f64::NAN;
        let pairs: [([f64; 4], [Value<'_>; 4]); 3] = [
            (
                [3.0, 1.0, 1.0, 1.0],
                [
                    Value::Number(3.0),
                    Value::Bool(true),
                    Value::Text("one-year"),
                    Value::Text("ny"),
                ],
            ),
            (
                [nan, nan, nan, nan],
                [
                    Value::Missing,
                    Value::Missing,
                    Value::Missing,
                    Value::Missing,
                ],
            ),
            (
                [-2.5, 0.0, 0.0, 0.0],
                [
                    Value::Number(-2.5),
                    Value::Bool(false),
                    Value::Text("month-to-month"),
                    Value::Text("ca"),
                ],
            ),
        ];
        for (numbers, values) in pairs {
            p.encode_indexed(&numbers, &mut indexed).expect("indexed");
            p.encode(&values, &mut valued).expect("values");
            assert_eq!(
                indexed.map(f64::to_bits),
                valued.map(f64::to_bits),
                "{numbers:?}"
            );
        }
        for (bad, says) in [
            ([f64::INFINITY, 0.0, 0.0, 0.0], "Infinity"),
            ([0.0, 2.0, 0.0, 0.0], "a boolean"),
            ([0.0, 0.0, 2.0, 0.0], "a category index"),
            ([0.0, 0.0, 0.5, 0.0], "a category index"),
            ([0.0, 0.0, 0.0, -1.0], "a category index"),
        ] {
            let error = p.encode_indexed(&bad, &mut indexed).expect_err("bad");
            assert!(error.to_string().contains(says), "{bad:?}: {error}");
        }
        assert!(p.encode_indexed(&[0.0; 3], &mut indexed).is_err());
    }

    #[test]
    fn validation_catches_unsorted_categories() {
        let mut p = preprocessing();
        p.inputs[2].encoding = Encoding::OneHot {
            categories: vec!["b".into(), "a".into()],
        };
        assert!(p.validate().is_err());
    }
}
