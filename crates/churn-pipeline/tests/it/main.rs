//! Integration tests of churn-pipeline: one binary, a module per subject.

/// The candidates of a retention plan: scores joined with values, segments and contacts.
mod actions;
/// Raw app events sessionised into the sessions source, bad events quarantined.
mod app_events;
/// Bad input of every kind: a clear error naming the file, or a quarantined row.
mod bad_input;
mod common;
/// The end of the data: future events quarantined, the source that limits the data end.
mod data_end;
/// The as-of feature table: hand-computed values and the no-leakage property.
mod features_as_of;
/// Flat tables the user already has, one or split in several.
mod features_table;
/// The checked-in v1 artifact and golden scores.
mod fixtures;
/// Generator determinism and its agreement with ingest's accounting.
mod generate_and_ingest;
/// Hostile input of issue 12: stray quotes, compressed and skipped files, CRLF,
/// byte-order marks, repeated JSON keys, empty optional sources, orphaned rows.
mod hostile_input;
/// Training: determinism, every family, reason codes, bad tables.
mod models;
/// Monitoring: realised accuracy against a direct join, estimates, prediction and data
/// drift, and bad input.
mod monitor;
/// Publishing a dataset version as one step: failed and killed runs change nothing,
/// one ingest at a time.
mod publish;
