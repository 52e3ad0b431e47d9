//! The load drivers and what they measure: `wrk` (Debian's package) running
//! a Lua script of `bench/lua` against a URL for the run's duration, the bare
//! actix-web JSON endpoint that is every scenario's ceiling.

use std::path::Path;
use std::process::Command;

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
