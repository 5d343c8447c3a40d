//! The reference churn data sets of `../shared/data/` (IBM Telco, Orange/MLC rows 1–3333),
//! read as a user would: `churn features --table` on the published table, split by the
//! published test ids.

use std::path::Path;

use anyhow::Context;
use churn_pipeline::features::data::{self, Dataset};
use churn_pipeline::features::table::{TableOptions, build_from_tables};

/// One reference data set and the published figures of its peers.
#[derive(Debug)]
pub struct Reference {
    /// Display name.
    pub name: &'static str,
    /// The table, under the data folder.
    pub table: &'static str,
    /// Its id column.
    pub id: &'static str,
    /// Its churn label column.
    pub target: &'static str,
    /// The published test split: one id per line, under the data folder.
    pub test_ids: &'static str,
    /// Only rows whose id is at most this (Orange: the first 3333 rows).
    pub max_id: Option<u64>,
    /// The peers' held-out ROC-AUC, from the data folder's README.
    pub peers: &'static [(&'static str, f64)],
    /// What `churn train` should reach.
    pub target_auc: f64,
    /// What its logistic regression alone should reach, where a peer sets the bar.
    pub target_linear_auc: Option<f64>,
}

/// The two reference data sets.
pub const REFERENCES: [Reference; 2] = [
    Reference {
        name: "IBM Telco",
        table: "telco-ibm/Telco-Customer-Churn.csv",
        id: "customerID",
        target: "Churn",
        test_ids: "telco-ibm/test_ids.txt",
        max_id: None,
        peers: &[
            ("logistic regression", 0.842),
            ("random forest (300 trees)", 0.820),
            ("XGBoost (defaults)", 0.815),
            ("LightGBM (defaults)", 0.835),
            ("CatBoost (defaults)", 0.839),
            ("LightGBM tuned (40 configs x 5-fold CV, ~60 s)", 0.848),
        ],
        target_auc: 0.848,
        target_linear_auc: Some(0.842),
    },
    Reference {
        name: "Orange / MLC (rows 1-3333)",
        table: "orange-mlc/mlc_churn.csv",
        id: "rownames",
        target: "churn",
        test_ids: "orange-mlc/test_rownames_first3333.txt",
        max_id: Some(3333),
        peers: &[
            ("logistic regression", 0.809),
            ("random forest (300 trees)", 0.896),
            ("XGBoost (defaults)", 0.887),
            ("LightGBM (defaults)", 0.897),
            ("CatBoost (defaults)", 0.907),
            ("LightGBM tuned (40 configs x 5-fold CV)", 0.892),
        ],
        target_auc: 0.907,
        target_linear_auc: None,
    },
];

impl Reference {
    /// Builds the feature table in `work` from the data folder `data` and loads it, with
    /// the published test ids.
    pub fn load(&self, data: &Path, work: &Path) -> anyhow::Result<(Dataset, Vec<String>)> {
        let mut table = data.join(self.table);
        if let Some(max) = self.max_id {
            // Keep the first rows, as the reference split does.
            let text = std::fs::read_to_string(&table)
                .with_context(|| format!("reading {}", table.display()))?;
            let mut lines = text.lines();
            let mut kept: Vec<&str> = lines.next().into_iter().collect();
            kept.extend(lines.filter(|line| {
                line.split(',')
                    .next()
                    .and_then(|id| id.parse::<u64>().ok())
                    .is_some_and(|id| id <= max)
            }));
            std::fs::create_dir_all(work)?;
            table = work.join("table.csv");
            std::fs::write(&table, kept.join("\n"))?;
        }
        let features = work.join("features");
        build_from_tables(&TableOptions::new(
            vec![table],
            self.id,
            Some(self.target),
            &features,
        ))?;
        let dataset = data::load_dir(&features, true)?;
        let path = data.join(self.test_ids);
        let test_ids = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the reference test ids {}", path.display()))?
            .lines()
            .map(|line| line.trim().to_owned())
            .filter(|line| !line.is_empty())
            .collect();
        Ok((dataset, test_ids))
    }

    /// A folder of its own under `work`.
    pub fn work_dir(&self, work: &Path) -> std::path::PathBuf {
        work.join(self.table.replace('/', "_"))
    }
}
