//! Features as of a date: one row per customer with an active account on `as_of`, built
//! only from events strictly before `as_of`, and the label "churned within `horizon`
//! days from `as_of`".
//!
//! No leakage is a property of every expression here: an event time is compared with
//! `as_of` before its row is used, and values that become known later (an end date, a
//! payment, a ticket's closing and its satisfaction score) are only used when they fall
//! before `as_of`. The test `no_event_on_or_after_as_of_changes_a_feature` changes,
//! removes and adds every later event and checks that no feature moves.

use polars::prelude::*;

use super::catalog::{AS_OF_FEATURES, ID_COLUMN, LABEL_COLUMN};
use crate::dates::MICROS_PER_DAY;
use crate::error::{PolarsContext, Result};

/// The curated sources, as lazy frames with the contract's typed columns.
#[derive(Clone)]
pub struct Sources {
    pub customers: LazyFrame,
    pub accounts: LazyFrame,
    pub billing: LazyFrame,
    pub sessions: LazyFrame,
    pub tickets: LazyFrame,
    pub churn_labels: LazyFrame,
}

impl Sources {
    /// The sources of the customers whose id lies in `[from, to)` (an open end when
    /// `None`): a part of the customers, read lazily.
    pub fn restricted(&self, from: Option<&str>, to: Option<&str>) -> Sources {
        let part = |frame: &LazyFrame| {
            let mut keep = lit(true);
            if let Some(from) = from {
                keep = keep.and(col(ID_COLUMN).gt_eq(lit(from.to_owned())));
            }
            if let Some(to) = to {
                keep = keep.and(col(ID_COLUMN).lt(lit(to.to_owned())));
            }
            frame.clone().filter(keep)
        };
        Sources {
            customers: part(&self.customers),
            accounts: part(&self.accounts),
            billing: part(&self.billing),
            sessions: part(&self.sessions),
            tickets: part(&self.tickets),
            churn_labels: part(&self.churn_labels),
        }
    }
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sources")
    }
}

/// The as-of date and horizon, as day numbers.
#[derive(Debug, Clone, Copy)]
pub struct Cutoff {
    /// `as_of`, days since 1970-01-01.
    pub as_of: i32,
    /// Label horizon in days.
    pub horizon_days: i32,
    /// Whether the data reaches the end of the horizon (else the label is left empty).
    pub label_known: bool,
}

impl Cutoff {
    fn day(&self, offset: i32) -> Expr {
        lit(self.as_of + offset).cast(DataType::Date)
    }

    fn instant(&self, offset_days: i32) -> Expr {
        lit(i64::from(self.as_of + offset_days) * MICROS_PER_DAY)
            .cast(DataType::Datetime(TimeUnit::Microseconds, None))
    }

    /// Days from a date column to `as_of`, as a float.
    fn days_since_date(&self, date: Expr) -> Expr {
        (lit(self.as_of) - date.cast(DataType::Int32)).cast(DataType::Float64)
    }

    /// Days from a timestamp column to the start of `as_of`, as a float.
    fn days_since_instant(&self, instant: Expr) -> Expr {
        (lit(i64::from(self.as_of) * MICROS_PER_DAY) - instant.cast(DataType::Int64))
            .cast(DataType::Float64)
            / lit(MICROS_PER_DAY as f64)
    }
}

fn count(condition: Expr) -> Expr {
    condition
        .cast(DataType::UInt32)
        .sum()
        .cast(DataType::Float64)
}

/// The active account of every customer on `as_of`, with tenure and price history.
fn accounts(sources: &Sources, cutoff: Cutoff) -> Result<LazyFrame> {
    let started = col("start_date").lt(cutoff.day(0));
    // An end date on or after as_of is not known yet: it only says "still running".
    let running_on = |day: Expr| {
        col("start_date")
            .lt_eq(day.clone())
            .and(col("end_date").is_null().or(col("end_date").gt_eq(day)))
    };
    let last_churn = sources
        .churn_labels
        .clone()
        .filter(col("churn_date").lt(cutoff.day(0)))
        .group_by([col(ID_COLUMN)])
        .agg([col("churn_date").max().alias("__last_churn")]);
    let history = sources
        .accounts
        .clone()
        .filter(started)
        .sort(
            [ID_COLUMN, "start_date"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .with_column(
            col("monthly_charge")
                .shift(lit(1))
                .over([col(ID_COLUMN)])
                .context(|| "ordering contract periods".into())?
                .alias("__previous_charge"),
        )
        .join(
            last_churn,
            [col(ID_COLUMN)],
            [col(ID_COLUMN)],
            JoinArgs::new(JoinType::Left),
        );
    // Within a customer, in start order: the last running period is the current one.
    let in_start_order =
        |expr: Expr| expr.sort_by([col("start_date")], SortMultipleOptions::default());
    let last_running_on = |name: &str, day: Expr| {
        in_start_order(col(name))
            .filter(in_start_order(running_on(day)))
            .last()
    };
    let latest = |name: &str| last_running_on(name, cutoff.day(0));
    Ok(history
        .group_by([col(ID_COLUMN)])
        .agg([
            running_on(cutoff.day(0)).any(true).alias("__active"),
            latest("contract_type").alias("contract_type"),
            latest("plan").alias("plan"),
            latest("payment_method").alias("payment_method"),
            latest("paperless_billing").alias("paperless_billing"),
            latest("monthly_charge").alias("monthly_charge"),
            latest("start_date").alias("__current_start"),
            last_running_on("monthly_charge", cutoff.day(-90)).alias("__charge_90d_ago"),
            col("start_date")
                .filter(
                    col("__last_churn")
                        .is_null()
                        .or(col("start_date").gt(col("__last_churn"))),
                )
                .min()
                .alias("__relationship_start"),
            count(
                col("start_date")
                    .gt_eq(cutoff.day(-365))
                    .and(col("monthly_charge").gt(col("__previous_charge"))),
            )
            .alias("price_increases_365d"),
        ])
        .filter(col("__active"))
        .with_columns([
            cutoff
                .days_since_date(col("__relationship_start"))
                .alias("tenure_days"),
            cutoff
                .days_since_date(col("__current_start"))
                .alias("days_in_current_contract"),
            (col("monthly_charge") - col("__charge_90d_ago"))
                .fill_null(lit(0.0))
                .alias("monthly_charge_change_90d"),
        ]))
}

fn sessions(sources: &Sources, cutoff: Cutoff) -> LazyFrame {
    let since = |days: i32| col("started_at").gt_eq(cutoff.instant(-days));
    let minutes_within = |days: i32| col("duration_minutes").filter(since(days));
    // Only the last 90 days feed the windows: filtering first (pushed into the Parquet
    // scan) keeps a sixth of an 18-month history in memory. The last session of all
    // history is a separate, two-column aggregation.
    let recent = sources
        .sessions
        .clone()
        .filter(since(90).and(col("started_at").lt(cutoff.instant(0))))
        .group_by([col(ID_COLUMN)])
        .agg([
            count(since(7)).alias("session_count_7d"),
            count(since(30)).alias("session_count_30d"),
            col("started_at")
                .count()
                .cast(DataType::Float64)
                .alias("session_count_90d"),
            minutes_within(7).mean().alias("avg_session_minutes_7d"),
            minutes_within(30).mean().alias("avg_session_minutes_30d"),
            col("duration_minutes")
                .mean()
                .alias("avg_session_minutes_90d"),
            (minutes_within(30).sum() / lit(30.0)).alias("daily_active_minutes_30d"),
            col("started_at")
                .filter(since(30))
                .dt()
                .date()
                .n_unique()
                .cast(DataType::Float64)
                .alias("active_days_30d"),
            ((minutes_within(30).sum() + lit(1.0))
                / (col("duration_minutes").filter(since(30).not()).sum() / lit(2.0) + lit(1.0)))
            .log(lit(std::f64::consts::E))
            .alias("usage_trend_30d_vs_prior_60d"),
            col("minutes_used")
                .filter(since(30))
                .sum()
                .alias("minutes_used_30d"),
            col("data_used_mb")
                .filter(since(30))
                .sum()
                .alias("data_used_mb_30d"),
        ]);
    let last = sources
        .sessions
        .clone()
        .select([col(ID_COLUMN), col("started_at")])
        .filter(col("started_at").lt(cutoff.instant(0)))
        .group_by([col(ID_COLUMN)])
        .agg([cutoff
            .days_since_instant(col("started_at").max())
            .alias("days_since_last_session")]);
    last.join(
        recent,
        [col(ID_COLUMN)],
        [col(ID_COLUMN)],
        JoinArgs::new(JoinType::Left),
    )
}

fn billing(sources: &Sources, cutoff: Cutoff) -> LazyFrame {
    let due_since = |days: i32| col("due_date").gt_eq(cutoff.day(-days));
    let due_before = col("due_date").lt(cutoff.day(0));
    // A payment on or after as_of is not known yet: the invoice was simply unpaid.
    let unpaid_at_cutoff = col("paid_date")
        .is_null()
        .or(col("paid_date").gt_eq(cutoff.day(0)));
    let late = due_before.clone().and(
        unpaid_at_cutoff
            .clone()
            .or(col("paid_date").gt(col("due_date"))),
    );
    let failed = due_before.clone().and(col("status").eq(lit("failed")));
    let settled_by = when(unpaid_at_cutoff.clone())
        .then(cutoff.day(0))
        .otherwise(col("paid_date"));
    let days_late = (settled_by.cast(DataType::Int32) - col("due_date").cast(DataType::Int32))
        .clip_min(lit(0))
        .cast(DataType::Float64);
    sources
        .billing
        .clone()
        .filter(col("invoice_date").lt(cutoff.day(0)))
        .group_by([col(ID_COLUMN)])
        .agg([
            count(late.clone().and(due_since(90))).alias("late_payment_count_90d"),
            count(late.and(due_since(365))).alias("late_payment_count_365d"),
            count(failed.clone().and(due_since(90))).alias("failed_payment_count_90d"),
            count(failed.and(due_since(365))).alias("failed_payment_count_365d"),
            days_late
                .filter(due_before.clone().and(due_since(180)))
                .mean()
                .alias("avg_days_late_180d"),
            col("amount")
                .filter(due_before.and(unpaid_at_cutoff))
                .sum()
                .alias("outstanding_amount"),
            cutoff
                .days_since_date(
                    col("paid_date")
                        .filter(col("paid_date").lt(cutoff.day(0)))
                        .max(),
                )
                .alias("days_since_last_payment"),
        ])
}

fn tickets(sources: &Sources, cutoff: Cutoff) -> LazyFrame {
    let opened_since = |days: i32| col("opened_at").gt_eq(cutoff.instant(-days));
    let category_is = |name: &str| col("category").eq(lit(name));
    // A closing on or after as_of (and its survey score) is not known yet.
    let closed_before = col("closed_at").lt(cutoff.instant(0));
    let severity = when(col("severity").eq(lit("low")))
        .then(lit(1.0))
        .when(col("severity").eq(lit("high")))
        .then(lit(3.0))
        .when(col("severity").eq(lit("critical")))
        .then(lit(4.0))
        .otherwise(lit(2.0))
        + when(category_is("complaint").or(category_is("cancellation")))
            .then(lit(2.0))
            .otherwise(lit(0.0));
    let decay = (-cutoff.days_since_instant(col("opened_at")) / lit(30.0)).exp();
    sources
        .tickets
        .clone()
        .filter(col("opened_at").lt(cutoff.instant(0)))
        .group_by([col(ID_COLUMN)])
        .agg([
            count(opened_since(90)).alias("tickets_90d"),
            count(opened_since(90).and(category_is("complaint"))).alias("complaints_90d"),
            count(opened_since(90).and(category_is("cancellation")))
                .alias("cancellation_requests_90d"),
            count(
                opened_since(90).and(
                    col("severity")
                        .eq(lit("high"))
                        .or(col("severity").eq(lit("critical"))),
                ),
            )
            .alias("high_severity_tickets_90d"),
            count(closed_before.clone().not().or(col("closed_at").is_null())).alias("open_tickets"),
            col("satisfaction")
                .filter(closed_before.and(col("closed_at").gt_eq(cutoff.instant(-90))))
                .cast(DataType::Float64)
                .mean()
                .alias("avg_satisfaction_90d"),
            (severity * decay)
                .filter(opened_since(180))
                .sum()
                .alias("support_interaction_score"),
            cutoff
                .days_since_instant(col("opened_at").max())
                .alias("days_since_last_ticket"),
        ])
}

/// The label: a churn on `as_of` or within the horizon's days after it.
fn churned_within_horizon(cutoff: Cutoff) -> Expr {
    col("churn_date")
        .gt_eq(cutoff.day(0))
        .and(col("churn_date").lt(cutoff.day(cutoff.horizon_days)))
}

/// The label of every customer with a churn in the horizon (`customer_id`, `churned`,
/// all true): what a prediction made on `as_of` turned out to be, once the data covers
/// the horizon. Customers absent from it stayed.
pub fn outcomes(sources: &Sources, cutoff: Cutoff) -> LazyFrame {
    sources
        .churn_labels
        .clone()
        .filter(churned_within_horizon(cutoff))
        .group_by([col(ID_COLUMN)])
        .agg([lit(true).alias(LABEL_COLUMN)])
}

fn churn_history(sources: &Sources, cutoff: Cutoff) -> LazyFrame {
    let before = col("churn_date").lt(cutoff.day(0));
    let within_horizon = churned_within_horizon(cutoff);
    sources
        .churn_labels
        .clone()
        .group_by([col(ID_COLUMN)])
        .agg([
            count(before.clone()).alias("prior_churn_count"),
            cutoff
                .days_since_date(col("churn_date").filter(before).max())
                .alias("days_since_last_churn"),
            within_horizon.any(true).alias("__churned"),
        ])
}

fn demographics(sources: &Sources, cutoff: Cutoff) -> LazyFrame {
    let year = crate::dates::from_days(cutoff.as_of);
    let year = chrono::Datelike::year(&year);
    sources.customers.clone().select([
        col(ID_COLUMN),
        (lit(year as i64) - col("birth_year"))
            .cast(DataType::Float64)
            .alias("age"),
        col("gender"),
        col("region"),
        col("partner"),
        col("dependents"),
        col("acquisition_channel"),
    ])
}

/// Builds the feature table: id, features in catalogue order, label.
pub fn build(sources: &Sources, cutoff: Cutoff) -> Result<DataFrame> {
    let left = || JoinArgs::new(JoinType::Left);
    let on = || [col(ID_COLUMN)];
    let zero_when_absent = [
        "session_count_7d",
        "session_count_30d",
        "session_count_90d",
        "daily_active_minutes_30d",
        "active_days_30d",
        "minutes_used_30d",
        "data_used_mb_30d",
        "late_payment_count_90d",
        "late_payment_count_365d",
        "failed_payment_count_90d",
        "failed_payment_count_365d",
        "outstanding_amount",
        "tickets_90d",
        "complaints_90d",
        "cancellation_requests_90d",
        "high_severity_tickets_90d",
        "open_tickets",
        "support_interaction_score",
        "prior_churn_count",
    ];
    let label = if cutoff.label_known {
        col("__churned").fill_null(lit(false))
    } else {
        lit(NULL).cast(DataType::Boolean)
    };
    let mut select = vec![col(ID_COLUMN)];
    select.extend(AS_OF_FEATURES.iter().map(|(name, _, _)| col(*name)));
    select.push(label.alias(LABEL_COLUMN));
    // A customer without sessions before as_of has no usage trend to speak of: 0.
    let frame = accounts(sources, cutoff)?
        .join(sessions(sources, cutoff), on(), on(), left())
        .join(billing(sources, cutoff), on(), on(), left())
        .join(tickets(sources, cutoff), on(), on(), left())
        .join(churn_history(sources, cutoff), on(), on(), left())
        .join(demographics(sources, cutoff), on(), on(), left())
        .with_columns(
            zero_when_absent
                .iter()
                .map(|name| col(*name).fill_null(lit(0.0)))
                .chain([
                    col("usage_trend_30d_vs_prior_60d").fill_null(lit(0.0)),
                    col("prior_churn_count")
                        .fill_null(lit(0.0))
                        .gt(lit(0.0))
                        .alias("is_reactivated"),
                ])
                .collect::<Vec<_>>(),
        )
        .select(select)
        .sort([ID_COLUMN], SortMultipleOptions::default())
        .collect()
        .context(|| "building the as-of feature table".into())?;
    Ok(frame)
}
