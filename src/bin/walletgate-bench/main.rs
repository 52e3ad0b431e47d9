//! walletgate-bench: measures walletgate's real flows against the
//! framework's ceiling, in one run on one machine.
//!
//! For each store (memory, Redis) and account count it starts walletgate
//! in this process (the same `Application` the binary runs) and, beside it,
//! a bare actix-web JSON endpoint with the same server settings; seeds
//! ready-to-withdraw accounts straight through the store; then drives load
//! over loopback with `wrk` (Debian's package) and the Lua scripts in
//! `bench/lua`, for a fixed duration per scenario. Every scenario is
//! reported as a ratio to the bare endpoint measured in the same run, since
//! absolute numbers drift between machines. It also drains the withdrawals
//! the load created through the settlement worker's step, and reports memory
//! per account (peak RSS of this process, Redis `used_memory`).
//!
//! `cargo run --release --bin walletgate-bench -- --help`

// Used by the peer scenarios once they are wired in.
mod peers;

use walletgate::domain::withdrawal_decision::IdempotencyKey;
use walletgate::services::withdrawal_submission::Submitted;
use walletgate::services::withdrawals::WithdrawalRequest;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use walletgate::auth::Principal;
use walletgate::clock::SystemClock;
use walletgate::domain::account::Role;
use walletgate::domain::credentials::Password;
use walletgate::domain::pin::Pin;
use walletgate::domain::withdrawal::WithdrawalStatus;
use walletgate::providers::wechat::mock::{MockUserFlags, MockWeChat, NewMockUser};
use walletgate::services::ServiceSet;
use walletgate::services::accounts::hash_password;
use walletgate::services::fixtures;
use walletgate::services::fixtures::{FixtureSpec, ReadyAccount};
use walletgate::settings::{Overrides, Settings};
use walletgate::startup::{Application, connect_store};

const BENCH_PIN: &str = "135790";
const BENCH_PASSWORD: &str = "bench-password";
/// Mock WeChat payees the accounts are bound to, round robin (at most one per account).
const PAYEES_MAX: usize = 5_000;
/// Accounts the seeded due and stored withdrawals are spread over.
const WITHDRAWAL_ACCOUNTS_MAX: usize = 1_000;
/// Accounts (each paying a payee of its own) the latency scenario submits for.
const LATENCY_ACCOUNTS: usize = 200;
/// How long the paced submissions of the latency scenario last.
const LATENCY_SECS: u64 = 5;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks walletgate against a bare actix endpoint, on the memory store and on Redis")]
struct Args {
    /// Stores to measure: memory, redis.
    #[arg(long, value_delimiter = ',', default_value = "memory,redis")]
    stores: Vec<String>,
    /// Account counts to seed, one full run each (e.g. 1000,100000,1000000).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    accounts: Vec<usize>,
    /// Seconds per load scenario.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Accounts the spread scenarios rotate through, picked evenly over all
    /// of them; the same number at every scale, so growing data is what
    /// changes between scales (a larger set of clients is its own question).
    #[arg(long, default_value_t = 1000)]
    active_accounts: usize,
    /// Open connections of the load generator.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Load generator threads (they share the cores with the server).
    #[arg(long, default_value_t = 2)]
    wrk_threads: usize,
    #[arg(long, default_value = "redis://127.0.0.1:6379/0")]
    redis_url: String,
    /// Due withdrawals seeded for the worker's settlement rate.
    #[arg(long, default_value_t = 20_000)]
    drain: usize,
    /// Withdrawals per second submitted while the background worker runs,
    /// for the due-to-settled latency (0: skip).
    #[arg(long, default_value_t = 200)]
    latency_rate: u64,
    /// Withdrawals stored before the load, for memory per stored withdrawal
    /// (and to show that throughput does not bend with them).
    #[arg(long, default_value_t = 0)]
    stored_withdrawals: usize,
    /// Skip the peer mock servers (Prism, Mockoon; they need Node.js and npm).
    #[arg(long)]
    no_peers: bool,
    /// Also append the results table to this Markdown file.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// One measured scenario.
#[derive(Debug, Clone)]
struct Measured {
    store: String,
    accounts: usize,
    scenario: String,
    requests: u64,
    per_sec: f64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    errors: u64,
    ratio: Option<f64>,
}

/// mimalloc: a request allocates many small short-lived objects (JSON,
/// records), which it serves faster than the system allocator, and with
/// less fragmentation as the stored state grows (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    which("wrk").context("wrk is needed: apt-get install wrk")?;
    let lua_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/lua");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "walletgate-bench: {cores} cores, {} connections, {} s per scenario",
        args.connections, args.duration_secs
    );
    let mut results = Vec::new();
    let mut notes = Vec::new();
    let mut peers_due = !args.no_peers;
    for store in &args.stores {
        for &accounts in &args.accounts {
            let with_peers = std::mem::replace(&mut peers_due, false);
            let (measured, note) = run_store(&args, store, accounts, &lua_dir, with_peers).await?;
            results.extend(measured);
            notes.extend(note);
        }
    }
    let table = markdown_table(&results);
    println!("\n{table}");
    for note in &notes {
        println!("{note}");
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|run| run.errors > 0)
        .map(|run| format!("{} ({}, {} accounts): {} errors", run.scenario, run.store, run.accounts, run.errors))
        .chain(notes.iter().filter(|note| note.contains("balanced = false")).cloned())
        .collect();
    if let Some(path) = &args.markdown {
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let mut text = format!(
            "\n### Run of {}\n\n`{command}` — {cores} cores shared by server and load generator, wrk -t{} -c{} -d{}s\n\n{table}\n",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
            args.wrk_threads,
            args.connections,
            args.duration_secs
        );
        for note in &notes {
            text.push_str(&format!("- {note}\n"));
        }
        let mut existing = std::fs::read_to_string(path).unwrap_or_default();
        existing.push_str(&text);
        std::fs::write(path, existing)?;
    }
    if !failed.is_empty() {
        bail!("the run met errors:\n{}", failed.join("\n"));
    }
    Ok(())
}

fn bench_settings(store: &str, redis_url: &str) -> anyhow::Result<Settings> {
    let mut settings = Settings::load(&Overrides::default())?;
    settings.server.port = 0;
    settings.log.level = "warn".into();
    settings.store.url = match store {
        "memory" => "memory://".into(),
        "redis" => redis_url.to_owned(),
        other => bail!("unknown store {other:?}: memory or redis"),
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
    settings.withdrawals.auto_review_delay_secs = 0;
    settings.auth.access_token_ttl_secs = 86_400;
    // The worker runs on demand below, so the drain is measured on its own.
    settings.worker.enabled = false;
    settings.worker.batch_size = 500;
    settings.worker.concurrency = 32;
    Ok(settings)
}

async fn run_store(
    args: &Args,
    store_name: &str,
    accounts: usize,
    lua_dir: &Path,
    with_peers: bool,
) -> anyhow::Result<(Vec<Measured>, Vec<String>)> {
    println!("\n== {store_name}, {accounts} accounts");
    let settings = bench_settings(store_name, &args.redis_url)?;
    let workers = settings.server.workers;
    let poll_interval = Duration::from_millis(settings.worker.poll_interval_ms);
    let prefix = settings.store.key_prefix.clone();
    let store = connect_store(&settings.store).await?;
    let application = Application::build_with_store(settings, Arc::new(SystemClock), store).await?;
    let services = application.services().clone();
    let mock = application.mock_wechat().cloned().context("the mock WeChat must be enabled")?;
    let base = format!("http://127.0.0.1:{}", application.port());
    let server = tokio::spawn(application.run_until_stopped());
    let (bare_base, bare) = spawn_bare(workers)?;

    let rss_before = rss_kib("VmRSS:");
    let redis_before = redis_used_memory(args, store_name);
    let started = Instant::now();
    let payees = create_payees(&mock, accounts.clamp(1, PAYEES_MAX), "压测收款人").await?;
    let spec = FixtureSpec {
        balance: "10000000.00".parse()?,
        pin: Pin::parse(BENCH_PIN).context("bench PIN")?,
        password_hash: hash_password(Password::parse(BENCH_PASSWORD.to_owned())?).await?,
        payees,
    };
    let mut ready = Vec::with_capacity(accounts);
    for chunk_start in (0..accounts).step_by(10_000) {
        let count = (accounts - chunk_start).min(10_000);
        ready.extend(fixtures::seed_ready_accounts(&services, &spec, chunk_start, count, 64).await?);
    }
    let seeded_in = started.elapsed();
    let mut notes = vec![format!(
        "{store_name}, {accounts} accounts: seeded in {:.1} s{}{}",
        seeded_in.as_secs_f64(),
        memory_per(accounts, rss_before, rss_kib("VmRSS:"), "account (RSS of the server process)"),
        redis_per(args, store_name, redis_before, accounts, "account"),
    )];
    let one = "1.00".parse()?;
    // Withdrawal fixtures go to accounts 1.., so the hot account 0 stays as the load found it.
    let withdrawal_accounts = &ready[1.min(ready.len())..ready.len().min(WITHDRAWAL_ACCOUNTS_MAX + 1)];
    if args.stored_withdrawals > 0 && !withdrawal_accounts.is_empty() {
        let rss_before = rss_kib("VmRSS:");
        let redis_before = redis_used_memory(args, store_name);
        let started = Instant::now();
        seed_withdrawals(&services, withdrawal_accounts, one, args.stored_withdrawals, false).await?;
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

    let work_dir = std::env::temp_dir().join(format!("walletgate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work_dir)?;
    let spread_file = work_dir.join("accounts.txt");
    let hot_file = work_dir.join("hot.txt");
    let logins_file = work_dir.join("logins.txt");
    write_accounts(&services, &ready, args.active_accounts, &spread_file)?;
    write_accounts(&services, &ready[..1], 1, &hot_file)?;
    let logins: String =
        ready.iter().take(1000).map(|account| format!("{} {BENCH_PASSWORD}\n", account.phone)).collect();
    std::fs::write(&logins_file, logins)?;

    let mut measured = Vec::new();
    let spread = spread_file.to_string_lossy().to_string();
    let hot = hot_file.to_string_lossy().to_string();
    let bare_run = wrk(args, lua_dir, "hello.lua", &format!("{bare_base}/hello"), &[])?;
    let ceiling = bare_run.per_sec;
    let mut record = |scenario: &str, mut run: Measured| {
        run.store = store_name.to_owned();
        run.accounts = accounts;
        run.scenario = scenario.to_owned();
        run.ratio = Some(run.per_sec / ceiling);
        println!(
            "  {scenario:<40} {:>9.0} req/s  ({:.1} % of bare)  p99 {:.2} ms  errors {}",
            run.per_sec,
            100.0 * run.per_sec / ceiling,
            run.p99_us as f64 / 1000.0,
            run.errors
        );
        measured.push(run.clone());
        run
    };
    record("bare actix GET /hello (ceiling)", bare_run.clone());
    record("GET /v1/wallet", wrk(args, lua_dir, "wallet.lua", &format!("{base}/v1/wallet"), &[&spread])?);
    record(
        "POST /v1/withdrawals/quote",
        wrk(args, lua_dir, "quote.lua", &format!("{base}/v1/withdrawals/quote"), &[&spread])?,
    );
    let tag = format!("{}", std::process::id());
    let withdrawals = &format!("{base}/v1/withdrawals");
    let rss_before = rss_kib("VmRSS:");
    let redis_before = redis_used_memory(args, store_name);
    let spread_run = record(
        "POST /v1/withdrawals (spread)",
        wrk(args, lua_dir, "withdraw.lua", withdrawals, &[&spread, BENCH_PIN, &format!("s{tag}")])?,
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
    record(
        "POST /v1/withdrawals (one hot account)",
        wrk(args, lua_dir, "withdraw.lua", withdrawals, &[&hot, BENCH_PIN, &format!("h{tag}")])?,
    );
    let logins_path = logins_file.to_string_lossy().to_string();
    record(
        "POST /v1/auth/login (Argon2id)",
        wrk(args, lua_dir, "login.lua", &format!("{base}/v1/auth/login"), &[&logins_path])?,
    );
    if with_peers {
        let openapi = work_dir.join("openapi.json");
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
            let run =
                record(scenario, wrk(args, lua_dir, "withdraw.lua", &url, &[&spread, BENCH_PIN, &format!("p{tag}")])?);
            notes.push(format!(
                "walletgate's stateful POST /v1/withdrawals (spread) did {:.1}× the requests/s of {}'s static mock of it ({:.0} vs {:.0} req/s)",
                spread_run.per_sec / run.per_sec.max(1e-9),
                peer.name,
                spread_run.per_sec,
                run.per_sec
            ));
        }
    }
    let set_rate = if store_name == "redis" { redis_benchmark_set(&args.redis_url) } else { None };
    if let Some(set_rate) = set_rate {
        notes.push(format!(
            "redis-benchmark SET (same server, same run): {set_rate:.0} ops/s; POST /v1/withdrawals (spread) is {:.1} % of it",
            100.0 * spread_run.per_sec / set_rate
        ));
    }

    // The worker. First what the load left due (one hot account's thousands
    // queue behind each other), then a fresh set spread over many accounts.
    let (settled, seconds) = drain(&services).await?;
    notes.push(format!(
        "{store_name}, {accounts} accounts: the worker settled the load's {settled} due withdrawals in {seconds:.1} s = {:.0} settlements/s",
        settled as f64 / seconds.max(1e-9)
    ));
    if args.drain > 0 && !withdrawal_accounts.is_empty() {
        seed_withdrawals(&services, withdrawal_accounts, one, args.drain, true).await?;
        let (settled, seconds) = drain(&services).await?;
        notes.push(format!(
            "{store_name}, {accounts} accounts: worker settlement rate: {settled} due withdrawals over {} accounts settled in {seconds:.2} s = **{:.0} settlements/s**",
            withdrawal_accounts.len(),
            settled as f64 / seconds.max(1e-9)
        ));
    }
    if args.latency_rate > 0 {
        // Accounts and payees of its own: the load has used up the mock
        // payees' daily receiving quota, which would fail these payouts.
        let latency_payees = create_payees(&mock, LATENCY_ACCOUNTS, "延迟收款人").await?;
        let latency_spec = FixtureSpec { payees: latency_payees, ..spec.clone() };
        let latency_accounts =
            fixtures::seed_ready_accounts(&services, &latency_spec, accounts, LATENCY_ACCOUNTS, 64).await?;
        notes.push(
            due_to_settled(&services, &latency_accounts, args.latency_rate, poll_interval, store_name, accounts)
                .await?,
        );
    }
    let check = services.ledger_check.check_ledger().await?;
    notes.push(format!("{store_name}, {accounts} accounts: ledger check after the run: balanced = {}", check.balanced));

    bare.abort();
    server.abort();
    let _ = std::fs::remove_dir_all(&work_dir);
    if store_name == "redis" {
        clean_redis(&args.redis_url, &prefix);
    }
    Ok((measured, notes))
}

/// `count` withdrawals of `amount` spread evenly over `accounts`, due for
/// payout or only stored. Due ones are seeded in rounds of one per account,
/// so the queue interleaves accounts as many users' submissions would;
/// stored ones in batches per account, which is faster.
async fn seed_withdrawals(
    services: &ServiceSet,
    accounts: &[ReadyAccount],
    amount: walletgate::domain::money::Amount,
    count: usize,
    due: bool,
) -> anyhow::Result<()> {
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

/// Runs the worker's step until nothing is due; how many settled, in how many seconds.
async fn drain(services: &ServiceSet) -> anyhow::Result<(usize, f64)> {
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
            let caller = Principal { account_id: account.id.clone(), role: Role::User, generation: 0 };
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

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn redis_per(args: &Args, store: &str, before: Option<u64>, count: usize, what: &str) -> String {
    redis_used_memory(args, store)
        .zip(before)
        .map(|(after, before)| {
            format!("; Redis used_memory {:.0} B per {what}", after.saturating_sub(before) as f64 / count.max(1) as f64)
        })
        .unwrap_or_default()
}

/// `<token> <binding id>` lines for up to `max` accounts spread evenly over `accounts`.
/// `count` new mock WeChat users to be paid, by openid.
async fn create_payees(mock: &MockWeChat, count: usize, nickname: &str) -> anyhow::Result<Vec<String>> {
    let mut payees = Vec::with_capacity(count);
    for _ in 0..count {
        let user = mock.create_user(&NewMockUser::new(nickname, MockUserFlags::default())?).await?;
        payees.push(user.openid);
    }
    Ok(payees)
}

fn write_accounts(services: &ServiceSet, accounts: &[ReadyAccount], max: usize, path: &Path) -> anyhow::Result<()> {
    let step = (accounts.len() / max.max(1)).max(1);
    let now = chrono::Utc::now();
    let mut text = String::new();
    for account in accounts.iter().step_by(step).take(max) {
        // Bench accounts are fresh: no token of theirs was ever revoked.
        let principal = Principal { account_id: account.id.clone(), role: Role::User, generation: 0 };
        let token = services.accounts.tokens.issue_access(&principal, now)?;
        text.push_str(&format!("{token} {}\n", account.binding_id));
    }
    std::fs::write(path, text)?;
    Ok(())
}

fn spawn_bare(workers: usize) -> anyhow::Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut server = HttpServer::new(|| {
        App::new().route(
            "/hello",
            web::get().to(|| async { HttpResponse::Ok().json(serde_json::json!({ "hello": "world" })) }),
        )
    })
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok((format!("http://127.0.0.1:{port}"), tokio::spawn(server.run())))
}

fn wrk(args: &Args, lua_dir: &Path, script: &str, url: &str, script_args: &[&str]) -> anyhow::Result<Measured> {
    let output = Command::new("wrk")
        .env("WALLETGATE_BENCH_LUA", lua_dir)
        .arg(format!("-t{}", args.wrk_threads))
        .arg(format!("-c{}", args.connections))
        .arg(format!("-d{}s", args.duration_secs))
        .arg("--timeout")
        .arg("5s")
        .arg("-s")
        .arg(lua_dir.join(script))
        .arg(url)
        .arg("--")
        .args(script_args)
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|line| line.starts_with("BENCH ")).with_context(|| format!("wrk said: {stdout}"))?;
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    let non_2xx = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("Non-2xx or 3xx responses: "))
        .and_then(|count| count.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let requests = field("requests");
    let duration_s = field("duration_us") as f64 / 1e6;
    Ok(Measured {
        store: String::new(),
        accounts: 0,
        scenario: String::new(),
        requests,
        per_sec: requests as f64 / duration_s.max(1e-9),
        p50_us: field("p50_us"),
        p99_us: field("p99_us"),
        p999_us: field("p999_us"),
        errors: field("errors").max(non_2xx),
        ratio: None,
    })
}

fn redis_benchmark_set(url: &str) -> Option<f64> {
    let port = url.rsplit(':').next()?.split('/').next()?.to_owned();
    let output = Command::new("redis-benchmark")
        .args(["-p", &port, "-t", "set", "-n", "200000", "-c", "64", "-q"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "SET: 91743.12 requests per second, p50=0.351 msec"
    let line = text.lines().rev().find(|line| line.contains("SET:"))?;
    // Progress updates come before it on the same line, separated by carriage returns.
    line.rsplit("SET:").next()?.split_whitespace().next()?.parse().ok()
}

fn redis_used_memory(args: &Args, store: &str) -> Option<u64> {
    if store != "redis" {
        return None;
    }
    let port = args.redis_url.rsplit(':').next()?.split('/').next()?.to_owned();
    let output = Command::new("redis-cli").args(["-p", &port, "info", "memory"]).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().find_map(|line| line.strip_prefix("used_memory:")).and_then(|value| value.trim().parse().ok())
}

fn clean_redis(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else { return };
    let Ok(mut connection) = client.get_connection() else { return };
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query(&mut connection).unwrap_or_default();
    for chunk in keys.chunks(1000) {
        let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(chunk).query(&mut connection);
    }
}

/// A size from this process's status (the server runs in it), in KiB:
/// `VmRSS:` resident now, `VmHWM:` peak.
fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn memory_per(count: usize, before_kib: u64, after_kib: u64, what: &str) -> String {
    format!("; {:.0} B per {what}", (after_kib.saturating_sub(before_kib) * 1024) as f64 / count.max(1) as f64)
}

fn markdown_table(results: &[Measured]) -> String {
    let mut table = String::from(
        "| store | accounts | scenario | req/s | × bare | p50 ms | p99 ms | p99.9 ms | requests | errors |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for run in results {
        table.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.1} % | {:.2} | {:.2} | {:.2} | {} | {} |\n",
            run.store,
            run.accounts,
            run.scenario,
            run.per_sec,
            100.0 * run.ratio.unwrap_or(0.0),
            run.p50_us as f64 / 1000.0,
            run.p99_us as f64 / 1000.0,
            run.p999_us as f64 / 1000.0,
            run.requests,
            run.errors
        ));
    }
    table
}

fn which(program: &str) -> anyhow::Result<()> {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    if found { Ok(()) } else { bail!("{program} not found on PATH") }
}
