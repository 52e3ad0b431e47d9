//! The seeded random workload: each client task draws its operations from
//! its own `StdRng` (seeded from the run's seed and its number), over every
//! user and operator operation, on a gateway it also draws. An operation
//! whose prerequisite is missing (no token, no PIN, no binding) does that
//! step instead, so accounts make their own way to withdrawing and
//! transferring. Money comes in through operator credits (CNY and USDT,
//! most under an `Idempotency-Key`, some repeated) and moves between the
//! harness's accounts through transfers (CNY and USDT, some with a wrong
//! PIN, to nobody or to oneself, some replayed or reusing a key).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Api, Body, Meta, Reply, Request, decimal, units, yuan};
use crate::money::places_of;
use crate::world::{
    BillCancelled, CreditFact, CreditKey, Credited, Known, KycDecided, LogoutFact, NegativeSeen, OPERATOR_EMAIL,
    OPERATOR_PASSWORD, PINS, PinFact, PinSeen, Sent, SentTransfer, Submitted, TransferFact, WRONG_PIN, WithdrawFact,
    World, WrongCodeTried, real_name, renew, resident_id, snapshot, update,
};
use walletgate::domain::wechatpay_sign::MerchantKey;

/// Operations one client performs at most, whatever the duration.
const OPS_PER_CLIENT_MAX: u64 = 1_000_000;
/// Idempotency keys an account remembers for replays.
const KEYS_KEPT: usize = 16;
/// Keyed operator credits the harness remembers for repeats.
const CREDIT_KEYS_KEPT: usize = 64;

#[derive(Debug, Clone, Copy)]
enum Op {
    Register,
    Login,
    LoginWrong,
    Refresh,
    Logout,
    Kyc,
    Bind,
    BindRace,
    BindAlipay,
    Unbind,
    PinSet,
    PinChange,
    PinWrong,
    PinVerify,
    Credit,
    CreditRepeat,
    Quote,
    Withdraw,
    WithdrawReplay,
    WithdrawReuse,
    Decide,
    WorkerStep,
    Read,
    Transfer,
    TransferReplay,
    TransferReuse,
    ForceAnswers,
    KycDecide,
    CancelBill,
}

const WEIGHTS: [(Op, u32); 29] = [
    (Op::Register, 3),
    (Op::Login, 2),
    (Op::LoginWrong, 1),
    (Op::Refresh, 2),
    (Op::Logout, 1),
    (Op::Kyc, 2),
    (Op::Bind, 5),
    (Op::BindRace, 2),
    (Op::BindAlipay, 3),
    (Op::Unbind, 1),
    (Op::PinSet, 3),
    (Op::PinChange, 1),
    (Op::PinWrong, 3),
    (Op::PinVerify, 1),
    (Op::Credit, 7),
    (Op::CreditRepeat, 2),
    (Op::Quote, 3),
    (Op::Withdraw, 20),
    (Op::WithdrawReplay, 4),
    (Op::WithdrawReuse, 2),
    (Op::Decide, 7),
    (Op::WorkerStep, 2),
    (Op::Read, 8),
    (Op::Transfer, 12),
    (Op::TransferReplay, 3),
    (Op::TransferReuse, 1),
    (Op::ForceAnswers, 1),
    (Op::KycDecide, 2),
    (Op::CancelBill, 2),
];

/// Rules the harness lets pile up before it clears them (the server keeps 100).
const RULES_KEPT: usize = 20;

pub struct Client {
    api: Arc<Api>,
    world: Arc<World>,
    id: usize,
    rng: StdRng,
    made: u64,
    /// The mock WeChat Pay's merchant key, read when first needed.
    merchant: Option<Arc<MerchantKey>>,
}

/// Runs one client until `stop` (or its operation bound).
pub async fn run_client(api: Arc<Api>, world: Arc<World>, id: usize, stop: Arc<AtomicBool>) {
    let seed = world.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(id as u64);
    let mut client = Client { api, world, id, rng: StdRng::seed_from_u64(seed), made: 0, merchant: None };
    for _ in 0..OPS_PER_CLIENT_MAX {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let op = client.draw();
        client.run(op).await;
    }
}

impl Client {
    fn draw(&mut self) -> Op {
        let total: u32 = WEIGHTS.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.random_range(0..total);
        for (op, weight) in WEIGHTS {
            if roll < weight {
                return op;
            }
            roll -= weight;
        }
        Op::Read
    }

    fn gateway(&mut self) -> usize {
        self.rng.random_range(0..self.api.gateways.len())
    }

    fn meta(&mut self, op: &'static str, phones: &[&str]) -> Meta {
        let gateway = self.gateway();
        Meta::new(op, self.id, phones, gateway)
    }

    fn next_number(&mut self) -> u64 {
        self.made += 1;
        self.made
    }

    /// A random known account, if any.
    fn pick(&mut self) -> Option<Arc<Mutex<Known>>> {
        let count = self.world.account_count();
        if count == 0 {
            return None;
        }
        self.world.account(self.rng.random_range(0..count))
    }

    async fn run(&mut self, op: Op) {
        if matches!(op, Op::Register) || self.world.account_count() < 4 {
            return self.register().await;
        }
        if matches!(op, Op::Decide | Op::WorkerStep | Op::Credit | Op::CreditRepeat | Op::KycDecide | Op::CancelBill)
            && self.world.operator_token().is_none()
        {
            return self.operator_login().await;
        }
        match op {
            Op::Decide => return self.decide().await,
            Op::KycDecide => return self.kyc_decide().await,
            Op::CancelBill => return self.cancel_bill().await,
            Op::WorkerStep => return self.worker_step().await,
            Op::CreditRepeat if !self.world.credit_keys.lock().expect("credit keys lock").is_empty() => {
                let change = self.rng.random_bool(0.2);
                return self.credit_again(change).await;
            }
            _ => {}
        }
        let Some(slot) = self.pick() else { return };
        let known = snapshot(&slot);
        let Some(token) = known.token.clone() else { return self.login(&slot, true).await };
        match op {
            Op::Login => self.login(&slot, true).await,
            Op::LoginWrong => self.login(&slot, false).await,
            Op::Refresh => self.refresh(&slot, &known).await,
            Op::Logout => self.logout(&known).await,
            Op::Kyc => self.kyc(&known, &token).await,
            Op::Credit | Op::CreditRepeat => self.credit(&known).await,
            Op::Read => self.read(&slot, &known, &token).await,
            Op::PinSet => self.pin_set(&slot, &known, &token).await,
            Op::PinWrong => self.pin_entry(&slot, &known, &token, false).await,
            Op::Bind if known.active_binding.is_none() || self.rng.random_bool(0.2) => {
                self.bind(&slot, &known, &token).await
            }
            Op::BindRace => self.bind_race().await,
            Op::BindAlipay if known.pins.is_empty() => self.pin_set(&slot, &known, &token).await,
            Op::BindAlipay => self.bind_alipay_and_withdraw(&slot, &known, &token).await,
            Op::ForceAnswers => self.force_answers().await,
            _ if known.pins.is_empty() => self.pin_set(&slot, &known, &token).await,
            Op::PinChange => self.pin_change(&slot, &known, &token).await,
            Op::PinVerify => self.pin_entry(&slot, &known, &token, true).await,
            Op::Transfer => self.transfer(&slot, &known, &token).await,
            Op::TransferReplay | Op::TransferReuse if known.transfer_keys.is_empty() => {
                self.transfer(&slot, &known, &token).await
            }
            Op::TransferReplay => self.transfer_again(&slot, &known, &token, false).await,
            Op::TransferReuse => self.transfer_again(&slot, &known, &token, true).await,
            _ if known.active_binding.is_none() => self.bind(&slot, &known, &token).await,
            Op::Unbind => self.unbind(&slot, &known, &token).await,
            Op::Quote => self.quote(&known, &token).await,
            Op::Withdraw => self.withdraw(&slot, &known, &token).await,
            Op::WithdrawReplay | Op::WithdrawReuse if known.keys.is_empty() => {
                self.withdraw(&slot, &known, &token).await
            }
            Op::WithdrawReplay => self.withdraw_again(&slot, &known, &token, false).await,
            Op::WithdrawReuse => self.withdraw_again(&slot, &known, &token, true).await,
            Op::Bind | Op::Register | Op::Decide | Op::WorkerStep | Op::KycDecide | Op::CancelBill => {
                self.withdraw(&slot, &known, &token).await
            }
        }
    }

    /// Notes what a reply says about the account's session (an expired token).
    fn after(&self, slot: &Mutex<Known>, reply: &Reply) {
        if reply.is(401) {
            update(slot, |k| k.token = None);
        }
        if reply.is(500) {
            self.world.facts(|f| f.server_errors.push(reply.seq));
        }
    }

    fn pin_fact(&self, phone: &str, seen: Option<PinSeen>, reply: &Reply, started_ms: u64) {
        let Some(seen) = seen else { return };
        let fact = PinFact {
            phone: phone.to_owned(),
            seen,
            started_ms,
            ended_ms: self.api.history.elapsed_ms(),
            seq: reply.seq,
        };
        self.world.facts(|f| f.pins.push(fact));
    }

    // ------------------------------------------------------------ accounts --

    async fn register(&mut self) {
        if self.world.account_count() >= self.world.accounts_max {
            if let Some(slot) = self.pick() {
                self.login(&slot, true).await;
            }
            return;
        }
        let n = self.next_number();
        let phone = format!("139{:02}{:06}", self.id % 100, n % 1_000_000);
        let password = format!("soak-password-{}-{n}", self.id);
        let mut body = json!({ "phone": phone, "password": password });
        // Half the registrations prove the phone with a texted code; now and
        // then with a wrong one, which must not register it.
        if self.rng.random_bool(0.5) {
            match self.register_code(&phone).await {
                Some(code) if self.rng.random_bool(0.15) => {
                    return self.register_wrong_code(&phone, &password, &code).await;
                }
                Some(code) => body["sms_code"] = json!(code),
                None => {}
            }
        }
        let meta = self.meta("register", &[&phone]);
        let reply = self.api.send(&meta, Request::json(Method::POST, "/v1/auth/register", None, body)).await;
        if reply.is(500) {
            self.world.facts(|f| f.server_errors.push(reply.seq));
        }
        if reply.is(201) || reply.unknown() || reply.code() == Some("ALREADY_REGISTERED") {
            let identity = self.rng.random_range(0..1_000_000);
            let id = reply.body["id"].as_str().map(str::to_owned);
            let slot = self.world.add_account(Known { phone, password, id, identity, ..Known::default() });
            self.login(&slot, true).await;
        }
    }

    /// Asks for a registration code for `phone` and reads it from the mock outbox.
    async fn register_code(&mut self, phone: &str) -> Option<String> {
        let meta = self.meta("register code", &[phone]);
        let body = json!({ "phone": phone });
        let reply = self.api.send(&meta, Request::json(Method::POST, "/v1/auth/register/code", None, body)).await;
        if reply.is(500) {
            self.world.facts(|f| f.server_errors.push(reply.seq));
        }
        if !reply.is(202) {
            return None;
        }
        self.read_code(phone, "register").await
    }

    /// A registration with a code other than the one texted: refused, and
    /// the phone stays free (it is not kept as an account of the run).
    async fn register_wrong_code(&mut self, phone: &str, password: &str, code: &str) {
        let meta = self.meta("register (wrong code)", &[phone]);
        let body = json!({ "phone": phone, "password": password, "sms_code": wrong_code(code) });
        let reply = self.api.send(&meta, Request::json(Method::POST, "/v1/auth/register", None, body)).await;
        if reply.is(500) {
            self.world.facts(|f| f.server_errors.push(reply.seq));
        }
        self.wrong_code_refused(phone, "a registration", &reply);
    }

    /// Notes what a wrong code was answered (taken: any 2xx), when the code
    /// was weighed at all: not for a request refused by a rate limit first.
    fn wrong_code_refused(&self, phone: &str, what: &str, reply: &Reply) {
        let Some(status) = reply.status.filter(|status| *status != 429) else { return };
        let detail = format!("{what} with a wrong SMS code was answered {status} (request #{})", reply.seq);
        let tried =
            WrongCodeTried { phone: phone.to_owned(), taken: (200..300).contains(&status), detail, seq: reply.seq };
        self.world.facts(|f| f.wrong_codes.push(tried));
    }

    async fn login(&mut self, slot: &Mutex<Known>, right: bool) {
        let known = snapshot(slot);
        let password = if right { known.password.clone() } else { "wrong-password-1".to_owned() };
        let meta = self.meta(if right { "login" } else { "login (wrong password)" }, &[&known.phone]);
        let body = json!({ "phone": known.phone, "password": password });
        let reply = self.api.send(&meta, Request::json(Method::POST, "/v1/auth/login", None, body)).await;
        self.after(slot, &reply);
        if right && reply.is(401) && known.id.is_none() {
            // Its registration got no answer and did not land: register again.
            let meta = self.meta("register (again)", &[&known.phone]);
            let body = json!({ "phone": known.phone, "password": known.password });
            let again = self.api.send(&meta, Request::json(Method::POST, "/v1/auth/register", None, body)).await;
            if let Some(id) = again.body["id"].as_str() {
                update(slot, |k| k.id = Some(id.to_owned()));
            }
            return;
        }
        let Some(token) = reply.body["access_token"].as_str().filter(|_| reply.is(200)) else { return };
        let refresh = reply.body["refresh_token"].as_str().map(str::to_owned);
        update(slot, |k| {
            k.token = Some(token.to_owned());
            k.refresh = refresh;
        });
        if known.id.is_none() {
            let meta = self.meta("me", &[&known.phone]);
            let me = self.api.send(&meta, Request::get("/v1/me", Some(token))).await;
            if let Some(id) = me.body["id"].as_str() {
                update(slot, |k| k.id = Some(id.to_owned()));
            }
        }
    }

    async fn operator_login(&mut self) {
        let meta = self.meta("operator login", &[]);
        let body = json!({ "email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD });
        let reply = self.api.send(&meta, Request::json(Method::POST, "/v1/auth/login", None, body)).await;
        if let Some(token) = reply.body["access_token"].as_str().filter(|_| reply.is(200)) {
            *self.world.operator.write().expect("operator lock") = Some(token.to_owned());
        }
    }

    async fn refresh(&mut self, slot: &Mutex<Known>, known: &Known) {
        let stale = known.old_refresh.is_some() && self.rng.random_bool(0.25);
        let token = if stale { known.old_refresh.clone() } else { known.refresh.clone() };
        let Some(token) = token else { return self.login(slot, true).await };
        let meta = self.meta(if stale { "refresh (used token)" } else { "refresh" }, &[&known.phone]);
        let body = json!({ "refresh_token": token });
        let reply = self.api.send(&meta, Request::json(Method::POST, "/v1/auth/refresh", None, body)).await;
        self.after(slot, &reply);
        if reply.is(200) {
            renew(slot, token, &reply.body);
        }
    }

    /// A second session of the account, logged out on one gateway, then
    /// tried on others: its access and refresh tokens must both be refused
    /// (the account's own session is left alone). The revocation lives in
    /// the store, so another gateway, or one restarted since, must see it.
    async fn logout(&mut self, known: &Known) {
        let meta = self.meta("logout (login)", &[&known.phone]);
        let body = json!({ "phone": known.phone, "password": known.password });
        let login = self.api.send(&meta, Request::json(Method::POST, "/v1/auth/login", None, body)).await;
        let (Some(access), Some(refresh)) =
            (login.body["access_token"].as_str().filter(|_| login.is(200)), login.body["refresh_token"].as_str())
        else {
            return;
        };
        let meta = self.meta("logout", &[&known.phone]);
        let body = json!({ "refresh_token": refresh });
        let logout = self.api.send(&meta, Request::json(Method::POST, "/v1/auth/logout", Some(access), body)).await;
        if !logout.is(204) {
            return;
        }
        let meta = self.meta("logout (access token after)", &[&known.phone]);
        let me = self.api.send(&meta, Request::get("/v1/me", Some(access))).await;
        let meta = self.meta("logout (refresh token after)", &[&known.phone]);
        let body = json!({ "refresh_token": refresh });
        let renewed = self.api.send(&meta, Request::json(Method::POST, "/v1/auth/refresh", None, body)).await;
        for (what, reply) in [("access token", &me), ("refresh token", &renewed)] {
            if reply.is(500) {
                self.world.facts(|f| f.server_errors.push(reply.seq));
            }
            // An unanswered or 503 try says nothing either way.
            let Some(status) = reply.status.filter(|status| *status < 500) else { continue };
            self.world.facts(|f| {
                f.logouts.push(LogoutFact {
                    phone: known.phone.clone(),
                    refused: status == 401,
                    detail: format!("the {what} of a session logged out (seq {}) was answered {status}", logout.seq),
                    seqs: [logout.seq, reply.seq],
                })
            });
        }
    }

    async fn kyc(&mut self, known: &Known, token: &str) {
        let level = if self.rng.random_bool(0.5) { "L1" } else { "L2" };
        let body = json!({
            "level": level,
            "real_name": real_name(known.identity),
            "id_number": resident_id(known.identity),
        });
        let meta = self.meta("kyc submit", &[&known.phone]);
        self.api.send(&meta, Request::json(Method::POST, "/v1/kyc", Some(token), body)).await;
    }

    async fn read(&mut self, slot: &Mutex<Known>, known: &Known, token: &str) {
        const READS: [&str; 7] = [
            "/v1/wallet",
            "/v1/me",
            "/v1/withdrawals",
            "/v1/bindings",
            "/v1/kyc",
            "/v1/wallet/transactions",
            "/v1/withdrawals?status=processing",
        ];
        let path = READS[self.rng.random_range(0..READS.len())];
        let meta = self.meta("read", &[&known.phone]);
        let reply = self.api.send(&meta, Request::get(path, Some(token))).await;
        self.after(slot, &reply);
        if path == "/v1/wallet" && reply.is(200) {
            for balance in reply.body["assets"].as_array().into_iter().flatten() {
                let asset = balance["asset"].as_str().unwrap_or_default();
                self.not_negative(&known.phone, asset, &balance["available"], &reply);
                self.not_negative(&known.phone, asset, &balance["held"], &reply);
            }
        }
    }

    /// Notes a balance below zero (or unreadable) in an answer.
    fn not_negative(&self, phone: &str, asset: &str, amount: &Value, reply: &Reply) {
        let value = amount.as_str().and_then(|text| units(text, places_of(asset)));
        if value.is_none_or(|v| v < 0) {
            let detail = format!("{asset} balance {amount} in request #{}'s answer", reply.seq);
            self.world.facts(|f| f.negatives.push(NegativeSeen { phone: phone.to_owned(), detail, seq: reply.seq }));
        }
    }

    // ----------------------------------------------------------------- PIN --

    /// Asks for an SMS code and reads it from the mock outbox.
    async fn sms_code(&mut self, slot: &Mutex<Known>, known: &Known, token: &str, purpose: &str) -> Option<String> {
        let meta = self.meta("sms code", &[&known.phone]);
        let body = json!({ "purpose": purpose });
        let reply = self.api.send(&meta, Request::json(Method::POST, "/v1/sms/codes", Some(token), body)).await;
        self.after(slot, &reply);
        if !reply.is(202) {
            return None;
        }
        self.read_code(&known.phone, purpose).await
    }

    async fn read_code(&mut self, phone: &str, purpose: &str) -> Option<String> {
        let meta = self.meta("sms outbox", &[phone]);
        let path = format!("/mock/sms/outbox?phone={phone}");
        let outbox = self.api.send(&meta, Request::get(&path, None)).await;
        let items = outbox.body["items"].as_array()?;
        let item = items.iter().find(|item| item["purpose"] == purpose)?;
        item["code"].as_str().map(str::to_owned)
    }

    async fn pin_set(&mut self, slot: &Mutex<Known>, known: &Known, token: &str) {
        let purpose = if known.pins.is_empty() { "set_pin" } else { "reset_pin" };
        let Some(code) = self.sms_code(slot, known, token, purpose).await else { return };
        // Now and then the app checks the code first (`/v1/sms/codes/check`):
        // a wrong one costs a try and is never taken; a right one stays.
        if self.rng.random_bool(0.3) {
            let wrong = self.rng.random_bool(0.5);
            let checked = if wrong { wrong_code(&code) } else { code.clone() };
            let meta = self.meta(if wrong { "code check (wrong)" } else { "code check" }, &[&known.phone]);
            let body = json!({ "purpose": purpose, "sms_code": checked });
            let reply =
                self.api.send(&meta, Request::json(Method::POST, "/v1/sms/codes/check", Some(token), body)).await;
            self.after(slot, &reply);
            if wrong {
                self.wrong_code_refused(&known.phone, "a code check", &reply);
            }
        }
        let new = self.new_pin(known);
        let meta = self.meta(if known.pins.is_empty() { "pin set" } else { "pin reset" }, &[&known.phone]);
        let started = self.api.history.elapsed_ms();
        let mut body = json!({ "pin": new, "sms_code": code });
        if !known.pins.is_empty() {
            // A verified account's reset is also asked for its ID number's
            // ending (ignored for one that is not verified); now and then a
            // wrong one, which spends the code and changes nothing.
            let id_number = resident_id(known.identity);
            let ending = if self.rng.random_bool(0.1) { "000000" } else { &id_number[id_number.len() - 6..] };
            body["id_number_last6"] = json!(ending);
        }
        let reply = self.api.send(&meta, Request::json(Method::PUT, "/v1/pin", Some(token), body)).await;
        self.after(slot, &reply);
        let seen = if reply.is(200) {
            update(slot, |k| k.pins = vec![new.clone()]);
            Some(PinSeen::Set)
        } else if reply.unknown() {
            update(slot, |k| k.pins.insert(0, new.clone()));
            Some(PinSeen::MaybeSet)
        } else {
            None
        };
        self.pin_fact(&known.phone, seen, &reply, started);
    }

    fn new_pin(&mut self, known: &Known) -> String {
        let choices: Vec<&str> =
            PINS.iter().copied().filter(|p| known.pins.first().map(String::as_str) != Some(*p)).collect();
        choices[self.rng.random_range(0..choices.len())].to_owned()
    }

    async fn pin_change(&mut self, slot: &Mutex<Known>, known: &Known, token: &str) {
        let old = known.pins[0].clone();
        let new = self.new_pin(known);
        let meta = self.meta("pin change", &[&known.phone]);
        let started = self.api.history.elapsed_ms();
        let body = json!({ "pin": new, "old_pin": old });
        let reply = self.api.send(&meta, Request::json(Method::PUT, "/v1/pin", Some(token), body)).await;
        self.after(slot, &reply);
        let seen = self.judge_pin(slot, &reply, PinSeen::Set, PinSeen::MaybeSet);
        match seen {
            Some(PinSeen::Set) => update(slot, |k| k.pins = vec![new.clone()]),
            Some(PinSeen::MaybeSet) => update(slot, |k| k.pins.insert(0, new.clone())),
            _ => {}
        }
        self.pin_fact(&known.phone, seen, &reply, started);
    }

    /// What a reply to a request with a PIN says of the guard; a right PIN
    /// judged wrong moves the next candidate first.
    /// `passed` is what an acceptance shows: `Passed` for the PIN believed
    /// right, `Wrong(0)` for the deliberately wrong one, `MaybePassed` for
    /// an older candidate (a replayed body's).
    fn judge_pin(&self, slot: &Mutex<Known>, reply: &Reply, passed: PinSeen, maybe: PinSeen) -> Option<PinSeen> {
        if reply.replayed {
            // A saved reply: the PIN was not judged again.
            return None;
        }
        match (reply.status, reply.code()) {
            (Some(422), Some("PIN_INCORRECT")) => {
                update(slot, |k| {
                    if k.pins.len() > 1 && matches!(passed, PinSeen::Passed | PinSeen::Set) {
                        k.pins.rotate_left(1);
                    }
                });
                Some(PinSeen::Wrong(reply.body["error"]["details"]["attempts_remaining"].as_i64().unwrap_or(-1)))
            }
            (Some(423), Some("PIN_LOCKED")) => Some(PinSeen::Locked),
            (Some(200..=299), _) if !reply.replayed => Some(passed),
            _ if reply.unknown() => Some(maybe),
            // Refused for another reason (balance, limits) after the PIN
            // may have been judged right, which starts the count again.
            (Some(400..=499), code) if passed != PinSeen::Wrong(0) && code != Some("PIN_NOT_SET") => Some(maybe),
            _ => None,
        }
    }

    async fn pin_entry(&mut self, slot: &Mutex<Known>, known: &Known, token: &str, right: bool) {
        let pin = if right { known.pins[0].clone() } else { WRONG_PIN.to_owned() };
        let meta = self.meta(if right { "pin verify" } else { "pin verify (wrong)" }, &[&known.phone]);
        let started = self.api.history.elapsed_ms();
        let body = json!({ "pin": pin });
        let reply = self.api.send(&meta, Request::json(Method::POST, "/v1/pin/verify", Some(token), body)).await;
        self.after(slot, &reply);
        // The deliberately wrong PIN says nothing about which candidate is right.
        let passed = if right { PinSeen::Passed } else { PinSeen::Wrong(0) };
        let seen = self.judge_pin(slot, &reply, passed, PinSeen::MaybePassed);
        // A wrong PIN that got no answer passed nothing.
        let seen = seen.filter(|s| right || *s != PinSeen::MaybePassed);
        self.pin_fact(&known.phone, seen, &reply, started);
    }

    // ------------------------------------------------------------- binding --

    /// Now and then (always once the pool is full) a mock user made
    /// before, so that accounts meet each other's wallets.
    fn reuse(&mut self, pool: &Mutex<Vec<String>>) -> Option<String> {
        let pool = pool.lock().expect("mock users lock").clone();
        let full = pool.len() >= 2 * self.world.accounts_max;
        (!pool.is_empty() && (full || self.rng.random_bool(0.35)))
            .then(|| pool[self.rng.random_range(0..pool.len())].clone())
    }

    /// Follows a consent's redirect to the callback, through any gateway
    /// (they share the state): whether it authorised the binding.
    async fn come_back(&mut self, op: &'static str, phone: &str, redirect: &Reply) -> Option<()> {
        let mut location = url::Url::parse(redirect.location.as_deref()?).ok()?;
        let gateway = self.gateway();
        let port = url::Url::parse(&self.api.gateways[gateway]).ok()?.port();
        location.set_port(port).ok()?;
        let meta = Meta::new(op, self.id, &[phone], gateway);
        self.api.send(&meta, Request::get(location.as_str(), None)).await.is(200).then_some(())
    }

    /// A mock WeChat user to consent as: one made before (with whatever
    /// real name it was made with), or a new one,
    /// made with `real_name` (WeChat Pay checks a payout from ¥2,000
    /// against it) or without a real name.
    async fn openid(&mut self, phone: &str, real_name: Option<String>) -> Option<String> {
        let world = self.world.clone();
        if let Some(openid) = self.reuse(&world.openids) {
            return Some(openid);
        }
        let n = self.next_number();
        let meta = self.meta("mock wechat user", &[phone]);
        let mut body = json!({ "nickname": format!("soak{}x{n}", self.id) });
        if let Some(real_name) = &real_name {
            body["real_name"] = json!(real_name);
        }
        let reply = self.api.send(&meta, Request::json(Method::POST, "/mock/wechat/users", None, body)).await;
        let openid = reply.body["openid"].as_str()?.to_owned();
        if let Some(real_name) = real_name {
            self.world.facts(|f| f.openid_real_name.insert(openid.clone(), real_name));
        }
        self.world.openids.lock().expect("openids lock").push(openid.clone());
        Some(openid)
    }

    /// The real name of a new mock WeChat user for `known`: mostly its own
    /// (as its identity check has it), sometimes someone else's, sometimes none.
    fn wechat_real_name(&mut self, known: &Known) -> Option<String> {
        match self.rng.random_range(0..4) {
            0 | 1 => Some(real_name(known.identity)),
            2 => Some(real_name(known.identity + 1)),
            _ => None,
        }
    }

    /// Start, consent (as `openid`) and callback; returns the binding id and its SMS code.
    async fn authorize(
        &mut self,
        slot: &Mutex<Known>,
        known: &Known,
        token: &str,
        openid: &str,
    ) -> Option<(String, String)> {
        let meta = self.meta("binding start", &[&known.phone]);
        let reply =
            self.api.send(&meta, Request::json(Method::POST, "/v1/bindings/wechat", Some(token), json!({}))).await;
        self.after(slot, &reply);
        let binding_id = reply.body["binding_id"].as_str()?.to_owned();
        let authorize_url = url::Url::parse(reply.body["authorize_url"].as_str()?).ok()?;
        self.world.facts(|f| f.binding_openid.insert(binding_id.clone(), openid.to_owned()));
        let param = |name: &str| authorize_url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        let mut form: Vec<(String, String)> = ["appid", "redirect_uri", "scope", "state"]
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), param(name)?)))
            .collect();
        form.push(("action".into(), "allow".into()));
        form.push(("openid".into(), openid.to_owned()));
        let meta = self.meta("wechat consent", &[&known.phone]);
        let consent = Request {
            method: Method::POST,
            path: "/mock/wechat/connect/oauth2/authorize",
            token: None,
            body: Some(Body::Form(form)),
            headers: Vec::new(),
        };
        let redirect = self.api.send(&meta, consent).await;
        self.come_back("binding callback", &known.phone, &redirect).await?;
        let code = self.read_code(&known.phone, "bind_wechat").await?;
        Some((binding_id, code))
    }

    async fn bind(&mut self, slot: &Mutex<Known>, known: &Known, token: &str) {
        let name = self.wechat_real_name(known);
        let Some(openid) = self.openid(&known.phone, name).await else { return };
        let Some((binding_id, code)) = self.authorize(slot, known, token, &openid).await else { return };
        let meta = self.meta("binding confirm", &[&known.phone]);
        let reply = confirm(&self.api, &meta, token, &binding_id, &code).await;
        self.after(slot, &reply);
        if reply.is(200) {
            update(slot, |k| k.active_binding = Some(binding_id));
        }
    }

    /// Several accounts consent with one openid, then confirm at once.
    async fn bind_race(&mut self) {
        let Some(openid) = self.openid("race", None).await else { return };
        let racers = self.rng.random_range(2..=4);
        let mut ready = Vec::new();
        for _ in 0..racers {
            let Some(slot) = self.pick() else { return };
            let known = snapshot(&slot);
            if ready
                .iter()
                .any(|(_, k, _, _, _): &(Arc<Mutex<Known>>, Known, String, String, Meta)| k.phone == known.phone)
            {
                continue;
            }
            let Some(token) = known.token.clone() else { continue };
            if let Some((binding_id, code)) = self.authorize(&slot, &known, &token, &openid).await {
                let meta = self.meta("binding confirm (race)", &[&known.phone]);
                ready.push((slot, known, binding_id, code, meta));
            }
        }
        let api = &self.api;
        let confirms = ready.iter().map(|(_, known, binding_id, code, meta)| {
            confirm(api, meta, known.token.as_deref().unwrap_or(""), binding_id, code)
        });
        let replies = join_all(confirms).await;
        for ((slot, _, binding_id, _, _), reply) in ready.iter().zip(replies) {
            self.after(slot, &reply);
            if reply.is(200) {
                update(slot, |k| k.active_binding = Some(binding_id.clone()));
            }
        }
    }

    /// Unbinds the WeChat binding, or now and then the Alipay one.
    async fn unbind(&mut self, slot: &Mutex<Known>, known: &Known, token: &str) {
        let alipay = known.alipay_binding.is_some() && self.rng.random_bool(0.3);
        let chosen = if alipay { known.alipay_binding.clone() } else { known.active_binding.clone() };
        let Some(binding_id) = chosen else { return };
        let meta = self.meta("unbind", &[&known.phone]);
        let started = self.api.history.elapsed_ms();
        let path = format!("/v1/bindings/{binding_id}");
        let body = json!({ "pin": known.pins[0] });
        let reply = self.api.send(&meta, Request::json(Method::DELETE, &path, Some(token), body)).await;
        self.after(slot, &reply);
        if reply.is(200) || reply.code() == Some("NOT_FOUND") {
            update(slot, |k| match alipay {
                true => k.alipay_binding = None,
                false => k.active_binding = None,
            });
        }
        let seen = self.judge_pin(slot, &reply, PinSeen::Passed, PinSeen::MaybePassed);
        self.pin_fact(&known.phone, seen, &reply, started);
    }

    /// A mock Alipay user to consent as: an existing one (whose account
    /// may be bound elsewhere already), or a new certified one.
    async fn alipay_user(&mut self, phone: &str) -> Option<String> {
        let world = self.world.clone();
        if let Some(user_id) = self.reuse(&world.alipay_users) {
            return Some(user_id);
        }
        let n = self.next_number();
        let meta = self.meta("mock alipay user", &[phone]);
        let body = json!({ "nick_name": format!("soak{}x{n}", self.id), "real_name": real_name(n) });
        let reply = self.api.send(&meta, Request::json(Method::POST, "/mock/alipay/users", None, body)).await;
        let user_id = reply.body["user_id"].as_str()?.to_owned();
        self.world.alipay_users.lock().expect("alipay users lock").push(user_id.clone());
        Some(user_id)
    }

    /// Start an Alipay binding, consent as `user_id` at the mock Alipay's
    /// `publicAppAuthorize.htm` and come back through any gateway's
    /// callback; returns the binding id and its SMS code.
    async fn authorize_alipay(
        &mut self,
        slot: &Mutex<Known>,
        known: &Known,
        token: &str,
        user_id: &str,
    ) -> Option<(String, String)> {
        let meta = self.meta("alipay binding start", &[&known.phone]);
        let reply =
            self.api.send(&meta, Request::json(Method::POST, "/v1/bindings/alipay", Some(token), json!({}))).await;
        self.after(slot, &reply);
        let binding_id = reply.body["binding_id"].as_str()?.to_owned();
        let authorize_url = url::Url::parse(reply.body["authorize_url"].as_str()?).ok()?;
        self.world.facts(|f| f.binding_alipay_user.insert(binding_id.clone(), user_id.to_owned()));
        let mut form: Vec<(String, String)> = authorize_url.query_pairs().into_owned().collect();
        form.push(("action".into(), "allow".into()));
        form.push(("user_id".into(), user_id.to_owned()));
        let meta = self.meta("alipay consent", &[&known.phone]);
        let consent = Request {
            method: Method::POST,
            path: authorize_url.path(),
            token: None,
            body: Some(Body::Form(form)),
            headers: Vec::new(),
        };
        let redirect = self.api.send(&meta, consent).await;
        self.come_back("alipay binding callback", &known.phone, &redirect).await?;
        let code = self.read_code(&known.phone, "bind_alipay").await?;
        Some((binding_id, code))
    }

    /// Binds an Alipay account through the HTTP flow when the account has
    /// none, then withdraws to the Alipay binding.
    async fn bind_alipay_and_withdraw(&mut self, slot: &Mutex<Known>, known: &Known, token: &str) {
        let binding_id = match known.alipay_binding.clone() {
            Some(binding_id) => binding_id,
            None => {
                let Some(user_id) = self.alipay_user(&known.phone).await else { return };
                let Some((binding_id, code)) = self.authorize_alipay(slot, known, token, &user_id).await else {
                    return;
                };
                let meta = self.meta("alipay binding confirm", &[&known.phone]);
                let reply = confirm(&self.api, &meta, token, &binding_id, &code).await;
                self.after(slot, &reply);
                if !reply.is(200) {
                    return;
                }
                update(slot, |k| k.alipay_binding = Some(binding_id.clone()));
                binding_id
            }
        };
        self.withdraw_to(slot, &snapshot(slot), token, binding_id).await;
    }

    // --------------------------------------------------------- withdrawals --

    /// A withdrawal's amount; never in the ranges of the simulator's magic
    /// amounts (91.01–91.99, 92.01–92.99), whose payouts are forced to fail or stall.
    fn amount(&mut self) -> String {
        let fen = match self.rng.random_range(0..20) {
            0 | 1 => self.rng.random_range(5..100),
            2..=15 => self.rng.random_range(100..30_000),
            // From ¥2,000 WeChat Pay wants the payee's real name (a verified
            // account's, which L1 and up may withdraw so much to).
            16 | 17 => self.rng.random_range(200_000..300_000),
            _ => self.rng.random_range(30_000..120_000),
        };
        let magic = matches!(fen, 9101..=9199 | 9201..=9299);
        yuan(if magic { fen + 200 } else { fen })
    }

    /// A top-up: mostly under an `Idempotency-Key` (CNY or USDT), sometimes
    /// without one (CNY, the asset left to its default).
    async fn credit(&mut self, known: &Known) {
        let (Some(id), Some(operator)) = (known.id.clone(), self.world.operator_token()) else { return };
        let keyed = self.rng.random_bool(0.8);
        let body = if keyed && self.rng.random_bool(0.4) {
            json!({ "asset": "USDT", "amount": self.credit_amount("USDT"), "memo": "soak top-up" })
        } else if keyed {
            json!({ "asset": "CNY", "amount": self.credit_amount("CNY"), "memo": "soak top-up" })
        } else {
            json!({ "amount": self.credit_amount("CNY"), "memo": "soak top-up" })
        };
        let n = self.next_number();
        let key = keyed.then(|| format!("soak-credit-{}-{}-{n}", self.world.seed, self.id));
        if let Some(key) = &key {
            let kept =
                CreditKey { key: key.clone(), phone: known.phone.clone(), account_id: id.clone(), body: body.clone() };
            let mut keys = self.world.credit_keys.lock().expect("credit keys lock");
            keys.push(kept);
            if keys.len() > CREDIT_KEYS_KEPT {
                keys.remove(0);
            }
        }
        let op = if keyed { "operator credit (keyed)" } else { "operator credit" };
        self.send_credit(op, (&known.phone, &id), key, body, &operator).await;
    }

    /// An earlier keyed credit again: the same body (one credit all the
    /// same), or (`change`) another amount under the key (refused).
    async fn credit_again(&mut self, change: bool) {
        let Some(operator) = self.world.operator_token() else { return };
        let earlier = {
            let keys = self.world.credit_keys.lock().expect("credit keys lock");
            if keys.is_empty() {
                return;
            }
            keys[self.rng.random_range(0..keys.len())].clone()
        };
        let mut body = earlier.body.clone();
        if change {
            body["amount"] = json!(another_amount(&body));
        }
        let op = if change { "operator credit (key reused, other body)" } else { "operator credit (key repeated)" };
        self.send_credit(op, (&earlier.phone, &earlier.account_id), Some(earlier.key), body, &operator).await;
    }

    fn credit_amount(&mut self, asset: &str) -> String {
        match asset {
            "USDT" => decimal(self.rng.random_range(1..500_000_000), 6),
            _ => yuan(self.rng.random_range(50_000..500_000)),
        }
    }

    async fn send_credit(
        &mut self,
        op: &'static str,
        (phone, account_id): (&str, &str),
        key: Option<String>,
        body: Value,
        operator: &str,
    ) {
        let meta = self.meta(op, &[phone]);
        let path = format!("/v1/ops/accounts/{account_id}/credit");
        let reply = post_keyed(&self.api, &meta, (&path, operator), key.as_deref(), &body).await;
        self.operator_after(&reply);
        let asset = body["asset"].as_str().unwrap_or("CNY").to_owned();
        let outcome = match (reply.status, reply.body["entry"]["id"].as_str()) {
            (Some(201), Some(entry)) => {
                self.not_negative(phone, &asset, &reply.body["wallet"]["available"], &reply);
                self.not_negative(phone, &asset, &reply.body["wallet"]["held"], &reply);
                Credited::Entry(entry.to_owned())
            }
            _ if reply.unknown() || reply.is(500) => Credited::Unknown,
            _ => Credited::Refused(reply.code().unwrap_or("?").to_owned()),
        };
        let fact = CreditFact {
            phone: phone.to_owned(),
            account_id: account_id.to_owned(),
            key,
            asset,
            amount: body["amount"].as_str().unwrap_or_default().to_owned(),
            outcome,
            seq: reply.seq,
        };
        self.world.facts(|f| f.credits.push(fact));
    }

    fn operator_after(&self, reply: &Reply) {
        if reply.is(401) {
            *self.world.operator.write().expect("operator lock") = None;
        }
        if reply.is(500) {
            self.world.facts(|f| f.server_errors.push(reply.seq));
        }
    }

    /// Where a withdrawal goes: the WeChat binding, or (a third of the
    /// time, when there is one) the Alipay binding.
    fn destination(&mut self, known: &Known) -> Option<String> {
        match (&known.active_binding, &known.alipay_binding) {
            (Some(_), Some(alipay)) if self.rng.random_bool(0.33) => Some(alipay.clone()),
            (wechat, alipay) => wechat.clone().or_else(|| alipay.clone()),
        }
    }

    async fn quote(&mut self, known: &Known, token: &str) {
        let Some(binding_id) = self.destination(known) else { return };
        let meta = self.meta("quote", &[&known.phone]);
        let body = json!({ "amount": self.amount(), "binding_id": binding_id });
        self.api.send(&meta, Request::json(Method::POST, "/v1/withdrawals/quote", Some(token), body)).await;
    }

    async fn withdraw(&mut self, slot: &Mutex<Known>, known: &Known, token: &str) {
        let Some(binding_id) = self.destination(known) else { return };
        self.withdraw_to(slot, known, token, binding_id).await;
    }

    async fn withdraw_to(&mut self, slot: &Mutex<Known>, known: &Known, token: &str, binding_id: String) {
        let n = self.next_number();
        let key = format!("soak-{}-{}-{n}", self.world.seed, self.id);
        let body = json!({ "amount": self.amount(), "binding_id": binding_id, "pin": known.pins[0] });
        update(slot, |k| {
            k.keys.push((key.clone(), body.clone()));
            if k.keys.len() > KEYS_KEPT {
                k.keys.remove(0);
            }
        });
        self.submit(slot, known, token, "withdraw", key, body).await;
    }

    /// The same key again, with the same body or (`change`) another amount.
    async fn withdraw_again(&mut self, slot: &Mutex<Known>, known: &Known, token: &str, change: bool) {
        let (key, mut body) = known.keys[self.rng.random_range(0..known.keys.len())].clone();
        if change {
            body["amount"] = json!(self.amount());
        }
        let op = if change { "withdraw (key reused, other body)" } else { "withdraw (key replayed)" };
        self.submit(slot, known, token, op, key, body).await;
    }

    async fn submit(
        &mut self,
        slot: &Mutex<Known>,
        known: &Known,
        token: &str,
        op: &'static str,
        key: String,
        body: Value,
    ) {
        let meta = self.meta(op, &[&known.phone]);
        let started = self.api.history.elapsed_ms();
        let reply = post_keyed(&self.api, &meta, ("/v1/withdrawals", token), Some(&key), &body).await;
        self.after(slot, &reply);
        let outcome = match (reply.status, reply.body["id"].as_str()) {
            (Some(202), Some(id)) => Submitted::Accepted(id.to_owned()),
            _ if reply.unknown() || reply.is(500) => Submitted::Unknown,
            _ => Submitted::Refused(reply.code().unwrap_or("?").to_owned()),
        };
        let fact = WithdrawFact { phone: known.phone.clone(), key, body: body.to_string(), outcome, seq: reply.seq };
        self.world.facts(|f| f.withdrawals.push(fact));
        let seen = self.judge_pin(slot, &reply, PinSeen::Passed, PinSeen::MaybePassed);
        self.pin_fact(&known.phone, seen, &reply, started);
    }

    // ----------------------------------------------------------- transfers --

    /// A transfer to another account of the harness (by phone or id), now
    /// and then to nobody or to oneself, in CNY or USDT, sometimes with a wrong PIN.
    async fn transfer(&mut self, slot: &Mutex<Known>, known: &Known, token: &str) {
        let n = self.next_number();
        let key = format!("soak-transfer-{}-{}-{n}", self.world.seed, self.id);
        let (to, to_id) = self.recipient(known);
        let usdt = self.rng.random_bool(0.4);
        // Mostly within what an unverified account may send (¥500, 100 USDT), now and then over it.
        let amount = if usdt {
            let micros = match self.rng.random_range(0..10) {
                0 => self.rng.random_range(1..1_000_000),
                1..=8 => self.rng.random_range(1_000_000..60_000_000),
                _ => self.rng.random_range(60_000_000..150_000_000),
            };
            decimal(micros, 6)
        } else {
            let fen = match self.rng.random_range(0..10) {
                0 => self.rng.random_range(1..100),
                1..=8 => self.rng.random_range(100..15_000),
                _ => self.rng.random_range(15_000..80_000),
            };
            yuan(fen)
        };
        let pin = if self.rng.random_bool(0.08) { WRONG_PIN.to_owned() } else { known.pins[0].clone() };
        let mut body = json!({ "to": to, "amount": amount, "memo": "soak", "pin": pin });
        // CNY is the default: named half the time.
        if usdt {
            body["asset"] = json!("USDT");
        } else if self.rng.random_bool(0.5) {
            body["asset"] = json!("CNY");
        }
        update(slot, |k| {
            k.transfer_keys.push((key.clone(), body.clone(), to_id.clone()));
            if k.transfer_keys.len() > KEYS_KEPT {
                k.transfer_keys.remove(0);
            }
        });
        let op = if pin == WRONG_PIN { "transfer (wrong PIN)" } else { "transfer" };
        self.submit_transfer(slot, known, token, op, (key, body, to_id)).await;
    }

    /// Who a transfer goes to: mostly another account of the harness, by
    /// phone or by id; sometimes a phone or an id nobody has, or oneself.
    fn recipient(&mut self, known: &Known) -> (String, Option<String>) {
        let roll = self.rng.random_range(0..100);
        if roll < 6 {
            return (format!("137{:08}", self.rng.random_range(0..100_000_000)), None);
        }
        if roll < 9 {
            return (format!("acc_soak_nobody_{}", self.rng.random_range(0..1_000_000)), None);
        }
        if roll < 12 {
            return (known.phone.clone(), known.id.clone());
        }
        for _ in 0..5 {
            let Some(slot) = self.pick() else { break };
            let other = snapshot(&slot);
            let Some(id) = other.id.filter(|_| other.phone != known.phone) else { continue };
            let to = if self.rng.random_bool(0.5) { other.phone } else { id.clone() };
            return (to, Some(id));
        }
        (format!("137{:08}", self.rng.random_range(0..100_000_000)), None)
    }

    /// An earlier transfer's key again: the same body (the saved answer,
    /// nothing moves again), or (`change`) another amount (refused).
    async fn transfer_again(&mut self, slot: &Mutex<Known>, known: &Known, token: &str, change: bool) {
        let (key, mut body, to_id) = known.transfer_keys[self.rng.random_range(0..known.transfer_keys.len())].clone();
        if change {
            body["amount"] = json!(another_amount(&body));
        }
        let op = if change { "transfer (key reused, other body)" } else { "transfer (key replayed)" };
        self.submit_transfer(slot, known, token, op, (key, body, to_id)).await;
    }

    async fn submit_transfer(
        &mut self,
        slot: &Mutex<Known>,
        known: &Known,
        token: &str,
        op: &'static str,
        (key, body, to_id): (String, Value, Option<String>),
    ) {
        let meta = self.meta(op, &[&known.phone]);
        let started = self.api.history.elapsed_ms();
        let reply = post_keyed(&self.api, &meta, ("/v1/transfers", token), Some(&key), &body).await;
        self.after(slot, &reply);
        let outcome = match (reply.status, reply.body["id"].as_str()) {
            (Some(201), Some(id)) => Sent::Accepted(SentTransfer {
                id: id.to_owned(),
                asset: reply.body["asset"].as_str().unwrap_or_default().to_owned(),
                amount: reply.body["amount"].as_str().unwrap_or_default().to_owned(),
                fee: reply.body["fee"].as_str().unwrap_or_default().to_owned(),
                to_id: reply.body["counterparty"]["account_id"].as_str().unwrap_or_default().to_owned(),
                replayed: reply.replayed,
            }),
            _ if reply.unknown() || reply.is(500) => Sent::Unknown,
            _ => Sent::Refused(reply.code().unwrap_or("?").to_owned()),
        };
        if reply.code() == Some("INSUFFICIENT_BALANCE") {
            let asset = body["asset"].as_str().unwrap_or("CNY");
            self.not_negative(&known.phone, asset, &reply.body["error"]["details"]["available"], &reply);
        }
        let fact = TransferFact { phone: known.phone.clone(), key, body: body.clone(), to_id, outcome, seq: reply.seq };
        self.world.facts(|f| f.transfers.push(fact));
        // Which PIN the body carries decides what its acceptance says.
        let pin = body["pin"].as_str().unwrap_or_default();
        let passed = if pin == WRONG_PIN {
            PinSeen::Wrong(0)
        } else if known.pins.first().map(String::as_str) == Some(pin) {
            PinSeen::Passed
        } else {
            PinSeen::MaybePassed
        };
        let seen = self.judge_pin(slot, &reply, passed, PinSeen::MaybePassed);
        // A wrong PIN that got no answer passed nothing.
        let seen = seen.filter(|s| passed != PinSeen::Wrong(0) || *s != PinSeen::MaybePassed);
        self.pin_fact(&known.phone, seen, &reply, started);
    }

    // ------------------------------------------------------------ operator --

    /// Approves or rejects a withdrawal of the review queue; sometimes both at once, on two gateways.
    async fn decide(&mut self) {
        let Some((operator, item)) = self.operator_pick("review queue", "/v1/ops/review-queue?limit=50").await else {
            return;
        };
        let (Some(id), Some(account_id)) = (item["withdrawal"]["id"].as_str(), item["account_id"].as_str()) else {
            return;
        };
        let phone = self.phone_of(account_id).unwrap_or_default();
        let roll = self.rng.random_range(0..100);
        // 45 % approve, 35 % reject, 20 % both at once.
        let approve = !(45..80).contains(&roll);
        let reject = roll >= 45;
        let approve_meta = self.meta("operator approve", &[&phone]);
        let reject_meta = self.meta("operator reject", &[&phone]);
        let approve_path = format!("/v1/ops/withdrawals/{id}/approve");
        let reject_path = format!("/v1/ops/withdrawals/{id}/reject");
        let api = &self.api;
        let approving = async {
            if approve {
                Some(
                    api.send(&approve_meta, Request::json(Method::POST, &approve_path, Some(&operator), json!({})))
                        .await,
                )
            } else {
                None
            }
        };
        let rejecting = async {
            if reject {
                let body = json!({ "reason_code": "RISK_POLICY", "note": "soak: declined" });
                Some(api.send(&reject_meta, Request::json(Method::POST, &reject_path, Some(&operator), body)).await)
            } else {
                None
            }
        };
        let (approved, rejected) = tokio::join!(approving, rejecting);
        for reply in approved.iter().chain(rejected.iter()) {
            self.operator_after(reply);
        }
        if let Some(reply) = rejected.filter(|r| r.is(200)) {
            self.world.facts(|f| f.rejected.push((id.to_owned(), reply.seq)));
        }
    }

    /// An operator approves or rejects an identity check still waiting,
    /// racing the clock's approval (after 1 s here): what was answered 200
    /// is what the request ends as.
    async fn kyc_decide(&mut self) {
        let Some((operator, item)) =
            self.operator_pick("pending identity checks", "/v1/ops/kyc/pending?limit=20").await
        else {
            return;
        };
        let (Some(kyc_id), Some(account_id)) = (item["request"]["id"].as_str(), item["account"]["id"].as_str()) else {
            return;
        };
        let phone = self.phone_of(account_id).unwrap_or_default();
        let approved = self.rng.random_bool(0.4);
        let (what, path, body) = match approved {
            true => ("identity check approve", format!("/v1/ops/kyc/{kyc_id}/approve"), json!({})),
            false => (
                "identity check reject",
                format!("/v1/ops/kyc/{kyc_id}/reject"),
                json!({ "reason_code": "ID_NUMBER_UNVERIFIABLE", "note": "soak: declined" }),
            ),
        };
        let meta = self.meta(what, &[&phone]);
        let reply = self.api.send(&meta, Request::json(Method::POST, &path, Some(&operator), body)).await;
        self.operator_after(&reply);
        if reply.is(200) {
            let decided = KycDecided { kyc_id: kyc_id.to_owned(), phone, approved, seq: reply.seq };
            self.world.facts(|f| f.kyc_decided.push(decided));
        }
    }

    /// The merchant cancels the WeChat Pay bill of a withdrawal being paid
    /// (`POST …/out-bill-no/{no}/cancel`), racing the bill's own progress
    /// and the worker: a bill still `ACCEPTED` is cancelled and its
    /// withdrawal must fail with its hold given back; one further on
    /// refuses; an Alipay withdrawal's number is no WeChat Pay bill.
    async fn cancel_bill(&mut self) {
        let path = "/v1/ops/withdrawals?status=processing&limit=50";
        let Some((_, item)) = self.operator_pick("withdrawals being paid", path).await else { return };
        let (Some(id), Some(account_id)) = (item["withdrawal"]["id"].as_str(), item["account_id"].as_str()) else {
            return;
        };
        let phone = self.phone_of(account_id).unwrap_or_default();
        if self.merchant.is_none() {
            let meta = self.meta("wechat pay keys", &[]);
            self.merchant = self.api.merchant_key(&meta).await.ok().map(Arc::new);
        }
        let Some(merchant) = self.merchant.clone() else { return };
        let url =
            format!("/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{}/cancel", id.trim_start_matches("wd_"));
        let meta = self.meta("transfer bill cancel", &[&phone]);
        let reply = self.api.as_merchant(&meta, &merchant, Method::POST, &url).await;
        if reply.is(200) && matches!(reply.body["state"].as_str(), Some("CANCELING" | "CANCELLED")) {
            let cancelled = BillCancelled { withdrawal_id: id.to_owned(), phone, seq: reply.seq };
            self.world.facts(|f| f.bills_cancelled.push(cancelled));
        }
    }

    /// The operator's token and one item, drawn at random, of the list at `path`.
    async fn operator_pick(&mut self, what: &'static str, path: &str) -> Option<(String, Value)> {
        let operator = self.world.operator_token()?;
        let meta = self.meta(what, &[]);
        let list = self.api.send(&meta, Request::get(path, Some(&operator))).await;
        self.operator_after(&list);
        let items = list.body["items"].as_array().filter(|items| !items.is_empty())?;
        let item = items[self.rng.random_range(0..items.len())].clone();
        Some((operator, item))
    }

    fn phone_of(&self, account_id: &str) -> Option<String> {
        let accounts = self.world.all_accounts();
        accounts.into_iter().find(|k| k.id.as_deref() == Some(account_id)).map(|k| k.phone)
    }

    /// Forces the next few payouts' answers with a simulator rule (an
    /// outage, a stall, a 429, a refusal): the worker retries, backs off and
    /// fails them, and every payout still happens at most once.
    /// Adds a simulator rule that forces the next few answers of a payout,
    /// a WeChat OAuth call or a text: the flows that meet them must lose
    /// nothing (a binding or a code is asked for again).
    async fn force_answers(&mut self) {
        let Some(operator) = self.world.operator_token() else { return };
        let fault = |fault: &str| json!({ "type": "fault", "fault": fault });
        let (operation, respond) = match self.rng.random_range(0..10) {
            0 => match self.rng.random_range(0..4) {
                0 => ("wechat_oauth.access_token", fault("connection_reset")),
                1 => (
                    "wechat_oauth.access_token",
                    json!({ "type": "api_error", "errcode": 40163, "errmsg": "code been used" }),
                ),
                2 => ("wechat_oauth.userinfo", json!({ "type": "system_error" })),
                _ => ("wechat_oauth.userinfo", json!({ "type": "http_error", "status": 502, "code": "BAD_GATEWAY" })),
            },
            1 => match self.rng.random_range(0..3) {
                0 => ("sms.send", json!({ "type": "system_error" })),
                1 => ("sms.send", fault("timeout")),
                _ => ("sms.send", json!({ "type": "http_error", "status": 429, "code": "FREQUENCY_LIMITED" })),
            },
            2 => match self.rng.random_range(0..6) {
                0 => ("alipay.oauth_token", fault("connection_reset")),
                1 => ("alipay.user_info", json!({ "type": "system_error" })),
                2 => ("alipay.transfer", json!({ "type": "system_error" })),
                3 => ("alipay.transfer", fault("connection_reset")),
                4 => ("alipay.transfer", json!({ "type": "processing" })),
                _ => ("alipay.transfer", json!({ "type": "alipay_fail", "sub_code": "PAYEE_ACCOUNT_STATUS_ERROR" })),
            },
            _ => match self.rng.random_range(0..8) {
                0 => ("wechat_pay.transfer", json!({ "type": "system_error" })),
                1 => ("wechat_pay.transfer", fault("timeout")),
                2 => ("wechat_pay.transfer", fault("connection_reset")),
                3 => ("wechat_pay.transfer", json!({ "type": "processing" })),
                4 => (
                    "wechat_pay.transfer",
                    json!({ "type": "http_error", "status": 429, "code": "FREQUENCY_LIMITED", "message": "soak" }),
                ),
                5 => ("wechat_pay.transfer", json!({ "type": "fail", "fail_reason": "ACCOUNT_FROZEN" })),
                // The merchant's cancellation meets an outage: the bill goes on as it was.
                6 => ("wechat_pay.cancel", json!({ "type": "system_error" })),
                _ => ("wechat_pay.cancel", fault("connection_reset")),
            },
        };
        let times = self.rng.random_range(1..=3);
        let rule =
            json!({ "description": "soak", "match": { "operation": operation }, "respond": respond, "times": times });
        let meta = self.meta("simulator rule", &[]);
        let reply = self.api.send(&meta, Request::json(Method::POST, "/v1/sim/rules", Some(&operator), rule)).await;
        self.operator_after(&reply);
        let meta = self.meta("simulator rules", &[]);
        let rules = self.api.send(&meta, Request::get("/v1/sim/rules", Some(&operator))).await;
        self.operator_after(&rules);
        if rules.body["rules"].as_array().is_some_and(|rules| rules.len() > RULES_KEPT) {
            let meta = self.meta("simulator rules cleared", &[]);
            let cleared = self
                .api
                .send(&meta, Request::json(Method::DELETE, "/v1/sim/rules", Some(&operator), json!(null)))
                .await;
            self.operator_after(&cleared);
        }
    }

    async fn worker_step(&mut self) {
        let Some(operator) = self.world.operator_token() else { return };
        let meta = self.meta("worker step", &[]);
        let reply =
            self.api.send(&meta, Request::json(Method::POST, "/v1/ops/worker/step", Some(&operator), json!({}))).await;
        self.operator_after(&reply);
    }
}

/// POSTs `body` to `path` with `token`, under `key` as its `Idempotency-Key` if given.
async fn post_keyed(api: &Api, meta: &Meta, (path, token): (&str, &str), key: Option<&str>, body: &Value) -> Reply {
    let mut request = Request::json(Method::POST, path, Some(token), body.clone());
    if let Some(key) = key {
        request.headers.push(("idempotency-key", key.to_owned()));
    }
    api.send(meta, request).await
}

/// The body's amount plus one unit of its last place: another request under the same key.
fn another_amount(body: &Value) -> String {
    let places = places_of(body["asset"].as_str().unwrap_or("CNY"));
    let amount = body["amount"].as_str().and_then(|text| units(text, places)).unwrap_or(0);
    decimal(amount + 1, places)
}

async fn confirm(api: &Api, meta: &Meta, token: &str, binding_id: &str, code: &str) -> Reply {
    let path = format!("/v1/bindings/{binding_id}/confirm");
    api.send(meta, Request::json(Method::POST, &path, Some(token), json!({ "sms_code": code }))).await
}

/// A 6-digit code other than `code`.
fn wrong_code(code: &str) -> String {
    match code {
        "000000" => "000001".to_owned(),
        _ => "000000".to_owned(),
    }
}
