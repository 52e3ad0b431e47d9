//! What one bench run is asked to do: the command line (`Args`), and the
//! walletgate settings every measured server runs with (`bench_settings`):
//! the store chosen (memory, one Redis, a Redis Cluster), a key prefix of its
//! own, and the limits a load from one address and a few accounts would
//! otherwise (rightly) trip.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Parser, ValueEnum};
use walletgate::settings::{Overrides, Settings};

#[derive(Debug, Parser)]
#[command(
    about = "Benchmarks walletgate against a bare actix endpoint, on the memory store, one Redis and a Redis Cluster"
)]
pub struct Args {
    /// Stores to measure: memory, redis (one node, `--redis-url`), cluster
    /// (a Redis Cluster, `--redis-cluster-url`).
    #[arg(long, value_delimiter = ',', default_value = "memory,redis")]
    pub stores: Vec<String>,
    /// Account counts to seed, one full run each (e.g. 1000,100000,1000000).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    pub accounts: Vec<usize>,
    /// Seconds per load scenario.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Accounts the spread scenarios rotate through, picked evenly over all
    /// of them; the same number at every scale, so growing data is what
    /// changes between scales (a larger set of clients is its own question).
    #[arg(long, default_value_t = 1000)]
    pub active_accounts: usize,
    /// Open connections of the load generator.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Load generator threads (they share the cores with the server).
    #[arg(long, default_value_t = 2)]
    pub wrk_threads: usize,
    /// The one Redis of the `redis` store.
    #[arg(long, default_value = "redis://127.0.0.1:6379/0")]
    pub redis_url: String,
    /// The Redis Cluster of the `cluster` store: its seed nodes. Every
    /// master is found from them, and each node's counters are read (and
    /// reset with `CONFIG RESETSTAT`) around the measured loads, so use a
    /// cluster of the bench's own.
    #[arg(long, default_value = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002")]
    pub redis_cluster_url: String,
    /// Due withdrawals seeded for the worker's settlement rate, and transfers
    /// left in flight for its delivery rate.
    #[arg(long, default_value_t = 20_000)]
    pub drain: usize,
    /// Withdrawals per second submitted while the background worker runs,
    /// for the due-to-settled latency (0: skip).
    #[arg(long, default_value_t = 200)]
    pub latency_rate: u64,
    /// Withdrawals stored before the load, for memory per stored withdrawal
    /// (and to show that throughput does not bend with them).
    #[arg(long, default_value_t = 0)]
    pub stored_withdrawals: usize,
    /// Skip the peer mock servers (Prism, Mockoon; they need Node.js and npm).
    #[arg(long)]
    pub no_peers: bool,
    /// Withdrawals for the simulated clock's scenario on the memory store:
    /// due at instants spread over the next day, settled by advancing the
    /// business clock one day (0: skip).
    #[arg(long, default_value_t = 100_000)]
    pub clock_advance: usize,
    /// Run only the simulated clock's scenario, on the memory store (no load
    /// generator needed): the accounts of the first `--accounts` count.
    #[arg(long)]
    pub clock_only: bool,
    /// Also append the results table to this Markdown file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Measure only these parts of a run (all when not given), e.g.
    /// `--only transfers` for the bare endpoint and the transfers alone.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<Part>,
}

/// The parts of one store's run that `--only` picks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// Wallet, quote, withdrawals (spread and one hot account), login; with
    /// the peers' static mocks and Redis's SET rate compared with them.
    Requests,
    /// Transfers between random pairs, and the worker delivering them.
    Transfers,
    /// The worker settling due withdrawals, and the due-to-settled latency.
    Worker,
    /// The simulated clock's day advanced in one step (memory only).
    Clock,
}

impl Args {
    /// Whether this run measures `part`.
    pub fn measures(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

pub fn bench_settings(store: &str, args: &Args) -> anyhow::Result<Settings> {
    let mut settings = Settings::load(&Overrides::default())?;
    settings.server.port = 0;
    settings.log.level = "warn".into();
    settings.store.url = match store {
        "memory" => "memory://".into(),
        "redis" => args.redis_url.clone(),
        "cluster" => args.redis_cluster_url.clone(),
        other => bail!("unknown store {other:?}: memory, redis or cluster"),
    };
    settings.store.key_prefix = format!("wgbench:{}", std::process::id());
    // The load comes from one address and a few accounts at a time: the
    // secret-guessing limits would (rightly) stop it, so they are lifted here.
    let limits = &mut settings.rate_limits;
    for pair in [&mut limits.login, &mut limits.register, &mut limits.sms, &mut limits.pin] {
        for limit in [&mut pair.per_account, &mut pair.per_ip] {
            limit.burst = 1_000_000_000;
            limit.per_minute = 1_000_000_000;
        }
    }
    let l2 = &mut settings.withdrawals.levels.l2;
    l2.daily_amount_max = "100000000000.00".into();
    l2.monthly_amount_max = "100000000000.00".into();
    l2.daily_count_max = u32::MAX;
    // Transfers go between random pairs of the same accounts, thousands each.
    settings.transfers.levels.l2.cny.daily_amount_max = "100000000000.00".into();
    settings.withdrawals.auto_review_delay_secs = 0;
    settings.auth.access_token_ttl_secs = 86_400;
    // The worker's step runs on demand (`Gateway::drain`), so the drain is
    // measured on its own.
    settings.worker.enabled = false;
    settings.worker.batch_size = 500;
    settings.worker.concurrency = 32;
    // The mock WeChat Pay decides each bill in the call that creates it:
    // the drain and the due-to-settled latency measure the gateway's own
    // settlement, not the seconds a realistic bill spends under way.
    settings.mock_wechat.pay.accepted_secs = 0;
    settings.mock_wechat.pay.processing_secs = 0;
    // The request journal would add a store write to every payout and SMS:
    // a debugging aid, off here so the numbers stay those of the gateway and
    // its mock (docs/simulator.md, "Request journal").
    settings.simulator.journal_keep = 0;
    // The clock scenario walks a whole day in one advance: a step per instant
    // where a withdrawal falls due, 100 000 of them by default.
    settings.sim_clock.advance_steps_max = 10 * args.clock_advance.max(1_000);
    Ok(settings)
}
