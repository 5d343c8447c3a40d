//! Day and time arithmetic shared by the generator, ingest and features.
//!
//! Dates are days since 1970-01-01 (`i32`, as polars' `Date`); timestamps are
//! microseconds since the epoch in UTC (`i64`, as polars' `Datetime(us)`).

use chrono::{Datelike, NaiveDate};

use crate::error::PipelineError;

/// Microseconds in a day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a calendar date.
pub fn to_days(date: NaiveDate) -> i32 {
    // The span of representable NaiveDates fits an i32 of days.
    (date - epoch()).num_days() as i32
}

/// The calendar date of a day number.
pub fn from_days(days: i32) -> NaiveDate {
    epoch() + chrono::Duration::days(i64::from(days))
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// Parses `YYYY-MM-DD`, naming the flag or field it came from in the error.
pub fn parse_date(text: &str, what: &str) -> Result<NaiveDate, PipelineError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        PipelineError::InvalidInput(format!(
            "{what}: '{text}' is not a date; expected YYYY-MM-DD, e.g. 2026-01-31"
        ))
    })
}

/// The first day of the month `months` after the month of `date` (negative goes back).
pub fn add_months(date: NaiveDate, months: i32) -> NaiveDate {
    let total = date.year() * 12 + date.month0() as i32 + months;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let day = date.day().min(days_in_month(year, month0 as u32 + 1));
    NaiveDate::from_ymd_opt(year, month0 as u32 + 1, day).unwrap_or(date)
}

/// Number of days in a month.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(next_year, next_month, 1)
        .and_then(|next| next.pred_opt())
        .map_or(28, |last| last.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        parse_date(text, "test").expect("valid date")
    }

    #[test]
    fn day_numbers_round_trip() {
        assert_eq!(to_days(date("1970-01-01")), 0);
        assert_eq!(to_days(date("2000-03-01")), 11_017);
        for days in [-1000, 0, 19_000, 20_500] {
            assert_eq!(to_days(from_days(days)), days);
        }
    }

    #[test]
    fn months_clip_to_month_end() {
        assert_eq!(add_months(date("2025-01-31"), 1), date("2025-02-28"));
        assert_eq!(add_months(date("2024-01-31"), 1), date("2024-02-29"));
        assert_eq!(add_months(date("2025-03-15"), -18), date("2023-09-15"));
        assert_eq!(days_in_month(2025, 12), 31);
    }

    #[test]
    fn bad_dates_name_their_origin() {
        let error = parse_date("31/01/2026", "--as-of").expect_err("not ISO");
        assert!(error.to_string().contains("--as-of"));
        assert!(error.to_string().contains("YYYY-MM-DD"));
    }
}
