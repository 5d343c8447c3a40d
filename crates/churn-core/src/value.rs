//! The values of a raw feature record, as a scorer receives them.

/// One raw feature value. Records come from JSON, JavaScript objects or table rows, so a
/// value is whatever those can hold; the preprocessing decides what it means for the
/// feature's kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Absent, null or empty: the fitted imputation applies.
    Missing,
    /// A number. It must be finite: NaN and infinities are refused, since they are
    /// always a bug upstream (use [`Value::Missing`] for "unknown").
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// Text: a category, or a number or boolean spelt out.
    Text(&'a str),
}

impl Value<'_> {
    /// A short description of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Missing => "missing",
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            Value::Text(_) => "text",
        }
    }
}
