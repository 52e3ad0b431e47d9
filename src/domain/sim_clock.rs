//! The simulated business clock's rules: what "now" is, given the clock's
//! shared state and the wall clock, and how the state may change — frozen,
//! resumed, advanced step by step — without business time ever going
//! backwards. Pure: `services::sim_clock` loads the state, asks here, and
//! saves the answer by compare-and-set; `clock::SimulatedClock` keeps a copy
//! and reads it on every `now()`.
//!
//! The state is an offset added to the wall clock while the clock runs, or
//! the instant it stands at while frozen. An advance freezes the clock at
//! each instant where work falls due, so everything done there is stamped
//! with that instant, and marks the state as advancing (with a wall-time
//! lease, so a gateway that dies mid-way does not hold the clock for ever);
//! when it ends the clock runs again from the target if it ran before.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The clock's shared state, as the store keeps it. The default (no
/// document yet) is wall time: no offset, running.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClockState {
    /// Nanoseconds added to the wall clock while the clock runs.
    #[serde(default)]
    pub offset_ns: i64,
    /// Where the clock stands while frozen (by an operator, or by an advance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_at: Option<DateTime<Utc>>,
    /// The advance under way, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advancing: Option<Advancing>,
}

/// An advance under way, as its gateway marks the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advancing {
    /// Which advance: only it may step the clock or end the advance.
    pub id: String,
    pub target: DateTime<Utc>,
    /// Whether the clock runs again when the advance ends (it ran when it began).
    pub resumes: bool,
    /// Wall time after which the advance counts as abandoned; each step renews it.
    pub lease_until: DateTime<Utc>,
}

/// Where an advance goes: forward by some seconds, or to an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdvanceTo {
    By { secs: i64 },
    To(DateTime<Utc>),
}

/// An advance just begun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub id: String,
    /// Business time when it began.
    pub from: DateTime<Utc>,
    pub target: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the business clock only moves forward; it reads {now}")]
    WouldGoBackwards { now: DateTime<Utc> },
    #[error("one advance moves the business clock at most {max_secs} s")]
    TooFar { max_secs: i64 },
    #[error("another advance of the business clock is under way")]
    Advancing,
    #[error("another change of the business clock interrupted this advance")]
    Interrupted,
}

impl ClockState {
    /// Business time when the wall clock reads `wall`.
    pub fn now(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        match self.frozen_at {
            Some(frozen) => frozen,
            None => wall.checked_add_signed(Duration::nanoseconds(self.offset_ns)).unwrap_or(wall),
        }
    }

    /// How far business time is from the wall clock (ahead when positive).
    pub fn offset(&self, wall: DateTime<Utc>) -> Duration {
        self.now(wall) - wall
    }

    /// The advance under way at `wall`: marked, and its lease not run out.
    pub fn advance_under_way(&self, wall: DateTime<Utc>) -> Option<&Advancing> {
        self.advancing.as_ref().filter(|advancing| advancing.lease_until > wall)
    }

    /// Whether the clock stands still by an operator's freeze (an advance
    /// that will resume it does not count).
    pub fn frozen_by_operator(&self, wall: DateTime<Utc>) -> bool {
        self.frozen_at.is_some() && !self.advance_under_way(wall).is_some_and(|advancing| advancing.resumes)
    }

    /// Held still at now; a frozen clock stays where it is.
    pub fn frozen(&self, wall: DateTime<Utc>) -> Result<ClockState, ClockError> {
        self.refuse_while_advancing(wall)?;
        Ok(ClockState { offset_ns: self.offset_ns, frozen_at: Some(self.now(wall)), advancing: None })
    }

    /// Running again from where it stands; a running clock runs on.
    pub fn resumed(&self, wall: DateTime<Utc>) -> Result<ClockState, ClockError> {
        self.refuse_while_advancing(wall)?;
        Ok(ClockState::running_at(self.now(wall), wall))
    }

    /// Begins an advance from now to where `to` says, at most `max` ahead,
    /// as `id`: the clock stands at now until the advance steps it.
    pub fn begin_advance(
        &self,
        to: AdvanceTo,
        max: Duration,
        id: String,
        wall: DateTime<Utc>,
        lease: Duration,
    ) -> Result<(ClockState, Advance), ClockError> {
        self.refuse_while_advancing(wall)?;
        let now = self.now(wall);
        let ahead = match to {
            // Checked before any `Duration` is built from them: one of i64::MIN seconds would not fit.
            AdvanceTo::By { secs } if secs < 0 => return Err(ClockError::WouldGoBackwards { now }),
            AdvanceTo::By { secs } if secs > max.num_seconds() => {
                return Err(ClockError::TooFar { max_secs: max.num_seconds() });
            }
            AdvanceTo::By { secs } => Duration::seconds(secs),
            AdvanceTo::To(target) => target - now,
        };
        if ahead < Duration::zero() {
            return Err(ClockError::WouldGoBackwards { now });
        }
        if ahead > max {
            return Err(ClockError::TooFar { max_secs: max.num_seconds() });
        }
        let target = now + ahead;
        // A dead advance that would have resumed the clock still counts as running.
        let resumes = self.frozen_at.is_none() || self.advancing.as_ref().is_some_and(|dead| dead.resumes);
        let advancing = Advancing { id: id.clone(), target, resumes, lease_until: wall + lease };
        let state = ClockState { offset_ns: self.offset_ns, frozen_at: Some(now), advancing: Some(advancing) };
        Ok((state, Advance { id, from: now, target }))
    }

    /// Advance `id` moves the clock on to `at` (never back) and renews its lease.
    pub fn stepped(
        &self,
        id: &str,
        at: DateTime<Utc>,
        wall: DateTime<Utc>,
        lease: Duration,
    ) -> Result<ClockState, ClockError> {
        let advancing = self.advancing_as(id)?;
        let advancing = Advancing { lease_until: wall + lease, ..advancing.clone() };
        let at = at.max(self.now(wall));
        Ok(ClockState { offset_ns: self.offset_ns, frozen_at: Some(at), advancing: Some(advancing) })
    }

    /// Advance `id` ends at `at` (never back): the clock runs on from there
    /// if it ran when the advance began, else stays frozen there.
    pub fn finished(&self, id: &str, at: DateTime<Utc>, wall: DateTime<Utc>) -> Result<ClockState, ClockError> {
        let resumes = self.advancing_as(id)?.resumes;
        let at = at.max(self.now(wall));
        if resumes {
            Ok(ClockState::running_at(at, wall))
        } else {
            Ok(ClockState { offset_ns: self.offset_ns, frozen_at: Some(at), advancing: None })
        }
    }

    /// A running clock that reads `now` when the wall clock reads `wall`.
    fn running_at(now: DateTime<Utc>, wall: DateTime<Utc>) -> ClockState {
        let offset_ns = (now - wall).num_nanoseconds().unwrap_or(if now > wall { i64::MAX } else { i64::MIN });
        ClockState { offset_ns, frozen_at: None, advancing: None }
    }

    fn refuse_while_advancing(&self, wall: DateTime<Utc>) -> Result<(), ClockError> {
        match self.advance_under_way(wall) {
            Some(_) => Err(ClockError::Advancing),
            None => Ok(()),
        }
    }

    /// The mark of advance `id`, whose lease may have run out as long as
    /// nothing took the clock since; anything else interrupted it.
    fn advancing_as(&self, id: &str) -> Result<&Advancing, ClockError> {
        self.advancing.as_ref().filter(|advancing| advancing.id == id).ok_or(ClockError::Interrupted)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn wall() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap()
    }

    fn lease() -> Duration {
        Duration::minutes(5)
    }

    fn year() -> Duration {
        Duration::days(366)
    }

    fn begin(state: &ClockState, to: AdvanceTo, at_wall: DateTime<Utc>) -> Result<(ClockState, Advance), ClockError> {
        state.begin_advance(to, year(), "adv_1".into(), at_wall, lease())
    }

    #[test]
    fn no_state_is_wall_time_and_an_offset_runs_with_the_wall_clock() {
        let state = ClockState::default();
        assert_eq!(state.now(wall()), wall());
        let ahead = ClockState { offset_ns: Duration::hours(2).num_nanoseconds().unwrap(), ..ClockState::default() };
        assert_eq!(ahead.now(wall()), wall() + Duration::hours(2));
        assert_eq!(ahead.now(wall() + Duration::seconds(7)), wall() + Duration::hours(2) + Duration::seconds(7));
        assert_eq!(ahead.offset(wall()), Duration::hours(2));
    }

    #[test]
    fn a_frozen_clock_holds_still_and_resumes_from_where_it_stood() {
        let frozen = ClockState::default().frozen(wall()).unwrap();
        assert_eq!(frozen.now(wall() + Duration::hours(1)), wall());
        assert!(frozen.frozen_by_operator(wall()));
        assert_eq!(frozen.frozen(wall() + Duration::hours(1)).unwrap(), frozen, "freezing again changes nothing");

        let later = wall() + Duration::minutes(10);
        let resumed = frozen.resumed(later).unwrap();
        assert_eq!(resumed.now(later), wall(), "it goes on from the frozen instant");
        assert_eq!(resumed.now(later + Duration::seconds(3)), wall() + Duration::seconds(3));
        assert!(!resumed.frozen_by_operator(later));
        assert_eq!(resumed.resumed(later).unwrap().now(later), wall(), "resuming a running clock changes nothing");
    }

    #[test]
    fn an_advance_goes_forward_by_seconds_or_to_an_instant_within_the_cap() {
        let (state, advance) = begin(&ClockState::default(), AdvanceTo::By { secs: 3600 }, wall()).unwrap();
        assert_eq!((advance.from, advance.target), (wall(), wall() + Duration::hours(1)));
        assert_eq!(state.now(wall() + Duration::seconds(30)), wall(), "the clock stands still while advancing");
        assert!(!state.frozen_by_operator(wall()), "it will run again");
        let to = wall() + Duration::days(366);
        assert_eq!(begin(&ClockState::default(), AdvanceTo::To(to), wall()).unwrap().1.target, to);
        assert_eq!(begin(&ClockState::default(), AdvanceTo::By { secs: 0 }, wall()).unwrap().1.target, wall());
    }

    #[test]
    fn an_advance_backwards_or_too_far_is_refused() {
        let state = ClockState::default();
        let backwards = ClockError::WouldGoBackwards { now: wall() };
        assert_eq!(begin(&state, AdvanceTo::By { secs: -1 }, wall()).unwrap_err(), backwards);
        assert_eq!(begin(&state, AdvanceTo::By { secs: i64::MIN }, wall()).unwrap_err(), backwards);
        assert_eq!(begin(&state, AdvanceTo::To(wall() - Duration::milliseconds(1)), wall()).unwrap_err(), backwards);
        let too_far = ClockError::TooFar { max_secs: year().num_seconds() };
        assert_eq!(begin(&state, AdvanceTo::By { secs: year().num_seconds() + 1 }, wall()).unwrap_err(), too_far);
        assert_eq!(begin(&state, AdvanceTo::By { secs: i64::MAX }, wall()).unwrap_err(), too_far);
        let far = wall() + year() + Duration::seconds(1);
        assert_eq!(begin(&state, AdvanceTo::To(far), wall()).unwrap_err(), too_far);
    }

    #[test]
    fn one_advance_at_a_time_until_its_lease_runs_out() {
        let (state, _) = begin(&ClockState::default(), AdvanceTo::By { secs: 60 }, wall()).unwrap();
        assert_eq!(begin(&state, AdvanceTo::By { secs: 60 }, wall()).unwrap_err(), ClockError::Advancing);
        assert_eq!(state.frozen(wall()).unwrap_err(), ClockError::Advancing);
        assert_eq!(state.resumed(wall()).unwrap_err(), ClockError::Advancing);
        let abandoned = wall() + lease();
        assert!(state.advance_under_way(abandoned).is_none());
        let (_, next) =
            state.begin_advance(AdvanceTo::By { secs: 60 }, year(), "adv_2".into(), abandoned, lease()).unwrap();
        assert_eq!(next.from, wall(), "the abandoned advance left the clock where it stood");
    }

    #[test]
    fn steps_only_move_forward_and_belong_to_their_advance() {
        let (state, advance) = begin(&ClockState::default(), AdvanceTo::By { secs: 3600 }, wall()).unwrap();
        let ten = wall() + Duration::minutes(10);
        let stepped = state.stepped(&advance.id, ten, wall(), lease()).unwrap();
        assert_eq!(stepped.now(wall()), ten);
        assert_eq!(stepped.stepped(&advance.id, wall(), wall(), lease()).unwrap().now(wall()), ten, "never back");
        let renewed = stepped.stepped(&advance.id, ten, wall() + Duration::minutes(4), lease()).unwrap();
        assert_eq!(renewed.advancing.unwrap().lease_until, wall() + Duration::minutes(9));
        assert_eq!(state.stepped("adv_other", ten, wall(), lease()).unwrap_err(), ClockError::Interrupted);
        assert_eq!(ClockState::default().finished(&advance.id, ten, wall()).unwrap_err(), ClockError::Interrupted);
    }

    #[test]
    fn an_advance_ends_running_or_frozen_as_the_clock_was() {
        let (state, advance) = begin(&ClockState::default(), AdvanceTo::By { secs: 3600 }, wall()).unwrap();
        let later = wall() + Duration::seconds(5);
        let ended = state.finished(&advance.id, advance.target, later).unwrap();
        assert_eq!(ended.now(later), advance.target);
        assert_eq!(ended.now(later + Duration::seconds(1)), advance.target + Duration::seconds(1), "running");
        assert!(ended.advancing.is_none());

        let frozen = ClockState::default().frozen(wall()).unwrap();
        let (state, advance) = begin(&frozen, AdvanceTo::By { secs: 3600 }, later).unwrap();
        assert!(state.frozen_by_operator(later));
        let ended = state.finished(&advance.id, advance.target, later).unwrap();
        assert_eq!(ended.now(later + Duration::hours(5)), wall() + Duration::hours(1), "still frozen, at the target");
        assert!(ended.frozen_by_operator(later));
    }

    #[test]
    fn the_state_reads_back_as_written_and_an_empty_document_is_wall_time() {
        let (state, _) = begin(&ClockState::default(), AdvanceTo::By { secs: 60 }, wall()).unwrap();
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<ClockState>(&text).unwrap(), state);
        assert_eq!(serde_json::from_str::<ClockState>("{}").unwrap(), ClockState::default());
    }
}
