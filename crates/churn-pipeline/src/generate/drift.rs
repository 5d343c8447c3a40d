//! Drift scenarios: the population changes from a day on, so that the monitor has
//! something real to find (its tests, the demo, the drift benchmark). Only rows dated on
//! or after the scenario's day change (an invoice by its date, a session by its start,
//! an account by its start), so everything before it, what a model trained earlier saw,
//! is the undrifted data of the same seed.
//!
//! Written `KIND@DATE=VALUE` on the command line (`churn generate --drift ...`):
//! `price-rise@2026-08-01=1.2` (every contract and invoice costs 20 % more),
//! `usage-decline@2026-08-01=0.6` (40 % of sessions do not happen, the rest are 40 %
//! shorter and use 40 % fewer minutes and data), `new-plan@2026-08-01=family` (accounts
//! that start then are on a plan the reference never saw), and
//! `null-column@2026-08-01=sessions.data_used_mb` (an upstream column broken: empty).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

use super::simulate::CustomerHistory;
use super::value::{Row, Value};
use crate::contract::Source;
use crate::dates::to_days;
use crate::error::{PipelineError, Result};
use crate::rng::Rng;

const DRIFT_STREAM_SALT: u64 = 0x6a09_e667_f3bc_c908;

/// A change of the population from `since` on.
#[derive(Debug, Clone, PartialEq)]
pub enum Drift {
    /// From `since` everything costs `factor` times as much: invoices dated then or later,
    /// and contract periods (one still running ends the day before, and a dearer one
    /// starts, as the simulation records a price rise). Customers do not react to it: the
    /// scenario is about what the monitor sees.
    PriceRise { since: NaiveDate, factor: f64 },
    /// From `since`, a share `1 - factor` of sessions does not happen, and the rest last
    /// `factor` times as long and use `factor` times the minutes and data.
    UsageDecline { since: NaiveDate, factor: f64 },
    /// Accounts starting `since` or later are on `plan`.
    NewPlan { since: NaiveDate, plan: String },
    /// From `since`, `column` of `source` is empty (it must be one ingest keeps empty or
    /// imputes: a required one would quarantine the rows instead).
    NullColumn {
        since: NaiveDate,
        source: Source,
        column: &'static str,
    },
}

impl Drift {
    /// The day it starts.
    pub fn since(&self) -> NaiveDate {
        match self {
            Drift::PriceRise { since, .. }
            | Drift::UsageDecline { since, .. }
            | Drift::NewPlan { since, .. }
            | Drift::NullColumn { since, .. } => *since,
        }
    }

    /// Refuses a scenario that cannot be simulated as described.
    pub fn check(&self) -> Result<()> {
        let fail = |why: &str| {
            Err(PipelineError::InvalidInput(format!(
                "--drift {self}: {why}"
            )))
        };
        match self {
            Drift::PriceRise { factor, .. } if !(factor.is_finite() && *factor > 0.0) => {
                fail("the price factor must be a positive number (1.2: 20 % dearer)")
            }
            Drift::UsageDecline { factor, .. }
                if !(factor.is_finite() && *factor > 0.0 && *factor <= 1.0) =>
            {
                fail("the usage factor must be above 0 and at most 1 (0.6: 40 % less)")
            }
            Drift::NewPlan { plan, .. } if crate::contract::PLANS.contains(&plan.as_str()) => {
                fail("that plan exists already: name a new one")
            }
            Drift::NewPlan { plan, .. } if plan.trim().is_empty() => fail("name the new plan"),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::PriceRise { since, factor } => write!(f, "price-rise@{since}={factor}"),
            Drift::UsageDecline { since, factor } => write!(f, "usage-decline@{since}={factor}"),
            Drift::NewPlan { since, plan } => write!(f, "new-plan@{since}={plan}"),
            Drift::NullColumn {
                since,
                source,
                column,
            } => write!(f, "null-column@{since}={}.{column}", source.name()),
        }
    }
}

impl FromStr for Drift {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let usage = || {
            format!(
                "{text}: use KIND@DATE=VALUE, KIND one of price-rise (=1.2), usage-decline (=0.6), new-plan (=family), null-column (=sessions.data_used_mb)"
            )
        };
        let (kind, rest) = text.trim().split_once('@').ok_or_else(usage)?;
        let (date, value) = rest.split_once('=').ok_or_else(usage)?;
        let since: NaiveDate = date
            .trim()
            .parse()
            .map_err(|_| format!("{text}: {date} is not a date (YYYY-MM-DD)"))?;
        let factor = || {
            value
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("{text}: {value} is not a number"))
        };
        let drift = match kind.trim() {
            "price-rise" => Drift::PriceRise {
                since,
                factor: factor()?,
            },
            "usage-decline" => Drift::UsageDecline {
                since,
                factor: factor()?,
            },
            "new-plan" => Drift::NewPlan {
                since,
                plan: churn_core::normalize_category(value).into_owned(),
            },
            "null-column" => {
                let (source, column) = value.trim().split_once('.').ok_or_else(usage)?;
                let source = Source::ALL
                    .into_iter()
                    .find(|s| s.name() == source)
                    .ok_or_else(|| format!("{text}: {source} is not a source"))?;
                let spec = source.contract().column(column).ok_or_else(|| {
                    format!(
                        "{text}: {} has no column {column} ({})",
                        source.name(),
                        source.contract().column_names().join(", ")
                    )
                })?;
                if spec.required() {
                    return Err(format!(
                        "{text}: {}.{column} is required, so ingest would quarantine the rows: name a column it keeps empty or imputes",
                        source.name()
                    ));
                }
                Drift::NullColumn {
                    since,
                    source,
                    column: spec.name,
                }
            }
            _ => return Err(usage()),
        };
        drift.check().map_err(|e| e.to_string())?;
        Ok(drift)
    }
}

/// The position of `column` in `source`'s rows (contract order).
fn position(source: Source, column: &str) -> usize {
    source
        .contract()
        .columns
        .iter()
        .position(|c| c.name == column)
        .unwrap_or_else(|| panic!("{} has a column {column}", source.name()))
}

/// The day a row happened: its source's first event column.
fn day_of(source: Source, row: &Row) -> Option<i32> {
    let event = source.contract().events.first()?;
    match row.get(position(source, event))? {
        Value::Date(day) => Some(*day),
        Value::Timestamp(seconds) => Some(seconds.div_euclid(86_400) as i32),
        _ => None,
    }
}

fn scale(value: &mut Value, factor: f64, decimals: i32) {
    if let Value::Float(x) = value {
        let unit = 10f64.powi(decimals);
        *x = (*x * factor * unit).round() / unit;
    }
}

/// Applies `drifts` to the history of customer `index`.
pub(super) fn apply(drifts: &[Drift], seed: u64, index: u64, history: &mut CustomerHistory) {
    if drifts.is_empty() {
        return;
    }
    let mut rng = Rng::for_stream(seed ^ DRIFT_STREAM_SALT, index);
    for drift in drifts {
        let since = to_days(drift.since());
        let after =
            |source: Source| move |row: &Row| day_of(source, row).is_some_and(|d| d >= since);
        match drift {
            Drift::PriceRise { factor, .. } => {
                let amount = position(Source::Billing, "amount");
                for row in history
                    .billing
                    .iter_mut()
                    .filter(|r| after(Source::Billing)(r))
                {
                    scale(&mut row[amount], *factor, 2);
                }
                // As the simulation records its own price rises: a period still running
                // on the day ends the day before, and a dearer one starts.
                let [id, start, end, charge] =
                    ["account_id", "start_date", "end_date", "monthly_charge"]
                        .map(|c| position(Source::Accounts, c));
                let mut raised = Vec::new();
                for row in &mut history.accounts {
                    let running = matches!(row[start], Value::Date(d) if d < since)
                        && match row[end] {
                            Value::Null => true,
                            Value::Date(d) => d >= since,
                            _ => false,
                        };
                    if running {
                        let mut next = row.clone();
                        if let Value::Str(account) = &next[id] {
                            next[id] = Value::Str(format!("{account}-r"));
                        }
                        next[start] = Value::Date(since);
                        row[end] = Value::Date(since - 1);
                        raised.push(next);
                    }
                }
                history.accounts.extend(raised);
                for row in history
                    .accounts
                    .iter_mut()
                    .filter(|r| after(Source::Accounts)(r))
                {
                    scale(&mut row[charge], *factor, 2);
                }
            }
            Drift::UsageDecline { factor, .. } => {
                let is_after = after(Source::Sessions);
                history
                    .sessions
                    .retain(|row| !is_after(row) || rng.chance(*factor));
                let columns = ["duration_minutes", "minutes_used", "data_used_mb"]
                    .map(|c| position(Source::Sessions, c));
                for row in history.sessions.iter_mut().filter(|r| is_after(r)) {
                    for &column in &columns {
                        scale(&mut row[column], *factor, 1);
                    }
                }
            }
            Drift::NewPlan { plan, .. } => {
                let column = position(Source::Accounts, "plan");
                for row in history
                    .accounts
                    .iter_mut()
                    .filter(|r| after(Source::Accounts)(r))
                {
                    row[column] = Value::text(plan);
                }
            }
            Drift::NullColumn { source, column, .. } => {
                let position = position(*source, column);
                let rows = match source {
                    Source::Customers => &mut history.customers,
                    Source::Accounts => &mut history.accounts,
                    Source::Billing => &mut history.billing,
                    Source::Sessions => &mut history.sessions,
                    Source::Tickets => &mut history.tickets,
                    Source::ChurnLabels => &mut history.churn_labels,
                    Source::Events => unreachable!("drifts are parsed from Source::ALL"),
                };
                let is_after = after(*source);
                for row in rows.iter_mut().filter(|r| is_after(r)) {
                    row[position] = Value::Null;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_are_written_and_read_back_and_bad_ones_are_refused() {
        for text in [
            "price-rise@2026-08-01=1.2",
            "usage-decline@2026-08-01=0.6",
            "new-plan@2026-08-01=family",
            "null-column@2026-08-01=sessions.data_used_mb",
        ] {
            let drift: Drift = text.parse().expect(text);
            assert_eq!(drift.to_string(), text);
        }
        for (text, says) in [
            ("price-rise:2026-08-01", "KIND@DATE=VALUE"),
            ("price-rise@2026-13-01=1.2", "not a date"),
            ("price-rise@2026-08-01=-1", "positive"),
            ("usage-decline@2026-08-01=1.5", "at most 1"),
            ("new-plan@2026-08-01=Premium", "exists already"),
            ("null-column@2026-08-01=sessions.nope", "has no column nope"),
            (
                "null-column@2026-08-01=sessions.duration_minutes",
                "required",
            ),
            ("null-column@2026-08-01=stuff.x", "not a source"),
            ("heatwave@2026-08-01=1", "KIND@DATE=VALUE"),
        ] {
            let error = text.parse::<Drift>().expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
