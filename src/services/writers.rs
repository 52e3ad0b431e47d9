//! Turn-taking of one account's writers within this process. Every
//! load-decide-commit of an account runs under its lock here, so concurrent
//! requests for a hot account queue for a moment instead of all reading the
//! same version, colliding on the store's compare-and-set and retrying.
//! Across processes the compare-and-set still decides; this only saves work.
//!
//! A turn also remembers the records its writers last committed
//! ([`Remembered`]), so the next writer of the account may decide on that
//! record without reading it first. That is only a guess about the present:
//! the commit's version check still decides, and a writer whose guess was
//! wrong reads the record and decides again. A guess is only as good as
//! versions that never repeat, which a simulator reset breaks (accounts
//! come back at version 1), so a reset forgets every record remembered here
//! (`forget_all`).

use std::hash::BuildHasher;

use tokio::sync::{Mutex, MutexGuard};

use crate::domain::account::{Account, AccountId};
use crate::store::Versioned;

/// Locks are striped: accounts share a fixed set of them by hash, so memory
/// stays bounded however many accounts there are. Two accounts on one stripe
/// merely take turns; nothing holds two stripes at once, so none can deadlock.
const STRIPES: usize = 1024;
/// Records a stripe remembers (most recently committed kept), so accounts
/// that share a stripe do not keep evicting each other.
const RECORDS_PER_STRIPE: usize = 4;
/// Accounts a stripe knows other processes write too.
const SHARED_PER_STRIPE: usize = 8;

/// What one stripe's writers remember between turns.
#[derive(Debug, Default)]
pub struct Remembered {
    /// Records as this process last committed them, oldest first.
    records: Vec<Versioned<Account>>,
    /// Accounts whose remembered record turned out stale: another process
    /// writes them too, so a guess would mostly cost a refused commit.
    shared: Vec<AccountId>,
}

impl Remembered {
    /// The account's record as this process last committed it, if remembered
    /// (and forgotten here: the caller hands back what it commits).
    pub fn take(&mut self, id: &AccountId) -> Option<Versioned<Account>> {
        let at = self.records.iter().position(|record| &record.value.id == id)?;
        Some(self.records.remove(at))
    }

    /// Remembers a record just committed, unless other processes write it too.
    pub fn remember(&mut self, record: Versioned<Account>) {
        self.take(&record.value.id);
        if self.shared.contains(&record.value.id) {
            return;
        }
        if self.records.len() == RECORDS_PER_STRIPE {
            self.records.remove(0);
        }
        self.records.push(record);
    }

    /// Forgets the account's record, for a commit made without remembering.
    pub fn forget(&mut self, id: &AccountId) {
        self.take(id);
    }

    /// Notes that another process wrote the account since this one last did,
    /// so its record is not remembered any more.
    pub fn written_elsewhere(&mut self, id: &AccountId) {
        self.take(id);
        if self.shared.contains(id) {
            return;
        }
        if self.shared.len() == SHARED_PER_STRIPE {
            self.shared.remove(0);
        }
        self.shared.push(id.clone());
    }
}

#[derive(Debug)]
pub struct AccountWriters {
    stripes: Box<[Mutex<Remembered>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for AccountWriters {
    fn default() -> AccountWriters {
        AccountWriters {
            stripes: (0..STRIPES).map(|_| Mutex::new(Remembered::default())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl AccountWriters {
    /// Waits for this account's turn; the turn ends when the guard drops.
    /// Never take a second account's turn while holding one. The guard holds
    /// what the turn's stripe remembers.
    pub async fn turn(&self, id: &AccountId) -> MutexGuard<'_, Remembered> {
        let stripe = self.hasher.hash_one(id.as_str()) as usize % self.stripes.len();
        self.stripes[stripe].lock().await
    }

    /// Forgets every record and every shared account, taking each stripe's
    /// turn in order (one at a time, so this never holds two). For a wipe of
    /// the store, after which a remembered record's version could match a
    /// new record of the same account.
    pub async fn forget_all(&self) {
        for stripe in &self.stripes {
            *stripe.lock().await = Remembered::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writers_of_one_account_take_turns() {
        let writers = Arc::new(AccountWriters::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let id = AccountId::parse("acc_hot").unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (writers, inside, most, id) = (writers.clone(), inside.clone(), most.clone(), id.clone());
                tokio::spawn(async move {
                    let _turn = writers.turn(&id).await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    fn record(id: &str, version: u64) -> Versioned<Account> {
        use crate::domain::account::{PasswordHash, Role, VerificationLevel};
        use crate::domain::credentials::Login;
        let account = Account::open(
            AccountId::parse(id).unwrap(),
            Role::User,
            Login::phone("13900000000").unwrap(),
            PasswordHash("stub".into()),
            VerificationLevel::L0,
            chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        );
        Versioned { version, value: account }
    }

    #[test]
    fn a_stripe_remembers_the_latest_records_it_committed_and_hands_each_out_once() {
        let mut remembered = Remembered::default();
        let first = AccountId::parse("acc_1").unwrap();
        remembered.remember(record("acc_1", 2));
        remembered.remember(record("acc_1", 3));
        for n in 2..=RECORDS_PER_STRIPE {
            remembered.remember(record(&format!("acc_{n}"), 1));
        }
        assert_eq!(remembered.take(&first).map(|record| record.version), Some(3));
        assert_eq!(remembered.take(&first), None, "handed out once");
        remembered.remember(record("acc_1", 4));
        remembered.remember(record("acc_new", 1));
        assert_eq!(remembered.take(&AccountId::parse("acc_2").unwrap()), None, "the oldest made room");
        assert_eq!(remembered.take(&first).map(|record| record.version), Some(4));
    }

    #[tokio::test]
    async fn forgetting_all_drops_every_remembered_record() {
        let writers = AccountWriters::default();
        let ids: Vec<AccountId> = (0..50).map(|n| AccountId::parse(&format!("acc_{n}")).unwrap()).collect();
        for id in &ids {
            writers.turn(id).await.remember(record(id.as_str(), 7));
        }
        writers.forget_all().await;
        for id in &ids {
            assert_eq!(writers.turn(id).await.take(id), None, "{id}");
        }
    }

    #[test]
    fn an_account_written_elsewhere_is_no_longer_remembered() {
        let mut remembered = Remembered::default();
        let id = AccountId::parse("acc_shared").unwrap();
        remembered.remember(record("acc_shared", 2));
        remembered.written_elsewhere(&id);
        assert_eq!(remembered.take(&id), None);
        remembered.remember(record("acc_shared", 5));
        assert_eq!(remembered.take(&id), None);
    }
}
