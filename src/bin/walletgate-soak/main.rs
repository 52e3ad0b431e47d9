//! walletgate-soak: a randomized, fault-injecting soak test of walletgate,
//! in the spirit of TigerBeetle's VOPR and Jepsen.
//!
//! It starts what it drives (a private Redis with an AOF and several
//! gateways on it, or one gateway on the memory store), runs a seeded
//! random workload of every user and operator operation (transfers between
//! its users and operator credits in CNY and USDT among them) from many
//! concurrent clients while injecting seeded faults (`kill -9` and restart
//! of gateways, SIGSTOP of gateways and Redis, `kill -9` of Redis and a
//! restart from its AOF), then stops the faults, lets every withdrawal
//! reach a final state and every transfer in flight arrive, and checks the
//! invariants (docs/soak.md). It prints
//! a summary and exits non-zero on any violation, with the seed, the
//! history of the accounts involved and the command that replays the seed.
//!
//! `cargo build --release --bin walletgate --bin walletgate-soak && target/release/walletgate-soak --help`

mod client;
mod cluster;
mod invariants;
mod money;
mod report;
mod streams;
mod webhooks;
mod workload;
mod world;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};

use crate::client::Api;
use crate::cluster::{Cluster, StoreMode};
use crate::invariants::Checked;
use crate::world::World;

/// The gateway binary the soak starts unless told otherwise.
const DEFAULT_BINARY: &str = "target/release/walletgate";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Store {
    Redis,
    /// A Redis Cluster of three masters with a replica each.
    Cluster,
    Memory,
}

#[derive(Debug, Parser)]
#[command(about = "Soaks walletgate: a seeded random workload under injected faults, then invariant checks")]
struct Args {
    /// Where the gateways keep state: their own Redis (several gateways,
    /// every fault), their own Redis Cluster (three masters with a replica
    /// each; nodes killed, restarted and paused) or the memory store (one
    /// gateway, no process kills).
    #[arg(long, value_enum, default_value = "redis")]
    store: Store,
    /// Seed of the workload and the faults; a random one when not given (printed).
    #[arg(long)]
    seed: Option<u64>,
    /// How long the workload and the faults run, in seconds (quiescence and checks come after).
    #[arg(long, default_value_t = 60)]
    duration_secs: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 24)]
    clients: usize,
    /// Gateways on Redis (at least 2; the last runs without the worker).
    #[arg(long, default_value_t = 3)]
    gateways: usize,
    /// Accounts the workload registers at most.
    #[arg(long, default_value_t = 40)]
    accounts: usize,
    /// Run the workload without faults.
    #[arg(long)]
    no_faults: bool,
    /// The walletgate binary to start.
    #[arg(long, default_value = DEFAULT_BINARY)]
    binary: PathBuf,
    /// Directory for Redis's AOF and the logs (default: a new one under the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the directory even when the run passes.
    #[arg(long)]
    keep_dir: bool,
}

fn replay_command(args: &Args, seed: u64) -> String {
    let store = match args.store {
        Store::Redis => "redis",
        Store::Cluster => "cluster",
        Store::Memory => "memory",
    };
    let mut command = format!(
        "target/release/walletgate-soak --store {store} --seed {seed} --duration-secs {} --clients {} --gateways {} --accounts {}",
        args.duration_secs, args.clients, args.gateways, args.accounts
    );
    if args.no_faults {
        command.push_str(" --no-faults");
    }
    if args.binary != Path::new(DEFAULT_BINARY) {
        command.push_str(&format!(" --binary {}", args.binary.display()));
    }
    command
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(rand::random);
    let replay = replay_command(&args, seed);
    let mode = match args.store {
        Store::Redis => StoreMode::Redis,
        Store::Cluster => StoreMode::RedisCluster,
        Store::Memory => StoreMode::Memory,
    };
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("walletgate-soak-{}-{seed}", std::process::id())));
    println!(
        "walletgate-soak: seed {seed}, {:?} store, {} s, {} clients; logs in {}",
        args.store,
        args.duration_secs,
        args.clients,
        dir.display()
    );
    println!("replay: {replay}");
    let binary = args
        .binary
        .canonicalize()
        .with_context(|| format!("{} not found: cargo build --release --bin walletgate", args.binary.display()))?;

    let receiver = webhooks::Receiver::start(seed)?;
    let cluster = Arc::new(Cluster::start(mode, args.gateways, &binary, &dir, &receiver.url).await?);
    let api = Arc::new(Api::new(cluster.addresses.clone())?);
    let world = Arc::new(World::new(seed, args.accounts.max(4)));
    // The demo accounts' money, which the money invariants leave aside.
    let ledger_before = invariants::ledger_now(&api).await?;
    let listeners = streams::Listeners::start(api.clone(), world.clone())?;
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..args.clients.max(1))
        .map(|id| tokio::spawn(workload::run_client(api.clone(), world.clone(), id, stop.clone())))
        .collect();
    let faults = (!args.no_faults).then(|| tokio::spawn(cluster::inject_faults(cluster.clone(), seed, stop.clone())));
    tokio::time::sleep(Duration::from_secs(args.duration_secs)).await;
    stop.store(true, Ordering::Relaxed);
    let faults = match faults {
        Some(task) => task.await??,
        None => Default::default(),
    };
    for client in clients {
        client.await?;
    }

    let mut checked = Checked::default();
    invariants::quiesce(&api, &world, &cluster, &mut checked).await?;
    invariants::check(&api, &world, &ledger_before, &receiver, &mut checked).await?;
    listeners.check(&api, &world, &mut checked).await;
    report::print(&api.history, &faults, &checked, &replay, seed, &dir);

    let failed = !checked.violations.is_empty();
    drop(cluster);
    if !failed && !args.keep_dir && args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if failed {
        eprintln!("walletgate-soak: {} violations; replay: {replay}", checked.violations.len());
        std::process::exit(1);
    }
    Ok(())
}
