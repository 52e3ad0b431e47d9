//! Binding a WeChat wallet as the withdrawal destination: start (state and
//! authorize URL) → callback (server-side code exchange, profile, SMS code)
//! → confirm (SMS code, openid claimed) → active → unbind.
//!
//! The openid is claimed in a unique index before a binding becomes active,
//! so one WeChat account is never actively bound to two walletgate accounts.
//! A claim is taken over only from a binding that can never go active with
//! it any more: one that ended, or one past its deadline that the taker first
//! ends in its owner's partition (a compare-and-set, so of that ending and the
//! owner's own activation exactly one lands). The swap then expects exactly
//! the claim it judged, so two takers never both succeed.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::notifications::{Event, EventType};
use super::partitions::Partitions;
use super::pin::Pins;
use super::sms::sms_refusal;
use crate::auth::Principal;
use crate::auth::one_time_codes::{new_state, plain_digest};
use crate::domain::account::{Account, AccountId};
use crate::domain::binding::{Binding, BindingFailure, BindingId, BindingStatus, Destination, DestinationProvider};
use crate::domain::pin::Pin;
use crate::domain::sms::{SmsPurpose, SmsVerdict};
use crate::error::ApiError;
use crate::providers::wechat::{WeChatClient, WeChatError};
use crate::store::typed::TypedEphemeralValues;

/// How long a consumed state's record outlives its deadline in the store,
/// purely so the store reclaims it.
const STATE_RECORD_GRACE: StdDuration = StdDuration::from_secs(3600);
const STATE_CHARS_MAX: usize = 128;
/// How many times a confirmation judges and swaps an openid claim that keeps
/// changing under it before it gives up (as bound elsewhere).
const OPENID_CLAIM_ROUNDS: usize = 4;

/// Where and how bindings are authorised.
#[derive(Debug, Clone)]
pub struct BindingPolicy {
    pub client: std::sync::Arc<dyn WeChatClient>,
    pub app_id: String,
    pub scope: String,
    /// e.g. `http://127.0.0.1:8080/mock/wechat/connect/oauth2/authorize`
    pub authorize_endpoint: String,
    /// e.g. `http://127.0.0.1:8080/v1/bindings/wechat/callback`
    pub redirect_uri: String,
    pub start_ttl: Duration,
    pub confirm_ttl: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
struct StateRecord {
    account_id: AccountId,
    binding_id: BindingId,
    expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct StartedBinding {
    pub binding_id: BindingId,
    pub authorize_url: String,
    pub expires_at: DateTime<Utc>,
}

/// A binding now waiting for its SMS code.
#[derive(Debug)]
pub struct AuthorizedBinding {
    pub account_id: AccountId,
    pub binding: Binding,
    pub sms_sent_to: String,
}

fn state_key(state: &str) -> String {
    format!("binding_state:{}", plain_digest(state))
}

fn openid_index_key(app_id: &str, openid: &str) -> String {
    format!("wechat_openid:{app_id}:{openid}")
}

fn index_owner(account_id: &AccountId, binding_id: &BindingId) -> String {
    format!("{account_id}/{binding_id}")
}

/// Binding a WeChat destination: consent, code exchange, SMS confirmation, unbinding.
#[derive(Debug, Clone)]
pub struct Bindings {
    pub partitions: Partitions,
    pub policy: BindingPolicy,
    /// Confirmation takes an SMS code; unbinding takes the PIN.
    pub pins: Pins,
}

impl Bindings {
    pub async fn start_wechat_binding(&self, account_id: &AccountId) -> Result<StartedBinding, ApiError> {
        let ttl = self.policy.start_ttl;
        let (binding_id, account) = self
            .partitions
            .update_account(account_id, |account, now| {
                account.login.phone_number().ok_or(ApiError::PhoneRequired)?;
                Ok((account.start_binding(DestinationProvider::Wechat, now, ttl)?, Vec::new()))
            })
            .await?;
        let expires_at = account.binding(&binding_id).map_or_else(|| self.partitions.now() + ttl, |b| b.expires_at);
        let state = new_state();
        let record = StateRecord { account_id: account_id.clone(), binding_id: binding_id.clone(), expires_at };
        let keep = ttl.to_std().unwrap_or_default() + STATE_RECORD_GRACE;
        self.partitions.store.put_ephemeral_as(&state_key(&state), &record, keep).await?;
        Ok(StartedBinding { authorize_url: self.authorize_url(&state)?, binding_id, expires_at })
    }

    /// The real WeChat checks the parameter order, so it is kept as documented.
    fn authorize_url(&self, state: &str) -> Result<String, ApiError> {
        let policy = &self.policy;
        let query = serde_urlencoded::to_string([
            ("appid", policy.app_id.as_str()),
            ("redirect_uri", policy.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", policy.scope.as_str()),
            ("state", state),
        ])
        .map_err(ApiError::internal)?;
        Ok(format!("{}?{query}#wechat_redirect", policy.authorize_endpoint))
    }

    /// The browser comes back from WeChat. The state names the account and
    /// binding (no bearer token here); the code is exchanged server-side.
    pub async fn complete_wechat_authorization(
        &self,
        code: Option<&str>,
        state: Option<&str>,
    ) -> Result<AuthorizedBinding, ApiError> {
        let record = self.take_state(state).await?;
        let (account_id, binding_id) = (&record.account_id, &record.binding_id);
        let Some(code) = code.filter(|code| !code.is_empty()) else {
            return Err(self.fail_binding(account_id, binding_id, BindingFailure::ConsentDenied).await);
        };
        self.partitions.load_account(account_id).await?.binding(binding_id).ok_or(ApiError::BindingStateInvalid)?;
        let destination = match self.fetch_destination(code).await {
            Ok(destination) => destination,
            Err((failure, error)) => {
                self.fail_binding(account_id, binding_id, failure).await;
                return Err(error);
            }
        };
        if self.openid_owner_elsewhere(account_id, &destination.openid).await?.is_some() {
            return Err(self.fail_binding(account_id, binding_id, BindingFailure::AlreadyBoundElsewhere).await);
        }
        let confirm_ttl = self.policy.confirm_ttl;
        let (message, account) = self
            .partitions
            .update_account(account_id, |account, now| {
                account.authorize_binding(binding_id, destination.clone(), now, confirm_ttl)?;
                let nickname = destination.masked_nickname();
                let (challenge, message) =
                    self.pins.sms.new_challenge(account, SmsPurpose::BindWechat, binding_id.as_str(), |code| {
                        format!("【walletgate】验证码 {code}，用于绑定微信“{nickname}”，5分钟内有效。请勿告诉他人。")
                    })?;
                account.issue_sms_challenge(challenge);
                Ok((message, Vec::new()))
            })
            .await?;
        self.pins.sms.send(&message).await?;
        let binding = account.binding(binding_id).cloned().ok_or(ApiError::BindingStateInvalid)?;
        Ok(AuthorizedBinding { account_id: account_id.clone(), binding, sms_sent_to: account.login.masked() })
    }

    async fn take_state(&self, state: Option<&str>) -> Result<StateRecord, ApiError> {
        let state = state
            .filter(|s| !s.is_empty() && s.len() <= STATE_CHARS_MAX && s.bytes().all(|b| b.is_ascii_alphanumeric()));
        let state = state.ok_or(ApiError::BindingStateInvalid)?;
        let taken = self.partitions.store.take_ephemeral_as::<StateRecord>(&state_key(state)).await?;
        let record = taken.ok_or(ApiError::BindingStateInvalid)?;
        if record.expires_at <= self.partitions.now() {
            self.fail_binding(&record.account_id, &record.binding_id, BindingFailure::Expired).await;
            return Err(ApiError::BindingStateInvalid);
        }
        Ok(record)
    }

    /// Exchanges the code and reads the profile; on failure, why the binding
    /// failed and what to tell the client.
    async fn fetch_destination(&self, code: &str) -> Result<Destination, (BindingFailure, ApiError)> {
        let client = &self.policy.client;
        let token = client.exchange_code(code).await.map_err(provider_failure)?;
        if token.is_snapshot_user() {
            return Err((BindingFailure::SnapshotUser, ApiError::WeChatSnapshotUser));
        }
        let profile = client.user_info(&token.access_token, &token.openid).await.map_err(provider_failure)?;
        Ok(Destination {
            provider: DestinationProvider::Wechat,
            openid: token.openid,
            unionid: token.unionid.or(profile.unionid),
            nickname: profile.nickname,
            avatar_url: profile.headimgurl,
            real_name: None,
        })
    }

    /// Ends the attempt and returns the error that explains it.
    async fn fail_binding(&self, account_id: &AccountId, binding_id: &BindingId, failure: BindingFailure) -> ApiError {
        let ended = self
            .partitions
            .update_account(account_id, |account, now| {
                account.fail_binding(binding_id, failure, now);
                Ok(((), Vec::new()))
            })
            .await;
        if let Err(error) = ended {
            tracing::warn!(%binding_id, ?failure, %error, "could not record a failed binding; it will expire");
        }
        tracing::info!(%binding_id, ?failure, "binding attempt failed");
        failure_error(failure)
    }

    /// The SMS code confirms the binding; the openid is claimed before it goes active.
    pub async fn confirm_wechat_binding(
        &self,
        caller: &Principal,
        binding_id: &BindingId,
        sms_code: &str,
    ) -> Result<Binding, ApiError> {
        let account_id = &caller.account_id;
        let digest = self.pins.sms.digest(account_id, SmsPurpose::BindWechat, binding_id.as_str(), sms_code);
        let account = self.partitions.load_account_as(caller).await?;
        let now = self.partitions.now();
        let openid = pending_openid(&account, binding_id, now)?;
        if account.sms_verdict(SmsPurpose::BindWechat, binding_id.as_str(), &digest, now) != SmsVerdict::Accepted {
            return Err(self.spend_sms_try(account_id, binding_id, &digest).await?);
        }
        let owner = index_owner(account_id, binding_id);
        if !self.claim_openid(&openid, &owner).await? {
            return Err(self.fail_binding(account_id, binding_id, BindingFailure::AlreadyBoundElsewhere).await);
        }
        let activated = self
            .partitions
            .update_account_as(caller, |account, now| {
                if let Some(refusal) =
                    sms_refusal(account.present_sms_code(SmsPurpose::BindWechat, binding_id.as_str(), &digest, now))
                {
                    return Err(refusal);
                }
                account.activate_binding(binding_id, now)?;
                let binding = account.binding(binding_id).ok_or(ApiError::NotFound { resource: "binding" })?;
                let activated = Event::binding(EventType::BindingActivated, account_id, binding, now);
                Ok(((), Vec::new(), vec![activated]))
            })
            .await;
        match activated {
            Ok(((), account)) => account.binding(binding_id).cloned().ok_or(ApiError::NotFound { resource: "binding" }),
            Err(error) => {
                self.release_claim_if_inactive(account_id, binding_id, &openid, &owner).await;
                Err(error)
            }
        }
    }

    /// Gives an openid claim back after an activation that answered with an
    /// error, but only once the binding is seen not active: the error may
    /// hide a commit that landed (its answer lost with the connection), or a
    /// concurrent confirmation of the same binding may have activated it.
    /// When in doubt the claim stays; the takeover rule frees it if the
    /// binding never goes active.
    async fn release_claim_if_inactive(
        &self,
        account_id: &AccountId,
        binding_id: &BindingId,
        openid: &str,
        owner: &str,
    ) {
        match self.partitions.store.load_account(account_id).await {
            Ok(Some(account))
                if account.value.binding(binding_id).is_none_or(|b| b.status != BindingStatus::Active) =>
            {
                self.release_openid(openid, owner).await;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "kept an openid claim whose activation is in doubt"),
        }
    }

    /// Records a wrong (or dead) code against the challenge and returns the refusal.
    async fn spend_sms_try(
        &self,
        account_id: &AccountId,
        binding_id: &BindingId,
        digest: &str,
    ) -> Result<ApiError, ApiError> {
        let (verdict, _) = self
            .partitions
            .update_account(account_id, |account, now| {
                Ok((account.present_sms_code(SmsPurpose::BindWechat, binding_id.as_str(), digest, now), Vec::new()))
            })
            .await?;
        Ok(sms_refusal(verdict).unwrap_or(ApiError::SmsCodeExpired))
    }

    /// Unbinding needs the payment PIN; a wrong one counts like any PIN entry.
    pub async fn unbind_wechat(
        &self,
        caller: &Principal,
        binding_id: &BindingId,
        pin: Pin,
    ) -> Result<Binding, ApiError> {
        let account_id = &caller.account_id;
        let (unbound, account) = self
            .partitions
            .update_account_as(caller, |account, now| {
                account.binding(binding_id).ok_or(ApiError::NotFound { resource: "binding" })?;
                if let Some(refusal) = self.pins.enter_pin(account, &pin, now) {
                    return Ok((Err(refusal), Vec::new(), Vec::new()));
                }
                let destination = account.unbind(binding_id, now)?;
                let binding = account.binding(binding_id).ok_or(ApiError::NotFound { resource: "binding" })?;
                let removed = Event::binding(EventType::BindingRemoved, account_id, binding, now);
                Ok((Ok(destination), Vec::new(), vec![removed]))
            })
            .await?;
        let destination = unbound?;
        self.release_openid(&destination.openid, &index_owner(account_id, binding_id)).await;
        account.binding(binding_id).cloned().ok_or(ApiError::NotFound { resource: "binding" })
    }

    /// Takes the openid's index entry for `owner`: free, already ours, or
    /// held by a claim that can no longer activate (see the module doc).
    async fn claim_openid(&self, openid: &str, owner: &str) -> Result<bool, ApiError> {
        let key = openid_index_key(&self.policy.app_id, openid);
        for _ in 0..OPENID_CLAIM_ROUNDS {
            let holder = self.partitions.store.get_index(&key).await?;
            match holder.as_deref() {
                Some(holder) if holder == owner => return Ok(true),
                Some(holder) if !self.end_stale_claim(holder, openid).await? => return Ok(false),
                _ => {}
            }
            if self.partitions.store.swap_index(&key, holder.as_deref(), Some(owner)).await? {
                return Ok(true);
            }
            // Someone else changed the claim between our look and our swap: judge it again.
        }
        Ok(false)
    }

    /// Whether the binding holding an openid claim can never go active with
    /// it; a binding still in progress past its deadline is ended first, in
    /// its own partition, so its confirmation can no longer land.
    async fn end_stale_claim(&self, holder: &str, openid: &str) -> Result<bool, ApiError> {
        let Some((owner_id, binding_id)) = holder.split_once('/') else { return Ok(true) };
        let (Some(owner_id), Some(binding_id)) = (AccountId::parse(owner_id), BindingId::parse(binding_id)) else {
            return Ok(true);
        };
        let judged = self
            .partitions
            .update_account(&owner_id, |account, now| {
                Ok((account.give_up_openid_claim(&binding_id, openid, now), Vec::new()))
            })
            .await;
        match judged {
            Ok((stale, _)) => Ok(stale),
            Err(ApiError::NotFound { .. }) => Ok(true),
            Err(error) => Err(error),
        }
    }

    async fn release_openid(&self, openid: &str, owner: &str) {
        let key = openid_index_key(&self.policy.app_id, openid);
        if let Err(error) = self.partitions.store.swap_index(&key, Some(owner), None).await {
            tracing::warn!(%error, "could not release an openid claim; the next claim will take it over");
        }
    }

    /// The account (other than `account_id`) whose active binding holds `openid`, if any.
    async fn openid_owner_elsewhere(
        &self,
        account_id: &AccountId,
        openid: &str,
    ) -> Result<Option<AccountId>, ApiError> {
        let key = openid_index_key(&self.policy.app_id, openid);
        let Some(owner) = self.partitions.store.get_index(&key).await? else {
            return Ok(None);
        };
        let Some((owner_id, binding_id)) = owner.split_once('/') else {
            return Ok(None);
        };
        let (Some(owner_id), Some(binding_id)) = (AccountId::parse(owner_id), BindingId::parse(binding_id)) else {
            return Ok(None);
        };
        if &owner_id == account_id {
            return Ok(None);
        }
        let holds_it = self.partitions.store.load_account(&owner_id).await?.is_some_and(|owner| {
            owner
                .value
                .active_binding(DestinationProvider::Wechat)
                .is_some_and(|b| b.id == binding_id && b.destination.as_ref().is_some_and(|d| d.openid == openid))
        });
        Ok(holds_it.then_some(owner_id))
    }
}

fn pending_openid(account: &Account, binding_id: &BindingId, now: DateTime<Utc>) -> Result<String, ApiError> {
    let binding = account.pending_binding(binding_id, now)?;
    let destination = binding.destination.as_ref().ok_or(ApiError::BindingStatusConflict { status: "authorizing" })?;
    Ok(destination.openid.clone())
}

fn provider_failure(error: WeChatError) -> (BindingFailure, ApiError) {
    match error {
        WeChatError::Api(api) => (
            BindingFailure::AuthorizationRejected,
            ApiError::WeChatAuthorizationFailed { errcode: api.errcode, errmsg: api.errmsg },
        ),
        WeChatError::Unavailable(reason) => {
            tracing::warn!(%reason, "WeChat unavailable during a binding");
            (BindingFailure::ProviderUnavailable, ApiError::WeChatUnavailable)
        }
    }
}

fn failure_error(failure: BindingFailure) -> ApiError {
    match failure {
        BindingFailure::ConsentDenied => ApiError::BindingConsentDenied,
        BindingFailure::SnapshotUser => ApiError::WeChatSnapshotUser,
        BindingFailure::AlreadyBoundElsewhere => ApiError::WeChatAlreadyBound,
        BindingFailure::ProviderUnavailable => ApiError::WeChatUnavailable,
        BindingFailure::Expired | BindingFailure::Superseded => ApiError::BindingStateInvalid,
        BindingFailure::AuthorizationRejected => ApiError::WeChatAuthorizationFailed {
            errcode: crate::providers::wechat::errcode::INVALID_CODE,
            errmsg: "invalid code".into(),
        },
    }
}
