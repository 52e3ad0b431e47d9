//! Alipay's user authorization on the mock: the `publicAppAuthorize.htm`
//! step (its checks, the consent form, silent `auth_base`), single-use
//! `auth_code`s, `alipay.system.oauth.token` (exchange and refresh, with
//! `isv.code-invalid`, `isv.refresh-token-invalid`, …) and
//! `alipay.user.info.share`.

#[allow(unused_imports)]
use super::*;

use url::Url;

use super::super::protocol::{GatewayCode, beijing_time};

const STATE_CHARS_MAX: usize = 100;
const CODE_HEX_CHARS: usize = 32;
/// Longer codes or tokens than this cannot be the mock's: refused without a lookup.
const CREDENTIAL_CHARS_MAX: usize = 128;
const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
const GRANT_REFRESH_TOKEN: &str = "refresh_token";
/// Where the mock's consent page is served.
pub const AUTHORIZE_PATH: &str = "/mock/alipay/oauth2/publicAppAuthorize.htm";
/// The real consent page (a sandbox's is on `openauth-sandbox.dl.alipaydev.com`).
pub const REAL_AUTHORIZE_URL: &str = "https://openauth.alipay.com/oauth2/publicAppAuthorize.htm";
/// Where the callback is told the user came from.
pub const SOURCE: &str = "alipay_wallet";

/// The two authorization scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlipayScope {
    /// Silent: yields the user's id only.
    AuthBase,
    /// Consent page; allows `alipay.user.info.share`.
    AuthUser,
}

impl AlipayScope {
    pub fn as_str(self) -> &'static str {
        match self {
            AlipayScope::AuthBase => "auth_base",
            AlipayScope::AuthUser => "auth_user",
        }
    }
}

/// The authorize step's parameters as received (missing = empty).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({
    "app_id": "2021004100000001", "scope": "auth_user",
    "redirect_uri": "http://127.0.0.1:8080/v1/bindings/alipay/callback", "state": "4f1c2a9b7e3d"
}))]
pub struct AlipayAuthorizeParams {
    /// The app's id.
    pub app_id: String,
    /// `auth_user` (consent page) or `auth_base` (silent); a comma-separated list takes the widest.
    pub scope: String,
    /// Where to send the browser; its host must be a callback domain.
    pub redirect_uri: String,
    /// Echoed back to `redirect_uri`; optional, up to 100 visible ASCII characters.
    pub state: String,
}

/// `GET /oauth2/publicAppAuthorize.htm`; other parameters are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AlipayAuthorizeQuery {
    #[serde(flatten)]
    pub params: AlipayAuthorizeParams,
    /// Mock only: which existing user a silent `auth_base` authorization is for.
    #[serde(default)]
    pub user_id: String,
}

/// `POST /oauth2/publicAppAuthorize.htm`: the consent form. Checkbox fields
/// count as ticked unless empty, `0`, `false` or `off`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "app_id": "2021004100000001", "scope": "auth_user",
    "redirect_uri": "http://127.0.0.1:8080/v1/bindings/alipay/callback", "state": "4f1c2a9b7e3d",
    "action": "allow", "nick_name": "小明", "real_name": "张三"
}))]
pub struct AlipayConsentForm {
    #[serde(flatten)]
    pub params: AlipayAuthorizeParams,
    /// `allow` or `deny`.
    #[serde(default)]
    pub action: String,
    /// An existing user of the app…
    #[serde(default)]
    pub user_id: String,
    /// …or a new one: its nickname, certified name, logon id (optional) and test switches.
    #[serde(default)]
    pub nick_name: String,
    #[serde(default)]
    pub real_name: String,
    #[serde(default)]
    pub logon_id: String,
    /// A new user is not real-name verified (`on`).
    #[serde(default)]
    pub unverified: String,
    /// A new user's account is frozen (`on`).
    #[serde(default)]
    pub frozen: String,
    /// A new user's identity information is abnormal (`on`).
    #[serde(default)]
    pub info_abnormal: String,
}

fn is_ticked(value: &str) -> bool {
    !matches!(value, "" | "0" | "false" | "off")
}

/// Who a consent is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlipayUserChoice {
    Existing(String),
    New(NewAlipayUser),
}

impl AlipayConsentForm {
    /// A `user_id` picks an existing user, else `nick_name` and `real_name` create one.
    pub fn user_choice(&self) -> Result<AlipayUserChoice, AuthorizeError> {
        if !self.user_id.is_empty() {
            return Ok(AlipayUserChoice::Existing(self.user_id.clone()));
        }
        if self.nick_name.is_empty() {
            return Err(AuthorizeError::new(
                "missing-user",
                "choose a mock user (user_id) or name a new one (nick_name)",
            ));
        }
        let real_name = if self.real_name.is_empty() { &self.nick_name } else { &self.real_name };
        let logon_id = Some(self.logon_id.as_str()).filter(|id| !id.is_empty());
        let flags = AlipayUserFlags {
            unverified: is_ticked(&self.unverified),
            frozen: is_ticked(&self.frozen),
            info_abnormal: is_ticked(&self.info_abnormal),
        };
        NewAlipayUser::new(&self.nick_name, real_name, logon_id, flags)
            .map(AlipayUserChoice::New)
            .map_err(|e| AuthorizeError::new("invalid-parameter", &e.to_string()))
    }
}

/// An authorize request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipayAuthorizeRequest {
    pub app_id: String,
    pub scope: AlipayScope,
    /// The scope as asked for, echoed to the callback.
    pub scope_text: String,
    pub redirect_uri: Url,
    pub state: String,
}

impl AlipayAuthorizeRequest {
    /// `redirect_uri?app_id&source&scope&auth_code&state` (keeping the app's
    /// own query); a denial carries no `auth_code`.
    pub fn redirect_to(&self, auth_code: Option<&str>) -> Url {
        let mut target = self.redirect_uri.clone();
        {
            let mut query = target.query_pairs_mut();
            query
                .append_pair("app_id", &self.app_id)
                .append_pair("source", SOURCE)
                .append_pair("scope", &self.scope_text);
            if let Some(code) = auth_code {
                query.append_pair("auth_code", code);
            }
            if !self.state.is_empty() {
                query.append_pair("state", &self.state);
            }
        }
        target
    }
}

/// The authorize step's error, shown on Alipay's error page as "错误代码 … 错误原因 …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AuthorizeError {
    pub code: String,
    pub message: String,
}

impl AuthorizeError {
    pub fn new(code: &str, message: &str) -> AuthorizeError {
        AuthorizeError { code: code.to_owned(), message: message.to_owned() }
    }

    /// The mock itself failed (its store), not the request.
    pub fn is_system_error(&self) -> bool {
        self.code == "system-error"
    }
}

fn page_busy(error: impl std::fmt::Display) -> AuthorizeError {
    tracing::warn!(%error, "mock Alipay store failure");
    AuthorizeError::new("system-error", "系统繁忙，请稍后再试 (the mock's store is unavailable)")
}

/// Checks the authorize parameters against the registered app.
pub fn check_authorize(
    params: &AlipayAuthorizeParams,
    app_id: &str,
    callback_domains: &[String],
) -> Result<AlipayAuthorizeRequest, AuthorizeError> {
    if params.app_id.is_empty() {
        return Err(AuthorizeError::new("missing-app-id", "缺少app_id参数 (app_id is missing)"));
    }
    if params.app_id != app_id {
        return Err(AuthorizeError::new("invalid-app-id", "无效的app_id (no such app)"));
    }
    let scopes: Vec<&str> = params.scope.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if scopes.is_empty() || scopes.iter().any(|scope| !matches!(*scope, "auth_base" | "auth_user")) {
        return Err(AuthorizeError::new("invalid-scope", "scope参数错误 (scope must be auth_base or auth_user)"));
    }
    let scope = if scopes.contains(&"auth_user") { AlipayScope::AuthUser } else { AlipayScope::AuthBase };
    let redirect_uri = check_redirect_uri(&params.redirect_uri, callback_domains)?;
    let state_ok = params.state.len() <= STATE_CHARS_MAX && params.state.chars().all(|c| c.is_ascii_graphic());
    if !state_ok {
        return Err(AuthorizeError::new("invalid-state", "state参数错误 (at most 100 visible ASCII characters)"));
    }
    Ok(AlipayAuthorizeRequest {
        app_id: params.app_id.clone(),
        scope,
        scope_text: params.scope.clone(),
        redirect_uri,
        state: params.state.clone(),
    })
}

fn check_redirect_uri(redirect_uri: &str, callback_domains: &[String]) -> Result<Url, AuthorizeError> {
    if redirect_uri.is_empty() {
        return Err(AuthorizeError::new("missing-redirect-uri", "缺少redirect_uri参数 (redirect_uri is missing)"));
    }
    let mismatch = || {
        AuthorizeError::new(
            "invalid-redirect-uri",
            "redirect_uri与应用授权回调地址不一致 (not an http(s) URL on a configured callback domain)",
        )
    };
    let url = Url::parse(redirect_uri).map_err(|_| mismatch())?;
    let host = url.host_str().unwrap_or("");
    let allowed = matches!(url.scheme(), "http" | "https")
        && callback_domains.iter().any(|domain| domain.eq_ignore_ascii_case(host));
    if allowed { Ok(url) } else { Err(mismatch()) }
}

/// What the browser sees after a good authorize request.
#[derive(Debug, Clone)]
pub enum AlipayAuthorizeStep {
    /// `auth_user`: ask the user, offering the app's existing users.
    Consent { request: AlipayAuthorizeRequest, users: Vec<MockAlipayUser> },
    /// `auth_base`: silent, straight back with an `auth_code`.
    Redirect(Url),
}

/// What a code or token grants, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Grant {
    app_id: String,
    user_id: String,
    scope: AlipayScope,
    /// When the user authorized (a refresh keeps it).
    auth_start: DateTime<Utc>,
}

/// A code or token as stored: its grant and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Issued {
    grant: Grant,
    expires_at: DateTime<Utc>,
}

/// `alipay_system_oauth_token_response` on success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlipayOAuthToken {
    /// The user's `2088…` id, for apps configured with `id_type = "user_id"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The user's id within the app, for apps configured with `id_type = "open_id"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_id: Option<String>,
    pub access_token: String,
    /// Seconds the access token lives (1296000: 15 days).
    pub expires_in: u64,
    pub refresh_token: String,
    /// Seconds the refresh token lives (2592000: 30 days).
    pub re_expires_in: u64,
    /// When the user authorized, Beijing time.
    pub auth_start: String,
}

/// `alipay_user_info_share_response` on success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlipayUserInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_id: Option<String>,
    pub avatar: String,
    pub nick_name: String,
    pub province: String,
    pub city: String,
    /// `F`, `M` or empty.
    pub gender: String,
    /// `T` real-name verified, `F` not.
    pub is_certified: String,
    /// The certified real name (a person's name, a company's for a company
    /// account), as Alipay names the field; meaningful only when
    /// `is_certified` is `T`. A transfer's `payee_info.name` is checked against it.
    pub user_name: String,
    /// `2`: a personal account.
    pub user_type: String,
    /// `T` normal, `B` frozen.
    pub user_status: String,
    pub is_student_certified: String,
}

fn code_key(code: &str) -> String {
    format!("alipay:auth_code:{code}")
}

fn access_token_key(token: &str) -> String {
    format!("alipay:access_token:{token}")
}

fn refresh_token_key(token: &str) -> String {
    format!("alipay:refresh_token:{token}")
}

/// `authusrB` and 32 hex digits and a short suffix, as Alipay's tokens look.
fn new_token() -> String {
    format!("authusrB{}{}", random_chars(b"0123456789abcdef", 32), random_chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1))
        + &random_digits(2)
}

fn code_invalid() -> Failure {
    Failure::new(GatewayCode::InvalidArguments, "isv.code-invalid", "授权码code无效")
}

impl MockAlipay {
    pub fn check_authorize(&self, params: &AlipayAuthorizeParams) -> Result<AlipayAuthorizeRequest, AuthorizeError> {
        check_authorize(params, &self.settings.app_id, &self.settings.callback_domains)
    }

    /// `GET publicAppAuthorize.htm`: the consent page, or for `auth_base` a
    /// silent redirect with an `auth_code`.
    pub async fn authorize(&self, query: &AlipayAuthorizeQuery) -> Result<AlipayAuthorizeStep, AuthorizeError> {
        let request = self.check_authorize(&query.params)?;
        match request.scope {
            AlipayScope::AuthUser => {
                let users = self.list_users(CONSENT_USERS_MAX).await.map_err(page_busy)?;
                Ok(AlipayAuthorizeStep::Consent { request, users })
            }
            AlipayScope::AuthBase => {
                let user_id = match self.app_user(&query.user_id).await? {
                    Some(user) => user.user_id,
                    None => self.new_consenting_user(&NewAlipayUser::anonymous()).await?,
                };
                let code = self.issue_code(&request, &user_id).await.map_err(page_busy)?;
                Ok(AlipayAuthorizeStep::Redirect(request.redirect_to(Some(&code))))
            }
        }
    }

    /// `POST publicAppAuthorize.htm`: back to the app with an `auth_code`
    /// (allowed) or without (denied).
    pub async fn consent(&self, form: &AlipayConsentForm) -> Result<Url, AuthorizeError> {
        let request = self.check_authorize(&form.params)?;
        match form.action.as_str() {
            "deny" => Ok(request.redirect_to(None)),
            "allow" => {
                let user_id = match form.user_choice()? {
                    AlipayUserChoice::Existing(user_id) => {
                        self.app_user(&user_id)
                            .await?
                            .ok_or_else(|| AuthorizeError::new("invalid-user", "no such mock Alipay user of this app"))?
                            .user_id
                    }
                    AlipayUserChoice::New(new) => self.new_consenting_user(&new).await?,
                };
                let code = self.issue_code(&request, &user_id).await.map_err(page_busy)?;
                Ok(request.redirect_to(Some(&code)))
            }
            _ => Err(AuthorizeError::new("invalid-parameter", "action must be allow or deny")),
        }
    }

    async fn app_user(&self, user_id: &str) -> Result<Option<MockAlipayUser>, AuthorizeError> {
        let found = self.load_user(user_id).await.map_err(page_busy)?;
        Ok(found.map(|found| found.value).filter(|user| user.app_id == self.settings.app_id))
    }

    async fn new_consenting_user(&self, new: &NewAlipayUser) -> Result<String, AuthorizeError> {
        match self.create_user(new).await {
            Ok(user) => Ok(user.user_id),
            Err(UserWriteError::LogonIdTaken) => {
                Err(AuthorizeError::new("invalid-parameter", "logon_id belongs to another mock Alipay user"))
            }
            Err(error) => Err(page_busy(error)),
        }
    }

    async fn issue_code(&self, request: &AlipayAuthorizeRequest, user_id: &str) -> Result<String, Failure> {
        let code = random_chars(b"0123456789abcdef", CODE_HEX_CHARS);
        let now = self.clock.now();
        let grant = Grant {
            app_id: request.app_id.clone(),
            user_id: user_id.to_owned(),
            scope: request.scope,
            auth_start: now,
        };
        let ttl = self.settings.auth_code_ttl_secs;
        self.put(&code_key(&code), &Issued { grant, expires_at: after_secs(now, ttl) }, ttl).await?;
        Ok(code)
    }

    /// `alipay.system.oauth.token`: `grant_type` `authorization_code` with a
    /// single-use `code`, or `refresh_token` with a refresh token (also
    /// single-use: the answer carries the next one).
    pub async fn oauth_token(
        &self,
        grant_type: &str,
        code: &str,
        refresh_token: &str,
    ) -> Result<AlipayOAuthToken, Failure> {
        let now = self.clock.now();
        let grant = match grant_type {
            GRANT_AUTHORIZATION_CODE => {
                let found = self.take_issued(&code_key(code), code).await?.ok_or_else(code_invalid)?;
                if found.grant.app_id != self.settings.app_id || now >= found.expires_at {
                    return Err(code_invalid());
                }
                found.grant
            }
            GRANT_REFRESH_TOKEN => {
                let invalid = || {
                    Failure::new(
                        GatewayCode::InvalidArguments,
                        "isv.refresh-token-invalid",
                        "刷新令牌refresh_token无效",
                    )
                };
                let found =
                    self.take_issued(&refresh_token_key(refresh_token), refresh_token).await?.ok_or_else(invalid)?;
                if found.grant.app_id != self.settings.app_id {
                    return Err(Failure::new(GatewayCode::InvalidArguments, "isv.unmatched-app-id", "应用ID不匹配"));
                }
                if now >= found.expires_at {
                    return Err(Failure::new(
                        GatewayCode::InvalidArguments,
                        "isv.refresh-token-time-out",
                        "刷新令牌refresh_token已过期",
                    ));
                }
                found.grant
            }
            _ => {
                return Err(Failure::new(
                    GatewayCode::InvalidArguments,
                    "isv.grant-type-invalid",
                    "grant_type参数不正确",
                ));
            }
        };
        self.issue_tokens(grant, now).await
    }

    /// Takes a code or refresh token once (of concurrent takers, one gets it).
    async fn take_issued(&self, key: &str, credential: &str) -> Result<Option<Issued>, Failure> {
        if credential.is_empty() || credential.len() > CREDENTIAL_CHARS_MAX {
            return Ok(None);
        }
        self.store.take_ephemeral_as::<Issued>(key).await.map_err(unavailable)
    }

    async fn issue_tokens(&self, grant: Grant, now: DateTime<Utc>) -> Result<AlipayOAuthToken, Failure> {
        let (access_secs, refresh_secs) = (self.settings.access_token_ttl_secs, self.settings.refresh_token_ttl_secs);
        let (access_token, refresh_token) = (new_token(), new_token());
        let access = Issued { grant: grant.clone(), expires_at: after_secs(now, access_secs) };
        self.put(&access_token_key(&access_token), &access, access_secs).await?;
        let refresh = Issued { grant: grant.clone(), expires_at: after_secs(now, refresh_secs) };
        self.put(&refresh_token_key(&refresh_token), &refresh, refresh_secs).await?;
        let (user_id, open_id) = self.user_ids(&grant.user_id).await?;
        Ok(AlipayOAuthToken {
            user_id,
            open_id,
            access_token,
            expires_in: access_secs,
            refresh_token,
            re_expires_in: refresh_secs,
            auth_start: beijing_time(grant.auth_start),
        })
    }

    /// The user's ids as the app is configured to see them: one of the two.
    async fn user_ids(&self, user_id: &str) -> Result<(Option<String>, Option<String>), Failure> {
        match self.id_type() {
            AlipayIdType::UserId => Ok((Some(user_id.to_owned()), None)),
            AlipayIdType::OpenId => {
                let user = self.load_user(user_id).await.map_err(unavailable)?;
                let open_id = user.map(|found| found.value.open_id).unwrap_or_default();
                Ok((None, Some(open_id)))
            }
        }
    }

    /// `alipay.user.info.share` with the user's `auth_token`: the profile,
    /// for `auth_user` tokens only.
    pub async fn user_info(&self, auth_token: &str) -> Result<AlipayUserInfo, Failure> {
        let invalid = || Failure::new(GatewayCode::InsufficientToken, "aop.invalid-auth-token", "无效的访问令牌");
        if auth_token.is_empty() || auth_token.len() > CREDENTIAL_CHARS_MAX {
            return Err(invalid());
        }
        let found = self.store.get_ephemeral_as::<Issued>(&access_token_key(auth_token)).await.map_err(unavailable)?;
        let access = found.filter(|access| access.grant.app_id == self.settings.app_id).ok_or_else(invalid)?;
        if self.clock.now() >= access.expires_at {
            return Err(Failure::new(GatewayCode::InsufficientToken, "aop.auth-token-time-out", "访问令牌已过期"));
        }
        if access.grant.scope != AlipayScope::AuthUser {
            return Err(Failure::new(
                GatewayCode::InsufficientPermissions,
                "isv.insufficient-user-permissions",
                "用户未授权auth_user",
            ));
        }
        let user = self.load_user(&access.grant.user_id).await.map_err(unavailable)?.ok_or_else(invalid)?.value;
        let (user_id, open_id) = match self.id_type() {
            AlipayIdType::UserId => (Some(user.user_id), None),
            AlipayIdType::OpenId => (None, Some(user.open_id)),
        };
        let flag = |on: bool| if on { "T" } else { "F" }.to_owned();
        Ok(AlipayUserInfo {
            user_id,
            open_id,
            avatar: user.avatar,
            nick_name: user.nick_name,
            province: user.province,
            city: user.city,
            gender: user.gender,
            is_certified: flag(user.real_name_verified),
            user_name: user.real_name,
            user_type: "2".to_owned(),
            user_status: if user.frozen { "B" } else { "T" }.to_owned(),
            is_student_certified: flag(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_ID: &str = "2021004100000001";

    fn check(changes: &[(&str, &str)]) -> Result<AlipayAuthorizeRequest, String> {
        let mut params = AlipayAuthorizeParams {
            app_id: APP_ID.into(),
            scope: "auth_user".into(),
            redirect_uri: "https://app.example.com/cb?x=1".into(),
            state: "abc123".into(),
        };
        for (name, value) in changes {
            let field = match *name {
                "app_id" => &mut params.app_id,
                "scope" => &mut params.scope,
                "redirect_uri" => &mut params.redirect_uri,
                "state" => &mut params.state,
                other => panic!("no field {other}"),
            };
            *field = (*value).to_owned();
        }
        check_authorize(&params, APP_ID, &["app.example.com".to_owned()]).map_err(|e| e.code)
    }

    #[test]
    fn authorize_checks_name_what_is_wrong() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("app_id", "")], "missing-app-id"),
            (&[("app_id", "2021000000000000")], "invalid-app-id"),
            (&[("scope", "")], "invalid-scope"),
            (&[("scope", "auth_user,auth_zhima")], "invalid-scope"),
            (&[("redirect_uri", "")], "missing-redirect-uri"),
            (&[("redirect_uri", "https://evil.example.com/cb")], "invalid-redirect-uri"),
            (&[("redirect_uri", "ftp://app.example.com/cb")], "invalid-redirect-uri"),
            (&[("state", "a b")], "invalid-state"),
            (&[("state", &"a".repeat(101))], "invalid-state"),
        ];
        for (changes, code) in cases {
            assert_eq!(check(changes).err().as_deref(), Some(*code), "{changes:?}");
        }
        assert_eq!(check(&[("scope", "auth_base,auth_user")]).unwrap().scope, AlipayScope::AuthUser);
        assert_eq!(check(&[("scope", "auth_base")]).unwrap().scope, AlipayScope::AuthBase);
        assert!(check(&[("state", "")]).is_ok(), "state is optional");
    }

    #[test]
    fn the_callback_carries_app_id_source_scope_code_and_state() {
        let request = check(&[]).unwrap();
        assert_eq!(
            request.redirect_to(Some("c0de")).as_str(),
            "https://app.example.com/cb?x=1&app_id=2021004100000001&source=alipay_wallet&scope=auth_user&auth_code=c0de&state=abc123"
        );
        let denied = check(&[("state", "")]).unwrap().redirect_to(None);
        assert_eq!(
            denied.as_str(),
            "https://app.example.com/cb?x=1&app_id=2021004100000001&source=alipay_wallet&scope=auth_user"
        );
    }

    #[test]
    fn consent_forms_pick_or_create_a_user_and_tokens_look_like_alipays() {
        let mut form =
            AlipayConsentForm { nick_name: "小明".into(), frozen: "on".into(), ..AlipayConsentForm::default() };
        let AlipayUserChoice::New(new) = form.user_choice().unwrap() else { panic!("expected a new user") };
        assert_eq!(new.flags, AlipayUserFlags { frozen: true, ..AlipayUserFlags::default() });
        form.logon_id = "not a logon id".into();
        assert_eq!(form.user_choice().unwrap_err().code, "invalid-parameter");
        form.user_id = "2088000000000001".into();
        assert_eq!(form.user_choice().unwrap(), AlipayUserChoice::Existing("2088000000000001".into()));
        assert_eq!(AlipayConsentForm::default().user_choice().unwrap_err().code, "missing-user");
        let token = new_token();
        assert!(token.starts_with("authusrB") && token.len() == 8 + 32 + 3, "{token}");
        assert!(is_logon_id("13812345678") && is_logon_id("a.b@example.com"));
        assert!(!is_logon_id("23812345678") && !is_logon_id("1381234567") && !is_logon_id("a@b") && !is_logon_id(""));
    }
}
