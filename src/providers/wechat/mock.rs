//! The built-in mock WeChat OAuth 2.0 provider (网页授权) served under
//! `/mock/wechat`: mock users and their wallets, the authorize step's checks,
//! single-use codes, access and refresh tokens, `sns/auth` and `sns/userinfo`.
//! It keeps the real API's rules and error numbers (reference §1), so a client
//! written against it also fits the real hosts.
//!
//! The HTTP handlers (`routes::mock_wechat`) and the in-process
//! `BuiltinWeChatClient` call the same methods here, so both paths behave
//! identically. Every expiry is decided with the injectable clock; the store's
//! TTL only reclaims space a day after a record has expired, so a late caller
//! is told "expired" rather than "invalid".

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use url::Url;

use super::{OAuthToken, UserInfo, WeChatApiError, errcode};
use crate::clock::SharedClock;
use crate::domain::money::Money;
use crate::settings::MockWeChatSettings;
use crate::store::{CommitOutcome, SharedStore, StoreError, Versioned};

/// The document collection of mock users; a document's id is its openid.
pub const USERS_COLLECTION: &str = "wechat_users";
/// At most this many existing users are offered on the consent page.
pub const CONSENT_USERS_MAX: usize = 50;
const NICKNAME_CHARS_MAX: usize = 32;
const STATE_CHARS_MAX: usize = 128;
const CODE_CHARS: usize = 32;
const TOKEN_CHARS: usize = 64;
/// Real openids and unionids are 28 characters: `o` and 27 more.
const ID_RANDOM_CHARS: usize = 27;
const AVATAR_RANDOM_CHARS: usize = 56;
/// Longer "codes" or "tokens" than this cannot be ours; refused without a lookup.
const CREDENTIAL_CHARS_MAX: usize = 256;
/// How long after its logical expiry the store keeps a code or token.
const STORE_GRACE_SECS: u64 = 86_400;
/// A fresh openid meeting an existing one is astronomically unlikely, but a
/// create must never overwrite a user, so it retries with a new id, boundedly.
const USER_CREATE_ATTEMPTS_MAX: u32 = 3;
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
const GRANT_REFRESH_TOKEN: &str = "refresh_token";

/// Error numbers of the authorize step (shown on WeChat's error page) and
/// API numbers only the mock needs; the ones the gateway reads are in `errcode`.
pub mod mock_errcode {
    pub const REDIRECT_URI_MISMATCH: i64 = 10003;
    pub const SCOPE_UNAUTHORIZED: i64 = 10005;
    pub const SCOPE_EMPTY: i64 = 10010;
    pub const REDIRECT_URI_EMPTY: i64 = 10011;
    pub const APPID_EMPTY: i64 = 10012;
    pub const STATE_INVALID: i64 = 10013;
    pub const INVALID_ARGS: i64 = 40097;
    pub const MISSING_CODE: i64 = 41008;
    pub const MISSING_OPENID: i64 = 41009;
}

use mock_errcode::*;

// ---------------------------------------------------------------- users ----

/// A mock WeChat user of one app, with the wallet that payouts land in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockWeChatUser {
    /// The user's id within one app: `o` and 27 url-safe characters.
    pub openid: String,
    /// The user's id across apps of one Open Platform account, same style.
    pub unionid: String,
    pub appid: String,
    pub nickname: String,
    pub headimgurl: String,
    /// 1 male, 2 female, 0 unknown; always 0, as WeChat now answers.
    pub sex: u8,
    pub province: String,
    pub city: String,
    pub country: String,
    /// Whether the wallet behind the user is real-name verified; a payout to
    /// an unverified one fails like WeChat Pay's.
    pub real_name_verified: bool,
    /// A frozen wallet cannot receive payouts.
    pub frozen: bool,
    /// A snapshot-mode user (virtual identity): tokens carry `is_snapshotuser: 1`.
    pub snapshot: bool,
    pub created_at: DateTime<Utc>,
    pub wallet: MockWallet,
}

/// The mock user's WeChat wallet: what payouts have credited to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockWallet {
    pub balance: Money,
    /// Received transfers, oldest first.
    pub transfers: Vec<MockWalletTransfer>,
}

/// One payout received into a mock wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockWalletTransfer {
    /// WeChat Pay's number of the transfer bill.
    pub transfer_bill_no: String,
    /// The merchant's (the gateway's) number of the same bill.
    pub out_bill_no: String,
    pub amount: Money,
    pub remark: String,
    pub received_at: DateTime<Utc>,
}

/// Why a nickname is refused. Each message is written for the API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NicknameError {
    #[error("must not be blank")]
    Blank,
    #[error("must be at most 32 characters")]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacter,
}

/// Test switches of a new mock user, for exercising failure modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MockUserFlags {
    /// The user's wallet is not real-name verified.
    pub no_real_name: bool,
    pub frozen: bool,
    pub snapshot: bool,
}

/// A checked request to create a mock user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMockUser {
    nickname: String,
    pub flags: MockUserFlags,
}

impl NewMockUser {
    /// A nickname of 1–32 characters, not blank, without control characters.
    pub fn new(nickname: &str, flags: MockUserFlags) -> Result<NewMockUser, NicknameError> {
        if nickname.trim().is_empty() {
            return Err(NicknameError::Blank);
        }
        if nickname.chars().count() > NICKNAME_CHARS_MAX {
            return Err(NicknameError::TooLong);
        }
        if nickname.chars().any(char::is_control) {
            return Err(NicknameError::ControlCharacter);
        }
        Ok(NewMockUser { nickname: nickname.to_owned(), flags })
    }

    /// A user of a silent authorization, named the way WeChat names users
    /// who have not shared a profile.
    pub fn anonymous() -> NewMockUser {
        let suffix: u16 = rand::rng().random();
        NewMockUser { nickname: format!("微信用户{suffix:04x}"), flags: MockUserFlags::default() }
    }

    pub fn nickname(&self) -> &str {
        &self.nickname
    }

    fn build(&self, appid: &str, now: DateTime<Utc>) -> MockWeChatUser {
        MockWeChatUser {
            openid: random_wechat_id(),
            unionid: random_wechat_id(),
            appid: appid.to_owned(),
            nickname: self.nickname.clone(),
            headimgurl: format!("https://thirdwx.qlogo.cn/mmopen/vi_32/{}/132", random_url_safe(AVATAR_RANDOM_CHARS)),
            sex: 0,
            province: String::new(),
            city: String::new(),
            country: "CN".to_owned(),
            real_name_verified: !self.flags.no_real_name,
            frozen: self.flags.frozen,
            snapshot: self.flags.snapshot,
            created_at: now,
            wallet: MockWallet::default(),
        }
    }
}

/// Whether `text` has the shape of an openid or unionid this mock issues.
pub fn is_wechat_id(text: &str) -> bool {
    text.len() == ID_RANDOM_CHARS + 1 && text.starts_with('o') && text.bytes().all(|b| URL_SAFE.contains(&b))
}

// ------------------------------------------------------------ authorize ----

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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuthorizeParams {
    pub appid: String,
    pub redirect_uri: String,
    pub response_type: String,
    pub scope: String,
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
#[derive(Debug, Clone, Default, Deserialize)]
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
    #[serde(default)]
    pub no_real_name: String,
    #[serde(default)]
    pub frozen: String,
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
        };
        NewMockUser::new(&self.nickname, flags)
            .map(UserChoice::New)
            .map_err(|e| AuthorizeError::new(INVALID_ARGS, &format!("invalid args: nickname {e}")))
    }

    /// The form carries no `response_type`: it continues an authorize step
    /// that already checked it was `code`.
    fn params(&self) -> AuthorizeParams {
        let mut params = self.params.clone();
        if params.response_type.is_empty() {
            params.response_type = "code".to_owned();
        }
        params
    }
}

fn is_ticked(value: &str) -> bool {
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

fn check_appid(appid: &str, registered_appid: &str) -> Result<(), AuthorizeError> {
    if appid.is_empty() {
        return Err(AuthorizeError::new(APPID_EMPTY, "appid 参数错误：appid 为空 (appid is empty)"));
    }
    if appid != registered_appid {
        return Err(AuthorizeError::new(errcode::INVALID_APPID, "invalid appid：appid 无效 (no such app)"));
    }
    Ok(())
}

/// The host (without port) must be a configured callback domain, exactly.
fn check_redirect_uri(redirect_uri: &str, callback_domains: &[String]) -> Result<Url, AuthorizeError> {
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

fn check_scope(scope: &str, response_type: &str) -> Result<Scope, AuthorizeError> {
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

fn check_state(state: &str) -> Result<(), AuthorizeError> {
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

// ------------------------------------------------------------- sns API ----

/// `GET /sns/oauth2/access_token`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessTokenQuery {
    pub appid: String,
    pub secret: String,
    pub code: String,
    pub grant_type: String,
}

impl std::fmt::Debug for AccessTokenQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenQuery")
            .field("appid", &self.appid)
            .field("secret", &"[REDACTED]")
            .field("grant_type", &self.grant_type)
            .finish_non_exhaustive()
    }
}

/// `GET /sns/oauth2/refresh_token`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshTokenQuery {
    pub appid: String,
    pub grant_type: String,
    pub refresh_token: String,
}

/// `GET /sns/auth` and `GET /sns/userinfo` (which also takes `lang`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessTokenUse {
    pub access_token: String,
    pub openid: String,
    /// `zh_CN`, `zh_TW` or `en`; the mock answers the same in each.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
}

/// Who authorized which app for what; carried from a code to its tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Grant {
    appid: String,
    openid: String,
    unionid: String,
    scope: Scope,
    snapshot: bool,
}

/// A stored code, access token or refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Issued {
    grant: Grant,
    expires_at: DateTime<Utc>,
    /// On a refresh token: the access token it last issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
}

fn code_key(code: &str) -> String {
    format!("wechat:code:{code}")
}

fn used_code_key(code: &str) -> String {
    format!("wechat:code_used:{code}")
}

fn access_token_key(token: &str) -> String {
    format!("wechat:access_token:{token}")
}

fn refresh_token_key(token: &str) -> String {
    format!("wechat:refresh_token:{token}")
}

/// An error body as WeChat writes it, with its request-id suffix.
pub fn api_error(errcode: i64, text: &str) -> WeChatApiError {
    let mut rng = rand::rng();
    let rid = format!("{:08x}-{:08x}-{:08x}", rng.random::<u32>(), rng.random::<u32>(), rng.random::<u32>());
    WeChatApiError { errcode, errmsg: format!("{text}, rid: {rid}") }
}

/// The store failed: the caller sees WeChat's "system busy" and may retry;
/// the cause goes to the log only.
fn system_busy(error: StoreError) -> WeChatApiError {
    tracing::warn!(%error, "mock WeChat store failure");
    api_error(errcode::SYSTEM_BUSY, "system error")
}

fn page_busy(error: StoreError) -> AuthorizeError {
    tracing::warn!(%error, "mock WeChat store failure");
    AuthorizeError::new(errcode::SYSTEM_BUSY, "系统繁忙，请稍后再试 (system busy)")
}

fn invalid_access_token() -> WeChatApiError {
    api_error(errcode::INVALID_CREDENTIAL, "invalid credential, access_token is invalid or not latest")
}

// ------------------------------------------------------------- service ----

/// The mock provider: one registered app, its users, codes and tokens.
#[derive(Debug)]
pub struct MockWeChat {
    store: SharedStore,
    clock: SharedClock,
    settings: MockWeChatSettings,
}

impl MockWeChat {
    pub fn new(store: SharedStore, clock: SharedClock, settings: MockWeChatSettings) -> MockWeChat {
        MockWeChat { store, clock, settings }
    }

    /// The app id registered with the mock.
    pub fn app_id(&self) -> &str {
        &self.settings.app_id
    }

    /// Creates a user of the registered app with fresh ids and an empty wallet.
    pub async fn create_user(&self, new: &NewMockUser) -> Result<MockWeChatUser, StoreError> {
        for _ in 0..USER_CREATE_ATTEMPTS_MAX {
            let user = new.build(&self.settings.app_id, self.clock.now());
            let body = to_json(&user, &user.openid)?;
            let outcome = self.store.save_document(USERS_COLLECTION, &user.openid, 0, &body).await?;
            if outcome == CommitOutcome::Committed {
                return Ok(user);
            }
        }
        Err(StoreError::Unavailable("no free openid after several tries".into()))
    }

    /// A user with the version to pass to `save_user`.
    pub async fn load_user(&self, openid: &str) -> Result<Option<Versioned<MockWeChatUser>>, StoreError> {
        if !is_wechat_id(openid) {
            return Ok(None);
        }
        let Some(found) = self.store.load_document(USERS_COLLECTION, openid).await? else {
            return Ok(None);
        };
        let user = from_json(&found.value, openid)?;
        Ok(Some(Versioned { version: found.version, value: user }))
    }

    /// Compare-and-set of a user loaded at `expected_version` (payouts
    /// credit the wallet this way; a conflict means reload and decide again).
    pub async fn save_user(&self, expected_version: u64, user: &MockWeChatUser) -> Result<CommitOutcome, StoreError> {
        let body = to_json(user, &user.openid)?;
        self.store.save_document(USERS_COLLECTION, &user.openid, expected_version, &body).await
    }

    /// Up to `limit` users of the registered app, newest first.
    pub async fn list_users(&self, limit: usize) -> Result<Vec<MockWeChatUser>, StoreError> {
        let documents = self.store.list_documents(USERS_COLLECTION, limit).await?;
        let mut users = documents
            .iter()
            .map(|(id, body)| from_json::<MockWeChatUser>(body, id))
            // Unreadable documents are kept, so the error surfaces below.
            .filter(|user| !matches!(user, Ok(u) if u.appid != self.settings.app_id))
            .collect::<Result<Vec<_>, _>>()?;
        users.sort_by(|a, b| (b.created_at, &b.openid).cmp(&(a.created_at, &a.openid)));
        Ok(users)
    }

    async fn app_user(&self, openid: &str) -> Result<Option<MockWeChatUser>, StoreError> {
        let found = self.load_user(openid).await?;
        Ok(found.map(|versioned| versioned.value).filter(|user| user.appid == self.settings.app_id))
    }

    /// Checks authorize parameters against the registered app.
    pub fn check_authorize(&self, params: &AuthorizeParams) -> Result<AuthorizeRequest, AuthorizeError> {
        check_authorize(params, &self.settings.app_id, &self.settings.callback_domains)
    }

    /// `GET /connect/oauth2/authorize`: a consent page, or for `snsapi_base`
    /// a silent redirect with a code.
    pub async fn authorize(&self, query: &AuthorizeQuery) -> Result<AuthorizeStep, AuthorizeError> {
        let request = self.check_authorize(&query.params)?;
        match request.scope {
            Scope::SnsapiUserinfo => {
                let users = self.list_users(CONSENT_USERS_MAX).await.map_err(page_busy)?;
                Ok(AuthorizeStep::Consent { request, users })
            }
            Scope::SnsapiBase => {
                let user = self.silent_user(&query.openid).await?;
                let code = self.issue_code(&request, &user).await.map_err(page_busy)?;
                Ok(AuthorizeStep::Redirect(request.redirect_to(Some(&code))))
            }
        }
    }

    /// The named user if it exists, else a new anonymous one.
    async fn silent_user(&self, openid: &str) -> Result<MockWeChatUser, AuthorizeError> {
        if let Some(user) = self.app_user(openid).await.map_err(page_busy)? {
            return Ok(user);
        }
        self.create_user(&NewMockUser::anonymous()).await.map_err(page_busy)
    }

    /// `POST /connect/oauth2/authorize`: where the browser goes after the
    /// user allowed (with a code) or denied (state only).
    pub async fn consent(&self, form: &ConsentForm) -> Result<Url, AuthorizeError> {
        let request = self.check_authorize(&form.params())?;
        match form.action.as_str() {
            "deny" => Ok(request.redirect_to(None)),
            "allow" => {
                let user = self.consenting_user(form).await?;
                let code = self.issue_code(&request, &user).await.map_err(page_busy)?;
                Ok(request.redirect_to(Some(&code)))
            }
            _ => Err(AuthorizeError::new(INVALID_ARGS, "invalid args: action must be allow or deny")),
        }
    }

    async fn consenting_user(&self, form: &ConsentForm) -> Result<MockWeChatUser, AuthorizeError> {
        match form.user_choice()? {
            UserChoice::Existing(openid) => self
                .app_user(&openid)
                .await
                .map_err(page_busy)?
                .ok_or_else(|| AuthorizeError::new(errcode::INVALID_OPENID, "invalid openid (no such mock user)")),
            UserChoice::New(new) => self.create_user(&new).await.map_err(page_busy),
        }
    }

    /// A random single-use code for `user`, bound to the app and scope.
    async fn issue_code(&self, request: &AuthorizeRequest, user: &MockWeChatUser) -> Result<String, StoreError> {
        let code = random_url_safe(CODE_CHARS);
        let issued = Issued {
            grant: Grant {
                appid: request.appid.clone(),
                openid: user.openid.clone(),
                unionid: user.unionid.clone(),
                scope: request.scope,
                snapshot: user.snapshot,
            },
            expires_at: after_secs(self.clock.now(), self.settings.code_ttl_secs),
            access_token: None,
        };
        self.put(&code_key(&code), &issued, self.settings.code_ttl_secs).await?;
        Ok(code)
    }

    /// `GET /sns/oauth2/access_token`: trades a code for tokens, once.
    pub async fn exchange_code(&self, query: &AccessTokenQuery) -> Result<OAuthToken, WeChatApiError> {
        self.check_app(&query.appid, &query.secret)?;
        if query.grant_type != GRANT_AUTHORIZATION_CODE {
            return Err(api_error(errcode::INVALID_GRANT_TYPE, "invalid grant_type"));
        }
        if query.code.is_empty() {
            return Err(api_error(MISSING_CODE, "missing code"));
        }
        let grant = self.consume_code(&query.appid, &query.code).await?;
        self.issue_tokens(grant).await.map_err(system_busy)
    }

    fn check_app(&self, appid: &str, secret: &str) -> Result<(), WeChatApiError> {
        if appid != self.settings.app_id {
            return Err(api_error(errcode::INVALID_APPID, "invalid appid"));
        }
        let expected = self.settings.app_secret.expose_secret().as_bytes();
        if !bool::from(expected.ct_eq(secret.as_bytes())) {
            return Err(api_error(errcode::INVALID_APPSECRET, "invalid appsecret"));
        }
        Ok(())
    }

    /// The code's grant, if the code is this app's, unexpired and unused;
    /// it is then used up. Expired or foreign codes are left alone, so their
    /// rightful, timely use still works and a late one keeps saying "expired".
    async fn consume_code(&self, appid: &str, code: &str) -> Result<Grant, WeChatApiError> {
        let key = code_key(code);
        let found = if code.len() <= CREDENTIAL_CHARS_MAX {
            self.get::<Issued>(&key).await.map_err(system_busy)?
        } else {
            None
        };
        let Some(issued) = found else {
            return Err(self.unknown_code_error(code).await);
        };
        if issued.grant.appid != appid {
            return Err(api_error(errcode::INVALID_CODE, "invalid code"));
        }
        if self.clock.now() >= issued.expires_at {
            return Err(api_error(errcode::CODE_EXPIRED, "code expired"));
        }
        // The tombstone goes down before the code is taken, so that any
        // exchange that finds the code gone also finds the tombstone and
        // answers "used", never "invalid", however the requests interleave.
        let ttl_secs = self.settings.code_ttl_secs;
        self.put(&used_code_key(code), &true, ttl_secs).await.map_err(system_busy)?;
        // Of concurrent exchanges only one takes the code; the rest are replays.
        let taken = self.store.take_ephemeral(&key).await.map_err(system_busy)?;
        if taken.is_none() {
            return Err(api_error(errcode::CODE_BEEN_USED, "code been used"));
        }
        Ok(issued.grant)
    }

    /// A used code leaves a tombstone, which tells a replay from a code
    /// that never existed.
    async fn unknown_code_error(&self, code: &str) -> WeChatApiError {
        if code.len() > CREDENTIAL_CHARS_MAX {
            return api_error(errcode::INVALID_CODE, "invalid code");
        }
        match self.store.get_ephemeral(&used_code_key(code)).await {
            Ok(Some(_)) => api_error(errcode::CODE_BEEN_USED, "code been used"),
            Ok(None) => api_error(errcode::INVALID_CODE, "invalid code"),
            Err(error) => system_busy(error),
        }
    }

    async fn issue_tokens(&self, grant: Grant) -> Result<OAuthToken, StoreError> {
        let now = self.clock.now();
        let access_token = random_url_safe(TOKEN_CHARS);
        let refresh_token = random_url_safe(TOKEN_CHARS);
        self.put_access_token(&access_token, &grant, now).await?;
        let refresh = Issued {
            grant: grant.clone(),
            expires_at: after_secs(now, self.settings.refresh_token_ttl_secs),
            access_token: Some(access_token.clone()),
        };
        let ttl_secs = self.settings.refresh_token_ttl_secs;
        self.put(&refresh_token_key(&refresh_token), &refresh, ttl_secs).await?;
        Ok(self.token_body(access_token, refresh_token, &grant))
    }

    async fn put_access_token(&self, token: &str, grant: &Grant, now: DateTime<Utc>) -> Result<(), StoreError> {
        let ttl_secs = self.settings.access_token_ttl_secs;
        let access = Issued { grant: grant.clone(), expires_at: after_secs(now, ttl_secs), access_token: None };
        self.put(&access_token_key(token), &access, ttl_secs).await
    }

    fn token_body(&self, access_token: String, refresh_token: String, grant: &Grant) -> OAuthToken {
        OAuthToken {
            access_token,
            expires_in: self.settings.access_token_ttl_secs,
            refresh_token,
            openid: grant.openid.clone(),
            scope: grant.scope.as_str().to_owned(),
            is_snapshotuser: grant.snapshot.then_some(1),
            unionid: Some(grant.unionid.clone()),
        }
    }

    /// `GET /sns/oauth2/refresh_token`: the same refresh token with a valid
    /// access token.
    pub async fn refresh_token(&self, query: &RefreshTokenQuery) -> Result<OAuthToken, WeChatApiError> {
        if query.appid != self.settings.app_id {
            return Err(api_error(errcode::INVALID_APPID, "invalid appid"));
        }
        if query.grant_type != GRANT_REFRESH_TOKEN {
            return Err(api_error(errcode::INVALID_GRANT_TYPE, "invalid grant_type"));
        }
        let invalid = || api_error(errcode::INVALID_REFRESH_TOKEN, "invalid refresh_token");
        if query.refresh_token.is_empty() || query.refresh_token.len() > CREDENTIAL_CHARS_MAX {
            return Err(invalid());
        }
        let key = refresh_token_key(&query.refresh_token);
        let found = self.get::<Issued>(&key).await.map_err(system_busy)?;
        let mut refresh = found.filter(|r| r.grant.appid == query.appid).ok_or_else(invalid)?;
        let now = self.clock.now();
        if now >= refresh.expires_at {
            return Err(api_error(errcode::REFRESH_TOKEN_EXPIRED, "refresh_token expired"));
        }
        let access_token =
            self.renew_access_token(&mut refresh, &query.refresh_token, now).await.map_err(system_busy)?;
        Ok(self.token_body(access_token, query.refresh_token.clone(), &refresh.grant))
    }

    /// As the reference describes: a still-valid access token is kept and
    /// its expiry extended; an expired one is replaced by a new token.
    async fn renew_access_token(
        &self,
        refresh: &mut Issued,
        refresh_token: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let current = match refresh.access_token.clone() {
            Some(token) => self
                .get::<Issued>(&access_token_key(&token))
                .await?
                .and_then(|access| (now < access.expires_at).then_some(token)),
            None => None,
        };
        let token = current.unwrap_or_else(|| random_url_safe(TOKEN_CHARS));
        self.put_access_token(&token, &refresh.grant, now).await?;
        if refresh.access_token.as_deref() != Some(token.as_str()) {
            refresh.access_token = Some(token.clone());
            let remaining_secs = u64::try_from((refresh.expires_at - now).num_seconds()).unwrap_or(0);
            self.put(&refresh_token_key(refresh_token), refresh, remaining_secs).await?;
        }
        Ok(token)
    }

    /// `GET /sns/auth`: whether the access token is valid for this openid.
    pub async fn check_access_token(&self, query: &AccessTokenUse) -> Result<(), WeChatApiError> {
        self.valid_grant(&query.access_token, &query.openid).await.map(|_| ())
    }

    async fn valid_grant(&self, access_token: &str, openid: &str) -> Result<Grant, WeChatApiError> {
        if access_token.is_empty() || access_token.len() > CREDENTIAL_CHARS_MAX {
            return Err(invalid_access_token());
        }
        let found = self.get::<Issued>(&access_token_key(access_token)).await.map_err(system_busy)?;
        let access = found.ok_or_else(invalid_access_token)?;
        if self.clock.now() >= access.expires_at {
            return Err(api_error(errcode::ACCESS_TOKEN_EXPIRED, "access_token expired"));
        }
        if access.grant.openid != openid {
            return Err(api_error(errcode::INVALID_OPENID, "invalid openid"));
        }
        Ok(access.grant)
    }

    /// `GET /sns/userinfo`: the profile, for `snsapi_userinfo` tokens only.
    /// A snapshot user's (virtual) profile is returned like any other; the
    /// token's `is_snapshotuser` is what tells an app to refuse it.
    pub async fn user_info(&self, query: &AccessTokenUse) -> Result<UserInfo, WeChatApiError> {
        let grant = self.valid_grant(&query.access_token, &query.openid).await?;
        if grant.scope != Scope::SnsapiUserinfo {
            return Err(api_error(errcode::API_UNAUTHORIZED, "api unauthorized"));
        }
        let user = self.app_user(&grant.openid).await.map_err(system_busy)?;
        let user = user.ok_or_else(|| api_error(errcode::INVALID_OPENID, "invalid openid"))?;
        Ok(UserInfo {
            openid: user.openid,
            nickname: user.nickname,
            sex: user.sex,
            province: user.province,
            city: user.city,
            country: user.country,
            headimgurl: user.headimgurl,
            privilege: Vec::new(),
            unionid: Some(user.unionid),
        })
    }

    /// Stores `value` until `live_secs` from now, plus the grace period.
    async fn put<T: Serialize>(&self, key: &str, value: &T, live_secs: u64) -> Result<(), StoreError> {
        let text = to_json(value, key)?;
        let ttl = Duration::from_secs(live_secs.saturating_add(STORE_GRACE_SECS));
        self.store.put_ephemeral(key, &text, ttl).await
    }

    async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        match self.store.get_ephemeral(key).await? {
            Some(text) => from_json(&text, key).map(Some),
            None => Ok(None),
        }
    }
}

// ------------------------------------------------------------- helpers ----

fn to_json<T: Serialize>(value: &T, key: &str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt { key: key.to_owned(), reason: e.to_string() })
}

fn from_json<T: DeserializeOwned>(text: &str, key: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt { key: key.to_owned(), reason: e.to_string() })
}

/// `now + secs`, saturating instead of overflowing on absurd settings.
fn after_secs(now: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    chrono::Duration::try_seconds(secs)
        .and_then(|duration| now.checked_add_signed(duration))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn random_url_safe(chars: usize) -> String {
    let mut rng = rand::rng();
    (0..chars).map(|_| char::from(URL_SAFE[rng.random_range(0..URL_SAFE.len())])).collect()
}

fn random_wechat_id() -> String {
    format!("o{}", random_url_safe(ID_RANDOM_CHARS))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use secrecy::SecretString;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::MemoryStore;

    const APPID: &str = "wx8a3f5c7e2b9d1046";

    fn params(changes: &[(&str, &str)]) -> AuthorizeParams {
        let mut params = AuthorizeParams {
            appid: APPID.into(),
            redirect_uri: "https://app.example.com/cb?x=1".into(),
            response_type: "code".into(),
            scope: "snsapi_userinfo".into(),
            state: "abc123".into(),
        };
        for (name, value) in changes {
            let field = match *name {
                "appid" => &mut params.appid,
                "redirect_uri" => &mut params.redirect_uri,
                "response_type" => &mut params.response_type,
                "scope" => &mut params.scope,
                "state" => &mut params.state,
                other => panic!("no field {other}"),
            };
            *field = (*value).to_owned();
        }
        params
    }

    fn check(changes: &[(&str, &str)]) -> Result<AuthorizeRequest, i64> {
        let domains = vec!["app.example.com".to_owned()];
        check_authorize(&params(changes), APPID, &domains).map_err(|e| e.errcode)
    }

    #[test]
    fn authorize_checks_report_wechat_numbers_in_order() {
        let cases: &[(&[(&str, &str)], i64)] = &[
            (&[("appid", "")], 10012),
            (&[("appid", "wx0000000000000000")], 40013),
            (&[("appid", ""), ("redirect_uri", "")], 10012),
            (&[("redirect_uri", "")], 10011),
            (&[("redirect_uri", "/cb")], 10003),
            (&[("redirect_uri", "ftp://app.example.com/cb")], 10003),
            (&[("redirect_uri", "https://evil.example.com/cb")], 10003),
            (&[("redirect_uri", "https://sub.app.example.com/cb")], 10003),
            (&[("redirect_uri", "https://app.example.com.evil.io/cb")], 10003),
            (&[("scope", "")], 10010),
            (&[("scope", "snsapi_login")], 10005),
            (&[("response_type", "token")], 10005),
            (&[("response_type", "")], 10005),
            (&[("state", "")], 10013),
            (&[("state", "a-b")], 10013),
            (&[("state", &"a".repeat(129))], 10013),
        ];
        for (changes, errcode) in cases {
            assert_eq!(check(changes).err(), Some(*errcode), "{changes:?}");
        }
        assert!(check(&[("state", &"a".repeat(128))]).is_ok());
        assert!(check(&[("redirect_uri", "http://APP.example.com:8080/cb")]).is_ok());
    }

    #[test]
    fn redirects_keep_the_apps_query_and_deny_carries_state_only() {
        let request = check(&[]).unwrap();
        assert_eq!(request.redirect_to(Some("C0de")).as_str(), "https://app.example.com/cb?x=1&code=C0de&state=abc123");
        assert_eq!(request.redirect_to(None).as_str(), "https://app.example.com/cb?x=1&state=abc123");
    }

    #[test]
    fn nicknames_are_one_to_32_printable_characters() {
        let flags = MockUserFlags::default();
        assert!(NewMockUser::new("小明", flags).is_ok());
        assert!(NewMockUser::new(&"明".repeat(32), flags).is_ok());
        assert_eq!(NewMockUser::new(&"明".repeat(33), flags), Err(NicknameError::TooLong));
        assert_eq!(NewMockUser::new("  ", flags), Err(NicknameError::Blank));
        assert_eq!(NewMockUser::new("a\nb", flags), Err(NicknameError::ControlCharacter));
        assert!(NewMockUser::anonymous().nickname().starts_with("微信用户"));
    }

    #[test]
    fn consent_forms_pick_or_create_a_user() {
        let mut form = ConsentForm {
            nickname: "小红".into(),
            snapshot: "on".into(),
            no_real_name: "false".into(),
            ..ConsentForm::default()
        };
        let UserChoice::New(new) = form.user_choice().unwrap() else {
            panic!("expected a new user");
        };
        assert_eq!(new.flags, MockUserFlags { snapshot: true, ..MockUserFlags::default() });
        form.openid = "oAbc".into();
        assert_eq!(form.user_choice().unwrap(), UserChoice::Existing("oAbc".into()));
        let empty = ConsentForm::default();
        assert_eq!(empty.user_choice().unwrap_err().errcode, MISSING_OPENID);
    }

    #[test]
    fn generated_ids_look_like_wechat_ids() {
        let user = NewMockUser::anonymous().build(APPID, Utc::now());
        assert!(is_wechat_id(&user.openid) && is_wechat_id(&user.unionid));
        assert_ne!(user.openid, user.unionid);
        assert!(!is_wechat_id("o123"));
        assert!(user.headimgurl.starts_with("https://thirdwx.qlogo.cn/mmopen/"));
        assert!(user.headimgurl.ends_with("/132"));
        assert_eq!(user.wallet.balance.to_string(), "0.00");
    }

    fn provider(store: &SharedStore, clock: &SharedClock, appid: &str) -> MockWeChat {
        let settings = MockWeChatSettings {
            enabled: true,
            app_id: appid.into(),
            app_secret: SecretString::from("secret"),
            callback_domains: vec!["app.example.com".into()],
            code_ttl_secs: 300,
            access_token_ttl_secs: 7200,
            refresh_token_ttl_secs: 2_592_000,
        };
        MockWeChat::new(store.clone(), clock.clone(), settings)
    }

    #[tokio::test]
    async fn a_code_is_invalid_for_another_app_and_stays_usable_by_its_own() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap();
        let clock: SharedClock = Arc::new(ManualClock::new(start));
        let ours = provider(&store, &clock, APPID);
        let theirs = provider(&store, &clock, "wx1111111111111111");
        let form = ConsentForm {
            params: params(&[]),
            action: "allow".into(),
            nickname: "小明".into(),
            ..ConsentForm::default()
        };
        let target = ours.consent(&form).await.unwrap();
        let code = target.query_pairs().find(|(name, _)| name == "code").map(|(_, value)| value.into_owned()).unwrap();
        let exchange = |appid: &str| AccessTokenQuery {
            appid: appid.into(),
            secret: "secret".into(),
            code: code.clone(),
            grant_type: GRANT_AUTHORIZATION_CODE.into(),
        };
        let refused = theirs.exchange_code(&exchange("wx1111111111111111")).await;
        assert_eq!(refused.unwrap_err().errcode, errcode::INVALID_CODE);
        let token = ours.exchange_code(&exchange(APPID)).await.unwrap();
        assert_eq!(token.scope, "snsapi_userinfo");
    }

    #[test]
    fn error_bodies_carry_a_request_id() {
        let error = api_error(errcode::INVALID_CODE, "invalid code");
        assert!(error.errmsg.starts_with("invalid code, rid: "), "{}", error.errmsg);
    }
}
