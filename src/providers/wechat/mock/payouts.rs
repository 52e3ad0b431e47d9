//! Transfer bills (商家转账) on the mock: WeChat Pay's bill, idempotent by
//! `out_bill_no`, paying into mock users' wallets with the payee checks and
//! receipt quotas of reference §3.1. `BuiltinPayouts` is the in-process
//! `PayoutProvider` over it; `routes::mock_wechat` serves the same methods
//! over HTTP.
//!
//! A bill is a document of `wechat_transfer_bills:apart` keyed by its
//! `out_bill_no`, and its WeChat Pay number one of
//! `wechat_transfer_bill_numbers:apart`; the payee is a document of the
//! users. The mock decides a bill at once (SUCCESS or FAIL, where the real
//! service passes through ACCEPTED and PROCESSING), in single-document
//! steps, each document under its own hash tag (so payouts spread over a
//! Redis Cluster's slots): the bill is created `PROCESSING`, the payee's
//! wallet decides it (credited once, the decision kept under the bill's
//! number), then the bill is written final (`finish_bill` says why this pays
//! at most once, however many callers send the same bill, at once or after a
//! crash). The wallet keeps running day and month totals for the quotas and
//! only its newest transfers, so a payout costs the same however much the
//! payee has received before.

#[allow(unused_imports)]
use super::*;

use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Asia::Shanghai;

use crate::domain::withdrawal_policy::PAYOUT_AMOUNT_MIN_FEN;
use crate::providers::journal::{CallAnswer, CallStart, MockProvider, RequestJournal};
use crate::providers::payouts::{
    BillState, FailReason, PayoutError, PayoutProvider, TransferBill, TransferRequest, fen_from_money, refusal_code,
    user_name_required,
};
use crate::providers::sim::{Answer, Forced, ProviderCall, Respond, Ruled};

/// WeChat Pay's code for a failure on its side: retry the same bill.
pub const SYSTEM_ERROR: &str = "SYSTEM_ERROR";
/// The document collection of transfer bills; a document's id is its `out_bill_no`.
pub const BILLS_COLLECTION: &str = "wechat_transfer_bills:apart";
/// WeChat Pay's numbers of the bills: a document per `transfer_bill_no`
/// holding the bill's `out_bill_no`, written with the bill when it is created.
pub const BILL_NUMBERS_COLLECTION: &str = "wechat_transfer_bill_numbers:apart";
/// Where the bills are served over HTTP (and journaled from in-process calls).
pub const TRANSFER_BILLS_PATH: &str = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills";
/// WeChat Pay's 404 for a bill number never used: its code and message.
pub const BILL_NOT_FOUND: (&str, &str) = ("NOT_FOUND", "no transfer bill with this out_bill_no");
const OUT_BILL_NO_CHARS_MAX: usize = 32;
/// WeChat Pay's own numbers are 32 digits; longer ones cannot be a bill's.
const TRANSFER_BILL_NO_CHARS_MAX: usize = 64;
const OPENID_CHARS_MAX: usize = 128;
const REMARK_CHARS_MAX: usize = 32;
const SCENE_ID_CHARS_MAX: usize = 36;
const NOTIFY_URL_CHARS_MAX: usize = 256;
/// The longest payee name a bill takes (decrypted).
const USER_NAME_CHARS_MAX: usize = 64;
/// What one payee may receive per Beijing day (¥20,000.00) and month (¥200,000.00).
const DAY_RECEIVED_MAX_FEN: i64 = 2_000_000;
const MONTH_RECEIVED_MAX_FEN: i64 = 20_000_000;
/// A `transfer_bill_no` is this prefix, the Beijing date and random digits: 32 characters.
const TRANSFER_BILL_NO_PREFIX: &str = "1330000";
const TRANSFER_BILL_NO_RANDOM_DIGITS: usize = 17;
/// How many received transfers a mock wallet lists (the newest).
pub const WALLET_TRANSFERS_KEPT: usize = 10;
/// The most decisions one call takes; each lost race (another payment to the
/// same payee, or the same bill, landing in between) costs one more. When
/// they run out the caller is told to retry the same bill.
pub(super) const BILL_ATTEMPTS_MAX: u32 = 64;
/// Attempts past this many are contended: each waits a growing random
/// pause first, so that concurrent payments to one payee take turns.
pub(super) const BILL_ATTEMPTS_UNCONTENDED: u32 = 2;
/// A fresh bill number taken already (astronomically unlikely) is drawn again, boundedly.
pub(super) const BILL_NUMBER_ATTEMPTS_MAX: u32 = 3;
/// Rounds of taking a final bill's decision out of a busy wallet.
pub(super) const FORGET_ATTEMPTS_MAX: u32 = 8;

/// An outcome a simulator rule forces on a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Forcing {
    Fail(FailReason),
    Processing,
}

/// The answer a rule's `respond` gives without asking the mock.
fn forced_answer<T>(respond: Respond) -> Answer<T> {
    Answer::forced_failure(respond, "system error, retry with the same out_bill_no and body")
}

impl MockWeChat {
    /// `POST /v3/fund-app/mch-transfer/transfer-bills` as the simulator's
    /// rules and magic amounts have it answered: a forced outcome, an error,
    /// a broken connection, or the bill as the mock decides it; after the
    /// rule's delay.
    pub async fn transfer_ruled(&self, request: &TransferRequest) -> Ruled<Result<TransferBill, PayoutError>> {
        if let Err(refused) = check_transfer_request(request) {
            return Ruled::unruled(Err(refused));
        }
        let call = ProviderCall::payout(&request.openid, request.amount, &request.out_bill_no);
        let forced = match self.consult(&call).await {
            Ok(forced) => forced,
            Err(error) => return Ruled::unruled(Err(error)),
        };
        let Some(forced) = forced else { return Ruled::unruled(self.transfer_as(request, None).await) };
        let answer = match forced.respond {
            Respond::AsUsual => Answer::Normal(self.transfer_as(request, None).await),
            Respond::Fail { fail_reason } => {
                Answer::Normal(self.transfer_as(request, Some(Forcing::Fail(fail_reason))).await)
            }
            Respond::Processing => Answer::Normal(self.transfer_as(request, Some(Forcing::Processing)).await),
            respond => forced_answer(respond),
        };
        Ruled { rule: Some(forced.rule), answer }
    }

    /// `GET /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}`
    /// as the simulator's rules have it answered.
    pub async fn bill_ruled(&self, out_bill_no: &str) -> Ruled<Result<Option<TransferBill>, PayoutError>> {
        self.ruled(&ProviderCall::bill_query(out_bill_no), self.bill(out_bill_no)).await
    }

    /// `POST /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel`
    /// as the simulator's rules have it answered (`wechat_pay.cancel`): a
    /// rule's error or fault leaves the bill as it was.
    pub async fn cancel_ruled(&self, out_bill_no: &str) -> Ruled<Result<Cancellation, PayoutError>> {
        self.ruled(&ProviderCall::bill_cancel(out_bill_no), self.cancel_bill(out_bill_no)).await
    }

    /// `call` answered as a rule says, or by `usual` (run only if the rules
    /// let it: unruled, or `as_usual` after the rule's delay).
    async fn ruled<T>(
        &self,
        call: &ProviderCall<'_>,
        usual: impl std::future::Future<Output = Result<T, PayoutError>>,
    ) -> Ruled<Result<T, PayoutError>> {
        match self.consult(call).await {
            Ok(Some(forced)) if forced.respond == Respond::AsUsual => {
                Ruled { rule: Some(forced.rule), answer: Answer::Normal(usual.await) }
            }
            Ok(Some(forced)) => Ruled { rule: Some(forced.rule), answer: forced_answer(forced.respond) },
            Ok(None) => Ruled::unruled(usual.await),
            Err(error) => Ruled::unruled(Err(error)),
        }
    }

    /// The rules' answer to `call`, after its delay.
    async fn consult(&self, call: &ProviderCall<'_>) -> Result<Option<Forced>, PayoutError> {
        self.rules.consult_and_wait(call).await.map_err(unavailable)
    }

    /// `POST /v3/fund-app/mch-transfer/transfer-bills`: creates the bill and
    /// decides it, or finds the one with this `out_bill_no`. No rule is consulted.
    pub async fn transfer(&self, request: &TransferRequest) -> Result<TransferBill, PayoutError> {
        check_transfer_request(request)?;
        self.transfer_as(request, None).await
    }

    /// `GET /v3/fund-app/mch-transfer/transfer-bills/transfer-bill-no/{transfer_bill_no}`
    /// as the simulator's rules have it answered (as a query of the bill's
    /// `out_bill_no`, once the number is found).
    pub async fn bill_by_number_ruled(
        &self,
        transfer_bill_no: &str,
    ) -> Ruled<Result<Option<TransferBill>, PayoutError>> {
        match self.out_bill_no_of(transfer_bill_no).await {
            Ok(Some(out_bill_no)) => self.bill_ruled(&out_bill_no).await,
            Ok(None) => Ruled::unruled(Ok(None)),
            Err(error) => Ruled::unruled(Err(error)),
        }
    }

    /// The `out_bill_no` of the bill WeChat Pay numbered `transfer_bill_no`.
    async fn out_bill_no_of(&self, transfer_bill_no: &str) -> Result<Option<String>, PayoutError> {
        if transfer_bill_no.is_empty()
            || transfer_bill_no.len() > TRANSFER_BILL_NO_CHARS_MAX
            || !transfer_bill_no.bytes().all(|b| b.is_ascii_digit())
        {
            let message = "transfer_bill_no must be 1 to 64 digits";
            return Err(refused(refusal_code::PARAM_ERROR, message));
        }
        let found = self.store.load_document(BILL_NUMBERS_COLLECTION, transfer_bill_no).await.map_err(unavailable)?;
        found.map(|found| from_json::<String>(&found.value, transfer_bill_no).map_err(unavailable)).transpose()
    }

    /// `GET /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}`.
    pub async fn bill(&self, out_bill_no: &str) -> Result<Option<TransferBill>, PayoutError> {
        check_out_bill_no(out_bill_no)?;
        Ok(self.load_bill(out_bill_no).await?.map(|found| found.value.bill))
    }

    pub(super) async fn load_bill(&self, out_bill_no: &str) -> Result<Option<Versioned<BillRecord>>, PayoutError> {
        let Some(found) = self.store.load_document(BILLS_COLLECTION, out_bill_no).await.map_err(unavailable)? else {
            return Ok(None);
        };
        let record = from_json(&found.value, out_bill_no).map_err(unavailable)?;
        Ok(Some(Versioned { version: found.version, value: record }))
    }
}

/// The payee's wallet after receiving `bill` (sent with `user_name`) at
/// `now`: balance, quota totals, and the transfer listed (the oldest dropped
/// past `WALLET_TRANSFERS_KEPT`).
pub(super) fn credit(
    wallet: &mut MockWallet,
    bill: &TransferBill,
    user_name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), PayoutError> {
    let out_of_range = || PayoutError::Unavailable("the payee's balance is out of range".into());
    wallet.balance = wallet.balance.checked_add(bill.amount).map_err(|_| out_of_range())?;
    wallet.received = wallet.received.after(beijing_date(now), bill.amount).map_err(|_| out_of_range())?;
    wallet.transfers.push(MockWalletTransfer {
        transfer_bill_no: bill.transfer_bill_no.clone(),
        out_bill_no: bill.out_bill_no.clone(),
        amount: bill.amount,
        remark: bill.remark.clone(),
        user_name: user_name.map(str::to_owned),
        received_at: now,
    });
    if wallet.transfers.len() > WALLET_TRANSFERS_KEPT {
        let extra = wallet.transfers.len() - WALLET_TRANSFERS_KEPT;
        wallet.transfers.drain(..extra);
    }
    Ok(())
}

impl DecidedBill {
    pub(super) fn failed(out_bill_no: &str, reason: FailReason) -> DecidedBill {
        DecidedBill {
            out_bill_no: out_bill_no.to_owned(),
            state: BillState::Fail,
            fail_reason: Some(reason.as_str().to_owned()),
        }
    }
}

/// A bill number used again must come with the same payee, amount and remark.
pub(super) fn check_same_bill(bill: &TransferBill, request: &TransferRequest) -> Result<(), PayoutError> {
    if (&bill.openid, bill.amount, &bill.remark) != (&request.openid, request.amount, &request.remark) {
        let message = "out_bill_no was already used with a different openid, transfer_amount or remark";
        return Err(refused(refusal_code::INVALID_REQUEST, message));
    }
    Ok(())
}

/// Concurrent payments to the payee (or of the bill) won every round: retry the same bill.
pub(super) fn busy() -> PayoutError {
    PayoutError::Unavailable("the payee is busy; retry with the same out_bill_no".into())
}

/// What a bill asks of its payee: its amount, and the name it was sent
/// with (`user_name`, decrypted), if any.
#[derive(Debug, Clone, Copy)]
pub(super) struct Payment<'a> {
    pub(super) amount: Money,
    pub(super) user_name: Option<&'a str>,
}

/// Why paying `payment` to `user` at `now` must fail, if it must; checked in
/// the order WeChat reports them. A name sent must be the payee's real name
/// on record (with none on record, any name passes). Receipts count by
/// Beijing day and month.
pub(super) fn refusal(
    user: &MockWeChatUser,
    appid: &str,
    payment: Payment<'_>,
    now: DateTime<Utc>,
) -> Option<FailReason> {
    if user.appid != appid {
        return Some(FailReason::OpenidInvalid);
    }
    if user.frozen {
        return Some(FailReason::AccountFrozen);
    }
    if !user.real_name_verified {
        return Some(FailReason::RealNameCheckFail);
    }
    if let (Some(sent), Some(on_record)) = (payment.user_name, user.real_name.as_deref())
        && sent.trim() != on_record
    {
        return Some(FailReason::NameNotCorrect);
    }
    let amount = payment.amount;
    if user.day_quota_reached {
        return Some(FailReason::DayReceivedQuotaExceed);
    }
    if user.month_quota_reached {
        return Some(FailReason::MonthReceivedQuotaExceed);
    }
    let amount_fen = fen_from_money(amount);
    let (day, month) = user.wallet.received.as_of(beijing_date(now));
    if fen_from_money(day).saturating_add(amount_fen) > DAY_RECEIVED_MAX_FEN {
        return Some(FailReason::DayReceivedQuotaExceed);
    }
    if fen_from_money(month).saturating_add(amount_fen) > MONTH_RECEIVED_MAX_FEN {
        return Some(FailReason::MonthReceivedQuotaExceed);
    }
    None
}

pub(super) fn beijing_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Shanghai).date_naive()
}

fn check_transfer_request(request: &TransferRequest) -> Result<(), PayoutError> {
    check_out_bill_no(&request.out_bill_no)?;
    if request.openid.is_empty() || request.openid.chars().count() > OPENID_CHARS_MAX {
        return Err(refused(refusal_code::PARAM_ERROR, "openid must be 1 to 128 characters"));
    }
    if fen_from_money(request.amount) < PAYOUT_AMOUNT_MIN_FEN {
        return Err(refused(refusal_code::PARAM_ERROR, "transfer_amount must be at least 10 fen (0.10 yuan)"));
    }
    if request.remark.chars().count() > REMARK_CHARS_MAX {
        return Err(refused(refusal_code::PARAM_ERROR, "transfer_remark must be at most 32 characters"));
    }
    if request.scene_id.is_empty() || request.scene_id.len() > SCENE_ID_CHARS_MAX {
        let message = "transfer_scene_id is required (1 to 36 characters, e.g. \"1000\")";
        return Err(refused(refusal_code::PARAM_ERROR, message));
    }
    let named = request.user_name.as_deref().is_some_and(|name| !name.trim().is_empty());
    if user_name_required(request.amount) && !named {
        let message = "转账金额>=2000元时，user_name必填: user_name is required from 200000 fen (2000.00 yuan)";
        return Err(refused(refusal_code::PARAM_ERROR, message));
    }
    if request.user_name.as_deref().is_some_and(|name| name.chars().count() > USER_NAME_CHARS_MAX) {
        return Err(refused(refusal_code::PARAM_ERROR, "user_name must be at most 64 characters"));
    }
    if let Some(url) = &request.notify_url
        && (url.len() > NOTIFY_URL_CHARS_MAX || !crate::settings::is_notify_url(url))
    {
        let message = "notify_url must be an http(s) URL without a query string, at most 256 characters";
        return Err(refused(refusal_code::PARAM_ERROR, message));
    }
    Ok(())
}

pub(super) fn check_out_bill_no(out_bill_no: &str) -> Result<(), PayoutError> {
    let well_formed = (1..=OUT_BILL_NO_CHARS_MAX).contains(&out_bill_no.len())
        && out_bill_no.bytes().all(|b| b.is_ascii_alphanumeric());
    if !well_formed {
        return Err(refused(refusal_code::PARAM_ERROR, "out_bill_no must be 1 to 32 characters [0-9A-Za-z]"));
    }
    Ok(())
}

pub(super) fn refused(code: &str, message: &str) -> PayoutError {
    PayoutError::Refused { code: code.to_owned(), message: message.to_owned() }
}

/// The store failed: the caller may retry the same bill; the cause is logged.
pub(super) fn unavailable(error: StoreError) -> PayoutError {
    tracing::warn!(%error, "mock WeChat store failure");
    PayoutError::Unavailable(error.to_string())
}

/// WeChat Pay style: `1330000`, the Beijing date, random digits.
pub(super) fn new_transfer_bill_no(now: DateTime<Utc>) -> String {
    let mut rng = rand::rng();
    let digits: String =
        (0..TRANSFER_BILL_NO_RANDOM_DIGITS).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
    format!("{TRANSFER_BILL_NO_PREFIX}{}{digits}", beijing_date(now).format("%Y%m%d"))
}

// ------------------------------------------------------ builtin payouts ----

/// `PayoutProvider` on the built-in mock, in-process: each call goes to the
/// same `MockWeChat` method the `/mock/wechat/v3/...` handlers call, and into
/// the request journal as the call of that path it stands for.
#[derive(Debug, Clone)]
pub struct BuiltinPayouts {
    mock: Arc<MockWeChat>,
    journal: RequestJournal,
}

impl BuiltinPayouts {
    pub fn new(mock: Arc<MockWeChat>, journal: RequestJournal) -> BuiltinPayouts {
        BuiltinPayouts { mock, journal }
    }
}

/// WeChat Pay's answer to a failed call, as the journal shows it.
fn error_answer(error: &PayoutError) -> CallAnswer {
    let (status, code, message) = error.http_answer();
    CallAnswer::json(status, &serde_json::json!({ "code": code, "message": message }))
}

#[async_trait::async_trait]
impl PayoutProvider for BuiltinPayouts {
    async fn transfer(&self, request: &TransferRequest) -> Result<TransferBill, PayoutError> {
        let described = |call: &mut CallStart| {
            call.method = "POST".into();
            call.path = TRANSFER_BILLS_PATH.into();
            call.body = serde_json::to_vec(request).ok();
        };
        let answer =
            |ruled: &Ruled<Result<TransferBill, PayoutError>>| ruled_answer(ruled, |bill| CallAnswer::json(200, bill));
        let ruled = self.mock.transfer_ruled(request);
        in_process(self.journal.in_process(MockProvider::WechatPay, described, ruled, answer).await)
    }

    async fn bill(&self, out_bill_no: &str) -> Result<Option<TransferBill>, PayoutError> {
        let described = |call: &mut CallStart| call.path = format!("{TRANSFER_BILLS_PATH}/out-bill-no/{out_bill_no}");
        let answer = |ruled: &Ruled<Result<Option<TransferBill>, PayoutError>>| {
            ruled_answer(ruled, |found| match found {
                Some(bill) => CallAnswer::json(200, bill),
                None => {
                    let (code, message) = BILL_NOT_FOUND;
                    CallAnswer::json(404, &serde_json::json!({ "code": code, "message": message }))
                }
            })
        };
        let ruled = self.mock.bill_ruled(out_bill_no);
        in_process(self.journal.in_process(MockProvider::WechatPay, described, ruled, answer).await)
    }
}

/// A ruled answer as the journal shows it: what the same call answers over
/// HTTP, or no answer at all for a broken connection (in-process, every
/// fault is an outage, as `in_process` below has it).
fn ruled_answer<T>(ruled: &Ruled<Result<T, PayoutError>>, normal: impl FnOnce(&T) -> CallAnswer) -> CallAnswer {
    match &ruled.answer {
        Answer::Normal(Ok(value)) => normal(value),
        Answer::Normal(Err(error)) => error_answer(error),
        Answer::Error { status, code, message } => {
            CallAnswer::json(*status, &serde_json::json!({ "code": code, "message": message }))
        }
        Answer::Broken(fault) => CallAnswer::broken(fault.as_str()),
    }
}

/// A ruled answer as an in-process caller meets it: an error answer as the
/// HTTP client would read it, a broken connection as an outage (a timeout
/// answers at once: there is no connection to hold open).
fn in_process<T>(ruled: Ruled<Result<T, PayoutError>>) -> Result<T, PayoutError> {
    match ruled.answer {
        Answer::Normal(result) => result,
        Answer::Error { status, code, message } => Err(PayoutError::from_answer(status, code, message)),
        Answer::Broken(fault) => Err(PayoutError::Unavailable(format!("simulated fault: {}", fault.as_str()))),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use secrecy::SecretString;

    use super::*;
    use crate::clock::{Clock, ManualClock, SharedClock};
    use crate::store::MemoryStore;

    const APPID: &str = "wx8a3f5c7e2b9d1046";

    struct Fixture {
        store: SharedStore,
        clock: Arc<ManualClock>,
        mock: Arc<MockWeChat>,
    }

    fn settings(appid: &str) -> MockWeChatSettings {
        MockWeChatSettings {
            enabled: true,
            app_id: appid.into(),
            app_secret: SecretString::from("secret"),
            callback_domains: vec!["app.example.com".into()],
            code_ttl_secs: 300,
            access_token_ttl_secs: 7200,
            refresh_token_ttl_secs: 2_592_000,
            magic_amounts: true,
            pay: crate::settings::MockWeChatPaySettings::sample(),
        }
    }

    /// A mock on a fresh store with its clock at `start`.
    fn fixture_at(start: DateTime<Utc>) -> Fixture {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(start));
        let shared: SharedClock = clock.clone();
        let mock = Arc::new(MockWeChat::new(store.clone(), shared, settings(APPID)));
        Fixture { store, clock, mock }
    }

    /// 2026-03-01 17:30 in Beijing.
    fn fixture() -> Fixture {
        fixture_at(Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap())
    }

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    /// A bill of `amount`, naming its payee as settlement does (from ¥2,000).
    fn request(out_bill_no: &str, openid: &str, amount: &str) -> TransferRequest {
        TransferRequest {
            out_bill_no: out_bill_no.into(),
            openid: openid.into(),
            amount: money(amount),
            remark: "提现到零钱".into(),
            scene_id: "1000".into(),
            notify_url: None,
            user_name: user_name_required(money(amount)).then(|| "王小明".into()),
        }
    }

    fn refused_code(result: Result<TransferBill, PayoutError>) -> String {
        match result {
            Err(PayoutError::Refused { code, .. }) => code,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    impl Fixture {
        async fn user_with(&self, flags: MockUserFlags) -> String {
            let new = NewMockUser::new("小明", flags).unwrap();
            self.mock.create_user(&new).await.unwrap().openid
        }

        async fn user(&self) -> String {
            self.user_with(MockUserFlags::default()).await
        }

        async fn wallet(&self, openid: &str) -> MockWallet {
            self.mock.load_user(openid).await.unwrap().unwrap().value.wallet
        }

        async fn pay(&self, out_bill_no: &str, openid: &str, amount: &str) -> TransferBill {
            self.mock.transfer(&request(out_bill_no, openid, amount)).await.unwrap()
        }

        async fn record(&self, out_bill_no: &str) -> Versioned<BillRecord> {
            self.mock.load_bill(out_bill_no).await.unwrap().unwrap()
        }

        /// The bill's stored version and the payee's, as a pair.
        async fn versions(&self, out_bill_no: &str, openid: &str) -> (u64, u64) {
            let user = self.mock.load_user(openid).await.unwrap().unwrap();
            (self.record(out_bill_no).await.version, user.version)
        }
    }

    fn assert_failed(bill: &TransferBill, reason: FailReason) {
        assert_eq!((bill.state, bill.fail_reason.as_deref()), (BillState::Fail, Some(reason.as_str())), "{bill:?}");
    }

    #[tokio::test]
    async fn a_transfer_credits_the_wallet_once_and_a_repeat_returns_the_same_bill() {
        let f = fixture();
        let openid = f.user().await;
        let bill = f.pay("WD20260301000001", &openid, "100.50").await;
        assert_eq!(bill.state, BillState::Success);
        assert_eq!(bill.fail_reason, None);
        assert_eq!(
            (bill.amount, bill.openid.as_str(), bill.remark.as_str()),
            (money("100.50"), &*openid, "提现到零钱")
        );
        assert_eq!(bill.create_time, f.clock.now());

        let wallet = f.wallet(&openid).await;
        assert_eq!(wallet.balance, money("100.50"));
        let expected = MockWalletTransfer {
            transfer_bill_no: bill.transfer_bill_no.clone(),
            out_bill_no: "WD20260301000001".into(),
            amount: money("100.50"),
            remark: "提现到零钱".into(),
            user_name: None,
            received_at: f.clock.now(),
        };
        assert_eq!(wallet.transfers, vec![expected]);

        f.clock.advance(chrono::Duration::minutes(5));
        let again = f.pay("WD20260301000001", &openid, "100.50").await;
        assert_eq!(again, bill);
        assert_eq!(f.wallet(&openid).await, wallet);
        assert_eq!(f.mock.bill("WD20260301000001").await.unwrap(), Some(bill));
    }

    #[tokio::test]
    async fn the_same_number_with_a_different_body_is_refused() {
        let f = fixture();
        let openid = f.user().await;
        let other = f.user().await;
        f.pay("WD1", &openid, "10.00").await;
        let changed = [
            request("WD1", &openid, "10.01"),
            request("WD1", &other, "10.00"),
            TransferRequest { remark: "another remark".into(), ..request("WD1", &openid, "10.00") },
        ];
        for changed in changed {
            assert_eq!(refused_code(f.mock.transfer(&changed).await), "INVALID_REQUEST", "{changed:?}");
        }
        assert_eq!(f.wallet(&openid).await.balance, money("10.00"));
        assert_eq!(f.wallet(&other).await.balance, Money::ZERO);
    }

    #[tokio::test]
    async fn malformed_requests_are_refused_before_any_bill_exists() {
        let f = fixture();
        let openid = f.user().await;
        let long_remark = "备".repeat(33);
        let cases = [
            request("", &openid, "1.00"),
            request(&"A".repeat(33), &openid, "1.00"),
            request("WD-1", &openid, "1.00"),
            request("WD 1", &openid, "1.00"),
            request("提现1", &openid, "1.00"),
            request("WD1", "", "1.00"),
            request("WD1", &"o".repeat(129), "1.00"),
            request("WD1", &openid, "0.09"),
            request("WD1", &openid, "0.00"),
            request("WD1", &openid, "-5.00"),
            TransferRequest { remark: long_remark, ..request("WD1", &openid, "1.00") },
        ];
        for case in cases {
            assert_eq!(refused_code(f.mock.transfer(&case).await), "PARAM_ERROR", "{case:?}");
        }
        assert_eq!(f.mock.bill("WD1").await.unwrap(), None);
        assert!(f.store.list_documents(BILLS_COLLECTION, 10).await.unwrap().is_empty());

        let edge = TransferRequest { remark: "备".repeat(32), ..request(&"A".repeat(32), &openid, "0.10") };
        assert_eq!(f.mock.transfer(&edge).await.unwrap().state, BillState::Success);
        assert!(matches!(f.mock.bill("WD-1").await, Err(PayoutError::Refused { .. })));
    }

    #[tokio::test]
    async fn payee_checks_fail_the_bill_with_wechat_reasons() {
        let f = fixture();
        let frozen = f.user_with(MockUserFlags { frozen: true, ..MockUserFlags::default() }).await;
        let unverified = f.user_with(MockUserFlags { no_real_name: true, ..MockUserFlags::default() }).await;
        let day_used = f.user_with(MockUserFlags { day_quota_reached: true, ..MockUserFlags::default() }).await;
        let month_used = f.user_with(MockUserFlags { month_quota_reached: true, ..MockUserFlags::default() }).await;
        let other_app = MockWeChat::new(f.store.clone(), f.mock.clock.clone(), settings("wx1111111111111111"));
        let foreign = other_app.create_user(&NewMockUser::anonymous()).await.unwrap().openid;
        let cases = [
            ("F1", frozen.clone(), FailReason::AccountFrozen),
            ("F2", unverified.clone(), FailReason::RealNameCheckFail),
            ("F3", foreign.clone(), FailReason::OpenidInvalid),
            ("F4", format!("o{}", "Z".repeat(27)), FailReason::OpenidInvalid),
            ("F5", "not-an-openid".to_owned(), FailReason::OpenidInvalid),
            ("F6", day_used.clone(), FailReason::DayReceivedQuotaExceed),
            ("F7", month_used.clone(), FailReason::MonthReceivedQuotaExceed),
        ];
        for (out_bill_no, openid, reason) in cases {
            let bill = f.pay(out_bill_no, &openid, "1.00").await;
            assert_failed(&bill, reason);
            assert_eq!(f.pay(out_bill_no, &openid, "1.00").await, bill, "a failed bill stays as it is");
        }
        for openid in [frozen, unverified, foreign, day_used, month_used] {
            assert_eq!(f.wallet(&openid).await, MockWallet::default());
        }
    }

    #[tokio::test]
    async fn from_two_thousand_yuan_a_bill_must_name_its_payee_and_the_name_is_checked() {
        let f = fixture();
        let named = NewMockUser::new("小明", MockUserFlags::default()).unwrap().with_real_name("王小明").unwrap();
        let openid = f.mock.create_user(&named).await.unwrap().openid;
        let unnamed = f.user().await;
        let nameless = TransferRequest { user_name: None, ..request("N1", &openid, "2000.00") };
        assert_eq!(refused_code(f.mock.transfer(&nameless).await), "PARAM_ERROR");
        let blank = TransferRequest { user_name: Some("  ".into()), ..request("N1", &openid, "2000.00") };
        assert_eq!(refused_code(f.mock.transfer(&blank).await), "PARAM_ERROR");
        assert_eq!(f.mock.bill("N1").await.unwrap(), None, "a refused bill does not exist");
        let below = TransferRequest { user_name: None, ..request("N1B", &openid, "1999.99") };
        assert_eq!(f.mock.transfer(&below).await.unwrap().state, BillState::Success, "below ¥2,000 no name is needed");

        let wrong = TransferRequest { user_name: Some("王大明".into()), ..request("N2", &openid, "2000.00") };
        assert_failed(&f.mock.transfer(&wrong).await.unwrap(), FailReason::NameNotCorrect);
        let wrong_below = TransferRequest { user_name: Some("王大明".into()), ..request("N3", &openid, "5.00") };
        assert_failed(&f.mock.transfer(&wrong_below).await.unwrap(), FailReason::NameNotCorrect);
        assert_eq!(f.pay("N4", &openid, "2000.00").await.state, BillState::Success);
        assert_eq!(f.pay("N5", &unnamed, "2000.00").await.state, BillState::Success, "no name on record: any name");
        let wallet = f.wallet(&openid).await;
        assert_eq!(wallet.balance, money("3999.99"));
        let names: Vec<_> = wallet.transfers.iter().map(|t| (t.out_bill_no.as_str(), t.user_name.as_deref())).collect();
        assert_eq!(names, [("N1B", None), ("N4", Some("王小明"))]);
        assert_eq!(f.record("N4").await.value.user_name.as_deref(), Some("王小明"));
    }

    #[tokio::test]
    async fn the_day_quota_counts_in_beijing_time_and_resets_at_beijing_midnight() {
        // 23:00 in Beijing, 15:00 UTC: the UTC day has eight more hours to go.
        let f = fixture_at(Utc.with_ymd_and_hms(2026, 3, 1, 15, 0, 0).unwrap());
        let openid = f.user().await;
        assert_eq!(f.pay("D1", &openid, "15000.00").await.state, BillState::Success);
        assert_failed(&f.pay("D2", &openid, "5000.01").await, FailReason::DayReceivedQuotaExceed);
        assert_eq!(f.pay("D3", &openid, "5000.00").await.state, BillState::Success);
        assert_failed(&f.pay("D4", &openid, "0.10").await, FailReason::DayReceivedQuotaExceed);

        f.clock.advance(chrono::Duration::minutes(59));
        assert_failed(&f.pay("D5", &openid, "0.10").await, FailReason::DayReceivedQuotaExceed);
        f.clock.advance(chrono::Duration::minutes(1));
        assert_eq!(f.pay("D6", &openid, "20000.00").await.state, BillState::Success);
        assert_eq!(f.wallet(&openid).await.balance, money("40000.00"));
    }

    #[tokio::test]
    async fn the_month_quota_counts_the_beijing_month_and_resets_with_the_next() {
        // 09:00 on 1 March in Beijing.
        let f = fixture_at(Utc.with_ymd_and_hms(2026, 3, 1, 1, 0, 0).unwrap());
        let openid = f.user().await;
        for day in 1..=10 {
            let bill = f.pay(&format!("M{day}"), &openid, "20000.00").await;
            assert_eq!(bill.state, BillState::Success, "day {day}");
            f.clock.advance(chrono::Duration::days(1));
        }
        assert_failed(&f.pay("M11", &openid, "0.10").await, FailReason::MonthReceivedQuotaExceed);
        // 23:59 on 31 March in Beijing.
        f.clock.set(Utc.with_ymd_and_hms(2026, 3, 31, 15, 59, 0).unwrap());
        assert_failed(&f.pay("M12", &openid, "0.10").await, FailReason::MonthReceivedQuotaExceed);
        f.clock.advance(chrono::Duration::minutes(1));
        assert_eq!(f.pay("M13", &openid, "0.10").await.state, BillState::Success);
        assert_eq!(f.wallet(&openid).await.balance, money("200000.10"));
    }

    #[tokio::test]
    async fn a_wallet_lists_its_newest_transfers_and_counts_them_all() {
        let f = fixture();
        let openid = f.user().await;
        let sent = WALLET_TRANSFERS_KEPT + 5;
        for n in 0..sent {
            assert_eq!(f.pay(&format!("MANY{n}"), &openid, "1.00").await.state, BillState::Success);
        }
        let wallet = f.wallet(&openid).await;
        assert_eq!(wallet.balance, money(&format!("{sent}.00")));
        assert_eq!(wallet.transfers.len(), WALLET_TRANSFERS_KEPT);
        assert_eq!(wallet.transfers[0].out_bill_no, "MANY5", "the oldest five left the list");
        assert_eq!(wallet.transfers.last().map(|t| t.out_bill_no.as_str()), Some(&*format!("MANY{}", sent - 1)));
        assert_eq!((wallet.received.count, wallet.received.day), (sent as u64, money(&format!("{sent}.00"))));
        // Bills that left the list are still found, and still not paid twice.
        assert_eq!(f.pay("MANY0", &openid, "1.00").await.state, BillState::Success);
        assert_eq!(f.wallet(&openid).await.balance, money(&format!("{sent}.00")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_calls_for_one_bill_pay_once() {
        let f = fixture();
        let openid = f.user().await;
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let mock = f.mock.clone();
                let request = request("SAME1", &openid, "66.60");
                tokio::spawn(async move { mock.transfer(&request).await.unwrap() })
            })
            .collect();
        let mut bills = Vec::new();
        for task in tasks {
            bills.push(task.await.unwrap());
        }
        assert!(bills.iter().all(|bill| bill == &bills[0] && bill.state == BillState::Success), "{bills:?}");
        let wallet = f.wallet(&openid).await;
        assert_eq!((wallet.balance, wallet.transfers.len()), (money("66.60"), 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_bills_to_one_payee_never_exceed_the_day_quota() {
        let f = fixture();
        let openid = f.user().await;
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let mock = f.mock.clone();
                let request = request(&format!("RACE{i}"), &openid, "8000.00");
                tokio::spawn(async move { mock.transfer(&request).await.unwrap() })
            })
            .collect();
        let mut succeeded = 0;
        for task in tasks {
            let bill = task.await.unwrap();
            match bill.state {
                BillState::Success => succeeded += 1,
                _ => assert_failed(&bill, FailReason::DayReceivedQuotaExceed),
            }
        }
        assert_eq!(succeeded, 2);
        assert_eq!(f.wallet(&openid).await.balance, money("16000.00"));
    }

    #[tokio::test]
    async fn bills_are_stored_by_number_with_a_wechat_style_transfer_bill_no() {
        let f = fixture();
        let openid = f.user().await;
        let journal = RequestJournal::off();
        let payouts: crate::providers::payouts::SharedPayouts = Arc::new(BuiltinPayouts::new(f.mock.clone(), journal));
        assert_eq!(payouts.bill("NEVER1").await.unwrap(), None);
        let bill = payouts.transfer(&request("STORED1", &openid, "1.00")).await.unwrap();
        assert_eq!(payouts.bill("STORED1").await.unwrap().as_ref(), Some(&bill));
        assert_eq!(bill.transfer_bill_no.len(), 32);
        assert!(bill.transfer_bill_no.starts_with("133000020260301"), "{}", bill.transfer_bill_no);
        assert!(bill.transfer_bill_no.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(f.record("STORED1").await.value.bill, bill);
        // The bill created and written final; the payee created, credited, and the decision forgotten.
        assert_eq!(f.versions("STORED1", &openid).await, (2, 3));
        assert!(f.wallet(&openid).await.deciding.is_empty());
    }

    #[tokio::test]
    async fn a_bill_moves_on_when_its_millisecond_comes_whatever_finer_time_created_it() {
        // 400 µs past a millisecond: the schedule keeps the millisecond only.
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap() + chrono::Duration::microseconds(1_400);
        let store: SharedStore = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(start));
        let mut with_delays = settings(APPID);
        (with_delays.pay.accepted_secs, with_delays.pay.processing_secs) = (2, 3);
        let mock = MockWeChat::new(store.clone(), clock.clone(), with_delays);
        let openid =
            mock.create_user(&NewMockUser::new("小明", MockUserFlags::default()).unwrap()).await.unwrap().openid;
        let bill = mock.transfer(&request("MS1", &openid, "1.00")).await.unwrap();
        assert_eq!(bill.state, BillState::Accepted);
        let scheduled = store.scheduled(BILLS_SCHEDULE, i64::MAX, 10).await.unwrap();
        let due_ms = (start + chrono::Duration::seconds(2)).timestamp_millis();
        assert_eq!(scheduled, [("MS1".to_owned(), due_ms)]);
        let woken = DateTime::from_timestamp_millis(due_ms).unwrap();
        assert!(woken < start + chrono::Duration::seconds(2), "the worker wakes a little before the exact instant");
        let processing = woken + chrono::Duration::seconds(3);
        assert_eq!(mock.advance_bill("MS1", woken).await.unwrap(), BillStep::NextAt(processing));
        assert_eq!(mock.bill("MS1").await.unwrap().unwrap().state, BillState::Processing);
        assert_eq!(mock.advance_bill("MS1", processing).await.unwrap(), BillStep::Moved);
        assert_eq!(mock.bill("MS1").await.unwrap().unwrap().state, BillState::Success);
    }

    #[test]
    fn store_failures_are_retryable() {
        let error = unavailable(StoreError::Unavailable("connection refused".into()));
        assert!(matches!(error, PayoutError::Unavailable(ref text) if text.contains("connection refused")));
    }
}
