//! Secrets out of logged URLs. Some requests carry a secret in their query —
//! the OAuth callback's `code` and `state` (and Alipay's `auth_code`), the
//! event stream's `ticket`, the mock WeChat's `secret` and tokens, the mock
//! Alipay's `auth_token` — and a log is read by more people, and
//! kept longer, than the secret deserves. Every URL written to a log or a
//! span goes through `redact_url`, which keeps each parameter's name and
//! replaces a secret one's value with `[redacted]`.

use std::borrow::Cow;

/// Query parameters whose values never reach a log (compared by their
/// decoded name, ignoring case).
pub const SECRET_QUERY_PARAMETERS: &[&str] = &[
    "code",
    "state",
    "ticket",
    "access_token",
    "refresh_token",
    "token",
    "sms_code",
    "password",
    "secret",
    "auth_code",
    "auth_token",
];

/// What a secret value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// `url` (a request target such as `/path?query`, or a whole URL) with the
/// values of secret query parameters replaced; borrowed when it has none.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let Some((before_query, query)) = url.split_once('?') else { return Cow::Borrowed(url) };
    if !query.split('&').any(|pair| secret_value(pair).is_some()) {
        return Cow::Borrowed(url);
    }
    let mut redacted = String::with_capacity(url.len());
    redacted.push_str(before_query);
    redacted.push('?');
    for (index, pair) in query.split('&').enumerate() {
        if index > 0 {
            redacted.push('&');
        }
        match secret_value(pair) {
            Some(name) => {
                redacted.push_str(name);
                redacted.push('=');
                redacted.push_str(REDACTED);
            }
            None => redacted.push_str(pair),
        }
    }
    Cow::Owned(redacted)
}

/// The name as written of a `name=value` pair whose value is secret.
fn secret_value(pair: &str) -> Option<&str> {
    let (name, _) = pair.split_once('=')?;
    // Decoded as the handlers decode it, so `co%64e` is `code` here too.
    let (decoded, _) = url::form_urlencoded::parse(name.as_bytes()).next()?;
    SECRET_QUERY_PARAMETERS.iter().any(|secret| secret.eq_ignore_ascii_case(&decoded)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn secret_values_are_replaced_and_everything_else_kept() {
        let cases = [
            (
                "/v1/bindings/wechat/callback?code=secret123&state=s",
                "/v1/bindings/wechat/callback?code=[redacted]&state=[redacted]",
            ),
            ("/v1/events?ticket=t0p&x=1", "/v1/events?ticket=[redacted]&x=1"),
            (
                "/sns/oauth2/access_token?appid=wx1&secret=s3&code=c&grant_type=authorization_code",
                "/sns/oauth2/access_token?appid=wx1&secret=[redacted]&code=[redacted]&grant_type=authorization_code",
            ),
            ("/x?co%64e=hidden&CODE=also", "/x?co%64e=[redacted]&CODE=[redacted]"),
            (
                "/mock/alipay/gateway.do?method=alipay.user.info.share&auth_token=authusrB1",
                "/mock/alipay/gateway.do?method=alipay.user.info.share&auth_token=[redacted]",
            ),
            ("/cb?app_id=2021&auth_code=c0de", "/cb?app_id=2021&auth_code=[redacted]"),
            ("/x?code", "/x?code"),
            ("/x?codes=visible&limit=5", "/x?codes=visible&limit=5"),
            ("/v1/wallet", "/v1/wallet"),
            ("https://hooks.example/in?token=abc#frag", "https://hooks.example/in?token=[redacted]"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact_url(url), expected, "{url}");
        }
    }
}
