//! The CRM's part of a dispatch: contacts upserted in the CRM's batch size (risk
//! properties, support priority), then call tasks on the contacts written.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use churn_core::playbook::{ActionKind, Channel, Plan, PlannedAction};
use churn_io::IoError;
use churn_io::action_ledger::{ActionClaim, ActionLedger};
use churn_io::crm::{ContactUpdate, ContactUpsert, RecordResult, TaskCreate, TaskRequest};

use super::{
    Dispatcher, Failure, NOT_SENT, Outcome, Status, is_bad_request, not_sent, scrub, stops_the_run,
};

impl<L: ActionLedger + Sync> Dispatcher<'_, L> {
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
    pub(super) async fn crm(
        &self,
        plan: &Plan,
        outcomes: &mut [Option<Outcome>],
    ) -> Result<(), IoError> {
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
}
