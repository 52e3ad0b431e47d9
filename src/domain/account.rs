//! The wallet account: who it belongs to, its verification level and its
//! partition of the ledger. All changes to an account go through methods here,
//! so the rules are written once and both stores only save the result.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::binding::Binding;
use super::credentials::Login;
use super::kyc::KycRequest;
use super::ledger::{EntryKind, JournalEntry, LedgerBalances, LedgerError, Leg};
use super::limits::WithdrawalUsage;
use super::lockout::AttemptGuard;
use super::money::Money;
use super::pin::{PinGuard, PinRecord};
use super::sms::SmsChallenge;
use super::transfer_policy::TransferUsage;

/// An opaque account id, e.g. `acc_01J…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(example = "acc_demo_alice")]
pub struct AccountId(String);

/// Longest id accepted from a URL; generated ids are far shorter.
const ACCOUNT_ID_BYTES_MAX: usize = 64;

impl AccountId {
    pub fn generate() -> AccountId {
        AccountId(format!("acc_{}", uuid::Uuid::now_v7().simple()))
    }

    /// Accepts ids from URLs and tokens: `acc_` and a short run of `[A-Za-z0-9_]`.
    /// Anything else cannot name an account, so it is simply not found.
    pub fn parse(text: &str) -> Option<AccountId> {
        let valid = text.len() <= ACCOUNT_ID_BYTES_MAX
            && text.len() > "acc_".len()
            && text.starts_with("acc_")
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        valid.then(|| AccountId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "user")]
pub enum Role {
    User,
    Operator,
}

impl Role {
    /// Whether accounts of this role hold money. Only users do: an
    /// operator's account exists to act on other accounts, so it has no
    /// wallet to show, credit or debit (its ledger stays at zero).
    pub fn has_wallet(self) -> bool {
        match self {
            Role::User => true,
            Role::Operator => false,
        }
    }
}

/// Identity verification level: L0 unverified, L1 real name + resident ID, L2 + face check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[schema(example = "L1")]
pub enum VerificationLevel {
    L0,
    L1,
    L2,
}

/// A PHC-format password hash; never the password itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub role: Role,
    pub login: Login,
    pub password_hash: PasswordHash,
    pub level: VerificationLevel,
    pub frozen: bool,
    pub created_at: DateTime<Utc>,
    pub ledger: LedgerBalances,
    /// How many journal entries the partition has; the next entry's `seq`.
    pub journal_len: u64,
    /// Withdrawal destinations, live and recently ended (see `binding`).
    #[serde(default)]
    pub bindings: Vec<Binding>,
    /// Outstanding SMS verification codes, as digests (see `sms`).
    #[serde(default)]
    pub sms_challenges: Vec<SmsChallenge>,
    /// The payment PIN's salt and keyed digest, once set (see `pin`).
    #[serde(default)]
    pub pin: Option<PinRecord>,
    #[serde(default)]
    pub pin_guard: PinGuard,
    /// Identity verification requests, pending and recently decided (see `kyc`).
    #[serde(default)]
    pub kyc_requests: Vec<KycRequest>,
    /// Withdrawals counted against the daily and monthly caps (see `limits`).
    #[serde(default)]
    pub withdrawal_usage: WithdrawalUsage,
    /// How much of WeChat's lifetime free fee quota is spent (see `fees`).
    /// An ID number verifies one account only, so per account is per identity.
    #[serde(default)]
    pub fee_quota_used: Money,
    /// How much of Alipay's lifetime free fee quota is spent, counted apart
    /// from WeChat's as the two wallets count them.
    #[serde(default)]
    pub alipay_fee_quota_used: Money,
    /// The revocation watermark of access tokens: each carries the generation
    /// it was issued at, and one issued before the latest revocation (a lower
    /// generation) is refused wherever the account is loaded to be acted on.
    #[serde(default)]
    pub token_generation: u32,
    /// Failed logins in a row and the login lock (see `login_guard`).
    #[serde(default)]
    pub login_guard: AttemptGuard,
    /// Transfers counted against today's limits (see `transfer_policy`).
    #[serde(default)]
    pub transfer_usage: TransferUsage,
}

/// What a posting needs besides its legs.
#[derive(Debug, Clone)]
pub struct Posting {
    pub kind: EntryKind,
    pub memo: String,
    pub actor: Option<String>,
    pub legs: Vec<Leg>,
}

impl Account {
    pub fn open(
        id: AccountId,
        role: Role,
        login: Login,
        password_hash: PasswordHash,
        level: VerificationLevel,
        now: DateTime<Utc>,
    ) -> Account {
        Account {
            id,
            role,
            login,
            password_hash,
            level,
            frozen: false,
            created_at: now,
            ledger: LedgerBalances::default(),
            journal_len: 0,
            bindings: Vec::new(),
            sms_challenges: Vec::new(),
            pin: None,
            pin_guard: PinGuard::default(),
            kyc_requests: Vec::new(),
            withdrawal_usage: WithdrawalUsage::default(),
            fee_quota_used: Money::ZERO,
            alipay_fee_quota_used: Money::ZERO,
            token_generation: 0,
            login_guard: AttemptGuard::default(),
            transfer_usage: TransferUsage::default(),
        }
    }

    /// Whether an access token issued at `generation` still speaks for this account.
    pub fn honours_tokens_of(&self, generation: u32) -> bool {
        generation >= self.token_generation
    }

    /// Every access token issued so far stops being honoured; the next ones are.
    pub fn revoke_tokens(&mut self) {
        self.token_generation = self.token_generation.saturating_add(1);
    }

    /// Applies a balanced posting to this partition and returns the journal
    /// entry to store with the new state. Nothing changes if it is refused.
    pub fn post(&mut self, posting: Posting, now: DateTime<Utc>) -> Result<JournalEntry, LedgerError> {
        self.ledger.apply(&posting.legs)?;
        let entry = JournalEntry {
            id: JournalEntry::new_id(),
            seq: self.journal_len,
            kind: posting.kind,
            memo: posting.memo,
            created_at: now,
            actor: posting.actor,
            legs: posting.legs,
            withdrawal: None,
            transfer_id: None,
            counterparty: None,
        };
        self.journal_len += 1;
        Ok(entry)
    }
}

/// Shared by the domain's unit tests: a fixed moment and users at L0.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn now() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(20_000)
    }

    pub fn alice() -> Account {
        account_at("acc_demo_alice")
    }

    /// A user account at L0 with the given id (`acc_…`).
    pub fn account_at(id: &str) -> Account {
        Account::open(
            AccountId::parse(id).unwrap(),
            Role::User,
            Login::phone("13800000001").unwrap(),
            PasswordHash("x".into()),
            VerificationLevel::L0,
            now(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::{LedgerAccount, leg};
    use crate::domain::money::Amount;

    fn alice() -> Account {
        Account::open(
            AccountId::parse("acc_demo_alice").unwrap(),
            Role::User,
            Login::phone("13800000001").unwrap(),
            PasswordHash("$argon2id$…".into()),
            VerificationLevel::L0,
            DateTime::<Utc>::UNIX_EPOCH,
        )
    }

    fn credit(amount: &str) -> Posting {
        Posting {
            kind: EntryKind::OperatorCredit,
            memo: "top up".into(),
            actor: None,
            legs: vec![leg(LedgerAccount::Funding, LedgerAccount::UserAvailable, amount.parse::<Amount>().unwrap())],
        }
    }

    #[test]
    fn postings_number_the_journal_and_move_balances() {
        let mut account = alice();
        let first = account.post(credit("800.00"), DateTime::<Utc>::UNIX_EPOCH).unwrap();
        let second = account.post(credit("0.50"), DateTime::<Utc>::UNIX_EPOCH).unwrap();
        assert_eq!((first.seq, second.seq, account.journal_len), (0, 1, 2));
        assert_eq!(account.ledger.get(LedgerAccount::UserAvailable).to_string(), "800.50");
    }

    #[test]
    fn a_refused_posting_leaves_the_journal_alone() {
        let mut account = alice();
        let overdraw = Posting {
            legs: vec![leg(LedgerAccount::UserAvailable, LedgerAccount::Funding, "1.00".parse().unwrap())],
            ..credit("1.00")
        };
        assert!(account.post(overdraw, DateTime::<Utc>::UNIX_EPOCH).is_err());
        assert_eq!(account.journal_len, 0);
    }

    #[test]
    fn revoking_tokens_refuses_the_earlier_ones_only() {
        let mut account = alice();
        assert!(account.honours_tokens_of(0));
        account.revoke_tokens();
        assert!(!account.honours_tokens_of(0), "issued before the revocation");
        assert!(account.honours_tokens_of(account.token_generation), "issued after it, even in the same second");
    }

    #[test]
    fn account_ids_from_outside_are_checked() {
        assert!(AccountId::parse("acc_demo_alice").is_some());
        for bad in ["", "acc_", "alice", "acc_../x", "acc_a b", &format!("acc_{}", "a".repeat(64))] {
            assert!(AccountId::parse(bad).is_none(), "{bad}");
        }
    }
}
