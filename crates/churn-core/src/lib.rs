//! The pure heart of the churn platform.
//!
//! `churn-core` owns what every scorer must agree on, whether it runs in the batch
//! pipeline, a Lambda or a browser: the feature-row schema ([`FeatureSpec`]), the
//! normalisation of categorical values ([`normalize_category`]), the model artifact
//! ([`ModelArtifact`]: fitted preprocessing, model, calibration, decision) and scoring with
//! reason codes ([`Scorer`]), and the metrics every report uses ([`metrics`]). It also
//! holds the storage [`layout`], so that every host builds the same keys.
//!
//! It must stay pure: no polars, no tokio, no AWS, no clocks and no OS randomness, so that
//! it builds for `wasm32-unknown-unknown` (the test command checks this).
//!
//! ```
//! use churn_core::{FeatureDef, FeatureKind, FeatureSpec, normalize_category};
//!
//! let spec = FeatureSpec::new(
//!     "customer_id",
//!     Some("churned"),
//!     vec![
//!         FeatureDef::new("tenure_days", FeatureKind::Numeric, "Days since the first account started"),
//!         FeatureDef::new("contract_type", FeatureKind::Categorical, "Contract of the active account"),
//!     ],
//! );
//! assert_eq!(spec.features.len(), 2);
//! assert_eq!(spec.hash.len(), 16);
//! assert_eq!(normalize_category("  Month-to-Month "), "month-to-month");
//! ```

pub mod artifact;
pub mod calibration;
mod category;
pub mod decision;
pub mod drift;
mod error;
pub mod estimate;
mod feature_spec;
mod hash;
pub mod layout;
pub mod listing;
pub mod metrics;
pub mod model;
pub mod playbook;
pub mod preprocess;
mod score;
pub mod shap;
pub mod uplift;
mod value;

pub use artifact::{ARTIFACT_SCHEMA_VERSION, Component, Lineage, ModelArtifact};
pub use category::normalize_category;
pub use decision::{Decision, Tier};
pub use error::{ArtifactError, ScoreError};
pub use feature_spec::{FEATURE_SPEC_VERSION, FeatureDef, FeatureKind, FeatureSpec};
pub use hash::{Fnv64, fnv64_hex};
pub use score::{
    Explanation, Reason, Score, Scorer, ScoringComponent, raw_probability, reason_label,
};
pub use value::Value;
