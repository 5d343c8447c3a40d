//! Validation of a chunk of raw text columns against the contract, as one polars plan.
//!
//! For every column the plan cleans the text (trim; empty is missing), parses it to its
//! logical type, checks range and domain, applies the missing-value policy, then runs the
//! row checks. A row with any failure is split off for quarantine with the first failure's
//! kind, column and reason; the rest come out typed. Category normalisation here must
//! agree with [`churn_core::normalize_category`] (a test checks it).

use std::collections::BTreeMap;

use polars::prelude::*;

use super::read::LINE;
use crate::contract::{
    ColumnSpec, ColumnType, MAX_DATE, MIN_DATE, MissingPolicy, RowRule, SourceContract,
};
use crate::dates::{MICROS_PER_DAY, parse_date, to_days};
use crate::error::{PolarsContext, Result};

/// Output column with the failure kind of a quarantined row.
pub const KIND: &str = "__kind";
/// Output column with the failing column of a quarantined row.
pub const COLUMN: &str = "__column";
/// Output column with the failure of a quarantined row.
pub const REASON: &str = "__reason";

const TRUE_WORDS: [&str; 5] = ["true", "t", "yes", "y", "1"];
const FALSE_WORDS: [&str; 5] = ["false", "f", "no", "n", "0"];

/// Counts a chunk contributes to the report.
#[derive(Debug, Default, Clone)]
pub struct ChunkStats {
    /// Values replaced by the imputation constant, by column.
    pub imputed: BTreeMap<&'static str, u64>,
    /// Optional values left missing, by column.
    pub missing_kept: BTreeMap<&'static str, u64>,
    /// Values of open categories outside the expected list, by column.
    pub unexpected: BTreeMap<&'static str, u64>,
}

/// A validated chunk.
#[derive(Debug)]
pub struct Validated {
    /// Typed contract columns and `__line`.
    pub valid: DataFrame,
    /// Raw text columns, `__line`, and the failure's kind, column and reason.
    pub quarantined: DataFrame,
    /// Counts for the report.
    pub stats: ChunkStats,
}

fn cleaned(name: &str) -> String {
    format!("__c_{name}")
}

fn parsed(name: &str) -> String {
    format!("__p_{name}")
}

fn unexpected(name: &str) -> String {
    format!("__u_{name}")
}

fn null_string() -> Expr {
    lit(NULL).cast(DataType::String)
}

/// Text with surrounding whitespace removed; empty text is missing.
fn clean_expr(name: &str) -> Expr {
    let stripped = col(name).str().strip_chars(lit(NULL));
    when(stripped.clone().str().len_bytes().eq(lit(0u32)))
        .then(null_string())
        .otherwise(stripped)
        .alias(cleaned(name))
}

/// The polars form of [`churn_core::normalize_category`] (input already trimmed).
pub fn normalize_category_expr(text: Expr) -> Expr {
    text.str()
        .to_lowercase()
        .str()
        .replace_all(lit(r"[\s_\-]+"), lit("-"), false)
        .str()
        .strip_chars(lit("-"))
}

fn string_list(values: &[&str]) -> Expr {
    let series = Series::new(
        "values".into(),
        values.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
    );
    lit(series).implode(false)
}

fn date_literal(text: &str) -> Expr {
    let days = parse_date(text, "contract")
        .map(to_days)
        .unwrap_or_default();
    lit(days).cast(DataType::Date)
}

fn timestamp_literal(text: &str) -> Expr {
    let days = parse_date(text, "contract")
        .map(to_days)
        .unwrap_or_default();
    lit(i64::from(days) * MICROS_PER_DAY).cast(DataType::Datetime(TimeUnit::Microseconds, None))
}

fn strptime(format: &str) -> StrptimeOptions {
    StrptimeOptions {
        format: Some(format.into()),
        strict: false,
        exact: true,
        cache: true,
    }
}

/// A failure condition with its kind, column and message.
struct Check {
    failed: Expr,
    kind: &'static str,
    column: &'static str,
    message: Expr,
}

fn message(parts: Vec<Expr>) -> Expr {
    concat_str(parts, "", true)
}

fn quoted_value(name: &str, text: &str) -> Expr {
    message(vec![lit("'"), col(cleaned(name)), lit(format!("' {text}"))])
}

/// The parsed value of a column, and the checks on it.
fn column_plan(spec: &ColumnSpec) -> (Expr, Option<Expr>, Vec<Check>) {
    let name = spec.name;
    let raw = col(cleaned(name));
    let mut checks = Vec::new();
    let mut unexpected_flag = None;
    if spec.required() {
        checks.push(Check {
            failed: raw.clone().is_null(),
            kind: "missing required value",
            column: name,
            message: lit("missing required value"),
        });
    }
    let value = match spec.ty {
        ColumnType::Id | ColumnType::Text => raw.clone(),
        ColumnType::Int { min, max } => {
            let number = raw.clone().cast(DataType::Float64);
            checks.push(Check {
                failed: raw.clone().is_not_null().and(
                    number
                        .clone()
                        .is_null()
                        .or(number.clone().is_finite().not())
                        .or(number
                            .clone()
                            .neq(number.clone().round(0, RoundMode::HalfToEven))),
                ),
                kind: "unparseable",
                column: name,
                message: quoted_value(name, "is not a whole number"),
            });
            push_range(&mut checks, name, number.clone(), min as f64, max as f64);
            number.cast(DataType::Int64)
        }
        ColumnType::Float { min, max } => {
            let number = raw.clone().cast(DataType::Float64);
            checks.push(Check {
                failed: raw.clone().is_not_null().and(
                    number
                        .clone()
                        .is_null()
                        .or(number.clone().is_finite().not()),
                ),
                kind: "unparseable",
                column: name,
                message: quoted_value(name, "is not a finite number"),
            });
            push_range(&mut checks, name, number.clone(), min, max);
            number
        }
        ColumnType::Bool => {
            let word = raw.clone().str().to_lowercase();
            let value = when(word.clone().is_in(string_list(&TRUE_WORDS), false))
                .then(lit(true))
                .when(word.is_in(string_list(&FALSE_WORDS), false))
                .then(lit(false))
                .otherwise(lit(NULL).cast(DataType::Boolean));
            checks.push(Check {
                failed: raw.clone().is_not_null().and(value.clone().is_null()),
                kind: "unparseable",
                column: name,
                message: quoted_value(name, "is not a boolean (true/false, yes/no, 1/0)"),
            });
            value
        }
        ColumnType::Date => {
            let value = raw.clone().str().to_date(strptime("%Y-%m-%d"));
            checks.push(Check {
                failed: raw.clone().is_not_null().and(value.clone().is_null()),
                kind: "unparseable",
                column: name,
                message: quoted_value(name, "is not a date (YYYY-MM-DD)"),
            });
            checks.push(Check {
                failed: value
                    .clone()
                    .lt(date_literal(MIN_DATE))
                    .or(value.clone().gt(date_literal(MAX_DATE))),
                kind: "out of range",
                column: name,
                message: quoted_value(name, &format!("is outside {MIN_DATE} to {MAX_DATE}")),
            });
            value
        }
        ColumnType::Timestamp => {
            // Accept a space for `T`, a trailing `Z` and fractional seconds (dropped).
            let text = raw
                .clone()
                .str()
                .replace(lit(" "), lit("T"), true)
                .str()
                .strip_suffix(lit("Z"));
            let tail_ok = text
                .clone()
                .str()
                .slice(lit(19), lit(NULL))
                .str()
                .contains(lit(r"^(\.[0-9]{1,9})?$"), true);
            let value = when(tail_ok)
                .then(text.str().slice(lit(0), lit(19)).str().to_datetime(
                    Some(TimeUnit::Microseconds),
                    None,
                    strptime("%Y-%m-%dT%H:%M:%S"),
                    lit("raise"),
                ))
                .otherwise(lit(NULL).cast(DataType::Datetime(TimeUnit::Microseconds, None)));
            checks.push(Check {
                failed: raw.clone().is_not_null().and(value.clone().is_null()),
                kind: "unparseable",
                column: name,
                message: quoted_value(name, "is not a timestamp (YYYY-MM-DDTHH:MM:SS, UTC)"),
            });
            checks.push(Check {
                failed: value
                    .clone()
                    .lt(timestamp_literal(MIN_DATE))
                    .or(value.clone().gt(timestamp_literal(MAX_DATE))),
                kind: "out of range",
                column: name,
                message: quoted_value(name, &format!("is outside {MIN_DATE} to {MAX_DATE}")),
            });
            value
        }
        ColumnType::Category { values, closed } => {
            let value = normalize_category_expr(raw.clone());
            let outside = value
                .clone()
                .is_not_null()
                .and(value.clone().is_in(string_list(values), false).not());
            if closed {
                checks.push(Check {
                    failed: outside,
                    kind: "unknown category",
                    column: name,
                    message: message(vec![
                        lit("unknown value '"),
                        col(cleaned(name)),
                        lit(format!("' (allowed: {})", values.join(", "))),
                    ]),
                });
            } else {
                unexpected_flag = Some(outside.alias(unexpected(name)));
            }
            value
        }
    };
    let value = match spec.missing {
        MissingPolicy::Impute(constant) => match spec.ty {
            ColumnType::Bool => value.fill_null(lit(constant == "true")),
            _ => value.fill_null(lit(constant)),
        },
        MissingPolicy::Quarantine | MissingPolicy::KeepNull => value,
    };
    (value.alias(parsed(name)), unexpected_flag, checks)
}

fn push_range(checks: &mut Vec<Check>, name: &'static str, number: Expr, min: f64, max: f64) {
    checks.push(Check {
        failed: number.clone().lt(lit(min)),
        kind: "out of range",
        column: name,
        message: quoted_value(name, &format!("is below the minimum {min}")),
    });
    checks.push(Check {
        failed: number.gt(lit(max)),
        kind: "out of range",
        column: name,
        message: quoted_value(name, &format!("is above the maximum {max}")),
    });
}

fn rule_checks(contract: &SourceContract) -> Vec<Check> {
    contract
        .row_rules
        .iter()
        .map(|rule| match *rule {
            RowRule::NotBefore { later, earlier } => Check {
                failed: col(parsed(later)).lt(col(parsed(earlier))),
                kind: "row check",
                column: later,
                message: message(vec![
                    lit(format!("{later} ")),
                    col(cleaned(later)),
                    lit(format!(" is before {earlier} ")),
                    col(cleaned(earlier)),
                ]),
            },
            RowRule::PresenceWhen {
                column,
                value,
                other,
                present,
            } => {
                let is_value = col(parsed(column)).eq(lit(value));
                let wrong = if present {
                    col(parsed(other)).is_null()
                } else {
                    col(parsed(other)).is_not_null()
                };
                Check {
                    failed: is_value.and(wrong),
                    kind: "row check",
                    column: other,
                    message: lit(format!(
                        "{other} must be {} when {column} is '{value}'",
                        if present { "present" } else { "empty" }
                    )),
                }
            }
        })
        .collect()
}

/// Validates one chunk of text columns (contract order, plus `__line`).
pub fn validate_chunk(frame: DataFrame, contract: &SourceContract) -> Result<Validated> {
    let mut parsed_exprs = Vec::new();
    let mut flags = Vec::new();
    let mut checks = Vec::new();
    for spec in contract.columns {
        let (value, flag, column_checks) = column_plan(spec);
        parsed_exprs.push(value);
        flags.extend(flag);
        checks.extend(column_checks);
    }
    checks.extend(rule_checks(contract));
    // A check on a null value is null, not true: `fill_null(false)` keeps it from
    // swallowing the later checks in the coalesce.
    let pick = |select: &dyn Fn(&Check) -> Expr| {
        let branches: Vec<Expr> = checks
            .iter()
            .map(|check| {
                when(check.failed.clone().fill_null(lit(false)))
                    .then(select(check))
                    .otherwise(null_string())
            })
            .collect();
        coalesce(&branches)
    };
    let failure = [
        pick(&|check| lit(check.kind)).alias(KIND),
        pick(&|check| lit(check.column)).alias(COLUMN),
        pick(&|check| check.message.clone()).alias(REASON),
    ];
    let frame = frame
        .lazy()
        .with_columns(
            contract
                .columns
                .iter()
                .map(|c| clean_expr(c.name))
                .collect::<Vec<_>>(),
        )
        .with_columns(parsed_exprs.into_iter().chain(flags).collect::<Vec<_>>())
        .with_columns(failure)
        .collect()
        .context(|| format!("validating {} rows", contract.source))?;

    let ok = frame
        .column(REASON)
        .and_then(|column| column.is_null().into_column().bool().cloned())
        .context(|| "reading validation results".into())?;
    let valid_all = frame
        .filter(&ok)
        .context(|| "splitting valid rows".into())?;
    let quarantined = frame
        .filter(&!&ok)
        .and_then(|df| {
            let mut keep: Vec<PlSmallStr> =
                contract.columns.iter().map(|c| c.name.into()).collect();
            keep.extend([LINE.into(), KIND.into(), COLUMN.into(), REASON.into()]);
            df.select(keep)
        })
        .context(|| "splitting quarantined rows".into())?;

    let mut stats = ChunkStats::default();
    for spec in contract.columns {
        let count_nulls = |name: String| {
            valid_all
                .column(&name)
                .map(|column| column.null_count() as u64)
                .unwrap_or(0)
        };
        match spec.missing {
            MissingPolicy::Impute(_) => {
                stats
                    .imputed
                    .insert(spec.name, count_nulls(cleaned(spec.name)));
            }
            MissingPolicy::KeepNull => {
                stats
                    .missing_kept
                    .insert(spec.name, count_nulls(parsed(spec.name)));
            }
            MissingPolicy::Quarantine => {}
        }
        if let Ok(flag) = valid_all.column(&unexpected(spec.name)) {
            let count = flag
                .bool()
                .map(|values| values.sum().unwrap_or(0) as u64)
                .unwrap_or(0);
            stats.unexpected.insert(spec.name, count);
        }
    }
    let mut typed: Vec<Column> = Vec::with_capacity(contract.columns.len() + 1);
    for spec in contract.columns {
        let column = valid_all
            .column(&parsed(spec.name))
            .context(|| "selecting typed columns".into())?
            .clone()
            .with_name(spec.name.into());
        typed.push(column);
    }
    typed.push(
        valid_all
            .column(LINE)
            .context(|| "selecting line numbers".into())?
            .clone(),
    );
    let valid =
        DataFrame::new(valid_all.height(), typed).context(|| "assembling valid rows".into())?;
    Ok(Validated {
        valid,
        quarantined,
        stats,
    })
}
