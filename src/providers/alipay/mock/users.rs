//! Mock Alipay users: who they are (a `2088…` user id, an open id for the
//! app, a logon id, a nickname and a certified real name), the flags that
//! make transfers to them fail like the real thing, their wallet with its
//! received transfers (bills), and the changes a tester may make.
//!
//! A user is a document of `alipay_users` keyed by user id. Open ids and
//! logon ids lead to it through small index documents written in the same
//! compare-and-set as the user; an index entry is trusted only while the
//! user still has that id, so a logon id given up is free for the next.

#[allow(unused_imports)]
use super::*;

use crate::providers::wechat::mock::{NicknameError, check_nickname};
use crate::store::DocumentWrite;

/// The document collection of mock users; a document's id is the user id.
pub const USERS_COLLECTION: &str = "alipay_users";
/// Index documents: an open id → `{"user_id"}`.
pub const OPEN_IDS_COLLECTION: &str = "alipay_open_ids";
/// Index documents: a logon id (phone or email) → `{"user_id"}`.
pub const LOGON_IDS_COLLECTION: &str = "alipay_logon_ids";
/// At most this many users are read to list them: the mock's users are a tester's handful.
pub const USERS_LISTED_MAX: usize = 10_000;
/// At most this many existing users are offered on the consent page.
pub const CONSENT_USERS_MAX: usize = 50;
/// How many received transfers a wallet lists (the newest).
pub const WALLET_BILLS_KEPT: usize = 10;
const USER_ID_PREFIX: &str = "2088";
const USER_ID_RANDOM_DIGITS: usize = 12;
const OPEN_ID_RANDOM_CHARS: usize = 45;
const LOGON_ID_CHARS_MAX: usize = 64;
/// Creating or changing a user retries this often against concurrent changes
/// (a transfer crediting the wallet, another user taking the same logon id).
const USER_WRITE_ATTEMPTS_MAX: u32 = 16;

/// A mock Alipay user of the app, with the wallet transfers land in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "user_id": "2088102146225135", "open_id": "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCoX",
    "app_id": "2021004100000001", "logon_id": "13812345678", "nick_name": "小明", "real_name": "张三",
    "avatar": "https://tfs.alipayobjects.com/images/partner/T1bwhXXbtaXXXXXXXX", "gender": "", "province": "",
    "city": "", "real_name_verified": true, "frozen": false, "info_abnormal": false,
    "created_at": "2026-03-01T09:30:00Z", "wallet": {"balance": "0.00", "bills": []}
}))]
pub struct MockAlipayUser {
    /// The user's Alipay number: `2088` and 12 digits.
    pub user_id: String,
    /// The user's id within the app: `0` and 45 letters and digits.
    pub open_id: String,
    pub app_id: String,
    /// What the user logs in with: a mobile number or an email address.
    pub logon_id: String,
    pub nick_name: String,
    /// The certified real name; a transfer naming the payee must match it.
    pub real_name: String,
    pub avatar: String,
    /// `F`, `M` or empty.
    pub gender: String,
    pub province: String,
    pub city: String,
    /// Real-name verified (`is_certified` T); an unverified payee receives at most ¥1,000.00 a day.
    pub real_name_verified: bool,
    /// Frozen (`user_status` B): transfers to it fail with `PAYEE_ACCOUNT_STATUS_ERROR`.
    pub frozen: bool,
    /// Identity information abnormal: transfers fail with `PAYEE_USERINFO_STATUS_ERROR`.
    pub info_abnormal: bool,
    pub created_at: DateTime<Utc>,
    pub wallet: AlipayWallet,
}

/// The user's Alipay balance: what transfers have credited to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlipayWallet {
    pub balance: Money,
    /// Received transfers, oldest first: the newest 10 (`received.count` counts all).
    pub bills: Vec<AlipayBill>,
    /// Running totals of what was received (the Beijing day's counts towards
    /// an unverified payee's limit); absent before the first transfer.
    #[serde(default, skip_serializing_if = "ReceivedTotals::is_empty")]
    pub received: ReceivedTotals,
}

/// One transfer received into a mock wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "order_id": "20260301110070000006640012345678", "out_biz_no": "wd0196a3c5e2b87d40a1f3c9e2d4b5a6c7",
    "amount": "100.00", "order_title": "OK钱包提现", "received_at": "2026-03-01T09:30:05Z"
}))]
pub struct AlipayBill {
    /// Alipay's number of the transfer.
    pub order_id: String,
    /// The merchant's number of the same transfer.
    pub out_biz_no: String,
    pub amount: Money,
    pub order_title: String,
    pub received_at: DateTime<Utc>,
}

/// What an index document holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IndexEntry {
    user_id: String,
}

/// Test switches of a new user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlipayUserFlags {
    pub unverified: bool,
    pub frozen: bool,
    pub info_abnormal: bool,
}

/// A checked request to create a mock user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlipayUser {
    nick_name: String,
    real_name: String,
    logon_id: Option<String>,
    pub flags: AlipayUserFlags,
}

/// Why a new or changed user is refused; each names its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlipayUserError {
    #[error("nick_name {0}")]
    NickName(NicknameError),
    #[error("real_name {0}")]
    RealName(NicknameError),
    #[error("logon_id must be an 11-digit mobile number starting with 1, or an email address of at most 64 characters")]
    LogonId,
    #[error("balance must not be negative")]
    Balance,
}

impl AlipayUserError {
    /// The request field the problem is about.
    pub fn field(&self) -> &'static str {
        match self {
            AlipayUserError::NickName(_) => "nick_name",
            AlipayUserError::RealName(_) => "real_name",
            AlipayUserError::LogonId => "logon_id",
            AlipayUserError::Balance => "balance",
        }
    }
}

/// Whether `text` is a logon id Alipay would take: a mainland mobile number or an email address.
pub fn is_logon_id(text: &str) -> bool {
    let mobile = text.len() == 11 && text.starts_with('1') && text.bytes().all(|b| b.is_ascii_digit());
    let email = text.len() <= LOGON_ID_CHARS_MAX
        && text.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
        && text.chars().all(|c| c.is_ascii_graphic());
    mobile || email
}

impl NewAlipayUser {
    pub fn new(
        nick_name: &str,
        real_name: &str,
        logon_id: Option<&str>,
        flags: AlipayUserFlags,
    ) -> Result<NewAlipayUser, AlipayUserError> {
        check_nickname(nick_name).map_err(AlipayUserError::NickName)?;
        check_nickname(real_name).map_err(AlipayUserError::RealName)?;
        if logon_id.is_some_and(|id| !is_logon_id(id)) {
            return Err(AlipayUserError::LogonId);
        }
        Ok(NewAlipayUser {
            nick_name: nick_name.to_owned(),
            real_name: real_name.to_owned(),
            logon_id: logon_id.map(str::to_owned),
            flags,
        })
    }

    /// A user of a silent (`auth_base`) authorization, named as Alipay names
    /// users who have not shared a profile.
    pub fn anonymous() -> NewAlipayUser {
        let suffix = random_digits(4);
        NewAlipayUser {
            nick_name: format!("支付宝用户{suffix}"),
            real_name: format!("用户{suffix}"),
            logon_id: None,
            flags: AlipayUserFlags::default(),
        }
    }

    pub(super) fn build(&self, app_id: &str, now: DateTime<Utc>) -> MockAlipayUser {
        MockAlipayUser {
            user_id: format!("{USER_ID_PREFIX}{}", random_digits(USER_ID_RANDOM_DIGITS)),
            open_id: format!("0{}", random_alphanumeric(OPEN_ID_RANDOM_CHARS)),
            app_id: app_id.to_owned(),
            logon_id: self.logon_id.clone().unwrap_or_else(|| format!("13{}", random_digits(9))),
            nick_name: self.nick_name.clone(),
            real_name: self.real_name.clone(),
            avatar: format!("https://tfs.alipayobjects.com/images/partner/T1{}", random_alphanumeric(18)),
            gender: String::new(),
            province: String::new(),
            city: String::new(),
            real_name_verified: !self.flags.unverified,
            frozen: self.flags.frozen,
            info_abnormal: self.flags.info_abnormal,
            created_at: now,
            wallet: AlipayWallet::default(),
        }
    }
}

/// What a tester changes on a user; `None` leaves a field as it is.
/// Checked when built, so applying it cannot fail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlipayUserChange {
    nick_name: Option<String>,
    real_name: Option<String>,
    logon_id: Option<String>,
    pub real_name_verified: Option<bool>,
    pub frozen: Option<bool>,
    pub info_abnormal: Option<bool>,
    balance: Option<Money>,
}

impl AlipayUserChange {
    pub fn nick_name(mut self, nick_name: &str) -> Result<AlipayUserChange, AlipayUserError> {
        check_nickname(nick_name).map_err(AlipayUserError::NickName)?;
        self.nick_name = Some(nick_name.to_owned());
        Ok(self)
    }

    pub fn real_name(mut self, real_name: &str) -> Result<AlipayUserChange, AlipayUserError> {
        check_nickname(real_name).map_err(AlipayUserError::RealName)?;
        self.real_name = Some(real_name.to_owned());
        Ok(self)
    }

    pub fn logon_id(mut self, logon_id: &str) -> Result<AlipayUserChange, AlipayUserError> {
        if !is_logon_id(logon_id) {
            return Err(AlipayUserError::LogonId);
        }
        self.logon_id = Some(logon_id.to_owned());
        Ok(self)
    }

    /// A new balance shown (received bills and totals stay as they are).
    pub fn balance(mut self, balance: Money) -> Result<AlipayUserChange, AlipayUserError> {
        if balance.is_negative() {
            return Err(AlipayUserError::Balance);
        }
        self.balance = Some(balance);
        Ok(self)
    }

    pub fn apply(&self, user: &mut MockAlipayUser) {
        let set = |field: &mut bool, value: Option<bool>| *field = value.unwrap_or(*field);
        for (field, value) in [
            (&mut user.nick_name, &self.nick_name),
            (&mut user.real_name, &self.real_name),
            (&mut user.logon_id, &self.logon_id),
        ] {
            if let Some(value) = value {
                field.clone_from(value);
            }
        }
        set(&mut user.real_name_verified, self.real_name_verified);
        set(&mut user.frozen, self.frozen);
        set(&mut user.info_abnormal, self.info_abnormal);
        if let Some(balance) = self.balance {
            user.wallet.balance = balance;
        }
    }
}

/// How a create or a change ended when it did not.
#[derive(Debug, thiserror::Error)]
pub enum UserWriteError {
    #[error("the logon id belongs to another mock Alipay user")]
    LogonIdTaken,
    /// Concurrent changes won every attempt; try again.
    #[error("the user kept changing; try again")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MockAlipay {
    /// Creates a user of the app with fresh ids and an empty wallet; a
    /// logon id another user has is refused.
    pub async fn create_user(&self, new: &NewAlipayUser) -> Result<MockAlipayUser, UserWriteError> {
        for _ in 0..USER_WRITE_ATTEMPTS_MAX {
            let user = new.build(&self.settings.app_id, self.clock.now());
            let Some(logon_version) = self.free_logon_id(&user.logon_id, &user.user_id).await? else {
                if new.logon_id.is_some() {
                    return Err(UserWriteError::LogonIdTaken);
                }
                continue;
            };
            let entry = encode_document(&IndexEntry { user_id: user.user_id.clone() })?;
            let body = encode_document(&user)?;
            let writes = [
                DocumentWrite { collection: USERS_COLLECTION, id: &user.user_id, expected_version: 0, body: &body },
                DocumentWrite { collection: OPEN_IDS_COLLECTION, id: &user.open_id, expected_version: 0, body: &entry },
                DocumentWrite {
                    collection: LOGON_IDS_COLLECTION,
                    id: &user.logon_id,
                    expected_version: logon_version,
                    body: &entry,
                },
            ];
            if self.store.save_documents(&writes).await? == CommitOutcome::Committed {
                return Ok(user);
            }
        }
        Err(UserWriteError::Busy)
    }

    /// The version to write the logon id's index entry at, if `user_id` may
    /// take it: 0 when there is none, the entry's when its user gave the id up
    /// (or is `user_id`); `None` when another user has it.
    async fn free_logon_id(&self, logon_id: &str, user_id: &str) -> Result<Option<u64>, StoreError> {
        let Some(entry) = self.store.load_document_as::<IndexEntry>(LOGON_IDS_COLLECTION, logon_id).await? else {
            return Ok(Some(0));
        };
        if entry.value.user_id == user_id {
            return Ok(Some(entry.version));
        }
        let holder = self.load_user(&entry.value.user_id).await?;
        let taken = holder.is_some_and(|holder| holder.value.logon_id == logon_id);
        Ok((!taken).then_some(entry.version))
    }

    /// A user of any app, with the version to pass to a compare-and-set.
    pub async fn load_user(&self, user_id: &str) -> Result<Option<Versioned<MockAlipayUser>>, StoreError> {
        if !is_user_id(user_id) {
            return Ok(None);
        }
        self.store.load_document_as::<MockAlipayUser>(USERS_COLLECTION, user_id).await
    }

    /// The app's user with this user id, open id or logon id (by `kind`).
    pub(super) async fn find_user_id(&self, identity: &str, kind: IdentityType) -> Result<Option<String>, StoreError> {
        let collection = match kind {
            IdentityType::UserId => return Ok(is_user_id(identity).then(|| identity.to_owned())),
            IdentityType::OpenId => OPEN_IDS_COLLECTION,
            IdentityType::LogonId => LOGON_IDS_COLLECTION,
        };
        if identity.is_empty() || identity.len() > LOGON_ID_CHARS_MAX {
            return Ok(None);
        }
        let entry = self.store.load_document_as::<IndexEntry>(collection, identity).await?;
        Ok(entry.map(|entry| entry.value.user_id))
    }

    /// The app's user, found by an identity of `kind`: a stale index entry
    /// (a logon id given up) finds nobody.
    pub async fn find_user(&self, identity: &str, kind: IdentityType) -> Result<Option<MockAlipayUser>, StoreError> {
        let Some(user_id) = self.find_user_id(identity, kind).await? else { return Ok(None) };
        let user = self.load_user(&user_id).await?.map(|found| found.value);
        Ok(user.filter(|user| user.app_id == self.settings.app_id && kind.names(user, identity)))
    }

    /// The newest `limit` users of the app, newest first (of at most `USERS_LISTED_MAX` read).
    pub async fn list_users(&self, limit: usize) -> Result<Vec<MockAlipayUser>, StoreError> {
        let documents = self.store.list_documents(USERS_COLLECTION, USERS_LISTED_MAX).await?;
        let mut users = documents
            .iter()
            .map(|(id, body)| decode_document::<MockAlipayUser>(&format!("{USERS_COLLECTION}/{id}"), body))
            // Unreadable documents are kept, so the error surfaces below.
            .filter(|user| !matches!(user, Ok(u) if u.app_id != self.settings.app_id))
            .collect::<Result<Vec<_>, _>>()?;
        users.sort_by(|a, b| (b.created_at, &b.user_id).cmp(&(a.created_at, &a.user_id)));
        users.truncate(limit);
        Ok(users)
    }

    /// Applies `change` to the app's user `user_id` by compare-and-set, so a
    /// transfer crediting the wallet meanwhile is never lost. `None`: no such user.
    pub async fn update_user(
        &self,
        user_id: &str,
        change: &AlipayUserChange,
    ) -> Result<Option<MockAlipayUser>, UserWriteError> {
        let mut rounds = crate::retry::Rounds::new(USER_WRITE_ATTEMPTS_MAX);
        while rounds.next().await {
            let found = self.load_user(user_id).await?.filter(|found| found.value.app_id == self.settings.app_id);
            let Some(Versioned { version, value: mut user }) = found else { return Ok(None) };
            let old_logon_id = user.logon_id.clone();
            change.apply(&mut user);
            let body = encode_document(&user)?;
            let entry = encode_document(&IndexEntry { user_id: user.user_id.clone() })?;
            let mut writes = vec![DocumentWrite {
                collection: USERS_COLLECTION,
                id: &user.user_id,
                expected_version: version,
                body: &body,
            }];
            if user.logon_id != old_logon_id {
                let Some(logon_version) = self.free_logon_id(&user.logon_id, &user.user_id).await? else {
                    return Err(UserWriteError::LogonIdTaken);
                };
                writes.push(DocumentWrite {
                    collection: LOGON_IDS_COLLECTION,
                    id: &user.logon_id,
                    expected_version: logon_version,
                    body: &entry,
                });
            }
            if self.store.save_documents(&writes).await? == CommitOutcome::Committed {
                return Ok(Some(user));
            }
        }
        Err(UserWriteError::Busy)
    }
}

/// Whether `text` has the shape of a user id: `2088` and 12 digits.
pub fn is_user_id(text: &str) -> bool {
    text.len() == USER_ID_PREFIX.len() + USER_ID_RANDOM_DIGITS
        && text.starts_with(USER_ID_PREFIX)
        && text.bytes().all(|b| b.is_ascii_digit())
}

use crate::store::typed::{decode_document, encode_document};
