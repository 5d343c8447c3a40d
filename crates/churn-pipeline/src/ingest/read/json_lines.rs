//! JSON Lines files: one JSON object per physical line, keys are column names.
//!
//! A UTF-8 byte-order mark before the first object is accepted (editors on Windows
//! write one). An object that names a contract column twice (also as `Customer_ID` and
//! `customer_id`) is quarantined naming the key: serde_json's map would keep the last
//! value without a word, and which one was meant cannot be known.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::text::{LineTally, TextLines};
use super::{BadRow, ChunkBuilder, ChunkIter, Chunks, FileLayout, RawChunk, ReadChunk};
use crate::contract::SourceContract;
use crate::error::Result;
use crate::store::RawFile;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Opens a JSON Lines file. It has no header: the layout is learnt while reading and
/// the keys outside the contract are reported with each chunk.
pub(super) fn open(
    file: &RawFile,
    contract: &'static SourceContract,
    chunk_rows: usize,
) -> Result<(FileLayout, ChunkIter)> {
    let reader = JsonChunks {
        lines: TextLines::open(file)?,
        buffer: Vec::new(),
        builder: ChunkBuilder::new(contract, chunk_rows),
        chunk_rows,
        seen_keys: BTreeSet::new(),
        new_keys: Vec::new(),
        contract,
        tally: LineTally::default(),
        finished: false,
    };
    Ok((FileLayout::default(), Chunks::boxed(reader)))
}

/// The members of a JSON object in order, repeated keys kept.
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;

        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(member) = map.next_entry::<String, serde_json::Value>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }

        deserializer.deserialize_map(MembersVisitor)
    }
}

struct JsonChunks {
    lines: TextLines,
    buffer: Vec<u8>,
    builder: ChunkBuilder,
    chunk_rows: usize,
    seen_keys: BTreeSet<String>,
    new_keys: Vec<String>,
    contract: &'static SourceContract,
    tally: LineTally,
    finished: bool,
}

impl ReadChunk for JsonChunks {
    fn read_chunk(&mut self) -> Result<Option<RawChunk>> {
        if self.finished {
            return Ok(None);
        }
        let mut at_end = false;
        while self.builder.rows() < self.chunk_rows {
            let Some(line) = self.lines.read_line(&mut self.buffer)? else {
                at_end = true;
                break;
            };
            if line == 1 && self.buffer.starts_with(BOM) {
                self.buffer.drain(..BOM.len());
            }
            if self.buffer.iter().all(u8::is_ascii_whitespace) {
                self.tally.blank_lines += 1;
                continue;
            }
            self.take_line(line);
        }
        let mut chunk = self.builder.finish()?;
        chunk.ignored_keys = std::mem::take(&mut self.new_keys);
        if at_end {
            // The tally travels with the last chunk, which may hold no rows.
            self.tally.lines = self.lines.physical_lines();
            chunk.tally = Some(self.tally);
            self.finished = true;
        }
        Ok(Some(chunk))
    }
}

impl JsonChunks {
    fn take_line(&mut self, line: u64) {
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
        let members = match serde_json::from_str::<Members>(text) {
            Ok(Members(members)) => members,
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
        let columns = self.contract.columns.len();
        let mut values: Vec<Option<String>> = vec![None; columns];
        let mut keys: Vec<Option<String>> = vec![None; columns];
        for (key, value) in members {
            let name = super::normalize_name(&key);
            let Some(index) = self.contract.columns.iter().position(|c| c.name == name) else {
                if self.seen_keys.insert(name.clone()) {
                    self.new_keys.push(name);
                }
                continue;
            };
            if let Some(first) = &keys[index] {
                let row = BadRow {
                    column: Some(name.clone()),
                    ..bad(
                        "duplicate key",
                        format!(
                            "the object has the key '{name}' twice ('{first}' and '{key}'): \
                             which value is meant cannot be known"
                        ),
                        &self.buffer,
                    )
                };
                self.builder.bad.push(row);
                return;
            }
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
            keys[index] = Some(key);
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
