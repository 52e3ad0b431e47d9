//! Mock WeChat users: who they are, the flags that make payouts and bindings
//! fail like the real thing, their wallet, and the changes a tester may make
//! to them afterwards (`MockUserChange`).

#[allow(unused_imports)]
use super::*;
use chrono::{Datelike, NaiveDate};

use crate::domain::money::MoneyError;
use crate::providers::payouts::BillState;

/// A mock WeChat user of one app, with the wallet that payouts land in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "openid": "oAb1CdEfGhIjKlMnOpQrStUvWxYz", "unionid": "oZy9XwVuTsRqPoNmLkJiHgFeDcBa", "appid": "wx8a3f5c7e2b9d1046",
    "nickname": "张三丰", "real_name": "张三", "headimgurl": "https://thirdwx.qlogo.cn/mmopen/vi_32/Q3auHgzwzM4fYt2bTqNk0A/132",
    "sex": 0, "province": "", "city": "", "country": "", "real_name_verified": true, "frozen": false,
    "snapshot": false, "day_quota_reached": false, "month_quota_reached": false, "confirm_required": false,
    "created_at": "2025-05-01T08:01:00Z",
    "wallet": {"balance": "0.00", "transfers": []}
}))]
pub struct MockWeChatUser {
    /// The user's id within one app: `o` and 27 url-safe characters.
    pub openid: String,
    /// The user's id across apps of one Open Platform account, same style.
    pub unionid: String,
    pub appid: String,
    pub nickname: String,
    /// The real name behind the wallet, what a transfer bill's `user_name`
    /// is checked against (a bill naming anyone else fails
    /// `NAME_NOT_CORRECT`); none on record (users created without one, or
    /// before real names): any name passes, though one is still required
    /// from ¥2,000.00.
    #[serde(default)]
    pub real_name: Option<String>,
    pub headimgurl: String,
    /// 1 male, 2 female, 0 unknown; always 0, as WeChat now answers.
    pub sex: u8,
    pub province: String,
    pub city: String,
    pub country: String,
    /// Whether the wallet behind the user is real-name verified; a payout to
    /// an unverified one fails like WeChat Pay's.
    pub real_name_verified: bool,
    /// A frozen wallet cannot receive payouts.
    pub frozen: bool,
    /// A snapshot-mode user (virtual identity): tokens carry `is_snapshotuser: 1`.
    pub snapshot: bool,
    /// Payouts fail with `DAY_RECEIVED_QUOTA_EXCEED` whatever was received
    /// today (as if the day's ¥20,000.00 were used up), until unset.
    #[serde(default)]
    pub day_quota_reached: bool,
    /// Payouts fail with `MONTH_RECEIVED_QUOTA_EXCEED` whatever was received
    /// this month (as if the month's ¥200,000.00 were used up), until unset.
    #[serde(default)]
    pub month_quota_reached: bool,
    /// Bills to this user wait for its confirmation (`WAIT_USER_CONFIRM`,
    /// `POST /mock/wechat/transfer-bills/{out_bill_no}/confirm`), whatever their scene.
    #[serde(default)]
    pub confirm_required: bool,
    pub created_at: DateTime<Utc>,
    pub wallet: MockWallet,
}

/// The mock user's WeChat wallet: what payouts have credited to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MockWallet {
    pub balance: Money,
    /// Received transfers, oldest first: the newest 10 (`received.count` counts all).
    pub transfers: Vec<MockWalletTransfer>,
    /// Running totals for WeChat's receipt quotas; absent before the first transfer.
    #[serde(default, skip_serializing_if = "ReceivedTotals::is_empty")]
    pub received: ReceivedTotals,
    /// Bills decided on this wallet whose own record is not final yet:
    /// normally empty, or one for the moment between the two steps of a
    /// payout (the wallet decides and is credited, then the bill is written
    /// final; see `payouts`). A repeat of the first step finds its decision here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deciding: Vec<DecidedBill>,
}

/// A bill's outcome as its payee's wallet decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"out_bill_no": "0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "state": "SUCCESS"}))]
pub struct DecidedBill {
    pub out_bill_no: String,
    /// `SUCCESS` (the wallet was credited) or `FAIL`.
    pub state: BillState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
}

impl MockWallet {
    /// What this wallet decided of bill `out_bill_no`, while the bill is not final.
    pub fn decision(&self, out_bill_no: &str) -> Option<&DecidedBill> {
        self.deciding.iter().find(|decided| decided.out_bill_no == out_bill_no)
    }
}

/// What a mock wallet has received: in all, and on the Beijing day and month
/// of its latest transfer (earlier days count nothing towards today's quota).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceivedTotals {
    /// The Beijing date of the latest transfer.
    #[schema(example = "2025-05-01")]
    pub on: Option<NaiveDate>,
    /// Received on that day.
    pub day: Money,
    /// Received in that month.
    pub month: Money,
    /// Transfers received in all.
    #[schema(example = 1)]
    pub count: u64,
}

impl ReceivedTotals {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// What was received earlier on the (Beijing) day `today` and in its
    /// month: totals of an earlier day or month count nothing.
    pub fn as_of(&self, today: NaiveDate) -> (Money, Money) {
        let Some(on) = self.on else { return (Money::ZERO, Money::ZERO) };
        let day = if on == today { self.day } else { Money::ZERO };
        let same_month = (on.year(), on.month()) == (today.year(), today.month());
        let month = if same_month { self.month } else { Money::ZERO };
        (day, month)
    }

    /// The totals after receiving `amount` on `today`.
    pub fn after(&self, today: NaiveDate, amount: Money) -> Result<ReceivedTotals, MoneyError> {
        let (day, month) = self.as_of(today);
        Ok(ReceivedTotals {
            on: Some(today),
            day: day.checked_add(amount)?,
            month: month.checked_add(amount)?,
            count: self.count.saturating_add(1),
        })
    }
}

/// One payout received into a mock wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "transfer_bill_no": "13300002025050110293847561029384", "out_bill_no": "0196a3c5e2b87d40a1f3c9e2d4b5a6c7",
    "amount": "2000.00", "remark": "OK钱包余额提现", "user_name": "张三", "received_at": "2025-05-01T09:12:05Z"
}))]
pub struct MockWalletTransfer {
    /// WeChat Pay's number of the transfer bill.
    pub transfer_bill_no: String,
    /// The merchant's (the gateway's) number of the same bill.
    pub out_bill_no: String,
    pub amount: Money,
    pub remark: String,
    /// The payee's name the bill carried (`user_name`, as WeChat Pay
    /// decrypted it), if it carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// Why a nickname is refused. Each message is written for the API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NicknameError {
    #[error("must not be blank")]
    Blank,
    #[error("must be at most 32 characters")]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacter,
}

/// Test switches of a new mock user, for exercising failure modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MockUserFlags {
    /// The user's wallet is not real-name verified.
    pub no_real_name: bool,
    pub frozen: bool,
    pub snapshot: bool,
    pub day_quota_reached: bool,
    pub month_quota_reached: bool,
    pub confirm_required: bool,
}

/// What a tester changes on an existing mock user; `None` leaves a field as
/// it is. Checked when built, so applying it cannot fail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockUserChange {
    nickname: Option<String>,
    real_name: Option<String>,
    pub real_name_verified: Option<bool>,
    pub frozen: Option<bool>,
    pub snapshot: Option<bool>,
    pub day_quota_reached: Option<bool>,
    pub month_quota_reached: Option<bool>,
    pub confirm_required: Option<bool>,
    balance: Option<Money>,
}

/// Why a balance is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must not be negative")]
pub struct NegativeBalance;

impl MockUserChange {
    /// A new nickname, checked as a new user's.
    pub fn nickname(mut self, nickname: &str) -> Result<MockUserChange, NicknameError> {
        check_nickname(nickname)?;
        self.nickname = Some(nickname.to_owned());
        Ok(self)
    }

    /// A new real name, checked as a nickname is.
    pub fn real_name(mut self, real_name: &str) -> Result<MockUserChange, NicknameError> {
        check_nickname(real_name)?;
        self.real_name = Some(real_name.trim().to_owned());
        Ok(self)
    }

    /// A new wallet balance (what payouts credited is not changed, only the balance shown).
    pub fn balance(mut self, balance: Money) -> Result<MockUserChange, NegativeBalance> {
        if balance.is_negative() {
            return Err(NegativeBalance);
        }
        self.balance = Some(balance);
        Ok(self)
    }

    pub fn apply(&self, user: &mut MockWeChatUser) {
        let set = |field: &mut bool, value: Option<bool>| *field = value.unwrap_or(*field);
        if let Some(nickname) = &self.nickname {
            user.nickname.clone_from(nickname);
        }
        if let Some(real_name) = &self.real_name {
            user.real_name = Some(real_name.clone());
        }
        set(&mut user.real_name_verified, self.real_name_verified);
        set(&mut user.frozen, self.frozen);
        set(&mut user.snapshot, self.snapshot);
        set(&mut user.day_quota_reached, self.day_quota_reached);
        set(&mut user.month_quota_reached, self.month_quota_reached);
        set(&mut user.confirm_required, self.confirm_required);
        if let Some(balance) = self.balance {
            user.wallet.balance = balance;
        }
    }
}

/// 1–32 characters, not blank, without control characters (the mock Alipay
/// checks its names the same way).
pub fn check_nickname(nickname: &str) -> Result<(), NicknameError> {
    if nickname.trim().is_empty() {
        return Err(NicknameError::Blank);
    }
    if nickname.chars().count() > NICKNAME_CHARS_MAX {
        return Err(NicknameError::TooLong);
    }
    if nickname.chars().any(char::is_control) {
        return Err(NicknameError::ControlCharacter);
    }
    Ok(())
}

/// A checked request to create a mock user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMockUser {
    pub(super) nickname: String,
    pub(super) real_name: Option<String>,
    pub flags: MockUserFlags,
}

impl NewMockUser {
    /// A nickname of 1–32 characters, not blank, without control characters.
    pub fn new(nickname: &str, flags: MockUserFlags) -> Result<NewMockUser, NicknameError> {
        check_nickname(nickname)?;
        Ok(NewMockUser { nickname: nickname.to_owned(), real_name: None, flags })
    }

    /// The same user with a real name on record, checked as a nickname is.
    pub fn with_real_name(mut self, real_name: &str) -> Result<NewMockUser, NicknameError> {
        check_nickname(real_name)?;
        self.real_name = Some(real_name.trim().to_owned());
        Ok(self)
    }

    /// A user of a silent authorization, named the way WeChat names users
    /// who have not shared a profile.
    pub fn anonymous() -> NewMockUser {
        let suffix: u16 = rand::rng().random();
        NewMockUser { nickname: format!("微信用户{suffix:04x}"), real_name: None, flags: MockUserFlags::default() }
    }

    pub fn nickname(&self) -> &str {
        &self.nickname
    }

    pub(super) fn build(&self, appid: &str, now: DateTime<Utc>) -> MockWeChatUser {
        MockWeChatUser {
            openid: random_wechat_id(),
            unionid: random_wechat_id(),
            appid: appid.to_owned(),
            nickname: self.nickname.clone(),
            real_name: self.real_name.clone(),
            headimgurl: format!("https://thirdwx.qlogo.cn/mmopen/vi_32/{}/132", random_url_safe(AVATAR_RANDOM_CHARS)),
            sex: 0,
            province: String::new(),
            city: String::new(),
            country: "CN".to_owned(),
            real_name_verified: !self.flags.no_real_name,
            frozen: self.flags.frozen,
            snapshot: self.flags.snapshot,
            day_quota_reached: self.flags.day_quota_reached,
            month_quota_reached: self.flags.month_quota_reached,
            confirm_required: self.flags.confirm_required,
            created_at: now,
            wallet: MockWallet::default(),
        }
    }
}

/// Whether `text` has the shape of an openid or unionid this mock issues.
pub fn is_wechat_id(text: &str) -> bool {
    text.len() == ID_RANDOM_CHARS + 1 && text.starts_with('o') && text.bytes().all(|b| URL_SAFE.contains(&b))
}
