//! Scenario files: a deployment's starting state written down as TOML —
//! users with their balances per asset, identity level, payment PIN, WeChat
//! wallet and withdrawals in given states (`scenarios/*.toml`, described in
//! docs/simulator.md).
//!
//! Parsing is strict and happens before anything is written: unknown
//! fields, amounts with more places than their asset keeps, unknown assets,
//! two users with one phone (or one name, or one ID number) are refused, each
//! error naming the line and the field. What a file asks for is checked here
//! as far as the rules can be without the store; the loader
//! (`services::scenarios`) then creates it through the same services a
//! client's requests go through, so every invariant and the ledger hold.
//!
//! The format is versioned (`version = 1`); later versions add sections
//! (P2P ads, risk cases) beside `users`, which is why a user has a `name`
//! they can be referred to by.

mod parse;

use serde::Deserialize;

use super::account::{Role, VerificationLevel};
use super::asset::Quantity;
use super::credentials::{Login, Password};
use super::identity::{RealName, ResidentId};
use super::money::Amount;
use super::pin::Pin;
use super::withdrawal::RejectionReason;

pub use parse::parse_scenario;

/// The format version this walletgate reads.
pub const SCENARIO_VERSION: u32 = 1;
/// The largest scenario file read, in bytes.
pub const SCENARIO_BYTES_MAX: usize = 256 * 1024;
/// The most users one scenario seeds.
pub const SCENARIO_USERS_MAX: usize = 500;
/// The most withdrawals one user of a scenario has.
pub const SCENARIO_WITHDRAWALS_PER_USER_MAX: usize = 50;

/// A checked scenario, ready to load.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `[A-Za-z0-9._-]`, 1 to 64 characters.
    pub name: String,
    pub description: String,
    pub users: Vec<ScenarioUser>,
}

/// Where in the file something was written: for errors found while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// e.g. `users[2].withdrawals[0]`.
    pub field: String,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct ScenarioUser {
    /// Unique within the scenario: how reports (and later sections) name the user.
    pub name: String,
    pub role: Role,
    pub login: Login,
    pub password: Password,
    /// At most one per asset, each positive.
    pub balances: Vec<Quantity>,
    pub identity: Option<ScenarioIdentity>,
    pub pin: Option<Pin>,
    pub wechat: Option<ScenarioWeChat>,
    pub withdrawals: Vec<ScenarioWithdrawal>,
    pub at: Place,
}

/// A verified identity: the level, and the name and number it was verified with.
#[derive(Debug, Clone)]
pub struct ScenarioIdentity {
    /// L1 or L2.
    pub level: VerificationLevel,
    pub real_name: RealName,
    pub id_number: ResidentId,
    pub at: Place,
}

/// The mock WeChat user created for the account and bound to it.
#[derive(Debug, Clone)]
pub struct ScenarioWeChat {
    /// Checked by the mock provider's own rule when loaded.
    pub nickname: String,
    pub frozen: bool,
    pub no_real_name: bool,
    pub at: Place,
}

impl ScenarioWeChat {
    /// Whether a payout to this wallet fails (WeChat Pay refuses frozen and
    /// unverified wallets).
    pub fn refuses_payouts(&self) -> bool {
        self.frozen || self.no_real_name
    }
}

/// A withdrawal to the user's WeChat wallet, and the state to bring it to.
#[derive(Debug, Clone)]
pub struct ScenarioWithdrawal {
    pub amount: Amount,
    pub state: WithdrawalTarget,
    /// For `rejected`: the reason and the operator's note.
    pub rejection: Option<(RejectionReason, Option<String>)>,
    pub at: Place,
}

/// The state a scenario's withdrawal is brought to, through the real steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalTarget {
    /// Submitted, waiting for its automatic review's delay.
    Pending,
    /// Submitted, held for an operator's review.
    InReview,
    /// Approved by an operator, its payout due.
    Approved,
    /// Paid out (approved first when it went to review).
    Settled,
    /// Rejected by an operator, the hold released.
    Rejected,
    /// Paid out to a wallet that refuses it, the hold released.
    Failed,
}

impl WithdrawalTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawalTarget::Pending => "pending",
            WithdrawalTarget::InReview => "in_review",
            WithdrawalTarget::Approved => "approved",
            WithdrawalTarget::Settled => "settled",
            WithdrawalTarget::Rejected => "rejected",
            WithdrawalTarget::Failed => "failed",
        }
    }

    /// Whether reaching it pays the withdrawal out.
    pub fn is_paid_out(self) -> bool {
        matches!(self, WithdrawalTarget::Settled | WithdrawalTarget::Failed)
    }
}

/// Why a scenario cannot be loaded: where, and what is wrong. The source
/// (a file's path, or the scenario's name) is added by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// e.g. `users[2].balances.USDT`; `None` for the file as a whole.
    pub field: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

impl ScenarioError {
    pub fn at(place: &Place, message: impl Into<String>) -> ScenarioError {
        ScenarioError { field: Some(place.field.clone()), line: Some(place.line), message: message.into() }
    }

    /// The same error about a field below `place` (`place.field` + `.` + `below`).
    pub fn below(place: &Place, below: &str, message: impl Into<String>) -> ScenarioError {
        let field = format!("{}.{below}", place.field);
        ScenarioError { field: Some(field), line: Some(place.line), message: message.into() }
    }
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}
