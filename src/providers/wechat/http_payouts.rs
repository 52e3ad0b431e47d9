//! `PayoutProvider` over HTTP: WeChat Pay's merchant transfer bills at
//! `{base}/v3/fund-app/mch-transfer/transfer-bills`, on the built-in mock or
//! any host shaped like `https://api.mch.weixin.qq.com`. Amounts go as
//! integer fen and times come back in Beijing time, as WeChat Pay writes
//! them. Every request is signed as APIv3 wants it (`Authorization:
//! WECHATPAY2-SHA256-RSA2048 …` with the merchant's key, over the URL's path
//! and query as the API host sees them, i.e. after the base URL's own path),
//! and every answer's signature is checked with WeChat Pay's public key
//! (public-key mode). A bill's `user_name` goes encrypted with that public
//! key (RSA-OAEP), the request naming the key in `Wechatpay-Serial`, as
//! WeChat Pay wants every sensitive field. Whatever keeps an answer from being read or trusted —
//! a refused or reset connection, a timeout, a body that is not the expected
//! JSON, a missing or bad signature — is an outage: the settlement worker
//! retries the same bill, which never pays twice. Signatures go by the wall
//! clock, never the simulator's business time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::SharedClock;
use crate::domain::wechatpay_crypto::encrypt_sensitive;
use crate::domain::wechatpay_sign::{AnswerSignature, Request, SERIAL_HEADER};
use crate::providers::payouts::{
    BillState, PayoutError, PayoutProvider, TransferBill, TransferRequest, fen_from_money, money_from_fen, refusal_code,
};
use crate::providers::wechat::pay_nonce;
use crate::settings::WeChatPayKeys;

/// A payout must not hold a worker for long; the bill is asked again later.
const REQUEST_TIMEOUT_SECS: u64 = 5;
/// The most of an error body kept in a message.
const ERROR_BODY_CHARS_MAX: usize = 200;

/// The transfer bills' path under the base URL.
const BILLS_PATH: &str = "/v3/fund-app/mch-transfer/transfer-bills";

#[derive(Debug, Clone)]
pub struct HttpPayouts {
    http: reqwest::Client,
    /// Without a trailing slash, e.g. `http://127.0.0.1:8080/mock/wechat`.
    base_url: String,
    app_id: String,
    keys: WeChatPayKeys,
    wall_clock: SharedClock,
}

impl HttpPayouts {
    /// Fails only if the HTTP client cannot be set up (at startup).
    pub fn new(
        base_url: impl Into<String>,
        app_id: impl Into<String>,
        keys: WeChatPayKeys,
        wall_clock: SharedClock,
    ) -> Result<HttpPayouts, PayoutError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS))
            .build()
            .map_err(|e| PayoutError::Unavailable(format!("HTTP client setup failed: {e}")))?;
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Ok(HttpPayouts { http, base_url, app_id: app_id.into(), keys, wall_clock })
    }

    /// Sends `path` (under the base URL; what is signed) with `body`, signed,
    /// and gives back the answer's status and body once its signature holds.
    /// `sealed`: the body carries a field encrypted with the platform key,
    /// so the request names it in `Wechatpay-Serial`.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        sealed: bool,
    ) -> Result<Answer, PayoutError> {
        let bytes = body.as_deref().unwrap_or_default();
        let now = self.wall_clock.now().timestamp();
        let request = Request { method: method.as_str(), url: path, body: bytes };
        let authorization = self.keys.merchant.authorize(request, now, &pay_nonce());
        let mut builder = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header(reqwest::header::AUTHORIZATION, authorization.header())
            .header(reqwest::header::ACCEPT, "application/json");
        if sealed {
            builder = builder.header(SERIAL_HEADER, &self.keys.platform.key_id);
        }
        if let Some(body) = body {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let response = builder.send().await.map_err(outage)?;
        let status = response.status();
        let signed = answer_signature(response.headers());
        let body = response.bytes().await.map_err(outage)?;
        let checked = self.keys.platform.verify_answer(signed.as_ref(), &body, self.wall_clock.now().timestamp());
        if let Err(failure) = checked {
            // Not from WeChat Pay as far as anyone can tell: as if nothing came back.
            tracing::warn!(%failure, %status, path, "WeChat Pay answer refused: its signature does not hold");
            return Err(PayoutError::Unavailable(format!("answer with a bad signature ({failure})")));
        }
        Ok(Answer { status, body: body.to_vec() })
    }
}

impl HttpPayouts {
    /// A sensitive field encrypted for WeChat Pay with its public key. Only
    /// a text too long for one RSA block fails: the bill is refused as WeChat
    /// Pay would refuse it, for good.
    fn seal(&self, text: &str) -> Result<String, PayoutError> {
        encrypt_sensitive(&self.keys.platform.public_key, text, &mut rsa::rand_core::OsRng).ok_or_else(|| {
            let message = "user_name is too long to encrypt with the platform key".to_owned();
            PayoutError::Refused { code: refusal_code::PARAM_ERROR.to_owned(), message }
        })
    }
}

/// An answer whose signature held.
struct Answer {
    status: reqwest::StatusCode,
    body: Vec<u8>,
}

/// The answer's signature headers, when it has all four.
fn answer_signature(headers: &reqwest::header::HeaderMap) -> Option<AnswerSignature> {
    AnswerSignature::from_headers(|name| headers.get(name)?.to_str().ok().map(str::to_owned))
}

#[derive(Debug, Serialize)]
struct CreateBill<'a> {
    appid: &'a str,
    out_bill_no: &'a str,
    openid: &'a str,
    transfer_amount: i64,
    transfer_remark: &'a str,
    transfer_scene_id: &'a str,
    /// Encrypted with the platform key.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CreatedBill {
    out_bill_no: String,
    transfer_bill_no: String,
    create_time: DateTime<chrono::FixedOffset>,
    state: BillState,
    #[serde(default)]
    fail_reason: Option<String>,
    #[serde(default)]
    package_info: Option<String>,
}

#[derive(Debug, Deserialize)]
struct QueriedBill {
    out_bill_no: String,
    transfer_bill_no: String,
    state: BillState,
    transfer_amount: i64,
    transfer_remark: String,
    #[serde(default)]
    fail_reason: Option<String>,
    openid: String,
    create_time: DateTime<chrono::FixedOffset>,
    update_time: DateTime<chrono::FixedOffset>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    message: String,
}

#[async_trait::async_trait]
impl PayoutProvider for HttpPayouts {
    async fn transfer(&self, request: &TransferRequest) -> Result<TransferBill, PayoutError> {
        let user_name = request.user_name.as_deref().map(|name| self.seal(name)).transpose()?;
        let sealed = user_name.is_some();
        let body = CreateBill {
            appid: &self.app_id,
            out_bill_no: &request.out_bill_no,
            openid: &request.openid,
            transfer_amount: fen_from_money(request.amount),
            transfer_remark: &request.remark,
            transfer_scene_id: &request.scene_id,
            user_name,
        };
        let body = serde_json::to_vec(&body).map_err(|e| PayoutError::Unavailable(format!("unwritable bill: {e}")))?;
        let answer = self.call(reqwest::Method::POST, BILLS_PATH, Some(body), sealed).await?;
        let created: CreatedBill = read(answer)?;
        let create_time = created.create_time.with_timezone(&Utc);
        Ok(TransferBill {
            out_bill_no: created.out_bill_no,
            transfer_bill_no: created.transfer_bill_no,
            openid: request.openid.clone(),
            amount: request.amount,
            remark: request.remark.clone(),
            state: created.state,
            fail_reason: created.fail_reason,
            create_time,
            update_time: create_time,
            package_info: created.package_info,
        })
    }

    async fn bill(&self, out_bill_no: &str) -> Result<Option<TransferBill>, PayoutError> {
        let path = format!("{BILLS_PATH}/out-bill-no/{out_bill_no}");
        let answer = self.call(reqwest::Method::GET, &path, None, false).await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let found: QueriedBill = read(answer)?;
        let amount = money_from_fen(found.transfer_amount)
            .map_err(|e| PayoutError::Unavailable(format!("unreadable transfer_amount: {e}")))?;
        Ok(Some(TransferBill {
            out_bill_no: found.out_bill_no,
            transfer_bill_no: found.transfer_bill_no,
            openid: found.openid,
            amount,
            remark: found.transfer_remark,
            state: found.state,
            fail_reason: found.fail_reason,
            create_time: found.create_time.with_timezone(&Utc),
            update_time: found.update_time.with_timezone(&Utc),
            package_info: None,
        }))
    }
}

/// A success body as `T`; an error answer as WeChat Pay's `{code, message}`.
fn read<T: serde::de::DeserializeOwned>(answer: Answer) -> Result<T, PayoutError> {
    let Answer { status, body } = answer;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| PayoutError::Unavailable(format!("unreadable answer: {e}")));
    }
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(error) => Err(PayoutError::from_answer(status.as_u16(), error.code, error.message)),
        Err(_) => {
            let text: String = String::from_utf8_lossy(&body).chars().take(ERROR_BODY_CHARS_MAX).collect();
            Err(PayoutError::Unavailable(format!("HTTP {status}: {text}")))
        }
    }
}

fn outage(error: reqwest::Error) -> PayoutError {
    PayoutError::Unavailable(format!("WeChat Pay unreachable: {}", error.without_url()))
}
