//! Settings read from a process's environment, typed and checked once, at start-up.
//!
//! Every function builds its `Config` through an [`Env`], which records each variable it
//! reads and the default it falls back to. A test holds those records against
//! `infra/template.yaml`: a variable the template sets that no function reads, or one a
//! function reads without a default that the template never sets, fails it. An empty
//! value counts as unset (a template parameter left at its empty default).

use std::cell::RefCell;
use std::fmt::Display;
use std::str::FromStr;

/// A variable that was read, and what applies when it is unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    /// `None`: it must be set.
    pub default: Option<String>,
}

/// A setting that is missing or cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}{}: {message}", value.as_ref().map(|v| format!("={v}")).unwrap_or_default())]
pub struct ConfigError {
    pub name: &'static str,
    /// What it was set to (none: unset).
    pub value: Option<String>,
    pub message: String,
}

/// Where variables are looked up: the process's environment, or a map in tests.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// The environment a configuration is read from, with a record of what was read.
pub struct Env<'a> {
    lookup: Lookup<'a>,
    read: RefCell<Vec<Variable>>,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("read", &self.read.borrow())
            .finish_non_exhaustive()
    }
}

impl<'a> Env<'a> {
    /// Variables from `lookup` (a map in tests).
    pub fn new(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
            read: RefCell::new(Vec::new()),
        }
    }

    /// Variables from name-value pairs (tests, and settings given in code).
    pub fn from_pairs(pairs: &'a [(&'a str, &'a str)]) -> Self {
        Env::new(move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    /// The process's environment.
    pub fn process() -> Env<'static> {
        Env::new(|name| std::env::var(name).ok())
    }

    fn get(&self, name: &'static str, default: Option<String>) -> Option<String> {
        self.read.borrow_mut().push(Variable { name, default });
        (self.lookup)(name).filter(|value| !value.is_empty())
    }

    /// A variable that must be set; `what` says what it names.
    pub fn required(&self, name: &'static str, what: &str) -> Result<String, ConfigError> {
        self.get(name, None).ok_or_else(|| ConfigError {
            name,
            value: None,
            message: format!("is not set: name {what}"),
        })
    }

    /// Text, or `default`.
    pub fn text(&self, name: &'static str, default: &str) -> String {
        self.get(name, Some(default.to_owned()))
            .unwrap_or_else(|| default.to_owned())
    }

    /// A value parsed from text, or `default`; `expected` says what a valid value is.
    pub fn parse<T: FromStr + Display>(
        &self,
        name: &'static str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        match self.get(name, Some(default.to_string())) {
            None => Ok(default),
            Some(text) => parse(name, &text, expected),
        }
    }

    /// A value that may be unset; `unset` says what that means (it is the documented
    /// default).
    pub fn optional<T: FromStr>(
        &self,
        name: &'static str,
        unset: &str,
        expected: &str,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(name, Some(format!("(unset: {unset})"))) {
            None => Ok(None),
            Some(text) => parse(name, &text, expected).map(Some),
        }
    }

    /// A value checked after parsing: `check` returns why a parsed value is refused.
    pub fn checked<T: FromStr + Display>(
        &self,
        name: &'static str,
        default: T,
        expected: &str,
        check: impl Fn(&T) -> bool,
    ) -> Result<T, ConfigError> {
        let value = self.parse(name, default, expected)?;
        if check(&value) {
            Ok(value)
        } else {
            Err(ConfigError {
                name,
                value: Some(value.to_string()),
                message: format!("use {expected}"),
            })
        }
    }

    /// Every variable read so far.
    pub fn variables(&self) -> Vec<Variable> {
        self.read.borrow().clone()
    }
}

fn parse<T: FromStr>(name: &'static str, text: &str, expected: &str) -> Result<T, ConfigError> {
    text.trim().parse().map_err(|_| ConfigError {
        name,
        value: Some(text.to_owned()),
        message: format!("use {expected}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_parsed_checked_and_recorded() {
        let env = Env::new(|name| match name {
            "A" => Some("12".into()),
            "B" => Some("".into()),
            "C" => Some("x".into()),
            "D" => Some("0".into()),
            _ => None,
        });
        assert_eq!(env.parse("A", 5u32, "a number"), Ok(12));
        assert_eq!(env.parse("B", 5u32, "a number"), Ok(5), "empty is unset");
        let bad = env.parse::<u32>("C", 5, "a whole number").expect_err("bad");
        assert_eq!(bad.to_string(), "C=x: use a whole number");
        assert_eq!(env.optional::<u64>("E", "never", "a number"), Ok(None));
        let zero = env.checked("D", 1u64, "a positive number", |n| *n > 0);
        assert_eq!(
            zero.expect_err("zero").to_string(),
            "D=0: use a positive number"
        );
        let missing = env.required("F", "the data bucket").expect_err("unset");
        assert_eq!(missing.to_string(), "F: is not set: name the data bucket");
        let names: Vec<_> = env.variables().iter().map(|v| v.name).collect();
        assert_eq!(names, ["A", "B", "C", "E", "D", "F"]);
        assert_eq!(env.variables()[5].default, None);
    }
}
