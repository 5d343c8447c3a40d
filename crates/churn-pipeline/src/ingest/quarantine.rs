//! The quarantine file of a source: one JSON object per rejected row, with the file, line,
//! column and reason, and the row's values as read.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use polars::prelude::*;
use serde::Serialize;

use super::read::{BadRow, LINE};
use super::validate::{COLUMN, KIND, REASON};
use crate::contract::SourceContract;
use crate::error::{PipelineError, PolarsContext, Result};
use crate::store::AtomicFile;

#[derive(Serialize)]
struct Record<'a> {
    file: &'a str,
    line: u64,
    column: Option<&'a str>,
    kind: &'a str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
}

/// Writes quarantined rows of one source, counting them by kind.
pub struct QuarantineWriter {
    file: AtomicFile,
    out: BufWriter<File>,
    rows: u64,
    by_kind: std::collections::BTreeMap<String, u64>,
}

impl std::fmt::Debug for QuarantineWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuarantineWriter")
            .field("rows", &self.rows)
            .finish()
    }
}

impl QuarantineWriter {
    /// Starts the quarantine file at `target` (committed by [`QuarantineWriter::finish`]).
    pub fn create(target: PathBuf) -> Result<Self> {
        let file = AtomicFile::new(target)?;
        let out = file.create_writer()?;
        Ok(Self {
            file,
            out,
            rows: 0,
            by_kind: Default::default(),
        })
    }

    fn write_record(&mut self, record: &Record<'_>) -> Result<()> {
        serde_json::to_writer(&mut self.out, record).map_err(|source| PipelineError::Json {
            context: format!("writing {}", self.file.target().display()),
            source,
        })?;
        self.out
            .write_all(b"\n")
            .map_err(|e| PipelineError::io(self.file.temp_path(), e))?;
        self.rows += 1;
        *self.by_kind.entry(record.kind.to_owned()).or_default() += 1;
        Ok(())
    }

    /// Rows that could not be split into fields.
    pub fn write_bad_rows(&mut self, file: &str, rows: &[BadRow]) -> Result<()> {
        for row in rows {
            self.write_record(&Record {
                file,
                line: row.line,
                column: row.column.as_deref(),
                kind: row.kind,
                reason: &row.reason,
                values: None,
                raw: Some(&row.raw),
            })?;
        }
        Ok(())
    }

    /// Rows of a frame with the contract columns (any type), `__line`, and the failure
    /// columns; `file_of` names the file of each row.
    pub fn write_frame(
        &mut self,
        frame: &DataFrame,
        contract: &SourceContract,
        file_of: &dyn Fn(usize) -> String,
    ) -> Result<()> {
        if frame.height() == 0 {
            return Ok(());
        }
        let as_text = |name: &str| -> Result<StringChunked> {
            frame
                .column(name)
                .and_then(|column| column.cast(&DataType::String))
                .and_then(|column| column.str().cloned())
                .context(|| format!("reading quarantined column {name}"))
        };
        let values: Vec<(&str, StringChunked)> = contract
            .columns
            .iter()
            .map(|column| Ok((column.name, as_text(column.name)?)))
            .collect::<Result<_>>()?;
        let lines = frame
            .column(LINE)
            .and_then(|column| column.u64().cloned())
            .context(|| "reading quarantined lines".into())?;
        let (kinds, columns, reasons) = (as_text(KIND)?, as_text(COLUMN)?, as_text(REASON)?);
        for row in 0..frame.height() {
            let mut map = serde_json::Map::new();
            for (name, column) in &values {
                let value = column.get(row).map_or(serde_json::Value::Null, |text| {
                    serde_json::Value::String(text.to_owned())
                });
                map.insert((*name).to_owned(), value);
            }
            let file = file_of(row);
            self.write_record(&Record {
                file: &file,
                line: lines.get(row).unwrap_or(0),
                column: columns.get(row),
                kind: kinds.get(row).unwrap_or("invalid"),
                reason: reasons.get(row).unwrap_or("invalid"),
                values: Some(map),
                raw: None,
            })?;
        }
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows written so far, by kind of failure.
    pub fn by_kind(&self) -> &std::collections::BTreeMap<String, u64> {
        &self.by_kind
    }

    /// Flushes and closes the temporary file; [`AtomicFile::commit`] publishes it.
    pub fn finish(self) -> Result<AtomicFile> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| PipelineError::io(self.file.temp_path(), e.into_error()))?;
        file.sync_all()
            .map_err(|e| PipelineError::io(self.file.temp_path(), e))?;
        Ok(self.file)
    }
}
