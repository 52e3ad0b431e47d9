//! From TOML text to a checked `Scenario`: the file as written (`Raw*`,
//! every scalar with its place in the text), then each value parsed with the
//! domain's own constructors and the rules across values checked (unique
//! names, logins and ID numbers; what an operator may not have; what a
//! withdrawal's state needs).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use super::{
    Place, SCENARIO_BYTES_MAX, SCENARIO_USERS_MAX, SCENARIO_VERSION, SCENARIO_WITHDRAWALS_PER_USER_MAX, Scenario,
    ScenarioError, ScenarioIdentity, ScenarioUser, ScenarioWeChat, ScenarioWithdrawal, WithdrawalTarget,
};
use crate::domain::account::{Role, VerificationLevel};
use crate::domain::asset::{Asset, Quantity};
use crate::domain::credentials::{Login, Password};
use crate::domain::identity::{RealName, ResidentId};
use crate::domain::money::{Amount, Money};
use crate::domain::pin::Pin;
use crate::domain::withdrawal::RejectionReason;

const NAME_CHARS_MAX: usize = 64;
const DESCRIPTION_CHARS_MAX: usize = 1000;
const NOTE_CHARS_MAX: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    version: Spanned<u32>,
    name: Spanned<String>,
    #[serde(default)]
    description: Option<Spanned<String>>,
    #[serde(default)]
    users: Vec<Spanned<RawUser>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: Spanned<String>,
    #[serde(default)]
    role: Option<Spanned<Role>>,
    phone: Option<Spanned<String>>,
    email: Option<Spanned<String>>,
    password: Spanned<String>,
    /// Asset code → amount, both as strings.
    #[serde(default)]
    balances: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    identity: Option<Spanned<RawIdentity>>,
    pin: Option<Spanned<String>>,
    wechat: Option<Spanned<RawWeChat>>,
    #[serde(default)]
    withdrawals: Vec<Spanned<RawWithdrawal>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    level: Spanned<VerificationLevel>,
    real_name: Spanned<String>,
    id_number: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeChat {
    nickname: Spanned<String>,
    #[serde(default)]
    frozen: bool,
    #[serde(default)]
    no_real_name: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWithdrawal {
    amount: Spanned<String>,
    state: Spanned<WithdrawalTarget>,
    reason: Option<Spanned<RejectionReason>>,
    note: Option<Spanned<String>>,
}

/// Parses and checks a scenario. `today` bounds the birth dates of ID numbers.
pub fn parse_scenario(text: &str, today: NaiveDate) -> Result<Scenario, ScenarioError> {
    if text.len() > SCENARIO_BYTES_MAX {
        return Err(whole(format!("is {} bytes; a scenario may have at most {SCENARIO_BYTES_MAX}", text.len())));
    }
    let lines = Lines::of(text);
    let raw = read_toml(text, &lines)?;
    Checker { lines: &lines, today, logins: HashMap::new(), names: HashMap::new(), id_numbers: HashMap::new() }
        .scenario(raw)
}

fn whole(message: impl Into<String>) -> ScenarioError {
    ScenarioError { field: None, line: None, message: message.into() }
}

/// The TOML read into the raw shape: syntax errors, unknown fields, missing
/// ones and values of the wrong type, each with its line and field.
fn read_toml(text: &str, lines: &Lines) -> Result<RawScenario, ScenarioError> {
    let deserializer = toml::Deserializer::parse(text).map_err(|error| toml_error(&error, lines, None))?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        // A `Spanned` value shows in the path as a field of its own.
        let path = error.path().to_string().replace(".$__serde_spanned_private_value", "");
        let field = (path != "." && !path.is_empty()).then_some(path);
        toml_error(error.inner(), lines, field)
    })
}

fn toml_error(error: &toml::de::Error, lines: &Lines, field: Option<String>) -> ScenarioError {
    let message = error.message().trim_end().to_owned();
    let field = match (field, named_field(&message)) {
        (Some(path), Some(named)) if !path.ends_with(named) => Some(format!("{path}.{named}")),
        (None, Some(named)) => Some(named.to_owned()),
        (field, _) => field,
    };
    ScenarioError { field, line: error.span().map(|span| lines.line_of(span.start)), message }
}

/// The field serde names in "unknown field `x`" and "missing field `x`",
/// errors of the table around it.
fn named_field(message: &str) -> Option<&str> {
    let rest = ["unknown field `", "missing field `"].iter().find_map(|start| message.strip_prefix(start))?;
    rest.split('`').next().filter(|name| !name.is_empty())
}

/// Where each line of the text starts, to turn a byte offset into a line.
struct Lines(Vec<usize>);

impl Lines {
    fn of(text: &str) -> Lines {
        Lines(std::iter::once(0).chain(text.match_indices('\n').map(|(at, _)| at + 1)).collect())
    }

    /// The 1-based line holding byte `at`.
    fn line_of(&self, at: usize) -> usize {
        self.0.partition_point(|&start| start <= at).max(1)
    }
}

struct Checker<'a> {
    lines: &'a Lines,
    today: NaiveDate,
    /// First place each login, user name and ID number was seen, to name both ends of a duplicate.
    logins: HashMap<String, String>,
    names: HashMap<String, String>,
    id_numbers: HashMap<String, String>,
}

impl Checker<'_> {
    fn place(&self, field: impl Into<String>, span: Range<usize>) -> Place {
        Place { field: field.into(), line: self.lines.line_of(span.start) }
    }

    fn error<T>(&self, field: impl Into<String>, value: &Spanned<T>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at(&self.place(field, value.span()), message)
    }

    fn scenario(mut self, raw: RawScenario) -> Result<Scenario, ScenarioError> {
        if *raw.version.get_ref() != SCENARIO_VERSION {
            let message = format!(
                "version {} is not read here; this walletgate reads version {SCENARIO_VERSION}",
                raw.version.get_ref()
            );
            return Err(self.error("version", &raw.version, message));
        }
        let name = raw.name.get_ref();
        let name_ok = (1..=NAME_CHARS_MAX).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !name_ok {
            return Err(self.error("name", &raw.name, "must be 1 to 64 letters, digits, `.`, `_` or `-`"));
        }
        let description = match raw.description {
            Some(text) if text.get_ref().chars().count() > DESCRIPTION_CHARS_MAX => {
                return Err(self.error("description", &text, "must be at most 1000 characters"));
            }
            Some(text) => text.into_inner(),
            None => String::new(),
        };
        if raw.users.len() > SCENARIO_USERS_MAX {
            return Err(whole(format!(
                "has {} users; a scenario may have at most {SCENARIO_USERS_MAX}",
                raw.users.len()
            )));
        }
        let mut users = Vec::with_capacity(raw.users.len());
        for (index, user) in raw.users.into_iter().enumerate() {
            users.push(self.user(index, user)?);
        }
        Ok(Scenario { name: raw.name.into_inner(), description, users })
    }

    fn user(&mut self, index: usize, raw: Spanned<RawUser>) -> Result<ScenarioUser, ScenarioError> {
        let at = self.place(format!("users[{index}]"), raw.span());
        let raw = raw.into_inner();
        let field = |name: &str| format!("{}.{name}", at.field);
        let name = raw.name.get_ref().trim();
        if name.is_empty() || name.chars().count() > NAME_CHARS_MAX || name.chars().any(char::is_control) {
            return Err(self.error(
                field("name"),
                &raw.name,
                "must be 1 to 64 characters, none of them control characters",
            ));
        }
        if let Some(first) = self.names.insert(name.to_owned(), at.field.clone()) {
            return Err(self.error(field("name"), &raw.name, format!("{name:?} is already the name of {first}")));
        }
        let role = raw.role.as_ref().map_or(Role::User, |role| *role.get_ref());
        let login = self.login(&at, role, &raw)?;
        let password = Password::parse(raw.password.get_ref().clone())
            .map_err(|error| self.error(field("password"), &raw.password, error.to_string()))?;
        if role == Role::Operator {
            self.nothing_of_a_wallet(&at, &raw)?;
        }
        let balances = match &raw.balances {
            Some(balances) => self.balances(&at, balances)?,
            None => Vec::new(),
        };
        let identity = raw.identity.map(|identity| self.identity(&at, identity)).transpose()?;
        let pin = match &raw.pin {
            Some(pin) => {
                Some(Pin::choose(pin.get_ref()).map_err(|error| self.error(field("pin"), pin, error.to_string()))?)
            }
            None => None,
        };
        let wechat = raw.wechat.map(|wechat| {
            let wechat_at = self.place(field("wechat"), wechat.span());
            let wechat = wechat.into_inner();
            ScenarioWeChat {
                nickname: wechat.nickname.into_inner(),
                frozen: wechat.frozen,
                no_real_name: wechat.no_real_name,
                at: wechat_at,
            }
        });
        if raw.withdrawals.len() > SCENARIO_WITHDRAWALS_PER_USER_MAX {
            let message = format!("a user may have at most {SCENARIO_WITHDRAWALS_PER_USER_MAX} withdrawals");
            return Err(ScenarioError::below(&at, "withdrawals", message));
        }
        let mut withdrawals = Vec::with_capacity(raw.withdrawals.len());
        for (index, withdrawal) in raw.withdrawals.into_iter().enumerate() {
            withdrawals.push(self.withdrawal(&at, index, withdrawal, pin.is_some(), wechat.as_ref())?);
        }
        Ok(ScenarioUser {
            name: name.to_owned(),
            role,
            login,
            password,
            balances,
            identity,
            pin,
            wechat,
            withdrawals,
            at,
        })
    }

    /// The phone (or, for an operator, the email) the user logs in with, unique in the file.
    fn login(&mut self, at: &Place, role: Role, raw: &RawUser) -> Result<Login, ScenarioError> {
        let (field, spanned) = match (&raw.phone, &raw.email) {
            (Some(phone), _) => ("phone", phone),
            (None, Some(email)) if role == Role::Operator => ("email", email),
            (None, Some(email)) => {
                return Err(self.error(
                    format!("{}.email", at.field),
                    email,
                    "a user logs in with a phone (SMS codes and bindings go to it); only an operator may use an email",
                ));
            }
            (None, None) => return Err(ScenarioError::below(at, "phone", "missing field `phone`")),
        };
        let field = format!("{}.{field}", at.field);
        let phone = raw.phone.as_ref().map(|phone| phone.get_ref().as_str());
        let email = raw.email.as_ref().map(|email| email.get_ref().as_str());
        let login = Login::from_parts(phone, email).map_err(|error| self.error(&field, spanned, error.to_string()))?;
        if let Some(first) = self.logins.insert(login.index_key(), at.field.clone()) {
            return Err(self.error(field, spanned, format!("{} is already the login of {first}", spanned.get_ref())));
        }
        Ok(login)
    }

    /// An operator's account holds no money, so nothing that goes with a wallet.
    fn nothing_of_a_wallet(&self, at: &Place, raw: &RawUser) -> Result<(), ScenarioError> {
        let present = [
            ("balances", raw.balances.as_ref().map(Spanned::span)),
            ("identity", raw.identity.as_ref().map(Spanned::span)),
            ("pin", raw.pin.as_ref().map(Spanned::span)),
            ("wechat", raw.wechat.as_ref().map(Spanned::span)),
            ("withdrawals", raw.withdrawals.first().map(Spanned::span)),
        ];
        match present.into_iter().find_map(|(name, span)| Some((name, span?))) {
            Some((name, span)) => Err(ScenarioError::at(
                &self.place(format!("{}.{name}", at.field), span),
                "an operator has no wallet: no balances, identity, PIN, WeChat binding or withdrawals",
            )),
            None => Ok(()),
        }
    }

    fn balances(
        &self,
        at: &Place,
        balances: &Spanned<BTreeMap<String, Spanned<String>>>,
    ) -> Result<Vec<Quantity>, ScenarioError> {
        let mut parsed = Vec::new();
        for (code, amount) in balances.get_ref() {
            let field = format!("{}.balances.{code}", at.field);
            let asset = Asset::parse(code).ok_or_else(|| {
                let known: Vec<&str> = Asset::ALL.iter().map(|asset| asset.code()).collect();
                self.error(&field, amount, format!("unknown asset `{code}` (one of {})", known.join(", ")))
            })?;
            let quantity = Quantity::parse_positive(asset, amount.get_ref())
                .map_err(|error| self.error(&field, amount, format!("{:?}: {error}", amount.get_ref())))?;
            parsed.push(quantity);
        }
        Ok(parsed)
    }

    fn identity(&mut self, at: &Place, raw: Spanned<RawIdentity>) -> Result<ScenarioIdentity, ScenarioError> {
        let place = self.place(format!("{}.identity", at.field), raw.span());
        let raw = raw.into_inner();
        let field = |name: &str| format!("{}.{name}", place.field);
        let level = *raw.level.get_ref();
        if level == VerificationLevel::L0 {
            return Err(self.error(
                field("level"),
                &raw.level,
                "L0 is unverified: leave `identity` out, or verify L1 or L2",
            ));
        }
        let real_name = RealName::parse(raw.real_name.get_ref())
            .map_err(|error| self.error(field("real_name"), &raw.real_name, error.to_string()))?;
        let id_number = ResidentId::parse(raw.id_number.get_ref(), self.today)
            .map_err(|error| self.error(field("id_number"), &raw.id_number, error.to_string()))?;
        if let Some(first) = self.id_numbers.insert(id_number.as_str().to_owned(), place.field.clone()) {
            let message = format!("this ID number already verifies {first}; one number verifies one account");
            return Err(self.error(field("id_number"), &raw.id_number, message));
        }
        Ok(ScenarioIdentity { level, real_name, id_number, at: place })
    }

    fn withdrawal(
        &self,
        user: &Place,
        index: usize,
        raw: Spanned<RawWithdrawal>,
        has_pin: bool,
        wechat: Option<&ScenarioWeChat>,
    ) -> Result<ScenarioWithdrawal, ScenarioError> {
        let at = self.place(format!("{}.withdrawals[{index}]", user.field), raw.span());
        let raw = raw.into_inner();
        let field = |name: &str| format!("{}.{name}", at.field);
        let Some(wechat) = wechat.filter(|_| has_pin) else {
            return Err(ScenarioError::at(
                &at,
                "a withdrawal needs the user's `pin` and `wechat` (the wallet it goes to)",
            ));
        };
        let amount = raw.amount.get_ref().parse::<Money>().and_then(Amount::new).map_err(|error| {
            self.error(field("amount"), &raw.amount, format!("{:?}: {error}", raw.amount.get_ref()))
        })?;
        let state = *raw.state.get_ref();
        let rejection = match (state, raw.reason) {
            (WithdrawalTarget::Rejected, Some(reason)) if !reason.get_ref().is_operators() => {
                return Err(self.error(
                    field("reason"),
                    &reason,
                    "REVIEW_TIMED_OUT is the worker's reason, not an operator's",
                ));
            }
            (WithdrawalTarget::Rejected, Some(reason)) => {
                Some((*reason.get_ref(), self.note(&field("note"), raw.note)?))
            }
            (WithdrawalTarget::Rejected, None) => {
                return Err(ScenarioError::below(
                    &at,
                    "reason",
                    "a rejected withdrawal needs a `reason` (e.g. RISK_POLICY)",
                ));
            }
            (_, Some(reason)) => {
                return Err(self.error(field("reason"), &reason, "only a rejected withdrawal has a reason"));
            }
            (_, None) => match raw.note {
                Some(note) => return Err(self.error(field("note"), &note, "only a rejected withdrawal has a note")),
                None => None,
            },
        };
        let refused = wechat.refuses_payouts();
        if state == WithdrawalTarget::Failed && !refused {
            let message = "a payout fails only to a WeChat wallet that refuses it: set `frozen` or `no_real_name` on the user's `wechat`";
            return Err(self.error(field("state"), &raw.state, message));
        }
        if state == WithdrawalTarget::Settled && refused {
            let message = "the user's WeChat wallet refuses payouts (`frozen` or `no_real_name`), so this would fail";
            return Err(self.error(field("state"), &raw.state, message));
        }
        Ok(ScenarioWithdrawal { amount, state, rejection, at })
    }

    fn note(&self, field: &str, note: Option<Spanned<String>>) -> Result<Option<String>, ScenarioError> {
        let Some(note) = note else { return Ok(None) };
        let length = note.get_ref().trim().chars().count();
        if !(1..=NOTE_CHARS_MAX).contains(&length) {
            return Err(self.error(field, &note, "must be 1 to 200 characters"));
        }
        Ok(Some(note.into_inner()))
    }
}

#[cfg(test)]
mod tests;
