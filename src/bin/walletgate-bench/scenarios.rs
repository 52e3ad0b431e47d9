//! One full run of one store at one scale, step by step: start walletgate
//! and the bare endpoint, seed the accounts (and stored withdrawals), write
//! the load's input files, drive the HTTP scenarios, compare with the peer
//! mock servers, measure the worker (drain rate, due-to-settled latency),
//! check the ledger, and clean up. Each step adds its measurements or notes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use walletgate::domain::money::Amount;

use crate::BENCH_PIN;
use crate::config::{Args, bench_settings};
use crate::gateway::{Fixtures, Gateway, ReadyAccount};
use crate::load::{Measured, free_port, redis_benchmark_set, spawn_bare, wrk};
use crate::memory::{memory_per, redis_per, redis_used_memory, rss_kib};
use crate::peers;
use crate::report::Recorder;

/// Accounts the seeded due and stored withdrawals are spread over.
const WITHDRAWAL_ACCOUNTS_MAX: usize = 1_000;

/// One store at one scale: what every step of its run reads.
struct Run<'a> {
    args: &'a Args,
    lua_dir: &'a Path,
    store_name: &'a str,
    accounts: usize,
}

/// The load's input files, in a temp directory of the run's own.
struct LoadFiles {
    dir: PathBuf,
    /// `<token> <binding id>` of the active accounts, spread over all of them.
    spread: String,
    /// The same for account 0 alone.
    hot: String,
    /// `<phone> <password>` lines.
    logins: String,
}

/// Runs every scenario on `store_name` seeded with `accounts` accounts: the
/// measured scenarios, and the notes (memory, peers, worker, ledger).
pub async fn run_store(
    args: &Args,
    store_name: &str,
    accounts: usize,
    lua_dir: &Path,
    with_peers: bool,
) -> anyhow::Result<(Vec<Measured>, Vec<String>)> {
    println!("\n== {store_name}, {accounts} accounts");
    let run = Run { args, lua_dir, store_name, accounts };
    let settings = bench_settings(store_name, &args.redis_url)?;
    let workers = settings.server.workers;
    let poll_interval = Duration::from_millis(settings.worker.poll_interval_ms);
    let prefix = settings.store.key_prefix.clone();
    let (gateway, base, server) = Gateway::start(settings).await?;
    let (bare_base, bare) = spawn_bare(workers)?;

    let mut notes = Vec::new();
    let fixtures = run.seed(&gateway, &mut notes).await?;
    let files = write_load_files(&gateway, &fixtures.ready, args.active_accounts)?;

    let bare_run = wrk(args, lua_dir, "hello.lua", &format!("{bare_base}/hello"), &[])?;
    let mut recorder = Recorder::new(store_name, accounts, bare_run.per_sec);
    recorder.record("bare actix GET /hello (ceiling)", bare_run);
    let tag = format!("{}", std::process::id());
    let spread_run = run.measure_gateway(&mut recorder, &base, &files, &tag, &mut notes)?;
    if with_peers {
        run.compare_with_peers(&mut recorder, &files, &tag, &spread_run, &mut notes).await?;
    }
    let set_rate = if store_name == "redis" { redis_benchmark_set(&args.redis_url) } else { None };
    if let Some(set_rate) = set_rate {
        notes.push(format!(
            "redis-benchmark SET (same server, same run): {set_rate:.0} ops/s; POST /v1/withdrawals (spread) is {:.1} % of it",
            100.0 * spread_run.per_sec / set_rate
        ));
    }
    run.measure_worker(&gateway, &fixtures, poll_interval, &mut notes).await?;
    let balanced = gateway.ledger_balanced().await?;
    notes.push(format!("{store_name}, {accounts} accounts: ledger check after the run: balanced = {balanced}"));

    bare.abort();
    server.abort();
    let _ = std::fs::remove_dir_all(&files.dir);
    if store_name == "redis" {
        clean_redis(&args.redis_url, &prefix);
    }
    Ok((recorder.measured, notes))
}

impl Run<'_> {
    /// Seeds the accounts and, if asked, the stored withdrawals, noting the
    /// time and memory each took.
    async fn seed(&self, gateway: &Gateway, notes: &mut Vec<String>) -> anyhow::Result<Fixtures> {
        let Run { args, store_name, accounts, .. } = *self;
        let rss_before = rss_kib("VmRSS:");
        let redis_before = redis_used_memory(args, store_name);
        let started = Instant::now();
        let fixtures = gateway.seed_ready_accounts(accounts).await?;
        let seeded_in = started.elapsed();
        notes.push(format!(
            "{store_name}, {accounts} accounts: seeded in {:.1} s{}{}",
            seeded_in.as_secs_f64(),
            memory_per(accounts, rss_before, rss_kib("VmRSS:"), "account (RSS of the server process)"),
            redis_per(args, store_name, redis_before, accounts, "account"),
        ));
        let withdrawal_accounts = withdrawal_accounts(&fixtures.ready);
        if args.stored_withdrawals > 0 && !withdrawal_accounts.is_empty() {
            let rss_before = rss_kib("VmRSS:");
            let redis_before = redis_used_memory(args, store_name);
            let started = Instant::now();
            gateway.seed_withdrawals(withdrawal_accounts, one_yuan()?, args.stored_withdrawals, false).await?;
            notes.push(format!(
                "{store_name}, {accounts} accounts: {} stored withdrawals in {:.1} s{}{}",
                args.stored_withdrawals,
                started.elapsed().as_secs_f64(),
                memory_per(
                    args.stored_withdrawals,
                    rss_before,
                    rss_kib("VmRSS:"),
                    "stored withdrawal (record, journal entry, index entry)"
                ),
                redis_per(args, store_name, redis_before, args.stored_withdrawals, "stored withdrawal"),
            ));
        }
        Ok(fixtures)
    }

    /// walletgate's HTTP scenarios; the spread withdrawals' run, which the
    /// peers and Redis are compared with.
    fn measure_gateway(
        &self,
        recorder: &mut Recorder,
        base: &str,
        files: &LoadFiles,
        tag: &str,
        notes: &mut Vec<String>,
    ) -> anyhow::Result<Measured> {
        let Run { args, lua_dir, store_name, accounts } = *self;
        let spread = &files.spread;
        let hot = &files.hot;
        recorder.record("GET /v1/wallet", wrk(args, lua_dir, "wallet.lua", &format!("{base}/v1/wallet"), &[spread])?);
        recorder.record(
            "POST /v1/withdrawals/quote",
            wrk(args, lua_dir, "quote.lua", &format!("{base}/v1/withdrawals/quote"), &[spread])?,
        );
        let withdrawals = &format!("{base}/v1/withdrawals");
        let rss_before = rss_kib("VmRSS:");
        let redis_before = redis_used_memory(args, store_name);
        let spread_run = recorder.record(
            "POST /v1/withdrawals (spread)",
            wrk(args, lua_dir, "withdraw.lua", withdrawals, &[spread, BENCH_PIN, &format!("s{tag}")])?,
        );
        notes.push(format!(
            "{store_name}, {accounts} accounts: memory kept by the {} withdrawals submitted over HTTP{}{}",
            spread_run.requests,
            memory_per(
                spread_run.requests as usize,
                rss_before,
                rss_kib("VmRSS:"),
                "withdrawal (record, journal entry, index and schedule entries, event, and the idempotency reply kept 24 h)"
            ),
            redis_per(args, store_name, redis_before, spread_run.requests as usize, "withdrawal"),
        ));
        recorder.record(
            "POST /v1/withdrawals (one hot account)",
            wrk(args, lua_dir, "withdraw.lua", withdrawals, &[hot, BENCH_PIN, &format!("h{tag}")])?,
        );
        recorder.record(
            "POST /v1/auth/login (Argon2id)",
            wrk(args, lua_dir, "login.lua", &format!("{base}/v1/auth/login"), &[&files.logins])?,
        );
        Ok(spread_run)
    }

    /// The same spread withdrawals against Prism and Mockoon's static mocks of the endpoint.
    async fn compare_with_peers(
        &self,
        recorder: &mut Recorder,
        files: &LoadFiles,
        tag: &str,
        spread_run: &Measured,
        notes: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let Run { args, lua_dir, .. } = *self;
        let spread = &files.spread;
        let openapi = files.dir.join("openapi.json");
        std::fs::write(&openapi, serde_json::to_string(&walletgate::routes::docs::document(true))?)?;
        let peers_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/peers");
        peers::install(&peers_dir)?;
        let peer_runs = [
            (
                "Prism static mock of POST /v1/withdrawals",
                peers::start_prism(&peers_dir, &openapi, free_port()?).await?,
            ),
            ("Mockoon static mock of POST /v1/withdrawals", peers::start_mockoon(&peers_dir, free_port()?).await?),
        ];
        for (scenario, peer) in peer_runs {
            let url = format!("{}/v1/withdrawals", peer.base_url);
            let run = recorder
                .record(scenario, wrk(args, lua_dir, "withdraw.lua", &url, &[spread, BENCH_PIN, &format!("p{tag}")])?);
            notes.push(format!(
                "walletgate's stateful POST /v1/withdrawals (spread) did {:.1}× the requests/s of {}'s static mock of it ({:.0} vs {:.0} req/s)",
                spread_run.per_sec / run.per_sec.max(1e-9),
                peer.name,
                spread_run.per_sec,
                run.per_sec
            ));
        }
        Ok(())
    }

    /// The worker. First what the load left due (one hot account's thousands
    /// queue behind each other), then a fresh set spread over many accounts,
    /// then the due-to-settled latency with the background worker.
    async fn measure_worker(
        &self,
        gateway: &Gateway,
        fixtures: &Fixtures,
        poll_interval: Duration,
        notes: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let Run { args, store_name, accounts, .. } = *self;
        let (settled, seconds) = gateway.drain().await?;
        notes.push(format!(
            "{store_name}, {accounts} accounts: the worker settled the load's {settled} due withdrawals in {seconds:.1} s = {:.0} settlements/s",
            settled as f64 / seconds.max(1e-9)
        ));
        let withdrawal_accounts = withdrawal_accounts(&fixtures.ready);
        if args.drain > 0 && !withdrawal_accounts.is_empty() {
            gateway.seed_withdrawals(withdrawal_accounts, one_yuan()?, args.drain, true).await?;
            let (settled, seconds) = gateway.drain().await?;
            notes.push(format!(
                "{store_name}, {accounts} accounts: worker settlement rate: {settled} due withdrawals over {} accounts settled in {seconds:.2} s = **{:.0} settlements/s**",
                withdrawal_accounts.len(),
                settled as f64 / seconds.max(1e-9)
            ));
        }
        if args.latency_rate > 0 {
            notes.push(gateway.latency_run(fixtures, accounts, args.latency_rate, poll_interval, store_name).await?);
        }
        Ok(())
    }
}

/// The accounts withdrawal fixtures go to: accounts 1.., so the hot account 0
/// stays as the load found it.
fn withdrawal_accounts(ready: &[ReadyAccount]) -> &[ReadyAccount] {
    &ready[1.min(ready.len())..ready.len().min(WITHDRAWAL_ACCOUNTS_MAX + 1)]
}

/// The amount of every seeded withdrawal.
fn one_yuan() -> anyhow::Result<Amount> {
    Ok("1.00".parse()?)
}

fn write_load_files(gateway: &Gateway, ready: &[ReadyAccount], active_accounts: usize) -> anyhow::Result<LoadFiles> {
    let dir = std::env::temp_dir().join(format!("walletgate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let spread_file = dir.join("accounts.txt");
    let hot_file = dir.join("hot.txt");
    let logins_file = dir.join("logins.txt");
    gateway.write_accounts(ready, active_accounts, &spread_file)?;
    gateway.write_accounts(&ready[..1], 1, &hot_file)?;
    gateway.write_logins(ready, &logins_file)?;
    Ok(LoadFiles {
        spread: spread_file.to_string_lossy().to_string(),
        hot: hot_file.to_string_lossy().to_string(),
        logins: logins_file.to_string_lossy().to_string(),
        dir,
    })
}

fn clean_redis(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else { return };
    let Ok(mut connection) = client.get_connection() else { return };
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query(&mut connection).unwrap_or_default();
    for chunk in keys.chunks(1000) {
        let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(chunk).query(&mut connection);
    }
}
