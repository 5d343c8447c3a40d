//! Sending a day's plan to the CRM and messaging providers, each action once.
//!
//! Every action is claimed in the action ledger before it is sent and settled after, so a
//! re-run, a retry or a crash never sends twice. Contacts and tasks go in the CRM's batch
//! size, retried per record; a whole batch refused as bad input is split until the bad
//! record is found. Messages in quiet hours wait for a later run. A crashed run's actions
//! that a provider cannot tell were sent are marked `unknown` for a person to check.
//!
//! A provider that refuses the connection itself (credentials refused, no access, no such
//! endpoint) stops the run: its actions are given back unsent, not recorded as failed,
//! and the run fails with the provider's error, so that a person fixes the connection and
//! the next run sends them.
//!
//! Logs carry customer ids and masked contact details only; tokens never reach them.
//! The CRM's batches are in `crm.rs`, messages one by one in `messages.rs`.

mod crm;
mod messages;

use std::collections::BTreeMap;
use std::time::Duration;

use churn_core::playbook::{Channel, Plan, PlannedAction, QuietHours, format_timestamp};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use churn_io::IoError;
use churn_io::action_ledger::{ActionClaim, ActionLedger};
use churn_io::connections::Sinks;
use churn_io::crm::{RecordError, RecordResult};
use churn_io::messaging::{mask, mask_all};

/// What became of one planned action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Sent by this run.
    Sent,
    /// Settled by an earlier run (sent, or failed for good): not sent again.
    AlreadyDone,
    /// In quiet hours: a run after they end sends it.
    Deferred,
    /// Another run is sending it now.
    Busy,
    /// Refused for good (recorded, never retried).
    Failed,
    /// Failed for now (throttled, unreachable): the next run retries it.
    RetryLater,
    /// A crashed run may have sent it and the provider cannot tell: recorded for a
    /// person to check, never resent.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Sent => "sent",
            Status::AlreadyDone => "already_done",
            Status::Deferred => "deferred",
            Status::Busy => "busy",
            Status::Failed => "failed",
            Status::RetryLater => "retry_later",
            Status::Unknown => "unknown",
        }
    }
}

/// One action's outcome, as written to `outcomes.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub key: String,
    pub customer_id: String,
    pub action: String,
    pub channel: Channel,
    pub status: Status,
    #[serde(default)]
    pub provider: Option<String>,
    /// The provider's id of what was written or sent.
    #[serde(default)]
    pub provider_id: Option<String>,
    /// The error, the earlier outcome, or when a deferred message may go.
    #[serde(default)]
    pub detail: String,
}

/// Tuning of a dispatch.
#[derive(Debug, Clone)]
pub struct DispatchOptions {
    /// Tries per record whose own result was a retryable failure.
    pub record_attempts: u32,
    /// Wait before a record's next try (times the try number).
    pub record_backoff: Duration,
    /// Messages in flight at once (each provider's rate limit still holds).
    pub concurrency: usize,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        Self {
            record_attempts: 3,
            record_backoff: Duration::from_secs(1),
            concurrency: 8,
        }
    }
}

/// Sends plans.
pub struct Dispatcher<'a, L> {
    pub ledger: &'a L,
    pub sinks: &'a Sinks,
    pub quiet_hours: Option<&'a QuietHours>,
    /// Seconds since the epoch (functions and the CLI read the clock; tests set it).
    pub clock: &'a (dyn Fn() -> i64 + Sync),
    pub options: DispatchOptions,
}

impl<L> std::fmt::Debug for Dispatcher<'_, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("sinks", self.sinks)
            .finish_non_exhaustive()
    }
}

/// A failure of one record, as the ledger and outcomes record it.
#[derive(Debug, Clone)]
struct Failure {
    message: String,
    retryable: bool,
}

impl From<&RecordError> for Failure {
    fn from(error: &RecordError) -> Self {
        Self {
            message: format!("{}: {}", error.code, error.message),
            retryable: error.retryable,
        }
    }
}

impl From<&IoError> for Failure {
    fn from(error: &IoError) -> Self {
        Self {
            message: error.to_string(),
            retryable: error.is_retryable(),
        }
    }
}

/// Replaces contact details in provider messages with their masked form: the action's
/// own, and any address or number the provider quoted from the rest of its batch.
fn scrub(text: &str, action: &PlannedAction) -> String {
    let mut text = text.to_owned();
    for contact in [&action.email, &action.phone].into_iter().flatten() {
        if !contact.is_empty() {
            text = text.replace(contact.as_str(), &mask(contact));
        }
    }
    mask_all(&text)
}

/// Whether a whole request's failure is the connection's, not its records': every other
/// request would fail the same way, so the run stops instead of failing every action.
fn stops_the_run(error: &IoError) -> bool {
    error.is_unauthorized()
        || matches!(
            error,
            IoError::Http {
                status: Some(401 | 403 | 404),
                retryable: false,
                ..
            }
        )
}

/// The code of a record a stopped run did not send.
const NOT_SENT: &str = "NOT_SENT";

fn not_sent() -> RecordResult {
    RecordResult::failed(NOT_SENT, "not sent", true)
}

fn is_bad_request(error: &IoError) -> bool {
    matches!(
        error,
        IoError::Http {
            status: Some(400 | 422),
            ..
        }
    )
}

impl<L: ActionLedger + Sync> Dispatcher<'_, L> {
    /// Refuses a plan that uses a channel with no connection, before anything is sent.
    pub fn check(&self, plan: &Plan) -> Result<(), IoError> {
        let mut counts: BTreeMap<Channel, usize> = BTreeMap::new();
        for action in &plan.actions {
            *counts.entry(action.channel).or_default() += 1;
        }
        let missing: Vec<String> = counts
            .iter()
            .filter(|(channel, _)| !self.has_sink(**channel))
            .map(|(channel, n)| {
                let section = match channel {
                    Channel::Crm | Channel::Call => "[crm]",
                    Channel::Email => "[email]",
                    Channel::Sms => "[sms]",
                    Channel::Push => "[push]",
                    Channel::Webhook => "[webhook]",
                };
                format!("{n} {channel} action(s) need {section}")
            })
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(IoError::config(
                "connections",
                format!("the plan cannot be sent: {}", missing.join(", ")),
            ))
        }
    }

    fn has_sink(&self, channel: Channel) -> bool {
        match channel {
            Channel::Crm | Channel::Call => self.sinks.crm.is_some(),
            Channel::Email => self.sinks.email.is_some(),
            Channel::Sms => self.sinks.sms.is_some(),
            Channel::Push => self.sinks.push.is_some(),
            Channel::Webhook => self.sinks.webhook.is_some(),
        }
    }

    /// Sends every action of `plan` that is not done yet; one outcome per action, in the
    /// plan's order. An error means the ledger could not be reached: what was settled
    /// stays settled, and the next run carries on from there.
    pub async fn run(&self, plan: &Plan) -> Result<Vec<Outcome>, IoError> {
        self.check(plan)?;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; plan.actions.len()];
        self.crm(plan, &mut outcomes).await?;
        for channel in [
            Channel::Email,
            Channel::Sms,
            Channel::Push,
            Channel::Webhook,
        ] {
            let indices: Vec<usize> = (0..plan.actions.len())
                .filter(|&i| plan.actions[i].channel == channel)
                .collect();
            if indices.is_empty() {
                continue;
            }
            match channel {
                Channel::Email => {
                    self.messages(plan, &indices, self.sinks.email.as_ref(), &mut outcomes)
                        .await?
                }
                Channel::Sms => {
                    self.messages(plan, &indices, self.sinks.sms.as_ref(), &mut outcomes)
                        .await?
                }
                Channel::Push => {
                    self.messages(plan, &indices, self.sinks.push.as_ref(), &mut outcomes)
                        .await?
                }
                _ => {
                    self.messages(plan, &indices, self.sinks.webhook.as_ref(), &mut outcomes)
                        .await?
                }
            }
        }
        Ok(outcomes
            .into_iter()
            .zip(&plan.actions)
            .map(|(outcome, action)| {
                outcome.unwrap_or_else(|| {
                    self.outcome(action, Status::RetryLater, None, None, "not reached".into())
                })
            })
            .collect())
    }

    fn outcome(
        &self,
        action: &PlannedAction,
        status: Status,
        provider: Option<&str>,
        provider_id: Option<String>,
        detail: String,
    ) -> Outcome {
        Outcome {
            key: action.key.clone(),
            customer_id: action.customer_id.clone(),
            action: action.action.clone(),
            channel: action.channel,
            status,
            provider: provider.map(str::to_owned),
            provider_id,
            detail,
        }
    }

    /// Claims the keys of `indices`, a few at a time.
    async fn claims(
        &self,
        plan: &Plan,
        indices: &[usize],
    ) -> Result<Vec<(usize, ActionClaim)>, IoError> {
        let now = (self.clock)();
        futures_util::stream::iter(indices.iter().copied())
            .map(|i| async move {
                let claim = self.ledger.claim(&plan.actions[i].key, now).await?;
                Ok::<_, IoError>((i, claim))
            })
            .buffered(self.options.concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// Records a success: the cool-down day first (so a crash right after errs on the
    /// side of waiting), then the key.
    async fn settle_sent(
        &self,
        plan: &Plan,
        action: &PlannedAction,
        provider: &str,
        id: String,
        detail: &str,
    ) -> Result<Outcome, IoError> {
        if let Some(group) = &action.cooldown_group {
            self.ledger
                .record_sent(&action.customer_id, group, plan.date)
                .await?;
        }
        let text = format!("sent {provider} {id}");
        self.ledger
            .finish(&action.key, (self.clock)(), &text)
            .await?;
        Ok(self.outcome(
            action,
            Status::Sent,
            Some(provider),
            Some(id),
            detail.to_owned(),
        ))
    }

    async fn settle_failed(
        &self,
        action: &PlannedAction,
        provider: &str,
        failure: &Failure,
    ) -> Result<Outcome, IoError> {
        let message = scrub(&failure.message, action);
        tracing::warn!(
            customer_id = action.customer_id,
            action = action.action,
            provider,
            retryable = failure.retryable,
            error = message,
            "action not sent"
        );
        if failure.retryable {
            self.ledger.release(&action.key).await?;
            Ok(self.outcome(action, Status::RetryLater, Some(provider), None, message))
        } else {
            self.ledger
                .finish(&action.key, (self.clock)(), &format!("failed: {message}"))
                .await?;
            Ok(self.outcome(action, Status::Failed, Some(provider), None, message))
        }
    }

    async fn settle_unknown(
        &self,
        action: &PlannedAction,
        provider: &str,
        why: &str,
    ) -> Result<Outcome, IoError> {
        let detail = format!(
            "a crashed run claimed it and may have sent it ({why}): check {provider} before sending it by hand"
        );
        tracing::warn!(
            customer_id = action.customer_id,
            action = action.action,
            provider,
            "outcome unknown"
        );
        self.ledger
            .finish(&action.key, (self.clock)(), &format!("unknown: {detail}"))
            .await?;
        Ok(self.outcome(action, Status::Unknown, Some(provider), None, detail))
    }

    /// Outcomes of claims that need no sending.
    fn settled(&self, action: &PlannedAction, claim: &ActionClaim) -> Option<Outcome> {
        match claim {
            ActionClaim::Done { outcome } => {
                Some(self.outcome(action, Status::AlreadyDone, None, None, outcome.clone()))
            }
            ActionClaim::Busy { lease_until } => Some(self.outcome(
                action,
                Status::Busy,
                None,
                None,
                format!(
                    "another run holds it until {}",
                    format_timestamp(*lease_until)
                ),
            )),
            ActionClaim::Fresh | ActionClaim::Resumed => None,
        }
    }
}
