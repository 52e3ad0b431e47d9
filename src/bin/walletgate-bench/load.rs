//! The load drivers and what they measure: `wrk` (Debian's package) running
//! a Lua script of `bench/lua` against a URL for the run's duration, once the
//! servers in this process have settled from the load before, and the bare
//! actix-web JSON endpoint that is every scenario's ceiling.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context, bail};

use crate::config::Args;

/// One measured scenario.
#[derive(Debug, Clone)]
pub struct Measured {
    pub store: String,
    pub accounts: usize,
    pub scenario: String,
    pub requests: u64,
    pub per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub errors: u64,
    pub ratio: Option<f64>,
}

pub fn spawn_bare(workers: usize) -> anyhow::Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut server = HttpServer::new(|| {
        App::new().route(
            "/hello",
            web::get().to(|| async { HttpResponse::Ok().json(serde_json::json!({ "hello": "world" })) }),
        )
    })
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok((format!("http://127.0.0.1:{port}"), tokio::spawn(server.run())))
}

/// `script` against `url` for the run's duration per scenario.
pub fn wrk(args: &Args, lua_dir: &Path, script: &str, url: &str, script_args: &[&str]) -> anyhow::Result<Measured> {
    wrk_for(args, args.duration_secs, lua_dir, script, url, script_args)
}

/// `script` against `url` for `seconds`.
pub fn wrk_for(
    args: &Args,
    seconds: u64,
    lua_dir: &Path,
    script: &str,
    url: &str,
    script_args: &[&str],
) -> anyhow::Result<Measured> {
    settle();
    let output = Command::new("wrk")
        .env("WALLETGATE_BENCH_LUA", lua_dir)
        .arg(format!("-t{}", args.wrk_threads))
        .arg(format!("-c{}", args.connections))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("5s")
        .arg("-s")
        .arg(lua_dir.join(script))
        .arg(url)
        .arg("--")
        .args(script_args)
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|line| line.starts_with("BENCH ")).with_context(|| format!("wrk said: {stdout}"))?;
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    let non_2xx = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("Non-2xx or 3xx responses: "))
        .and_then(|count| count.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let requests = field("requests");
    let duration_s = field("duration_us") as f64 / 1e6;
    Ok(Measured {
        store: String::new(),
        accounts: 0,
        scenario: String::new(),
        requests,
        per_sec: requests as f64 / duration_s.max(1e-9),
        p50_us: field("p50_us"),
        p99_us: field("p99_us"),
        p999_us: field("p999_us"),
        errors: field("errors").max(non_2xx),
        ratio: None,
    })
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn which(program: &str) -> anyhow::Result<()> {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    if found { Ok(()) } else { bail!("{program} not found on PATH") }
}

/// How long `settle` waits at most, and the window it measures over.
const SETTLE_MAX: Duration = Duration::from_secs(10);
const SETTLE_WINDOW: Duration = Duration::from_millis(200);

/// Waits until the servers in this process have finished what the last load
/// left running (up to `SETTLE_MAX`): when wrk stops, the requests it had in
/// flight still run (64 logins' Argon2id hashes take about half a second
/// on two cores), and a scenario started at once would measure them too.
/// Settled is under 5 % of one core over `SETTLE_WINDOW`.
fn settle() {
    let started = Instant::now();
    let mut before = process_cpu();
    while started.elapsed() < SETTLE_MAX {
        std::thread::sleep(SETTLE_WINDOW);
        let now = process_cpu();
        if now.saturating_sub(before) <= SETTLE_WINDOW / 20 {
            return;
        }
        before = now;
    }
}

/// The CPU time this process has used, user and system.
fn process_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` fills the struct it is given and reads nothing else.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return Duration::ZERO;
    }
    // SAFETY: filled by the successful call above (and zeroed before it).
    let usage = unsafe { usage.assume_init() };
    let of = |time: libc::timeval| {
        Duration::from_secs(u64::try_from(time.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(time.tv_usec).unwrap_or(0))
    };
    of(usage.ru_utime) + of(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scenario waits for what the one before left running: `settle`
    /// returns only once a busy thread of this process has stopped, and at
    /// once (within a few windows) when nothing runs.
    #[test]
    fn settle_waits_for_work_left_running_and_no_longer() {
        let busy_for = Duration::from_millis(800);
        let started = Instant::now();
        let busy = std::thread::spawn(move || {
            while started.elapsed() < busy_for {
                std::hint::spin_loop();
            }
        });
        settle();
        assert!(started.elapsed() >= busy_for, "settled after {:?}, while busy for {busy_for:?}", started.elapsed());
        busy.join().expect("busy thread");

        let idle = Instant::now();
        settle();
        assert!(idle.elapsed() < SETTLE_WINDOW * 5, "an idle process settled after {:?}", idle.elapsed());
    }
}
