//! The playbook's decisions: expected-value cut-off, budget, caps, cool-downs, opt-outs,
//! rule order, determinism, templates, control groups and validation.

use std::collections::BTreeMap;

use churn_core::Tier;
use churn_core::playbook::{
    Candidate, Channel, ContactHistory, Day, Playbook, SkipReason, action_key, control_draw, plan,
};

fn playbook(json: serde_json::Value) -> Playbook {
    let playbook: Playbook = serde_json::from_value(json).expect("playbook parses");
    playbook.validate().expect("playbook is valid");
    playbook
}

/// The textbook case: a customer worth $500, an offer costing $100 that saves every
/// churner it reaches.
fn textbook() -> Playbook {
    playbook(serde_json::json!({
        "format": 1,
        "revision": "test-1",
        "value": { "expected_months": 10 },
        "budget": { "daily": 1_000_000 },
        "actions": [{
            "id": "offer", "kind": "discount", "channel": "email", "cost": 100,
            "discount_amount": 0, "save_rate": 1.0,
            "subject": "A gift", "body": "Use {offer_code}"
        }],
        "rules": [{ "name": "everyone", "actions": ["offer"] }]
    }))
}

fn candidate(id: &str, probability: f64, tier: Tier) -> Candidate {
    Candidate {
        customer_id: id.into(),
        probability,
        tier,
        reasons: vec!["late payment count 90d = 2".into()],
        monthly_charge: Some(50.0),
        segment: BTreeMap::new(),
        email: Some(format!("{id}@example.com")),
        phone: Some("+15550000001".into()),
        opted_out: false,
        do_not_contact: false,
    }
}

fn day(text: &str) -> Day {
    Day::parse(text).expect("date")
}

#[test]
fn acts_where_the_expected_gain_is_positive_well_below_one_half() {
    let playbook = textbook();
    let candidates = [
        candidate("A", 0.19, Tier::Low),
        candidate("B", 0.21, Tier::Low),
        candidate("C", 0.45, Tier::Medium),
    ];
    let plan = plan(
        &playbook,
        day("2026-12-01"),
        &candidates,
        &ContactHistory::default(),
    );
    let acted: Vec<&str> = plan
        .actions
        .iter()
        .filter(|a| a.action == "offer")
        .map(|a| a.customer_id.as_str())
        .collect();
    // Best first: C gains 0.45 x 500 - 100 = 125, B gains 5.
    assert_eq!(acted, ["C", "B"]);
    let skip = &plan.skipped[0];
    assert_eq!(
        (skip.customer_id.as_str(), skip.reason),
        ("A", SkipReason::NotWorthIt)
    );
    assert!(
        skip.detail.contains("expected gain -5.00"),
        "{}",
        skip.detail
    );
    assert!((plan.summary.expected_cost - 200.0).abs() < 1e-9);
    assert!((plan.summary.expected_saved - (0.45 + 0.21) * 500.0).abs() < 1e-9);
    assert!((plan.summary.expected_net - (0.66 * 500.0 - 200.0)).abs() < 1e-9);
}

#[test]
fn the_daily_budget_goes_to_the_best_customers_first() {
    let mut playbook = textbook();
    playbook.budget.daily = 250.0;
    let candidates: Vec<Candidate> = [0.9, 0.5, 0.7, 0.3, 0.8]
        .iter()
        .enumerate()
        .map(|(i, p)| candidate(&format!("C{i}"), *p, Tier::High))
        .collect();
    let plan = plan(
        &playbook,
        day("2026-12-01"),
        &candidates,
        &ContactHistory::default(),
    );
    let acted: Vec<&str> = plan
        .actions
        .iter()
        .filter(|a| a.action == "offer")
        .map(|a| a.customer_id.as_str())
        .collect();
    assert_eq!(acted, ["C0", "C4"]);
    assert_eq!(plan.summary.skipped.get("budget"), Some(&3));
    assert!((plan.summary.budget_left - 50.0).abs() < 1e-9);
    assert!(plan.skipped.iter().all(|s| {
        s.detail
            .contains("50.00 of the daily budget of 250.00 is left")
    }));
}

fn two_channels() -> Playbook {
    playbook(serde_json::json!({
        "format": 1,
        "revision": "test-2",
        "value": { "expected_months": 12 },
        "budget": { "daily": 10_000 },
        "caps": { "email": 1 },
        "actions": [
            { "id": "email-20", "kind": "discount", "channel": "email", "cost": 1,
              "discount_percent": 20, "discount_months": 3, "save_rate": 0.3, "cooldown_days": 30,
              "subject": "{discount_percent}% off", "body": "{discount_percent}% off for {discount_months} months: {discount_amount} {currency} with {offer_code}" },
            { "id": "sms-20", "kind": "discount", "channel": "sms", "cost": 2,
              "discount_percent": 20, "discount_months": 3, "save_rate": 0.25,
              "body": "{discount_percent}% off: {offer_code}" },
            { "id": "call", "kind": "call", "cost": 15, "save_rate": 0.35 },
            { "id": "priority", "kind": "support_priority", "save_rate": 0.05 }
        ],
        "rules": [
            { "name": "high", "tiers": ["high"], "actions": ["email-20", "sms-20", "call"] },
            { "name": "medium-month-to-month", "tiers": ["medium"],
              "segment": { "contract_type": ["Month-to-Month"] }, "actions": ["priority"] },
            { "name": "medium-rest", "tiers": ["medium"], "actions": [] }
        ]
    }))
}

#[test]
fn caps_send_the_next_customer_to_the_next_best_channel() {
    let playbook = two_channels();
    let mut low_value = candidate("B", 0.8, Tier::High);
    low_value.monthly_charge = Some(5.0);
    let candidates = [candidate("A", 0.9, Tier::High), low_value];
    let plan = plan(
        &playbook,
        day("2026-12-01"),
        &candidates,
        &ContactHistory::default(),
    );
    let chosen: BTreeMap<&str, &str> = plan
        .actions
        .iter()
        .filter(|a| a.action != "crm-sync")
        .map(|a| (a.customer_id.as_str(), a.action.as_str()))
        .collect();
    // A: email 0.9*0.3*600 - 31 = 131; call 0.9*0.35*600 - 15 = 174 -> call.
    // B: worth 60: email 0.8*0.3*60 - 4 = 10.4 (best), then the sms.
    assert_eq!(chosen, BTreeMap::from([("A", "call"), ("B", "email-20")]));

    // With two cheap customers, the second email hits the cap and goes by text.
    let mut c = candidate("C", 0.7, Tier::High);
    c.monthly_charge = Some(5.0);
    let mut b = candidate("B", 0.8, Tier::High);
    b.monthly_charge = Some(5.0);
    let plan = churn_core::playbook::plan(
        &playbook,
        day("2026-12-01"),
        &[b, c],
        &ContactHistory::default(),
    );
    let chosen: BTreeMap<&str, &str> = plan
        .actions
        .iter()
        .filter(|a| a.action != "crm-sync")
        .map(|a| (a.customer_id.as_str(), a.action.as_str()))
        .collect();
    assert_eq!(chosen, BTreeMap::from([("B", "email-20"), ("C", "sms-20")]));
    assert_eq!(plan.summary.by_channel.get("sms"), Some(&1));
}

#[test]
fn cool_downs_opt_outs_and_do_not_contact_are_honoured() {
    let playbook = two_channels();
    let mut history = ContactHistory::default();
    history.record("A", "discount", day("2026-11-20"));
    history.record("A", "discount", day("2026-11-10"));
    let mut a = candidate("A", 0.9, Tier::High);
    a.monthly_charge = Some(5.0);
    let mut b = candidate("B", 0.9, Tier::High);
    b.opted_out = true;
    let mut c = candidate("C", 0.9, Tier::High);
    c.do_not_contact = true;
    let mut d = candidate("D", 0.6, Tier::Medium);
    d.do_not_contact = true;
    d.segment
        .insert("contract_type".into(), "month-to-month".into());
    let plan = plan(
        &playbook,
        day("2026-12-01"),
        &[a, b, c, d],
        &ContactHistory::clone(&history),
    );
    let chosen: BTreeMap<&str, &str> = plan
        .actions
        .iter()
        .filter(|a| a.action != "crm-sync")
        .map(|a| (a.customer_id.as_str(), a.action.as_str()))
        .collect();
    // A: the e-mail discount is cooling down until 2026-12-20; the text discount (no
    // cool-down of its own) is still allowed.
    // B: opted out of marketing, so no discounts, but a call is no marketing.
    // C: do-not-contact: neither. D: support priority contacts nobody.
    assert_eq!(
        chosen,
        BTreeMap::from([("A", "sms-20"), ("B", "call"), ("D", "priority")])
    );
    let c = plan
        .skipped
        .iter()
        .find(|s| s.customer_id == "C")
        .expect("C skipped");
    assert_eq!(c.reason, SkipReason::DoNotContact);
    assert_eq!(plan.skipped.len(), 1);

    // A sent-by-text discount counts for the e-mail discount's cool-down too.
    let mut history = ContactHistory::default();
    history.record("A", "discount", day("2026-11-20"));
    let mut a = candidate("A", 0.9, Tier::High);
    a.monthly_charge = Some(5.0);
    let mut only_email = playbook.clone();
    only_email.rules[0].actions = vec!["email-20".into()];
    let plan = churn_core::playbook::plan(&only_email, day("2026-12-01"), &[a.clone()], &history);
    assert_eq!(plan.skipped[0].reason, SkipReason::CoolDown);
    assert!(
        plan.skipped[0].detail.contains("next from 2026-12-20"),
        "{}",
        plan.skipped[0].detail
    );
    let plan = churn_core::playbook::plan(&only_email, day("2026-12-20"), &[a], &history);
    assert_eq!(plan.actions[0].action, "email-20");
}

#[test]
fn the_first_matching_rule_decides_and_crm_sync_covers_the_synced_tiers() {
    let playbook = two_channels();
    let mut month = candidate("M", 0.5, Tier::Medium);
    month
        .segment
        .insert("contract_type".into(), " Month_to_Month ".into());
    let mut year = candidate("Y", 0.5, Tier::Medium);
    year.segment
        .insert("contract_type".into(), "one-year".into());
    let low = candidate("L", 0.1, Tier::Low);
    let plan = plan(
        &playbook,
        day("2026-12-01"),
        &[low, year, month],
        &ContactHistory::default(),
    );
    let retention: Vec<(&str, &str)> = plan
        .actions
        .iter()
        .filter(|a| a.action != "crm-sync")
        .map(|a| (a.customer_id.as_str(), a.action.as_str()))
        .collect();
    assert_eq!(retention, [("M", "priority")]);
    let reasons: BTreeMap<&str, SkipReason> = plan
        .skipped
        .iter()
        .map(|s| (s.customer_id.as_str(), s.reason))
        .collect();
    assert_eq!(
        reasons,
        BTreeMap::from([
            ("L", SkipReason::NoRule),
            ("Y", SkipReason::RuleDoesNothing)
        ])
    );
    let synced: Vec<&str> = plan
        .actions
        .iter()
        .filter(|a| a.action == "crm-sync")
        .map(|a| a.customer_id.as_str())
        .collect();
    assert_eq!(synced, ["M", "Y"]);
    assert_eq!(plan.summary.crm_syncs, 2);
}

#[test]
fn the_same_inputs_in_any_order_give_the_same_plan() {
    let mut playbook = two_channels();
    playbook.budget.daily = 400.0;
    let candidates: Vec<Candidate> = (0..200)
        .map(|i| {
            let mut c = candidate(&format!("C{i:03}"), f64::from(i % 97) / 100.0, Tier::High);
            c.monthly_charge = Some(f64::from(10 + i % 13 * 7));
            c.opted_out = i % 11 == 0;
            c
        })
        .collect();
    let first = plan(
        &playbook,
        day("2026-12-01"),
        &candidates,
        &ContactHistory::default(),
    );
    let mut reversed = candidates.clone();
    reversed.reverse();
    let second = plan(
        &playbook,
        day("2026-12-01"),
        &reversed,
        &ContactHistory::default(),
    );
    assert_eq!(first, second);
    assert!(first.summary.expected_cost <= 400.0 + 1e-9);
    assert!(first.summary.budget_left >= -1e-9);
    // Every customer is either acted on or skipped with a reason.
    let acted = first
        .actions
        .iter()
        .filter(|a| a.action != "crm-sync")
        .count();
    assert_eq!(acted + first.skipped.len(), candidates.len());
}

#[test]
fn messages_and_tasks_are_filled_in() {
    let playbook = two_channels();
    let mut b = candidate("B", 0.8, Tier::High);
    b.monthly_charge = Some(5.0);
    let plan = plan(
        &playbook,
        day("2026-12-01"),
        &[b],
        &ContactHistory::default(),
    );
    let email = &plan.actions[0];
    assert_eq!(email.channel, Channel::Email);
    assert_eq!(email.key, "2026-12-01/email-20/B");
    assert_eq!(email.cooldown_group.as_deref(), Some("discount"));
    let message = email.message.as_ref().expect("a message");
    let code = message.offer_code.as_deref().expect("an offer code");
    assert!(code.starts_with("SAVE-") && code.len() == 15, "{code}");
    assert_eq!(message.subject.as_deref(), Some("20% off"));
    assert_eq!(
        message.body,
        format!("20% off for 3 months: 3.00 USD with {code}")
    );
    assert_eq!(email.email.as_deref(), Some("B@example.com"));
    assert_eq!(email.phone, None, "an e-mail carries no phone number");

    let a = candidate("A", 0.9, Tier::High);
    let plan = churn_core::playbook::plan(
        &playbook,
        day("2026-12-01"),
        &[a],
        &ContactHistory::default(),
    );
    let task = plan.actions[0].task.as_ref().expect("a call task");
    assert_eq!(task.subject, "Call A: churn risk 90%");
    assert_eq!(task.body, "Why: late payment count 90d = 2");
    assert_eq!(task.due.to_string(), "2026-12-02");
}

#[test]
fn validation_names_every_mistake() {
    let playbook: Playbook = serde_json::from_value(serde_json::json!({
        "format": 2,
        "revision": "",
        "value": { "expected_months": 0 },
        "budget": { "daily": -1 },
        "control_share": 0.6,
        "actions": [
            { "id": "Bad Id", "kind": "discount", "channel": "call", "save_rate": 1.5 },
            { "id": "msg", "kind": "message", "channel": "email", "save_rate": 0.1,
              "body": "Hi {first_name}" },
            { "id": "msg", "kind": "call", "channel": "sms", "save_rate": 0.1 }
        ],
        "rules": [{ "name": "r", "actions": ["missing"], "min_probability": 2 }]
    }))
    .expect("parses");
    let problems = playbook.validate().expect_err("invalid");
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    for expected in [
        "format",
        "revision",
        "value.expected_months",
        "budget.daily",
        "control_share",
        "actions[0].id",
        "actions[0] (Bad Id).save_rate",
        "actions[0] (Bad Id).channel",
        "actions[0] (Bad Id).discount_percent",
        "actions[0] (Bad Id).body",
        "actions[1] (msg).subject",
        "actions[1] (msg).body",
        "actions[2].id",
        "actions[2] (msg).channel",
        "rules[0] (r).actions",
        "rules[0] (r).min_probability",
    ] {
        assert!(
            fields.contains(&expected),
            "no problem at {expected}: {problems:#?}"
        );
    }
    let unknown = problems
        .iter()
        .find(|p| p.field == "actions[1] (msg).body")
        .expect("body");
    assert!(unknown.message.contains("unknown placeholder {first_name}"));
    assert!(problems[0].message.contains("upgrade churn"));

    // Unknown fields are refused by the parser, with their name.
    let typo = serde_json::from_value::<Playbook>(serde_json::json!({
        "format": 1, "revision": "x", "value": { "expected_months": 1 },
        "budget": { "daily": 1 }, "actions": [], "rules": [], "budgets": {}
    }))
    .expect_err("unknown field");
    assert!(typo.to_string().contains("budgets"), "{typo}");
}

#[test]
fn control_draws_are_deterministic_and_unbiased() {
    // 200,000 keys of realistic shape: the share drawn below 0.1 lies within four
    // standard deviations of the binomial's mean, and so does every tenth of [0, 1).
    let n = 200_000;
    let mut deciles = [0u64; 10];
    for i in 0..n {
        let key = action_key(day("2026-12-01"), &format!("C{i:07}"), "discount-20-email");
        let draw = control_draw(&key);
        assert!((0.0..1.0).contains(&draw));
        assert_eq!(draw, control_draw(&key), "deterministic");
        deciles[(draw * 10.0) as usize] += 1;
    }
    let sd = (n as f64 * 0.1 * 0.9).sqrt();
    for (decile, count) in deciles.iter().enumerate() {
        assert!(
            (*count as f64 - n as f64 * 0.1).abs() < 4.0 * sd,
            "decile {decile}: {count} of {n}"
        );
    }
    // Another day or action draws again.
    let key = |date: &str, action: &str| control_draw(&action_key(day(date), "C1", action));
    assert_ne!(key("2026-12-01", "a"), key("2026-12-02", "a"));
    assert_ne!(key("2026-12-01", "a"), key("2026-12-01", "b"));
}

#[test]
fn controls_are_held_back_from_the_same_eligible_customers_and_spend_nothing() {
    let mut playbook = textbook();
    playbook.control_share = 0.2;
    playbook.budget.daily = 100.0 * 400.0;
    let candidates: Vec<Candidate> = (0..1000)
        .map(|i| {
            candidate(
                &format!("C{i:04}"),
                0.3 + 0.6 * (i as f64 / 1000.0),
                Tier::Low,
            )
        })
        .collect();
    let date = day("2026-12-01");
    let plan = plan(&playbook, date, &candidates, &ContactHistory::default());
    let treated: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| a.action == "offer")
        .collect();
    let controls: Vec<_> = plan
        .skipped
        .iter()
        .filter(|s| s.reason == SkipReason::Control)
        .collect();
    // The whole budget is spent on treated customers; controls cost nothing.
    assert_eq!(treated.len(), 400);
    assert!((plan.summary.expected_cost - 40_000.0).abs() < 1e-6);
    // Exactly the customers whose draw falls below the share, among those ranked before
    // the budget ran out, are controls.
    let held = controls.len();
    assert_eq!(plan.summary.controls.get("offer"), Some(&(held as u64)));
    assert_eq!(plan.summary.skipped.get("control"), Some(&(held as u64)));
    for control in &controls {
        let held_back = control.held_back.as_ref().expect("held back");
        assert_eq!(held_back.action, "offer");
        assert_eq!(
            held_back.key,
            action_key(date, &control.customer_id, "offer")
        );
        assert!(control_draw(&held_back.key) < 0.2);
        assert!((held_back.expected_saved - control.probability * 500.0).abs() < 1e-9);
        assert!(control.detail.contains("held back as control from offer"));
    }
    for action in &treated {
        assert!(control_draw(&action.key) >= 0.2);
    }
    let share = held as f64 / (held + treated.len()) as f64;
    assert!((0.14..0.26).contains(&share), "{share}");
    // Drawn from the same stretch of the ranking: the lowest treated and the lowest
    // control probability are near each other, and no control ranks below every treated.
    let lowest = |p: &mut dyn Iterator<Item = f64>| p.fold(f64::INFINITY, f64::min);
    let lowest_treated = lowest(&mut treated.iter().map(|a| a.probability));
    let lowest_control = lowest(&mut controls.iter().map(|s| s.probability));
    assert!(
        lowest_control >= lowest_treated - 0.01,
        "{lowest_control} {lowest_treated}"
    );
    // The low tier is not synced: the CRM hears of the treated only, not of the controls.
    let synced: std::collections::BTreeSet<&str> = plan
        .actions
        .iter()
        .filter(|a| a.action == churn_core::playbook::CRM_SYNC)
        .map(|a| a.customer_id.as_str())
        .collect();
    let treated_ids: std::collections::BTreeSet<&str> =
        treated.iter().map(|a| a.customer_id.as_str()).collect();
    assert_eq!(synced, treated_ids);

    // Without a control share nobody is held back, and the plan is today's.
    playbook.control_share = 0.0;
    let plain =
        churn_core::playbook::plan(&playbook, date, &candidates, &ContactHistory::default());
    assert!(
        plain
            .skipped
            .iter()
            .all(|s| s.reason != SkipReason::Control)
    );
    assert!(plain.summary.controls.is_empty());
}
