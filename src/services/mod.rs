//! Use cases, one small service each: load state, apply domain rules, commit
//! atomically through the store. Each service holds only what it uses and is
//! cheap to clone; routes take the one they need as app data, and the
//! background worker runs `WorkerStep`.
//!
//! - [`partitions::Partitions`]: the store, the clock and the one
//!   compare-and-set loop every change of an account goes through.
//! - [`accounts::Accounts`]: registration, login, tokens;
//!   [`registration::Registration`]: the SMS code that proves a phone first.
//! - [`pin::Pins`] and [`sms::SmsCodes`]: the payment PIN and SMS codes.
//! - [`bindings::Bindings`]: binding a WeChat destination.
//! - [`kyc::Kyc`]: identity verification.
//! - [`withdrawals::Withdrawals`]: quotes, the wallet overview, submission;
//!   [`withdrawal_reads::WithdrawalReads`]: reading them back.
//! - [`wallet::Wallet`]: the journal and operators' adjustments.
//! - [`idempotency`]: requests made safe to repeat with an `Idempotency-Key`.
//! - [`review::Review`], [`settlement::Settlement`]: operators' decisions, payouts;
//!   [`review_queue`]: the queue they decide from, filtered, ordered and paged.
//! - [`notifications::Notifications`]: the event stream and webhooks.
//! - [`transfers::Transfers`]: money between two accounts, exactly once.
//! - [`user_transfers::UserTransfers`]: users sending money to each other.
//! - [`worker_step::WorkerStep`]: one step of the worker over all schedules;
//!   [`queue_gauges::QueueGauges`]: how long its queues are, for the metrics.
//! - [`audit::AuditLog`], [`ledger_check::LedgerCheck`]: what operators look at;
//!   [`directory::Directory`]: how they find accounts.
//! - [`listing`]: schedules read as lists, a page at a time.
//! - [`sim_rules::SimRules`]: the simulator's rules over the mock providers.
//! - [`scenarios::Scenarios`]: loading a scenario file through the services
//!   above; [`sim_reset::SimReset`]: the simulator's reset (wipe, demo
//!   accounts again, optionally a bundled scenario).
//! - [`sim_clock::SimClock`]: a simulator's shared business clock, advanced,
//!   frozen and resumed by operators.
//! - [`mock_wechat_pay::MockPayBills`]: the mock WeChat Pay's bills moving on
//!   over business time, and its notifications, as worker work (in a simulator).
//! - [`pay_notices::PayNotices`]: WeChat Pay's notifications as walletgate
//!   receives them: a final bill settles its withdrawal at once.

pub mod accounts;
pub mod audit;
pub mod bindings;
pub mod directory;
pub mod idempotency;
pub mod keys;
pub mod kyc;
pub mod ledger_check;
pub mod listing;
pub mod mock_wechat_pay;
pub mod notifications;
pub mod partitions;
pub mod pay_notices;
pub mod pin;
pub mod queue_gauges;
pub mod registration;
pub mod review;
pub mod review_queue;
pub mod scenarios;
pub mod seed;
pub mod settlement;
pub mod sim_clock;
pub mod sim_reset;
pub mod sim_rules;
pub mod sms;
pub mod transfers;
pub mod user_transfers;
pub mod wallet;
pub mod withdrawal_reads;
pub mod withdrawal_submission;
pub mod withdrawals;
pub mod work;
pub mod worker_step;
pub mod writers;

use std::sync::Arc;

use crate::auth::TokenIssuer;
use crate::auth::password::PasswordHashing;
use crate::clock::{SharedClock, SimulatedClock};
use crate::domain::login_guard::LoginPolicy;
use crate::domain::pin::PinPolicy;
use crate::domain::transfer_policy::TransferPolicy;

/// Every service of one application, built from the same parts. No methods
/// of its own: the application registers each service with the routes, and
/// tests reach the one they drive.
#[derive(Debug, Clone)]
pub struct ServiceSet {
    pub partitions: partitions::Partitions,
    pub accounts: accounts::Accounts,
    pub registration: registration::Registration,
    pub pins: pin::Pins,
    pub bindings: bindings::Bindings,
    pub kyc: kyc::Kyc,
    pub withdrawals: withdrawals::Withdrawals,
    pub withdrawal_reads: withdrawal_reads::WithdrawalReads,
    pub wallet: wallet::Wallet,
    pub review: review::Review,
    pub settlement: settlement::Settlement,
    pub notifications: notifications::Notifications,
    pub worker: worker_step::WorkerStep,
    pub transfers: transfers::Transfers,
    pub user_transfers: user_transfers::UserTransfers,
    pub audit: audit::AuditLog,
    pub ledger_check: ledger_check::LedgerCheck,
    pub directory: directory::Directory,
    /// The business clock's controls, in a simulator.
    pub sim_clock: Option<sim_clock::SimClock>,
    /// WeChat Pay's notifications, when `wechat.pay`'s keys read.
    pub pay_notices: Option<pay_notices::PayNotices>,
}

/// What the services are built from.
#[derive(Debug, Clone)]
pub struct Parts {
    pub partitions: partitions::Partitions,
    pub tokens: Arc<TokenIssuer>,
    pub passwords: PasswordHashing,
    pub login_policy: LoginPolicy,
    pub pin_policy: PinPolicy,
    pub sms: sms::SmsPolicy,
    pub registration: registration::RegistrationPolicy,
    pub bindings: bindings::BindingPolicy,
    pub kyc: kyc::KycPolicy,
    pub withdrawals: withdrawals::WithdrawalPolicy,
    pub transfers: TransferPolicy,
    pub fingerprints: withdrawals::Fingerprints,
    pub settlement: work::SettlementPolicy,
    pub webhooks: Option<notifications::WebhookPolicy>,
    /// The base clock: what sessions and webhook signatures go by
    /// (`partitions.clock` is the business clock).
    pub wall_clock: SharedClock,
    /// The business clock when it is a simulator's shared one, with its bounds.
    pub simulated_clock: Option<(Arc<SimulatedClock>, sim_clock::SimClockPolicy)>,
    /// The mock WeChat Pay, whose bills the worker moves on (in a simulator).
    pub mock_wechat: Option<Arc<crate::providers::wechat::mock::MockWeChat>>,
    /// What sends the mock WeChat Pay's notifications, with it.
    pub mock_pay_notifier: Option<Arc<crate::providers::wechat::mock::MockPayNotifier>>,
    /// What WeChat Pay's notifications to walletgate are checked with.
    pub notice_keys: Option<pay_notices::NoticeKeys>,
}

impl From<Parts> for ServiceSet {
    fn from(parts: Parts) -> ServiceSet {
        let partitions = partitions::Partitions { webhooks_on: parts.webhooks.is_some(), ..parts.partitions };
        let store = partitions.store.clone();
        let audit = audit::AuditLog { store: store.clone(), clock: partitions.clock.clone() };
        let work = work::WorkQueue {
            store: store.clone(),
            lease: parts.settlement.lease,
            batch_size: parts.settlement.batch_size,
        };
        let sms = sms::SmsCodes { clock: partitions.clock.clone(), policy: parts.sms };
        let registration =
            registration::Registration { store: store.clone(), sms: sms.clone(), policy: parts.registration };
        let pins = pin::Pins { partitions: partitions.clone(), policy: parts.pin_policy, sms };
        let withdrawal_reads = withdrawal_reads::WithdrawalReads { store: store.clone() };
        let settlement = settlement::Settlement {
            partitions: partitions.clone(),
            work: work.clone(),
            policy: parts.settlement.clone(),
            withdrawals: parts.withdrawals.clone(),
        };
        let review = review::Review {
            partitions: partitions.clone(),
            reads: withdrawal_reads.clone(),
            settlement: settlement.clone(),
            work: work.clone(),
            withdrawals: parts.withdrawals.clone(),
            audit: audit.clone(),
        };
        let transfers =
            transfers::Transfers { partitions: partitions.clone(), work: work.clone(), policy: parts.transfers };
        let user_transfers = user_transfers::UserTransfers {
            transfers: transfers.clone(),
            pins: pins.clone(),
            fingerprint_secret: parts.fingerprints.secret.clone(),
        };
        let notifications = notifications::Notifications {
            store: store.clone(),
            work: work.clone(),
            webhooks: parts.webhooks,
            concurrency: parts.settlement.concurrency,
            wall_clock: parts.wall_clock.clone(),
        };
        let worker = worker_step::WorkerStep {
            review: review.clone(),
            settlement: settlement.clone(),
            notifications: notifications.clone(),
            audit: audit.clone(),
            queues: queue_gauges::QueueGauges::new(store.clone()),
            transfers: transfers.clone(),
            mock_bills: parts.mock_wechat.map(|mock| mock_wechat_pay::MockPayBills {
                mock,
                work: work.clone(),
                notifier: parts.mock_pay_notifier,
            }),
        };
        let commit_attempts_max = partitions.commit_attempts_max;
        let sim_clock = parts
            .simulated_clock
            .map(|(clock, policy)| sim_clock::SimClock::new(clock, worker.clone(), policy, commit_attempts_max));
        let pay_notices = parts.notice_keys.map(|keys| pay_notices::PayNotices {
            settlement: settlement.clone(),
            reads: withdrawal_reads.clone(),
            keys,
            wall_clock: parts.wall_clock.clone(),
        });
        ServiceSet {
            pay_notices,
            accounts: accounts::Accounts {
                partitions: partitions.clone(),
                tokens: parts.tokens,
                passwords: parts.passwords,
                login_policy: parts.login_policy,
                pin_policy: parts.pin_policy,
                wall_clock: parts.wall_clock,
            },
            registration,
            bindings: bindings::Bindings { partitions: partitions.clone(), policy: parts.bindings, pins: pins.clone() },
            kyc: kyc::Kyc { partitions: partitions.clone(), policy: parts.kyc, audit: audit.clone() },
            wallet: wallet::Wallet {
                partitions: partitions.clone(),
                audit: audit.clone(),
                idempotency_ttl: parts.withdrawals.idempotency_ttl,
                time_zone: parts.withdrawals.time_zone,
            },
            withdrawals: withdrawals::Withdrawals {
                partitions: partitions.clone(),
                policy: parts.withdrawals,
                pins: pins.clone(),
                fingerprints: parts.fingerprints,
            },
            worker,
            sim_clock,
            transfers,
            user_transfers,
            ledger_check: ledger_check::LedgerCheck { store },
            directory: directory::Directory { partitions: partitions.clone() },
            withdrawal_reads,
            pins,
            review,
            settlement,
            notifications,
            audit,
            partitions,
        }
    }
}
