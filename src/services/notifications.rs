//! Notifications of what happened to an account: withdrawal and binding
//! changes, as JSON events with unique ids.
//!
//! An event is written in the same atomic commit as the change it describes
//! (the account partition's event stream), so a change is never announced
//! without happening nor happens unannounced. Server-Sent Events read that
//! stream. Webhooks go through an outbox: the commit also stores the event
//! as a partition document and puts its delivery on the webhook schedule.
//! The worker delivers, retrying with growing
//! pauses for a bounded time; the event id lets receivers drop duplicates.

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::keys::WEBHOOK_SCHEDULE;
use super::work::{Claim, ClaimOutcome, WorkQueue};
use crate::clock::SharedClock;
use crate::domain::account::AccountId;
use crate::domain::asset::Quantity;
use crate::domain::binding::{Binding, BindingId, BindingStatus, DestinationProvider};
use crate::domain::money::Money;
use crate::domain::transfer::{ReturnReason, Transfer, TransferId, TransferStatus};
use crate::domain::withdrawal::{ReviewReason, Withdrawal, WithdrawalId, WithdrawalStatus};
use crate::error::ApiError;
use crate::observability::redact_url;
use crate::providers::webhooks::{Delivery, WebhookSender};
use crate::store::typed::{decode_document, encode_document};
use crate::store::{EventPosition, ScheduleEntry, SharedStore, StoredEvent};

fn webhook_document(event_id: &str) -> String {
    format!("webhook:{event_id}")
}

/// How webhooks are delivered, when a URL is configured.
#[derive(Debug, Clone)]
pub struct WebhookPolicy {
    pub sender: WebhookSender,
    /// Deliveries are retried until the event is this old.
    pub retry_for: chrono::Duration,
    pub backoff_initial: chrono::Duration,
    pub backoff_max: chrono::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "withdrawal.created")]
    WithdrawalCreated,
    #[serde(rename = "withdrawal.approved")]
    WithdrawalApproved,
    #[serde(rename = "withdrawal.processing")]
    WithdrawalProcessing,
    #[serde(rename = "withdrawal.settled")]
    WithdrawalSettled,
    #[serde(rename = "withdrawal.failed")]
    WithdrawalFailed,
    #[serde(rename = "withdrawal.rejected")]
    WithdrawalRejected,
    #[serde(rename = "binding.activated")]
    BindingActivated,
    #[serde(rename = "binding.removed")]
    BindingRemoved,
    /// Money another account sent was credited (the recipient's event).
    #[serde(rename = "transfer.received")]
    TransferReceived,
    /// A transfer sent was credited to its recipient (the sender's event).
    #[serde(rename = "transfer.completed")]
    TransferCompleted,
    /// A transfer sent was refused by the recipient's side and its money
    /// is back (the sender's event).
    #[serde(rename = "transfer.returned")]
    TransferReturned,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::WithdrawalCreated => "withdrawal.created",
            EventType::WithdrawalApproved => "withdrawal.approved",
            EventType::WithdrawalProcessing => "withdrawal.processing",
            EventType::WithdrawalSettled => "withdrawal.settled",
            EventType::WithdrawalFailed => "withdrawal.failed",
            EventType::WithdrawalRejected => "withdrawal.rejected",
            EventType::BindingActivated => "binding.activated",
            EventType::BindingRemoved => "binding.removed",
            EventType::TransferReceived => "transfer.received",
            EventType::TransferCompleted => "transfer.completed",
            EventType::TransferReturned => "transfer.returned",
        }
    }

    /// The outcomes an integrator acts on go to webhooks too (like WeChat
    /// Pay's callbacks, sent only for final states): a withdrawal's end, an
    /// activated binding, and each side of a transfer between users. The
    /// rest only stream.
    pub fn goes_to_webhooks(self) -> bool {
        matches!(
            self,
            EventType::WithdrawalSettled
                | EventType::WithdrawalFailed
                | EventType::WithdrawalRejected
                | EventType::BindingActivated
                | EventType::TransferReceived
                | EventType::TransferCompleted
                | EventType::TransferReturned
        )
    }
}

/// One notification as streamed and posted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// `evt_…`, unique; receivers deduplicate on it.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub created_at: DateTime<Utc>,
    pub account_id: AccountId,
    pub data: EventData,
}

/// What an event is about, as it is after the change: `{"withdrawal": {…}}`,
/// `{"binding": {…}}` or `{"transfer": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventData {
    Withdrawal(WithdrawalSummary),
    Binding(BindingSummary),
    Transfer(TransferSummary),
}

/// A transfer as both of its accounts may see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransferSummary {
    pub id: TransferId,
    pub status: TransferStatus,
    /// `{asset, amount}`, the amount at the asset's places.
    pub amount: Quantity,
    pub from: AccountId,
    pub to: AccountId,
    pub memo: String,
    pub return_reason: Option<ReturnReason>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WithdrawalSummary {
    pub id: WithdrawalId,
    pub status: WithdrawalStatus,
    pub currency: &'static str,
    pub amount: Money,
    pub fee: Money,
    pub destination: DestinationSummary,
    pub review_reasons: Vec<ReviewReason>,
    pub failure_reason: Option<String>,
    pub transfer_bill_no: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DestinationSummary {
    pub binding_id: BindingId,
    pub provider: DestinationProvider,
    pub nickname: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BindingSummary {
    pub id: BindingId,
    pub provider: DestinationProvider,
    pub status: BindingStatus,
    pub nickname: Option<String>,
    pub activated_at: Option<DateTime<Utc>>,
}

/// What webhook delivery reads back from a stored event body.
#[derive(Debug, Deserialize)]
struct StoredEventHead {
    id: String,
    #[serde(rename = "type")]
    kind: EventType,
    created_at: DateTime<Utc>,
}

impl Event {
    fn new(kind: EventType, account_id: &AccountId, data: EventData, now: DateTime<Utc>) -> Event {
        Event {
            id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
            kind,
            created_at: now,
            account_id: account_id.clone(),
            data,
        }
    }

    /// A change of a withdrawal, carrying its summary as it is after the change.
    pub fn withdrawal(kind: EventType, account_id: &AccountId, withdrawal: &Withdrawal, now: DateTime<Utc>) -> Event {
        let summary = WithdrawalSummary {
            id: withdrawal.id.clone(),
            status: withdrawal.status,
            currency: "CNY",
            amount: withdrawal.amount.money(),
            fee: withdrawal.fee,
            destination: DestinationSummary {
                binding_id: withdrawal.binding_id.clone(),
                provider: withdrawal.destination.provider,
                nickname: withdrawal.destination.masked_nickname(),
            },
            review_reasons: withdrawal.review_reasons.clone(),
            failure_reason: withdrawal.failure_reason.clone(),
            transfer_bill_no: withdrawal.payout.transfer_bill_no.clone(),
            created_at: withdrawal.created_at,
        };
        Event::new(kind, account_id, EventData::Withdrawal(summary), now)
    }

    /// A transfer's step, told to `account_id` (its sender or its recipient).
    pub fn transfer(kind: EventType, account_id: &AccountId, transfer: &Transfer, now: DateTime<Utc>) -> Event {
        let summary = TransferSummary {
            id: transfer.id.clone(),
            status: transfer.status,
            amount: transfer.amount,
            from: transfer.from.clone(),
            to: transfer.to.clone(),
            memo: transfer.memo.clone(),
            return_reason: transfer.return_reason,
            created_at: transfer.created_at,
        };
        Event::new(kind, account_id, EventData::Transfer(summary), now)
    }

    pub fn binding(kind: EventType, account_id: &AccountId, binding: &Binding, now: DateTime<Utc>) -> Event {
        let summary = BindingSummary {
            id: binding.id.clone(),
            provider: binding.provider,
            status: binding.status,
            nickname: binding.destination.as_ref().map(|destination| destination.masked_nickname()),
            activated_at: binding.activated_at,
        };
        Event::new(kind, account_id, EventData::Binding(summary), now)
    }
}

/// The parts of an account commit that carry its events.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Event bodies for the account's stream.
    pub events: Vec<String>,
    /// Webhook outbox documents `(name, body)`.
    pub documents: Vec<(String, String)>,
    /// Their deliveries, on the webhook schedule.
    pub scheduled: Vec<ScheduleEntry>,
}

/// Prepares events for a commit; webhook deliveries (when `webhooks_on`)
/// are scheduled by the same commit, so a delivery exists exactly when its
/// event does.
pub(crate) fn outbox(webhooks_on: bool, account_id: &AccountId, events: &[Event]) -> Result<Outbox, ApiError> {
    let mut outbox = Outbox::default();
    for event in events {
        let body = encode_document(event)?;
        if webhooks_on && event.kind.goes_to_webhooks() {
            outbox.scheduled.push(ScheduleEntry {
                schedule: WEBHOOK_SCHEDULE,
                member: format!("{account_id}/{}", event.id),
                at_ms: event.created_at.timestamp_millis(),
            });
            outbox.documents.push((webhook_document(&event.id), body.clone()));
        }
        outbox.events.push(body);
    }
    Ok(outbox)
}

/// Reading an account's event stream, and delivering webhooks.
#[derive(Debug, Clone)]
pub struct Notifications {
    pub store: SharedStore,
    pub work: WorkQueue,
    /// Outgoing webhooks, when a URL is configured.
    pub webhooks: Option<WebhookPolicy>,
    /// How many deliveries run at once.
    pub concurrency: usize,
    /// What a delivery's signature is timestamped with: the wall clock, not
    /// the business clock, since receivers check it against their own
    /// (an advanced simulator would otherwise look like a replay).
    pub wall_clock: SharedClock,
}

impl Notifications {
    /// Up to `limit` of the account's events after `after` (from the oldest kept when `None`).
    pub async fn events(
        &self,
        account_id: &AccountId,
        after: Option<EventPosition>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, ApiError> {
        Ok(self.store.events(account_id, after, limit).await?)
    }

    /// Wake-ups naming accounts with new events (from every process on Redis).
    pub fn signals(&self) -> tokio::sync::broadcast::Receiver<AccountId> {
        self.store.event_signals()
    }

    /// The schedule `deliver_webhooks` claims from (its entries fall due at
    /// their time); none without webhooks.
    pub(crate) fn due_schedule(&self) -> Option<(&'static str, chrono::Duration)> {
        self.webhooks.as_ref().map(|_| (WEBHOOK_SCHEDULE, chrono::Duration::zero()))
    }

    /// Delivers due webhooks, each once per step; failures wait longer each time.
    pub(crate) async fn deliver_webhooks(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<ClaimOutcome, ApiError>>, ApiError> {
        let Some(policy) = &self.webhooks else { return Ok(Vec::new()) };
        let claims = self.work.claim(WEBHOOK_SCHEDULE, now, now).await?;
        let deliveries = claims.into_iter().map(|claim| self.deliver_webhook(policy, claim, now));
        Ok(futures_util::stream::iter(deliveries).buffer_unordered(self.concurrency).collect().await)
    }
    async fn deliver_webhook(
        &self,
        policy: &WebhookPolicy,
        claim: Claim,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, ApiError> {
        let Some((account_id, event_id)) = claim.parts() else {
            return self.work.drop_claim(&claim, "unreadable member").await;
        };
        let document = webhook_document(event_id);
        let Some(body) = self.store.partition_document(&account_id, &document).await? else {
            return self.work.not_ready(&claim, now).await;
        };
        let event: StoredEventHead = decode_document(&document, &body)?;
        let signed_at = self.wall_clock.now().timestamp();
        match policy.sender.deliver(&event.id, event.kind.as_str(), &body, signed_at).await {
            Delivery::Accepted => {
                self.store.delete_partition_document(&account_id, &document).await?;
                self.work.drop_claim(&claim, "delivered").await?;
                Ok(ClaimOutcome::WebhookDelivered)
            }
            Delivery::Refused(reason) => {
                let age = now - event.created_at;
                if age >= policy.retry_for {
                    tracing::warn!(event_id = %event.id, url = %redact_url(policy.sender.url()), %reason, "webhook abandoned");
                    self.store.delete_partition_document(&account_id, &document).await?;
                    self.work.drop_claim(&claim, "abandoned").await?;
                    return Ok(ClaimOutcome::WebhookAbandoned);
                }
                // The pause grows with the event's age (each retry roughly
                // doubles it), bounded both ways; no counter to keep.
                let pause = age.clamp(policy.backoff_initial, policy.backoff_max);
                tracing::info!(event_id = %event.id, %reason, retry_in_ms = pause.num_milliseconds(), "webhook refused");
                let at = (now + pause).timestamp_millis();
                self.work.requeue_claim(&claim, at).await?;
                Ok(ClaimOutcome::WebhookRetried)
            }
        }
    }
}
