//! `churn`: the whole churn pipeline on one machine, against a local data directory.
//!
//! Each subcommand is a thin shell over one use case of `churn-pipeline`: it parses flags,
//! shows progress, and prints where the outputs went.

// Printing results is what a CLI is for; libraries log instead.
#![allow(clippy::print_stdout)]

mod actions;
mod cli;
mod commands;
mod demo;
mod models;
mod progress;
mod serve;
mod site;
mod table;
mod values;

use std::process::ExitCode;

use clap::Parser;

// polars allocates and frees large buffers from many threads; glibc's allocator keeps
// much of that memory, mimalloc returns it (peak memory of ingest drops markedly).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(&cli.global);
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line with the whole cause chain: what failed and why.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(global: &cli::GlobalArgs) {
    let default = match (global.quiet, global.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHURN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    if global.log_json {
        builder.json().init();
    } else {
        builder.compact().init();
    }
}
