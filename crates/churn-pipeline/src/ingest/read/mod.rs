//! Physical reading of raw files into chunks of text columns.
//!
//! Each reader streams its file and yields chunks of at most `chunk_rows` rows as a polars
//! frame with one `String` column per contract column (absent optional columns are all
//! null) and the line (`__line`) each row came from. Rows that cannot even be split into
//! fields (a wrong field count, an unclosed quote, bytes that are not UTF-8, a line that
//! is not a JSON object, a repeated key) are returned beside the chunk as [`BadRow`]s, for
//! quarantine. Problems with the whole file (empty, unreadable, damaged compression, a
//! header without the required columns) are errors. Text files ([`text`]) also report
//! where each of their physical lines went.
//!
//! Types are not checked here: that is validation's job, on the whole chunk at once.

mod csv_reader;
mod json_lines;
pub mod text;

use std::path::Path;

use polars::prelude::*;

use crate::contract::SourceContract;
use crate::error::{PipelineError, PolarsContext, Result};
use crate::store::{RawFile, RawFormat};

pub use csv_reader::{MAX_RECORD_BYTES, MAX_RECORD_LINES};
pub use text::{LineTally, MAX_LINE_BYTES};

/// Name of the line-number column in chunks.
pub const LINE: &str = "__line";

/// A row that could not be split into fields.
#[derive(Debug, Clone)]
pub struct BadRow {
    /// 1-based physical line.
    pub line: u64,
    /// The column to blame, when there is one.
    pub column: Option<String>,
    /// Kind of failure, for the report.
    pub kind: &'static str,
    /// What is wrong.
    pub reason: String,
    /// The row as read (invalid UTF-8 replaced by U+FFFD).
    pub raw: String,
    /// The row's `customer_id`, when it can still be made out: a customer whose row is
    /// broken still exists, and the rows that refer to it are not orphans.
    pub customer_id: Option<String>,
}

/// What reading learnt about a file's layout.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FileLayout {
    /// Field delimiter (CSV only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Columns present in the file but not in the contract.
    pub ignored_columns: Vec<String>,
    /// Optional contract columns the file does not have (read as empty).
    pub absent_columns: Vec<String>,
}

/// A chunk of rows from one file.
#[derive(Debug)]
pub struct RawChunk {
    /// String columns in contract order, then `__line` (u64).
    pub frame: DataFrame,
    /// Rows that could not be split into fields.
    pub bad: Vec<BadRow>,
    /// Keys outside the contract first seen in this chunk (JSON Lines has no header).
    pub ignored_keys: Vec<String>,
    /// Where the physical lines of a text file went: on its last chunk only.
    pub tally: Option<LineTally>,
}

/// Streams chunks of a raw file.
pub type ChunkIter = Box<dyn Iterator<Item = Result<RawChunk>> + Send>;

/// A reader that fills one chunk at a time; `None` once the file is exhausted.
trait ReadChunk {
    fn read_chunk(&mut self) -> Result<Option<RawChunk>>;
}

/// Iterates over the chunks of a [`ReadChunk`], stopping after the first error.
struct Chunks<R> {
    reader: R,
    finished: bool,
}

impl<R: ReadChunk> Chunks<R> {
    fn boxed(reader: R) -> ChunkIter
    where
        R: Send + 'static,
    {
        Box::new(Self {
            reader,
            finished: false,
        })
    }
}

impl<R: ReadChunk> Iterator for Chunks<R> {
    type Item = Result<RawChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let result = self.reader.read_chunk();
        if !matches!(result, Ok(Some(_))) {
            self.finished = true;
        }
        result.transpose()
    }
}

/// Opens a raw file: checks its layout and returns it with a stream of chunks.
pub fn open(
    file: &RawFile,
    contract: &'static SourceContract,
    chunk_rows: usize,
) -> Result<(FileLayout, ChunkIter)> {
    let path = &file.path;
    let size = std::fs::metadata(path)
        .map_err(|e| PipelineError::io(path, e))?
        .len();
    if size == 0 {
        return Err(PipelineError::bad_file(
            path,
            format!(
                "the file is empty (0 bytes); expected {}",
                match file.format {
                    RawFormat::Csv => format!(
                        "a header line such as: {}",
                        contract.column_names().join(",")
                    ),
                    RawFormat::JsonLines => "one JSON object per line".to_owned(),
                    RawFormat::Parquet => "a Parquet file".to_owned(),
                }
            ),
        ));
    }
    match file.format {
        RawFormat::Csv => csv_reader::open(file, contract, chunk_rows),
        RawFormat::JsonLines => json_lines::open(file, contract, chunk_rows),
        RawFormat::Parquet => open_parquet(path, contract, chunk_rows),
    }
}

/// Normalises a header or key name for matching: trimmed, lowercased, BOM removed.
fn normalize_name(name: &str) -> String {
    name.trim_start_matches('\u{feff}').trim().to_lowercase()
}

/// Maps contract columns to positions among `names`; errors when a required one is absent.
fn map_columns(
    names: &[String],
    contract: &SourceContract,
) -> std::result::Result<(Vec<Option<usize>>, FileLayout), String> {
    let normalized: Vec<String> = names.iter().map(|name| normalize_name(name)).collect();
    let mut positions = Vec::with_capacity(contract.columns.len());
    let mut layout = FileLayout::default();
    let mut missing = Vec::new();
    for column in contract.columns {
        let found: Vec<usize> = normalized
            .iter()
            .enumerate()
            .filter(|(_, name)| *name == column.name)
            .map(|(index, _)| index)
            .collect();
        if found.len() > 1 {
            return Err(format!(
                "column '{}' appears {} times in the header",
                column.name,
                found.len()
            ));
        }
        match found.first() {
            Some(index) => positions.push(Some(*index)),
            None if column.required() => missing.push(column.name),
            None => {
                layout.absent_columns.push(column.name.to_owned());
                positions.push(None);
            }
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "missing required column(s) {}; the header has: {}",
            missing
                .iter()
                .map(|name| format!("'{name}'"))
                .collect::<Vec<_>>()
                .join(", "),
            names.join(", ")
        ));
    }
    layout.ignored_columns = normalized
        .iter()
        .filter(|name| contract.column(name).is_none())
        .cloned()
        .collect();
    Ok((positions, layout))
}

/// Accumulates rows into a chunk.
struct ChunkBuilder {
    names: Vec<&'static str>,
    columns: Vec<StringChunkedBuilder>,
    capacity: usize,
    lines: Vec<u64>,
    bad: Vec<BadRow>,
}

impl ChunkBuilder {
    fn new(contract: &SourceContract, capacity: usize) -> Self {
        let names = contract.column_names();
        Self {
            columns: names
                .iter()
                .map(|name| StringChunkedBuilder::new((*name).into(), capacity))
                .collect(),
            names,
            capacity,
            lines: Vec::with_capacity(capacity),
            bad: Vec::new(),
        }
    }

    fn rows(&self) -> usize {
        self.lines.len() + self.bad.len()
    }

    /// Appends one row: `value(i)` is the text of contract column `i` (None when absent).
    fn push<'a>(&mut self, line: u64, value: impl Fn(usize) -> Option<&'a str>) {
        for (index, column) in self.columns.iter_mut().enumerate() {
            column.append_option(value(index));
        }
        self.lines.push(line);
    }

    fn finish(&mut self) -> Result<RawChunk> {
        let height = self.lines.len();
        let mut columns: Vec<Column> = self
            .names
            .iter()
            .zip(self.columns.iter_mut())
            .map(|(name, builder)| {
                let fresh = StringChunkedBuilder::new((*name).into(), self.capacity);
                std::mem::replace(builder, fresh)
                    .finish()
                    .into_series()
                    .into_column()
            })
            .collect();
        columns.push(Column::new(LINE.into(), std::mem::take(&mut self.lines)));
        Ok(RawChunk {
            frame: DataFrame::new(height, columns).context(|| "building a chunk".into())?,
            bad: std::mem::take(&mut self.bad),
            ignored_keys: Vec::new(),
            tally: None,
        })
    }
}

fn open_parquet(
    path: &Path,
    contract: &'static SourceContract,
    chunk_rows: usize,
) -> Result<(FileLayout, ChunkIter)> {
    let unreadable = |error: PolarsError| {
        PipelineError::bad_file(path, format!("not a readable Parquet file: {error}"))
    };
    let mut scan = crate::store::scan_parquet_file(path)?;
    let schema = scan.collect_schema().map_err(unreadable)?;
    let names: Vec<String> = schema.iter_names().map(|name| name.to_string()).collect();
    let (positions, layout) =
        map_columns(&names, contract).map_err(|message| PipelineError::bad_file(path, message))?;
    let projection: Vec<Expr> = contract
        .columns
        .iter()
        .zip(&positions)
        .map(|(column, position)| match position {
            Some(index) => col(names[*index].as_str())
                .cast(DataType::String)
                .alias(column.name),
            None => lit(NULL).cast(DataType::String).alias(column.name),
        })
        .collect();
    let rows = crate::store::row_count(scan.clone()).map_err(unreadable)?;
    let frame = scan.select(projection);
    let path = path.to_owned();
    let iter = (0..rows).step_by(chunk_rows.max(1)).map(move |offset| {
        let mut chunk = frame
            .clone()
            .slice(offset as i64, chunk_rows as IdxSize)
            .collect()
            .map_err(|e| {
                PipelineError::bad_file(&path, format!("reading rows from {offset}: {e}"))
            })?;
        let lines: Vec<u64> = (offset + 1..=offset + chunk.height() as u64).collect();
        chunk
            .with_column(Column::new(LINE.into(), lines))
            .context(|| "numbering rows".into())?;
        Ok(RawChunk {
            frame: chunk,
            bad: Vec::new(),
            ignored_keys: Vec::new(),
            tally: None,
        })
    });
    Ok((layout, Box::new(iter)))
}
