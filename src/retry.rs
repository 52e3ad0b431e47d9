//! The one compare-and-set retry loop: a bounded number of rounds, with a
//! random pause that grows with each lost round. Every writer that decides
//! on a version it read and commits only if that version still holds (the
//! account partitions, the mock wallets' bills) loops through `Rounds`.
//!
//! ```text
//! let mut rounds = Rounds::new(attempts_max);
//! while rounds.next().await {
//!     read; decide; match commit { Committed => return done, VersionConflict => continue }
//! }
//! give up (the caller names the error)
//! ```

use std::time::Duration;

use rand::Rng;

/// Upper bound of the random pause between two rounds grows with the
/// number of rounds lost, up to this many microseconds.
const BACKOFF_MICROS_MAX: u64 = 8_000;
const BACKOFF_MICROS_STEP: u64 = 400;

/// Rounds of a compare-and-set loop: at most `max`; the first `free` run
/// at once, every later one after a pause.
#[derive(Debug)]
pub struct Rounds {
    started: u32,
    max: u32,
    free: u32,
}

impl Rounds {
    /// `max` rounds, each after the first paused.
    pub fn new(max: u32) -> Rounds {
        Rounds { started: 0, max, free: 1 }
    }

    /// `max` rounds of which the first `free` run without a pause (for
    /// writers whose first conflicts are expected and cheap).
    pub fn pausing_after(max: u32, free: u32) -> Rounds {
        Rounds { started: 0, max, free: free.max(1) }
    }

    /// Whether another round may run; pauses first when rounds were lost.
    pub async fn next(&mut self) -> bool {
        if self.started >= self.max {
            return false;
        }
        if self.started >= self.free {
            pause_before_round(self.started - self.free).await;
        }
        self.started += 1;
        true
    }

    /// How many rounds have started.
    pub fn started(&self) -> u32 {
        self.started
    }
}

/// Random, growing pauses spread competing writers apart so that each round
/// of conflicts lets one of them through instead of all colliding again.
async fn pause_before_round(lost: u32) {
    let ceiling = (u64::from(lost) + 1).saturating_mul(BACKOFF_MICROS_STEP).min(BACKOFF_MICROS_MAX);
    let micros = rand::rng().random_range(0..=ceiling);
    tokio::time::sleep(Duration::from_micros(micros)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rounds_stop_after_the_maximum() {
        let mut rounds = Rounds::new(3);
        let mut ran = 0;
        while rounds.next().await {
            ran += 1;
        }
        assert_eq!(ran, 3);
        assert_eq!(rounds.started(), 3);
        assert!(!rounds.next().await, "a spent loop stays spent");
    }

    #[tokio::test]
    async fn no_rounds_run_when_none_are_allowed() {
        let mut rounds = Rounds::pausing_after(0, 2);
        assert!(!rounds.next().await);
    }
}
