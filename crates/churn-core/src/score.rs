//! Scoring: a loaded artifact turned into a [`Scorer`] that takes raw feature records and
//! returns calibrated probabilities, tiers and reason codes. The same code runs in the
//! batch pipeline, the Lambdas and the browser, which is what makes their scores equal.

use crate::artifact::ModelArtifact;
use crate::calibration::sigmoid;
use crate::decision::Tier;
use crate::error::{ArtifactError, ScoreError};
use crate::model::{Aggregation, CompiledTrees, Model};
use crate::shap::{ShapBuffers, TreeShap};
use crate::value::Value;

/// The score of one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Calibrated churn probability.
    pub probability: f64,
    /// Risk tier of that probability.
    pub tier: Tier,
    /// The model's uncalibrated margin (log-odds, or a probability for forests).
    pub margin: f64,
}

/// One feature's part in a score.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// Feature name.
    pub feature: String,
    /// What the feature means (from the spec).
    pub description: String,
    /// The customer's value, as text.
    pub value: String,
    /// Its contribution to the margin: positive raises the risk.
    pub contribution: f64,
}

impl Reason {
    /// The reason as a person reads it: `late payment count 90d = 2`.
    pub fn label(&self) -> String {
        reason_label(&self.feature, &self.value)
    }
}

/// A reason as a person reads it, from the feature name and the customer's value.
pub fn reason_label(feature: &str, value: &str) -> String {
    format!("{} = {value}", feature.replace('_', " "))
}

/// A score with every feature's contribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The score.
    pub score: Score,
    /// The margin of an average customer: `base + Σ contributions = margin`.
    pub base: f64,
    /// Every feature's contribution, largest first.
    pub contributions: Vec<Reason>,
}

impl Explanation {
    /// The `count` strongest reasons raising the risk.
    pub fn top_reasons(&self, count: usize) -> impl Iterator<Item = &Reason> {
        self.contributions
            .iter()
            .filter(|reason| reason.contribution > 0.0)
            .take(count)
    }
}

#[derive(Debug, Clone)]
enum Compiled {
    Linear,
    Trees(CompiledTrees, TreeShap),
}

/// One component of a scorer: its compiled model and where its encoding lives in the
/// scorer's buffer.
#[derive(Debug, Clone)]
pub struct ScoringComponent {
    weight: f64,
    compiled: Compiled,
    offset: usize,
    width: usize,
    sources: Vec<usize>,
    index: usize,
}

impl ScoringComponent {
    /// Encoded columns of this component.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Weight of its margin.
    pub fn weight(&self) -> f64 {
        self.weight
    }
}

/// A validated artifact, compiled for fast scoring.
#[derive(Debug, Clone)]
pub struct Scorer {
    artifact: ModelArtifact,
    components: Vec<ScoringComponent>,
    /// Feature names sorted, with their position: lookups by name.
    by_name: Vec<(String, usize)>,
    width: usize,
    margin_is_probability: bool,
}

fn format_value(value: Value<'_>) -> String {
    match value {
        Value::Missing => "missing".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Value::Number(x) => {
            let text = format!("{x:.2}");
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
        Value::Text(text) => crate::category::normalize_category(text).into_owned(),
    }
}

impl Scorer {
    /// Validates and compiles an artifact.
    pub fn new(artifact: ModelArtifact) -> Result<Self, ArtifactError> {
        artifact.validate()?;
        let mut offset = 0;
        let components = artifact
            .components
            .iter()
            .enumerate()
            .map(|(index, component)| {
                let width = component.preprocessing.width();
                let compiled = match &component.model {
                    Model::Linear(_) => Compiled::Linear,
                    Model::Trees(ensemble) => Compiled::Trees(
                        CompiledTrees::new(ensemble, width),
                        TreeShap::new(&ensemble.trees),
                    ),
                };
                let scoring = ScoringComponent {
                    weight: component.weight,
                    compiled,
                    offset,
                    width,
                    sources: component.preprocessing.output_sources(),
                    index,
                };
                offset += width;
                scoring
            })
            .collect();
        let mut by_name: Vec<(String, usize)> = artifact
            .feature_spec
            .features
            .iter()
            .enumerate()
            .map(|(index, feature)| (feature.name.clone(), index))
            .collect();
        by_name.sort();
        Ok(Self {
            margin_is_probability: artifact.margin_is_probability(),
            artifact,
            components,
            by_name,
            width: offset,
        })
    }

    /// The artifact behind this scorer.
    pub fn artifact(&self) -> &ModelArtifact {
        &self.artifact
    }

    /// The components, for batch scoring one model at a time.
    pub fn components(&self) -> &[ScoringComponent] {
        &self.components
    }

    /// Number of features a record has.
    pub fn feature_count(&self) -> usize {
        self.artifact.feature_spec.features.len()
    }

    /// Number of encoded columns of all components together.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Position of a feature in records, by name.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.by_name
            .binary_search_by(|(candidate, _)| candidate.as_str().cmp(name))
            .ok()
            .map(|found| self.by_name[found].1)
    }

    /// Encodes a record (values in spec order) for every component into `out`
    /// (`width()` long, components one after another).
    pub fn encode(&self, values: &[Value<'_>], out: &mut [f64]) -> Result<(), ScoreError> {
        for component in &self.components {
            self.artifact.components[component.index]
                .preprocessing
                .encode(
                    values,
                    &mut out[component.offset..component.offset + component.width],
                )?;
        }
        Ok(())
    }

    /// Encodes a record for one component into `out` (its `width()` long).
    pub fn encode_component(
        &self,
        component: &ScoringComponent,
        values: &[Value<'_>],
        out: &mut [f64],
    ) -> Result<(), ScoreError> {
        self.artifact.components[component.index]
            .preprocessing
            .encode(values, out)
    }

    fn component_margin(&self, component: &ScoringComponent, encoded: &[f64]) -> f64 {
        match &component.compiled {
            Compiled::Trees(trees, _) => trees.margin(encoded),
            Compiled::Linear => self.artifact.components[component.index]
                .model
                .margin(encoded),
        }
    }

    /// The margin of a record encoded by [`Scorer::encode`].
    pub fn margin_encoded(&self, encoded: &[f64]) -> f64 {
        let mut total = 0.0;
        for component in &self.components {
            let slice = &encoded[component.offset..component.offset + component.width];
            total += component.weight * self.component_margin(component, slice);
        }
        total
    }

    /// Margins of one component for many rows encoded for it, laid out one after another;
    /// weight not applied.
    pub fn component_margins(&self, component: &ScoringComponent, rows: &[f64], out: &mut [f64]) {
        match &component.compiled {
            Compiled::Trees(trees, _) => trees.margins(rows, component.width, out),
            Compiled::Linear => {
                let model = &self.artifact.components[component.index].model;
                for (row, slot) in rows.chunks(component.width.max(1)).zip(out.iter_mut()) {
                    *slot = model.margin(row);
                }
            }
        }
    }

    /// A record given as a JSON object (feature name to value), in spec order: numbers,
    /// booleans and strings as they are, `null` or an absent key as missing. A key that
    /// is not a feature, or an object or array as a value, is an error naming it.
    #[cfg(feature = "json")]
    pub fn values_from_json<'a>(
        &self,
        record: &'a serde_json::Value,
    ) -> Result<Vec<Value<'a>>, ScoreError> {
        use serde_json::Value as Json;
        let Json::Object(fields) = record else {
            return Err(ScoreError::NotARecord {
                got: match record {
                    Json::Array(_) => "an array",
                    Json::String(_) => "a string",
                    Json::Number(_) => "a number",
                    Json::Bool(_) => "a boolean",
                    _ => "null",
                },
            });
        };
        let features = &self.artifact.feature_spec.features;
        let mut values = vec![Value::Missing; features.len()];
        for (field, value) in fields {
            let Some(index) = self.feature_index(field) else {
                let simplified = |name: &str| {
                    name.chars()
                        .filter(|c| c.is_alphanumeric())
                        .flat_map(char::to_lowercase)
                        .collect::<String>()
                };
                let hint = features
                    .iter()
                    .find(|f| simplified(&f.name) == simplified(field))
                    .map(|f| format!(", did you mean '{}'?", f.name))
                    .unwrap_or_default();
                return Err(ScoreError::UnknownFeature {
                    field: field.clone(),
                    hint,
                });
            };
            values[index] = match value {
                Json::Null => Value::Missing,
                Json::Bool(flag) => Value::Bool(*flag),
                Json::Number(number) => Value::Number(number.as_f64().unwrap_or(f64::NAN)),
                Json::String(text) => Value::Text(text),
                Json::Array(_) | Json::Object(_) => {
                    return Err(ScoreError::WrongType {
                        feature: field.clone(),
                        expected: features[index].kind.expects(),
                        got: if value.is_array() {
                            "an array"
                        } else {
                            "an object"
                        }
                        .to_owned(),
                    });
                }
            };
        }
        Ok(values)
    }

    /// The categories of a categorical feature, when every component lists the same
    /// ones (what [`Scorer::score_indexed`] indices refer to).
    pub fn categories(&self, feature: usize) -> Option<&[String]> {
        let mut lists = self.artifact.components.iter().map(|component| {
            component
                .preprocessing
                .inputs
                .get(feature)
                .and_then(|i| i.encoding.categories())
        });
        let first = lists.next().flatten()?;
        lists.all(|other| other == Some(first)).then_some(first)
    }

    /// Calibrated probabilities of many records given as numbers (see
    /// [`crate::preprocess::Preprocessing::encode_indexed`]), `columns` per record.
    /// Encodes whole blocks and walks them through the trees together: the fast path.
    pub fn score_indexed(
        &self,
        rows: &[f64],
        columns: usize,
        out: &mut [f64],
    ) -> Result<(), ScoreError> {
        const ROWS: usize = 1024;
        let mut encoded = Vec::new();
        let mut margins = vec![0.0; ROWS];
        for (block, out) in rows.chunks(ROWS * columns.max(1)).zip(out.chunks_mut(ROWS)) {
            out.fill(0.0);
            for component in &self.components {
                let preprocessing = &self.artifact.components[component.index].preprocessing;
                encoded.resize(out.len() * component.width, 0.0);
                for (row, slot) in block
                    .chunks(columns.max(1))
                    .zip(encoded.chunks_mut(component.width.max(1)))
                {
                    preprocessing.encode_indexed(row, slot)?;
                }
                self.component_margins(component, &encoded, &mut margins[..out.len()]);
                for (total, margin) in out.iter_mut().zip(&margins) {
                    *total += component.weight * margin;
                }
            }
            for slot in out.iter_mut() {
                *slot = self.score_margin(*slot).probability;
            }
        }
        Ok(())
    }

    /// The calibrated score of a margin.
    pub fn score_margin(&self, margin: f64) -> Score {
        let probability = self
            .artifact
            .calibration
            .probability(margin, self.margin_is_probability);
        Score {
            probability,
            tier: self.artifact.decision.tier(probability),
            margin,
        }
    }

    /// Scores a record (values in spec order), using `buffer` for the encoding.
    pub fn score_with(
        &self,
        values: &[Value<'_>],
        buffer: &mut Vec<f64>,
    ) -> Result<Score, ScoreError> {
        buffer.resize(self.width, 0.0);
        self.encode(values, buffer)?;
        Ok(self.score_margin(self.margin_encoded(buffer)))
    }

    /// Scores a record (values in spec order).
    pub fn score(&self, values: &[Value<'_>]) -> Result<Score, ScoreError> {
        self.score_with(values, &mut Vec::new())
    }

    /// Scores a record and attributes its margin to the features: exact TreeSHAP for
    /// trees, weight × standardised value for linear models, weighted across components.
    /// Returns the score, the margin of an average customer (`base`) and one contribution
    /// per feature, in spec order: `base + Σ contributions = margin`.
    pub fn contributions(
        &self,
        values: &[Value<'_>],
    ) -> Result<(Score, f64, Vec<f64>), ScoreError> {
        let mut encoded = vec![0.0; self.width];
        self.encode(values, &mut encoded)?;
        let margin = self.margin_encoded(&encoded);
        let mut totals = vec![0.0; self.feature_count()];
        let mut base = 0.0;
        let mut buffers = ShapBuffers::default();
        for component in &self.components {
            let x = &encoded[component.offset..component.offset + component.width];
            let mut phi = vec![0.0; component.width];
            let model = &self.artifact.components[component.index].model;
            let component_base = match (model, &component.compiled) {
                (Model::Linear(linear), _) => {
                    for ((slot, weight), value) in phi.iter_mut().zip(&linear.weights).zip(x) {
                        *slot = weight * value;
                    }
                    linear.intercept
                }
                (Model::Trees(ensemble), Compiled::Trees(_, shap)) => {
                    let (scale, start) = match ensemble.aggregation {
                        Aggregation::Sum { base_score } => (1.0, base_score),
                        Aggregation::Mean => (1.0 / ensemble.trees.len() as f64, 0.0),
                    };
                    let mut expected = 0.0;
                    for ((index, tree), value) in ensemble
                        .trees
                        .iter()
                        .enumerate()
                        .zip(shap.expected_values())
                    {
                        shap.add(index, tree, x, scale, &mut phi, &mut buffers);
                        expected += value * scale;
                    }
                    start + expected
                }
                (Model::Trees(_), Compiled::Linear) => {
                    unreachable!("Scorer::new compiles every tree model as trees")
                }
            };
            base += component.weight * component_base;
            for (column, value) in phi.iter().enumerate() {
                totals[component.sources[column]] += component.weight * value;
            }
        }
        Ok((self.score_margin(margin), base, totals))
    }

    /// [`Scorer::contributions`] as readable reasons, largest contribution first.
    pub fn explain(&self, values: &[Value<'_>]) -> Result<Explanation, ScoreError> {
        let (score, base, totals) = self.contributions(values)?;
        let features = &self.artifact.feature_spec.features;
        let mut contributions: Vec<Reason> = features
            .iter()
            .zip(totals)
            .zip(values)
            .map(|((feature, contribution), value)| Reason {
                feature: feature.name.clone(),
                description: feature.description.clone(),
                value: format_value(*value),
                contribution,
            })
            .collect();
        contributions.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        Ok(Explanation {
            score,
            base,
            contributions,
        })
    }
}

/// The probability of a log-odds margin, uncalibrated (for the trainer's diagnostics).
pub fn raw_probability(margin: f64, margin_is_probability: bool) -> f64 {
    if margin_is_probability {
        margin
    } else {
        sigmoid(margin)
    }
}
