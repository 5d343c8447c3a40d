//! Raw app events → usage sessions.
//!
//! Usage often arrives as events (an app opened, a page viewed, a video played), not
//! sessions. Files under `raw/events/` are read, validated and quarantined like any
//! source ([`crate::contract::Source::Events`]): bad events are quarantined with their
//! reason, exact copies (redeliveries) counted and dropped, events of unknown customers
//! quarantined. The events that pass are grouped into sessions: a customer's events in
//! time order, a new session whenever an event starts more than the inactivity gap
//! (30 minutes unless told otherwise) after everything before it ended. Each session
//! becomes one row of the `sessions` contract, in text, and goes through the sessions'
//! own validation, deduplication and outlier checks beside the rows of `raw/sessions/`:
//!
//! - `started_at`: its first event;
//! - `duration_minutes`: from its first event to the end of its last-ending one (an
//!   event ends `duration_seconds` after it occurred; an instant one where it occurred);
//! - `data_used_mb`: the sum of its events' `bytes` / 10⁶, empty when none has bytes;
//! - `minutes_used`: empty (app events carry no billable voice minutes);
//! - `device`: the first device its events name other than `unknown`, else empty (which
//!   the sessions' contract imputes).
//!
//! Sessions are attributed to the file and line of their first event, so a session the
//! sessions' checks refuse is quarantined naming where it began.

use polars::prelude::*;
use serde::Serialize;

use super::SourceReport;
use super::clean::FILE;
use super::read::LINE;
use crate::contract::{Source, UNKNOWN};
use crate::error::{PipelineError, PolarsContext, Result};

/// The inactivity gap that ends a session unless told otherwise, in minutes.
pub const DEFAULT_SESSION_GAP_MINUTES: u32 = 30;

/// What ingest did with the app events, in the ingest report under `events`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventsReport {
    /// The events' rows: `curated` counts the events that went into sessions, so
    /// `rows_in = curated + quarantined + duplicates` as for every source.
    #[serde(flatten)]
    pub rows: SourceReport,
    /// Sessions made from them (each also counted in `sessions.rows_in`).
    pub sessions: u64,
    /// The inactivity gap that ended a session.
    pub session_gap_minutes: u32,
}

/// The sessions made from the events of one events file (the file of their first
/// event), as text columns of the sessions' contract and `__line` (of the first event).
#[derive(Debug)]
pub struct FileSessions {
    /// The events file, relative to the data directory.
    pub file: String,
    /// Text columns in the sessions' contract order, then `__line`.
    pub frame: DataFrame,
}

/// A session being built.
struct Open {
    customer: String,
    start: i64,
    stop: i64,
    bytes: Option<f64>,
    device: Option<String>,
    line: u64,
    file: u32,
}

/// Column builders of the sessions' text rows, one set per events file.
#[derive(Default)]
struct Rows {
    customer_id: Vec<String>,
    started_at: Vec<String>,
    duration_minutes: Vec<String>,
    data_used_mb: Vec<Option<String>>,
    device: Vec<Option<String>>,
    line: Vec<u64>,
}

impl Rows {
    fn push(&mut self, session: Open) -> Result<()> {
        let started = chrono::DateTime::from_timestamp_micros(session.start).ok_or_else(|| {
            PipelineError::InvalidInput(format!(
                "a session of customer '{}' starts at {} µs, outside the calendar",
                session.customer, session.start
            ))
        })?;
        self.customer_id.push(session.customer);
        self.started_at
            .push(started.format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
        let minutes = (session.stop - session.start) as f64 / 60e6;
        self.duration_minutes.push(minutes.to_string());
        self.data_used_mb
            .push(session.bytes.map(|bytes| (bytes / 1e6).to_string()));
        self.device.push(session.device);
        self.line.push(session.line);
        Ok(())
    }

    fn frame(self) -> Result<DataFrame> {
        let height = self.line.len();
        let text = |name: &str, values: Vec<Option<String>>| Column::new(name.into(), values);
        let some = |values: Vec<String>| values.into_iter().map(Some).collect::<Vec<_>>();
        let columns = vec![
            text("customer_id", some(self.customer_id)),
            text("started_at", some(self.started_at)),
            text("duration_minutes", some(self.duration_minutes)),
            text("minutes_used", vec![None; height]),
            text("data_used_mb", self.data_used_mb),
            text("device", self.device),
            Column::new(LINE.into(), self.line),
        ];
        debug_assert_eq!(
            Source::Sessions.contract().column_names(),
            columns[..columns.len() - 1]
                .iter()
                .map(|column| column.name().as_str())
                .collect::<Vec<_>>()
        );
        DataFrame::new(height, columns).context(|| "building sessions from app events".into())
    }
}

/// Groups validated, deduplicated events (typed columns of the events' contract, `__line`
/// and `__file`, the index into `files`) into sessions, returned per events file.
pub fn sessionise(
    events: &DataFrame,
    files: &[String],
    gap_minutes: u32,
) -> Result<Vec<FileSessions>> {
    let context = || "sessionising app events".to_owned();
    let sorted = events
        .clone()
        .lazy()
        .select([
            col("customer_id"),
            col("occurred_at").cast(DataType::Int64).alias("__t"),
            col("duration_seconds"),
            col("bytes"),
            col("device"),
            col(LINE),
            col(FILE),
        ])
        .sort_by_exprs(
            [col("customer_id"), col("__t"), col(FILE), col(LINE)],
            SortMultipleOptions::default(),
        )
        .collect()
        .context(context)?;
    let column = |name: &str| sorted.column(name).context(context);
    let customers = column("customer_id")?.str().context(context)?;
    let times = column("__t")?.i64().context(context)?;
    let durations = column("duration_seconds")?.f64().context(context)?;
    let bytes = column("bytes")?.f64().context(context)?;
    let devices = column("device")?.str().context(context)?;
    let lines = column(LINE)?.u64().context(context)?;
    let file_index = column(FILE)?.u32().context(context)?;

    let gap = i64::from(gap_minutes) * 60_000_000;
    let mut rows: Vec<Rows> = files.iter().map(|_| Rows::default()).collect();
    let mut open: Option<Open> = None;
    for row in 0..sorted.height() {
        let (Some(customer), Some(at)) = (customers.get(row), times.get(row)) else {
            // Validation quarantined every event without either.
            return Err(PipelineError::InvalidInput(format!(
                "{}: an app event without a customer or a time reached sessionising",
                context()
            )));
        };
        let lasted = durations
            .get(row)
            .map_or(0, |seconds| (seconds * 1e6).round() as i64);
        let end = at.saturating_add(lasted);
        let device = devices.get(row).filter(|device| *device != UNKNOWN);
        if let Some(session) = open.as_mut()
            && session.customer == customer
            && at - session.stop <= gap
        {
            session.stop = session.stop.max(end);
            if let Some(more) = bytes.get(row) {
                session.bytes = Some(session.bytes.unwrap_or(0.0) + more);
            }
            if session.device.is_none() {
                session.device = device.map(str::to_owned);
            }
            continue;
        }
        if let Some(done) = open.take() {
            rows[done.file as usize].push(done)?;
        }
        open = Some(Open {
            customer: customer.to_owned(),
            start: at,
            stop: end,
            bytes: bytes.get(row),
            device: device.map(str::to_owned),
            line: lines.get(row).unwrap_or(0),
            file: file_index.get(row).unwrap_or(0),
        });
    }
    if let Some(done) = open {
        rows[done.file as usize].push(done)?;
    }
    files
        .iter()
        .zip(rows)
        .map(|(file, rows)| {
            Ok(FileSessions {
                file: file.clone(),
                frame: rows.frame()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(text: &str) -> i64 {
        crate::dates::parse_iso_timestamp(text).expect("timestamp")
    }

    /// customer, time, duration in seconds, bytes, device, file index.
    type Event<'a> = (&'a str, &'a str, Option<f64>, Option<f64>, &'a str, u32);

    /// Typed events as validation leaves them.
    fn events(rows: &[Event<'_>]) -> DataFrame {
        let height = rows.len();
        let times: Vec<i64> = rows.iter().map(|row| micros(row.1)).collect();
        DataFrame::new(
            height,
            vec![
                Column::new(
                    "customer_id".into(),
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                ),
                Column::new("occurred_at".into(), times)
                    .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
                    .expect("datetime"),
                Column::new("event".into(), vec!["open"; height]),
                Column::new(
                    "duration_seconds".into(),
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                ),
                Column::new("bytes".into(), rows.iter().map(|r| r.3).collect::<Vec<_>>()),
                Column::new(
                    "device".into(),
                    rows.iter().map(|r| r.4).collect::<Vec<_>>(),
                ),
                Column::new(LINE.into(), (2..2 + height as u64).collect::<Vec<_>>()),
                Column::new(FILE.into(), rows.iter().map(|r| r.5).collect::<Vec<_>>()),
            ],
        )
        .expect("frame")
    }

    fn texts(frame: &DataFrame, name: &str) -> Vec<Option<String>> {
        frame
            .column(name)
            .expect("column")
            .str()
            .expect("text")
            .iter()
            .map(|value| value.map(str::to_owned))
            .collect()
    }

    #[test]
    fn a_gap_longer_than_the_threshold_starts_a_new_session() {
        let frame = events(&[
            // Out of order on purpose: sessions follow time, not lines.
            ("c1", "2026-03-01T10:20:00", None, Some(2e6), "unknown", 0),
            (
                "c1",
                "2026-03-01T10:00:00",
                Some(120.0),
                Some(1e6),
                "mobile",
                0,
            ),
            // 30 minutes after the last end (10:20): still the same session.
            ("c1", "2026-03-01T10:50:00", Some(60.0), None, "tablet", 0),
            // 30 minutes and one second after 10:51: a new one.
            ("c1", "2026-03-01T11:21:01", None, None, "unknown", 1),
            ("c2", "2026-03-01T10:05:00", None, None, "desktop", 1),
        ]);
        let files = [
            "raw/events/a.jsonl".to_owned(),
            "raw/events/b.csv".to_owned(),
        ];
        let sessions = sessionise(&frame, &files, 30).expect("sessionise");
        assert_eq!(sessions.len(), 2);
        let first = &sessions[0].frame;
        assert_eq!(sessions[0].file, files[0]);
        assert_eq!(texts(first, "customer_id"), vec![Some("c1".to_owned())]);
        assert_eq!(
            texts(first, "started_at"),
            vec![Some("2026-03-01T10:00:00.000000".to_owned())]
        );
        assert_eq!(
            texts(first, "duration_minutes"),
            vec![Some("51".to_owned())]
        );
        assert_eq!(texts(first, "data_used_mb"), vec![Some("3".to_owned())]);
        assert_eq!(texts(first, "minutes_used"), vec![None]);
        assert_eq!(texts(first, "device"), vec![Some("mobile".to_owned())]);
        // The line of its first event in time (the second line of the file).
        assert_eq!(
            first.column(LINE).expect("line").u64().expect("u64").get(0),
            Some(3)
        );

        let second = &sessions[1].frame;
        assert_eq!(
            texts(second, "customer_id"),
            vec![Some("c1".to_owned()), Some("c2".to_owned())]
        );
        assert_eq!(
            texts(second, "duration_minutes"),
            vec![Some("0".to_owned()), Some("0".to_owned())]
        );
        assert_eq!(texts(second, "data_used_mb"), vec![None, None]);
        assert_eq!(
            texts(second, "device"),
            vec![None, Some("desktop".to_owned())]
        );

        // With an hour's gap the first three and the fourth are one session.
        let hour = sessionise(&frame, &files, 60).expect("sessionise");
        assert_eq!(hour[0].frame.height(), 1);
        let minutes: f64 = texts(&hour[0].frame, "duration_minutes")[0]
            .as_deref()
            .and_then(|text| text.parse().ok())
            .expect("a number");
        assert!((minutes - 4_861.0 / 60.0).abs() < 1e-12, "{minutes}");
        assert_eq!(hour[1].frame.height(), 1);
    }

    #[test]
    fn a_long_event_keeps_its_session_open_until_it_ends() {
        // A two-hour video: an event 90 minutes after it started is inside it.
        let frame = events(&[
            ("c1", "2026-03-01T10:00:00", Some(7_200.0), None, "tv", 0),
            ("c1", "2026-03-01T10:01:00", Some(10.0), None, "mobile", 0),
            ("c1", "2026-03-01T11:30:00", None, None, "mobile", 0),
            ("c1", "2026-03-01T12:29:00", None, None, "mobile", 0),
            ("c1", "2026-03-01T13:00:00", None, None, "mobile", 0),
        ]);
        let sessions = sessionise(&frame, &["e.jsonl".to_owned()], 30).expect("sessionise");
        let frame = &sessions[0].frame;
        assert_eq!(
            frame.height(),
            2,
            "12:29 is within 30 minutes of 12:00, 13:00 is not"
        );
        assert_eq!(
            texts(frame, "duration_minutes"),
            vec![Some("149".to_owned()), Some("0".to_owned())]
        );
        assert_eq!(
            texts(frame, "device"),
            vec![Some("tv".to_owned()), Some("mobile".to_owned())]
        );
    }
}
