//! walletgate in this process, as the bench reaches it besides HTTP: building
//! and serving the `Application`, seeding ready-to-withdraw accounts and
//! stored or due withdrawals (and transfers left in flight), issuing the
//! load's tokens, draining the settlement worker's step and its transfer
//! delivery, the due-to-settled latency run with the background worker,
//! a day of due withdrawals settled by advancing the simulated business
//! clock, and the closing ledger check.
//!
//! This is the one module of the bench that calls into `walletgate::services`
//! (`ServiceSet`, and the bench's own `fixtures`, written with it); the rest
//! sees only [`Gateway`] and [`ReadyAccount`], so when those library parts
//! change shape, this file alone follows.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use walletgate::auth::Principal;
use walletgate::auth::password::HashCost;
use walletgate::clock::SystemClock;
use walletgate::domain::account::Role;
use walletgate::domain::asset::{Asset, Quantity};
use walletgate::domain::credentials::Password;
use walletgate::domain::ledger::LedgerAccount;
use walletgate::domain::pin::Pin;
use walletgate::domain::sim_clock::AdvanceTo;
use walletgate::domain::transfer::{PartyNames, TransferOrder, TransferPurpose};
use walletgate::domain::withdrawal::WithdrawalStatus;
use walletgate::domain::withdrawal_decision::IdempotencyKey;
use walletgate::providers::wechat::mock::{MockUserFlags, MockWeChat, NewMockUser};
use walletgate::services::ServiceSet;
use walletgate::services::accounts::hash_password;
use walletgate::services::keys::PAYOUT_SCHEDULE;
use walletgate::services::withdrawal_submission::Submitted;
use walletgate::services::withdrawals::WithdrawalRequest;
use walletgate::services::work::ClaimOutcome;

pub use crate::fixtures::ReadyAccount;
use crate::fixtures::{self, FixtureSpec};
use walletgate::settings::Settings;
use walletgate::startup::{Application, connect_store};

use crate::{BENCH_PASSWORD, BENCH_PIN};

/// Mock WeChat payees the accounts are bound to, round robin (at most one per account).
const PAYEES_MAX: usize = 5_000;
/// Accounts (each paying a payee of its own) the latency scenario submits for.
const LATENCY_ACCOUNTS: usize = 200;
/// How long the paced submissions of the latency scenario last.
const LATENCY_SECS: u64 = 5;
/// Logins of these many accounts are written for the login scenario.
const LOGINS_MAX: usize = 1000;

/// A walletgate built in this process, with the library handles the bench
/// seeds, drains and checks it through.
pub struct Gateway {
    services: ServiceSet,
    mock: Arc<MockWeChat>,
}

/// What one advance of the simulated clock over a day of due withdrawals did.
pub struct ClockRun {
    pub settled: usize,
    pub steps: usize,
    pub complete: bool,
    pub seconds: f64,
}

/// The seeded accounts, and what they share (reused for the latency run's own accounts).
pub struct Fixtures {
    spec: FixtureSpec,
    pub ready: Vec<ReadyAccount>,
}

impl Gateway {
    /// Builds walletgate on the store `settings` name and serves it in a
    /// task: the gateway, its base URL and the server's task.
    pub async fn start(
        settings: Settings,
    ) -> anyhow::Result<(Gateway, String, tokio::task::JoinHandle<std::io::Result<()>>)> {
        let store = connect_store(&settings.store).await?;
        let application = Application::build_with_store(settings, Arc::new(SystemClock), store).await?;
        let services = application.services().clone();
        let mock = application.mock_wechat().cloned().context("the mock WeChat must be enabled")?;
        let base = format!("http://127.0.0.1:{}", application.port());
        let server = tokio::spawn(application.run_until_stopped());
        Ok((Gateway { services, mock }, base, server))
    }

    /// Accounts `0..accounts`, ready to withdraw: funded, with the bench's
    /// password and PIN, each bound to one of up to `PAYEES_MAX` new payees.
    pub async fn seed_ready_accounts(&self, accounts: usize) -> anyhow::Result<Fixtures> {
        let services = &self.services;
        let payees = create_payees(&self.mock, accounts.clamp(1, PAYEES_MAX), "压测收款人").await?;
        let spec = FixtureSpec {
            balance: "10000000.00".parse()?,
            pin: Pin::parse(BENCH_PIN).context("bench PIN")?,
            password_hash: hash_password(Password::parse(BENCH_PASSWORD.to_owned())?, HashCost::default()).await?,
            payees,
        };
        let mut ready = Vec::with_capacity(accounts);
        for chunk_start in (0..accounts).step_by(10_000) {
            let count = (accounts - chunk_start).min(10_000);
            ready.extend(fixtures::seed_ready_accounts(services, &spec, chunk_start, count, 64).await?);
        }
        Ok(Fixtures { spec, ready })
    }

    /// `count` withdrawals of `amount` spread evenly over `accounts`, due for
    /// payout or only stored. Due ones are seeded in rounds of one per account,
    /// so the queue interleaves accounts as many users' submissions would;
    /// stored ones in batches per account, which is faster.
    pub async fn seed_withdrawals(
        &self,
        accounts: &[ReadyAccount],
        amount: walletgate::domain::money::Amount,
        count: usize,
        due: bool,
    ) -> anyhow::Result<()> {
        let services = &self.services;
        let rounds: Vec<Vec<usize>> = if due {
            let mut rounds = Vec::new();
            let mut left = count;
            while left > 0 {
                let round = left.min(accounts.len());
                rounds.push(vec![1; round]);
                left -= round;
            }
            rounds
        } else {
            let (each, extra) = (count / accounts.len(), count % accounts.len());
            vec![(0..accounts.len()).map(|n| each + usize::from(n < extra)).collect()]
        };
        for round in rounds {
            let seeds = round
                .into_iter()
                .zip(accounts)
                .map(|(count, account)| fixtures::seed_stored_withdrawals(services, account, amount, count, due));
            let results: Vec<_> = futures_util::stream::iter(seeds).buffer_unordered(16).collect().await;
            for result in results {
                result?;
            }
        }
        Ok(())
    }

    /// `<token> <binding id>` lines for up to `max` accounts spread evenly over `accounts`.
    pub fn write_accounts(&self, accounts: &[ReadyAccount], max: usize, path: &Path) -> anyhow::Result<()> {
        self.write_tokens(accounts, max, path, |account| account.binding_id.to_string())
    }

    /// `<token> <account id>` lines for up to `max` accounts spread evenly
    /// over `accounts`: senders and recipients of the transfer load.
    pub fn write_transfer_accounts(&self, accounts: &[ReadyAccount], max: usize, path: &Path) -> anyhow::Result<()> {
        self.write_tokens(accounts, max, path, |account| account.id.to_string())
    }

    /// `<token> <second>` lines for up to `max` accounts spread evenly over `accounts`.
    fn write_tokens(
        &self,
        accounts: &[ReadyAccount],
        max: usize,
        path: &Path,
        second: impl Fn(&ReadyAccount) -> String,
    ) -> anyhow::Result<()> {
        let services = &self.services;
        let step = (accounts.len() / max.max(1)).max(1);
        let now = chrono::Utc::now();
        let mut text = String::new();
        for account in accounts.iter().step_by(step).take(max) {
            // Bench accounts are fresh: no token of theirs was ever revoked.
            let principal =
                Principal { account_id: account.id.clone(), role: Role::User, generation: 0, session: None };
            let token = services.accounts.tokens.issue_access(&principal, now)?;
            text.push_str(&format!("{token} {}\n", second(account)));
        }
        std::fs::write(path, text)?;
        Ok(())
    }

    /// `<phone> <password>` lines of the first accounts, for the login scenario.
    pub fn write_logins(&self, accounts: &[ReadyAccount], path: &Path) -> anyhow::Result<()> {
        let logins: String =
            accounts.iter().take(LOGINS_MAX).map(|account| format!("{} {BENCH_PASSWORD}\n", account.phone)).collect();
        std::fs::write(path, logins)?;
        Ok(())
    }

    /// Runs the worker's step until nothing is due; how many settled, in how many seconds.
    pub async fn drain(&self) -> anyhow::Result<(usize, f64)> {
        let services = &self.services;
        let started = Instant::now();
        let mut settled = 0usize;
        loop {
            let report = services.worker.settle_due(chrono::Utc::now()).await?;
            settled += report.settled;
            if report.claimed == 0 {
                break;
            }
        }
        Ok((settled, started.elapsed().as_secs_f64()))
    }

    /// `count` transfers of 0.01 CNY between `accounts`, each sent (the
    /// sender's step: debit, record, outbox entry) but not delivered, as a
    /// process that stopped right after sending would leave them. Sent in
    /// rounds of one per sender, each to the sender `round + 1` places on.
    pub async fn seed_in_flight_transfers(&self, accounts: &[ReadyAccount], count: usize) -> anyhow::Result<()> {
        let transfers = &self.services.transfers;
        let amount = Quantity::parse_positive(Asset::Cny, "0.01")?;
        let senders = accounts.len();
        if senders < 2 {
            bail!("transfers need two accounts at least");
        }
        let mut left = count;
        let mut round = 0;
        while left > 0 {
            let this_round = left.min(senders);
            let offset = 1 + round % (senders - 1);
            let sends = (0..this_round).map(|n| {
                let order = TransferOrder {
                    purpose: TransferPurpose::Payment,
                    to: accounts[(n + offset) % senders].id.clone(),
                    amount,
                    source: LedgerAccount::UserAvailable,
                    fee: None,
                    memo: "bench".into(),
                    names: PartyNames { from: "压测".into(), to: "压测".into() },
                };
                transfers.send(&accounts[n].id, order)
            });
            let results: Vec<_> = futures_util::stream::iter(sends).buffer_unordered(16).collect().await;
            for result in results {
                result?;
            }
            left -= this_round;
            round += 1;
        }
        Ok(())
    }

    /// Runs the worker's transfer delivery (`Transfers::deliver_due`, at the
    /// time the outbox hands transfers to it) until nothing is left due; how
    /// many it delivered, in how many seconds.
    pub async fn drain_transfers(&self) -> anyhow::Result<(usize, f64)> {
        let transfers = &self.services.transfers;
        let started = Instant::now();
        let mut delivered = 0usize;
        loop {
            let due_at = chrono::Utc::now() + transfers.policy.redeliver_after;
            let outcomes = transfers.deliver_due(due_at).await?;
            if outcomes.is_empty() {
                break;
            }
            delivered += outcomes.iter().filter(|o| matches!(o, Ok(ClaimOutcome::TransferDelivered))).count();
        }
        Ok((delivered, started.elapsed().as_secs_f64()))
    }

    /// `count` withdrawals of `amount` over `accounts`, each falling due at
    /// an instant of its own spread evenly over the next day of business
    /// time, then one advance of the simulated clock by a day, which settles
    /// them in due order before it returns: what it did, and how long it took.
    pub async fn advance_one_day(
        &self,
        accounts: &[ReadyAccount],
        amount: walletgate::domain::money::Amount,
        count: usize,
    ) -> anyhow::Result<ClockRun> {
        let services = &self.services;
        let clock = services.sim_clock.as_ref().context("the simulated clock needs mock_wechat.enabled")?;
        self.seed_withdrawals(accounts, amount, count, true).await?;
        let store = &services.partitions.store;
        let due = store.scheduled(PAYOUT_SCHEDULE, i64::MAX, count).await?;
        let (from_ms, day_ms) = (services.partitions.now().timestamp_millis(), 86_400_000_i64);
        for (n, (member, _)) in due.iter().enumerate() {
            let at_ms = from_ms + 1 + n as i64 * day_ms / due.len() as i64;
            store.schedule(PAYOUT_SCHEDULE, member, at_ms).await?;
        }
        let operator = walletgate::domain::account::AccountId::parse("acc_demo_operator").context("operator id")?;
        let started = Instant::now();
        let advanced = clock.advance(&operator, AdvanceTo::By { secs: 86_400 }).await?;
        Ok(ClockRun {
            settled: advanced.work.settled,
            steps: advanced.steps,
            complete: advanced.complete,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The due-to-settled latency at `rate` withdrawals a second, on
    /// `LATENCY_ACCOUNTS` accounts seeded after the `accounts` of the run;
    /// the note that reports it.
    pub async fn latency_run(
        &self,
        fixtures: &Fixtures,
        accounts: usize,
        rate: u64,
        poll_interval: Duration,
        store_name: &str,
    ) -> anyhow::Result<String> {
        let services = &self.services;
        // Accounts and payees of its own: the load has used up the mock
        // payees' daily receiving quota, which would fail these payouts.
        let latency_payees = create_payees(&self.mock, LATENCY_ACCOUNTS, "延迟收款人").await?;
        let latency_spec = FixtureSpec { payees: latency_payees, ..fixtures.spec.clone() };
        let latency_accounts =
            fixtures::seed_ready_accounts(services, &latency_spec, accounts, LATENCY_ACCOUNTS, 64).await?;
        due_to_settled(services, &latency_accounts, rate, poll_interval, store_name, accounts).await
    }

    /// Whether the ledger balances, and what it has in flight per asset (`CNY 0.00`).
    pub async fn ledger_balanced(&self) -> anyhow::Result<(bool, Vec<String>)> {
        let check = self.services.ledger_check.check_ledger().await?;
        let in_flight =
            check.assets.iter().map(|asset| format!("{} {}", asset.asset.code(), asset.totals.in_flight)).collect();
        Ok((check.balanced, in_flight))
    }
}

/// `count` new mock WeChat users to be paid, by openid.
async fn create_payees(mock: &MockWeChat, count: usize, nickname: &str) -> anyhow::Result<Vec<String>> {
    let mut payees = Vec::with_capacity(count);
    for _ in 0..count {
        let user = mock.create_user(&NewMockUser::new(nickname, MockUserFlags::default())?).await?;
        payees.push(user.openid);
    }
    Ok(payees)
}

/// Submits `rate` withdrawals a second for `LATENCY_SECS` while the background
/// worker runs as in production, and reports how long each waited from due
/// (created, with no review delay) to settled.
async fn due_to_settled(
    services: &ServiceSet,
    accounts: &[ReadyAccount],
    rate: u64,
    poll_interval: Duration,
    store_name: &str,
    account_count: usize,
) -> anyhow::Result<String> {
    let worker = walletgate::worker::spawn(services.worker.clone(), poll_interval);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut submissions = Vec::new();
    let pin = Pin::parse(BENCH_PIN).context("bench PIN")?;
    for n in 0..(rate * LATENCY_SECS) as usize {
        ticker.tick().await;
        let account = accounts[n % accounts.len()].clone();
        let services = services.clone();
        let request = WithdrawalRequest {
            amount: "1.00".parse()?,
            binding_id: account.binding_id.clone(),
            pin: pin.clone(),
            quote_id: None,
        };
        submissions.push(tokio::spawn(async move {
            let key = IdempotencyKey::parse(&format!("latency-{}-{n}", std::process::id()))
                .ok_or_else(|| walletgate::error::ApiError::internal(anyhow::anyhow!("bad idempotency key")))?;
            let caller = Principal { account_id: account.id.clone(), role: Role::User, generation: 0, session: None };
            let reply = services.withdrawals.submit_withdrawal(&caller, &key, request).await?;
            let id = match reply.outcome {
                Submitted::Held { withdrawal } => Some(withdrawal.id),
                Submitted::Refused { .. } => None,
            };
            Ok::<_, walletgate::error::ApiError>((account.id, id))
        }));
    }
    let mut submitted = Vec::new();
    for task in submissions {
        if let (account, Some(id)) = task.await?? {
            submitted.push((account, id));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut waits_ms = Vec::with_capacity(submitted.len());
    for (account, id) in &submitted {
        loop {
            let withdrawal = services.withdrawal_reads.withdrawal(account, id).await?;
            if let Some(settled) = withdrawal.history.iter().find(|change| change.status == WithdrawalStatus::Settled) {
                waits_ms
                    .push((settled.at - withdrawal.created_at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0);
                break;
            }
            if Instant::now() > deadline {
                bail!("withdrawal {id} was not settled within a minute");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    worker.stop().await;
    waits_ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        waits_ms
            .get(((waits_ms.len() as f64 * q) as usize).min(waits_ms.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Ok(format!(
        "{store_name}, {account_count} accounts: due-to-settled with the background worker (poll {} ms) at {rate} withdrawals/s for {LATENCY_SECS} s: {} settled, p50 {:.1} ms, **p99 {:.1} ms**, max {:.1} ms",
        poll_interval.as_millis(),
        waits_ms.len(),
        at(0.5),
        at(0.99),
        waits_ms.last().copied().unwrap_or(0.0)
    ))
}
