//! The authorize step: its parameters, the consent form, and the checks that
//! answer with the real error numbers.

#[allow(unused_imports)]
use super::*;

/// The two web-authorization scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Silent: yields only the openid.
    SnsapiBase,
    /// Consent page; allows `sns/userinfo`.
    SnsapiUserinfo,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "snsapi_base" => Some(Scope::SnsapiBase),
            "snsapi_userinfo" => Some(Scope::SnsapiUserinfo),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SnsapiBase => "snsapi_base",
            Scope::SnsapiUserinfo => "snsapi_userinfo",
        }
    }
}

/// The authorize step's parameters as received (missing = empty), unchecked.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({
    "appid": "wx8a3f5c7e2b9d1046", "redirect_uri": "http://127.0.0.1:8080/v1/bindings/wechat/callback",
    "response_type": "code", "scope": "snsapi_userinfo", "state": "4f1c2a9b7e3d"
}))]
pub struct AuthorizeParams {
    /// The app's id.
    pub appid: String,
    /// Where to send the browser; its host must be a callback domain.
    pub redirect_uri: String,
    /// `code` (the form may leave it out).
    pub response_type: String,
    /// `snsapi_userinfo` or `snsapi_base`.
    pub scope: String,
    /// Echoed back to `redirect_uri`.
    pub state: String,
}

/// `GET /connect/oauth2/authorize`. Other parameters (`forcePopup`, …) are
/// ignored, as the real one ignores what it does not know.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeQuery {
    #[serde(flatten)]
    pub params: AuthorizeParams,
    /// Mock-only: which existing user a silent `snsapi_base` authorization is for.
    #[serde(default)]
    pub openid: String,
}

/// `POST /connect/oauth2/authorize`: the consent form. Checkbox fields count
/// as ticked unless empty, `0`, `false` or `off`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "appid": "wx8a3f5c7e2b9d1046", "redirect_uri": "http://127.0.0.1:8080/v1/bindings/wechat/callback",
    "response_type": "code", "scope": "snsapi_userinfo", "state": "4f1c2a9b7e3d", "action": "allow",
    "nickname": "张三丰"
}))]
pub struct ConsentForm {
    #[serde(flatten)]
    pub params: AuthorizeParams,
    /// `allow` or `deny`.
    #[serde(default)]
    pub action: String,
    /// An existing mock user of the app…
    #[serde(default)]
    pub openid: String,
    /// …or the nickname of a new one, with its test switches.
    #[serde(default)]
    pub nickname: String,
    /// A new user's real name, what transfer bills' `user_name` is checked
    /// against (empty: none on record).
    #[serde(default)]
    pub real_name: String,
    /// A new user's wallet is not real-name verified (`on`).
    #[serde(default)]
    pub no_real_name: String,
    /// A new user's wallet is frozen (`on`).
    #[serde(default)]
    pub frozen: String,
    /// A new user is in snapshot mode (`on`).
    #[serde(default)]
    pub snapshot: String,
}

/// Who the consent is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChoice {
    Existing(String),
    New(NewMockUser),
}

impl ConsentForm {
    /// An `openid` picks an existing user, else a `nickname` creates one.
    pub fn user_choice(&self) -> Result<UserChoice, AuthorizeError> {
        if !self.openid.is_empty() {
            return Ok(UserChoice::Existing(self.openid.clone()));
        }
        if self.nickname.is_empty() {
            return Err(AuthorizeError::new(
                MISSING_OPENID,
                "missing openid: choose a mock user (openid) or name a new one (nickname)",
            ));
        }
        let flags = MockUserFlags {
            no_real_name: is_ticked(&self.no_real_name),
            frozen: is_ticked(&self.frozen),
            snapshot: is_ticked(&self.snapshot),
            ..MockUserFlags::default()
        };
        let new = NewMockUser::new(&self.nickname, flags)
            .map_err(|e| AuthorizeError::new(INVALID_ARGS, &format!("invalid args: nickname {e}")))?;
        let new = match self.real_name.trim() {
            "" => new,
            real_name => new
                .with_real_name(real_name)
                .map_err(|e| AuthorizeError::new(INVALID_ARGS, &format!("invalid args: real_name {e}")))?,
        };
        Ok(UserChoice::New(new))
    }

    /// The form carries no `response_type`: it continues an authorize step
    /// that already checked it was `code`.
    pub(super) fn params(&self) -> AuthorizeParams {
        let mut params = self.params.clone();
        if params.response_type.is_empty() {
            params.response_type = "code".to_owned();
        }
        params
    }
}

pub(super) fn is_ticked(value: &str) -> bool {
    !matches!(value, "" | "0" | "false" | "off")
}

/// An authorize request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub appid: String,
    pub redirect_uri: Url,
    pub scope: Scope,
    pub state: String,
}

impl AuthorizeRequest {
    /// `redirect_uri?code=CODE&state=STATE`, keeping any query the app put in
    /// `redirect_uri`; a refusal carries `state` only.
    pub fn redirect_to(&self, code: Option<&str>) -> Url {
        let mut target = self.redirect_uri.clone();
        {
            let mut query = target.query_pairs_mut();
            if let Some(code) = code {
                query.append_pair("code", code);
            }
            query.append_pair("state", &self.state);
        }
        target
    }
}

/// The authorize step's error: WeChat shows the number and text on a page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{errcode}: {message}")]
pub struct AuthorizeError {
    pub errcode: i64,
    pub message: String,
}

impl AuthorizeError {
    pub fn new(errcode: i64, message: &str) -> AuthorizeError {
        AuthorizeError { errcode, message: message.to_owned() }
    }

    /// The mock itself failed (its store), not the request.
    pub fn is_system_busy(&self) -> bool {
        self.errcode == errcode::SYSTEM_BUSY
    }
}

/// Checks the authorize parameters in the order WeChat reports them.
pub fn check_authorize(
    params: &AuthorizeParams,
    registered_appid: &str,
    callback_domains: &[String],
) -> Result<AuthorizeRequest, AuthorizeError> {
    check_appid(&params.appid, registered_appid)?;
    let redirect_uri = check_redirect_uri(&params.redirect_uri, callback_domains)?;
    let scope = check_scope(&params.scope, &params.response_type)?;
    check_state(&params.state)?;
    Ok(AuthorizeRequest { appid: params.appid.clone(), redirect_uri, scope, state: params.state.clone() })
}

pub(super) fn check_appid(appid: &str, registered_appid: &str) -> Result<(), AuthorizeError> {
    if appid.is_empty() {
        return Err(AuthorizeError::new(APPID_EMPTY, "appid 参数错误：appid 为空 (appid is empty)"));
    }
    if appid != registered_appid {
        return Err(AuthorizeError::new(errcode::INVALID_APPID, "invalid appid：appid 无效 (no such app)"));
    }
    Ok(())
}

/// The host (without port) must be a configured callback domain, exactly.
pub(super) fn check_redirect_uri(redirect_uri: &str, callback_domains: &[String]) -> Result<Url, AuthorizeError> {
    if redirect_uri.is_empty() {
        return Err(AuthorizeError::new(
            REDIRECT_URI_EMPTY,
            "redirect_uri 参数错误：redirect_uri 为空 (redirect_uri is empty)",
        ));
    }
    let mismatch = || {
        AuthorizeError::new(
            REDIRECT_URI_MISMATCH,
            "redirect_uri 域名与后台配置不一致 (redirect_uri is not an http(s) URL on a configured callback domain)",
        )
    };
    let url = Url::parse(redirect_uri).map_err(|_| mismatch())?;
    let host = url.host_str().unwrap_or("");
    let allowed = matches!(url.scheme(), "http" | "https")
        && callback_domains.iter().any(|domain| domain.eq_ignore_ascii_case(host));
    if allowed { Ok(url) } else { Err(mismatch()) }
}

pub(super) fn check_scope(scope: &str, response_type: &str) -> Result<Scope, AuthorizeError> {
    if scope.is_empty() {
        return Err(AuthorizeError::new(SCOPE_EMPTY, "scope 参数错误：scope 为空 (scope is empty)"));
    }
    let scope = Scope::parse(scope).ok_or_else(|| {
        AuthorizeError::new(
            SCOPE_UNAUTHORIZED,
            "scope 参数错误或没有 scope 权限 (scope must be snsapi_base or snsapi_userinfo)",
        )
    })?;
    if response_type != "code" {
        return Err(AuthorizeError::new(SCOPE_UNAUTHORIZED, "response_type 参数错误 (response_type must be code)"));
    }
    Ok(scope)
}

pub(super) fn check_state(state: &str) -> Result<(), AuthorizeError> {
    if state.is_empty() {
        return Err(AuthorizeError::new(STATE_INVALID, "state 参数错误：state 为空 (state is empty)"));
    }
    if state.len() > STATE_CHARS_MAX || !state.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AuthorizeError::new(STATE_INVALID, "state 参数错误 (state must be 1 to 128 letters and digits)"));
    }
    Ok(())
}

/// What the browser sees after a good `GET /connect/oauth2/authorize`.
#[derive(Debug, Clone)]
pub enum AuthorizeStep {
    /// `snsapi_userinfo`: ask the user, offering this app's existing users.
    Consent { request: AuthorizeRequest, users: Vec<MockWeChatUser> },
    /// `snsapi_base`: silent, straight back to the app with a code.
    Redirect(Url),
}
