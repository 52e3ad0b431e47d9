//! The processes the harness drives and the faults it injects into them: a
//! private `redis-server` (AOF, `appendfsync always`, no RDB) on a free
//! loopback port in the run's directory, or a private Redis Cluster of
//! three masters with a replica each (every node so, in a directory of its
//! own), and walletgate gateways started from the release binary, each on
//! its own port, logging to files there. Faults: `kill -9` and restart of
//! a gateway, SIGSTOP/SIGCONT of a gateway or of a Redis node, `kill -9` of
//! a Redis node and a restart from its AOF (on a cluster no replica takes
//! over; the harness waits until the cluster is whole again, every master
//! with its replica in sync, before the next fault).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

/// Longest wait for a started process to answer.
const STARTUP_WAIT: Duration = Duration::from_secs(30);
/// A cluster's nodes: three masters, a replica each.
const CLUSTER_NODES: usize = 6;
/// How long a cluster node may not answer before its peers declare it
/// failed. Its replica never takes over (`cluster-replica-no-failover`):
/// the soak restarts nodes, and a failover would take back the writes
/// walletgate does not wait for replicas for (docs/durability.md), which
/// tests/api/redis_failover.rs covers on its own.
const CLUSTER_NODE_TIMEOUT_MS: u64 = 3000;
/// Longest wait for a cluster to be whole again after a fault.
const CLUSTER_HEAL_WAIT: Duration = Duration::from_secs(60);
/// Faults one run injects at most, whatever its duration.
const FAULTS_MAX: usize = 10_000;

/// The business settings of the run: delays of seconds, not hours, so that
/// withdrawals reach a final state while the harness watches.
pub struct Timing {
    pub auto_review_delay_secs: u64,
    pub lease_secs: u64,
    pub manual_review_timeout_secs: u64,
    pub payout_attempts_max: u32,
    pub retry_backoff_max_ms: u64,
    /// How long after its send the worker delivers a transfer its sending request did not.
    pub redeliver_after_secs: u64,
    /// How long the mock WeChat Pay's bills stay `ACCEPTED`, then
    /// `PROCESSING`, before they are final: payouts wait on bills under way.
    pub mock_bill_accepted_secs: u64,
    pub mock_bill_processing_secs: u64,
}

pub const TIMING: Timing = Timing {
    auto_review_delay_secs: 1,
    lease_secs: 3,
    manual_review_timeout_secs: 30,
    payout_attempts_max: 5,
    retry_backoff_max_ms: 1000,
    redeliver_after_secs: 1,
    mock_bill_accepted_secs: 1,
    mock_bill_processing_secs: 1,
};

impl Timing {
    /// The longest a withdrawal (or a transfer left in flight) may take
    /// once nobody has to decide it: its delay, its payout attempts with
    /// their pauses, its bill's time under way (and a look after it), a
    /// lease for a claim left by a killed worker, and some slack for a
    /// loaded machine.
    pub fn settle_bound(&self) -> Duration {
        let retries_ms = self.payout_attempts_max as u64 * self.retry_backoff_max_ms;
        let delay_secs = self.auto_review_delay_secs.max(self.redeliver_after_secs);
        let bill_secs = self.mock_bill_accepted_secs + self.mock_bill_processing_secs;
        Duration::from_secs(delay_secs + bill_secs + 2 * self.lease_secs + 10)
            + Duration::from_millis(retries_ms + self.retry_backoff_max_ms)
    }
}

fn gateway_env(timing: &Timing, webhook_url: &str) -> Vec<(&'static str, String)> {
    let generous = "1000000".to_owned();
    let mut env = vec![
        ("WALLETGATE__SERVER__WORKERS", "2".to_owned()),
        ("WALLETGATE__SERVER__SHUTDOWN_TIMEOUT_SECS", "1".to_owned()),
        ("WALLETGATE__STORE__KEY_PREFIX", "soak".to_owned()),
        ("WALLETGATE__STORE__COMMAND_TIMEOUT_MS", "1000".to_owned()),
        ("WALLETGATE__STORE__CONNECT_TIMEOUT_MS", "1000".to_owned()),
        ("WALLETGATE__LOG__LEVEL", "info".to_owned()),
        ("WALLETGATE__LOG__FORMAT", "json".to_owned()),
        ("WALLETGATE__WITHDRAWALS__AUTO_REVIEW_DELAY_SECS", timing.auto_review_delay_secs.to_string()),
        // Bigger ones wait for an operator, so approvals race the worker.
        ("WALLETGATE__WITHDRAWALS__MANUAL_REVIEW_OVER", "300.00".to_owned()),
        ("WALLETGATE__WITHDRAWALS__MANUAL_REVIEW_TIMEOUT_SECS", timing.manual_review_timeout_secs.to_string()),
        ("WALLETGATE__WITHDRAWALS__REVIEW_AFTER_PIN_CHANGE_SECS", "2".to_owned()),
        ("WALLETGATE__WORKER__LEASE_SECS", timing.lease_secs.to_string()),
        ("WALLETGATE__WORKER__POLL_INTERVAL_MS", "50".to_owned()),
        ("WALLETGATE__WORKER__PAYOUT_ATTEMPTS_MAX", timing.payout_attempts_max.to_string()),
        ("WALLETGATE__WORKER__RETRY_BACKOFF_INITIAL_MS", "200".to_owned()),
        ("WALLETGATE__WORKER__RETRY_BACKOFF_MAX_MS", timing.retry_backoff_max_ms.to_string()),
        ("WALLETGATE__KYC__AUTO_APPROVE_AFTER_SECS", "1".to_owned()),
        ("WALLETGATE__TRANSFERS__REDELIVER_AFTER_SECS", timing.redeliver_after_secs.to_string()),
        ("WALLETGATE__MOCK_WECHAT__PAY__ACCEPTED_SECS", timing.mock_bill_accepted_secs.to_string()),
        ("WALLETGATE__MOCK_WECHAT__PAY__PROCESSING_SECS", timing.mock_bill_processing_secs.to_string()),
        // Webhooks to the run's receiver (`webhooks`), retried within a second.
        ("WALLETGATE__WEBHOOKS__URL", webhook_url.to_owned()),
        ("WALLETGATE__WEBHOOKS__SECRET", crate::webhooks::SECRET.to_owned()),
        ("WALLETGATE__WEBHOOKS__RETRY_BACKOFF_INITIAL_MS", "100".to_owned()),
        ("WALLETGATE__WEBHOOKS__RETRY_BACKOFF_MAX_MS", "1000".to_owned()),
    ];
    // Every client comes from 127.0.0.1 and a few accounts take many
    // requests: the per-process request-rate limits would hide the races.
    // The PIN and login locks, kept in the store, still hold; registration
    // keeps its limit (the workload registers few accounts).
    for action in ["LOGIN", "SMS", "PIN"] {
        for scope in ["PER_ACCOUNT", "PER_IP"] {
            for key in ["BURST", "PER_MINUTE"] {
                let name: &'static str = Box::leak(format!("WALLETGATE__RATE_LIMITS__{action}__{scope}__{key}").into());
                env.push((name, generous.clone()));
            }
        }
    }
    env
}

/// A free loopback port (bound, then let go).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on the id of a child this process started and has not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
}

fn log_file(path: &Path) -> anyhow::Result<(Stdio, Stdio)> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    Ok((Stdio::from(file.try_clone()?), Stdio::from(file)))
}

/// A private Redis, or one node of the private Redis Cluster.
#[derive(Debug)]
pub struct RedisProcess {
    pub port: u16,
    dir: PathBuf,
    log: PathBuf,
    /// More options (a cluster node's).
    extra: Vec<String>,
    child: Option<Child>,
}

impl RedisProcess {
    pub fn start(dir: &Path) -> anyhow::Result<RedisProcess> {
        let mut redis = RedisProcess {
            port: free_port()?,
            dir: dir.to_owned(),
            log: dir.join("redis.log"),
            extra: Vec::new(),
            child: None,
        };
        redis.spawn()?;
        Ok(redis)
    }

    /// A cluster node: its AOF and `nodes.conf` in `redis-<index>/`, a
    /// failing peer declared failed after `CLUSTER_NODE_TIMEOUT_MS`, no
    /// failover.
    fn start_node(run_dir: &Path, index: usize) -> anyhow::Result<RedisProcess> {
        let dir = run_dir.join(format!("redis-{index}"));
        std::fs::create_dir_all(&dir)?;
        let extra = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            &CLUSTER_NODE_TIMEOUT_MS.to_string(),
            "--cluster-port",
            &free_port()?.to_string(),
            "--cluster-replica-no-failover",
            "yes",
            // A replica (re)joining is sent the data at once.
            "--repl-diskless-sync-delay",
            "0",
        ]
        .map(str::to_owned)
        .to_vec();
        let log = run_dir.join(format!("redis-{index}.log"));
        let mut redis = RedisProcess { port: free_port()?, dir, log, extra, child: None };
        redis.spawn()?;
        Ok(redis)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let (out, err) = log_file(&self.log)?;
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--dir"])
            .arg(&self.dir)
            .args(["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"])
            .args(&self.extra)
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("redis-server is needed (apt-get install redis-server)")?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + STARTUP_WAIT;
        while Instant::now() < deadline {
            if redis_ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("redis-server on port {} did not answer PING", self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn pause(&self) {
        if let Some(child) = &self.child {
            signal(child, libc::SIGSTOP);
        }
    }

    fn resume(&self) {
        if let Some(child) = &self.child {
            signal(child, libc::SIGCONT);
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, libc::SIGCONT);
            signal(&child, libc::SIGKILL);
            let _ = child.wait();
        }
    }

    fn ensure_up(&mut self) -> anyhow::Result<()> {
        self.resume();
        if self.child.is_none() { self.spawn() } else { Ok(()) }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn redis_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

/// One walletgate process, restartable on its port.
#[derive(Debug)]
pub struct Gateway {
    pub index: usize,
    pub port: u16,
    pub worker: bool,
    store_url: String,
    binary: PathBuf,
    log: PathBuf,
    env: Vec<(&'static str, String)>,
    child: Option<Child>,
    paused: bool,
}

impl Gateway {
    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let (out, err) = log_file(&self.log)?;
        let child = Command::new(&self.binary)
            .env_remove("RUST_LOG")
            .env_remove("WALLETGATE__STORE__URL")
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("WALLETGATE__STORE__URL", &self.store_url)
            .env("WALLETGATE__SERVER__PORT", self.port.to_string())
            .env("WALLETGATE__WORKER__ENABLED", self.worker.to_string())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let deadline = Instant::now() + STARTUP_WAIT;
        while Instant::now() < deadline {
            if let Ok(response) = client.get(format!("{}/readyz", self.address())).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!("gateway {} exited ({status}); see {}", self.index, self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("gateway {} not ready in time; see {}", self.index, self.log.display())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, libc::SIGCONT);
            signal(&child, libc::SIGKILL);
            let _ = child.wait();
        }
        self.paused = false;
    }

    fn pause(&mut self) {
        if let Some(child) = &self.child {
            signal(child, libc::SIGSTOP);
            self.paused = true;
        }
    }

    fn resume(&mut self) {
        if let Some(child) = &self.child {
            signal(child, libc::SIGCONT);
        }
        self.paused = false;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Which store the gateways share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Redis,
    RedisCluster,
    Memory,
}

/// Everything the run started.
#[derive(Debug)]
pub struct Cluster {
    pub mode: StoreMode,
    /// The Redis, or the Redis Cluster's nodes; none on the memory store.
    pub redis: Vec<Mutex<RedisProcess>>,
    pub gateways: Vec<Mutex<Gateway>>,
    pub addresses: Vec<String>,
}

impl Cluster {
    /// Starts Redis or a Redis Cluster (in those modes) and the gateways;
    /// the first `gateways - 1` run the worker, the last does not (in
    /// memory mode the one gateway does).
    pub async fn start(
        mode: StoreMode,
        gateways: usize,
        binary: &Path,
        dir: &Path,
        webhook_url: &str,
    ) -> anyhow::Result<Cluster> {
        std::fs::create_dir_all(dir)?;
        let redis = match mode {
            StoreMode::Redis => vec![RedisProcess::start(dir)?],
            StoreMode::RedisCluster => {
                let nodes = tokio::task::block_in_place(|| start_redis_cluster(dir))?;
                wait_until_whole(&nodes.iter().map(|node| node.port).collect::<Vec<_>>()).await?;
                nodes
            }
            StoreMode::Memory => Vec::new(),
        };
        let store_url = match mode {
            StoreMode::Redis => redis[0].url(),
            StoreMode::RedisCluster => {
                let seeds: Vec<String> = redis.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
                format!("redis+cluster://{}", seeds.join(","))
            }
            StoreMode::Memory => "memory://".to_owned(),
        };
        let count = if mode == StoreMode::Memory { 1 } else { gateways.max(2) };
        let mut env = gateway_env(&TIMING, webhook_url);
        if mode == StoreMode::RedisCluster {
            // Every commit waits for its master's replica, as a deployment
            // that cares for its money sets it (docs/durability.md).
            env.push(("WALLETGATE__STORE__WAIT_REPLICAS", "1".to_owned()));
            env.push(("WALLETGATE__STORE__WAIT_TIMEOUT_MS", "300".to_owned()));
        }
        let mut started = Vec::new();
        for index in 0..count {
            let mut gateway = Gateway {
                index,
                port: free_port()?,
                worker: count == 1 || index + 1 < count,
                store_url: store_url.clone(),
                binary: binary.to_owned(),
                log: dir.join(format!("gateway-{index}.log")),
                env: env.clone(),
                child: None,
                paused: false,
            };
            gateway.spawn()?;
            started.push(gateway);
        }
        for gateway in &mut started {
            gateway.wait_ready().await?;
        }
        let addresses = started.iter().map(Gateway::address).collect();
        Ok(Cluster {
            mode,
            redis: redis.into_iter().map(Mutex::new).collect(),
            gateways: started.into_iter().map(Mutex::new).collect(),
            addresses,
        })
    }

    /// Brings everything back: resumes what is paused, restarts what is
    /// down, and waits until a Redis Cluster is whole again.
    pub async fn heal(&self) -> anyhow::Result<()> {
        for redis in &self.redis {
            let mut redis = redis.lock().await;
            tokio::task::block_in_place(|| redis.ensure_up())?;
        }
        self.wait_until_whole().await?;
        for gateway in &self.gateways {
            let mut gateway = gateway.lock().await;
            gateway.resume();
            if gateway.child.is_none() {
                gateway.spawn()?;
            }
            gateway.wait_ready().await?;
        }
        Ok(())
    }

    /// On a Redis Cluster: waits until every node serves and agrees that
    /// the cluster is whole (see `cluster_whole`); at once otherwise.
    async fn wait_until_whole(&self) -> anyhow::Result<()> {
        if self.mode != StoreMode::RedisCluster {
            return Ok(());
        }
        let mut ports = Vec::new();
        for node in &self.redis {
            ports.push(node.lock().await.port);
        }
        wait_until_whole(&ports).await
    }

    /// The ports of the cluster's masters now, as the first node that answers sees them.
    async fn cluster_masters(&self) -> Vec<u16> {
        for node in &self.redis {
            let port = node.lock().await.port;
            if let Some(nodes) = tokio::task::block_in_place(|| cluster_nodes(port)) {
                return nodes.iter().filter(|node| node.master).map(|node| node.port).collect();
            }
        }
        Vec::new()
    }

    pub async fn gateway_workers(&self) -> Vec<bool> {
        let mut workers = Vec::new();
        for gateway in &self.gateways {
            workers.push(gateway.lock().await.worker);
        }
        workers
    }
}

/// Waits until the cluster of the nodes on `ports` is whole (`cluster_whole`).
async fn wait_until_whole(ports: &[u16]) -> anyhow::Result<()> {
    let deadline = Instant::now() + CLUSTER_HEAL_WAIT;
    while !tokio::task::block_in_place(|| cluster_whole(ports)) {
        if Instant::now() > deadline {
            bail!("the Redis Cluster is not whole after {CLUSTER_HEAL_WAIT:?}; see redis-*.log");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Starts `CLUSTER_NODES` nodes and makes them a cluster: three masters
/// (the first three) with a replica each; `wait_until_whole` then waits
/// until every slot is served.
fn start_redis_cluster(dir: &Path) -> anyhow::Result<Vec<RedisProcess>> {
    let nodes =
        (0..CLUSTER_NODES).map(|index| RedisProcess::start_node(dir, index)).collect::<anyhow::Result<Vec<_>>>()?;
    let addresses: Vec<String> = nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addresses)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .output()
        .context("redis-cli is needed (apt-get install redis-tools)")?;
    if !created.status.success() {
        bail!("redis-cli --cluster create failed: {}", String::from_utf8_lossy(&created.stdout));
    }
    Ok(nodes)
}

/// One node as `CLUSTER NODES` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeSeen {
    id: String,
    port: u16,
    master: bool,
    master_id: Option<String>,
    /// Flagged `fail` or `fail?`, or its link down.
    failing: bool,
    serves_slots: bool,
}

fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let output = Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.success() && !text.starts_with("Could not connect")).then_some(text)
}

fn cluster_nodes(port: u16) -> Option<Vec<NodeSeen>> {
    let text = redis_cli(port, &["cluster", "nodes"])?;
    let nodes: Vec<NodeSeen> = text.lines().filter_map(node_seen).collect();
    (!nodes.is_empty()).then_some(nodes)
}

/// A line of `CLUSTER NODES`: `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slots…>`.
fn node_seen(line: &str) -> Option<NodeSeen> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let port = fields.get(1)?.split('@').next()?.rsplit(':').next()?.parse().ok()?;
    let flags: Vec<&str> = fields.get(2)?.split(',').collect();
    Some(NodeSeen {
        id: (*fields.first()?).to_owned(),
        port,
        master: flags.contains(&"master"),
        master_id: fields.get(3).filter(|id| **id != "-").map(|id| (*id).to_owned()),
        failing: flags.iter().any(|flag| flag.starts_with("fail")) || fields.get(7) != Some(&"connected"),
        serves_slots: fields.len() > 8,
    })
}

/// Whether the cluster is whole: every node answers `cluster_state:ok`
/// and sees the others connected and none failing, three masters serving
/// slots with one replica each, and every replica in sync with its master.
fn cluster_whole(ports: &[u16]) -> bool {
    ports.iter().all(|&port| {
        let Some(info) = redis_cli(port, &["cluster", "info"]) else { return false };
        let Some(nodes) = cluster_nodes(port) else { return false };
        let masters: Vec<&NodeSeen> = nodes.iter().filter(|node| node.master && node.serves_slots).collect();
        let replicated = masters
            .iter()
            .all(|master| nodes.iter().filter(|node| node.master_id.as_ref() == Some(&master.id)).count() == 1);
        let me = nodes.iter().find(|node| node.port == port);
        let in_sync = match me {
            Some(me) if !me.master => redis_cli(port, &["info", "replication"]).is_some_and(|info| {
                info.contains("master_link_status:up") && info.contains("master_sync_in_progress:0")
            }),
            _ => true,
        };
        info.contains("cluster_state:ok")
            && nodes.len() == ports.len()
            && nodes.iter().all(|node| !node.failing)
            && masters.len() == CLUSTER_NODES / 2
            && replicated
            && in_sync
    })
}

/// The kinds of fault, as counted in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    KillWorkerGateway,
    KillPlainGateway,
    PauseGateway,
    PauseRedis,
    KillRedis,
    PauseClusterNode,
    KillClusterMaster,
    KillClusterReplica,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillWorkerGateway => "kill -9 + restart of a gateway with the worker",
            Fault::KillPlainGateway => "kill -9 + restart of a gateway without the worker",
            Fault::PauseGateway => "SIGSTOP / SIGCONT of a gateway",
            Fault::PauseRedis => "SIGSTOP / SIGCONT of Redis",
            Fault::KillRedis => "kill -9 of Redis + restart from its AOF",
            Fault::PauseClusterNode => "SIGSTOP / SIGCONT of a Redis Cluster node",
            Fault::KillClusterMaster => "kill -9 of a Redis Cluster master + restart from its AOF",
            Fault::KillClusterReplica => "kill -9 of a Redis Cluster replica + restart from its AOF",
        }
    }
}

/// Injects seeded faults, one at a time, until `stop`; each is undone before
/// the next. Returns how many of each it injected.
pub async fn inject_faults(
    cluster: Arc<Cluster>,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<BTreeMap<Fault, u64>> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xFA01_7FA0_17FA_017F);
    let mut counts = BTreeMap::new();
    let lease_ms = TIMING.lease_secs * 1000;
    for _ in 0..FAULTS_MAX {
        tokio::time::sleep(Duration::from_millis(rng.random_range(500..3000))).await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let fault = match (cluster.mode, rng.random_range(0..100)) {
            (StoreMode::Memory, _) => Fault::PauseGateway,
            (StoreMode::Redis, 0..30) => Fault::KillWorkerGateway,
            (StoreMode::Redis, 30..45) => Fault::KillPlainGateway,
            (StoreMode::Redis, 45..65) => Fault::PauseGateway,
            (StoreMode::Redis, 65..85) => Fault::PauseRedis,
            (StoreMode::Redis, _) => Fault::KillRedis,
            // A cluster's faults take longer (each waits for the cluster to
            // be whole again), so its nodes get a larger share of them.
            (StoreMode::RedisCluster, 0..20) => Fault::KillWorkerGateway,
            (StoreMode::RedisCluster, 20..30) => Fault::KillPlainGateway,
            (StoreMode::RedisCluster, 30..45) => Fault::PauseGateway,
            (StoreMode::RedisCluster, 45..65) => Fault::PauseClusterNode,
            (StoreMode::RedisCluster, 65..85) => Fault::KillClusterMaster,
            (StoreMode::RedisCluster, _) => Fault::KillClusterReplica,
        };
        let workers = cluster.gateway_workers().await;
        let pick = |rng: &mut StdRng, worker: bool| {
            let matching: Vec<usize> = (0..workers.len()).filter(|&i| workers[i] == worker).collect();
            matching[rng.random_range(0..matching.len())]
        };
        // Sometimes longer than a lease: a paused worker outlives its claim.
        let pause = Duration::from_millis(rng.random_range(200..lease_ms + 2000));
        match fault {
            Fault::KillWorkerGateway | Fault::KillPlainGateway => {
                let index = pick(&mut rng, fault == Fault::KillWorkerGateway);
                let mut gateway = cluster.gateways[index].lock().await;
                tokio::task::block_in_place(|| gateway.kill());
                tokio::time::sleep(Duration::from_millis(rng.random_range(100..3000))).await;
                gateway.spawn()?;
                gateway.wait_ready().await?;
            }
            Fault::PauseGateway => {
                let index = rng.random_range(0..workers.len());
                let mut gateway = cluster.gateways[index].lock().await;
                gateway.pause();
                tokio::time::sleep(pause).await;
                gateway.resume();
            }
            Fault::PauseRedis | Fault::KillRedis | Fault::PauseClusterNode => {
                let index = rng.random_range(0..cluster.redis.len().max(1));
                let Some(redis) = cluster.redis.get(index) else { continue };
                let mut redis = redis.lock().await;
                if fault == Fault::KillRedis {
                    tokio::task::block_in_place(|| redis.kill());
                    tokio::time::sleep(Duration::from_millis(rng.random_range(100..2000))).await;
                    tokio::task::block_in_place(|| redis.ensure_up())?;
                } else {
                    redis.pause();
                    tokio::time::sleep(pause.min(Duration::from_secs(3))).await;
                    redis.resume();
                }
            }
            Fault::KillClusterMaster | Fault::KillClusterReplica => {
                let masters = cluster.cluster_masters().await;
                let mut candidates = Vec::new();
                for (index, node) in cluster.redis.iter().enumerate() {
                    let is_master = masters.contains(&node.lock().await.port);
                    if is_master == (fault == Fault::KillClusterMaster) {
                        candidates.push(index);
                    }
                }
                let Some(&index) = candidates.get(rng.random_range(0..candidates.len().max(1))) else { continue };
                let mut redis = cluster.redis[index].lock().await;
                tokio::task::block_in_place(|| redis.kill());
                tokio::time::sleep(Duration::from_millis(rng.random_range(100..2000))).await;
                tokio::task::block_in_place(|| redis.ensure_up())?;
            }
        }
        // The next fault meets a whole cluster: every master with its replica in sync.
        cluster.wait_until_whole().await?;
        *counts.entry(fault).or_default() += 1;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::node_seen;

    #[test]
    fn cluster_nodes_lines_are_read_as_redis_writes_them() {
        let master = "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,hostname4 myself,master - 0 \
                      1426238317239 4 connected 0-5460";
        let seen = node_seen(master).expect("a master");
        assert_eq!(
            (seen.port, seen.master, seen.master_id, seen.failing, seen.serves_slots),
            (30004, true, None, false, true)
        );
        let replica = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 slave \
                       07c37dfeb235213a872192d90877d0cd55635b91 0 1426238316232 1 connected";
        let seen = node_seen(replica).expect("a replica");
        assert_eq!(seen.master_id.as_deref(), Some("07c37dfeb235213a872192d90877d0cd55635b91"));
        assert!(!seen.master && !seen.serves_slots && !seen.failing);
        let failing = "6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 master,fail? - 1426238316232 0 5 \
                       disconnected 5461-10922";
        assert!(node_seen(failing).expect("a failing master").failing);
        assert_eq!(node_seen("not a node line"), None);
    }
}
