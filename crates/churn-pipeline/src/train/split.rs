//! Stratified splits: train/test, and k folds for cross-validation. Each keeps the churn
//! rate of the whole in every part, and depends only on the labels and the seed.

use crate::error::{PipelineError, Result};
use crate::rng::Rng;

fn shuffled(rows: impl Iterator<Item = usize>, rng: &mut Rng) -> Vec<usize> {
    let mut rows: Vec<usize> = rows.collect();
    rng.shuffle(&mut rows);
    rows
}

/// Splits rows `0..labels.len()` into (train, test), `test_fraction` of each class to
/// test. Both lists are sorted.
pub fn train_test(labels: &[bool], test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Rng::for_stream(seed, 0x7e57);
    let mut train = Vec::new();
    let mut test = Vec::new();
    for class in [true, false] {
        let rows = shuffled((0..labels.len()).filter(|&r| labels[r] == class), &mut rng);
        let cut = (rows.len() as f64 * test_fraction).round() as usize;
        test.extend_from_slice(&rows[..cut]);
        train.extend_from_slice(&rows[cut..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// A stratified sample of `count` of `rows` (sorted).
pub fn sample(labels: &[bool], rows: &[usize], count: usize, seed: u64) -> Vec<usize> {
    let mut rng = Rng::for_stream(seed, 0x5a3b);
    let share = count as f64 / rows.len().max(1) as f64;
    let mut out = Vec::with_capacity(count);
    for class in [true, false] {
        let shuffled = shuffled(
            rows.iter().copied().filter(|&r| labels[r] == class),
            &mut rng,
        );
        let take = ((shuffled.len() as f64 * share).round() as usize).min(shuffled.len());
        out.extend_from_slice(&shuffled[..take]);
    }
    out.sort_unstable();
    out
}

/// Deals `rows` into `k` stratified folds (each sorted); fails when a class has fewer
/// than `k` rows.
pub fn folds(labels: &[bool], rows: &[usize], k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    let positives = rows.iter().filter(|&&r| labels[r]).count();
    let negatives = rows.len() - positives;
    if k < 2 {
        return Err(PipelineError::InvalidInput(format!(
            "--folds {k}: use at least 2"
        )));
    }
    if positives < k || negatives < k {
        return Err(PipelineError::InvalidInput(format!(
            "too few rows for {k}-fold cross-validation: the training split has {positives} \
             churners and {negatives} stayers, and each fold needs both; lower --folds or add data"
        )));
    }
    let mut rng = Rng::for_stream(seed, 0xf01d);
    let mut out = vec![Vec::new(); k];
    let mut next = 0;
    for class in [true, false] {
        for row in shuffled(
            rows.iter().copied().filter(|&r| labels[r] == class),
            &mut rng,
        ) {
            out[next % k].push(row);
            next += 1;
        }
    }
    for fold in &mut out {
        fold.sort_unstable();
    }
    Ok(out)
}

/// The rows of `rows` outside `fold` (both sorted).
pub fn complement(rows: &[usize], fold: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(rows.len() - fold.len());
    let mut skip = fold.iter().peekable();
    for &row in rows {
        if skip.peek() == Some(&&row) {
            skip.next();
        } else {
            out.push(row);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_keep_the_churn_rate_and_cover_every_row() {
        let labels: Vec<bool> = (0..1000).map(|i| i % 4 == 0).collect();
        let (train, test) = train_test(&labels, 0.2, 1);
        assert_eq!(train.len() + test.len(), 1000);
        assert_eq!(test.iter().filter(|&&r| labels[r]).count(), 50);
        assert_eq!(
            train_test(&labels, 0.2, 1),
            (train.clone(), test.clone()),
            "seeded"
        );
        let folds = folds(&labels, &train, 5, 2).expect("folds");
        let mut all: Vec<usize> = folds.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, train);
        for fold in &folds {
            assert_eq!(fold.iter().filter(|&&r| labels[r]).count(), 40);
            assert_eq!(complement(&train, fold).len(), train.len() - fold.len());
        }
    }

    #[test]
    fn too_few_churners_for_the_folds_is_an_error() {
        let labels = [true, true, false, false, false, false];
        let error = folds(&labels, &[0, 1, 2, 3, 4, 5], 3, 0).expect_err("2 churners, 3 folds");
        assert!(error.to_string().contains("2 churners"), "{error}");
    }
}
