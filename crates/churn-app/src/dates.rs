//! Which day a run works on, decided here for the CLI and the functions alike.
//!
//! A model learns "churned within the horizon" from customers active on its as-of day,
//! so training needs labels for the whole horizon: the latest usable as-of day is the one
//! whose horizon ends on the last day of the data. Scoring looks at today's customers:
//! the day after the data ends, with everything known before it.

use chrono::NaiveDate;

pub use churn_pipeline::features::DEFAULT_HORIZON_DAYS;

/// The latest as-of day whose `horizon_days` the data (ending on `data_end`) covers.
pub fn training_as_of(data_end: NaiveDate, horizon_days: u32) -> NaiveDate {
    data_end - chrono::Duration::days(i64::from(horizon_days.max(1)) - 1)
}

/// The day a daily scoring run scores: the day after the data ends.
pub fn scoring_as_of(data_end: NaiveDate) -> NaiveDate {
    data_end + chrono::Duration::days(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_ends_its_horizon_on_the_last_day_of_data() {
        let end = NaiveDate::from_ymd_opt(2026, 10, 31).expect("date");
        // 2026-08-03 .. 2026-10-31 is 90 days.
        assert_eq!(training_as_of(end, 90).to_string(), "2026-08-03");
        assert_eq!(training_as_of(end, 1), end);
        assert_eq!(scoring_as_of(end).to_string(), "2026-11-01");
    }
}
