//! Features from a flat table the user already has (`churn features --table FILE --id COL
//! --target COL`): one row per customer, or several tables joined on the id column (a
//! warehouse export split by subject).
//!
//! Columns are renamed to snake_case (`TotalCharges` becomes `total_charges`). To train,
//! column kinds are inferred from the values (see `kinds.rs`); to score with a trained model
//! (`--spec MODEL`), they are read as the model's spec says, whatever the new table's
//! values look like, and the target may be absent. The label comes from the target
//! column (see `label.rs`). Rows without an id, and later rows repeating an id with other
//! values, are quarantined to `quarantine.jsonl` beside the table; exact copies are
//! dropped and counted. A feature that alone separates the classes is reported
//! ([`super::leakage`]).

mod kinds;
mod label;
mod read;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use churn_core::{FeatureSpec, ModelArtifact};
use polars::prelude::*;

use super::{FeatureSummary, write_table};
use crate::error::{PipelineError, PolarsContext, Result};
use crate::store::{AtomicFile, write_json};
pub use kinds::{FILLED_SUFFIX, MISSING_TOKENS, Overrides, is_missing_token};
pub use label::TargetValues;
pub use read::snake_case;

/// The label column of tables built here.
pub const LABEL: &str = "churned";

/// Options of a flat-table build.
#[derive(Debug, Clone)]
pub struct TableOptions {
    /// One table, or several sharing the id column.
    pub tables: Vec<PathBuf>,
    /// The id column (as named in the files).
    pub id: String,
    /// The target column (as named in the files); none for a table to score.
    pub target: Option<String>,
    /// Which target values mean churned and stayed.
    pub target_values: TargetValues,
    /// Columns to leave out or keep as categories.
    pub overrides: Overrides,
    /// Build the columns a trained model reads, as it reads them, instead of inferring.
    pub model: Option<ModelColumns>,
    /// Output folder.
    pub out: PathBuf,
}

impl TableOptions {
    /// A build inferring kinds, reading the target's usual words, leaving nothing out.
    pub fn new(
        tables: Vec<PathBuf>,
        id: impl Into<String>,
        target: Option<&str>,
        out: impl Into<PathBuf>,
    ) -> Self {
        Self {
            tables,
            id: id.into(),
            target: target.map(str::to_owned),
            target_values: TargetValues::default(),
            overrides: Overrides::default(),
            model: None,
            out: out.into(),
        }
    }
}

/// What a trained model reads: its feature spec, and the categories it knows per
/// categorical feature (to report the ones it has not seen).
#[derive(Debug, Clone)]
pub struct ModelColumns {
    /// The model's feature spec.
    pub spec: FeatureSpec,
    /// Known categories by feature.
    pub categories: BTreeMap<String, Vec<String>>,
}

impl ModelColumns {
    /// The columns of an artifact.
    pub fn of(artifact: &ModelArtifact) -> Self {
        let mut categories: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for component in &artifact.components {
            for input in &component.preprocessing.inputs {
                if let Some(known) = input.encoding.categories() {
                    categories
                        .entry(input.feature.clone())
                        .or_default()
                        .extend(known.iter().cloned());
                }
            }
        }
        Self {
            spec: artifact.feature_spec.clone(),
            categories: categories
                .into_iter()
                .map(|(name, known)| (name, known.into_iter().collect()))
                .collect(),
        }
    }
}

/// Trims text; blank is missing.
fn cleaned(name: &str) -> Expr {
    let stripped = col(name).str().strip_chars(lit(NULL));
    when(stripped.clone().str().len_bytes().eq(lit(0u32)))
        .then(lit(NULL).cast(DataType::String))
        .otherwise(stripped)
        .alias(name)
}

/// Builds the feature table from flat tables.
pub fn build_from_tables(options: &TableOptions) -> Result<FeatureSummary> {
    if options.tables.is_empty() {
        return Err(PipelineError::InvalidInput(
            "give at least one --table".into(),
        ));
    }
    let id = snake_case(&options.id);
    let target = options.target.as_deref().map(snake_case);
    let mut warnings = Vec::new();
    let quarantine_target = options.out.join("quarantine.jsonl");
    let quarantine_file = AtomicFile::new(&quarantine_target)?;
    let mut quarantine = quarantine_file.create_writer()?;
    let mut quarantined = 0u64;
    let mut duplicates = 0u64;

    let mut joined: Option<DataFrame> = None;
    for path in &options.tables {
        let (frame, note) = read::read_as_text(path)?;
        warnings.extend(note);
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
    // Every rejected row is written: it stays, whatever fails after.
    quarantine
        .flush()
        .map_err(|e| PipelineError::io(quarantine_file.temp_path(), e))?;
    quarantine_file.commit_writer(quarantine)?;
    let frame = joined.ok_or_else(|| PipelineError::InvalidInput("no tables".into()))?;
    if frame.height() == 0 {
        let files: Vec<String> = options
            .tables
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        return Err(PipelineError::InvalidInput(format!(
            "no customer rows to read in {} (a header only, or every row quarantined: see {})",
            files.join(", "),
            quarantine_target.display()
        )));
    }
    let labels = match (&target, &options.target) {
        (Some(target), Some(given)) => {
            let values = frame.column(target).map_err(|_| {
                PipelineError::InvalidInput(format!(
                    "no target column '{given}' (read as '{target}') in the tables; the \
                     columns are: {}",
                    column_list(&frame)
                ))
            })?;
            let values = values.str().context(|| "reading the target".into())?;
            let labels = label::labels(given, values, &options.target_values)?;
            let unlabelled = labels.iter().filter(|label| label.is_none()).count();
            if unlabelled > 0 {
                warnings.push(format!(
                    "{unlabelled} rows have no target value: their label is empty"
                ));
            }
            Some(labels)
        }
        _ => None,
    };
    if labels.is_none() && options.model.is_none() {
        warnings.push("no --target: the table can be scored but not trained on".into());
    }

    let mut columns = vec![frame.column(&id).context(|| "reading ids".into())?.clone()];
    let (id_column, defs) = match &options.model {
        None => (
            id.clone(),
            inferred_features(
                &frame,
                &id,
                target.as_deref(),
                options,
                &mut columns,
                &mut warnings,
            )?,
        ),
        Some(model) => {
            features_of_model(
                &frame,
                &id,
                target.as_deref(),
                model,
                &mut columns,
                &mut warnings,
            )?;
            (model.spec.id_column.clone(), model.spec.features.clone())
        }
    };
    columns[0] = columns[0].clone().with_name(id_column.as_str().into());
    let label_column = labels.map(|labels| Column::new(LABEL.into(), labels));
    let has_label = label_column.is_some();
    columns.extend(label_column);
    let mut table =
        DataFrame::new(frame.height(), columns).context(|| "assembling the table".into())?;
    if quarantined + duplicates > 0 {
        warnings.push(format!(
            "{quarantined} rows quarantined to {} and {duplicates} exact duplicates dropped",
            quarantine_target.display()
        ));
    }
    let spec = FeatureSpec::new(id_column, has_label.then_some(LABEL), defs);
    let mut summary = write_table(&options.out, &mut table, &spec, warnings)?;
    // A table training would refuse (one class, an absurd value) is refused there, with
    // its reason; here only the leaks of a trainable table are reported.
    if has_label && let Ok(data) = super::data::load_dir(&options.out, true) {
        let all: Vec<usize> = (0..data.len()).collect();
        let leaks = super::leakage::leaky_features(&data, &all);
        if !leaks.is_empty() {
            summary.warnings.extend(
                leaks
                    .iter()
                    .map(|leak| format!("{leak}; `churn train` refuses it unless --allow-leaky")),
            );
            write_json(options.out.join(super::SUMMARY_FILE), &summary)?;
        }
    }
    Ok(summary)
}

/// Features with their kinds inferred from the values.
fn inferred_features(
    frame: &DataFrame,
    id: &str,
    target: Option<&str>,
    options: &TableOptions,
    columns: &mut Vec<Column>,
    warnings: &mut Vec<String>,
) -> Result<Vec<churn_core::FeatureDef>> {
    let overrides = &options.overrides;
    for name in overrides.drop.iter().chain(&overrides.categorical) {
        if frame.column(name).is_err() {
            return Err(PipelineError::InvalidInput(format!(
                "--drop / --categorical name '{name}', which is not a column; the columns are: {}",
                column_list(frame)
            )));
        }
    }
    let mut defs = Vec::new();
    for column in frame.columns() {
        let name = column.name().as_str();
        if name == id || Some(name) == target {
            continue;
        }
        if overrides.drop.contains(name) {
            warnings.push(format!("column '{name}' dropped: --drop"));
            continue;
        }
        let text = column.str().context(|| format!("reading {name}"))?;
        let (inferred, note) = kinds::infer(name, text, frame.height(), overrides);
        warnings.extend(note);
        match inferred {
            kinds::Inferred::Feature(def, values) => {
                defs.push(def);
                columns.push(values);
            }
            kinds::Inferred::Dropped(reason) => {
                warnings.push(format!("column '{name}' dropped: {reason}"))
            }
        }
    }
    Ok(defs)
}

/// The columns a model reads, read as it reads them; a missing one is an error naming
/// it, an extra one a note.
fn features_of_model(
    frame: &DataFrame,
    id: &str,
    target: Option<&str>,
    model: &ModelColumns,
    columns: &mut Vec<Column>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let text = |name: &str| frame.column(name).ok().and_then(|c| c.str().ok());
    let mut missing = Vec::new();
    let mut used = BTreeSet::new();
    for feature in &model.spec.features {
        let name = feature.name.as_str();
        let source = match (text(name), name.strip_suffix(FILLED_SUFFIX).and_then(text)) {
            (Some(values), _) => {
                used.insert(name);
                kinds::Source::Column(values)
            }
            (None, Some(values)) if feature.kind == churn_core::FeatureKind::Boolean => {
                used.insert(&name[..name.len() - FILLED_SUFFIX.len()]);
                kinds::Source::Filled(values)
            }
            _ => {
                missing.push(name);
                continue;
            }
        };
        let known = model.categories.get(name).map(Vec::as_slice);
        let (values, note) = kinds::read_as(feature, source, known);
        warnings.extend(note);
        columns.push(values);
    }
    if !missing.is_empty() {
        return Err(PipelineError::InvalidInput(format!(
            "the table lacks {} column{} the model reads: {}; the columns are: {}",
            missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            column_list(frame)
        )));
    }
    let extra: Vec<&str> = frame
        .get_column_names()
        .iter()
        .map(|name| name.as_str())
        .filter(|name| *name != id && Some(*name) != target && !used.contains(name))
        .collect();
    if !extra.is_empty() {
        warnings.push(format!(
            "columns the model does not read, ignored: {}",
            extra.join(", ")
        ));
    }
    Ok(())
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
