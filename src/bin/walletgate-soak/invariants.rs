//! Quiescence and the invariants. Once the faults stop, everything is
//! brought back, an operator decides every withdrawal still waiting, the
//! workers run, and the harness waits until every withdrawal is final and
//! nothing is in flight between accounts (or a deadline passes). Then it
//! reads every account through the API and checks the invariants of
//! docs/soak.md against what it read and what it recorded during the run
//! (the money invariants per asset are `money`'s).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Api, Body, Meta, Request, fen, yuan};
use crate::cluster::{Cluster, TIMING};
use crate::money::{self, AccountMoney, JournalSummary, LedgerSeen, Listed, MoneyRun};
use crate::streams::StreamCounts;
use crate::webhooks::{self, Receiver};
use crate::world::{
    Known, KycDecided, OPERATOR_EMAIL, OPERATOR_PASSWORD, PinFact, PinSeen, Submitted, World, WrongCodeTried,
    real_name, renew, snapshot,
};
use walletgate::domain::rsa2;
use walletgate::domain::wechatpay_sign::MerchantKey;
use walletgate::providers::alipay::mock::GATEWAY_PATH;
use walletgate::providers::alipay::protocol::{TRANSFER_QUERY, beijing_time, response_node};
use walletgate::providers::payouts::USER_NAME_REQUIRED_FROM_FEN;

/// The PIN guard's `pin.attempts_max` (walletgate's default, which the run keeps).
const PIN_ATTEMPTS_MAX: i64 = 5;
/// How many of an account's newest commits its stream keeps the events of
/// (`store::EVENTS_KEPT_PER_ACCOUNT`).
const EVENTS_KEPT: usize = 1000;
const OPEN: [&str; 3] = ["pending", "in_review", "processing"];
/// Rounds of the quiescence loop at most (each waits half a second).
const QUIESCE_ROUNDS_MAX: usize = 1000;

#[derive(Debug, Clone)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
    /// Accounts (by phone) whose history explains it.
    pub phones: Vec<String>,
    /// Requests that show it, when no account's history does.
    pub seqs: Vec<u64>,
}

/// What the checks counted and found.
#[derive(Debug, Default)]
pub struct Checked {
    pub checks: BTreeMap<&'static str, u64>,
    pub violations: Vec<Violation>,
    pub decided_in_quiescence: u64,
    pub quiescence: Duration,
    pub webhooks: WebhookCounts,
    pub real_names: RealNameCounts,
    pub streams: StreamCounts,
    pub sessions: SessionCounts,
}

/// WeChat payouts from ¥2,000 (which carry the payee's real name), for the report.
#[derive(Debug, Default)]
pub struct RealNameCounts {
    pub settled: u64,
    /// Failed `NAME_NOT_CORRECT`: the mock user's real name was another's.
    pub name_refused: u64,
}

/// What the webhook receiver saw, for the report.
#[derive(Debug, Default)]
pub struct WebhookCounts {
    /// Posted events in the streams compared.
    pub expected: usize,
    /// Deliveries accepted for the accounts whose streams were compared.
    pub accepted: usize,
    /// Every delivery accepted, those of the streams left out included.
    pub accepted_all: usize,
    pub refused: u64,
}

impl Checked {
    /// Names the requests that show the violation just found (if one was).
    pub fn showing(&mut self, before: usize, seqs: &[u64]) {
        if self.violations.len() > before
            && let Some(violation) = self.violations.last_mut()
        {
            violation.seqs = seqs.to_vec();
        }
    }

    pub fn check(&mut self, invariant: &'static str, holds: bool, detail: impl FnOnce() -> String, phones: &[&str]) {
        *self.checks.entry(invariant).or_default() += 1;
        if !holds {
            let phones = phones.iter().map(|p| (*p).to_owned()).collect();
            self.violations.push(Violation { invariant, detail: detail(), phones, seqs: Vec::new() });
        }
    }
}

pub const LEDGER: &str = "1. the ledger balances, in every asset";
pub const JOURNAL: &str = "2. balances equal the journal, in every asset";
pub const HELD: &str = "3. held equals open withdrawals";
pub const FINAL: &str = "4. every withdrawal reaches a final state";
pub const PAYOUT: &str = "5. one payout per settled withdrawal, none otherwise; one final event";
pub const OPENID: &str = "6. an openid (or Alipay account) is active on at most one account";
pub const PIN: &str = "7. the PIN guard counts every wrong entry";
pub const IDEMPOTENCY: &str = "8. one effect per idempotency key";
pub const NO_500: &str = "9. no request is answered 500";
pub const WALLETS: &str = "10. mock wallets hold what was settled to them";
pub const LOGGED_OUT: &str = "16. a logged-out session is refused on every gateway";
pub const WEBHOOKS: &str = "17. every posted outcome reaches the webhook, signed, once per event";
pub const WRONG_CODE: &str = "18. a wrong SMS code is never taken";
pub const KYC: &str = "19. an identity check ends as an operator's 200 decided it";
pub const STATEMENT: &str = "20. a withdrawal's statement rows name the wallet it went to";
pub const STREAMS: &str = "21. a live event stream hears every event once, in order, promptly from any gateway";
/// How long the deliveries of the last outcomes may take after quiescence
/// (retries after a refusal wait up to a second).
const WEBHOOKS_SETTLE: Duration = Duration::from_secs(30);

/// One account as read after quiescence.
struct Observed {
    known: Known,
    id: String,
    wallet: Value,
    journal: Option<JournalSummary>,
    transfers: Option<BTreeMap<String, Listed>>,
    withdrawals: Vec<Value>,
    bindings: Vec<Value>,
    events: Option<String>,
    me: Value,
    /// `GET /v1/kyc`: the level, the request verifying it, one pending, the newest rejected.
    kyc: Value,
}

fn meta(op: &'static str, phone: &str, gateway: usize) -> Meta {
    Meta::new(op, usize::MAX, &[phone], gateway)
}

pub async fn operator(api: &Api) -> anyhow::Result<String> {
    for attempt in 0..20 {
        let body = json!({ "email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD });
        let reply = api
            .send(&meta("operator login", "", attempt), Request::json(Method::POST, "/v1/auth/login", None, body))
            .await;
        if let Some(token) = reply.body["access_token"].as_str() {
            return Ok(token.to_owned());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("the operator cannot log in after the faults stopped")
}

/// How the final reads reached the harness's accounts, for the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct SessionCounts {
    /// Accounts of the harness that were registered (they have an id).
    pub registered: usize,
    pub read: usize,
    /// Of those read, the ones whose login the workload's wrong passwords
    /// had locked, read through their refresh token.
    pub by_refresh: usize,
}

/// What one try to open a session for the final reads gave.
enum Session {
    /// Open, with its access token; `by_refresh` when the login was locked
    /// and the account's refresh token renewed the session.
    Open { token: String, by_refresh: bool },
    /// Locked (and no refresh token that works), or never registered: no
    /// later try gives more.
    Never,
    /// No answer, or an answer of a store still waking: try again.
    NotYet,
}

/// A fresh token and the id of every account the harness made.
///
/// An account whose login the workload's wrong passwords locked (423
/// `LOGIN_LOCKED`, for up to a day of business time) is opened with its
/// refresh token instead, as an app holding a session would; the rotated
/// token is kept for the next read.
async fn sessions(api: &Api, world: &World) -> (Vec<(Known, String, String)>, SessionCounts) {
    let mut out = Vec::new();
    let mut counts = SessionCounts::default();
    for slot in (0..world.account_count()).filter_map(|index| world.account(index)) {
        counts.registered += usize::from(snapshot(&slot).id.is_some());
        for attempt in 0..5 {
            let token = match open_session(api, &slot, attempt).await {
                Session::Open { token, by_refresh } => {
                    counts.by_refresh += usize::from(by_refresh);
                    token
                }
                Session::Never => break,
                Session::NotYet => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    continue;
                }
            };
            let known = snapshot(&slot);
            let me = api.send(&meta("me", &known.phone, attempt), Request::get("/v1/me", Some(&token))).await;
            if let Some(id) = me.body["id"].as_str() {
                out.push((known, token, id.to_owned()));
                counts.read += 1;
                break;
            }
        }
    }
    (out, counts)
}

/// Logs in with the account's password, or, when its login is locked,
/// renews its session with its refresh token.
async fn open_session(api: &Api, slot: &Mutex<Known>, attempt: usize) -> Session {
    let known = snapshot(slot);
    let body = json!({ "phone": known.phone, "password": known.password });
    let login = api
        .send(&meta("login", &known.phone, attempt), Request::json(Method::POST, "/v1/auth/login", None, body))
        .await;
    if let Some(token) = login.body["access_token"].as_str() {
        return Session::Open { token: token.to_owned(), by_refresh: false };
    }
    match login.code() {
        // Never registered: its registration got no answer and did not land.
        Some("UNAUTHENTICATED") => Session::Never,
        Some("LOGIN_LOCKED") => {
            let Some(refresh) = known.refresh else { return Session::Never };
            let body = json!({ "refresh_token": refresh });
            let renewed = api
                .send(
                    &meta("refresh (login locked)", &known.phone, attempt),
                    Request::json(Method::POST, "/v1/auth/refresh", None, body),
                )
                .await;
            match (renew(slot, refresh, &renewed.body), renewed.status) {
                (Some(token), _) => Session::Open { token, by_refresh: true },
                // Refused: used already (its rotation's answer lost in a fault) or revoked.
                (None, Some(status)) if status < 500 => Session::Never,
                (None, _) => Session::NotYet,
            }
        }
        _ => Session::NotYet,
    }
}

/// Reads the list at `path` (its query begun: `?limit=…`) page by page to
/// its end, handing each item to `each`; `None` if a page or an item could
/// not be read, or the list ran past `pages_max` pages.
async fn read_pages(
    api: &Api,
    (phone, token): (&str, &str),
    path: &str,
    pages_max: usize,
    mut each: impl FnMut(&Value) -> Option<()>,
) -> Option<()> {
    let mut cursor: Option<String> = None;
    for _ in 0..pages_max {
        let url = match &cursor {
            Some(cursor) => format!("{path}&cursor={cursor}"),
            None => path.to_owned(),
        };
        let page = api.send(&meta("final read", phone, 0), Request::get(&url, Some(token))).await;
        for item in page.body["items"].as_array()? {
            each(item)?;
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Some(()),
        }
    }
    None
}

/// Every withdrawal of an account, all pages.
async fn withdrawals(api: &Api, phone: &str, token: &str) -> Option<Vec<Value>> {
    let mut items = Vec::new();
    read_pages(api, (phone, token), "/v1/withdrawals?limit=100", 1000, |item| {
        items.push(item.clone());
        Some(())
    })
    .await?;
    Some(items)
}

/// The whole journal (every page, every asset), summed up.
async fn journal(api: &Api, phone: &str, token: &str) -> Option<JournalSummary> {
    let mut summary = JournalSummary::default();
    read_pages(api, (phone, token), "/v1/wallet/transactions?limit=100", 10_000, |item| summary.add(item)).await?;
    Some(summary)
}

/// Every transfer of an account, both ways, all pages.
async fn transfers(api: &Api, phone: &str, token: &str) -> Option<BTreeMap<String, Listed>> {
    let mut listed = BTreeMap::new();
    read_pages(api, (phone, token), "/v1/transfers?limit=200", 10_000, |item| {
        let (id, transfer) = Listed::read(item)?;
        listed.insert(id, transfer);
        Some(())
    })
    .await?;
    Some(listed)
}

/// The ledger check's report now, per asset.
pub async fn ledger_now(api: &Api) -> anyhow::Result<LedgerSeen> {
    let operator = operator(api).await?;
    for attempt in 0..20 {
        let path = "/v1/ops/ledger/check";
        let report = api.send(&meta("ledger check", "", attempt), Request::get(path, Some(&operator))).await;
        if let Some(seen) = LedgerSeen::read(&report.body).filter(|_| report.is(200)) {
            return Ok(seen);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("the ledger check did not answer")
}

/// `total_debit` of an account's settled withdrawals, from the operator's
/// list (for an account whose user cannot log in at the end).
async fn settled_out_of(api: &Api, operator: &str, account_id: &str) -> Option<i64> {
    let mut total = 0;
    let path = format!("/v1/ops/withdrawals?account_id={account_id}&status=settled&limit=200");
    read_pages(api, ("", operator), &path, 10_000, |item| {
        total += fen(item["withdrawal"]["total_debit"].as_str()?)?;
        Some(())
    })
    .await?;
    Some(total)
}

/// Heals the cluster, decides what waits for an operator, and waits until
/// every withdrawal is final or the deadline passes.
pub async fn quiesce(api: &Api, world: &World, cluster: &Cluster, checked: &mut Checked) -> anyhow::Result<()> {
    let started = Instant::now();
    cluster.heal().await?;
    let operator = operator(api).await?;
    // No forced payout answer outlives the workload.
    let cleared = Request::json(Method::DELETE, "/v1/sim/rules", Some(&operator), json!(null));
    api.send(&meta("simulator rules cleared", "", 0), cleared).await;
    let (accounts, _) = sessions(api, world).await;
    let mut rng = StdRng::seed_from_u64(world.seed ^ 0x0DEC_1DE0);
    let deadline = Instant::now() + TIMING.settle_bound();
    for round in 0..QUIESCE_ROUNDS_MAX {
        let queue = api
            .send(&meta("review queue", "", round), Request::get("/v1/ops/review-queue?limit=200", Some(&operator)))
            .await;
        for item in queue.body["items"].as_array().into_iter().flatten() {
            let Some(id) = item["withdrawal"]["id"].as_str() else { continue };
            let phone = accounts
                .iter()
                .find(|(_, _, a)| item["account_id"] == a.as_str())
                .map(|(k, _, _)| k.phone.clone())
                .unwrap_or_default();
            let (verb, body) = if rng.random_bool(0.7) {
                ("approve", json!({}))
            } else {
                ("reject", json!({ "reason_code": "OTHER", "note": "soak: quiescence" }))
            };
            let path = format!("/v1/ops/withdrawals/{id}/{verb}");
            let reply = api
                .send(
                    &meta("operator decision (quiescence)", &phone, round),
                    Request::json(Method::POST, &path, Some(&operator), body),
                )
                .await;
            if reply.is(200) {
                checked.decided_in_quiescence += 1;
                if verb == "reject" {
                    world.facts(|f| f.rejected.push((id.to_owned(), reply.seq)));
                }
            }
        }
        api.send(
            &meta("worker step", "", round),
            Request::json(Method::POST, "/v1/ops/worker/step", Some(&operator), json!({})),
        )
        .await;
        let mut open = 0;
        for (known, token, _) in &accounts {
            let items = withdrawals(api, &known.phone, token).await.unwrap_or_default();
            open += items.iter().filter(|w| w["status"].as_str().is_some_and(|s| OPEN.contains(&s))).count();
        }
        if open == 0 {
            // Then nothing may stay in flight between accounts either.
            let path = "/v1/ops/ledger/check";
            let report = api.send(&meta("ledger check", "", round), Request::get(path, Some(&operator))).await;
            let in_flight = LedgerSeen::read(&report.body).map(|seen| seen.assets.values().any(|t| t.in_flight != 0));
            open += usize::from(in_flight != Some(false));
        }
        if open == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    checked.quiescence = started.elapsed();
    Ok(())
}

async fn observe(api: &Api, known: Known, token: String, id: String) -> Observed {
    let phone = known.phone.clone();
    let wallet = api.send(&meta("final read", &phone, 0), Request::get("/v1/wallet", Some(&token))).await.body;
    let me = api.send(&meta("final read", &phone, 0), Request::get("/v1/me", Some(&token))).await.body;
    let bindings = api.send(&meta("final read", &phone, 0), Request::get("/v1/bindings", Some(&token))).await.body;
    let kyc = api.send(&meta("final read", &phone, 0), Request::get("/v1/kyc", Some(&token))).await.body;
    let journal = journal(api, &phone, &token).await;
    let transfers = transfers(api, &phone, &token).await;
    let withdrawals = withdrawals(api, &phone, &token).await.unwrap_or_default();
    let events =
        api.read_stream(0, "/v1/events?after=0", &token, Duration::from_millis(700), Duration::from_secs(8)).await;
    let bindings = bindings["items"].as_array().cloned().unwrap_or_default();
    Observed { known, id, wallet, journal, transfers, withdrawals, bindings, events, me, kyc }
}

/// Final-state event counts per withdrawal id, and whether the stream may
/// have been trimmed. A stream keeps the events of its account's newest
/// `EVENTS_KEPT` commits, and more commits than events may have been made
/// (a wrong PIN commits, and tells no one), so a stream of fewer events
/// than that may still have lost its oldest: it has when one of the
/// account's `withdrawals` has lost its `withdrawal.created`.
fn final_events(text: &str, withdrawals: &[Value]) -> (HashMap<String, Vec<String>>, bool) {
    let mut counts: HashMap<String, Vec<String>> = HashMap::new();
    let mut created = HashSet::new();
    let mut total = 0;
    for block in text.split("\n\n") {
        let Some(data) = block.lines().find_map(|line| line.strip_prefix("data: ")) else { continue };
        let Ok(event) = serde_json::from_str::<Value>(data) else { continue };
        total += 1;
        let kind = event["type"].as_str().unwrap_or_default();
        let Some(id) = event["data"]["withdrawal"]["id"].as_str() else { continue };
        if kind == "withdrawal.created" {
            created.insert(id.to_owned());
        }
        if matches!(kind, "withdrawal.settled" | "withdrawal.failed" | "withdrawal.rejected") {
            counts.entry(id.to_owned()).or_default().push(kind.to_owned());
        }
    }
    let lost_a_creation =
        withdrawals.iter().filter_map(|withdrawal| withdrawal["id"].as_str()).any(|id| !created.contains(id));
    (counts, total >= EVENTS_KEPT || lost_a_creation)
}

/// Reads everything and checks every invariant; `ledger_before` is the
/// ledger check's report from before the workload.
pub async fn check(
    api: &Arc<Api>,
    world: &World,
    ledger_before: &LedgerSeen,
    receiver: &Receiver,
    checked: &mut Checked,
) -> anyhow::Result<()> {
    let operator = operator(api).await?;
    let report = api.send(&meta("ledger check", "", 0), Request::get("/v1/ops/ledger/check", Some(&operator))).await;
    checked.check(LEDGER, report.body["balanced"] == true, || format!("ledger check: {}", report.body), &[]);
    let ledger_after = LedgerSeen::read(&report.body).unwrap_or_default();

    let bills = Bills { api, merchant: api.merchant_key(&meta("wechat pay keys", "", 0)).await? };
    let orders = AlipayOrders::new(api).await?;
    let (accounts, sessions) = sessions(api, world).await;
    checked.sessions = sessions;
    let observed: Vec<Observed> =
        join_all(accounts.into_iter().map(|(known, token, id)| observe(api, known, token, id))).await;
    let facts = world.facts(|f| {
        let logouts = f.logouts.clone();
        (
            Destinations {
                openid: f.binding_openid.clone(),
                alipay_user: f.binding_alipay_user.clone(),
                real_name: f.openid_real_name.clone(),
            },
            f.withdrawals.clone(),
            f.pins.clone(),
            f.rejected.clone(),
            f.server_errors.clone(),
            logouts,
            (f.wrong_codes.clone(), f.kyc_decided.clone(), f.bills_cancelled.clone()),
        )
    });
    let (destinations, submissions, pins, rejected, server_errors, logouts, extra) = facts;
    let (wrong_codes, kyc_decided, bills_cancelled) = extra;
    let payouts = Payouts { bills, orders, destinations: &destinations };
    let mut settled_to = SettledTo::default();
    let mut active_on: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut statuses: HashMap<String, (String, String)> = HashMap::new();

    for account in &observed {
        let phone = account.known.phone.as_str();
        let held = account.wallet["held"].as_str().and_then(fen);
        let open_debit: i64 = account
            .withdrawals
            .iter()
            .filter(|w| w["status"].as_str().is_some_and(|s| OPEN.contains(&s)))
            .filter_map(|w| fen(w["total_debit"].as_str()?))
            .sum();
        checked.check(
            HELD,
            held == Some(open_debit),
            || format!("{} ({phone}): held {:?} but open withdrawals {}", account.id, held.map(yuan), yuan(open_debit)),
            &[phone],
        );
        let remaining = account.me["pin_attempts_remaining"].as_i64();
        checked.check(
            PIN,
            remaining.is_some_and(|r| (0..=PIN_ATTEMPTS_MAX).contains(&r)),
            || format!("{} ({phone}): pin_attempts_remaining {:?}", account.id, remaining),
            &[phone],
        );

        let (events, trimmed) =
            account.events.as_deref().map(|stream| final_events(stream, &account.withdrawals)).unwrap_or_default();
        for withdrawal in &account.withdrawals {
            check_withdrawal(&payouts, checked, account, withdrawal, (&events, trimmed), &mut settled_to).await;
            if let (Some(id), Some(status)) = (withdrawal["id"].as_str(), withdrawal["status"].as_str()) {
                statuses.insert(id.to_owned(), (status.to_owned(), phone.to_owned()));
            }
        }
        for binding in &account.bindings {
            if binding["status"] == "active"
                && let Some(id) = binding["id"].as_str()
            {
                active_on.entry(destinations.user_of(id)).or_default().push((phone.to_owned(), id.to_owned()));
            }
        }
        check_idempotency(checked, account, &submissions);
        check_pin_facts(checked, phone, &pins);
    }
    for (openid, holders) in &active_on {
        let phones: Vec<&str> = holders.iter().map(|(p, _)| p.as_str()).collect();
        checked.check(OPENID, holders.len() <= 1, || format!("{openid} is active on {holders:?}"), &phones);
    }
    for (id, seq) in &rejected {
        let status = statuses.get(id);
        let phones: Vec<&str> = status.iter().map(|(_, p)| p.as_str()).collect();
        checked.check(
            PAYOUT,
            status.is_some_and(|(s, _)| s == "rejected"),
            || format!("{id}: an operator's reject was answered 200 (request #{seq}) but it ended {status:?}"),
            &phones,
        );
    }
    for cancelled in &bills_cancelled {
        let status = statuses.get(&cancelled.withdrawal_id);
        let before = checked.violations.len();
        checked.check(
            PAYOUT,
            status.is_some_and(|(s, _)| s == "failed"),
            || {
                format!(
                    "{}: its bill's cancellation was answered 200 (request #{}) but it ended {status:?}",
                    cancelled.withdrawal_id, cancelled.seq
                )
            },
            &[&cancelled.phone],
        );
        checked.showing(before, &[cancelled.seq]);
    }
    check_money(api, world, &operator, (ledger_before, &ledger_after), &observed, checked).await;
    let wallets = settled_to.wechat.iter().map(|(openid, settled)| (format!("/mock/wechat/users/{openid}"), settled));
    let alipay = settled_to.alipay.iter().map(|(user_id, settled)| (format!("/mock/alipay/users/{user_id}"), settled));
    for (path, settled) in wallets.chain(alipay) {
        let user = api.send(&meta("mock wallet", "", 0), Request::get(&path, None)).await;
        let balance = user.body["wallet"]["balance"].as_str().and_then(fen);
        checked.check(
            WALLETS,
            balance == Some(*settled),
            || format!("mock user {path}: wallet balance {:?}, settled to it {}", balance.map(yuan), yuan(*settled)),
            &[],
        );
    }
    checked.check(
        NO_500,
        server_errors.is_empty(),
        || format!("{} requests answered 500: {server_errors:?}", server_errors.len()),
        &[],
    );
    if let Some(violation) = checked.violations.last_mut().filter(|v| v.invariant == NO_500) {
        violation.seqs = server_errors.iter().take(10).copied().collect();
    }
    for logout in &logouts {
        let before = checked.violations.len();
        checked.check(LOGGED_OUT, logout.refused, || logout.detail.clone(), &[&logout.phone]);
        checked.showing(before, &logout.seqs);
    }
    check_codes_and_identity(checked, &observed, &wrong_codes, &kyc_decided);
    check_webhooks(receiver, &observed, checked).await;
    Ok(())
}

/// Invariants 18 and 19: no wrong SMS code was taken during the run, and
/// every identity check an operator's approve or reject was answered 200
/// for ends that way (the clock's approval after its delay raced them).
fn check_codes_and_identity(
    checked: &mut Checked,
    observed: &[Observed],
    wrong_codes: &[WrongCodeTried],
    kyc_decided: &[KycDecided],
) {
    for tried in wrong_codes {
        let before = checked.violations.len();
        checked.check(WRONG_CODE, !tried.taken, || tried.detail.clone(), &[&tried.phone]);
        checked.showing(before, &[tried.seq]);
    }
    for decided in kyc_decided {
        let Some(account) = observed.iter().find(|account| account.known.phone == decided.phone) else { continue };
        let shown_as = |slot: &str| account.kyc[slot]["id"].as_str() == Some(decided.kyc_id.as_str());
        let (wrong, right) = match decided.approved {
            true => (["rejected", "pending"], "approved"),
            false => (["verified", "pending"], "rejected"),
        };
        let before = checked.violations.len();
        checked.check(
            KYC,
            !wrong.iter().any(|slot| shown_as(slot)),
            || {
                format!(
                    "{}: {right} by an operator (request #{}), but its owner's overview reads {}",
                    decided.kyc_id, decided.seq, account.kyc
                )
            },
            &[&decided.phone],
        );
        checked.showing(before, &[decided.seq]);
    }
}

/// Invariant 17: each account's posted events (its stream, read after
/// quiescence) against the deliveries the receiver accepted for it, once
/// every expected one has arrived or `WEBHOOKS_SETTLE` has passed. A
/// stream that may have been trimmed, or could not be read, is left out.
async fn check_webhooks(receiver: &Receiver, observed: &[Observed], checked: &mut Checked) {
    let posted: Vec<(&Observed, BTreeMap<String, String>)> = observed
        .iter()
        .filter_map(|account| {
            let stream = account.events.as_deref()?;
            let trimmed = final_events(stream, &account.withdrawals).1;
            (!trimmed).then(|| (account, webhooks::posted_in_stream(stream)))
        })
        .collect();
    let deadline = Instant::now() + WEBHOOKS_SETTLE;
    let mut accepted = receiver.accepted();
    loop {
        let arrived: BTreeSet<&str> = accepted.iter().map(|a| a.event_id.as_str()).collect();
        let all_in = posted.iter().all(|(_, events)| events.keys().all(|id| arrived.contains(id.as_str())));
        if all_in || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        accepted = receiver.accepted();
    }
    checked.webhooks = WebhookCounts {
        expected: posted.iter().map(|(_, events)| events.len()).sum(),
        accepted: accepted.iter().filter(|a| posted.iter().any(|(account, _)| a.account_id == account.id)).count(),
        accepted_all: accepted.len(),
        refused: receiver.refused(),
    };
    for (account, events) in &posted {
        let arrived: Vec<&webhooks::Accepted> = accepted.iter().filter(|a| a.account_id == account.id).collect();
        let mismatch = webhooks::compare(events, &arrived);
        let phone = account.known.phone.as_str();
        checked.check(
            WEBHOOKS,
            mismatch.is_empty(),
            || format!("{} ({phone}): {mismatch:?} ({} deliveries refused in all)", account.id, receiver.refused()),
            &[phone],
        );
    }
}

/// The money invariants (`money`), over what was read and what the run recorded.
async fn check_money(
    api: &Api,
    world: &World,
    operator: &str,
    (ledger_before, ledger_after): (&LedgerSeen, &LedgerSeen),
    observed: &[Observed],
    checked: &mut Checked,
) {
    let accounts: Vec<AccountMoney> = observed
        .iter()
        .map(|account| AccountMoney {
            phone: account.known.phone.clone(),
            id: account.id.clone(),
            wallet: money::wallet_of(&account.wallet),
            journal: account.journal.clone(),
            transfers: account.transfers.clone(),
            settled_out: account
                .withdrawals
                .iter()
                .filter(|w| w["status"] == "settled")
                .filter_map(|w| fen(w["total_debit"].as_str()?))
                .sum(),
        })
        .collect();
    let read: BTreeSet<&str> = observed.iter().map(|account| account.id.as_str()).collect();
    let unread: BTreeSet<String> = world
        .all_accounts()
        .into_iter()
        .filter_map(|known| known.id)
        .filter(|id| !read.contains(id.as_str()))
        .collect();
    let mut unread_settled_out = 0;
    for account_id in &unread {
        // Unreadable, it counts as nothing, and conservation shows the gap.
        unread_settled_out += settled_out_of(api, operator, account_id).await.unwrap_or(0);
    }
    let (credits, transfers, negatives) =
        world.facts(|f| (f.credits.clone(), f.transfers.clone(), f.negatives.clone()));
    let run = MoneyRun {
        accounts: &accounts,
        unread: unread.len(),
        unread_settled_out,
        credits: &credits,
        transfers: &transfers,
        negatives: &negatives,
        ledger_before,
        ledger_after,
    };
    money::check_money(checked, &run);
}

/// Reads the mock WeChat Pay's transfer bills as its merchant, each GET signed now.
struct Bills<'a> {
    api: &'a Api,
    merchant: MerchantKey,
}

impl Bills<'_> {
    async fn by_out_bill_no(&self, phone: &str, out_bill_no: &str) -> crate::client::Reply {
        let url = format!("/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}");
        self.api.as_merchant(&meta("transfer bill", phone, 0), &self.merchant, Method::GET, &url).await
    }
}

/// Which wallet each binding was consented with, as the harness recorded it.
struct Destinations {
    /// WeChat binding id → openid.
    openid: HashMap<String, String>,
    /// Alipay binding id → mock Alipay `user_id`.
    alipay_user: HashMap<String, String>,
    /// Openid → its mock user's real name, if it was made with one.
    real_name: HashMap<String, String>,
}

impl Destinations {
    /// The provider's user a binding was consented with, named so that a
    /// WeChat openid and an Alipay user never compare equal.
    fn user_of(&self, binding_id: &str) -> String {
        match (self.openid.get(binding_id), self.alipay_user.get(binding_id)) {
            (Some(openid), _) => format!("wechat openid {openid}"),
            (None, Some(user_id)) => format!("alipay user {user_id}"),
            (None, None) => format!("(unknown user of {binding_id})"),
        }
    }
}

/// Where payouts are read back from: the mock WeChat Pay's bills and the
/// mock Alipay's transfer orders.
struct Payouts<'a> {
    bills: Bills<'a>,
    orders: AlipayOrders<'a>,
    destinations: &'a Destinations,
}

/// What settled withdrawals paid each mock user, in fen.
#[derive(Default)]
struct SettledTo {
    /// By WeChat openid.
    wechat: BTreeMap<String, i64>,
    /// By mock Alipay `user_id`.
    alipay: BTreeMap<String, i64>,
}

/// The mock Alipay's app, as an SDK is configured with it: from `GET
/// /mock/alipay/keys`; orders are read with a signed
/// `alipay.fund.trans.common.query`, as an Alipay SDK reads them.
struct AlipayOrders<'a> {
    api: &'a Api,
    app_id: String,
    app_key: rsa2::PrivateKey,
}

impl<'a> AlipayOrders<'a> {
    async fn new(api: &'a Api) -> anyhow::Result<AlipayOrders<'a>> {
        let keys = api.send(&meta("alipay keys", "", 0), Request::get("/mock/alipay/keys", None)).await;
        let text = |field: &str| {
            keys.body[field]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("GET /mock/alipay/keys: no {field}: {}", keys.body))
        };
        let app_key = rsa2::private_key(&text("app_private_key_pkcs1")?)
            .map_err(|error| anyhow::anyhow!("GET /mock/alipay/keys: {error}"))?;
        Ok(AlipayOrders { api, app_id: text("app_id")?, app_key })
    }

    /// The query's response object for `out_biz_no` (`{}` without an answer).
    async fn by_out_biz_no(&self, phone: &str, out_biz_no: &str) -> (crate::client::Reply, Value) {
        let biz =
            json!({ "out_biz_no": out_biz_no, "product_code": "TRANS_ACCOUNT_NO_PWD", "biz_scene": "DIRECT_TRANSFER" });
        let mut params: Vec<(String, String)> = [
            ("app_id", self.app_id.clone()),
            ("method", TRANSFER_QUERY.to_owned()),
            ("format", "JSON".to_owned()),
            ("charset", "utf-8".to_owned()),
            ("sign_type", "RSA2".to_owned()),
            ("timestamp", beijing_time(chrono::Utc::now())),
            ("version", "1.0".to_owned()),
            ("biz_content", biz.to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        let content = rsa2::sign_content(params.iter().map(|(name, value)| (name.as_str(), value.as_str())));
        params.push(("sign".to_owned(), rsa2::sign(&self.app_key, &content)));
        let query = Request {
            method: Method::POST,
            path: GATEWAY_PATH,
            token: None,
            body: Some(Body::Form(params)),
            headers: Vec::new(),
        };
        let reply = self.api.send(&meta("alipay transfer order", phone, 0), query).await;
        let order = reply.body[response_node(TRANSFER_QUERY)].clone();
        (reply, order)
    }
}

async fn check_withdrawal(
    payouts: &Payouts<'_>,
    checked: &mut Checked,
    account: &Observed,
    withdrawal: &Value,
    (events, trimmed): (&HashMap<String, Vec<String>>, bool),
    settled_to: &mut SettledTo,
) {
    let phone = account.known.phone.as_str();
    let id = withdrawal["id"].as_str().unwrap_or_default();
    let status = withdrawal["status"].as_str().unwrap_or_default();
    if let Some(journal) = &account.journal {
        let destination = withdrawal["destination"]["provider"].as_str().unwrap_or_default();
        let named = journal.withdrawal_providers.get(id).map(Vec::as_slice).unwrap_or_default();
        let detail = || format!("{id} ({phone}) went to {destination}; its statement rows name {named:?}");
        checked.check(STATEMENT, rows_name_the_wallet(destination, named), detail, &[phone]);
    }
    checked.check(
        FINAL,
        !OPEN.contains(&status),
        || format!("{id} of {} ({phone}) is still {status} after quiescence: {withdrawal}", account.id),
        &[phone],
    );
    if OPEN.contains(&status) {
        return;
    }
    let amount = withdrawal["amount"].as_str().and_then(fen);
    let binding_id = withdrawal["destination"]["binding_id"].as_str().unwrap_or_default();
    let out_no = id.trim_start_matches("wd_");
    let alipay = withdrawal["destination"]["provider"] == "alipay";
    let payout = match alipay {
        true => alipay_payout(payouts, phone, out_no, amount, binding_id).await,
        false => wechat_payout(payouts, phone, out_no, amount, binding_id).await,
    };
    let named = !alipay && amount.is_some_and(|fen| fen >= USER_NAME_REQUIRED_FROM_FEN);
    if named {
        let counts = &mut checked.real_names;
        match status {
            "settled" => counts.settled += 1,
            _ if payout.fail_reason.as_deref() == Some("NAME_NOT_CORRECT") => counts.name_refused += 1,
            _ => {}
        }
    }
    if status == "settled" {
        let (payee, shown) = (&payout.payee, &payout.shown);
        let detail = || format!("{id} ({phone}) is settled for {amount:?} fen to {payee:?}, but {shown}");
        checked.check(PAYOUT, payout.paid, detail, &[phone]);
        if named {
            // From ¥2,000 the bill names the account's verified name, which
            // WeChat Pay refuses for a user of another real name.
            let own = real_name(account.known.identity);
            let theirs = payee.as_ref().and_then(|openid| payouts.destinations.real_name.get(openid));
            let detail =
                || format!("{id} ({phone}, verified as {own}) is settled to {payee:?}, whose real name is {theirs:?}");
            checked.check(PAYOUT, theirs.is_none_or(|name| *name == own), detail, &[phone]);
        }
        if let (Some(payee), Some(amount)) = (payout.payee, amount) {
            let settled = if alipay { &mut settled_to.alipay } else { &mut settled_to.wechat };
            *settled.entry(payee).or_default() += amount;
        }
    } else {
        let detail = || format!("{id} ({phone}) is {status}, but {}", payout.shown);
        checked.check(PAYOUT, payout.unpaid, detail, &[phone]);
    }
    let Some(seen) = events.get(id).cloned().or_else(|| account.events.as_ref().map(|_| Vec::new())) else { return };
    let expected = format!("withdrawal.{status}");
    let right =
        if trimmed { seen.len() <= 1 && seen.iter().all(|k| *k == expected) } else { seen == [expected.clone()] };
    checked.check(PAYOUT, right, || format!("{id} ({phone}) is {status}; its final events: {seen:?}"), &[phone]);
}

/// Invariant 20 for one withdrawal: it has rows in its account's statement
/// (its hold at least), and each names the wallet it went to.
fn rows_name_the_wallet(destination: &str, named: &[String]) -> bool {
    !named.is_empty() && named.iter().all(|provider| provider == destination)
}

/// What the provider shows of one withdrawal's payout.
struct PayoutSeen {
    /// Paid once, for the amount, to the binding's user.
    paid: bool,
    /// Nothing paid (no order or bill, or a failed one).
    unpaid: bool,
    /// Whom a settled withdrawal's money went to: the openid or the mock
    /// Alipay `user_id` its binding was consented with.
    payee: Option<String>,
    /// The bill or order, for a violation's detail.
    shown: String,
    /// Why a WeChat bill failed (`fail_reason`), if it did.
    fail_reason: Option<String>,
}

/// The mock WeChat Pay's bill of `out_bill_no`: `SUCCESS` for the amount
/// to the binding's openid, or none, or `FAIL`.
async fn wechat_payout(
    payouts: &Payouts<'_>,
    phone: &str,
    out_bill_no: &str,
    amount: Option<i64>,
    binding_id: &str,
) -> PayoutSeen {
    let bill = payouts.bills.by_out_bill_no(phone, out_bill_no).await;
    let openid = payouts.destinations.openid.get(binding_id).cloned();
    PayoutSeen {
        paid: bill.is(200)
            && bill.body["state"] == "SUCCESS"
            && bill.body["transfer_amount"].as_i64() == amount
            && openid.as_deref().is_some_and(|o| bill.body["openid"] == o),
        // Not paid, and never to be: no bill, or one that ended unpaid (a
        // bill still under way could yet pay, so it counts as a breach here).
        unpaid: bill.is(404)
            || (bill.is(200) && ["FAIL", "CANCELLED"].contains(&bill.body["state"].as_str().unwrap_or(""))),
        payee: openid,
        shown: format!("its bill is {} {}", bill.class(), bill.body),
        fail_reason: bill.body["fail_reason"].as_str().map(str::to_owned),
    }
}

/// The mock Alipay's order of `out_biz_no` (the same bill number): a
/// `SUCCESS` order for the amount (its payee is checked through the mock
/// user's wallet, invariant 10), or `ORDER_NOT_EXIST`, or a `FAIL` order.
async fn alipay_payout(
    payouts: &Payouts<'_>,
    phone: &str,
    out_biz_no: &str,
    amount: Option<i64>,
    binding_id: &str,
) -> PayoutSeen {
    let (reply, order) = payouts.orders.by_out_biz_no(phone, out_biz_no).await;
    let user_id = payouts.destinations.alipay_user.get(binding_id).cloned();
    let succeeded = order["code"] == "10000" && order["status"] == "SUCCESS";
    PayoutSeen {
        paid: succeeded && order["trans_amount"].as_str().and_then(fen) == amount && user_id.is_some(),
        unpaid: order["sub_code"] == "ORDER_NOT_EXIST" || (order["code"] == "10000" && order["status"] == "FAIL"),
        payee: user_id,
        shown: format!("its order is {} {order}", reply.class()),
        fail_reason: None,
    }
}

fn check_idempotency(checked: &mut Checked, account: &Observed, submissions: &[crate::world::WithdrawFact]) {
    let phone = account.known.phone.as_str();
    let mine: Vec<_> = submissions.iter().filter(|s| s.phone == phone).collect();
    let mut ids_by_key: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut keys_by_id: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut maybe_keys: BTreeSet<&str> = BTreeSet::new();
    for submission in &mine {
        match &submission.outcome {
            Submitted::Accepted(id) => {
                ids_by_key.entry(&submission.key).or_default().insert(id);
                keys_by_id.entry(id).or_default().insert(&submission.key);
            }
            Submitted::Unknown => {
                maybe_keys.insert(&submission.key);
            }
            Submitted::Refused(_) => {}
        }
    }
    for (key, ids) in &ids_by_key {
        let sent = || {
            let of_key = mine.iter().filter(|s| s.key == *key);
            of_key.map(|s| format!("#{} {} -> {:?}", s.seq, s.body, s.outcome)).collect::<Vec<_>>().join("; ")
        };
        checked.check(
            IDEMPOTENCY,
            ids.len() == 1,
            || format!("{phone}: key {key} acknowledged different withdrawals {ids:?}: {}", sent()),
            &[phone],
        );
    }
    for (id, keys) in &keys_by_id {
        checked.check(
            IDEMPOTENCY,
            keys.len() == 1,
            || format!("{phone}: withdrawal {id} acknowledged for keys {keys:?}"),
            &[phone],
        );
    }
    let listed: BTreeSet<&str> = account.withdrawals.iter().filter_map(|w| w["id"].as_str()).collect();
    for id in keys_by_id.keys() {
        checked.check(
            IDEMPOTENCY,
            listed.contains(id),
            || format!("{phone}: acknowledged withdrawal {id} is not in the account's list"),
            &[phone],
        );
    }
    let unacknowledged = listed.iter().filter(|id| !keys_by_id.contains_key(*id)).count();
    let unanswered_keys = maybe_keys.iter().filter(|key| !ids_by_key.contains_key(*key)).count();
    checked.check(
        IDEMPOTENCY,
        unacknowledged <= unanswered_keys,
        || format!("{phone}: {unacknowledged} withdrawals were never acknowledged, but only {unanswered_keys} keys got no answer"),
        &[phone],
    );
}

/// Wrong entries between two resets of the count never exceed the limit nor
/// repeat a remaining count; nothing passes between a lock and the next new PIN.
fn check_pin_facts(checked: &mut Checked, phone: &str, pins: &[PinFact]) {
    let mut mine: Vec<&PinFact> = pins.iter().filter(|p| p.phone == phone).collect();
    mine.sort_by_key(|p| p.started_ms);
    let resets: Vec<&PinFact> = mine
        .iter()
        .copied()
        .filter(|p| matches!(p.seen, PinSeen::Passed | PinSeen::Set | PinSeen::MaybePassed | PinSeen::MaybeSet))
        .collect();
    let lifts: Vec<&PinFact> =
        mine.iter().copied().filter(|p| matches!(p.seen, PinSeen::Set | PinSeen::MaybeSet)).collect();
    let between =
        |barriers: &[&PinFact], from: u64, to: u64| barriers.iter().any(|b| b.started_ms <= to && b.ended_ms >= from);
    let wrongs: Vec<(&PinFact, i64)> =
        mine.iter().filter_map(|p| if let PinSeen::Wrong(r) = p.seen { Some((*p, r)) } else { None }).collect();
    for (fact, remaining) in &wrongs {
        checked.check(
            PIN,
            (0..PIN_ATTEMPTS_MAX).contains(remaining),
            || format!("{phone}: request #{} said attempts_remaining {remaining}", fact.seq),
            &[phone],
        );
    }
    // Groups of wrong entries with no reset anywhere within their span: from
    // the first one's start to the last answer among them, since an entry
    // that started early may have been judged after a reset that began later.
    let mut group: Vec<(&PinFact, i64)> = Vec::new();
    let flush = |group: &mut Vec<(&PinFact, i64)>, checked: &mut Checked| {
        let remaining: BTreeSet<i64> = group.iter().map(|(_, r)| *r).collect();
        let seqs: Vec<u64> = group.iter().map(|(f, _)| f.seq).collect();
        let before = checked.violations.len();
        checked.check(
            PIN,
            group.len() as i64 <= PIN_ATTEMPTS_MAX && remaining.len() == group.len(),
            || format!("{phone}: {} wrong PIN entries counted without a reset between them, remaining counts {:?} (requests {seqs:?})", group.len(), group.iter().map(|(_, r)| r).collect::<Vec<_>>()),
            &[phone],
        );
        checked.showing(before, &seqs);
        group.clear();
    };
    for &(fact, remaining) in &wrongs {
        let last_answer = group.iter().map(|(f, _)| f.ended_ms).chain([fact.ended_ms]).max().unwrap_or(fact.ended_ms);
        if let Some((first, _)) = group.first()
            && between(&resets, first.started_ms, last_answer)
        {
            flush(&mut group, checked);
        }
        group.push((fact, remaining));
    }
    if !group.is_empty() {
        flush(&mut group, checked);
    }
    for lock in mine.iter().filter(|p| p.seen == PinSeen::Locked) {
        for pass in mine.iter().filter(|p| p.seen == PinSeen::Passed && p.started_ms > lock.ended_ms) {
            let lifted = between(&lifts, lock.started_ms, pass.ended_ms);
            checked.check(PIN, lifted, || format!("{phone}: request #{} passed the PIN after request #{} was told it was locked, with no new PIN between", pass.seq, lock.seq), &[phone]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An account as read after quiescence, with only its identity overview.
    fn observed(phone: &str, kyc: Value) -> Observed {
        Observed {
            known: Known { phone: phone.into(), ..Known::default() },
            id: "acc_soak".into(),
            wallet: Value::Null,
            journal: None,
            transfers: None,
            withdrawals: Vec::new(),
            bindings: Vec::new(),
            events: None,
            me: Value::Null,
            kyc,
        }
    }

    fn decided(kyc_id: &str, approved: bool) -> KycDecided {
        KycDecided { kyc_id: kyc_id.into(), phone: "13900000000".into(), approved, seq: 7 }
    }

    #[test]
    fn a_withdrawals_rows_must_each_name_the_wallet_it_went_to() {
        let rows = |providers: &[&str]| providers.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
        assert!(rows_name_the_wallet("wechat", &rows(&["wechat", "wechat"])));
        assert!(rows_name_the_wallet("alipay", &rows(&["alipay"])));
        assert!(!rows_name_the_wallet("wechat", &rows(&["wechat", "alipay"])), "a row naming the other wallet");
        assert!(!rows_name_the_wallet("wechat", &rows(&["none"])), "a row naming none");
        assert!(!rows_name_the_wallet("wechat", &[]), "no row at all: its hold is missing");
    }

    fn identity_violations(kyc: Value, decisions: &[KycDecided], wrong_codes: &[WrongCodeTried]) -> Vec<String> {
        let mut checked = Checked::default();
        check_codes_and_identity(&mut checked, &[observed("13900000000", kyc)], wrong_codes, decisions);
        checked.violations.iter().map(|v| v.invariant.to_owned()).collect()
    }

    #[test]
    fn an_identity_check_shown_as_the_other_outcome_is_a_violation() {
        let verified = json!({ "level": "L1", "verified": { "id": "kyc_a" }, "pending": null, "rejected": null });
        assert_eq!(identity_violations(verified.clone(), &[decided("kyc_a", false)], &[]), [KYC]);
        assert!(identity_violations(verified, &[decided("kyc_a", true)], &[]).is_empty());
        let rejected = json!({ "level": "L0", "verified": null, "pending": null, "rejected": { "id": "kyc_a" } });
        assert_eq!(identity_violations(rejected.clone(), &[decided("kyc_a", true)], &[]), [KYC]);
        assert!(identity_violations(rejected, &[decided("kyc_a", false)], &[]).is_empty());
        let pending = json!({ "level": "L0", "verified": null, "pending": { "id": "kyc_a" }, "rejected": null });
        assert_eq!(identity_violations(pending, &[decided("kyc_a", false)], &[]), [KYC]);
        // A later request's outcome says nothing of an earlier one's.
        let later = json!({ "level": "L2", "verified": { "id": "kyc_b" }, "pending": null, "rejected": null });
        assert!(identity_violations(later, &[decided("kyc_a", false)], &[]).is_empty());
    }

    #[test]
    fn a_wrong_code_taken_is_a_violation() {
        let tried = |taken| WrongCodeTried { phone: "13900000000".into(), taken, detail: "soak".into(), seq: 3 };
        assert!(identity_violations(Value::Null, &[], &[tried(false)]).is_empty());
        assert_eq!(identity_violations(Value::Null, &[], &[tried(false), tried(true)]), [WRONG_CODE]);
    }

    fn fact(seq: u64, seen: PinSeen, started_ms: u64, ended_ms: u64) -> PinFact {
        PinFact { phone: "13900000000".into(), seen, started_ms, ended_ms, seq }
    }

    fn pin_violations(facts: &[PinFact]) -> usize {
        let mut checked = Checked::default();
        check_pin_facts(&mut checked, "13900000000", facts);
        checked.violations.len()
    }

    #[test]
    fn a_wrong_entry_answered_after_a_later_right_one_may_be_counted_afresh() {
        // #1 started first and was answered last; a right PIN (#3) in between
        // may have reset the count before #1 was judged.
        let facts = [
            fact(1, PinSeen::Wrong(4), 100, 190),
            fact(2, PinSeen::Wrong(4), 101, 107),
            fact(3, PinSeen::MaybePassed, 114, 116),
        ];
        assert_eq!(pin_violations(&facts), 0);
    }

    #[test]
    fn two_wrong_entries_counted_alike_with_no_reset_between_are_a_violation() {
        let facts = [fact(1, PinSeen::Wrong(4), 100, 190), fact(2, PinSeen::Wrong(4), 101, 107)];
        assert_eq!(pin_violations(&facts), 1);
    }

    #[test]
    fn wrong_entries_counting_down_are_fine() {
        let facts = [fact(1, PinSeen::Wrong(4), 100, 110), fact(2, PinSeen::Wrong(3), 120, 130)];
        assert_eq!(pin_violations(&facts), 0);
    }
}
