//! The customer simulation behind the generator.
//!
//! Each customer is simulated month by month from a few hidden traits (engagement,
//! payment reliability, price sensitivity, a baseline satisfaction and an unobservable
//! churn propensity). Churn is a two-step process, as in real subscription businesses:
//! a customer first starts *considering leaving* (driven by contract, tenure,
//! satisfaction, recent price rises, late payments, price level and demographics), which
//! shows as falling usage and more support tickets, and then leaves: at once on a
//! month-to-month contract, mostly at renewal on a term contract. Unpaid invoices also end
//! contracts involuntarily. The observable traces of those causes are what a model can
//! learn; the hidden propensity and the randomness of every step keep it far from perfect.
//!
//! The data is an extract taken at the end of the window: anything that happens after
//! `window_end` (a payment, a ticket closing) is not in it.

use super::value::{Row, Value};
use crate::contract::{CHANNELS, CONTRACT_TYPES, DEVICES, GENDERS, PLANS, REGIONS};
use crate::dates::{add_months, days_in_month, from_days, to_days};
use crate::rng::{Rng, sigmoid};
use chrono::{Datelike, NaiveDate};

/// The simulated window, as day numbers (inclusive).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// First day of the history.
    pub start: i32,
    /// Last day of the history: the extract date.
    pub end: i32,
}

/// All rows one customer contributes to the six sources, in contract column order.
#[derive(Debug, Default)]
pub struct CustomerHistory {
    pub customers: Vec<Row>,
    pub accounts: Vec<Row>,
    pub billing: Vec<Row>,
    pub sessions: Vec<Row>,
    pub tickets: Vec<Row>,
    pub churn_labels: Vec<Row>,
}

const SECONDS_PER_DAY: i64 = 86_400;
const PAYMENT_METHODS: [&str; 4] = [
    "credit-card",
    "bank-transfer",
    "electronic-check",
    "mailed-check",
];
const BASE_CHARGE: [f64; 4] = [25.0, 50.0, 75.0, 100.0];
const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// The customer identifier of the customer with 0-based index `index`.
pub fn customer_id(index: u64) -> String {
    format!("C{:07}", index + 1)
}

struct Traits {
    engagement: f64,
    reliability: f64,
    price_sensitivity: f64,
    baseline_satisfaction: f64,
    propensity: f64,
    session_rate: f64,
    age: i32,
    partner: bool,
    dependents: bool,
}

#[derive(Clone, Copy)]
struct Account {
    number: u32,
    plan: usize,
    contract: usize,
    start: i32,
    charge: f64,
    payment: usize,
    paperless: bool,
}

struct State {
    account: Account,
    satisfaction: f64,
    considering: bool,
    stressed: bool,
    unpaid_streak: u32,
    /// Day of the last price rise, if any.
    last_price_rise: Option<i32>,
    /// Days of late or failed payments (due dates).
    payment_problems: Vec<i32>,
    /// Start of the current relationship (first account after the last return).
    relationship_start: i32,
    open_complaints: u32,
}

/// Simulates customer `index` over `window`.
pub fn simulate(seed: u64, index: u64, window: Window) -> CustomerHistory {
    let mut rng = Rng::for_stream(seed, index);
    let id = customer_id(index);
    let end_year = from_days(window.end).year();
    let mut history = CustomerHistory::default();

    // Signup: a little over half were already customers when the window opened.
    let signup = if rng.chance(0.55) {
        window.start - 1 - rng.exponential(700.0).min(3000.0) as i32
    } else {
        window.start + rng.below((window.end - window.start - 30).max(1) as u64) as i32
    };

    let age = (45.0 + 15.0 * rng.normal()).round().clamp(18.0, 90.0) as i32;
    let traits = Traits {
        engagement: rng.normal(),
        reliability: rng.normal(),
        price_sensitivity: rng.normal(),
        baseline_satisfaction: 0.5 * rng.normal(),
        propensity: 0.7 * rng.normal(),
        session_rate: rng.lognormal(0.06, 0.6),
        age,
        partner: rng.chance(0.48),
        dependents: rng.chance(0.3),
    };
    let gender = match rng.weighted(&[0.49, 0.49, 0.01, 0.01]) {
        3 => Value::Null,
        i => Value::text(GENDERS[i]),
    };
    let region = Value::text(REGIONS[rng.weighted(&[0.22, 0.2, 0.2, 0.18, 0.2])]);
    let channel = CHANNELS[rng.weighted(&[0.35, 0.2, 0.2, 0.15, 0.1])];
    history.customers.push(vec![
        Value::Str(id.clone()),
        Value::Date(signup),
        Value::Int(i64::from(end_year - age)),
        gender,
        region,
        Value::Bool(traits.partner),
        Value::Bool(traits.dependents),
        Value::text(channel),
        Value::Str(format!("{}@example.com", id.to_lowercase())),
        Value::Str(format!("+1555{:07}", index % 10_000_000)),
        Value::Bool(rng.chance(0.05)),
        // From a stream of its own, so the rest of the simulation is what it was before
        // the column existed.
        Value::Bool(Rng::for_stream(seed ^ 0x000d_0c01_7ac7, index).chance(0.01)),
    ]);

    let long_term_pull = 0.4 * f64::from(traits.partner)
        + 0.3 * f64::from(traits.dependents)
        + 0.02 * f64::from(age - 45)
        + if channel == "retail-store" { 0.4 } else { 0.0 };
    let first_account = new_account(&mut rng, 1, signup, long_term_pull);
    let mut state = State {
        satisfaction: traits.baseline_satisfaction,
        considering: false,
        stressed: false,
        unpaid_streak: 0,
        last_price_rise: None,
        payment_problems: Vec::new(),
        relationship_start: signup,
        open_complaints: 0,
        account: first_account,
    };
    let mut invoice_number = 0u32;
    let mut ticket_number = 0u32;

    let mut month_start = month_floor(from_days(signup.max(window.start)));
    let mut active_from = signup.max(window.start);
    // Set while the customer is away after a churn: the day they come back.
    let mut returns_on: Option<i32> = None;

    while to_days(month_start) <= window.end {
        let first_day = to_days(month_start);
        let last_day = (first_day + days_in_month(month_start.year(), month_start.month()) as i32
            - 1)
        .min(window.end);
        let next_month = add_months(month_start, 1);
        if let Some(day) = returns_on {
            if day > last_day {
                month_start = next_month;
                continue;
            }
            // Back again: a new relationship, mostly month-to-month.
            state.account = new_account(&mut rng, state.account.number + 1, day, -0.8);
            state.relationship_start = day;
            state.satisfaction = traits.baseline_satisfaction;
            state.considering = false;
            state.unpaid_streak = 0;
            state.payment_problems.clear();
            active_from = day;
            returns_on = None;
        }
        let from = active_from.max(first_day);

        // 1. Does the relationship end this month?
        let churn = decide_churn(&mut rng, &traits, &mut state, from);
        let churn_day = churn.map(|_| from + rng.below((last_day - from + 1) as u64) as i32);
        let until = churn_day.map_or(last_day, |day| day - 1);

        // 2. Price rises and plan changes split the account into periods.
        let mut price_rise_now = false;
        if until > from && state.account.start < first_day {
            let rise_chance = if state.account.contract == 0 {
                0.03
            } else {
                0.012
            };
            if rng.chance(rise_chance) {
                let day = from + rng.below((until - from) as u64) as i32;
                let charge = round2(state.account.charge * rng.uniform(1.05, 1.2));
                let next = Account {
                    number: state.account.number + 1,
                    start: day,
                    charge,
                    ..state.account
                };
                close_account(&mut history, &id, &state.account, Some(day - 1));
                state.account = next;
                state.last_price_rise = Some(day);
                price_rise_now = true;
            } else if rng.chance(0.01) {
                let day = from + rng.below((until - from) as u64) as i32;
                let plan = (state.account.plan as i64 + if rng.chance(0.5) { 1 } else { -1 })
                    .clamp(0, 3) as usize;
                let next = Account {
                    number: state.account.number + 1,
                    plan,
                    start: day,
                    charge: round2(BASE_CHARGE[plan] * rng.uniform(0.9, 1.12)),
                    ..state.account
                };
                close_account(&mut history, &id, &state.account, Some(day - 1));
                state.account = next;
            }
        }

        // 3. The month's invoice.
        let mut payment_problem_now = false;
        let billing_day = first_day + from_days(state.account.start).day().min(28) as i32 - 1;
        if billing_day >= from && billing_day <= until {
            invoice_number += 1;
            payment_problem_now = bill(
                &mut rng,
                &mut history,
                &id,
                invoice_number,
                billing_day,
                &traits,
                &mut state,
                window,
            );
        }

        // 4. Usage: falls with satisfaction, and sharply while considering leaving.
        if until >= from {
            let rate = traits.session_rate
                * (0.45 * traits.engagement + 0.5 * state.satisfaction).exp()
                * if state.considering { 0.4 } else { 1.0 };
            let count = rng.poisson(rate * f64::from(until - from + 1));
            let mut starts: Vec<i64> = (0..count)
                .map(|_| session_start(&mut rng, from, until))
                .collect();
            starts.sort_unstable();
            starts.dedup();
            for started in starts {
                history
                    .sessions
                    .push(session_row(&mut rng, &id, started, traits.engagement));
            }
        }

        // 5. Support tickets.
        if until >= from {
            let rate = 0.03
                + 0.12 * sigmoid(-1.5 * state.satisfaction - 1.0)
                + 0.25 * f64::from(payment_problem_now)
                + 0.2 * f64::from(price_rise_now)
                + if state.considering { 0.3 } else { 0.0 };
            for _ in 0..rng.poisson(rate) {
                ticket_number += 1;
                let opened = session_start(&mut rng, from, until);
                ticket(
                    &mut rng,
                    &mut history,
                    &id,
                    ticket_number,
                    opened,
                    &mut state,
                    payment_problem_now || price_rise_now,
                    window,
                );
            }
        }

        // 6. Satisfaction drifts back to its baseline, knocked by what happened.
        state.satisfaction =
            0.8 * state.satisfaction + 0.2 * traits.baseline_satisfaction + 0.3 * rng.normal()
                - if price_rise_now {
                    0.5 * (1.0 + 0.5 * traits.price_sensitivity)
                } else {
                    0.0
                }
                - 0.2 * f64::from(payment_problem_now);

        if let (Some(day), Some(kind)) = (churn_day, churn) {
            close_account(&mut history, &id, &state.account, Some(day));
            history.churn_labels.push(vec![
                Value::Str(id.clone()),
                Value::Date(day),
                Value::text(kind),
            ]);
            if rng.chance(0.12) {
                let gap_months = 1 + rng.poisson(4.0) as i32;
                let back = add_months(from_days(day), gap_months);
                returns_on = Some(to_days(back));
            } else {
                return history;
            }
        }
        month_start = next_month;
    }
    if returns_on.is_none() {
        close_account(&mut history, &id, &state.account, None);
    }
    history
}

fn month_floor(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn new_account(rng: &mut Rng, number: u32, start: i32, long_term_pull: f64) -> Account {
    let plan = rng.weighted(&[0.25, 0.35, 0.28, 0.12]);
    let contract = rng.weighted(&[
        0.55,
        0.23 * (0.5 * long_term_pull).exp(),
        0.22 * long_term_pull.exp(),
    ]);
    let payment = rng.weighted(&[0.23, 0.23, if contract == 0 { 0.45 } else { 0.2 }, 0.21]);
    Account {
        number,
        plan,
        contract,
        start,
        charge: round2(BASE_CHARGE[plan] * rng.uniform(0.9, 1.12)),
        payment,
        paperless: rng.chance(0.6),
    }
}

fn close_account(history: &mut CustomerHistory, id: &str, account: &Account, end: Option<i32>) {
    history.accounts.push(vec![
        Value::Str(format!("A{}-{}", &id[1..], account.number)),
        Value::Str(id.to_owned()),
        Value::text(PLANS[account.plan]),
        Value::text(CONTRACT_TYPES[account.contract]),
        Value::Date(account.start),
        end.map_or(Value::Null, Value::Date),
        Value::Float(account.charge),
        Value::text(PAYMENT_METHODS[account.payment]),
        Value::Bool(account.paperless),
    ]);
}

/// Months into the current contract term, and whether this month is a renewal month.
fn renewal_month(account: &Account, day: i32) -> bool {
    let term_days = match account.contract {
        1 => 365,
        2 => 730,
        _ => return false,
    };
    let into_term = (day - account.start).rem_euclid(term_days);
    into_term >= term_days - 31
}

fn decide_churn(
    rng: &mut Rng,
    traits: &Traits,
    state: &mut State,
    day: i32,
) -> Option<&'static str> {
    if state.unpaid_streak >= 2 && rng.chance(0.6) {
        return Some("involuntary");
    }
    let renewal = renewal_month(&state.account, day);
    if state.considering {
        let leave = match (state.account.contract, renewal) {
            (0, _) => 0.5,
            (_, true) => 0.6,
            (_, false) => 0.06,
        };
        if rng.chance(leave) {
            return Some("voluntary");
        }
        if rng.chance(0.2) {
            state.considering = false;
        }
        return None;
    }
    let tenure_months = f64::from((day - state.relationship_start).max(0)) / 30.4;
    let contract_effect = match (state.account.contract, renewal) {
        (0, _) => 1.0,
        (1, false) => -0.6,
        (1, true) => 0.6,
        (_, false) => -1.3,
        (_, true) => -0.3,
    };
    let recent_rise = state.last_price_rise.is_some_and(|rise| day - rise <= 90);
    let recent_problems = state
        .payment_problems
        .iter()
        .filter(|due| day - **due <= 90)
        .count()
        .min(3) as f64;
    let logit = -3.4 + traits.propensity + contract_effect
        - 0.3 * (1.0 + tenure_months).ln()
        - 0.9 * state.satisfaction
        + if recent_rise {
            0.8 * (1.0 + 0.5 * traits.price_sensitivity)
        } else {
            0.0
        }
        + 0.35 * recent_problems
        + 0.012 * (state.account.charge - 60.0) * (1.0 + 0.3 * traits.price_sensitivity)
        + if state.account.payment == 2 { 0.3 } else { 0.0 }
        + if state.account.paperless { 0.15 } else { 0.0 }
        - 0.25 * f64::from(traits.partner)
        - 0.2 * f64::from(traits.dependents)
        + if traits.age >= 65 { 0.25 } else { 0.0 }
        + 0.5 * f64::from(state.open_complaints.min(2));
    state.open_complaints = 0;
    if rng.chance(sigmoid(logit)) {
        state.considering = true;
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn bill(
    rng: &mut Rng,
    history: &mut CustomerHistory,
    id: &str,
    number: u32,
    invoice_day: i32,
    traits: &Traits,
    state: &mut State,
    window: Window,
) -> bool {
    if rng.chance(if state.stressed {
        0.25
    } else {
        0.02 + 0.02 * f64::from(traits.reliability < -1.0)
    }) {
        state.stressed = !state.stressed;
    }
    let due = invoice_day + 14;
    let amount = round2(state.account.charge * rng.uniform(0.97, 1.06));
    let automatic = state.account.payment < 2;
    let pressure = -0.9 * traits.reliability
        + 1.8 * f64::from(state.stressed)
        + 0.4 * f64::from(state.considering);
    let (status, mut paid, problem) = if automatic {
        if rng.chance(sigmoid(-3.6 + pressure)) {
            let paid = rng.chance(0.6).then(|| due + 2 + rng.below(19) as i32);
            ("failed", paid, true)
        } else {
            ("paid", Some(due - rng.below(3) as i32), false)
        }
    } else {
        let echeck = if state.account.payment == 2 { 0.3 } else { 0.0 };
        if rng.chance(sigmoid(-2.2 + pressure + echeck)) {
            if rng.chance(0.08) {
                ("open", None, true)
            } else {
                let days_late = 1 + rng.exponential(8.0).min(60.0) as i32;
                ("paid", Some(due + days_late), true)
            }
        } else {
            ("paid", Some(invoice_day + rng.below(14) as i32), false)
        }
    };
    if problem {
        state.payment_problems.push(due);
    }
    state.unpaid_streak = if paid.is_none() {
        state.unpaid_streak + 1
    } else {
        0
    };
    // The extract is taken at the window's end: later payments are not known yet.
    let mut status = status;
    if paid.is_some_and(|day| day > window.end) {
        paid = None;
        if status == "paid" {
            status = "open";
        }
    }
    history.billing.push(vec![
        Value::Str(format!("I{}-{number:03}", &id[1..])),
        Value::Str(id.to_owned()),
        Value::Date(invoice_day),
        Value::Date(due),
        Value::Float(amount),
        paid.map_or(Value::Null, Value::Date),
        Value::text(status),
    ]);
    problem
}

/// A start time in seconds on a day in `[from, until]`, mostly in the evening.
fn session_start(rng: &mut Rng, from: i32, until: i32) -> i64 {
    const HOUR_WEIGHTS: [f64; 24] = [
        0.3, 0.15, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.3, 1.2, 1.1, 1.1, 1.4, 1.3, 1.1, 1.1, 1.2, 1.5,
        1.9, 2.2, 2.3, 2.0, 1.4, 0.8,
    ];
    let day = from + rng.below((until - from + 1) as u64) as i32;
    let hour = rng.weighted(&HOUR_WEIGHTS) as i64;
    i64::from(day) * SECONDS_PER_DAY + hour * 3600 + rng.below(3600) as i64
}

fn session_row(rng: &mut Rng, id: &str, started: i64, engagement: f64) -> Row {
    let duration = round1(
        rng.lognormal(8.0 * (0.15 * engagement).exp(), 0.9)
            .clamp(0.1, 600.0),
    );
    let minutes_used = if rng.chance(0.4) {
        0.0
    } else {
        round1(duration * rng.uniform(0.1, 0.9))
    };
    let data = round1(rng.lognormal(35.0 * (0.2 * engagement).exp(), 1.1));
    vec![
        Value::Str(id.to_owned()),
        Value::Timestamp(started),
        Value::Float(duration),
        Value::Float(minutes_used),
        Value::Float(data),
        Value::text(DEVICES[rng.weighted(&[0.6, 0.1, 0.22, 0.08])]),
    ]
}

#[allow(clippy::too_many_arguments)]
fn ticket(
    rng: &mut Rng,
    history: &mut CustomerHistory,
    id: &str,
    number: u32,
    opened: i64,
    state: &mut State,
    billing_trouble: bool,
    window: Window,
) {
    let unhappy = state.satisfaction < -0.5;
    let category = [
        "billing",
        "technical",
        "account",
        "complaint",
        "cancellation",
        "other",
    ][rng.weighted(&[
        if billing_trouble { 0.6 } else { 0.2 },
        0.35,
        0.15,
        if unhappy { 0.35 } else { 0.08 },
        if state.considering { 0.45 } else { 0.01 },
        0.18,
    ])];
    let complaint = matches!(category, "complaint" | "cancellation");
    let severity = SEVERITIES[rng.weighted(&[0.4, 0.35, if complaint { 0.35 } else { 0.2 }, 0.05])];
    let hours = rng.lognormal(18.0, 1.2);
    let closed = opened + (hours * 3600.0) as i64;
    let window_end = (i64::from(window.end) + 1) * SECONDS_PER_DAY;
    let (closed_at, satisfaction) = if closed >= window_end || rng.chance(0.02) {
        (Value::Null, Value::Null)
    } else {
        let score = (3.6 + 0.8 * state.satisfaction
            - 0.3 * (hours / 18.0).ln()
            - if complaint { 0.8 } else { 0.0 }
            + 0.8 * rng.normal())
        .round()
        .clamp(1.0, 5.0) as i64;
        let answered = rng.chance(0.55);
        if answered && score <= 2 {
            state.satisfaction -= 0.15;
        }
        (
            Value::Timestamp(closed),
            if answered {
                Value::Int(score)
            } else {
                Value::Null
            },
        )
    };
    if matches!(category, "complaint" | "technical") {
        state.satisfaction -= 0.3;
        state.open_complaints += u32::from(category == "complaint");
    }
    history.tickets.push(vec![
        Value::Str(format!("T{}-{number:03}", &id[1..])),
        Value::Str(id.to_owned()),
        Value::Timestamp(opened),
        closed_at,
        Value::text(category),
        Value::text(severity),
        satisfaction,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Source;
    use crate::dates::parse_date;

    fn window() -> Window {
        Window {
            start: to_days(parse_date("2025-05-01", "t").expect("date")),
            end: to_days(parse_date("2026-10-31", "t").expect("date")),
        }
    }

    #[test]
    fn rows_match_the_contract_arity() {
        for index in 0..200 {
            let history = simulate(3, index, window());
            let sets = [
                (Source::Customers, &history.customers),
                (Source::Accounts, &history.accounts),
                (Source::Billing, &history.billing),
                (Source::Sessions, &history.sessions),
                (Source::Tickets, &history.tickets),
                (Source::ChurnLabels, &history.churn_labels),
            ];
            for (source, rows) in sets {
                for row in rows {
                    assert_eq!(row.len(), source.contract().columns.len(), "{source}");
                }
            }
            assert_eq!(history.customers.len(), 1);
            assert!(!history.accounts.is_empty());
        }
    }

    #[test]
    fn nothing_happens_after_the_extract_date() {
        let w = window();
        let end_seconds = (i64::from(w.end) + 1) * SECONDS_PER_DAY;
        for index in 0..300 {
            let history = simulate(11, index, w);
            for row in history.sessions.iter().chain(&history.tickets) {
                for value in row {
                    if let Value::Timestamp(t) = value {
                        assert!(*t < end_seconds);
                    }
                }
            }
            for row in history
                .billing
                .iter()
                .chain(&history.accounts)
                .chain(&history.churn_labels)
            {
                for value in row {
                    if let Value::Date(d) = value {
                        // Due dates may fall after the extract; everything else may not.
                        assert!(*d <= w.end + 14, "{row:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn same_seed_same_history() {
        let a = simulate(5, 42, window());
        let b = simulate(5, 42, window());
        assert_eq!(format!("{:?}", a.sessions), format!("{:?}", b.sessions));
        let c = simulate(6, 42, window());
        assert_ne!(format!("{:?}", a.sessions), format!("{:?}", c.sessions));
    }
}
