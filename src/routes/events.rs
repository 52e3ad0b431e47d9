//! `GET /v1/events`: the caller's notifications as Server-Sent Events —
//! withdrawal and binding changes as they happen, on whichever instance made
//! them. Each event carries its stream position as `id`, so a reconnecting
//! client (browsers' `EventSource` does this by itself) sends
//! `Last-Event-ID` and resumes exactly after the last event it saw. Without
//! one, the stream starts with the next event; `?after=<id>` (or `0` for
//! everything kept) does the same as the header for clients that cannot set it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use super::extract::ApiQuery;
use super::identity::AuthenticatedUser;
use super::responses::{StoreUnavailable, Unauthenticated};
use crate::domain::account::AccountId;
use crate::error::{ApiError, ErrorBody};
use crate::services::accounts::{Accounts, StreamTicket};
use crate::services::notifications::Notifications;
use crate::store::{EVENTS_KEPT_PER_ACCOUNT, EventPosition, StoredEvent};

/// A comment line this often keeps proxies from closing an idle stream; it is
/// also when the stream re-reads the store, should a wake-up have been missed.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a client waits before reconnecting after the stream drops.
const RECONNECT_MS: u32 = 2000;
const READ_BATCH: usize = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this event id (as `Last-Event-ID`); `0` replays everything kept.
    #[param(example = "1763730000123-0")]
    pub after: Option<String>,
    /// A stream ticket (`POST /v1/events/ticket`), for a client that cannot
    /// send `Authorization` (a browser's `EventSource`); used without that header only.
    pub ticket: Option<String>,
}

/// A ticket for the event stream
///
/// For browsers, whose `EventSource` cannot send `Authorization`: the
/// ticket opens `GET /v1/events?ticket=…` once, within a minute, for the
/// caller. A long-lived token never goes into a URL.
#[utoipa::path(
    post,
    path = "/v1/events/ticket",
    tag = "events",
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The ticket and when it expires.", body = StreamTicket),
        Unauthenticated, StoreUnavailable,
    )
)]
pub async fn ticket(accounts: web::Data<Accounts>, user: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(accounts.issue_stream_ticket(&user.0).await?))
}

struct Subscription {
    notifications: Arc<Notifications>,
    account_id: AccountId,
    position: EventPosition,
    pending: VecDeque<StoredEvent>,
    signals: tokio::sync::broadcast::Receiver<AccountId>,
    greeted: bool,
}

/// Stream the caller's events (Server-Sent Events)
///
/// `withdrawal.created`, `.approved`, `.processing`, `.settled`, `.failed`,
/// `.rejected`, `binding.activated`, `binding.removed`, `transfer.received`,
/// `transfer.completed` and `transfer.returned`, as they happen on any
/// instance. Each event has an `id:`, an `event:` (its type) and one
/// `data:` line of JSON `{id, type, created_at, account_id, data}`; a comment
/// line every 15 s keeps the connection open. A reconnecting client sends
/// `Last-Event-ID` (or `?after=`) and resumes exactly after it; without one
/// the stream starts with the next event. The stream does not end by itself.
/// A browser's `EventSource`, which cannot send `Authorization`, passes
/// `?ticket=` from `POST /v1/events/ticket` instead (once, within a minute).
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    security(("bearerAuth" = [])),
    params(
        EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received; wins over `after`."),
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`.", body = String, content_type = "text/event-stream",
            example = "retry: 2000\n\nid: 1763730000123-0\nevent: withdrawal.settled\ndata: {\"id\":\"evt_…\",\"type\":\"withdrawal.settled\",…}\n\n"),
        (status = 400, description = "`VALIDATION_FAILED`: `Last-Event-ID` or `after` is not an event id, an unknown \
            query parameter.", body = ErrorBody),
        Unauthenticated, StoreUnavailable,
    )
)]
pub async fn stream(
    notifications: web::Data<Notifications>,
    accounts: web::Data<Accounts>,
    request: HttpRequest,
    query: ApiQuery<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let caller = match (request.headers().contains_key(AUTHORIZATION), query.ticket.as_deref()) {
        (false, Some(ticket)) => accounts.redeem_stream_ticket(ticket).await?,
        _ => AuthenticatedUser::extract(&request).await?.0,
    };
    let header = request.headers().get("last-event-id").and_then(|value| value.to_str().ok());
    // The header wins; an error names whichever of the two was read.
    let (source, resume) = match header {
        Some(header) => ("Last-Event-ID", Some(header)),
        None => ("after", query.after.as_deref()),
    };
    let after = resume
        .filter(|text| !text.is_empty())
        .map(|text| EventPosition::parse(text).ok_or_else(|| ApiError::validation(source, "must be an event id")))
        .transpose()?;
    let account_id = caller.account_id;
    // Listen before looking for the end, so no event can slip in between.
    let signals = notifications.signals();
    let position = match after {
        Some(position) => position,
        None => latest_position(&notifications, &account_id).await?,
    };
    let subscription = Subscription {
        notifications: notifications.into_inner(),
        account_id,
        position,
        pending: VecDeque::new(),
        signals,
        greeted: false,
    };
    let body = futures_util::stream::unfold(subscription, next_chunk);
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

async fn latest_position(notifications: &Notifications, account_id: &AccountId) -> Result<EventPosition, ApiError> {
    let kept = notifications.events(account_id, None, EVENTS_KEPT_PER_ACCOUNT).await?;
    Ok(kept.last().and_then(|event| EventPosition::parse(&event.id)).unwrap_or(EventPosition(0, 0)))
}

/// The next piece of the stream: an event, a heartbeat, or the end (the
/// client then reconnects with `Last-Event-ID`).
async fn next_chunk(mut subscription: Subscription) -> Option<(Result<Bytes, ApiError>, Subscription)> {
    if !subscription.greeted {
        subscription.greeted = true;
        return Some((Ok(Bytes::from(format!("retry: {RECONNECT_MS}\n\n"))), subscription));
    }
    loop {
        if let Some(event) = subscription.pending.pop_front() {
            return Some((Ok(server_sent_event(&event)), subscription));
        }
        let notifications = &subscription.notifications;
        match notifications.events(&subscription.account_id, Some(subscription.position), READ_BATCH).await {
            Ok(events) if !events.is_empty() => {
                if let Some(position) = events.last().and_then(|event| EventPosition::parse(&event.id)) {
                    subscription.position = position;
                }
                subscription.pending.extend(events);
                continue;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "event stream ended: the store is unavailable");
                return None;
            }
        }
        let heartbeat = tokio::time::sleep(HEARTBEAT);
        tokio::pin!(heartbeat);
        loop {
            tokio::select! {
                signal = subscription.signals.recv() => match signal {
                    Ok(id) if id == subscription.account_id => break,
                    Ok(_) => continue,
                    // Missed wake-ups: the store read above catches up.
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return None,
                },
                _ = &mut heartbeat => {
                    return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), subscription));
                }
            }
        }
    }
}

fn server_sent_event(event: &StoredEvent) -> Bytes {
    let kind = serde_json::from_str::<serde_json::Value>(&event.body)
        .ok()
        .and_then(|body| body.get("type").and_then(|kind| kind.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "message".to_owned());
    // Bodies are compact JSON: one line, as a `data:` field needs.
    Bytes::from(format!("id: {}\nevent: {kind}\ndata: {}\n\n", event.id, event.body))
}
