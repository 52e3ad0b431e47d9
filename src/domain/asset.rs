//! Assets and exact amounts of any of them: what a multi-asset wallet holds.
//!
//! An `Asset` has a code and a scale: CNY keeps 2 places (fen), USDT 6 (its
//! on-chain precision). A `Quantity` is a signed amount of one asset held at
//! exactly its asset's scale and bounded like `Money`; quantities of two
//! assets never add up (`AssetMismatch`), so no operation can mix assets in
//! one leg. On the wire a quantity is an asset code and a decimal string at
//! the asset's scale (`{"asset":"USDT","amount":"12.345678"}`); a text with
//! more places than its asset allows is refused, never rounded.
//!
//! A `Price` is CNY per one USDT, an exact decimal of at most
//! `PRICE_SCALE` places. Its two conversions state their rounding:
//! - `cny_total`: the CNY a quantity of USDT costs, rounded half-up to the
//!   fen (what a P2P order's buyer pays);
//! - `usdt_for`: the USDT a CNY amount buys, rounded down to USDT's scale,
//!   so it never costs more than the CNY given.
//!
//! `Money` stays the CNY type of every CNY-only rule (withdrawals, fees,
//! limits); `Quantity::cny` and `Quantity::as_money` convert between them.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::money::{MAGNITUDE_MAX_YUAN, Money, MoneyError, parse_plain_decimal};

/// Something a wallet can hold, with the places its amounts keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
#[schema(example = "USDT")]
pub enum Asset {
    /// Chinese yuan, in fen: 2 places.
    Cny,
    /// Tether USD, at its on-chain precision: 6 places.
    Usdt,
}

impl Asset {
    pub const ALL: [Asset; 2] = [Asset::Cny, Asset::Usdt];

    pub fn code(self) -> &'static str {
        match self {
            Asset::Cny => "CNY",
            Asset::Usdt => "USDT",
        }
    }

    /// The decimal places every amount of this asset has.
    pub fn scale(self) -> u32 {
        match self {
            Asset::Cny => 2,
            Asset::Usdt => 6,
        }
    }

    /// The asset of an exact code (`CNY`, `USDT`); codes are upper case.
    pub fn parse(code: &str) -> Option<Asset> {
        Asset::ALL.into_iter().find(|asset| asset.code() == code)
    }
}

/// CNY, the wallet's home currency: the asset of an amount that names none
/// (a request without `asset`, a leg stored before there were assets).
impl Default for Asset {
    fn default() -> Asset {
        Asset::Cny
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a text or a sum is not a valid quantity. Messages are for API clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum QuantityError {
    #[error("must have at most {} decimal places for {asset}", asset.scale())]
    TooManyDecimalPlaces { asset: Asset },
    #[error("{0}")]
    Invalid(MoneyError),
    #[error("must be greater than {}", Quantity::zero(*asset))]
    NotPositive { asset: Asset },
    #[error("{left} and {right} cannot be added or compared")]
    AssetMismatch { left: Asset, right: Asset },
}

impl From<MoneyError> for QuantityError {
    fn from(error: MoneyError) -> QuantityError {
        QuantityError::Invalid(error)
    }
}

/// A signed amount of one asset, at exactly the asset's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quantity {
    asset: Asset,
    value: Decimal,
}

impl Quantity {
    pub fn zero(asset: Asset) -> Quantity {
        Quantity { asset, value: Decimal::new(0, asset.scale()) }
    }

    /// Any decimal with at most the asset's places, within the magnitude cap
    /// every amount has (`MAGNITUDE_MAX_YUAN` units).
    pub fn from_decimal(asset: Asset, value: Decimal) -> Result<Quantity, QuantityError> {
        let normalized = value.normalize();
        if normalized.scale() > asset.scale() {
            return Err(QuantityError::TooManyDecimalPlaces { asset });
        }
        if normalized.abs() > Decimal::from(MAGNITUDE_MAX_YUAN) {
            return Err(MoneyError::TooLarge.into());
        }
        let mut exact = normalized;
        exact.rescale(asset.scale());
        // One zero, as `Money` keeps it.
        exact.set_sign_positive(exact.is_sign_positive() || exact.is_zero());
        Ok(Quantity { asset, value: exact })
    }

    /// A plain decimal text (as `Money` reads it) of at most the asset's places.
    pub fn parse(asset: Asset, text: &str) -> Result<Quantity, QuantityError> {
        let (value, places) = parse_plain_decimal(text)?;
        if places > asset.scale() as usize {
            return Err(QuantityError::TooManyDecimalPlaces { asset });
        }
        Quantity::from_decimal(asset, value)
    }

    /// A strictly positive amount, as requests carry (`parse`, and above zero).
    pub fn parse_positive(asset: Asset, text: &str) -> Result<Quantity, QuantityError> {
        let quantity = Quantity::parse(asset, text)?;
        if quantity.is_negative() {
            return Err(MoneyError::Negative.into());
        }
        if quantity.is_zero() {
            return Err(QuantityError::NotPositive { asset });
        }
        Ok(quantity)
    }

    /// A CNY amount as a quantity.
    pub fn cny(money: Money) -> Quantity {
        Quantity { asset: Asset::Cny, value: money.as_decimal() }
    }

    /// The CNY amount this is, if it is CNY.
    pub fn as_money(self) -> Option<Money> {
        if self.asset != Asset::Cny {
            return None;
        }
        Money::from_decimal(self.value).ok()
    }

    pub fn asset(self) -> Asset {
        self.asset
    }

    pub fn as_decimal(self) -> Decimal {
        self.value
    }

    pub fn is_zero(self) -> bool {
        self.value.is_zero()
    }

    pub fn is_negative(self) -> bool {
        self.value.is_sign_negative() && !self.value.is_zero()
    }

    pub fn is_positive(self) -> bool {
        self.value.is_sign_positive() && !self.value.is_zero()
    }

    pub fn checked_add(self, other: Quantity) -> Result<Quantity, QuantityError> {
        self.same_asset(other)?;
        let sum = self.value.checked_add(other.value).ok_or(MoneyError::Overflow)?;
        Quantity::from_decimal(self.asset, sum).map_err(|_| MoneyError::Overflow.into())
    }

    pub fn checked_sub(self, other: Quantity) -> Result<Quantity, QuantityError> {
        self.checked_add(other.negated())
    }

    pub fn negated(self) -> Quantity {
        // The magnitude cap is symmetric, so negation always stays in range.
        Quantity::from_decimal(self.asset, -self.value).unwrap_or(self)
    }

    /// Orders two quantities of one asset.
    pub fn checked_cmp(self, other: Quantity) -> Result<std::cmp::Ordering, QuantityError> {
        self.same_asset(other)?;
        Ok(self.value.cmp(&other.value))
    }

    fn same_asset(self, other: Quantity) -> Result<(), QuantityError> {
        if self.asset == other.asset {
            Ok(())
        } else {
            Err(QuantityError::AssetMismatch { left: self.asset, right: other.asset })
        }
    }
}

impl fmt::Display for Quantity {
    /// The amount at the asset's scale, without the code (`"12.345678"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)
    }
}

/// How a quantity travels: the asset's code and the amount as a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"asset": "USDT", "amount": "12.345678"}))]
struct QuantityWire {
    asset: Asset,
    /// A decimal string with at most the asset's places (CNY 2, USDT 6).
    #[schema(example = "12.345678")]
    amount: String,
}

/// `Quantity` in the OpenAPI document: its wire form.
impl utoipa::PartialSchema for Quantity {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <QuantityWire as utoipa::PartialSchema>::schema()
    }
}

impl ToSchema for Quantity {}

impl Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        QuantityWire { asset: self.asset, amount: self.to_string() }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Quantity, D::Error> {
        let wire = QuantityWire::deserialize(deserializer)?;
        Quantity::parse(wire.asset, &wire.amount).map_err(serde::de::Error::custom)
    }
}

/// Decimal places a price keeps.
pub const PRICE_SCALE: u32 = 4;

/// The highest price accepted: far above any real CNY/USDT rate, low
/// enough that a price times any quantity stays within `Decimal`.
const PRICE_MAX: i64 = 1_000_000;

/// How many CNY one USDT costs: positive, exact, at most `PRICE_SCALE` places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(Decimal);

/// Why a text is not a valid price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("must be a plain decimal string like \"7.2315\"")]
    Malformed,
    #[error("must have at most 4 decimal places")]
    TooManyDecimalPlaces,
    #[error("must be greater than 0 and at most 1000000")]
    OutOfRange,
}

impl Price {
    pub fn from_decimal(value: Decimal) -> Result<Price, PriceError> {
        let normalized = value.normalize();
        if normalized.scale() > PRICE_SCALE {
            return Err(PriceError::TooManyDecimalPlaces);
        }
        if normalized <= Decimal::ZERO || normalized > Decimal::from(PRICE_MAX) {
            return Err(PriceError::OutOfRange);
        }
        let mut exact = normalized;
        exact.rescale(PRICE_SCALE);
        Ok(Price(exact))
    }

    /// The CNY `usdt` costs at this price, rounded half-up to the fen.
    pub fn cny_total(self, usdt: Quantity) -> Result<Money, QuantityError> {
        expect_asset(usdt, Asset::Usdt)?;
        let exact = self.0.checked_mul(usdt.value).ok_or(MoneyError::Overflow)?;
        let fen = exact.round_dp_with_strategy(Asset::Cny.scale(), RoundingStrategy::MidpointAwayFromZero);
        Ok(Money::from_decimal(fen)?)
    }

    /// The USDT `cny` buys at this price, rounded down to USDT's scale: its
    /// `cny_total` never exceeds `cny` by more than the fen rounding allows.
    pub fn usdt_for(self, cny: Money) -> Result<Quantity, QuantityError> {
        let exact = cny.as_decimal().checked_div(self.0).ok_or(MoneyError::Overflow)?;
        let units = exact.round_dp_with_strategy(Asset::Usdt.scale(), RoundingStrategy::ToZero);
        Quantity::from_decimal(Asset::Usdt, units)
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }
}

fn expect_asset(quantity: Quantity, asset: Asset) -> Result<(), QuantityError> {
    if quantity.asset == asset {
        Ok(())
    } else {
        Err(QuantityError::AssetMismatch { left: quantity.asset, right: asset })
    }
}

impl FromStr for Price {
    type Err = PriceError;

    fn from_str(text: &str) -> Result<Price, PriceError> {
        let (value, places) = parse_plain_decimal(text).map_err(|error| match error {
            MoneyError::TooManyDecimalPlaces => PriceError::TooManyDecimalPlaces,
            MoneyError::TooLarge => PriceError::OutOfRange,
            _ => PriceError::Malformed,
        })?;
        if places > PRICE_SCALE as usize {
            return Err(PriceError::TooManyDecimalPlaces);
        }
        Price::from_decimal(value)
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Price {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Price, D::Error> {
        let text = String::deserialize(deserializer)?;
        Price::from_str(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usdt(text: &str) -> Quantity {
        Quantity::parse(Asset::Usdt, text).unwrap()
    }

    fn price(text: &str) -> Price {
        text.parse().unwrap()
    }

    #[test]
    fn each_asset_keeps_its_own_places() {
        assert_eq!(usdt("12.345678").to_string(), "12.345678");
        assert_eq!(usdt("12.3").to_string(), "12.300000");
        assert_eq!(Quantity::parse(Asset::Cny, "5").unwrap().to_string(), "5.00");
        assert_eq!(
            Quantity::parse(Asset::Usdt, "1.1234567"),
            Err(QuantityError::TooManyDecimalPlaces { asset: Asset::Usdt })
        );
        assert_eq!(
            Quantity::parse(Asset::Cny, "1.123"),
            Err(QuantityError::TooManyDecimalPlaces { asset: Asset::Cny })
        );
        assert_eq!(
            QuantityError::TooManyDecimalPlaces { asset: Asset::Usdt }.to_string(),
            "must have at most 6 decimal places for USDT"
        );
        for bad in ["", "1e3", "+1", " 1", ".5", "5.", "1_000"] {
            assert!(matches!(Quantity::parse(Asset::Usdt, bad), Err(QuantityError::Invalid(_))), "{bad}");
        }
        assert_eq!(Asset::parse("USDT"), Some(Asset::Usdt));
        assert_eq!(Asset::parse("usdt"), None);
    }

    #[test]
    fn requests_carry_positive_amounts() {
        assert_eq!(Quantity::parse_positive(Asset::Usdt, "0.000001").unwrap().to_string(), "0.000001");
        let zero = Quantity::parse_positive(Asset::Usdt, "0").unwrap_err();
        assert_eq!(zero.to_string(), "must be greater than 0.000000");
        assert_eq!(Quantity::parse_positive(Asset::Cny, "-1").unwrap_err().to_string(), "must not be negative");
    }

    #[test]
    fn quantities_of_two_assets_never_meet() {
        let cny = Quantity::parse(Asset::Cny, "1.00").unwrap();
        let mismatch = QuantityError::AssetMismatch { left: Asset::Cny, right: Asset::Usdt };
        assert_eq!(cny.checked_add(usdt("1")), Err(mismatch.clone()));
        assert_eq!(cny.checked_cmp(usdt("1")), Err(mismatch));
        assert!(price("7").cny_total(cny).is_err());
    }

    #[test]
    fn quantities_travel_as_a_code_and_a_string() {
        let wire = serde_json::to_value(usdt("12.345678")).unwrap();
        assert_eq!(wire, serde_json::json!({"asset": "USDT", "amount": "12.345678"}));
        let back: Quantity = serde_json::from_value(wire).unwrap();
        assert_eq!(back, usdt("12.345678"));
        for bad in [
            serde_json::json!({"asset": "USDT", "amount": 1.5}),
            serde_json::json!({"asset": "USDT", "amount": "1.1234567"}),
            serde_json::json!({"asset": "BTC", "amount": "1"}),
            serde_json::json!({"asset": "CNY", "amount": "1", "extra": 1}),
        ] {
            assert!(serde_json::from_value::<Quantity>(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_order_total_rounds_half_up_to_the_fen() {
        // 1.5 USDT at 7.2315 is 10.84725 CNY: the half fen rounds up.
        assert_eq!(price("7.2315").cny_total(usdt("1.5")).unwrap().to_string(), "10.85");
        // 0.000001 USDT at 7.2315 is 0.0000072315 CNY: under half a fen.
        assert_eq!(price("7.2315").cny_total(usdt("0.000001")).unwrap().to_string(), "0.00");
        assert_eq!(price("7.21").cny_total(usdt("100")).unwrap().to_string(), "721.00");
    }

    #[test]
    fn what_cny_buys_rounds_down() {
        let cny = Money::from_fen(100_000).unwrap();
        // 1000 / 7.2315 = 138.28389684...: kept at 6 places, the 7th dropped, not rounded up.
        assert_eq!(price("7.2315").usdt_for(cny).unwrap().to_string(), "138.283896");
    }

    #[test]
    fn prices_are_positive_exact_and_bounded() {
        assert_eq!(price("7.2").to_string(), "7.2000");
        assert_eq!("7.23151".parse::<Price>(), Err(PriceError::TooManyDecimalPlaces));
        assert_eq!("0".parse::<Price>(), Err(PriceError::OutOfRange));
        assert_eq!("1000000.0001".parse::<Price>(), Err(PriceError::OutOfRange));
        assert_eq!("-7".parse::<Price>(), Err(PriceError::OutOfRange));
        assert_eq!("7,2".parse::<Price>(), Err(PriceError::Malformed));
    }

    fn any_asset() -> impl Strategy<Value = Asset> {
        prop::sample::select(Asset::ALL.to_vec())
    }

    /// Up to a billion units of an asset, at its full scale.
    fn any_quantity(asset: Asset) -> impl Strategy<Value = Quantity> {
        let units_max = 1_000_000_000i64 * 10i64.pow(asset.scale());
        (-units_max..=units_max)
            .prop_map(move |units| Quantity::from_decimal(asset, Decimal::new(units, asset.scale())).unwrap())
    }

    fn any_price() -> impl Strategy<Value = Price> {
        (1i64..=100_000_000).prop_map(|units| Price::from_decimal(Decimal::new(units, PRICE_SCALE)).unwrap())
    }

    fn any_positive_usdt() -> impl Strategy<Value = Quantity> {
        (1i64..=1_000_000_000_000)
            .prop_map(|units| Quantity::from_decimal(Asset::Usdt, Decimal::new(units, 6)).unwrap())
    }

    proptest! {
        #[test]
        fn printing_and_parsing_round_trip(quantity in any_asset().prop_flat_map(any_quantity)) {
            let text = quantity.to_string();
            let places = text.split_once('.').map_or(0, |(_, fraction)| fraction.len());
            prop_assert_eq!(places, quantity.asset().scale() as usize);
            prop_assert_eq!(Quantity::parse(quantity.asset(), &text), Ok(quantity));
        }

        #[test]
        fn one_place_too_many_is_refused(asset in any_asset(), units in 1i64..1_000_000_000) {
            let text = format!("{}.{:0width$}1", units, 0, width = asset.scale() as usize);
            prop_assert_eq!(Quantity::parse(asset, &text), Err(QuantityError::TooManyDecimalPlaces { asset }));
        }

        #[test]
        fn adding_and_taking_away_are_exact(
            (a, b) in any_asset().prop_flat_map(|asset| (any_quantity(asset), any_quantity(asset)))
        ) {
            let sum = a.checked_add(b).unwrap();
            prop_assert_eq!(sum.checked_sub(b).unwrap(), a);
            prop_assert_eq!(sum.as_decimal(), a.as_decimal() + b.as_decimal());
        }

        #[test]
        fn an_order_total_is_within_half_a_fen_and_rounds_half_up(price in any_price(), usdt in any_positive_usdt()) {
            let exact = price.as_decimal() * usdt.as_decimal();
            let total = price.cny_total(usdt).unwrap().as_decimal();
            let half_fen = Decimal::new(5, 3);
            prop_assert!((total - exact).abs() <= half_fen);
            // Exactly half a fen rounds up, never down.
            if (total - exact).abs() == half_fen {
                prop_assert!(total > exact);
            }
        }

        #[test]
        fn what_cny_buys_never_costs_more_than_it(price in any_price(), fen in 1i64..=100_000_000_000) {
            let cny = Money::from_fen(fen).unwrap();
            let usdt = price.usdt_for(cny).unwrap();
            let costs = price.as_decimal() * usdt.as_decimal();
            prop_assert!(costs <= cny.as_decimal());
            // One more unit of USDT would cost more than the CNY given.
            let one_more = usdt.as_decimal() + Decimal::new(1, 6);
            prop_assert!(price.as_decimal() * one_more > cny.as_decimal());
        }
    }
}
