//! Withdrawal destinations bound to an account (a WeChat or an Alipay
//! wallet), and the rules of their life: one attempt in progress at a time,
//! at most one active binding per provider, authorize → confirm by SMS →
//! active → unbound, and every unfinished attempt ends (failed) rather than
//! lingering half-bound.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::Account;
use super::ids::hex_id;
use super::sms::SmsPurpose;

/// Finished bindings kept in the account's history beyond the live ones.
const ENDED_BINDINGS_KEPT: usize = 10;

hex_id!(
    /// A binding's id: `bnd_` and 32 hex digits.
    #[schema(example = "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    BindingId,
    "bnd_"
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "active")]
pub enum BindingStatus {
    /// Waiting for the user's consent at the provider (WeChat, Alipay).
    Authorizing,
    /// The provider's identity known; waiting for the SMS code.
    PendingConfirmation,
    Active,
    Unbound,
    Failed,
}

impl BindingStatus {
    /// The wire name, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            BindingStatus::Authorizing => "authorizing",
            BindingStatus::PendingConfirmation => "pending_confirmation",
            BindingStatus::Active => "active",
            BindingStatus::Unbound => "unbound",
            BindingStatus::Failed => "failed",
        }
    }

    pub fn is_in_progress(self) -> bool {
        matches!(self, BindingStatus::Authorizing | BindingStatus::PendingConfirmation)
    }
}

/// Why a binding attempt ended without becoming active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "consent_denied")]
pub enum BindingFailure {
    ConsentDenied,
    AuthorizationRejected,
    SnapshotUser,
    AlreadyBoundElsewhere,
    ProviderUnavailable,
    Expired,
    Superseded,
}

/// The wallet provider a destination belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "alipay")]
pub enum DestinationProvider {
    /// A WeChat wallet, paid by WeChat Pay transfer bills.
    #[default]
    Wechat,
    /// An Alipay account, paid by `alipay.fund.trans.uni.transfer`.
    Alipay,
}

impl DestinationProvider {
    pub const ALL: [DestinationProvider; 2] = [DestinationProvider::Wechat, DestinationProvider::Alipay];

    /// The wire name, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationProvider::Wechat => "wechat",
            DestinationProvider::Alipay => "alipay",
        }
    }

    /// The provider's name as users read it.
    pub fn display_name(self) -> &'static str {
        match self {
            DestinationProvider::Wechat => "WeChat",
            DestinationProvider::Alipay => "Alipay",
        }
    }

    pub fn parse(text: &str) -> Option<DestinationProvider> {
        DestinationProvider::ALL.into_iter().find(|provider| provider.as_str() == text)
    }

    /// What the SMS code confirming a binding of this provider is for.
    pub fn sms_purpose(self) -> SmsPurpose {
        match self {
            DestinationProvider::Wechat => SmsPurpose::BindWechat,
            DestinationProvider::Alipay => SmsPurpose::BindAlipay,
        }
    }
}

/// The wallet identity a binding pays out to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Whose wallet it is; records from before Alipay are WeChat's.
    #[serde(default)]
    pub provider: DestinationProvider,
    /// The provider's id of the user under walletgate's app: WeChat's
    /// openid, or Alipay's user id (`2088…`) or open id, whichever the app
    /// is given (the name is WeChat's, kept so stored records read as before).
    pub openid: String,
    #[serde(default)]
    pub unionid: Option<String>,
    pub nickname: String,
    pub avatar_url: String,
    /// The certified real name Alipay reported at binding, sent as the
    /// transfer's `payee_info.name` so Alipay checks it (WeChat: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_name: Option<String>,
}

impl Destination {
    /// Enough for the user to recognise their own account: `张*丰`, `A***e`.
    pub fn masked_nickname(&self) -> String {
        mask_middle(&self.nickname)
    }

    /// The certified real name, masked as the nickname is: `李*龙`.
    pub fn masked_real_name(&self) -> Option<String> {
        self.real_name.as_deref().map(mask_middle)
    }

    pub fn masked_openid(&self) -> String {
        let chars: Vec<char> = self.openid.chars().collect();
        if chars.len() <= 8 {
            return "*".repeat(chars.len());
        }
        let head: String = chars[..4].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}****{tail}")
    }
}

fn mask_middle(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat((n - 2).min(3)), chars[n - 1]),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub id: BindingId,
    /// Whose wallet it binds; records from before Alipay are WeChat's.
    #[serde(default)]
    pub provider: DestinationProvider,
    pub status: BindingStatus,
    pub created_at: DateTime<Utc>,
    /// Deadline of the current step while in progress.
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub destination: Option<Destination>,
    #[serde(default)]
    pub activated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub failure: Option<BindingFailure>,
    /// Withdrawals made to this destination; the first one is reviewed by a person.
    #[serde(default)]
    pub withdrawal_count: u32,
}

impl Binding {
    /// The status as of `now`: an attempt past its deadline has failed even
    /// if nothing has written that down yet.
    pub fn status_at(&self, now: DateTime<Utc>) -> (BindingStatus, Option<BindingFailure>) {
        if self.status.is_in_progress() && now >= self.expires_at {
            (BindingStatus::Failed, Some(BindingFailure::Expired))
        } else {
            (self.status, self.failure)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    #[error("binding not found")]
    NotFound,
    #[error("a wallet of this provider is already bound; unbind it first")]
    AlreadyActive { binding_id: BindingId },
    #[error("the binding is {status:?}, not {expected:?}")]
    WrongStatus { status: BindingStatus, expected: BindingStatus },
    #[error("the binding attempt has expired; start again")]
    Expired,
}

impl Account {
    pub fn binding(&self, id: &BindingId) -> Option<&Binding> {
        self.bindings.iter().find(|binding| &binding.id == id)
    }

    /// The active binding of `provider`, if any (at most one each).
    pub fn active_binding(&self, provider: DestinationProvider) -> Option<&Binding> {
        self.bindings.iter().find(|binding| binding.status == BindingStatus::Active && binding.provider == provider)
    }

    /// Starts an attempt to bind a wallet of `provider`. Refused while one
    /// of that provider is active; any attempt of it still in progress is
    /// superseded, so at most one per provider is ever live.
    pub fn start_binding(
        &mut self,
        provider: DestinationProvider,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<BindingId, BindingError> {
        if let Some(active) = self.active_binding(provider) {
            return Err(BindingError::AlreadyActive { binding_id: active.id.clone() });
        }
        for binding in self.bindings.iter_mut().filter(|b| b.status.is_in_progress() && b.provider == provider) {
            end(binding, BindingStatus::Failed, Some(BindingFailure::Superseded), now);
        }
        let id = BindingId::generate();
        self.bindings.push(Binding {
            id: id.clone(),
            provider,
            status: BindingStatus::Authorizing,
            created_at: now,
            expires_at: now + ttl,
            destination: None,
            activated_at: None,
            ended_at: None,
            failure: None,
            withdrawal_count: 0,
        });
        self.prune_bindings();
        Ok(id)
    }

    /// The user consented and the provider named the destination; the SMS step begins.
    pub fn authorize_binding(
        &mut self,
        id: &BindingId,
        destination: Destination,
        now: DateTime<Utc>,
        confirm_ttl: Duration,
    ) -> Result<(), BindingError> {
        let binding = self.live_binding_mut(id, BindingStatus::Authorizing, now)?;
        if binding.provider != destination.provider {
            return Err(BindingError::NotFound);
        }
        binding.status = BindingStatus::PendingConfirmation;
        binding.destination = Some(destination);
        binding.expires_at = now + confirm_ttl;
        Ok(())
    }

    /// Checks, without changing anything, that `id` awaits its SMS code.
    pub fn pending_binding(&self, id: &BindingId, now: DateTime<Utc>) -> Result<&Binding, BindingError> {
        let binding = self.binding(id).ok_or(BindingError::NotFound)?;
        check_live(binding, BindingStatus::PendingConfirmation, now)?;
        Ok(binding)
    }

    pub fn activate_binding(&mut self, id: &BindingId, now: DateTime<Utc>) -> Result<(), BindingError> {
        let provider = self.binding(id).ok_or(BindingError::NotFound)?.provider;
        if let Some(active) = self.active_binding(provider) {
            return Err(BindingError::AlreadyActive { binding_id: active.id.clone() });
        }
        let binding = self.live_binding_mut(id, BindingStatus::PendingConfirmation, now)?;
        binding.status = BindingStatus::Active;
        binding.activated_at = Some(now);
        Ok(())
    }

    /// Whether binding `id` can never go active with `openid` any more, so
    /// its claim on the openid may be taken over: it ended, was pruned, or
    /// holds another openid. One still in progress but past its deadline is
    /// ended here (as expired), so that once this is committed no
    /// confirmation decided on an older version can activate it.
    pub fn give_up_openid_claim(&mut self, id: &BindingId, openid: &str, now: DateTime<Utc>) -> bool {
        let Some(binding) = self.binding(id) else { return true };
        let holds_openid = binding.destination.as_ref().is_some_and(|d| d.openid == openid);
        match binding.status_at(now) {
            _ if !holds_openid => true,
            (BindingStatus::Active, _) => false,
            (status, _) if binding.status.is_in_progress() && status == BindingStatus::Failed => {
                self.fail_binding(id, BindingFailure::Expired, now);
                true
            }
            (status, _) => !status.is_in_progress(),
        }
    }

    /// Ends an attempt in progress; a no-op for one that already ended.
    pub fn fail_binding(&mut self, id: &BindingId, failure: BindingFailure, now: DateTime<Utc>) {
        if let Some(binding) = self.bindings.iter_mut().find(|b| &b.id == id && b.status.is_in_progress()) {
            end(binding, BindingStatus::Failed, Some(failure), now);
        }
    }

    pub fn unbind(&mut self, id: &BindingId, now: DateTime<Utc>) -> Result<Destination, BindingError> {
        let binding = self.bindings.iter_mut().find(|b| &b.id == id).ok_or(BindingError::NotFound)?;
        if binding.status != BindingStatus::Active {
            return Err(BindingError::WrongStatus { status: binding.status, expected: BindingStatus::Active });
        }
        end(binding, BindingStatus::Unbound, None, now);
        binding.destination.clone().ok_or(BindingError::NotFound)
    }

    fn live_binding_mut(
        &mut self,
        id: &BindingId,
        expected: BindingStatus,
        now: DateTime<Utc>,
    ) -> Result<&mut Binding, BindingError> {
        let binding = self.bindings.iter_mut().find(|b| &b.id == id).ok_or(BindingError::NotFound)?;
        check_live(binding, expected, now)?;
        Ok(binding)
    }

    /// Keeps live bindings and the newest few that ended, so the record stays small.
    fn prune_bindings(&mut self) {
        let ended = self.bindings.iter().filter(|b| b.ended_at.is_some()).count();
        let mut to_drop = ended.saturating_sub(ENDED_BINDINGS_KEPT);
        self.bindings.retain(|b| {
            let drop = to_drop > 0 && b.ended_at.is_some();
            to_drop -= usize::from(drop);
            !drop
        });
    }
}

fn check_live(binding: &Binding, expected: BindingStatus, now: DateTime<Utc>) -> Result<(), BindingError> {
    if binding.status != expected {
        return Err(BindingError::WrongStatus { status: binding.status, expected });
    }
    if now >= binding.expires_at {
        return Err(BindingError::Expired);
    }
    Ok(())
}

fn end(binding: &mut Binding, status: BindingStatus, failure: Option<BindingFailure>, now: DateTime<Utc>) {
    binding.status = status;
    binding.failure = failure;
    binding.ended_at = Some(now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::fixtures::{alice, now};

    fn account() -> Account {
        alice()
    }

    fn destination() -> Destination {
        Destination {
            provider: DestinationProvider::Wechat,
            openid: "o6_bmjrPTlm6_2sgVt7hMZOPfL2M".into(),
            unionid: None,
            nickname: "张三丰".into(),
            avatar_url: String::new(),
            real_name: None,
        }
    }

    fn alipay_destination() -> Destination {
        Destination {
            provider: DestinationProvider::Alipay,
            openid: "2088102146225135".into(),
            unionid: None,
            nickname: "李小龙".into(),
            avatar_url: String::new(),
            real_name: Some("李小龙".into()),
        }
    }

    fn bound(account: &mut Account) -> BindingId {
        let id = account.start_binding(DestinationProvider::Wechat, now(), Duration::minutes(10)).unwrap();
        account.authorize_binding(&id, destination(), now(), Duration::minutes(10)).unwrap();
        account.activate_binding(&id, now()).unwrap();
        id
    }

    #[test]
    fn an_openid_claim_is_given_up_only_by_a_binding_that_can_never_activate_with_it() {
        let openid = destination().openid;
        let mut account = account();
        let pending = account.start_binding(DestinationProvider::Wechat, now(), Duration::minutes(10)).unwrap();
        account.authorize_binding(&pending, destination(), now(), Duration::minutes(5)).unwrap();
        // Waiting for its SMS code, within its deadline: it may still activate.
        assert!(!account.give_up_openid_claim(&pending, &openid, now() + Duration::minutes(4)));
        assert_eq!(account.binding(&pending).unwrap().status, BindingStatus::PendingConfirmation);
        // A claim on another openid is not this binding's.
        assert!(account.give_up_openid_claim(&pending, "another-openid", now()));
        // Past its deadline it is ended, so a late confirmation cannot land.
        assert!(account.give_up_openid_claim(&pending, &openid, now() + Duration::minutes(5)));
        assert_eq!(account.binding(&pending).unwrap().status, BindingStatus::Failed);
        assert_eq!(
            account.activate_binding(&pending, now()),
            Err(BindingError::WrongStatus {
                status: BindingStatus::Failed,
                expected: BindingStatus::PendingConfirmation
            })
        );

        let active = bound(&mut account);
        assert!(!account.give_up_openid_claim(&active, &openid, now() + Duration::days(400)));
        account.unbind(&active, now()).unwrap();
        assert!(account.give_up_openid_claim(&active, &openid, now()));
        assert!(account.give_up_openid_claim(&BindingId::generate(), &openid, now()), "a pruned binding");
    }

    #[test]
    fn a_binding_walks_authorize_confirm_active_unbound() {
        let mut account = account();
        let id = bound(&mut account);
        assert_eq!(account.active_binding(DestinationProvider::Wechat).map(|b| &b.id), Some(&id));
        assert_eq!(account.unbind(&id, now()).unwrap(), destination());
        assert_eq!(account.binding(&id).unwrap().status, BindingStatus::Unbound);
        assert!(account.active_binding(DestinationProvider::Wechat).is_none());
    }

    #[test]
    fn only_one_active_binding_and_one_attempt_at_a_time() {
        let mut account = account();
        let active = bound(&mut account);
        assert_eq!(
            account.start_binding(DestinationProvider::Wechat, now(), Duration::minutes(10)),
            Err(BindingError::AlreadyActive { binding_id: active.clone() })
        );
        account.unbind(&active, now()).unwrap();
        let first = account.start_binding(DestinationProvider::Wechat, now(), Duration::minutes(10)).unwrap();
        let second = account.start_binding(DestinationProvider::Wechat, now(), Duration::minutes(10)).unwrap();
        let superseded = account.binding(&first).unwrap();
        assert_eq!((superseded.status, superseded.failure), (BindingStatus::Failed, Some(BindingFailure::Superseded)));
        assert_eq!(account.binding(&second).unwrap().status, BindingStatus::Authorizing);
    }

    #[test]
    fn steps_out_of_order_or_too_late_are_refused() {
        let mut account = account();
        let id = account.start_binding(DestinationProvider::Wechat, now(), Duration::minutes(10)).unwrap();
        assert!(matches!(account.activate_binding(&id, now()), Err(BindingError::WrongStatus { .. })));
        let late = now() + Duration::minutes(10);
        assert_eq!(
            account.authorize_binding(&id, destination(), late, Duration::minutes(10)),
            Err(BindingError::Expired)
        );
        assert_eq!(
            account.binding(&id).unwrap().status_at(late),
            (BindingStatus::Failed, Some(BindingFailure::Expired))
        );
        assert_eq!(account.unbind(&BindingId::generate(), now()), Err(BindingError::NotFound));
    }

    #[test]
    fn one_active_binding_per_provider_and_attempts_supersede_only_their_own_provider() {
        let mut account = account();
        let wechat = bound(&mut account);
        let alipay = account.start_binding(DestinationProvider::Alipay, now(), Duration::minutes(10)).unwrap();
        let wechat_attempt = account.binding(&wechat).unwrap().status;
        assert_eq!(wechat_attempt, BindingStatus::Active, "an Alipay attempt leaves WeChat's binding alone");
        assert_eq!(
            account.authorize_binding(&alipay, destination(), now(), Duration::minutes(10)),
            Err(BindingError::NotFound),
            "a WeChat identity cannot complete an Alipay attempt"
        );
        account.authorize_binding(&alipay, alipay_destination(), now(), Duration::minutes(10)).unwrap();
        account.activate_binding(&alipay, now()).unwrap();
        assert_eq!(account.active_binding(DestinationProvider::Alipay).map(|b| &b.id), Some(&alipay));
        assert_eq!(account.active_binding(DestinationProvider::Wechat).map(|b| &b.id), Some(&wechat));
        assert_eq!(
            account.start_binding(DestinationProvider::Alipay, now(), Duration::minutes(10)),
            Err(BindingError::AlreadyActive { binding_id: alipay.clone() })
        );
        let older: Binding = serde_json::from_value(serde_json::json!({
            "id": BindingId::generate().as_str(), "status": "active", "created_at": now(), "expires_at": now(),
            "destination": {"openid": "o6_x", "nickname": "n", "avatar_url": ""}
        }))
        .unwrap();
        assert_eq!(older.provider, DestinationProvider::Wechat, "records from before Alipay are WeChat's");
        assert_eq!(older.destination.unwrap().provider, DestinationProvider::Wechat);
    }

    #[test]
    fn failing_ends_only_attempts_in_progress() {
        let mut account = account();
        let id = bound(&mut account);
        account.fail_binding(&id, BindingFailure::ConsentDenied, now());
        assert_eq!(account.binding(&id).unwrap().status, BindingStatus::Active);
    }

    #[test]
    fn history_is_pruned_to_the_newest_ended_attempts() {
        let mut account = account();
        for _ in 0..25 {
            account.start_binding(DestinationProvider::Wechat, now(), Duration::minutes(10)).unwrap();
        }
        assert_eq!(account.bindings.len(), ENDED_BINDINGS_KEPT + 1);
        assert_eq!(account.bindings.iter().filter(|b| b.status.is_in_progress()).count(), 1);
    }

    #[test]
    fn masks_keep_the_ends() {
        let destination = destination();
        assert_eq!(destination.masked_nickname(), "张*丰");
        assert_eq!(destination.masked_openid(), "o6_b****fL2M");
        assert_eq!(mask_middle("Alexander"), "A***r");
        assert_eq!(mask_middle("李四"), "李*");
        assert!(BindingId::parse(BindingId::generate().as_str()).is_some());
        assert!(BindingId::parse("bnd_x").is_none());
        let wire = serde_json::to_string(&BindingStatus::PendingConfirmation).unwrap();
        assert_eq!(wire, format!("\"{}\"", BindingStatus::PendingConfirmation.as_str()));
    }
}
