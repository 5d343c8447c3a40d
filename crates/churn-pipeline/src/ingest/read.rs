//! Physical reading of raw files into chunks of text columns.
//!
//! Each reader streams its file and yields chunks of at most `chunk_rows` rows as a polars
//! frame with one `String` column per contract column (absent optional columns are all
//! null) and the line (`__line`) each row came from. Rows that cannot even be split into
//! fields (a wrong field count, bytes that are not UTF-8, a line that is not a JSON
//! object) are returned beside the chunk as [`BadRow`]s, for quarantine. Problems with the
//! whole file (empty, unreadable, a header without the required columns) are errors.
//!
//! Types are not checked here: that is validation's job, on the whole chunk at once.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::contract::SourceContract;
use crate::error::{PipelineError, PolarsContext, Result};
use crate::store::RawFormat;

/// The longest line accepted. Longer lines mean the file is not what its name says
/// (a binary file, a file without line breaks), and reading on would exhaust memory.
pub const MAX_LINE_BYTES: usize = 8 << 20;

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
    path: &Path,
    format: RawFormat,
    contract: &'static SourceContract,
    chunk_rows: usize,
) -> Result<(FileLayout, ChunkIter)> {
    let size = std::fs::metadata(path)
        .map_err(|e| PipelineError::io(path, e))?
        .len();
    if size == 0 {
        return Err(PipelineError::bad_file(
            path,
            format!(
                "the file is empty (0 bytes); expected {}",
                match format {
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
    match format {
        RawFormat::Csv => open_csv(path, contract, chunk_rows),
        RawFormat::JsonLines => open_json_lines(path, contract, chunk_rows),
        RawFormat::Parquet => open_parquet(path, contract, chunk_rows),
    }
}

/// Fails a read once a line grows past [`MAX_LINE_BYTES`].
struct LineGuard<R> {
    inner: R,
    since_newline: usize,
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        match chunk.iter().rposition(|&b| b == b'\n') {
            Some(last) => self.since_newline = n - last - 1,
            None => self.since_newline += n,
        }
        if self.since_newline > MAX_LINE_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, LineTooLong));
        }
        Ok(n)
    }
}

#[derive(Debug)]
struct LineTooLong;

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a line is longer than {} MiB", MAX_LINE_BYTES >> 20)
    }
}

impl std::error::Error for LineTooLong {}

fn too_long(path: &Path, line: u64) -> PipelineError {
    PipelineError::BadFile {
        file: path.to_owned(),
        line: Some(line),
        column: None,
        message: format!(
            "the line is longer than {} MiB: this does not look like a text file of rows \
             (binary data, or no line breaks?)",
            MAX_LINE_BYTES >> 20
        ),
    }
}

fn is_line_too_long(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<LineTooLong>())
}

fn open_guarded(path: &Path) -> Result<BufReader<LineGuard<File>>> {
    let file = File::open(path).map_err(|e| PipelineError::io(path, e))?;
    Ok(BufReader::with_capacity(
        1 << 20,
        LineGuard {
            inner: file,
            since_newline: 0,
        },
    ))
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
        })
    }
}

fn open_csv(
    path: &Path,
    contract: &'static SourceContract,
    chunk_rows: usize,
) -> Result<(FileLayout, ChunkIter)> {
    let header_line = read_first_line(path)?;
    let (delimiter, names) = sniff_delimiter(&header_line, contract);
    let (positions, mut layout) =
        map_columns(&names, contract).map_err(|message| PipelineError::BadFile {
            file: path.to_owned(),
            line: Some(1),
            column: None,
            message: format!(
                "{message} (delimiters tried: comma, semicolon, tab, pipe; the raw-data \
                 contract is in docs/data-contract.md)"
            ),
        })?;
    layout.delimiter = Some(match delimiter {
        b'\t' => "tab".to_owned(),
        other => (other as char).to_string(),
    });
    if delimiter != b',' {
        tracing::warn!(file = %path.display(), delimiter = ?layout.delimiter, "the file is not comma-separated; reading it with the detected delimiter");
    }
    let reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(open_guarded(path)?);
    let customer_id_position = contract
        .columns
        .iter()
        .position(|column| column.name == "customer_id")
        .and_then(|index| positions[index]);
    let iter = CsvChunks {
        path: path.to_owned(),
        reader,
        record: csv::ByteRecord::new(),
        customer_id_position,
        positions,
        header_len: names.len(),
        delimiter,
        builder: ChunkBuilder::new(contract, chunk_rows),
        chunk_rows,
    };
    Ok((layout, Chunks::boxed(iter)))
}

/// The first line of a file (for sniffing), at most [`MAX_LINE_BYTES`].
fn read_first_line(path: &Path) -> Result<String> {
    let mut reader = open_guarded(path)?;
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).map_err(|e| {
        if is_line_too_long(&e) {
            too_long(path, 1)
        } else {
            PipelineError::io(path, e)
        }
    })?;
    String::from_utf8(line).map_err(|e| PipelineError::BadFile {
        file: path.to_owned(),
        line: Some(1),
        column: None,
        message: format!(
            "the header is not valid UTF-8 (byte {} is invalid); save the file as UTF-8",
            e.utf8_error().valid_up_to()
        ),
    })
}

/// Picks the delimiter under which the header names the most contract columns.
fn sniff_delimiter(header: &str, contract: &SourceContract) -> (u8, Vec<String>) {
    let split = |delimiter: u8| -> Vec<String> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .from_reader(header.as_bytes());
        reader
            .records()
            .next()
            .and_then(|record| record.ok())
            .map(|record| record.iter().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let score = |names: &[String]| {
        names
            .iter()
            .filter(|name| contract.column(&normalize_name(name)).is_some())
            .count()
    };
    let mut best = (b',', split(b','));
    let mut best_score = score(&best.1);
    for delimiter in [b';', b'\t', b'|'] {
        let names = split(delimiter);
        let candidate = score(&names);
        if candidate > best_score {
            best = (delimiter, names);
            best_score = candidate;
        }
    }
    best
}

struct CsvChunks {
    path: PathBuf,
    reader: csv::Reader<BufReader<LineGuard<File>>>,
    record: csv::ByteRecord,
    positions: Vec<Option<usize>>,
    header_len: usize,
    customer_id_position: Option<usize>,
    delimiter: u8,
    builder: ChunkBuilder,
    chunk_rows: usize,
}

impl ReadChunk for CsvChunks {
    fn read_chunk(&mut self) -> Result<Option<RawChunk>> {
        while self.builder.rows() < self.chunk_rows {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => self.take_record(),
                Ok(false) => break,
                Err(error) => return Err(self.csv_error(error)),
            }
        }
        if self.builder.rows() == 0 {
            return Ok(None);
        }
        self.builder.finish().map(Some)
    }
}

impl CsvChunks {
    fn take_record(&mut self) {
        let line = self.record.position().map_or(0, |p| p.line());
        if self.record.len() != self.header_len {
            let raw = self.raw_text();
            let customer_id = self.customer_id();
            self.builder.bad.push(BadRow {
                customer_id,
                line,
                column: None,
                kind: "wrong field count",
                reason: format!(
                    "expected {} fields as in the header, found {}",
                    self.header_len,
                    self.record.len()
                ),
                raw,
            });
            return;
        }
        // Validate every field we keep before pushing any, so a bad row adds nothing.
        for (index, position) in self.positions.iter().enumerate() {
            let Some(position) = position else { continue };
            let bytes = &self.record[*position];
            if let Err(error) = std::str::from_utf8(bytes) {
                let raw = self.raw_text();
                let customer_id = self.customer_id();
                self.builder.bad.push(BadRow {
                    customer_id,
                    line,
                    column: Some(self.builder.names[index].to_owned()),
                    kind: "invalid utf-8",
                    reason: format!(
                        "not valid UTF-8: byte 0x{:02X} at position {}",
                        bytes[error.valid_up_to()],
                        error.valid_up_to()
                    ),
                    raw,
                });
                return;
            }
        }
        let (record, positions) = (&self.record, &self.positions);
        self.builder.push(line, |index| {
            positions[index].and_then(|position| {
                std::str::from_utf8(&record[position])
                    .ok()
                    .filter(|text| !text.is_empty())
            })
        });
    }

    fn customer_id(&self) -> Option<String> {
        let position = self.customer_id_position?;
        let field = std::str::from_utf8(self.record.get(position)?).ok()?.trim();
        (!field.is_empty()).then(|| field.to_owned())
    }

    fn raw_text(&self) -> String {
        let delimiter = (self.delimiter as char).to_string();
        self.record
            .iter()
            .map(String::from_utf8_lossy)
            .collect::<Vec<_>>()
            .join(&delimiter)
    }

    fn csv_error(&self, error: csv::Error) -> PipelineError {
        let line = error.position().map(|p| p.line());
        match error.into_kind() {
            csv::ErrorKind::Io(io) if is_line_too_long(&io) => too_long(
                &self.path,
                line.unwrap_or(self.record.position().map_or(0, |p| p.line()) + 1),
            ),
            csv::ErrorKind::Io(io) => PipelineError::io(&self.path, io),
            other => PipelineError::BadFile {
                file: self.path.clone(),
                line,
                column: None,
                message: format!("unreadable CSV: {other:?}"),
            },
        }
    }
}

fn open_json_lines(
    path: &Path,
    contract: &'static SourceContract,
    chunk_rows: usize,
) -> Result<(FileLayout, ChunkIter)> {
    let iter = JsonChunks {
        path: path.to_owned(),
        reader: open_guarded(path)?,
        buffer: Vec::new(),
        line: 0,
        builder: ChunkBuilder::new(contract, chunk_rows),
        chunk_rows,
        seen_keys: BTreeSet::new(),
        new_keys: Vec::new(),
        contract,
    };
    // JSON Lines has no header: the layout is learnt while reading and reported by key.
    let layout = FileLayout::default();
    Ok((layout, Chunks::boxed(iter)))
}

struct JsonChunks {
    path: PathBuf,
    reader: BufReader<LineGuard<File>>,
    buffer: Vec<u8>,
    line: u64,
    builder: ChunkBuilder,
    chunk_rows: usize,
    seen_keys: BTreeSet<String>,
    new_keys: Vec<String>,
    contract: &'static SourceContract,
}

impl ReadChunk for JsonChunks {
    fn read_chunk(&mut self) -> Result<Option<RawChunk>> {
        while self.builder.rows() < self.chunk_rows {
            self.buffer.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut self.buffer)
                .map_err(|e| {
                    if is_line_too_long(&e) {
                        too_long(&self.path, self.line + 1)
                    } else {
                        PipelineError::io(&self.path, e)
                    }
                })?;
            if read == 0 {
                break;
            }
            self.line += 1;
            if self.buffer.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.take_line();
        }
        if self.builder.rows() == 0 {
            return Ok(None);
        }
        let mut chunk = self.builder.finish()?;
        chunk.ignored_keys = std::mem::take(&mut self.new_keys);
        Ok(Some(chunk))
    }
}

impl JsonChunks {
    fn take_line(&mut self) {
        let line = self.line;
        let bad = |kind, reason: String, raw: &[u8]| {
            let raw = String::from_utf8_lossy(raw).trim_end().to_owned();
            BadRow {
                line,
                column: None,
                kind,
                reason,
                customer_id: json_customer_id(&raw),
                raw,
            }
        };
        let text = match std::str::from_utf8(&self.buffer) {
            Ok(text) => text,
            Err(error) => {
                let row = bad(
                    "invalid utf-8",
                    format!(
                        "not valid UTF-8: byte 0x{:02X} at position {}",
                        self.buffer[error.valid_up_to()],
                        error.valid_up_to()
                    ),
                    &self.buffer,
                );
                self.builder.bad.push(row);
                return;
            }
        };
        let object: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(text) {
            Ok(object) => object,
            Err(error) => {
                let row = bad(
                    "invalid json",
                    format!("not a JSON object: {error}"),
                    &self.buffer,
                );
                self.builder.bad.push(row);
                return;
            }
        };
        let mut values: Vec<Option<String>> = vec![None; self.contract.columns.len()];
        for (key, value) in object {
            let name = normalize_name(&key);
            let Some(index) = self.contract.columns.iter().position(|c| c.name == name) else {
                if self.seen_keys.insert(name.clone()) {
                    self.new_keys.push(name);
                }
                continue;
            };
            values[index] = match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(text) if text.is_empty() => None,
                serde_json::Value::String(text) => Some(text),
                serde_json::Value::Number(number) => Some(number.to_string()),
                serde_json::Value::Bool(flag) => Some(flag.to_string()),
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                    let row = BadRow {
                        column: Some(name.clone()),
                        ..bad(
                            "unparseable",
                            format!("'{name}' holds a JSON array or object, not a value"),
                            &self.buffer,
                        )
                    };
                    self.builder.bad.push(row);
                    return;
                }
            };
        }
        self.builder.push(line, |index| values[index].as_deref());
    }
}

/// The `customer_id` of a JSON line that does not parse, found by a plain scan.
fn json_customer_id(text: &str) -> Option<String> {
    let after_key = &text[text.find("\"customer_id\"")? + "\"customer_id\"".len()..];
    let value = after_key
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let id = value[..value.find('"')?].trim();
    (!id.is_empty()).then(|| id.to_owned())
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
        })
    });
    Ok((layout, Box::new(iter)))
}
