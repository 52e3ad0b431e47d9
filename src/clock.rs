//! Where "now" comes from. Production reads the system clock; tests hold a
//! `ManualClock` and move it forward, so expiries and delays are tested
//! without sleeping. A simulator's business clock is a `SimulatedClock`:
//! that base clock (the wall clock) moved by the clock state every gateway
//! of the deployment shares (`domain::sim_clock`), which operators advance,
//! freeze and resume (`services::sim_clock` keeps the copy here fresh).

use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};

use crate::domain::sim_clock::ClockState;

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    // A std Mutex: held for a copy, never across an await.
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock { now: Mutex::new(start) }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Business time in a simulator: the base clock's now plus the shared
/// offset, or the instant the shared state holds it at. `now()` reads this
/// process's copy of the state, never the store; the copy is replaced
/// (`apply`) by whoever reads or changes the stored state.
#[derive(Debug)]
pub struct SimulatedClock {
    base: SharedClock,
    // A std RwLock: read for a few instructions on every `now()`, written
    // when the state changes; never held across an await.
    state: RwLock<ClockState>,
}

impl SimulatedClock {
    /// Wall time until a state is applied.
    pub fn new(base: SharedClock) -> SimulatedClock {
        SimulatedClock { base, state: RwLock::new(ClockState::default()) }
    }

    /// The base clock's now: what sessions, leases and rate limits go by.
    pub fn wall_now(&self) -> DateTime<Utc> {
        self.base.now()
    }

    /// This process's copy of the shared state.
    pub fn state(&self) -> ClockState {
        self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Replaces the copy with a state just read from, or written to, the store.
    pub fn apply(&self, state: ClockState) {
        *self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = state;
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> DateTime<Utc> {
        let wall = self.base.now();
        self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner()).now(wall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = DateTime::<Utc>::UNIX_EPOCH;
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(90));
        assert_eq!(clock.now(), start + Duration::seconds(90));
    }

    #[test]
    fn a_simulated_clock_follows_its_base_moved_by_the_applied_state() {
        let start = DateTime::<Utc>::UNIX_EPOCH;
        let base = Arc::new(ManualClock::new(start));
        let clock = SimulatedClock::new(base.clone());
        assert_eq!(clock.now(), start, "wall time before any state");
        let ahead = Duration::days(1);
        clock.apply(ClockState { offset_ns: ahead.num_nanoseconds().unwrap(), ..ClockState::default() });
        base.advance(Duration::seconds(5));
        assert_eq!(clock.now(), start + ahead + Duration::seconds(5));
        assert_eq!(clock.wall_now(), start + Duration::seconds(5));
        clock.apply(ClockState { frozen_at: Some(start + ahead), ..ClockState::default() });
        base.advance(Duration::seconds(5));
        assert_eq!(clock.now(), start + ahead, "frozen");
        assert_eq!(clock.state().frozen_at, Some(start + ahead));
    }
}
