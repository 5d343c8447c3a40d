//! The retention playbook: which customers get which action, decided from the day's
//! scores by expected value, within a daily budget and per-channel caps, honouring
//! cool-downs, opt-outs and do-not-contact flags.
//!
//! - [`Playbook`]: the versioned configuration (a TOML file that churn-io reads): actions
//!   with their cost and assumed save rate, rules mapping tier and segment to the
//!   actions worth trying, budget, caps, quiet hours. [`Playbook::validate`] checks it
//!   once and names the field of every mistake.
//! - [`plan`]: the decisions for one day ([`Plan`]), each with the reason it was taken
//!   or skipped, and the expected cost and revenue saved.
//!
//! Pure like the rest of core: the day, the contact history and the scores come from the
//! caller; nothing here sends, reads a clock or draws a random number.

mod calendar;
mod plan;
mod template;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Tier;

pub use calendar::{Day, QuietHours, TimeOfDay, format_timestamp};
pub use plan::{
    CRM_SYNC, Candidate, ContactHistory, HeldBack, Message, Plan, PlanHeader, PlanSummary,
    PlannedAction, Skip, SkipReason, Task, action_key, control_draw, plan,
};
pub use template::PLACEHOLDERS;

/// The playbook format this build reads.
pub const PLAYBOOK_FORMAT: u32 = 1;

/// The largest control share: holding back more than half would measure more than it acts.
pub const MAX_CONTROL_SHARE: f64 = 0.5;

/// Where an action reaches the customer (or the team); caps are per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An e-mail (Amazon SES).
    Email,
    /// A text message (Twilio).
    Sms,
    /// A push notification, through the webhook to the app's notification service.
    Push,
    /// A signed webhook to any other system.
    Webhook,
    /// A call task for the account owner, in the CRM.
    Call,
    /// A property on the CRM contact (risk scores, support priority).
    Crm,
}

impl Channel {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::Webhook => "webhook",
            Channel::Call => "call",
            Channel::Crm => "crm",
        }
    }

    /// Whether it reaches the customer with marketing (an opt-out stops it).
    pub fn is_marketing(self) -> bool {
        matches!(
            self,
            Channel::Email | Channel::Sms | Channel::Push | Channel::Webhook
        )
    }

    /// Whether it contacts the customer at all (do-not-contact stops it).
    pub fn contacts_customer(self) -> bool {
        self.is_marketing() || self == Channel::Call
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A discount offer, sent as a message on the action's channel.
    Discount,
    /// A message from a template (no offer).
    Message,
    /// A personal call: a task for the account owner in the CRM.
    Call,
    /// Support priority: a flag on the CRM contact so the next ticket jumps the queue.
    SupportPriority,
    /// The CRM contact's risk properties (churn_risk, churn_tier, churn_reasons,
    /// scored_at): written for every customer the playbook syncs, not budgeted.
    CrmSync,
}

impl ActionKind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Discount => "discount",
            ActionKind::Message => "message",
            ActionKind::Call => "call",
            ActionKind::SupportPriority => "support_priority",
            ActionKind::CrmSync => "crm_sync",
        }
    }
}

/// How much a saved customer is worth: `monthly charge × expected_months × margin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueModel {
    /// Months of revenue a customer kept from churning brings (expected remaining
    /// lifetime).
    pub expected_months: f64,
    /// Share of revenue that is margin (1 counts revenue).
    #[serde(default = "one")]
    pub margin: f64,
    /// Monthly charge assumed when a customer's is unknown (default: no value, so no
    /// action pays off).
    #[serde(default)]
    pub default_monthly_charge: Option<f64>,
}

fn one() -> f64 {
    1.0
}

/// The day's spending limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Sum of the costs of one day's actions, at most.
    pub daily: f64,
}

/// Actions per channel and day, at most (absent: no cap).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    #[serde(default)]
    pub email: Option<u32>,
    #[serde(default)]
    pub sms: Option<u32>,
    #[serde(default)]
    pub push: Option<u32>,
    #[serde(default)]
    pub webhook: Option<u32>,
    #[serde(default)]
    pub call: Option<u32>,
    #[serde(default)]
    pub crm: Option<u32>,
}

impl Caps {
    /// The cap of a channel.
    pub fn of(&self, channel: Channel) -> Option<u32> {
        match channel {
            Channel::Email => self.email,
            Channel::Sms => self.sms,
            Channel::Push => self.push,
            Channel::Webhook => self.webhook,
            Channel::Call => self.call,
            Channel::Crm => self.crm,
        }
    }
}

/// Which customers' risk properties go to the CRM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmSync {
    /// Customers of these tiers (and every customer with a planned action) are synced.
    #[serde(default = "sync_tiers")]
    pub tiers: Vec<Tier>,
}

fn sync_tiers() -> Vec<Tier> {
    vec![Tier::High, Tier::Medium]
}

impl Default for CrmSync {
    fn default() -> Self {
        Self {
            tiers: sync_tiers(),
        }
    }
}

/// Priority of a call task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskPriority {
    #[default]
    High,
    Medium,
    Low,
}

impl TaskPriority {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskPriority::High => "high",
            TaskPriority::Medium => "medium",
            TaskPriority::Low => "low",
        }
    }
}

/// One action the playbook may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionDef {
    /// Identifier, recorded with every action taken (`discount-20-email`).
    pub id: String,
    pub kind: ActionKind,
    /// For discounts and messages: email, sms, push or webhook.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// What taking the action costs, whether or not it works (a message's price, the
    /// owner's time for a call), on top of any discount.
    #[serde(default)]
    pub cost: f64,
    /// Discount off the monthly charge, in percent, for `discount_months` months.
    #[serde(default)]
    pub discount_percent: Option<f64>,
    #[serde(default)]
    pub discount_months: Option<u32>,
    /// Or a fixed credit.
    #[serde(default)]
    pub discount_amount: Option<f64>,
    /// Share of would-be churners the action keeps (an assumption: measure it with a
    /// holdout and update it).
    pub save_rate: f64,
    /// No second action of the same cool-down group for this many days.
    #[serde(default)]
    pub cooldown_days: u32,
    /// Actions sharing a group share a cool-down (default: the action's kind, so every
    /// discount counts against every other).
    #[serde(default)]
    pub cooldown_group: Option<String>,
    /// Message subject (e-mail, push title) or task subject; `{placeholders}` allowed.
    #[serde(default)]
    pub subject: Option<String>,
    /// Message text or task notes; `{placeholders}` allowed.
    #[serde(default)]
    pub body: Option<String>,
    /// Priority of a call task.
    #[serde(default)]
    pub priority: TaskPriority,
    /// A call task is due this many days after the plan's day.
    #[serde(default = "one_day")]
    pub due_in_days: u32,
}

fn one_day() -> u32 {
    1
}

impl ActionDef {
    /// The channel the action uses.
    pub fn effective_channel(&self) -> Channel {
        match self.kind {
            ActionKind::Call => Channel::Call,
            ActionKind::SupportPriority | ActionKind::CrmSync => Channel::Crm,
            ActionKind::Discount | ActionKind::Message => self.channel.unwrap_or(Channel::Email),
        }
    }

    /// The cool-down group.
    pub fn group(&self) -> &str {
        self.cooldown_group
            .as_deref()
            .unwrap_or_else(|| self.kind.as_str())
    }

    /// Cost for a customer paying `monthly_charge`: the fixed cost plus the discount.
    pub fn cost_for(&self, monthly_charge: f64) -> f64 {
        let discount = match (
            self.discount_amount,
            self.discount_percent,
            self.discount_months,
        ) {
            (Some(amount), _, _) => amount,
            (None, Some(percent), Some(months)) => {
                monthly_charge * percent / 100.0 * f64::from(months)
            }
            _ => 0.0,
        };
        self.cost + discount
    }
}

/// A rule: customers it matches may get one of its actions, the one with the best
/// expected gain that is allowed. Rules are tried in order; the first match decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    /// Tiers it applies to (empty: any).
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// Churn probability at least.
    #[serde(default)]
    pub min_probability: Option<f64>,
    /// Customer value at least.
    #[serde(default)]
    pub min_value: Option<f64>,
    /// Segment: attribute (a feature such as `contract_type` or `plan`) to the values it
    /// may take.
    #[serde(default)]
    pub segment: BTreeMap<String, Vec<String>>,
    /// Action ids to choose from; empty means: do nothing for these customers.
    pub actions: Vec<String>,
}

/// The playbook file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// Format of the file ([`PLAYBOOK_FORMAT`]).
    pub format: u32,
    /// The playbook's own version, recorded with every action (e.g. `2026-12-01` or
    /// `v3`): change it with every edit.
    pub revision: String,
    #[serde(default = "currency")]
    pub currency: String,
    pub value: ValueModel,
    pub budget: Budget,
    #[serde(default)]
    pub caps: Caps,
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    #[serde(default)]
    pub crm_sync: CrmSync,
    /// Share of the customers an action is chosen for who are held back as control and
    /// get nothing, so the monitor can measure whether the action works (treated against
    /// control retention). Who is held back is a deterministic draw per (day, customer,
    /// action); see [`plan()`](plan::plan). 0 (the default) holds nobody back.
    #[serde(default)]
    pub control_share: f64,
    pub actions: Vec<ActionDef>,
    pub rules: Vec<Rule>,
}

fn currency() -> String {
    "USD".into()
}

/// A mistake in a playbook: where (`actions[2].save_rate`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PlaybookError {
    pub field: String,
    pub message: String,
}

impl Playbook {
    /// Checks everything the file's types cannot: ranges, references between rules and
    /// actions, templates. Returns every problem, not only the first.
    pub fn validate(&self) -> Result<(), Vec<PlaybookError>> {
        let mut problems = Vec::new();
        let mut problem =
            |field: String, message: String| problems.push(PlaybookError { field, message });
        if self.format != PLAYBOOK_FORMAT {
            problem(
                "format".into(),
                format!(
                    "format {} is not one this build reads ({PLAYBOOK_FORMAT}); {}",
                    self.format,
                    if self.format > PLAYBOOK_FORMAT {
                        "upgrade churn"
                    } else {
                        "set format = 1"
                    }
                ),
            );
        }
        if self.revision.trim().is_empty() {
            problem(
                "revision".into(),
                "must name this version of the playbook".into(),
            );
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        let non_negative = |x: f64| x.is_finite() && x >= 0.0;
        if !positive(self.value.expected_months) {
            problem(
                "value.expected_months".into(),
                "must be a number of months above 0".into(),
            );
        }
        if !(positive(self.value.margin) && self.value.margin <= 1.0) {
            problem("value.margin".into(), "must be a share in (0, 1]".into());
        }
        if let Some(charge) = self.value.default_monthly_charge
            && !non_negative(charge)
        {
            problem(
                "value.default_monthly_charge".into(),
                "must be 0 or more".into(),
            );
        }
        if !non_negative(self.budget.daily) {
            problem("budget.daily".into(), "must be 0 or more".into());
        }
        if !(self.control_share.is_finite()
            && (0.0..=MAX_CONTROL_SHARE).contains(&self.control_share))
        {
            problem(
                "control_share".into(),
                format!("must be a share in [0, {MAX_CONTROL_SHARE}] (0.1 holds one in ten back)"),
            );
        }
        if let Some(quiet) = &self.quiet_hours
            && !(-720..=840).contains(&quiet.utc_offset_minutes)
        {
            problem(
                "quiet_hours.utc_offset_minutes".into(),
                "must lie between -720 and 840".into(),
            );
        }

        let mut ids = std::collections::BTreeSet::new();
        for (index, action) in self.actions.iter().enumerate() {
            let at = |name: &str| format!("actions[{index}] ({}).{name}", action.id);
            if action.id.is_empty()
                || !action
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            {
                problem(
                    format!("actions[{index}].id"),
                    format!(
                        "'{}' must be lowercase letters, digits, '-' and '_'",
                        action.id
                    ),
                );
            }
            if !ids.insert(action.id.as_str()) {
                problem(
                    format!("actions[{index}].id"),
                    format!("'{}' is used twice", action.id),
                );
            }
            if action.kind == ActionKind::CrmSync {
                problem(
                    at("kind"),
                    "crm_sync is not an action to choose: configure [crm_sync]".into(),
                );
            }
            if !(action.save_rate.is_finite() && (0.0..=1.0).contains(&action.save_rate)) {
                problem(at("save_rate"), "must be a share in [0, 1]".into());
            }
            if !non_negative(action.cost) {
                problem(at("cost"), "must be 0 or more".into());
            }
            let is_message = matches!(action.kind, ActionKind::Discount | ActionKind::Message);
            match action.channel {
                None if is_message => problem(
                    at("channel"),
                    "a discount or message needs a channel: email, sms, push or webhook".into(),
                ),
                Some(channel) if is_message && !channel.is_marketing() => problem(
                    at("channel"),
                    format!("{channel} is not a message channel: use email, sms, push or webhook"),
                ),
                Some(_) if !is_message => problem(
                    at("channel"),
                    format!(
                        "a {} action has its own channel: leave it out",
                        action.kind.as_str()
                    ),
                ),
                _ => {}
            }
            let has_discount = action.discount_amount.is_some()
                || action.discount_percent.is_some()
                || action.discount_months.is_some();
            if action.kind == ActionKind::Discount {
                match (
                    action.discount_amount,
                    action.discount_percent,
                    action.discount_months,
                ) {
                    (Some(amount), None, None) if non_negative(amount) => {}
                    (None, Some(percent), Some(months))
                        if percent.is_finite()
                            && percent > 0.0
                            && percent <= 100.0
                            && months > 0 => {}
                    _ => problem(
                        at("discount_percent"),
                        "a discount needs discount_percent (0-100] with discount_months > 0, \
                         or a discount_amount of 0 or more"
                            .into(),
                    ),
                }
            } else if has_discount {
                problem(
                    at("discount_percent"),
                    "only a discount action has discount fields".into(),
                );
            }
            if is_message && action.body.as_deref().is_none_or(|b| b.trim().is_empty()) {
                problem(at("body"), "a message needs a body (its text)".into());
            }
            if is_message
                && action.channel == Some(Channel::Email)
                && action
                    .subject
                    .as_deref()
                    .is_none_or(|s| s.trim().is_empty())
            {
                problem(at("subject"), "an e-mail needs a subject".into());
            }
            for (name, text) in [("subject", &action.subject), ("body", &action.body)] {
                if let Some(text) = text
                    && let Err(message) = template::check(text)
                {
                    problem(at(name), message);
                }
            }
        }

        let mut names = std::collections::BTreeSet::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let at = |name: &str| format!("rules[{index}] ({}).{name}", rule.name);
            if rule.name.trim().is_empty() {
                problem(format!("rules[{index}].name"), "must not be empty".into());
            } else if !names.insert(rule.name.as_str()) {
                problem(
                    format!("rules[{index}].name"),
                    format!("'{}' is used twice", rule.name),
                );
            }
            for action in &rule.actions {
                if !ids.contains(action.as_str()) {
                    let known: Vec<&str> = ids.iter().copied().collect();
                    problem(
                        at("actions"),
                        format!("no action '{action}' (actions: {})", known.join(", ")),
                    );
                }
            }
            if let Some(p) = rule.min_probability
                && !(p.is_finite() && (0.0..=1.0).contains(&p))
            {
                problem(
                    at("min_probability"),
                    "must be a probability in [0, 1]".into(),
                );
            }
            if let Some(v) = rule.min_value
                && !non_negative(v)
            {
                problem(at("min_value"), "must be 0 or more".into());
            }
            for (attribute, values) in &rule.segment {
                if values.is_empty() {
                    problem(
                        at(&format!("segment.{attribute}")),
                        "list the values it matches".into(),
                    );
                }
            }
        }
        if self.rules.is_empty() {
            problem("rules".into(), "a playbook needs at least one rule".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The action with this id.
    pub fn action(&self, id: &str) -> Option<&ActionDef> {
        self.actions.iter().find(|a| a.id == id)
    }

    /// Segment attributes the rules read (the columns a caller must supply).
    pub fn segment_attributes(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .rules
            .iter()
            .flat_map(|rule| rule.segment.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The lowest tier any rule or the CRM sync can act on: scores below it need not be
    /// read.
    pub fn lowest_tier(&self) -> Tier {
        let rules = self.rules.iter().map(|rule| {
            if rule.tiers.is_empty() {
                Tier::Low
            } else {
                rule.tiers.iter().copied().min().unwrap_or(Tier::Low)
            }
        });
        rules
            .chain(self.crm_sync.tiers.iter().copied())
            .min()
            .unwrap_or(Tier::High)
    }

    /// The value of a customer with this monthly charge.
    pub fn customer_value(&self, monthly_charge: Option<f64>) -> f64 {
        monthly_charge
            .filter(|c| c.is_finite() && *c >= 0.0)
            .or(self.value.default_monthly_charge)
            .map_or(0.0, |charge| {
                charge * self.value.expected_months * self.value.margin
            })
    }
}
