//! The Redis servers a store's data lives on, each reached on its own (no
//! cluster redirection): the one node of a `redis://` store, or every master
//! of a `redis+cluster://` store, found with `CLUSTER NODES` on a seed node.
//! Through them the bench reads each node's counters (`INFO commandstats`,
//! `INFO cpu`, `INFO stats`, `INFO memory`), resets them (`CONFIG RESETSTAT`), counts the
//! run's keys and shards per node, runs `redis-benchmark`, and deletes the
//! run's keys at the end.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use walletgate::settings::{StoreKind, StoreSettings};

/// How long a connection to one node may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Keys asked for per `SCAN` step.
const SCAN_COUNT: usize = 10_000;

/// One Redis server.
#[derive(Debug, Clone)]
pub struct RedisNode {
    /// `redis://[credentials@]host:port[/db]`: this node alone.
    pub url: String,
    /// `host:port`.
    pub address: String,
    /// The slot ranges it serves (`0-5460`); empty for a single Redis.
    pub slots: String,
}

/// The nodes of one store: one, or a cluster's masters in slot order.
#[derive(Debug, Clone)]
pub struct RedisNodes {
    pub cluster: bool,
    pub nodes: Vec<RedisNode>,
}

/// A node's counters at one moment.
#[derive(Debug, Clone)]
pub struct NodeCounters {
    /// `INFO commandstats` since the last `CONFIG RESETSTAT`: calls by
    /// command (a script's own calls counted under theirs as well).
    pub calls: Vec<(String, u64)>,
    /// The same: microseconds spent in each command (a script's own calls
    /// counted in the script's time as well as under theirs).
    pub usec: Vec<(String, u64)>,
    /// `used_cpu_user_main_thread + used_cpu_sys_main_thread` (never reset).
    pub main_thread_cpu_secs: f64,
    /// `total_reads_processed` since the last reset: socket reads, each
    /// bringing one or more commands.
    pub reads: u64,
}

impl RedisNodes {
    /// The nodes of the store `settings` names; none for the memory store.
    pub fn of(settings: &StoreSettings) -> anyhow::Result<Option<RedisNodes>> {
        Ok(match settings.kind().map_err(anyhow::Error::msg)? {
            StoreKind::Memory => None,
            StoreKind::Redis(url) => {
                let address = url::Url::parse(&url)
                    .ok()
                    .and_then(|url| Some(format!("{}:{}", url.host_str()?, url.port().unwrap_or(6379))))
                    .unwrap_or_else(|| url.clone());
                Some(RedisNodes { cluster: false, nodes: vec![RedisNode { url, address, slots: String::new() }] })
            }
            StoreKind::RedisCluster(seeds) => Some(RedisNodes { cluster: true, nodes: cluster_masters(&seeds)? }),
        })
    }

    /// `CONFIG RESETSTAT` on every node.
    pub fn reset_stats(&self) -> anyhow::Result<()> {
        for node in &self.nodes {
            let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut node.connect()?)?;
        }
        Ok(())
    }

    /// Every node's counters, in node order.
    pub fn counters(&self) -> anyhow::Result<Vec<NodeCounters>> {
        self.nodes.iter().map(RedisNode::counters).collect()
    }

    /// `used_memory` summed over the nodes.
    pub fn used_memory(&self) -> Option<u64> {
        self.nodes.iter().map(|node| info_field(&node.info("memory").ok()?, "used_memory")?.parse::<u64>().ok()).sum()
    }

    /// Per node: the run's keys (`<prefix>:*`) and the shards it holds (a
    /// shard's account set, `<prefix>:{<tag>}:accounts`, lies in the shard's slot).
    pub fn keys_and_shards(&self, prefix: &str) -> anyhow::Result<Vec<(usize, usize)>> {
        self.nodes
            .iter()
            .map(|node| {
                let keys = node.scan(&format!("{prefix}:*"))?;
                let shards = keys
                    .iter()
                    .filter(|key| key.starts_with(&format!("{prefix}:{{")) && key.ends_with("}:accounts"))
                    .count();
                Ok((keys.len(), shards))
            })
            .collect()
    }

    /// Deletes the run's keys (one per command: on a cluster node, keys of
    /// several slots cannot go in one).
    pub fn clean(&self, prefix: &str) -> anyhow::Result<()> {
        for node in &self.nodes {
            let keys = node.scan(&format!("{prefix}:*"))?;
            let mut connection = node.connect()?;
            for chunk in keys.chunks(1_000) {
                let mut pipeline = redis::pipe();
                for key in chunk {
                    pipeline.cmd("UNLINK").arg(key).ignore();
                }
                let _: () = pipeline.query(&mut connection)?;
            }
        }
        Ok(())
    }

    /// `redis-benchmark -t set -c 64` against the store's Redis (in cluster
    /// mode on a cluster): SETs per second.
    pub fn benchmark_set(&self) -> Option<f64> {
        let first = self.nodes.first()?;
        let mut command = Command::new("redis-benchmark");
        command.args(["-u", &first.url]);
        if self.cluster {
            command.arg("--cluster");
        }
        let output = command.args(["-t", "set", "-n", "200000", "-c", "64", "-q"]).output().ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        // "SET: 91743.12 requests per second, p50=0.351 msec"
        let line = text.lines().rev().find(|line| line.contains("SET:"))?;
        // Progress updates come before it on the same line, separated by carriage returns.
        line.rsplit("SET:").next()?.split_whitespace().next()?.parse().ok()
    }
}

impl RedisNode {
    fn connect(&self) -> anyhow::Result<redis::Connection> {
        let client = redis::Client::open(self.url.as_str()).with_context(|| format!("redis node {}", self.address))?;
        client.get_connection_with_timeout(CONNECT_TIMEOUT).with_context(|| format!("connecting to {}", self.address))
    }

    fn info(&self, section: &str) -> anyhow::Result<String> {
        Ok(redis::cmd("INFO").arg(section).query(&mut self.connect()?)?)
    }

    fn counters(&self) -> anyhow::Result<NodeCounters> {
        let cpu = self.info("cpu")?;
        let seconds = |field: &str| info_field(&cpu, field).and_then(|value| value.parse::<f64>().ok()).unwrap_or(0.0);
        let main_thread_cpu_secs = seconds("used_cpu_user_main_thread") + seconds("used_cpu_sys_main_thread");
        let reads = info_field(&self.info("stats")?, "total_reads_processed").and_then(|value| value.parse().ok());
        let commandstats = self.info("commandstats")?;
        let field = |prefix: &str| -> Vec<(String, u64)> {
            commandstats
                .lines()
                .filter_map(|line| {
                    // cmdstat_hset:calls=12,usec=30,usec_per_call=2.50,rejected_calls=0,failed_calls=0
                    let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                    let value = stats.split(',').find_map(|pair| pair.strip_prefix(prefix))?.parse().ok()?;
                    Some((name.to_owned(), value))
                })
                .collect()
        };
        let (calls, usec) = (field("calls="), field("usec="));
        Ok(NodeCounters { calls, usec, main_thread_cpu_secs, reads: reads.unwrap_or(0) })
    }

    /// Every key of this node matching `pattern`.
    fn scan(&self, pattern: &str) -> anyhow::Result<Vec<String>> {
        let mut connection = self.connect()?;
        let mut keys = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query(&mut connection)?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

/// A `field:value` line of an `INFO` reply.
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':')).map(str::trim)
}

/// The masters serving slots, by `CLUSTER NODES` on the first seed that
/// answers, each with the seeds' credentials, in the order of their slots.
fn cluster_masters(seeds: &[String]) -> anyhow::Result<Vec<RedisNode>> {
    let mut last_error = None;
    for seed in seeds {
        let answer = redis::Client::open(seed.as_str())
            .and_then(|client| client.get_connection_with_timeout(CONNECT_TIMEOUT))
            .and_then(|mut connection| redis::cmd("CLUSTER").arg("NODES").query::<String>(&mut connection));
        match answer {
            Ok(text) => return masters_of(&text, seed),
            Err(error) => last_error = Some(error),
        }
    }
    bail!("no cluster seed node answered CLUSTER NODES: {last_error:?}")
}

/// Reads `CLUSTER NODES`: `<id> <ip:port@bus[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>…`.
fn masters_of(text: &str, seed: &str) -> anyhow::Result<Vec<RedisNode>> {
    let (scheme, rest) = seed.split_once("://").unwrap_or(("redis", seed));
    let credentials = rest.rsplit_once('@').map(|(credentials, _)| format!("{credentials}@")).unwrap_or_default();
    let mut masters: Vec<(u16, RedisNode)> = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            let serving = flags.split(',').any(|flag| flag == "master")
                && !flags.split(',').any(|flag| flag.starts_with("fail") || flag == "noaddr");
            // Migrating and importing slots show as `[slot->-id]`; only ranges are served.
            let slots: Vec<&str> = fields.get(8..)?.iter().copied().filter(|slot| !slot.starts_with('[')).collect();
            if !serving || slots.is_empty() {
                return None;
            }
            let address = fields.get(1)?.split(['@', ',']).next()?.to_owned();
            let first_slot = slots[0].split('-').next()?.parse().ok()?;
            let url = format!("{scheme}://{credentials}{address}");
            Some((first_slot, RedisNode { url, address, slots: slots.join(" ") }))
        })
        .collect();
    masters.sort_by_key(|(first_slot, _)| *first_slot);
    if masters.is_empty() {
        bail!("CLUSTER NODES on {seed} names no master serving slots");
    }
    Ok(masters.into_iter().map(|(_, node)| node).collect())
}
