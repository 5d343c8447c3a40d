//! Messages (e-mail, text, push, webhooks) of a dispatch, a few in flight at once, each
//! claimed just before it is sent; quiet hours hold them for a later run.

use churn_core::playbook::{Channel, Plan, PlannedAction, format_timestamp};
use churn_io::IoError;
use churn_io::action_ledger::{ActionClaim, ActionLedger};
use churn_io::messaging::{MessageSend, OutboundMessage};
use futures_util::StreamExt;

use super::{Dispatcher, Failure, Outcome, Status, scrub, stops_the_run};

impl<L: ActionLedger + Sync> Dispatcher<'_, L> {
    /// Messages of one channel, a few in flight at once. The first refusal of the
    /// connection stops the channel: messages not claimed yet are not sent.
    pub(super) async fn messages<M: MessageSend + Sync>(
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
