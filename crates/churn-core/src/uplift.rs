//! Did an action work? Retention of the customers who got it (treated) against that of
//! the eligible customers held back at random (control), once their outcomes are known.
//!
//! The difference of the two retention rates is the action's effect (uplift), with a 95 %
//! interval by Newcombe's hybrid score method (method 10 of Newcombe, 1998, from two
//! Wilson intervals), which holds for the small control groups of a single action and
//! tier where the plain normal interval misbehaves. The realised save rate, the share of
//! would-be churners the action kept, is the uplift over the control's churn rate: the
//! figure the playbook's assumed `save_rate` stands for.

use serde::{Deserialize, Serialize};

/// The normal quantile of a two-sided 95 % interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// One arm of the comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arm {
    pub customers: u64,
    /// Of them, churned within the horizon.
    pub churned: u64,
}

impl Arm {
    /// Share retained (`None` for an empty arm).
    pub fn retention(&self) -> Option<f64> {
        (self.customers > 0).then(|| 1.0 - self.churned as f64 / self.customers as f64)
    }

    /// Counts one customer.
    pub fn add(&mut self, churned: bool) {
        self.customers += 1;
        self.churned += u64::from(churned);
    }
}

/// The Wilson score interval of `successes` of `trials` at normal quantile `z`.
pub fn wilson(successes: u64, trials: u64, z: f64) -> Option<(f64, f64)> {
    if trials == 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z2 / n;
    // At 0 and n the bounds are exactly 0 and 1; rounding would leave them a hair inside.
    let low = if successes == 0 {
        0.0
    } else {
        (centre - spread) / denominator
    };
    let high = if successes == trials {
        1.0
    } else {
        (centre + spread) / denominator
    };
    Some((low.max(0.0), high.min(1.0)))
}

/// The effect of an action: treated minus control retention.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Uplift {
    pub retention_treated: f64,
    pub retention_control: f64,
    /// `retention_treated - retention_control`.
    pub difference: f64,
    /// Its 95 % interval (Newcombe's hybrid score method).
    pub low: f64,
    pub high: f64,
    /// The share of would-be churners kept, `difference / control churn rate`, and its
    /// interval (`None` when nobody in the control group churned).
    pub save_rate: Option<f64>,
    pub save_rate_low: Option<f64>,
    pub save_rate_high: Option<f64>,
}

impl Uplift {
    /// Whether the interval excludes no effect.
    pub fn significant(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

/// The uplift of `treated` over `control` (`None` when either arm is empty).
pub fn uplift(treated: Arm, control: Arm) -> Option<Uplift> {
    let kept = |arm: Arm| arm.customers - arm.churned.min(arm.customers);
    let (p1, p2) = (treated.retention()?, control.retention()?);
    let (l1, u1) = wilson(kept(treated), treated.customers, Z_95)?;
    let (l2, u2) = wilson(kept(control), control.customers, Z_95)?;
    let difference = p1 - p2;
    let low = difference - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let high = difference + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    let control_churn = 1.0 - p2;
    let share = |x: f64| (control_churn > 0.0).then(|| x / control_churn);
    Some(Uplift {
        retention_treated: p1,
        retention_control: p2,
        difference,
        low,
        high,
        save_rate: share(difference),
        save_rate_low: share(low),
        save_rate_high: share(high),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), Table I: 81/263 gives 0.2553 to 0.3662.
        let (low, high) = wilson(81, 263, Z_95).expect("interval");
        assert!(
            close(low, 0.2553, 5e-5) && close(high, 0.3662, 5e-5),
            "{low} {high}"
        );
        // 0/10 starts at 0 and 10/10 ends at 1.
        assert_eq!(wilson(0, 10, Z_95).expect("interval").0, 0.0);
        assert_eq!(wilson(10, 10, Z_95).expect("interval").1, 1.0);
        assert!(wilson(1, 0, Z_95).is_none());
    }

    #[test]
    fn newcombe_difference_matches_the_paper() {
        // Newcombe (1998), Table II, example (a): 56/70 - 48/80, method 10: 0.0524 to
        // 0.3339. Here the proportions are of customers retained.
        let treated = Arm {
            customers: 70,
            churned: 14,
        };
        let control = Arm {
            customers: 80,
            churned: 32,
        };
        let effect = uplift(treated, control).expect("uplift");
        assert!(close(effect.difference, 0.2, 1e-12));
        assert!(close(effect.low, 0.0524, 5e-5), "{}", effect.low);
        assert!(close(effect.high, 0.3339, 5e-5), "{}", effect.high);
        assert!(effect.significant());
        // 0.2 more retained of a control churn rate of 0.4: half the churners kept.
        assert!(close(effect.save_rate.expect("rate"), 0.5, 1e-12));
    }

    #[test]
    fn no_effect_and_empty_arms() {
        let same = Arm {
            customers: 100,
            churned: 20,
        };
        let effect = uplift(same, same).expect("uplift");
        assert_eq!(effect.difference, 0.0);
        assert!(effect.low < 0.0 && effect.high > 0.0 && !effect.significant());
        assert!(uplift(same, Arm::default()).is_none());
        let nobody_churned = Arm {
            customers: 50,
            churned: 0,
        };
        assert!(
            uplift(same, nobody_churned)
                .expect("uplift")
                .save_rate
                .is_none()
        );
    }
}
