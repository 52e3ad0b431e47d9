//! Whether any key or slot is hot: a short sample of every command each
//! Redis node executes, read with `MONITOR` (one `redis-cli` per node).
//! Each command is counted once for the key it names, its first argument;
//! `MONITOR` also shows the commands a script calls (as `lua`), so a
//! script's own line is skipped and its calls are counted instead, and
//! commands that name no key (`MULTI`, `EXEC`, `TIME`, …) are left out. A
//! shard channel (`SPUBLISH`) counts as a key: it lives in a slot too.
//!
//! This is exact for the sample, unlike `redis-cli --hotkeys`, whose LFU
//! counters are logarithmic and decay by the minute. `MONITOR` slows the
//! nodes down, so the sample runs on a load of its own, never on a measured one.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::redis_nodes::RedisNodes;

/// Commands that name no key, or whose calls are counted instead.
const KEYLESS: [&str; 17] = [
    "multi", "exec", "discard", "ping", "info", "time", "cluster", "select", "client", "hello", "readonly", "config",
    "command", "auth", "script", "evalsha", "eval",
];
/// How long `redis-cli` may take to attach to a node.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(5);
/// Busiest keys and slots named in the note.
const BUSIEST_SHOWN: usize = 3;
/// Redis Cluster's slots.
const CLUSTER_SLOTS: u16 = 16_384;

/// `MONITOR` running on every node until `finish`.
pub struct KeySample {
    monitors: Vec<(Child, JoinHandle<HashMap<String, u64>>)>,
}

/// Commands per key over the sample, every node together.
pub struct KeyCounts {
    per_key: HashMap<String, u64>,
}

impl KeySample {
    /// Attaches `MONITOR` to every node; returns once each has said OK.
    pub fn start(nodes: &RedisNodes) -> anyhow::Result<KeySample> {
        let mut monitors = Vec::new();
        for node in &nodes.nodes {
            let mut child = Command::new("redis-cli")
                .args(["-u", &node.url, "monitor"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .context("running redis-cli monitor")?;
            let stdout = child.stdout.take().context("redis-cli's output")?;
            let (attached, on_attached) = mpsc::channel();
            let reader = std::thread::spawn(move || count_keys(BufReader::new(stdout), attached));
            if on_attached.recv_timeout(ATTACH_TIMEOUT).is_err() {
                let _ = child.kill();
                bail!("MONITOR on {} did not start", node.address);
            }
            monitors.push((child, reader));
        }
        Ok(KeySample { monitors })
    }

    /// Stops every `MONITOR` and adds up what they saw.
    pub fn finish(self) -> anyhow::Result<KeyCounts> {
        let mut per_key: HashMap<String, u64> = HashMap::new();
        for (mut child, reader) in self.monitors {
            child.kill().context("stopping redis-cli monitor")?;
            let _ = child.wait();
            let counted = reader.join().map_err(|_| anyhow::anyhow!("the MONITOR reader panicked"))?;
            for (key, count) in counted {
                *per_key.entry(key).or_default() += count;
            }
        }
        Ok(KeyCounts { per_key })
    }
}

/// Reads `MONITOR` lines until the output ends: commands per key. Says so
/// on `attached` once `MONITOR` has answered OK.
fn count_keys(output: impl BufRead, attached: mpsc::Sender<()>) -> HashMap<String, u64> {
    let mut per_key: HashMap<String, u64> = HashMap::new();
    for line in output.split(b'\n') {
        let Ok(line) = line else { break };
        if line.starts_with(b"OK") {
            let _ = attached.send(());
            continue;
        }
        if let Some(key) = named_key(&line) {
            *per_key.entry(key).or_default() += 1;
        }
    }
    per_key
}

/// The key a `MONITOR` line's command names:
/// `1795777044.637720 [0 lua] "SET" "{a}k" "x"` names `{a}k`.
fn named_key(line: &[u8]) -> Option<String> {
    let start = line.windows(2).position(|pair| pair == b"] ")? + 2;
    let mut rest = &line[start..];
    let command = quoted(&mut rest)?;
    if KEYLESS.iter().any(|keyless| command.eq_ignore_ascii_case(keyless.as_bytes())) {
        return None;
    }
    let key = quoted(&mut rest)?;
    Some(String::from_utf8_lossy(&key).into_owned())
}

/// The next `"…"` argument of a `MONITOR` line, unescaped (`\"`, `\\`,
/// `\xNN`, `\n`, …); `rest` moves past it.
fn quoted(rest: &mut &[u8]) -> Option<Vec<u8>> {
    let open = rest.iter().position(|&byte| byte == b'"')?;
    let mut text = Vec::new();
    let mut at = open + 1;
    while at < rest.len() {
        match rest[at] {
            b'"' => {
                *rest = &rest[at + 1..];
                return Some(text);
            }
            b'\\' => {
                let escaped = *rest.get(at + 1)?;
                at += 2;
                match escaped {
                    b'x' => {
                        let hex = std::str::from_utf8(rest.get(at..at + 2)?).ok()?;
                        text.push(u8::from_str_radix(hex, 16).ok()?);
                        at += 2;
                    }
                    b'n' => text.push(b'\n'),
                    b'r' => text.push(b'\r'),
                    b't' => text.push(b'\t'),
                    b'a' => text.push(7),
                    b'b' => text.push(8),
                    other => text.push(other),
                }
            }
            byte => {
                text.push(byte);
                at += 1;
            }
        }
    }
    None
}

/// The cluster slot of a key, as Redis computes it: CRC16/XMODEM of the
/// text between the first `{` and the next `}` if that is not empty, else
/// of the whole key, modulo 16384.
fn slot_of(key: &str) -> u16 {
    let tagged = key.find('{').and_then(|open| {
        let length = key[open + 1..].find('}')?;
        (length > 0).then(|| &key[open + 1..open + 1 + length])
    });
    crc16::State::<crc16::XMODEM>::calculate(tagged.unwrap_or(key).as_bytes()) % CLUSTER_SLOTS
}

impl KeyCounts {
    /// The note: how many commands over how many keys and slots, the
    /// busiest keys and slots and their shares (keys shown with the run's
    /// prefix as `P`).
    pub fn note(&self, store: &str, accounts: usize, load: &str, prefix: &str) -> String {
        let total: u64 = self.per_key.values().sum();
        let share = |count: u64| 100.0 * count as f64 / total.max(1) as f64;
        let mut keys: Vec<(&String, u64)> = self.per_key.iter().map(|(key, &count)| (key, count)).collect();
        keys.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let mut per_slot: HashMap<u16, (u64, &String)> = HashMap::new();
        for &(key, count) in &keys {
            let entry = per_slot.entry(slot_of(key)).or_insert((0, key));
            entry.0 += count;
        }
        let mut slots: Vec<(u16, u64, &String)> =
            per_slot.into_iter().map(|(slot, (count, example))| (slot, count, example)).collect();
        slots.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let shown = |key: &str| key.replacen(prefix, "P", 1);
        let busiest_keys: Vec<String> = keys
            .iter()
            .take(BUSIEST_SHOWN)
            .map(|(key, count)| format!("`{}` {count} ({:.2} %)", shown(key), share(*count)))
            .collect();
        let busiest_slots: Vec<String> = slots
            .iter()
            .take(BUSIEST_SHOWN)
            .map(|(slot, count, example)| format!("{slot} (`{}`, …) {count} ({:.2} %)", shown(example), share(*count)))
            .collect();
        // A shard's slot holds its accounts' keys (`P:{<tag>}:…`).
        let shard_tag = format!("{prefix}:{{s");
        let shard_shares: Vec<f64> = slots
            .iter()
            .filter(|(_, _, example)| example.starts_with(&shard_tag))
            .map(|(_, count, _)| share(*count))
            .collect();
        let shard_summary = match (shard_shares.first(), shard_shares.last()) {
            (Some(most), Some(least)) => format!(
                "; the {} shard slots: {:.1} % of the commands together, {least:.2}–{most:.2} % each",
                shard_shares.len(),
                shard_shares.iter().sum::<f64>()
            ),
            _ => String::new(),
        };
        format!(
            "{store}, {accounts} accounts: keys and slots during {load} (MONITOR sample, a load of its own): {total} commands naming {} keys in {} slots; busiest keys: {}; busiest slots: {}{shard_summary}",
            keys.len(),
            slots.len(),
            busiest_keys.join(", "),
            busiest_slots.join(", ")
        )
    }
}
