//! The unique index of bound wallets: a provider's user id (WeChat's
//! openid, Alipay's user id or open id) held by the one binding that may go
//! active with it. Each entry is its own key, named by provider and app
//! (`wechat_openid:<appid>:<openid>`, `alipay_user:<app_id>:<id>`), so an
//! Alipay id and a WeChat openid never meet and no commit spans two keys
//! (cluster-safe: `swap_index` is one key's compare-and-set).

use super::Bindings;
use crate::domain::account::AccountId;
use crate::domain::binding::{BindingId, BindingStatus, Destination, DestinationProvider};
use crate::error::ApiError;

/// How many times a confirmation judges and swaps a claim that keeps
/// changing under it before it gives up (as bound elsewhere).
const CLAIM_ROUNDS: usize = 4;

fn index_owner(account_id: &AccountId, binding_id: &BindingId) -> String {
    format!("{account_id}/{binding_id}")
}

/// The account and binding an index entry names, if it names one.
fn parse_owner(owner: &str) -> Option<(AccountId, BindingId)> {
    let (account_id, binding_id) = owner.split_once('/')?;
    Some((AccountId::parse(account_id)?, BindingId::parse(binding_id)?))
}

impl Bindings {
    /// The index key of `destination`'s user id, by provider and app.
    fn index_key(&self, destination: &Destination) -> String {
        match destination.provider {
            // The name WeChat's entries have always had, so stored claims still hold.
            DestinationProvider::Wechat => format!("wechat_openid:{}:{}", self.policy.app_id, destination.openid),
            DestinationProvider::Alipay => {
                format!("alipay_user:{}:{}", self.policy.alipay.app_id, destination.openid)
            }
        }
    }

    /// Takes the user id's index entry for the binding: free, already ours,
    /// or held by a claim that can no longer activate (see the module doc of `bindings`).
    pub(super) async fn claim_identity(
        &self,
        account_id: &AccountId,
        binding_id: &BindingId,
        destination: &Destination,
    ) -> Result<bool, ApiError> {
        let key = self.index_key(destination);
        let owner = index_owner(account_id, binding_id);
        for _ in 0..CLAIM_ROUNDS {
            let holder = self.partitions.store.get_index(&key).await?;
            match holder.as_deref() {
                Some(holder) if holder == owner => return Ok(true),
                Some(holder) if !self.end_stale_claim(holder, &destination.openid).await? => return Ok(false),
                _ => {}
            }
            if self.partitions.store.swap_index(&key, holder.as_deref(), Some(&owner)).await? {
                return Ok(true);
            }
            // Someone else changed the claim between our look and our swap: judge it again.
        }
        Ok(false)
    }

    /// Whether the binding holding a claim on `identity` can never go active
    /// with it; a binding still in progress past its deadline is ended first,
    /// in its own partition, so its confirmation can no longer land.
    async fn end_stale_claim(&self, holder: &str, identity: &str) -> Result<bool, ApiError> {
        let Some((owner_id, binding_id)) = parse_owner(holder) else { return Ok(true) };
        let judged = self
            .partitions
            .update_account(&owner_id, |account, now| {
                Ok((account.give_up_openid_claim(&binding_id, identity, now), Vec::new()))
            })
            .await;
        match judged {
            Ok((stale, _)) => Ok(stale),
            Err(ApiError::NotFound { .. }) => Ok(true),
            Err(error) => Err(error),
        }
    }

    /// Gives a claim back after an activation that answered with an error,
    /// but only once the binding is seen not active: the error may hide a
    /// commit that landed (its answer lost with the connection), or a
    /// concurrent confirmation of the same binding may have activated it.
    /// When in doubt the claim stays; the takeover rule frees it if the
    /// binding never goes active.
    pub(super) async fn release_claim_if_inactive(
        &self,
        account_id: &AccountId,
        binding_id: &BindingId,
        destination: &Destination,
    ) {
        match self.partitions.store.load_account(account_id).await {
            Ok(Some(account))
                if account.value.binding(binding_id).is_none_or(|b| b.status != BindingStatus::Active) =>
            {
                self.release_identity(account_id, binding_id, destination).await;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "kept a wallet claim whose activation is in doubt"),
        }
    }

    /// Frees the binding's claim on its user id (a stale release never frees
    /// a claim someone has since taken).
    pub(super) async fn release_identity(
        &self,
        account_id: &AccountId,
        binding_id: &BindingId,
        destination: &Destination,
    ) {
        let (key, owner) = (self.index_key(destination), index_owner(account_id, binding_id));
        if let Err(error) = self.partitions.store.swap_index(&key, Some(&owner), None).await {
            tracing::warn!(%error, "could not release a wallet claim; the next claim will take it over");
        }
    }

    /// The account (other than `account_id`) whose active binding holds
    /// `destination`'s user id, if any.
    pub(super) async fn owner_elsewhere(
        &self,
        account_id: &AccountId,
        destination: &Destination,
    ) -> Result<Option<AccountId>, ApiError> {
        let Some(owner) = self.partitions.store.get_index(&self.index_key(destination)).await? else {
            return Ok(None);
        };
        let Some((owner_id, binding_id)) = parse_owner(&owner) else { return Ok(None) };
        if &owner_id == account_id {
            return Ok(None);
        }
        let holds_it = self.partitions.store.load_account(&owner_id).await?.is_some_and(|owner| {
            owner.value.active_binding(destination.provider).is_some_and(|b| {
                b.id == binding_id && b.destination.as_ref().is_some_and(|d| d.openid == destination.openid)
            })
        });
        Ok(holds_it.then_some(owner_id))
    }
}
