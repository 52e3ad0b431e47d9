//! The peer mock servers: the static mocks people use instead of a stateful
//! simulator, run beside walletgate so its `POST /v1/withdrawals` can be
//! compared with theirs. Owns installing them (`npm ci` in `bench/peers`,
//! versions pinned by its `package-lock.json`), starting Stoplight Prism on
//! walletgate's own OpenAPI document and the Mockoon CLI on
//! `bench/peers/mockoon-withdrawals.json`, waiting until each answers the
//! request `bench/lua/withdraw.lua` sends, and stopping them (their whole
//! process group) when the [`Peer`] is dropped. Their output goes to log
//! files in a temp directory, never to the terminal.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

/// How long a peer may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The Mockoon environment, inside the peers directory.
pub const MOCKOON_ENVIRONMENT: &str = "mockoon-withdrawals.json";
/// Written into `node_modules` after `npm ci`: the SHA-256 of the lock file installed.
const INSTALL_STAMP: &str = ".walletgate-bench-lock.sha256";
/// How many times `npm ci` is tried, and the pause after the first failure
/// (doubled after the second).
const INSTALL_ATTEMPTS: u32 = 3;
const INSTALL_RETRY_PAUSE: Duration = Duration::from_secs(10);
/// The readiness probe's account: a token and binding id of the shapes walletgate
/// issues (a JWT; `bnd_` and 32 hex digits), as the load's accounts file has them.
const PROBE_TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.e30.x";
const PROBE_BINDING: &str = "bnd_0190a1b2c3d4e5f6a7b8c9d0e1f2a3b4";
/// How much of a peer's log an error quotes.
const LOG_TAIL_BYTES: usize = 4000;

/// A running peer mock server; killed (with its process group / children) on drop.
pub struct Peer {
    pub name: &'static str,
    pub base_url: String,
    /// Where its stdout and stderr go; removed on drop.
    pub log_path: PathBuf,
    child: Child,
}

impl Drop for Peer {
    fn drop(&mut self) {
        stop_group(&mut self.child);
        let _ = std::fs::remove_file(&self.log_path);
        // The directory goes with its last log (remove_dir leaves a non-empty one).
        if let Some(dir) = self.log_path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Runs `npm ci` in `peers_dir` unless its node_modules are already installed and match.
pub fn install(peers_dir: &Path) -> anyhow::Result<()> {
    let lock = std::fs::read(peers_dir.join("package-lock.json"))
        .with_context(|| format!("reading {}/package-lock.json", peers_dir.display()))?;
    let digest = hex::encode(Sha256::digest(&lock));
    let stamp = peers_dir.join("node_modules").join(INSTALL_STAMP);
    let installed = std::fs::read_to_string(&stamp).is_ok_and(|text| text.trim() == digest)
        && [prism_bin(peers_dir), mockoon_bin(peers_dir)].iter().all(|bin| bin.is_file());
    if installed {
        return Ok(());
    }
    println!("installing the peer mock servers (npm ci in {})", peers_dir.display());
    // The registry is a network away: a dropped connection or a registry
    // hiccup fails one `npm ci`, so it is tried a few times before giving up.
    let mut failures = Vec::new();
    for attempt in 1..=INSTALL_ATTEMPTS {
        let output = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(peers_dir)
            .stdin(Stdio::null())
            .output()
            .context("running npm ci (Node.js and npm are needed for the peer mock servers)")?;
        if output.status.success() {
            std::fs::write(&stamp, format!("{digest}\n")).with_context(|| format!("writing {}", stamp.display()))?;
            return Ok(());
        }
        let failure = format!(
            "attempt {attempt}: {}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("npm ci in {} failed, {failure}", peers_dir.display());
        failures.push(failure);
        if attempt < INSTALL_ATTEMPTS {
            std::thread::sleep(INSTALL_RETRY_PAUSE * attempt);
        }
    }
    bail!("npm ci in {} failed {INSTALL_ATTEMPTS} times:\n{}", peers_dir.display(), failures.join("\n"))
}

/// Prism mocking `openapi_json` on 127.0.0.1:`port`, ready to answer POST /v1/withdrawals.
pub async fn start_prism(peers_dir: &Path, openapi_json: &Path, port: u16) -> anyhow::Result<Peer> {
    let openapi_json = std::path::absolute(openapi_json)?;
    if !openapi_json.is_file() {
        bail!("no OpenAPI document at {}", openapi_json.display());
    }
    let mut command = Command::new(prism_bin(peers_dir));
    // Static mode (no `--dynamic`): the lowest 2xx response, built from the
    // document's examples. Prism still validates each request against the
    // document (a bearer token present, body and headers matching their
    // schemas) and answers a violation with the operation's 401/422 example.
    // `--multiprocess` (the HTTP server in a forked child) and `warn` (no
    // lines per request; violations are still logged) are its fastest
    // settings; CORS headers are off, as they are in the Mockoon environment.
    command
        .arg("mock")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--multiprocess", "--verboseLevel", "warn", "--cors", "false"])
        .arg(&openapi_json);
    let peer = spawn("prism", command, peers_dir, port)?;
    wait_ready(peer).await
}

/// Mockoon CLI serving bench/peers/mockoon-withdrawals.json on 127.0.0.1:`port`, ready.
pub async fn start_mockoon(peers_dir: &Path, port: u16) -> anyhow::Result<Peer> {
    let environment = std::path::absolute(peers_dir.join(MOCKOON_ENVIRONMENT))?;
    let mut command = Command::new(mockoon_bin(peers_dir));
    command
        .arg("start")
        .arg("--data")
        .arg(&environment)
        .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
        // Logs go to stdout (our log file) only, not to ~/.mockoon-cli/logs;
        // the admin API is not part of what is measured.
        .args(["--disable-log-to-file", "--disable-admin-api"]);
    let peer = spawn("mockoon", command, peers_dir, port)?;
    wait_ready(peer).await
}

fn prism_bin(peers_dir: &Path) -> PathBuf {
    peers_dir.join("node_modules/.bin/prism")
}

fn mockoon_bin(peers_dir: &Path) -> PathBuf {
    peers_dir.join("node_modules/.bin/mockoon-cli")
}

fn log_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("walletgate-bench-peers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Starts `command` in a process group of its own (so every process it forks
/// can be stopped together), its output appended to a log file.
fn spawn(name: &'static str, mut command: Command, peers_dir: &Path, port: u16) -> anyhow::Result<Peer> {
    use std::os::unix::process::CommandExt;
    let log_path = log_dir()?.join(format!("{name}-{port}.log"));
    let log = File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    command.current_dir(peers_dir).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).process_group(0);
    let child =
        command.spawn().with_context(|| format!("starting {name} (run `npm ci` in {})", peers_dir.display()))?;
    Ok(Peer { name, base_url: format!("http://127.0.0.1:{port}"), log_path, child })
}

/// Polls until `POST /v1/withdrawals`, sent as `bench/lua/withdraw.lua` sends
/// it, answers 2xx; on a timeout or an early exit the peer is stopped and the
/// error quotes its output.
async fn wait_ready(mut peer: Peer) -> anyhow::Result<Peer> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let url = format!("{}/v1/withdrawals", peer.base_url);
    let started = Instant::now();
    let mut attempt = 0u64;
    loop {
        if let Some(status) = peer.child.try_wait()? {
            bail!("{} exited ({status}) before it was ready; its output:\n{}", peer.name, log_tail(&peer.log_path));
        }
        attempt += 1;
        let sent = client
            .post(&url)
            .header("Authorization", format!("Bearer {PROBE_TOKEN}"))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", format!("bench-ready-{}-{attempt}", std::process::id()))
            .body(format!(r#"{{"amount":"1.00","binding_id":"{PROBE_BINDING}","pin":"{}"}}"#, crate::BENCH_PIN))
            .send()
            .await;
        let last = match sent {
            Ok(response) if response.status().is_success() => return Ok(peer),
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                format!("answered {status}: {}", body.chars().take(1000).collect::<String>())
            }
            Err(error) => format!("{error}"),
        };
        if started.elapsed() > READY_TIMEOUT {
            bail!(
                "{} did not answer POST {url} with 2xx within {} s (last: {last}); its output:\n{}",
                peer.name,
                READY_TIMEOUT.as_secs(),
                log_tail(&peer.log_path)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(LOG_TAIL_BYTES);
    String::from_utf8_lossy(&text[start..]).into_owned()
}

/// SIGTERM to the child's process group, up to 3 s for the leader to exit,
/// then SIGKILL to whatever of the group is left, and the leader reaped.
fn stop_group(child: &mut Child) {
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else { return };
    if matches!(child.try_wait(), Ok(None)) {
        signal_group(pgid, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    signal_group(pgid, libc::SIGKILL);
    let _ = child.wait();
}

fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) takes plain integers; a negative pid names the process
    // group the child leads (it was spawned with `process_group(0)`), so only
    // the peer and the processes it started are signalled. ESRCH (the group
    // is already gone) is the only expected failure and is ignored.
    unsafe {
        libc::kill(-pgid, signal);
    }
}
