//! The command line: the subcommands, the flags every one of them takes, and which use
//! case each runs.

use anyhow::Result;
use churn_pipeline::contract;
use churn_pipeline::features;
use clap::{Args, Parser, Subcommand};

use crate::commands::{
    EvaluateArgs, FeaturesArgs, GenerateArgs, IngestArgs, PredictArgs, TrainArgs,
};
use crate::progress::Bars;

/// Churn prediction from raw customer data to a ranked list of customers at risk.
///
/// Every command works on a data directory laid out like the cloud bucket: raw/,
/// curated/, quarantine/, features/, reports/. Start with `churn demo`.
#[derive(Debug, Parser)]
#[command(name = "churn", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log detail (-v debug, -vv trace). CHURN_LOG=FILTER (e.g. debug) overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Logs as JSON lines (for machines) instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write realistic raw data (six sources) for N simulated customers.
    Generate(GenerateArgs),
    /// Validate and clean raw/ into curated/ (Parquet) and quarantine/, with a report.
    Ingest(IngestArgs),
    /// Build a feature table: as of a date from curated/, or from flat tables you have.
    Features(FeaturesArgs),
    /// Train logistic regression, random forest and boosted trees with cross-validated
    /// tuning; keep the best model.
    Train(TrainArgs),
    /// Score the held-out rows with every family and write report.html and metrics.json.
    Evaluate(EvaluateArgs),
    /// Score a feature table: probabilities, tiers, reasons and a ranked high-risk list.
    Predict(PredictArgs),
    /// Compare a feature table with a model's training profile: drift per feature (PSI,
    /// KS, Wasserstein, Jensen-Shannon), missing rates, new categories, ranked by
    /// importance.
    Monitor(crate::commands::MonitorArgs),
    /// The model registry: list versions, show one, promote a version to champion or roll
    /// the champion back, each move recorded with who and why.
    Models(crate::models::ModelsArgs),
    /// Plan the day's retention actions from a prediction run with a playbook; send them
    /// to the CRM and messaging providers with --send.
    Actions(crate::actions::ActionsArgs),
    /// Serve the scoring API on a data directory: score records and customers, page the
    /// day's ranked list, hand web apps the champion's scorer.
    Serve(crate::serve::ServeArgs),
    /// Exit 0 when a `churn serve` answers 200 on its /healthz (a container's probe).
    Healthcheck {
        /// The health route to ask.
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout_seconds: u64,
    },
    /// Generate a small data set and run every stage on it, up to a dry-run retention
    /// plan, printing where outputs are.
    Demo(crate::demo::DemoArgs),
    /// Print reference documentation as Markdown (the source of docs/).
    Docs {
        /// Which page.
        #[arg(value_enum)]
        page: DocsPage,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DocsPage {
    /// The raw-data contract (docs/data-contract.md).
    Contract,
    /// The as-of feature catalogue (docs/features.md).
    Features,
}

pub fn run(cli: Cli) -> Result<()> {
    let bars = Bars::new(cli.global.quiet);
    match cli.command {
        Command::Generate(args) => crate::commands::generate(args, &bars),
        Command::Ingest(args) => crate::commands::ingest(args, &bars),
        Command::Features(args) => crate::commands::features(args, &bars),
        Command::Train(args) => crate::commands::train(args, &bars).map(|_| ()),
        Command::Evaluate(args) => crate::commands::evaluate(args).map(|_| ()),
        Command::Predict(args) => crate::commands::predict(args, &bars).map(|_| ()),
        Command::Monitor(args) => crate::commands::monitor(args).map(|_| ()),
        Command::Models(args) => crate::models::run(args),
        Command::Actions(args) => crate::actions::run(args).map(|_| ()),
        Command::Serve(args) => crate::serve::run(args),
        Command::Healthcheck {
            url,
            timeout_seconds,
        } => crate::site::healthcheck(&url, std::time::Duration::from_secs(timeout_seconds)),
        Command::Demo(args) => crate::demo::demo(args, &bars),
        Command::Docs { page } => {
            match page {
                DocsPage::Contract => print!("{}", contract::render_markdown()),
                DocsPage::Features => print!("{}", features::catalog::render_markdown()),
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap's own checks of every subcommand (clashing names, bad defaults), which it
    /// otherwise runs only when that subcommand is used.
    #[test]
    fn every_subcommand_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
