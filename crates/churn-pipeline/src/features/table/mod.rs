//! Features from a flat table the user already has (`churn features --table FILE --id COL
//! --target COL`): one row per customer, with column kinds inferred, or several tables
//! joined on the id column (a warehouse export split by subject).
//!
//! Columns are renamed to snake_case (`TotalCharges` becomes `total_charges`). A column is
//! numeric when every non-empty value parses as a finite number (`" "` counts as empty,
//! as in the IBM Telco export), boolean when it has two values among yes/no, true/false,
//! y/n, t/f and 1/0, and categorical otherwise. Constant columns, and text columns with
//! nearly one value per row (another identifier), carry no signal and are dropped with a
//! warning. Rows without an id, and later rows repeating an id with other values, are
//! quarantined to `quarantine.jsonl` beside the table; exact copies are dropped and
//! counted.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use churn_core::{FeatureDef, FeatureKind, FeatureSpec, normalize_category};
use polars::prelude::*;

use super::{FeatureSummary, write_table};
use crate::error::{PipelineError, PolarsContext, Result};
use crate::store::{AtomicFile, RawFormat, scan_parquet_file};

/// The label column of tables built here.
pub const LABEL: &str = "churned";

/// Options of a flat-table build.
#[derive(Debug, Clone)]
pub struct TableOptions {
    /// One table, or several sharing the id column.
    pub tables: Vec<PathBuf>,
    /// The id column (as named in the files).
    pub id: String,
    /// The target column (as named in the files); yes/no, true/false or 1/0.
    pub target: String,
    /// The target value meaning "churned", when it is none of the usual words.
    pub positive: Option<String>,
    /// Output folder.
    pub out: PathBuf,
}

/// `TotalCharges` → `total_charges`, `customerID` → `customer_id`,
/// `account length` → `account_length`, `StreamingTV` → `streaming_tv`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (index, &ch) in chars.iter().enumerate() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && index > 0 {
                let previous = chars[index - 1];
                let next_is_lower = chars.get(index + 1).is_some_and(|c| c.is_lowercase());
                if previous.is_lowercase()
                    || previous.is_ascii_digit()
                    || (previous.is_uppercase() && next_is_lower)
                {
                    out.push('_');
                }
            }
            out.extend(ch.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

fn read_as_text(path: &Path) -> Result<DataFrame> {
    if !path.exists() {
        return Err(PipelineError::Missing(format!(
            "{} does not exist",
            path.display()
        )));
    }
    if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(PipelineError::bad_file(path, "the file is empty (0 bytes)"));
    }
    let frame = match RawFormat::from_path(path) {
        Some(RawFormat::Csv) => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|reader| reader.finish())
            .map_err(|e| PipelineError::bad_file(path, format!("not a readable CSV file: {e}")))?,
        Some(RawFormat::Parquet) => scan_parquet_file(path)?
            .select([all().as_expr().cast(DataType::String)])
            .collect()
            .map_err(|e| {
                PipelineError::bad_file(path, format!("not a readable Parquet file: {e}"))
            })?,
        _ => {
            return Err(PipelineError::bad_file(
                path,
                "unsupported table format: use .csv or .parquet",
            ));
        }
    };
    let mut seen = BTreeMap::new();
    let mut renamed = Vec::with_capacity(frame.width());
    for column in frame.columns() {
        let name = snake_case(column.name());
        if let Some(other) = seen.insert(name.clone(), column.name().to_string()) {
            return Err(PipelineError::bad_file(
                path,
                format!(
                    "columns '{other}' and '{}' both become '{name}'",
                    column.name()
                ),
            ));
        }
        renamed.push(column.clone().with_name(name.into()));
    }
    DataFrame::new(frame.height(), renamed).context(|| format!("reading {}", path.display()))
}

/// Trims text; blank is missing.
fn cleaned(name: &str) -> Expr {
    let stripped = col(name).str().strip_chars(lit(NULL));
    when(stripped.clone().str().len_bytes().eq(lit(0u32)))
        .then(lit(NULL).cast(DataType::String))
        .otherwise(stripped)
        .alias(name)
}

const BOOL_WORDS: [(&str, bool); 10] = [
    ("yes", true),
    ("no", false),
    ("true", true),
    ("false", false),
    ("y", true),
    ("n", false),
    ("t", true),
    ("f", false),
    ("1", true),
    ("0", false),
];

fn bool_word(text: &str) -> Option<bool> {
    let lower = text.to_lowercase();
    BOOL_WORDS
        .iter()
        .find(|(word, _)| *word == lower)
        .map(|(_, value)| *value)
}

/// Builds the feature table from flat tables.
pub fn build_from_tables(options: &TableOptions) -> Result<FeatureSummary> {
    if options.tables.is_empty() {
        return Err(PipelineError::InvalidInput(
            "give at least one --table".into(),
        ));
    }
    let id = snake_case(&options.id);
    let target = snake_case(&options.target);
    let mut warnings = Vec::new();
    let quarantine_target = options.out.join("quarantine.jsonl");
    let quarantine_file = AtomicFile::new(&quarantine_target)?;
    let mut quarantine = quarantine_file.create_writer()?;
    let mut quarantined = 0u64;
    let mut duplicates = 0u64;

    let mut joined: Option<DataFrame> = None;
    for path in &options.tables {
        let frame = read_as_text(path)?;
        if frame.column(&id).is_err() {
            return Err(PipelineError::bad_file(
                path,
                format!(
                    "no id column '{}' (read as '{id}'); the columns are: {}",
                    options.id,
                    column_list(&frame)
                ),
            ));
        }
        let names: Vec<String> = frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let frame = frame
            .lazy()
            .with_columns(names.iter().map(|name| cleaned(name)).collect::<Vec<_>>())
            .with_row_index("__row", Some(1))
            .with_columns([
                as_struct(names.iter().map(|name| col(name.as_str())).collect())
                    .is_first_distinct()
                    .alias("__first_exact"),
                col(id.as_str()).is_first_distinct().alias("__first_key"),
            ])
            .collect()
            .context(|| format!("reading {}", path.display()))?;
        let flag = |name: &str| -> Result<BooleanChunked> {
            frame
                .column(name)
                .and_then(|c| c.bool().cloned())
                .context(|| "reading flags".into())
        };
        let (first_exact, first_key) = (flag("__first_exact")?, flag("__first_key")?);
        let id_present = frame
            .column(&id)
            .map(|c| c.is_not_null())
            .context(|| "reading ids".into())?;
        duplicates += (first_exact.len() - first_exact.sum().unwrap_or(0) as usize) as u64;
        let rejected = frame
            .filter(&(&first_exact & &(!&first_key | !&id_present)))
            .context(|| "finding rejected rows".into())?;
        for row in 0..rejected.height() {
            let mut record = serde_json::Map::new();
            for name in &names {
                let text = rejected
                    .column(name)
                    .and_then(|column| column.get(row))
                    .context(|| "reading a rejected row".into())?
                    .get_str()
                    .map(str::to_owned);
                record.insert(
                    name.clone(),
                    text.map_or(serde_json::Value::Null, Into::into),
                );
            }
            let line = rejected
                .column("__row")
                .ok()
                .and_then(|c| c.get(row).ok())
                .and_then(|v| v.extract::<u64>())
                .unwrap_or(0)
                + 1;
            let missing_id = record.get(&id).is_none_or(serde_json::Value::is_null);
            let entry = serde_json::json!({
                "file": path.display().to_string(),
                "line": line,
                "column": id,
                "reason": if missing_id { "missing id".to_owned() } else { "id repeats an earlier row with different values; the earlier row was kept".to_owned() },
                "values": record,
            });
            serde_json::to_writer(&mut quarantine, &entry).map_err(|source| {
                PipelineError::Json {
                    context: "writing quarantine".into(),
                    source,
                }
            })?;
            quarantine
                .write_all(b"\n")
                .map_err(|e| PipelineError::io(quarantine_file.temp_path(), e))?;
            quarantined += 1;
        }
        let kept = frame
            .filter(&(&first_key & &id_present))
            .and_then(|df| {
                df.drop_many(["__row", "__first_exact", "__first_key"])
                    .pipe(Ok)
            })
            .context(|| "keeping rows".into())?;
        joined = Some(match joined {
            None => kept,
            Some(left) => {
                let before: BTreeSet<String> = ids(&left, &id);
                let incoming: BTreeSet<String> = ids(&kept, &id);
                let only_left = before.difference(&incoming).count();
                let only_right = incoming.difference(&before).count();
                if only_left + only_right > 0 {
                    warnings.push(format!(
                        "{}: {only_right} ids not in the tables before it and {only_left} ids \
                         missing from it; their other columns are empty",
                        path.display()
                    ));
                }
                left.lazy()
                    .join(
                        kept.lazy(),
                        [col(id.as_str())],
                        [col(id.as_str())],
                        JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
                    )
                    .sort([id.as_str()], SortMultipleOptions::default())
                    .collect()
                    .context(|| format!("joining {}", path.display()))?
            }
        });
    }
    let frame = joined.ok_or_else(|| PipelineError::InvalidInput("no tables".into()))?;
    if frame.column(&target).is_err() {
        return Err(PipelineError::InvalidInput(format!(
            "no target column '{}' (read as '{target}') in the tables; the columns are: {}",
            options.target,
            column_list(&frame)
        )));
    }

    // The label.
    let target_values = frame
        .column(&target)
        .and_then(|c| c.str().cloned())
        .context(|| "reading the target".into())?;
    let mut labels: Vec<Option<bool>> = Vec::with_capacity(frame.height());
    let mut unreadable = BTreeSet::new();
    for value in target_values.iter() {
        labels.push(value.and_then(|text| match &options.positive {
            Some(positive) => Some(normalize_category(text) == normalize_category(positive)),
            None => {
                let label = bool_word(text).or_else(|| match normalize_category(text).as_ref() {
                    "churned" | "churn" | "left" => Some(true),
                    "stayed" | "retained" | "active" => Some(false),
                    _ => None,
                });
                if label.is_none() {
                    unreadable.insert(text.to_owned());
                }
                label
            }
        }));
    }
    if !unreadable.is_empty() {
        return Err(PipelineError::InvalidInput(format!(
            "target '{}' has values that are not yes/no, true/false or 1/0: {}; pass \
             --positive VALUE to say which value means churned",
            options.target,
            unreadable
                .into_iter()
                .take(5)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let unlabelled = labels.iter().filter(|label| label.is_none()).count();
    if unlabelled > 0 {
        warnings.push(format!(
            "{unlabelled} rows have no target value: their label is empty"
        ));
    }

    // Features, with kinds inferred.
    let mut defs = Vec::new();
    let mut columns = vec![frame.column(&id).context(|| "reading ids".into())?.clone()];
    for column in frame.columns() {
        let name = column.name().as_str();
        if name == id || name == target {
            continue;
        }
        let text = column.str().context(|| format!("reading {name}"))?;
        match infer(name, text, frame.height())? {
            Inferred::Feature(kind, values) => {
                let description = match kind {
                    FeatureKind::Numeric => "numeric column of the input table",
                    FeatureKind::Boolean => "yes/no column of the input table",
                    FeatureKind::Categorical => "categorical column of the input table",
                };
                defs.push(FeatureDef::new(name, kind, description));
                columns.push(values);
            }
            Inferred::Dropped(reason) => {
                warnings.push(format!("column '{name}' dropped: {reason}"))
            }
        }
    }
    columns.push(Column::new(LABEL.into(), labels));
    let mut table =
        DataFrame::new(frame.height(), columns).context(|| "assembling the table".into())?;
    quarantine
        .flush()
        .map_err(|e| PipelineError::io(quarantine_file.temp_path(), e))?;
    quarantine_file.commit_writer(quarantine)?;
    if quarantined + duplicates > 0 {
        warnings.push(format!(
            "{quarantined} rows quarantined to {} and {duplicates} exact duplicates dropped",
            quarantine_target.display()
        ));
    }
    let spec = FeatureSpec::new(id, Some(LABEL), defs);
    write_table(&options.out, &mut table, &spec, warnings)
}

fn column_list(frame: &DataFrame) -> String {
    frame
        .get_column_names()
        .iter()
        .map(|name| name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn ids(frame: &DataFrame, id: &str) -> BTreeSet<String> {
    frame
        .column(id)
        .ok()
        .and_then(|c| {
            c.str()
                .ok()
                .map(|s| s.iter().flatten().map(str::to_owned).collect())
        })
        .unwrap_or_default()
}

enum Inferred {
    Feature(FeatureKind, Column),
    Dropped(String),
}

fn infer(name: &str, text: &StringChunked, rows: usize) -> Result<Inferred> {
    let present: Vec<&str> = text.iter().flatten().collect();
    if present.is_empty() {
        return Ok(Inferred::Dropped("every value is empty".into()));
    }
    let distinct: BTreeSet<&str> = present.iter().copied().collect();
    if distinct.len() == 1 {
        return Ok(Inferred::Dropped(format!(
            "it has the single value '{}'",
            distinct.iter().next().copied().unwrap_or("")
        )));
    }
    let booleans: BTreeSet<Option<bool>> = distinct.iter().map(|value| bool_word(value)).collect();
    if distinct.len() == 2 && !booleans.contains(&None) && booleans.len() == 2 {
        let values: Vec<Option<bool>> = text.iter().map(|v| v.and_then(bool_word)).collect();
        return Ok(Inferred::Feature(
            FeatureKind::Boolean,
            Column::new(name.into(), values),
        ));
    }
    let numbers: Option<Vec<f64>> = distinct
        .iter()
        .map(|value| value.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect();
    if numbers.is_some() {
        let values: Vec<Option<f64>> = text
            .iter()
            .map(|v| v.and_then(|t| t.parse::<f64>().ok()))
            .collect();
        return Ok(Inferred::Feature(
            FeatureKind::Numeric,
            Column::new(name.into(), values),
        ));
    }
    let categories: BTreeSet<String> = distinct
        .iter()
        .map(|v| normalize_category(v).into_owned())
        .collect();
    if categories.len() > 100 && categories.len() * 2 > rows {
        return Ok(Inferred::Dropped(format!(
            "{} distinct values in {rows} rows: it looks like another identifier",
            categories.len()
        )));
    }
    let values: Vec<Option<String>> = text
        .iter()
        .map(|v| v.map(|text| normalize_category(text).into_owned()))
        .collect();
    Ok(Inferred::Feature(
        FeatureKind::Categorical,
        Column::new(name.into(), values),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_handles_the_usual_spellings() {
        for (raw, expected) in [
            ("customerID", "customer_id"),
            ("TotalCharges", "total_charges"),
            ("account length", "account_length"),
            ("StreamingTV", "streaming_tv"),
            ("number_vmail_messages", "number_vmail_messages"),
            ("  Churn ", "churn"),
            ("SeniorCitizen", "senior_citizen"),
            ("total.day.minutes", "total_day_minutes"),
        ] {
            assert_eq!(snake_case(raw), expected, "{raw}");
        }
    }
}
