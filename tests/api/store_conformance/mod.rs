//! One suite, both stores: the contract every store implementation keeps,
//! one file per data model trait (`src/store/<trait file>.rs` ↔ a file of
//! the same name here), each case run on the memory store, on Redis and on a Redis Cluster.
//!
//! Together they call every method of every trait; `typed.rs` checks the
//! typed document helpers on top of them.

use chrono::{DateTime, Utc};
use walletgate::domain::account::{Account, AccountId, PasswordHash, Posting, Role, VerificationLevel};
use walletgate::domain::credentials::Login;
use walletgate::domain::ledger::{EntryKind, JournalEntry, LedgerAccount, leg};
use walletgate::startup::connect_store;
use walletgate::store::SharedStore;

use crate::helpers::{RedisKeysGuard, StoreKind, test_settings, unique_phone};

mod documents;
mod ephemeral;
mod events;
mod health;
mod indexes;
mod logs;
mod partition_documents;
mod partitions;
mod schedules;
mod typed;
mod wipe;

/// A fresh store of the kind, on a key prefix of its own (removed when the guard drops).
async fn store_for(kind: StoreKind) -> (SharedStore, Option<RedisKeysGuard>) {
    let settings = test_settings(kind).store;
    let keys = kind.is_redis().then(|| RedisKeysGuard::new(&settings.url, &settings.key_prefix));
    (connect_store(&settings).await.expect("store connects"), keys)
}

/// A new account with a login nobody else has.
pub(crate) fn account(id: &str) -> Account {
    Account::open(
        AccountId::parse(id).unwrap(),
        Role::User,
        Login::phone(&unique_phone()).unwrap(),
        PasswordHash("$argon2id$v=19$stub".into()),
        VerificationLevel::L0,
        DateTime::<Utc>::UNIX_EPOCH,
    )
}

pub(crate) fn credit(account: &mut Account, amount: &str) -> JournalEntry {
    let posting = Posting {
        kind: EntryKind::OperatorCredit,
        memo: format!("credit {amount}"),
        actor: None,
        legs: vec![leg(LedgerAccount::Funding, LedgerAccount::UserAvailable, amount.parse().unwrap())],
    };
    account.post(posting, DateTime::<Utc>::UNIX_EPOCH).unwrap()
}
