//! Payouts to a WeChat wallet as the gateway's settlement worker asks for
//! them: the `PayoutProvider` trait, shaped after WeChat Pay's merchant
//! transfer bills (商家转账, reference §3.1). A bill is keyed by the
//! merchant's `out_bill_no`, which is the idempotency key: asking again with
//! the same number never pays twice. Also the `fail_reason` values the mock
//! produces and the exact conversion to and from WeChat's integer fen.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::money::{Money, MoneyError, SCALE};

/// What the gateway asks WeChat Pay to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRequest {
    /// The merchant's bill number: 1–32 characters `[0-9A-Za-z]`, unique per merchant.
    pub out_bill_no: String,
    /// The payee's openid under the merchant's app.
    pub openid: String,
    /// At least 0.10.
    pub amount: Money,
    /// Shown to the payee; at most 32 characters.
    pub remark: String,
    /// The scene (`transfer_scene_id`), e.g. `"1000"` (现金营销); required.
    #[serde(default)]
    pub scene_id: String,
    /// Where WeChat Pay is to POST `MCHTRANSFER.BILL.FINISHED` once the bill is final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    /// The payee's real name, required from `USER_NAME_REQUIRED_FROM_FEN`
    /// and checked against the payee's. In the clear here: the HTTP client
    /// encrypts it for WeChat Pay (RSA-OAEP), and it is never written out
    /// (so never journaled).
    #[serde(default, skip_serializing)]
    pub user_name: Option<String>,
}

/// From this amount (¥2,000.00) on, WeChat Pay requires the payee's `user_name`.
pub const USER_NAME_REQUIRED_FROM_FEN: i64 = 200_000;

/// Whether a bill of `amount` must name its payee (`user_name`): from
/// ¥2,000.00 on (a bill without one is refused, 400 `PARAM_ERROR`).
pub fn user_name_required(amount: Money) -> bool {
    fen_from_money(amount) >= USER_NAME_REQUIRED_FROM_FEN
}

/// WeChat Pay's scene of an ordinary payout (现金营销), what walletgate sends.
pub const TRANSFER_SCENE_ID: &str = "1000";

/// The states of a transfer bill (reference §3.1) that the mock goes
/// through: `ACCEPTED` → `PROCESSING` → `SUCCESS` or `FAIL`, or, for a
/// payee who must confirm, `WAIT_USER_CONFIRM` → (confirmed) `PROCESSING`
/// → …, or `CANCELLED` (not confirmed in time, or the merchant cancelled:
/// `CANCELING` → `CANCELLED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(example = "SUCCESS")]
pub enum BillState {
    /// Created; the same bill may be retried.
    Accepted,
    /// Being paid; the same bill may be retried.
    Processing,
    /// Created and waiting for the payee to confirm (with `package_info`);
    /// cancelled if not confirmed within 24 hours.
    WaitUserConfirm,
    /// Terminal: the payee's wallet was credited.
    Success,
    /// Terminal: nothing was paid; `fail_reason` says why. Paying again needs a new `out_bill_no`.
    Fail,
    /// The merchant's cancellation is under way.
    Canceling,
    /// Terminal: cancelled (by the merchant, or not confirmed in time); nothing was paid.
    Cancelled,
}

impl BillState {
    /// Whether the bill will never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, BillState::Success | BillState::Fail | BillState::Cancelled)
    }

    /// WeChat's name of the state, e.g. `PROCESSING`.
    pub fn as_str(self) -> &'static str {
        match self {
            BillState::Accepted => "ACCEPTED",
            BillState::Processing => "PROCESSING",
            BillState::WaitUserConfirm => "WAIT_USER_CONFIRM",
            BillState::Success => "SUCCESS",
            BillState::Fail => "FAIL",
            BillState::Canceling => "CANCELING",
            BillState::Cancelled => "CANCELLED",
        }
    }

    pub const ALL: [BillState; 7] = [
        BillState::Accepted,
        BillState::Processing,
        BillState::WaitUserConfirm,
        BillState::Success,
        BillState::Fail,
        BillState::Canceling,
        BillState::Cancelled,
    ];
}

/// A transfer bill as WeChat Pay reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferBill {
    pub out_bill_no: String,
    /// WeChat Pay's own number of the bill, fixed when the bill is created.
    pub transfer_bill_no: String,
    pub openid: String,
    pub amount: Money,
    pub remark: String,
    pub state: BillState,
    /// Set with `BillState::Fail` only; one of `FailReason`'s names.
    pub fail_reason: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// What the payee's app opens to confirm, while `WAIT_USER_CONFIRM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_info: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    /// Not reachable or did not answer; the same bill may be retried.
    #[error("payout provider unavailable: {0}")]
    Unavailable(String),
    /// Refused before any bill existed (WeChat's 400 INVALID_REQUEST/PARAM_ERROR), e.g. the same out_bill_no with a different body, bad out_bill_no, amount below 0.10.
    #[error("payout request refused: {code}: {message}")]
    Refused { code: String, message: String },
}

impl PayoutError {
    /// A WeChat Pay error answer as the payer must take it: a 5xx, a 429
    /// (`FREQUENCY_LIMITED`) or a 403 `NOT_ENOUGH` (the merchant's balance
    /// is short until topped up) is worth retrying with the same bill and
    /// body; any other 4xx refuses the bill for good.
    pub fn from_answer(status: u16, code: String, message: String) -> PayoutError {
        match (status, code.as_str()) {
            (429 | 500..=599, _) | (403, refusal_code::NOT_ENOUGH) => {
                PayoutError::Unavailable(format!("HTTP {status} {code}: {message}"))
            }
            _ => PayoutError::Refused { code, message },
        }
    }
}

/// WeChat Pay's error codes of a refused request.
pub mod refusal_code {
    /// A field is missing or malformed, e.g. an `out_bill_no` with a `-`.
    pub const PARAM_ERROR: &str = "PARAM_ERROR";
    /// The request is well formed but not acceptable, e.g. a bill number
    /// reused with a different body, or an app the merchant does not own.
    pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
    /// 403: the merchant's balance cannot cover the bill; retry the same
    /// bill once it is topped up.
    pub const NOT_ENOUGH: &str = "NOT_ENOUGH";
    /// 429: too many requests; retry the same bill later.
    pub const FREQUENCY_LIMITED: &str = "FREQUENCY_LIMITED";
}

impl PayoutError {
    /// WeChat Pay v3's answer to the call that failed so: `(status, code,
    /// message)`. A refusal is its 400 with its code; anything else its 500
    /// `SYSTEM_ERROR`, after which the same bill is to be retried.
    pub fn http_answer(&self) -> (u16, &str, &str) {
        match self {
            PayoutError::Refused { code, message } => (400, code, message),
            PayoutError::Unavailable(_) => {
                (500, "SYSTEM_ERROR", "system error, retry with the same out_bill_no and body")
            }
        }
    }
}

#[async_trait::async_trait]
pub trait PayoutProvider: Send + Sync + std::fmt::Debug + 'static {
    /// Creates the bill for `out_bill_no` or returns the existing one as it
    /// stands now (a bill moves on by itself, over time: `ACCEPTED`,
    /// `PROCESSING`, … until `SUCCESS`, `FAIL` or `CANCELLED`). Idempotent by
    /// out_bill_no: calling again never pays twice.
    async fn transfer(&self, request: &TransferRequest) -> Result<TransferBill, PayoutError>;

    /// The bill for `out_bill_no`, if one was ever created.
    async fn bill(&self, out_bill_no: &str) -> Result<Option<TransferBill>, PayoutError>;
}

pub type SharedPayouts = std::sync::Arc<dyn PayoutProvider>;

/// Why a bill failed: the `fail_reason` values of WeChat Pay (the
/// reference's table) that the mock's payees, its magic amounts or the
/// simulator's rules can cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailReason {
    /// The payee's wallet is frozen.
    AccountFrozen,
    /// The payee has not completed real-name verification.
    RealNameCheckFail,
    /// The payee would receive more than ¥20,000.00 this Beijing day.
    DayReceivedQuotaExceed,
    /// The payee would receive more than ¥200,000.00 this Beijing month.
    MonthReceivedQuotaExceed,
    /// No such openid, or not one of the merchant's app.
    OpenidInvalid,
    /// The name sent (`user_name`) is not the payee's real name.
    NameNotCorrect,
    /// The payee's account does not exist (any more).
    AccountNotExist,
    /// Blocked by WeChat Pay's risk control.
    TransferRisk,
    /// The payee must complete their identity information first.
    PayeeAccountAbnormal,
    /// The amount is outside the scene's per-transfer range.
    TransferQuotaExceed,
    /// Any other reason WeChat Pay does not name.
    OtherFailReasonType,
}

impl FailReason {
    pub const ALL: [FailReason; 11] = [
        FailReason::AccountFrozen,
        FailReason::RealNameCheckFail,
        FailReason::DayReceivedQuotaExceed,
        FailReason::MonthReceivedQuotaExceed,
        FailReason::OpenidInvalid,
        FailReason::NameNotCorrect,
        FailReason::AccountNotExist,
        FailReason::TransferRisk,
        FailReason::PayeeAccountAbnormal,
        FailReason::TransferQuotaExceed,
        FailReason::OtherFailReasonType,
    ];

    /// WeChat's name of the reason, e.g. `ACCOUNT_FROZEN`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::AccountFrozen => "ACCOUNT_FROZEN",
            FailReason::RealNameCheckFail => "REAL_NAME_CHECK_FAIL",
            FailReason::DayReceivedQuotaExceed => "DAY_RECEIVED_QUOTA_EXCEED",
            FailReason::MonthReceivedQuotaExceed => "MONTH_RECEIVED_QUOTA_EXCEED",
            FailReason::OpenidInvalid => "OPENID_INVALID",
            FailReason::NameNotCorrect => "NAME_NOT_CORRECT",
            FailReason::AccountNotExist => "ACCOUNT_NOT_EXIST",
            FailReason::TransferRisk => "TRANSFER_RISK",
            FailReason::PayeeAccountAbnormal => "PAYEE_ACCOUNT_ABNORMAL",
            FailReason::TransferQuotaExceed => "TRANSFER_QUOTA_EXCEED",
            FailReason::OtherFailReasonType => "OTHER_FAIL_REASON_TYPE",
        }
    }

    /// The reason named `text`, if it is one of these.
    pub fn parse(text: &str) -> Option<FailReason> {
        FailReason::ALL.into_iter().find(|reason| reason.as_str() == text)
    }
}

impl std::fmt::Display for FailReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WeChat's `transfer_amount` (an integer of fen) as `Money`, exactly.
/// Negative numbers and more than `Money` can hold are refused.
pub fn money_from_fen(fen: i64) -> Result<Money, MoneyError> {
    if fen < 0 {
        return Err(MoneyError::Negative);
    }
    Money::from_fen(fen)
}

/// `amount` as WeChat's integer of fen, exactly.
pub fn fen_from_money(amount: Money) -> i64 {
    let mut value = amount.as_decimal();
    // A Money is always at scale 2, so this changes nothing and the mantissa
    // is the number of fen; it stays correct even if that ever changed.
    value.rescale(SCALE);
    // Money's magnitude cap (10^14 fen) is far inside i64, so the fallback
    // is never taken; it only keeps this total without a panic.
    i64::try_from(value.mantissa()).unwrap_or(if value.is_sign_negative() { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn fen_convert_exactly_both_ways() {
        assert_eq!(money_from_fen(0), Ok(Money::ZERO));
        assert_eq!(money_from_fen(10), Ok(money("0.10")));
        assert_eq!(money_from_fen(123_456), Ok(money("1234.56")));
        assert_eq!(money_from_fen(100_000_000_000_000), Ok(money("1000000000000.00")));
        assert_eq!(fen_from_money(money("0.10")), 10);
        assert_eq!(fen_from_money(money("20000.00")), 2_000_000);
        assert_eq!(fen_from_money(money("1234.5")), 123_450);
        assert_eq!(fen_from_money(money("-0.01")), -1);
        assert_eq!(fen_from_money(money("1000000000000.00")), 100_000_000_000_000);
    }

    #[test]
    fn a_name_is_required_from_two_thousand_yuan() {
        assert!(!user_name_required(money("1999.99")));
        assert!(user_name_required(money("2000.00")));
        assert!(user_name_required(money("50000.00")));
        assert!(!user_name_required(money("0.10")));
    }

    #[test]
    fn negative_and_absurd_fen_are_refused() {
        assert_eq!(money_from_fen(-1), Err(MoneyError::Negative));
        assert_eq!(money_from_fen(i64::MIN), Err(MoneyError::Negative));
        assert_eq!(money_from_fen(100_000_000_000_001), Err(MoneyError::TooLarge));
        assert_eq!(money_from_fen(i64::MAX), Err(MoneyError::TooLarge));
    }

    #[test]
    fn states_and_reasons_carry_wechat_names() {
        for state in BillState::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        let terminal: Vec<BillState> = BillState::ALL.into_iter().filter(|state| state.is_terminal()).collect();
        assert_eq!(terminal, [BillState::Success, BillState::Fail, BillState::Cancelled]);
        for reason in FailReason::ALL {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
            assert_eq!(FailReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(FailReason::OpenidInvalid.as_str(), "OPENID_INVALID");
        assert_eq!(FailReason::parse("NAME_NOT_CORRECT"), Some(FailReason::NameNotCorrect));
        assert_eq!(FailReason::parse("CANCELLED"), None);
    }

    #[test]
    fn error_answers_are_retried_or_refused_as_wechat_pay_says() {
        let answer = |status: u16, code: &str| PayoutError::from_answer(status, code.into(), String::new());
        for (status, code) in [(500, "SYSTEM_ERROR"), (429, "FREQUENCY_LIMITED"), (403, "NOT_ENOUGH"), (503, "X")] {
            assert!(matches!(answer(status, code), PayoutError::Unavailable(_)), "{status} {code}");
        }
        for (status, code) in [(400, "PARAM_ERROR"), (400, "INVALID_REQUEST"), (403, "NO_AUTH"), (401, "SIGN_ERROR")] {
            assert!(matches!(answer(status, code), PayoutError::Refused { .. }), "{status} {code}");
        }
    }

    proptest! {
        #[test]
        fn fen_round_trip(fen in 0i64..=100_000_000_000_000) {
            let amount = money_from_fen(fen).unwrap();
            prop_assert_eq!(fen_from_money(amount), fen);
            prop_assert_eq!(amount.as_decimal() * rust_decimal::Decimal::ONE_HUNDRED, rust_decimal::Decimal::from(fen));
        }
    }
}
