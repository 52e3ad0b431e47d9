//! The gateway protocol's names and shapes: the methods, the answer's
//! node, the gateway codes with their fixed `msg`, a failure's
//! `code`/`msg`/`sub_code`/`sub_msg`, and Alipay's `yyyy-MM-dd HH:mm:ss`
//! Beijing time.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Asia::Shanghai;
use serde::Serialize;

pub const OAUTH_TOKEN: &str = "alipay.system.oauth.token";
pub const USER_INFO_SHARE: &str = "alipay.user.info.share";
pub const UNI_TRANSFER: &str = "alipay.fund.trans.uni.transfer";
pub const TRANSFER_QUERY: &str = "alipay.fund.trans.common.query";
/// The node of answers the gateway gives before (or instead of) a method's own.
pub const ERROR_NODE: &str = "error_response";
/// `timestamp`, `trans_date`, `auth_start`, …: Beijing time.
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The node a method's answer is wrapped in: `alipay.user.info.share` →
/// `alipay_user_info_share_response`.
pub fn response_node(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// A time as Alipay writes it: Beijing, to the second.
pub fn beijing_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Shanghai).format(TIME_FORMAT).to_string()
}

/// The Beijing date of `at`: Alipay's days and months (limits, totals) are Beijing ones.
pub fn beijing_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Shanghai).date_naive()
}

/// Whether `text` is a time as Alipay writes it (`2026-03-01 17:30:00`).
pub fn is_alipay_time(text: &str) -> bool {
    text.len() == 19 && NaiveDateTime::parse_from_str(text, TIME_FORMAT).is_ok()
}

/// The gateway's first-level codes, each with its fixed `msg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayCode {
    Success,
    /// 20000: unknown result; query, then retry the same request.
    ServiceUnavailable,
    /// 20001: the user's `auth_token` is invalid or expired.
    InsufficientToken,
    MissingArguments,
    InvalidArguments,
    /// 40004: look at `sub_code`.
    BusinessFailed,
    InsufficientPermissions,
}

impl GatewayCode {
    pub fn code(self) -> &'static str {
        match self {
            GatewayCode::Success => "10000",
            GatewayCode::ServiceUnavailable => "20000",
            GatewayCode::InsufficientToken => "20001",
            GatewayCode::MissingArguments => "40001",
            GatewayCode::InvalidArguments => "40002",
            GatewayCode::BusinessFailed => "40004",
            GatewayCode::InsufficientPermissions => "40006",
        }
    }

    /// The code named `text` (`"40004"`), if it is one of these.
    pub fn parse(text: &str) -> Option<GatewayCode> {
        [
            GatewayCode::Success,
            GatewayCode::ServiceUnavailable,
            GatewayCode::InsufficientToken,
            GatewayCode::MissingArguments,
            GatewayCode::InvalidArguments,
            GatewayCode::BusinessFailed,
            GatewayCode::InsufficientPermissions,
        ]
        .into_iter()
        .find(|code| code.code() == text)
    }

    pub fn msg(self) -> &'static str {
        match self {
            GatewayCode::Success => "Success",
            GatewayCode::ServiceUnavailable => "Service Currently Unavailable",
            GatewayCode::InsufficientToken => "Insufficient Token Permissions",
            GatewayCode::MissingArguments => "Missing Required Arguments",
            GatewayCode::InvalidArguments => "Invalid Arguments",
            GatewayCode::BusinessFailed => "Business Failed",
            GatewayCode::InsufficientPermissions => "Insufficient Permissions",
        }
    }
}

/// A failed call: the gateway code and what `sub_code` and `sub_msg` say.
/// Clients act on `sub_code`, never on `sub_msg`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {}: {sub_code} ({sub_msg})", .code.code(), .code.msg())]
pub struct Failure {
    pub code: GatewayCode,
    pub sub_code: String,
    pub sub_msg: String,
}

impl Failure {
    pub fn new(code: GatewayCode, sub_code: &str, sub_msg: &str) -> Failure {
        Failure { code, sub_code: sub_code.to_owned(), sub_msg: sub_msg.to_owned() }
    }

    /// 20000 `isp.unknow-error` (spelled as Alipay spells it): the platform
    /// failed; the result is unknown.
    pub fn unavailable() -> Failure {
        Failure::new(GatewayCode::ServiceUnavailable, "isp.unknow-error", "系统繁忙")
    }

    /// The response object's JSON text.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            code: &'a str,
            msg: &'a str,
            sub_code: &'a str,
            sub_msg: &'a str,
        }
        let body =
            Body { code: self.code.code(), msg: self.code.msg(), sub_code: &self.sub_code, sub_msg: &self.sub_msg };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

/// A successful call's response object: `code` 10000 and `msg` first, then
/// the method's fields.
pub fn success_json<T: Serialize>(fields: &T) -> String {
    #[derive(Serialize)]
    struct Body<'a, T> {
        code: &'a str,
        msg: &'a str,
        #[serde(flatten)]
        fields: &'a T,
    }
    let body = Body { code: GatewayCode::Success.code(), msg: GatewayCode::Success.msg(), fields };
    serde_json::to_string(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn nodes_times_and_bodies_are_spelled_as_alipay_spells_them() {
        assert_eq!(response_node(UNI_TRANSFER), "alipay_fund_trans_uni_transfer_response");
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 16, 5, 9).unwrap();
        assert_eq!(beijing_time(at), "2026-03-02 00:05:09");
        assert!(is_alipay_time("2026-03-02 00:05:09"));
        for bad in ["2026-03-02T00:05:09", "2026-3-2 0:5:9", "2026-02-30 00:00:00", ""] {
            assert!(!is_alipay_time(bad), "{bad}");
        }
        assert_eq!(GatewayCode::parse("40004"), Some(GatewayCode::BusinessFailed));
        assert_eq!(GatewayCode::parse("20000"), Some(GatewayCode::ServiceUnavailable));
        assert_eq!(GatewayCode::parse("99999"), None);
        let failure = Failure::new(GatewayCode::BusinessFailed, "PAYEE_NOT_EXIST", "收款账号不存在");
        assert_eq!(
            failure.to_json(),
            r#"{"code":"40004","msg":"Business Failed","sub_code":"PAYEE_NOT_EXIST","sub_msg":"收款账号不存在"}"#
        );
        #[derive(Serialize)]
        struct Fields {
            status: &'static str,
        }
        assert_eq!(
            success_json(&Fields { status: "SUCCESS" }),
            r#"{"code":"10000","msg":"Success","status":"SUCCESS"}"#
        );
    }
}
