//! `/v1/sim/clock`: the simulator's business clock — read it, advance it
//! (running the work that falls due on the way), freeze and resume it.
//! Reading it is open to anyone; changing it needs the operator role. Served
//! only by a simulator (with the mock providers). See `services::sim_clock` and docs/simulator.md.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::extract::ApiJson;
use super::identity::Operator;
use super::responses::{OperatorOnly, PayloadTooLarge, StoreBusy, StoreUnavailable, Unauthenticated};
use crate::domain::sim_clock::AdvanceTo;
use crate::error::{ApiError, ErrorBody};
use crate::services::sim_clock::{Advanced, ClockReading, SimClock};
use crate::services::work::WorkReport;

/// The business clock as read.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "now": "2026-03-02T09:30:00Z", "wall_time": "2026-03-01T09:30:00Z", "offset_secs": 86400, "frozen": false,
    "status": "ready"
}))]
pub struct ClockView {
    /// Business time: what every business rule reads (delays, time-outs,
    /// locks, code lifetimes, calendar days).
    now: DateTime<Utc>,
    /// The wall clock of the gateway that answered: what sessions and
    /// request-rate limits go by.
    wall_time: DateTime<Utc>,
    /// `now` minus `wall_time`, in whole seconds.
    offset_secs: i64,
    /// Held still by `POST /v1/sim/clock/freeze` until resumed.
    frozen: bool,
    /// `advancing` while an advance (through any gateway) runs the work
    /// falling due, the clock standing at each instant in turn; else `ready`.
    #[schema(value_type = String, example = "ready")]
    status: &'static str,
}

impl ClockView {
    fn of(reading: &ClockReading) -> ClockView {
        ClockView {
            now: reading.now,
            wall_time: reading.wall_time,
            offset_secs: reading.offset_secs,
            frozen: reading.frozen,
            status: if reading.advancing { "advancing" } else { "ready" },
        }
    }
}

/// Where to move the clock: exactly one of `by_secs` and `to`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"by_secs": 86400}))]
pub struct AdvanceRequest {
    /// Seconds to move forward, 0 to `sim_clock.advance_secs_max` (366
    /// days); negative is 422 `CLOCK_WOULD_GO_BACKWARDS`.
    #[serde(default)]
    #[schema(example = 86400)]
    by_secs: Option<i64>,
    /// An instant to move to (RFC 3339), not before the clock's now.
    #[serde(default)]
    #[schema(example = "2026-03-02T16:00:00Z")]
    to: Option<DateTime<Utc>>,
}

impl AdvanceRequest {
    fn destination(&self) -> Result<AdvanceTo, ApiError> {
        match (self.by_secs, self.to) {
            (Some(secs), None) => Ok(AdvanceTo::By { secs }),
            (None, Some(to)) => Ok(AdvanceTo::To(to)),
            _ => Err(ApiError::validation("by_secs", "send exactly one of `by_secs` and `to`")),
        }
    }
}

/// What an advance did.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "clock": {"now": "2026-03-02T09:30:00Z", "wall_time": "2026-03-01T09:30:00Z", "offset_secs": 86400,
        "frozen": false, "status": "ready"},
    "from": "2026-03-01T09:30:00Z", "target": "2026-03-02T09:30:00Z", "reached": "2026-03-02T09:30:00Z",
    "complete": true, "steps": 3,
    "work": {"claimed": 2, "settled": 2, "failed": 0, "rejected": 0, "retried": 0, "parked": 0, "dropped": 0,
        "deferred": 0, "webhooks_delivered": 0, "webhooks_retried": 0, "webhooks_abandoned": 0,
        "transfers_delivered": 0, "awaiting": 0, "mock_bills_moved": 0, "mock_notices_delivered": 0,
        "mock_notices_retried": 0, "errors": 0}
}))]
struct AdvanceView {
    /// The clock after the advance.
    clock: ClockView,
    /// Business time when the advance began.
    from: DateTime<Utc>,
    target: DateTime<Utc>,
    /// Where the clock stopped: the target, unless `complete` is false.
    reached: DateTime<Utc>,
    /// False when `sim_clock.advance_steps_max` worker steps ran out before
    /// the target: the clock stands at `reached`; advance again to go on.
    complete: bool,
    /// Worker steps run on the way (each works what is due at one instant, a batch at a time).
    steps: usize,
    /// What the steps did, added up.
    work: WorkReport,
}

impl AdvanceView {
    fn of(advanced: Advanced) -> AdvanceView {
        AdvanceView {
            clock: ClockView::of(&advanced.clock),
            from: advanced.from,
            target: advanced.target,
            reached: advanced.reached,
            complete: advanced.complete,
            steps: advanced.steps,
            work: advanced.work,
        }
    }
}

/// Read the business clock (simulator)
///
/// Anyone may read it (the wallet app shows "simulated time" when it is not
/// wall time); changing it needs the operator role. The business clock every
/// gateway of this deployment shares, read afresh from the store (this
/// gateway's copy is refreshed too).
#[utoipa::path(
    get,
    path = "/v1/sim/clock",
    operation_id = "sim_clock",
    tag = "simulator",
    responses(
        (status = 200, description = "The clock.", body = ClockView),
        StoreUnavailable,
    )
)]
pub async fn show(clock: web::Data<SimClock>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ClockView::of(&clock.read().await?)))
}

/// Advance the business clock (operator, simulator)
///
/// Operator role only. Moves the clock forward by `by_secs` or to `to`, and
/// before answering runs the work that falls due on the way, in due-time
/// order, with the clock standing at each due instant (reviews that time
/// out, payouts and settlements, retries, webhooks, transfers to deliver):
/// a day's advance answers with the day's settlements done. A running clock
/// runs on from the target; a frozen one stays frozen there. At most
/// `sim_clock.advance_steps_max` worker steps: past them it stops, with
/// `complete: false`. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/v1/sim/clock/advance",
    operation_id = "sim_clock_advance",
    tag = "simulator",
    security(("bearerAuth" = [])),
    request_body = AdvanceRequest,
    responses(
        (status = 200, description = "Where the clock got to and what the work due on the way did.", body = AdvanceView),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): both or neither of `by_secs` and \
            `to`, a `by_secs` that is not a whole number, a `to` that is not an RFC 3339 instant, an unknown \
            field.", body = ErrorBody),
        (status = 409, description = "`CLOCK_ADVANCING`: another advance is under way (through any gateway); \
            `CLOCK_ADVANCE_INTERRUPTED`: another change of the clock took it from this advance, whose work so far \
            stands.", body = ErrorBody),
        (status = 422, description = "`CLOCK_WOULD_GO_BACKWARDS` (`details.now`): a negative `by_secs`, or a `to` \
            before now; `CLOCK_ADVANCE_TOO_FAR` (`details.max_secs`): further than `sim_clock.advance_secs_max`.",
            body = ErrorBody),
        Unauthenticated, OperatorOnly, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn advance(
    clock: web::Data<SimClock>,
    operator: Operator,
    ApiJson(request): ApiJson<AdvanceRequest>,
) -> Result<HttpResponse, ApiError> {
    let advanced = clock.advance(operator.account_id(), request.destination()?).await?;
    Ok(HttpResponse::Ok().json(AdvanceView::of(advanced)))
}

/// Freeze the business clock (operator, simulator)
///
/// Operator role only. Holds the clock still where it stands (on every
/// gateway) until resumed; advances still move it, and it stays frozen at
/// their target. Freezing a frozen clock changes nothing. Recorded in the
/// audit log.
#[utoipa::path(
    post,
    path = "/v1/sim/clock/freeze",
    operation_id = "sim_clock_freeze",
    tag = "simulator",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The clock, frozen.", body = ClockView),
        (status = 409, description = "`CLOCK_ADVANCING`: an advance is under way.", body = ErrorBody),
        Unauthenticated, OperatorOnly, StoreBusy,
    )
)]
pub async fn freeze(clock: web::Data<SimClock>, operator: Operator) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ClockView::of(&clock.freeze(operator.account_id()).await?)))
}

/// Resume the business clock (operator, simulator)
///
/// Operator role only. Lets a frozen clock run again from the instant it
/// stood at (it never jumps to catch up). Resuming a running clock changes
/// nothing. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/v1/sim/clock/resume",
    operation_id = "sim_clock_resume",
    tag = "simulator",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The clock, running.", body = ClockView),
        (status = 409, description = "`CLOCK_ADVANCING`: an advance is under way.", body = ErrorBody),
        Unauthenticated, OperatorOnly, StoreBusy,
    )
)]
pub async fn resume(clock: web::Data<SimClock>, operator: Operator) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ClockView::of(&clock.resume(operator.account_id()).await?)))
}
