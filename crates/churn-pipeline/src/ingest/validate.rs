//! Validation of a chunk of raw text columns against the contract, as one polars plan.
//!
//! The plan runs in three stages over the chunk: clean every column (trim; empty is
//! missing), parse it to its logical type, then evaluate every check as a boolean column
//! (among them: no event after the run's reference date).
//! Rows that pass all checks come out typed, with the missing-value policy applied; the
//! few that fail get the first failure's kind, column and reason, computed on those rows
//! only. Dates, timestamps, booleans and categories are parsed by the allocation-free
//! parsers of this crate and [`churn_core::normalize_category`] (the very function every
//! scorer uses), wrapped as polars column functions.

use std::collections::BTreeMap;

use churn_core::normalize_category;
use polars::prelude::*;

use super::read::LINE;
use crate::contract::{
    ColumnSpec, ColumnType, MAX_DATE, MIN_DATE, MissingPolicy, RowRule, SourceContract,
};
use crate::dates::{MICROS_PER_DAY, from_days, parse_iso_date, parse_iso_timestamp, to_days};
use crate::error::{PolarsContext, Result};

/// Output column with the failure kind of a quarantined row.
pub const KIND: &str = "__kind";
/// Output column with the failing column of a quarantined row.
pub const COLUMN: &str = "__column";
/// Output column with the failure of a quarantined row.
pub const REASON: &str = "__reason";

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
    format!("__v_{name}")
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

/// Applies a text parser to a string column, giving a column of `dtype`.
fn parse_text<T>(expr: Expr, dtype: DataType, parse: fn(&str) -> Option<T::Native>) -> Expr
where
    T: PolarsNumericType,
    ChunkedArray<T>: IntoSeries,
{
    let output = dtype.clone();
    expr.map(
        move |column| {
            let parsed: ChunkedArray<T> = column.str()?.iter().map(|v| v.and_then(parse)).collect();
            Ok(parsed
                .with_name(column.name().clone())
                .into_series()
                .cast(&dtype)?
                .into_column())
        },
        move |_, field| Ok(Field::new(field.name().clone(), output.clone())),
    )
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

fn category_expr(expr: Expr) -> Expr {
    expr.map(
        |column| {
            let normalized: StringChunked = column
                .str()?
                .iter()
                .map(|value| value.map(normalize_category))
                .collect();
            Ok(normalized.with_name(column.name().clone()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
    )
}

fn bool_expr(expr: Expr) -> Expr {
    expr.map(
        |column| {
            let parsed: BooleanChunked = column
                .str()?
                .iter()
                .map(|v| v.and_then(parse_bool))
                .collect();
            Ok(parsed.with_name(column.name().clone()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::Boolean)),
    )
}

fn string_list(values: &[&str]) -> Expr {
    let series = Series::new(
        "values".into(),
        values.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
    );
    lit(series).implode(false)
}

fn contract_day(text: &str) -> i32 {
    crate::dates::parse_date(text, "contract")
        .map(to_days)
        .unwrap_or_default()
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

fn present_but_unparsed(name: &str) -> Expr {
    col(cleaned(name))
        .is_not_null()
        .and(col(parsed(name)).is_null())
}

/// The parsed value of a column (before imputation) and the checks on it. An event
/// column (see [`SourceContract::events`]) must not lie after `reference_day`.
fn column_plan(spec: &ColumnSpec, event: bool, reference_day: i32) -> (Expr, Vec<Check>) {
    let name = spec.name;
    let raw = col(cleaned(name));
    let value = col(parsed(name));
    let mut checks = Vec::new();
    if spec.required() {
        checks.push(Check {
            failed: raw.clone().is_null(),
            kind: "missing required value",
            column: name,
            message: lit("missing required value"),
        });
    }
    let unparseable = |text: &str| Check {
        failed: present_but_unparsed(name),
        kind: "unparseable",
        column: name,
        message: quoted_value(name, text),
    };
    let range = |failed: Expr, text: String| Check {
        failed,
        kind: "out of range",
        column: name,
        message: quoted_value(name, &text),
    };
    let future = |failed: Expr| Check {
        failed,
        kind: "future",
        column: name,
        message: quoted_value(
            name,
            &format!(
                "is after the reference date {} of this ingest: an event cannot have \
                 happened yet (pass --reference-date if the extract is from a later day)",
                from_days(reference_day)
            ),
        ),
    };
    let parse = match spec.ty {
        ColumnType::Id | ColumnType::Text => raw.clone(),
        ColumnType::Int { min, max } => {
            checks.push(Check {
                failed: present_but_unparsed(name)
                    .or(value.clone().is_finite().not())
                    .or(value
                        .clone()
                        .neq(value.clone().round(0, RoundMode::HalfToEven))),
                ..unparseable("is not a whole number")
            });
            checks.push(range(
                value.clone().lt(lit(min as f64)),
                format!("is below the minimum {min}"),
            ));
            checks.push(range(
                value.clone().gt(lit(max as f64)),
                format!("is above the maximum {max}"),
            ));
            raw.clone().cast(DataType::Float64)
        }
        ColumnType::Float { min, max } => {
            checks.push(Check {
                failed: present_but_unparsed(name).or(value.clone().is_finite().not()),
                ..unparseable("is not a finite number")
            });
            checks.push(range(
                value.clone().lt(lit(min)),
                format!("is below the minimum {min}"),
            ));
            checks.push(range(
                value.clone().gt(lit(max)),
                format!("is above the maximum {max}"),
            ));
            raw.clone().cast(DataType::Float64)
        }
        ColumnType::Bool => {
            checks.push(unparseable("is not a boolean (true/false, yes/no, 1/0)"));
            bool_expr(raw.clone())
        }
        ColumnType::Date => {
            checks.push(unparseable("is not a date (YYYY-MM-DD)"));
            let (low, high) = (contract_day(MIN_DATE), contract_day(MAX_DATE));
            let days = value.clone().cast(DataType::Int32);
            checks.push(range(
                days.clone().lt(lit(low)).or(days.clone().gt(lit(high))),
                format!("is outside {MIN_DATE} to {MAX_DATE}"),
            ));
            if event {
                checks.push(future(days.gt(lit(reference_day))));
            }
            parse_text::<Int32Type>(raw.clone(), DataType::Date, parse_iso_date)
        }
        ColumnType::Timestamp => {
            checks.push(unparseable("is not a timestamp (YYYY-MM-DDTHH:MM:SS, UTC)"));
            let low = i64::from(contract_day(MIN_DATE)) * MICROS_PER_DAY;
            let high = i64::from(contract_day(MAX_DATE) + 1) * MICROS_PER_DAY;
            let micros = value.clone().cast(DataType::Int64);
            checks.push(range(
                micros
                    .clone()
                    .lt(lit(low))
                    .or(micros.clone().gt_eq(lit(high))),
                format!("is outside {MIN_DATE} to {MAX_DATE}"),
            ));
            if event {
                // Any time on the reference day itself has happened.
                let next_day = i64::from(reference_day + 1) * MICROS_PER_DAY;
                checks.push(future(micros.gt_eq(lit(next_day))));
            }
            parse_text::<Int64Type>(
                raw.clone(),
                DataType::Datetime(TimeUnit::Microseconds, None),
                parse_iso_timestamp,
            )
        }
        ColumnType::Category { values, closed } => {
            if closed {
                checks.push(Check {
                    failed: value
                        .clone()
                        .is_not_null()
                        .and(value.clone().is_in(string_list(values), false).not()),
                    kind: "unknown category",
                    column: name,
                    message: message(vec![
                        lit("unknown value '"),
                        col(cleaned(name)),
                        lit(format!("' (allowed: {})", values.join(", "))),
                    ]),
                });
            }
            category_expr(raw.clone())
        }
    };
    (parse.alias(parsed(name)), checks)
}

/// The final typed value of a column of a valid row: the missing-value policy applied.
fn final_value(spec: &ColumnSpec) -> Expr {
    let value = col(parsed(spec.name));
    let value = match spec.ty {
        ColumnType::Int { .. } => value.cast(DataType::Int64),
        _ => value,
    };
    match spec.missing {
        MissingPolicy::Impute(constant) => match spec.ty {
            ColumnType::Bool => value.fill_null(lit(constant == "true")),
            _ => value.fill_null(lit(constant)),
        },
        MissingPolicy::Quarantine | MissingPolicy::KeepNull => value,
    }
    .alias(spec.name)
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

const FAILED: &str = "__failed";

fn flag(index: usize) -> String {
    format!("__f{index}")
}

/// Validates one chunk of text columns (contract order, plus `__line`); events after
/// `reference_day` (days since 1970-01-01) are quarantined as "future".
pub fn validate_chunk(
    frame: DataFrame,
    contract: &SourceContract,
    reference_day: i32,
) -> Result<Validated> {
    let mut values = Vec::new();
    let mut checks = Vec::new();
    for spec in contract.columns {
        let event = contract.events.contains(&spec.name);
        let (value, column_checks) = column_plan(spec, event, reference_day);
        values.push(value);
        checks.extend(column_checks);
    }
    checks.extend(rule_checks(contract));
    // A check on a missing value is null, not true: null counts as passed.
    let flags: Vec<Expr> = checks
        .iter()
        .enumerate()
        .map(|(index, check)| {
            check
                .failed
                .clone()
                .fill_null(lit(false))
                .alias(flag(index))
        })
        .collect();
    let any_failed = (0..checks.len()).fold(lit(false), |any, index| any.or(col(flag(index))));
    let frame = frame
        .lazy()
        .with_columns(
            contract
                .columns
                .iter()
                .map(|c| clean_expr(c.name))
                .collect::<Vec<_>>(),
        )
        .with_columns(values)
        .with_columns(flags)
        .with_column(any_failed.alias(FAILED))
        .collect()
        .context(|| format!("validating {} rows", contract.source))?;
    let failed = frame
        .column(FAILED)
        .and_then(|column| column.bool().cloned())
        .context(|| "reading validation results".into())?;

    // The few failed rows: name the first failure of each.
    let pick = |select: &dyn Fn(&Check) -> Expr| {
        let branches: Vec<Expr> = checks
            .iter()
            .enumerate()
            .map(|(index, check)| {
                when(col(flag(index)))
                    .then(select(check))
                    .otherwise(null_string())
            })
            .collect();
        coalesce(&branches)
    };
    let mut raw_columns: Vec<Expr> = contract.columns.iter().map(|c| col(c.name)).collect();
    raw_columns.extend([
        col(LINE),
        pick(&|check| lit(check.kind)).alias(KIND),
        pick(&|check| lit(check.column)).alias(COLUMN),
        pick(&|check| check.message.clone()).alias(REASON),
    ]);
    let quarantined = frame
        .filter(&failed)
        .context(|| "splitting failed rows".into())?
        .lazy()
        .select(raw_columns)
        .collect()
        .context(|| "describing failed rows".into())?;

    let passed = frame
        .filter(&!&failed)
        .context(|| "splitting valid rows".into())?;
    let mut stats = ChunkStats::default();
    for spec in contract.columns {
        let nulls = |name: String| {
            passed
                .column(&name)
                .map(|column| column.null_count() as u64)
                .unwrap_or(0)
        };
        match spec.missing {
            MissingPolicy::Impute(_) => {
                stats.imputed.insert(spec.name, nulls(cleaned(spec.name)));
            }
            MissingPolicy::KeepNull => {
                stats
                    .missing_kept
                    .insert(spec.name, nulls(parsed(spec.name)));
            }
            MissingPolicy::Quarantine => {}
        }
    }
    let mut typed: Vec<Expr> = contract.columns.iter().map(final_value).collect();
    typed.push(col(LINE));
    let mut counts = Vec::new();
    for spec in contract.columns {
        if let ColumnType::Category {
            values,
            closed: false,
        } = spec.ty
        {
            counts.push(
                col(parsed(spec.name))
                    .is_not_null()
                    .and(
                        col(parsed(spec.name))
                            .is_in(string_list(values), false)
                            .not(),
                    )
                    .cast(DataType::UInt32)
                    .sum()
                    .alias(unexpected(spec.name)),
            );
        }
    }
    if !counts.is_empty() {
        let unexpected_counts = passed
            .clone()
            .lazy()
            .select(counts)
            .collect()
            .context(|| "counting unexpected categories".into())?;
        for column in unexpected_counts.columns() {
            let name = column.name().trim_start_matches("__u_");
            if let Some(spec) = contract.column(name) {
                let count = column
                    .get(0)
                    .ok()
                    .and_then(|v| v.extract::<u64>())
                    .unwrap_or(0);
                stats.unexpected.insert(spec.name, count);
            }
        }
    }
    let valid = passed
        .lazy()
        .select(typed)
        .collect()
        .context(|| "typing valid rows".into())?;
    Ok(Validated {
        valid,
        quarantined,
        stats,
    })
}
