//! walletgate's side of Alipay's open platform: `AlipayClient` builds a
//! call's common parameters, signs them with the app's private key (RSA2),
//! sends them through an `AlipayGateway` and verifies the answer's
//! signature with Alipay's public key before reading it, so the same signed
//! protocol runs whether the gateway is the built-in mock in-process
//! (`mock::BuiltinGateway`), the mock over HTTP or a real host
//! (`http::HttpGateway`): pointing walletgate at a sandbox is a change of
//! configuration.
//!
//! An answer that cannot be trusted (no answer, a body that is no JSON, a
//! signature that does not verify, 20000) is an unknown result: the caller
//! queries, then sends the same request again (reference §3.2).

use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::protocol::{
    ERROR_NODE, Failure, GatewayCode, OAUTH_TOKEN, TRANSFER_QUERY, UNI_TRANSFER, USER_INFO_SHARE, beijing_time,
    response_node,
};
use crate::clock::SharedClock;
use crate::domain::money::Money;
use crate::domain::rsa2::{self, PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};

/// `product_code` and `biz_scene` of a transfer to an Alipay account.
pub const PRODUCT_CODE: &str = "TRANS_ACCOUNT_NO_PWD";
pub const BIZ_SCENE: &str = "DIRECT_TRANSFER";

/// Where a call's parameters go and its answer's exact text comes from.
#[async_trait::async_trait]
pub trait AlipayGateway: Send + Sync + std::fmt::Debug + 'static {
    /// Sends one call (its parameters signed) and returns the answer's body;
    /// `Err` (why) when no readable answer came: the result is unknown.
    async fn call(&self, params: &[(String, String)]) -> Result<String, String>;
}

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlipayCallError {
    /// No answer that can be trusted (unreachable, unreadable, unsigned or
    /// badly signed, or 20000): the result is unknown.
    #[error("Alipay result unknown: {0}")]
    Unknown(String),
    /// A signed (or, before the gateway could tie the call to the app,
    /// unsigned) failure: its gateway code and `sub_code`.
    #[error(transparent)]
    Failed(Failure),
}

/// How `payee_info.identity` names the payee: Alipay's user ids are 16
/// digits starting `2088`; anything else an app is given is an open id.
pub fn identity_type_of(identity: &str) -> &'static str {
    let user_id = identity.len() == 16 && identity.starts_with("2088") && identity.bytes().all(|b| b.is_ascii_digit());
    if user_id { "ALIPAY_USER_ID" } else { "ALIPAY_OPEN_ID" }
}

/// A transfer as walletgate asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipayTransferRequest {
    /// The withdrawal's bill number: the idempotency key.
    pub out_biz_no: String,
    pub amount: Money,
    /// The payee's user id or open id.
    pub payee: String,
    /// The payee's certified name; Alipay checks it when given.
    pub payee_name: Option<String>,
    /// Shown in the payee's bill.
    pub order_title: String,
}

/// An order's status as Alipay reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlipayOrderStatus {
    Success,
    Dealing,
    Fail,
    /// Bank-card payouts only; never for an Alipay account (taken as unknown).
    Refund,
}

/// A transfer order as a transfer or a query answered it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AlipayOrder {
    pub out_biz_no: String,
    pub order_id: String,
    pub status: AlipayOrderStatus,
    /// A FAIL order's `sub_code` (the query's `error_code`).
    #[serde(default, alias = "error_code")]
    pub sub_code: Option<String>,
}

/// The success fields of `alipay.system.oauth.token`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AlipayToken {
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub open_id: Option<String>,
    pub access_token: String,
}

impl AlipayToken {
    /// The id the app is given for the user: `open_id` on newer apps, else `user_id`.
    pub fn identity(&self) -> Option<&str> {
        self.open_id.as_deref().or(self.user_id.as_deref()).filter(|id| !id.is_empty())
    }
}

/// The success fields of `alipay.user.info.share` walletgate reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AlipayUserInfo {
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub open_id: Option<String>,
    #[serde(default)]
    pub nick_name: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
    /// `T` when the user completed real-name certification.
    #[serde(default)]
    pub is_certified: Option<String>,
    /// The certified name, when the app may read it.
    #[serde(default)]
    pub user_name: Option<String>,
    /// `B`: frozen.
    #[serde(default)]
    pub user_status: Option<String>,
}

/// A signing client of the open platform.
#[derive(Debug, Clone)]
pub struct AlipayClient {
    gateway: Arc<dyn AlipayGateway>,
    app_id: String,
    app_key: Arc<RsaPrivateKey>,
    alipay_key: Arc<RsaPublicKey>,
    clock: SharedClock,
}

/// A response object's `code` and failure fields.
#[derive(Debug, Deserialize)]
struct Head {
    code: String,
    #[serde(default)]
    sub_code: String,
    #[serde(default)]
    sub_msg: String,
}

impl AlipayClient {
    pub fn new(
        gateway: Arc<dyn AlipayGateway>,
        app_id: String,
        app_key: RsaPrivateKey,
        alipay_key: RsaPublicKey,
        clock: SharedClock,
    ) -> AlipayClient {
        AlipayClient { gateway, app_id, app_key: Arc::new(app_key), alipay_key: Arc::new(alipay_key), clock }
    }

    /// `alipay.fund.trans.uni.transfer`, `TRANS_ACCOUNT_NO_PWD` / `DIRECT_TRANSFER`.
    pub async fn transfer(&self, request: &AlipayTransferRequest) -> Result<AlipayOrder, AlipayCallError> {
        let mut payee = serde_json::json!({
            "identity": request.payee,
            "identity_type": identity_type_of(&request.payee),
        });
        if let Some(name) = request.payee_name.as_deref().filter(|name| !name.is_empty()) {
            payee["name"] = name.into();
        }
        let biz = serde_json::json!({
            "out_biz_no": request.out_biz_no,
            "trans_amount": request.amount.to_string(),
            "product_code": PRODUCT_CODE,
            "biz_scene": BIZ_SCENE,
            "order_title": request.order_title,
            "payee_info": payee,
        });
        self.call(UNI_TRANSFER, &[("biz_content", biz.to_string())]).await
    }

    /// `alipay.fund.trans.common.query` by `out_biz_no`; `None` for `ORDER_NOT_EXIST`.
    pub async fn query(&self, out_biz_no: &str) -> Result<Option<AlipayOrder>, AlipayCallError> {
        let biz = serde_json::json!({ "out_biz_no": out_biz_no, "product_code": PRODUCT_CODE, "biz_scene": BIZ_SCENE });
        match self.call(TRANSFER_QUERY, &[("biz_content", biz.to_string())]).await {
            Ok(order) => Ok(Some(order)),
            Err(AlipayCallError::Failed(failure)) if failure.sub_code == "ORDER_NOT_EXIST" => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `alipay.system.oauth.token` with `grant_type=authorization_code`.
    pub async fn oauth_token(&self, auth_code: &str) -> Result<AlipayToken, AlipayCallError> {
        let extra = [("grant_type", "authorization_code".to_owned()), ("code", auth_code.to_owned())];
        self.call(OAUTH_TOKEN, &extra).await
    }

    /// `alipay.user.info.share` with the user's access token.
    pub async fn user_info(&self, auth_token: &str) -> Result<AlipayUserInfo, AlipayCallError> {
        self.call(USER_INFO_SHARE, &[("auth_token", auth_token.to_owned())]).await
    }

    /// The common parameters and `extra`, signed.
    fn signed_params(&self, method: &str, extra: &[(&str, String)]) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("app_id", self.app_id.clone()),
            ("method", method.to_owned()),
            ("format", "JSON".to_owned()),
            ("charset", "utf-8".to_owned()),
            ("sign_type", "RSA2".to_owned()),
            ("timestamp", beijing_time(self.clock.now())),
            ("version", "1.0".to_owned()),
        ]
        .into_iter()
        .chain(extra.iter().cloned())
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        let content = rsa2::sign_content(params.iter().map(|(name, value)| (name.as_str(), value.as_str())));
        params.push(("sign".to_owned(), rsa2::sign(&self.app_key, &content)));
        params
    }

    /// One call: its answer's response object, verified and read as `T`.
    async fn call<T: DeserializeOwned>(&self, method: &str, extra: &[(&str, String)]) -> Result<T, AlipayCallError> {
        let body = self.gateway.call(&self.signed_params(method, extra)).await.map_err(AlipayCallError::Unknown)?;
        let response = self.verified_response(method, &body)?;
        let head: Head = serde_json::from_str(&response).map_err(|e| unknown("unreadable answer", e))?;
        match GatewayCode::parse(&head.code) {
            Some(GatewayCode::Success) => serde_json::from_str(&response).map_err(|e| unknown("unreadable answer", e)),
            Some(GatewayCode::ServiceUnavailable) | None => {
                Err(AlipayCallError::Unknown(format!("{} {}: {}", head.code, head.sub_code, head.sub_msg)))
            }
            Some(code) => Err(AlipayCallError::Failed(Failure::new(code, &head.sub_code, &head.sub_msg))),
        }
    }

    /// The response object of `body`, once its signature verifies; an
    /// unsigned `error_response` (the gateway could not tie the call to the
    /// app: a missing or bad parameter or signature) is taken as it is,
    /// since it only says the call was refused before anything was done.
    fn verified_response(&self, method: &str, body: &str) -> Result<String, AlipayCallError> {
        for node in [response_node(method), ERROR_NODE.to_owned()] {
            if let Some((response, sign)) = rsa2::signed_part(body, &node) {
                if !rsa2::verify(&self.alipay_key, response, sign) {
                    return Err(AlipayCallError::Unknown(format!("the signature of {node} does not verify")));
                }
                return Ok(response.to_owned());
            }
        }
        let value: serde_json::Value = serde_json::from_str(body).map_err(|e| unknown("unreadable answer", e))?;
        match value.get(ERROR_NODE) {
            Some(refusal)
                if refusal.get("code").is_some_and(|code| code.as_str().is_some_and(|c| c.starts_with('4'))) =>
            {
                Ok(refusal.to_string())
            }
            _ => Err(AlipayCallError::Unknown("an unsigned answer".to_owned())),
        }
    }
}

fn unknown(what: &str, error: impl std::fmt::Display) -> AlipayCallError {
    AlipayCallError::Unknown(format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::rsa2::test_keys;

    /// A gateway that answers every call with one body.
    #[derive(Debug)]
    struct Canned(String);

    #[async_trait::async_trait]
    impl AlipayGateway for Canned {
        async fn call(&self, params: &[(String, String)]) -> Result<String, String> {
            let app_public = rsa2::public_key(test_keys::APP_PUBLIC_KEY_PEM).unwrap();
            let sign = params.iter().find(|(name, _)| name == "sign").map(|(_, sign)| sign.clone()).unwrap();
            let content = rsa2::sign_content(params.iter().map(|(name, value)| (name.as_str(), value.as_str())));
            assert!(rsa2::verify(&app_public, &content, &sign), "the client signs what it sends");
            Ok(self.0.clone())
        }
    }

    fn client(body: String) -> AlipayClient {
        AlipayClient::new(
            Arc::new(Canned(body)),
            "2021004100000001".into(),
            rsa2::private_key(test_keys::APP_PRIVATE_KEY_PEM).unwrap(),
            rsa2::public_key(test_keys::PLATFORM_PUBLIC_KEY_PEM).unwrap(),
            Arc::new(ManualClock::new(chrono::DateTime::UNIX_EPOCH)),
        )
    }

    fn platform_signed(node: &str, response: &str) -> String {
        rsa2::signed_answer(node, response, &rsa2::private_key(test_keys::PLATFORM_PRIVATE_KEY_PEM).unwrap())
    }

    const NODE: &str = "alipay_fund_trans_common_query_response";

    #[tokio::test]
    async fn answers_are_read_only_once_their_signature_verifies() {
        let order = r#"{"code":"10000","msg":"Success","out_biz_no":"b1","order_id":"o1","status":"FAIL","error_code":"PAYEE_NOT_EXIST"}"#;
        let found = client(platform_signed(NODE, order)).query("b1").await.unwrap().unwrap();
        assert_eq!((found.status, found.sub_code.as_deref()), (AlipayOrderStatus::Fail, Some("PAYEE_NOT_EXIST")));
        let forged = platform_signed(NODE, order).replace("PAYEE_NOT_EXIST", "PAYEE_NOT_EXISX");
        assert!(matches!(client(forged).query("b1").await, Err(AlipayCallError::Unknown(_))));
        let unsigned = format!(r#"{{"{NODE}":{order}}}"#);
        assert!(matches!(client(unsigned).query("b1").await, Err(AlipayCallError::Unknown(_))));
    }

    #[tokio::test]
    async fn failures_carry_their_sub_code_and_20000_is_unknown() {
        let missing = r#"{"code":"40004","msg":"Business Failed","sub_code":"ORDER_NOT_EXIST","sub_msg":"x"}"#;
        assert_eq!(client(platform_signed(NODE, missing)).query("b1").await, Ok(None));
        let busy =
            r#"{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error","sub_msg":"x"}"#;
        assert!(matches!(client(platform_signed(NODE, busy)).query("b1").await, Err(AlipayCallError::Unknown(_))));
        let refused = r#"{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature","sub_msg":"x"}}"#;
        let Err(AlipayCallError::Failed(failure)) = client(refused.into()).query("b1").await else { panic!() };
        assert_eq!((failure.code, failure.sub_code.as_str()), (GatewayCode::InvalidArguments, "isv.invalid-signature"));
        assert!(matches!(client("not json".into()).query("b1").await, Err(AlipayCallError::Unknown(_))));
    }

    #[test]
    fn user_ids_and_open_ids_are_told_apart() {
        assert_eq!(identity_type_of("2088102146225135"), "ALIPAY_USER_ID");
        assert_eq!(identity_type_of("074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"), "ALIPAY_OPEN_ID");
        assert_eq!(identity_type_of("20881021462251"), "ALIPAY_OPEN_ID");
    }
}
