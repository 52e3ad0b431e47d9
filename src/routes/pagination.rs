//! The one paging scheme of every list endpoint: `limit` (1 to 200, 50 if
//! not given; anything else is refused, never clamped), an opaque `cursor`
//! (the previous page's `next_cursor`, passed back unchanged), and pages
//! shaped `{items, next_cursor}` with `next_cursor` null on the last page.
//!
//! A cursor is the hex of `<list>:<position>`: clients never build one, and
//! one from another list (or not from this API at all) is refused naming
//! `cursor` rather than quietly read as the first page.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::account::AccountId;
use crate::domain::binding::BindingId;
use crate::domain::review_queue::QueueCursor;
use crate::domain::transfer::TransferId;
use crate::domain::withdrawal::WithdrawalId;
use crate::error::ApiError;
use crate::services::keys::member_parts;
use crate::store::SchedulePosition;

pub const LIMIT_DEFAULT: usize = 50;
pub const LIMIT_MAX: usize = 200;

/// `?limit=&cursor=` of a list endpoint with no filters of its own.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page: 1 to 200, 50 if not given; other values are refused
    /// (`VALIDATION_FAILED` naming `limit`).
    #[param(minimum = 1, maximum = 200, default = 50, example = 50)]
    pub limit: Option<usize>,
    /// The previous page's `next_cursor`, passed back unchanged; opaque. One
    /// this list did not issue is refused (`VALIDATION_FAILED` naming `cursor`).
    #[param(min_length = 1, example = "7764733a77645f30313936")]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn request<P: Position>(&self, list: List) -> Result<PageRequest<P>, ApiError> {
        PageRequest::read(self.limit, self.cursor.as_deref(), list)
    }
}

/// The lists that page, each with its own cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Withdrawals,
    Transactions,
    ReviewQueue,
    AuditLog,
    Bindings,
    /// Operators' account search.
    Accounts,
    /// Operators' withdrawals across accounts.
    AllWithdrawals,
    /// Identity checks waiting for an operator.
    PendingKyc,
    /// A user's transfers, both ways.
    Transfers,
    /// An account's transfers, both ways, as operators list them.
    AccountTransfers,
    /// The simulator's request journal.
    MockRequests,
    /// The mock WeChat's users.
    MockUsers,
    /// The mock Alipay's users.
    MockAlipayUsers,
}

impl List {
    fn tag(self) -> &'static str {
        match self {
            List::Withdrawals => "wd",
            List::Transactions => "tx",
            List::ReviewQueue => "rq",
            List::AuditLog => "au",
            List::Bindings => "bn",
            List::Accounts => "ac",
            List::AllWithdrawals => "aw",
            List::PendingKyc => "kp",
            List::Transfers => "tf",
            List::AccountTransfers => "at",
            List::MockRequests => "mr",
            List::MockUsers => "mu",
            List::MockAlipayUsers => "ma",
        }
    }
}

/// Where a page starts: what a cursor stands for in its list.
pub trait Position: Sized {
    fn to_text(&self) -> String;
    fn from_text(text: &str) -> Option<Self>;
}

/// A journal or log position (`seq`).
impl Position for u64 {
    fn to_text(&self) -> String {
        self.to_string()
    }

    fn from_text(text: &str) -> Option<u64> {
        // Only the canonical form, so one position has one cursor.
        text.parse().ok().filter(|seq: &u64| seq.to_string() == text)
    }
}

impl Position for WithdrawalId {
    fn to_text(&self) -> String {
        self.as_str().to_owned()
    }

    fn from_text(text: &str) -> Option<WithdrawalId> {
        WithdrawalId::parse(text)
    }
}

impl Position for TransferId {
    fn to_text(&self) -> String {
        self.as_str().to_owned()
    }

    fn from_text(text: &str) -> Option<TransferId> {
        TransferId::parse(text)
    }
}

impl Position for BindingId {
    fn to_text(&self) -> String {
        self.as_str().to_owned()
    }

    fn from_text(text: &str) -> Option<BindingId> {
        BindingId::parse(text)
    }
}

impl Position for AccountId {
    fn to_text(&self) -> String {
        self.as_str().to_owned()
    }

    fn from_text(text: &str) -> Option<AccountId> {
        AccountId::parse(text)
    }
}

/// A place in the review queue, with the order it was read in.
impl Position for QueueCursor {
    fn to_text(&self) -> String {
        QueueCursor::to_text(self)
    }

    fn from_text(text: &str) -> Option<QueueCursor> {
        QueueCursor::from_text(text)
    }
}

/// A place in a list kept as a schedule: `<ms>:<account id>/<subject>`.
impl Position for SchedulePosition {
    fn to_text(&self) -> String {
        format!("{}:{}", self.at_ms, self.member)
    }

    fn from_text(text: &str) -> Option<SchedulePosition> {
        let (at_ms, member) = text.split_once(':')?;
        let at_ms = i64::try_from(u64::from_text(at_ms)?).ok()?;
        let names_something = member_parts(member).is_some_and(|(_, subject)| !subject.is_empty());
        names_something.then(|| SchedulePosition::new(at_ms, member))
    }
}

/// A checked page request: how many items, and after which position.
#[derive(Debug)]
pub struct PageRequest<P> {
    pub limit: usize,
    pub after: Option<P>,
    list: List,
}

impl<P: Position> PageRequest<P> {
    /// Reads `limit` and `cursor` as sent (for endpoints whose query has
    /// filters beside them).
    pub fn read(limit: Option<usize>, cursor: Option<&str>, list: List) -> Result<PageRequest<P>, ApiError> {
        let limit = match limit {
            None => LIMIT_DEFAULT,
            Some(limit @ 1..=LIMIT_MAX) => limit,
            Some(_) => return Err(ApiError::validation("limit", format_args!("must be 1 to {LIMIT_MAX}"))),
        };
        let after = cursor.map(|cursor| decode(cursor, list)).transpose()?;
        Ok(PageRequest { limit, after, list })
    }

    /// Cuts `items` (read with room for one more than `limit`, in list
    /// order) to a page, with a cursor after its last item when more follow.
    pub fn page<T>(&self, mut items: Vec<T>, position_of: impl Fn(&T) -> P) -> (Vec<T>, Option<String>) {
        if items.len() <= self.limit {
            return (items, None);
        }
        items.truncate(self.limit);
        let next_cursor = items.last().map(|last| encode(&position_of(last), self.list));
        (items, next_cursor)
    }

    /// As `page`, for a list read with a bound on how much one request
    /// reads: when the read stopped at `stopped_at` before it had a page's
    /// worth, the cursor goes on from there (and the page may hold fewer
    /// than `limit` items, even none).
    pub fn page_scanned<T>(
        &self,
        items: Vec<T>,
        position_of: impl Fn(&T) -> P,
        stopped_at: Option<P>,
    ) -> (Vec<T>, Option<String>) {
        match stopped_at {
            Some(stopped_at) if items.len() <= self.limit => (items, Some(encode(&stopped_at, self.list))),
            _ => self.page(items, position_of),
        }
    }

    /// How many items to read to know whether another page follows.
    pub fn read_ahead(&self) -> usize {
        self.limit + 1
    }
}

fn encode<P: Position>(position: &P, list: List) -> String {
    hex::encode(format!("{}:{}", list.tag(), position.to_text()))
}

fn decode<P: Position>(cursor: &str, list: List) -> Result<P, ApiError> {
    let refused =
        || ApiError::validation("cursor", "is not a cursor this list issued; pass next_cursor back unchanged");
    let bytes = hex::decode(cursor).map_err(|_| refused())?;
    let text = String::from_utf8(bytes).map_err(|_| refused())?;
    let position = text.strip_prefix(list.tag()).and_then(|rest| rest.strip_prefix(':')).ok_or_else(refused)?;
    P::from_text(position).ok_or_else(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_in_its_own_list_only() {
        let cursor = encode(&41_u64, List::AuditLog);
        assert_eq!(decode::<u64>(&cursor, List::AuditLog).ok(), Some(41));
        assert!(decode::<u64>(&cursor, List::Transactions).is_err());
        for bad in ["", "zzz", "41", &hex::encode("au:"), &hex::encode("au:041"), &hex::encode("au:-1")] {
            assert!(decode::<u64>(bad, List::AuditLog).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_schedule_position_reads_back_only_whole() {
        let position = SchedulePosition::new(1_700_000_000_123, "acc_demo_alice/wd_0196");
        let cursor = encode(&position, List::AllWithdrawals);
        assert_eq!(decode::<SchedulePosition>(&cursor, List::AllWithdrawals).ok(), Some(position));
        for bad in
            ["", "17:", "17:acc_x", "17:acc_x/", "017:acc_x/wd_1", "-1:acc_x/wd_1", "x:acc_x/wd_1", "17:nobody/wd_1"]
        {
            assert!(SchedulePosition::from_text(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_short_page_of_a_bounded_read_goes_on_where_the_read_stopped() {
        let request = PageRequest::<u64>::read(Some(2), None, List::AuditLog).unwrap_or_else(|_| unreachable!());
        let (items, next) = request.page_scanned(vec![9_u64], |seq| *seq, Some(5));
        assert_eq!((items, next.map(|cursor| decode::<u64>(&cursor, List::AuditLog).ok())), (vec![9], Some(Some(5))));
        let (items, next) = request.page_scanned(vec![9_u64, 8, 7], |seq| *seq, Some(5));
        assert_eq!(
            (items, next.map(|cursor| decode::<u64>(&cursor, List::AuditLog).ok())),
            (vec![9, 8], Some(Some(8)))
        );
        assert_eq!(request.page_scanned(vec![9_u64], |seq| *seq, None), (vec![9], None));
    }

    #[test]
    fn limits_outside_the_bounds_are_refused_not_clamped() {
        for limit in [0, LIMIT_MAX + 1] {
            assert!(PageRequest::<u64>::read(Some(limit), None, List::AuditLog).is_err(), "{limit}");
        }
        let request = PageRequest::<u64>::read(None, None, List::AuditLog).ok();
        assert_eq!(request.map(|r| r.limit), Some(LIMIT_DEFAULT));
    }

    #[test]
    fn a_page_has_a_cursor_only_when_more_follow() {
        let request = PageRequest::<u64>::read(Some(2), None, List::AuditLog).unwrap_or_else(|_| unreachable!());
        assert_eq!(request.page(vec![9_u64, 8], |seq| *seq), (vec![9, 8], None));
        let (items, next) = request.page(vec![9_u64, 8, 7], |seq| *seq);
        assert_eq!(items, vec![9, 8]);
        assert_eq!(next.map(|cursor| decode::<u64>(&cursor, List::AuditLog).ok()), Some(Some(8)));
    }
}
