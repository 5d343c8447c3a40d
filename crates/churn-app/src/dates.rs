//! Which day a run works on, decided here for the CLI and the functions alike.
//!
//! A model learns "churned within the horizon" from customers active on its as-of day,
//! so training needs labels for the whole horizon: the latest usable as-of day is the one
//! whose horizon ends on the last day of the data. Scoring looks at today's customers:
//! the day after the data ends, with everything known before it. A retraining on the
//! monitor's evidence runs at most once per cool-down window of days.

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

/// A retraining on evidence (drift, degraded accuracy) runs at most once per this many
/// days, so that a storm of alerts trains once.
pub const DEFAULT_RETRAIN_COOLDOWN_DAYS: u32 = 7;

/// The first day of the cool-down window of `cooldown_days` that `day` falls in: windows
/// are counted from 1970-01-01, so every function and replay agrees on them.
pub fn cooldown_window(day: NaiveDate, cooldown_days: u32) -> NaiveDate {
    let days = i64::from(churn_pipeline::dates::to_days(day));
    let width = i64::from(cooldown_days.max(1));
    let start = days.div_euclid(width) * width;
    churn_pipeline::dates::from_days(start as i32)
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

    #[test]
    fn days_of_one_cool_down_window_share_its_first_day() {
        let day = |text: &str| text.parse::<NaiveDate>().expect("date");
        let window = cooldown_window(day("2026-11-03"), 7);
        // 2026-10-29 is day 20,755 since 1970-01-01: a multiple of 7.
        assert_eq!(window, day("2026-10-29"));
        for d in ["2026-10-29", "2026-11-01", "2026-11-04"] {
            assert_eq!(cooldown_window(day(d), 7), window, "{d}");
        }
        assert_eq!(cooldown_window(day("2026-11-05"), 7), day("2026-11-05"));
        assert_eq!(cooldown_window(day("2026-11-05"), 1), day("2026-11-05"));
        assert_eq!(cooldown_window(day("1969-12-31"), 7), day("1969-12-25"));
    }
}
