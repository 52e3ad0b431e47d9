//! The demo accounts every README, Postman environment and mockup hint
//! refers to. Seeding is idempotent and safe when several instances start
//! against one Redis at once: an account that exists is left alone, and a
//! create that loses the race is simply skipped.
//!
//! A store can come back empty (a Redis without persistence restarted):
//! `DemoData::ensure` puts the demo accounts back, from `/readyz` and from
//! a periodic check, so Alice can log in again without a gateway restart.
//!
//! A demo account verified above L0 carries the identity it was verified
//! with (a real name and an ID number, approved when seeded), as any
//! verified account does: WeChat Pay wants the payee's real name from
//! ¥2,000, and a PIN reset asks for the ID number's last six.
//!
//! Each demo account carries the argon2id hash of its published password,
//! made once with the default parameters: seeding hashes nothing, where four
//! hashes (about a tenth of a second of CPU) used to be spent at every start
//! of a server, a test's server included. A fixed salt hides nothing here,
//! since the passwords themselves are published.

use super::kyc::id_number_index_key;
use super::partitions::Partitions;
use crate::domain::account::{Account, AccountId, PasswordHash, Posting, Role, VerificationLevel};
use crate::domain::asset::{Asset, Quantity};
use crate::domain::credentials::Login;
use crate::domain::identity::{RealName, ResidentId};
use crate::domain::kyc::{KycDecision, KycSubmission};
use crate::domain::ledger::{EntryKind, LedgerAccount, leg_of};
use crate::error::ApiError;
use crate::store::StoreError;
use chrono::{DateTime, Utc};

pub struct DemoAccount {
    pub id: &'static str,
    pub role: Role,
    pub phone: Option<&'static str>,
    pub email: Option<&'static str>,
    pub password: &'static str,
    /// The argon2id PHC string of `password` (see the module's doc).
    pub password_hash: &'static str,
    pub level: VerificationLevel,
    /// The real name and ID number the level was verified with (above L0).
    pub identity: Option<DemoIdentity>,
    pub balance: Option<&'static str>,
}

pub struct DemoIdentity {
    pub real_name: &'static str,
    pub id_number: &'static str,
}

/// The demo operator, who also acts for a scenario loaded at startup without operators of its own.
pub const DEMO_OPERATOR_ID: &str = "acc_demo_operator";

pub const DEMO_ACCOUNTS: [DemoAccount; 4] = [
    DemoAccount {
        id: DEMO_OPERATOR_ID,
        role: Role::Operator,
        phone: None,
        email: Some("ops@walletgate.test"),
        password: "operator-demo",
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$wfcUqJ/i/TTzsYtj7r+tIw$fnE3JGItT5McbMvbLGomgGbWJK+QfgwOLYds35cTF6Y",
        level: VerificationLevel::L0,
        identity: None,
        balance: None,
    },
    DemoAccount {
        id: "acc_demo_alice",
        role: Role::User,
        phone: Some("13800000001"),
        email: None,
        password: "alice-demo",
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$MlKTk6AKdJVP2HQYd6nnvA$LElwLmm0BfmgGoYrgSda6/gRGkQRgm98C7ypPunI/G8",
        level: VerificationLevel::L0,
        identity: None,
        balance: Some("800.00"),
    },
    DemoAccount {
        id: "acc_demo_bob",
        role: Role::User,
        phone: Some("13800000002"),
        email: None,
        password: "bob-demo",
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$oX4Gr/7htImhL8W5u9ztMg$kgrtpE/c7MJsz0UTEEoQhX+kDDjhUEPdzREo5zmHA9g",
        level: VerificationLevel::L2,
        identity: Some(DemoIdentity { real_name: "王博", id_number: "110101198803151237" }),
        balance: Some("120000.00"),
    },
    DemoAccount {
        id: "acc_demo_carol",
        role: Role::User,
        phone: Some("13800000003"),
        email: None,
        password: "carol-demo",
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$FaogHz47XHPDpbngIHluzw$L3EF/1M2L9RNmZk1S5DQ/k4nklEI81uZbB5h9I06PWI",
        level: VerificationLevel::L1,
        identity: Some(DemoIdentity { real_name: "陈可", id_number: "310115199207082466" }),
        balance: Some("5000.00"),
    },
];

/// The demo accounts, kept present while seeding is on.
#[derive(Debug, Clone)]
pub struct DemoData {
    pub partitions: Partitions,
    pub enabled: bool,
}

impl DemoData {
    /// Creates the demo accounts that are missing (when seeding is on);
    /// returns how many it created. Costs one index read while they exist.
    pub async fn ensure(&self) -> Result<usize, ApiError> {
        if !self.enabled {
            return Ok(0);
        }
        let sentinel = &DEMO_ACCOUNTS[DEMO_ACCOUNTS.len() - 1];
        let login = Login::from_parts(sentinel.phone, sentinel.email)?;
        if self.partitions.store.account_id_by_login(&login.index_key()).await?.is_some() {
            return Ok(0);
        }
        let created = seed_demo_accounts(&self.partitions).await?;
        if created > 0 {
            tracing::warn!(created, "the store had lost the demo accounts; they are back");
        }
        Ok(created)
    }
}

/// Creates the demo accounts that do not exist yet; returns how many it created.
pub async fn seed_demo_accounts(partitions: &Partitions) -> Result<usize, ApiError> {
    let mut created = 0;
    for demo in &DEMO_ACCOUNTS {
        let login = Login::from_parts(demo.phone, demo.email)?;
        if partitions.store.account_id_by_login(&login.index_key()).await?.is_some() {
            continue;
        }
        let id = AccountId::parse(demo.id).ok_or_else(|| ApiError::internal(anyhow::anyhow!("bad demo id")))?;
        let balances = match demo.balance {
            Some(balance) => vec![Quantity::parse_positive(Asset::Cny, balance).map_err(ApiError::internal)?],
            None => Vec::new(),
        };
        let identity = match &demo.identity {
            Some(identity) => {
                // The ID number's index entry goes down first, as a KYC
                // request's does: an entry whose account never landed
                // names nobody.
                let key = id_number_index_key(identity.id_number);
                if !partitions.store.swap_index(&key, None, Some(id.as_str())).await? {
                    let holder = partitions.store.get_index(&key).await?;
                    if holder.as_deref() != Some(id.as_str()) {
                        tracing::warn!(account_id = %id, "a demo ID number verifies another account; seeded unverified");
                    }
                }
                Some(demo_identity(identity, demo.level, partitions.now())?)
            }
            None => None,
        };
        let account = SeededAccount {
            id,
            role: demo.role,
            login,
            password_hash: PasswordHash(demo.password_hash.to_owned()),
            level: demo.level,
            identity,
            balances: &balances,
            memo: "demo opening balance",
        };
        if create_seeded_account(partitions, account).await? {
            created += 1;
        }
    }
    Ok(created)
}

/// A demo identity as a submission of `level` (an L2 one with its face check passed).
fn demo_identity(
    identity: &DemoIdentity,
    level: VerificationLevel,
    now: DateTime<Utc>,
) -> Result<KycSubmission, ApiError> {
    Ok(KycSubmission {
        level,
        real_name: RealName::parse(identity.real_name).map_err(ApiError::internal)?,
        id_number: ResidentId::parse(identity.id_number, now.date_naive()).map_err(ApiError::internal)?,
        face_check_passed: (level == VerificationLevel::L2).then_some(true),
    })
}

/// An account to create with its opening balances, as seeding does.
pub struct SeededAccount<'a> {
    pub id: AccountId,
    pub role: Role,
    pub login: Login,
    /// The hash of its password (`accounts::hash_password`).
    pub password_hash: PasswordHash,
    pub level: VerificationLevel,
    /// The identity `level` was verified with, approved at creation.
    pub identity: Option<KycSubmission>,
    /// Each positive, at most one per asset.
    pub balances: &'a [Quantity],
    /// The memo of the opening entries.
    pub memo: &'a str,
}

/// Creates an account whose opening balances come from the funding
/// account, one balanced `demo_seed` entry per asset; false when its id or
/// login exists already (another instance seeding at the same moment).
pub async fn create_seeded_account(partitions: &Partitions, seeded: SeededAccount<'_>) -> Result<bool, ApiError> {
    let now = partitions.now();
    let mut account = match seeded.identity {
        // Verified through the domain's own steps: submitted from L0, approved.
        Some(identity) => {
            let mut account =
                Account::open(seeded.id, seeded.role, seeded.login, seeded.password_hash, VerificationLevel::L0, now);
            let request_id = format!("kyc_seed_{}", account.id.as_str().trim_start_matches("acc_"));
            account.submit_kyc(identity, request_id.clone(), now, None).map_err(ApiError::internal)?;
            account.decide_kyc(&request_id, KycDecision::Approve, "seed", now).map_err(ApiError::internal)?;
            account
        }
        None => Account::open(seeded.id, seeded.role, seeded.login, seeded.password_hash, seeded.level, now),
    };
    let mut opening_entries = Vec::with_capacity(seeded.balances.len());
    for balance in seeded.balances {
        let posting = Posting {
            kind: EntryKind::DemoSeed,
            memo: seeded.memo.to_owned(),
            actor: None,
            legs: vec![leg_of(LedgerAccount::Funding, LedgerAccount::UserAvailable, *balance)?],
        };
        opening_entries.push(account.post(posting, now)?);
    }
    match partitions.store.create_account(&account, &opening_entries).await {
        Ok(()) => Ok(true),
        Err(StoreError::AlreadyExists) => Ok(false),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password;

    #[test]
    fn each_demo_hash_verifies_its_published_password_and_no_other() {
        for demo in &DEMO_ACCOUNTS {
            let stored = PasswordHash(demo.password_hash.to_owned());
            assert!(password::verify(demo.password, &stored), "{}", demo.id);
            assert!(!password::verify("not-the-demo-password", &stored), "{}", demo.id);
        }
    }

    #[test]
    fn demo_hashes_cost_what_a_registration_costs() {
        let params = argon2::Params::default();
        let expected = format!("$argon2id$v=19$m={},t={},p={}$", params.m_cost(), params.t_cost(), params.p_cost());
        for demo in &DEMO_ACCOUNTS {
            assert!(demo.password_hash.starts_with(&expected), "{}: {}", demo.id, demo.password_hash);
        }
    }
}
