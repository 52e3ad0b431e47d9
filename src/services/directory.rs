//! Finding accounts, for operators: by login (the unique login index, so
//! an exact phone number or email), by id, or all of them a page at a time
//! in id order. Listing all walks every shard's account list
//! (`account_ids`) on each page: fine for an operator's console at
//! simulator scale, and it needs no index of its own.

use futures_util::future::try_join_all;

use super::partitions::Partitions;
use crate::domain::account::{Account, AccountId};
use crate::domain::credentials::Login;
use crate::error::ApiError;

/// What an operator looks an account up by.
#[derive(Debug, Clone)]
pub enum AccountSearch {
    /// The account that logs in with this phone number or email.
    Login(Login),
    Id(AccountId),
    All,
}

/// Accounts as operators find them.
#[derive(Debug, Clone)]
pub struct Directory {
    pub partitions: Partitions,
}

impl Directory {
    /// Up to `wanted` accounts the search finds, in id order, after `after`.
    pub async fn find_accounts(
        &self,
        search: &AccountSearch,
        after: Option<&AccountId>,
        wanted: usize,
    ) -> Result<Vec<Account>, ApiError> {
        let store = &self.partitions.store;
        let mut ids = match search {
            AccountSearch::Login(login) => store.account_id_by_login(&login.index_key()).await?.into_iter().collect(),
            AccountSearch::Id(id) => vec![id.clone()],
            AccountSearch::All => store.account_ids().await?,
        };
        ids.sort();
        ids.retain(|id| after.is_none_or(|after| id > after));
        let mut found = Vec::new();
        // Read a page's worth at a time: an id whose account is gone (a
        // create that lost its login race) leaves room for the next.
        for chunk in ids.chunks(wanted.max(1)) {
            let loaded = try_join_all(chunk.iter().map(|id| store.load_account(id))).await?;
            found.extend(loaded.into_iter().flatten().map(|versioned| versioned.value));
            if found.len() >= wanted {
                break;
            }
        }
        found.truncate(wanted);
        Ok(found)
    }

    pub async fn account(&self, id: &AccountId) -> Result<Account, ApiError> {
        self.partitions.load_account(id).await
    }
}
