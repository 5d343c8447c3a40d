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

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`), without validation.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + u32::from(byte - b'0'))
    })
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn valid_day(year: i64, month: u32, day: u32) -> bool {
    let last = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=last).contains(&day)
}

/// Parses exactly `YYYY-MM-DD` into days since 1970-01-01; `None` for anything else,
/// impossible dates (`2025-02-30`) included. The hot path of ingest: no allocation.
pub fn parse_iso_date(text: &str) -> Option<i32> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = i64::from(digits(&bytes[0..4])?);
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    valid_day(year, month, day).then(|| days_from_civil(year, month, day) as i32)
}

/// Parses a UTC timestamp `YYYY-MM-DDTHH:MM:SS` into microseconds since the epoch. A space
/// may replace the `T`; fractional seconds (1 to 9 digits, kept to the microsecond) and a
/// trailing `Z` or `+00:00` are accepted. `None` for anything else.
pub fn parse_iso_timestamp(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 19 || !matches!(bytes[10], b'T' | b' ') {
        return None;
    }
    let days = i64::from(parse_iso_date(&text[..10])?);
    if bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (
        digits(&bytes[11..13])?,
        digits(&bytes[14..16])?,
        digits(&bytes[17..19])?,
    );
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &bytes[19..];
    let mut micros = 0i64;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let length = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if length == 0 || length > 9 {
            return None;
        }
        let kept = &fraction[..length.min(6)];
        micros = i64::from(digits(kept)?) * 10i64.pow(6 - kept.len() as u32);
        rest = &fraction[length..];
    }
    if !matches!(rest, b"" | b"Z" | b"+00:00") {
        return None;
    }
    let seconds = i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Some(days * MICROS_PER_DAY + seconds * 1_000_000 + micros)
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
    fn iso_dates_parse_like_chrono() {
        for text in [
            "1970-01-01",
            "2000-02-29",
            "2026-12-31",
            "1969-07-20",
            "2100-12-31",
        ] {
            assert_eq!(parse_iso_date(text), Some(to_days(date(text))), "{text}");
        }
        for bad in [
            "2025-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-1-01",
            "31/01/2025",
            "2025-01-01x",
            "",
            "２０２５-01-01",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn iso_timestamps_accept_the_documented_variants() {
        let base = i64::from(to_days(date("2025-05-24"))) * MICROS_PER_DAY
            + (8 * 3600 + 21 * 60 + 21) * 1_000_000;
        for text in [
            "2025-05-24T08:21:21",
            "2025-05-24 08:21:21",
            "2025-05-24T08:21:21Z",
            "2025-05-24T08:21:21+00:00",
            "2025-05-24 08:21:21.000000",
        ] {
            assert_eq!(parse_iso_timestamp(text), Some(base), "{text}");
        }
        assert_eq!(
            parse_iso_timestamp("2025-05-24T08:21:21.25Z"),
            Some(base + 250_000)
        );
        assert_eq!(
            parse_iso_timestamp("2025-05-24T08:21:21.123456789"),
            Some(base + 123_456)
        );
        for bad in [
            "2025-05-24",
            "2025-05-24T24:00:00",
            "2025-05-24T08:21",
            "2025-05-24T08:21:21+02:00",
            "2025-05-24T08:21:21.",
            "2025-13-01T10:00:00",
            "10:00 01.02.2025",
        ] {
            assert_eq!(parse_iso_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_dates_name_their_origin() {
        let error = parse_date("31/01/2026", "--as-of").expect_err("not ISO");
        assert!(error.to_string().contains("--as-of"));
        assert!(error.to_string().contains("YYYY-MM-DD"));
    }
}
