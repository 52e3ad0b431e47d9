//! Which master serves each slot of a Redis Cluster, for the commits that
//! take a connection of their own (`watched.rs`): the cluster client
//! multiplexes one connection per master and cannot lend one to a `WATCH`,
//! so a commit on a cluster goes to its slot's master on a connection from
//! that master's pool, found here.
//!
//! The map is read with `CLUSTER SLOTS` when first needed and forgotten
//! whenever a commit finds it wrong (a slot moved, a master failed over or
//! died: `MOVED`, `ASK`, a refused or broken connection before the
//! `EXEC`). Until it is read again the commit goes through the cluster
//! client, which follows the cluster by itself, as the script; one commit
//! reads the map again meanwhile, the others do not wait for it. A wrong map
//! costs a retry, never a wrong write: every key a commit writes lies in
//! one slot, and a node that does not serve it refuses the whole
//! transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{ConnectionAddr, ConnectionInfo, Value};

use super::keys::CLUSTER_SLOTS;
use super::watched::WatchConnections;
use crate::settings::StoreSettings;

/// No master known for a slot (not served, or not yet read).
const UNSERVED: u16 = u16::MAX;

/// The masters of a cluster by slot, and each master's commit connections.
pub(super) struct SlotMasters {
    /// The first seed node's connection settings (credentials, database,
    /// TLS); each master's connections use them with its own address.
    seed: ConnectionInfo,
    settings: StoreSettings,
    // A std lock: held only to read or swap the map, never across an await.
    map: RwLock<Option<Arc<SlotMap>>>,
    /// Each master's pool by address, kept across readings of the map.
    pools: Mutex<HashMap<String, Arc<WatchConnections>>>,
    /// Held by the one commit that reads the map again.
    reading: tokio::sync::Mutex<()>,
}

/// One reading of `CLUSTER SLOTS`.
struct SlotMap {
    /// For each slot, its master's index in `masters`, or `UNSERVED`.
    master_of_slot: Box<[u16]>,
    masters: Vec<(String, Arc<WatchConnections>)>,
}

impl SlotMasters {
    pub(super) fn new(seed: ConnectionInfo, settings: &StoreSettings) -> SlotMasters {
        SlotMasters {
            seed,
            settings: settings.clone(),
            map: RwLock::new(None),
            pools: Mutex::new(HashMap::new()),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// The commit connections of `slot`'s master, reading the map first if
    /// it is not known; `None` while it cannot be known (another commit is
    /// reading it, or the cluster did not answer), and the commit then goes
    /// through the cluster client.
    pub(super) async fn master_of(&self, slot: u16, cluster: &ClusterConnection) -> Option<Arc<WatchConnections>> {
        if let Some(found) = self.known_master_of(slot) {
            return found;
        }
        let _reading = self.reading.try_lock().ok()?;
        if let Some(found) = self.known_master_of(slot) {
            return found;
        }
        match read_slot_map(cluster, &self.seed).await {
            Ok(ranges) => {
                let map = Arc::new(self.build(&ranges));
                let found = map.master(slot);
                *self.map.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(map);
                found
            }
            Err(error) => {
                tracing::debug!(%error, "the cluster's slot map could not be read; commits go by script meanwhile");
                None
            }
        }
    }

    /// `Some(master)` when the map is known (`Some(None)`: it names no master for the slot).
    fn known_master_of(&self, slot: u16) -> Option<Option<Arc<WatchConnections>>> {
        let map = self.map.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.as_ref().map(|map| map.master(slot))
    }

    /// Forgets the map: a commit found it wrong. Masters still serving
    /// slots at the next reading keep their idle connections.
    pub(super) fn forget(&self) {
        *self.map.write().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// A map of `ranges`, reusing the pools of masters already known.
    fn build(&self, ranges: &[SlotRange]) -> SlotMap {
        let mut pools = self.pools.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut master_of_slot = vec![UNSERVED; usize::from(CLUSTER_SLOTS)].into_boxed_slice();
        let mut masters: Vec<(String, Arc<WatchConnections>)> = Vec::new();
        for (low, high, host, port) in ranges {
            let address = format!("{host}:{port}");
            let index = match masters.iter().position(|(known, _)| *known == address) {
                Some(index) => index,
                None => {
                    let pool = match pools.get(&address) {
                        Some(pool) => Arc::clone(pool),
                        None => match self.pool_for(host, *port) {
                            Some(pool) => Arc::new(pool),
                            // An address the client cannot take: its slots go by script.
                            None => continue,
                        },
                    };
                    masters.push((address, pool));
                    masters.len() - 1
                }
            };
            let index = u16::try_from(index).unwrap_or(UNSERVED);
            for slot in *low..=(*high).min(CLUSTER_SLOTS - 1) {
                master_of_slot[usize::from(slot)] = index;
            }
        }
        // Masters no longer named are closed with their idle connections.
        *pools = masters.iter().map(|(address, pool)| (address.clone(), Arc::clone(pool))).collect();
        SlotMap { master_of_slot, masters }
    }

    /// Commit connections to one master, with the seed's settings.
    fn pool_for(&self, host: &str, port: u16) -> Option<WatchConnections> {
        let addr = match self.seed.addr() {
            ConnectionAddr::TcpTls { insecure, tls_params, .. } => ConnectionAddr::TcpTls {
                host: host.to_owned(),
                port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => ConnectionAddr::Tcp(host.to_owned(), port),
        };
        let client = redis::Client::open(self.seed.clone().set_addr(addr)).ok()?;
        Some(WatchConnections::new(client, &self.settings))
    }
}

impl SlotMap {
    fn master(&self, slot: u16) -> Option<Arc<WatchConnections>> {
        let index = *self.master_of_slot.get(usize::from(slot))?;
        self.masters.get(usize::from(index)).map(|(_, pool)| Arc::clone(pool))
    }
}

impl std::fmt::Debug for SlotMasters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotMasters").finish_non_exhaustive()
    }
}

/// `CLUSTER SLOTS`, asked of the seed node (which names itself with an
/// empty host when it has not learnt its address, alone in its cluster),
/// or of any node if the seed does not answer.
async fn read_slot_map(cluster: &ClusterConnection, seed: &ConnectionInfo) -> redis::RedisResult<Vec<SlotRange>> {
    let command = redis::cmd("CLUSTER").arg("SLOTS").clone();
    let seed = match seed.addr() {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => Some((host.clone(), *port)),
        _ => None,
    };
    let asked_seed = match &seed {
        Some((host, port)) => {
            let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host: host.clone(), port: *port });
            cluster.clone().route_command(command.clone(), routing).await.ok()
        }
        None => None,
    };
    let (reply, asked_host) = match asked_seed {
        Some(reply) => (reply, seed.map(|(host, _)| host)),
        None => {
            let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
            (cluster.clone().route_command(command, routing).await?, None)
        }
    };
    parse_slot_ranges(&reply, asked_host.as_deref()).ok_or_else(|| {
        redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, "CLUSTER SLOTS answered in an unknown shape"))
    })
}

/// A range of slots, low and high, and its master's host and port.
type SlotRange = (u16, u16, String, u16);

/// The ranges of a `CLUSTER SLOTS` reply: `[low, high, [host, port, id, …], replicas…]`
/// each. A master announced with an empty host is the node asked
/// (`asked_host`); when that is not known its slots are left out, and go
/// by script.
fn parse_slot_ranges(reply: &Value, asked_host: Option<&str>) -> Option<Vec<SlotRange>> {
    let Value::Array(ranges) = reply else { return None };
    let mut parsed = Vec::with_capacity(ranges.len());
    for range in ranges {
        let Value::Array(fields) = range else { return None };
        let [low, high, master, ..] = fields.as_slice() else { return None };
        let (Value::Int(low), Value::Int(high), Value::Array(master)) = (low, high, master) else { return None };
        let [host, port, ..] = master.as_slice() else { return None };
        let host = match host {
            Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok()?,
            Value::SimpleString(text) => text.clone(),
            _ => return None,
        };
        let Value::Int(port) = port else { return None };
        let host = match (host.is_empty(), asked_host) {
            (false, _) => host,
            (true, Some(asked)) => asked.to_owned(),
            (true, None) => continue,
        };
        parsed.push((u16::try_from(*low).ok()?, u16::try_from(*high).ok()?, host, u16::try_from(*port).ok()?));
    }
    Some(parsed)
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::parse_slot_ranges;

    fn text(value: &str) -> Value {
        Value::BulkString(value.as_bytes().to_vec())
    }

    fn node(host: &str, port: i64) -> Value {
        Value::Array(vec![text(host), Value::Int(port), text("0123abcd")])
    }

    #[test]
    fn a_slot_map_reads_each_range_with_its_master() {
        let reply = Value::Array(vec![
            Value::Array(vec![Value::Int(0), Value::Int(5460), node("127.0.0.1", 7000), node("127.0.0.1", 7003)]),
            Value::Array(vec![Value::Int(5461), Value::Int(16383), node("127.0.0.1", 7001)]),
        ]);
        assert_eq!(
            parse_slot_ranges(&reply, None),
            Some(vec![(0, 5460, "127.0.0.1".to_owned(), 7000), (5461, 16383, "127.0.0.1".to_owned(), 7001)])
        );
    }

    #[test]
    fn a_master_without_a_host_is_the_node_asked_if_known_and_a_strange_reply_is_refused() {
        let unnamed = Value::Array(vec![Value::Array(vec![Value::Int(0), Value::Int(10), node("", 7000)])]);
        assert_eq!(parse_slot_ranges(&unnamed, None), Some(Vec::new()));
        assert_eq!(parse_slot_ranges(&unnamed, Some("10.0.0.5")), Some(vec![(0, 10, "10.0.0.5".to_owned(), 7000)]));
        assert_eq!(parse_slot_ranges(&Value::Nil, None), None);
        let short = Value::Array(vec![Value::Array(vec![Value::Int(0), Value::Int(10)])]);
        assert_eq!(parse_slot_ranges(&short, None), None);
        let wide = Value::Array(vec![Value::Array(vec![Value::Int(0), Value::Int(70_000), node("h", 1)])]);
        assert_eq!(parse_slot_ranges(&wide, None), None);
    }
}
