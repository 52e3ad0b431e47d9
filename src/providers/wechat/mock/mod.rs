//! The built-in mock WeChat provider served under `/mock/wechat`: the OAuth
//! 2.0 web authorization (网页授权) with mock users and their wallets, the
//! authorize step's checks, single-use codes, access and refresh tokens,
//! `sns/auth` and `sns/userinfo`; and WeChat Pay's merchant transfer bills
//! (商家转账) that pay into those wallets. It keeps the real APIs' rules and
//! error codes (reference §1 and §3.1), so a client written against it also
//! fits the real hosts.
//!
//! The HTTP handlers (`routes::mock_wechat`) and the in-process
//! `BuiltinWeChatClient` and `BuiltinPayouts` call the same methods here, so
//! both paths behave identically. Every expiry is decided with the injectable
//! clock; the store's TTL only reclaims space a day after a record has
//! expired, so a late caller is told "expired" rather than "invalid".

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
use crate::providers::sim::RuleBook;
use crate::settings::MockWeChatSettings;
use crate::store::{CommitOutcome, SharedStore, StoreError, Versioned};

/// The document collection of mock users; a document's id is its openid.
/// Kept apart (`store::kept_apart`): each user's wallet changes on its own.
pub const USERS_COLLECTION: &str = "wechat_users:apart";
/// At most this many existing users are offered on the consent page.
pub const CONSENT_USERS_MAX: usize = 50;
/// At most this many users are read to list them (a collection holding more
/// is listed in part): the mock's users are a tester's handful.
pub const USERS_LISTED_MAX: usize = 10_000;
/// A change to a user retries this many times against concurrent payouts to it.
const USER_UPDATE_ATTEMPTS_MAX: u32 = 16;
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

mod authorize;
mod bill_flow;
mod notify;
mod payouts;
mod signing;
mod sns;
mod users;

pub use authorize::*;
pub use bill_flow::*;
pub use notify::*;
pub use payouts::*;
pub use signing::*;
pub use sns::*;
pub use users::*;

// ------------------------------------------------------------- service ----

/// The mock provider: one registered app, its users, codes and tokens.
#[derive(Debug)]
pub struct MockWeChat {
    store: SharedStore,
    clock: SharedClock,
    settings: MockWeChatSettings,
    /// The simulator's rules and magic amounts, consulted by every payout,
    /// code exchange and profile read.
    rules: RuleBook,
}

impl MockWeChat {
    pub fn new(store: SharedStore, clock: SharedClock, settings: MockWeChatSettings) -> MockWeChat {
        let rules = RuleBook::new(store.clone(), clock.clone(), settings.magic_amounts);
        MockWeChat { store, clock, settings, rules }
    }

    /// The simulator's rules the mock answers by.
    pub fn rules(&self) -> &RuleBook {
        &self.rules
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

    /// The newest `limit` users of the registered app, newest first (of at
    /// most `USERS_LISTED_MAX` read).
    pub async fn list_users(&self, limit: usize) -> Result<Vec<MockWeChatUser>, StoreError> {
        let documents = self.store.list_documents(USERS_COLLECTION, USERS_LISTED_MAX).await?;
        let mut users = documents
            .iter()
            .map(|(id, body)| from_json::<MockWeChatUser>(body, id))
            // Unreadable documents are kept, so the error surfaces below.
            .filter(|user| !matches!(user, Ok(u) if u.appid != self.settings.app_id))
            .collect::<Result<Vec<_>, _>>()?;
        users.sort_by(|a, b| (b.created_at, &b.openid).cmp(&(a.created_at, &a.openid)));
        users.truncate(limit);
        Ok(users)
    }

    /// Applies `change` to the app's user `openid`, by compare-and-set, so a
    /// payout crediting the wallet meanwhile is never lost.
    pub async fn update_user(&self, openid: &str, change: &MockUserChange) -> Result<UserUpdate, StoreError> {
        let mut rounds = crate::retry::Rounds::new(USER_UPDATE_ATTEMPTS_MAX);
        while rounds.next().await {
            let found = self.load_user(openid).await?.filter(|found| found.value.appid == self.settings.app_id);
            let Some(Versioned { version, value: mut user }) = found else { return Ok(UserUpdate::NotFound) };
            change.apply(&mut user);
            if self.save_user(version, &user).await? == CommitOutcome::Committed {
                return Ok(UserUpdate::Updated(Box::new(user)));
            }
        }
        Ok(UserUpdate::Busy)
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

/// How `update_user` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserUpdate {
    Updated(Box<MockWeChatUser>),
    /// No such user of the registered app.
    NotFound,
    /// Concurrent changes won every attempt; try again.
    Busy,
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
    fn a_change_sets_what_it_names_and_checks_it_first() {
        let mut user = NewMockUser::new("小明", MockUserFlags::default()).unwrap().build(APPID, Utc::now());
        let original = user.clone();
        MockUserChange::default().apply(&mut user);
        assert_eq!(user, original, "an empty change changes nothing");
        let mut change = MockUserChange::default().nickname("小红").unwrap().balance("5.00".parse().unwrap()).unwrap();
        (change.frozen, change.day_quota_reached) = (Some(true), Some(true));
        change = change.real_name("李红").unwrap();
        change.apply(&mut user);
        assert_eq!(user.real_name.as_deref(), Some("李红"));
        assert_eq!(MockUserChange::default().real_name("a\tb"), Err(NicknameError::ControlCharacter));
        assert!(user.frozen && user.day_quota_reached && user.real_name_verified && !user.month_quota_reached);
        assert_eq!((user.nickname.as_str(), user.wallet.balance.to_string()), ("小红", "5.00".to_owned()));
        assert_eq!(MockUserChange::default().nickname(" "), Err(NicknameError::Blank));
        assert_eq!(MockUserChange::default().balance("-0.01".parse().unwrap()), Err(NegativeBalance));
    }

    #[test]
    fn consent_forms_pick_or_create_a_user() {
        let mut form = ConsentForm {
            nickname: "小红".into(),
            real_name: " 李红 ".into(),
            snapshot: "on".into(),
            no_real_name: "false".into(),
            ..ConsentForm::default()
        };
        let UserChoice::New(new) = form.user_choice().unwrap() else {
            panic!("expected a new user");
        };
        assert_eq!(new.flags, MockUserFlags { snapshot: true, ..MockUserFlags::default() });
        assert_eq!(new.build(APPID, Utc::now()).real_name.as_deref(), Some("李红"));
        let unnamed = ConsentForm { real_name: String::new(), ..form.clone() };
        let Ok(UserChoice::New(unnamed)) = unnamed.user_choice() else { panic!("expected a new user") };
        assert_eq!(unnamed.build(APPID, Utc::now()).real_name, None, "no real name on record");
        let overlong = ConsentForm { real_name: "李".repeat(33), ..form.clone() };
        assert_eq!(overlong.user_choice().unwrap_err().errcode, INVALID_ARGS);
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
            magic_amounts: true,
            pay: crate::settings::MockWeChatPaySettings::sample(),
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
