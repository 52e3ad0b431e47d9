//! The readiness round trip (`Health`).

use super::store_for;
use crate::helpers::StoreKind;
use crate::on_both_stores;

on_both_stores!(a_reachable_store_answers_a_ping,);

async fn a_reachable_store_answers_a_ping(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    store.ping().await.unwrap();
}
