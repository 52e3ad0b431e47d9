//! Loading a scenario (`domain::scenario`) into the deployment, through the
//! same services a client's requests go through: each user is created with
//! its opening balances (balanced `demo_seed` entries from the funding
//! account, as the demo accounts are), verified by an identity check an
//! operator approves, given a PIN with an SMS code from the mock outbox,
//! bound to a new mock WeChat user (whose real name is the identity's) by
//! the OAuth consent and an SMS code, and
//! its withdrawals are submitted with its PIN and taken to their states by
//! operators' decisions and the worker. Nothing writes a balance directly,
//! so the ledger check balances and every rule (limits, review, fees) holds.
//!
//! What can be checked without writing is checked first (the logins and ID
//! numbers are free, the nicknames are valid); a refusal met while loading
//! (the rules sending a withdrawal elsewhere than the file says, say) stops
//! the load with `SCENARIO_INVALID` naming the place in the file, and what
//! was loaded before it stays: reset to start clean.
//!
//! Operators' steps are taken, and audited, as `actor`: the operator who
//! asked for the load, or at startup the scenario's first operator (else the
//! demo operator).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use utoipa::ToSchema;

use super::ServiceSet;
use super::bindings::{BindingPolicy, Bindings};
use super::keys::{PAYOUT_SCHEDULE, review_member};
use super::kyc::Kyc;
use super::pin::Pins;
use super::review::Review;
use super::seed::{DEMO_OPERATOR_ID, SeededAccount, create_seeded_account};
use super::withdrawal_reads::WithdrawalReads;
use super::withdrawal_submission::Submitted;
use super::withdrawals::{WithdrawalRequest, Withdrawals};
use super::worker_step::WorkerStep;
use crate::auth::Principal;
use crate::auth::password::PasswordHashing;
use crate::domain::account::{Account, AccountId, Role, VerificationLevel};
use crate::domain::binding::{BindingId, DestinationProvider};
use crate::domain::credentials::Login;
use crate::domain::kyc::{KycDecision, KycSubmission};
use crate::domain::scenario::{
    Place, Scenario, ScenarioError, ScenarioUser, ScenarioWeChat, ScenarioWithdrawal, WithdrawalTarget, parse_scenario,
};
use crate::domain::sms::SmsPurpose;
use crate::domain::withdrawal::{Withdrawal, WithdrawalId, WithdrawalStatus};
use crate::domain::withdrawal_decision::IdempotencyKey;
use crate::error::ApiError;
use crate::providers::journal::RequestJournal;
use crate::providers::sms::MockSmsOutbox;
use crate::providers::wechat::builtin_client::BuiltinWeChatClient;
use crate::providers::wechat::mock::{AuthorizeParams, ConsentForm, MockUserFlags, MockWeChat, NewMockUser};

/// The scenarios of `scenarios/`, compiled in, by name: what
/// `POST /v1/sim/reset` can reset into.
pub const BUNDLED_SCENARIOS: &[(&str, &str)] = &[
    ("review-queue", include_str!("../../scenarios/review-queue.toml")),
    ("limits", include_str!("../../scenarios/limits.toml")),
    ("two-assets", include_str!("../../scenarios/two-assets.toml")),
];

/// Worker steps a load runs, beyond one per withdrawal it pays out, before
/// it gives up on payouts that do not finish.
const WORKER_STEPS_SPARE: usize = 10;

/// What a load created.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "scenario": "review-queue",
    "users": [{"name": "reviewer-01", "account_id": "acc_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "role": "user",
        "login": "13900000101", "level": "L1", "binding_id": "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c8",
        "openid": "oAb1CdEfGhIjKlMnOpQrStUvWxYz",
        "withdrawals": [{"id": "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c9", "amount": "6200.00", "status": "in_review"}]}]
}))]
pub struct ScenarioReport {
    /// The scenario's `name`.
    pub scenario: String,
    /// Every user, in the file's order.
    pub users: Vec<SeededUser>,
}

/// One user of a loaded scenario.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "name": "zhao", "account_id": "acc_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "role": "user", "login": "13900000301",
    "level": "L2", "withdrawals": []
}))]
pub struct SeededUser {
    /// The user's `name` in the scenario.
    pub name: String,
    pub account_id: AccountId,
    pub role: Role,
    /// The phone (or an operator's email) to log in with.
    pub login: String,
    pub level: VerificationLevel,
    /// The active WeChat binding, when the user has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub binding_id: Option<BindingId>,
    /// The mock WeChat user it is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
    pub withdrawals: Vec<SeededWithdrawal>,
}

/// One withdrawal of a loaded scenario, in the state it was brought to.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c9", "amount": "990.00", "status": "settled"}))]
pub struct SeededWithdrawal {
    #[schema(value_type = String)]
    pub id: WithdrawalId,
    #[schema(value_type = String, example = "6200.00")]
    pub amount: String,
    pub status: WithdrawalStatus,
}

/// Loading scenarios; present only where the mock providers run (the
/// bindings are made with the built-in mock WeChat).
#[derive(Debug, Clone)]
pub struct Scenarios {
    pub kyc: Kyc,
    /// Bindings through the built-in mock in-process, whatever client the
    /// gateway is configured with: a scenario's WeChat users live there.
    pub bindings: Bindings,
    pub pins: Pins,
    pub withdrawals: Withdrawals,
    pub reads: WithdrawalReads,
    pub review: Review,
    pub worker: WorkerStep,
    pub mock: Arc<MockWeChat>,
    pub outbox: MockSmsOutbox,
    /// Hashes the users' passwords at the configured cost, in turn with logins.
    pub passwords: PasswordHashing,
}

/// A user as created so far, with what the later steps need.
struct Seeded {
    principal: Principal,
    phone: Option<String>,
    binding: Option<(BindingId, String)>,
}

/// A submitted withdrawal and where it is to go.
struct Submission<'a> {
    wanted: &'a ScenarioWithdrawal,
    account_id: AccountId,
    withdrawal: Withdrawal,
}

impl Scenarios {
    /// The loader over `services`, binding through `mock` as the gateway's
    /// WeChat app (`wechat.app_id`, whose secret is `app_secret`), each call
    /// in the request journal like the gateway's own.
    pub fn new(
        services: &ServiceSet,
        mock: Arc<MockWeChat>,
        outbox: MockSmsOutbox,
        journal: RequestJournal,
        app_secret: SecretString,
    ) -> Scenarios {
        let policy = &services.bindings.policy;
        let client = BuiltinWeChatClient::new(mock.clone(), journal, policy.app_id.clone(), app_secret);
        let policy = BindingPolicy { client: Arc::new(client), ..policy.clone() };
        Scenarios {
            kyc: services.kyc.clone(),
            bindings: Bindings { policy, ..services.bindings.clone() },
            pins: services.pins.clone(),
            withdrawals: services.withdrawals.clone(),
            reads: services.withdrawal_reads.clone(),
            review: services.review.clone(),
            worker: services.worker.clone(),
            mock,
            outbox,
            passwords: services.accounts.passwords.clone(),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.kyc.partitions.now()
    }

    /// Parses `text`; errors name `source` (a file's path, or what sent it).
    pub fn parse(&self, source: &str, text: &str) -> Result<Scenario, ApiError> {
        parse_scenario(text, self.now().date_naive()).map_err(|error| invalid(source, error))
    }

    /// A scenario of `scenarios/` by name; 404 `scenario` for another name.
    pub fn bundled(&self, name: &str) -> Result<Scenario, ApiError> {
        let (_, text) = BUNDLED_SCENARIOS
            .iter()
            .find(|(bundled, _)| *bundled == name)
            .ok_or(ApiError::NotFound { resource: "scenario" })?;
        self.parse(name, text)
    }

    /// Loads `scenario`, acting as `actor` where an operator's step is needed
    /// (`None`: its first operator, else the demo operator). Errors name
    /// `source`, as `parse` does.
    pub async fn load(
        &self,
        source: &str,
        actor: Option<&AccountId>,
        scenario: &Scenario,
    ) -> Result<ScenarioReport, ApiError> {
        let report = self.load_all(actor, scenario).await.map_err(|refusal| refusal.into_api_error(source))?;
        tracing::info!(scenario = %scenario.name, users = report.users.len(), "scenario loaded");
        Ok(report)
    }

    async fn load_all(&self, actor: Option<&AccountId>, scenario: &Scenario) -> Result<ScenarioReport, Refusal> {
        self.check_free(scenario).await?;
        let mut seeded = Vec::with_capacity(scenario.users.len());
        let mut actor = actor.cloned();
        for user in &scenario.users {
            let created = self.seed_account(user).await?;
            if user.role == Role::Operator && actor.is_none() {
                actor = Some(created.principal.account_id.clone());
            }
            seeded.push(created);
        }
        let actor = match actor.or_else(|| AccountId::parse(DEMO_OPERATOR_ID)) {
            Some(actor) => actor,
            None => return Err(ApiError::internal(anyhow::anyhow!("the demo operator's id does not parse")).into()),
        };
        for (user, created) in scenario.users.iter().zip(&mut seeded) {
            self.equip(&actor, user, created).await?;
        }
        let mut submissions = Vec::new();
        for (user, created) in scenario.users.iter().zip(&seeded) {
            for wanted in &user.withdrawals {
                submissions.push(self.submit(user, created, wanted).await?);
            }
        }
        self.bring_to_their_states(&actor, &mut submissions).await?;
        Ok(self.report(scenario, &seeded, &submissions).await?)
    }

    /// Whether every login of `scenario` is registered already: a file
    /// loaded before (by a restart, or another gateway on the same store).
    pub async fn all_registered(&self, scenario: &Scenario) -> Result<bool, ApiError> {
        let store = &self.kyc.partitions.store;
        for user in &scenario.users {
            if store.account_id_by_login(&user.login.index_key()).await?.is_none() {
                return Ok(false);
            }
        }
        Ok(!scenario.users.is_empty())
    }

    /// Refuses, before anything is written, logins that are registered, ID
    /// numbers that verify an account already, and nicknames the mock refuses.
    async fn check_free(&self, scenario: &Scenario) -> Result<(), Refusal> {
        let store = &self.kyc.partitions.store;
        for user in &scenario.users {
            let login = user.login.index_key();
            if store.account_id_by_login(&login).await?.is_some() {
                return Err(Refusal::at(&user.at, format!("{} is already registered", login_text(&user.login))));
            }
            if let Some(identity) = &user.identity
                && self.kyc.id_number_holder(&identity.id_number).await?.is_some()
            {
                return Err(Refusal::at(&identity.at, "this ID number already verifies an account"));
            }
            if let Some(wechat) = &user.wechat {
                new_mock_user(wechat)?;
            }
        }
        Ok(())
    }

    /// The account, with its opening balances.
    async fn seed_account(&self, user: &ScenarioUser) -> Result<Seeded, Refusal> {
        let id = AccountId::generate();
        let account = SeededAccount {
            id: id.clone(),
            role: user.role,
            login: user.login.clone(),
            password_hash: self.passwords.hash(user.password.clone()).await?,
            level: VerificationLevel::L0,
            // Verified afterwards through the KYC service, as a user would be.
            identity: None,
            balances: &user.balances,
            memo: "scenario opening balance",
        };
        if !create_seeded_account(&self.kyc.partitions, account).await? {
            return Err(Refusal::at(&user.at, format!("{} is already registered", login_text(&user.login))));
        }
        let principal = Principal { account_id: id, role: user.role, generation: 0, session: None };
        Ok(Seeded { principal, phone: user.login.phone_number().map(str::to_owned), binding: None })
    }

    /// The identity, the PIN and the WeChat binding.
    async fn equip(&self, actor: &AccountId, user: &ScenarioUser, seeded: &mut Seeded) -> Result<(), Refusal> {
        let account_id = seeded.principal.account_id.clone();
        if let Some(identity) = &user.identity {
            let submission = KycSubmission {
                level: identity.level,
                real_name: identity.real_name.clone(),
                id_number: identity.id_number.clone(),
                face_check_passed: (identity.level == VerificationLevel::L2).then_some(true),
            };
            let place = &identity.at;
            let request = self.kyc.submit_kyc(&account_id, submission).await.map_err(Refusal::on(place))?;
            match self.kyc.decide_kyc(actor, &request.id, KycDecision::Approve).await {
                // Approved by the clock already (`kyc.auto_approve_after_secs = 0`).
                Ok(_) | Err(ApiError::KycConflict { reason: "already_decided" }) => {}
                Err(error) => return Err(Refusal::on(place)(error)),
            }
        }
        if let Some(pin) = &user.pin {
            let place = &user.at;
            self.pins.request_sms_code(&account_id, SmsPurpose::SetPin).await.map_err(Refusal::on(place))?;
            let code = self.sms_code(seeded, SmsPurpose::SetPin, place).await?;
            let set = self.pins.set_pin_with_sms(&seeded.principal, pin.clone(), &code, None).await;
            set.map_err(Refusal::on(place))?;
        }
        if let Some(wechat) = &user.wechat {
            // The wallet's real name is the identity's, as a real user's
            // would be: WeChat Pay checks it on payouts from ¥2,000.
            let real_name = user.identity.as_ref().map(|identity| identity.real_name.as_str());
            seeded.binding = Some(self.bind(seeded, wechat, real_name).await?);
        }
        Ok(())
    }

    /// Binds a new mock WeChat user (with `real_name` on record, if any):
    /// start, consent as the user, the gateway's code exchange, and the SMS
    /// code that confirms it.
    async fn bind(
        &self,
        seeded: &Seeded,
        wechat: &ScenarioWeChat,
        real_name: Option<&str>,
    ) -> Result<(BindingId, String), Refusal> {
        let on = Refusal::on(&wechat.at);
        let started = self
            .bindings
            .start_binding(&seeded.principal.account_id, DestinationProvider::Wechat)
            .await
            .map_err(&on)?;
        let authorize = url::Url::parse(&started.authorize_url).map_err(|e| on(ApiError::internal(e)))?;
        let param = |name: &str| query_value(&authorize, name).unwrap_or_default();
        let flag = |on: bool| if on { "on" } else { "" }.to_owned();
        let consent = ConsentForm {
            params: AuthorizeParams {
                appid: param("appid"),
                redirect_uri: param("redirect_uri"),
                response_type: param("response_type"),
                scope: param("scope"),
                state: param("state"),
            },
            action: "allow".to_owned(),
            nickname: new_mock_user(wechat)?.nickname().to_owned(),
            real_name: real_name.unwrap_or_default().to_owned(),
            no_real_name: flag(wechat.no_real_name),
            frozen: flag(wechat.frozen),
            ..ConsentForm::default()
        };
        let back = self.mock.consent(&consent).await.map_err(|error| {
            Refusal::at(
                &wechat.at,
                format!("the mock WeChat refused the consent: {} ({})", error.message, error.errcode),
            )
        })?;
        let (code, state) = (query_value(&back, "code"), query_value(&back, "state"));
        let authorized = self.bindings.complete_wechat_authorization(code.as_deref(), state.as_deref()).await;
        let binding_id = authorized.map_err(&on)?.binding.id;
        let code = self.sms_code(seeded, SmsPurpose::BindWechat, &wechat.at).await?;
        let binding = self.bindings.confirm_binding(&seeded.principal, &binding_id, &code).await.map_err(&on)?;
        let openid = binding.destination.map(|destination| destination.openid).unwrap_or_default();
        Ok((binding_id, openid))
    }

    /// The newest code the mock SMS outbox holds for the user, for `purpose`.
    async fn sms_code(&self, seeded: &Seeded, purpose: SmsPurpose, place: &Place) -> Result<String, Refusal> {
        let phone = seeded.phone.as_deref().unwrap_or_default();
        let newest = self.outbox.messages(phone, 1).await?.into_iter().next();
        match newest {
            Some(message) if message.purpose == purpose.code() => Ok(message.code),
            _ => Err(Refusal::at(place, format!("no {} SMS code reached the mock outbox", purpose.code()))),
        }
    }

    /// Submits a withdrawal with the user's PIN, and checks that the rules
    /// sent it where its target state can be reached from.
    async fn submit<'a>(
        &self,
        user: &ScenarioUser,
        seeded: &Seeded,
        wanted: &'a ScenarioWithdrawal,
    ) -> Result<Submission<'a>, Refusal> {
        let on = Refusal::on(&wanted.at);
        let (Some(pin), Some((binding_id, _))) = (&user.pin, &seeded.binding) else {
            return Err(Refusal::at(&wanted.at, "a withdrawal needs the user's pin and wechat"));
        };
        let key = IdempotencyKey::parse(&format!("scenario-{}", uuid::Uuid::new_v4().simple()))
            .ok_or_else(|| on(ApiError::internal(anyhow::anyhow!("a scenario key does not parse"))))?;
        let request = WithdrawalRequest {
            amount: wanted.amount,
            binding_id: binding_id.clone(),
            pin: pin.clone(),
            quote_id: None,
        };
        let reply = self.withdrawals.submit_withdrawal(&seeded.principal, &key, request).await.map_err(&on)?;
        let withdrawal = match reply.outcome {
            Submitted::Held { withdrawal } => withdrawal,
            Submitted::Refused { refusal } => return Err(on(refusal.into())),
        };
        let reviewed_by_operator = withdrawal.status == WithdrawalStatus::InReview;
        let needs_operator = matches!(
            wanted.state,
            WithdrawalTarget::InReview | WithdrawalTarget::Approved | WithdrawalTarget::Rejected
        );
        if needs_operator && !reviewed_by_operator {
            return Err(Refusal::at(
                &wanted.at,
                format!(
                    "the rules review this withdrawal automatically (pending), so it cannot be {}: only a user's first \
                 withdrawal to a wallet, one above withdrawals.manual_review_over, or one soon after a PIN change \
                 waits for an operator",
                    wanted.state.as_str()
                ),
            ));
        }
        if wanted.state == WithdrawalTarget::Pending && reviewed_by_operator {
            let reasons: Vec<String> =
                withdrawal.review_reasons.iter().map(|reason| serde_json::json!(reason).to_string()).collect();
            return Err(Refusal::at(
                &wanted.at,
                format!(
                    "the rules hold this withdrawal for an operator ({}), so it cannot be pending: make it in_review, or \
                 give the user an earlier withdrawal to the wallet",
                    reasons.join(", ")
                ),
            ));
        }
        Ok(Submission { wanted, account_id: seeded.principal.account_id.clone(), withdrawal })
    }

    /// Takes every submitted withdrawal to its state: the ones paid out
    /// first (approved, or their review delay skipped, then the worker run
    /// until they finish), then the rejections, then the approvals whose
    /// payouts are left due, so no worker step pays those.
    async fn bring_to_their_states(
        &self,
        actor: &AccountId,
        submissions: &mut [Submission<'_>],
    ) -> Result<(), Refusal> {
        let store = &self.kyc.partitions.store;
        for submission in submissions.iter().filter(|s| s.wanted.state.is_paid_out()) {
            let id = &submission.withdrawal.id;
            if submission.withdrawal.status == WithdrawalStatus::InReview {
                self.review.approve_withdrawal(actor, id).await.map_err(Refusal::on(&submission.wanted.at))?;
            } else {
                // As if its automatic review's delay had passed: due now.
                let member = review_member(&submission.account_id, id);
                store.schedule(PAYOUT_SCHEDULE, &member, self.now().timestamp_millis()).await?;
            }
        }
        self.pay_out(submissions).await?;
        for submission in submissions.iter_mut() {
            let id = submission.withdrawal.id.clone();
            let decided = match (submission.wanted.state, &submission.wanted.rejection) {
                (WithdrawalTarget::Rejected, Some((reason, note))) => {
                    self.review.reject_withdrawal(actor, &id, *reason, note.as_deref()).await
                }
                (WithdrawalTarget::Approved, _) => self.review.approve_withdrawal(actor, &id).await,
                _ => continue,
            };
            submission.withdrawal = decided.map_err(Refusal::on(&submission.wanted.at))?;
        }
        Ok(())
    }

    /// Runs the worker until every withdrawal to be paid out has finished as
    /// wanted (settled, or failed), a bounded number of steps.
    async fn pay_out(&self, submissions: &mut [Submission<'_>]) -> Result<(), Refusal> {
        let paid: Vec<usize> = (0..submissions.len()).filter(|&i| submissions[i].wanted.state.is_paid_out()).collect();
        for _ in 0..paid.len() + WORKER_STEPS_SPARE {
            let mut unfinished = 0;
            for &at in &paid {
                let submission = &mut submissions[at];
                submission.withdrawal =
                    self.reads.withdrawal(&submission.account_id, &submission.withdrawal.id).await?;
                unfinished += usize::from(!submission.withdrawal.is_finished());
            }
            if unfinished == 0 {
                break;
            }
            self.worker.settle_due(self.now()).await?;
        }
        for &at in &paid {
            let Submission { wanted, withdrawal, .. } = &submissions[at];
            let reached = match wanted.state {
                WithdrawalTarget::Settled => WithdrawalStatus::Settled,
                _ => WithdrawalStatus::Failed,
            };
            if withdrawal.status != reached {
                let error = withdrawal.payout.last_error.as_deref().or(withdrawal.failure_reason.as_deref());
                return Err(Refusal::at(
                    &wanted.at,
                    format!(
                        "its payout ended {} ({}), not {}",
                        withdrawal.status.as_str(),
                        error.unwrap_or("no error"),
                        reached.as_str()
                    ),
                ));
            }
        }
        Ok(())
    }

    async fn report(
        &self,
        scenario: &Scenario,
        seeded: &[Seeded],
        submissions: &[Submission<'_>],
    ) -> Result<ScenarioReport, ApiError> {
        let now = self.now();
        let mut users = Vec::with_capacity(seeded.len());
        for (user, created) in scenario.users.iter().zip(seeded) {
            let account: Account = self.kyc.partitions.load_account(&created.principal.account_id).await?;
            let withdrawals = submissions
                .iter()
                .filter(|submission| submission.account_id == account.id)
                .map(|submission| SeededWithdrawal {
                    id: submission.withdrawal.id.clone(),
                    amount: submission.withdrawal.amount.to_string(),
                    status: submission.withdrawal.status,
                })
                .collect();
            users.push(SeededUser {
                name: user.name.clone(),
                login: login_text(&user.login).to_owned(),
                role: account.role,
                level: account.level_at(now),
                binding_id: created.binding.as_ref().map(|(id, _)| id.clone()),
                openid: created.binding.as_ref().map(|(_, openid)| openid.clone()),
                account_id: account.id,
                withdrawals,
            });
        }
        Ok(ScenarioReport { scenario: scenario.name.clone(), users })
    }
}

/// Why a load stopped: at a place in the file, or for a reason of the
/// service (the store went away) that is passed on as it is.
enum Refusal {
    At(ScenarioError),
    Service(ApiError),
}

impl Refusal {
    fn at(place: &Place, message: impl Into<String>) -> Refusal {
        Refusal::At(ScenarioError::at(place, message))
    }

    /// A service's refusal of the step at `place`: a client error is the
    /// scenario's (its message and code), trouble of the service stays its own.
    fn on(place: &Place) -> impl Fn(ApiError) -> Refusal + '_ {
        move |error| match error {
            ApiError::StoreUnavailable
            | ApiError::StoreBusy
            | ApiError::ServerBusy
            | ApiError::WeChatUnavailable
            | ApiError::Internal(_) => Refusal::Service(error),
            refused => Refusal::at(place, format!("{refused} ({})", refused.code())),
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal::Service(error)
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(error: crate::store::StoreError) -> Refusal {
        Refusal::Service(error.into())
    }
}

fn invalid(scenario: &str, error: ScenarioError) -> ApiError {
    ApiError::ScenarioInvalid { scenario: scenario.to_owned(), error }
}

impl Refusal {
    fn into_api_error(self, scenario: &str) -> ApiError {
        match self {
            Refusal::At(error) => invalid(scenario, error),
            Refusal::Service(error) => error,
        }
    }
}

/// The mock user a scenario's `wechat` asks for, by the mock's own rule.
fn new_mock_user(wechat: &ScenarioWeChat) -> Result<NewMockUser, Refusal> {
    let flags = MockUserFlags { frozen: wechat.frozen, no_real_name: wechat.no_real_name, ..MockUserFlags::default() };
    NewMockUser::new(&wechat.nickname, flags)
        .map_err(|error| Refusal::At(ScenarioError::below(&wechat.at, "nickname", error.to_string())))
}

/// A login as its user types it: the phone number, or the email.
fn login_text(login: &Login) -> &str {
    match login {
        Login::Phone(text) | Login::Email(text) => text,
    }
}

fn query_value(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::BUNDLED_SCENARIOS;
    use crate::domain::scenario::parse_scenario;

    #[test]
    fn every_bundled_scenario_parses_under_its_own_name() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        for (name, text) in BUNDLED_SCENARIOS {
            let scenario = parse_scenario(text, today).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(scenario.name, *name);
            assert!(!scenario.description.is_empty(), "{name}");
        }
    }
}
