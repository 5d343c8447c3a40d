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

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use churn_core::playbook::{
    ActionKind, Channel, Plan, PlannedAction, QuietHours, format_timestamp,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use churn_io::IoError;
use churn_io::action_ledger::{ActionClaim, ActionLedger};
use churn_io::connections::Sinks;
use churn_io::crm::{
    ContactUpdate, ContactUpsert, RecordError, RecordResult, TaskCreate, TaskRequest,
};
use churn_io::messaging::{MessageSend, OutboundMessage, mask, mask_all};

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

    /// Sends `items` in batches of `batch_size`; a retryable failure of a record is tried
    /// again (alone with the others that failed), a batch refused as bad input is split
    /// to find the record at fault, and a whole-request failure is that of its records,
    /// unless it is the connection's: then sending stops, the records not sent are
    /// [`NOT_SENT`], and the error comes back beside the results of what was sent.
    async fn deliver<T, F, Fut>(
        &self,
        items: &[T],
        batch_size: usize,
        send: F,
    ) -> (Vec<RecordResult>, Option<IoError>)
    where
        T: Clone,
        F: Fn(Vec<T>) -> Fut,
        Fut: Future<Output = Result<Vec<RecordResult>, IoError>>,
    {
        let mut results = vec![not_sent(); items.len()];
        let mut pending: Vec<usize> = (0..items.len()).collect();
        for attempt in 1..=self.options.record_attempts.max(1) {
            let mut parts: Vec<Vec<usize>> = pending
                .chunks(batch_size.max(1))
                .rev()
                .map(<[usize]>::to_vec)
                .collect();
            let mut again = Vec::new();
            while let Some(part) = parts.pop() {
                let batch: Vec<T> = part.iter().map(|&i| items[i].clone()).collect();
                match send(batch).await {
                    Ok(answers) => {
                        for (&i, answer) in part.iter().zip(answers) {
                            if matches!(&answer, RecordResult::Failed(e) if e.retryable) {
                                again.push(i);
                            }
                            results[i] = answer;
                        }
                    }
                    Err(error) if stops_the_run(&error) => {
                        for &i in &part {
                            results[i] = not_sent();
                        }
                        return (results, Some(error));
                    }
                    Err(error) if part.len() > 1 && is_bad_request(&error) => {
                        let (first, second) = part.split_at(part.len() / 2);
                        parts.push(second.to_vec());
                        parts.push(first.to_vec());
                    }
                    Err(error) => {
                        let code = match &error {
                            IoError::Http {
                                status: Some(status),
                                ..
                            } => format!("HTTP_{status}"),
                            _ => "REQUEST_FAILED".into(),
                        };
                        for &i in &part {
                            results[i] = RecordResult::failed(
                                code.clone(),
                                error.to_string(),
                                error.is_retryable(),
                            );
                        }
                    }
                }
            }
            if again.is_empty() || attempt == self.options.record_attempts {
                break;
            }
            tokio::time::sleep(self.options.record_backoff * attempt).await;
            pending = again;
        }
        (results, None)
    }

    /// The CRM: contacts (risk properties and support priority), then call tasks on them.
    async fn crm(&self, plan: &Plan, outcomes: &mut [Option<Outcome>]) -> Result<(), IoError> {
        let Some(crm) = &self.sinks.crm else {
            return Ok(());
        };
        let provider = crm.name();
        let indices: Vec<usize> = (0..plan.actions.len())
            .filter(|&i| matches!(plan.actions[i].channel, Channel::Crm | Channel::Call))
            .collect();
        if indices.is_empty() {
            return Ok(());
        }
        // Per customer: the contact update, and the pending keys it settles.
        let mut contacts: BTreeMap<&str, (ContactUpdate, Vec<usize>)> = BTreeMap::new();
        let mut calls: Vec<usize> = Vec::new();
        for (i, claim) in self.claims(plan, &indices).await? {
            let action = &plan.actions[i];
            if let Some(outcome) = self.settled(action, &claim) {
                outcomes[i] = Some(outcome);
                continue;
            }
            if action.kind == ActionKind::Call && claim == ActionClaim::Resumed && !crm.idempotent()
            {
                outcomes[i] = Some(
                    self.settle_unknown(action, provider, "CRM tasks are not idempotent")
                        .await?,
                );
                continue;
            }
            let entry = contacts
                .entry(action.customer_id.as_str())
                .or_insert_with(|| {
                    (
                        ContactUpdate {
                            customer_id: action.customer_id.clone(),
                            email: action.email.clone(),
                            phone: action.phone.clone(),
                            churn_risk: action.probability,
                            churn_tier: action.tier,
                            churn_reasons: action.reasons.join("; "),
                            scored_at: plan.date,
                            support_priority: false,
                        },
                        Vec::new(),
                    )
                });
            if entry.0.email.is_none() {
                entry.0.email = action.email.clone();
            }
            match action.kind {
                ActionKind::Call => calls.push(i),
                ActionKind::SupportPriority => {
                    entry.0.support_priority = true;
                    entry.1.push(i);
                }
                _ => entry.1.push(i),
            }
        }

        let updates: Vec<ContactUpdate> = contacts.values().map(|(u, _)| u.clone()).collect();
        let (results, stopped) = self
            .deliver(
                &updates,
                ContactUpsert::batch_size(crm),
                |batch| async move { crm.upsert(&batch).await },
            )
            .await;
        let mut contact_ids: HashMap<String, Result<String, Failure>> = HashMap::new();
        for ((update, keys), result) in contacts.values().zip(results) {
            for &i in keys {
                outcomes[i] = Some(
                    self.settle_result(plan, &plan.actions[i], provider, &result, stopped.as_ref())
                        .await?,
                );
            }
            let result = match result {
                RecordResult::Done { id } => Ok(id),
                RecordResult::Failed(error) => Err(Failure::from(&error)),
            };
            contact_ids.insert(update.customer_id.clone(), result);
        }
        if let Some(error) = stopped {
            for &i in &calls {
                outcomes[i] = Some(
                    self.settle_unsent(&plan.actions[i], provider, &error)
                        .await?,
                );
            }
            return Err(error);
        }

        // Tasks on the contacts just written.
        let mut tasks = Vec::new();
        let mut task_actions = Vec::new();
        for &i in &calls {
            let action = &plan.actions[i];
            match contact_ids.get(&action.customer_id) {
                Some(Ok(contact_id)) => {
                    let Some(task) = &action.task else {
                        outcomes[i] = Some(
                            self.settle_failed(
                                action,
                                provider,
                                &Failure {
                                    message: "a call action without a task".into(),
                                    retryable: false,
                                },
                            )
                            .await?,
                        );
                        continue;
                    };
                    tasks.push(TaskRequest {
                        key: action.key.clone(),
                        customer_id: action.customer_id.clone(),
                        contact_id: contact_id.clone(),
                        subject: task.subject.clone(),
                        body: task.body.clone(),
                        priority: task.priority,
                        due: task.due,
                    });
                    task_actions.push(i);
                }
                Some(Err(failure)) => {
                    let failure = Failure {
                        message: format!("the contact could not be written: {}", failure.message),
                        retryable: failure.retryable,
                    };
                    outcomes[i] = Some(self.settle_failed(action, provider, &failure).await?);
                }
                None => {
                    let failure = Failure {
                        message: "no contact was written".into(),
                        retryable: true,
                    };
                    outcomes[i] = Some(self.settle_failed(action, provider, &failure).await?);
                }
            }
        }
        let (results, stopped) = self
            .deliver(&tasks, TaskCreate::batch_size(crm), |batch| async move {
                crm.create(&batch).await
            })
            .await;
        for (&i, result) in task_actions.iter().zip(results) {
            outcomes[i] = Some(
                self.settle_result(plan, &plan.actions[i], provider, &result, stopped.as_ref())
                    .await?,
            );
        }
        stopped.map_or(Ok(()), Err)
    }

    /// Settles one action by its record's result.
    async fn settle_result(
        &self,
        plan: &Plan,
        action: &PlannedAction,
        provider: &str,
        result: &RecordResult,
        stopped: Option<&IoError>,
    ) -> Result<Outcome, IoError> {
        match (result, stopped) {
            (RecordResult::Done { id }, _) => {
                self.settle_sent(plan, action, provider, id.clone(), "")
                    .await
            }
            (RecordResult::Failed(error), Some(why)) if error.code == NOT_SENT => {
                self.settle_unsent(action, provider, why).await
            }
            (RecordResult::Failed(error), _) => {
                self.settle_failed(action, provider, &Failure::from(error))
                    .await
            }
        }
    }

    /// Gives back an action a stopped run did not send: the next run sends it.
    async fn settle_unsent(
        &self,
        action: &PlannedAction,
        provider: &str,
        why: &IoError,
    ) -> Result<Outcome, IoError> {
        self.ledger.release(&action.key).await?;
        Ok(self.outcome(
            action,
            Status::RetryLater,
            Some(provider),
            None,
            format!(
                "not sent: the run stopped ({})",
                scrub(&why.to_string(), action)
            ),
        ))
    }

    /// Messages of one channel, a few in flight at once. The first refusal of the
    /// connection stops the channel: messages not claimed yet are not sent.
    async fn messages<M: MessageSend + Sync>(
        &self,
        plan: &Plan,
        indices: &[usize],
        sink: Option<&M>,
        outcomes: &mut [Option<Outcome>],
    ) -> Result<(), IoError> {
        let Some(sink) = sink else {
            return Ok(());
        };
        let stop = std::sync::atomic::AtomicBool::new(false);
        let stop = &stop;
        let results: Vec<Result<(usize, Outcome), IoError>> =
            futures_util::stream::iter(indices.iter().copied())
                .map(|i| async move {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        return Ok(None);
                    }
                    match self.message(plan, &plan.actions[i], sink).await {
                        Ok(outcome) => Ok(Some((i, outcome))),
                        Err(error) => {
                            if stops_the_run(&error) {
                                stop.store(true, std::sync::atomic::Ordering::SeqCst);
                            }
                            Err(error)
                        }
                    }
                })
                .buffer_unordered(self.options.concurrency.max(1))
                .filter_map(|result| async move { result.transpose() })
                .collect()
                .await;
        let mut first_error = None;
        for result in results {
            match result {
                Ok((i, outcome)) => outcomes[i] = Some(outcome),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn message<M: MessageSend + Sync>(
        &self,
        plan: &Plan,
        action: &PlannedAction,
        sink: &M,
    ) -> Result<Outcome, IoError> {
        let provider = sink.provider();
        if let Some(resume) = self
            .quiet_hours
            .and_then(|q| q.resume_at(action.channel, (self.clock)()))
        {
            return Ok(self.outcome(
                action,
                Status::Deferred,
                Some(provider),
                None,
                format!(
                    "quiet hours: a run from {} sends it",
                    format_timestamp(resume)
                ),
            ));
        }
        let claim = self.ledger.claim(&action.key, (self.clock)()).await?;
        if let Some(outcome) = self.settled(action, &claim) {
            return Ok(outcome);
        }
        let Some(content) = &action.message else {
            let failure = Failure {
                message: "a message action without a message".into(),
                retryable: false,
            };
            return self.settle_failed(action, provider, &failure).await;
        };
        let message = OutboundMessage {
            key: action.key.clone(),
            customer_id: action.customer_id.clone(),
            action: action.action.clone(),
            channel: action.channel,
            to: match action.channel {
                Channel::Email => action.email.clone(),
                Channel::Sms => action.phone.clone(),
                _ => None,
            },
            subject: content.subject.clone(),
            body: content.body.clone(),
            offer_code: content.offer_code.clone(),
        };
        if claim == ActionClaim::Resumed && !sink.idempotent() {
            match sink.find_sent(&message).await {
                Ok(Some(id)) => {
                    return self
                        .settle_sent(
                            plan,
                            action,
                            provider,
                            id,
                            "found sent by a run that crashed",
                        )
                        .await;
                }
                Ok(None) => {}
                Err(error) => {
                    return self
                        .settle_unknown(action, provider, &scrub(&error.to_string(), action))
                        .await;
                }
            }
        }
        match sink.send(&message).await {
            Ok(id) => self.settle_sent(plan, action, provider, id, "").await,
            Err(error) if stops_the_run(&error) => {
                self.ledger.release(&action.key).await?;
                Err(error)
            }
            Err(error) => {
                self.settle_failed(action, provider, &Failure::from(&error))
                    .await
            }
        }
    }
}
