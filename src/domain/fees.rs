//! Withdrawal fees, modelled on the real wallets (WeChat since 2016-03-01,
//! Alipay since 2016-10-12): a lifetime free quota per identity, then a rate
//! on the part above it, with a minimum fee per withdrawal. Each destination
//! has its own schedule and its own quota (`DestinationFees`): WeChat's
//! ¥1,000 and Alipay's ¥20,000 are counted apart, as the two wallets count
//! them. The fee is charged on top of the amount.
//!
//! Rounding rule: the rate is applied to the taxable part and rounded to the
//! fen half-up (0.005 → 0.01); a result below the minimum fee is raised to it.
//! Nothing above the free quota means no fee at all, not the minimum.

use rust_decimal::{Decimal, RoundingStrategy};

use super::binding::DestinationProvider;
use super::money::{Amount, Money, MoneyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeePolicy {
    /// Lifetime amount withdrawable without a fee, e.g. ¥1,000.00.
    pub free_quota: Money,
    /// Fraction of the taxable part, e.g. `0.001` for 0.1%.
    pub rate: Decimal,
    /// Least fee once anything is taxable, e.g. ¥0.10.
    pub min_fee: Money,
}

/// The fee schedule of each destination a withdrawal can go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestinationFees {
    pub wechat: FeePolicy,
    pub alipay: FeePolicy,
}

impl DestinationFees {
    /// The schedule of withdrawals to `provider`.
    pub fn of(&self, provider: DestinationProvider) -> &FeePolicy {
        match provider {
            DestinationProvider::Wechat => &self.wechat,
            DestinationProvider::Alipay => &self.alipay,
        }
    }
}

/// The cost of one withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeQuote {
    pub fee: Money,
    /// How much of the free quota this withdrawal uses.
    pub quota_used: Money,
    /// amount + fee: what leaves the available balance.
    pub total_debit: Money,
}

impl FeePolicy {
    /// The fee for withdrawing `amount` with `quota_used_before` of the free
    /// quota already spent.
    pub fn quote(&self, amount: Amount, quota_used_before: Money) -> Result<FeeQuote, MoneyError> {
        let amount = amount.money();
        let quota_left = self.free_quota.checked_sub(quota_used_before)?.max(Money::ZERO);
        let quota_used = amount.min(quota_left);
        let taxable = amount.checked_sub(quota_used)?;
        let fee = if taxable.is_positive() {
            let raw =
                (taxable.as_decimal() * self.rate).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            Money::from_decimal(raw)?.max(self.min_fee)
        } else {
            Money::ZERO
        };
        Ok(FeeQuote { fee, quota_used, total_debit: amount.checked_add(fee)? })
    }

    pub fn quota_left(&self, quota_used: Money) -> Money {
        self.free_quota.checked_sub(quota_used).unwrap_or(Money::ZERO).max(Money::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn wechat() -> FeePolicy {
        FeePolicy { free_quota: "1000.00".parse().unwrap(), rate: Decimal::new(1, 3), min_fee: "0.10".parse().unwrap() }
    }

    fn alipay() -> FeePolicy {
        FeePolicy {
            free_quota: "20000.00".parse().unwrap(),
            rate: Decimal::new(1, 3),
            min_fee: "0.10".parse().unwrap(),
        }
    }

    fn quote(amount: &str, used: &str) -> FeeQuote {
        wechat().quote(amount.parse().unwrap(), used.parse().unwrap()).unwrap()
    }

    #[test]
    fn the_reference_examples() {
        // ¥2,000 with the whole ¥1,000 quota left: (2000 − 1000) × 0.1% = ¥1.00, ¥2,001 leaves.
        let q = quote("2000.00", "0.00");
        assert_eq!(
            (q.fee.to_string(), q.quota_used.to_string(), q.total_debit.to_string()),
            ("1.00".into(), "1000.00".into(), "2001.00".into())
        );
        assert_eq!(quote("500.00", "0.00").fee, Money::ZERO);
        assert_eq!(quote("50.00", "1000.00").fee.to_string(), "0.10", "minimum fee");
        assert_eq!(quote("1005.00", "0.00").fee.to_string(), "0.10", "0.005 rounds up, then the minimum applies");
        assert_eq!(quote("125.00", "1000.00").fee.to_string(), "0.13", "0.125 rounds half up");
        assert_eq!(quote("124.00", "1000.00").fee.to_string(), "0.12");
    }

    #[test]
    fn each_destination_has_its_own_schedule() {
        let fees = DestinationFees { wechat: wechat(), alipay: alipay() };
        let amount: Amount = "5000.00".parse().unwrap();
        // ¥5,000 is ¥4.00 to WeChat after its ¥1,000, free to Alipay within its ¥20,000.
        let to_wechat = fees.of(DestinationProvider::Wechat).quote(amount, Money::ZERO).unwrap();
        let to_alipay = fees.of(DestinationProvider::Alipay).quote(amount, Money::ZERO).unwrap();
        assert_eq!(to_wechat.fee.to_string(), "4.00");
        assert_eq!((to_alipay.fee, to_alipay.quota_used.to_string()), (Money::ZERO, "5000.00".to_owned()));
        // Alipay's last ¥100 of quota, then 0.1 % of the rest: ¥30,100 − ¥100 → ¥30.00.
        let over = fees.of(DestinationProvider::Alipay).quote("30100.00".parse().unwrap(), "19900.00".parse().unwrap());
        assert_eq!(over.unwrap().fee.to_string(), "30.00");
        // A small withdrawal past Alipay's quota pays the minimum.
        let small = fees.of(DestinationProvider::Alipay).quote("1.00".parse().unwrap(), "20000.00".parse().unwrap());
        assert_eq!(small.unwrap().fee.to_string(), "0.10");
    }

    fn amount() -> impl Strategy<Value = Amount> {
        (1i64..=10_000_000).prop_map(|fen| Amount::new(Money::from_fen(fen).unwrap()).unwrap())
    }

    proptest! {
        #[test]
        fn fees_are_never_negative_and_add_up(a in amount(), used_fen in 0i64..=200_000) {
            let q = wechat().quote(a, Money::from_fen(used_fen).unwrap()).unwrap();
            prop_assert!(!q.fee.is_negative());
            prop_assert_eq!(q.total_debit, a.money().checked_add(q.fee).unwrap());
            prop_assert!(q.fee.is_zero() || q.fee >= wechat().min_fee);
        }

        #[test]
        fn the_free_quota_is_never_spent_twice(amounts in prop::collection::vec(amount(), 1..20)) {
            let policy = wechat();
            let mut used = Money::ZERO;
            for a in amounts {
                let q = policy.quote(a, used).unwrap();
                used = used.checked_add(q.quota_used).unwrap();
                prop_assert!(used <= policy.free_quota);
            }
        }

        #[test]
        fn splitting_a_withdrawal_never_saves_more_than_minimum_fees(a in 2i64..=1_000_000, b in 2i64..=1_000_000) {
            // Fees are monotone in the amount for a fixed quota state.
            let policy = wechat();
            let smaller = policy.quote(Amount::new(Money::from_fen(a).unwrap()).unwrap(), Money::ZERO).unwrap();
            let larger = policy.quote(Amount::new(Money::from_fen(a + b).unwrap()).unwrap(), Money::ZERO).unwrap();
            prop_assert!(larger.fee >= smaller.fee);
        }
    }
}
