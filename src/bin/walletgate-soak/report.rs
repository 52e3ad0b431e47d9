//! The run's summary: operations by kind and outcome, faults by kind,
//! invariants checked, and for each violation the history of the accounts
//! involved (every request the harness made for them, in order, with the
//! answer) and the command that replays the seed.

use std::collections::BTreeMap;

use crate::client::History;
use crate::cluster::Fault;
use crate::invariants::Checked;

/// Violations of one invariant shown with their history (the rest are listed only).
const DETAILED_MAX: usize = 2;
/// Requests shown per violation: the last ones before the check.
const HISTORY_MAX: usize = 80;

pub fn print(
    history: &History,
    faults: &BTreeMap<Fault, u64>,
    checked: &Checked,
    replay: &str,
    seed: u64,
    dir: &std::path::Path,
) {
    println!("\n== operations ({} requests) ==", history.len());
    let mut by_op: BTreeMap<&str, Vec<(String, u64)>> = BTreeMap::new();
    for ((op, class), count) in history.counts() {
        by_op.entry(op).or_default().push((class, count));
    }
    for (op, classes) in by_op {
        let total: u64 = classes.iter().map(|(_, n)| n).sum();
        let parts: Vec<String> = classes.iter().map(|(class, n)| format!("{class}: {n}")).collect();
        println!("  {op:<36} {total:>6}  {}", parts.join(", "));
    }
    println!("\n== faults injected ==");
    if faults.is_empty() {
        println!("  none");
    }
    for (fault, count) in faults {
        println!("  {:<60} {count:>4}", fault.name());
    }
    println!(
        "\n== quiescence: {:.1} s, {} withdrawals decided by the operator ==",
        checked.quiescence.as_secs_f64(),
        checked.decided_in_quiescence
    );
    println!(
        "== webhooks: {} posted events expected, {} deliveries of them accepted ({} in all), {} refused (then retried) ==",
        checked.webhooks.expected, checked.webhooks.accepted, checked.webhooks.accepted_all, checked.webhooks.refused
    );
    println!(
        "== WeChat payouts from ¥2,000 (named): {} settled, {} refused NAME_NOT_CORRECT ==",
        checked.real_names.settled, checked.real_names.name_refused
    );
    let sessions = &checked.sessions;
    println!(
        "== accounts read after quiescence: {} of {} registered ({} through their refresh token, their login locked) ==",
        sessions.read, sessions.registered, sessions.by_refresh
    );
    let streams = &checked.streams;
    println!(
        "== live event streams: {} listeners heard {} events, opened again {} times; {} pings, the slowest heard after {} ms ==",
        streams.listeners,
        streams.heard,
        streams.reconnects,
        streams.pinged,
        streams.slowest_ping.map_or("-".to_owned(), |took| took.as_millis().to_string())
    );
    println!("\n== invariants ==");
    // By their number: "2." before "10.".
    let mut invariants: Vec<(&&str, &u64)> = checked.checks.iter().collect();
    invariants.sort_by_key(|(invariant, _)| invariant.split('.').next().and_then(|n| n.parse::<u32>().ok()));
    for (invariant, count) in invariants {
        let broken = checked.violations.iter().filter(|v| v.invariant == *invariant).count();
        let verdict = if broken == 0 { "ok".to_owned() } else { format!("VIOLATED {broken}×") };
        println!("  {invariant:<72} {count:>6} checks  {verdict}");
    }
    if checked.violations.is_empty() {
        println!("\nno violations (seed {seed})");
        return;
    }
    println!("\n== {} violations (seed {seed}) ==", checked.violations.len());
    for (n, violation) in checked.violations.iter().enumerate() {
        println!("\n[{}] {}\n    {}", n + 1, violation.invariant, violation.detail);
        // The first violations of each invariant are shown with their history.
        let earlier = checked.violations[..n].iter().filter(|v| v.invariant == violation.invariant).count();
        if earlier >= DETAILED_MAX || (violation.phones.is_empty() && violation.seqs.is_empty()) {
            continue;
        }
        let mut records = if violation.phones.is_empty() {
            history.by_seq(&violation.seqs)
        } else {
            history.about(&violation.phones)
        };
        // Around the requests that show it: what led to them, and what followed.
        if let (false, Some(first), Some(last)) =
            (violation.phones.is_empty(), violation.seqs.iter().min(), violation.seqs.iter().max())
        {
            let from = records.iter().position(|r| r.seq >= *first).unwrap_or(0).saturating_sub(HISTORY_MAX / 2);
            let to = records.iter().position(|r| r.seq > *last).map_or(records.len(), |i| (i + 5).min(records.len()));
            records = records[from..to].to_vec();
        }
        let skipped = records.len().saturating_sub(HISTORY_MAX);
        println!(
            "    history of {:?} ({} requests{}):",
            violation.phones,
            records.len(),
            if skipped > 0 { format!(", the last {HISTORY_MAX}") } else { String::new() }
        );
        for record in records.iter().skip(skipped) {
            println!(
                "      #{:<6} {:>7}–{:<7} ms  client {:<3} gw {}  {:<32} {}\n               -> {}  {}",
                record.seq,
                record.started_ms,
                record.ended_ms,
                if record.client == usize::MAX { "end".to_owned() } else { record.client.to_string() },
                record.gateway,
                record.op,
                record.request,
                record.outcome,
                record.response
            );
        }
    }
    println!("\ngateway and Redis logs: {}", dir.display());
    println!("replay this seed: {replay}");
}
