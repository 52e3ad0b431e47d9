//! What the stored data costs: this process's resident memory (the server
//! runs in it) and Redis's `used_memory` (summed over a cluster's masters),
//! before and after a step, written
//! as bytes per account or per withdrawal for the run's notes.

use crate::redis_nodes::RedisNodes;

/// A size from this process's status (the server runs in it), in KiB:
/// `VmRSS:` resident now, `VmHWM:` peak.
pub fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

pub fn memory_per(count: usize, before_kib: u64, after_kib: u64, what: &str) -> String {
    format!("; {:.0} B per {what}", (after_kib.saturating_sub(before_kib) * 1024) as f64 / count.max(1) as f64)
}

/// `; Redis used_memory … B per <what>`: the growth of `used_memory` over
/// the store's nodes since `before`, per item; empty off Redis.
pub fn redis_per(nodes: Option<&RedisNodes>, before: Option<u64>, count: usize, what: &str) -> String {
    nodes
        .and_then(RedisNodes::used_memory)
        .zip(before)
        .map(|(after, before)| {
            format!("; Redis used_memory {:.0} B per {what}", after.saturating_sub(before) as f64 / count.max(1) as f64)
        })
        .unwrap_or_default()
}
