//! The candidates of a day's retention plan: the scored customers of a prediction run
//! at or above the lowest tier the playbook acts on, with what the playbook decides on:
//! the monthly charge (customer value) and the segment attributes from the feature
//! table the scores came from, and contact details, opt-out and do-not-contact flags
//! from the curated customers.
//!
//! Without the customers' contact data nobody can be messaged: every candidate is then
//! treated as opted out, so only CRM actions remain, and a warning says so.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use churn_core::Tier;
use churn_core::playbook::{Candidate, Playbook};
use polars::prelude::*;

use crate::error::{PipelineError, PolarsContext, Result};
use crate::features::table_files;
use crate::predict::shards::prediction_files;
use crate::store::scan_parquet_file;

/// Where a day's candidates come from.
#[derive(Debug, Clone)]
pub struct CandidateSources {
    /// A prediction folder (with `predictions.parquet`, or the `shard=*/` folders of a
    /// day scored in shards) or the file itself.
    pub predictions: PathBuf,
    /// The feature folder (whole or in parts) or table that was scored (for values and
    /// segments).
    pub features: Option<PathBuf>,
    /// `curated/customers/data.parquet` (contact details and flags).
    pub customers: Option<PathBuf>,
}

/// The candidates, and what the user should know about them.
#[derive(Debug, Clone)]
pub struct Candidates {
    pub candidates: Vec<Candidate>,
    /// Scored customers read (all tiers).
    pub scored: u64,
    pub warnings: Vec<String>,
}

fn tier_of(text: &str) -> Option<Tier> {
    match text {
        "high" => Some(Tier::High),
        "medium" => Some(Tier::Medium),
        "low" => Some(Tier::Low),
        _ => None,
    }
}

/// Reads the candidates for `playbook` from `sources`.
pub fn load_candidates(sources: &CandidateSources, playbook: &Playbook) -> Result<Candidates> {
    let files = if sources.predictions.is_dir() {
        prediction_files(&sources.predictions)?
    } else if sources.predictions.exists() {
        vec![sources.predictions.clone()]
    } else {
        return Err(PipelineError::Missing(format!(
            "{}: no predictions (run `churn predict` first)",
            sources.predictions.display()
        )));
    };
    let lowest = playbook.lowest_tier();
    let wanted: Vec<&str> = [Tier::High, Tier::Medium, Tier::Low]
        .into_iter()
        .filter(|t| *t >= lowest)
        .map(Tier::as_str)
        .collect();
    let mut candidates = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut scored = 0;
    for file in &files {
        scored += read_scores(file, &wanted, &mut candidates, &mut index)?;
    }

    let mut warnings = Vec::new();
    let attributes = playbook.segment_attributes();
    match &sources.features {
        Some(features) => {
            let tables = if features.is_dir() {
                table_files(features)?
            } else {
                vec![features.clone()]
            };
            for table in &tables {
                join_features(table, &attributes, &index, &mut candidates, &mut warnings)?;
            }
            warnings.dedup();
        }
        None => warnings.push(
            "no feature table: monthly charges and segments are unknown, so customer values \
             fall back to value.default_monthly_charge and segment rules match nobody"
                .into(),
        ),
    }
    match &sources.customers {
        Some(customers) => join_customers(customers, &index, &mut candidates, &mut warnings)?,
        None => {
            warnings.push(
                "no customer contact data (curated/customers): every customer is treated as \
                 opted out, so only CRM actions are planned"
                    .into(),
            );
            for candidate in &mut candidates {
                candidate.opted_out = true;
            }
        }
    }
    Ok(Candidates {
        candidates,
        scored,
        warnings,
    })
}

/// Appends the scored customers of one predictions file in the `wanted` tiers; returns
/// how many customers the file scored.
fn read_scores(
    predictions: &Path,
    wanted: &[&str],
    candidates: &mut Vec<Candidate>,
    index: &mut HashMap<String, usize>,
) -> Result<u64> {
    let mut scan = scan_parquet_file(predictions)?;
    let schema = scan
        .collect_schema()
        .context(|| format!("reading {}", predictions.display()))?;
    for column in ["customer_id", "churn_probability", "tier"] {
        if schema.get(column).is_none() {
            return Err(PipelineError::bad_file(
                predictions,
                format!("no column '{column}': not a predictions file of `churn predict`"),
            ));
        }
    }
    let reason_columns: Vec<(String, String)> = (1..)
        .map(|n| (format!("reason_{n}"), format!("reason_{n}_value")))
        .take_while(|(name, value)| schema.get(name).is_some() && schema.get(value).is_some())
        .collect();
    let scored = crate::store::row_count(scan.clone())
        .context(|| format!("counting {}", predictions.display()))?;
    let in_tiers = wanted
        .iter()
        .map(|t| col("tier").eq(lit(*t)))
        .reduce(|a, b| a.or(b))
        .unwrap_or_else(|| lit(false));
    let mut columns = vec![
        col("customer_id").cast(DataType::String),
        col("churn_probability").cast(DataType::Float64),
        col("tier").cast(DataType::String),
    ];
    for (name, value) in &reason_columns {
        columns.push(col(name.as_str()).cast(DataType::String));
        columns.push(col(value.as_str()).cast(DataType::String));
    }
    let frame = scan
        .filter(in_tiers)
        .select(columns)
        .collect()
        .context(|| format!("reading {}", predictions.display()))?;
    let text = |name: &str| -> Result<StringChunked> {
        frame
            .column(name)
            .and_then(|c| c.str().cloned())
            .context(|| format!("reading column {name}"))
    };
    let ids = text("customer_id")?;
    let tiers = text("tier")?;
    let probabilities = frame
        .column("churn_probability")
        .and_then(|c| c.f64().cloned())
        .context(|| "reading churn_probability".into())?;
    let reasons: Vec<(StringChunked, StringChunked)> = reason_columns
        .iter()
        .map(|(name, value)| Ok((text(name)?, text(value)?)))
        .collect::<Result<_>>()?;
    for row in 0..frame.height() {
        let (Some(id), Some(probability), Some(tier)) = (
            ids.get(row),
            probabilities.get(row),
            tiers.get(row).and_then(tier_of),
        ) else {
            return Err(PipelineError::bad_file(
                predictions,
                format!("row {}: an empty customer id, probability or tier", row + 1),
            ));
        };
        index.insert(id.to_owned(), candidates.len());
        candidates.push(Candidate {
            customer_id: id.to_owned(),
            probability,
            tier,
            reasons: reasons
                .iter()
                .filter_map(|(feature, value)| {
                    Some(churn_core::reason_label(
                        feature.get(row)?,
                        value.get(row).unwrap_or(""),
                    ))
                })
                .collect(),
            monthly_charge: None,
            segment: Default::default(),
            email: None,
            phone: None,
            opted_out: false,
            do_not_contact: false,
        });
    }
    Ok(scored)
}

fn join_features(
    table: &Path,
    attributes: &[String],
    index: &HashMap<String, usize>,
    candidates: &mut [Candidate],
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mut scan = scan_parquet_file(table)?;
    let schema = scan
        .collect_schema()
        .context(|| format!("reading {}", table.display()))?;
    let id = ["customer_id", "customerID", "id"]
        .into_iter()
        .find(|name| schema.get(name).is_some())
        .ok_or_else(|| PipelineError::bad_file(table, "no customer_id column"))?;
    let mut columns = vec![col(id).cast(DataType::String)];
    let has_charge = schema.get("monthly_charge").is_some();
    if has_charge {
        columns.push(col("monthly_charge").cast(DataType::Float64));
    } else {
        warnings.push(format!(
            "{} has no monthly_charge: customer values fall back to value.default_monthly_charge",
            table.display()
        ));
    }
    let mut present = Vec::new();
    for attribute in attributes {
        if schema.get(attribute).is_some() {
            columns.push(col(attribute.as_str()).cast(DataType::String));
            present.push(attribute.clone());
        } else {
            warnings.push(format!(
                "segment attribute '{attribute}' is not a column of {}: rules on it match nobody",
                table.display()
            ));
        }
    }
    let frame = scan
        .select(columns)
        .collect()
        .context(|| format!("reading {}", table.display()))?;
    let ids = frame
        .column(id)
        .and_then(|c| c.str().cloned())
        .context(|| "reading ids".into())?;
    let charges = if has_charge {
        Some(
            frame
                .column("monthly_charge")
                .and_then(|c| c.f64().cloned())
                .context(|| "reading monthly_charge".into())?,
        )
    } else {
        None
    };
    let segments: Vec<(String, StringChunked)> = present
        .iter()
        .map(|name| {
            Ok((
                name.clone(),
                frame
                    .column(name)
                    .and_then(|c| c.str().cloned())
                    .context(|| format!("reading {name}"))?,
            ))
        })
        .collect::<Result<_>>()?;
    for row in 0..frame.height() {
        let Some(&at) = ids.get(row).and_then(|id| index.get(id)) else {
            continue;
        };
        let candidate = &mut candidates[at];
        candidate.monthly_charge = charges
            .as_ref()
            .and_then(|c| c.get(row))
            .filter(|c| c.is_finite());
        for (name, values) in &segments {
            if let Some(value) = values.get(row) {
                candidate.segment.insert(name.clone(), value.to_owned());
            }
        }
    }
    Ok(())
}

fn join_customers(
    customers: &Path,
    index: &HashMap<String, usize>,
    candidates: &mut [Candidate],
    warnings: &mut Vec<String>,
) -> Result<()> {
    if !customers.exists() {
        return Err(PipelineError::Missing(format!(
            "{}: no curated customers, needed for contact details and opt-outs (run `churn ingest`)",
            customers.display()
        )));
    }
    let mut scan = scan_parquet_file(customers)?;
    let schema = scan
        .collect_schema()
        .context(|| format!("reading {}", customers.display()))?;
    let mut columns = vec![col("customer_id").cast(DataType::String)];
    for name in ["email", "phone"] {
        if schema.get(name).is_some() {
            columns.push(col(name).cast(DataType::String));
        }
    }
    for name in ["contact_opt_out", "do_not_contact"] {
        if schema.get(name).is_some() {
            columns.push(col(name).cast(DataType::Boolean));
        }
    }
    let frame = scan
        .select(columns)
        .collect()
        .context(|| format!("reading {}", customers.display()))?;
    let text = |name: &str| frame.column(name).ok().and_then(|c| c.str().ok().cloned());
    let flag = |name: &str| frame.column(name).ok().and_then(|c| c.bool().ok().cloned());
    let (ids, emails, phones) = (text("customer_id"), text("email"), text("phone"));
    let (opt_outs, do_not_contact) = (flag("contact_opt_out"), flag("do_not_contact"));
    let Some(ids) = ids else {
        return Err(PipelineError::bad_file(customers, "no customer_id column"));
    };
    let mut found = vec![false; candidates.len()];
    for row in 0..frame.height() {
        let Some(&at) = ids.get(row).and_then(|id| index.get(id)) else {
            continue;
        };
        found[at] = true;
        let candidate = &mut candidates[at];
        let get = |column: &Option<StringChunked>| {
            column.as_ref().and_then(|c| c.get(row)).map(str::to_owned)
        };
        candidate.email = get(&emails);
        candidate.phone = get(&phones);
        // An unknown flag is the cautious answer: opted out, not contactable.
        candidate.opted_out = opt_outs.as_ref().is_none_or(|c| c.get(row).unwrap_or(true));
        candidate.do_not_contact = do_not_contact
            .as_ref()
            .is_some_and(|c| c.get(row).unwrap_or(true));
    }
    let missing = found.iter().filter(|f| !**f).count();
    if missing > 0 {
        warnings.push(format!(
            "{missing} scored customers are not in {}: treated as opted out",
            customers.display()
        ));
        for (candidate, found) in candidates.iter_mut().zip(found) {
            if !found {
                candidate.opted_out = true;
            }
        }
    }
    Ok(())
}
