//! The outside parties walletgate talks to, behind traits the services call:
//! WeChat (OAuth in `wechat`, payouts to its wallets in `payouts`), Alipay's
//! open platform (`alipay`, so far its mock only), the SMS
//! gateway, and the integrator's webhook receiver. Each comes with a built-in
//! mock (webhooks go wherever a deployment points them) so the simulator runs
//! on its own; `sim` holds the rules that force the mocks' answers, and
//! `journal` records every call to a mock.

pub mod alipay;
pub mod journal;
pub mod payouts;
pub mod sim;
pub mod sms;
pub mod webhooks;
pub mod wechat;
