//! Registration, login, token refresh and the profile: the account's life
//! outside of money.
//!
//! Failed logins are counted on the account (see `domain::login_guard`);
//! those of a login nobody registered in an expiring store entry of their
//! own, so that both answer alike, lock included.
//!
//! A consumed refresh token presented again is taken for theft: its family is
//! revoked, and so is every access token the account holds (its revocation
//! watermark is raised, see `auth::tokens`), so a thief's access token dies
//! with the family instead of living out its 15 minutes. Other refresh-token
//! families (other devices) keep working and get access tokens of the new
//! generation.
//!
//! A login starts a session: the family of its refresh tokens, named in its
//! access tokens' `sid` (see `auth::tokens`). Logging out revokes the family
//! (`Accounts::log_out`), which ends the refresh tokens and, through
//! `Accounts::admit_session` in every request's extractor, the access tokens
//! of that session alone; the account's other sessions go on.
//!
//! Sessions go by the wall clock, not the business clock: access and
//! refresh tokens and stream tickets expire in real time, so advancing a
//! simulator's clock never signs anyone out (nor keeps a token alive while
//! it is frozen). Login locks are business state, kept on the account, and
//! follow the business clock like the PIN lock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::partitions::Partitions;
use crate::auth::password::{self, HashCost, PasswordHashing};
use crate::auth::tokens::{new_refresh_token, refresh_token_digest};
use crate::auth::{Principal, TokenIssuer, session_ended};
use crate::clock::SharedClock;
use crate::domain::account::{Account, AccountId, PasswordHash, Role, VerificationLevel};
use crate::domain::credentials::{Login, Password};
use crate::domain::lockout::AttemptGuard;
use crate::domain::login_guard::{LoginPolicy, LoginVerdict};
use crate::domain::pin::PinPolicy;
use crate::error::ApiError;
use crate::observability::catalogue::LOGIN_LOCKS_TOTAL;
use crate::store::StoreError;
use crate::store::typed::TypedEphemeralValues;

/// How long a consumed refresh token is remembered, to spot its reuse.
const USED_REFRESH_MEMORY_SECS: u64 = 7 * 24 * 3600;
/// The least time failed logins of an unknown login are remembered (the
/// longest lock, when that is longer).
const UNKNOWN_LOGIN_MEMORY_SECS: u64 = 24 * 3600;

/// How long a stream ticket waits to be used.
const STREAM_TICKET_SECS: i64 = 60;

/// A single-use ticket that opens the caller's event stream once, for
/// browsers' `EventSource`, which cannot send an `Authorization` header.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StreamTicket {
    /// Pass as `GET /v1/events?ticket=…` within a minute; it works once.
    #[schema(example = "9b1c2a7d41e84b0c9d5e6f7a8b9c0d1e3f9c2a7d41e84b0c9d5e6f7a8b9c0d1e")]
    pub ticket: String,
    #[schema(example = "2025-05-01T08:31:00Z")]
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StreamTicketRecord {
    account_id: AccountId,
    role: Role,
    generation: u32,
    /// The login session of the token that asked for it.
    #[serde(default)]
    session: Option<String>,
    expires_at: DateTime<Utc>,
}

/// What a login or refresh returns: a short-lived access token (a JWT, sent
/// as `Authorization: Bearer …`) and a single-use refresh token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenPair {
    #[schema(example = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY2NfZGVtb19hbGljZSJ9.c2lnbmF0dXJl")]
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds the access token stays valid.
    #[schema(example = 900)]
    pub expires_in: u64,
    /// Exchange it at `POST /v1/auth/refresh` for a new pair; it works once.
    /// Absent when it was set as the `walletgate_refresh` cookie instead
    /// (`refresh_cookie`), so no script of the page ever holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "3f9c2a7d41e84b0c9d5e6f7a8b9c0d1e3f9c2a7d41e84b0c9d5e6f7a8b9c0d1e")]
    pub refresh_token: Option<String>,
    /// Seconds the refresh token stays valid.
    #[schema(example = 2592000)]
    pub refresh_expires_in: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct RefreshRecord {
    account_id: AccountId,
    family: String,
    expires_at: DateTime<Utc>,
}

fn refresh_key(digest: &str) -> String {
    format!("refresh:{digest}")
}

fn used_refresh_key(digest: &str) -> String {
    format!("refresh_used:{digest}")
}

fn revoked_family_key(family: &str) -> String {
    format!("refresh_family_revoked:{family}")
}

fn stream_ticket_key(digest: &str) -> String {
    format!("stream_ticket:{digest}")
}

fn unknown_login_guard_key(login: &Login) -> String {
    format!("login_guard:{}", login.index_key())
}

fn login_refused() -> ApiError {
    ApiError::Unauthenticated("wrong login or password".into())
}

fn refresh_refused() -> ApiError {
    ApiError::Unauthenticated("the refresh token is invalid, expired or already used; log in again".into())
}

/// Hashing is CPU-heavy: keep it off the HTTP workers. Unbounded: for
/// seeding; requests go through `Accounts::passwords`, which bounds it.
pub async fn hash_password(password: Password, cost: HashCost) -> Result<PasswordHash, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(&password, &cost))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::Internal)
}

/// Registration, login and tokens.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub partitions: Partitions,
    pub tokens: Arc<TokenIssuer>,
    /// Registration and login hashing, bounded (see `auth::password`).
    pub passwords: PasswordHashing,
    /// Failed logins and the login lock (see `domain::login_guard`).
    pub login_policy: LoginPolicy,
    /// A profile tells whether the PIN is locked.
    pub pin_policy: PinPolicy,
    /// What tokens and stream tickets expire by (see the module's doc).
    pub wall_clock: SharedClock,
}

impl Accounts {
    /// A stream ticket for `caller`, whose token the account still honours.
    /// Only the ticket's digest is stored.
    pub async fn issue_stream_ticket(&self, caller: &Principal) -> Result<StreamTicket, ApiError> {
        self.partitions.load_account_as(caller).await?;
        let (ticket, digest) = new_refresh_token();
        let expires_at = self.wall_clock.now() + chrono::Duration::seconds(STREAM_TICKET_SECS);
        let record = StreamTicketRecord {
            account_id: caller.account_id.clone(),
            role: caller.role,
            generation: caller.generation,
            session: caller.session.clone(),
            expires_at,
        };
        // Kept past its expiry only so the store can reclaim it; the clock decides.
        let kept_for = Duration::from_secs(STREAM_TICKET_SECS as u64 * 2);
        self.partitions.store.put_ephemeral_as(&stream_ticket_key(&digest), &record, kept_for).await?;
        Ok(StreamTicket { ticket, expires_at })
    }

    /// The caller a stream ticket stands for, once: a used, unknown or
    /// expired ticket, or one whose account has since revoked its tokens, is 401.
    pub async fn redeem_stream_ticket(&self, ticket: &str) -> Result<Principal, ApiError> {
        let refused = || ApiError::Unauthenticated("this stream ticket is unknown, used or expired".into());
        let key = stream_ticket_key(&refresh_token_digest(ticket));
        let record = self.partitions.store.take_ephemeral_as::<StreamTicketRecord>(&key).await?.ok_or_else(refused)?;
        if record.expires_at <= self.wall_clock.now() {
            return Err(refused());
        }
        let principal = Principal {
            account_id: record.account_id,
            role: record.role,
            generation: record.generation,
            session: record.session,
        };
        self.admit_session(&principal).await?;
        self.partitions.load_account_as(&principal).await?;
        Ok(principal)
    }

    /// Refuses (401) an access token whose login session has ended: logged
    /// out, or revoked as stolen. One store read per request; a token of no
    /// session (issued before sessions were named) has nothing to look up.
    pub async fn admit_session(&self, principal: &Principal) -> Result<(), ApiError> {
        let Some(session) = principal.session.as_deref() else { return Ok(()) };
        match self.partitions.store.get_ephemeral(&revoked_family_key(session)).await? {
            Some(_) => Err(session_ended()),
            None => Ok(()),
        }
    }

    /// Ends login sessions: the one `access` (a verified access token, if
    /// one came) belongs to, and the one of `refresh_token`, consumed or not.
    /// Their refresh tokens stop working, and so do their access tokens (see
    /// `admit_session`). Nothing to end, or a token already ended or unknown,
    /// is no error: logging out twice is logging out.
    pub async fn log_out(&self, access: Option<&Principal>, refresh_token: Option<&str>) -> Result<(), ApiError> {
        let mut sessions: Vec<String> = access.and_then(|principal| principal.session.clone()).into_iter().collect();
        if let Some(token) = refresh_token {
            let digest = refresh_token_digest(token);
            let live = self.partitions.store.take_ephemeral(&refresh_key(&digest)).await?;
            let known = match live {
                Some(text) => Some(text),
                None => self.partitions.store.get_ephemeral(&used_refresh_key(&digest)).await?,
            };
            if let Some(record) = known.and_then(|text| serde_json::from_str::<RefreshRecord>(&text).ok()) {
                sessions.push(record.family);
            }
        }
        sessions.dedup();
        let ttl = Duration::from_secs(self.tokens.refresh_ttl_secs.max(self.tokens.access_ttl_secs));
        for session in sessions {
            self.partitions.store.put_ephemeral(&revoked_family_key(&session), "logged_out", ttl).await?;
        }
        Ok(())
    }

    /// Admits `principal` as an operator only if its account still honours
    /// the token (else 401) and its stored role is operator (else 403): the
    /// token's claim is not the last word.
    pub async fn admit_operator(&self, principal: &Principal) -> Result<(), ApiError> {
        if principal.role != Role::Operator {
            return Err(ApiError::Forbidden { required: "operator" });
        }
        let account = self.partitions.load_account_as(principal).await?;
        match account.role {
            Role::Operator => Ok(()),
            Role::User => Err(ApiError::Forbidden { required: "operator" }),
        }
    }

    pub async fn register(&self, login: Login, password: Password) -> Result<Account, ApiError> {
        let password_hash = self.passwords.hash(password).await?;
        let account = Account::open(
            AccountId::generate(),
            Role::User,
            login,
            password_hash,
            VerificationLevel::L0,
            self.partitions.now(),
        );
        match self.partitions.store.create_account(&account, &[]).await {
            Ok(()) => Ok(account),
            Err(StoreError::AlreadyExists) => Err(ApiError::AlreadyRegistered),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn login(&self, login: Login, password: String) -> Result<TokenPair, ApiError> {
        let account = match self.partitions.store.account_id_by_login(&login.index_key()).await? {
            Some(id) => self.partitions.store.load_account(&id).await?.map(|v| v.value),
            None => None,
        };
        let Some(account) = account else {
            return Err(self.refuse_unknown_login(&login, password).await?);
        };
        // Locked: refused without spending a hash on the password.
        if let Some(until) = account.login_locked_until(self.partitions.now()) {
            return Err(ApiError::LoginLocked { locked_until: until });
        }
        let matches = self.passwords.verify(password, account.password_hash.clone()).await?;
        let (verdict, account) = self
            .partitions
            .update_account(&account.id, |account, now| {
                Ok((account.attempt_login(matches, &self.login_policy, now), Vec::new()))
            })
            .await?;
        match verdict {
            LoginVerdict::Accepted => {
                let family = uuid::Uuid::new_v4().simple().to_string();
                self.issue_tokens(&account, family).await
            }
            LoginVerdict::Refused => Err(login_refused()),
            LoginVerdict::Locked { until } => Err(ApiError::LoginLocked { locked_until: until }),
        }
    }

    /// The answer to a login nobody registered: what a wrong password would
    /// get, after as long, counted and locked the same way. Its guard is
    /// read and written without compare-and-set: there is no account to
    /// protect, and a lost count under concurrency only errs towards fewer locks.
    async fn refuse_unknown_login(&self, login: &Login, password: String) -> Result<ApiError, ApiError> {
        let key = unknown_login_guard_key(login);
        let stored = self.partitions.store.get_ephemeral(&key).await?;
        // A count that cannot be read starts again rather than lock anyone out.
        let mut guard: AttemptGuard = stored.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default();
        if let Some(until) = guard.locked_until(self.partitions.now()) {
            return Ok(ApiError::LoginLocked { locked_until: until });
        }
        self.passwords.burn_equivalent_time(password).await?;
        let verdict = LoginVerdict::from(guard.judge(|| false, &self.login_policy, self.partitions.now()));
        let kept_for =
            self.login_policy.lock_max.to_std().unwrap_or_default().max(Duration::from_secs(UNKNOWN_LOGIN_MEMORY_SECS));
        self.partitions.store.put_ephemeral_as(&key, &guard, kept_for).await?;
        Ok(match verdict {
            LoginVerdict::Locked { until } => {
                // A lock already in place returned above: this one starts now.
                metrics::counter!(LOGIN_LOCKS_TOTAL, "login" => "unknown").increment(1);
                ApiError::LoginLocked { locked_until: until }
            }
            LoginVerdict::Accepted | LoginVerdict::Refused => login_refused(),
        })
    }

    /// Rotates a refresh token: the presented one is consumed, a new pair issued.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, ApiError> {
        let digest = refresh_token_digest(refresh_token);
        let key = refresh_key(&digest);
        let Some(text) = self.partitions.store.get_ephemeral(&key).await? else {
            self.revoke_family_if_reused(&digest).await?;
            return Err(refresh_refused());
        };
        let record: RefreshRecord = serde_json::from_str(&text).map_err(ApiError::internal)?;
        // The "used" mark goes down before the token is taken, so a second
        // use, even a concurrent one, always finds it and revokes the family.
        let remember = Duration::from_secs(USED_REFRESH_MEMORY_SECS);
        self.partitions.store.put_ephemeral(&used_refresh_key(&digest), &text, remember).await?;
        if self.partitions.store.take_ephemeral(&key).await?.is_none() {
            self.revoke_family_if_reused(&digest).await?;
            return Err(refresh_refused());
        }
        // The account is read before the family's revocation is looked at: a
        // revocation this look misses raises the watermark after this read,
        // so the access token issued below dies with the family.
        let account = self.partitions.load_account(&record.account_id).await.map_err(|_| refresh_refused())?;
        if record.expires_at <= self.wall_clock.now()
            || self.partitions.store.get_ephemeral(&revoked_family_key(&record.family)).await?.is_some()
        {
            return Err(refresh_refused());
        }
        self.issue_tokens(&account, record.family).await
    }

    async fn revoke_family_if_reused(&self, digest: &str) -> Result<(), ApiError> {
        let Some(used) = self.partitions.store.get_ephemeral(&used_refresh_key(digest)).await? else { return Ok(()) };
        // The mark holds the consumed token's record; marks written before it
        // did hold just the family.
        let (family, account_id) = match serde_json::from_str::<RefreshRecord>(&used) {
            Ok(record) => (record.family, Some(record.account_id)),
            Err(_) => (used, None),
        };
        tracing::warn!(%family, "a consumed refresh token was presented again; revoking its family");
        let ttl = Duration::from_secs(self.tokens.refresh_ttl_secs);
        self.partitions.store.put_ephemeral(&revoked_family_key(&family), "revoked", ttl).await?;
        if let Some(account_id) = account_id {
            let revoked = self
                .partitions
                .update_account(&account_id, |account, _| {
                    account.revoke_tokens();
                    Ok(((), Vec::new()))
                })
                .await;
            match revoked {
                Ok(_) | Err(ApiError::NotFound { resource: "account" }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    async fn issue_tokens(&self, account: &Account, family: String) -> Result<TokenPair, ApiError> {
        let now = self.wall_clock.now();
        let principal = Principal::in_session(account, &family);
        let access_token = self.tokens.issue_access(&principal, now).map_err(ApiError::Internal)?;
        let (refresh_token, digest) = new_refresh_token();
        let refresh_ttl = self.tokens.refresh_ttl_secs;
        let record = RefreshRecord {
            account_id: account.id.clone(),
            family,
            expires_at: now + chrono::Duration::seconds(refresh_ttl as i64),
        };
        let kept_for = Duration::from_secs(refresh_ttl);
        self.partitions.store.put_ephemeral_as(&refresh_key(&digest), &record, kept_for).await?;
        Ok(TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in: self.tokens.access_ttl_secs,
            refresh_token: Some(refresh_token),
            refresh_expires_in: refresh_ttl,
        })
    }
}
