//! Withdrawal limits by verification level: a minimum amount, a
//! per-transaction maximum, daily and monthly amount caps and a daily count
//! cap. "Day" and "month" are calendar periods in the configured time zone
//! (Asia/Shanghai by default); the caller passes the local date, so these
//! rules stay pure. Amounts count against the caps while held and once
//! settled; a rejected or failed withdrawal gives its share back.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::money::{Amount, Money, MoneyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelLimits {
    /// Whether this level may withdraw at all (else `VERIFICATION_REQUIRED`).
    pub withdrawals_allowed: bool,
    pub amount_min: Money,
    pub per_transaction_max: Money,
    pub daily_amount_max: Money,
    pub monthly_amount_max: Money,
    pub daily_count_max: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    PerTransaction,
    Daily,
    Monthly,
    DailyCount,
}

impl LimitKind {
    /// The wire name, as serde writes it (`details.limit` of `LIMIT_EXCEEDED`).
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::PerTransaction => "per_transaction",
            LimitKind::Daily => "daily",
            LimitKind::Monthly => "monthly",
            LimitKind::DailyCount => "daily_count",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum LimitError {
    #[error("this verification level cannot withdraw")]
    NotAllowed,
    #[error("below the minimum amount {minimum}")]
    BelowMinimum { minimum: Money },
    #[error("over the {limit:?} limit")]
    AmountExceeded { limit: LimitKind, remaining: Money },
    #[error("no withdrawals left today")]
    CountExceeded { remaining: u32 },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// What is left of each limit, for the wallet screen and quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct LimitsLeft {
    pub per_transaction_max: Money,
    pub daily_remaining: Money,
    pub monthly_remaining: Money,
    #[schema(example = 9)]
    pub daily_count_remaining: u32,
}

/// How much of the caps the account has used in the current periods.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalUsage {
    pub day: Option<NaiveDate>,
    pub day_amount: Money,
    pub day_count: u32,
    /// The first day of the month the monthly amount is for.
    pub month: Option<NaiveDate>,
    pub month_amount: Money,
}

fn month_of(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

impl WithdrawalUsage {
    /// The usage as of `today`: counters of a past day or month start again at zero.
    pub fn as_of(&self, today: NaiveDate) -> WithdrawalUsage {
        let same_day = self.day == Some(today);
        let same_month = self.month == Some(month_of(today));
        WithdrawalUsage {
            day: Some(today),
            day_amount: if same_day { self.day_amount } else { Money::ZERO },
            day_count: if same_day { self.day_count } else { 0 },
            month: Some(month_of(today)),
            month_amount: if same_month { self.month_amount } else { Money::ZERO },
        }
    }

    pub fn left(&self, limits: &LevelLimits, today: NaiveDate) -> LimitsLeft {
        let now = self.as_of(today);
        let left = |cap: Money, used: Money| cap.checked_sub(used).unwrap_or(Money::ZERO).max(Money::ZERO);
        LimitsLeft {
            per_transaction_max: limits.per_transaction_max,
            daily_remaining: left(limits.daily_amount_max, now.day_amount),
            monthly_remaining: left(limits.monthly_amount_max, now.month_amount),
            daily_count_remaining: limits.daily_count_max.saturating_sub(now.day_count),
        }
    }

    /// Whether `amount` fits every limit today, checked in the order a user
    /// reads them: allowed at all, minimum, per transaction, day, month, count.
    pub fn check(&self, limits: &LevelLimits, amount: Amount, today: NaiveDate) -> Result<(), LimitError> {
        let amount = amount.money();
        if !limits.withdrawals_allowed {
            return Err(LimitError::NotAllowed);
        }
        if amount < limits.amount_min {
            return Err(LimitError::BelowMinimum { minimum: limits.amount_min });
        }
        let left = self.left(limits, today);
        let caps = [
            (LimitKind::PerTransaction, left.per_transaction_max),
            (LimitKind::Daily, left.daily_remaining),
            (LimitKind::Monthly, left.monthly_remaining),
        ];
        if let Some((limit, remaining)) = caps.into_iter().find(|(_, remaining)| amount > *remaining) {
            return Err(LimitError::AmountExceeded { limit, remaining });
        }
        if left.daily_count_remaining == 0 {
            return Err(LimitError::CountExceeded { remaining: 0 });
        }
        Ok(())
    }

    /// Counts a withdrawal made today.
    pub fn record(&mut self, amount: Amount, today: NaiveDate) -> Result<(), LimitError> {
        let mut now = self.as_of(today);
        now.day_amount = now.day_amount.checked_add(amount.money())?;
        now.day_count += 1;
        now.month_amount = now.month_amount.checked_add(amount.money())?;
        *self = now;
        Ok(())
    }

    /// Gives back a withdrawal made on `made_on` that was rejected or failed:
    /// its share of the periods that are still current.
    pub fn release(&mut self, amount: Amount, made_on: NaiveDate, today: NaiveDate) -> Result<(), LimitError> {
        let mut now = self.as_of(today);
        if made_on == today {
            now.day_amount = now.day_amount.checked_sub(amount.money())?.max(Money::ZERO);
            now.day_count = now.day_count.saturating_sub(1);
        }
        if month_of(made_on) == month_of(today) {
            now.month_amount = now.month_amount.checked_sub(amount.money())?.max(Money::ZERO);
        }
        *self = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    fn amount(text: &str) -> Amount {
        text.parse().unwrap()
    }

    fn limits() -> LevelLimits {
        LevelLimits {
            withdrawals_allowed: true,
            amount_min: money("0.10"),
            per_transaction_max: money("500.00"),
            daily_amount_max: money("1000.00"),
            monthly_amount_max: money("3000.00"),
            daily_count_max: 3,
        }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn each_limit_refuses_with_what_is_left() {
        let mut usage = WithdrawalUsage::default();
        assert_eq!(
            usage.check(&limits(), amount("0.09"), day(1)),
            Err(LimitError::BelowMinimum { minimum: money("0.10") })
        );
        assert_eq!(
            usage.check(&limits(), amount("500.01"), day(1)),
            Err(LimitError::AmountExceeded { limit: LimitKind::PerTransaction, remaining: money("500.00") })
        );
        usage.record(amount("500.00"), day(1)).unwrap();
        usage.record(amount("400.00"), day(1)).unwrap();
        assert_eq!(
            usage.check(&limits(), amount("100.01"), day(1)),
            Err(LimitError::AmountExceeded { limit: LimitKind::Daily, remaining: money("100.00") })
        );
        usage.record(amount("1.00"), day(1)).unwrap();
        assert_eq!(usage.check(&limits(), amount("1.00"), day(1)), Err(LimitError::CountExceeded { remaining: 0 }));
        let closed = LevelLimits { withdrawals_allowed: false, ..limits() };
        assert_eq!(usage.check(&closed, amount("1.00"), day(1)), Err(LimitError::NotAllowed));
    }

    #[test]
    fn limit_names_are_the_wire_names() {
        for kind in [LimitKind::PerTransaction, LimitKind::Daily, LimitKind::Monthly, LimitKind::DailyCount] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn a_new_day_resets_the_daily_caps_but_not_the_month() {
        let mut usage = WithdrawalUsage::default();
        for (d, a) in [(1, "500.00"), (1, "500.00"), (2, "500.00"), (2, "500.00"), (3, "500.00"), (3, "500.00")] {
            usage.check(&limits(), amount(a), day(d)).unwrap();
            usage.record(amount(a), day(d)).unwrap();
        }
        assert_eq!(
            usage.check(&limits(), amount("0.10"), day(4)),
            Err(LimitError::AmountExceeded { limit: LimitKind::Monthly, remaining: Money::ZERO })
        );
        let april = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        assert!(usage.check(&limits(), amount("500.00"), april).is_ok());
    }

    #[test]
    fn a_released_withdrawal_gives_back_only_current_periods() {
        let mut usage = WithdrawalUsage::default();
        usage.record(amount("300.00"), day(1)).unwrap();
        usage.release(amount("300.00"), day(1), day(1)).unwrap();
        assert_eq!(usage.left(&limits(), day(1)).daily_remaining, money("1000.00"));
        usage.record(amount("300.00"), day(1)).unwrap();
        usage.release(amount("300.00"), day(1), day(2)).unwrap();
        let left = usage.left(&limits(), day(2));
        assert_eq!(
            (left.daily_remaining, left.monthly_remaining, left.daily_count_remaining),
            (money("1000.00"), money("3000.00"), 3)
        );
    }

    proptest! {
        #[test]
        fn exactly_at_a_cap_passes_and_one_fen_more_fails(used_fen in 0i64..=99_999, count in 0u32..3) {
            let mut usage = WithdrawalUsage::default();
            if used_fen > 0 {
                usage.record(Amount::new(Money::from_fen(used_fen).unwrap()).unwrap(), day(1)).unwrap();
            }
            let limits = LevelLimits { daily_count_max: 3 + count, per_transaction_max: money("1000.00"), ..limits() };
            let left_fen = 100_000 - used_fen;
            let exact = Amount::new(Money::from_fen(left_fen).unwrap()).unwrap();
            let over = Amount::new(Money::from_fen(left_fen + 1).unwrap()).unwrap();
            prop_assert!(usage.check(&limits, exact, day(1)).is_ok() || left_fen < 10);
            // Just under the minimum, one fen more is still too little: that refusal comes first.
            let refused = match usage.check(&limits, over, day(1)) {
                Err(LimitError::AmountExceeded { .. }) => true,
                Err(LimitError::BelowMinimum { .. }) => left_fen + 1 < 10,
                _ => false,
            };
            prop_assert!(refused);
        }
    }
}
