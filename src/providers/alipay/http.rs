//! `AlipayGateway` over HTTP: the SDKs' way of calling `gateway.do` — the
//! common parameters in the query string, `biz_content` and the method's
//! own in a form body — on the built-in mock (`/mock/alipay/gateway.do`)
//! or any host shaped like `https://openapi.alipay.com/gateway.do`.
//! Whatever keeps an answer from being read (a refused or reset connection,
//! a timeout, a status other than 200) is an unknown result.

use std::time::Duration;

use super::client::AlipayGateway;

/// A call must not hold a worker for long; the order is asked about later.
const REQUEST_TIMEOUT_SECS: u64 = 5;
/// The parameters sent in the form body rather than the query string.
const BODY_PARAMS: &[&str] = &["biz_content", "code", "refresh_token", "auth_token"];

#[derive(Debug, Clone)]
pub struct HttpGateway {
    http: reqwest::Client,
    /// The gateway's full URL, e.g. `http://127.0.0.1:8080/mock/alipay/gateway.do`.
    url: String,
}

impl HttpGateway {
    /// Fails only if the HTTP client cannot be set up (at startup).
    pub fn new(url: impl Into<String>) -> Result<HttpGateway, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS))
            .build()
            .map_err(|e| format!("HTTP client setup failed: {e}"))?;
        Ok(HttpGateway { http, url: url.into() })
    }
}

#[async_trait::async_trait]
impl AlipayGateway for HttpGateway {
    async fn call(&self, params: &[(String, String)]) -> Result<String, String> {
        let (body, query): (Vec<_>, Vec<_>) = params.iter().partition(|(name, _)| BODY_PARAMS.contains(&name.as_str()));
        let response = self
            .http
            .post(&self.url)
            .query(&query)
            .form(&body)
            .send()
            .await
            .map_err(|e| format!("Alipay unreachable: {}", e.without_url()))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("Alipay answer lost: {}", e.without_url()))?;
        if !status.is_success() {
            let shown: String = text.chars().take(200).collect();
            return Err(format!("HTTP {status}: {shown}"));
        }
        Ok(text)
    }
}
