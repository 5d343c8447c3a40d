//! Data drift of a feature table against a model's training profile: per feature its
//! effect sizes ([`churn_core::drift`]), missing rates, values outside the reference's
//! range and new categories; features ranked by PSI times their share of the model's
//! importance, so a drifted column the model hardly uses does not page anyone.

use std::collections::BTreeMap;

use churn_core::drift::{self, CategoryProfile, Level, NumericProfile, PSI_ALERT, PSI_WARN};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, Result};
use crate::features::data::{self, Dataset};
use crate::features::profile::{FeatureProfile, TableProfile, profile};

/// One feature's drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    /// The feature.
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: String,
    /// Population stability index (numbers: reference deciles; categories: their
    /// shares); `None` when the table has no value of the feature.
    pub psi: Option<f64>,
    /// How the feature reads: by its PSI (warn >= 0.1, alert >= 0.25), and alert when
    /// every value is now missing though the reference had values.
    pub level: Level,
    /// Numbers: Kolmogorov–Smirnov statistic.
    pub ks: Option<f64>,
    /// Numbers: Wasserstein distance / reference standard deviation (`None` for a
    /// constant reference: then `out_of_range` tells any change).
    pub wasserstein: Option<f64>,
    /// Categories: Jensen–Shannon distance.
    pub jensen_shannon: Option<f64>,
    /// Categories: Cramér's V.
    pub cramers_v: Option<f64>,
    /// Categories: Pearson's chi-square statistic of the counts then and now, and its
    /// p-value (informative on small samples; the level follows PSI, an effect size).
    #[serde(default)]
    pub chi_square: Option<f64>,
    #[serde(default)]
    pub chi_square_p: Option<f64>,
    /// Missing share in the reference and now.
    pub missing: [f64; 2],
    /// Numbers: share of the values now below the reference's minimum or above its maximum.
    pub out_of_range: Option<f64>,
    /// Categories the reference never saw, with their rows.
    pub new_categories: BTreeMap<String, u64>,
    /// The feature's share of the model's importance (1 for the most important), when known.
    pub importance: Option<f64>,
    /// Within a level, what the ranking sorts by: `psi × importance` (`psi` alone
    /// without importance).
    pub rank_score: f64,
}

/// A table's drift against a model's reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Rows of the reference and of the table now.
    pub rows: [u64; 2],
    /// Features, the most urgent first: alerts, then warnings, each by `rank_score`.
    pub features: Vec<FeatureDrift>,
    /// Features of the reference that the table lacks.
    pub missing_features: Vec<String>,
    /// Features whose kind changed (a number now read as a category, or back): not
    /// comparable, as serious as an alert.
    pub changed_kind: Vec<String>,
    /// Features the table has beyond the reference.
    pub extra_features: Vec<String>,
    /// Features at `warn` and at `alert`.
    pub levels: BTreeMap<String, usize>,
}

fn category_psi(reference: &CategoryProfile, aligned: &BTreeMap<String, u64>) -> Option<f64> {
    let p_total = reference.counts.values().sum::<u64>();
    let q_total = aligned.values().sum::<u64>();
    if p_total == 0 || q_total == 0 {
        return None;
    }
    Some(
        aligned
            .iter()
            .map(|(name, &q)| {
                let p = (reference.counts.get(name).copied().unwrap_or(0) as f64 / p_total as f64)
                    .max(1e-4);
                let q = (q as f64 / q_total as f64).max(1e-4);
                (q - p) * (q / p).ln()
            })
            .sum(),
    )
}

/// The PSI at which a feature warns and alerts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub warn: f64,
    pub alert: f64,
}

impl Band {
    /// The level of `psi`.
    pub fn level(&self, psi: f64) -> Level {
        Level::of(psi, self.warn, self.alert)
    }

    /// A feature's band as `NAME=WARN,ALERT` (the CLI's `--feature-psi`, the function's
    /// `CHURN_MONITOR_FEATURE_PSI`); the message says how to write it.
    pub fn parse_named(text: &str) -> std::result::Result<(String, Band), String> {
        let malformed = || format!("{text}: use NAME=WARN,ALERT (e.g. monthly_charge=0.2,0.4)");
        let (name, band) = text.split_once('=').ok_or_else(malformed)?;
        let (warn, alert) = band.split_once(',').ok_or_else(malformed)?;
        let number = |x: &str| x.trim().parse::<f64>().map_err(|_| malformed());
        let name = name.trim();
        if name.is_empty() {
            return Err(malformed());
        }
        Ok((
            name.to_owned(),
            Band {
                warn: number(warn)?,
                alert: number(alert)?,
            },
        ))
    }
}

impl Default for Band {
    fn default() -> Self {
        Self {
            warn: PSI_WARN,
            alert: PSI_ALERT,
        }
    }
}

/// The PSI thresholds: one band for every feature (and the scores), and bands of their
/// own for the features named (a volatile column may warn later, a key one earlier); and
/// the importance below which a feature at alert does not page anyone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub default: Band,
    #[serde(default)]
    pub features: BTreeMap<String, Band>,
    /// A feature at alert whose share of the model's importance (1 for the most
    /// important) is below this is reported, not raised: the model barely uses it.
    #[serde(default = "default_min_importance")]
    pub min_importance: f64,
}

/// A feature with under 1 % of the most important one's weight does not page anyone.
pub const DEFAULT_MIN_IMPORTANCE: f64 = 0.01;

fn default_min_importance() -> f64 {
    DEFAULT_MIN_IMPORTANCE
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            default: Band::default(),
            features: BTreeMap::new(),
            min_importance: DEFAULT_MIN_IMPORTANCE,
        }
    }
}

impl Thresholds {
    /// The band of `feature`.
    pub fn of(&self, feature: &str) -> Band {
        self.features.get(feature).copied().unwrap_or(self.default)
    }

    /// Every band positive with `warn <= alert`, and every feature named one of the
    /// reference's.
    pub fn check(&self, reference: &TableProfile) -> Result<()> {
        let bad = |band: &Band| {
            !(band.warn.is_finite()
                && band.alert.is_finite()
                && band.warn > 0.0
                && band.warn <= band.alert)
        };
        if !(0.0..=1.0).contains(&self.min_importance) {
            return Err(PipelineError::InvalidInput(format!(
                "minimum importance {}: use a share from 0 to 1 of the most important feature's",
                self.min_importance
            )));
        }
        if bad(&self.default) {
            return Err(PipelineError::InvalidInput(format!(
                "PSI thresholds warn {} and alert {}: use 0 < warn <= alert",
                self.default.warn, self.default.alert
            )));
        }
        for (name, band) in &self.features {
            if !reference.features.contains_key(name) {
                let known: Vec<&str> = reference.features.keys().map(String::as_str).collect();
                return Err(PipelineError::InvalidInput(format!(
                    "a PSI threshold names '{name}', which is not a feature of the model's reference ({})",
                    known.join(", ")
                )));
            }
            if bad(band) {
                return Err(PipelineError::InvalidInput(format!(
                    "{name}: PSI thresholds warn {} and alert {}: use 0 < warn <= alert",
                    band.warn, band.alert
                )));
            }
        }
        Ok(())
    }
}

/// The level of a PSI; a feature with values in the reference and none now is an alert.
fn level_of(psi: Option<f64>, reference_has_values: bool, band: Band) -> Level {
    match psi {
        Some(psi) => band.level(psi),
        None if reference_has_values => Level::Alert,
        None => Level::Stable,
    }
}

/// The drift of one numeric column (`now` its profile): sorted once for every figure.
fn numeric_drift(
    name: &str,
    reference: &NumericProfile,
    now: &NumericProfile,
    values: &[f64],
    band: Band,
) -> FeatureDrift {
    let present = drift::sorted_present(values);
    let range = (reference.quantiles.first(), reference.quantiles.last());
    let out_of_range = match range {
        (Some(&low), Some(&high)) if !present.is_empty() => Some(
            present.iter().filter(|&&v| v < low || v > high).count() as f64 / present.len() as f64,
        ),
        _ => None,
    };
    let psi = drift::psi(reference, &present);
    FeatureDrift {
        name: name.to_owned(),
        kind: "numeric".into(),
        psi,
        level: level_of(psi, !reference.quantiles.is_empty(), band),
        ks: drift::kolmogorov_smirnov_sorted(reference, &present),
        wasserstein: drift::wasserstein_normalised_sorted(reference, &present)
            .filter(|w| w.is_finite()),
        jensen_shannon: None,
        cramers_v: None,
        chi_square: None,
        chi_square_p: None,
        missing: [reference.missing_rate(), now.missing_rate()],
        out_of_range,
        new_categories: BTreeMap::new(),
        importance: None,
        rank_score: 0.0,
    }
}

fn categorical_drift(
    name: &str,
    reference: &CategoryProfile,
    now: &CategoryProfile,
    band: Band,
) -> FeatureDrift {
    let (aligned, new) = reference.align(now);
    let psi = category_psi(reference, &aligned);
    let test = drift::chi_square(reference, now);
    let rate = |p: &CategoryProfile| p.missing as f64 / p.rows.max(1) as f64;
    FeatureDrift {
        name: name.to_owned(),
        kind: "categorical".into(),
        psi,
        level: level_of(psi, reference.counts.values().any(|&c| c > 0), band),
        ks: None,
        wasserstein: None,
        jensen_shannon: drift::jensen_shannon(reference, now),
        cramers_v: test.map(|t| (t.statistic / t.rows).sqrt()),
        chi_square: test.map(|t| t.statistic),
        chi_square_p: test.map(|t| t.p_value),
        missing: [rate(reference), rate(now)],
        out_of_range: None,
        new_categories: new
            .into_iter()
            .map(|name| {
                let rows = now.counts.get(&name).copied().unwrap_or(0);
                (name, rows)
            })
            .collect(),
        importance: None,
        rank_score: 0.0,
    }
}

/// The values of a numeric or yes/no column as numbers (NaN missing).
fn numbers(column: &data::FeatureColumn) -> Vec<f64> {
    match column {
        data::FeatureColumn::Numeric(values) => values.clone(),
        data::FeatureColumn::Boolean(values) => values
            .iter()
            .map(|v| v.map_or(f64::NAN, |b| f64::from(u8::from(b))))
            .collect(),
        data::FeatureColumn::Categorical { .. } => Vec::new(),
    }
}

/// The drift of `data` against `reference`, levels by `thresholds`; `importance`
/// (feature, mean |contribution|) ranks it when given. A table without rows is refused:
/// it would read as stable.
pub fn data_drift(
    reference: &TableProfile,
    data: &Dataset,
    importance: &[(String, f64)],
    thresholds: &Thresholds,
) -> Result<DriftReport> {
    thresholds.check(reference)?;
    if data.is_empty() {
        return Err(PipelineError::InvalidInput(
            "the feature table has no rows: nothing to compare with the model's reference".into(),
        ));
    }
    let now = profile(data);
    let most = importance.iter().map(|(_, v)| *v).fold(0.0f64, f64::max);
    let share: BTreeMap<&str, f64> = importance
        .iter()
        .filter(|_| most > 0.0)
        .map(|(name, value)| (name.as_str(), value / most))
        .collect();
    let (mut features, mut missing_features, mut changed_kind) =
        (Vec::new(), Vec::new(), Vec::new());
    // The features are independent: measured on every core.
    enum Outcome {
        Measured(Box<FeatureDrift>),
        Missing,
        ChangedKind,
    }
    let outcomes: Vec<(String, Outcome)> = reference
        .features
        .par_iter()
        .map(|(name, kept)| {
            let Some(position) = data.spec.features.iter().position(|f| &f.name == name) else {
                return (name.clone(), Outcome::Missing);
            };
            let mut drift = match (kept, &now.features[name]) {
                (FeatureProfile::Numeric(reference), FeatureProfile::Numeric(now)) => {
                    numeric_drift(
                        name,
                        reference,
                        now,
                        &numbers(&data.columns[position]),
                        thresholds.of(name),
                    )
                }
                (FeatureProfile::Categorical(reference), FeatureProfile::Categorical(now)) => {
                    categorical_drift(name, reference, now, thresholds.of(name))
                }
                _ => return (name.clone(), Outcome::ChangedKind),
            };
            drift.importance = share.get(name.as_str()).copied();
            drift.rank_score = drift.psi.unwrap_or(0.0) * drift.importance.unwrap_or(1.0);
            (name.clone(), Outcome::Measured(Box::new(drift)))
        })
        .collect();
    for (name, outcome) in outcomes {
        match outcome {
            Outcome::Measured(drift) => features.push(*drift),
            Outcome::Missing => missing_features.push(name),
            Outcome::ChangedKind => changed_kind.push(name),
        }
    }
    features.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.rank_score.total_cmp(&a.rank_score))
            .then_with(|| a.name.cmp(&b.name))
    });
    let extra_features = data
        .spec
        .features
        .iter()
        .filter(|f| !reference.features.contains_key(&f.name))
        .map(|f| f.name.clone())
        .collect();
    let mut levels = BTreeMap::new();
    for drift in &features {
        if drift.level != Level::Stable {
            *levels
                .entry(format!("{:?}", drift.level).to_lowercase())
                .or_insert(0) += 1;
        }
    }
    Ok(DriftReport {
        rows: [reference.rows, now.rows],
        features,
        missing_features,
        changed_kind,
        extra_features,
        levels,
    })
}

#[cfg(test)]
mod tests {
    use churn_core::{FeatureDef, FeatureKind, FeatureSpec};

    use super::*;
    use crate::features::data::FeatureColumn;

    fn table(features: Vec<(&str, FeatureColumn)>) -> Dataset {
        let rows = match &features[0].1 {
            FeatureColumn::Numeric(v) => v.len(),
            FeatureColumn::Boolean(v) => v.len(),
            FeatureColumn::Categorical { codes, .. } => codes.len(),
        };
        let defs = features
            .iter()
            .map(|(name, column)| {
                let kind = match column {
                    FeatureColumn::Numeric(_) => FeatureKind::Numeric,
                    FeatureColumn::Boolean(_) => FeatureKind::Boolean,
                    FeatureColumn::Categorical { .. } => FeatureKind::Categorical,
                };
                FeatureDef::new(*name, kind, "")
            })
            .collect();
        Dataset {
            spec: FeatureSpec::new("id", None, defs),
            ids: (0..rows).map(|i| i.to_string()).collect(),
            labels: Vec::new(),
            columns: features.into_iter().map(|(_, c)| c).collect(),
            hash: String::new(),
            warnings: Vec::new(),
            horizon_days: None,
        }
    }

    fn plans(shares: [usize; 3], levels: &[&str]) -> FeatureColumn {
        let codes = (0..1000u32)
            .map(|i| {
                let i = i as usize % 100;
                if i < shares[0] {
                    0
                } else if i < shares[0] + shares[1] {
                    1
                } else {
                    2
                }
            })
            .collect();
        FeatureColumn::Categorical {
            codes,
            levels: levels.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_shifted_important_feature_ranks_first_and_new_categories_are_named() {
        let tenure = |shift: f64| {
            FeatureColumn::Numeric((0..1000).map(|i| f64::from(i % 100) + shift).collect())
        };
        let reference = profile(&table(vec![
            ("tenure", tenure(0.0)),
            ("noise", tenure(0.0)),
            (
                "plan",
                plans([50, 30, 20], &["annual", "monthly", "two-year"]),
            ),
            ("dropped", tenure(0.0)),
        ]));
        let now = table(vec![
            ("tenure", tenure(40.0)),
            ("noise", tenure(40.0)),
            (
                "plan",
                plans([50, 30, 20], &["annual", "monthly", "weekly"]),
            ),
            ("extra", tenure(0.0)),
        ]);
        let importance = vec![
            ("tenure".to_owned(), 0.8),
            ("noise".to_owned(), 0.01),
            ("plan".to_owned(), 0.4),
        ];
        let report =
            data_drift(&reference, &now, &importance, &Thresholds::default()).expect("drift");
        let names: Vec<&str> = report.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names[0], "tenure", "{names:?}");
        assert_eq!(report.missing_features, vec!["dropped".to_owned()]);
        assert_eq!(report.extra_features, vec!["extra".to_owned()]);
        let tenure = &report.features[0];
        assert_eq!(tenure.level, Level::Alert);
        assert!((tenure.out_of_range.expect("range") - 0.4).abs() < 1e-9);
        assert_eq!(tenure.importance, Some(1.0));
        // The same shift on a column the model hardly uses ranks below.
        let noise = report
            .features
            .iter()
            .find(|f| f.name == "noise")
            .expect("noise");
        assert_eq!(noise.level, Level::Alert);
        assert!(noise.rank_score < tenure.rank_score / 10.0);
        let plan = report
            .features
            .iter()
            .find(|f| f.name == "plan")
            .expect("plan");
        assert_eq!(plan.new_categories.get("weekly"), Some(&200));
        // 200 of 1,000 rows moved to a new category: chi-square clear, and its V the same
        // test scaled.
        let (chi2, p) = (
            plan.chi_square.expect("chi2"),
            plan.chi_square_p.expect("p"),
        );
        assert!(chi2 > 100.0 && p < 1e-20, "{chi2} {p}");
        let v = plan.cramers_v.expect("v");
        assert!((v - (chi2 / 2000.0).sqrt()).abs() < 1e-12);
        assert_eq!(plan.level, Level::Alert);
        assert_eq!(report.levels.get("alert"), Some(&3));
        // Unchanged data: stable everywhere.
        let same = table(vec![
            ("tenure", tenure_again()),
            ("noise", tenure_again()),
            (
                "plan",
                plans([50, 30, 20], &["annual", "monthly", "two-year"]),
            ),
            ("dropped", tenure_again()),
        ]);
        let stable =
            data_drift(&reference, &same, &importance, &Thresholds::default()).expect("drift");
        assert!(
            stable.features.iter().all(|f| f.level == Level::Stable),
            "{stable:?}"
        );
        assert!(stable.levels.is_empty());
    }

    #[test]
    fn emptied_constant_and_retyped_columns_are_alerts_and_an_empty_table_is_refused() {
        let constant = || FeatureColumn::Numeric(vec![5.0; 200]);
        let reference = profile(&table(vec![
            (
                "gone",
                FeatureColumn::Numeric((0..200).map(f64::from).collect()),
            ),
            ("flat", constant()),
            ("retyped", constant()),
        ]));
        let now = table(vec![
            ("gone", FeatureColumn::Numeric(vec![f64::NAN; 200])),
            ("flat", FeatureColumn::Numeric(vec![7.0; 200])),
            (
                "retyped",
                FeatureColumn::Categorical {
                    codes: vec![0; 200],
                    levels: vec!["five".to_owned()],
                },
            ),
        ]);
        let report = data_drift(&reference, &now, &[], &Thresholds::default()).expect("drift");
        assert_eq!(report.changed_kind, vec!["retyped".to_owned()]);
        let gone = report
            .features
            .iter()
            .find(|f| f.name == "gone")
            .expect("gone");
        assert_eq!((gone.psi, gone.level), (None, Level::Alert));
        assert_eq!(gone.missing, [0.0, 1.0]);
        let flat = report
            .features
            .iter()
            .find(|f| f.name == "flat")
            .expect("flat");
        assert_eq!(flat.wasserstein, None, "undefined for a constant reference");
        assert_eq!(flat.out_of_range, Some(1.0));
        assert_eq!(flat.level, Level::Alert);
        // Every figure survives a round trip through drift.json (no infinities).
        let json = serde_json::to_string(&report).expect("json");
        let back: DriftReport = serde_json::from_str(&json).expect("read back");
        assert_eq!(back, report);
        let empty = table(vec![("gone", FeatureColumn::Numeric(Vec::new()))]);
        let error =
            data_drift(&reference, &empty, &[], &Thresholds::default()).expect_err("refused");
        assert!(error.to_string().contains("no rows"), "{error}");
    }

    #[test]
    fn a_feature_with_its_own_thresholds_reads_by_them_and_bad_ones_are_named() {
        let shifted = |shift: f64| {
            FeatureColumn::Numeric((0..1000).map(|i| f64::from(i % 100) + shift).collect())
        };
        let reference = profile(&table(vec![
            ("tenure", shifted(0.0)),
            ("usage", shifted(0.0)),
        ]));
        let now = table(vec![("tenure", shifted(40.0)), ("usage", shifted(40.0))]);
        let mut thresholds = Thresholds::default();
        // A volatile column alerts only far out.
        thresholds.features.insert(
            "usage".into(),
            Band {
                warn: 50.0,
                alert: 100.0,
            },
        );
        let report = data_drift(&reference, &now, &[], &thresholds).expect("drift");
        let level = |name: &str| {
            report
                .features
                .iter()
                .find(|f| f.name == name)
                .expect("feature")
                .level
        };
        assert_eq!(
            (level("tenure"), level("usage")),
            (Level::Alert, Level::Stable)
        );
        thresholds.features.insert(
            "tenur".into(),
            Band {
                warn: 0.1,
                alert: 0.2,
            },
        );
        let error = data_drift(&reference, &now, &[], &thresholds).expect_err("unknown");
        assert!(
            error
                .to_string()
                .contains("'tenur', which is not a feature"),
            "{error}"
        );
        let inverted = Thresholds {
            default: Band {
                warn: 0.3,
                alert: 0.2,
            },
            ..Thresholds::default()
        };
        let error = data_drift(&reference, &now, &[], &inverted).expect_err("inverted");
        assert!(error.to_string().contains("0 < warn <= alert"), "{error}");
    }

    fn tenure_again() -> FeatureColumn {
        FeatureColumn::Numeric((0..1000).map(|i| f64::from(i % 100)).collect())
    }
}
