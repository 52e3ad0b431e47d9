//! Money between two accounts through the transfer step (`services::transfers`),
//! on every store: sent, delivered once however often it is delivered, sent
//! back when the recipient's side refuses, finished by the worker when the
//! sending process stopped half-way, and conserved under concurrency.

use futures_util::future::join_all;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;
use walletgate::clock::Clock;
use walletgate::domain::account::AccountId;
use walletgate::domain::asset::{Asset, Quantity};
use walletgate::domain::ledger::LedgerAccount;
use walletgate::domain::transfer::{ReturnReason, TransferOrder, TransferPurpose, TransferStatus};

use crate::helpers::{StoreKind, TestApp, json_of, spawn_app, spawn_app_with};
use crate::notifications::{WEBHOOK_SECRET, start_receiver};
use crate::on_both_stores;
use crate::settlement::settle;

on_both_stores!(
    a_delivered_transfer_credits_the_recipient_once,
    a_transfer_to_a_frozen_account_comes_back,
    the_worker_delivers_what_a_stopped_process_left_sent,
    concurrent_transfers_in_a_ring_conserve_every_asset,
    a_delivery_on_records_changed_since_they_were_held_decides_on_the_new_ones,
    each_side_of_a_transfer_is_told_by_webhook,
);

fn order(to: &str, asset: Asset, amount: &str) -> TransferOrder {
    TransferOrder {
        purpose: TransferPurpose::Payment,
        to: AccountId::parse(to).unwrap(),
        amount: Quantity::parse(asset, amount).unwrap(),
        source: LedgerAccount::UserAvailable,
        fee: None,
        memo: "test transfer".into(),
        names: Default::default(),
    }
}

async fn funded_user(app: &TestApp, operator: &str, cny: &str) -> (String, String) {
    let (id, token) = app.new_user().await;
    json_of(app.credit(operator, &id, cny).await, StatusCode::CREATED).await;
    (id, token)
}

/// A user funded with `cny` and a new one: `(id, token)` each.
async fn sender_and_recipient(app: &TestApp, cny: &str) -> ((String, String), (String, String)) {
    let operator = app.operator_token().await;
    (funded_user(app, &operator, cny).await, app.new_user().await)
}

fn in_flight(report: &Value, asset: &str) -> String {
    let assets = report["assets"].as_array().unwrap();
    let totals = assets.iter().find(|a| a["asset"] == asset).map_or(Value::Null, |a| a["totals"]["in_flight"].clone());
    totals.as_str().unwrap_or("0").to_owned()
}

async fn a_delivered_transfer_credits_the_recipient_once(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (alice, alice_token) = funded_user(&app, &operator, "100.00").await;
    let (bob, bob_token) = app.new_user().await;
    let transfers = &app.services.transfers;
    let from = AccountId::parse(&alice).unwrap();

    let sent = transfers.send(&from, order(&bob, Asset::Cny, "30.00")).await.unwrap();
    assert_eq!(sent.status, TransferStatus::InFlight);
    assert_eq!(app.available(&alice_token).await, "70.00");
    assert_eq!(in_flight(&app.assert_ledger_balanced().await, "CNY"), "30.00");

    let delivered = transfers.deliver(&from, &sent.id).await.unwrap();
    assert_eq!(delivered.status, TransferStatus::Completed);
    // Delivered again, and concurrently: nothing more moves.
    let again = join_all((0..4).map(|_| transfers.deliver(&from, &sent.id))).await;
    assert!(again.iter().all(|t| t.as_ref().unwrap().status == TransferStatus::Completed));
    assert_eq!(app.available(&bob_token).await, "30.00");
    assert_eq!(app.available(&alice_token).await, "70.00");
    let history = json_of(app.transactions(&bob_token, "").await, StatusCode::OK).await;
    assert_eq!(history["items"][0]["kind"], "transfer_in");
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
    assert_eq!(in_flight(&app.assert_ledger_balanced().await, "CNY"), "0.00");
    // Each side is told once: the recipient of the credit, the sender of the completion.
    assert_eq!(event_types(&app, &bob).await, ["transfer.received"]);
    assert_eq!(event_types(&app, &alice).await, ["transfer.completed"]);
    let told = app.services.notifications.events(&from, None, 10).await.unwrap();
    let told: Value = serde_json::from_str(&told[0].body).unwrap();
    assert_eq!(told["data"]["transfer"]["amount"], serde_json::json!({ "asset": "CNY", "amount": "30.00" }));
    assert_eq!(told["data"]["transfer"]["status"], "completed");

    // The sender's own refusals change nothing.
    let to_self = transfers.send(&from, order(&alice, Asset::Cny, "1.00")).await.unwrap_err();
    assert_eq!(to_self.code(), "TRANSFER_TO_SELF");
    let too_much = transfers.send(&from, order(&bob, Asset::Cny, "70.01")).await.unwrap_err();
    assert_eq!(too_much.code(), "INSUFFICIENT_BALANCE");
    let no_usdt = transfers.send(&from, order(&bob, Asset::Usdt, "0.000001")).await.unwrap_err();
    assert_eq!(no_usdt.code(), "INSUFFICIENT_BALANCE");
    assert_eq!(app.available(&alice_token).await, "70.00");
}

async fn a_transfer_to_a_frozen_account_comes_back(store: StoreKind) {
    let app = spawn_app(store).await;
    let ((alice, alice_token), (bob, bob_token)) = sender_and_recipient(&app, "50.00").await;
    let (from, to) = (AccountId::parse(&alice).unwrap(), AccountId::parse(&bob).unwrap());
    let transfers = &app.services.transfers;
    let sent = transfers.send(&from, order(&bob, Asset::Cny, "20.00")).await.unwrap();
    // The recipient is frozen between the debit and the credit.
    set_frozen(&app, &to, true).await;
    let returned = transfers.deliver(&from, &sent.id).await.unwrap();
    assert_eq!(
        (returned.status, returned.return_reason),
        (TransferStatus::Returned, Some(ReturnReason::RecipientFrozen))
    );
    assert_eq!(app.available(&alice_token).await, "50.00");
    assert_eq!(app.available(&bob_token).await, "0.00");
    let history = json_of(app.transactions(&alice_token, "").await, StatusCode::OK).await;
    let kinds: Vec<_> = history["items"].as_array().unwrap().iter().map(|i| i["kind"].clone()).collect();
    assert_eq!(kinds[..2], [serde_json::json!("transfer_return"), serde_json::json!("transfer_out")]);
    assert_eq!(in_flight(&app.assert_ledger_balanced().await, "CNY"), "0.00");
    assert_eq!(event_types(&app, &alice).await, ["transfer.returned"]);
    assert!(event_types(&app, &bob).await.is_empty(), "a refused transfer is not announced to its recipient");
}

/// A transfer's outcomes are what an integrator acts on, like a withdrawal's:
/// the recipient's `transfer.received` and the sender's `transfer.completed`
/// (or `transfer.returned`) reach the webhook URL, each signed and once.
async fn each_side_of_a_transfer_is_told_by_webhook(store: StoreKind) {
    let receiver = start_receiver(0).await;
    let url = receiver.url.clone();
    let app = spawn_app_with(store, move |settings| {
        settings.webhooks.url = url;
        settings.webhooks.secret = secrecy::SecretString::from(WEBHOOK_SECRET);
    })
    .await;
    let ((alice, _), (bob, _)) = sender_and_recipient(&app, "50.00").await;
    let (from, to) = (AccountId::parse(&alice).unwrap(), AccountId::parse(&bob).unwrap());
    let transfers = &app.services.transfers;
    let paid = transfers.send(&from, order(&bob, Asset::Cny, "20.00")).await.unwrap();
    transfers.deliver(&from, &paid.id).await.unwrap();
    let refused = transfers.send(&from, order(&bob, Asset::Cny, "5.00")).await.unwrap();
    set_frozen(&app, &to, true).await;
    transfers.deliver(&from, &refused.id).await.unwrap();

    let report = settle(&app).await;
    assert_eq!((report.webhooks_delivered, report.webhooks_retried), (3, 0), "{report:?}");
    assert_eq!(settle(&app).await.webhooks_delivered, 0, "each delivered once");
    let received = receiver.received.lock().unwrap().clone();
    let mut told: Vec<(String, String, String)> = received
        .iter()
        .map(|delivery| {
            let event: Value = serde_json::from_str(&delivery.body).unwrap();
            let field = |name: &str| event.pointer(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            (field("/type"), field("/account_id"), field("/data/transfer/id"))
        })
        .collect();
    told.sort();
    let (paid, refused) = (paid.id.to_string(), refused.id.to_string());
    assert_eq!(
        told,
        [
            ("transfer.completed".to_owned(), alice.clone(), paid.clone()),
            ("transfer.received".to_owned(), bob.clone(), paid),
            ("transfer.returned".to_owned(), alice, refused),
        ]
    );
    let secret = secrecy::SecretString::from(WEBHOOK_SECRET);
    let now = app.clock.now().timestamp();
    for delivery in &received {
        walletgate::providers::webhooks::verify_signature(
            &secret,
            &delivery.headers["walletgate-signature"],
            delivery.body.as_bytes(),
            now,
            300,
        )
        .expect("signed");
    }
}

/// The types of the events an account was told, oldest first.
async fn event_types(app: &TestApp, account: &str) -> Vec<String> {
    let id = AccountId::parse(account).unwrap();
    let events = app.services.notifications.events(&id, None, 50).await.unwrap();
    events
        .iter()
        .map(|event| serde_json::from_str::<Value>(&event.body).unwrap()["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_worker_delivers_what_a_stopped_process_left_sent(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (alice, _) = funded_user(&app, &operator, "10.00").await;
    let (bob, bob_token) = app.new_user().await;
    let from = AccountId::parse(&alice).unwrap();
    // Sent, and the sending process went away before delivering it.
    let usdt = serde_json::json!({ "asset": "USDT", "amount": "3.5", "memo": "usdt" });
    let credited = app.adjust_once(&operator, "credit", &alice, &usdt, "usdt-once").await;
    json_of(credited, StatusCode::CREATED).await;
    let sent = app.services.transfers.send(&from, order(&bob, Asset::Usdt, "1.000001")).await.unwrap();
    assert_eq!(in_flight(&app.assert_ledger_balanced().await, "USDT"), "1.000001");

    let report = app.services.worker.settle_due(after_redelivery(&app)).await.unwrap();
    assert_eq!(report.transfers_delivered, 1, "{report:?}");
    let report = app.services.worker.settle_due(after_redelivery(&app)).await.unwrap();
    assert_eq!(report.transfers_delivered, 0, "delivered once: {report:?}");
    let finished = app.services.transfers.deliver(&from, &sent.id).await.unwrap();
    assert_eq!(finished.status, TransferStatus::Completed);
    let wallet = json_of(app.wallet(&bob_token).await, StatusCode::OK).await;
    assert_eq!(wallet["assets"][1]["available"], "1.000001");
    assert_eq!(in_flight(&app.assert_ledger_balanced().await, "USDT"), "0.000000");
}

async fn concurrent_transfers_in_a_ring_conserve_every_asset(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let mut ring = Vec::new();
    for _ in 0..10 {
        ring.push(funded_user(&app, &operator, "5.00").await);
    }
    let transfers = &app.services.transfers;
    // 200 transfers of 1.00 around the ring at once: each account sends 20
    // and receives 20, but holds only 5 at the start, so some sends are
    // refused for the balance; whatever lands, nothing is made or lost.
    let sends = (0..200).map(|n| {
        let from = AccountId::parse(&ring[n % 10].0).unwrap();
        let to = ring[(n + 1) % 10].0.clone();
        async move {
            let sent = transfers.send(&from, order(&to, Asset::Cny, "1.00")).await;
            match sent {
                Ok(transfer) if n % 3 == 0 => Some(transfers.deliver(&from, &transfer.id).await.map(|_| ())),
                Ok(_) => Some(Ok(())),
                Err(error) if error.code() == "INSUFFICIENT_BALANCE" => None,
                Err(error) => Some(Err(error)),
            }
        }
    });
    let outcomes = join_all(sends).await;
    for outcome in outcomes.into_iter().flatten() {
        outcome.unwrap();
    }
    // The worker drains what was left in flight.
    while app.services.worker.settle_due(after_redelivery(&app)).await.unwrap().transfers_delivered > 0 {}
    let report = app.assert_ledger_balanced().await;
    assert_eq!(in_flight(&report, "CNY"), "0.00");
    let mut total = Decimal::ZERO;
    for (_, token) in &ring {
        let available: Decimal = app.available(token).await.parse().unwrap();
        assert!(!available.is_sign_negative());
        total += available;
    }
    assert_eq!(total, Decimal::new(5000, 2));
}

/// Sets whether an account is frozen, as an operator would.
async fn set_frozen(app: &TestApp, account: &AccountId, frozen: bool) {
    app.services
        .partitions
        .update_account(account, |record, _| {
            record.frozen = frozen;
            Ok(((), Vec::new()))
        })
        .await
        .unwrap();
}

/// A delivery holding the recipient's record as read before the send and
/// the sender's as the send left it, each changed since: the step notices
/// (its commit is refused) and decides on what is there now.
async fn a_delivery_on_records_changed_since_they_were_held_decides_on_the_new_ones(store: StoreKind) {
    let app = spawn_app(store).await;
    let ((alice, alice_token), (bob, bob_token)) = sender_and_recipient(&app, "100.00").await;
    let (from, to) = (AccountId::parse(&alice).unwrap(), AccountId::parse(&bob).unwrap());
    let (transfers, store) = (&app.services.transfers, &app.services.partitions.store);
    let read_bob = || async { store.load_account(&to).await.unwrap().unwrap() };

    // The recipient frozen after it was read: the money comes back.
    let before = read_bob().await;
    let (sent, mut held) = transfers.send_holding(&from, order(&bob, Asset::Cny, "10.00")).await.unwrap();
    held.recipient = Some(before);
    set_frozen(&app, &to, true).await;
    let returned = transfers.deliver_holding(&sent, held).await.unwrap();
    assert_eq!(
        (returned.status, returned.return_reason),
        (TransferStatus::Returned, Some(ReturnReason::RecipientFrozen))
    );
    assert_eq!(app.available(&alice_token).await, "100.00");
    set_frozen(&app, &to, false).await;

    // Delivered by another deliverer in between (a repeat, a worker): credited once.
    let before = read_bob().await;
    let (sent, mut held) = transfers.send_holding(&from, order(&bob, Asset::Cny, "10.00")).await.unwrap();
    held.recipient = Some(before);
    assert_eq!(transfers.deliver(&from, &sent.id).await.unwrap().status, TransferStatus::Completed);
    assert_eq!(transfers.deliver_holding(&sent, held).await.unwrap().status, TransferStatus::Completed);
    assert_eq!(app.available(&bob_token).await, "10.00");

    // The sender written in between (another send): its finish still lands.
    let before = read_bob().await;
    let (sent, mut held) = transfers.send_holding(&from, order(&bob, Asset::Cny, "5.00")).await.unwrap();
    held.recipient = Some(before);
    let other = transfers.send(&from, order(&bob, Asset::Cny, "1.00")).await.unwrap();
    assert_eq!(transfers.deliver_holding(&sent, held).await.unwrap().status, TransferStatus::Completed);
    assert_eq!(transfers.deliver(&from, &other.id).await.unwrap().status, TransferStatus::Completed);

    assert_eq!(app.available(&alice_token).await, "84.00");
    assert_eq!(app.available(&bob_token).await, "16.00");
    assert_eq!(in_flight(&app.assert_ledger_balanced().await, "CNY"), "0.00");
    // Each side told once per transfer.
    assert_eq!(event_types(&app, &bob).await, ["transfer.received"; 3]);
    let told = ["transfer.returned", "transfer.completed", "transfer.completed", "transfer.completed"];
    assert_eq!(event_types(&app, &alice).await, told);
    let report = app.services.worker.settle_due(after_redelivery(&app)).await.unwrap();
    assert_eq!(report.transfers_delivered, 0, "nothing left to the worker: {report:?}");
}

/// A time the worker delivers what a sender left undelivered by
/// (`transfers.redeliver_after_secs` after the send).
fn after_redelivery(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    app.clock.now() + chrono::Duration::minutes(1)
}
