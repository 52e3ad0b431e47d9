//! The statement's month totals: what came into and what went out of the
//! available balance in one calendar month of the business time zone, per
//! asset, as a wallet's 账单 heads each month ("支出 ¥… 收入 ¥…"). A
//! movement counts as its statement row shows it: its first asset's change
//! to the available balance, in when positive, out when negative.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use super::asset::{Asset, Quantity};
use super::ledger::{JournalEntry, LedgerAccount, LedgerError};

/// A calendar month, e.g. 2026-11; ordered oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// The month `at` falls in, on the calendar of `time_zone`.
    pub fn of(at: DateTime<Utc>, time_zone: Tz) -> Month {
        let local = at.with_timezone(&time_zone);
        Month { year: local.year(), month: local.month() }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// One month's movements of one asset, added up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthTotals {
    pub month: Month,
    pub asset: Asset,
    /// What came in: the sum of the positive changes.
    pub incoming: Quantity,
    /// What went out, as a positive sum of the negative changes.
    pub outgoing: Quantity,
}

/// The one asset an entry's statement row shows, and its change to the available balance.
pub fn available_change(entry: &JournalEntry) -> Result<Quantity, LedgerError> {
    let asset = entry.assets().first().copied().unwrap_or(Asset::Cny);
    entry.change_in(asset, LedgerAccount::UserAvailable)
}

/// Adds up the movements of `entries` that fall in one of `months`, per
/// month and asset: the newest month first, CNY before USDT. A month (or
/// asset) without a movement has no totals.
pub fn month_totals<'a>(
    entries: impl IntoIterator<Item = &'a JournalEntry>,
    months: &[Month],
    time_zone: Tz,
) -> Result<Vec<MonthTotals>, LedgerError> {
    let mut totals: Vec<MonthTotals> = Vec::new();
    for entry in entries {
        let month = Month::of(entry.created_at, time_zone);
        let change = available_change(entry)?;
        if !months.contains(&month) || change.is_zero() {
            continue;
        }
        let asset = change.asset();
        let index = match totals.iter().position(|t| t.month == month && t.asset == asset) {
            Some(index) => index,
            None => {
                let zero = Quantity::zero(asset);
                totals.push(MonthTotals { month, asset, incoming: zero, outgoing: zero });
                totals.len() - 1
            }
        };
        let sums = &mut totals[index];
        if change.is_positive() {
            sums.incoming = sums.incoming.checked_add(change)?;
        } else {
            sums.outgoing = sums.outgoing.checked_add(change.negated())?;
        }
    }
    totals.sort_by(|a, b| b.month.cmp(&a.month).then(a.asset.cmp(&b.asset)));
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::Posting;
    use crate::domain::account::fixtures::alice;
    use crate::domain::ledger::{EntryKind, leg_of};
    use chrono::TimeZone;
    use chrono_tz::Asia::Shanghai;

    /// Posts one movement on `account` (whose balances carry over from entry to entry).
    fn entry(
        account: &mut crate::domain::account::Account,
        at: DateTime<Utc>,
        (debit, credit): (LedgerAccount, LedgerAccount),
        amount: &str,
    ) -> JournalEntry {
        let legs = vec![leg_of(debit, credit, cny(amount)).unwrap()];
        account.post(Posting { kind: EntryKind::OperatorCredit, memo: String::new(), actor: None, legs }, at).unwrap()
    }

    fn cny(text: &str) -> Quantity {
        Quantity::parse(Asset::Cny, text).unwrap()
    }

    #[test]
    fn months_follow_the_business_calendar_not_utc() {
        // 2026-10-31 16:30 UTC is already 1 November in Shanghai.
        let at = Utc.with_ymd_and_hms(2026, 10, 31, 16, 30, 0).unwrap();
        assert_eq!(Month::of(at, Shanghai).to_string(), "2026-11");
        assert_eq!(Month::of(at, chrono_tz::UTC).to_string(), "2026-10");
    }

    #[test]
    fn each_month_adds_up_what_came_in_and_what_went_out() {
        let nov = Utc.with_ymd_and_hms(2026, 11, 2, 4, 0, 0).unwrap();
        let oct = Utc.with_ymd_and_hms(2026, 10, 2, 4, 0, 0).unwrap();
        let sept = Utc.with_ymd_and_hms(2026, 9, 2, 4, 0, 0).unwrap();
        let (available, held, funding) =
            (LedgerAccount::UserAvailable, LedgerAccount::UserHeld, LedgerAccount::Funding);
        let mut account = alice();
        let entries = [
            entry(&mut account, sept, (funding, available), "999.00"),
            entry(&mut account, oct, (funding, available), "1.00"),
            entry(&mut account, nov, (funding, available), "100.00"),
            entry(&mut account, nov, (available, held), "30.50"),
            entry(&mut account, nov, (held, available), "30.50"),
            entry(&mut account, nov, (available, held), "7.25"),
            // A settlement: the available balance does not move.
            entry(&mut account, nov, (held, funding), "7.25"),
        ];
        let months = [Month::of(nov, Shanghai), Month::of(oct, Shanghai)];
        let totals = month_totals(&entries, &months, Shanghai).unwrap();
        let shown: Vec<_> =
            totals.iter().map(|t| (t.month.to_string(), t.incoming.to_string(), t.outgoing.to_string())).collect();
        assert_eq!(
            shown,
            [("2026-11".into(), "130.50".into(), "37.75".into()), ("2026-10".into(), "1.00".into(), "0.00".into())]
        );
    }
}
