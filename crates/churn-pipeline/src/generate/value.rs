//! Values of generated rows, before they are written in a file format.

/// One generated cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Missing.
    Null,
    /// Text (ids, categories, free text).
    Str(String),
    /// A whole number.
    Int(i64),
    /// A real number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A date, as days since 1970-01-01.
    Date(i32),
    /// A UTC timestamp, as seconds since the epoch.
    Timestamp(i64),
    /// Bytes written verbatim into text formats: how dirt that no typed value can hold
    /// (unparseable text, invalid UTF-8) reaches a file.
    Raw(Vec<u8>),
}

/// A generated row, in contract column order.
pub type Row = Vec<Value>;

impl Value {
    /// A text value.
    pub fn text(text: &str) -> Self {
        Self::Str(text.to_owned())
    }
}
