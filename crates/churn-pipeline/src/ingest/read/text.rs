//! Text files (CSV, JSON Lines) as streams of physical lines.
//!
//! Owns three things every text reader needs and no parser should decide: decompression
//! on the fly (gzip and zstd, never a whole file in memory), a guard against a line that
//! never ends (a binary file, a file without line breaks), and the count of physical
//! lines taken from the bytes themselves, apart from any parser, so the report can show
//! where every line went. Lines are split on `\n` alone and lose a `\r` before it, so
//! CRLF, LF and mixed files number their lines the same way.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{PipelineError, Result};
use crate::store::{Compression, RawFile};

/// The longest line accepted. Longer lines mean the file is not what its name says
/// (a binary file, a file without line breaks), and reading on would exhaust memory.
pub const MAX_LINE_BYTES: usize = 8 << 20;

/// Where the physical lines of a text file went; `lines` is counted from the bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LineTally {
    /// Physical lines in the file, from its line breaks (a last line without one counts).
    pub lines: u64,
    /// Header lines (1 for CSV, 0 for JSON Lines).
    pub header_lines: u64,
    /// Empty lines between rows: they are not rows.
    pub blank_lines: u64,
    /// Lines after the first of rows whose quoted field holds line breaks (CSV).
    pub continuation_lines: u64,
}

impl LineTally {
    /// Whether `lines = header_lines + blank_lines + rows + continuation_lines`.
    pub fn balances(&self, rows: u64) -> bool {
        self.lines == self.header_lines + self.blank_lines + rows + self.continuation_lines
    }
}

/// Counts the line breaks of everything read, and fails a read once a line grows past
/// [`MAX_LINE_BYTES`].
struct LineGuard<R> {
    inner: R,
    since_newline: usize,
    newlines: u64,
    bytes: u64,
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        self.bytes += n as u64;
        match chunk.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                self.newlines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                self.since_newline = n - last - 1;
            }
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

/// A decompression failure, told apart from a failing disk so that the message blames
/// the file, not the machine.
#[derive(Debug)]
struct Damaged(String);

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Damaged {}

/// Marks the data errors of a decoder as [`Damaged`].
struct Decoding<R> {
    inner: R,
    compression: Compression,
}

impl<R: Read> Read for Decoding<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let name = self.compression.name().unwrap_or("compressed");
        self.inner.read(buf).map_err(|error| match error.kind() {
            io::ErrorKind::InvalidData
            | io::ErrorKind::InvalidInput
            | io::ErrorKind::UnexpectedEof => io::Error::new(
                io::ErrorKind::InvalidData,
                Damaged(format!(
                    "not a readable {name} stream ({error}): the file is damaged, truncated \
                     or not {name} compressed"
                )),
            ),
            _ => error,
        })
    }
}

type Source = Box<dyn Read + Send>;

/// The physical lines of a text file, decompressed as they are read.
pub struct TextLines {
    path: PathBuf,
    reader: BufReader<LineGuard<Source>>,
    line: u64,
}

impl std::fmt::Debug for TextLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextLines")
            .field("path", &self.path)
            .field("line", &self.line)
            .finish()
    }
}

impl TextLines {
    /// Opens `file` for reading line by line.
    pub fn open(file: &RawFile) -> Result<Self> {
        let path = &file.path;
        let raw = BufReader::with_capacity(
            1 << 20,
            File::open(path).map_err(|e| PipelineError::io(path, e))?,
        );
        let source: Source = match file.compression {
            Compression::None => Box::new(raw),
            Compression::Gzip => Box::new(Decoding {
                inner: flate2::bufread::MultiGzDecoder::new(raw),
                compression: file.compression,
            }),
            Compression::Zstd => Box::new(Decoding {
                inner: zstd::stream::read::Decoder::with_buffer(raw)
                    .map_err(|e| PipelineError::io(path, e))?,
                compression: file.compression,
            }),
        };
        Ok(Self {
            path: path.clone(),
            reader: BufReader::with_capacity(
                1 << 20,
                LineGuard {
                    inner: source,
                    since_newline: 0,
                    newlines: 0,
                    bytes: 0,
                },
            ),
            line: 0,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the next physical line into `line` without its `\n` or `\r\n`, and returns
    /// its 1-based number; `None` at the end of the file.
    pub fn read_line(&mut self, line: &mut Vec<u8>) -> Result<Option<u64>> {
        line.clear();
        let read = self
            .reader
            .read_until(b'\n', line)
            .map_err(|error| self.read_error(error))?;
        if read == 0 {
            return Ok(None);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        self.line += 1;
        Ok(Some(self.line))
    }

    /// Physical lines in everything read so far, counted from the bytes: line breaks,
    /// plus a last line that has none.
    pub fn physical_lines(&self) -> u64 {
        let guard = self.reader.get_ref();
        let unterminated = guard.bytes > 0 && guard.since_newline > 0;
        guard.newlines + u64::from(unterminated)
    }

    fn read_error(&self, error: io::Error) -> PipelineError {
        let next = self.line + 1;
        match error.get_ref() {
            Some(inner) if inner.is::<LineTooLong>() => too_long(&self.path, next),
            Some(inner) if inner.is::<Damaged>() => PipelineError::BadFile {
                file: self.path.clone(),
                line: Some(next),
                column: None,
                message: inner.to_string(),
            },
            _ => PipelineError::io(&self.path, error),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(bytes: &[u8]) -> (Vec<(u64, String)>, u64) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.csv");
        std::fs::write(&path, bytes).expect("write");
        let file = RawFile::classify(&path).expect("csv");
        let mut text = TextLines::open(&file).expect("open");
        let mut line = Vec::new();
        let mut out = Vec::new();
        while let Some(number) = text.read_line(&mut line).expect("read") {
            out.push((number, String::from_utf8_lossy(&line).into_owned()));
        }
        (out, text.physical_lines())
    }

    #[test]
    fn crlf_lf_and_a_missing_last_break_number_lines_alike() {
        let (lines, physical) = lines_of(b"a\r\nb\n\r\nc\rd\ne");
        assert_eq!(
            lines,
            [
                (1, "a".to_owned()),
                (2, "b".to_owned()),
                (3, String::new()),
                (4, "c\rd".to_owned()),
                (5, "e".to_owned())
            ]
        );
        assert_eq!(physical, 5);
        assert_eq!(lines_of(b"").1, 0);
        assert_eq!(lines_of(b"\n").1, 1);
    }
}
