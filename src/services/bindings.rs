//! Binding a WeChat wallet or an Alipay account as a withdrawal destination:
//! start (state and the provider's authorize URL) → callback (server-side
//! code exchange, profile, SMS code; `wechat.rs`, `alipay.rs`) → confirm
//! (SMS code, the provider's user id claimed; `claims.rs`) → active → unbind.
//! An account holds at most one active binding per provider (the domain's
//! rule), so one WeChat and one Alipay binding at once.
//!
//! The provider's user id (WeChat's openid, Alipay's user id or open id) is
//! claimed in a unique index keyed by provider before a binding becomes
//! active, so one wallet is never actively bound to two walletgate accounts.
//! A claim is taken over only from a binding that can never go active with
//! it any more: one that ended, or one past its deadline that the taker first
//! ends in its owner's partition (a compare-and-set, so of that ending and the
//! owner's own activation exactly one lands). The swap then expects exactly
//! the claim it judged, so two takers never both succeed.

pub mod alipay;
mod claims;
mod wechat;

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
use crate::domain::binding::{Binding, BindingFailure, BindingId, Destination, DestinationProvider};
use crate::domain::pin::Pin;
use crate::domain::sms::SmsVerdict;
use crate::error::ApiError;
use crate::providers::alipay::client::AlipayClient;
use crate::providers::wechat::WeChatClient;
use crate::store::typed::TypedEphemeralValues;

/// How long a consumed state's record outlives its deadline in the store,
/// purely so the store reclaims it.
const STATE_RECORD_GRACE: StdDuration = StdDuration::from_secs(3600);
const STATE_CHARS_MAX: usize = 128;

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
    /// How long the consent may take, and then the SMS code (both providers).
    pub start_ttl: Duration,
    pub confirm_ttl: Duration,
    pub alipay: AlipayBindingPolicy,
}

/// Where and how Alipay accounts are authorised.
#[derive(Debug, Clone)]
pub struct AlipayBindingPolicy {
    /// The signing client of `alipay.system.oauth.token` and
    /// `alipay.user.info.share`; `None` without a gateway (no mock and no
    /// `alipay.gateway_url`): bindings are then refused as unavailable.
    pub client: Option<AlipayClient>,
    pub app_id: String,
    /// e.g. `http://127.0.0.1:8080/mock/alipay/oauth2/publicAppAuthorize.htm`
    pub authorize_endpoint: String,
    /// e.g. `http://127.0.0.1:8080/v1/bindings/alipay/callback`
    pub redirect_uri: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct StateRecord {
    account_id: AccountId,
    binding_id: BindingId,
    /// Whose callback may take it; records from before Alipay are WeChat's.
    #[serde(default)]
    provider: DestinationProvider,
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

/// Binding a WeChat or Alipay destination: consent, code exchange, SMS confirmation, unbinding.
#[derive(Debug, Clone)]
pub struct Bindings {
    pub partitions: Partitions,
    pub policy: BindingPolicy,
    /// Confirmation takes an SMS code; unbinding takes the PIN.
    pub pins: Pins,
}

impl Bindings {
    /// Starts an attempt to bind a wallet of `provider`: the binding, and
    /// the provider's consent URL carrying a single-use state.
    pub async fn start_binding(
        &self,
        account_id: &AccountId,
        provider: DestinationProvider,
    ) -> Result<StartedBinding, ApiError> {
        if provider == DestinationProvider::Alipay && self.policy.alipay.client.is_none() {
            return Err(ApiError::ProviderUnavailable { provider: provider.as_str() });
        }
        let ttl = self.policy.start_ttl;
        let (binding_id, account) = self
            .partitions
            .update_account(account_id, |account, now| {
                account.login.phone_number().ok_or(ApiError::PhoneRequired)?;
                Ok((account.start_binding(provider, now, ttl)?, Vec::new()))
            })
            .await?;
        let expires_at = account.binding(&binding_id).map_or_else(|| self.partitions.now() + ttl, |b| b.expires_at);
        let state = new_state();
        let record =
            StateRecord { account_id: account_id.clone(), binding_id: binding_id.clone(), provider, expires_at };
        let keep = ttl.to_std().unwrap_or_default() + STATE_RECORD_GRACE;
        self.partitions.store.put_ephemeral_as(&state_key(&state), &record, keep).await?;
        let authorize_url = match provider {
            DestinationProvider::Wechat => self.wechat_authorize_url(&state)?,
            DestinationProvider::Alipay => self.alipay_authorize_url(&state)?,
        };
        Ok(StartedBinding { authorize_url, binding_id, expires_at })
    }

    /// Takes the single-use state a callback of `provider` came back with.
    async fn take_state(&self, state: Option<&str>, provider: DestinationProvider) -> Result<StateRecord, ApiError> {
        let state = state
            .filter(|s| !s.is_empty() && s.len() <= STATE_CHARS_MAX && s.bytes().all(|b| b.is_ascii_alphanumeric()));
        let state = state.ok_or(ApiError::BindingStateInvalid)?;
        let taken = self.partitions.store.take_ephemeral_as::<StateRecord>(&state_key(state)).await?;
        let record = taken.ok_or(ApiError::BindingStateInvalid)?;
        if record.provider != provider {
            // Another provider's state, brought to the wrong callback: it is spent, so the attempt ends.
            self.fail_binding(&record, BindingFailure::AuthorizationRejected).await;
            return Err(ApiError::BindingStateInvalid);
        }
        if record.expires_at <= self.partitions.now() {
            self.fail_binding(&record, BindingFailure::Expired).await;
            return Err(ApiError::BindingStateInvalid);
        }
        Ok(record)
    }

    /// A callback of `provider` that came back with a live state and a code
    /// (none: the user denied the consent, which ends the attempt) for a
    /// binding its account still has.
    async fn consented<'a>(
        &self,
        state: Option<&str>,
        code: Option<&'a str>,
        provider: DestinationProvider,
    ) -> Result<(StateRecord, &'a str), ApiError> {
        let record = self.take_state(state, provider).await?;
        let Some(code) = code.filter(|code| !code.is_empty()) else {
            return Err(self.fail_binding(&record, BindingFailure::ConsentDenied).await);
        };
        let account = self.partitions.load_account(&record.account_id).await?;
        account.binding(&record.binding_id).ok_or(ApiError::BindingStateInvalid)?;
        Ok((record, code))
    }

    /// The exchange's outcome: the destination authorised, or the attempt
    /// ended with the failure that explains it.
    async fn authorize_fetched(
        &self,
        record: &StateRecord,
        fetched: Result<Destination, (BindingFailure, ApiError)>,
    ) -> Result<AuthorizedBinding, ApiError> {
        match fetched {
            Ok(destination) => self.authorize_destination(record, destination).await,
            Err((failure, error)) => {
                self.fail_binding(record, failure).await;
                Err(error)
            }
        }
    }

    /// The provider named the destination (the callback's exchange): unless
    /// another account holds it, the binding waits for the SMS code texted now.
    async fn authorize_destination(
        &self,
        record: &StateRecord,
        destination: Destination,
    ) -> Result<AuthorizedBinding, ApiError> {
        let (account_id, binding_id) = (&record.account_id, &record.binding_id);
        if self.owner_elsewhere(account_id, &destination).await?.is_some() {
            return Err(self.fail_binding(record, BindingFailure::AlreadyBoundElsewhere).await);
        }
        let confirm_ttl = self.policy.confirm_ttl;
        let purpose = destination.provider.sms_purpose();
        let (message, account) = self
            .partitions
            .update_account(account_id, |account, now| {
                account.authorize_binding(binding_id, destination.clone(), now, confirm_ttl)?;
                let nickname = destination.masked_nickname();
                let what = match destination.provider {
                    DestinationProvider::Wechat => "微信",
                    DestinationProvider::Alipay => "支付宝",
                };
                let (challenge, message) =
                    self.pins.sms.new_challenge(account, purpose, binding_id.as_str(), |code| {
                        format!("【walletgate】验证码 {code}，用于绑定{what}“{nickname}”，5分钟内有效。请勿告诉他人。")
                    })?;
                account.issue_sms_challenge(challenge);
                Ok((message, Vec::new()))
            })
            .await?;
        self.pins.sms.send(&message).await?;
        let binding = account.binding(binding_id).cloned().ok_or(ApiError::BindingStateInvalid)?;
        Ok(AuthorizedBinding { account_id: account_id.clone(), binding, sms_sent_to: account.login.masked() })
    }

    /// Ends the attempt and returns the error that explains it.
    async fn fail_binding(&self, record: &StateRecord, failure: BindingFailure) -> ApiError {
        let binding_id = &record.binding_id;
        self.end_attempt(&record.account_id, binding_id, failure).await;
        failure_error(record.provider, failure)
    }

    async fn end_attempt(&self, account_id: &AccountId, binding_id: &BindingId, failure: BindingFailure) {
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
    }

    /// The SMS code confirms the binding; the provider's user id is claimed
    /// before it goes active.
    pub async fn confirm_binding(
        &self,
        caller: &Principal,
        binding_id: &BindingId,
        sms_code: &str,
    ) -> Result<Binding, ApiError> {
        let account_id = &caller.account_id;
        let account = self.partitions.load_account_as(caller).await?;
        let now = self.partitions.now();
        let destination = pending_destination(&account, binding_id, now)?;
        let purpose = destination.provider.sms_purpose();
        let digest = self.pins.sms.digest(account_id, purpose, binding_id.as_str(), sms_code);
        if account.sms_verdict(purpose, binding_id.as_str(), &digest, now) != SmsVerdict::Accepted {
            return Err(self.spend_sms_try(account_id, binding_id, &destination, &digest).await?);
        }
        if !self.claim_identity(account_id, binding_id, &destination).await? {
            self.end_attempt(account_id, binding_id, BindingFailure::AlreadyBoundElsewhere).await;
            return Err(failure_error(destination.provider, BindingFailure::AlreadyBoundElsewhere));
        }
        let activated = self
            .partitions
            .update_account_as(caller, |account, now| {
                if let Some(refusal) = sms_refusal(account.present_sms_code(purpose, binding_id.as_str(), &digest, now))
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
                self.release_claim_if_inactive(account_id, binding_id, &destination).await;
                Err(error)
            }
        }
    }

    /// Records a wrong (or dead) code against the challenge and returns the refusal.
    async fn spend_sms_try(
        &self,
        account_id: &AccountId,
        binding_id: &BindingId,
        destination: &Destination,
        digest: &str,
    ) -> Result<ApiError, ApiError> {
        let purpose = destination.provider.sms_purpose();
        let (verdict, _) = self
            .partitions
            .update_account(account_id, |account, now| {
                Ok((account.present_sms_code(purpose, binding_id.as_str(), digest, now), Vec::new()))
            })
            .await?;
        Ok(sms_refusal(verdict).unwrap_or(ApiError::SmsCodeExpired))
    }

    /// Unbinding needs the payment PIN; a wrong one counts like any PIN entry.
    pub async fn unbind(&self, caller: &Principal, binding_id: &BindingId, pin: Pin) -> Result<Binding, ApiError> {
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
        self.release_identity(account_id, binding_id, &destination).await;
        account.binding(binding_id).cloned().ok_or(ApiError::NotFound { resource: "binding" })
    }
}

/// The destination a binding waiting for its SMS code was authorised with.
fn pending_destination(account: &Account, binding_id: &BindingId, now: DateTime<Utc>) -> Result<Destination, ApiError> {
    let binding = account.pending_binding(binding_id, now)?;
    binding.destination.clone().ok_or(ApiError::BindingStatusConflict { status: "authorizing" })
}

/// What the client is told when an attempt of `provider` ends for `failure`.
fn failure_error(provider: DestinationProvider, failure: BindingFailure) -> ApiError {
    match (provider, failure) {
        (_, BindingFailure::ConsentDenied) => ApiError::BindingConsentDenied,
        (_, BindingFailure::SnapshotUser) => ApiError::WeChatSnapshotUser,
        (_, BindingFailure::Expired | BindingFailure::Superseded) => ApiError::BindingStateInvalid,
        (DestinationProvider::Wechat, BindingFailure::AlreadyBoundElsewhere) => ApiError::WeChatAlreadyBound,
        (DestinationProvider::Alipay, BindingFailure::AlreadyBoundElsewhere) => ApiError::AlipayAlreadyBound,
        (DestinationProvider::Wechat, BindingFailure::ProviderUnavailable) => ApiError::WeChatUnavailable,
        (DestinationProvider::Alipay, BindingFailure::ProviderUnavailable) => {
            ApiError::ProviderUnavailable { provider: provider.as_str() }
        }
        // A state brought to another provider's callback.
        (_, BindingFailure::AuthorizationRejected) => ApiError::BindingStateInvalid,
    }
}
