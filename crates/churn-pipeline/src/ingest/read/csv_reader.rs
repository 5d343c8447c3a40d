//! CSV files: the header, then one record per physical line, or per few lines when a
//! quoted field holds line breaks.
//!
//! Records are framed here, line by line, and only then split into fields by `csv_core`
//! (the parser of the csv crate). Framing is ours because a parser left to find the end
//! of a record lets one stray `"` swallow the rest of the file into a single field. A
//! quoted field may span lines only within [`MAX_RECORD_LINES`] lines and
//! [`MAX_RECORD_BYTES`] bytes, must close with a quote followed by a delimiter or the end
//! of a line, and must leave a row with the header's field count; otherwise its first
//! line is quarantined ("unclosed quote") and reading resumes at the line after it, so
//! every later row is still read and numbered by its physical line.

use std::collections::VecDeque;

use super::text::{LineTally, TextLines};
use super::{BadRow, ChunkBuilder, ChunkIter, Chunks, FileLayout, RawChunk, ReadChunk};
use crate::contract::SourceContract;
use crate::error::{PipelineError, Result};
use crate::store::RawFile;

/// The most physical lines one record may span.
pub const MAX_RECORD_LINES: usize = 100;

/// The most bytes one record spanning lines may hold.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Opens a CSV file: reads and checks its header, then streams its records.
pub(super) fn open(
    file: &RawFile,
    contract: &'static SourceContract,
    chunk_rows: usize,
) -> Result<(FileLayout, ChunkIter)> {
    let path = &file.path;
    let mut lines = TextLines::open(file)?;
    let mut header = Vec::new();
    if lines.read_line(&mut header)?.is_none() {
        return Err(PipelineError::BadFile {
            file: path.clone(),
            line: Some(1),
            column: None,
            message: format!(
                "the file is empty once decompressed; expected a header line such as: {}",
                contract.column_names().join(",")
            ),
        });
    }
    let header = String::from_utf8(header).map_err(|e| PipelineError::BadFile {
        file: path.clone(),
        line: Some(1),
        column: None,
        message: format!(
            "the header is not valid UTF-8 (byte {} is invalid); save the file as UTF-8",
            e.utf8_error().valid_up_to()
        ),
    })?;
    let (delimiter, names) = sniff_delimiter(&header, contract);
    let (positions, mut layout) =
        super::map_columns(&names, contract).map_err(|message| PipelineError::BadFile {
            file: path.clone(),
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
    let customer_id_position = contract
        .columns
        .iter()
        .position(|column| column.name == "customer_id")
        .and_then(|index| positions[index]);
    let reader = CsvChunks {
        lines,
        pending: VecDeque::new(),
        fields: Fields::new(delimiter),
        positions,
        header_len: names.len(),
        customer_id_position,
        delimiter,
        builder: ChunkBuilder::new(contract, chunk_rows),
        chunk_rows,
        tally: LineTally {
            header_lines: 1,
            ..LineTally::default()
        },
        finished: false,
        spare: Vec::new(),
    };
    Ok((layout, Chunks::boxed(reader)))
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
            .filter(|name| contract.column(&super::normalize_name(name)).is_some())
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

/// Where the quote scan of a record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// At the start of a field: a `"` here opens a quoted field.
    FieldStart,
    /// Inside an unquoted field: a `"` here is an ordinary character.
    Unquoted,
    /// Inside a quoted field: a line break here is part of the value.
    Quoted,
    /// Just after a `"` inside a quoted field: it closes the field, or doubles a quote.
    AfterQuote,
}

/// Scans `bytes` from `state`, as `csv_core` will parse them. Sets `sloppy` when a
/// closing quote is followed by more text (which `csv_core` accepts, but which is how a
/// stray quote that pairs with a later one shows).
fn scan(bytes: &[u8], delimiter: u8, mut state: Scan, sloppy: &mut bool) -> Scan {
    for &byte in bytes {
        state = match state {
            Scan::FieldStart if byte == b'"' => Scan::Quoted,
            Scan::FieldStart | Scan::Unquoted if byte == delimiter => Scan::FieldStart,
            Scan::FieldStart | Scan::Unquoted => Scan::Unquoted,
            Scan::Quoted if byte == b'"' => Scan::AfterQuote,
            Scan::Quoted => Scan::Quoted,
            Scan::AfterQuote if byte == b'"' => Scan::Quoted,
            Scan::AfterQuote if byte == delimiter => Scan::FieldStart,
            Scan::AfterQuote => {
                *sloppy = true;
                Scan::Unquoted
            }
        };
    }
    state
}

/// The fields of one record, split by `csv_core`.
struct Fields {
    parser: csv_core::Reader,
    bytes: Vec<u8>,
    ends: Vec<usize>,
    len: usize,
}

impl Fields {
    fn new(delimiter: u8) -> Self {
        Self {
            // Records arrive framed and without their terminator: `\r` is data here.
            parser: csv_core::ReaderBuilder::new()
                .delimiter(delimiter)
                .terminator(csv_core::Terminator::Any(b'\n'))
                .build(),
            bytes: vec![0; 1 << 12],
            ends: vec![0; 64],
            len: 0,
        }
    }

    /// Splits one framed record.
    fn split(&mut self, record: &[u8]) {
        use csv_core::ReadRecordResult;
        self.parser.reset();
        let (mut read, mut written, mut ended) = (0, 0, 0);
        loop {
            let (result, nin, nout, nend) = self.parser.read_record(
                &record[read..],
                &mut self.bytes[written..],
                &mut self.ends[ended..],
            );
            read += nin;
            written += nout;
            ended += nend;
            match result {
                // The rest of the input is empty next time: the end of the record.
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    let grown = self.bytes.len() * 2;
                    self.bytes.resize(grown, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let grown = self.ends.len() * 2;
                    self.ends.resize(grown, 0);
                }
                ReadRecordResult::Record | ReadRecordResult::End => break,
            }
        }
        self.len = ended;
    }

    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len {
            return None;
        }
        let start = index
            .checked_sub(1)
            .map_or(0, |previous| self.ends[previous]);
        Some(&self.bytes[start..self.ends[index]])
    }
}

/// A record framed from several physical lines.
enum Framed {
    /// A record, now split in `Fields`, and the lines it took beyond its first.
    Record { continuation_lines: u64 },
    /// A quoted field that does not close into a row: why.
    Unclosed(String),
}

struct CsvChunks {
    lines: TextLines,
    /// Lines read ahead for a quoted field that did not close, to be read again.
    pending: VecDeque<(u64, Vec<u8>)>,
    fields: Fields,
    positions: Vec<Option<usize>>,
    header_len: usize,
    customer_id_position: Option<usize>,
    delimiter: u8,
    builder: ChunkBuilder,
    chunk_rows: usize,
    tally: LineTally,
    finished: bool,
    /// The buffer of the last line, to read the next one into.
    spare: Vec<u8>,
}

impl ReadChunk for CsvChunks {
    fn read_chunk(&mut self) -> Result<Option<RawChunk>> {
        if self.finished {
            return Ok(None);
        }
        while self.builder.rows() < self.chunk_rows {
            let Some((line, text)) = self.next_line()? else {
                // The tally travels with the last chunk, which may hold no rows.
                self.tally.lines = self.lines.physical_lines();
                let mut chunk = self.builder.finish()?;
                chunk.tally = Some(self.tally);
                self.finished = true;
                return Ok(Some(chunk));
            };
            self.take_line(line, &text)?;
            self.spare = text;
        }
        self.builder.finish().map(Some)
    }
}

impl CsvChunks {
    fn next_line(&mut self) -> Result<Option<(u64, Vec<u8>)>> {
        if let Some(line) = self.pending.pop_front() {
            return Ok(Some(line));
        }
        let mut text = std::mem::take(&mut self.spare);
        Ok(self.lines.read_line(&mut text)?.map(|line| (line, text)))
    }

    fn take_line(&mut self, line: u64, text: &[u8]) -> Result<()> {
        if text.is_empty() {
            self.tally.blank_lines += 1;
            return Ok(());
        }
        let mut sloppy = false;
        let open = text.contains(&b'"')
            && scan(text, self.delimiter, Scan::FieldStart, &mut sloppy) == Scan::Quoted;
        if !open {
            self.fields.split(text);
            self.take_record(line);
            return Ok(());
        }
        match self.frame(text, sloppy)? {
            Framed::Record { continuation_lines } => {
                self.tally.continuation_lines += continuation_lines;
                self.take_record(line);
            }
            Framed::Unclosed(why) => {
                self.fields.split(text);
                let customer_id = self.customer_id();
                self.builder.bad.push(BadRow {
                    line,
                    column: None,
                    kind: "unclosed quote",
                    reason: format!(
                        "a quoted field opens on this line and {why}: a stray '\"'? The line \
                         is quarantined and reading resumes at the next line (a quoted field \
                         may hold line breaks for at most {MAX_RECORD_LINES} lines and {} KiB, \
                         closing with '\"' before a delimiter or the end of a line)",
                        MAX_RECORD_BYTES >> 10
                    ),
                    raw: String::from_utf8_lossy(text).into_owned(),
                    customer_id,
                });
            }
        }
        Ok(())
    }

    /// Gathers the lines of a record whose quoted field runs past the end of `first` and
    /// splits it; on failure the lines read ahead are put back, to be read again as rows.
    fn frame(&mut self, first: &[u8], mut sloppy: bool) -> Result<Framed> {
        let mut record = first.to_vec();
        let mut taken: Vec<(u64, Vec<u8>)> = Vec::new();
        let outcome = loop {
            if taken.len() + 1 >= MAX_RECORD_LINES {
                break Err(format!("is still open after {MAX_RECORD_LINES} lines"));
            }
            let Some((line, text)) = self.next_line()? else {
                break Err("the file ends before it closes".to_owned());
            };
            record.push(b'\n');
            record.extend_from_slice(&text);
            let state = scan(&text, self.delimiter, Scan::Quoted, &mut sloppy);
            taken.push((line, text));
            if record.len() > MAX_RECORD_BYTES {
                break Err(format!(
                    "is still open after {} KiB",
                    MAX_RECORD_BYTES >> 10
                ));
            }
            if state != Scan::Quoted {
                break if sloppy {
                    Err(format!(
                        "closes on line {line} with a quote followed by more text, not by a \
                         delimiter or the end of the line"
                    ))
                } else {
                    Ok(())
                };
            }
        };
        let outcome = outcome.and_then(|()| {
            self.fields.split(&record);
            if self.fields.len() == self.header_len {
                Ok(())
            } else {
                Err(format!(
                    "closes into a row of {} fields instead of the header's {}",
                    self.fields.len(),
                    self.header_len
                ))
            }
        });
        match outcome {
            Ok(()) => Ok(Framed::Record {
                continuation_lines: taken.len() as u64,
            }),
            Err(why) => {
                for line in taken.into_iter().rev() {
                    self.pending.push_front(line);
                }
                Ok(Framed::Unclosed(why))
            }
        }
    }

    /// Takes the record in `self.fields`, which starts on physical line `line`.
    fn take_record(&mut self, line: u64) {
        if self.fields.len() != self.header_len {
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
                    self.fields.len()
                ),
                raw,
            });
            return;
        }
        // Validate every field we keep before pushing any, so a bad row adds nothing.
        for (index, position) in self.positions.iter().enumerate() {
            let Some(bytes) = position.and_then(|position| self.fields.get(position)) else {
                continue;
            };
            if let Err(error) = std::str::from_utf8(bytes) {
                let reason = format!(
                    "not valid UTF-8: byte 0x{:02X} at position {}",
                    bytes[error.valid_up_to()],
                    error.valid_up_to()
                );
                let raw = self.raw_text();
                let customer_id = self.customer_id();
                self.builder.bad.push(BadRow {
                    customer_id,
                    line,
                    column: Some(self.builder.names[index].to_owned()),
                    kind: "invalid utf-8",
                    reason,
                    raw,
                });
                return;
            }
        }
        let (fields, positions) = (&self.fields, &self.positions);
        self.builder.push(line, |index| {
            positions[index]
                .and_then(|position| fields.get(position))
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
                .filter(|text| !text.is_empty())
        });
    }

    fn customer_id(&self) -> Option<String> {
        let field = self.fields.get(self.customer_id_position?)?;
        let id = std::str::from_utf8(field).ok()?.trim();
        (!id.is_empty()).then(|| id.to_owned())
    }

    fn raw_text(&self) -> String {
        let delimiter = (self.delimiter as char).to_string();
        (0..self.fields.len())
            .filter_map(|index| self.fields.get(index))
            .map(String::from_utf8_lossy)
            .collect::<Vec<_>>()
            .join(&delimiter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(line: &str) -> (Scan, bool) {
        let mut sloppy = false;
        (
            scan(line.as_bytes(), b',', Scan::FieldStart, &mut sloppy),
            sloppy,
        )
    }

    #[test]
    fn quotes_open_only_at_the_start_of_a_field() {
        assert_eq!(state("a,b\"c,d"), (Scan::Unquoted, false));
        assert_eq!(state("a,\"b,c\",d"), (Scan::Unquoted, false));
        assert_eq!(state("a,\"b \"\"c\"\"\""), (Scan::AfterQuote, false));
        assert_eq!(state("a,\"b,c"), (Scan::Quoted, false));
        assert_eq!(state("a,\"b\"c,d"), (Scan::Unquoted, true));
    }

    #[test]
    fn the_documented_limits_are_these() {
        let limits = format!(
            "at most {MAX_RECORD_LINES} lines and {} MiB",
            MAX_RECORD_BYTES >> 20
        );
        assert!(crate::contract::render_markdown().contains(&limits));
        let readme = include_str!("../../../../../README.md").replace("\n  ", " ");
        assert!(readme.contains(&limits), "README.md says {limits}");
    }

    #[test]
    fn fields_are_split_as_the_csv_crate_does() {
        let mut fields = Fields::new(b',');
        fields.split(b"a,\"b,\"\"c\"\"\",,\"multi\nline\"\r");
        let got: Vec<&[u8]> = (0..fields.len()).filter_map(|i| fields.get(i)).collect();
        assert_eq!(got, [&b"a"[..], b"b,\"c\"", b"", b"multi\nline\r"]);
        let long: String = (0..1000).map(|i| format!("{i},")).collect();
        fields.split(long.as_bytes());
        assert_eq!(fields.len(), 1001);
        assert_eq!(fields.get(999), Some(&b"999"[..]));
    }
}
