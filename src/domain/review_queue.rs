//! Which waiting withdrawals an operator asked to see, and in which order:
//! the review queue's filters (why it waits, the account's level, an amount
//! range), its orders (longest waiting first, newest first, largest or
//! smallest amount first) and where a page of it starts. Pure: the service
//! reads the queue, this decides what a page holds.

use std::cmp::Ordering;

use serde::Deserialize;
use utoipa::ToSchema;

use super::account::VerificationLevel;
use super::money::Money;
use super::withdrawal::{ReviewReason, WithdrawalId};

/// Why a withdrawal waits for an operator: one of its review reasons, or a
/// payout that kept failing and was parked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "large_amount")]
pub enum WaitReason {
    FirstToDestination,
    LargeAmount,
    PinRecentlyChanged,
    PayoutAttemptsExhausted,
}

impl WaitReason {
    /// The reason as a queue item lists it (`reasons`).
    pub fn code(self) -> &'static str {
        match self {
            WaitReason::FirstToDestination => "first_to_destination",
            WaitReason::LargeAmount => "large_amount",
            WaitReason::PinRecentlyChanged => "pin_recently_changed",
            WaitReason::PayoutAttemptsExhausted => "payout_attempts_exhausted",
        }
    }

    /// The reasons a withdrawal waits for: a parked payout waits for its
    /// payout alone, whatever sent it to review before.
    pub fn of(review_reasons: &[ReviewReason], parked: bool) -> Vec<WaitReason> {
        if parked {
            return vec![WaitReason::PayoutAttemptsExhausted];
        }
        review_reasons
            .iter()
            .map(|reason| match reason {
                ReviewReason::FirstToDestination => WaitReason::FirstToDestination,
                ReviewReason::LargeAmount => WaitReason::LargeAmount,
                ReviewReason::PinRecentlyChanged => WaitReason::PinRecentlyChanged,
            })
            .collect()
    }
}

/// The order of the queue's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "oldest")]
pub enum QueueOrder {
    /// Longest waiting first (by withdrawal id, which is time-ordered).
    #[default]
    Oldest,
    /// Newest first.
    Newest,
    /// Largest amount first; of equal amounts, longest waiting first.
    Largest,
    /// Smallest amount first; of equal amounts, longest waiting first.
    Smallest,
}

impl QueueOrder {
    pub const ALL: [QueueOrder; 4] =
        [QueueOrder::Oldest, QueueOrder::Newest, QueueOrder::Largest, QueueOrder::Smallest];

    pub fn code(self) -> &'static str {
        match self {
            QueueOrder::Oldest => "oldest",
            QueueOrder::Newest => "newest",
            QueueOrder::Largest => "largest",
            QueueOrder::Smallest => "smallest",
        }
    }

    /// Where `a` stands against `b` in this order. Ids are unique, so no two
    /// places are equal and a page's last place says exactly where the next
    /// one starts.
    pub fn compare(self, a: &QueuePlace, b: &QueuePlace) -> Ordering {
        match self {
            QueueOrder::Oldest => a.id.cmp(&b.id),
            QueueOrder::Newest => b.id.cmp(&a.id),
            QueueOrder::Largest => b.amount.cmp(&a.amount).then_with(|| a.id.cmp(&b.id)),
            QueueOrder::Smallest => a.amount.cmp(&b.amount).then_with(|| a.id.cmp(&b.id)),
        }
    }
}

/// A withdrawal's place in the queue: what the orders compare, and what a
/// cursor stands for (with the order it was issued in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePlace {
    pub amount: Money,
    pub id: WithdrawalId,
}

/// A page's starting point: the order and the place of the previous page's
/// last item. Its text is `<order>/<amount>/<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCursor {
    pub order: QueueOrder,
    pub place: QueuePlace,
}

impl QueueCursor {
    pub fn to_text(&self) -> String {
        format!("{}/{}/{}", self.order.code(), self.place.amount, self.place.id.as_str())
    }

    /// Only the form `to_text` writes.
    pub fn from_text(text: &str) -> Option<QueueCursor> {
        let mut parts = text.splitn(3, '/');
        let (order_text, amount_text, id_text) = (parts.next()?, parts.next()?, parts.next()?);
        let order = QueueOrder::ALL.into_iter().find(|order| order.code() == order_text)?;
        let amount: Money = amount_text.parse().ok()?;
        let id = WithdrawalId::parse(id_text)?;
        (amount.to_string() == amount_text).then_some(QueueCursor { order, place: QueuePlace { amount, id } })
    }
}

/// The filters of the queue, each optional: a withdrawal is shown when it
/// passes all of those given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    /// Waits (among other reasons) for this one.
    pub reason: Option<WaitReason>,
    /// The account's level in force now.
    pub level: Option<VerificationLevel>,
    /// At least this amount.
    pub amount_min: Option<Money>,
    /// At most this amount.
    pub amount_max: Option<Money>,
}

/// What the filters look at in a waiting withdrawal.
#[derive(Debug, Clone, Copy)]
pub struct QueuedFacts<'a> {
    pub amount: Money,
    pub reasons: &'a [WaitReason],
    pub level: VerificationLevel,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueFilterError {
    #[error("amount_min is above amount_max")]
    EmptyAmountRange,
}

impl QueueFilter {
    /// A filter whose amount range is not empty.
    pub fn checked(self) -> Result<QueueFilter, QueueFilterError> {
        match (self.amount_min, self.amount_max) {
            (Some(min), Some(max)) if min > max => Err(QueueFilterError::EmptyAmountRange),
            _ => Ok(self),
        }
    }

    pub fn matches(&self, facts: QueuedFacts<'_>) -> bool {
        self.reason.is_none_or(|reason| facts.reasons.contains(&reason))
            && self.level.is_none_or(|level| facts.level == level)
            && self.amount_min.is_none_or(|min| facts.amount >= min)
            && self.amount_max.is_none_or(|max| facts.amount <= max)
    }
}

/// The page of `places` (every withdrawal that passed the filters, in any
/// order) that starts after `after` in `order`: up to `wanted` of them, in
/// that order. Returns the indices into `places`.
pub fn page_of(places: &[QueuePlace], order: QueueOrder, after: Option<&QueuePlace>, wanted: usize) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..places.len())
        .filter(|&at| after.is_none_or(|after| order.compare(&places[at], after) == Ordering::Greater))
        .collect();
    indices.sort_by(|&a, &b| order.compare(&places[a], &places[b]));
    indices.truncate(wanted);
    indices
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn place(yuan: i64, id: u32) -> QueuePlace {
        QueuePlace {
            amount: Money::from_fen(yuan * 100).unwrap(),
            id: WithdrawalId::parse(&format!("wd_{id:032x}")).unwrap(),
        }
    }

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn each_order_sorts_by_its_key_and_breaks_ties_by_waiting_time() {
        let places = [place(50, 3), place(100, 1), place(50, 2), place(10, 4)];
        let ids = |order| -> Vec<usize> { page_of(&places, order, None, 10) };
        assert_eq!(ids(QueueOrder::Oldest), [1, 2, 0, 3]);
        assert_eq!(ids(QueueOrder::Newest), [3, 0, 2, 1]);
        assert_eq!(ids(QueueOrder::Largest), [1, 2, 0, 3]);
        assert_eq!(ids(QueueOrder::Smallest), [3, 2, 0, 1]);
    }

    #[test]
    fn a_page_starts_after_the_previous_pages_last_place() {
        let places = [place(50, 3), place(100, 1), place(50, 2), place(10, 4)];
        let first = page_of(&places, QueueOrder::Largest, None, 2);
        assert_eq!(first, [1, 2]);
        let second = page_of(&places, QueueOrder::Largest, Some(&places[2]), 2);
        assert_eq!(second, [0, 3]);
        // The place need not be in the list any more (it was decided).
        assert_eq!(page_of(&places, QueueOrder::Largest, Some(&place(60, 9)), 10), [2, 0, 3]);
    }

    #[test]
    fn filters_keep_what_passes_every_one_given() {
        let reasons = [WaitReason::FirstToDestination, WaitReason::LargeAmount];
        let facts = QueuedFacts { amount: money("100.00"), reasons: &reasons, level: VerificationLevel::L1 };
        assert!(QueueFilter::default().matches(facts));
        let only = |filter: QueueFilter| filter.matches(facts);
        assert!(only(QueueFilter { reason: Some(WaitReason::LargeAmount), ..Default::default() }));
        assert!(!only(QueueFilter { reason: Some(WaitReason::PayoutAttemptsExhausted), ..Default::default() }));
        assert!(only(QueueFilter { level: Some(VerificationLevel::L1), ..Default::default() }));
        assert!(!only(QueueFilter { level: Some(VerificationLevel::L2), ..Default::default() }));
        assert!(only(QueueFilter {
            amount_min: Some(money("100.00")),
            amount_max: Some(money("100.00")),
            ..Default::default()
        }));
        assert!(!only(QueueFilter { amount_min: Some(money("100.01")), ..Default::default() }));
        assert!(!only(QueueFilter { amount_max: Some(money("99.99")), ..Default::default() }));
    }

    #[test]
    fn an_empty_amount_range_is_refused() {
        let range =
            |min, max| QueueFilter { amount_min: Some(money(min)), amount_max: Some(money(max)), ..Default::default() };
        assert_eq!(range("10.00", "9.99").checked(), Err(QueueFilterError::EmptyAmountRange));
        assert!(range("10.00", "10.00").checked().is_ok());
    }

    #[test]
    fn a_parked_payout_waits_for_its_payout_alone() {
        assert_eq!(WaitReason::of(&[ReviewReason::LargeAmount], true), [WaitReason::PayoutAttemptsExhausted]);
        assert_eq!(
            WaitReason::of(&[ReviewReason::FirstToDestination, ReviewReason::PinRecentlyChanged], false),
            [WaitReason::FirstToDestination, WaitReason::PinRecentlyChanged]
        );
    }

    #[test]
    fn a_cursor_reads_back_only_in_the_form_it_was_written() {
        let cursor = QueueCursor { order: QueueOrder::Largest, place: place(12, 7) };
        assert_eq!(QueueCursor::from_text(&cursor.to_text()), Some(cursor));
        let id = format!("wd_{:032x}", 7);
        for bad in [
            String::new(),
            format!("largest/12/{id}"),
            format!("sideways/12.00/{id}"),
            "largest/12.00/".to_owned(),
            "largest/12.00/acc_x".to_owned(),
            format!("largest/-0.00/{id}"),
        ] {
            assert_eq!(QueueCursor::from_text(&bad), None, "{bad}");
        }
    }

    proptest! {
        /// Walking the pages of any order meets every place once, in order.
        #[test]
        fn walking_the_pages_meets_every_place_once(
            amounts in proptest::collection::vec(0_i64..5, 0..30),
            wanted in 1_usize..5,
            order in proptest::sample::select(QueueOrder::ALL.to_vec()),
        ) {
            let places: Vec<QueuePlace> =
                amounts.iter().enumerate().map(|(at, &yuan)| place(yuan, at as u32 + 1)).collect();
            let whole = page_of(&places, order, None, places.len());
            let mut walked = Vec::new();
            let mut after: Option<QueuePlace> = None;
            loop {
                let page = page_of(&places, order, after.as_ref(), wanted);
                prop_assert!(page.len() <= wanted);
                let Some(&last) = page.last() else { break };
                walked.extend(page.iter().copied());
                after = Some(places[last].clone());
            }
            prop_assert_eq!(walked, whole);
        }
    }
}
