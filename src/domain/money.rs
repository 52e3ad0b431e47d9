//! Exact CNY amounts: the `Money` type every balance, posting and fee is made of.
//!
//! A `Money` is a `rust_decimal::Decimal` held at exactly two decimal places (fen)
//! and bounded in magnitude, so no arithmetic on it can silently lose a fen or
//! overflow. On the wire it is always a string (`"100.50"`): JSON numbers are
//! refused because most JSON parsers turn them into binary floats.
//! `Amount` is the strictly positive `Money` that requests carry; `MoneyTotal`
//! is a sum over many balances, which may exceed what one balance can hold.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Number of decimal places of a CNY amount (fen).
pub const SCALE: u32 = 2;

/// The largest magnitude any amount or balance may have: one trillion yuan.
/// Far above anything a wallet holds, far below where `Decimal` could overflow
/// when a few thousand of them are summed.
pub const MAGNITUDE_MAX_YUAN: i64 = 1_000_000_000_000;

/// Most digits accepted before the decimal point; one more than the
/// magnitude cap has, so the cap check (not the length check) names the problem.
const INTEGER_DIGITS_MAX: usize = 13;

/// Why a text is not a valid amount. Each message is written for the API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum MoneyError {
    #[error("must not be empty")]
    Empty,
    #[error("must be a plain decimal string like \"100.50\" (digits, at most one '.', no sign, exponent or spaces)")]
    Malformed,
    #[error("must have at most 2 decimal places (fen)")]
    TooManyDecimalPlaces,
    #[error("must not exceed 1000000000000.00")]
    TooLarge,
    #[error("must not be negative")]
    Negative,
    #[error("must be greater than 0.00")]
    NotPositive,
    #[error("arithmetic overflow")]
    Overflow,
}

/// A signed CNY amount with exactly two decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

impl Money {
    /// Zero at scale 2, so it prints "0.00" like every other amount.
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, SCALE));

    /// Builds an amount from a whole number of fen (1 yuan = 100 fen).
    pub fn from_fen(fen: i64) -> Result<Money, MoneyError> {
        Money::from_decimal(Decimal::new(fen, SCALE))
    }

    /// Accepts any decimal with at most two places, within the magnitude cap.
    pub fn from_decimal(value: Decimal) -> Result<Money, MoneyError> {
        let normalized = value.normalize();
        if normalized.scale() > SCALE {
            return Err(MoneyError::TooManyDecimalPlaces);
        }
        if normalized.abs() > Decimal::from(MAGNITUDE_MAX_YUAN) {
            return Err(MoneyError::TooLarge);
        }
        let mut exact = normalized;
        exact.rescale(SCALE);
        // "-0.00" is a real Decimal; one zero keeps equality and printing simple.
        exact.set_sign_positive(exact.is_sign_positive() || exact.is_zero());
        Ok(Money(exact))
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    pub fn is_positive(self) -> bool {
        self.0.is_sign_positive() && !self.0.is_zero()
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        let sum = self.0.checked_add(other.0).ok_or(MoneyError::Overflow)?;
        Money::from_decimal(sum).map_err(|_| MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        let difference = self.0.checked_sub(other.0).ok_or(MoneyError::Overflow)?;
        Money::from_decimal(difference).map_err(|_| MoneyError::Overflow)
    }

    pub fn negated(self) -> Money {
        // The magnitude cap is symmetric, so negation always stays in range.
        Money(-self.0)
    }
}

impl Default for Money {
    fn default() -> Money {
        Money::ZERO
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Parses a plain decimal (`parse_plain_decimal`) of at most two places.
    fn from_str(text: &str) -> Result<Money, MoneyError> {
        let (value, places) = parse_plain_decimal(text)?;
        if places > SCALE as usize {
            return Err(MoneyError::TooManyDecimalPlaces);
        }
        Money::from_decimal(value)
    }
}

/// Parses `-?digits(.digits)?` into a decimal and its number of places.
/// Refuses what `Decimal::from_str` would quietly accept (exponents, `+`,
/// `_`, surrounding spaces, `.5`, `5.`), because a money API should not
/// guess what a sender meant; and integer parts longer than any amount may
/// have, so the magnitude check (not the parser) names the problem.
pub(crate) fn parse_plain_decimal(text: &str) -> Result<(Decimal, usize), MoneyError> {
    if text.is_empty() {
        return Err(MoneyError::Empty);
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (integer_part, fraction_part) = match unsigned.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (unsigned, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(integer_part) || fraction_part.is_some_and(|f| !all_digits(f)) {
        return Err(MoneyError::Malformed);
    }
    let places = fraction_part.map_or(0, str::len);
    // More places than any asset has would only be refused later; refusing
    // here keeps `Decimal` (28 digits) from rounding them away first.
    if places > PLACES_MAX {
        return Err(MoneyError::TooManyDecimalPlaces);
    }
    if integer_part.trim_start_matches('0').len() > INTEGER_DIGITS_MAX {
        return Err(MoneyError::TooLarge);
    }
    let value = Decimal::from_str(text).map_err(|_| MoneyError::Malformed)?;
    Ok((value, places))
}

/// The most decimal places any asset has (USDT's 6), with room to spare.
const PLACES_MAX: usize = 12;

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // At scale 2 the mantissa is the amount in fen: yuan and fen print as
        // integers ("100.50"), a shorter path than Decimal's general one.
        if self.0.scale() != SCALE {
            return write!(f, "{}", self.0);
        }
        let fen = self.0.mantissa();
        let sign = if fen < 0 { "-" } else { "" };
        let fen = fen.unsigned_abs();
        write!(f, "{sign}{}.{:02}", fen / 100, fen % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        deserializer.deserialize_any(DecimalStringVisitor(|text| Money::from_str(text).map_err(|e| e.to_string())))
    }
}

/// A decimal amount as a request carries it, not yet read at any scale:
/// a JSON string, never a number (the asset it is of decides its places).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountText(pub String);

impl<'de> Deserialize<'de> for AmountText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AmountText, D::Error> {
        deserializer.deserialize_any(DecimalStringVisitor(|text| Ok(AmountText(text.to_owned()))))
    }
}

/// Accepts only JSON strings, read by the function it holds; names the
/// problem when a number arrives.
struct DecimalStringVisitor<T>(fn(&str) -> Result<T, String>);

impl<T> serde::de::Visitor<'_> for DecimalStringVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount as a decimal string like \"100.50\"")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        (self.0)(text).map_err(E::custom)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<T, E> {
        Err(E::custom(NUMBER_REFUSED))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<T, E> {
        Err(E::custom(NUMBER_REFUSED))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<T, E> {
        Err(E::custom(NUMBER_REFUSED))
    }
}

const NUMBER_REFUSED: &str =
    "must be a string like \"100.50\", not a JSON number (numbers lose precision in many clients)";

/// `Money` in the OpenAPI document: a decimal string with exactly two places.
/// The sign appears only where a value can go below zero (a ledger change,
/// the funding account's balance).
impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        decimal_string_schema(
            MONEY_PATTERN,
            "CNY in yuan as a decimal string with exactly two places, e.g. \"100.50\"; \
             negative (\"-7.00\") only for changes and for balances that may go below zero.",
        )
    }
}

impl utoipa::ToSchema for Money {}

/// What every printed `Money` looks like.
pub const MONEY_PATTERN: &str = r"^-?[0-9]+\.[0-9]{2}$";
/// What an `Amount` may be written as: no sign, at most two places (more
/// digits or a zero are refused with the field named, as the description says).
pub const AMOUNT_PATTERN: &str = r"^[0-9]+(\.[0-9]{1,2})?$";

fn decimal_string_schema(pattern: &str, description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .examples(["100.50"])
        .into()
}

/// An exact total of many `Money` values, such as one ledger account's
/// balances summed over every user. Each balance is bounded, but their sum
/// over all accounts need not fit that bound; `Decimal`'s own range (about
/// 7.9e28) allows some 10^16 maximal balances. Printed like `Money`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoneyTotal(Decimal);

impl Default for MoneyTotal {
    fn default() -> MoneyTotal {
        MoneyTotal::ZERO
    }
}

impl MoneyTotal {
    pub const ZERO: MoneyTotal = MoneyTotal(Decimal::from_parts(0, 0, 0, false, SCALE));

    pub fn checked_add(self, money: Money) -> Result<MoneyTotal, MoneyError> {
        let mut sum = self.0.checked_add(money.as_decimal()).ok_or(MoneyError::Overflow)?;
        sum.rescale(SCALE);
        Ok(MoneyTotal(sum))
    }

    pub fn checked_add_total(self, other: MoneyTotal) -> Result<MoneyTotal, MoneyError> {
        self.0.checked_add(other.0).map(MoneyTotal).ok_or(MoneyError::Overflow)
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Display for MoneyTotal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One zero, as `Money` prints it, whatever sign the sum left on it.
        if self.0.is_zero() { write!(f, "{}", Money::ZERO) } else { write!(f, "{}", self.0) }
    }
}

impl Serialize for MoneyTotal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl utoipa::PartialSchema for MoneyTotal {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        decimal_string_schema(
            MONEY_PATTERN,
            "A sum of CNY amounts in yuan as a decimal string with exactly two places, e.g. \"125800.01\"; \
             it may be negative and exceed the 1000000000000.00 a single balance can hold.",
        )
    }
}

impl utoipa::ToSchema for MoneyTotal {}

/// A strictly positive `Money`: what a request may ask to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Amount(Money);

impl Amount {
    pub fn new(money: Money) -> Result<Amount, MoneyError> {
        if money.is_negative() {
            return Err(MoneyError::Negative);
        }
        if money.is_zero() {
            return Err(MoneyError::NotPositive);
        }
        Ok(Amount(money))
    }

    pub fn money(self) -> Money {
        self.0
    }
}

impl FromStr for Amount {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Amount, MoneyError> {
        Amount::new(Money::from_str(text)?)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `Amount` in the OpenAPI document: what requests may carry.
impl utoipa::PartialSchema for Amount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        decimal_string_schema(
            AMOUNT_PATTERN,
            "A positive CNY amount in yuan as a decimal string, e.g. \"100.50\": at most two decimal \
             places, above 0.00 and at most 1000000000000.00. JSON numbers, signs and exponents are refused.",
        )
    }
}

impl utoipa::ToSchema for Amount {}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
        let money = Money::deserialize(deserializer)?;
        Amount::new(money).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_with_exactly_two_places() {
        assert_eq!(money("100").to_string(), "100.00");
        assert_eq!(money("100.5").to_string(), "100.50");
        assert_eq!(money("100.50").to_string(), "100.50");
        assert_eq!(money("0.01").to_string(), "0.01");
        assert_eq!(money("-7.10").to_string(), "-7.10");
        assert_eq!(money("000012.30").to_string(), "12.30");
        assert_eq!(money("-0.00"), Money::ZERO);
        assert_eq!(money("-0.00").to_string(), "0.00");
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(Money::default().to_string(), "0.00");
        assert_eq!(money("1.00").checked_sub(money("1.00")).unwrap().to_string(), "0.00");
        assert_eq!(money("1000000000000.00").to_string(), "1000000000000.00");
    }

    #[test]
    fn refuses_texts_that_are_not_plain_amounts() {
        let cases = [
            ("", MoneyError::Empty),
            ("1e3", MoneyError::Malformed),
            ("1E-2", MoneyError::Malformed),
            ("+1.00", MoneyError::Malformed),
            (" 1.00", MoneyError::Malformed),
            ("1.00 ", MoneyError::Malformed),
            ("1_000", MoneyError::Malformed),
            ("1,000.00", MoneyError::Malformed),
            (".5", MoneyError::Malformed),
            ("5.", MoneyError::Malformed),
            ("1.2.3", MoneyError::Malformed),
            ("--1", MoneyError::Malformed),
            ("NaN", MoneyError::Malformed),
            ("Infinity", MoneyError::Malformed),
            ("0x10", MoneyError::Malformed),
            ("１２", MoneyError::Malformed),
            ("1.001", MoneyError::TooManyDecimalPlaces),
            ("0.000", MoneyError::TooManyDecimalPlaces),
            ("1000000000000.01", MoneyError::TooLarge),
            ("99999999999999999999999999999999", MoneyError::TooLarge),
        ];
        for (text, expected) in cases {
            assert_eq!(Money::from_str(text), Err(expected), "input {text:?}");
        }
    }

    #[test]
    fn amounts_must_be_positive() {
        assert_eq!(Amount::from_str("0.00"), Err(MoneyError::NotPositive));
        assert_eq!(Amount::from_str("-0.01"), Err(MoneyError::Negative));
        assert_eq!(Amount::from_str("0.01").unwrap().to_string(), "0.01");
    }

    #[test]
    fn json_carries_strings_and_refuses_numbers() {
        let parsed: Money = serde_json::from_str("\"12.30\"").unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"12.30\"");
        for number in ["12.3", "12", "-1", "1e2"] {
            let error = serde_json::from_str::<Money>(number).unwrap_err();
            assert!(error.to_string().contains("not a JSON number"), "{number}: {error}");
        }
        assert!(serde_json::from_str::<Amount>("\"0\"").is_err());
        assert!(serde_json::from_str::<Money>("null").is_err());
    }

    #[test]
    fn totals_go_past_the_cap_of_one_amount_and_print_like_money() {
        let max = money("1000000000000.00");
        let total = MoneyTotal::ZERO.checked_add(max).unwrap().checked_add(max).unwrap();
        assert_eq!(total.to_string(), "2000000000000.00");
        assert_eq!(total.checked_add(max.negated()).unwrap().checked_add(max.negated()).unwrap().to_string(), "0.00");
        assert_eq!(MoneyTotal::ZERO.checked_add(money("-0.50")).unwrap().to_string(), "-0.50");
        assert_eq!(serde_json::to_string(&MoneyTotal::ZERO).unwrap(), "\"0.00\"");
    }

    #[test]
    fn arithmetic_refuses_to_leave_the_range() {
        let max = money("1000000000000.00");
        assert_eq!(max.checked_add(money("0.01")), Err(MoneyError::Overflow));
        assert_eq!(max.negated().checked_sub(money("0.01")), Err(MoneyError::Overflow));
    }

    fn any_money() -> impl Strategy<Value = Money> {
        (-50_000_000_000_000i64..=50_000_000_000_000i64).prop_map(|fen| Money::from_fen(fen).unwrap())
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(m in any_money()) {
            prop_assert_eq!(Money::from_str(&m.to_string()), Ok(m));
            let json = serde_json::to_string(&m).unwrap();
            prop_assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        }

        #[test]
        fn prints_as_decimal_does(m in any_money()) {
            prop_assert_eq!(m.to_string(), m.as_decimal().to_string());
        }

        #[test]
        fn every_printed_amount_has_two_places(m in any_money()) {
            let text = m.to_string();
            let (_, fraction) = text.split_once('.').unwrap();
            prop_assert_eq!(fraction.len(), 2);
        }

        #[test]
        fn addition_is_exact_and_reversible(a in any_money(), b in any_money()) {
            let sum = a.checked_add(b).unwrap();
            prop_assert_eq!(sum.checked_sub(b).unwrap(), a);
            prop_assert_eq!(b.checked_add(a).unwrap(), sum);
            prop_assert_eq!(sum.as_decimal(), a.as_decimal() + b.as_decimal());
        }

        #[test]
        fn fen_sums_never_drift(fens in proptest::collection::vec(1i64..=10_000_000, 1..200)) {
            let total = fens.iter().try_fold(Money::ZERO, |acc, &f| acc.checked_add(Money::from_fen(f).unwrap())).unwrap();
            prop_assert_eq!(total, Money::from_fen(fens.iter().sum()).unwrap());
        }

        #[test]
        fn parsing_any_text_never_panics(text in "\\PC{0,40}") {
            let _ = Money::from_str(&text);
        }

        #[test]
        fn three_or_more_places_are_refused(integer in 0u32..1_000_000, fraction in 0u32..1000, extra in 1usize..5) {
            let text = format!("{integer}.{fraction:03}{}", "0".repeat(extra - 1));
            prop_assert_eq!(Money::from_str(&text), Err(MoneyError::TooManyDecimalPlaces));
        }
    }
}
