//! Turn-taking of one account's writers within this process. Every
//! load-decide-commit of an account runs under its lock here, so concurrent
//! requests for a hot account queue for a moment instead of all reading the
//! same version, colliding on the store's compare-and-set and retrying.
//! Across processes the compare-and-set still decides; this only saves work.

use std::hash::BuildHasher;

use tokio::sync::{Mutex, MutexGuard};

use crate::domain::account::AccountId;

/// Locks are striped: accounts share a fixed set of them by hash, so memory
/// stays bounded however many accounts there are. Two accounts on one stripe
/// merely take turns; nothing holds two stripes at once, so none can deadlock.
const STRIPES: usize = 1024;

#[derive(Debug)]
pub struct AccountWriters {
    stripes: Box<[Mutex<()>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for AccountWriters {
    fn default() -> AccountWriters {
        AccountWriters {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl AccountWriters {
    /// Waits for this account's turn; the turn ends when the guard drops.
    /// Never take a second account's turn while holding one.
    pub async fn turn(&self, id: &AccountId) -> MutexGuard<'_, ()> {
        let stripe = self.hasher.hash_one(id.as_str()) as usize % self.stripes.len();
        self.stripes[stripe].lock().await
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
}
