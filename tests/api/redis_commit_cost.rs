//! What one withdrawal costs Redis: submits withdrawals to a gateway on a
//! private, fresh `redis-server` and reads `INFO commandstats` before and
//! after, so the figure is Redis's own time per withdrawal, by command.
//!
//! A measurement, not a check: run it on a quiet machine with
//! `cargo test --test api redis_commit_cost -- --ignored --nocapture`, or
//! count Redis's instructions with `bench/commit-cost.sh`, which replays
//! what it sent into a `redis-server` under callgrind.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use reqwest::StatusCode;
use walletgate::settings::{Overrides, Settings};

use crate::helpers::{StoreKind, json_of, spawn_app_with};
use crate::redis_outage::start_redis;
use crate::redis_servers::free_port;
use crate::withdrawals::{body, ready_user, withdraw};

/// Users submitting at once: enough that Redis always has work waiting, as
/// under load, rather than waking up cold for each command.
const USERS: usize = 50;
const WITHDRAWALS_PER_USER: usize = 40;

/// Commands whose time includes the commands run inside them (a script's
/// `redis.call`s, a transaction's queued commands): summing these and the
/// commands sent on their own gives Redis's time without counting twice.
const ENVELOPES: [&str; 4] = ["evalsha", "eval", "multi", "exec"];

/// The commands a withdrawal runs inside the commit script: those it calls
/// by name. Any other command was sent on its own (the `GET` of the
/// caller's token family, the wake-up of event listeners, say) and counts
/// in the total.
fn commands_inside_the_commit() -> Vec<String> {
    let script = include_str!("../../src/store/redis/commit_partition.lua");
    script
        .split("redis.call('")
        .skip(1)
        .filter_map(|rest| rest.split_once('\'').map(|(name, _)| name.to_lowercase()))
        .collect()
}

/// `calls` and `usec` by command, from `INFO commandstats`.
fn command_stats(connection: &mut redis::Connection) -> BTreeMap<String, (u64, u64)> {
    let info: String = redis::cmd("INFO").arg("commandstats").query(connection).unwrap();
    info.lines()
        .filter_map(|line| {
            let (name, fields) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let field = |key: &str| {
                fields.split(',').find_map(|pair| pair.strip_prefix(key)?.strip_prefix('=')?.parse::<u64>().ok())
            };
            Some((name.to_owned(), (field("calls")?, field("usec")?)))
        })
        .collect()
}

/// Seconds of CPU Redis's main thread has used, user and system: unlike
/// `commandstats` (wall time), not inflated when other processes take the
/// core, and inclusive of reading requests and writing replies.
fn main_thread_cpu_secs(connection: &mut redis::Connection) -> f64 {
    let info: String = redis::cmd("INFO").arg("cpu").query(connection).unwrap();
    info.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| matches!(*name, "used_cpu_user_main_thread" | "used_cpu_sys_main_thread"))
        .filter_map(|(_, value)| value.trim().parse::<f64>().ok())
        .sum()
}

/// `store.key_prefix` as a deployment's settings load it (config/default.toml).
fn default_key_prefix() -> String {
    let config_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let overrides = Overrides { config_dir: Some(config_dir), ..Overrides::default() };
    Settings::load(&overrides).expect("the default settings load").store.key_prefix
}

#[tokio::test]
#[ignore = "a measurement: run on a quiet machine with --ignored --nocapture"]
async fn redis_time_per_withdrawal_by_command() {
    // A private Redis, or a fresh one named in the environment (to watch
    // with `MONITOR`, say): a single Redis, or a cluster of one master
    // (`redis+cluster://host:port`), whose counters are read on that master.
    let port = free_port();
    let (url, _redis) = match std::env::var("WALLETGATE_COST_REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => (format!("redis://127.0.0.1:{port}/0"), Some(start_redis(port).await)),
    };
    let app = spawn_app_with(StoreKind::Redis, |settings| {
        settings.store.url = url.clone();
        // The deployment's default prefix (config/default.toml), not a test's
        // longer unique one: Redis hashes every byte of every key, so the keys
        // measured are as long as a deployment's. The Redis holds nothing else.
        settings.store.key_prefix = default_key_prefix();
        // One address sets up and drives every user: the guessing limits would stop it.
        let generous = walletgate::settings::RateLimit { burst: 1_000_000, per_minute: 1_000_000 };
        let limits = &mut settings.rate_limits;
        for pair in [&mut limits.login, &mut limits.register, &mut limits.sms, &mut limits.pin] {
            (pair.per_account, pair.per_ip) = (generous, generous);
        }
        let l0 = &mut settings.withdrawals.levels.l0;
        l0.daily_amount_max = "100000000.00".into();
        l0.monthly_amount_max = "100000000.00".into();
        l0.daily_count_max = u32::MAX;
    })
    .await;
    let mut users = Vec::new();
    for _ in 0..USERS {
        users.push(ready_user(&app, "100000.00").await);
    }
    let stats_url = match url.strip_prefix("redis+cluster://") {
        Some(master) => format!("redis://{master}/0"),
        None => url.clone(),
    };
    let mut connection = redis::Client::open(stats_url.as_str()).unwrap().get_connection().unwrap();
    let (before, cpu_before) = (command_stats(&mut connection), main_thread_cpu_secs(&mut connection));
    for round in 0..WITHDRAWALS_PER_USER {
        let submissions = users.iter().map(|(user, binding_id)| {
            let app = &app;
            async move {
                let reply = withdraw(app, user, format!("cost-{round}"), body(binding_id, "1.00")).await;
                json_of(reply, StatusCode::ACCEPTED).await
            }
        });
        join_all(submissions).await;
    }
    let (after, cpu_after) = (command_stats(&mut connection), main_thread_cpu_secs(&mut connection));

    let withdrawals = (USERS * WITHDRAWALS_PER_USER) as f64;
    println!("Redis time per withdrawal ({withdrawals} withdrawals), by command:");
    println!("{:<18} {:>10} {:>10} {:>10}", "command", "calls/wd", "µs/call", "µs/wd");
    let (mut total_usec, mut envelopes_usec) = (0.0, 0.0);
    let inside = commands_inside_the_commit();
    for (name, (calls, usec)) in &after {
        let (calls_before, usec_before) = before.get(name).copied().unwrap_or_default();
        let (calls, usec) = (calls - calls_before, (usec - usec_before) as f64);
        if calls == 0 || name == "info" {
            continue;
        }
        let envelope = ENVELOPES.contains(&name.as_str());
        if envelope {
            envelopes_usec += usec;
        }
        let counted = envelope || !inside.contains(name);
        if counted {
            total_usec += usec;
        }
        // A command the script calls may also be sent on its own (`SET`:
        // the index entry of a withdrawal the list cannot lead to, and the
        // saved reply in the script).
        let marker = if counted { "" } else { "  (inside the above, and any sent alone)" };
        println!(
            "{name:<18} {:>10.2} {:>10.2} {:>10.2}{marker}",
            calls as f64 / withdrawals,
            usec / calls as f64,
            usec / withdrawals
        );
    }
    println!("the commit and the read (EVALSHA, MULTI/EXEC): {:.2} µs per withdrawal", envelopes_usec / withdrawals);
    println!(
        "total Redis time per withdrawal: {:.2} µs (commandstats; commands also called by the script left out)",
        total_usec / withdrawals
    );
    println!("Redis main thread CPU per withdrawal: {:.2} µs", (cpu_after - cpu_before) * 1e6 / withdrawals);
}
