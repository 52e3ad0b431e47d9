//! Planning a withdrawal: every check a user meets, in the order they would
//! find natural — the destination, the account's state, the level's limits,
//! the balance — and what the withdrawal would cost and leave. A quote is a
//! plan shown to the user; a submission will apply the same plan atomically.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::{Account, Posting};
use super::binding::{BindingId, BindingStatus, Destination, DestinationProvider};
use super::fees::{DestinationFees, FeeQuote};
use super::ledger::{EntryKind, EntryWithdrawal, JournalEntry, LedgerAccount, LedgerError, leg};
use super::limits::{LevelLimits, LimitError, LimitsLeft};
use super::money::{Amount, Money, MoneyError};

/// When a withdrawal waits for an operator instead of settling by itself.
#[derive(Debug, Clone, Copy)]
pub struct ReviewPolicy {
    /// Amounts above this go to manual review.
    pub manual_over: Money,
    /// Withdrawals this soon after the payment PIN was changed or reset go to
    /// manual review: the classic pattern of a taken-over account.
    pub after_pin_change: chrono::Duration,
}

/// The rules a withdrawal is planned under: the level's limits and each
/// destination's fees, and review.
#[derive(Debug, Clone, Copy)]
pub struct PlanRules<'a> {
    pub limits: &'a LevelLimits,
    pub fees: &'a DestinationFees,
    pub review: &'a ReviewPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "large_amount")]
pub enum ReviewReason {
    /// No withdrawal has gone to this destination before.
    FirstToDestination,
    /// Above `ReviewPolicy::manual_over`.
    LargeAmount,
    /// Risk flag: the payment PIN was changed or reset within `ReviewPolicy::after_pin_change`.
    PinRecentlyChanged,
}

/// Why a withdrawal was rejected, from a documented list: what its
/// `failure_reason` says to the user (an app shows its own words for each),
/// while the operator's own words stay in `review_note`, for operators only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(example = "SUSPECTED_FRAUD")]
pub enum RejectionReason {
    /// The payment looks like fraud or a scam (money for someone else).
    SuspectedFraud,
    /// The destination does not look like the account holder's own.
    DestinationMismatch,
    /// The account's identity must be verified first.
    IdentityUnverified,
    /// Against the risk policy (amount, frequency, pattern).
    RiskPolicy,
    /// The user asked for it to be cancelled.
    UserRequested,
    /// Nobody decided within `withdrawals.manual_review_timeout_secs`.
    ReviewTimedOut,
    /// None of the above; the operator's note says more.
    Other,
}

impl RejectionReason {
    /// Whether an operator may give this reason: all but the time-out's,
    /// which only the worker gives when nobody decided.
    pub fn is_operators(self) -> bool {
        self != RejectionReason::ReviewTimedOut
    }

    /// The code as `failure_reason` carries it, e.g. `SUSPECTED_FRAUD`.
    pub fn code(self) -> &'static str {
        match self {
            RejectionReason::SuspectedFraud => "SUSPECTED_FRAUD",
            RejectionReason::DestinationMismatch => "DESTINATION_MISMATCH",
            RejectionReason::IdentityUnverified => "IDENTITY_UNVERIFIED",
            RejectionReason::RiskPolicy => "RISK_POLICY",
            RejectionReason::UserRequested => "USER_REQUESTED",
            RejectionReason::ReviewTimedOut => "REVIEW_TIMED_OUT",
            RejectionReason::Other => "OTHER",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalPlan {
    pub amount: Amount,
    pub fee: FeeQuote,
    pub binding_id: BindingId,
    pub destination: Destination,
    pub limits_after: LimitsLeft,
    pub fee_free_quota_after: Money,
    /// Empty: reviewed automatically.
    pub review_reasons: Vec<ReviewReason>,
}

/// The counter of the withdrawal ids this process makes
/// (`WithdrawalId::generate_at`), from a random start: 34 bits of it go in
/// an id, and it starts below 2^32, so it wraps after billions of ids.
static ID_COUNTER: std::sync::LazyLock<std::sync::atomic::AtomicU64> =
    std::sync::LazyLock::new(|| std::sync::atomic::AtomicU64::new(u64::from(rand::random::<u32>())));

/// A withdrawal's id: `wd_` and a time-ordered UUID (v7) in hex, so ids
/// sort by creation; parsed from URLs by shape (`wd_` and at most 61 word
/// characters), so anything else names no withdrawal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(example = "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
pub struct WithdrawalId(String);

impl WithdrawalId {
    pub fn generate() -> WithdrawalId {
        WithdrawalId(format!("wd_{}", uuid::Uuid::now_v7().simple()))
    }

    /// A new id whose time is `now` to the millisecond (the business
    /// clock's, when a withdrawal is created): its creation time can be
    /// read back from it (`created_ms`), which is how the list of
    /// withdrawals by creation time finds it by its id alone. The ids one
    /// process makes for one millisecond sort in the order it made them: a
    /// counter of the process follows the time, as UUID v7 allows.
    pub fn generate_at(now: DateTime<Utc>) -> WithdrawalId {
        let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        let random: [u8; 5] = rand::random();
        let counter = ID_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // The counter's 34 bits first (the UUID's 12 bits after its version,
        // then 22 of the bits after its variant), 40 random bits after.
        let bytes = [
            ((counter >> 30) & 0x0F) as u8,
            (counter >> 22) as u8,
            ((counter >> 16) & 0x3F) as u8,
            (counter >> 8) as u8,
            counter as u8,
            random[0],
            random[1],
            random[2],
            random[3],
            random[4],
        ];
        WithdrawalId(format!("wd_{}", uuid::Builder::from_unix_timestamp_millis(ms, &bytes).into_uuid().simple()))
    }

    /// The time (ms since the epoch) of an id made as `generate_at` makes
    /// them: `wd_` and a UUID v7 in hex; `None` for any other.
    pub fn created_ms(&self) -> Option<i64> {
        let hex = self.0.strip_prefix("wd_")?;
        if hex.len() != 32 {
            return None;
        }
        let uuid = uuid::Uuid::try_parse(hex).ok()?;
        if uuid.get_version_num() != 7 {
            return None;
        }
        let (seconds, nanos) = uuid.get_timestamp()?.to_unix();
        i64::try_from(seconds.checked_mul(1000)?.checked_add(u64::from(nanos / 1_000_000))?).ok()
    }

    pub fn parse(text: &str) -> Option<WithdrawalId> {
        let valid = text.starts_with("wd_")
            && text.len() > 3
            && text.len() <= 64
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        valid.then(|| WithdrawalId(text.to_owned()))
    }

    /// The withdrawal whose payout is the bill `out_bill_no` (the inverse
    /// of `Withdrawal::out_bill_no`), if it has a withdrawal's shape.
    pub fn of_out_bill_no(out_bill_no: &str) -> Option<WithdrawalId> {
        WithdrawalId::parse(&format!("wd_{out_bill_no}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for WithdrawalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum WithdrawalError {
    #[error("binding not found")]
    BindingNotFound,
    #[error("the binding is not active")]
    NoActiveBinding,
    #[error("the account is frozen")]
    AccountFrozen,
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("the available balance {available} does not cover {required}")]
    InsufficientBalance { available: Money, required: Money },
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the withdrawal is already {}", .0.as_str())]
    AlreadyFinished(WithdrawalStatus),
    /// An operator decision on a withdrawal that is not waiting for one.
    #[error("the withdrawal is {}, not waiting for review", .0.as_str())]
    AlreadyDecided(WithdrawalStatus),
    /// A payout step on a withdrawal that is not ready for one.
    #[error("the withdrawal is {}, not ready to pay out", .0.as_str())]
    NotPayable(WithdrawalStatus),
    #[error("withdrawal not found")]
    NotFound,
}

/// Where a withdrawal is in its life: `pending` (automatic review) or
/// `in_review` (an operator's) → `processing` → `settled`, or `rejected` /
/// `failed` with the hold released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "pending")]
pub enum WithdrawalStatus {
    Pending,
    InReview,
    Processing,
    Settled,
    Rejected,
    Failed,
}

impl WithdrawalStatus {
    /// The wire name, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawalStatus::Pending => "pending",
            WithdrawalStatus::InReview => "in_review",
            WithdrawalStatus::Processing => "processing",
            WithdrawalStatus::Settled => "settled",
            WithdrawalStatus::Rejected => "rejected",
            WithdrawalStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "processing", "at": "2025-05-01T09:12:00Z", "by": "acc_demo_operator"}))]
pub struct StatusChange {
    pub status: WithdrawalStatus,
    pub at: DateTime<Utc>,
    /// The operator who made this change, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl StatusChange {
    fn new(status: WithdrawalStatus, at: DateTime<Utc>) -> StatusChange {
        StatusChange { status, at, by: None }
    }
}

/// Where the payout of a withdrawal stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutProgress {
    /// Payout attempts started (each calls the provider with the same bill number).
    pub attempts: u32,
    /// Left for an operator after too many failed attempts; the worker no longer retries it.
    pub parked: bool,
    /// The last error met, if the payout has not finished.
    pub last_error: Option<String>,
    /// WeChat Pay's number of the transfer bill, once paid.
    pub transfer_bill_no: Option<String>,
    /// The provider's bill exists and is under way (not final yet): it is
    /// looked at again later without counting another attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<AwaitedBill>,
}

/// A bill under way that a payout waits on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitedBill {
    /// The bill's state when last seen, e.g. `PROCESSING` or `WAIT_USER_CONFIRM`.
    pub state: String,
    /// When the payout began to wait on it (an operator's retry starts the wait again).
    pub since: DateTime<Utc>,
    /// How often it was looked at since.
    pub looks: u32,
}

/// A withdrawal as recorded in its account's partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub id: WithdrawalId,
    pub binding_id: BindingId,
    pub destination: Destination,
    pub amount: Amount,
    pub fee: Money,
    /// The part of the free fee quota this withdrawal used (given back if it fails).
    pub fee_quota_used: Money,
    pub status: WithdrawalStatus,
    pub review_reasons: Vec<ReviewReason>,
    pub created_at: DateTime<Utc>,
    /// The local calendar day whose caps it counts against.
    pub limit_day: NaiveDate,
    /// The journal entry that holds its funds.
    pub hold_entry: String,
    pub history: Vec<StatusChange>,
    /// Why it failed (the provider's code) or was rejected (a
    /// `RejectionReason` code): shown to the user.
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// The operator's note on a rejection: for operators, never shown to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_note: Option<String>,
    #[serde(default)]
    pub payout: PayoutProgress,
}

impl Withdrawal {
    /// The merchant bill number of its payout: the id's 32 hex digits, which
    /// fits WeChat Pay's `out_bill_no` (≤ 32 of `[0-9A-Za-z]`) and makes every
    /// retry of this withdrawal's payout the same bill.
    pub fn out_bill_no(&self) -> String {
        self.id.as_str().trim_start_matches("wd_").to_owned()
    }

    /// An operator accepts a withdrawal waiting for review; it goes on to be paid out.
    pub fn approve(&mut self, operator: &str, now: DateTime<Utc>) -> Result<(), WithdrawalError> {
        if self.status != WithdrawalStatus::InReview {
            return Err(WithdrawalError::AlreadyDecided(self.status));
        }
        self.change_status(WithdrawalStatus::Processing, now, Some(operator));
        Ok(())
    }

    /// A payout attempt starts: a pending (auto-reviewed) or approved
    /// withdrawal is `processing` and counts one more attempt.
    pub fn begin_payout(&mut self, now: DateTime<Utc>) -> Result<(), WithdrawalError> {
        match self.status {
            WithdrawalStatus::Pending => self.change_status(WithdrawalStatus::Processing, now, None),
            WithdrawalStatus::Processing if !self.payout.parked => {}
            status => return Err(WithdrawalError::NotPayable(status)),
        }
        self.payout.attempts += 1;
        Ok(())
    }

    /// The next payout attempt: begun (`first` when the withdrawal was still
    /// `pending`), or — once `attempts_max` attempts are spent — parked for an
    /// operator instead of being retried forever. A payout waiting on a bill
    /// under way looks at it again without counting an attempt, until it has
    /// waited `wait_max`; then it is parked too.
    pub fn next_payout_attempt(
        &mut self,
        attempts_max: u32,
        wait_max: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<PayoutAttempt, WithdrawalError> {
        let payable = matches!(self.status, WithdrawalStatus::Pending | WithdrawalStatus::Processing);
        if !payable || self.payout.parked {
            return Err(WithdrawalError::NotPayable(self.status));
        }
        if let Some(awaiting) = &self.payout.awaiting {
            if now - awaiting.since < wait_max {
                return Ok(PayoutAttempt::Look);
            }
            let error = format!("bill still {} after waiting {}s", awaiting.state, wait_max.num_seconds());
            self.payout_interrupted(&error, true);
            return Ok(PayoutAttempt::Parked);
        }
        if self.payout.attempts >= attempts_max {
            let error = self.payout.last_error.clone().unwrap_or_default();
            self.payout_interrupted(&error, true);
            return Ok(PayoutAttempt::Parked);
        }
        let first = self.status == WithdrawalStatus::Pending;
        self.begin_payout(now)?;
        Ok(PayoutAttempt::Begun { first })
    }

    /// The provider's bill is under way in `state`: the payout waits on it.
    pub fn await_bill(&mut self, state: &str, now: DateTime<Utc>) {
        match &mut self.payout.awaiting {
            Some(awaiting) => {
                awaiting.state = state.to_owned();
                awaiting.looks = awaiting.looks.saturating_add(1);
            }
            None => self.payout.awaiting = Some(AwaitedBill { state: state.to_owned(), since: now, looks: 0 }),
        }
    }

    /// A payout attempt ended without an answer; `park` leaves it for an operator.
    pub fn payout_interrupted(&mut self, error: &str, park: bool) {
        self.payout.last_error = Some(error.to_owned());
        self.payout.parked = park;
    }

    /// An operator sends a parked payout back to the worker for a fresh round of attempts.
    pub fn retry_payout(&mut self, operator: &str, now: DateTime<Utc>) -> Result<(), WithdrawalError> {
        if self.status != WithdrawalStatus::Processing || !self.payout.parked {
            return Err(WithdrawalError::AlreadyDecided(self.status));
        }
        let awaiting = self.payout.awaiting.take().map(|awaiting| AwaitedBill { since: now, ..awaiting });
        self.payout = PayoutProgress { attempts: 0, parked: false, awaiting, ..std::mem::take(&mut self.payout) };
        self.history.push(StatusChange { status: self.status, at: now, by: Some(operator.to_owned()) });
        Ok(())
    }

    /// Whether an operator may decide it now: waiting for review, or a parked payout.
    pub fn awaits_operator(&self) -> bool {
        self.status == WithdrawalStatus::InReview || (self.status == WithdrawalStatus::Processing && self.payout.parked)
    }

    fn change_status(&mut self, status: WithdrawalStatus, now: DateTime<Utc>, by: Option<&str>) {
        self.status = status;
        self.history.push(StatusChange { status, at: now, by: by.map(str::to_owned) });
    }

    pub fn total_debit(&self) -> Result<Money, MoneyError> {
        self.amount.money().checked_add(self.fee)
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.status, WithdrawalStatus::Settled | WithdrawalStatus::Rejected | WithdrawalStatus::Failed)
    }
}

/// What `Withdrawal::next_payout_attempt` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutAttempt {
    /// Pay now; `first` when it has just left `pending`.
    Begun { first: bool },
    /// Look at the bill under way again (no attempt counted).
    Look,
    /// Too many attempts: left for an operator.
    Parked,
}

/// How a withdrawal ends without paying out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpaid {
    /// An operator said no.
    Rejected,
    /// The payout failed (the destination refused it, say).
    Failed,
}

impl Account {
    /// Carries out a plan in this account: holds amount + fee, counts the
    /// limits, the free quota and the destination, and returns the
    /// withdrawal with the journal entry of its hold.
    pub fn hold_withdrawal(
        &mut self,
        plan: WithdrawalPlan,
        id: WithdrawalId,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<(Withdrawal, JournalEntry), WithdrawalError> {
        let total = Amount::new(plan.fee.total_debit)?;
        let posting = Posting {
            kind: EntryKind::WithdrawalHold,
            memo: format!(
                "withdrawal {id} to {} {}",
                plan.destination.provider.display_name(),
                plan.destination.masked_nickname()
            ),
            actor: None,
            legs: vec![leg(LedgerAccount::UserAvailable, LedgerAccount::UserHeld, total)],
        };
        let mut entry = self.post(posting, now)?;
        entry.withdrawal =
            Some(EntryWithdrawal { id: id.to_string(), fee: plan.fee.fee, provider: Some(plan.destination.provider) });
        self.withdrawal_usage.record(plan.amount, today)?;
        let quota_used = self.fee_quota_used_mut(plan.destination.provider);
        *quota_used = quota_used.checked_add(plan.fee.quota_used)?;
        if let Some(binding) = self.bindings.iter_mut().find(|b| b.id == plan.binding_id) {
            binding.withdrawal_count += 1;
        }
        let status =
            if plan.review_reasons.is_empty() { WithdrawalStatus::Pending } else { WithdrawalStatus::InReview };
        let withdrawal = Withdrawal {
            id,
            binding_id: plan.binding_id,
            destination: plan.destination,
            amount: plan.amount,
            fee: plan.fee.fee,
            fee_quota_used: plan.fee.quota_used,
            status,
            review_reasons: plan.review_reasons,
            created_at: now,
            limit_day: today,
            hold_entry: entry.id.clone(),
            history: vec![StatusChange::new(status, now)],
            failure_reason: None,
            review_note: None,
            payout: PayoutProgress::default(),
        };
        Ok((withdrawal, entry))
    }
}

impl Account {
    /// Ends a withdrawal that will not be paid: the hold goes back to
    /// available in full (amount and fee), and its share of today's and this
    /// month's caps and of the free fee quota is given back. A two-phase
    /// transfer voided, never half posted.
    pub fn release_withdrawal(
        &mut self,
        withdrawal: &mut Withdrawal,
        outcome: Unpaid,
        reason: &str,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<JournalEntry, WithdrawalError> {
        self.release_withdrawal_by(withdrawal, outcome, reason, None, today, now)
    }

    /// As `release_withdrawal`, naming the operator who decided it.
    pub fn release_withdrawal_by(
        &mut self,
        withdrawal: &mut Withdrawal,
        outcome: Unpaid,
        reason: &str,
        operator: Option<&str>,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<JournalEntry, WithdrawalError> {
        if withdrawal.is_finished() {
            return Err(WithdrawalError::AlreadyFinished(withdrawal.status));
        }
        let total = Amount::new(withdrawal.total_debit()?)?;
        let posting = Posting {
            kind: EntryKind::WithdrawalRelease,
            memo: format!(
                "withdrawal {} {}: {reason}",
                withdrawal.id,
                if outcome == Unpaid::Rejected { "rejected" } else { "failed" }
            ),
            actor: operator.map(str::to_owned),
            legs: vec![leg(LedgerAccount::UserHeld, LedgerAccount::UserAvailable, total)],
        };
        let mut entry = self.post(posting, now)?;
        entry.withdrawal = Some(EntryWithdrawal {
            id: withdrawal.id.to_string(),
            fee: withdrawal.fee,
            provider: Some(withdrawal.destination.provider),
        });
        self.withdrawal_usage.release(withdrawal.amount, withdrawal.limit_day, today)?;
        let quota_used = self.fee_quota_used_mut(withdrawal.destination.provider);
        *quota_used = quota_used.checked_sub(withdrawal.fee_quota_used)?.max(Money::ZERO);
        let status = match outcome {
            Unpaid::Rejected => WithdrawalStatus::Rejected,
            Unpaid::Failed => WithdrawalStatus::Failed,
        };
        withdrawal.change_status(status, now, operator);
        withdrawal.failure_reason = Some(reason.to_owned());
        withdrawal.payout.parked = false;
        Ok(entry)
    }

    /// An operator rejects a withdrawal waiting for them (in review, or a
    /// parked payout that was never paid); everything held comes back. The
    /// user sees the reason's code; the note stays with operators.
    pub fn reject_withdrawal(
        &mut self,
        withdrawal: &mut Withdrawal,
        operator: &str,
        reason: RejectionReason,
        note: Option<&str>,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<JournalEntry, WithdrawalError> {
        if !withdrawal.awaits_operator() {
            return Err(WithdrawalError::AlreadyDecided(withdrawal.status));
        }
        let entry =
            self.release_withdrawal_by(withdrawal, Unpaid::Rejected, reason.code(), Some(operator), today, now)?;
        withdrawal.review_note = note.map(str::to_owned);
        Ok(entry)
    }

    /// Ends a paid-out withdrawal: the held amount leaves to the WeChat
    /// settlement account and the fee to the fee account, in one entry.
    pub fn settle_withdrawal(
        &mut self,
        withdrawal: &mut Withdrawal,
        transfer_bill_no: &str,
        now: DateTime<Utc>,
    ) -> Result<JournalEntry, WithdrawalError> {
        if withdrawal.status != WithdrawalStatus::Processing {
            return Err(WithdrawalError::NotPayable(withdrawal.status));
        }
        let paid_to = match withdrawal.destination.provider {
            DestinationProvider::Wechat => LedgerAccount::WechatSettlement,
            DestinationProvider::Alipay => LedgerAccount::AlipaySettlement,
        };
        let mut legs = vec![leg(LedgerAccount::UserHeld, paid_to, withdrawal.amount)];
        if withdrawal.fee > Money::ZERO {
            legs.push(leg(LedgerAccount::UserHeld, LedgerAccount::Fees, Amount::new(withdrawal.fee)?));
        }
        let posting = Posting {
            kind: EntryKind::WithdrawalSettlement,
            memo: format!(
                "withdrawal {} paid to {} {} (bill {transfer_bill_no})",
                withdrawal.id,
                withdrawal.destination.provider.display_name(),
                withdrawal.destination.masked_nickname()
            ),
            actor: None,
            legs,
        };
        let mut entry = self.post(posting, now)?;
        entry.withdrawal = Some(EntryWithdrawal {
            id: withdrawal.id.to_string(),
            fee: withdrawal.fee,
            provider: Some(withdrawal.destination.provider),
        });
        withdrawal.change_status(WithdrawalStatus::Settled, now, None);
        withdrawal.payout.transfer_bill_no = Some(transfer_bill_no.to_owned());
        withdrawal.payout.last_error = None;
        withdrawal.payout.parked = false;
        Ok(entry)
    }

    /// How much of `provider`'s lifetime free fee quota this account (its
    /// verified identity) has spent.
    pub fn fee_quota_used(&self, provider: DestinationProvider) -> Money {
        match provider {
            DestinationProvider::Wechat => self.fee_quota_used,
            DestinationProvider::Alipay => self.alipay_fee_quota_used,
        }
    }

    fn fee_quota_used_mut(&mut self, provider: DestinationProvider) -> &mut Money {
        match provider {
            DestinationProvider::Wechat => &mut self.fee_quota_used,
            DestinationProvider::Alipay => &mut self.alipay_fee_quota_used,
        }
    }

    /// The wallet an active binding of this account pays out to.
    pub fn withdrawal_destination(&self, binding_id: &BindingId) -> Result<&Destination, WithdrawalError> {
        let binding = self.binding(binding_id).ok_or(WithdrawalError::BindingNotFound)?;
        match (binding.status, &binding.destination) {
            (BindingStatus::Active, Some(destination)) => Ok(destination),
            _ => Err(WithdrawalError::NoActiveBinding),
        }
    }

    pub fn plan_withdrawal(
        &self,
        binding_id: &BindingId,
        amount: Amount,
        rules: PlanRules<'_>,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<WithdrawalPlan, WithdrawalError> {
        let PlanRules { limits, fees, review } = rules;
        let destination = self.withdrawal_destination(binding_id)?.clone();
        let first_to_destination = self.binding(binding_id).is_some_and(|b| b.withdrawal_count == 0);
        if self.frozen {
            return Err(WithdrawalError::AccountFrozen);
        }
        self.withdrawal_usage.check(limits, amount, today)?;
        let fees = fees.of(destination.provider);
        let quota_used = self.fee_quota_used(destination.provider);
        let fee = fees.quote(amount, quota_used)?;
        let available = self.ledger.get(LedgerAccount::UserAvailable);
        if available < fee.total_debit {
            return Err(WithdrawalError::InsufficientBalance { available, required: fee.total_debit });
        }
        let mut usage_after = self.withdrawal_usage.clone();
        usage_after.record(amount, today)?;
        let mut review_reasons = Vec::new();
        if first_to_destination {
            review_reasons.push(ReviewReason::FirstToDestination);
        }
        if amount.money() > review.manual_over {
            review_reasons.push(ReviewReason::LargeAmount);
        }
        if self.pin.as_ref().is_some_and(|pin| pin.replaces_earlier && now - pin.set_at < review.after_pin_change) {
            review_reasons.push(ReviewReason::PinRecentlyChanged);
        }
        Ok(WithdrawalPlan {
            amount,
            fee,
            binding_id: binding_id.clone(),
            destination,
            limits_after: usage_after.left(limits, today),
            fee_free_quota_after: fees.quota_left(quota_used.checked_add(fee.quota_used)?),
            review_reasons,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::fixtures::{alice, now};
    use crate::domain::fees::FeePolicy;
    use crate::domain::ledger::{EntryKind, LedgerAccount, leg};
    use crate::domain::limits::LimitKind;
    use chrono::Duration;
    use rust_decimal::Decimal;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn an_id_made_at_a_time_gives_that_time_back() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T09:30:01.234567Z").unwrap().with_timezone(&Utc);
        let id = WithdrawalId::generate_at(at);
        assert_eq!(id.created_ms(), Some(at.timestamp_millis()));
        assert!(WithdrawalId::parse(id.as_str()).is_some(), "{id} has a withdrawal id's shape");
        let next = WithdrawalId::generate_at(at);
        assert!(next > id, "ids of one millisecond sort as they were made: {next} after {id}");
        assert_eq!(next.created_ms(), id.created_ms());
        let later = WithdrawalId::generate_at(at + Duration::milliseconds(1));
        assert!(later > next, "ids sort by their time");
        let earlier = WithdrawalId::generate_at(at - Duration::milliseconds(1));
        assert_eq!(earlier.created_ms(), Some(at.timestamp_millis() - 1), "an earlier time is kept as it is");
        for other in ["wd_1", "wd_0196a3c5e2b84d40a1f3c9e2d4b5a6c7", "wd_zz96a3c5e2b87d40a1f3c9e2d4b5a6c7"] {
            assert_eq!(WithdrawalId::parse(other).unwrap().created_ms(), None, "{other}: not a time-ordered id");
        }
    }

    fn limits() -> LevelLimits {
        LevelLimits {
            withdrawals_allowed: true,
            amount_min: money("0.10"),
            per_transaction_max: money("1000.00"),
            daily_amount_max: money("1000.00"),
            monthly_amount_max: money("3000.00"),
            daily_count_max: 5,
        }
    }

    fn fees() -> DestinationFees {
        DestinationFees {
            wechat: FeePolicy { free_quota: money("1000.00"), rate: Decimal::new(1, 3), min_fee: money("0.10") },
            alipay: FeePolicy { free_quota: money("20000.00"), rate: Decimal::new(1, 3), min_fee: money("0.10") },
        }
    }

    fn review() -> ReviewPolicy {
        ReviewPolicy { manual_over: money("500.00"), after_pin_change: Duration::hours(24) }
    }

    fn today() -> NaiveDate {
        now().date_naive()
    }

    /// Alice with ¥800.00 and an active WeChat binding.
    fn alice_bound() -> (Account, BindingId) {
        let mut account = alice();
        let id = fund_and_bind(&mut account, DestinationProvider::Wechat);
        (account, id)
    }

    /// Funds `account` with ¥800.00 and gives it an active binding to `provider`.
    fn fund_and_bind(account: &mut Account, provider: DestinationProvider) -> BindingId {
        let posting = crate::domain::account::Posting {
            kind: EntryKind::DemoSeed,
            memo: String::new(),
            actor: None,
            legs: vec![leg(LedgerAccount::Funding, LedgerAccount::UserAvailable, "800.00".parse().unwrap())],
        };
        account.post(posting, now()).unwrap();
        let id = account.start_binding(provider, now(), Duration::minutes(10)).unwrap();
        let destination = Destination {
            provider,
            openid: "o6_bmjrPTlm6_2sgVt7hMZOPfL2M".into(),
            unionid: None,
            nickname: "张三丰".into(),
            avatar_url: String::new(),
            real_name: None,
        };
        account.authorize_binding(&id, destination, now(), Duration::minutes(10)).unwrap();
        account.activate_binding(&id, now()).unwrap();
        id
    }

    fn plan(account: &Account, binding: &BindingId, amount: &str) -> Result<WithdrawalPlan, WithdrawalError> {
        let rules = PlanRules { limits: &limits(), fees: &fees(), review: &review() };
        account.plan_withdrawal(binding, amount.parse().unwrap(), rules, today(), now())
    }

    #[test]
    fn a_bill_number_names_the_withdrawal_it_pays() {
        let id = WithdrawalId::generate();
        let out_bill_no = id.as_str().trim_start_matches("wd_");
        assert_eq!(WithdrawalId::of_out_bill_no(out_bill_no), Some(id));
        assert_eq!(WithdrawalId::of_out_bill_no("not a bill"), None);
    }

    #[test]
    fn a_plan_shows_cost_limits_and_review() {
        let (account, binding) = alice_bound();
        let planned = plan(&account, &binding, "600.00").unwrap();
        assert_eq!((planned.fee.fee, planned.fee.total_debit), (Money::ZERO, money("600.00")));
        assert_eq!(planned.limits_after.daily_remaining, money("400.00"));
        assert_eq!(planned.fee_free_quota_after, money("400.00"));
        assert_eq!(planned.review_reasons, [ReviewReason::FirstToDestination, ReviewReason::LargeAmount]);
    }

    #[test]
    fn holding_moves_the_total_and_counts_everything() {
        let (mut account, binding) = alice_bound();
        let planned = plan(&account, &binding, "600.00").unwrap();
        let (withdrawal, entry) =
            account.hold_withdrawal(planned, WithdrawalId::parse("wd_1").unwrap(), today(), now()).unwrap();
        assert_eq!(
            (account.ledger.get(LedgerAccount::UserAvailable), account.ledger.get(LedgerAccount::UserHeld)),
            (money("200.00"), money("600.00"))
        );
        assert_eq!(entry.change_to(LedgerAccount::UserHeld).unwrap(), money("600.00"));
        assert_eq!(withdrawal.status, WithdrawalStatus::InReview);
        assert_eq!(account.binding(&binding).unwrap().withdrawal_count, 1);
        assert_eq!(account.fee_quota_used, money("600.00"));
        let second = plan(&account, &binding, "100.00").unwrap();
        assert_eq!(second.review_reasons, [], "no longer the first to this destination");
        assert_eq!(
            plan(&account, &binding, "200.01").unwrap_err(),
            WithdrawalError::InsufficientBalance { available: money("200.00"), required: money("200.01") }
        );
    }

    #[test]
    fn a_released_withdrawal_gives_everything_back_once() {
        let (mut account, binding) = alice_bound();
        let before =
            (account.ledger.clone(), account.withdrawal_usage.left(&limits(), today()), account.fee_quota_used);
        let planned = plan(&account, &binding, "600.00").unwrap();
        let (mut withdrawal, _) =
            account.hold_withdrawal(planned, WithdrawalId::parse("wd_1").unwrap(), today(), now()).unwrap();
        let entry =
            account.release_withdrawal(&mut withdrawal, Unpaid::Rejected, "operator said no", today(), now()).unwrap();
        assert_eq!(entry.change_to(LedgerAccount::UserAvailable).unwrap(), money("600.00"));
        let after = (account.ledger.clone(), account.withdrawal_usage.left(&limits(), today()), account.fee_quota_used);
        assert_eq!(after, before);
        assert_eq!(
            (withdrawal.status, withdrawal.failure_reason.as_deref()),
            (WithdrawalStatus::Rejected, Some("operator said no"))
        );
        assert_eq!(
            account.release_withdrawal(&mut withdrawal, Unpaid::Failed, "again", today(), now()).unwrap_err(),
            WithdrawalError::AlreadyFinished(WithdrawalStatus::Rejected)
        );
        assert_eq!(
            account.ledger.sum(crate::domain::asset::Asset::Cny).unwrap(),
            crate::domain::asset::Quantity::zero(crate::domain::asset::Asset::Cny)
        );
    }

    #[test]
    fn each_destination_spends_and_gets_back_its_own_free_quota() {
        let (mut account, wechat) = alice_bound();
        let alipay = fund_and_bind(&mut account, DestinationProvider::Alipay);
        account.fee_quota_used = money("1000.00");
        // WeChat's quota is spent, Alipay's is whole: ¥600 is ¥0.60 one way and free the other.
        assert_eq!(plan(&account, &wechat, "600.00").unwrap().fee.fee, money("0.60"));
        let planned = plan(&account, &alipay, "600.00").unwrap();
        assert_eq!((planned.fee.fee, planned.fee_free_quota_after), (Money::ZERO, money("19400.00")));
        let (mut withdrawal, _) =
            account.hold_withdrawal(planned, WithdrawalId::parse("wd_1").unwrap(), today(), now()).unwrap();
        assert_eq!((account.fee_quota_used, account.alipay_fee_quota_used), (money("1000.00"), money("600.00")));
        account.release_withdrawal(&mut withdrawal, Unpaid::Failed, "PAYEE_NOT_EXIST", today(), now()).unwrap();
        assert_eq!((account.fee_quota_used, account.alipay_fee_quota_used), (money("1000.00"), Money::ZERO));
    }

    fn held(account: &mut Account, binding: &BindingId, amount: &str) -> Withdrawal {
        let planned = plan(account, binding, amount).unwrap();
        account
            .hold_withdrawal(
                planned,
                WithdrawalId::parse("wd_0190a1b2c3d4e5f60718293a4b5c6d7e").unwrap(),
                today(),
                now(),
            )
            .unwrap()
            .0
    }

    #[test]
    fn a_settled_withdrawal_pays_the_amount_out_and_the_fee_in() {
        let (mut account, binding) = alice_bound();
        account.fee_quota_used = money("1000.00");
        let mut withdrawal = held(&mut account, &binding, "100.00");
        assert_eq!(withdrawal.fee, money("0.10"));
        assert_eq!(
            account.settle_withdrawal(&mut withdrawal, "1330000", now()).unwrap_err(),
            WithdrawalError::NotPayable(WithdrawalStatus::InReview),
            "waiting for an operator"
        );
        withdrawal.approve("acc_demo_operator", now()).unwrap();
        assert_eq!(
            withdrawal.approve("acc_demo_operator", now()),
            Err(WithdrawalError::AlreadyDecided(WithdrawalStatus::Processing))
        );
        withdrawal.begin_payout(now()).unwrap();
        let entry = account.settle_withdrawal(&mut withdrawal, "1330000", now()).unwrap();
        assert_eq!(entry.kind, EntryKind::WithdrawalSettlement);
        let said = EntryWithdrawal {
            id: withdrawal.id.to_string(),
            fee: money("0.10"),
            provider: Some(DestinationProvider::Wechat),
        };
        assert_eq!(entry.withdrawal, Some(said));
        assert_eq!(
            entry.change_to(LedgerAccount::Fees).unwrap(),
            money("0.10"),
            "the fee it names is the fee it charges"
        );
        assert_eq!(account.ledger.get(LedgerAccount::UserHeld), Money::ZERO);
        assert_eq!(account.ledger.get(LedgerAccount::UserAvailable), money("699.90"));
        assert_eq!(
            (account.ledger.get(LedgerAccount::WechatSettlement), account.ledger.get(LedgerAccount::Fees)),
            (money("100.00"), money("0.10"))
        );
        assert_eq!(
            account.ledger.sum(crate::domain::asset::Asset::Cny).unwrap(),
            crate::domain::asset::Quantity::zero(crate::domain::asset::Asset::Cny)
        );
        assert_eq!(withdrawal.status, WithdrawalStatus::Settled);
        assert_eq!(withdrawal.payout.transfer_bill_no.as_deref(), Some("1330000"));
        let statuses: Vec<_> = withdrawal.history.iter().map(|change| change.status).collect();
        assert_eq!(statuses, [WithdrawalStatus::InReview, WithdrawalStatus::Processing, WithdrawalStatus::Settled]);
        assert_eq!(withdrawal.history[1].by.as_deref(), Some("acc_demo_operator"));
        assert_eq!(
            account.settle_withdrawal(&mut withdrawal, "1330000", now()).unwrap_err(),
            WithdrawalError::NotPayable(WithdrawalStatus::Settled),
            "never twice"
        );
        assert!(matches!(
            account.release_withdrawal(&mut withdrawal, Unpaid::Failed, "late", today(), now()),
            Err(WithdrawalError::AlreadyFinished(WithdrawalStatus::Settled))
        ));
    }

    const WAIT_MAX: chrono::Duration = chrono::Duration::hours(25);

    #[test]
    fn a_bill_under_way_is_looked_at_without_spending_attempts_until_the_wait_runs_out() {
        let (mut account, binding) = alice_bound();
        held(&mut account, &binding, "10.00");
        let mut withdrawal = held(&mut account, &binding, "10.00");
        assert_eq!(withdrawal.next_payout_attempt(1, WAIT_MAX, now()), Ok(PayoutAttempt::Begun { first: true }));
        withdrawal.await_bill("ACCEPTED", now());
        for (hours, state) in [(1, "PROCESSING"), (24, "WAIT_USER_CONFIRM")] {
            let at = now() + chrono::Duration::hours(hours);
            assert_eq!(withdrawal.next_payout_attempt(1, WAIT_MAX, at), Ok(PayoutAttempt::Look));
            withdrawal.await_bill(state, at);
        }
        let awaiting = withdrawal.payout.awaiting.clone().unwrap();
        assert_eq!((awaiting.state.as_str(), awaiting.since, awaiting.looks), ("WAIT_USER_CONFIRM", now(), 2));
        assert_eq!(withdrawal.payout.attempts, 1, "looks spend no attempts");
        assert_eq!(withdrawal.next_payout_attempt(1, WAIT_MAX, now() + WAIT_MAX), Ok(PayoutAttempt::Parked));
        assert!(withdrawal.awaits_operator());
        let retried_at = now() + chrono::Duration::days(2);
        withdrawal.retry_payout("acc_demo_operator", retried_at).unwrap();
        assert_eq!(withdrawal.payout.awaiting.as_ref().map(|awaiting| awaiting.since), Some(retried_at));
        assert_eq!(withdrawal.next_payout_attempt(1, WAIT_MAX, retried_at), Ok(PayoutAttempt::Look));
    }

    #[test]
    fn payouts_count_attempts_and_park_for_an_operator() {
        let (mut account, binding) = alice_bound();
        held(&mut account, &binding, "10.00");
        let mut withdrawal = held(&mut account, &binding, "10.00");
        assert_eq!(withdrawal.status, WithdrawalStatus::Pending);
        assert_eq!(withdrawal.out_bill_no(), "0190a1b2c3d4e5f60718293a4b5c6d7e");
        assert!(!withdrawal.awaits_operator());
        withdrawal.begin_payout(now()).unwrap();
        withdrawal.begin_payout(now()).unwrap();
        assert_eq!((withdrawal.status, withdrawal.payout.attempts), (WithdrawalStatus::Processing, 2));
        withdrawal.payout_interrupted("provider unavailable", true);
        assert!(withdrawal.awaits_operator());
        assert_eq!(withdrawal.begin_payout(now()), Err(WithdrawalError::NotPayable(WithdrawalStatus::Processing)));
        withdrawal.retry_payout("acc_demo_operator", now()).unwrap();
        assert_eq!((withdrawal.payout.attempts, withdrawal.payout.parked), (0, false));
        assert_eq!(withdrawal.payout.last_error.as_deref(), Some("provider unavailable"));
        withdrawal.begin_payout(now()).unwrap();
        account.release_withdrawal(&mut withdrawal, Unpaid::Failed, "ACCOUNT_FROZEN", today(), now()).unwrap();
        assert_eq!(withdrawal.status, WithdrawalStatus::Failed);
        assert_eq!(withdrawal.begin_payout(now()), Err(WithdrawalError::NotPayable(WithdrawalStatus::Failed)));
    }

    #[test]
    fn payout_attempts_run_out_into_parking_and_only_waiting_withdrawals_are_rejected() {
        let (mut account, binding) = alice_bound();
        held(&mut account, &binding, "10.00");
        let mut withdrawal = held(&mut account, &binding, "10.00");
        assert_eq!(withdrawal.next_payout_attempt(2, WAIT_MAX, now()), Ok(PayoutAttempt::Begun { first: true }));
        assert_eq!(withdrawal.next_payout_attempt(2, WAIT_MAX, now()), Ok(PayoutAttempt::Begun { first: false }));
        assert_eq!(
            account.reject_withdrawal(
                &mut withdrawal,
                "acc_demo_operator",
                RejectionReason::Other,
                None,
                today(),
                now()
            ),
            Err(WithdrawalError::AlreadyDecided(WithdrawalStatus::Processing)),
            "a payout under way is not the operator's"
        );
        assert_eq!(withdrawal.next_payout_attempt(2, WAIT_MAX, now()), Ok(PayoutAttempt::Parked));
        assert!(withdrawal.payout.parked);
        assert_eq!(
            withdrawal.next_payout_attempt(2, WAIT_MAX, now()),
            Err(WithdrawalError::NotPayable(WithdrawalStatus::Processing))
        );
        let note = Some("never paid");
        account
            .reject_withdrawal(&mut withdrawal, "acc_demo_operator", RejectionReason::RiskPolicy, note, today(), now())
            .unwrap();
        assert_eq!(withdrawal.status, WithdrawalStatus::Rejected);
        assert_eq!(withdrawal.failure_reason.as_deref(), Some("RISK_POLICY"));
        assert_eq!(withdrawal.review_note.as_deref(), Some("never paid"));
        assert_eq!(withdrawal.history.last().unwrap().by.as_deref(), Some("acc_demo_operator"));
    }

    #[test]
    fn a_recently_changed_pin_flags_the_withdrawal_for_review() {
        use crate::domain::pin::PinRecord;
        let (mut account, binding) = alice_bound();
        held(&mut account, &binding, "10.00");
        let record = |at| PinRecord { salt: "s".into(), digest: "d".into(), set_at: at, replaces_earlier: false };
        account.set_pin(record(now() - Duration::hours(48)));
        assert_eq!(plan(&account, &binding, "10.00").unwrap().review_reasons, [], "a first PIN is no risk");
        account.set_pin(record(now() - Duration::hours(2)));
        assert_eq!(plan(&account, &binding, "10.00").unwrap().review_reasons, [ReviewReason::PinRecentlyChanged]);
        account.set_pin(record(now() - Duration::hours(25)));
        assert_eq!(plan(&account, &binding, "10.00").unwrap().review_reasons, [], "the flag ends after the window");
    }

    #[test]
    fn checks_come_in_a_natural_order() {
        let (mut account, binding) = alice_bound();
        assert_eq!(plan(&account, &BindingId::generate(), "1.00"), Err(WithdrawalError::BindingNotFound));
        assert!(matches!(
            plan(&account, &binding, "1000.01"),
            Err(WithdrawalError::Limit(LimitError::AmountExceeded { limit: LimitKind::PerTransaction, .. }))
        ));
        assert_eq!(
            plan(&account, &binding, "800.01"),
            Err(WithdrawalError::InsufficientBalance { available: money("800.00"), required: money("800.01") })
        );
        account.frozen = true;
        assert_eq!(plan(&account, &binding, "1.00"), Err(WithdrawalError::AccountFrozen));
        account.frozen = false;
        account.unbind(&binding, now()).unwrap();
        assert_eq!(plan(&account, &binding, "1.00"), Err(WithdrawalError::NoActiveBinding));
    }
}
