//! Writers of generated lines in the three raw formats, text files optionally with CRLF
//! line endings and compressed as they are written (file-level dirt).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::dirt::{FileStyle, Line, Shape};
use super::value::Value;
use crate::contract::{ColumnType, SourceContract};
use crate::dates::from_days;
use crate::error::{PipelineError, PolarsContext, Result};
use crate::store::{AtomicFile, Compression, RawFormat};

/// Writes one raw file of one source.
// Six of these exist at a time; their size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum PartWriter {
    /// CSV with a header.
    Csv(TextPart<CsvOut>),
    /// JSON Lines.
    JsonLines(TextPart<Sink>),
    /// Parquet, one row group per batch of lines.
    Parquet(ParquetPart),
}

/// The csv writer of a CSV file; empty only while a line is written past it.
pub struct CsvOut(Option<csv::Writer<Sink>>);

fn csv_builder(crlf: bool) -> csv::WriterBuilder {
    let mut builder = csv::WriterBuilder::new();
    builder.flexible(true);
    if crlf {
        builder.terminator(csv::Terminator::CRLF);
    }
    builder
}

/// Where a text file's bytes go: the file, or a compressor in front of it.
pub enum Sink {
    /// As written.
    Plain(BufWriter<File>),
    /// Through gzip.
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    /// Through zstd.
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

impl Sink {
    fn new(out: BufWriter<File>, compression: Compression) -> io::Result<Self> {
        Ok(match compression {
            Compression::None => Self::Plain(out),
            Compression::Gzip => Self::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::default(),
            )),
            Compression::Zstd => Self::Zstd(zstd::stream::write::Encoder::new(out, 3)?),
        })
    }

    /// Ends the compressed stream; the file itself is flushed by the caller.
    fn finish(self) -> io::Result<BufWriter<File>> {
        match self {
            Self::Plain(out) => Ok(out),
            Self::Gzip(encoder) => encoder.finish(),
            Self::Zstd(encoder) => encoder.finish(),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(out) => out.write(bytes),
            Self::Gzip(out) => out.write(bytes),
            Self::Zstd(out) => out.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(out) => out.flush(),
            Self::Gzip(out) => out.flush(),
            Self::Zstd(out) => out.flush(),
        }
    }
}

impl std::fmt::Debug for PartWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PartWriter")
    }
}

/// A text file being written.
pub struct TextPart<W> {
    file: AtomicFile,
    out: W,
    contract: &'static SourceContract,
    cell: String,
    line: Vec<u8>,
    crlf: bool,
}

/// A Parquet file being written.
pub struct ParquetPart {
    file: AtomicFile,
    writer: polars::io::parquet::write::BatchedWriter<File>,
    contract: &'static SourceContract,
}

impl PartWriter {
    /// Starts writing `path` (whose name already says how it is compressed).
    pub fn create(
        path: PathBuf,
        format: RawFormat,
        contract: &'static SourceContract,
        style: FileStyle,
    ) -> Result<Self> {
        let file = AtomicFile::new(path)?;
        let sink = |file: &AtomicFile| {
            Sink::new(file.create_writer()?, style.compression)
                .map_err(|e| PipelineError::io(file.temp_path(), e))
        };
        Ok(match format {
            RawFormat::Csv => {
                let mut out = csv_builder(style.crlf).from_writer(sink(&file)?);
                out.write_record(contract.columns.iter().map(|c| c.name))
                    .map_err(|e| csv_error(file.temp_path(), e))?;
                Self::Csv(TextPart::new(file, CsvOut(Some(out)), contract, style.crlf))
            }
            RawFormat::JsonLines => {
                let out = sink(&file)?;
                Self::JsonLines(TextPart::new(file, out, contract, style.crlf))
            }
            RawFormat::Parquet => {
                let schema = parquet_schema(contract);
                let writer = ParquetWriter::new(file.create_file()?)
                    .batched(&schema)
                    .context(|| format!("starting {}", file.temp_path().display()))?;
                Self::Parquet(ParquetPart {
                    file,
                    writer,
                    contract,
                })
            }
        })
    }

    /// Appends lines.
    pub fn write(&mut self, lines: &[Line]) -> Result<()> {
        match self {
            Self::Csv(part) => lines.iter().try_for_each(|line| part.write_csv(line)),
            Self::JsonLines(part) => lines.iter().try_for_each(|line| part.write_json(line)),
            Self::Parquet(part) => part.write(lines),
        }
    }

    /// Finishes the file and moves it into place.
    pub fn finish(self) -> Result<PathBuf> {
        match self {
            Self::Csv(mut part) => {
                let sink = part
                    .csv()?
                    .into_inner()
                    .map_err(|e| PipelineError::io(part.file.temp_path(), e.into_error()))?;
                let out = sink
                    .finish()
                    .map_err(|e| PipelineError::io(part.file.temp_path(), e))?;
                part.file.commit_writer(out)
            }
            Self::JsonLines(part) => {
                let out = part
                    .out
                    .finish()
                    .map_err(|e| PipelineError::io(part.file.temp_path(), e))?;
                part.file.commit_writer(out)
            }
            Self::Parquet(part) => {
                part.writer
                    .finish()
                    .context(|| format!("finishing {}", part.file.temp_path().display()))?;
                drop(part.writer);
                part.file.commit_file()
            }
        }
    }
}

fn csv_error(path: &Path, error: csv::Error) -> PipelineError {
    PipelineError::io(path, std::io::Error::other(error))
}

impl<W> TextPart<W> {
    fn new(file: AtomicFile, out: W, contract: &'static SourceContract, crlf: bool) -> Self {
        Self {
            file,
            out,
            contract,
            cell: String::new(),
            line: Vec::new(),
            crlf,
        }
    }

    fn terminator(&self) -> &'static [u8] {
        if self.crlf { b"\r\n" } else { b"\n" }
    }
}

impl TextPart<CsvOut> {
    /// Takes the csv writer (back with [`TextPart::put_csv`]).
    fn csv(&mut self) -> Result<csv::Writer<Sink>> {
        self.out.0.take().ok_or_else(|| {
            PipelineError::io(
                self.file.temp_path(),
                io::Error::other("the csv writer was lost after a failed write"),
            )
        })
    }

    fn put_csv(&mut self, writer: csv::Writer<Sink>) {
        self.out.0 = Some(writer);
    }

    fn write_csv(&mut self, line: &Line) -> Result<()> {
        if let Shape::StrayQuote(column) = line.shape {
            return self.write_stray_quote(line, column);
        }
        let mut out = self.csv()?;
        let written = self.write_csv_record(&mut out, line);
        self.put_csv(out);
        written
    }

    fn write_csv_record(&mut self, out: &mut csv::Writer<Sink>, line: &Line) -> Result<()> {
        let mut cells = line.cells.len();
        if line.shape == Shape::Short {
            cells -= 1;
        }
        for value in &line.cells[..cells] {
            match value {
                Value::Raw(bytes) => out.write_field(bytes),
                Value::Str(text) => out.write_field(text),
                other => {
                    self.cell.clear();
                    format_value(other, &mut self.cell);
                    out.write_field(&self.cell)
                }
            }
            .map_err(|e| csv_error(self.file.temp_path(), e))?;
        }
        if line.shape == Shape::Long {
            out.write_field("extra")
                .map_err(|e| csv_error(self.file.temp_path(), e))?;
        }
        out.write_record(None::<&[u8]>)
            .map_err(|e| csv_error(self.file.temp_path(), e))
    }

    /// A line whose field `column` starts with a `"` that never closes. The csv writer
    /// would escape it, so the line is built here and written past it: the writer is
    /// flushed and unwrapped, and a new one takes over after the line (a rare line).
    fn write_stray_quote(&mut self, line: &Line, column: usize) -> Result<()> {
        self.line.clear();
        for (index, value) in line.cells.iter().enumerate() {
            if index > 0 {
                self.line.push(b',');
            }
            self.cell.clear();
            format_value(value, &mut self.cell);
            if index == column {
                self.line.push(b'"');
                self.line.extend_from_slice(self.cell.as_bytes());
            } else if self.cell.contains([',', '"', '\r', '\n']) {
                self.line.push(b'"');
                self.line
                    .extend_from_slice(self.cell.replace('"', "\"\"").as_bytes());
                self.line.push(b'"');
            } else {
                self.line.extend_from_slice(self.cell.as_bytes());
            }
        }
        let terminator = self.terminator();
        self.line.extend_from_slice(terminator);
        let mut sink = self
            .csv()?
            .into_inner()
            .map_err(|e| PipelineError::io(self.file.temp_path(), e.into_error()))?;
        sink.write_all(&self.line)
            .map_err(|e| PipelineError::io(self.file.temp_path(), e))?;
        self.put_csv(csv_builder(self.crlf).from_writer(sink));
        Ok(())
    }
}

impl TextPart<Sink> {
    fn write_json(&mut self, line: &Line) -> Result<()> {
        self.line.clear();
        self.line.push(b'{');
        for (index, (column, value)) in self.contract.columns.iter().zip(&line.cells).enumerate() {
            if index > 0 {
                self.line.push(b',');
            }
            self.line.push(b'"');
            self.line.extend_from_slice(column.name.as_bytes());
            self.line.extend_from_slice(b"\":");
            match value {
                Value::Null => self.line.extend_from_slice(b"null"),
                Value::Int(n) => self.line.extend_from_slice(n.to_string().as_bytes()),
                Value::Float(x) => self.line.extend_from_slice(x.to_string().as_bytes()),
                Value::Bool(b) => self
                    .line
                    .extend_from_slice(if *b { b"true" } else { b"false" }),
                Value::Raw(bytes) => {
                    // Verbatim, so invalid UTF-8 stays invalid.
                    self.line.push(b'"');
                    self.line.extend_from_slice(bytes);
                    self.line.push(b'"');
                }
                Value::Str(text) => json_string(text, &mut self.line),
                other => {
                    self.cell.clear();
                    format_value(other, &mut self.cell);
                    json_string(&self.cell, &mut self.line);
                }
            }
        }
        self.line.push(b'}');
        if line.shape != Shape::Whole {
            self.line.truncate(self.line.len() / 2);
        }
        let terminator = self.terminator();
        self.line.extend_from_slice(terminator);
        self.out
            .write_all(&self.line)
            .map_err(|e| PipelineError::io(self.file.temp_path(), e))
    }
}

fn json_string(text: &str, out: &mut Vec<u8>) {
    // Writing a &str to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Formats a typed value as raw text (dates as `YYYY-MM-DD`, timestamps as UTC ISO 8601).
fn format_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => {}
        Value::Str(text) => out.push_str(text),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(x) => {
            let _ = write!(out, "{x}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Date(days) => {
            let _ = write!(out, "{}", from_days(*days).format("%Y-%m-%d"));
        }
        Value::Timestamp(seconds) => {
            let days = seconds.div_euclid(86_400) as i32;
            let rest = seconds.rem_euclid(86_400);
            let _ = write!(
                out,
                "{}T{:02}:{:02}:{:02}Z",
                from_days(days).format("%Y-%m-%d"),
                rest / 3600,
                rest / 60 % 60,
                rest % 60
            );
        }
        Value::Raw(bytes) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

fn parquet_schema(contract: &SourceContract) -> Schema {
    contract
        .columns
        .iter()
        .map(|column| Field::new(column.name.into(), column.ty.dtype()))
        .collect()
}

impl ParquetPart {
    fn write(&mut self, lines: &[Line]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut columns = Vec::with_capacity(self.contract.columns.len());
        for (index, column) in self.contract.columns.iter().enumerate() {
            let values = lines.iter().map(|line| &line.cells[index]);
            let name: PlSmallStr = column.name.into();
            let series = match column.ty {
                ColumnType::Int { .. } => Series::new(
                    name,
                    values
                        .map(|v| match v {
                            Value::Int(n) => Some(*n),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                ColumnType::Float { .. } => Series::new(
                    name,
                    values
                        .map(|v| match v {
                            Value::Float(x) => Some(*x),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                ColumnType::Bool => Series::new(
                    name,
                    values
                        .map(|v| match v {
                            Value::Bool(b) => Some(*b),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                ColumnType::Date => Series::new(
                    name,
                    values
                        .map(|v| match v {
                            Value::Date(d) => Some(*d),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                )
                .cast(&DataType::Date)
                .context(|| "building a date column".into())?,
                ColumnType::Timestamp => Series::new(
                    name,
                    values
                        .map(|v| match v {
                            Value::Timestamp(t) => Some(t * 1_000_000),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                )
                .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
                .context(|| "building a timestamp column".into())?,
                ColumnType::Id | ColumnType::Text | ColumnType::Category { .. } => Series::new(
                    name,
                    values
                        .map(|v| match v {
                            Value::Str(text) => Some(text.clone()),
                            Value::Raw(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
            };
            columns.push(series.into_column());
        }
        let frame =
            DataFrame::new(lines.len(), columns).context(|| "building a row group".into())?;
        self.writer
            .write_batch(&frame)
            .context(|| format!("writing {}", self.file.temp_path().display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_dates_are_iso() {
        let mut out = String::new();
        format_value(&Value::Timestamp(1_700_000_000), &mut out);
        assert_eq!(out, "2023-11-14T22:13:20Z");
        out.clear();
        format_value(&Value::Date(20_000), &mut out);
        assert_eq!(out, "2024-10-04");
    }
}
