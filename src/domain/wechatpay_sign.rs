//! WeChat Pay v3's signatures, both ways, as pure functions: SHA256withRSA
//! (`domain::rsa2`) over the messages the APIv3 signing rules define.
//!
//! - A request carries `Authorization: WECHATPAY2-SHA256-RSA2048
//!   mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`,
//!   signed with the merchant's private key over
//!   `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n` (URL: path and query as sent,
//!   BODY empty for a GET); WeChat Pay verifies it with the key the merchant
//!   registered under `serial_no`.
//! - An answer carries `Wechatpay-Timestamp`, `Wechatpay-Nonce`,
//!   `Wechatpay-Serial` (the platform key's id) and `Wechatpay-Signature`,
//!   signed with the platform's private key over `TIMESTAMP\nNONCE\nBODY\n`.
//!
//! Both sides refuse a timestamp more than five minutes from their own
//! clock: a signature is a transport matter, so the clock is the wall
//! clock, never the simulator's business time.

use crate::domain::rsa2::{self, PrivateKey, PublicKey};

/// The authorization schema and the answers' `Wechatpay-Signature-Type`.
pub const SCHEMA: &str = "WECHATPAY2-SHA256-RSA2048";
/// How far (seconds) a signature's timestamp may be from the verifier's clock.
pub const TIME_WINDOW_SECS: i64 = 300;
/// The answer headers, as WeChat Pay names them.
pub const SERIAL_HEADER: &str = "Wechatpay-Serial";
pub const SIGNATURE_HEADER: &str = "Wechatpay-Signature";
pub const TIMESTAMP_HEADER: &str = "Wechatpay-Timestamp";
pub const NONCE_HEADER: &str = "Wechatpay-Nonce";
pub const SIGNATURE_TYPE_HEADER: &str = "Wechatpay-Signature-Type";
/// Longer header values than this are refused without a look (real ones are ~400 bytes).
const AUTHORIZATION_CHARS_MAX: usize = 4096;

/// The message a request's signature covers.
pub fn request_message(method: &str, url: &str, timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{method}\n{url}\n{timestamp}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// The message an answer's (or a notification's) signature covers.
pub fn answer_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// The parts of an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub mchid: String,
    pub nonce_str: String,
    pub signature: String,
    pub timestamp: String,
    pub serial_no: String,
}

/// Why a request's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignFailure {
    #[error("the Authorization header is missing")]
    Missing,
    #[error(
        "the Authorization header is not `WECHATPAY2-SHA256-RSA2048 mchid=\"…\",nonce_str=\"…\",signature=\"…\",timestamp=\"…\",serial_no=\"…\"`"
    )]
    Malformed,
    #[error("mchid names no merchant registered here")]
    UnknownMerchant,
    #[error("serial_no is not the serial of the merchant's registered key")]
    WrongSerial,
    #[error("timestamp is more than 5 minutes from the server's time")]
    StaleTimestamp,
    #[error("the signature does not verify with the merchant's key")]
    BadSignature,
}

impl Authorization {
    /// Reads `WECHATPAY2-SHA256-RSA2048 k="v",…`: every one of the five
    /// parts once (quotes optional, spaces after commas allowed, other
    /// parts ignored), none empty.
    pub fn parse(header: &str) -> Result<Authorization, SignFailure> {
        if header.len() > AUTHORIZATION_CHARS_MAX {
            return Err(SignFailure::Malformed);
        }
        let parts = header.strip_prefix(SCHEMA).filter(|rest| rest.starts_with(' ')).ok_or(SignFailure::Malformed)?;
        let mut found: [Option<&str>; 5] = [None; 5];
        const NAMES: [&str; 5] = ["mchid", "nonce_str", "signature", "timestamp", "serial_no"];
        for part in parts.split(',') {
            let (name, value) = part.trim().split_once('=').ok_or(SignFailure::Malformed)?;
            let value = match value.strip_prefix('"') {
                Some(quoted) => quoted.strip_suffix('"').ok_or(SignFailure::Malformed)?,
                None => value,
            };
            if let Some(at) = NAMES.iter().position(|known| *known == name.trim()) {
                if found[at].is_some() || value.is_empty() || value.contains('"') {
                    return Err(SignFailure::Malformed);
                }
                found[at] = Some(value);
            }
        }
        let [Some(mchid), Some(nonce_str), Some(signature), Some(timestamp), Some(serial_no)] = found else {
            return Err(SignFailure::Malformed);
        };
        Ok(Authorization {
            mchid: mchid.to_owned(),
            nonce_str: nonce_str.to_owned(),
            signature: signature.to_owned(),
            timestamp: timestamp.to_owned(),
            serial_no: serial_no.to_owned(),
        })
    }

    /// The header value, in the order and quoting the official SDKs send.
    pub fn header(&self) -> String {
        format!(
            "{SCHEMA} mchid=\"{}\",nonce_str=\"{}\",signature=\"{}\",timestamp=\"{}\",serial_no=\"{}\"",
            self.mchid, self.nonce_str, self.signature, self.timestamp, self.serial_no
        )
    }
}

/// What a merchant signs a request with.
#[derive(Debug, Clone)]
pub struct MerchantKey {
    pub mchid: String,
    /// The serial number of the merchant's certificate (API key).
    pub serial_no: String,
    pub private_key: PrivateKey,
}

/// A request to sign or verify: method, URL (path and query, as the host
/// of the API would see it) and body.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub body: &'a [u8],
}

impl MerchantKey {
    /// The `Authorization` of `request`, signed at `timestamp` (Unix seconds) with `nonce`.
    pub fn authorize(&self, request: Request<'_>, timestamp: i64, nonce: &str) -> Authorization {
        let timestamp = timestamp.to_string();
        let message = request_message(request.method, request.url, &timestamp, nonce, request.body);
        Authorization {
            mchid: self.mchid.clone(),
            nonce_str: nonce.to_owned(),
            signature: rsa2::sign_bytes(&self.private_key, &message),
            timestamp,
            serial_no: self.serial_no.clone(),
        }
    }
}

/// A merchant as WeChat Pay has it registered: the key it verifies with.
#[derive(Debug, Clone)]
pub struct RegisteredMerchant {
    pub mchid: String,
    pub serial_no: String,
    pub public_key: PublicKey,
}

impl RegisteredMerchant {
    /// Checks `request`'s `Authorization` header (`None`: missing) at `now`
    /// (Unix seconds, wall clock): the merchant, the key's serial, the
    /// time window, then the signature.
    pub fn verify(&self, authorization: Option<&str>, request: Request<'_>, now: i64) -> Result<(), SignFailure> {
        let authorization = Authorization::parse(authorization.ok_or(SignFailure::Missing)?)?;
        if authorization.mchid != self.mchid {
            return Err(SignFailure::UnknownMerchant);
        }
        if authorization.serial_no != self.serial_no {
            return Err(SignFailure::WrongSerial);
        }
        if !within_window(&authorization.timestamp, now) {
            return Err(SignFailure::StaleTimestamp);
        }
        let message = request_message(
            request.method,
            request.url,
            &authorization.timestamp,
            &authorization.nonce_str,
            request.body,
        );
        match rsa2::verify_bytes(&self.public_key, &message, &authorization.signature) {
            true => Ok(()),
            false => Err(SignFailure::BadSignature),
        }
    }
}

/// Whether `timestamp` (decimal Unix seconds) is within the window around `now`.
fn within_window(timestamp: &str, now: i64) -> bool {
    let digits = !timestamp.is_empty() && timestamp.len() <= 12 && timestamp.bytes().all(|b| b.is_ascii_digit());
    digits && timestamp.parse::<i64>().is_ok_and(|at| at.abs_diff(now) <= TIME_WINDOW_SECS as u64)
}

/// The signature headers of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerSignature {
    /// The platform key's id (`PUB_KEY_ID_…`), sent as `Wechatpay-Serial`.
    pub serial: String,
    pub signature: String,
    pub timestamp: String,
    pub nonce: String,
}

impl AnswerSignature {
    /// The four signature headers as `header` reads them from a message of
    /// any HTTP library (an answer walletgate got, a notification it was
    /// sent); `None` unless all four are there.
    pub fn from_headers(header: impl Fn(&str) -> Option<String>) -> Option<AnswerSignature> {
        Some(AnswerSignature {
            serial: header(SERIAL_HEADER)?,
            signature: header(SIGNATURE_HEADER)?,
            timestamp: header(TIMESTAMP_HEADER)?,
            nonce: header(NONCE_HEADER)?,
        })
    }
}

/// The platform's key, signing answers (WeChat Pay's public-key mode).
#[derive(Debug, Clone)]
pub struct PlatformKey {
    pub key_id: String,
    pub private_key: PrivateKey,
}

impl PlatformKey {
    /// The signature headers of an answer with `body`, at `timestamp` with `nonce`.
    pub fn sign_answer(&self, body: &[u8], timestamp: i64, nonce: &str) -> AnswerSignature {
        let timestamp = timestamp.to_string();
        let signature = rsa2::sign_bytes(&self.private_key, &answer_message(&timestamp, nonce, body));
        AnswerSignature { serial: self.key_id.clone(), signature, timestamp, nonce: nonce.to_owned() }
    }
}

/// Why an answer's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AnswerFailure {
    #[error("the answer carries no Wechatpay-Signature")]
    Unsigned,
    #[error("Wechatpay-Serial names a key other than the platform key configured")]
    UnknownKey,
    #[error("Wechatpay-Timestamp is more than 5 minutes from this clock")]
    StaleTimestamp,
    #[error("Wechatpay-Signature does not verify with the platform key")]
    BadSignature,
}

/// The platform's public key as a client has it configured.
#[derive(Debug, Clone)]
pub struct PlatformPublicKey {
    pub key_id: String,
    pub public_key: PublicKey,
}

impl PlatformPublicKey {
    /// Checks an answer's signature headers (`None`: the answer has none) at `now`.
    pub fn verify_answer(&self, signed: Option<&AnswerSignature>, body: &[u8], now: i64) -> Result<(), AnswerFailure> {
        let signed = signed.ok_or(AnswerFailure::Unsigned)?;
        if signed.serial != self.key_id {
            return Err(AnswerFailure::UnknownKey);
        }
        if !within_window(&signed.timestamp, now) {
            return Err(AnswerFailure::StaleTimestamp);
        }
        let message = answer_message(&signed.timestamp, &signed.nonce, body);
        match rsa2::verify_bytes(&self.public_key, &message, &signed.signature) {
            true => Ok(()),
            false => Err(AnswerFailure::BadSignature),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::rsa2::test_keys;

    const NOW: i64 = 1_772_357_400;
    const BILLS: &str = "/v3/fund-app/mch-transfer/transfer-bills";

    fn merchant_key() -> MerchantKey {
        MerchantKey {
            mchid: "1900000109".into(),
            serial_no: "19EFC2E8E56C4A6A1B8BB48A28E86726824D6608".into(),
            private_key: rsa2::private_key(test_keys::WECHATPAY_MERCHANT_PRIVATE_KEY_PEM).unwrap(),
        }
    }

    fn registered() -> RegisteredMerchant {
        RegisteredMerchant {
            mchid: "1900000109".into(),
            serial_no: "19EFC2E8E56C4A6A1B8BB48A28E86726824D6608".into(),
            public_key: rsa2::public_key(test_keys::WECHATPAY_MERCHANT_PUBLIC_KEY_PEM).unwrap(),
        }
    }

    fn post(body: &[u8]) -> Request<'_> {
        Request { method: "POST", url: BILLS, body }
    }

    #[test]
    fn the_messages_end_every_line_with_a_newline_and_a_get_signs_an_empty_body() {
        assert_eq!(
            request_message("GET", "/v3/certificates?x=1", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", b""),
            b"GET\n/v3/certificates?x=1\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n".to_vec()
        );
        assert_eq!(
            answer_message("1554209980", "c5ac7061fccab6bf3e254dcf98995b8c", b"{\"a\":1}"),
            b"1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{\"a\":1}\n".to_vec()
        );
    }

    #[test]
    fn the_header_reads_back_what_it_writes_and_tolerates_spaces_and_bare_values() {
        let authorization = merchant_key().authorize(post(b"{}"), NOW, "NONCE1");
        assert_eq!(Authorization::parse(&authorization.header()), Ok(authorization.clone()));
        let spaced = format!(
            "{SCHEMA} serial_no={}, timestamp=\"{NOW}\", mchid=\"1900000109\", extra=\"x\", nonce_str=\"NONCE1\", signature=\"{}\"",
            authorization.serial_no, authorization.signature
        );
        assert_eq!(Authorization::parse(&spaced), Ok(authorization));
    }

    #[test]
    fn headers_missing_a_part_repeating_one_or_of_another_schema_are_malformed() {
        let good = merchant_key().authorize(post(b""), NOW, "N").header();
        for bad in [
            String::new(),
            "Bearer abc".to_owned(),
            good.replace(SCHEMA, "WECHATPAY2-SHA256-RSA"),
            good.replace(",serial_no=", ",serial="),
            format!("{good},mchid=\"1900000109\""),
            good.replace("nonce_str=\"N\"", "nonce_str=\"\""),
            good.replace("mchid=\"1900000109\"", "mchid=\"1900000109"),
            SCHEMA.to_owned(),
            good.replacen(' ', "", 1),
        ] {
            assert_eq!(Authorization::parse(&bad), Err(SignFailure::Malformed), "{bad}");
        }
    }

    #[test]
    fn a_request_verifies_only_as_signed_by_the_registered_merchant_in_the_window() {
        let key = merchant_key();
        let signed = |body: &[u8], at: i64| key.authorize(post(body), at, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS").header();
        let merchant = registered();
        let body = br#"{"out_bill_no":"A1","transfer_amount":100}"#;
        assert_eq!(merchant.verify(Some(signed(body, NOW).as_str()), post(body), NOW), Ok(()));
        assert_eq!(merchant.verify(Some(signed(body, NOW - 300).as_str()), post(body), NOW), Ok(()));
        assert_eq!(
            merchant.verify(Some(signed(body, NOW - 301).as_str()), post(body), NOW),
            Err(SignFailure::StaleTimestamp)
        );
        assert_eq!(
            merchant.verify(Some(signed(body, NOW + 301).as_str()), post(body), NOW),
            Err(SignFailure::StaleTimestamp)
        );
        assert_eq!(merchant.verify(None, post(body), NOW), Err(SignFailure::Missing));
        let tampered = br#"{"out_bill_no":"A1","transfer_amount":900}"#;
        assert_eq!(
            merchant.verify(Some(signed(body, NOW).as_str()), post(tampered), NOW),
            Err(SignFailure::BadSignature)
        );
        let elsewhere = Request { method: "POST", url: "/v3/other", body };
        assert_eq!(merchant.verify(Some(signed(body, NOW).as_str()), elsewhere, NOW), Err(SignFailure::BadSignature));
        let other_serial = signed(body, NOW).replace(&key.serial_no, "0000000000000000000000000000000000000000");
        assert_eq!(merchant.verify(Some(other_serial.as_str()), post(body), NOW), Err(SignFailure::WrongSerial));
        let other_mchid = signed(body, NOW).replace("1900000109", "1900000110");
        assert_eq!(merchant.verify(Some(other_mchid.as_str()), post(body), NOW), Err(SignFailure::UnknownMerchant));
        let other_key = MerchantKey {
            private_key: rsa2::private_key(test_keys::WECHATPAY_PLATFORM_PRIVATE_KEY_PEM).unwrap(),
            ..key.clone()
        };
        let forged = other_key.authorize(post(body), NOW, "N").header();
        assert_eq!(merchant.verify(Some(forged.as_str()), post(body), NOW), Err(SignFailure::BadSignature));
    }

    #[test]
    fn an_answer_verifies_with_the_platform_public_key_only() {
        let platform = PlatformKey {
            key_id: "PUB_KEY_ID_0119000000012026030100000000000001".into(),
            private_key: rsa2::private_key(test_keys::WECHATPAY_PLATFORM_PRIVATE_KEY_PEM).unwrap(),
        };
        let client = PlatformPublicKey {
            key_id: platform.key_id.clone(),
            public_key: rsa2::public_key(test_keys::WECHATPAY_PLATFORM_PUBLIC_KEY_PEM).unwrap(),
        };
        let body = br#"{"code":"SIGN_ERROR","message":"x"}"#;
        let signed = platform.sign_answer(body, NOW, "c5ac7061fccab6bf3e254dcf98995b8c");
        assert_eq!(client.verify_answer(Some(&signed), body, NOW + 10), Ok(()));
        assert_eq!(client.verify_answer(Some(&signed), b"{}", NOW), Err(AnswerFailure::BadSignature));
        assert_eq!(client.verify_answer(Some(&signed), body, NOW + 301), Err(AnswerFailure::StaleTimestamp));
        assert_eq!(client.verify_answer(None, body, NOW), Err(AnswerFailure::Unsigned));
        let renamed = AnswerSignature { serial: "PUB_KEY_ID_OTHER".into(), ..signed.clone() };
        assert_eq!(client.verify_answer(Some(&renamed), body, NOW), Err(AnswerFailure::UnknownKey));
        let wrong_key = PlatformPublicKey {
            public_key: rsa2::public_key(test_keys::WECHATPAY_MERCHANT_PUBLIC_KEY_PEM).unwrap(),
            ..client
        };
        assert_eq!(wrong_key.verify_answer(Some(&signed), body, NOW), Err(AnswerFailure::BadSignature));
    }

    proptest! {
        #[test]
        fn parsing_any_header_never_panics(header in ".{0,300}") {
            let _ = Authorization::parse(&header);
            let _ = Authorization::parse(&format!("{SCHEMA} {header}"));
        }

        #[test]
        fn any_well_formed_header_reads_back(
            mchid in "[0-9]{1,12}", nonce in "[A-Za-z0-9]{1,32}", signature in "[A-Za-z0-9+/=]{1,80}",
            timestamp in "[0-9]{1,12}", serial in "[0-9A-F]{1,40}",
        ) {
            let authorization = Authorization { mchid, nonce_str: nonce, signature, timestamp, serial_no: serial };
            prop_assert_eq!(Authorization::parse(&authorization.header()), Ok(authorization));
        }

        #[test]
        fn verifying_any_header_never_panics(header in ".{0,300}", now in any::<i64>()) {
            let _ = registered().verify(Some(format!("{SCHEMA} {header}").as_str()), post(b""), now);
        }
    }
}
