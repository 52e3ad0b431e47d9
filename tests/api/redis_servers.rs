//! Private `redis-server` processes for the suite, so `cargo test` never
//! depends on, or touches, a Redis the developer already runs: one single
//! node and one three-master Redis Cluster shared by every test of this
//! binary (each started on first use), and more clusters started on demand
//! (with a replica per master for the failover tests, which kill a master
//! and wait for its replica to take over), each node on free loopback ports
//! in a temporary directory of its own, with no persistence.
//!
//! No server outlives the test process. Every one is forked by one
//! long-lived spawner thread and asks the kernel for SIGKILL when that
//! thread, and so the process, dies (`PR_SET_PDEATHSIG`; the "parent" there
//! is the forking thread, which is why the forking is not done by short-lived
//! test threads): a test run killed with SIGKILL leaves no orphans. On a
//! normal exit an `atexit` hook also stops the shared server and removes its
//! directory, since statics are never dropped; a cluster stops when its
//! handle drops. Directories a killed run left behind are removed by the
//! next run.

use std::ffi::OsString;
use std::fs::File;
use std::io::{ErrorKind, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// Longest wait for a server to answer, or for a cluster to settle.
const STARTUP_WAIT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// Tries with a fresh port when another process took the one picked.
const PORT_ATTEMPTS: usize = 5;
/// One line: the install command (Debian's `redis-server` package brings
/// `redis-cli` too), and the variables that point the shared single Redis and
/// cluster at running servers (tests that start servers of their own, such as
/// the outage tests, still need the programs).
const INSTALL_HINT: &str = "install it with `sudo apt-get install redis-server` (Debian/Ubuntu; it brings redis-cli); \
     WALLETGATE_TEST_REDIS_URL=redis://host:port/db and \
     WALLETGATE_TEST_REDIS_CLUSTER_URL=redis+cluster://host:port,host:port,… \
     point the shared Redis and cluster at running servers instead";

/// The URL of the single-node Redis this test process shares, started on
/// first use.
pub fn shared_redis_url() -> &'static str {
    static SHARED: OnceLock<String> = OnceLock::new();
    SHARED.get_or_init(|| {
        let server = RedisServer::start(&[]);
        let url = server.url();
        *SHARED_SERVER.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(server);
        // SAFETY: registers a plain function with no captured state; it runs once, at exit(3).
        unsafe {
            libc::atexit(stop_shared_server);
        }
        url
    })
}

/// The `redis+cluster://` URL of the three-master cluster this test process
/// shares, started on first use.
pub fn shared_cluster_url() -> &'static str {
    static SHARED: OnceLock<String> = OnceLock::new();
    SHARED.get_or_init(|| {
        let cluster = RedisCluster::start();
        let url = cluster.url();
        *SHARED_CLUSTER.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(cluster);
        // SAFETY: as in `shared_redis_url`.
        unsafe {
            libc::atexit(stop_shared_cluster);
        }
        url
    })
}

static SHARED_SERVER: Mutex<Option<RedisServer>> = Mutex::new(None);
static SHARED_CLUSTER: Mutex<Option<RedisCluster>> = Mutex::new(None);

extern "C" fn stop_shared_server() {
    // try_lock: a thread still running at exit must not make exit hang.
    if let Ok(mut shared) = SHARED_SERVER.try_lock() {
        drop(shared.take());
    }
}

extern "C" fn stop_shared_cluster() {
    if let Ok(mut shared) = SHARED_CLUSTER.try_lock() {
        drop(shared.take());
    }
}

/// One private `redis-server`, stopped (and its directory removed) on drop.
#[derive(Debug)]
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl RedisServer {
    /// Starts a server on a free loopback port with `extra` arguments after
    /// the common ones; `{dir}` in an argument is replaced by its directory.
    pub fn start(extra: &[&str]) -> RedisServer {
        let mut last_failure = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let dir = private_dir();
            let port = free_port();
            let mut args: Vec<OsString> = vec!["--port".into(), port.to_string().into()];
            for common in ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"] {
                args.push(common.into());
            }
            args.extend(["--dir".into(), dir.clone().into_os_string()]);
            args.extend(extra.iter().map(|arg| OsString::from(arg.replace("{dir}", &dir.to_string_lossy()))));
            let child = spawn_tied_to_process("redis-server", args, &dir.join("redis.log"));
            let mut server = RedisServer { port, dir, child };
            match server.wait_until_answering() {
                Ok(()) => return server,
                // Most likely the port was taken between picking and binding: try another.
                Err(failure) => last_failure = failure,
            }
        }
        panic!("no private redis-server would start: {last_failure}")
    }

    /// A replica of `master`, returned once the master counts it online.
    pub fn start_replica_of(master: &RedisServer) -> RedisServer {
        // The master starts the full sync at once rather than waiting (5 s
        // by default) for more replicas to share it.
        query(master.port, &["CONFIG", "SET", "repl-diskless-sync-delay", "0"]).expect("the master is configurable");
        let replica = RedisServer::start(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
        let deadline = Instant::now() + STARTUP_WAIT;
        while !query(master.port, &["INFO", "replication"]).is_ok_and(|info| info.contains("state=online")) {
            assert!(Instant::now() < deadline, "the replica on port {} did not come online", replica.port);
            std::thread::sleep(POLL_INTERVAL);
        }
        replica
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn wait_until_answering(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                return Err(format!("redis-server on port {} exited ({status}): {}", self.port, log.trim()));
            }
            if query(self.port, &["PING"]).is_ok_and(|reply| reply == "PONG") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("redis-server on port {} did not answer PING in {STARTUP_WAIT:?}", self.port));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of three masters, every slot assigned, with or without a
/// replica each; stopped when dropped.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

/// One line of `CLUSTER NODES`, as far as the tests read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    pub id: String,
    pub port: u16,
    /// `myself`, `master`, `slave`, `fail`, `fail?`, … as Redis lists them.
    pub flags: Vec<String>,
    /// For a replica, the id of its master.
    pub master_id: Option<String>,
    /// Whether it serves any slot.
    pub has_slots: bool,
}

impl ClusterNode {
    pub fn is_master(&self) -> bool {
        self.flags.iter().any(|flag| flag == "master")
    }

    pub fn is_failed(&self) -> bool {
        self.flags.iter().any(|flag| flag == "fail")
    }
}

impl RedisCluster {
    /// Three masters without replicas.
    pub fn start() -> RedisCluster {
        RedisCluster::create(3, 0, &[])
    }

    /// Three masters with one replica each (six nodes), which fail over after
    /// `node_timeout_ms`: a master not heard from for that long is marked
    /// failed, and its replica takes its slots. Returns once every replica
    /// has synchronised with its master.
    pub fn start_with_replicas(node_timeout_ms: u64) -> RedisCluster {
        let node_timeout = node_timeout_ms.to_string();
        // A master starts a full sync at once rather than waiting (5 s by
        // default) for more replicas to share it.
        let extra = ["--cluster-node-timeout", node_timeout.as_str(), "--repl-diskless-sync-delay", "0"];
        let cluster = RedisCluster::create(6, 1, &extra);
        cluster.wait_until_replicas_online();
        cluster
    }

    /// `count` nodes, `replicas` per master, each with `extra` arguments.
    fn create(count: usize, replicas: usize, extra: &[&str]) -> RedisCluster {
        require_program("redis-cli");
        let nodes: Vec<RedisServer> = (0..count)
            .map(|_| {
                // The cluster bus gets a free port of its own: the default
                // (client port + 10000) may be taken, or past 65535.
                let bus_port = free_port().to_string();
                let mut args = vec![
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "{dir}/nodes.conf",
                    "--cluster-port",
                    bus_port.as_str(),
                ];
                args.extend_from_slice(extra);
                RedisServer::start(&args)
            })
            .collect();
        let cluster = RedisCluster { nodes };
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create").args(cluster.seed_addresses());
        create.args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"]);
        let output = create.output().expect("redis-cli runs");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        cluster.wait_until_ok();
        cluster
    }

    /// `host:port` of every node, to seed a cluster client with.
    pub fn seed_addresses(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::address).collect()
    }

    /// The `redis+cluster://` store URL of this cluster.
    pub fn url(&self) -> String {
        format!("redis+cluster://{}", self.seed_addresses().join(","))
    }

    /// Every node's port, live or not.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|node| node.port).collect()
    }

    /// The cluster as `port` sees it (`CLUSTER NODES`).
    pub fn nodes_seen_by(&self, port: u16) -> Vec<ClusterNode> {
        let listing = query(port, &["CLUSTER", "NODES"]).expect("a live node lists the cluster");
        listing.lines().filter_map(parse_cluster_node).collect()
    }

    /// Kills the node on `port` with SIGKILL, as a crash would: no goodbye
    /// to the cluster, nothing saved.
    pub fn kill(&mut self, port: u16) {
        let node = self.nodes.iter_mut().find(|node| node.port == port).expect("a node of this cluster");
        node.child.kill().expect("the node can be killed");
        node.child.wait().expect("the killed node is reaped");
    }

    /// Waits until `killed`'s replica has taken its place: the survivors
    /// all report `cluster_state:ok` and see the former replica as a master
    /// with slots and `killed` as failed. Returns the promoted node's port.
    pub fn wait_until_failed_over(&self, killed: &ClusterNode, within: Duration) -> u16 {
        let survivors: Vec<u16> = self.ports().into_iter().filter(|port| *port != killed.port).collect();
        let replica = self
            .nodes_seen_by(survivors[0])
            .into_iter()
            .find(|node| node.master_id.as_ref() == Some(&killed.id))
            .expect("the killed master had a replica");
        let deadline = Instant::now() + within;
        loop {
            let promoted = survivors.iter().all(|port| {
                cluster_state_ok(*port)
                    && self.nodes_seen_by(*port).iter().all(|node| {
                        (node.id != replica.id || (node.is_master() && node.has_slots))
                            && (node.id != killed.id || node.is_failed())
                    })
            });
            if promoted {
                return replica.port;
            }
            assert!(Instant::now() < deadline, "no replica of {killed:?} took over within {within:?}");
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// `redis-cli --cluster create` returns once the slots are assigned; each
    /// node reports `cluster_state:ok` only once it has heard of every other.
    fn wait_until_ok(&self) {
        let deadline = Instant::now() + STARTUP_WAIT;
        while !self.ports().into_iter().all(cluster_state_ok) {
            assert!(Instant::now() < deadline, "the cluster on {:?} did not reach cluster_state:ok", self.ports());
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Until every master counts its replica online (a `WAIT` counts only
    /// those, and a replica that has not synchronised cannot take over).
    fn wait_until_replicas_online(&self) {
        let deadline = Instant::now() + STARTUP_WAIT;
        loop {
            let nodes = self.nodes_seen_by(self.nodes[0].port);
            let masters: Vec<&ClusterNode> = nodes.iter().filter(|node| node.is_master()).collect();
            let online = masters.iter().all(|master| {
                let replicas = nodes.iter().filter(|node| node.master_id.as_ref() == Some(&master.id)).count();
                let info = query(master.port, &["INFO", "replication"]).unwrap_or_default();
                replicas > 0
                    && info.lines().filter(|line| line.starts_with("slave") && line.contains("state=online")).count()
                        == replicas
            });
            if online {
                return;
            }
            assert!(Instant::now() < deadline, "the replicas did not come online: {nodes:?}");
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

/// `<id> <ip:port@bus[,hostname]> <flags> <master id or -> <ping> <pong> <epoch> <link> [slots…]`
fn parse_cluster_node(line: &str) -> Option<ClusterNode> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 8 {
        return None;
    }
    let port = fields[1].split('@').next()?.rsplit(':').next()?.parse().ok()?;
    Some(ClusterNode {
        id: fields[0].to_owned(),
        port,
        flags: fields[2].split(',').map(str::to_owned).collect(),
        master_id: (fields[3] != "-").then(|| fields[3].to_owned()),
        has_slots: fields.len() > 8,
    })
}

pub fn cluster_state_ok(port: u16) -> bool {
    query(port, &["CLUSTER", "INFO"]).is_ok_and(|info| info.lines().any(|line| line.trim() == "cluster_state:ok"))
}

/// One command on one node (no cluster redirection), its reply as text.
pub fn query(port: u16, command: &[&str]) -> redis::RedisResult<String> {
    query_as(port, command)
}

/// One command on one node (no cluster redirection), its reply as `T`.
pub fn query_as<T: redis::FromRedisValue>(port: u16, command: &[&str]) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0"))?;
    let mut connection = client.get_connection_with_timeout(Duration::from_secs(1))?;
    let mut cmd = redis::cmd(command[0]);
    for arg in &command[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut connection)
}

/// A free loopback port (bound, then let go; `RedisServer::start` retries
/// if another process takes it in between).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port can be bound");
    listener.local_addr().expect("a bound socket has an address").port()
}

/// A fresh directory under the system's temporary one.
fn private_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(remove_dirs_of_dead_test_processes);
    let name = format!("{DIR_PREFIX}{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir_all(&dir).expect("a temporary directory can be made");
    dir
}

const DIR_PREFIX: &str = "walletgate-test-redis-";

/// A killed test run cannot remove its servers' directories (its servers
/// die with it): the next run does, for every test process no longer alive.
fn remove_dirs_of_dead_test_processes() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|name| name.strip_prefix(DIR_PREFIX)?.split('-').next()?.parse().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let gone =
            unsafe { libc::kill(pid, 0) } == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Exits the whole test process with one line when `program` is missing:
/// every Redis test would otherwise fail with the same long message.
pub fn require_program(program: &str) {
    match Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Err(error) if error.kind() == ErrorKind::NotFound => {
            // Straight to the file descriptor: the test harness captures eprintln!.
            let _ =
                writeln!(std::io::stderr(), "the Redis tests need `{program}`, which is not installed: {INSTALL_HINT}");
            std::process::exit(1);
        }
        _ => {}
    }
}

struct SpawnRequest {
    program: &'static str,
    args: Vec<OsString>,
    log: PathBuf,
    reply: mpsc::Sender<std::io::Result<Child>>,
}

/// Starts `program` from the spawner thread, so that it is killed when the
/// test process dies however it dies.
fn spawn_tied_to_process(program: &'static str, args: Vec<OsString>, log: &Path) -> Child {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    require_program(program);
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("redis-spawner".into())
            // The sender lives in a static, so this loop (and the thread the
            // children's parent-death signal follows) lasts as long as the process.
            .spawn(move || {
                for request in incoming {
                    let _ = request.reply.send(spawn_child(&request));
                }
            })
            .expect("the spawner thread starts");
        requests
    });
    let (reply, answer) = mpsc::channel();
    spawner.send(SpawnRequest { program, args, log: log.to_owned(), reply }).expect("the spawner thread runs");
    answer.recv().expect("the spawner thread answers").unwrap_or_else(|error| panic!("{program} cannot start: {error}"))
}

fn spawn_child(request: &SpawnRequest) -> std::io::Result<Child> {
    let log = File::create(&request.log)?;
    let mut command = Command::new(request.program);
    command.args(&request.args).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id();
        // SAFETY: between fork and exec only async-signal-safe calls (prctl, getppid, _exit).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before the signal was asked for.
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    command.spawn()
}

#[test]
fn a_three_master_cluster_starts_and_spreads_hash_tags_over_its_masters() {
    let cluster = RedisCluster::start();
    let ports = cluster.ports();
    assert_eq!(cluster.seed_addresses().len(), 3);
    assert!(ports.iter().all(|port| cluster_state_ok(*port)));

    // A node answers a key it owns and redirects (MOVED) the others, so the
    // one node that accepts a plain SET is the key's owner.
    let owner_of = |key: &str| -> usize {
        let accepting: Vec<usize> =
            (0..ports.len()).filter(|node| query(ports[*node], &["SET", key, "1"]).is_ok()).collect();
        assert_eq!(accepting.len(), 1, "{key} is owned by exactly one master: {accepting:?}");
        accepting[0]
    };
    let mut owners = std::collections::BTreeSet::new();
    for tag in 0..24 {
        let owner = owner_of(&format!("wgtest:{{tag{tag}}}:account"));
        assert_eq!(owner_of(&format!("wgtest:{{tag{tag}}}:journal")), owner, "one hash tag, one node");
        owners.insert(owner);
    }
    assert_eq!(owners.len(), 3, "different hash tags land on every master");

    drop(cluster);
    assert!(ports.iter().all(|port| query(*port, &["PING"]).is_err()), "the cluster is torn down");
}

#[test]
fn the_suite_uses_a_private_server_unless_told_otherwise() {
    let url = crate::helpers::redis_url();
    if let Ok(named) = std::env::var("WALLETGATE_TEST_REDIS_URL") {
        assert_eq!(url, named);
        return;
    }
    let port: u16 = url.trim_start_matches("redis://127.0.0.1:").trim_end_matches("/0").parse().unwrap();
    assert_ne!(port, 6379, "never the developer's Redis");
    assert_eq!(query(port, &["PING"]).unwrap(), "PONG");
    assert_eq!(crate::helpers::redis_url(), url, "started once per test process");
}
