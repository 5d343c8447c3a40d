//! Normalisation of categorical values, shared by ingest and every scorer.
//!
//! Raw systems spell the same category many ways (`"Month-to-month"`, `" month_to_month"`,
//! `"MONTH TO MONTH"`). Training and scoring must map them to one spelling, or a model
//! silently sees an unknown category at serving time. The ingest step applies the same
//! rule as a polars expression; a test in churn-pipeline checks that both agree.

/// Trims, lowercases, and turns every run of whitespace, `_` and `-` into a single `-`.
///
/// ```
/// use churn_core::normalize_category;
/// assert_eq!(normalize_category(" Two_Year "), "two-year");
/// assert_eq!(normalize_category("Credit card (automatic)"), "credit-card-(automatic)");
/// assert_eq!(normalize_category("   "), "");
/// ```
pub fn normalize_category(raw: &str) -> String {
    // Lowercase the whole string first: `str::to_lowercase` handles context-dependent
    // letters (the Greek final sigma) exactly as polars' `to_lowercase` does.
    let lower = raw.trim().to_lowercase();
    let mut out = String::with_capacity(lower.len());
    let mut pending_separator = false;
    for ch in lower.chars() {
        if is_separator(ch) {
            pending_separator = true;
            continue;
        }
        if pending_separator && !out.is_empty() {
            out.push('-');
        }
        pending_separator = false;
        out.push(ch);
    }
    out
}

fn is_separator(ch: char) -> bool {
    ch.is_whitespace() || ch == '_' || ch == '-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_separator_runs() {
        assert_eq!(normalize_category("Month - to - Month"), "month-to-month");
        assert_eq!(normalize_category("fiber__optic"), "fiber-optic");
        assert_eq!(normalize_category("-leading"), "leading");
    }

    #[test]
    fn lowercases_unicode() {
        assert_eq!(normalize_category("ÉTÉ Plan"), "été-plan");
    }

    #[test]
    fn is_idempotent() {
        for raw in ["One year", " two_YEAR", "électronic  check", "a-b_c d"] {
            let once = normalize_category(raw);
            assert_eq!(normalize_category(&once), once);
        }
    }
}
