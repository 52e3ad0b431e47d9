//! Pure types and rules: no I/O, no async, no clocks of their own. Everything
//! here can be tested with plain values.

pub mod account;
pub mod asset;
pub mod binding;
pub mod credentials;
pub mod fees;
pub mod identity;
pub mod ids;
pub mod kyc;
pub mod ledger;
pub mod limits;
pub mod lockout;
pub mod login_guard;
pub mod money;
pub mod pin;
pub mod review_queue;
pub mod rsa2;
pub mod scenario;
pub mod sim_clock;
pub mod sms;
pub mod statement;
pub mod transfer;
pub mod transfer_decision;
pub mod transfer_policy;
pub mod wechatpay_crypto;
pub mod wechatpay_sign;
pub mod withdrawal;
pub mod withdrawal_decision;
pub mod withdrawal_policy;
