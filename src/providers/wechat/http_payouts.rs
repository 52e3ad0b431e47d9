//! `PayoutProvider` over HTTP: WeChat Pay's merchant transfer bills at
//! `{base}/v3/fund-app/mch-transfer/transfer-bills`, on the built-in mock or
//! any host shaped like `https://api.mch.weixin.qq.com`. Amounts go as
//! integer fen and times come back in Beijing time, as WeChat Pay writes
//! them. Whatever keeps an answer from being read — a refused or reset
//! connection, a timeout, a body that is not the expected JSON — is an
//! outage: the settlement worker retries the same bill, which never pays twice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::providers::payouts::{
    BillState, PayoutError, PayoutProvider, TransferBill, TransferRequest, fen_from_money, money_from_fen,
};

/// A payout must not hold a worker for long; the bill is asked again later.
const REQUEST_TIMEOUT_SECS: u64 = 5;
/// WeChat Pay's scene for a payout of an ordinary kind (现金营销).
const TRANSFER_SCENE_ID: &str = "1000";
/// The most of an error body kept in a message.
const ERROR_BODY_CHARS_MAX: usize = 200;

#[derive(Debug, Clone)]
pub struct HttpPayouts {
    http: reqwest::Client,
    /// Without a trailing slash, e.g. `http://127.0.0.1:8080/mock/wechat`.
    base_url: String,
    app_id: String,
}

impl HttpPayouts {
    /// Fails only if the HTTP client cannot be set up (at startup).
    pub fn new(base_url: impl Into<String>, app_id: impl Into<String>) -> Result<HttpPayouts, PayoutError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS))
            .build()
            .map_err(|e| PayoutError::Unavailable(format!("HTTP client setup failed: {e}")))?;
        Ok(HttpPayouts { http, base_url: base_url.into().trim_end_matches('/').to_owned(), app_id: app_id.into() })
    }

    fn bills_url(&self) -> String {
        format!("{}/v3/fund-app/mch-transfer/transfer-bills", self.base_url)
    }
}

#[derive(Debug, Serialize)]
struct CreateBill<'a> {
    appid: &'a str,
    out_bill_no: &'a str,
    openid: &'a str,
    transfer_amount: i64,
    transfer_remark: &'a str,
    transfer_scene_id: &'a str,
}

#[derive(Debug, Deserialize)]
struct CreatedBill {
    out_bill_no: String,
    transfer_bill_no: String,
    create_time: DateTime<chrono::FixedOffset>,
    state: BillState,
    #[serde(default)]
    fail_reason: Option<String>,
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
        let body = CreateBill {
            appid: &self.app_id,
            out_bill_no: &request.out_bill_no,
            openid: &request.openid,
            transfer_amount: fen_from_money(request.amount),
            transfer_remark: &request.remark,
            transfer_scene_id: TRANSFER_SCENE_ID,
        };
        let response = self.http.post(self.bills_url()).json(&body).send().await.map_err(outage)?;
        let created: CreatedBill = read(response).await?;
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
        })
    }

    async fn bill(&self, out_bill_no: &str) -> Result<Option<TransferBill>, PayoutError> {
        let url = format!("{}/out-bill-no/{out_bill_no}", self.bills_url());
        let response = self.http.get(url).send().await.map_err(outage)?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let found: QueriedBill = read(response).await?;
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
        }))
    }
}

/// A success body as `T`; an error answer as WeChat Pay's `{code, message}`.
async fn read<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, PayoutError> {
    let status = response.status();
    let body = response.bytes().await.map_err(outage)?;
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
