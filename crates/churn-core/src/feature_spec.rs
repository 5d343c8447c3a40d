//! The feature-row schema: which columns a feature table has, of what kind, and what they
//! mean. It is written beside every feature table and, later, inside every model artifact,
//! so that a scorer can refuse a table built with other features.

use serde::{Deserialize, Serialize};

use crate::hash::Fnv64;

/// Version of the [`FeatureSpec`] layout itself (not of any particular feature set).
pub const FEATURE_SPEC_VERSION: u32 = 1;

/// How a feature is encoded for models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// A real number; missing values are allowed and imputed by the fitted preprocessing.
    Numeric,
    /// A normalised string label (see [`crate::normalize_category`]).
    Categorical,
    /// True or false; stored as a boolean column.
    Boolean,
}

impl FeatureKind {
    /// The name used in specs and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Numeric => "numeric",
            Self::Categorical => "categorical",
            Self::Boolean => "boolean",
        }
    }

    /// What a record may hold for a feature of this kind, for error messages.
    pub fn expects(self) -> &'static str {
        match self {
            Self::Numeric => "a number",
            Self::Categorical => "a category (text)",
            Self::Boolean => "a boolean",
        }
    }
}

/// One feature column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDef {
    /// Column name in the feature table, snake_case.
    pub name: String,
    /// Encoding kind.
    pub kind: FeatureKind,
    /// What the value means, for people reading reports and reason codes.
    pub description: String,
}

impl FeatureDef {
    /// A feature definition.
    pub fn new(name: impl Into<String>, kind: FeatureKind, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind,
            description: description.into(),
        }
    }
}

/// The schema of a feature table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Layout version of this struct ([`FEATURE_SPEC_VERSION`] when written).
    pub spec_version: u32,
    /// Column holding the customer identifier (not a feature).
    pub id_column: String,
    /// Column holding the 0/1 label, when the table has one (not a feature).
    pub label_column: Option<String>,
    /// The features, in table order.
    pub features: Vec<FeatureDef>,
    /// Fingerprint of the names and kinds (16 hex digits). Descriptions are not part of it:
    /// rewording a description does not invalidate a model.
    pub hash: String,
}

impl FeatureSpec {
    /// A spec with its hash computed.
    pub fn new(
        id_column: impl Into<String>,
        label_column: Option<&str>,
        features: Vec<FeatureDef>,
    ) -> Self {
        let hash = Self::compute_hash(&features);
        Self {
            spec_version: FEATURE_SPEC_VERSION,
            id_column: id_column.into(),
            label_column: label_column.map(str::to_owned),
            features,
            hash,
        }
    }

    /// The hash of the feature names and kinds, in order.
    pub fn compute_hash(features: &[FeatureDef]) -> String {
        let mut hasher = Fnv64::default();
        hasher.write_str("feature-spec/v1");
        for feature in features {
            hasher.write_str(&feature.name);
            hasher.write_str(feature.kind.as_str());
        }
        hasher.finish_hex()
    }

    /// Whether the stored hash matches the features (false after a hand edit).
    pub fn hash_is_consistent(&self) -> bool {
        self.hash == Self::compute_hash(&self.features)
    }

    /// The feature with this name.
    pub fn feature(&self, name: &str) -> Option<&FeatureDef> {
        self.features.iter().find(|feature| feature.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FeatureSpec {
        FeatureSpec::new(
            "customer_id",
            Some("churned"),
            vec![
                FeatureDef::new("tenure_days", FeatureKind::Numeric, "days"),
                FeatureDef::new("contract_type", FeatureKind::Categorical, "contract"),
            ],
        )
    }

    #[test]
    fn hash_ignores_descriptions_but_not_kinds_or_order() {
        let base = spec();
        let mut reworded = base.features.clone();
        reworded[0].description = "tenure in days".into();
        assert_eq!(FeatureSpec::compute_hash(&reworded), base.hash);

        let mut rekinded = base.features.clone();
        rekinded[1].kind = FeatureKind::Numeric;
        assert_ne!(FeatureSpec::compute_hash(&rekinded), base.hash);

        let mut reordered = base.features.clone();
        reordered.reverse();
        assert_ne!(FeatureSpec::compute_hash(&reordered), base.hash);
    }

    #[test]
    fn json_round_trip_keeps_the_hash_consistent() {
        let json = serde_json::to_string(&spec()).expect("serialize");
        let back: FeatureSpec = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, spec());
        assert!(back.hash_is_consistent());
        assert!(json.contains("\"kind\":\"categorical\""));
    }
}
