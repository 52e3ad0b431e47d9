//! What the stored data costs: this process's resident memory (the server
//! runs in it) and Redis's `used_memory`, before and after a step, written
//! as bytes per account or per withdrawal for the run's notes.

use std::process::Command;

use crate::config::Args;

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

pub fn redis_per(args: &Args, store: &str, before: Option<u64>, count: usize, what: &str) -> String {
    redis_used_memory(args, store)
        .zip(before)
        .map(|(after, before)| {
            format!("; Redis used_memory {:.0} B per {what}", after.saturating_sub(before) as f64 / count.max(1) as f64)
        })
        .unwrap_or_default()
}

pub fn redis_used_memory(args: &Args, store: &str) -> Option<u64> {
    if store != "redis" {
        return None;
    }
    let port = args.redis_url.rsplit(':').next()?.split('/').next()?.to_owned();
    let output = Command::new("redis-cli").args(["-p", &port, "info", "memory"]).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().find_map(|line| line.strip_prefix("used_memory:")).and_then(|value| value.trim().parse().ok())
}
