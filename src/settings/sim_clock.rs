//! `[sim_clock]`: the bounds of a simulator's shared business clock (see
//! `services::sim_clock`): how often each gateway reads the shared state
//! again, and how far and how long one advance may go.

use serde::Deserialize;

/// The furthest any configuration lets one advance go: 366 days.
pub const ADVANCE_SECS_CEILING: u64 = 366 * 24 * 3600;
/// The most worker steps any configuration lets one advance run.
pub const ADVANCE_STEPS_CEILING: usize = 10_000_000;
/// The longest any configuration lets a gateway go without reading the clock again: a minute.
pub const REFRESH_MS_CEILING: u64 = 60_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimClockSettings {
    /// Each gateway reads the shared clock state again this often (ms): how
    /// late, at most, it hears of a change another gateway made.
    pub refresh_ms: u64,
    /// The furthest one advance may move the clock, in seconds.
    pub advance_secs_max: u64,
    /// Worker steps one advance may run before it stops, incomplete.
    pub advance_steps_max: usize,
}

impl SimClockSettings {
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        if !(1..=REFRESH_MS_CEILING).contains(&self.refresh_ms) {
            problems.push(format!("sim_clock.refresh_ms must be between 1 and {REFRESH_MS_CEILING}"));
        }
        if !(1..=ADVANCE_SECS_CEILING).contains(&self.advance_secs_max) {
            problems
                .push(format!("sim_clock.advance_secs_max must be between 1 and {ADVANCE_SECS_CEILING} (366 days)"));
        }
        if !(1..=ADVANCE_STEPS_CEILING).contains(&self.advance_steps_max) {
            problems.push(format!("sim_clock.advance_steps_max must be between 1 and {ADVANCE_STEPS_CEILING}"));
        }
    }
}
