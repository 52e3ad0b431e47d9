//! Requests made safe to repeat with an `Idempotency-Key`, the way Stripe
//! does it: the outcome of a key is saved in the partition the request
//! changed, by the same commit as the change, and lives `ttl`. A repeat with
//! the same key and the same request gets the saved outcome (and changes
//! nothing); with another request, 409 `IDEMPOTENCY_KEY_REUSED`. Concurrent
//! duplicates cannot both commit (the version check lets one through); the
//! other reads again and finds the saved outcome.
//!
//! Withdrawals keep their replies under the user's own key
//! (`withdrawal_submission`); operators' adjustments under the operator's
//! key, in the adjusted account's partition (`update_account_once`). A
//! refusal changes nothing and is not saved: a repeat is decided afresh.

use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::partitions::{AccountChange, Partitions};
use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;
use crate::domain::withdrawal_decision::IdempotencyKey;
use crate::error::ApiError;
use crate::store::typed::{decode_document, encode_document};

/// The saved outcome of one key: the request's fingerprint, never the request.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedReply<T> {
    pub fingerprint: String,
    pub outcome: T,
    pub created_at: DateTime<Utc>,
}

/// Where a request under a key keeps its reply, what it was, and for how long.
#[derive(Debug, Clone)]
pub struct Once {
    /// The partition document of the reply (`reply_document`).
    pub document: String,
    /// A digest of the request; the same key with another digest is refused.
    pub fingerprint: String,
    pub ttl: Duration,
}

/// The partition document keeping the reply to `key`: the account owner's own
/// keys unscoped (`idempotency:<key>`), anyone else's under their scope
/// (`idempotency-<scope>:<key>`): the prefixes differ, so two callers' keys
/// never meet, whatever characters a key holds.
pub fn reply_document(scope: Option<&str>, key: &IdempotencyKey) -> String {
    match scope {
        Some(scope) => format!("idempotency-{scope}:{}", key.as_str()),
        None => format!("idempotency:{}", key.as_str()),
    }
}

/// A digest of a request's parts, for one that carries no secret (a PIN is
/// digested with a key of its own instead, `Fingerprints`).
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"\x1f");
    }
    hex::encode(hasher.finalize())
}

/// The saved outcome in `text`, if it is still alive by the business clock;
/// a different request under its key is refused.
pub fn replay<T: DeserializeOwned>(
    text: Option<&str>,
    fingerprint: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<Option<T>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    let saved: SavedReply<T> = decode_document("idempotency record", text)?;
    if saved.created_at + ttl <= now {
        return Ok(None);
    }
    if saved.fingerprint != fingerprint {
        return Err(ApiError::IdempotencyKeyReused);
    }
    Ok(Some(saved.outcome))
}

/// Whether an answer is fresh or the saved outcome of an earlier request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayed {
    Fresh,
    Saved,
}

impl Partitions {
    /// As `update_account`, once per key: the change's output is saved with
    /// the change under `once.document`, and a repeat of the request gets it
    /// back without running `change` again. `change` must be a pure decision,
    /// since it may run several times.
    pub async fn update_account_once<T: Serialize + DeserializeOwned>(
        &self,
        id: &AccountId,
        once: &Once,
        mut change: impl FnMut(&mut Account, DateTime<Utc>) -> Result<(T, Vec<JournalEntry>), ApiError>,
    ) -> Result<(T, Replayed), ApiError> {
        let (answer, _) = self
            .update_account_reading(id, &[&once.document], |account, mut found, now| {
                if let Some(saved) = replay(found.pop().flatten().as_deref(), &once.fingerprint, once.ttl, now)? {
                    return Ok(AccountChange::new((saved, Replayed::Saved)));
                }
                let (output, entries) = change(account, now)?;
                let reply = SavedReply { fingerprint: once.fingerprint.clone(), outcome: output, created_at: now };
                Ok(AccountChange {
                    entries,
                    expiring: vec![(once.document.clone(), encode_document(&reply)?)],
                    expiring_ttl: once.ttl.to_std().unwrap_or_default(),
                    ..AccountChange::new((reply.outcome, Replayed::Fresh))
                })
            })
            .await?;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> IdempotencyKey {
        IdempotencyKey::parse(text).unwrap()
    }

    #[test]
    fn scoped_and_unscoped_replies_never_share_a_document() {
        assert_eq!(reply_document(None, &key("k1")), "idempotency:k1");
        assert_eq!(reply_document(Some("ops:acc_x"), &key("k1")), "idempotency-ops:acc_x:k1");
        assert_ne!(reply_document(None, &key("ops:acc_x:k1")), reply_document(Some("ops:acc_x"), &key("k1")));
    }

    #[test]
    fn fingerprints_tell_the_parts_apart() {
        assert_eq!(fingerprint(&["credit", "1.00"]), fingerprint(&["credit", "1.00"]));
        assert_ne!(fingerprint(&["credit", "1.00"]), fingerprint(&["credit1", ".00"]));
    }

    #[test]
    fn a_saved_reply_answers_the_same_request_until_it_expires() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1);
        let text =
            serde_json::to_string(&SavedReply { fingerprint: "f".into(), outcome: 7u32, created_at: now }).unwrap();
        let ttl = Duration::hours(24);
        assert_eq!(replay::<u32>(Some(&text), "f", ttl, now).unwrap(), Some(7));
        assert!(matches!(replay::<u32>(Some(&text), "g", ttl, now), Err(ApiError::IdempotencyKeyReused)));
        assert_eq!(replay::<u32>(Some(&text), "g", ttl, now + ttl).unwrap(), None);
        assert_eq!(replay::<u32>(None, "f", ttl, now).unwrap(), None);
    }
}
