//! `BuiltinGateway`: the mock platform's gateway called in-process, with
//! the very parameters and signatures an HTTP call carries, so walletgate's
//! `AlipayClient` signs and verifies exactly as it does over HTTP. The
//! simulator's rules answer as they do on `/mock/alipay/gateway.do`, and
//! the call is journaled as if it had been made there; a broken connection
//! or an HTTP error is an unknown result, as the HTTP client meets it.

#[allow(unused_imports)]
use super::*;

use std::sync::Arc;

use crate::providers::alipay::client::AlipayGateway;
use crate::providers::journal::{CallAnswer, CallStart, MockProvider, RequestJournal};
use crate::providers::sim::{Answer, Ruled};

/// Where the gateway is served over HTTP (and journaled from in-process calls).
pub const GATEWAY_PATH: &str = "/mock/alipay/gateway.do";

#[derive(Debug, Clone)]
pub struct BuiltinGateway {
    mock: Arc<MockAlipay>,
    journal: RequestJournal,
}

impl BuiltinGateway {
    pub fn new(mock: Arc<MockAlipay>, journal: RequestJournal) -> BuiltinGateway {
        BuiltinGateway { mock, journal }
    }
}

#[async_trait::async_trait]
impl AlipayGateway for BuiltinGateway {
    async fn call(&self, params: &[(String, String)]) -> Result<String, String> {
        let gateway_params = GatewayParams::new(params.iter().cloned());
        let described = |call: &mut CallStart| {
            call.method = "POST".into();
            call.path = GATEWAY_PATH.into();
            call.body = serde_urlencoded::to_string(params).ok().map(String::into_bytes);
        };
        let answer = |ruled: &Ruled<String>| match &ruled.answer {
            Answer::Normal(body) => {
                CallAnswer { status: Some(200), body: Some(body.clone().into_bytes()), fault: None }
            }
            Answer::Error { status, code, message } => {
                CallAnswer::json(*status, &serde_json::json!({ "code": code, "message": message }))
            }
            Answer::Broken(fault) => CallAnswer::broken(fault.as_str()),
        };
        let ruled = self.mock.gateway_ruled(&gateway_params);
        let ruled = self.journal.in_process(MockProvider::Alipay, described, ruled, answer).await;
        match ruled.answer {
            Answer::Normal(body) => Ok(body),
            Answer::Error { status, code, .. } => Err(format!("HTTP {status} {code}")),
            Answer::Broken(fault) => Err(format!("simulated fault: {}", fault.as_str())),
        }
    }
}
