//! The outside parties walletgate talks to, behind traits the services call:
//! WeChat (OAuth now, payouts later) and the SMS gateway. Each comes with a
//! built-in mock so the simulator runs on its own.

pub mod sms;
pub mod wechat;
