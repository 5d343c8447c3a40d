//! The churn scorer in WebAssembly: load a model artifact, score customer records in the
//! page or in an edge worker, with exactly the probabilities the batch pipeline computes
//! (the same churn-core code runs on both sides).
//!
//! The JavaScript wrapper of the npm package (`js/record.mjs`) reads a record's fields and
//! hands them over in one crossing: a type tag per feature (`Uint8Array`), the numbers
//! (`Float64Array`) and the texts joined by the unit separator `\u{1f}`. Everything else,
//! validation and its messages included, happens here. Errors become JavaScript `Error`s;
//! nothing panics, and the scorer keeps working after an error.

use churn_core::{ModelArtifact, Scorer, Value};
use wasm_bindgen::prelude::*;

/// Type tags of record fields, as `js/record.mjs` writes them.
mod tag {
    pub const MISSING: u8 = 0;
    pub const NUMBER: u8 = 1;
    pub const BOOLEAN: u8 = 2;
    pub const TEXT: u8 = 3;
    /// An object, array or function: never valid.
    pub const OTHER: u8 = 4;
}

/// Separator of the texts of a record.
const SEPARATOR: char = '\u{1f}';

/// A loaded model.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmScorer {
    scorer: Scorer,
    kinds: Vec<churn_core::FeatureKind>,
    buffer: Vec<f64>,
}

fn error(message: impl std::fmt::Display) -> JsError {
    JsError::new(&message.to_string())
}

#[wasm_bindgen]
impl WasmScorer {
    /// Loads a binary artifact (`model.bin`).
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<WasmScorer, JsError> {
        Self::from_artifact(ModelArtifact::from_binary(bytes).map_err(error)?)
    }

    /// Loads a JSON artifact (`model.json`); only in builds with the `json` feature.
    #[cfg(feature = "json")]
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(text: &str) -> Result<WasmScorer, JsError> {
        Self::from_artifact(ModelArtifact::from_json(text).map_err(error)?)
    }

    fn from_artifact(artifact: ModelArtifact) -> Result<WasmScorer, JsError> {
        let kinds = artifact
            .feature_spec
            .features
            .iter()
            .map(|f| f.kind)
            .collect();
        Ok(Self {
            scorer: Scorer::new(artifact).map_err(error)?,
            kinds,
            buffer: Vec::new(),
        })
    }

    /// The artifact format versions this build reads (up to this one).
    #[wasm_bindgen(js_name = artifactVersion)]
    pub fn artifact_version() -> u32 {
        churn_core::ARTIFACT_SCHEMA_VERSION
    }

    /// The model's id.
    #[wasm_bindgen(getter, js_name = modelId)]
    pub fn model_id(&self) -> String {
        self.scorer.artifact().model_id.clone()
    }

    /// Feature names, in record order.
    #[wasm_bindgen(getter, js_name = featureNames)]
    pub fn feature_names(&self) -> Vec<String> {
        self.scorer
            .artifact()
            .feature_spec
            .features
            .iter()
            .map(|f| f.name.clone())
            .collect()
    }

    /// Feature kinds (`numeric`, `categorical`, `boolean`), in record order.
    #[wasm_bindgen(getter, js_name = featureKinds)]
    pub fn feature_kinds(&self) -> Vec<String> {
        self.kinds.iter().map(|k| k.as_str().to_owned()).collect()
    }

    /// The decision threshold.
    #[wasm_bindgen(getter)]
    pub fn threshold(&self) -> f64 {
        self.scorer.artifact().decision.threshold
    }

    /// Scores one record packed by `js/record.mjs`: returns `[probability, tier]`, the
    /// tier as 0 (low), 1 (medium) or 2 (high).
    #[wasm_bindgen(js_name = scorePacked)]
    pub fn score_packed(
        &mut self,
        tags: &[u8],
        numbers: &[f64],
        texts: &str,
    ) -> Result<Vec<f64>, JsError> {
        let values = self.values(tags, numbers, texts)?;
        let score = self
            .scorer
            .score_with(&values, &mut self.buffer)
            .map_err(error)?;
        Ok(vec![score.probability, f64::from(score.tier as u8)])
    }

    /// Scores one packed record with reasons: returns
    /// `[probability, tier, margin, base, (feature index, contribution) x top]`, the
    /// reasons being the strongest risk-raising contributions, largest first.
    #[wasm_bindgen(js_name = explainPacked)]
    pub fn explain_packed(
        &self,
        tags: &[u8],
        numbers: &[f64],
        texts: &str,
        top: usize,
    ) -> Result<Vec<f64>, JsError> {
        let values = self.values(tags, numbers, texts)?;
        let (score, base, contributions) = self.scorer.contributions(&values).map_err(error)?;
        let mut out = vec![
            score.probability,
            f64::from(score.tier as u8),
            score.margin,
            base,
        ];
        let mut order: Vec<usize> = (0..contributions.len()).collect();
        order.sort_unstable_by(|&a, &b| {
            contributions[b]
                .total_cmp(&contributions[a])
                .then(a.cmp(&b))
        });
        for index in order
            .into_iter()
            .filter(|&i| contributions[i] > 0.0)
            .take(top)
        {
            out.push(index as f64);
            out.push(contributions[index]);
        }
        Ok(out)
    }

    /// Scores many records: `values` holds `columns` numbers per record in feature
    /// order (booleans as 0/1, categories as their index in [`WasmScorer::categories`],
    /// NaN for missing). Returns the probabilities.
    #[wasm_bindgen(js_name = scoreBatch)]
    pub fn score_batch(&mut self, values: &[f64], columns: usize) -> Result<Vec<f64>, JsError> {
        let features = self.kinds.len();
        if columns != features {
            return Err(error(format!(
                "the model has {features} features, the batch says {columns} columns"
            )));
        }
        if values.is_empty() {
            return Err(error("the batch is empty"));
        }
        if !values.len().is_multiple_of(columns) {
            return Err(error(format!(
                "the batch has {} numbers, not a multiple of its {columns} columns",
                values.len()
            )));
        }
        let categories: Vec<Vec<String>> = (0..features).map(|i| self.categories_of(i)).collect();
        let mut out = Vec::with_capacity(values.len() / columns);
        let mut record: Vec<Value<'_>> = Vec::with_capacity(features);
        for (row, numbers) in values.chunks(columns).enumerate() {
            record.clear();
            for (feature, &x) in numbers.iter().enumerate() {
                record.push(if x.is_nan() {
                    Value::Missing
                } else {
                    match self.kinds[feature] {
                        churn_core::FeatureKind::Numeric => Value::Number(x),
                        churn_core::FeatureKind::Boolean => Value::Number(x),
                        churn_core::FeatureKind::Categorical => {
                            let index = x as usize;
                            match categories[feature].get(index) {
                                Some(category) if x >= 0.0 && x.fract() == 0.0 => Value::Text(category),
                                _ => {
                                    return Err(error(format!(
                                        "row {row}: '{}' holds a value that is not a category index (0 to {})",
                                        self.scorer.artifact().feature_spec.features[feature].name,
                                        categories[feature].len().saturating_sub(1)
                                    )));
                                }
                            }
                        }
                    }
                });
            }
            let score = self
                .scorer
                .score_with(&record, &mut self.buffer)
                .map_err(|e| error(format!("row {row}: {e}")))?;
            out.push(score.probability);
        }
        Ok(out)
    }

    /// The known categories of a categorical feature (what batch indices refer to).
    pub fn categories(&self, feature: &str) -> Result<Vec<String>, JsError> {
        let index = self
            .scorer
            .feature_index(feature)
            .ok_or_else(|| error(format!("the model has no feature '{feature}'")))?;
        if self.kinds[index] != churn_core::FeatureKind::Categorical {
            return Err(error(format!("'{feature}' is not categorical")));
        }
        Ok(self.categories_of(index))
    }

    fn categories_of(&self, feature: usize) -> Vec<String> {
        // Every component of an artifact encodes the same features from the same
        // training data: the first one's categories are the model's.
        self.scorer.artifact().components[0].preprocessing.inputs[feature]
            .encoding
            .categories()
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    }

    fn values<'a>(
        &self,
        tags: &[u8],
        numbers: &[f64],
        texts: &'a str,
    ) -> Result<Vec<Value<'a>>, JsError> {
        let features = &self.scorer.artifact().feature_spec.features;
        if tags.len() != features.len() || numbers.len() != features.len() {
            return Err(error(format!(
                "expected {} feature values, got {}",
                features.len(),
                tags.len()
            )));
        }
        let mut texts = texts.split(SEPARATOR);
        let mut values = Vec::with_capacity(features.len());
        for ((feature, &tag), &number) in features.iter().zip(tags).zip(numbers) {
            let wrong = |got: &str| {
                error(format!(
                    "feature '{}' expects {}, got {got}",
                    feature.name,
                    match feature.kind {
                        churn_core::FeatureKind::Numeric => "a number",
                        churn_core::FeatureKind::Boolean => "a boolean",
                        churn_core::FeatureKind::Categorical => "a category (text)",
                    }
                ))
            };
            let value = match tag {
                tag::MISSING => Value::Missing,
                tag::NUMBER => {
                    if !number.is_finite() {
                        let spelt = if number.is_nan() {
                            "NaN"
                        } else if number > 0.0 {
                            "Infinity"
                        } else {
                            "-Infinity"
                        };
                        return Err(error(format!(
                            "feature '{}' is {spelt}: send null for an unknown value",
                            feature.name
                        )));
                    }
                    if feature.kind == churn_core::FeatureKind::Categorical {
                        return Err(wrong("a number"));
                    }
                    Value::Number(number)
                }
                tag::BOOLEAN => {
                    if feature.kind != churn_core::FeatureKind::Boolean {
                        return Err(wrong("a boolean"));
                    }
                    Value::Bool(number != 0.0)
                }
                tag::TEXT => {
                    let text = texts.next().unwrap_or_default();
                    if feature.kind != churn_core::FeatureKind::Categorical {
                        return Err(wrong(&format!("the text '{text}'")));
                    }
                    Value::Text(text)
                }
                _ => return Err(wrong("an object")),
            };
            values.push(value);
        }
        let _ = tag::OTHER;
        Ok(values)
    }
}
