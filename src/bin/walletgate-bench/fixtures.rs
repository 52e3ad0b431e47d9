//! Bulk fixtures for the benchmark: many ready-to-withdraw
//! accounts (level L2, funded, an active WeChat binding that has already
//! been paid to, a payment PIN) and stored withdrawals, written straight
//! through the store. Built with the same domain methods as the API, so the
//! records are exactly what real use would leave; only the slow parts a
//! person would do (password hashing per account, the OAuth dance, SMS) are
//! skipped: every fixture account shares one password hash.

use chrono::Duration;
use futures_util::StreamExt;

use walletgate::domain::account::{Account, AccountId, PasswordHash, Posting, Role, VerificationLevel};
use walletgate::domain::binding::{BindingId, Destination, DestinationProvider};
use walletgate::domain::credentials::Login;
use walletgate::domain::ledger::{EntryKind, LedgerAccount, leg};
use walletgate::domain::money::Amount;
use walletgate::domain::pin::Pin;
use walletgate::domain::withdrawal::WithdrawalId;
use walletgate::error::ApiError;
use walletgate::services::ServiceSet;
use walletgate::services::keys::{withdrawal_document, withdrawal_index_key};
use walletgate::store::{AccountCommit, CommitOutcome, StoreError};

/// A fixture account, as a load generator needs it.
#[derive(Debug, Clone)]
pub struct ReadyAccount {
    pub id: AccountId,
    pub phone: String,
    pub binding_id: BindingId,
}

/// What every fixture account shares.
#[derive(Debug, Clone)]
pub struct FixtureSpec {
    pub balance: Amount,
    pub pin: Pin,
    /// A PHC password hash (hash one password once and share it).
    pub password_hash: PasswordHash,
    /// Mock WeChat openids the accounts are bound to, round robin.
    pub payees: Vec<String>,
}

/// The phone number of fixture account `n`: `170` and eight digits.
pub fn fixture_phone(n: usize) -> String {
    format!("170{:08}", n % 100_000_000)
}

/// Creates fixture accounts `first..first + count`, `concurrency` at a
/// time; an account that exists already is read back instead.
pub async fn seed_ready_accounts(
    services: &ServiceSet,
    spec: &FixtureSpec,
    first: usize,
    count: usize,
    concurrency: usize,
) -> Result<Vec<ReadyAccount>, ApiError> {
    let creations = (first..first + count).map(|n| seed_ready_account(services, spec, n));
    let results: Vec<Result<ReadyAccount, ApiError>> =
        futures_util::stream::iter(creations).buffered(concurrency.max(1)).collect().await;
    results.into_iter().collect()
}

async fn seed_ready_account(services: &ServiceSet, spec: &FixtureSpec, n: usize) -> Result<ReadyAccount, ApiError> {
    let phone = fixture_phone(n);
    let login = Login::phone(&phone)?;
    let now = services.partitions.now();
    let id = match services.partitions.store.account_id_by_login(&login.index_key()).await? {
        Some(id) => id,
        None => AccountId::generate(),
    };
    if let Some(existing) = services.partitions.store.load_account(&id).await? {
        return ready(existing.value).ok_or_else(|| ApiError::internal(anyhow::anyhow!("fixture {n} is not ready")));
    }
    let mut account = Account::open(id, Role::User, login, spec.password_hash.clone(), VerificationLevel::L2, now);
    let posting = Posting {
        kind: EntryKind::DemoSeed,
        memo: "fixture opening balance".into(),
        actor: None,
        legs: vec![leg(LedgerAccount::Funding, LedgerAccount::UserAvailable, spec.balance)],
    };
    let opening = account.post(posting, now)?;
    let openid = spec.payees[n % spec.payees.len().max(1)].clone();
    let destination = Destination {
        provider: DestinationProvider::Wechat,
        openid,
        unionid: None,
        nickname: "压测用户".into(),
        avatar_url: String::new(),
        real_name: None,
    };
    let binding_id = account.start_binding(DestinationProvider::Wechat, now, Duration::minutes(10))?;
    account.authorize_binding(&binding_id, destination, now, Duration::minutes(10))?;
    account.activate_binding(&binding_id, now)?;
    if let Some(binding) = account.bindings.iter_mut().find(|binding| binding.id == binding_id) {
        // Paid to before: new withdrawals are reviewed automatically.
        binding.withdrawal_count = 1;
    }
    account.set_pin(services.pins.new_pin_record(&spec.pin, now));
    match services.partitions.store.create_account(&account, &[opening]).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists) => {
            let existing = services.partitions.store.account_id_by_login(&account.login.index_key()).await?;
            let id = existing.ok_or_else(|| ApiError::internal(anyhow::anyhow!("fixture {n} vanished")))?;
            let found = services.partitions.load_account(&id).await?;
            return ready(found).ok_or_else(|| ApiError::internal(anyhow::anyhow!("fixture {n} is not ready")));
        }
        Err(other) => return Err(other.into()),
    }
    ready(account).ok_or_else(|| ApiError::internal(anyhow::anyhow!("fixture {n} is not ready")))
}

/// Stores `count` pending withdrawals of `amount` in a fixture account,
/// as accepted submissions would (hold, limits, record, index entry),
/// and, if `due` is set, queued for payout like a submission: for
/// measuring what stored withdrawals cost and how fast the worker drains.
pub async fn seed_stored_withdrawals(
    services: &ServiceSet,
    account: &ReadyAccount,
    amount: Amount,
    count: usize,
    due: bool,
) -> Result<(), ApiError> {
    let mut left = count;
    while left > 0 {
        let current = services
            .partitions
            .store
            .load_account(&account.id)
            .await?
            .ok_or(ApiError::NotFound { resource: "account" })?;
        let mut record = current.value.clone();
        let now = services.partitions.now();
        let rules = services.withdrawals.policy.rules(record.level_at(now));
        let today = services.withdrawals.policy.local_date(now);
        let batch = left.min(100);
        let mut entries = Vec::with_capacity(batch);
        let mut documents = Vec::with_capacity(batch);
        let mut scheduled = Vec::new();
        let mut indexed = Vec::with_capacity(batch);
        for _ in 0..batch {
            let plan = record.plan_withdrawal(
                &account.binding_id,
                amount,
                services.withdrawals.policy.plan_rules(rules),
                today,
                now,
            )?;
            let id = WithdrawalId::generate();
            let (withdrawal, entry) = record.hold_withdrawal(plan, id, today, now)?;
            if due {
                scheduled.push(services.withdrawals.review_entry(&account.id, &withdrawal, record.level_at(now), now));
            }
            indexed.push((withdrawal_index_key(&withdrawal.id), account.id.to_string()));
            documents.push((
                withdrawal_document(&withdrawal.id),
                serde_json::to_string(&withdrawal).map_err(ApiError::internal)?,
            ));
            entries.push(entry);
        }
        let commit = AccountCommit {
            documents_put: &documents,
            scheduled: &scheduled,
            indexed: &indexed,
            ..AccountCommit::new(current.version, &record, &entries)
        };
        if services.partitions.store.commit_account(commit).await? == CommitOutcome::Committed {
            left -= batch;
        }
    }
    Ok(())
}

fn ready(account: Account) -> Option<ReadyAccount> {
    let phone = account.login.phone_number()?.to_owned();
    let binding = account.active_binding(DestinationProvider::Wechat)?;
    binding.destination.as_ref()?;
    Some(ReadyAccount { id: account.id.clone(), phone, binding_id: binding.id.clone() })
}
