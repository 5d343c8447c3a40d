//! `churn actions`: the day's retention plan from a prediction run and a playbook, written
//! to `DIR/actions/dt=<date>/`; sent to the CRM and messaging providers with `--send`,
//! each action claimed in the local action ledger (`DIR/actions/ledger/`) so that a
//! re-run sends nothing twice.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use churn_app::push::{DayReport, DispatchOptions, Dispatcher, run_day};
use churn_core::layout;
use churn_core::playbook::Day;
use churn_io::action_ledger::{ACTION_LEASE_SECONDS, LocalActionLedger};
use churn_io::connections::{Connections, parse_playbook};
use churn_io::secrets::Secrets;
use churn_io::store::LocalStore;
use churn_pipeline::actions::{CandidateSources, load_candidates};
use churn_pipeline::contract::Source;
use churn_pipeline::store::Store;
use clap::Args;
use tracing::{info, warn};

/// The example playbook (`examples/playbook.toml`), which `churn demo` plans with.
pub const EXAMPLE_PLAYBOOK: &str = include_str!("../../../examples/playbook.toml");

#[derive(Debug, Args)]
pub struct ActionsArgs {
    /// Prediction folder written by `churn predict` (e.g. DIR/predictions/dt=2026-11-01/).
    #[arg(long)]
    pub predictions: PathBuf,
    /// The playbook (TOML; examples/playbook.toml is a start).
    #[arg(long)]
    pub playbook: PathBuf,
    /// Where actions go (TOML; see examples/connections.toml). Needed with --send.
    #[arg(long)]
    pub connections: Option<PathBuf>,
    /// Send the plan. Without it, a dry run: the plan is written and nothing is sent.
    #[arg(long)]
    pub send: bool,
    /// Data directory: its published customers for contact details, actions/ for the plan,
    /// the outcomes and the ledger.
    #[arg(long, default_value = "churn-data")]
    pub dir: PathBuf,
    /// The feature folder the predictions were scored from (default:
    /// DIR/features/as_of=DATE/).
    #[arg(long)]
    pub features: Option<PathBuf>,
    /// The plan's day, YYYY-MM-DD (default: the dt=DATE of the predictions folder).
    #[arg(long)]
    pub date: Option<String>,
}

/// The `dt=YYYY-MM-DD` of a folder.
fn date_of(predictions: &Path) -> Option<Day> {
    layout::parse_day_folder(predictions).and_then(|day| Day::parse(&day))
}

pub fn run(args: ActionsArgs) -> Result<DayReport> {
    let text = std::fs::read_to_string(&args.playbook)
        .with_context(|| format!("reading {}", args.playbook.display()))?;
    let playbook = parse_playbook(&text, &args.playbook.display().to_string())?;
    let date = match &args.date {
        Some(text) => {
            Day::parse(text).with_context(|| format!("--date {text}: write YYYY-MM-DD"))?
        }
        None => date_of(&args.predictions).with_context(|| {
            format!(
                "{} is not a dt=YYYY-MM-DD folder: give --date",
                args.predictions.display()
            )
        })?,
    };
    let connections = match (&args.connections, args.send) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(Connections::parse(&text, &path.display().to_string())?)
        }
        (None, true) => bail!("--send needs --connections FILE: where the actions go"),
        (None, false) => None,
    };

    let data = Store::new(&args.dir);
    let features = args
        .features
        .clone()
        .or_else(|| Some(data.at(&layout::features_as_of(&date))).filter(|p| p.exists()));
    let customers = churn_pipeline::dataset::Dataset::current(&data)
        .ok()
        .map(|dataset| data.at(&dataset.curated(Source::Customers)))
        .filter(|p| p.exists());
    let loaded = load_candidates(
        &CandidateSources {
            predictions: args.predictions.clone(),
            features,
            customers,
        },
        &playbook,
    )
    .context("reading the candidates failed")?;
    for warning in &loaded.warnings {
        warn!("{warning}");
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let store = LocalStore::new(&args.dir);
        let ledger =
            LocalActionLedger::new(data.at(&layout::action_ledger()), ACTION_LEASE_SECONDS);
        let sinks = match (&connections, args.send) {
            (Some(connections), true) => {
                // AWS only for SES and Secrets Manager: a CRM-only setup needs no account.
                let aws = if connections.needs_aws() {
                    Some(churn_io::AwsClients::from_env().await)
                } else {
                    None
                };
                let secrets = Secrets::new(aws.as_ref().map(|a| a.secrets_manager()));
                Some(
                    connections
                        .connect(&secrets, aws.as_ref().map(|a| a.ses()))
                        .await?,
                )
            }
            _ => None,
        };
        let clock = churn_io::now_epoch;
        let dispatcher = sinks.as_ref().map(|sinks| Dispatcher {
            ledger: &ledger,
            sinks,
            quiet_hours: playbook.quiet_hours.as_ref(),
            clock: &clock,
            options: DispatchOptions::default(),
        });
        anyhow::Ok(
            run_day(
                &store,
                &ledger,
                &playbook,
                date,
                &loaded.candidates,
                dispatcher.as_ref(),
            )
            .await?,
        )
    })?;
    print(&args, &report, loaded.scored, loaded.candidates.len());
    if args.send && !report.summary.settled() {
        bail!(
            "{} action(s) were not settled (busy, or failed for now): run the same command again later; see {}",
            report.summary.outcomes.get("busy").unwrap_or(&0)
                + report.summary.outcomes.get("retry_later").unwrap_or(&0),
            data.at(&report.folder.join(layout::OUTCOMES_FILE))
                .display()
        );
    }
    Ok(report)
}

fn counts(map: &std::collections::BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print(args: &ActionsArgs, report: &DayReport, scored: u64, candidates: usize) {
    let summary = &report.summary;
    let plan = &summary.plan;
    let folder = Store::new(&args.dir).at(&report.folder);
    let currency = &report.plan.currency;
    println!(
        "churn actions: plan of {} (playbook {}), {}{}",
        summary.date,
        summary.revision,
        if summary.sent {
            "sent"
        } else {
            "dry run: nothing sent"
        },
        if summary.frozen {
            ", frozen plan of an earlier run"
        } else {
            ""
        }
    );
    for warning in &summary.warnings {
        println!("  warning       {warning}");
    }
    println!("  candidates    {candidates} of {scored} scored customers");
    println!(
        "  planned       {}; {} CRM syncs",
        counts(&plan.planned),
        plan.crm_syncs
    );
    println!(
        "  expected      cost {:.2} {currency}, revenue saved {:.2} {currency}, net {:.2} {currency} (daily budget {:.2}, {:.2} left)",
        plan.expected_cost, plan.expected_saved, plan.expected_net, plan.budget, plan.budget_left
    );
    if !plan.controls.is_empty() {
        println!(
            "  controls      {} (held back at random so `churn monitor --actions` can measure the actions)",
            counts(&plan.controls)
        );
    }
    println!("  not acted on  {}", counts(&plan.skipped));
    println!(
        "  plan          {}  (plan.jsonl: actions with the reason each was chosen; skipped.jsonl: why the others were not)",
        folder.join(layout::PLAN_FILE).display()
    );
    if summary.sent {
        println!("  outcomes      {}", counts(&summary.outcomes));
        println!(
            "  outcomes file {}",
            folder.join(layout::OUTCOMES_FILE).display()
        );
    } else {
        println!("  to send       add --send --connections FILE");
    }
    info!(
        date = %summary.date,
        planned = plan.planned.values().sum::<u64>(),
        crm_syncs = plan.crm_syncs,
        sent = summary.outcomes.get("sent").copied().unwrap_or(0),
        seconds = format!("{:.1}", summary.seconds),
        "actions finished"
    );
}
