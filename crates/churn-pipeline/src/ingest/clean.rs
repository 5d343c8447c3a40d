//! Source-wide cleaning after validation: duplicates and key conflicts, rows that refer to
//! unknown customers, and outliers. These need the whole source at once, unlike the
//! row-by-row checks of validation.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use super::read::LINE;
use super::validate::{COLUMN, KIND, REASON};
use crate::contract::{OUTLIER_IQR_K, OutlierRule, SourceContract};
use crate::error::{PolarsContext, Result};

/// Column with the index of the file a row came from.
pub const FILE: &str = "__file";

/// Outliers found in one column.
#[derive(Debug, Clone, Serialize)]
pub struct OutlierReport {
    /// Values above the fence (clipped, original kept in `<column>_original`).
    pub count: u64,
    /// The upper fence: `expm1(Q3 + k * IQR)` of `ln(1 + x)` over positive values.
    pub upper_fence: f64,
}

/// Rows with a repeated key: exact copies are counted and dropped; the others returned.
#[derive(Debug)]
pub struct Deduped {
    /// First occurrence of every key.
    pub kept: DataFrame,
    /// Later rows with the same key and other values, with kind, column and reason.
    pub conflicts: DataFrame,
    /// Exact copies of an earlier row.
    pub duplicates: u64,
}

fn struct_or_single(names: &[&str]) -> Expr {
    match names {
        [single] => col(*single),
        many => as_struct(many.iter().map(|name| col(*name)).collect()),
    }
}

/// Splits exact duplicates and key conflicts off `frame` (rows in file and line order).
pub fn dedupe(
    frame: DataFrame,
    contract: &SourceContract,
    file_names: &[String],
) -> Result<Deduped> {
    let names = contract.column_names();
    let marked = frame
        .lazy()
        .with_columns([
            struct_or_single(&names)
                .is_first_distinct()
                .alias("__first_exact"),
            struct_or_single(contract.primary_key)
                .is_first_distinct()
                .alias("__first_key"),
        ])
        .collect()
        .context(|| format!("finding duplicate {} rows", contract.source))?;
    let flag = |name: &str| -> Result<BooleanChunked> {
        marked
            .column(name)
            .and_then(|column| column.bool().cloned())
            .context(|| "reading duplicate flags".into())
    };
    let first_exact = flag("__first_exact")?;
    let first_key = flag("__first_key")?;
    let duplicates = (first_exact.len() - first_exact.sum().unwrap_or(0) as usize) as u64;
    let drop_flags = |df: DataFrame| df.drop_many(["__first_exact", "__first_key"]);
    let kept = drop_flags(
        marked
            .filter(&first_key)
            .context(|| "keeping first rows".into())?,
    );
    let conflicting = drop_flags(
        marked
            .filter(&(&first_exact & &!&first_key))
            .context(|| "finding key conflicts".into())?,
    );
    let key_list = contract.primary_key.join(", ");
    let keys: Vec<Expr> = contract.primary_key.iter().map(|key| col(*key)).collect();
    let earlier = kept.clone().lazy().select(
        keys.iter()
            .cloned()
            .chain([
                col(FILE).alias("__first_file"),
                col(LINE).alias("__first_line"),
            ])
            .collect::<Vec<_>>(),
    );
    let file_name = file_name_expr(col("__first_file"), file_names);
    let conflicts = conflicting
        .lazy()
        .join(earlier, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        .with_columns([
            lit("key conflict").alias(KIND),
            lit(contract.primary_key[0]).alias(COLUMN),
            concat_str(
                [
                    lit(format!("same key ({key_list}) as line ")),
                    col("__first_line").cast(DataType::String),
                    lit(" of "),
                    file_name,
                    lit(" but different values; the earlier row was kept"),
                ],
                "",
                true,
            )
            .alias(REASON),
        ])
        .drop(cols(["__first_file", "__first_line"]))
        .collect()
        .context(|| "describing key conflicts".into())?;
    Ok(Deduped {
        kept,
        conflicts,
        duplicates,
    })
}

/// Maps a file-index expression to the file's name.
pub fn file_name_expr(index: Expr, file_names: &[String]) -> Expr {
    let mut expr = lit(NULL).cast(DataType::String);
    for (position, name) in file_names.iter().enumerate().rev() {
        expr = when(index.clone().eq(lit(position as u32)))
            .then(lit(name.as_str()))
            .otherwise(expr);
    }
    expr
}

/// Splits off rows whose `customer_id` is not among `known_ids`.
pub fn split_orphans(frame: DataFrame, known_ids: &Series) -> Result<(DataFrame, DataFrame)> {
    let known = col("customer_id").is_in(lit(known_ids.clone()).implode(false), false);
    let marked = frame
        .lazy()
        .with_column(known.alias("__known"))
        .collect()
        .context(|| "checking customer ids".into())?;
    let mask = marked
        .column("__known")
        .and_then(|column| column.bool().cloned())
        .context(|| "reading customer id checks".into())?;
    let kept = marked
        .filter(&mask)
        .map(|df| df.drop("__known"))
        .and_then(|df| df)
        .context(|| "keeping known customers".into())?;
    let orphans = marked
        .filter(&!&mask)
        .context(|| "splitting unknown customers".into())?
        .lazy()
        .drop(cols(["__known"]))
        .with_columns([
            lit("unknown customer").alias(KIND),
            lit("customer_id").alias(COLUMN),
            concat_str(
                [
                    lit("customer_id '"),
                    col("customer_id"),
                    lit("' has no row in customers"),
                ],
                "",
                true,
            )
            .alias(REASON),
        ])
        .collect()
        .context(|| "describing unknown customers".into())?;
    Ok((kept, orphans))
}

/// Clips values above the upper log-IQR fence, keeping the original beside them.
pub fn clip_outliers(
    frame: DataFrame,
    contract: &SourceContract,
) -> Result<(DataFrame, BTreeMap<&'static str, OutlierReport>)> {
    let columns: Vec<&'static str> = contract
        .columns
        .iter()
        .filter(|column| column.outliers == OutlierRule::LogIqr)
        .map(|column| column.name)
        .collect();
    let mut reports = BTreeMap::new();
    if columns.is_empty() {
        return Ok((frame, reports));
    }
    let quantiles: Vec<Expr> = columns
        .iter()
        .flat_map(|name| {
            let logged = col(*name).filter(col(*name).gt(lit(0.0))).log1p();
            [
                logged
                    .clone()
                    .quantile(lit(0.25), QuantileMethod::Linear)
                    .alias(format!("{name}_q1")),
                logged
                    .quantile(lit(0.75), QuantileMethod::Linear)
                    .alias(format!("{name}_q3")),
            ]
        })
        .collect();
    let stats = frame
        .clone()
        .lazy()
        .select(quantiles)
        .collect()
        .context(|| "computing outlier fences".into())?;
    let value = |name: String| -> Option<f64> {
        stats
            .column(&name)
            .ok()
            .and_then(|column| column.get(0).ok())
            .and_then(|value| value.extract::<f64>())
    };
    let mut exprs = Vec::new();
    for name in columns {
        let (Some(q1), Some(q3)) = (value(format!("{name}_q1")), value(format!("{name}_q3")))
        else {
            continue;
        };
        let upper = (q3 + OUTLIER_IQR_K * (q3 - q1)).exp_m1();
        let above = col(name).gt(lit(upper));
        exprs.push(
            when(above.clone())
                .then(col(name))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias(format!("{name}_original")),
        );
        exprs.push(
            when(above)
                .then(lit(upper))
                .otherwise(col(name))
                .alias(name),
        );
        reports.insert(
            name,
            OutlierReport {
                count: 0,
                upper_fence: upper,
            },
        );
    }
    let clipped = frame
        .lazy()
        .with_columns(exprs)
        .collect()
        .context(|| "clipping outliers".into())?;
    for (name, report) in reports.iter_mut() {
        report.count = clipped
            .column(&format!("{name}_original"))
            .map(|column| (column.len() - column.null_count()) as u64)
            .unwrap_or(0);
    }
    Ok((clipped, reports))
}
