//! walletgate-bench: measures walletgate's real flows against the
//! framework's ceiling, in one run on one machine.
//!
//! For each store (memory, one Redis, a Redis Cluster) and account count it starts walletgate
//! in this process (the same `Application` the binary runs) and, beside it,
//! a bare actix-web JSON endpoint with the same server settings; seeds
//! ready-to-withdraw accounts straight through the store; then drives load
//! over loopback with `wrk` (Debian's package) and the Lua scripts in
//! `bench/lua`, for a fixed duration per scenario. Every scenario is
//! reported as a ratio to the bare endpoint measured in the same run, since
//! absolute numbers drift between machines. It also drains the withdrawals
//! the load created through the settlement worker's step, and reports memory
//! per account (peak RSS of this process, Redis `used_memory`). On Redis it
//! reads each node's counters around the withdrawal loads and the drain, to
//! show how evenly a cluster's masters share the work, and looks for hot
//! keys in a sample of a cluster's commands.
//!
//! The modules, by job:
//! - `config`: the command line and the settings walletgate runs with;
//! - `scenarios`: one store at one scale, step by step;
//! - `fixtures`: ready-to-withdraw accounts and stored withdrawals, written in bulk;
//! - `gateway`: walletgate in this process, its seeding, worker and ledger
//!   (the only module calling into `walletgate::services`);
//! - `load`: the load drivers (`wrk`, the bare endpoint, `redis-benchmark`);
//! - `peers`: the peer mock servers (Prism, Mockoon);
//! - `memory`: RSS and Redis memory per account or withdrawal;
//! - `redis_nodes`: the store's Redis nodes (a cluster's masters), their counters and keys;
//! - `spread`: one load's calls and CPU per node;
//! - `hotkeys`: commands per key and slot, from a `MONITOR` sample;
//! - `report`: the scenario lines, the Markdown tables and notes, the failures.
//!
//! `cargo run --release --bin walletgate-bench -- --help`

mod config;
mod fixtures;
mod gateway;
mod hotkeys;
mod load;
mod memory;
mod peers;
mod redis_nodes;
mod report;
mod scenarios;
mod spread;

use std::path::Path;

use anyhow::{Context, bail};
use clap::Parser;

use crate::config::Args;

const BENCH_PIN: &str = "135790";
const BENCH_PASSWORD: &str = "bench-password";

/// mimalloc: a request allocates many small short-lived objects (JSON,
/// records), which it serves faster than the system allocator, and with
/// less fragmentation as the stored state grows (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.clock_only {
        return clock_only(&args).await;
    }
    load::which("wrk").context("wrk is needed: apt-get install wrk")?;
    let lua_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/lua");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "walletgate-bench: {cores} cores, {} connections, {} s per scenario",
        args.connections, args.duration_secs
    );
    let mut results = Vec::new();
    let mut notes = Vec::new();
    let mut spreads = Vec::new();
    let mut problems = Vec::new();
    let mut peers_due = !args.no_peers;
    for store in &args.stores {
        for &accounts in &args.accounts {
            let with_peers = std::mem::replace(&mut peers_due, false);
            let outcome = scenarios::run_store(&args, store, accounts, &lua_dir, with_peers).await?;
            results.extend(outcome.measured);
            notes.extend(outcome.notes);
            spreads.extend(outcome.spreads);
            problems.extend(outcome.problems);
        }
    }
    let mut tables = report::markdown_table(&results);
    if !spreads.is_empty() {
        tables.push_str(&format!("\nPer Redis node:\n\n{}", spread::markdown_table(&spreads)));
    }
    println!("\n{tables}");
    for note in &notes {
        println!("{note}");
    }
    let mut failed = report::failures(&results, &notes);
    failed.extend(problems);
    if let Some(path) = &args.markdown {
        let how = format!(
            "{cores} cores shared by server and load generator, wrk -t{} -c{} -d{}s",
            args.wrk_threads, args.connections, args.duration_secs
        );
        report::append_markdown(path, &how, &tables, &notes)?;
    }
    if !failed.is_empty() {
        bail!("the run met errors:\n{}", failed.join("\n"));
    }
    Ok(())
}

/// `--clock-only`: the simulated clock's scenario alone, on the memory store.
async fn clock_only(args: &Args) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let outcome = scenarios::run_clock_only(args).await?;
    for note in &outcome.notes {
        println!("{note}");
    }
    if let Some(path) = &args.markdown {
        report::append_markdown(path, &format!("{cores} cores, memory store, no load generator"), "", &outcome.notes)?;
    }
    let mut failed = report::failures(&[], &outcome.notes);
    failed.extend(outcome.problems);
    if !failed.is_empty() {
        bail!("the run met errors:\n{}", failed.join("\n"));
    }
    Ok(())
}
