//! DynamoDB items: building attribute values and reading typed attributes back, naming
//! the table, the item and the attribute when one is missing or of the wrong type. Shared
//! by the registry, the ledgers and the online feature table.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::IoError;

pub(crate) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Reads typed attributes of an item, naming the item and attribute when one is wrong.
pub(crate) struct Item<'a> {
    pub table: &'a str,
    pub key: &'a str,
    pub attributes: &'a HashMap<String, AttributeValue>,
}

impl Item<'_> {
    fn corrupt(&self, name: &str, what: &str) -> IoError {
        IoError::Corrupt {
            target: format!("{} item '{}'", self.table, self.key),
            message: format!("attribute '{name}' {what}"),
        }
    }

    pub fn string(&self, name: &str) -> Result<String, IoError> {
        match self.attributes.get(name) {
            Some(AttributeValue::S(value)) => Ok(value.clone()),
            Some(_) => Err(self.corrupt(name, "is not a string")),
            None => Err(self.corrupt(name, "is missing")),
        }
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, IoError> {
        match self.attributes.get(name) {
            Some(AttributeValue::N(value)) => value
                .parse()
                .map_err(|_| self.corrupt(name, "is not a number of the expected kind")),
            Some(_) => Err(self.corrupt(name, "is not a number")),
            None => Err(self.corrupt(name, "is missing")),
        }
    }
}
