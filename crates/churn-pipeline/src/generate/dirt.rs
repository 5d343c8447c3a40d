//! Injected dirt: the mistakes real extracts contain, put into generated rows on purpose
//! so that ingest can be tested (and demonstrated) against them.
//!
//! Each dirty row gets exactly one kind of dirt, and every kind has a known fate in
//! ingest (quarantined, dropped as a duplicate, or kept), so the generator's manifest
//! says exactly how many rows ingest must quarantine and drop. Keys are never damaged
//! (a broken key is a different failure, an unusable extract, from a broken row), with
//! one exception: a future date may land in a key's date, since ingest rejects the row
//! for it before it compares keys. Whole files get dirt too ([`FileStyle`]): CRLF line
//! endings, gzip or zstd compression.

use std::collections::BTreeMap;

use serde::Serialize;

use super::value::{Row, Value};
use crate::contract::{ColumnType, MAX_DATE, OutlierRule, RowRule, Source, SourceContract};
use crate::rng::Rng;
use crate::store::{Compression, RawFormat};

/// The kinds of dirt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DirtKind {
    /// A required value left empty.
    MissingRequired,
    /// An optional value left empty.
    MissingOptional,
    /// A value that does not parse as its type (`n/a`, `12,5`, `2025-02-30`).
    Unparseable,
    /// A value outside its range (a negative duration, a year 1850).
    OutOfRange,
    /// A value outside a closed category.
    UnknownClosedCategory,
    /// A value outside an open category.
    UnknownOpenCategory,
    /// A valid category spelt differently (` MONTH TO month`).
    CategorySpelling,
    /// An extreme but in-range value of a heavy-tailed column.
    Outlier,
    /// Two columns that contradict each other (an end before its start).
    RuleViolation,
    /// A row with a field missing or one too many (a broken line in JSON Lines).
    WrongFieldCount,
    /// A text value in Latin-1 instead of UTF-8.
    InvalidUtf8,
    /// The row written twice.
    Duplicate,
    /// A second row with the same key and different values.
    KeyConflict,
    /// A `"` opening a field that never closes (CSV): it used to swallow the file.
    StrayQuote,
    /// An event dated a year or more after the extract.
    FutureDate,
}

/// What ingest does with a row carrying a kind of dirt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// The row is quarantined.
    Quarantined,
    /// The extra copy is dropped as a duplicate.
    Duplicate,
    /// The row is curated (normalised, imputed or flagged).
    Kept,
}

impl DirtKind {
    const ALL: [DirtKind; 15] = [
        DirtKind::MissingRequired,
        DirtKind::MissingOptional,
        DirtKind::Unparseable,
        DirtKind::OutOfRange,
        DirtKind::UnknownClosedCategory,
        DirtKind::UnknownOpenCategory,
        DirtKind::CategorySpelling,
        DirtKind::Outlier,
        DirtKind::RuleViolation,
        DirtKind::WrongFieldCount,
        DirtKind::InvalidUtf8,
        DirtKind::Duplicate,
        DirtKind::KeyConflict,
        DirtKind::StrayQuote,
        DirtKind::FutureDate,
    ];

    /// What ingest must do with it.
    pub fn fate(self) -> Fate {
        match self {
            DirtKind::MissingOptional
            | DirtKind::UnknownOpenCategory
            | DirtKind::CategorySpelling
            | DirtKind::Outlier => Fate::Kept,
            DirtKind::Duplicate => Fate::Duplicate,
            _ => Fate::Quarantined,
        }
    }

    /// Whether the kind needs a text format (a typed Parquet column cannot hold it).
    fn text_only(self) -> bool {
        matches!(
            self,
            DirtKind::Unparseable
                | DirtKind::WrongFieldCount
                | DirtKind::InvalidUtf8
                | DirtKind::StrayQuote
        )
    }

    /// Whether the kind exists in `format`.
    fn fits(self, format: RawFormat) -> bool {
        match self {
            DirtKind::StrayQuote => format == RawFormat::Csv,
            _ => !(self.text_only() && format == RawFormat::Parquet),
        }
    }
}

/// How a line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// As the row says.
    Whole,
    /// With its last field dropped (CSV) or cut in half (JSON Lines).
    Short,
    /// With one field too many (CSV) or cut in half (JSON Lines).
    Long,
    /// With an unescaped `"` before the value of this column (CSV).
    StrayQuote(usize),
}

/// A row ready for a writer.
#[derive(Debug, Clone)]
pub struct Line {
    /// The cells, in contract order.
    pub cells: Row,
    /// How to write it.
    pub shape: Shape,
}

impl Line {
    /// A clean line.
    pub fn whole(cells: Row) -> Self {
        Self {
            cells,
            shape: Shape::Whole,
        }
    }
}

/// Counts of injected dirt by kind.
pub type DirtCounts = BTreeMap<DirtKind, u64>;

/// How a whole file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStyle {
    /// Lines end in `\r\n`.
    pub crlf: bool,
    /// The file is compressed.
    pub compression: Compression,
}

impl FileStyle {
    /// The style of the file of source number `source` in part `part`: plain without
    /// dirt; with dirt, text files rotate through the styles so that every run of six
    /// files has one gzip and one zstd file and a CRLF file or two (a rate per file
    /// would leave small runs without any).
    pub fn of(seed: u64, part: u64, source: usize, dirt_rate: f64, format: RawFormat) -> Self {
        let plain = Self {
            crlf: false,
            compression: Compression::None,
        };
        if dirt_rate <= 0.0 || format == RawFormat::Parquet {
            return plain;
        }
        let file = part * Source::ALL.len() as u64 + source as u64;
        Self {
            crlf: (file + seed % 4) % 4 == 2,
            compression: match (file + seed % 6) % 6 {
                1 => Compression::Gzip,
                4 => Compression::Zstd,
                _ => Compression::None,
            },
        }
    }
}

/// Injects dirt into the rows of one source.
#[derive(Debug)]
pub struct Injector {
    rate: f64,
    format: RawFormat,
    /// The first day that is a year or more after the extract date, if the contract's
    /// dates reach it: future dates are drawn from there.
    future_from: Option<i32>,
}

/// The last day a date may take (the contract's [`MAX_DATE`]).
fn max_day() -> i32 {
    crate::dates::parse_date(MAX_DATE, "contract")
        .map(crate::dates::to_days)
        .unwrap_or(i32::MAX)
}

impl Injector {
    /// Dirt at `rate` (a probability per row) for files of `format` whose history ends
    /// on day `window_end`.
    pub fn new(rate: f64, format: RawFormat, window_end: i32) -> Self {
        let future_from = window_end.saturating_add(366);
        Self {
            rate,
            format,
            future_from: (future_from < max_day()).then_some(future_from),
        }
    }

    /// Turns `rows` into lines, dirtying some and counting what it did.
    pub fn apply(
        &self,
        rng: &mut Rng,
        source: Source,
        rows: Vec<Row>,
        out: &mut Vec<Line>,
        counts: &mut DirtCounts,
    ) {
        let contract = source.contract();
        for row in rows {
            if self.rate <= 0.0 || !rng.chance(self.rate) {
                out.push(Line::whole(row));
                continue;
            }
            let kinds: Vec<DirtKind> = DirtKind::ALL
                .into_iter()
                .filter(|kind| kind.fits(self.format))
                .filter(|kind| *kind != DirtKind::FutureDate || self.future_from.is_some())
                .filter(|kind| {
                    !eligible_columns(contract, *kind, &row).is_empty() || whole_row(*kind)
                })
                .collect();
            let kind = kinds[rng.below(kinds.len() as u64) as usize];
            *counts.entry(kind).or_default() += 1;
            dirty(rng, contract, kind, row, out, self.future_from);
        }
    }
}

fn whole_row(kind: DirtKind) -> bool {
    matches!(
        kind,
        DirtKind::WrongFieldCount | DirtKind::Duplicate | DirtKind::KeyConflict
    )
}

fn is_key(contract: &SourceContract, name: &str) -> bool {
    contract.primary_key.contains(&name) || name == "customer_id"
}

/// Columns a kind of dirt may touch in this row.
fn eligible_columns(contract: &SourceContract, kind: DirtKind, row: &Row) -> Vec<usize> {
    if kind == DirtKind::FutureDate {
        return contract
            .columns
            .iter()
            .enumerate()
            .filter(|(index, column)| {
                contract.events.contains(&column.name) && row[*index] != Value::Null
            })
            .map(|(index, _)| index)
            .collect();
    }
    let presence_dependent: Vec<&str> = contract
        .row_rules
        .iter()
        .filter_map(|rule| match rule {
            RowRule::PresenceWhen { other, .. } => Some(*other),
            RowRule::NotBefore { .. } => None,
        })
        .collect();
    contract
        .columns
        .iter()
        .enumerate()
        .filter(|(index, column)| {
            let present = row[*index] != Value::Null;
            !is_key(contract, column.name)
                && match kind {
                    DirtKind::MissingRequired => column.required() && present,
                    DirtKind::MissingOptional => {
                        !column.required() && present && !presence_dependent.contains(&column.name)
                    }
                    DirtKind::Unparseable => matches!(
                        column.ty,
                        ColumnType::Int { .. }
                            | ColumnType::Float { .. }
                            | ColumnType::Date
                            | ColumnType::Timestamp
                            | ColumnType::Bool
                    ),
                    DirtKind::OutOfRange => matches!(
                        column.ty,
                        ColumnType::Int { .. }
                            | ColumnType::Float { .. }
                            | ColumnType::Date
                            | ColumnType::Timestamp
                    ),
                    DirtKind::UnknownClosedCategory => {
                        matches!(column.ty, ColumnType::Category { closed: true, .. })
                    }
                    DirtKind::UnknownOpenCategory => {
                        matches!(column.ty, ColumnType::Category { closed: false, .. })
                    }
                    DirtKind::CategorySpelling => {
                        present && matches!(column.ty, ColumnType::Category { .. })
                    }
                    DirtKind::Outlier => present && column.outliers == OutlierRule::LogIqr,
                    DirtKind::RuleViolation => contract.row_rules.iter().any(|rule| {
                        matches!(rule, RowRule::NotBefore { later, earlier }
                            if *later == column.name
                                && contract
                                    .columns
                                    .iter()
                                    .position(|c| c.name == *earlier)
                                    .is_some_and(|e| row[e] != Value::Null))
                    }),
                    DirtKind::InvalidUtf8 => {
                        present
                            && matches!(column.ty, ColumnType::Text | ColumnType::Category { .. })
                    }
                    // A value that is written: the quote then opens a field that has text.
                    DirtKind::StrayQuote => present,
                    DirtKind::WrongFieldCount
                    | DirtKind::Duplicate
                    | DirtKind::KeyConflict
                    | DirtKind::FutureDate => false,
                }
        })
        .map(|(index, _)| index)
        .collect()
}

/// Dirties `row` with `kind`; future dates are drawn from day `future_from` on.
fn dirty(
    rng: &mut Rng,
    contract: &SourceContract,
    kind: DirtKind,
    mut row: Row,
    out: &mut Vec<Line>,
    future_from: Option<i32>,
) {
    let columns = eligible_columns(contract, kind, &row);
    let pick = |rng: &mut Rng| columns[rng.below(columns.len() as u64) as usize];
    match kind {
        DirtKind::MissingRequired | DirtKind::MissingOptional => {
            row[pick(rng)] = Value::Null;
        }
        DirtKind::Unparseable => {
            let index = pick(rng);
            let junk: &[&str] = match contract.columns[index].ty {
                ColumnType::Date => &["2025-02-30", "31/01/2025", "yesterday"],
                ColumnType::Timestamp => &["2025-13-01T10:00:00", "10:00 01.02.2025", "soon"],
                ColumnType::Bool => &["maybe", "2"],
                _ => &["n/a", "12,5", "NaN", "inf", "1.2.3"],
            };
            row[index] = Value::Raw(
                junk[rng.below(junk.len() as u64) as usize]
                    .as_bytes()
                    .to_vec(),
            );
        }
        DirtKind::OutOfRange => {
            let index = pick(rng);
            row[index] = match contract.columns[index].ty {
                ColumnType::Int { max, .. } => Value::Int(max + 1 + rng.below(50) as i64),
                ColumnType::Float { .. } => Value::Float(-(1.0 + rng.below(100) as f64)),
                ColumnType::Date => Value::Date(-44_000), // 1849
                _ => Value::Timestamp(-3_800_000_000),    // 1849
            };
        }
        DirtKind::UnknownClosedCategory => row[pick(rng)] = Value::text("Platinum Plus"),
        DirtKind::UnknownOpenCategory => row[pick(rng)] = Value::text("Atlantis"),
        DirtKind::CategorySpelling => {
            let index = pick(rng);
            if let Value::Str(text) = &row[index] {
                let respelt = match rng.below(3) {
                    0 => format!("  {} ", text.to_uppercase()),
                    1 => text.replace('-', "_"),
                    _ => capitalise(&text.replace('-', " ")),
                };
                row[index] = Value::Str(respelt);
            }
        }
        DirtKind::Outlier => {
            let index = pick(rng);
            if let ColumnType::Float { max, .. } = contract.columns[index].ty {
                row[index] = Value::Float((max * rng.uniform(0.5, 0.95)).round());
            }
        }
        DirtKind::RuleViolation => {
            let index = pick(rng);
            let earlier = contract.row_rules.iter().find_map(|rule| match rule {
                RowRule::NotBefore { later, earlier } if *later == contract.columns[index].name => {
                    contract.columns.iter().position(|c| c.name == *earlier)
                }
                _ => None,
            });
            row[index] = match earlier.map(|e| &row[e]) {
                Some(Value::Date(day)) => Value::Date(day - 1 - rng.below(30) as i32),
                Some(Value::Timestamp(t)) => Value::Timestamp(t - 3600 - rng.below(86_400) as i64),
                _ => row[index].clone(),
            };
        }
        DirtKind::InvalidUtf8 => {
            let index = pick(rng);
            if let Value::Str(text) = &row[index] {
                // "é" in Latin-1: a byte that cannot start a UTF-8 sequence here.
                let mut bytes = text.as_bytes().to_vec();
                bytes.push(0xe9);
                row[index] = Value::Raw(bytes);
            }
        }
        DirtKind::WrongFieldCount => {
            out.push(Line {
                cells: row,
                shape: if rng.chance(0.5) {
                    Shape::Short
                } else {
                    Shape::Long
                },
            });
            return;
        }
        DirtKind::Duplicate => {
            out.push(Line::whole(row.clone()));
        }
        DirtKind::KeyConflict => {
            let conflicting = conflicting_copy(contract, &row);
            out.push(Line::whole(row));
            out.push(Line::whole(conflicting));
            return;
        }
        DirtKind::StrayQuote => {
            out.push(Line {
                shape: Shape::StrayQuote(pick(rng)),
                cells: row,
            });
            return;
        }
        DirtKind::FutureDate => {
            let index = pick(rng);
            // Never drawn without a first future day (see `Injector::apply`).
            let from = future_from.unwrap_or(i32::MAX);
            // Up to 30 years on, as far as the contract's dates go.
            let span = (max_day().saturating_sub(from)).clamp(1, 30 * 365);
            let day = from.saturating_add(rng.below(span as u64) as i32);
            row[index] = match row[index] {
                Value::Timestamp(_) => {
                    Value::Timestamp(i64::from(day) * 86_400 + rng.below(86_400) as i64)
                }
                _ => Value::Date(day),
            };
        }
    }
    out.push(Line::whole(row));
}

/// The row with one non-key value changed to another valid value.
fn conflicting_copy(contract: &SourceContract, row: &Row) -> Row {
    let mut copy = row.clone();
    let column = match contract.source {
        Source::Customers => "birth_year",
        Source::Accounts => "monthly_charge",
        Source::Billing => "amount",
        Source::Sessions => "duration_minutes",
        Source::Tickets => "severity",
        Source::ChurnLabels => "churn_type",
        Source::Events => unreachable!("the generator writes no app events"),
    };
    let index = contract
        .columns
        .iter()
        .position(|c| c.name == column)
        .unwrap_or(0);
    copy[index] = match &row[index] {
        Value::Int(year) => Value::Int(year - 1),
        Value::Null if column == "birth_year" => Value::Int(1980),
        Value::Float(value) => Value::Float(value + 1.0),
        Value::Str(text) if column == "severity" => {
            Value::text(if text == "low" { "high" } else { "low" })
        }
        Value::Str(text) => Value::text(if text == "voluntary" {
            "involuntary"
        } else {
            "voluntary"
        }),
        other => other.clone(),
    };
    copy
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::simulate::{Window, simulate};

    #[test]
    fn every_kind_is_used_and_counted() {
        let window = Window {
            start: 20_000,
            end: 20_540,
        };
        let injector = Injector::new(0.5, RawFormat::Csv, 20_540);
        let mut rng = Rng::new(1);
        let mut counts = DirtCounts::new();
        let mut lines = Vec::new();
        let mut rows_in = 0;
        for index in 0..300 {
            let history = simulate(9, index, window);
            for (source, rows) in [
                (Source::Customers, history.customers),
                (Source::Accounts, history.accounts),
                (Source::Billing, history.billing),
                (Source::Tickets, history.tickets),
            ] {
                rows_in += rows.len() as u64;
                injector.apply(&mut rng, source, rows, &mut lines, &mut counts);
            }
        }
        for kind in DirtKind::ALL {
            assert!(
                counts.get(&kind).copied().unwrap_or(0) > 0,
                "{kind:?} never injected"
            );
        }
        let extra: u64 = counts
            .iter()
            .filter(|(kind, _)| matches!(kind, DirtKind::Duplicate | DirtKind::KeyConflict))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(lines.len() as u64, rows_in + extra);
    }

    #[test]
    fn parquet_gets_no_text_only_dirt() {
        let injector = Injector::new(1.0, RawFormat::Parquet, 20_540);
        let mut rng = Rng::new(2);
        let mut counts = DirtCounts::new();
        let mut lines = Vec::new();
        let rows = simulate(
            9,
            1,
            Window {
                start: 20_000,
                end: 20_540,
            },
        )
        .billing;
        injector.apply(&mut rng, Source::Billing, rows, &mut lines, &mut counts);
        assert!(counts.keys().all(|kind| !kind.text_only()));
        assert!(lines.iter().all(|line| line.shape == Shape::Whole));
    }
}
