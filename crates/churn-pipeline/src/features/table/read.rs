//! Reading a flat table as text: CSV (comma, semicolon, tab or pipe separated, detected
//! from the first lines) or Parquet, every column as strings, names in snake_case.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use polars::prelude::*;

use crate::error::{PipelineError, PolarsContext, Result};
use crate::store::{RawFormat, scan_parquet_file};

/// `TotalCharges` → `total_charges`, `customerID` → `customer_id`,
/// `account length` → `account_length`, `StreamingTV` → `streaming_tv`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (index, &ch) in chars.iter().enumerate() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && index > 0 {
                let previous = chars[index - 1];
                let next_is_lower = chars.get(index + 1).is_some_and(|c| c.is_lowercase());
                if previous.is_lowercase()
                    || previous.is_ascii_digit()
                    || (previous.is_uppercase() && next_is_lower)
                {
                    out.push('_');
                }
            }
            out.extend(ch.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// Delimiters tried, in order of preference on a tie.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// How many bytes of a CSV file the delimiter is detected from.
const SNIFF_BYTES: u64 = 64 * 1024;

/// The delimiter of a CSV file: the one that splits the header into the most fields
/// while every one of the first lines has as many (a `;` file has one comma-field per
/// line only by accident of its values).
pub(crate) fn sniff_delimiter(path: &Path) -> Result<u8> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(SNIFF_BYTES).read_to_end(&mut head))
        .map_err(|e| PipelineError::io(path, e))?;
    // Only whole lines: the last one may be cut by the byte limit.
    if head.len() as u64 == SNIFF_BYTES
        && let Some(end) = head.iter().rposition(|&b| b == b'\n')
    {
        head.truncate(end + 1);
    }
    let counts = |delimiter: u8| -> Vec<usize> {
        csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(head.as_slice())
            .records()
            .take(20)
            .map_while(|record| record.ok().map(|r| r.len()))
            .collect()
    };
    let mut best = (b',', 0usize, false);
    for delimiter in DELIMITERS {
        let counts = counts(delimiter);
        let Some(&fields) = counts.first() else {
            continue;
        };
        let consistent = counts.iter().all(|&n| n == fields);
        let better = match (consistent, best.2) {
            (true, false) => fields > 1,
            (false, true) => false,
            _ => fields > best.1,
        };
        if better {
            best = (delimiter, fields, consistent);
        }
    }
    Ok(best.0)
}

/// The delimiter's name, for messages.
pub(crate) fn delimiter_name(delimiter: u8) -> &'static str {
    match delimiter {
        b',' => "comma",
        b';' => "semicolon",
        b'\t' => "tab",
        b'|' => "pipe",
        _ => "other",
    }
}

/// A table with every column as text and its names in snake_case, and a note when the
/// file is not comma-separated.
pub(crate) fn read_as_text(path: &Path) -> Result<(DataFrame, Option<String>)> {
    if !path.exists() {
        return Err(PipelineError::Missing(format!(
            "{} does not exist",
            path.display()
        )));
    }
    if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(PipelineError::bad_file(path, "the file is empty (0 bytes)"));
    }
    let mut note = None;
    let frame = match RawFormat::from_path(path) {
        Some(RawFormat::Csv) => {
            let delimiter = sniff_delimiter(path)?;
            if delimiter != b',' {
                note = Some(format!(
                    "{}: read as {}-separated",
                    path.display(),
                    delimiter_name(delimiter)
                ));
            }
            CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .map_parse_options(|options| options.with_separator(delimiter))
                .try_into_reader_with_file_path(Some(path.to_path_buf()))
                .and_then(|reader| reader.finish())
                .map_err(|e| {
                    PipelineError::bad_file(path, format!("not a readable CSV file: {e}"))
                })?
        }
        Some(RawFormat::Parquet) => scan_parquet_file(path)?
            .select([all().as_expr().cast(DataType::String)])
            .collect()
            .map_err(|e| {
                PipelineError::bad_file(path, format!("not a readable Parquet file: {e}"))
            })?,
        _ => {
            return Err(PipelineError::bad_file(
                path,
                "unsupported table format: use .csv or .parquet",
            ));
        }
    };
    let mut seen = BTreeMap::new();
    let mut renamed = Vec::with_capacity(frame.width());
    for column in frame.columns() {
        let name = snake_case(column.name());
        if let Some(other) = seen.insert(name.clone(), column.name().to_string()) {
            return Err(PipelineError::bad_file(
                path,
                format!(
                    "columns '{other}' and '{}' both become '{name}'",
                    column.name()
                ),
            ));
        }
        renamed.push(column.clone().with_name(name.into()));
    }
    let frame = DataFrame::new(frame.height(), renamed)
        .context(|| format!("reading {}", path.display()))?;
    Ok((frame, note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_handles_the_usual_spellings() {
        for (raw, expected) in [
            ("customerID", "customer_id"),
            ("TotalCharges", "total_charges"),
            ("account length", "account_length"),
            ("StreamingTV", "streaming_tv"),
            ("number_vmail_messages", "number_vmail_messages"),
            ("  Churn ", "churn"),
            ("SeniorCitizen", "senior_citizen"),
            ("total.day.minutes", "total_day_minutes"),
        ] {
            assert_eq!(snake_case(raw), expected, "{raw}");
        }
    }

    #[test]
    fn the_delimiter_is_the_one_that_splits_every_line_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (text, expected) in [
            ("id,a,b\n1,2,3\n2,3,4\n", b','),
            ("id;a;b\n1;2,5;3\n2;3,1;4\n", b';'),
            ("id\ta\tb\n1\tx, y\t3\n", b'\t'),
            ("id|a|b\n1|2|3\n", b'|'),
            // Commas inside values of a semicolon file: the comma split is ragged.
            ("id;note\n1;a,b\n2;c\n", b';'),
        ] {
            let path = dir.path().join("t.csv");
            std::fs::write(&path, text).expect("write");
            assert_eq!(
                sniff_delimiter(&path).expect("sniff") as char,
                expected as char,
                "{text:?}"
            );
        }
    }
}
