//! What the harness knows while the workload runs: the accounts it made
//! (and what it believes of them: tokens, PIN, active WeChat and Alipay
//! bindings, idempotency keys used), the mock WeChat users, the operator's
//! credit keys, and the facts the invariants are later checked against
//! (which openid or mock Alipay user each binding was consented with, every
//! withdrawal and transfer submission, operator credit and PIN entry with
//! its outcome and timing, and any negative balance seen on the way).
//!
//! Every lock here guards a few field reads or writes and is never held
//! across an `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;

/// PINs the accounts choose among (none is trivial by walletgate's rules).
pub const PINS: [&str; 4] = ["135790", "246813", "907531", "382916"];
/// Never any account's PIN.
pub const WRONG_PIN: &str = "592648";
pub const OPERATOR_EMAIL: &str = "ops@walletgate.test";
pub const OPERATOR_PASSWORD: &str = "operator-demo";

/// What the harness believes of one account.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub phone: String,
    pub password: String,
    pub id: Option<String>,
    pub token: Option<String>,
    pub refresh: Option<String>,
    /// A refresh token already used once (refreshing with it must fail).
    pub old_refresh: Option<String>,
    /// The PIN, most likely first; several when a change's outcome is unknown.
    pub pins: Vec<String>,
    pub active_binding: Option<String>,
    /// The active Alipay binding, beside the WeChat one.
    pub alipay_binding: Option<String>,
    /// Idempotency keys used, with the body sent, for replays.
    pub keys: Vec<(String, Value)>,
    /// Transfer idempotency keys used, with the body sent and the
    /// recipient's account id (when it is one of the harness's), for replays.
    pub transfer_keys: Vec<(String, Value, Option<String>)>,
    /// Which made-up identity the account verifies with.
    pub identity: u64,
}

/// How a withdrawal submission ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    Accepted(String),
    Refused(String),
    Unknown,
}

#[derive(Debug, Clone)]
pub struct WithdrawFact {
    pub phone: String,
    pub key: String,
    pub body: String,
    pub outcome: Submitted,
    pub seq: u64,
}

/// What one PIN-guarded request showed about the PIN guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinSeen {
    /// `PIN_INCORRECT` with `attempts_remaining`.
    Wrong(i64),
    /// `PIN_LOCKED`.
    Locked,
    /// A right PIN was accepted (the count starts again).
    Passed,
    /// A new PIN was set, reset or changed (the count starts again, a lock is lifted).
    Set,
    /// Unknown outcome of a request with a right PIN.
    MaybePassed,
    /// Unknown outcome of a set, reset or change.
    MaybeSet,
}

#[derive(Debug, Clone)]
pub struct PinFact {
    pub phone: String,
    pub seen: PinSeen,
    pub started_ms: u64,
    pub ended_ms: u64,
    pub seq: u64,
}

/// How a transfer submission ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// 201: the transfer the answer names, as it described it.
    Accepted(SentTransfer),
    /// A decided refusal (its code), or 409 for a key reused with another body.
    Refused(String),
    /// No answer, or one that says nothing about the outcome.
    Unknown,
}

/// What a 201 answer to a transfer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentTransfer {
    pub id: String,
    pub asset: String,
    pub amount: String,
    pub fee: String,
    /// The recipient's account id, as the answer names it.
    pub to_id: String,
    pub replayed: bool,
}

#[derive(Debug, Clone)]
pub struct TransferFact {
    /// The sender.
    pub phone: String,
    pub key: String,
    /// `{to, asset, amount, memo, pin}` as sent.
    pub body: Value,
    /// The recipient's account id when `to` names an account of the harness.
    pub to_id: Option<String>,
    pub outcome: Sent,
    pub seq: u64,
}

/// How an operator credit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credited {
    /// 201, naming the journal entry written (the same one when replayed).
    Entry(String),
    Refused(String),
    Unknown,
}

#[derive(Debug, Clone)]
pub struct CreditFact {
    pub phone: String,
    pub account_id: String,
    /// The operator's `Idempotency-Key`, if it sent one.
    pub key: Option<String>,
    pub asset: String,
    pub amount: String,
    pub outcome: Credited,
    pub seq: u64,
}

/// A balance below zero in some answer during the run.
#[derive(Debug, Clone)]
pub struct NegativeSeen {
    pub phone: String,
    pub detail: String,
    pub seq: u64,
}

/// A wrong SMS code sent (to register, or to a code check) and answered.
#[derive(Debug, Clone)]
pub struct WrongCodeTried {
    pub phone: String,
    /// Answered 2xx, where it must be refused.
    pub taken: bool,
    pub detail: String,
    pub seq: u64,
}

/// An operator's decision on an identity check, answered 200.
#[derive(Debug, Clone)]
pub struct KycDecided {
    pub kyc_id: String,
    pub phone: String,
    pub approved: bool,
    pub seq: u64,
}

/// A transfer bill the harness cancelled as the merchant, answered 200 as
/// `CANCELING` or `CANCELLED`: its withdrawal must not settle.
#[derive(Debug, Clone)]
pub struct BillCancelled {
    pub withdrawal_id: String,
    pub phone: String,
    pub seq: u64,
}

#[derive(Debug, Default)]
pub struct Facts {
    /// Binding id → the openid consented with for it.
    pub binding_openid: HashMap<String, String>,
    /// Openid → the real name its mock WeChat user was made with (none for
    /// a user made without one, who accepts any name).
    pub openid_real_name: HashMap<String, String>,
    /// Alipay binding id → the mock Alipay user (`user_id`) consented as.
    pub binding_alipay_user: HashMap<String, String>,
    pub withdrawals: Vec<WithdrawFact>,
    pub pins: Vec<PinFact>,
    /// Withdrawals an operator's reject answered 200 for.
    pub rejected: Vec<(String, u64)>,
    /// Requests answered 500 (never acceptable).
    pub server_errors: Vec<u64>,
    /// A logged-out session's tokens, tried afterwards.
    pub logouts: Vec<LogoutFact>,
    pub transfers: Vec<TransferFact>,
    pub credits: Vec<CreditFact>,
    pub negatives: Vec<NegativeSeen>,
    pub wrong_codes: Vec<WrongCodeTried>,
    pub kyc_decided: Vec<KycDecided>,
    pub bills_cancelled: Vec<BillCancelled>,
}

/// A token of a session that was logged out (204), presented again.
#[derive(Debug, Clone)]
pub struct LogoutFact {
    pub phone: String,
    /// Answered 401, as it must be.
    pub refused: bool,
    pub detail: String,
    /// The logout, and the try after it.
    pub seqs: [u64; 2],
}

/// A keyed operator credit, as sent the first time.
#[derive(Debug, Clone)]
pub struct CreditKey {
    pub key: String,
    pub phone: String,
    pub account_id: String,
    /// `{asset, amount, memo}`.
    pub body: Value,
}

#[derive(Debug)]
pub struct World {
    pub accounts: RwLock<Vec<Arc<Mutex<Known>>>>,
    /// The operator's credit keys with the account and body sent, for repeats.
    pub credit_keys: Mutex<Vec<CreditKey>>,
    pub openids: Mutex<Vec<String>>,
    /// Mock Alipay users (`user_id`) made to consent as.
    pub alipay_users: Mutex<Vec<String>>,
    pub facts: Mutex<Facts>,
    pub operator: RwLock<Option<String>>,
    pub accounts_max: usize,
    pub seed: u64,
}

impl World {
    pub fn new(seed: u64, accounts_max: usize) -> World {
        World {
            accounts: RwLock::new(Vec::new()),
            credit_keys: Mutex::new(Vec::new()),
            openids: Mutex::new(Vec::new()),
            alipay_users: Mutex::new(Vec::new()),
            facts: Mutex::new(Facts::default()),
            operator: RwLock::new(None),
            accounts_max,
            seed,
        }
    }

    pub fn account_count(&self) -> usize {
        self.accounts.read().expect("accounts lock").len()
    }

    pub fn account(&self, index: usize) -> Option<Arc<Mutex<Known>>> {
        self.accounts.read().expect("accounts lock").get(index).cloned()
    }

    pub fn add_account(&self, known: Known) -> Arc<Mutex<Known>> {
        let slot = Arc::new(Mutex::new(known));
        self.accounts.write().expect("accounts lock").push(slot.clone());
        slot
    }

    pub fn all_accounts(&self) -> Vec<Known> {
        let accounts = self.accounts.read().expect("accounts lock");
        accounts.iter().map(|slot| slot.lock().expect("account lock").clone()).collect()
    }

    pub fn operator_token(&self) -> Option<String> {
        self.operator.read().expect("operator lock").clone()
    }

    pub fn facts<T>(&self, change: impl FnOnce(&mut Facts) -> T) -> T {
        change(&mut self.facts.lock().expect("facts lock"))
    }
}

pub fn snapshot(slot: &Mutex<Known>) -> Known {
    slot.lock().expect("account lock").clone()
}

pub fn update(slot: &Mutex<Known>, change: impl FnOnce(&mut Known)) {
    change(&mut slot.lock().expect("account lock"));
}

/// Keeps the session a refresh with `used` renewed (`body`, the answer's):
/// its access and refresh tokens, and `used` as the token already spent
/// (refreshing with it again must fail). The access token, if the answer
/// holds one; otherwise nothing changes.
pub fn renew(slot: &Mutex<Known>, used: String, body: &Value) -> Option<String> {
    let access = body["access_token"].as_str()?.to_owned();
    let rotated = body["refresh_token"].as_str().map(str::to_owned);
    update(slot, |k| {
        k.old_refresh = Some(used);
        k.token = Some(access.clone());
        k.refresh = rotated;
    });
    Some(access)
}

/// A made-up but valid 18-digit resident ID (region, birth date, sequence, checksum).
pub fn resident_id(n: u64) -> String {
    let body = format!("110105{}{:02}{:02}{:03}", 1960 + n % 40, 1 + n % 12, 1 + n % 28, n % 1000);
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.chars().zip(WEIGHTS).map(|(c, w)| c.to_digit(10).unwrap_or(0) * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

pub fn real_name(n: u64) -> String {
    const GIVEN: [&str; 8] = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊"];
    format!("张{}", GIVEN[(n % 8) as usize])
}
