//! Transfer bills (商家转账) on the mock: WeChat Pay's bill state machine,
//! idempotent by `out_bill_no`, paying into mock users' wallets with the
//! payee checks and receipt quotas of reference §3.1. `BuiltinPayouts` is
//! the in-process `PayoutProvider` over it; `routes::mock_wechat` serves the
//! same methods over HTTP.
//!
//! A bill is a document of `wechat_transfer_bills` keyed by its
//! `out_bill_no`, and goes ACCEPTED → PROCESSING → SUCCESS or FAIL, each step
//! a compare-and-set, so any number of callers may drive the same bill at
//! once, or pick it up after a crash, and it still pays at most once.

#[allow(unused_imports)]
use super::*;

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use chrono_tz::Asia::Shanghai;

use crate::providers::payouts::{
    BillState, FailReason, PayoutError, PayoutProvider, TransferBill, TransferRequest, fen_from_money, refusal_code,
};

/// The document collection of transfer bills; a document's id is its `out_bill_no`.
pub const BILLS_COLLECTION: &str = "wechat_transfer_bills";
const OUT_BILL_NO_CHARS_MAX: usize = 32;
const OPENID_CHARS_MAX: usize = 128;
const REMARK_CHARS_MAX: usize = 32;
/// WeChat's fixed minimum per transfer: ¥0.10.
const AMOUNT_MIN_FEN: i64 = 10;
/// What one payee may receive per Beijing day (¥20,000.00) and month (¥200,000.00).
const DAY_RECEIVED_MAX_FEN: i64 = 2_000_000;
const MONTH_RECEIVED_MAX_FEN: i64 = 20_000_000;
/// A `transfer_bill_no` is this prefix, the Beijing date and random digits: 32 characters.
const TRANSFER_BILL_NO_PREFIX: &str = "1330000";
const TRANSFER_BILL_NO_RANDOM_DIGITS: usize = 17;
/// The most steps (each one store write) one call takes. A bill needs five
/// without contention; each payment to the same payee that lands in between
/// costs one or two more. When they run out the bill stays where it is and
/// the caller is told to retry the same bill.
const BILL_STEPS_MAX: u32 = 64;
/// Steps past this many are contended: each waits a growing random pause
/// first, so that concurrent payments to one payee take turns.
const BILL_STEPS_UNCONTENDED: u32 = 5;

/// A bill as stored: what WeChat reports, plus the payment decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct BillRecord {
    bill: TransferBill,
    /// While PROCESSING: the version of the payee's user document on which
    /// paying was decided (checks and quotas passed). See `pay_step`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    credit_decided_at_version: Option<u64>,
}

impl MockWeChat {
    /// `POST /v3/fund-app/mch-transfer/transfer-bills`: creates the bill, or
    /// finds the one with this `out_bill_no`, and drives it to SUCCESS or FAIL.
    pub async fn transfer(&self, request: &TransferRequest) -> Result<TransferBill, PayoutError> {
        check_transfer_request(request)?;
        let mut found = self.load_bill(&request.out_bill_no).await?;
        for step in 0..BILL_STEPS_MAX {
            if step >= BILL_STEPS_UNCONTENDED {
                crate::services::pause_before_retry(step - BILL_STEPS_UNCONTENDED).await;
            }
            let Some(current) = found else {
                found = self.create_bill(request).await?;
                continue;
            };
            let bill = &current.value.bill;
            if (&bill.openid, bill.amount, &bill.remark) != (&request.openid, request.amount, &request.remark) {
                let message = "out_bill_no was already used with a different openid, transfer_amount or remark";
                return Err(refused(refusal_code::INVALID_REQUEST, message));
            }
            if bill.state.is_terminal() {
                return Ok(current.value.bill);
            }
            found = match bill.state {
                BillState::Accepted => self.advance(&current, |r| r.bill.state = BillState::Processing).await?,
                _ => self.pay_step(&current).await?,
            };
        }
        tracing::warn!(out_bill_no = %request.out_bill_no, "mock transfer bill left unfinished after the step limit");
        Err(PayoutError::Unavailable("the bill is busy; retry with the same out_bill_no".into()))
    }

    /// `GET /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}`.
    pub async fn bill(&self, out_bill_no: &str) -> Result<Option<TransferBill>, PayoutError> {
        check_out_bill_no(out_bill_no)?;
        Ok(self.load_bill(out_bill_no).await?.map(|found| found.value.bill))
    }

    async fn load_bill(&self, out_bill_no: &str) -> Result<Option<Versioned<BillRecord>>, PayoutError> {
        let Some(found) = self.store.load_document(BILLS_COLLECTION, out_bill_no).await.map_err(unavailable)? else {
            return Ok(None);
        };
        let record = from_json(&found.value, out_bill_no).map_err(unavailable)?;
        Ok(Some(Versioned { version: found.version, value: record }))
    }

    /// The new ACCEPTED bill, or on a race the bill another caller created.
    async fn create_bill(&self, request: &TransferRequest) -> Result<Option<Versioned<BillRecord>>, PayoutError> {
        let now = self.clock.now();
        let bill = TransferBill {
            out_bill_no: request.out_bill_no.clone(),
            transfer_bill_no: new_transfer_bill_no(now),
            openid: request.openid.clone(),
            amount: request.amount,
            remark: request.remark.clone(),
            state: BillState::Accepted,
            fail_reason: None,
            create_time: now,
            update_time: now,
        };
        let record = BillRecord { bill, credit_decided_at_version: None };
        self.save_bill(&Versioned { version: 0, value: record }).await
    }

    /// One step of a PROCESSING bill: decide whether to pay, pay, or finish.
    ///
    /// The wallet (a user document) and the bill are two documents, changed
    /// one after the other, so a caller may die between the two, or two
    /// callers may drive one bill at once. Three rules keep the payment
    /// exactly-once:
    /// 1. A wallet that already lists this `out_bill_no` was paid: the bill
    ///    is only marked SUCCESS, never credited again. This is what finishes
    ///    a bill whose caller died after crediting the wallet and before
    ///    marking the bill.
    /// 2. Paying is first decided on the bill, naming the user version the
    ///    checks and quotas passed on, and the credit is then a
    ///    compare-and-set of the user at exactly that version. So the credit
    ///    happens at most once, and only on the state it was decided on (two
    ///    concurrent payments to one payee cannot both fit in one quota).
    /// 3. A decision is dropped (re-decided, possibly as FAIL) only after the
    ///    user was seen at a later version without the payment. Versions only
    ///    grow, so the old decision's credit can no longer succeed, and a
    ///    bill never ends FAIL while its money sits in the wallet.
    async fn pay_step(&self, current: &Versioned<BillRecord>) -> Result<Option<Versioned<BillRecord>>, PayoutError> {
        let bill = &current.value.bill;
        // Loaded after the bill, so it is at least as new as any decision the bill names.
        let Some(user) = self.load_user(&bill.openid).await.map_err(unavailable)? else {
            return self.finish(current, Some(FailReason::OpenidInvalid)).await;
        };
        if user.value.wallet.transfers.iter().any(|received| received.out_bill_no == bill.out_bill_no) {
            return self.finish(current, None).await;
        }
        if current.value.credit_decided_at_version == Some(user.version) {
            return match self.credit(user, bill).await? {
                CommitOutcome::Committed => self.finish(current, None).await,
                // The user changed since the decision: the next step sees
                // the new version and decides again.
                CommitOutcome::VersionConflict => Ok(Some(current.clone())),
            };
        }
        match refusal(&user.value, &self.settings.app_id, bill.amount, self.clock.now()) {
            Some(reason) => self.finish(current, Some(reason)).await,
            None => self.advance(current, |r| r.credit_decided_at_version = Some(user.version)).await,
        }
    }

    /// Credits the bill's amount to the wallet of `user` and lists the
    /// transfer, if the user is still at the version it was loaded at.
    async fn credit(&self, user: Versioned<MockWeChatUser>, bill: &TransferBill) -> Result<CommitOutcome, PayoutError> {
        let mut payee = user.value;
        payee.wallet.balance = payee
            .wallet
            .balance
            .checked_add(bill.amount)
            .map_err(|_| PayoutError::Unavailable("the payee's balance is out of range".into()))?;
        payee.wallet.transfers.push(MockWalletTransfer {
            transfer_bill_no: bill.transfer_bill_no.clone(),
            out_bill_no: bill.out_bill_no.clone(),
            amount: bill.amount,
            remark: bill.remark.clone(),
            received_at: self.clock.now(),
        });
        self.save_user(user.version, &payee).await.map_err(unavailable)
    }

    /// Moves the bill to SUCCESS (`None`) or FAIL with `reason`.
    async fn finish(
        &self,
        current: &Versioned<BillRecord>,
        reason: Option<FailReason>,
    ) -> Result<Option<Versioned<BillRecord>>, PayoutError> {
        let next = self
            .advance(current, |record| {
                record.bill.state = if reason.is_some() { BillState::Fail } else { BillState::Success };
                record.bill.fail_reason = reason.map(|r| r.as_str().to_owned());
                record.credit_decided_at_version = None;
            })
            .await?;
        if let Some(done) = next.as_ref().filter(|found| found.value.bill.state.is_terminal()) {
            let bill = &done.value.bill;
            tracing::info!(out_bill_no = %bill.out_bill_no, state = bill.state.as_str(), fail_reason = ?bill.fail_reason, "mock transfer bill finished");
        }
        Ok(next)
    }

    /// Applies `change` to the bill at its version, stamped with the time:
    /// the changed bill, or on a conflict the bill as it now is.
    async fn advance(
        &self,
        current: &Versioned<BillRecord>,
        change: impl FnOnce(&mut BillRecord),
    ) -> Result<Option<Versioned<BillRecord>>, PayoutError> {
        let mut next = current.value.clone();
        change(&mut next);
        next.bill.update_time = self.clock.now();
        self.save_bill(&Versioned { version: current.version, value: next }).await
    }

    /// Compare-and-set of `record` at its version (0: create).
    async fn save_bill(&self, record: &Versioned<BillRecord>) -> Result<Option<Versioned<BillRecord>>, PayoutError> {
        let id = &record.value.bill.out_bill_no;
        let body = to_json(&record.value, id).map_err(unavailable)?;
        let outcome =
            self.store.save_document(BILLS_COLLECTION, id, record.version, &body).await.map_err(unavailable)?;
        match outcome {
            CommitOutcome::Committed => {
                Ok(Some(Versioned { version: record.version.saturating_add(1), value: record.value.clone() }))
            }
            CommitOutcome::VersionConflict => self.load_bill(id).await,
        }
    }
}

/// Why paying `amount` to `user` at `now` must fail, if it must; checked in
/// the order WeChat reports them. Receipts count by Beijing day and month.
fn refusal(user: &MockWeChatUser, appid: &str, amount: Money, now: DateTime<Utc>) -> Option<FailReason> {
    if user.appid != appid {
        return Some(FailReason::OpenidInvalid);
    }
    if user.frozen {
        return Some(FailReason::AccountFrozen);
    }
    if !user.real_name_verified {
        return Some(FailReason::RealNameCheckFail);
    }
    let today = beijing_date(now);
    let amount_fen = fen_from_money(amount);
    let received_fen = |same_period: &dyn Fn(NaiveDate) -> bool| {
        user.wallet
            .transfers
            .iter()
            .filter(|received| same_period(beijing_date(received.received_at)))
            .fold(amount_fen, |sum, received| sum.saturating_add(fen_from_money(received.amount)))
    };
    if received_fen(&|day| day == today) > DAY_RECEIVED_MAX_FEN {
        return Some(FailReason::DayReceivedQuotaExceed);
    }
    if received_fen(&|day| (day.year(), day.month()) == (today.year(), today.month())) > MONTH_RECEIVED_MAX_FEN {
        return Some(FailReason::MonthReceivedQuotaExceed);
    }
    None
}

fn beijing_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Shanghai).date_naive()
}

fn check_transfer_request(request: &TransferRequest) -> Result<(), PayoutError> {
    check_out_bill_no(&request.out_bill_no)?;
    if request.openid.is_empty() || request.openid.chars().count() > OPENID_CHARS_MAX {
        return Err(refused(refusal_code::PARAM_ERROR, "openid must be 1 to 128 characters"));
    }
    if fen_from_money(request.amount) < AMOUNT_MIN_FEN {
        return Err(refused(refusal_code::PARAM_ERROR, "transfer_amount must be at least 10 fen (0.10 yuan)"));
    }
    if request.remark.chars().count() > REMARK_CHARS_MAX {
        return Err(refused(refusal_code::PARAM_ERROR, "transfer_remark must be at most 32 characters"));
    }
    Ok(())
}

fn check_out_bill_no(out_bill_no: &str) -> Result<(), PayoutError> {
    let well_formed = (1..=OUT_BILL_NO_CHARS_MAX).contains(&out_bill_no.len())
        && out_bill_no.bytes().all(|b| b.is_ascii_alphanumeric());
    if !well_formed {
        return Err(refused(refusal_code::PARAM_ERROR, "out_bill_no must be 1 to 32 characters [0-9A-Za-z]"));
    }
    Ok(())
}

fn refused(code: &str, message: &str) -> PayoutError {
    PayoutError::Refused { code: code.to_owned(), message: message.to_owned() }
}

/// The store failed: the caller may retry the same bill; the cause is logged.
fn unavailable(error: StoreError) -> PayoutError {
    tracing::warn!(%error, "mock WeChat store failure");
    PayoutError::Unavailable(error.to_string())
}

/// WeChat Pay style: `1330000`, the Beijing date, random digits.
fn new_transfer_bill_no(now: DateTime<Utc>) -> String {
    let mut rng = rand::rng();
    let digits: String =
        (0..TRANSFER_BILL_NO_RANDOM_DIGITS).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
    format!("{TRANSFER_BILL_NO_PREFIX}{}{digits}", beijing_date(now).format("%Y%m%d"))
}

// ------------------------------------------------------ builtin payouts ----

/// `PayoutProvider` on the built-in mock, in-process: each call goes to the
/// same `MockWeChat` method the `/mock/wechat/v3/...` handlers call.
#[derive(Debug, Clone)]
pub struct BuiltinPayouts {
    mock: Arc<MockWeChat>,
}

impl BuiltinPayouts {
    pub fn new(mock: Arc<MockWeChat>) -> BuiltinPayouts {
        BuiltinPayouts { mock }
    }
}

#[async_trait::async_trait]
impl PayoutProvider for BuiltinPayouts {
    async fn transfer(&self, request: &TransferRequest) -> Result<TransferBill, PayoutError> {
        self.mock.transfer(request).await
    }

    async fn bill(&self, out_bill_no: &str) -> Result<Option<TransferBill>, PayoutError> {
        self.mock.bill(out_bill_no).await
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

    fn request(out_bill_no: &str, openid: &str, amount: &str) -> TransferRequest {
        TransferRequest {
            out_bill_no: out_bill_no.into(),
            openid: openid.into(),
            amount: money(amount),
            remark: "提现到零钱".into(),
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
        let other_app = MockWeChat::new(f.store.clone(), f.mock.clock.clone(), settings("wx1111111111111111"));
        let foreign = other_app.create_user(&NewMockUser::anonymous()).await.unwrap().openid;
        let cases = [
            ("F1", frozen.clone(), FailReason::AccountFrozen),
            ("F2", unverified.clone(), FailReason::RealNameCheckFail),
            ("F3", foreign.clone(), FailReason::OpenidInvalid),
            ("F4", format!("o{}", "Z".repeat(27)), FailReason::OpenidInvalid),
            ("F5", "not-an-openid".to_owned(), FailReason::OpenidInvalid),
        ];
        for (out_bill_no, openid, reason) in cases {
            let bill = f.pay(out_bill_no, &openid, "1.00").await;
            assert_failed(&bill, reason);
            assert_eq!(f.pay(out_bill_no, &openid, "1.00").await, bill, "a failed bill stays as it is");
        }
        for openid in [frozen, unverified, foreign] {
            assert_eq!(f.wallet(&openid).await, MockWallet::default());
        }
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
    async fn a_bill_whose_caller_died_after_crediting_finishes_without_paying_twice() {
        let f = fixture();
        let openid = f.user().await;
        let request = request("CRASH1", &openid, "88.80");
        // Drive the bill by hand to the moment after the wallet was credited
        // and before the bill was marked.
        let created = f.mock.create_bill(&request).await.unwrap().unwrap();
        let processing = f.mock.advance(&created, |r| r.bill.state = BillState::Processing).await.unwrap().unwrap();
        let decided = f.mock.pay_step(&processing).await.unwrap().unwrap();
        assert!(decided.value.credit_decided_at_version.is_some());
        let user = f.mock.load_user(&openid).await.unwrap().unwrap();
        assert_eq!(f.mock.credit(user, &decided.value.bill).await.unwrap(), CommitOutcome::Committed);
        assert_eq!(f.record("CRASH1").await.value.bill.state, BillState::Processing);

        let bill = f.mock.transfer(&request).await.unwrap();
        assert_eq!(bill.state, BillState::Success);
        let wallet = f.wallet(&openid).await;
        assert_eq!((wallet.balance, wallet.transfers.len()), (money("88.80"), 1));
    }

    #[tokio::test]
    async fn a_processing_bill_already_in_the_wallet_is_only_marked_success() {
        let f = fixture();
        let openid = f.user().await;
        let request = request("CRASH2", &openid, "5.00");
        let created = f.mock.create_bill(&request).await.unwrap().unwrap();
        f.mock.advance(&created, |r| r.bill.state = BillState::Processing).await.unwrap();
        // The wallet lists the payment although the bill holds no decision.
        let user = f.mock.load_user(&openid).await.unwrap().unwrap();
        assert_eq!(f.mock.credit(user, &created.value.bill).await.unwrap(), CommitOutcome::Committed);

        assert_eq!(f.mock.transfer(&request).await.unwrap().state, BillState::Success);
        let wallet = f.wallet(&openid).await;
        assert_eq!((wallet.balance, wallet.transfers.len()), (money("5.00"), 1));
    }

    #[tokio::test]
    async fn a_decision_made_on_an_older_wallet_is_taken_again() {
        let f = fixture();
        let openid = f.user().await;
        let request = request("LATE1", &openid, "15000.00");
        let created = f.mock.create_bill(&request).await.unwrap().unwrap();
        let processing = f.mock.advance(&created, |r| r.bill.state = BillState::Processing).await.unwrap().unwrap();
        let decided = f.mock.pay_step(&processing).await.unwrap().unwrap();
        assert_eq!(decided.value.credit_decided_at_version, Some(1));
        // Another payment lands between the decision and the credit.
        assert_eq!(f.pay("OTHER1", &openid, "10000.00").await.state, BillState::Success);

        let bill = f.mock.transfer(&request).await.unwrap();
        assert_failed(&bill, FailReason::DayReceivedQuotaExceed);
        assert_eq!(f.wallet(&openid).await.balance, money("10000.00"));
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
        let payouts: crate::providers::payouts::SharedPayouts = Arc::new(BuiltinPayouts::new(f.mock.clone()));
        assert_eq!(payouts.bill("NEVER1").await.unwrap(), None);
        let bill = payouts.transfer(&request("STORED1", &openid, "1.00")).await.unwrap();
        assert_eq!(payouts.bill("STORED1").await.unwrap().as_ref(), Some(&bill));
        assert_eq!(bill.transfer_bill_no.len(), 32);
        assert!(bill.transfer_bill_no.starts_with("133000020260301"), "{}", bill.transfer_bill_no);
        assert!(bill.transfer_bill_no.bytes().all(|b| b.is_ascii_digit()));
        let stored = f.record("STORED1").await;
        assert_eq!((stored.value.bill, stored.value.credit_decided_at_version), (bill, None));
    }

    #[test]
    fn store_failures_are_retryable() {
        let error = unavailable(StoreError::Unavailable("connection refused".into()));
        assert!(matches!(error, PayoutError::Unavailable(ref text) if text.contains("connection refused")));
    }
}
