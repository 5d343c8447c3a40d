//! How `churn features --table` and `churn predict --table` read a flat table: the id and
//! target columns, the target's values, columns to leave out or keep as categories, and
//! the model whose feature spec to read it with.

use std::path::PathBuf;

use anyhow::{Context, Result};
use churn_pipeline::features::table::{
    ModelColumns, Overrides, TableOptions, TargetValues, snake_case,
};
use churn_pipeline::models;
use clap::Args;

/// How a flat table's columns are read (shared by `features --table` and
/// `predict --table`).
#[derive(Debug, Clone, Args)]
pub struct TableFlags {
    /// The customer-id column of --table (default with --spec: the model's).
    #[arg(long)]
    pub id: Option<String>,
    /// The churn column of --table (yes/no, true/false or 1/0); none for a table to score.
    #[arg(long)]
    pub target: Option<String>,
    /// The --target values that mean churned, when they are not the usual words
    /// (comma-separated).
    #[arg(long, value_delimiter = ',', requires = "target")]
    pub positive: Vec<String>,
    /// The --target values that mean stayed; needed when the target has more than two
    /// values (comma-separated).
    #[arg(long, value_delimiter = ',', requires = "positive")]
    pub negative: Vec<String>,
    /// Columns to leave out (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub drop: Vec<String>,
    /// Columns to keep as categories whatever their values (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Read the columns a trained model reads, as it reads them (a model folder or
    /// file), instead of inferring their kinds: for tables to score.
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["drop", "categorical"])]
    pub spec: Option<PathBuf>,
}

impl TableFlags {
    /// The table build these flags ask for, writing to `out`.
    pub(crate) fn options(&self, tables: &[PathBuf], out: PathBuf) -> Result<TableOptions> {
        let model = match &self.spec {
            Some(path) => Some(ModelColumns::of(
                &models::read_artifact(path).context("reading --spec")?,
            )),
            None => None,
        };
        let id = match (&self.id, &model) {
            (Some(id), _) => id.clone(),
            (None, Some(model)) => model.spec.id_column.clone(),
            (None, None) => anyhow::bail!("--table needs --id COLUMN (the customer id)"),
        };
        let names = |list: &[String]| list.iter().map(|name| snake_case(name)).collect();
        Ok(TableOptions {
            tables: tables.to_vec(),
            id,
            target: self.target.clone(),
            target_values: TargetValues {
                positive: self.positive.clone(),
                negative: self.negative.clone(),
            },
            overrides: Overrides {
                drop: names(&self.drop),
                categorical: names(&self.categorical),
            },
            model,
            out,
        })
    }
}
