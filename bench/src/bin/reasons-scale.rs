//! Reasons for every customer: the scorer's TreeSHAP walk (`churn_core::shap`, O(nodes ×
//! depth) per row and tree) over a whole feature table on every core, and beside it, on a
//! sample of the same rows and the same trees, the published algorithm it replaced
//! (`churn_core::shap::reference`, O(leaves × depth²)): time per customer on one thread,
//! and the largest difference between their values. Goal: every customer of 1,000,000 in
//! ≤ 60 s on 2 cores, within 1e-9 of the published values.
//!
//! Reads the model and the table `train-scale` leaves behind (run it first), or any other:
//!
//! `cargo run --release -p churn-bench --bin reasons-scale -- [--model DIR --features DIR]`

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use churn_core::model::{Aggregation, Model};
use churn_core::shap::{ShapBuffers, TreeShap, reference};
use churn_core::{ModelArtifact, Scorer};
use churn_pipeline::features::data::load_dir;
use churn_pipeline::models::BINARY_FILE;
use clap::Parser;
use rayon::prelude::*;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Model folder (default: the one `train-scale` trains at 1,000,000 customers).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Feature folder to explain every row of (default: `train-scale`'s).
    #[arg(long)]
    features: Option<PathBuf>,
    /// Explain only the first N rows of the table (the figure is still per million).
    #[arg(long)]
    rows: Option<usize>,
    /// Rows explained by both algorithms, one thread each.
    #[arg(long, default_value_t = 2_000)]
    sample: usize,
}

const GOAL_SECONDS_PER_MILLION: f64 = 60.0;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.rows != Some(0), "--rows 0: explain at least 1 row");
    anyhow::ensure!(args.sample >= 1, "--sample 0: compare at least 1 row");
    let scale = churn_bench::train_scale::dir();
    let model = args
        .model
        .unwrap_or_else(|| churn_bench::train_scale::model(&scale));
    let features = args
        .features
        .unwrap_or_else(|| churn_bench::train_scale::features(&scale));
    let path = model.join(BINARY_FILE);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "{}: no model there (run `cargo run --release -p churn-bench --bin train-scale` first, or pass --model)",
            path.display()
        )
    })?;
    let artifact = ModelArtifact::from_binary(&bytes)?;
    let scorer = Scorer::new(artifact.clone())?;
    let data = load_dir(&features, false)?;
    let rows = args.rows.map_or(data.len(), |n| n.min(data.len()));
    println!(
        "reasons for {rows} of the {} customers of {}, model {} ({}) on {} threads",
        data.len(),
        features.display(),
        artifact.model_id,
        artifact.family,
        rayon::current_num_threads()
    );
    for component in &artifact.components {
        if let Model::Trees(ensemble) = &component.model {
            let nodes: usize = ensemble.trees.iter().map(|t| t.nodes.len()).sum();
            let depth = ensemble.trees.iter().map(|t| t.depth()).max().unwrap_or(0);
            println!(
                "  component: {} trees, {nodes} nodes, depth up to {depth}, weight {}",
                ensemble.trees.len(),
                component.weight
            );
        }
    }

    // Every customer, as `churn predict --reasons-from low` explains them.
    let started = Instant::now();
    let explained = (0..rows)
        .into_par_iter()
        .map(|row| scorer.explain(&data.row_values(row)).map(|_| ()))
        .collect::<Result<Vec<()>, _>>()?;
    let seconds = started.elapsed().as_secs_f64();
    let per_million = seconds / rows as f64 * 1e6;
    println!(
        "  every customer explained: {} rows in {seconds:.1} s ({per_million:.1} s per million; goal ≤ {GOAL_SECONDS_PER_MILLION:.0} s: {})",
        explained.len(),
        if per_million <= GOAL_SECONDS_PER_MILLION {
            "met"
        } else {
            "MISSED"
        }
    );

    // The same trees and rows through both algorithms, one thread.
    let sample: Vec<usize> = (0..args.sample.min(rows))
        .map(|i| i * rows / args.sample.min(rows).max(1))
        .collect();
    let mut encoded = vec![0.0; scorer.width()];
    let mut inputs = Vec::with_capacity(sample.len());
    for &row in &sample {
        scorer.encode(&data.row_values(row), &mut encoded)?;
        inputs.push(encoded.clone());
    }
    let (mut fast_seconds, mut published_seconds, mut largest) = (0.0, 0.0, 0.0_f64);
    let mut offset = 0;
    let mut buffers = ShapBuffers::default();
    for (component, scoring) in artifact.components.iter().zip(scorer.components()) {
        let width = scoring.width();
        if let Model::Trees(ensemble) = &component.model {
            let shap = TreeShap::new(&ensemble.trees);
            let scale = match ensemble.aggregation {
                Aggregation::Sum { .. } => 1.0,
                Aggregation::Mean => 1.0 / ensemble.trees.len() as f64,
            };
            for input in &inputs {
                let x = &input[offset..offset + width];
                let mut fast = vec![0.0; width];
                let started = Instant::now();
                for (index, tree) in ensemble.trees.iter().enumerate() {
                    shap.add(index, tree, x, scale, &mut fast, &mut buffers);
                }
                fast_seconds += started.elapsed().as_secs_f64();
                let mut published = vec![0.0; width];
                let started = Instant::now();
                for tree in &ensemble.trees {
                    reference::add_tree_shap(tree, x, scale, &mut published);
                }
                published_seconds += started.elapsed().as_secs_f64();
                for (a, b) in fast.iter().zip(&published) {
                    largest = largest.max((a - b).abs());
                }
            }
        }
        offset += width;
    }
    let per = |seconds: f64| seconds / sample.len().max(1) as f64 * 1e6;
    println!(
        "  {} sampled rows, trees only, one thread: ours {:.1} µs per customer, published TreeSHAP {:.1} µs ({:.1}x)",
        sample.len(),
        per(fast_seconds),
        per(published_seconds),
        published_seconds / fast_seconds.max(f64::MIN_POSITIVE)
    );
    println!(
        "  largest difference between the two: {largest:.2e} (goal ≤ 1e-9: {})",
        if largest <= 1e-9 { "met" } else { "MISSED" }
    );
    Ok(())
}
