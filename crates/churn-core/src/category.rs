//! Normalisation of categorical values, shared by ingest and every scorer.
//!
//! Raw systems spell the same category many ways (`"Month-to-month"`, `" month_to_month"`,
//! `"MONTH TO MONTH"`). Training and scoring must map them to one spelling, or a model
//! silently sees an unknown category at serving time. Ingest calls this very function (as a
//! polars column function), and so does every scorer.

use std::borrow::Cow;

/// Trims, lowercases, and turns every run of whitespace, `_` and `-` into a single `-`.
/// Values already in that form (the common case) are returned without allocating.
///
/// Lowercasing covers ASCII and the Latin-1 letters (`À`–`Þ`); other scripts are kept as
/// they are. Full Unicode case tables would triple the size of the browser scorer for
/// category spellings no extract has shown.
///
/// ```
/// use churn_core::normalize_category;
/// assert_eq!(normalize_category(" Two_Year "), "two-year");
/// assert_eq!(normalize_category("Credit card (automatic)"), "credit-card-(automatic)");
/// assert_eq!(normalize_category("   "), "");
/// ```
pub fn normalize_category(raw: &str) -> Cow<'_, str> {
    if is_normalized(raw) {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(normalize_slow(raw))
    }
}

/// Whether `normalize_category` would return `raw` unchanged, checked without allocating:
/// non-empty ASCII of lowercase letters, digits and punctuation other than `_`, with no
/// leading, trailing or doubled `-`.
fn is_normalized(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    !bytes.is_empty()
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
        && bytes.iter().all(|&b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || (b.is_ascii_punctuation() && b != b'_')
        })
        && !bytes.windows(2).any(|pair| pair == b"--")
}

fn normalize_slow(raw: &str) -> String {
    let lower: String = raw.trim().chars().map(lowercase).collect();
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

/// ASCII and Latin-1 lowercase; every other character unchanged.
fn lowercase(ch: char) -> char {
    match ch {
        'A'..='Z' | 'À'..='Ö' | 'Ø'..='Þ' => char::from_u32(ch as u32 + 32).unwrap_or(ch),
        _ => ch,
    }
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
    fn lowercases_ascii_and_latin1() {
        assert_eq!(normalize_category("ÉTÉ Plan"), "été-plan");
        assert_eq!(
            normalize_category("Ωmega"),
            "Ωmega",
            "other scripts are kept"
        );
    }

    #[test]
    fn the_fast_path_agrees_with_the_slow_one() {
        for raw in [
            "month-to-month",
            "Month-to-month",
            "two_year",
            "-a",
            "a--b",
            "a-",
            "x.y",
            "credit-card-(automatic)",
            "  spaced ",
            "été",
            "",
            "a",
            "1-2",
        ] {
            assert_eq!(normalize_category(raw), normalize_slow(raw), "{raw:?}");
        }
        assert!(matches!(normalize_category("paid"), Cow::Borrowed(_)));
    }

    #[test]
    fn is_idempotent() {
        for raw in ["One year", " two_YEAR", "électronic  check", "a-b_c d"] {
            let once = normalize_category(raw);
            assert_eq!(normalize_category(&once), once);
        }
    }
}
