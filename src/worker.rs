//! The background worker: runs `WorkerStep::settle_due` over and over — at
//! once again while there is work, otherwise after the poll interval — from
//! startup until the service stops. Stopping waits for the step under way to
//! finish, so shutdown never cuts a settlement in half (and if the process is
//! killed instead, the claims' leases hand the work to another worker).

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::services::worker_step::WorkerStep;

/// After an error (the store away, say), wait this many poll intervals.
const ERROR_PAUSE_INTERVALS: u32 = 5;

pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    /// Asks the loop to stop after its current step and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the worker ended abnormally");
        }
    }
}

/// Starts the loop on the current runtime.
pub fn spawn(step: WorkerStep, poll_interval: Duration) -> WorkerHandle {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        tracing::info!(poll_interval_ms = poll_interval.as_millis() as u64, "worker started");
        loop {
            let pause = match step.run_once().await {
                Ok(report) if report.had_work() => {
                    tracing::debug!(?report, "worker step");
                    Duration::ZERO
                }
                Ok(_) => poll_interval,
                Err(error) => {
                    tracing::warn!(%error, "worker step failed");
                    poll_interval * ERROR_PAUSE_INTERVALS
                }
            };
            tokio::select! {
                _ = stopped.changed() => break,
                _ = tokio::time::sleep(pause) => {}
            }
            if *stopped.borrow() {
                break;
            }
        }
        tracing::info!("worker stopped");
    });
    WorkerHandle { stop, task }
}
