//! Schema version 1 of the binary encoding, kept so that v1 `model.bin` files keep
//! loading: a private mirror of the v1 layout, converted into the current struct.
//!
//! postcard is not self-describing: it writes fields in order without names, so a field
//! added later (even with `#[serde(default)]`) changes the layout and old bytes no longer
//! decode as the current struct. JSON needs no mirror (its fields are named).
//!
//! Version 2 changed [`Lineage`] only (it added `horizon_days`); everything inside the
//! components, the spec, the calibration and the decision has the same layout as in
//! version 1, so those types are reused here. A version that changes one of them must copy
//! its v1 layout into this module, or the checked-in v1 fixture stops loading (its tests
//! say so).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Component, Lineage, ModelArtifact};
use crate::calibration::Calibration;
use crate::decision::Decision;
use crate::feature_spec::FeatureSpec;

/// A v1 artifact, field for field in v1 order.
#[derive(Deserialize)]
pub(super) struct ArtifactV1 {
    schema_version: u32,
    model_id: String,
    family: String,
    feature_spec: FeatureSpec,
    components: Vec<Component>,
    calibration: Calibration,
    decision: Decision,
    metrics: BTreeMap<String, f64>,
    lineage: LineageV1,
}

/// A v1 lineage: no horizon.
#[derive(Deserialize)]
struct LineageV1 {
    created_by: String,
    trained_at: String,
    data_hash: String,
    training_rows: u64,
    seed: u64,
    parameters: BTreeMap<String, String>,
}

impl From<ArtifactV1> for ModelArtifact {
    fn from(v1: ArtifactV1) -> Self {
        let LineageV1 {
            created_by,
            trained_at,
            data_hash,
            training_rows,
            seed,
            parameters,
        } = v1.lineage;
        Self {
            schema_version: v1.schema_version,
            model_id: v1.model_id,
            family: v1.family,
            feature_spec: v1.feature_spec,
            components: v1.components,
            calibration: v1.calibration,
            decision: v1.decision,
            metrics: v1.metrics,
            lineage: Lineage {
                created_by,
                trained_at,
                data_hash,
                training_rows,
                seed,
                parameters,
                horizon_days: None,
            },
        }
    }
}
