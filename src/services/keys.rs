//! How the use cases name what they keep: withdrawal documents and their
//! index, the work schedules and their members, and the schedules that are
//! lists operators page through. One module, below every use case, so that
//! the use cases that share these names need not import each other.

use std::fmt::Display;

use crate::domain::account::AccountId;
use crate::domain::withdrawal::Withdrawal;
use crate::store::ScheduleEntry;

/// Withdrawals the worker pays out once due (scored by due time): automatically
/// reviewed ones after the level's delay, approved ones at once.
pub const PAYOUT_SCHEDULE: &str = "withdrawals:payout";
/// Withdrawals waiting for an operator (scored by submission time, oldest first).
pub const MANUAL_REVIEW_SCHEDULE: &str = "withdrawals:manual_review";
/// Payouts that failed too often, waiting for an operator (scored by submission time).
pub const PARKED_SCHEDULE: &str = "withdrawals:parked";
/// Webhook deliveries waiting (member `<account id>/<event id>`, scored by when to try).
pub const WEBHOOK_SCHEDULE: &str = "webhooks:deliveries";

/// Transfers sent and not yet delivered (member `<sender id>/<transfer
/// id>`, scored by when to deliver): set by the commit that sends one,
/// taken off by the commit that finishes it (`transfers`).
pub const TRANSFER_OUTBOX: &str = "transfers:outbox";

/// A transfer as its sender's partition keeps it.
pub fn transfer_document(id: impl Display) -> String {
    format!("transfer:{id}")
}

/// What the recipient's partition keeps of a transfer sent to it.
pub fn receipt_document(transfer_id: impl Display) -> String {
    format!("receipt:{transfer_id}")
}

/// Every withdrawal, scored by its creation time (ms): not work but the list
/// operators page through, newest first, across accounts. A schedule, so
/// that the entry lives in the account's shard and is set by the very commit
/// that creates the withdrawal (and, for one created before the list
/// existed, by its next change); never taken off.
pub const WITHDRAWAL_LIST: &str = "withdrawals:by_created";
/// Identity checks waiting for an operator (member `<account id>/<request
/// id>`, scored by submission time, oldest first): set by the commit that
/// submits one, taken off by the commit that decides it.
pub const KYC_PENDING_SCHEDULE: &str = "kyc:pending";

/// A withdrawal's entry in `WITHDRAWAL_LIST`.
pub fn withdrawal_list_entry(account_id: &AccountId, withdrawal: &Withdrawal) -> ScheduleEntry {
    ScheduleEntry {
        schedule: WITHDRAWAL_LIST,
        member: review_member(account_id, &withdrawal.id),
        at_ms: withdrawal.created_at.timestamp_millis(),
    }
}

pub fn withdrawal_document(id: impl Display) -> String {
    format!("withdrawal:{id}")
}

/// The index from a withdrawal's id to its account, for the withdrawals the
/// list cannot lead to (`WithdrawalReads::withdrawal_owner`).
pub fn withdrawal_index_key(withdrawal_id: impl Display) -> String {
    format!("withdrawal_account:{withdrawal_id}")
}

/// How a scheduled withdrawal (or event) is named: its account and its id.
pub fn review_member(account_id: &AccountId, withdrawal_id: impl Display) -> String {
    format!("{account_id}/{withdrawal_id}")
}

/// The account and the id a schedule member names; `None` if it names nothing.
pub fn member_parts(member: &str) -> Option<(AccountId, &str)> {
    let (account, subject) = member.split_once('/')?;
    Some((AccountId::parse(account)?, subject))
}

/// Every schedule a withdrawal can wait on, for commits that end it.
pub(crate) fn off_every_schedule(member: &str) -> Vec<(&'static str, String)> {
    [MANUAL_REVIEW_SCHEDULE, PAYOUT_SCHEDULE, PARKED_SCHEDULE].map(|schedule| (schedule, member.to_owned())).into()
}
