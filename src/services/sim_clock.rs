//! The simulated business clock as operators drive it (`/v1/sim/clock`):
//! read it, freeze and resume it, and advance it — running the work that
//! falls due on the way, in due-time order, before answering, as a Stripe
//! test clock goes `advancing` → `ready`.
//!
//! The clock's state (`domain::sim_clock::ClockState`) is one document in
//! the store, changed by compare-and-set, so every gateway on one Redis or
//! one cluster shares it. Each process keeps a copy in its
//! `clock::SimulatedClock`, which `now()` reads without touching the store;
//! the copy is replaced at once by the process that changes the state, when
//! `/v1/sim/clock` is read, and every `sim_clock.refresh_ms` otherwise (so
//! another gateway hears of a change within that bound). One reader or
//! writer of the document at a time per process, so a slower read never
//! puts an older state back in the copy.
//!
//! An advance freezes the clock at each instant where work falls due (the
//! earliest entry of the schedules the worker's step claims from), runs the
//! worker's step there (again while anything is still due there: more than a
//! batch, or work added meanwhile), then steps on; at the target it lets the
//! clock run again if it ran before. It is bounded by
//! `sim_clock.advance_steps_max` worker steps: past them it stops where it
//! got to and says it is incomplete. Other gateways (their workers, their
//! own steps) may work on the same schedules meanwhile: the schedules'
//! claims and the commits' version checks settle each withdrawal once.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::audit::{AuditLog, AuditTarget};
use super::work::WorkReport;
use super::worker_step::WorkerStep;
use crate::clock::SimulatedClock;
use crate::domain::account::AccountId;
use crate::domain::sim_clock::{Advance, AdvanceTo, ClockError, ClockState};
use crate::error::ApiError;
use crate::retry::Rounds;
use crate::store::prelude::*;
use crate::store::{CommitOutcome, SharedStore};

/// Where the clock's state is kept: a document of the store.
pub const CLOCK_COLLECTION: &str = "simulator";
pub const CLOCK_DOCUMENT: &str = "clock";
/// How long (wall time) an advance holds the clock without taking a step:
/// a gateway that dies mid-advance lets go of it after this.
const ADVANCE_LEASE_SECS: i64 = 300;

/// The bounds of the simulated clock (`[sim_clock]`).
#[derive(Debug, Clone, Copy)]
pub struct SimClockPolicy {
    /// The furthest one advance may move the clock.
    pub advance_max: Duration,
    /// The most worker steps one advance runs before it stops, incomplete.
    pub steps_max: usize,
    /// How often each process reads the shared state again.
    pub refresh_every: std::time::Duration,
}

/// The business clock of the deployment, as operators drive it.
#[derive(Debug, Clone)]
pub struct SimClock {
    pub clock: Arc<SimulatedClock>,
    pub store: SharedStore,
    pub worker: WorkerStep,
    pub audit: AuditLog,
    pub policy: SimClockPolicy,
    /// Rounds of compare-and-set before a contended change gives up (503).
    pub commit_attempts_max: u32,
    /// One reader or writer of the stored state at a time in this process.
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// The clock as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockReading {
    pub now: DateTime<Utc>,
    pub wall_time: DateTime<Utc>,
    /// Business time minus wall time, in whole seconds.
    pub offset_secs: i64,
    /// Held still by an operator.
    pub frozen: bool,
    /// An advance is under way (in any gateway).
    pub advancing: bool,
}

/// What an advance did.
#[derive(Debug, Clone)]
pub struct Advanced {
    pub from: DateTime<Utc>,
    pub target: DateTime<Utc>,
    /// Where the clock stands now: the target, unless the steps ran out first.
    pub reached: DateTime<Utc>,
    /// Worker steps run on the way.
    pub steps: usize,
    /// Whether the target was reached (false: `sim_clock.advance_steps_max` ran out first).
    pub complete: bool,
    /// What the steps did, added up.
    pub work: WorkReport,
    pub clock: ClockReading,
}

/// How far an advance got.
struct Walk {
    at: DateTime<Utc>,
    steps: usize,
    complete: bool,
    work: WorkReport,
}

impl SimClock {
    pub fn new(
        clock: Arc<SimulatedClock>,
        worker: WorkerStep,
        policy: SimClockPolicy,
        commit_attempts_max: u32,
    ) -> SimClock {
        SimClock {
            store: worker.audit.store.clone(),
            audit: worker.audit.clone(),
            clock,
            worker,
            policy,
            commit_attempts_max,
            turn: Arc::default(),
        }
    }

    /// The clock, read afresh from the store.
    pub async fn read(&self) -> Result<ClockReading, ApiError> {
        self.refresh().await?;
        Ok(self.reading())
    }

    /// Replaces this process's copy of the state with the stored one.
    pub async fn refresh(&self) -> Result<(), ApiError> {
        let _turn = self.turn.lock().await;
        let (_, state) = self.load().await?;
        self.clock.apply(state);
        Ok(())
    }

    /// Reads the stored state again every `refresh_every`, for as long as
    /// the runtime runs; a failed read is tried again at the next tick.
    pub fn keep_refreshed(&self) {
        let clock = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(clock.policy.refresh_every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // An unreachable store is reported by whatever needs it next
                // (readiness, requests); this read just tries again.
                if let Err(error) = clock.refresh().await {
                    tracing::debug!(%error, "could not read the business clock's state; retrying");
                }
            }
        });
    }

    /// Holds the clock still where it stands; audited.
    pub async fn freeze(&self, operator: &AccountId) -> Result<ClockReading, ApiError> {
        let frozen = self.change(|state, wall| Ok((state.frozen(wall)?, ()))).await.map(|()| self.reading());
        self.audited(operator, "sim.clock.freeze", json!({}), frozen).await
    }

    /// Lets the clock run again from where it stands; audited.
    pub async fn resume(&self, operator: &AccountId) -> Result<ClockReading, ApiError> {
        let resumed = self.change(|state, wall| Ok((state.resumed(wall)?, ()))).await.map(|()| self.reading());
        self.audited(operator, "sim.clock.resume", json!({}), resumed).await
    }

    /// Moves the clock forward, running the work that falls due on the way
    /// before it answers; audited. The advance runs as a task of its own, so
    /// a caller that stops waiting (a client that hung up) does not cut it
    /// short, which would leave the clock held until the advance's lease ran out.
    pub async fn advance(&self, operator: &AccountId, to: AdvanceTo) -> Result<Advanced, ApiError> {
        let (clock, operator) = (self.clone(), operator.clone());
        let advance = tokio::spawn(async move { clock.advance_audited(&operator, to).await });
        advance.await.map_err(ApiError::internal)?
    }

    async fn advance_audited(&self, operator: &AccountId, to: AdvanceTo) -> Result<Advanced, ApiError> {
        let details = match to {
            AdvanceTo::By { secs } => json!({ "by_secs": secs }),
            AdvanceTo::To(target) => json!({ "to": target }),
        };
        let advanced = self.run_advance(to).await;
        let details = match &advanced {
            Ok(done) => {
                json!({ "request": details, "reached": done.reached, "steps": done.steps, "complete": done.complete })
            }
            Err(_) => json!({ "request": details }),
        };
        self.audited(operator, "sim.clock.advance", details, advanced).await
    }

    async fn run_advance(&self, to: AdvanceTo) -> Result<Advanced, ApiError> {
        let id = format!("adv_{}", uuid::Uuid::new_v4().simple());
        let (policy, lease) = (self.policy, Duration::seconds(ADVANCE_LEASE_SECS));
        let advance: Advance =
            self.change(|state, wall| state.begin_advance(to, policy.advance_max, id.clone(), wall, lease)).await?;
        let mut walk = Walk { at: advance.from, steps: 0, complete: false, work: WorkReport::default() };
        let walked = self.walk(&advance, &mut walk).await;
        // Whatever happened on the way, the clock is let go of where the walk got to.
        let finished = self.change(|state, wall| Ok((state.finished(&advance.id, walk.at, wall)?, ()))).await;
        walked?;
        finished?;
        Ok(Advanced {
            from: advance.from,
            target: advance.target,
            reached: walk.at,
            steps: walk.steps,
            complete: walk.complete,
            work: walk.work,
            clock: self.reading(),
        })
    }

    /// Runs the work due at each instant up to the target, earliest first,
    /// stepping the clock to each; stops early when the steps run out.
    async fn walk(&self, advance: &Advance, walk: &mut Walk) -> Result<(), ApiError> {
        let lease = Duration::seconds(ADVANCE_LEASE_SECS);
        let mut renewed_at = self.clock.wall_now();
        loop {
            // One step claims what is due at `walk.at` (a batch of it) and
            // moves each claimed entry past `walk.at`; whatever is still due
            // there (more than a batch, or added meanwhile) is the next step's.
            let report = self.worker.settle_due(walk.at).await?;
            walk.steps += 1;
            walk.work.absorb(&report);
            let Some(next) = self.next_due(walk.at, advance.target).await? else { break };
            if walk.steps >= self.policy.steps_max {
                // Work ahead and no steps left: the clock stays at the last instant worked.
                tracing::warn!(steps = walk.steps, at = %walk.at, "an advance ran out of steps before its target");
                return Ok(());
            }
            // Moving on to the next instant renews the advance's lease; so does
            // an instant whose work outlasts half of it.
            if next > walk.at || self.clock.wall_now() - renewed_at > lease / 2 {
                self.change(|state, wall| Ok((state.stepped(&advance.id, next, wall, lease)?, ()))).await?;
                (walk.at, renewed_at) = (next, self.clock.wall_now());
            }
        }
        if walk.at < advance.target {
            self.change(|state, wall| Ok((state.stepped(&advance.id, advance.target, wall, lease)?, ()))).await?;
            walk.at = advance.target;
        }
        walk.complete = true;
        Ok(())
    }

    /// The earliest instant, at or after `after` and no later than `until`,
    /// when an entry of the worker's schedules falls due.
    async fn next_due(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ApiError> {
        let mut next: Option<DateTime<Utc>> = None;
        for (schedule, delay) in self.worker.due_schedules() {
            let earliest = self.store.scheduled(schedule, (until - delay).timestamp_millis(), 1).await?;
            let due =
                earliest.first().and_then(|(_, at_ms)| DateTime::from_timestamp_millis(*at_ms)).map(|at| at + delay);
            next = next.into_iter().chain(due).min();
        }
        // Work left at an instant already walked (added there meanwhile) is worked there again.
        Ok(next.map(|due| due.max(after)))
    }

    /// The clock as this process's copy has it.
    fn reading(&self) -> ClockReading {
        let (state, wall) = (self.clock.state(), self.clock.wall_now());
        ClockReading {
            now: state.now(wall),
            wall_time: wall,
            offset_secs: state.offset(wall).num_seconds(),
            frozen: state.frozen_by_operator(wall),
            advancing: state.advance_under_way(wall).is_some(),
        }
    }

    /// The stored state and its version (0 and wall time when none is stored).
    async fn load(&self) -> Result<(u64, ClockState), ApiError> {
        let stored = self.store.load_document_as::<ClockState>(CLOCK_COLLECTION, CLOCK_DOCUMENT).await?;
        Ok(stored.map_or_else(|| (0, ClockState::default()), |stored| (stored.version, stored.value)))
    }

    /// Decides a change on the latest stored state (at the wall clock's
    /// now) and saves it by compare-and-set, retrying on conflict; the copy
    /// follows what was read, and then what was saved.
    async fn change<T>(
        &self,
        mut decide: impl FnMut(&ClockState, DateTime<Utc>) -> Result<(ClockState, T), ClockError>,
    ) -> Result<T, ApiError> {
        let _turn = self.turn.lock().await;
        let mut rounds = Rounds::new(self.commit_attempts_max);
        while rounds.next().await {
            let (version, state) = self.load().await?;
            self.clock.apply(state.clone());
            let (changed, output) = decide(&state, self.clock.wall_now())?;
            let saved = self.store.save_document_as(CLOCK_COLLECTION, CLOCK_DOCUMENT, version, &changed).await?;
            if saved == CommitOutcome::Committed {
                self.clock.apply(changed);
                return Ok(output);
            }
        }
        Err(ApiError::StoreBusy)
    }

    async fn audited<T>(
        &self,
        operator: &AccountId,
        action: &str,
        details: serde_json::Value,
        result: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let target = AuditTarget::new("sim_clock", CLOCK_DOCUMENT, None);
        self.audit.record(operator, action, target, details, &result).await;
        result
    }
}
