//! The mock WeChat Pay's `MCHTRANSFER.BILL.FINISHED` notifications (reference
//! §3.1, "Callback"): a bill created with a `notify_url` is told to it once
//! it is `SUCCESS`, `FAIL` or `CANCELLED`, as WeChat Pay tells it — the
//! plaintext (`domain::wechatpay_crypto::BillFinished`) encrypted with the
//! merchant's APIv3 key, the body signed with the platform key
//! (`Wechatpay-*` headers, `Request-ID`).
//!
//! Delivery is worker work, never part of a request: the commit that makes
//! a bill final is preceded by its entry on `NOTICES_SCHEDULE` (member: the
//! `out_bill_no`, due at once), so an entry may point at a bill that is not
//! final yet (looked at again shortly, as any entry without its subject),
//! never the other way round. The worker's step claims what is due (a
//! lease: one sender at a time across processes) and calls
//! `MockWeChat::advance_notice`, which sends once and keeps the count in
//! the bill's record by compare-and-set; a receiver that does not answer
//! 200 or 204 is tried again after WeChat Pay's pauses on the business
//! clock (`RETRY_INTERVALS_SECS`, about 24 h), then no more.

#[allow(unused_imports)]
use super::*;

use std::sync::Arc;

use chrono::SecondsFormat;
use chrono_tz::Asia::Shanghai;

use crate::domain::wechatpay_crypto::{
    BILL_FINISHED_EVENT, BILL_FINISHED_SUMMARY, BILL_ORIGINAL_TYPE, BillFinished, ENCRYPT_RESOURCE, NONCE_CHARS,
    Notification, retry_pause_secs,
};
use crate::domain::wechatpay_sign::{
    NONCE_HEADER, SCHEMA, SERIAL_HEADER, SIGNATURE_HEADER, SIGNATURE_TYPE_HEADER, TIMESTAMP_HEADER,
};
use crate::providers::journal::{CallAnswer, CallNotes, MockProvider, RequestJournal, Transport, masked_url};
use crate::providers::payouts::{PayoutError, TransferBill, fen_from_money};
use crate::retry::Rounds;

/// The schedule of notifications to send (member: the bill's `out_bill_no`).
pub const NOTICES_SCHEDULE: &str = "mock_wechat:notices";
/// Characters of an AES-GCM nonce's alphabet.
const NONCE_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// How a bill's notification stands, kept in the bill's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct NoticeProgress {
    /// Deliveries tried so far.
    pub(super) attempts: u32,
    /// Answered 200 or 204: nothing more to send.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) delivered: bool,
    /// When to try again; none once delivered or given up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) next_at: Option<DateTime<Utc>>,
}

/// What the worker's look at a scheduled notification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeStep {
    /// No such bill, or not final yet: its final commit may still land.
    NotReady,
    /// The receiver answered 200 or 204.
    Delivered,
    /// Refused or unreachable: sent again at this time.
    RetryAt(DateTime<Utc>, String),
    /// Refused or unreachable for the last time: no more tries.
    GaveUp(String),
    /// Nothing to send (no `notify_url`, delivered or given up before), or not due yet.
    Idle(Option<DateTime<Utc>>),
}

/// One delivery's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeDelivery {
    Accepted,
    Failed(String),
}

/// Sends notifications: the platform's signature and the APIv3 key
/// (`MockPaySigning`), over HTTP.
#[derive(Debug, Clone)]
pub struct MockPayNotifier {
    signing: Arc<MockPaySigning>,
    http: reqwest::Client,
    /// Where each delivery is recorded (transport `notification`).
    journal: RequestJournal,
}

impl MockPayNotifier {
    /// Fails only if the HTTP client cannot be set up (at startup).
    pub fn new(
        signing: Arc<MockPaySigning>,
        timeout: Duration,
        journal: RequestJournal,
    ) -> Result<MockPayNotifier, reqwest::Error> {
        // A receiver's redirect is its answer (not 200/204), as WeChat Pay takes it.
        let http = reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(MockPayNotifier { signing, http, journal })
    }

    /// The notification of `bill` (final), as its body's bytes.
    pub fn body(&self, bill: &TransferBill) -> Result<Vec<u8>, PayoutError> {
        let finished = BillFinished {
            mchid: self.signing.mchid().to_owned(),
            out_bill_no: bill.out_bill_no.clone(),
            transfer_bill_no: bill.transfer_bill_no.clone(),
            state: bill.state.as_str().to_owned(),
            transfer_amount: fen_from_money(bill.amount),
            fail_reason: bill.fail_reason.clone(),
            openid: bill.openid.clone(),
            create_time: wechat_time(bill.create_time),
            update_time: wechat_time(bill.update_time),
        };
        let plaintext = serde_json::to_vec(&finished).map_err(|e| PayoutError::Unavailable(e.to_string()))?;
        let resource = self
            .signing
            .apiv3_key()
            .encrypt(&plaintext, &notice_nonce(), BILL_ORIGINAL_TYPE)
            .map_err(|e| PayoutError::Unavailable(e.to_string()))?;
        let notification = Notification {
            id: notice_id(bill),
            create_time: wechat_time(bill.update_time),
            resource_type: ENCRYPT_RESOURCE.to_owned(),
            event_type: BILL_FINISHED_EVENT.to_owned(),
            summary: BILL_FINISHED_SUMMARY.to_owned(),
            resource,
        };
        serde_json::to_vec(&notification).map_err(|e| PayoutError::Unavailable(e.to_string()))
    }

    /// One delivery of `body` to `url`, signed now, and recorded in the
    /// request journal with the receiver's answer.
    pub async fn deliver(&self, url: &str, body: Vec<u8>) -> NoticeDelivery {
        let mut call = self.journal.start(MockProvider::WechatPay, Transport::Notification, "POST", &masked_url(url));
        if self.journal.is_on() {
            call.body = Some(body.clone());
        }
        let signed = self.signing.sign_answer(&body);
        let request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Request-ID", uuid::Uuid::new_v4().simple().to_string().to_uppercase())
            .header(TIMESTAMP_HEADER, signed.timestamp)
            .header(NONCE_HEADER, signed.nonce)
            .header(SIGNATURE_HEADER, signed.signature)
            .header(SERIAL_HEADER, signed.serial)
            .header(SIGNATURE_TYPE_HEADER, SCHEMA)
            .body(body);
        let (delivery, answer) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = answer_body(response, self.journal.body_bytes_max()).await;
                let answer = CallAnswer { status: Some(status), body, fault: None };
                match status {
                    200 | 204 => (NoticeDelivery::Accepted, answer),
                    _ => (NoticeDelivery::Failed(format!("HTTP {status}")), answer),
                }
            }
            Err(error) => {
                let why = error.without_url().to_string();
                (NoticeDelivery::Failed(why.clone()), CallAnswer::broken(&why))
            }
        };
        self.journal.finish(call, answer, CallNotes::default()).await;
        delivery
    }
}

/// What a receiver answered, up to one byte beyond `kept` (the rest is not
/// read: the journal cuts it): none when it sent none, or broke off.
async fn answer_body(mut response: reqwest::Response, kept: usize) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while kept > 0 && body.len() <= kept {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(_) => return None,
        }
    }
    (!body.is_empty()).then_some(body)
}

/// A notification's id, the same for every delivery of it: `EV-`, when the
/// bill became final (Beijing time) and the end of its WeChat Pay number.
fn notice_id(bill: &TransferBill) -> String {
    let number = &bill.transfer_bill_no;
    let tail = &number[number.len().saturating_sub(7)..];
    format!("EV-{}{tail}", bill.update_time.with_timezone(&Shanghai).format("%Y%m%d%H%M%S"))
}

fn notice_nonce() -> String {
    let mut rng = rand::rng();
    (0..NONCE_CHARS).map(|_| char::from(NONCE_ALPHABET[rng.random_range(0..NONCE_ALPHABET.len())])).collect()
}

/// RFC 3339 in Beijing time, as WeChat Pay writes times.
fn wechat_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Shanghai).to_rfc3339_opts(SecondsFormat::Secs, false)
}

impl MockWeChat {
    /// Puts a bill that is about to be written final on the notifications'
    /// schedule, due at once, if it was created with a `notify_url`.
    pub(super) async fn schedule_notice(&self, record: &BillRecord, now: DateTime<Utc>) -> Result<(), PayoutError> {
        if record.notify_url.is_none() || !record.bill.state.is_terminal() {
            return Ok(());
        }
        let at_ms = now.timestamp_millis();
        self.store.schedule(NOTICES_SCHEDULE, &record.bill.out_bill_no, at_ms).await.map_err(unavailable)
    }

    /// The worker's look at a scheduled notification at `now`: sends it
    /// once if it is due, and keeps the count.
    pub async fn advance_notice(
        &self,
        out_bill_no: &str,
        now: DateTime<Utc>,
        notifier: &MockPayNotifier,
    ) -> Result<NoticeStep, PayoutError> {
        let Some(found) = self.load_bill(out_bill_no).await? else { return Ok(NoticeStep::NotReady) };
        if !found.value.bill.state.is_terminal() {
            return Ok(NoticeStep::NotReady);
        }
        let Some(url) = found.value.notify_url.clone() else { return Ok(NoticeStep::Idle(None)) };
        let progress = found.value.notice.clone().unwrap_or_default();
        if progress.delivered || (progress.attempts > 0 && progress.next_at.is_none()) {
            return Ok(NoticeStep::Idle(None));
        }
        if let Some(at) = progress.next_at.filter(|at| at.timestamp_millis() > now.timestamp_millis()) {
            return Ok(NoticeStep::Idle(Some(at)));
        }
        let delivery = notifier.deliver(&url, notifier.body(&found.value.bill)?).await;
        let attempts = progress.attempts.saturating_add(1);
        let step = match &delivery {
            NoticeDelivery::Accepted => NoticeStep::Delivered,
            NoticeDelivery::Failed(why) => match retry_pause_secs(attempts) {
                Some(secs) => NoticeStep::RetryAt(after_secs(now, secs), why.clone()),
                None => NoticeStep::GaveUp(why.clone()),
            },
        };
        let after = NoticeProgress {
            attempts,
            delivered: step == NoticeStep::Delivered,
            next_at: match &step {
                NoticeStep::RetryAt(at, _) => Some(*at),
                _ => None,
            },
        };
        self.keep_notice_progress(out_bill_no, found, after).await?;
        tracing::info!(out_bill_no, attempts, ?delivery, "mock WeChat Pay notification sent");
        Ok(step)
    }

    /// Writes the notification's progress into the bill's record by
    /// compare-and-set (a final bill changes in nothing else).
    async fn keep_notice_progress(
        &self,
        out_bill_no: &str,
        mut found: Versioned<BillRecord>,
        after: NoticeProgress,
    ) -> Result<(), PayoutError> {
        let mut rounds = Rounds::pausing_after(BILL_ATTEMPTS_MAX, BILL_ATTEMPTS_UNCONTENDED);
        while rounds.next().await {
            found.value.notice = Some(after.clone());
            if self.save_bill(found.version, &found.value).await? {
                return Ok(());
            }
            let Some(again) = self.load_bill(out_bill_no).await? else { return Ok(()) };
            found = again;
        }
        Err(busy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::payouts::BillState;

    #[test]
    fn a_notice_id_is_fixed_by_the_bill() {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 1, 9, 30, 5).unwrap();
        let bill = TransferBill {
            out_bill_no: "A1".into(),
            transfer_bill_no: "13300002026030112345678901234567".into(),
            openid: "o".into(),
            amount: "1.00".parse().unwrap(),
            remark: String::new(),
            state: BillState::Success,
            fail_reason: None,
            create_time: at,
            update_time: at,
            package_info: None,
        };
        assert_eq!(notice_id(&bill), "EV-202603011730051234567");
        assert_eq!(notice_nonce().len(), NONCE_CHARS);
        assert_eq!(wechat_time(at), "2026-03-01T17:30:05+08:00");
    }
}
