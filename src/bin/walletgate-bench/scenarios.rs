//! One full run of one store at one scale, step by step: start walletgate
//! and the bare endpoint, seed the accounts (and stored withdrawals), write
//! the load's input files, drive the HTTP scenarios (transfers followed by
//! the worker delivering what they left in flight), compare with the peer
//! mock servers, measure the worker (drain rate, due-to-settled latency),
//! on the memory store settle a day of due withdrawals by advancing the
//! simulated clock (also alone: `run_clock_only`), check the ledger, and
//! clean up. On Redis, the withdrawal loads and the
//! worker's drain are also measured per node (`spread`), and on a cluster a
//! sample of the withdrawals' commands looks for hot keys (`hotkeys`). Each
//! step adds its measurements or notes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use walletgate::domain::money::Amount;
use walletgate::routes::docs::{LOCAL_DEFAULT_URL, document};
use walletgate::startup::Served;

use crate::BENCH_PIN;
use crate::config::{Args, Part, bench_settings};
use crate::gateway::{Fixtures, Gateway, ReadyAccount};
use crate::hotkeys::KeySample;
use crate::load::{Measured, free_port, spawn_bare, wrk, wrk_for};
use crate::memory::{memory_per, redis_per, rss_kib};
use crate::peers;
use crate::redis_nodes::RedisNodes;
use crate::report::Recorder;
use crate::spread::{Spread, SpreadWindow};

/// Accounts the seeded due and stored withdrawals are spread over.
const WITHDRAWAL_ACCOUNTS_MAX: usize = 1_000;
/// Accounts the transfers left in flight for the worker go between.
const TRANSFER_ACCOUNTS_MAX: usize = 1_000;
/// Longest load the hot-key sample watches (`MONITOR` output is large).
const KEY_SAMPLE_SECS_MAX: u64 = 3;
/// Most due withdrawals whose settling the hot-key sample watches.
const KEY_SAMPLE_DRAIN_MAX: usize = 2_000;

/// One store at one scale: what every step of its run reads.
struct Run<'a> {
    args: &'a Args,
    lua_dir: &'a Path,
    store_name: &'a str,
    accounts: usize,
    /// The store's Redis nodes; none on the memory store.
    nodes: Option<&'a RedisNodes>,
    /// The key prefix of the run's data.
    prefix: &'a str,
}

/// What a measured load is spread over.
#[derive(Clone, Copy)]
enum Across {
    /// Many accounts: no master should take much more than its share.
    Accounts,
    /// One account: one slot, so one master, by design.
    OneAccount,
}

/// What one store at one scale measured.
#[derive(Default)]
pub struct Outcome {
    pub measured: Vec<Measured>,
    pub notes: Vec<String>,
    /// Each Redis load's spread over the nodes.
    pub spreads: Vec<Spread>,
    /// What should fail the run besides the measured scenarios' errors.
    pub problems: Vec<String>,
}

/// The load's input files, in a temp directory of the run's own.
struct LoadFiles {
    dir: PathBuf,
    /// `<token> <binding id>` of the active accounts, spread over all of them.
    spread: String,
    /// The same for account 0 alone.
    hot: String,
    /// `<token> <account id>` of the active accounts: the transfers' senders and recipients.
    transfers: String,
    /// `<phone> <password>` lines.
    logins: String,
}

/// Runs every scenario on `store_name` seeded with `accounts` accounts: the
/// measured scenarios, the notes (memory, peers, worker, ledger) and, on
/// Redis, the spread over the nodes.
pub async fn run_store(
    args: &Args,
    store_name: &str,
    accounts: usize,
    lua_dir: &Path,
    with_peers: bool,
) -> anyhow::Result<Outcome> {
    println!("\n== {store_name}, {accounts} accounts");
    let settings = bench_settings(store_name, args)?;
    let nodes = RedisNodes::of(&settings.store)?;
    let prefix = settings.store.key_prefix.clone();
    let run = Run { args, lua_dir, store_name, accounts, nodes: nodes.as_ref(), prefix: &prefix };
    let workers = settings.server.workers;
    let poll_interval = Duration::from_millis(settings.worker.poll_interval_ms);
    let (gateway, base, server) = Gateway::start(settings).await?;
    let (bare_base, bare) = spawn_bare(workers)?;

    let mut outcome = Outcome::default();
    let fixtures = run.seed(&gateway, &mut outcome.notes).await?;
    let files = write_load_files(&gateway, &fixtures.ready, args.active_accounts)?;

    let bare_run = wrk(args, lua_dir, "hello.lua", &format!("{bare_base}/hello"), &[])?;
    let mut recorder = Recorder::new(store_name, accounts, bare_run.per_sec);
    recorder.record("bare actix GET /hello (ceiling)", bare_run);
    let tag = format!("{}", std::process::id());
    let spread_run = match args.measures(Part::Requests) {
        true => Some(run.measure_gateway(&mut recorder, &base, &files, &tag, &mut outcome)?),
        false => None,
    };
    if args.measures(Part::Transfers) {
        run.measure_transfers(&gateway, &fixtures.ready, &mut recorder, (&base, &files, &tag), &mut outcome).await?;
    }
    if let Some(spread_run) = &spread_run {
        if with_peers {
            run.compare_with_peers(&mut recorder, &files, &tag, spread_run, &mut outcome.notes).await?;
        }
        if let Some(nodes) = run.nodes {
            run.compare_with_set(nodes, spread_run, &mut outcome.notes);
        }
    }
    if args.measures(Part::Worker) {
        run.measure_worker(&gateway, &fixtures, poll_interval, &mut outcome).await?;
    }
    if store_name == "memory" && args.clock_advance > 0 && args.measures(Part::Clock) {
        measure_clock(&gateway, &fixtures.ready, (store_name, accounts), args.clock_advance, &mut outcome).await?;
    }
    let (balanced, in_flight) = gateway.ledger_balanced().await?;
    outcome.notes.push(format!(
        "{store_name}, {accounts} accounts: ledger check after the run: balanced = {balanced}; in flight: {}",
        in_flight.join(", ")
    ));

    bare.abort();
    server.abort();
    let _ = std::fs::remove_dir_all(&files.dir);
    if let Some(nodes) = run.nodes {
        if nodes.cluster {
            outcome.notes.push(run.keys_per_node(nodes)?);
        }
        nodes.clean(&prefix)?;
    }
    outcome.measured = recorder.measured;
    Ok(outcome)
}

impl<'a> Run<'a> {
    /// Seeds the accounts and, if asked, the stored withdrawals, noting the
    /// time and memory each took.
    async fn seed(&self, gateway: &Gateway, notes: &mut Vec<String>) -> anyhow::Result<Fixtures> {
        let Run { args, store_name, accounts, nodes, .. } = *self;
        let rss_before = rss_kib("VmRSS:");
        let redis_before = nodes.and_then(RedisNodes::used_memory);
        let started = Instant::now();
        let fixtures = gateway.seed_ready_accounts(accounts).await?;
        let seeded_in = started.elapsed();
        notes.push(format!(
            "{store_name}, {accounts} accounts: seeded in {:.1} s{}{}",
            seeded_in.as_secs_f64(),
            memory_per(accounts, rss_before, rss_kib("VmRSS:"), "account (RSS of the server process)"),
            redis_per(nodes, redis_before, accounts, "account"),
        ));
        let withdrawal_accounts = withdrawal_accounts(&fixtures.ready);
        if args.stored_withdrawals > 0 && !withdrawal_accounts.is_empty() {
            let rss_before = rss_kib("VmRSS:");
            let redis_before = nodes.and_then(RedisNodes::used_memory);
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
                redis_per(nodes, redis_before, args.stored_withdrawals, "stored withdrawal"),
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
        outcome: &mut Outcome,
    ) -> anyhow::Result<Measured> {
        let Run { args, lua_dir, store_name, accounts, nodes, .. } = *self;
        let spread = &files.spread;
        let hot = &files.hot;
        recorder.record("GET /v1/wallet", wrk(args, lua_dir, "wallet.lua", &format!("{base}/v1/wallet"), &[spread])?);
        recorder.record(
            "POST /v1/withdrawals/quote",
            wrk(args, lua_dir, "quote.lua", &format!("{base}/v1/withdrawals/quote"), &[spread])?,
        );
        let withdrawals = &format!("{base}/v1/withdrawals");
        let rss_before = rss_kib("VmRSS:");
        let redis_before = nodes.and_then(RedisNodes::used_memory);
        let spread_scenario = "POST /v1/withdrawals (spread)";
        let window = self.open_spread()?;
        let spread_run = recorder.record(
            spread_scenario,
            wrk(args, lua_dir, "withdraw.lua", withdrawals, &[spread, BENCH_PIN, &format!("s{tag}")])?,
        );
        self.close_spread(window, spread_scenario, (spread_run.requests, "withdrawal"), Across::Accounts, outcome)?;
        outcome.notes.push(format!(
            "{store_name}, {accounts} accounts: memory kept by the {} withdrawals submitted over HTTP{}{}",
            spread_run.requests,
            memory_per(
                spread_run.requests as usize,
                rss_before,
                rss_kib("VmRSS:"),
                "withdrawal (record, journal entry, index and schedule entries, event, and the idempotency reply kept 24 h)"
            ),
            redis_per(nodes, redis_before, spread_run.requests as usize, "withdrawal"),
        ));
        if let Some(nodes) = nodes.filter(|nodes| nodes.cluster) {
            self.sample_keys(nodes, withdrawals, spread_scenario, &[spread, BENCH_PIN, &format!("m{tag}")], outcome)?;
        }
        let hot_scenario = "POST /v1/withdrawals (one hot account)";
        let window = self.open_spread()?;
        let hot_run = recorder.record(
            hot_scenario,
            wrk(args, lua_dir, "withdraw.lua", withdrawals, &[hot, BENCH_PIN, &format!("h{tag}")])?,
        );
        self.close_spread(window, hot_scenario, (hot_run.requests, "withdrawal"), Across::OneAccount, outcome)?;
        recorder.record(
            "POST /v1/auth/login (Argon2id)",
            wrk(args, lua_dir, "login.lua", &format!("{base}/v1/auth/login"), &[&files.logins])?,
        );
        Ok(spread_run)
    }

    /// Transfers between random pairs of the active accounts over HTTP, then
    /// the worker delivering what they left in flight (normally nothing: a
    /// transfer's own request delivers it), then its delivery rate over a
    /// fresh set of transfers left in flight.
    async fn measure_transfers(
        &self,
        gateway: &Gateway,
        ready: &[ReadyAccount],
        recorder: &mut Recorder,
        (base, files, tag): (&str, &LoadFiles, &str),
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        let Run { args, lua_dir, store_name, accounts, .. } = *self;
        let scenario = "POST /v1/transfers (random pairs)";
        let window = self.open_spread()?;
        let url = format!("{base}/v1/transfers");
        let run = recorder.record(
            scenario,
            wrk(args, lua_dir, "transfer.lua", &url, &[&files.transfers, BENCH_PIN, &format!("t{tag}")])?,
        );
        self.close_spread(window, scenario, (run.requests, "transfer"), Across::Accounts, outcome)?;
        let (delivered, seconds) = gateway.drain_transfers().await?;
        outcome.notes.push(format!(
            "{store_name}, {accounts} accounts: after {} transfers over HTTP between random pairs of {} accounts, the worker delivered the {delivered} they left in flight in {seconds:.2} s",
            run.requests,
            args.active_accounts.min(accounts)
        ));
        let senders = &ready[..ready.len().min(TRANSFER_ACCOUNTS_MAX)];
        if args.drain == 0 || senders.len() < 2 {
            return Ok(());
        }
        gateway.seed_in_flight_transfers(senders, args.drain).await?;
        let window = self.open_spread()?;
        let (delivered, seconds) = gateway.drain_transfers().await?;
        let load = format!("worker delivering {delivered} transfers left in flight");
        self.close_spread(window, &load, (delivered as u64, "delivered transfer"), Across::Accounts, outcome)?;
        outcome.notes.push(format!(
            "{store_name}, {accounts} accounts: worker transfer delivery: {} transfers left in flight between {} accounts delivered in {seconds:.2} s = **{:.0} transfers/s** ({delivered} delivered)",
            args.drain,
            senders.len(),
            delivered as f64 / seconds.max(1e-9)
        ));
        Ok(())
    }

    /// Resets the counters of the store's nodes before a load, on Redis.
    fn open_spread(&self) -> anyhow::Result<Option<SpreadWindow<'a>>> {
        self.nodes.map(SpreadWindow::open).transpose()
    }

    /// Reads the counters after `load` (of `items`, each a `what`): its
    /// spread over the nodes, its Redis CPU per item, and a note if a master
    /// went over the target share (or, for one account, which master took it).
    fn close_spread(
        &self,
        window: Option<SpreadWindow<'_>>,
        load: &str,
        (items, what): (u64, &str),
        across: Across,
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        let Some(window) = window else { return Ok(()) };
        let spread = window.close(self.store_name, self.accounts, load)?;
        outcome.notes.push(spread.cpu_per(items, what));
        outcome.notes.extend(match across {
            Across::Accounts => spread.over_target(),
            Across::OneAccount => spread.one_account(),
        });
        outcome.spreads.push(spread);
        Ok(())
    }

    /// The keys and slots `load`'s commands name, from a `MONITOR` sample
    /// of a short load of its own (`MONITOR` slows every node down).
    fn sample_keys(
        &self,
        nodes: &RedisNodes,
        url: &str,
        load: &str,
        script_args: &[&str],
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        let Run { args, lua_dir, store_name, accounts, prefix, .. } = *self;
        let sample = KeySample::start(nodes)?;
        let run = wrk_for(args, args.duration_secs.min(KEY_SAMPLE_SECS_MAX), lua_dir, "withdraw.lua", url, script_args);
        let counts = sample.finish()?;
        let run = run?;
        if run.errors > 0 {
            outcome
                .problems
                .push(format!("{load} under MONITOR ({store_name}, {accounts} accounts): {} errors", run.errors));
        }
        outcome.notes.push(format!(
            "{} ({} requests at {:.0}/s while sampled)",
            counts.note(store_name, accounts, load, prefix),
            run.requests,
            run.per_sec
        ));
        Ok(())
    }

    /// The spread withdrawals as a share of `redis-benchmark`'s SET rate on the same Redis.
    fn compare_with_set(&self, nodes: &RedisNodes, spread_run: &Measured, notes: &mut Vec<String>) {
        let Some(set_rate) = nodes.benchmark_set() else { return };
        let (how, on) = if nodes.cluster { ("--cluster ", "cluster") } else { ("", "server") };
        notes.push(format!(
            "{}, {} accounts: redis-benchmark {how}SET (same {on}, same run): {set_rate:.0} ops/s; POST /v1/withdrawals (spread) is {:.1} % of it",
            self.store_name,
            self.accounts,
            100.0 * spread_run.per_sec / set_rate
        ));
    }

    /// How the run's keys and the shards lie over the nodes.
    fn keys_per_node(&self, nodes: &RedisNodes) -> anyhow::Result<String> {
        let per_node: Vec<String> = nodes
            .keys_and_shards(self.prefix)?
            .iter()
            .zip(&nodes.nodes)
            .map(|((keys, shards), node)| {
                format!("{} (slots {}): {keys} keys, {shards} shards", node.address, node.slots)
            })
            .collect();
        Ok(format!(
            "{}, {} accounts: the run's keys per master: {}",
            self.store_name,
            self.accounts,
            per_node.join("; ")
        ))
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
        std::fs::write(
            &openapi,
            serde_json::to_string(&document(|path| Served::ALL.serves(path), LOCAL_DEFAULT_URL))?,
        )?;
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
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        let Run { args, store_name, accounts, .. } = *self;
        let (settled, seconds) = gateway.drain().await?;
        outcome.notes.push(format!(
            "{store_name}, {accounts} accounts: the worker settled the load's {settled} due withdrawals in {seconds:.1} s = {:.0} settlements/s",
            settled as f64 / seconds.max(1e-9)
        ));
        let withdrawal_accounts = withdrawal_accounts(&fixtures.ready);
        if args.drain > 0 && !withdrawal_accounts.is_empty() {
            gateway.seed_withdrawals(withdrawal_accounts, one_yuan()?, args.drain, true).await?;
            let window = self.open_spread()?;
            let (settled, seconds) = gateway.drain().await?;
            let load = format!("worker settling {settled} due withdrawals");
            self.close_spread(window, &load, (settled as u64, "settlement"), Across::Accounts, outcome)?;
            outcome.notes.push(format!(
                "{store_name}, {accounts} accounts: worker settlement rate: {settled} due withdrawals over {} accounts settled in {seconds:.2} s = **{:.0} settlements/s**",
                withdrawal_accounts.len(),
                settled as f64 / seconds.max(1e-9)
            ));
            if let Some(nodes) = self.nodes.filter(|nodes| nodes.cluster) {
                let count = args.drain.min(KEY_SAMPLE_DRAIN_MAX);
                gateway.seed_withdrawals(withdrawal_accounts, one_yuan()?, count, true).await?;
                let sample = KeySample::start(nodes)?;
                let drained = gateway.drain().await;
                let counts = sample.finish()?;
                let (settled, _) = drained?;
                let load = format!("the worker settling {settled} due withdrawals");
                outcome.notes.push(counts.note(store_name, accounts, &load, self.prefix));
            }
        }
        if args.latency_rate > 0 {
            outcome
                .notes
                .push(gateway.latency_run(fixtures, accounts, args.latency_rate, poll_interval, store_name).await?);
        }
        Ok(())
    }
}

/// The simulated clock's scenario alone, on the memory store with the
/// first `--accounts` count: its note and the ledger's, and what should fail the run.
pub async fn run_clock_only(args: &Args) -> anyhow::Result<Outcome> {
    let accounts = args.accounts.first().copied().unwrap_or(1_000);
    println!("\n== memory, {accounts} accounts, the simulated clock only");
    let (gateway, _, server) = Gateway::start(bench_settings("memory", args)?).await?;
    let mut outcome = Outcome::default();
    let started = Instant::now();
    let fixtures = gateway.seed_ready_accounts(accounts).await?;
    println!("  seeded {accounts} accounts in {:.1} s", started.elapsed().as_secs_f64());
    measure_clock(&gateway, &fixtures.ready, ("memory", accounts), args.clock_advance, &mut outcome).await?;
    let (balanced, in_flight) = gateway.ledger_balanced().await?;
    outcome.notes.push(format!(
        "memory, {accounts} accounts: ledger check after the run: balanced = {balanced}; in flight: {}",
        in_flight.join(", ")
    ));
    server.abort();
    Ok(outcome)
}

/// A day's due withdrawals, each at an instant of its own, settled by one
/// advance of the simulated clock by a day: its duration and settlement rate.
async fn measure_clock(
    gateway: &Gateway,
    ready: &[ReadyAccount],
    (store_name, accounts): (&str, usize),
    count: usize,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    let over = withdrawal_accounts(ready);
    if count == 0 || over.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let run = gateway.advance_one_day(over, one_yuan()?, count).await?;
    println!(
        "  seeded and spread {count} due withdrawals, then advanced a day, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    outcome.notes.push(format!(
        "{store_name}, {accounts} accounts: simulated clock: {count} withdrawals over {} accounts, each due at an instant of its own spread over the next day, settled by one advance of a day (`SimClock::advance`, a worker step per instant) in {:.2} s = **{:.0} settlements/s** ({} settled, {} steps, complete = {})",
        over.len(),
        run.seconds,
        run.settled as f64 / run.seconds.max(1e-9),
        run.settled,
        run.steps,
        run.complete
    ));
    if run.settled != count || !run.complete {
        outcome
            .problems
            .push(format!("the clock's advance settled {} of {count} (complete = {})", run.settled, run.complete));
    }
    Ok(())
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
    let transfers_file = dir.join("transfers.txt");
    gateway.write_accounts(ready, active_accounts, &spread_file)?;
    gateway.write_transfer_accounts(ready, active_accounts, &transfers_file)?;
    gateway.write_accounts(&ready[..1], 1, &hot_file)?;
    gateway.write_logins(ready, &logins_file)?;
    Ok(LoadFiles {
        spread: spread_file.to_string_lossy().to_string(),
        hot: hot_file.to_string_lossy().to_string(),
        transfers: transfers_file.to_string_lossy().to_string(),
        logins: logins_file.to_string_lossy().to_string(),
        dir,
    })
}
