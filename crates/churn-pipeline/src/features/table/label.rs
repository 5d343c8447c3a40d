//! The label of a flat table, read from its target column.
//!
//! Without `--positive`, the values must be the usual words (yes/no, true/false, y/n,
//! t/f, 1/0, churned/stayed, churn/retained, left/active). With `--positive`, its values
//! mean churned; a target of two values makes the other one a stayer, but a target of
//! more values needs `--negative` to list the stayers, so that a third value (`paused`,
//! a typo) is never silently read as one. Every value given must occur in the column: a
//! misspelt `--positive` would otherwise label nobody a churner. Blanks and missing-value
//! tokens leave a row unlabelled.

use std::collections::{BTreeMap, BTreeSet};

use churn_core::normalize_category;
use polars::prelude::*;

use super::kinds::{bool_word, is_missing_token};
use crate::error::{PipelineError, Result};

/// How the target's values map to churned / stayed.
#[derive(Debug, Clone, Default)]
pub struct TargetValues {
    /// Values meaning churned (none: the usual words decide).
    pub positive: Vec<String>,
    /// Values meaning stayed (needed when the target has more than two values).
    pub negative: Vec<String>,
}

fn usual_word(text: &str) -> Option<bool> {
    bool_word(text).or_else(|| match normalize_category(text).as_ref() {
        "churned" | "churn" | "left" => Some(true),
        "stayed" | "retained" | "active" => Some(false),
        _ => None,
    })
}

fn listed(values: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let values: Vec<String> = values
        .into_iter()
        .map(|v| format!("'{}'", v.as_ref()))
        .collect();
    let shown = values
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() > 10 {
        format!("{shown} and {} more", values.len() - 10)
    } else {
        shown
    }
}

/// The labels of a target column (`target` as the user named it, for messages).
pub fn labels(
    target: &str,
    values: &StringChunked,
    mapping: &TargetValues,
) -> Result<Vec<Option<bool>>> {
    let normalized: Vec<Option<String>> = values
        .iter()
        .map(|v| {
            v.filter(|v| !is_missing_token(v))
                .map(|v| normalize_category(v).into_owned())
        })
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for value in normalized.iter().flatten() {
        *counts.entry(value.as_str()).or_default() += 1;
    }
    let seen = || listed(counts.keys());
    if mapping.positive.is_empty() {
        if !mapping.negative.is_empty() {
            return Err(PipelineError::InvalidInput(
                "--negative needs --positive: say which values mean churned".into(),
            ));
        }
        let unreadable: Vec<&str> = counts
            .keys()
            .copied()
            .filter(|v| usual_word(v).is_none())
            .collect();
        if !unreadable.is_empty() {
            return Err(PipelineError::InvalidInput(format!(
                "target '{target}' has values that are not yes/no, true/false or 1/0: {}; pass \
                 --positive VALUE to say which value means churned",
                listed(unreadable)
            )));
        }
        return Ok(normalized
            .iter()
            .map(|v| v.as_deref().and_then(usual_word))
            .collect());
    }
    let given = |flag: &str, list: &[String]| -> Result<BTreeSet<String>> {
        let mut set = BTreeSet::new();
        for value in list {
            let value = normalize_category(value).into_owned();
            if !counts.contains_key(value.as_str()) {
                return Err(PipelineError::InvalidInput(format!(
                    "{flag} '{value}' never occurs in target '{target}'; its values are: {}",
                    seen()
                )));
            }
            set.insert(value);
        }
        Ok(set)
    };
    let positive = given("--positive", &mapping.positive)?;
    let mut negative = given("--negative", &mapping.negative)?;
    if let Some(both) = positive.intersection(&negative).next() {
        return Err(PipelineError::InvalidInput(format!(
            "'{both}' is given in both --positive and --negative"
        )));
    }
    let others: Vec<&str> = counts
        .keys()
        .copied()
        .filter(|v| !positive.contains(*v) && !negative.contains(*v))
        .collect();
    if negative.is_empty() {
        match others.len() {
            0 => {}
            1 => {
                negative.insert(others[0].to_owned());
            }
            _ => {
                return Err(PipelineError::InvalidInput(format!(
                    "target '{target}' has {} values ({}): with --positive {} the others are \
                     not all stayers unless you say so; list the stayers with --negative",
                    counts.len(),
                    seen(),
                    listed(&positive)
                )));
            }
        }
    } else if !others.is_empty() {
        return Err(PipelineError::InvalidInput(format!(
            "target '{target}' has values in neither --positive nor --negative: {}",
            listed(others)
        )));
    }
    Ok(normalized
        .iter()
        .map(|value| value.as_deref().map(|v| positive.contains(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(values: &[&str]) -> StringChunked {
        let values: Vec<Option<&str>> = values.iter().map(|v| Some(*v)).collect();
        StringChunked::new("status".into(), values)
    }

    fn mapping(positive: &[&str], negative: &[&str]) -> TargetValues {
        TargetValues {
            positive: positive.iter().map(|v| (*v).to_owned()).collect(),
            negative: negative.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn three_values_need_the_stayers_listed() {
        let values = column(&["Active", "Churned", "Paused", "Active"]);
        let error = labels("Status", &values, &mapping(&["churned"], &[])).expect_err("refused");
        assert!(
            error.to_string().contains("3 values") && error.to_string().contains("--negative"),
            "{error}"
        );
        let labels = labels(
            "Status",
            &values,
            &mapping(&["churned"], &["active", "paused"]),
        )
        .expect("mapped");
        assert_eq!(labels, [Some(false), Some(true), Some(false), Some(false)]);
    }

    #[test]
    fn a_value_that_never_occurs_is_refused() {
        let values = column(&["Stayed", "Churned"]);
        let error = labels("Status", &values, &mapping(&["Churnd"], &[])).expect_err("typo");
        assert!(
            error.to_string().contains("'churnd' never occurs")
                && error.to_string().contains("'churned'"),
            "{error}"
        );
        let two = labels("Status", &values, &mapping(&["Churned"], &[])).expect("two values");
        assert_eq!(two, [Some(false), Some(true)]);
    }

    #[test]
    fn the_usual_words_need_no_flag_and_tokens_leave_rows_unlabelled() {
        let values = column(&["Yes", "no", "NA", "1"]);
        let labels = labels("Churn", &values, &TargetValues::default()).expect("usual");
        assert_eq!(labels, [Some(true), Some(false), None, Some(true)]);
    }
}
