//! What each column of a flat table is: inferred from its values when training, taken
//! from the model's feature spec when scoring.
//!
//! Inference, for a column of text (blank already read as missing):
//! - the usual missing-value tokens (`NA`, `N/A`, `null`, `NaN`, `-`, `?`, `none`...) are
//!   missing in numbers and yes/no columns;
//! - two values among yes/no, true/false, y/n, t/f and 1/0: a boolean;
//! - numbers, when at most [`MAX_NON_NUMBER_SHARE`] of the values are not numbers (those
//!   are read as missing and reported with their counts);
//! - unique whole numbers, one per row and counting up (a row number): an identifier,
//!   dropped;
//! - one value and blanks (`cancel_reason` = `price` or empty): whether it is filled is
//!   the feature, `NAME_filled`;
//! - text otherwise: a category; with more than 100 distinct values in fewer than two rows
//!   each it looks like another identifier and is dropped, unless `--categorical` keeps it.
//!
//! Scoring never infers: a column is read as the model's spec says, whatever its values
//! look like in the new table, so a category seen by the model on a large table is still a
//! category on a small one.

use std::collections::{BTreeMap, BTreeSet};

use churn_core::{FeatureDef, FeatureKind, normalize_category};

use crate::features::data::MAX_MAGNITUDE;
use polars::prelude::*;

/// Texts read as missing in numeric and yes/no columns (compared in lowercase).
pub const MISSING_TOKENS: [&str; 12] = [
    "na", "n/a", "#n/a", "n.a.", "null", "nan", "-", "--", "?", "none", "nil", "missing",
];

/// The largest share of a numeric column's values that may be something else (read as
/// missing, reported): one stray word in a thousand rows does not make a column text.
pub const MAX_NON_NUMBER_SHARE: f64 = 0.02;

/// Suffix of the indicator built from a column holding one value and blanks.
pub const FILLED_SUFFIX: &str = "_filled";

/// A text column holding more distinct values than this, in fewer than two rows each, is
/// taken for another identifier.
const MAX_IDENTIFIER_LIKE_CATEGORIES: usize = 100;

/// Whether a text is one of [`MISSING_TOKENS`].
pub fn is_missing_token(text: &str) -> bool {
    let lower = text.trim().to_lowercase();
    MISSING_TOKENS.contains(&lower.as_str())
}

const BOOL_WORDS: [(&str, bool); 10] = [
    ("yes", true),
    ("no", false),
    ("true", true),
    ("false", false),
    ("y", true),
    ("n", false),
    ("t", true),
    ("f", false),
    ("1", true),
    ("0", false),
];

/// The boolean a yes/no word stands for.
pub fn bool_word(text: &str) -> Option<bool> {
    let lower = text.to_lowercase();
    BOOL_WORDS
        .iter()
        .find(|(word, _)| *word == lower)
        .map(|(_, value)| *value)
}

fn number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// What the user asked of particular columns.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Columns left out.
    pub drop: BTreeSet<String>,
    /// Columns kept as categories whatever their values.
    pub categorical: BTreeSet<String>,
}

/// A column's fate.
pub enum Inferred {
    /// A feature and its values.
    Feature(FeatureDef, Column),
    /// Left out, with the reason.
    Dropped(String),
}

/// "'abc' ×2, 'n/k' ×1" for the most frequent of a set of counted texts.
fn examples(counts: &BTreeMap<&str, usize>) -> String {
    let mut ranked: Vec<(&&str, &usize)> = counts.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut text = ranked
        .iter()
        .take(5)
        .map(|(value, count)| format!("'{value}' ×{count}"))
        .collect::<Vec<_>>()
        .join(", ");
    if ranked.len() > 5 {
        text.push_str(&format!(" and {} more", ranked.len() - 5));
    }
    text
}

/// Numbers of a column; tokens and blanks missing, other texts (and numbers `usable`
/// refuses) missing and counted.
fn numbers<'a>(
    text: &'a StringChunked,
    others: &mut BTreeMap<&'a str, usize>,
    usable: fn(f64) -> bool,
) -> Vec<Option<f64>> {
    text.iter()
        .map(|value| {
            let value = value.filter(|v| !is_missing_token(v))?;
            let parsed = value.parse::<f64>().ok().filter(|x| usable(*x));
            if parsed.is_none() {
                *others.entry(value).or_default() += 1;
            }
            parsed
        })
        .collect()
}

/// Yes/no values of a column; tokens and blanks missing, other texts missing and counted.
fn flags<'a>(text: &'a StringChunked, others: &mut BTreeMap<&'a str, usize>) -> Vec<Option<bool>> {
    text.iter()
        .map(|value| {
            let value = value.filter(|v| !is_missing_token(v))?;
            let flag = bool_word(value);
            if flag.is_none() {
                *others.entry(value).or_default() += 1;
            }
            flag
        })
        .collect()
}

/// Whether a column is filled (not blank, not a missing token).
fn filled(text: &StringChunked) -> Vec<bool> {
    text.iter()
        .map(|value| value.is_some_and(|v| !is_missing_token(v)))
        .collect()
}

fn categories(text: &StringChunked) -> Vec<Option<String>> {
    text.iter()
        .map(|v| v.map(|text| normalize_category(text).into_owned()))
        .collect()
}

/// Unique whole numbers, every row filled, counting up in table order or covering a
/// range without gaps: a row number.
fn is_row_number(values: &[Option<f64>]) -> bool {
    if values.len() < 20 {
        return false;
    }
    let Some(whole) = values
        .iter()
        .map(|v| v.filter(|x| x.fract() == 0.0))
        .collect::<Option<Vec<f64>>>()
    else {
        return false;
    };
    let increasing = whole.windows(2).all(|pair| pair[0] < pair[1]);
    let mut sorted = whole.clone();
    sorted.sort_by(f64::total_cmp);
    let unique = sorted.windows(2).all(|pair| pair[0] < pair[1]);
    let range = sorted[sorted.len() - 1] - sorted[0] + 1.0;
    unique && (increasing || range == whole.len() as f64)
}

/// Infers a column's kind, with a note when the user should know what was chosen.
pub fn infer(
    name: &str,
    text: &StringChunked,
    rows: usize,
    overrides: &Overrides,
) -> (Inferred, Option<String>) {
    let feature = |kind: FeatureKind, description: String, values: Column| {
        Inferred::Feature(FeatureDef::new(name, kind, description), values)
    };
    if overrides.categorical.contains(name) {
        let values = Column::new(name.into(), categories(text));
        let description = "categorical column of the input table (--categorical)".to_owned();
        return (feature(FeatureKind::Categorical, description, values), None);
    }
    let present: Vec<&str> = text
        .iter()
        .flatten()
        .filter(|v| !is_missing_token(v))
        .collect();
    if present.is_empty() {
        return (Inferred::Dropped("every value is empty".into()), None);
    }
    let distinct: BTreeSet<&str> = present.iter().copied().collect();
    if distinct.len() == 1 {
        let value = distinct.iter().next().copied().unwrap_or("");
        if present.len() == rows {
            return (
                Inferred::Dropped(format!("it has the single value '{value}'")),
                None,
            );
        }
        let indicator = format!("{name}{FILLED_SUFFIX}");
        let values = Column::new(indicator.as_str().into(), filled(text));
        let note = format!(
            "column '{name}' holds only '{value}' and blanks: kept as '{indicator}' (whether it \
             is filled)"
        );
        let def = FeatureDef::new(
            indicator,
            FeatureKind::Boolean,
            format!("whether '{name}' is filled ('{value}') in the input table"),
        );
        return (Inferred::Feature(def, values), Some(note));
    }
    let booleans: BTreeSet<Option<bool>> = distinct.iter().map(|value| bool_word(value)).collect();
    if distinct.len() == 2 && !booleans.contains(&None) && booleans.len() == 2 {
        let mut others = BTreeMap::new();
        let values = Column::new(name.into(), flags(text, &mut others));
        let description = "yes/no column of the input table".to_owned();
        return (feature(FeatureKind::Boolean, description, values), None);
    }
    let non_numbers = present.iter().filter(|v| number(v).is_none()).count();
    if (non_numbers as f64) <= MAX_NON_NUMBER_SHARE * present.len() as f64 {
        let mut others = BTreeMap::new();
        // A value that parses but is not finite ("inf", "1e999") stays, to be refused
        // with its row when the table is read for training.
        let parsed = numbers(text, &mut others, |_| true);
        if non_numbers == 0 && is_row_number(&parsed) {
            return (
                Inferred::Dropped(
                    "unique whole numbers counting up, one per row: it looks like a row \
                     number (an identifier)"
                        .into(),
                ),
                None,
            );
        }
        let note = (!others.is_empty()).then(|| {
            format!(
                "column '{name}' read as numbers; {} of {} values are not numbers and are read \
                 as missing: {}",
                others.values().sum::<usize>(),
                present.len(),
                examples(&others)
            )
        });
        let description = "numeric column of the input table".to_owned();
        let values = Column::new(name.into(), parsed);
        return (feature(FeatureKind::Numeric, description, values), note);
    }
    let levels: BTreeSet<String> = distinct
        .iter()
        .map(|v| normalize_category(v).into_owned())
        .collect();
    if levels.len() > MAX_IDENTIFIER_LIKE_CATEGORIES && levels.len() * 2 > rows {
        return (
            Inferred::Dropped(format!(
                "{} distinct values in {rows} rows: it looks like another identifier (pass \
                 --categorical {name} to keep it as a category)",
                levels.len()
            )),
            None,
        );
    }
    let note = (levels.len() > MAX_IDENTIFIER_LIKE_CATEGORIES).then(|| {
        format!(
            "column '{name}' kept as a category with {} distinct values (pass --drop {name} to \
             leave it out)",
            levels.len()
        )
    });
    let description = "categorical column of the input table".to_owned();
    let values = Column::new(name.into(), categories(text));
    (feature(FeatureKind::Categorical, description, values), note)
}

/// Where a spec feature's values come from in a table.
pub enum Source<'a> {
    /// The column of the same name.
    Column(&'a StringChunked),
    /// Whether the named column is filled (a `NAME_filled` indicator).
    Filled(&'a StringChunked),
}

/// A spec feature's column read from a table as the model reads it, with a note on
/// values that could not be read as its kind (read as missing) or categories the model
/// does not know (`known`, scored as unknown).
pub fn read_as(
    feature: &FeatureDef,
    source: Source<'_>,
    known: Option<&[String]>,
) -> (Column, Option<String>) {
    let name = feature.name.as_str();
    let text = match source {
        Source::Filled(text) => return (Column::new(name.into(), filled(text)), None),
        Source::Column(text) => text,
    };
    let mut others = BTreeMap::new();
    let column = match feature.kind {
        // A table to score is not refused for one customer's absurd value: like a word,
        // it is read as missing and reported.
        FeatureKind::Numeric => Column::new(
            name.into(),
            numbers(text, &mut others, |x| {
                x.is_finite() && x.abs() <= MAX_MAGNITUDE
            }),
        ),
        FeatureKind::Boolean => Column::new(name.into(), flags(text, &mut others)),
        FeatureKind::Categorical => {
            let values = categories(text);
            if let Some(known) = known {
                let known: BTreeSet<&str> = known.iter().map(String::as_str).collect();
                let mut unseen: BTreeMap<&str, usize> = BTreeMap::new();
                for value in values.iter().flatten() {
                    if !known.contains(value.as_str()) {
                        *unseen.entry(value.as_str()).or_default() += 1;
                    }
                }
                if !unseen.is_empty() {
                    let note = format!(
                        "column '{name}': {} rows hold categories the model has not seen, scored \
                         as unknown (like a missing value): {}",
                        unseen.values().sum::<usize>(),
                        examples(&unseen)
                    );
                    return (Column::new(name.into(), values.clone()), Some(note));
                }
            }
            Column::new(name.into(), values)
        }
    };
    let note = (!others.is_empty()).then(|| {
        format!(
            "column '{name}': {} values are not {} and are read as missing: {}",
            others.values().sum::<usize>(),
            feature.kind.expects(),
            examples(&others)
        )
    });
    (column, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(values: &[Option<&str>]) -> StringChunked {
        StringChunked::new("x".into(), values)
    }

    fn kind_of(values: &[Option<&str>]) -> (Option<FeatureKind>, Option<String>) {
        let (inferred, note) = infer("x", &text(values), values.len(), &Overrides::default());
        match inferred {
            Inferred::Feature(def, _) => (Some(def.kind), note),
            Inferred::Dropped(reason) => (None, Some(reason)),
        }
    }

    #[test]
    fn one_missing_token_in_a_thousand_keeps_a_column_numeric() {
        for token in ["N/A", "NA", "null", "NaN", "-", "?", "none"] {
            let mut values: Vec<Option<String>> =
                (0..1000).map(|i| Some(format!("{}.5", i % 37))).collect();
            values[500] = Some(token.to_owned());
            let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
            let (kind, note) = kind_of(&refs);
            assert_eq!(kind, Some(FeatureKind::Numeric), "{token}");
            assert!(
                note.is_none(),
                "a token is missing, not a stray word: {note:?}"
            );
        }
    }

    #[test]
    fn a_few_stray_words_are_read_as_missing_and_reported() {
        let mut values: Vec<Option<&str>> = vec![Some("3"); 200];
        values.extend([Some("1"), Some("2")]);
        values[7] = Some("unknown");
        values[9] = Some("unknown");
        let (kind, note) = kind_of(&values);
        assert_eq!(kind, Some(FeatureKind::Numeric));
        let note = note.expect("a note");
        assert!(
            note.contains("2 of 202 values") && note.contains("'unknown' ×2"),
            "{note}"
        );
        // Many words: text.
        for value in values.iter_mut().take(20) {
            *value = Some("unknown");
        }
        assert_eq!(kind_of(&values).0, Some(FeatureKind::Categorical));
    }

    #[test]
    fn one_value_and_blanks_is_an_indicator() {
        let values = [Some("price"), None, None, Some("price"), Some("NA")];
        let (inferred, note) = infer(
            "cancel_reason",
            &text(&values),
            values.len(),
            &Overrides::default(),
        );
        let Inferred::Feature(def, column) = inferred else {
            panic!("dropped")
        };
        assert_eq!(
            (def.name.as_str(), def.kind),
            ("cancel_reason_filled", FeatureKind::Boolean)
        );
        let flags: Vec<Option<bool>> = column.bool().expect("bool").iter().collect();
        assert_eq!(
            flags,
            [
                Some(true),
                Some(false),
                Some(false),
                Some(true),
                Some(false)
            ]
        );
        assert!(note.expect("note").contains("cancel_reason_filled"));
        // One value and no blanks carries nothing.
        assert_eq!(kind_of(&[Some("x"); 5]).0, None);
    }

    #[test]
    fn a_row_number_is_an_identifier_and_other_whole_numbers_are_not() {
        let counting: Vec<String> = (1..=50).map(|i| i.to_string()).collect();
        let refs: Vec<Option<&str>> = counting.iter().map(|v| Some(v.as_str())).collect();
        let (kind, reason) = kind_of(&refs);
        assert_eq!(kind, None);
        assert!(reason.expect("reason").contains("row number"));
        // Shuffled, it still covers a range without gaps.
        let mut shuffled = refs.clone();
        shuffled.reverse();
        shuffled.swap(3, 17);
        assert_eq!(kind_of(&shuffled).0, None);
        // Unique but with gaps and out of order: a measurement.
        let spread: Vec<String> = (0..50).map(|i| ((i * 7919) % 1000).to_string()).collect();
        let refs: Vec<Option<&str>> = spread.iter().map(|v| Some(v.as_str())).collect();
        assert_eq!(kind_of(&refs).0, Some(FeatureKind::Numeric));
    }

    #[test]
    fn many_distinct_texts_are_dropped_with_the_override_named_or_kept_when_asked() {
        let names: Vec<String> = (0..300).map(|i| format!("name{i}")).collect();
        let refs: Vec<Option<&str>> = names.iter().map(|v| Some(v.as_str())).collect();
        let (kind, reason) = kind_of(&refs);
        assert_eq!(kind, None);
        assert!(
            reason
                .as_deref()
                .is_some_and(|r| r.contains("--categorical x")),
            "{reason:?}"
        );
        let overrides = Overrides {
            categorical: ["x".to_owned()].into(),
            ..Overrides::default()
        };
        let (inferred, _) = infer("x", &text(&refs), refs.len(), &overrides);
        assert!(
            matches!(inferred, Inferred::Feature(def, _) if def.kind == FeatureKind::Categorical)
        );
    }

    #[test]
    fn scoring_reads_the_spec_kind_and_reports_what_it_cannot_read() {
        let numeric = FeatureDef::new("x", FeatureKind::Numeric, "");
        let values = text(&[
            Some("1.5"),
            Some("NA"),
            Some("abc"),
            None,
            Some("1e400"),
            Some("1e300"),
        ]);
        let (column, note) = read_as(&numeric, Source::Column(&values), None);
        let numbers: Vec<Option<f64>> = column.f64().expect("f64").iter().collect();
        assert_eq!(numbers, [Some(1.5), None, None, None, None, None]);
        let note = note.expect("note");
        assert!(
            note.contains("3 values") && note.contains("'abc' ×1") && note.contains("'1e400' ×1"),
            "{note}"
        );

        let category = FeatureDef::new("plan", FeatureKind::Categorical, "");
        let values = text(&[Some("Basic"), Some("Gold Plus"), None]);
        let known = ["basic".to_owned(), "pro".to_owned()];
        let (column, note) = read_as(&category, Source::Column(&values), Some(&known));
        assert_eq!(column.str().expect("str").get(1), Some("gold-plus"));
        assert!(note.expect("note").contains("'gold-plus' ×1"));
    }
}
