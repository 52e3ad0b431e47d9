//! Races found from outside, each pinned by the interleaving that broke it:
//! operators approving while another instance's worker claims payouts, and
//! several accounts confirming the same WeChat openid (or Alipay account)
//! at once. Each runs two gateway instances on one store (two Redis
//! connections on Redis).

use chrono::Duration;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::alipay_bindings::AlipayChoice;
use crate::alipay_payouts::alipay_user;
use crate::bindings::{Choice, Phone, create_wechat_user};
use walletgate::settings::RateLimit;

use crate::helpers::{StoreKind, TestApp, spawn_app, spawn_app_with, spawn_second_instance};
use crate::on_both_stores;
use crate::settlement::{approve, id_of, payee, settle, withdraw, withdrawal};

on_both_stores!(
    approvals_racing_another_instances_worker_strand_no_withdrawal,
    accounts_confirming_one_openid_at_once_activate_it_at_most_once,
    a_binding_confirmed_twice_at_once_keeps_its_openid,
    an_alipay_binding_confirmed_twice_at_once_keeps_its_alipay_account,
    accounts_confirming_one_alipay_account_at_once_activate_it_at_most_once,
);

/// Withdrawals in review, approved through one instance while the other's
/// worker steps without pause: each approval's payout entry lands with its
/// commit, so every one of them settles.
async fn approvals_racing_another_instances_worker_strand_no_withdrawal(store: StoreKind) {
    const WITHDRAWALS: usize = 24;
    // Every payee logs in and asks for SMS codes from this one address.
    let worker_side = spawn_app_with(store, |settings| {
        let generous = RateLimit { burst: 1000, per_minute: 1000 };
        settings.rate_limits.login.per_ip = generous;
        settings.rate_limits.login.per_account = generous;
        settings.rate_limits.sms.per_ip = generous;
        settings.rate_limits.pin.per_ip = generous;
    })
    .await;
    let operator_side = spawn_second_instance(&worker_side).await;
    let mut payees = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..WITHDRAWALS {
        let payee = payee(&worker_side, "100.00", json!({})).await;
        let created = withdraw(&worker_side, &payee, "10.00").await;
        assert_eq!(created["status"], "in_review");
        ids.push(id_of(&created));
        payees.push(payee);
    }
    let operator = operator_side.operator_token().await;

    let approving = join_all(ids.iter().map(|id| approve(&operator_side, &operator, id)));
    let stepping = async {
        let mut steps = 0;
        while steps < 400 {
            settle(&worker_side).await;
            steps += 1;
            tokio::task::yield_now().await;
        }
    };
    let (approved, ()) = tokio::join!(approving, stepping);
    assert!(approved.iter().all(|response| response.status() == StatusCode::OK), "every approval is accepted");

    // Past any entry the racing steps deferred or leased, the worker finishes.
    for _ in 0..5 {
        worker_side.clock.advance(Duration::minutes(5));
        settle(&worker_side).await;
    }
    for (payee, id) in payees.iter_mut().zip(&ids) {
        operator_side.log_in_again(&mut payee.user).await;
        let withdrawal = withdrawal(&operator_side, payee, id).await;
        assert_eq!(withdrawal["status"], "settled", "withdrawal {id}: {withdrawal}");
    }
    worker_side.assert_ledger_balanced().await;
}

/// The wallet provider a race binds, and its steps over HTTP.
#[derive(Clone, Copy)]
enum Wallet {
    Wechat,
    Alipay,
}

impl Wallet {
    /// A new mock user of the provider; its id as the consent page offers it.
    async fn new_user(self, app: &TestApp, nickname: &str) -> String {
        match self {
            Wallet::Wechat => create_wechat_user(app, nickname).await,
            Wallet::Alipay => {
                alipay_user(app, json!({ "nick_name": nickname })).await["user_id"].as_str().unwrap().to_owned()
            }
        }
    }

    /// Start, consent as `user` and callback: the binding id and its SMS code.
    async fn pending(self, phone: &Phone<'_>, user: &str) -> (String, String) {
        match self {
            Wallet::Wechat => phone.pending_binding(user).await,
            Wallet::Alipay => phone.pending_alipay_binding(AlipayChoice::Existing(user)).await,
        }
    }

    /// Start and consent as `user`: the callback's answer.
    async fn callback_as(self, phone: &Phone<'_>, user: &str) -> reqwest::Response {
        let location = match self {
            Wallet::Wechat => {
                let started = phone.start().await;
                phone.consent(started["authorize_url"].as_str().unwrap(), Choice::Existing(user)).await
            }
            Wallet::Alipay => {
                let started = phone.start_alipay().await;
                phone.consent_alipay(started["authorize_url"].as_str().unwrap(), AlipayChoice::Existing(user)).await
            }
        };
        phone.callback(&location).await
    }
}

/// Rounds of three accounts that consented with one WeChat user and send
/// their SMS codes at the same moment, through two instances: at most one
/// binding becomes active, and the others fail as bound elsewhere.
async fn accounts_confirming_one_openid_at_once_activate_it_at_most_once(store: StoreKind) {
    accounts_confirming_one_user_at_once(store, Wallet::Wechat, 10).await;
}

/// The same with one Alipay user (its own index key, by provider).
async fn accounts_confirming_one_alipay_account_at_once_activate_it_at_most_once(store: StoreKind) {
    accounts_confirming_one_user_at_once(store, Wallet::Alipay, 5).await;
}

async fn accounts_confirming_one_user_at_once(store: StoreKind, wallet: Wallet, rounds: usize) {
    const ACCOUNTS: usize = 3;
    let first = spawn_app(store).await;
    let second = spawn_second_instance(&first).await;
    for round in 0..rounds {
        let user = wallet.new_user(&first, "周一一").await;
        let mut pending = Vec::new();
        for _ in 0..ACCOUNTS {
            let phone = Phone::new(&first).await;
            let (binding_id, code) = wallet.pending(&phone, &user).await;
            pending.push((phone, binding_id, code));
        }
        let confirmations = pending.iter().enumerate().map(|(n, (phone, binding_id, code))| {
            let instance = if n % 2 == 0 { &first } else { &second };
            async move { phone.on(instance).confirm(binding_id, code).await.status() }
        });
        let statuses = join_all(confirmations).await;
        let active = statuses.iter().filter(|status| **status == StatusCode::OK).count();
        assert!(active <= 1, "round {round}: {active} bindings of one user went active: {statuses:?}");
        for (phone, binding_id, _) in &pending {
            let binding = phone.binding(binding_id).await;
            let status = binding["status"].as_str().unwrap();
            assert!(status == "active" || status == "failed", "round {round}: {binding}");
        }
        let now_active = join_all(pending.iter().map(|(phone, id, _)| phone.binding(id))).await;
        let active_now = now_active.iter().filter(|binding| binding["status"] == "active").count();
        assert_eq!(active_now, active, "round {round}: what was answered is what is stored");
    }
}

/// One account sends its SMS code several times at once (a double tap, a
/// retry): one confirmation activates the binding, the others fail — and a
/// failing one must not give back the openid the winner now holds, or a
/// second account could bind the same WeChat user.
async fn a_binding_confirmed_twice_at_once_keeps_its_openid(store: StoreKind) {
    a_binding_confirmed_twice_at_once_keeps_its_user(store, Wallet::Wechat).await;
}

/// The same double tap on an Alipay binding: the Alipay account's claim
/// survives the losers, so no second account can bind it.
async fn an_alipay_binding_confirmed_twice_at_once_keeps_its_alipay_account(store: StoreKind) {
    a_binding_confirmed_twice_at_once_keeps_its_user(store, Wallet::Alipay).await;
}

async fn a_binding_confirmed_twice_at_once_keeps_its_user(store: StoreKind, wallet: Wallet) {
    const ROUNDS: usize = 5;
    const CONFIRMATIONS: usize = 6;
    let first = spawn_app(store).await;
    let second = spawn_second_instance(&first).await;
    for round in 0..ROUNDS {
        let user = wallet.new_user(&first, "吴一二").await;
        let owner = Phone::new(&first).await;
        let (binding_id, code) = wallet.pending(&owner, &user).await;
        let confirmations = (0..CONFIRMATIONS).map(|n| {
            let instance = if n % 2 == 0 { &first } else { &second };
            let (owner, binding_id, code) = (&owner, &binding_id, &code);
            async move { owner.on(instance).confirm(binding_id, code).await.status() }
        });
        let statuses = join_all(confirmations).await;
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "round {round}: {statuses:?}");
        assert_eq!(owner.binding(&binding_id).await["status"], "active");

        let refused = wallet.callback_as(&Phone::new(&first).await, &user).await;
        assert_eq!(refused.status(), StatusCode::CONFLICT, "round {round}: the user is still held");
    }
}
