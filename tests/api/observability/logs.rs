//! The real binary's logs at the default level, in both formats: one access
//! line per request (method, route pattern, status, duration, request id),
//! and no secret of a request's URL anywhere — the OAuth callback's `code`
//! and `state`, an event stream ticket, the mock WeChat's app secret.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Longest wait for a line the gateway is expected to write.
const LINE_WAIT: Duration = Duration::from_secs(30);
const SECRETS: [&str; 4] = ["secret123", "state456", "ticket789", "appsecret000"];

/// The `walletgate` binary on the memory store, with its output read line by line.
struct LoggedGateway {
    address: String,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line read so far, in order.
    seen: Vec<String>,
    _child: Child,
}

fn forward(output: impl AsyncRead + Unpin + Send + 'static, lines: mpsc::UnboundedSender<String>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(output).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let _ = lines.send(line);
        }
    });
}

impl LoggedGateway {
    /// Starts the binary with the default log level, in `format`.
    async fn start(format: &str) -> LoggedGateway {
        let mut command = Command::new(env!("CARGO_BIN_EXE_walletgate"));
        command
            .args(["--port", "0", "--store", "memory://"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("WALLETGATE__LOG__FORMAT", format)
            .env("WALLETGATE__SERVER__WORKERS", "1")
            .env_remove("WALLETGATE__LOG__LEVEL")
            .env_remove("WALLETGATE_ENV")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("walletgate binary starts");
        let (sender, lines) = mpsc::unbounded_channel();
        forward(child.stdout.take().expect("piped stdout"), sender.clone());
        forward(child.stderr.take().expect("piped stderr"), sender);
        let mut gateway = LoggedGateway { address: String::new(), lines, seen: Vec::new(), _child: child };
        let listening = gateway.wait_for(|line| line.contains("listening on")).await;
        let rest = listening.split("listening on ").nth(1).expect("an address");
        gateway.address = rest.chars().take_while(|c| !c.is_whitespace() && *c != '"').collect();
        gateway
    }

    /// Reads lines until one passes `wanted`, and returns it.
    async fn wait_for(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let found = tokio::time::timeout(LINE_WAIT, async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                if wanted(&line) {
                    return line;
                }
            }
            panic!("walletgate exited; it wrote:\n{}", self.seen.join("\n"));
        });
        found.await.unwrap_or_else(|_| panic!("no such line in time; so far:\n{}", self.seen.join("\n")))
    }

    async fn get(&self, path: &str) -> reqwest::StatusCode {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        client.get(format!("{}{path}", self.address)).send().await.expect("an answer").status()
    }
}

/// The access line of `route` in a pretty log.
fn pretty_access_line(line: &str, route: &str) -> bool {
    line.contains("walletgate::access") && line.contains(&format!("route={route} "))
}

/// The access line of `route` in a JSON log.
fn json_access_line(line: &str, route: &str) -> bool {
    let Ok(event) = serde_json::from_str::<Value>(line) else { return false };
    event["target"] == "walletgate::access" && event["route"] == route
}

#[tokio::test]
async fn requests_are_logged_once_each_with_their_secrets_redacted() {
    for (format, is_access_line) in
        [("pretty", pretty_access_line as fn(&str, &str) -> bool), ("json", json_access_line)]
    {
        let mut gateway = LoggedGateway::start(format).await;
        let callback = "/v1/bindings/wechat/callback";
        gateway.get(&format!("{callback}?code=secret123&state=state456")).await;
        gateway.get("/v1/events?ticket=ticket789").await;
        let exchange = "/mock/wechat/sns/oauth2/access_token";
        gateway
            .get(&format!("{exchange}?appid=wx1&secret=appsecret000&code=secret123&grant_type=authorization_code"))
            .await;
        // Asked for last: once its line is out, so is everything the requests before it wrote.
        assert_eq!(gateway.get("/healthz").await, reqwest::StatusCode::OK);

        let access = gateway.wait_for(|line| is_access_line(line, callback)).await;
        let healthz = gateway.wait_for(|line| is_access_line(line, "/healthz")).await;
        for field in ["GET", "status", "duration_ms", "request_id"] {
            assert!(access.contains(field), "{format}: `{field}` in the access line {access}");
        }
        assert!(healthz.contains("200"), "{format}: {healthz}");
        assert!(
            gateway.seen.iter().any(|line| line.contains("code=[redacted]&state=[redacted]")),
            "{format}: the target is logged, redacted"
        );
        for secret in SECRETS {
            let leaked: Vec<&String> = gateway.seen.iter().filter(|line| line.contains(secret)).collect();
            assert!(leaked.is_empty(), "{format}: `{secret}` in the log:\n{leaked:#?}");
        }
    }
}
