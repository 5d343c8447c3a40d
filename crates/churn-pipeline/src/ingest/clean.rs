//! Source-wide cleaning after validation: duplicates and key conflicts, rows that refer to
//! unknown or quarantined customers, and outliers. These need the whole source at once, unlike the
//! row-by-row checks of validation.
//!
//! Memory matters here (a million customers have tens of millions of sessions), so the
//! validated rows are never copied whole: the checks produce one flag per row, the few
//! rejected rows are looked at on their own, and the curated file is written slice by
//! slice from the validated chunks.

use std::collections::BTreeMap;
use std::fs::File;

use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;
use serde::Serialize;

use super::read::LINE;
use super::validate::{COLUMN, KIND, REASON};
use crate::contract::{OUTLIER_IQR_K, OutlierRule, SourceContract};
use crate::error::{PolarsContext, Result};

/// Column with the index of the file a row came from.
pub const FILE: &str = "__file";

/// Rows written per batch of the curated file.
const WRITE_SLICE: usize = 1 << 20;

/// Outliers found in one column.
#[derive(Debug, Clone, Serialize)]
pub struct OutlierReport {
    /// Values above the fence (clipped, original kept in `<column>_original`).
    pub count: u64,
    /// The upper fence: `expm1(Q3 + k * IQR)` of `ln(1 + x)` over positive values.
    pub upper_fence: f64,
}

/// The customers other sources may refer to.
#[derive(Debug, Clone)]
pub struct CustomerIds {
    /// Ids of the curated customers.
    pub curated: Series,
    /// Ids seen only in quarantined rows of customers: a row that refers to one is
    /// quarantined too ("customer quarantined"), or it would point at nobody once
    /// curated, but it is told apart from a customer nobody has heard of.
    pub quarantined: Series,
}

/// What the source-wide checks decided for every row.
#[derive(Debug)]
pub struct Marks {
    /// Rows to curate.
    pub keep: BooleanChunked,
    /// Exact copies of earlier rows.
    pub duplicates: u64,
    /// Rows rejected here (key conflicts, unknown or quarantined customers) with kind,
    /// column, reason.
    pub rejected: Vec<DataFrame>,
}

fn struct_or_single(names: &[&str]) -> Expr {
    match names {
        [single] => col(*single),
        many => as_struct(many.iter().map(|name| col(*name)).collect()),
    }
}

fn flags(frame: &DataFrame, name: &str) -> Result<BooleanChunked> {
    frame
        .column(name)
        .and_then(|column| column.bool().cloned())
        .context(|| format!("reading {name}"))
}

/// Decides which validated rows (in file and line order) are curated: the first row of
/// every key whose customer is curated. Later rows with the same key are exact
/// duplicates (counted) or conflicts (rejected); rows of unknown or quarantined
/// customers are rejected.
pub fn mark(
    all: &DataFrame,
    contract: &SourceContract,
    customers: Option<&CustomerIds>,
    file_names: &[String],
) -> Result<Marks> {
    let among = |ids: &Series| col("customer_id").is_in(lit(ids.clone()).implode(false), false);
    let (known, held) = match customers {
        Some(ids) if contract.references_customers => {
            (among(&ids.curated), among(&ids.quarantined))
        }
        _ => (lit(true), lit(false)),
    };
    let first_key = first_of_key(all, contract.primary_key)?;
    let checked = all
        .clone()
        .lazy()
        .select([known.alias("__known"), held.alias("__held")])
        .collect()
        .context(|| format!("checking customers of {}", contract.source))?;
    let known = flags(&checked, "__known")?;
    let held = flags(&checked, "__held")?;

    let mut rejected = Vec::new();
    let repeated = all
        .filter(&!&first_key)
        .context(|| "finding repeated keys".into())?;
    let mut duplicates = 0;
    if repeated.height() > 0 {
        let (count, conflicts) = split_repeats(all, &first_key, repeated, contract, file_names)?;
        duplicates = count;
        rejected.push(conflicts);
    }
    let unmatched = &first_key & &!&known;
    for (mask, kind, explanation) in [
        (
            &unmatched & &!&held,
            "unknown customer",
            "' has no row in customers",
        ),
        (
            &unmatched & &held,
            "customer quarantined",
            "' has no curated row: its row in customers was quarantined (see the \
             customers' quarantine file of this version)",
        ),
    ] {
        if !mask.any() {
            continue;
        }
        let orphans = all
            .filter(&mask)
            .context(|| format!("finding rows of kind {kind}"))?
            .lazy()
            .with_columns([
                lit(kind).alias(KIND),
                lit("customer_id").alias(COLUMN),
                concat_str(
                    [lit("customer_id '"), col("customer_id"), lit(explanation)],
                    "",
                    true,
                )
                .alias(REASON),
            ])
            .collect()
            .context(|| format!("describing rows of kind {kind}"))?;
        rejected.push(orphans);
    }
    Ok(Marks {
        keep: &first_key & &known,
        duplicates,
        rejected,
    })
}

/// murmur3's 64-bit finaliser: spreads the bits of a value over the whole word.
fn mix(mut value: u64) -> u64 {
    value ^= value >> 33;
    value = value.wrapping_mul(0xff51_afd7_ed55_8ccd);
    value ^= value >> 33;
    value = value.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    value ^ (value >> 33)
}

/// One 64-bit hash per row of the key columns.
fn key_hashes(all: &DataFrame, key: &[&str]) -> Result<Vec<u64>> {
    let mut hashes = vec![0x9e37_79b9_7f4a_7c15u64; all.height()];
    for name in key {
        let column = all.column(name).context(|| format!("reading {name}"))?;
        let update = |hash: &mut u64, value: u64| *hash = mix(hash.rotate_left(29) ^ value);
        if let Ok(text) = column.str() {
            for (hash, value) in hashes.iter_mut().zip(text.iter()) {
                let mut fnv = churn_core::Fnv64::default();
                fnv.write(value.unwrap_or("").as_bytes());
                update(hash, fnv.finish());
            }
        } else {
            let numbers = column
                .cast(&DataType::Int64)
                .context(|| format!("reading {name}"))?;
            let numbers = numbers.i64().context(|| format!("reading {name}"))?;
            for (hash, value) in hashes.iter_mut().zip(numbers.iter()) {
                update(hash, value.unwrap_or(i64::MIN) as u64);
            }
        }
    }
    Ok(hashes)
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8) | u64::from(*byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Marks the first row of every key, in row order.
///
/// Hashes the key of every row into a set (~20 bytes a row, where polars' distinct on a
/// struct of the key columns needs ~150); the rows whose hash was seen before (repeats,
/// and in theory hash collisions) are then settled exactly by comparing their keys.
fn first_of_key(all: &DataFrame, key: &[&str]) -> Result<BooleanChunked> {
    let hashes = key_hashes(all, key)?;
    let mut seen = std::collections::HashSet::with_capacity_and_hasher(
        hashes.len(),
        std::hash::BuildHasherDefault::<Prehashed>::default(),
    );
    let mut first: Vec<bool> = hashes.iter().map(|hash| seen.insert(*hash)).collect();
    drop(seen);
    let candidates: Vec<IdxSize> = first
        .iter()
        .enumerate()
        .filter(|(_, first)| !**first)
        .map(|(row, _)| row as IdxSize)
        .collect();
    if !candidates.is_empty() {
        let candidate_hashes: std::collections::HashSet<u64> =
            candidates.iter().map(|row| hashes[*row as usize]).collect();
        // Every row sharing a hash with a candidate, in row order.
        let involved: Vec<IdxSize> = hashes
            .iter()
            .enumerate()
            .filter(|(_, hash)| candidate_hashes.contains(hash))
            .map(|(row, _)| row as IdxSize)
            .collect();
        let rows = IdxCa::from_vec("rows".into(), involved.clone());
        let exact = all
            .take(&rows)
            .context(|| "reading repeated keys".into())?
            .lazy()
            .select([struct_or_single(key).is_first_distinct().alias("__first")])
            .collect()
            .context(|| "comparing repeated keys".into())?;
        for (row, is_first) in involved.iter().zip(flags(&exact, "__first")?.iter()) {
            first[*row as usize] = is_first.unwrap_or(true);
        }
    }
    Ok(BooleanChunked::from_slice("__first_key".into(), &first))
}

/// Splits the rows that repeat an earlier key into exact copies (counted) and conflicts.
fn split_repeats(
    all: &DataFrame,
    first_key: &BooleanChunked,
    repeated: DataFrame,
    contract: &SourceContract,
    file_names: &[String],
) -> Result<(u64, DataFrame)> {
    let keys: Vec<Expr> = contract.primary_key.iter().map(|key| col(*key)).collect();
    let names = contract.column_names();
    let earlier = all
        .filter(first_key)
        .context(|| "finding first rows".into())?
        .lazy()
        .join(
            repeated
                .clone()
                .lazy()
                .select(keys.clone())
                .unique(None, UniqueKeepStrategy::Any),
            keys.clone(),
            keys.clone(),
            JoinArgs::new(JoinType::Semi),
        )
        .select(
            names
                .iter()
                .map(|name| {
                    if contract.primary_key.contains(name) {
                        col(*name)
                    } else {
                        col(*name).alias(format!("{name}__first"))
                    }
                })
                .chain([
                    col(FILE).alias("__first_file"),
                    col(LINE).alias("__first_line"),
                ])
                .collect::<Vec<_>>(),
        );
    let same = names
        .iter()
        .filter(|name| !contract.primary_key.contains(name))
        .fold(lit(true), |same, name| {
            same.and(col(*name).eq_missing(col(format!("{name}__first"))))
        });
    let compared = repeated
        .lazy()
        .join(earlier, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        .with_column(same.alias("__same"))
        .collect()
        .context(|| "comparing repeated keys".into())?;
    let same = flags(&compared, "__same")?;
    let duplicates = same.sum().unwrap_or(0) as u64;
    let key_list = contract.primary_key.join(", ");
    let drop_first: Vec<String> = names
        .iter()
        .filter(|name| !contract.primary_key.contains(name))
        .map(|name| format!("{name}__first"))
        .chain([
            "__first_file".into(),
            "__first_line".into(),
            "__same".into(),
        ])
        .collect();
    let conflicts = compared
        .filter(&!&same)
        .context(|| "finding key conflicts".into())?
        .lazy()
        .with_columns([
            lit("key conflict").alias(KIND),
            lit(contract.primary_key[0]).alias(COLUMN),
            concat_str(
                [
                    lit(format!("same key ({key_list}) as line ")),
                    col("__first_line").cast(DataType::String),
                    lit(" of "),
                    file_name_expr(col("__first_file"), file_names),
                    lit(" but different values; the earlier row was kept"),
                ],
                "",
                true,
            )
            .alias(REASON),
        ])
        .drop(cols(drop_first))
        .collect()
        .context(|| "describing key conflicts".into())?;
    Ok((duplicates, conflicts))
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

/// The upper outlier fence of every log-IQR column, over the rows to keep.
pub fn outlier_fences(
    all: &DataFrame,
    keep: &BooleanChunked,
    contract: &SourceContract,
) -> Result<BTreeMap<&'static str, f64>> {
    let mut fences = BTreeMap::new();
    for column in contract.columns {
        if column.outliers != OutlierRule::LogIqr {
            continue;
        }
        let name = column.name;
        let values = all
            .column(name)
            .and_then(|c| c.f64().cloned())
            .context(|| format!("reading {name}"))?;
        let positive = values
            .filter(&(keep & &values.gt(0.0)))
            .context(|| format!("selecting {name}"))?
            .apply_values(f64::ln_1p);
        let quantile = |q: f64| positive.quantile(q, QuantileMethod::Linear).ok().flatten();
        if let (Some(q1), Some(q3)) = (quantile(0.25), quantile(0.75)) {
            fences.insert(name, (q3 + OUTLIER_IQR_K * (q3 - q1)).exp_m1());
        }
    }
    Ok(fences)
}

/// Writes the kept rows, clipped, with their lineage, slice by slice; counts outliers.
pub fn write_curated(
    all: &DataFrame,
    keep: &BooleanChunked,
    fences: &BTreeMap<&'static str, f64>,
    file_names: &[String],
    out: File,
) -> Result<(u64, BTreeMap<&'static str, OutlierReport>)> {
    let mut finishing = Vec::new();
    for (name, upper) in fences {
        let above = col(*name).gt(lit(*upper));
        finishing.push(
            when(above.clone())
                .then(col(*name))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias(format!("{name}_original")),
        );
        finishing.push(
            when(above)
                .then(lit(*upper))
                .otherwise(col(*name))
                .alias(*name),
        );
    }
    finishing.push(file_name_expr(col(FILE), file_names).alias("source_file"));
    finishing.push(col(LINE).alias("source_line"));
    let finish = |slice: DataFrame| -> Result<DataFrame> {
        slice
            .lazy()
            .with_columns(finishing.clone())
            .drop(cols([FILE, LINE]))
            .collect()
            .context(|| "finishing curated rows".into())
    };
    let schema = finish(all.head(Some(0)))?.schema().as_ref().clone();
    let mut writer: BatchedWriter<File> = ParquetWriter::new(out)
        .batched(&schema)
        .context(|| "starting the curated file".into())?;
    let mut rows = 0u64;
    let mut reports: BTreeMap<&'static str, OutlierReport> = fences
        .iter()
        .map(|(name, upper)| {
            (
                *name,
                OutlierReport {
                    count: 0,
                    upper_fence: *upper,
                },
            )
        })
        .collect();
    let mut offset = 0;
    while offset < all.height() {
        let length = WRITE_SLICE.min(all.height() - offset);
        let slice = all.slice(offset as i64, length);
        let mask = keep.slice(offset as i64, length);
        let batch = finish(
            slice
                .filter(&mask)
                .context(|| "selecting kept rows".into())?,
        )?;
        for (name, report) in reports.iter_mut() {
            if let Ok(original) = batch.column(&format!("{name}_original")) {
                report.count += (original.len() - original.null_count()) as u64;
            }
        }
        rows += batch.height() as u64;
        writer
            .write_batch(&batch)
            .context(|| "writing curated rows".into())?;
        offset += length;
    }
    writer
        .finish()
        .context(|| "finishing the curated file".into())?;
    Ok((rows, reports))
}
