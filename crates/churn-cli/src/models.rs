//! `churn models list | show | promote | rollback`: the model registry, in a data
//! directory (`models/registry/`) or in the stack's DynamoDB table (`--table`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use churn_app::registry::Signed;
use churn_core::layout;
use churn_io::registry::{
    Champion, ChampionChange, LocalRegistry, ModelRegistry, ModelVersion, Registry,
};
use churn_pipeline::store::Store;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
    /// Data directory whose registry (models/registry/) to use; model folders of
    /// `churn train` in DIR/models/ are registered when promoted.
    #[arg(long, global = true, default_value = "churn-data")]
    pub dir: PathBuf,
    /// The registry's DynamoDB table instead (the stack's registry table; credentials and
    /// region from the environment, AWS_ENDPOINT_URL for an emulator).
    #[arg(long, global = true)]
    pub table: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Every registered version, oldest first, the champion marked, and the champion's
    /// history.
    List,
    /// One version: its registry entry and every move of the champion it took part in.
    Show {
        /// The version (a model id).
        #[arg(value_name = "MODEL_ID")]
        model: String,
    },
    /// Make VERSION the champion. Recorded with who and why.
    Promote {
        /// The version (a model id): registered, or a model folder in DIR/models/.
        #[arg(value_name = "MODEL_ID")]
        model: String,
        /// Why, recorded in the history.
        #[arg(long)]
        reason: String,
        /// Who [default: $USER].
        #[arg(long)]
        by: Option<String>,
    },
    /// Move the champion back to the one before its latest promotion. Recorded with who
    /// and why.
    Rollback {
        /// Why, recorded in the history.
        #[arg(long)]
        reason: String,
        /// Who [default: $USER].
        #[arg(long)]
        by: Option<String>,
    },
}

pub fn run(args: ModelsArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match &args.table {
            Some(table) => {
                let clients = churn_io::AwsClients::from_env().await;
                let registry = ModelRegistry::new(clients.dynamodb.clone(), table);
                command(&registry, &args, None).await
            }
            None => {
                let store = Store::new(&args.dir);
                let registry = LocalRegistry::new(store.at(&layout::model_registry()));
                let models = store.at(&layout::root(layout::MODELS));
                command(&registry, &args, Some(&models)).await
            }
        }
    })
}

fn who(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "churn-cli".into())
}

async fn command<R: Registry + Sync>(
    registry: &R,
    args: &ModelsArgs,
    local_models: Option<&Path>,
) -> Result<()> {
    match &args.command {
        ModelsCommand::List => list(registry).await,
        ModelsCommand::Show { model: version } => {
            let champion = registry.champion().await?;
            let Some(entry) = registry.version(version).await? else {
                bail!("{version} is not registered (`churn models list` shows what is)");
            };
            print_entry(&entry, champion.as_ref());
            let moves: Vec<_> = champion
                .iter()
                .flat_map(|c| &c.history)
                .filter(|c| c.version == *version || c.previous.as_deref() == Some(version))
                .collect();
            if moves.is_empty() {
                println!("  never champion");
            }
            for change in moves {
                print_change(change);
            }
            Ok(())
        }
        ModelsCommand::Promote {
            model: version,
            reason,
            by,
        } => {
            let by = who(by);
            let (entry, change) = churn_app::registry::promote(
                registry,
                local_models,
                version,
                Signed { by: &by, reason },
            )
            .await?;
            println!(
                "churn models: {} is the champion (was {}), {} {:.4}",
                change.version,
                change.previous.as_deref().unwrap_or("none"),
                entry.metric_name,
                entry.metric
            );
            Ok(())
        }
        ModelsCommand::Rollback { reason, by } => {
            let by = who(by);
            let change =
                churn_app::registry::rollback(registry, Signed { by: &by, reason }).await?;
            println!(
                "churn models: rolled back from {} to {} ({:.4})",
                change.previous.as_deref().unwrap_or("none"),
                change.version,
                change.metric
            );
            Ok(())
        }
    }
}

fn print_change(change: &ChampionChange) {
    println!(
        "  {} {:<8} {} (from {}) by {}: {}",
        change.at,
        change.kind.as_str(),
        change.version,
        change.previous.as_deref().unwrap_or("none"),
        change.by,
        change.reason
    );
}

fn print_entry(entry: &ModelVersion, champion: Option<&Champion>) {
    let marker = if champion.is_some_and(|c| c.version == entry.version) {
        "  <- champion"
    } else {
        ""
    };
    println!(
        "{}  trained {}  {} {:.4}  seed {}  data {}  holdout {}{marker}",
        entry.version,
        entry.trained_at,
        entry.metric_name,
        entry.metric,
        entry.seed,
        entry.data_hash,
        entry.holdout
    );
}

async fn list<R: Registry + Sync>(registry: &R) -> Result<()> {
    let champion = registry.champion().await?;
    let champion = champion.as_ref();
    let versions = registry.versions().await?;
    if versions.is_empty() {
        println!(
            "churn models: nothing registered yet (`churn models promote <model_id>` registers a model folder)"
        );
    }
    for entry in &versions {
        print_entry(entry, champion);
    }
    if let Some(champion) = champion {
        println!("history of the champion:");
        for change in &champion.history {
            print_change(change);
        }
    }
    Ok(())
}
