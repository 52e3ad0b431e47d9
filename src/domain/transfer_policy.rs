//! The rules of users' transfers as configured: per verification level,
//! whether it may send at all and, per asset, the most one transfer and one
//! day's transfers may move; per asset, the fee. Built from the settings
//! (`settings::TransferSettings::policy`).
//!
//! A day is a calendar day in the configured zone (the withdrawal caps'
//! zone); the caller passes the local date, so these rules stay pure. A
//! transfer counts against its day from the moment it is sent; one that
//! comes back gives its share back if its day is still today.
//!
//! Fee rule: `fee_rate` times the amount, rounded half-up to the asset's
//! scale, at least `fee_min` and at most `fee_max` (when set). Both zero
//! (the default) make transfers free.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::account::VerificationLevel;
use super::asset::{Asset, Quantity, QuantityError};

/// The most one asset may move, per transfer and per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetLimits {
    pub per_transfer_max: Quantity,
    pub daily_amount_max: Quantity,
}

/// What one verification level may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelTransferRules {
    /// Whether this level may send at all (else `VERIFICATION_REQUIRED`).
    pub allowed: bool,
    pub cny: AssetLimits,
    pub usdt: AssetLimits,
}

impl LevelTransferRules {
    pub fn limits(&self, asset: Asset) -> &AssetLimits {
        match asset {
            Asset::Cny => &self.cny,
            Asset::Usdt => &self.usdt,
        }
    }
}

/// The fee of one asset's transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferFee {
    /// Fraction of the amount, in [0, 1).
    pub rate: Decimal,
    /// Least fee of a transfer, in the asset's units (zero: none).
    pub min: Decimal,
    /// Most fee of a transfer, in the asset's units; `None`: no cap.
    pub max: Option<Decimal>,
}

impl TransferFee {
    pub const FREE: TransferFee = TransferFee { rate: Decimal::ZERO, min: Decimal::ZERO, max: None };

    /// The fee of sending `amount`, at the amount's scale: the rate rounded
    /// half-up, raised to the minimum, capped at the maximum.
    pub fn fee_for(&self, amount: Quantity) -> Result<Quantity, QuantityError> {
        let asset = amount.asset();
        let raw = (amount.as_decimal() * self.rate)
            .round_dp_with_strategy(asset.scale(), RoundingStrategy::MidpointAwayFromZero);
        let mut fee = raw.max(self.min);
        if let Some(max) = self.max {
            fee = fee.min(max);
        }
        Quantity::from_decimal(asset, fee)
    }
}

/// Which limit a transfer would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferLimit {
    PerTransfer,
    Daily,
}

impl TransferLimit {
    /// The wire name (`details.limit` of `LIMIT_EXCEEDED`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransferLimit::PerTransfer => "per_transfer",
            TransferLimit::Daily => "daily",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TransferPolicy {
    /// The zone whose calendar days the daily limits count in.
    pub time_zone: Tz,
    pub levels: [LevelTransferRules; 3],
    pub cny_fee: TransferFee,
    pub usdt_fee: TransferFee,
    /// How long an `Idempotency-Key` and its saved reply are kept.
    pub idempotency_ttl: chrono::Duration,
    /// How long after a send the worker delivers a transfer its sending
    /// request did not (a process that stopped in between).
    pub redeliver_after: chrono::Duration,
}

impl TransferPolicy {
    pub fn rules(&self, level: VerificationLevel) -> &LevelTransferRules {
        match level {
            VerificationLevel::L0 => &self.levels[0],
            VerificationLevel::L1 => &self.levels[1],
            VerificationLevel::L2 => &self.levels[2],
        }
    }

    pub fn fee(&self, asset: Asset) -> &TransferFee {
        match asset {
            Asset::Cny => &self.cny_fee,
            Asset::Usdt => &self.usdt_fee,
        }
    }

    /// The calendar date at `now` in the configured zone.
    pub fn local_date(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.time_zone).date_naive()
    }
}

/// What an account has sent today, per asset: the daily limits' counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferUsage {
    pub day: Option<NaiveDate>,
    /// One entry per asset sent on `day`.
    #[serde(default)]
    pub sent: Vec<Quantity>,
}

impl TransferUsage {
    /// What was sent of `asset` on `today` (zero on a new day).
    pub fn sent_on(&self, asset: Asset, today: NaiveDate) -> Quantity {
        let sent = self.sent.iter().find(|sent| sent.asset() == asset);
        match (self.day == Some(today), sent) {
            (true, Some(sent)) => *sent,
            _ => Quantity::zero(asset),
        }
    }

    /// What is left of each limit for `asset` today.
    pub fn left(&self, limits: &AssetLimits, today: NaiveDate) -> Result<(Quantity, Quantity), QuantityError> {
        let used = self.sent_on(limits.daily_amount_max.asset(), today);
        let daily = limits.daily_amount_max.checked_sub(used)?;
        let daily = if daily.is_negative() { Quantity::zero(daily.asset()) } else { daily };
        Ok((limits.per_transfer_max, daily))
    }

    /// The limit `amount` would break today, with what is left of it.
    pub fn check(
        &self,
        limits: &AssetLimits,
        amount: Quantity,
        today: NaiveDate,
    ) -> Result<Option<(TransferLimit, Quantity)>, QuantityError> {
        let (per_transfer, daily) = self.left(limits, today)?;
        for (limit, left) in [(TransferLimit::PerTransfer, per_transfer), (TransferLimit::Daily, daily)] {
            if amount.checked_cmp(left)?.is_gt() {
                return Ok(Some((limit, left)));
            }
        }
        Ok(None)
    }

    /// Counts `amount` as sent today.
    pub fn record(&mut self, amount: Quantity, today: NaiveDate) -> Result<(), QuantityError> {
        if self.day != Some(today) {
            *self = TransferUsage { day: Some(today), sent: Vec::new() };
        }
        match self.sent.iter_mut().find(|sent| sent.asset() == amount.asset()) {
            Some(sent) => *sent = sent.checked_add(amount)?,
            None => self.sent.push(amount),
        }
        Ok(())
    }

    /// Gives back a transfer sent on `sent_on` that came back, if that day is
    /// still the counter's day.
    pub fn release(&mut self, amount: Quantity, sent_on: NaiveDate) -> Result<(), QuantityError> {
        if self.day != Some(sent_on) {
            return Ok(());
        }
        if let Some(sent) = self.sent.iter_mut().find(|sent| sent.asset() == amount.asset()) {
            let left = sent.checked_sub(amount)?;
            *sent = if left.is_negative() { Quantity::zero(left.asset()) } else { left };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(asset: Asset, text: &str) -> Quantity {
        Quantity::parse(asset, text).unwrap()
    }

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 5, n).unwrap()
    }

    fn limits(asset: Asset, per: &str, daily: &str) -> AssetLimits {
        AssetLimits { per_transfer_max: q(asset, per), daily_amount_max: q(asset, daily) }
    }

    #[test]
    fn free_by_default_and_rounded_half_up_at_the_assets_scale() {
        assert!(TransferFee::FREE.fee_for(q(Asset::Cny, "1000.00")).unwrap().is_zero());
        let rate = TransferFee { rate: Decimal::new(1, 3), min: Decimal::new(1, 2), max: Some(Decimal::new(5, 0)) };
        // 0.1% of 12.50 is 0.0125 → 0.01 (half-up at 2 places); of 15.00, 0.015 → 0.02.
        assert_eq!(rate.fee_for(q(Asset::Cny, "12.50")).unwrap().to_string(), "0.01");
        assert_eq!(rate.fee_for(q(Asset::Cny, "15.00")).unwrap().to_string(), "0.02");
        assert_eq!(rate.fee_for(q(Asset::Cny, "1.00")).unwrap().to_string(), "0.01", "the minimum");
        assert_eq!(rate.fee_for(q(Asset::Cny, "9000.00")).unwrap().to_string(), "5.00", "the cap");
        // USDT keeps six places: 0.1% of 1.234567 is 0.001234567 → 0.001235.
        let usdt = TransferFee { rate: Decimal::new(1, 3), min: Decimal::ZERO, max: None };
        assert_eq!(usdt.fee_for(q(Asset::Usdt, "1.234567")).unwrap().to_string(), "0.001235");
    }

    #[test]
    fn limits_count_per_asset_and_per_day() {
        let cny = limits(Asset::Cny, "100.00", "150.00");
        let mut usage = TransferUsage::default();
        assert_eq!(usage.check(&cny, q(Asset::Cny, "100.00"), day(1)).unwrap(), None);
        let over = usage.check(&cny, q(Asset::Cny, "100.01"), day(1)).unwrap();
        assert_eq!(over, Some((TransferLimit::PerTransfer, q(Asset::Cny, "100.00"))));
        usage.record(q(Asset::Cny, "100.00"), day(1)).unwrap();
        usage.record(q(Asset::Usdt, "7.5"), day(1)).unwrap();
        let over = usage.check(&cny, q(Asset::Cny, "50.01"), day(1)).unwrap();
        assert_eq!(over, Some((TransferLimit::Daily, q(Asset::Cny, "50.00"))));
        assert_eq!(usage.sent_on(Asset::Usdt, day(1)), q(Asset::Usdt, "7.5"));
        // A transfer that came back today gives its share back; tomorrow starts at zero.
        usage.release(q(Asset::Cny, "30.00"), day(1)).unwrap();
        assert_eq!(usage.sent_on(Asset::Cny, day(1)), q(Asset::Cny, "70.00"));
        assert!(usage.sent_on(Asset::Cny, day(2)).is_zero());
        usage.record(q(Asset::Cny, "1.00"), day(2)).unwrap();
        usage.release(q(Asset::Cny, "70.00"), day(1)).unwrap();
        assert_eq!(usage.sent_on(Asset::Cny, day(2)), q(Asset::Cny, "1.00"), "yesterday's return changes nothing");
    }

    proptest! {
        /// Whatever is sent in a day, a transfer is allowed exactly when it
        /// fits both what one transfer and what is left of the day allow.
        #[test]
        fn a_day_never_sends_more_than_its_limit(amounts in prop::collection::vec(1i64..20_000_000, 1..40)) {
            let usdt = limits(Asset::Usdt, "10.000000", "25.000000");
            let mut usage = TransferUsage::default();
            let mut sent = Decimal::ZERO;
            for micros in amounts {
                let amount = Quantity::from_decimal(Asset::Usdt, Decimal::new(micros, 6)).unwrap();
                let fits = amount.as_decimal() <= Decimal::TEN
                    && sent + amount.as_decimal() <= Decimal::new(25, 0);
                prop_assert_eq!(usage.check(&usdt, amount, day(3)).unwrap().is_none(), fits);
                if fits {
                    usage.record(amount, day(3)).unwrap();
                    sent += amount.as_decimal();
                }
                prop_assert_eq!(usage.sent_on(Asset::Usdt, day(3)).as_decimal(), sent);
            }
        }

        /// A fee is never negative, never below the minimum nor above the
        /// cap, and always at the amount's scale.
        #[test]
        fn fees_stay_within_their_bounds(cents in 1i64..1_000_000_000, rate_bp in 0i64..1000) {
            let fee = TransferFee { rate: Decimal::new(rate_bp, 4), min: Decimal::new(10, 2), max: Some(Decimal::new(50, 0)) };
            let amount = Quantity::from_decimal(Asset::Cny, Decimal::new(cents, 2)).unwrap();
            let charged = fee.fee_for(amount).unwrap();
            prop_assert!(charged.as_decimal() >= Decimal::new(10, 2));
            prop_assert!(charged.as_decimal() <= Decimal::new(50, 0));
            prop_assert_eq!(charged.as_decimal().scale(), 2);
        }
    }
}
