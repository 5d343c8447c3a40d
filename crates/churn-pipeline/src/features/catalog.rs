//! The catalogue of as-of features: names, kinds and meanings, in table order.
//!
//! Every window ends the day before `as_of` (events strictly before `as_of` count);
//! "90d" means the 90 days before `as_of`.

use churn_core::{FeatureDef, FeatureKind};

use FeatureKind::{Boolean as B, Categorical as C, Numeric as N};

/// `(name, kind, description)` of every as-of feature.
pub const AS_OF_FEATURES: &[(&str, FeatureKind, &str)] = &[
    // Usage
    ("session_count_7d", N, "Sessions started in the last 7 days"),
    (
        "session_count_30d",
        N,
        "Sessions started in the last 30 days",
    ),
    (
        "session_count_90d",
        N,
        "Sessions started in the last 90 days",
    ),
    (
        "avg_session_minutes_7d",
        N,
        "Mean session length in the last 7 days (empty without sessions)",
    ),
    (
        "avg_session_minutes_30d",
        N,
        "Mean session length in the last 30 days",
    ),
    (
        "avg_session_minutes_90d",
        N,
        "Mean session length in the last 90 days",
    ),
    (
        "daily_active_minutes_30d",
        N,
        "Session minutes per day over the last 30 days",
    ),
    (
        "active_days_30d",
        N,
        "Days with at least one session in the last 30 days",
    ),
    (
        "days_since_last_session",
        N,
        "Days since the most recent session (time since last login)",
    ),
    (
        "usage_trend_30d_vs_prior_60d",
        N,
        "ln((minutes last 30d + 1) / (minutes per 30d in the 60 days before + 1)): below 0 is declining use",
    ),
    (
        "minutes_used_30d",
        N,
        "Billable voice minutes in the last 30 days",
    ),
    (
        "data_used_mb_30d",
        N,
        "Mobile data in MB in the last 30 days",
    ),
    // Billing
    (
        "late_payment_count_90d",
        N,
        "Invoices due in the last 90 days and not paid by their due date",
    ),
    (
        "late_payment_count_365d",
        N,
        "Invoices due in the last 365 days and not paid by their due date",
    ),
    (
        "failed_payment_count_90d",
        N,
        "Automatic payments declined in the last 90 days",
    ),
    (
        "failed_payment_count_365d",
        N,
        "Automatic payments declined in the last 365 days",
    ),
    (
        "avg_days_late_180d",
        N,
        "Mean days past due of invoices due in the last 180 days (0 when paid on time)",
    ),
    (
        "outstanding_amount",
        N,
        "Amount of invoices past due and unpaid on the day before as-of",
    ),
    (
        "days_since_last_payment",
        N,
        "Days since the most recent payment",
    ),
    // Account and contract
    (
        "tenure_days",
        N,
        "Days since the current relationship started (since the return, after a churn)",
    ),
    (
        "days_in_current_contract",
        N,
        "Days since the current contract period started",
    ),
    (
        "contract_type",
        C,
        "Contract of the active account: month-to-month, one-year, two-year",
    ),
    ("plan", C, "Plan of the active account"),
    ("payment_method", C, "How the active account pays"),
    ("paperless_billing", B, "Invoices are sent electronically"),
    ("monthly_charge", N, "Monthly charge of the active account"),
    (
        "monthly_charge_change_90d",
        N,
        "Monthly charge now minus 90 days ago (0 when there was no account then)",
    ),
    (
        "price_increases_365d",
        N,
        "Contract periods started in the last 365 days at a higher charge than the one before",
    ),
    // Support
    (
        "tickets_90d",
        N,
        "Support tickets opened in the last 90 days",
    ),
    (
        "complaints_90d",
        N,
        "Complaint tickets opened in the last 90 days",
    ),
    (
        "cancellation_requests_90d",
        N,
        "Cancellation tickets opened in the last 90 days",
    ),
    (
        "high_severity_tickets_90d",
        N,
        "High or critical tickets opened in the last 90 days",
    ),
    (
        "open_tickets",
        N,
        "Tickets opened before as-of and not closed before it",
    ),
    (
        "avg_satisfaction_90d",
        N,
        "Mean satisfaction score (1-5) of tickets closed in the last 90 days",
    ),
    (
        "support_interaction_score",
        N,
        "Tickets of the last 180 days weighted by severity (1-4, +2 for complaints and cancellations) and decayed by age (30-day time constant)",
    ),
    (
        "days_since_last_ticket",
        N,
        "Days since the most recent ticket",
    ),
    // Churn history
    (
        "prior_churn_count",
        N,
        "Times the customer churned before as-of",
    ),
    (
        "is_reactivated",
        B,
        "The customer churned before and came back",
    ),
    (
        "days_since_last_churn",
        N,
        "Days since the customer last churned",
    ),
    // Demographics
    ("age", N, "Age in years at as-of (from the birth year)"),
    ("gender", C, "Gender"),
    ("region", C, "Home region"),
    ("partner", B, "Lives with a partner"),
    ("dependents", B, "Has dependents"),
    ("acquisition_channel", C, "How the customer was acquired"),
];

/// Column of the customer identifier.
pub const ID_COLUMN: &str = "customer_id";
/// Column of the label.
pub const LABEL_COLUMN: &str = "churned";

/// The catalogue as feature definitions.
pub fn as_of_feature_defs() -> Vec<FeatureDef> {
    AS_OF_FEATURES
        .iter()
        .map(|(name, kind, description)| FeatureDef::new(*name, *kind, *description))
        .collect()
}

/// Renders the catalogue as the Markdown of `docs/features.md`.
pub fn render_markdown() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# Features\n\n\
         <!-- Generated by `churn docs features > docs/features.md` from\n     \
         crates/churn-pipeline/src/features/catalog.rs; a test fails when the two differ. -->\n\n\
         `churn features --as-of DATE --horizon DAYS` writes one row per customer with an account\n\
         running on `DATE`, computed only from events strictly before `DATE`, with these columns:\n\
         `customer_id`, the features below in this order, and `churned` (true when the customer\n\
         churns on a day in `[DATE, DATE + DAYS)`; empty when the data ends before that\n\
         window does, i.e. for a table meant for prediction).\n\n\
         Values that only become known later are never used: an account whose end date is on\n\
         or after `DATE` is still running, an invoice paid on or after `DATE` was unpaid, a\n\
         ticket closed on or after `DATE` is open and its satisfaction score unknown. Counts\n\
         are 0 when there is nothing to count; means and \"days since\" are empty. Outlier\n\
         fences are computed by ingest over the whole source, so a later extreme value can\n\
         move a fence; they only ever move values far in the tail.\n\n\
         | feature | kind | meaning |\n|---|---|---|\n",
    );
    for (name, kind, description) in AS_OF_FEATURES {
        let _ = writeln!(out, "| `{name}` | {} | {description} |", kind.as_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for (name, _, description) in AS_OF_FEATURES {
            assert!(seen.insert(*name), "{name} twice");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            );
            assert!(!description.is_empty());
        }
    }

    #[test]
    fn docs_page_matches_the_catalogue() {
        // Compiled in: a binary reused from another clone sharing the target folder
        // must not read that clone's (or a missing) file.
        let page = include_str!("../../../../docs/features.md");
        assert!(
            page == render_markdown(),
            "docs/features.md is out of date: run `cargo run -p churn-cli -- docs features > docs/features.md`"
        );
    }
}
