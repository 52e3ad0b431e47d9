//! The gateway (`gateway.do`): the common parameters checked in the order
//! Alipay reports them, the app's RSA2 signature verified over the sign
//! content, the method dispatched, and the answer wrapped and signed.
//!
//! A call the gateway cannot tie to the app (a parameter missing or wrong,
//! a bad signature) is answered in an unsigned `error_response`, as Alipay
//! does; a token call's failure in a signed `error_response`; every other
//! answer in the method's own node, signed with the platform's key.

#[allow(unused_imports)]
use super::*;

use std::collections::BTreeMap;

use crate::providers::sim::{Answer, ProviderCall, Respond, Ruled};

use super::super::protocol::{
    GatewayCode, OAUTH_TOKEN, TRANSFER_QUERY, UNI_TRANSFER, USER_INFO_SHARE, is_alipay_time, response_node,
    success_json,
};

/// The methods the mock serves.
pub const METHODS: &[&str] = &[OAUTH_TOKEN, USER_INFO_SHARE, UNI_TRANSFER, TRANSFER_QUERY];
/// The most parameters one call may carry (the real ones carry about a dozen).
pub const PARAMS_MAX: usize = 64;

/// A call's parameters, from the query string and the form body together
/// (the SDKs put the common ones in the query and `biz_content` in the
/// body); the first of a repeated name counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayParams(BTreeMap<String, String>);

impl GatewayParams {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> GatewayParams {
        let mut params = BTreeMap::new();
        for (name, value) in pairs {
            params.entry(name).or_insert(value);
        }
        GatewayParams(params)
    }

    /// The value of `name`, empty when missing.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// The sign content the app must have signed.
    pub fn sign_content(&self) -> String {
        rsa2::sign_content(self.0.iter().map(|(name, value)| (name.as_str(), value.as_str())))
    }
}

/// A gateway-level refusal: 40001 for what is missing, 40002 for what is wrong.
fn missing(sub_code: &str, sub_msg: &str) -> Failure {
    Failure::new(GatewayCode::MissingArguments, sub_code, sub_msg)
}

fn invalid(sub_code: &str, sub_msg: &str) -> Failure {
    Failure::new(GatewayCode::InvalidArguments, sub_code, sub_msg)
}

/// Checks the common parameters of a call to the app `app_id` and its
/// signature with the app's public key, in the order Alipay reports them;
/// the method on success.
pub fn check_call<'a>(params: &'a GatewayParams, app_id: &str, app_public: &PublicKey) -> Result<&'a str, Failure> {
    if params.len() > PARAMS_MAX {
        return Err(invalid("isv.invalid-parameter", "参数过多 (too many parameters)"));
    }
    let given = |name: &str| !params.get(name).is_empty();
    if !given("app_id") {
        return Err(missing("isv.missing-app-id", "缺少AppID参数"));
    }
    if params.get("app_id") != app_id {
        return Err(invalid("isv.invalid-app-id", "无效的AppID参数"));
    }
    let method = params.get("method");
    if method.is_empty() {
        return Err(missing("isv.missing-method", "缺少方法名参数"));
    }
    if !METHODS.contains(&method) {
        return Err(invalid("isv.invalid-method", "不存在的方法名"));
    }
    if given("format") && !params.get("format").eq_ignore_ascii_case("json") {
        return Err(invalid("isv.invalid-format", "无效的数据格式参数 (format must be JSON)"));
    }
    if given("charset") && !params.get("charset").eq_ignore_ascii_case("utf-8") {
        return Err(invalid("isv.invalid-charset", "字符集错误 (the mock speaks utf-8 only)"));
    }
    if !given("sign_type") {
        return Err(missing("isv.missing-signature-type", "缺少签名类型参数"));
    }
    if params.get("sign_type") != "RSA2" {
        return Err(invalid("isv.invalid-signature-type", "无效的签名类型参数 (the mock takes RSA2 only)"));
    }
    if !given("sign") {
        return Err(missing("isv.missing-signature", "缺少签名参数"));
    }
    if !given("timestamp") {
        return Err(missing("isv.missing-timestamp", "缺少时间戳参数"));
    }
    if !is_alipay_time(params.get("timestamp")) {
        return Err(invalid("isv.invalid-timestamp", "非法的时间戳参数 (format yyyy-MM-dd HH:mm:ss)"));
    }
    if !given("version") {
        return Err(missing("isv.missing-version", "缺少版本参数"));
    }
    if params.get("version") != "1.0" {
        return Err(invalid("isv.invalid-version", "无效的版本参数 (version must be 1.0)"));
    }
    let content = params.sign_content();
    if !rsa2::verify(app_public, &content, params.get("sign")) {
        let sub_msg =
            format!("验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：{content}");
        return Err(invalid("isv.invalid-signature", &sub_msg));
    }
    Ok(method)
}

impl MockAlipay {
    /// One call to `gateway.do`: the answer's exact body.
    pub async fn gateway(&self, params: &GatewayParams) -> String {
        self.gateway_with(params, None).await
    }

    /// One call to `gateway.do` as the simulator's rules have it answered: a
    /// transfer a rule matches (`alipay.transfer`: payee, amount, bill
    /// number, account) fails with the rule's `sub_code`, stays `DEALING`,
    /// meets 20000, an HTTP error, or is made and its answer lost (a fault);
    /// a token call or user-info read a rule matches (`alipay.oauth_token`,
    /// `alipay.user_info`) meets 20000, an HTTP error or a broken connection
    /// without being made (an `auth_code` stays unused); after the rule's
    /// delay. Every other call is answered as usual.
    pub async fn gateway_ruled(&self, params: &GatewayParams) -> Ruled<String> {
        let method = match check_call(params, &self.settings.app_id, &self.keys.app_public) {
            Ok(method) => method,
            Err(failure) => return Ruled::unruled(rsa2::unsigned_answer(ERROR_NODE, &failure.to_json())),
        };
        let transfer = match method {
            UNI_TRANSFER => transfer_request(params.get("biz_content")).ok(),
            _ => None,
        };
        let call = match (method, &transfer) {
            (UNI_TRANSFER, Some(request)) => {
                ProviderCall::alipay_transfer(&request.payee.identity, request.trans_amount, &request.out_biz_no)
            }
            (OAUTH_TOKEN, _) => ProviderCall::alipay_oauth_token(),
            (USER_INFO_SHARE, _) => ProviderCall::alipay_user_info(),
            _ => return Ruled::unruled(self.answer(method, params, None).await),
        };
        let forced = match self.rules.consult_and_wait(&call).await {
            Ok(Some(forced)) => forced,
            Ok(None) => return Ruled::unruled(self.answer(method, params, None).await),
            Err(error) => {
                tracing::warn!(%error, "mock Alipay could not consult the simulator's rules");
                return Ruled::unruled(self.unavailable_answer(method));
            }
        };
        let answer = match forced.respond {
            Respond::AsUsual => Answer::Normal(self.answer(method, params, None).await),
            Respond::AlipayFail { sub_code } => {
                Answer::Normal(self.answer(method, params, Some(&AlipayForcing::Fail(sub_code))).await)
            }
            Respond::Processing => Answer::Normal(self.answer(method, params, Some(&AlipayForcing::Dealing)).await),
            Respond::HttpError { status, code, message } => Answer::Error { status, code, message },
            // A transfer is made; only its answer is lost on the way back.
            Respond::Fault { fault } if method == UNI_TRANSFER => {
                self.answer(method, params, None).await;
                Answer::Broken(fault)
            }
            // A token call or user-info read never arrives.
            Respond::Fault { fault } => Answer::Broken(fault),
            // The others answer no transfer (`NewRule::check`): the platform's own failure.
            Respond::SystemError | Respond::Fail { .. } | Respond::ApiError { .. } => {
                Answer::Normal(self.unavailable_answer(method))
            }
        };
        Ruled { rule: Some(forced.rule), answer }
    }

    /// One call to `gateway.do` with `forcing` taken over the mock's own
    /// decision of a transfer: the seam the simulator's rules answer through
    /// (they read the call with `transfer_request(params.get("biz_content"))`).
    pub async fn gateway_with(&self, params: &GatewayParams, forcing: Option<&AlipayForcing>) -> String {
        match check_call(params, &self.settings.app_id, &self.keys.app_public) {
            Ok(method) => self.answer(method, params, forcing).await,
            Err(failure) => rsa2::unsigned_answer(ERROR_NODE, &failure.to_json()),
        }
    }

    /// A method's signed 20000 answer (`isp.unknow-error`): what a simulator
    /// rule's system error answers with, the call unmade. A token call's
    /// failure is its signed `error_response`, as Alipay answers it.
    pub fn unavailable_answer(&self, method: &str) -> String {
        match method {
            OAUTH_TOKEN => self.signed_error(&Failure::unavailable()),
            _ => self.signed_failure(&response_node(method), &Failure::unavailable()),
        }
    }

    /// The signed answer to a checked call of `method`.
    async fn answer(&self, method: &str, params: &GatewayParams, forcing: Option<&AlipayForcing>) -> String {
        let node = response_node(method);
        let biz = params.get("biz_content");
        match method {
            OAUTH_TOKEN => {
                let token = self.oauth_token(params.get("grant_type"), params.get("code"), params.get("refresh_token"));
                match token.await {
                    Ok(token) => self.signed(&node, &success_json(&token)),
                    Err(failure) => self.signed_error(&failure),
                }
            }
            USER_INFO_SHARE => self.reply(&node, self.user_info(params.get("auth_token")).await),
            UNI_TRANSFER => {
                let answer = match transfer_request(biz) {
                    Ok(request) => self.transfer(&request, forcing).await,
                    Err(failure) => Err(failure),
                };
                self.reply(&node, answer)
            }
            TRANSFER_QUERY => {
                let answer = match query_request(biz) {
                    Ok(reference) => self.query_transfer(&reference).await,
                    Err(failure) => Err(failure),
                };
                self.reply(&node, answer)
            }
            _ => rsa2::unsigned_answer(ERROR_NODE, &invalid("isv.invalid-method", "不存在的方法名").to_json()),
        }
    }

    fn reply<T: Serialize>(&self, node: &str, answer: Result<T, Failure>) -> String {
        match answer {
            Ok(fields) => self.signed(node, &success_json(&fields)),
            Err(failure) => self.signed_failure(node, &failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rsa2::test_keys;

    const APP_ID: &str = "2021004100000001";

    /// A well-formed call to `alipay.user.info.share`, with `changes`, signed
    /// by the test app key unless `sign` is among them.
    fn params(changes: &[(&str, &str)]) -> GatewayParams {
        let mut pairs: BTreeMap<String, String> = [
            ("app_id", APP_ID),
            ("method", USER_INFO_SHARE),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", "2026-03-01 17:30:00"),
            ("version", "1.0"),
            ("auth_token", "authusrB0"),
        ]
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
        for (name, value) in changes.iter().filter(|(name, _)| *name != "sign") {
            pairs.insert(name.to_string(), value.to_string());
        }
        let key = rsa2::private_key(test_keys::APP_PRIVATE_KEY_PEM).unwrap();
        let sign = rsa2::sign(&key, &GatewayParams(pairs.clone()).sign_content());
        let sign = changes.iter().find(|(name, _)| *name == "sign").map_or(sign, |(_, value)| value.to_string());
        pairs.insert("sign".into(), sign);
        GatewayParams(pairs)
    }

    fn checked(changes: &[(&str, &str)]) -> Result<String, (String, String)> {
        let public = rsa2::public_key(test_keys::APP_PUBLIC_KEY_PEM).unwrap();
        let params = params(changes);
        check_call(&params, APP_ID, &public).map(str::to_owned).map_err(|f| (f.code.code().to_owned(), f.sub_code))
    }

    #[test]
    fn common_parameters_are_checked_in_alipays_order_before_the_signature() {
        assert_eq!(checked(&[]), Ok(USER_INFO_SHARE.to_owned()));
        assert_eq!(checked(&[("format", ""), ("charset", "")]), Ok(USER_INFO_SHARE.to_owned()), "both optional");
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (&[("app_id", "")], "40001", "isv.missing-app-id"),
            (&[("app_id", "2021000000000000")], "40002", "isv.invalid-app-id"),
            (&[("app_id", "2021000000000000"), ("method", "")], "40002", "isv.invalid-app-id"),
            (&[("method", "")], "40001", "isv.missing-method"),
            (&[("method", "alipay.trade.pay")], "40002", "isv.invalid-method"),
            (&[("format", "XML")], "40002", "isv.invalid-format"),
            (&[("charset", "GBK")], "40002", "isv.invalid-charset"),
            (&[("sign_type", "")], "40001", "isv.missing-signature-type"),
            (&[("sign_type", "RSA")], "40002", "isv.invalid-signature-type"),
            (&[("sign", "")], "40001", "isv.missing-signature"),
            (&[("timestamp", "")], "40001", "isv.missing-timestamp"),
            (&[("timestamp", "2026-03-01T17:30:00Z")], "40002", "isv.invalid-timestamp"),
            (&[("version", "")], "40001", "isv.missing-version"),
            (&[("version", "2.0")], "40002", "isv.invalid-version"),
            (&[("sign", "c2lnbg==")], "40002", "isv.invalid-signature"),
        ];
        for (changes, code, sub_code) in cases {
            assert_eq!(checked(changes), Err((code.to_string(), sub_code.to_string())), "{changes:?}");
        }
    }

    #[test]
    fn the_signature_covers_every_parameter_but_sign_and_empty_ones() {
        let public = rsa2::public_key(test_keys::APP_PUBLIC_KEY_PEM).unwrap();
        let mut signed = params(&[("notify_url", "")]);
        assert!(check_call(&signed, APP_ID, &public).is_ok(), "an empty parameter is not signed over");
        signed.0.insert("notify_url".into(), "http://example.com/notify".into());
        let refused = check_call(&signed, APP_ID, &public).unwrap_err();
        assert!(refused.sub_msg.contains("notify_url=http://example.com/notify"), "{}", refused.sub_msg);
        let first_wins = GatewayParams::new([("a".to_owned(), "1".to_owned()), ("a".to_owned(), "2".to_owned())]);
        assert_eq!(first_wins.get("a"), "1");
        let many = GatewayParams::new((0..=PARAMS_MAX).map(|i| (format!("p{i}"), "v".to_owned())));
        assert_eq!(check_call(&many, APP_ID, &public).unwrap_err().sub_code, "isv.invalid-parameter");
    }
}
