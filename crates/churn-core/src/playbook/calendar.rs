//! Days and quiet hours for the playbook, without a clock or a time-zone database: the
//! caller says what day and time it is (core never reads a clock), and quiet hours are in
//! a fixed UTC offset.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Channel;

/// A calendar day, counted from 1970-01-01 (day 0, also the default). Written
/// `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

impl Day {
    /// Parses `YYYY-MM-DD` (a real date of years 1970 to 9999).
    pub fn parse(text: &str) -> Option<Day> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<i32> {
            let part = &text[range];
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())
                .flatten()
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        if year < 1970 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month)
        {
            return None;
        }
        Some(Day(days_from_civil(year, month, day)))
    }

    /// The day `days` later (earlier when negative).
    pub fn plus(self, days: i32) -> Day {
        Day(self.0 + days)
    }

    /// Year, month (1-12) and day of month (1-31).
    pub fn civil(self) -> (i32, i32, i32) {
        civil_from_days(self.0)
    }

    /// The day of a moment given as seconds since the epoch (UTC).
    pub fn of_epoch_seconds(seconds: i64) -> Day {
        Day(seconds.div_euclid(86_400) as i32)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.civil();
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Day::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("'{text}' is not a date: write YYYY-MM-DD"))
        })
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: i32) -> i32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's algorithms (http://howardhinnant.github.io/date_algorithms.html).
fn days_from_civil(year: i32, month: i32, day: i32) -> i32 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i32) -> (i32, i32, i32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

/// A time of day, `HH:MM`, as minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(pub u16);

impl TimeOfDay {
    /// Parses `HH:MM` (00:00 to 23:59).
    pub fn parse(text: &str) -> Option<TimeOfDay> {
        let (hours, minutes) = text.split_once(':')?;
        if hours.len() != 2 || minutes.len() != 2 {
            return None;
        }
        let hours: u16 = hours.parse().ok()?;
        let minutes: u16 = minutes.parse().ok()?;
        (hours < 24 && minutes < 60).then_some(TimeOfDay(hours * 60 + minutes))
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TimeOfDay::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("'{text}' is not a time of day: write HH:MM"))
        })
    }
}

fn default_quiet_channels() -> Vec<Channel> {
    vec![Channel::Sms, Channel::Push]
}

/// Hours in which messages wait: from `start` to `end` local time (a window may run
/// over midnight, e.g. 21:00 to 08:00), in a fixed offset from UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// First quiet minute, `HH:MM`.
    pub start: TimeOfDay,
    /// First minute when sending may resume, `HH:MM`.
    pub end: TimeOfDay,
    /// Local time minus UTC, in minutes (e.g. -300 for New York in winter). A fixed
    /// offset: core has no time-zone database, so adjust it when daylight saving changes.
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// Channels that wait (default: sms and push; email and CRM work do not disturb).
    #[serde(default = "default_quiet_channels")]
    pub channels: Vec<Channel>,
}

impl QuietHours {
    /// When a message on `channel` may go, given the time now (seconds since the epoch):
    /// `None` to send now, or the first moment after the quiet window (epoch seconds).
    pub fn resume_at(&self, channel: Channel, now: i64) -> Option<i64> {
        if !self.channels.contains(&channel) || self.start == self.end {
            return None;
        }
        let local = now + i64::from(self.utc_offset_minutes) * 60;
        let minute = local.rem_euclid(86_400) / 60;
        let (start, end) = (i64::from(self.start.0), i64::from(self.end.0));
        let quiet = if start < end {
            minute >= start && minute < end
        } else {
            minute >= start || minute < end
        };
        if !quiet {
            return None;
        }
        let wait_minutes = (end - minute).rem_euclid(24 * 60);
        // From the start of the current minute, so the answer is a whole minute.
        Some(now - now.rem_euclid(60) + wait_minutes * 60)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of epoch seconds (for messages and CRM timestamps).
pub fn format_timestamp(seconds: i64) -> String {
    let day = Day::of_epoch_seconds(seconds);
    let second_of_day = seconds.rem_euclid(86_400);
    format!(
        "{day}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_through_text() {
        for text in ["1970-01-01", "2000-02-29", "2026-12-01", "2100-12-31"] {
            let day = Day::parse(text).expect(text);
            assert_eq!(day.to_string(), text);
        }
        assert_eq!(Day::parse("1970-01-01"), Some(Day(0)));
        assert_eq!(
            Day::parse("2026-12-01").map(|d| d.plus(31).to_string()),
            Some("2027-01-01".into())
        );
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-01-01",
            "2026-01-0x",
            "1969-12-31",
        ] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        let first = Day::parse("1970-01-01").expect("day").0;
        let last = Day::parse("2370-01-01").expect("day").0;
        for n in first..last {
            let (y, m, d) = Day(n).civil();
            assert_eq!(days_from_civil(y, m, d), n);
        }
    }

    #[test]
    fn quiet_hours_over_midnight() {
        let quiet = QuietHours {
            start: TimeOfDay::parse("21:00").expect("t"),
            end: TimeOfDay::parse("08:00").expect("t"),
            utc_offset_minutes: -300,
            channels: default_quiet_channels(),
        };
        let day = i64::from(Day::parse("2026-12-01").expect("d").0) * 86_400;
        // 02:00 UTC is 21:00 local the evening before: quiet until 08:00 local = 13:00 UTC.
        assert_eq!(
            quiet.resume_at(Channel::Sms, day + 2 * 3600),
            Some(day + 13 * 3600)
        );
        assert_eq!(format_timestamp(day + 13 * 3600), "2026-12-01T13:00:00Z");
        // 12:59:30 UTC (07:59 local) is still quiet, 13:00 is not.
        assert_eq!(
            quiet.resume_at(Channel::Sms, day + 13 * 3600 - 30),
            Some(day + 13 * 3600)
        );
        assert_eq!(quiet.resume_at(Channel::Sms, day + 13 * 3600), None);
        // 01:59 UTC is 20:59 local: not yet quiet. Email never waits by default.
        assert_eq!(quiet.resume_at(Channel::Sms, day + 2 * 3600 - 60), None);
        assert_eq!(quiet.resume_at(Channel::Email, day + 2 * 3600), None);
    }
}
