//! The rules of one deployment, kept in the store so every gateway answers
//! alike: one document holding them all, changed by compare-and-set, so a
//! rule with `times` answers exactly that many calls however many gateways
//! and workers consult it at once.
//!
//! `consult` is what a mock provider asks before answering a call: the first
//! live rule that matches (in the order they were added) and whose
//! probability comes up answers it, counted in the same compare-and-set;
//! else a magic amount; else nothing is forced.

use rand::Rng;

use super::rules::{Forced, NewRule, ProviderCall, RULES_MAX, Rule, RuleError, magic_answer, standard_normal};
use crate::clock::SharedClock;
use crate::domain::account::AccountId;
use crate::domain::withdrawal::WithdrawalId;
use crate::providers::journal::note_matched_rule;
use crate::store::typed::{decode_document, encode_document};
use crate::store::{CommitOutcome, SharedStore, StoreError, Versioned, owner_by_subject};

const COLLECTION: &str = "sim_rules";
const DOCUMENT: &str = "rules";
/// Lost races (another gateway counting a rule meanwhile) before giving up.
const SAVE_ATTEMPTS_MAX: u32 = 32;
/// The store key named in decode errors.
const KEY: &str = "sim_rules/rules";

/// The first live rule of `set` that matches `call` and whose probability
/// comes up, counted, with the answer it gives.
fn choose(set: &mut RuleSet, call: &ProviderCall<'_>, account: Option<AccountId>) -> Option<Forced> {
    let mut rng = rand::rng();
    let rule = set.rules.iter_mut().find(|rule| {
        rule.matches(call, || account.clone()) && rule.probability.is_none_or(|chance| rng.random::<f64>() < chance)
    })?;
    rule.count_match();
    let z = standard_normal(1.0 - rng.random::<f64>(), rng.random::<f64>());
    Some(Forced {
        rule: rule.id.clone(),
        respond: rule.respond.clone(),
        delay: rule.delay.as_ref().map(|delay| delay.sample(z)).unwrap_or_default(),
    })
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct RuleSet {
    rules: Vec<Rule>,
}

/// Why a change to the rules was refused.
#[derive(Debug, thiserror::Error)]
pub enum RuleBookError {
    #[error(transparent)]
    Invalid(#[from] RuleError),
    #[error("at most {RULES_MAX} rules at once")]
    Full,
    #[error("no such rule")]
    NotFound,
    #[error("the rules are being changed by others; try again")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The rules, and the magic amounts when they are on.
#[derive(Debug, Clone)]
pub struct RuleBook {
    store: SharedStore,
    clock: SharedClock,
    magic_amounts: bool,
}

impl RuleBook {
    pub fn new(store: SharedStore, clock: SharedClock, magic_amounts: bool) -> RuleBook {
        RuleBook { store, clock, magic_amounts }
    }

    pub async fn rules(&self) -> Result<Vec<Rule>, StoreError> {
        Ok(self.load().await?.value.rules)
    }

    /// Adds a rule after the others (it is consulted last).
    pub async fn add(&self, rule: NewRule) -> Result<Rule, RuleBookError> {
        rule.check()?;
        let added = Rule::new(format!("rule_{}", uuid::Uuid::now_v7().simple()), rule, self.clock.now());
        self.change(|set| {
            if set.rules.len() >= RULES_MAX {
                return Err(RuleBookError::Full);
            }
            set.rules.push(added.clone());
            Ok(())
        })
        .await?;
        Ok(added)
    }

    pub async fn remove(&self, id: &str) -> Result<(), RuleBookError> {
        self.change(|set| {
            let before = set.rules.len();
            set.rules.retain(|rule| rule.id != id);
            if set.rules.len() == before { Err(RuleBookError::NotFound) } else { Ok(()) }
        })
        .await
    }

    /// Removes every rule; how many there were.
    pub async fn clear(&self) -> Result<usize, RuleBookError> {
        let mut cleared = 0;
        self.change(|set| {
            cleared = set.rules.len();
            set.rules.clear();
            Ok(())
        })
        .await?;
        Ok(cleared)
    }

    /// How `call` is to be answered, if a rule or a magic amount says so;
    /// a rule that answers is counted first.
    pub async fn consult(&self, call: &ProviderCall<'_>) -> Result<Option<Forced>, StoreError> {
        for _ in 0..SAVE_ATTEMPTS_MAX {
            let mut found = self.load().await?;
            let account = self.account_of(call, &found.value).await?;
            let Some(forced) = choose(&mut found.value, call, account) else { return Ok(self.magic(call)) };
            if self.save(found).await? == CommitOutcome::Committed {
                tracing::info!(rule = %forced.rule, operation = call.operation.as_str(), "simulator rule answered a call");
                return Ok(Some(forced));
            }
        }
        Err(StoreError::Unavailable("the simulator's rules are too busy to count a match".into()))
    }

    /// `consult`, then the rule's delay (a real wait: latency is what it
    /// simulates); the rule is noted for the request journal.
    pub async fn consult_and_wait(&self, call: &ProviderCall<'_>) -> Result<Option<Forced>, StoreError> {
        let forced = self.consult(call).await?;
        if let Some(forced) = &forced {
            note_matched_rule(&forced.rule);
            if !forced.delay.is_zero() {
                tokio::time::sleep(forced.delay).await;
            }
        }
        Ok(forced)
    }

    fn magic(&self, call: &ProviderCall<'_>) -> Option<Forced> {
        self.magic_amounts.then(|| magic_answer(call)).flatten()
    }

    /// The walletgate account paying the call's bill, looked up only when a
    /// live rule names an account (a bill number is a withdrawal's id).
    async fn account_of(&self, call: &ProviderCall<'_>, set: &RuleSet) -> Result<Option<AccountId>, StoreError> {
        let wanted = set.rules.iter().any(|rule| rule.is_live() && rule.when.account_id.is_some());
        if !wanted || call.out_bill_no.is_empty() {
            return Ok(None);
        }
        let Some(withdrawal) = WithdrawalId::of_out_bill_no(call.out_bill_no) else { return Ok(None) };
        // The names of `services::keys::WITHDRAWAL_LIST` and
        // `withdrawal_index_key`, which this layer cannot import (providers
        // sit below the services); found as `WithdrawalReads::withdrawal_owner` finds it.
        let index_key = format!("withdrawal_account:{}", withdrawal.as_str());
        let created_ms = withdrawal.created_ms();
        let owner =
            owner_by_subject(&*self.store, "withdrawals:by_created", withdrawal.as_str(), created_ms, &index_key);
        Ok(owner.await?.as_deref().and_then(AccountId::parse))
    }

    async fn load(&self) -> Result<Versioned<RuleSet>, StoreError> {
        match self.store.load_document(COLLECTION, DOCUMENT).await? {
            Some(found) => Ok(Versioned { version: found.version, value: decode_document(KEY, &found.value)? }),
            None => Ok(Versioned { version: 0, value: RuleSet::default() }),
        }
    }

    async fn save(&self, set: Versioned<RuleSet>) -> Result<CommitOutcome, StoreError> {
        let body = encode_document(&set.value)?;
        self.store.save_document(COLLECTION, DOCUMENT, set.version, &body).await
    }

    async fn change(
        &self,
        mut edit: impl FnMut(&mut RuleSet) -> Result<(), RuleBookError>,
    ) -> Result<(), RuleBookError> {
        for _ in 0..SAVE_ATTEMPTS_MAX {
            let mut found = self.load().await?;
            edit(&mut found.value)?;
            if self.save(found).await? == CommitOutcome::Committed {
                return Ok(());
            }
        }
        Err(RuleBookError::Busy)
    }
}
