//! One day's plan: for every scored customer, the first rule that matches, the actions it
//! allows, and the one with the best expected gain, chosen greedily best first within
//! the budget and the channel caps.
//!
//! Expected gain of an action for a customer: `p × save_rate × value − cost`, where `p`
//! is the churn probability, `value` what keeping the customer is worth
//! ([`Playbook::customer_value`]) and `cost` what the action costs whether or not it
//! works (its fixed cost plus any discount). An action is only planned when its gain is
//! positive, so with a $500 customer and a $100 offer that saves every churner it
//! reaches, the cut-off is a churn probability of 0.2, not 0.5.
//!
//! With a [`Playbook::control_share`], a customer the greedy pass chooses for an action
//! (within the budget and caps) is held back as control when the draw of
//! [`control_draw`] for `(day, customer, action)` falls below the share: they get nothing,
//! spend nothing, and are listed among the skipped with the action they were held back
//! from ([`HeldBack`]), so treated and control come from the same eligible customers.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::template::render;
use super::{ActionDef, ActionKind, Channel, Day, Playbook, Rule, TaskPriority};
use crate::{Fnv64, Tier, normalize_category};

/// A scored customer, with what the playbook needs to decide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub customer_id: String,
    /// Calibrated churn probability.
    pub probability: f64,
    pub tier: Tier,
    /// Top reasons, as people read them.
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub monthly_charge: Option<f64>,
    /// Segment attributes (`contract_type`, `plan`, ...), compared after category
    /// normalisation.
    #[serde(default)]
    pub segment: BTreeMap<String, String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Asked for no marketing: no offers or messages.
    #[serde(default)]
    pub opted_out: bool,
    /// Must not be contacted at all: no messages and no calls.
    #[serde(default)]
    pub do_not_contact: bool,
}

/// When each customer last got an action of each cool-down group (from the ledger).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactHistory {
    last: BTreeMap<(String, String), Day>,
}

impl ContactHistory {
    /// Records that `customer` got an action of `group` on `day` (the latest day wins).
    pub fn record(&mut self, customer: &str, group: &str, day: Day) {
        let entry = self
            .last
            .entry((customer.to_owned(), group.to_owned()))
            .or_insert(day);
        *entry = (*entry).max(day);
    }

    /// The last day `customer` got an action of `group`.
    pub fn last(&self, customer: &str, group: &str) -> Option<Day> {
        self.last
            .get(&(customer.to_owned(), group.to_owned()))
            .copied()
    }

    /// Entries recorded.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// E-mail subject or push title.
    #[serde(default)]
    pub subject: Option<String>,
    pub body: String,
    /// The offer's code, for discounts.
    #[serde(default)]
    pub offer_code: Option<String>,
}

/// A task for the account owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub subject: String,
    pub body: String,
    pub priority: TaskPriority,
    pub due: Day,
}

/// One decided action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAction {
    /// The idempotency key `(day, customer, action)`: sent at most once.
    pub key: String,
    pub customer_id: String,
    /// Action id (`crm-sync` for the risk properties).
    pub action: String,
    pub kind: ActionKind,
    pub channel: Channel,
    /// The rule that chose it.
    #[serde(default)]
    pub rule: Option<String>,
    pub probability: f64,
    pub tier: Tier,
    #[serde(default)]
    pub reasons: Vec<String>,
    /// What keeping the customer is worth.
    pub customer_value: f64,
    pub cost: f64,
    /// `p × save_rate × value`.
    pub expected_saved: f64,
    /// `expected_saved − cost`.
    pub expected_gain: f64,
    /// Why this action, in words.
    pub why: String,
    /// Cool-down group recorded when sent (none for CRM syncs).
    #[serde(default)]
    pub cooldown_group: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub task: Option<Task>,
}

/// Why a customer gets nothing (or not a given action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No rule matches the customer.
    NoRule,
    /// The matching rule says to do nothing.
    RuleDoesNothing,
    /// Opted out of marketing.
    OptedOut,
    /// Flagged do-not-contact.
    DoNotContact,
    /// An e-mail action and no address.
    NoEmail,
    /// A text message and no phone number.
    NoPhone,
    /// Got an action of the same group too recently.
    CoolDown,
    /// The expected gain is not positive.
    NotWorthIt,
    /// The day's budget is spent.
    Budget,
    /// The channel's daily cap is reached.
    Cap,
    /// Chosen for an action and held back as control (see [`HeldBack`]).
    Control,
}

impl SkipReason {
    /// Snake-case name, as counted in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NoRule => "no_rule",
            SkipReason::RuleDoesNothing => "rule_does_nothing",
            SkipReason::OptedOut => "opted_out",
            SkipReason::DoNotContact => "do_not_contact",
            SkipReason::NoEmail => "no_email",
            SkipReason::NoPhone => "no_phone",
            SkipReason::CoolDown => "cool_down",
            SkipReason::NotWorthIt => "not_worth_it",
            SkipReason::Budget => "budget",
            SkipReason::Cap => "cap",
            SkipReason::Control => "control",
        }
    }
}

/// A customer the plan does not act on, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skip {
    pub customer_id: String,
    pub probability: f64,
    pub tier: Tier,
    #[serde(default)]
    pub rule: Option<String>,
    /// The deciding reason (for the best action the rule allowed).
    pub reason: SkipReason,
    /// Every action considered and why it was not taken.
    pub detail: String,
    /// For a control customer: the action held back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_back: Option<HeldBack>,
}

/// The action a control customer would have got, with what it was expected to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldBack {
    /// The idempotency key the action would have had.
    pub key: String,
    pub action: String,
    pub kind: ActionKind,
    /// Its cool-down group: a control customer is held back from the group for its
    /// cool-down, as if they had got the action, so later days do not treat them.
    pub cooldown_group: String,
    pub customer_value: f64,
    pub cost: f64,
    /// `p × save_rate × value`, had the action been taken.
    pub expected_saved: f64,
}

/// Totals of a plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Customers considered.
    pub candidates: u64,
    /// Retention actions planned, by action id.
    pub planned: BTreeMap<String, u64>,
    /// Retention actions planned, by channel.
    pub by_channel: BTreeMap<String, u64>,
    /// CRM contacts whose risk properties are synced.
    pub crm_syncs: u64,
    /// Customers with no retention action, by deciding reason (`control` among them).
    pub skipped: BTreeMap<String, u64>,
    /// Customers held back as control, by the action held back.
    #[serde(default)]
    pub controls: BTreeMap<String, u64>,
    /// Sum of the planned actions' costs.
    pub expected_cost: f64,
    /// Sum of their expected revenue saved.
    pub expected_saved: f64,
    /// `expected_saved − expected_cost`.
    pub expected_net: f64,
    pub budget: f64,
    pub budget_left: f64,
}

/// The decisions of one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub date: Day,
    /// The playbook's revision.
    pub revision: String,
    pub currency: String,
    /// Retention actions best first, then the CRM syncs.
    pub actions: Vec<PlannedAction>,
    /// Customers with no retention action, by id.
    pub skipped: Vec<Skip>,
    pub summary: PlanSummary,
}

/// The header of a written plan (`plan.json` of `actions/dt=<day>/`); its actions and
/// skipped customers are in files of their own beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanHeader {
    pub date: Day,
    pub revision: String,
    pub currency: String,
    /// Sending started: the plan must not change (and its actions were sent).
    pub frozen: bool,
    pub summary: PlanSummary,
}

/// The id of the CRM risk-property sync in plans and the ledger.
pub const CRM_SYNC: &str = "crm-sync";

/// The uniform draw in `[0, 1)` that decides whether the action of `key` (its
/// [`action_key`]) is held back as control: below the control share, it is. FNV-1a of the
/// key, salted so it is independent of the offer code drawn from the same key, and
/// finished by SplitMix64's mixer so that keys one character apart spread over the
/// whole range. Part of stored plans' meaning: never change it.
pub fn control_draw(key: &str) -> f64 {
    let mut hash = Fnv64::default();
    hash.write_str("control");
    hash.write_str(key);
    let mut z = hash.finish();
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn matches(rule: &Rule, candidate: &Candidate, value: f64) -> bool {
    (rule.tiers.is_empty() || rule.tiers.contains(&candidate.tier))
        && rule
            .min_probability
            .is_none_or(|p| candidate.probability >= p)
        && rule.min_value.is_none_or(|v| value >= v)
        && rule.segment.iter().all(|(attribute, allowed)| {
            candidate.segment.get(attribute).is_some_and(|have| {
                let have = normalize_category(have);
                allowed.iter().any(|want| normalize_category(want) == have)
            })
        })
}

/// Why `action` may not go to `candidate`, if it may not.
fn blocked(
    action: &ActionDef,
    candidate: &Candidate,
    date: Day,
    history: &ContactHistory,
) -> Option<(SkipReason, String)> {
    let channel = action.effective_channel();
    if candidate.do_not_contact && channel.contacts_customer() {
        return Some((SkipReason::DoNotContact, "flagged do-not-contact".into()));
    }
    if candidate.opted_out && channel.is_marketing() {
        return Some((SkipReason::OptedOut, "opted out of marketing".into()));
    }
    let missing = |value: &Option<String>| value.as_deref().is_none_or(|v| v.trim().is_empty());
    if channel == Channel::Email && missing(&candidate.email) {
        return Some((SkipReason::NoEmail, "no e-mail address".into()));
    }
    if channel == Channel::Sms && missing(&candidate.phone) {
        return Some((SkipReason::NoPhone, "no phone number".into()));
    }
    if action.cooldown_days > 0
        && let Some(last) = history.last(&candidate.customer_id, action.group())
    {
        let next = last.plus(action.cooldown_days as i32);
        if date < next {
            return Some((
                SkipReason::CoolDown,
                format!(
                    "cool-down: a {} action on {last}, next from {next}",
                    action.group()
                ),
            ));
        }
    }
    None
}

fn money(x: f64) -> String {
    format!("{x:.2}")
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

struct Option_<'a> {
    candidate: usize,
    position: usize,
    action: &'a ActionDef,
    rule: &'a Rule,
    cost: f64,
    saved: f64,
    gain: f64,
    allowed: usize,
}

/// Plans `date` for the scored `candidates`, given who got what when (`history`).
/// The playbook must have passed [`Playbook::validate`]. The same inputs give the same
/// plan, whatever the candidates' order.
pub fn plan(
    playbook: &Playbook,
    date: Day,
    candidates: &[Candidate],
    history: &ContactHistory,
) -> Plan {
    let values: Vec<f64> = candidates
        .iter()
        .map(|c| playbook.customer_value(c.monthly_charge))
        .collect();
    let mut options: Vec<Option_<'_>> = Vec::new();
    // Per customer: the rule that matched, and why each of its actions was not allowed.
    let mut rules: Vec<Option<&Rule>> = vec![None; candidates.len()];
    let mut refusals: Vec<Vec<(SkipReason, String)>> = vec![Vec::new(); candidates.len()];
    for (index, candidate) in candidates.iter().enumerate() {
        let value = values[index];
        let Some(rule) = playbook
            .rules
            .iter()
            .find(|rule| matches(rule, candidate, value))
        else {
            continue;
        };
        rules[index] = Some(rule);
        let start = options.len();
        for (position, id) in rule.actions.iter().enumerate() {
            let Some(action) = playbook.action(id) else {
                continue;
            };
            if let Some((reason, detail)) = blocked(action, candidate, date, history) {
                refusals[index].push((reason, format!("{id}: {detail}")));
                continue;
            }
            let cost = action.cost_for(candidate.monthly_charge.unwrap_or(0.0));
            let saved = candidate.probability * action.save_rate * value;
            let gain = saved - cost;
            if gain <= 0.0 {
                refusals[index].push((
                    SkipReason::NotWorthIt,
                    format!(
                        "{id}: expected gain {} = {:.3} churn x {:.2} saved x {} value - {} cost",
                        money(gain),
                        candidate.probability,
                        action.save_rate,
                        money(value),
                        money(cost)
                    ),
                ));
                continue;
            }
            options.push(Option_ {
                candidate: index,
                position,
                action,
                rule,
                cost,
                saved,
                gain,
                allowed: 0,
            });
        }
        let allowed = options.len() - start;
        for option in &mut options[start..] {
            option.allowed = allowed;
        }
    }

    // Best first: the greatest expected gain, then the riskiest customer, then by id, so
    // the plan does not depend on the input's order.
    options.sort_by(|a, b| {
        b.gain
            .total_cmp(&a.gain)
            .then_with(|| {
                candidates[b.candidate]
                    .probability
                    .total_cmp(&candidates[a.candidate].probability)
            })
            .then_with(|| {
                candidates[a.candidate]
                    .customer_id
                    .cmp(&candidates[b.candidate].customer_id)
            })
            .then_with(|| a.position.cmp(&b.position))
    });
    let mut chosen: Vec<Option<usize>> = vec![None; candidates.len()];
    // Chosen, within the budget and caps, and held back as control.
    let mut control = vec![false; candidates.len()];
    // Per customer: the budget or caps that stopped its allowed actions, in the order met.
    let mut limits: Vec<Vec<(SkipReason, String)>> = vec![Vec::new(); candidates.len()];
    let mut per_channel: BTreeMap<Channel, u32> = BTreeMap::new();
    let mut spent = 0.0;
    for (n, option) in options.iter().enumerate() {
        if chosen[option.candidate].is_some() {
            continue;
        }
        let channel = option.action.effective_channel();
        let used = per_channel.get(&channel).copied().unwrap_or(0);
        if let Some(cap) = playbook.caps.of(channel)
            && used >= cap
        {
            limits[option.candidate].push((
                SkipReason::Cap,
                format!(
                    "{}: the {channel} cap of {cap} a day is reached",
                    option.action.id
                ),
            ));
            continue;
        }
        // A small tolerance, so that a budget spent to the cent is not refused by
        // rounding.
        if spent + option.cost > playbook.budget.daily + 1e-9 {
            limits[option.candidate].push((
                SkipReason::Budget,
                format!(
                    "{}: costs {} and {} of the daily budget of {} is left",
                    option.action.id,
                    money(option.cost),
                    money(playbook.budget.daily - spent),
                    money(playbook.budget.daily)
                ),
            ));
            continue;
        }
        chosen[option.candidate] = Some(n);
        let key = action_key(
            date,
            &candidates[option.candidate].customer_id,
            &option.action.id,
        );
        if playbook.control_share > 0.0 && control_draw(&key) < playbook.control_share {
            // Held back: nothing spent, so the budget goes on to the next customers and
            // the treated and the controls are drawn from the same stretch of the ranking.
            control[option.candidate] = true;
            continue;
        }
        spent += option.cost;
        *per_channel.entry(channel).or_default() += 1;
    }

    let mut summary = PlanSummary {
        candidates: candidates.len() as u64,
        budget: playbook.budget.daily,
        ..PlanSummary::default()
    };
    let mut actions = Vec::new();
    for (n, option) in options.iter().enumerate() {
        let index = option.candidate;
        if chosen[index] != Some(n) || control[index] {
            continue;
        }
        let candidate = &candidates[index];
        let action = option.action;
        let channel = action.effective_channel();
        let why = format!(
            "rule '{}': expected gain {} = {:.3} churn x {:.2} saved x {} value - {} cost; best of {} allowed",
            option.rule.name,
            money(option.gain),
            candidate.probability,
            action.save_rate,
            money(values[index]),
            money(option.cost),
            option.allowed
        );
        summary.expected_cost += option.cost;
        summary.expected_saved += option.saved;
        *summary.planned.entry(action.id.clone()).or_default() += 1;
        *summary
            .by_channel
            .entry(channel.as_str().to_owned())
            .or_default() += 1;
        actions.push(planned(
            playbook,
            date,
            candidate,
            action,
            Some(&option.rule.name),
            values[index],
            (option.cost, option.saved),
            why,
        ));
    }

    // The CRM sync: every customer of a synced tier, and everyone acted on.
    let mut synced: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            (chosen[i].is_some() && !control[i])
                || playbook.crm_sync.tiers.contains(&candidates[i].tier)
        })
        .collect();
    synced.sort_by(|&a, &b| {
        candidates[b]
            .probability
            .total_cmp(&candidates[a].probability)
            .then_with(|| candidates[a].customer_id.cmp(&candidates[b].customer_id))
    });
    let sync = ActionDef {
        id: CRM_SYNC.into(),
        kind: ActionKind::CrmSync,
        channel: None,
        cost: 0.0,
        discount_percent: None,
        discount_months: None,
        discount_amount: None,
        save_rate: 0.0,
        cooldown_days: 0,
        cooldown_group: None,
        subject: None,
        body: None,
        priority: TaskPriority::default(),
        due_in_days: 0,
    };
    let mut seen = BTreeSet::new();
    for index in synced {
        let candidate = &candidates[index];
        if !seen.insert(candidate.customer_id.as_str()) {
            continue;
        }
        let why = format!(
            "{} tier: churn risk, tier and reasons to the CRM",
            candidate.tier.as_str()
        );
        actions.push(planned(
            playbook,
            date,
            candidate,
            &sync,
            None,
            values[index],
            (0.0, 0.0),
            why,
        ));
        summary.crm_syncs += 1;
    }

    let mut skipped = Vec::new();
    for (index, candidate) in candidates.iter().enumerate() {
        let mut held_back = None;
        let (reason, detail) = match (chosen[index], rules[index]) {
            (Some(n), _) if control[index] => {
                let option = &options[n];
                let action = option.action;
                *summary.controls.entry(action.id.clone()).or_default() += 1;
                held_back = Some(HeldBack {
                    key: action_key(date, &candidate.customer_id, &action.id),
                    action: action.id.clone(),
                    kind: action.kind,
                    cooldown_group: action.group().to_owned(),
                    customer_value: values[index],
                    cost: option.cost,
                    expected_saved: option.saved,
                });
                (
                    SkipReason::Control,
                    format!(
                        "held back as control from {} (rule '{}', expected gain {}): measures whether it works",
                        action.id,
                        option.rule.name,
                        money(option.gain)
                    ),
                )
            }
            (Some(_), _) => continue,
            (None, None) => (
                SkipReason::NoRule,
                format!(
                    "no rule matches a {} tier customer",
                    candidate.tier.as_str()
                ),
            ),
            (None, Some(rule)) if rule.actions.is_empty() => (
                SkipReason::RuleDoesNothing,
                format!("rule '{}' does nothing", rule.name),
            ),
            (None, Some(_)) => {
                let all: Vec<String> = limits[index]
                    .iter()
                    .chain(&refusals[index])
                    .map(|(_, detail)| detail.clone())
                    .collect();
                // The budget or a cap stopped actions that were allowed: the last one met
                // is what left the customer with nothing. Otherwise the best action's
                // refusal.
                let reason = limits[index]
                    .last()
                    .or(refusals[index].first())
                    .map_or(SkipReason::RuleDoesNothing, |(r, _)| *r);
                (reason, all.join("; "))
            }
        };
        *summary
            .skipped
            .entry(reason.as_str().to_owned())
            .or_default() += 1;
        skipped.push(Skip {
            customer_id: candidate.customer_id.clone(),
            probability: candidate.probability,
            tier: candidate.tier,
            rule: rules[index].map(|r| r.name.clone()),
            reason,
            detail,
            held_back,
        });
    }
    skipped.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    summary.expected_net = summary.expected_saved - summary.expected_cost;
    summary.budget_left = playbook.budget.daily - summary.expected_cost;
    Plan {
        date,
        revision: playbook.revision.clone(),
        currency: playbook.currency.clone(),
        actions,
        skipped,
        summary,
    }
}

/// The idempotency key of an action for a customer on a day.
pub fn action_key(date: Day, customer_id: &str, action: &str) -> String {
    format!("{date}/{action}/{customer_id}")
}

#[allow(clippy::too_many_arguments)]
fn planned(
    playbook: &Playbook,
    date: Day,
    candidate: &Candidate,
    action: &ActionDef,
    rule: Option<&str>,
    value: f64,
    (cost, saved): (f64, f64),
    why: String,
) -> PlannedAction {
    let key = action_key(date, &candidate.customer_id, &action.id);
    let channel = action.effective_channel();
    let offer_code = (action.kind == ActionKind::Discount).then(|| {
        let mut hash = Fnv64::default();
        hash.write_str(&key);
        format!("SAVE-{:010X}", hash.finish() >> 24)
    });
    let charge = candidate.monthly_charge.unwrap_or(0.0);
    let due = date.plus(action.due_in_days as i32);
    let fill = |template: &str| {
        render(template, |name| match name {
            "customer_id" => candidate.customer_id.clone(),
            "offer_code" => offer_code.clone().unwrap_or_default(),
            "discount_percent" => action.discount_percent.map(number).unwrap_or_default(),
            "discount_months" => action
                .discount_months
                .map(|m| m.to_string())
                .unwrap_or_default(),
            "discount_amount" => money(action.cost_for(charge) - action.cost),
            "currency" => playbook.currency.clone(),
            "monthly_charge" => money(charge),
            "tier" => candidate.tier.as_str().to_owned(),
            "churn_percent" => format!("{:.0}", candidate.probability * 100.0),
            "reasons" => candidate.reasons.join("; "),
            "due_date" => due.to_string(),
            _ => String::new(),
        })
    };
    let message =
        matches!(action.kind, ActionKind::Discount | ActionKind::Message).then(|| Message {
            subject: action.subject.as_deref().map(fill),
            body: fill(action.body.as_deref().unwrap_or_default()),
            offer_code: offer_code.clone(),
        });
    let task = (action.kind == ActionKind::Call).then(|| Task {
        subject: fill(
            action
                .subject
                .as_deref()
                .unwrap_or("Call {customer_id}: churn risk {churn_percent}%"),
        ),
        body: fill(action.body.as_deref().unwrap_or("Why: {reasons}")),
        priority: action.priority,
        due,
    });
    PlannedAction {
        key,
        customer_id: candidate.customer_id.clone(),
        action: action.id.clone(),
        kind: action.kind,
        channel,
        rule: rule.map(str::to_owned),
        probability: candidate.probability,
        tier: candidate.tier,
        reasons: candidate.reasons.clone(),
        customer_value: value,
        cost,
        expected_saved: saved,
        expected_gain: saved - cost,
        why,
        // Every action counts for its group's cool-down, whatever its own.
        cooldown_group: (action.kind != ActionKind::CrmSync).then(|| action.group().to_owned()),
        email: matches!(channel, Channel::Email | Channel::Crm)
            .then(|| candidate.email.clone())
            .flatten(),
        phone: matches!(channel, Channel::Sms | Channel::Call | Channel::Crm)
            .then(|| candidate.phone.clone())
            .flatten(),
        message,
        task,
    }
}
