//! The churn scorer in WebAssembly: load a model artifact, score customer records in the
//! page or in an edge worker, with exactly the probabilities the batch pipeline computes
//! (the same churn-core code runs on both sides).
//!
//! The JavaScript wrapper of the npm package (`js/record.mjs`) reads a record's fields and
//! hands them over in one crossing: one `Float64Array` with a type tag per feature then
//! the features' numbers, and the texts joined by the unit separator `\u{1f}`. Everything else,
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

    /// Where the medium tier starts (the high tier starts at [`WasmScorer::threshold`]).
    #[wasm_bindgen(getter, js_name = mediumFrom)]
    pub fn medium_from(&self) -> f64 {
        self.scorer.artifact().decision.medium_from
    }

    /// Scores one record packed by `js/record.mjs` into one array (the features' type
    /// tags, then their numbers) and its texts. Returns the probability: one number, no
    /// allocation on either side of the crossing.
    #[wasm_bindgen(js_name = scorePacked)]
    pub fn score_packed(&mut self, packed: &[f64], texts: &str) -> Result<f64, JsError> {
        let values = self.unpack(packed, texts)?;
        let score = self
            .scorer
            .score_with(&values, &mut self.buffer)
            .map_err(error)?;
        Ok(score.probability)
    }

    /// Scores one packed record with reasons: returns
    /// `[probability, tier, margin, base, (feature index, contribution) x top]`, the
    /// reasons being the strongest risk-raising contributions, largest first, and the
    /// tier 0 (low), 1 (medium) or 2 (high).
    #[wasm_bindgen(js_name = explainPacked)]
    pub fn explain_packed(
        &self,
        packed: &[f64],
        texts: &str,
        top: usize,
    ) -> Result<Vec<f64>, JsError> {
        let values = self.unpack(packed, texts)?;
        let (score, base, contributions) = self.scorer.contributions(&values).map_err(error)?;
        let mut out = vec![
            score.probability,
            f64::from(score.tier as u8),
            score.margin,
            base,
        ];
        let mut order: Vec<usize> = (0..contributions.len()).collect();
        // Stable, as churn-core's explain: ties keep feature order. (The stable sort is
        // in the module already; an unstable one would add 12 KB.)
        order.sort_by(|&a, &b| contributions[b].total_cmp(&contributions[a]));
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
        let mut out = vec![0.0; values.len() / columns];
        self.scorer
            .score_indexed(values, columns, &mut out)
            .map_err(error)?;
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
        self.scorer
            .categories(feature)
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    }

    /// The record of a packed array (see the module docs) and its texts.
    fn unpack<'a>(&self, packed: &[f64], texts: &'a str) -> Result<Vec<Value<'a>>, JsError> {
        let features = &self.scorer.artifact().feature_spec.features;
        if packed.len() != 2 * features.len() {
            return Err(error(format!(
                "expected {} feature values, got {}",
                features.len(),
                packed.len() / 2
            )));
        }
        let (tags, numbers) = packed.split_at(features.len());
        let mut texts = texts.split(SEPARATOR);
        let mut values = Vec::with_capacity(features.len());
        for ((feature, &tag), &number) in features.iter().zip(tags).zip(numbers) {
            let tag = tag as u8;
            let wrong = |got: &str| {
                error(format!(
                    "feature '{}' expects {}, got {got}",
                    feature.name,
                    feature.kind.expects()
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
