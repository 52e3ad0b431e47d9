//! The scenario parser's cases: a good file read whole, and each kind of
//! mistake refused with the field and line it names.

use chrono::NaiveDate;

use super::parse_scenario;
use crate::domain::account::{Role, VerificationLevel};
use crate::domain::asset::Asset;
use crate::domain::scenario::{SCENARIO_BYTES_MAX, ScenarioError, WithdrawalTarget};
use crate::domain::withdrawal::RejectionReason;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
}

const GOOD: &str = r#"
version = 1
name = "unit-test"
description = "one of everything"

[[users]]
name = "ops"
role = "operator"
email = "lead@walletgate.test"
password = "operator-pass"

[[users]]
name = "wang"
phone = "13900000001"
password = "wang-password"
balances = { CNY = "1200.50", USDT = "12.345678" }
pin = "246810"

[users.identity]
level = "L2"
real_name = "王小明"
id_number = "110105199003071239"

[users.wechat]
nickname = "小明"

[[users.withdrawals]]
amount = "100.00"
state = "in_review"

[[users.withdrawals]]
amount = "20.00"
state = "rejected"
reason = "RISK_POLICY"
note = "too many in a day"
"#;

/// The error of `text`, which must not parse.
fn refusal(text: &str) -> ScenarioError {
    parse_scenario(text, today()).expect_err("the scenario must be refused")
}

/// `GOOD` with `from` replaced by `to` (which must be there).
fn good_but(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1)
}

#[test]
fn a_full_scenario_parses_into_checked_values() {
    let scenario = parse_scenario(GOOD, today()).unwrap();
    assert_eq!((scenario.name.as_str(), scenario.description.as_str()), ("unit-test", "one of everything"));
    let [ops, wang] = &scenario.users[..] else { panic!("two users") };
    assert_eq!((ops.role, ops.login.index_key()), (Role::Operator, "email:lead@walletgate.test".to_owned()));
    assert_eq!(wang.role, Role::User);
    assert_eq!(wang.at.field, "users[1]");
    assert_eq!(wang.at.line, 12, "the line of its [[users]] header");
    let balances: Vec<(Asset, String)> = wang.balances.iter().map(|q| (q.asset(), q.to_string())).collect();
    assert_eq!(balances, [(Asset::Cny, "1200.50".to_owned()), (Asset::Usdt, "12.345678".to_owned())]);
    let identity = wang.identity.as_ref().unwrap();
    assert_eq!((identity.level, identity.id_number.as_str()), (VerificationLevel::L2, "110105199003071239"));
    assert_eq!(wang.wechat.as_ref().unwrap().nickname, "小明");
    let states: Vec<WithdrawalTarget> = wang.withdrawals.iter().map(|w| w.state).collect();
    assert_eq!(states, [WithdrawalTarget::InReview, WithdrawalTarget::Rejected]);
    let rejection = wang.withdrawals[1].rejection.clone().unwrap();
    assert_eq!(rejection, (RejectionReason::RiskPolicy, Some("too many in a day".to_owned())));
    assert_eq!(wang.withdrawals[1].at.field, "users[1].withdrawals[1]");
}

#[test]
fn an_unknown_field_is_named_with_its_line() {
    let error = refusal(&good_but("pin = \"246810\"", "pin = \"246810\"\ncolour = \"red\""));
    assert_eq!(error.field.as_deref(), Some("users[1].colour"), "{error}");
    assert_eq!(error.line, Some(18), "{error}");
    assert!(error.message.contains("unknown field `colour`"), "{error}");
    let error = refusal(&good_but("description", "descripton"));
    assert_eq!((error.field.as_deref(), error.line), (Some("descripton"), Some(4)), "{error}");
}

#[test]
fn amounts_keep_their_assets_places_and_assets_are_known() {
    let error = refusal(&good_but("USDT = \"12.345678\"", "USDT = \"12.3456789\""));
    assert_eq!((error.field.as_deref(), error.line), (Some("users[1].balances.USDT"), Some(16)), "{error}");
    assert!(error.message.contains("at most 6 decimal places for USDT"), "{error}");
    let error = refusal(&good_but("CNY = \"1200.50\"", "CNY = \"1200.505\""));
    assert!(error.message.contains("at most 2 decimal places for CNY"), "{error}");
    let error = refusal(&good_but("USDT = ", "BTC = "));
    assert_eq!(error.field.as_deref(), Some("users[1].balances.BTC"), "{error}");
    assert!(error.message.contains("unknown asset `BTC` (one of CNY, USDT)"), "{error}");
    let error = refusal(&good_but("CNY = \"1200.50\"", "CNY = 1200.5"));
    assert_eq!(error.line, Some(16), "{error}");
    assert!(error.message.contains("expected a string"), "amounts are never numbers: {error}");
    let error = refusal(&good_but("amount = \"100.00\"", "amount = \"0.00\""));
    assert_eq!(error.field.as_deref(), Some("users[1].withdrawals[0].amount"), "{error}");
}

#[test]
fn duplicates_name_both_ends() {
    let twice = format!("{GOOD}\n[[users]]\nname = \"li\"\nphone = \"13900000001\"\npassword = \"li-password\"\n");
    let error = refusal(&twice);
    assert_eq!(error.field.as_deref(), Some("users[2].phone"), "{error}");
    assert!(error.message.contains("already the login of users[1]"), "{error}");
    assert_eq!(error.line, Some(39), "{error}");
    let renamed = twice.replace("\"li\"", "\"wang\"");
    assert!(refusal(&renamed).message.contains("already the name of users[1]"));
}

#[test]
fn rules_across_fields_are_checked_before_anything_is_loaded() {
    let cases = [
        (good_but("version = 1", "version = 2"), "version", "reads version 1"),
        (good_but("unit-test", "unit test"), "name", "letters, digits"),
        (
            good_but("email = \"lead@walletgate.test\"", "email = \"lead@walletgate.test\"\npin = \"135790\""),
            "users[0].pin",
            "an operator has no wallet",
        ),
        (good_but("level = \"L2\"", "level = \"L0\""), "users[1].identity.level", "leave `identity` out"),
        (good_but("110105199003071239", "110105199003071230"), "users[1].identity.id_number", "check character"),
        (good_but("pin = \"246810\"", "pin = \"123456\""), "users[1].pin", "too easy"),
        (good_but("state = \"in_review\"", "state = \"failed\""), "users[1].withdrawals[0].state", "refuses it"),
        (good_but("reason = \"RISK_POLICY\"\n", ""), "users[1].withdrawals[1].reason", "needs a `reason`"),
        (
            good_but("state = \"in_review\"", "state = \"in_review\"\nnote = \"x\""),
            "users[1].withdrawals[0].note",
            "only a rejected",
        ),
        (good_but("state = \"in_review\"", "state = \"paid\""), "users[1].withdrawals[0].state", "unknown variant"),
        (good_but("pin = \"246810\"\n", ""), "users[1].withdrawals[0]", "needs the user's `pin`"),
        (good_but("phone = \"13900000001\"", "email = \"wang@example.com\""), "users[1].email", "only an operator"),
    ];
    for (text, field, message) in cases {
        let error = refusal(&text);
        assert_eq!(error.field.as_deref(), Some(field), "{error}");
        assert!(error.message.contains(message), "{error}");
        assert!(error.line.is_some(), "{error}");
    }
}

#[test]
fn a_settled_withdrawal_needs_a_wallet_that_takes_payouts() {
    let frozen = good_but("nickname = \"小明\"", "nickname = \"小明\"\nfrozen = true");
    let settled = frozen.replacen("state = \"in_review\"", "state = \"settled\"", 1);
    assert!(refusal(&settled).message.contains("would fail"));
    let failed = frozen.replacen("state = \"in_review\"", "state = \"failed\"", 1);
    assert!(parse_scenario(&failed, today()).is_ok());
}

#[test]
fn syntax_errors_and_oversized_files_are_refused_with_a_line() {
    let error = refusal("version = 1\nname = \"x\"\n[[users]\n");
    assert_eq!(error.line, Some(3), "{error}");
    let error = refusal(&"#".repeat(SCENARIO_BYTES_MAX + 1));
    assert_eq!((error.field, error.line), (None, None));
    assert!(error.message.contains("at most"));
    let error = refusal("name = \"x\"\n");
    assert_eq!(error.field.as_deref(), Some("version"), "{error}");
    assert_eq!(
        error.to_string(),
        format!("{}version: {}", error.line.map_or(String::new(), |l| format!("line {l}: ")), error.message)
    );
}
