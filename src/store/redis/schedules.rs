//! Schedules on Redis: each schedule is split over the shards
//! (`keys.rs`), a sorted set per shard scored by time in milliseconds, and a
//! member lives in its owner's shard (`<account id>/…`), beside the
//! partition whose commits set and finish it.
//!
//! Reading or claiming looks at every shard at once (the requests travel
//! together on the multiplexed connection): a claim first peeks at each
//! shard's earliest due members, keeps the earliest `limit` of them all, and
//! claims as many per shard with `claim_schedule.lua`, which takes a shard's
//! earliest due members at the time it runs — so work is taken earliest
//! first across shards, of several claimers each member goes to exactly one,
//! and a claimer that comes second to a shard takes the next members there.
//! One that still got fewer than it chose (a shard ran out) looks again
//! (`CLAIM_ROUNDS`).
//!
//! A page of a schedule read as a list (`scheduled_page`) is read the same
//! way: each shard's next `limit` members past the page's start, all shards
//! at once, merged in order and cut to `limit`. Members of the start's own
//! millisecond are read whole from each shard and filtered by name (Redis
//! orders a score's members by name but cannot start a range at one): a
//! handful, since they share one millisecond and one shard.

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures_util::future::try_join_all;

use super::keys::{SHARDS, shard_of};
use super::{RedisStore, unavailable};
use crate::store::{ScheduleOrder, SchedulePosition, Schedules, StoreError, owner_of_subject};

/// Peek-and-claim rounds of one claim: when other claimers emptied a shard
/// this one counted on, the next round looks at what is due elsewhere, so
/// concurrent workers share the work rather than one coming back short.
const CLAIM_ROUNDS: usize = 3;

#[async_trait]
impl Schedules for RedisStore {
    async fn schedule(&self, schedule: &str, member: &str, at_ms: i64) -> Result<(), StoreError> {
        let key = self.keys.schedule_of_member(schedule, member);
        let _: i64 = self.query(redis::cmd("ZADD").arg(key).arg(at_ms).arg(member)).await?;
        Ok(())
    }

    async fn scheduled(&self, schedule: &str, until_ms: i64, limit: usize) -> Result<Vec<(String, i64)>, StoreError> {
        let mut due = self.due_in_every_shard(schedule, until_ms, limit).await?;
        due.truncate(limit);
        Ok(due.into_iter().map(|(member, at_ms, _)| (member, at_ms)).collect())
    }

    async fn count_scheduled(&self, schedule: &str, until_ms: i64, cap: usize) -> Result<usize, StoreError> {
        // ZCOUNT costs O(log n) whatever the count, so the cap only bounds the answer.
        let counts = (0..SHARDS).map(|shard| {
            let key = self.keys.schedule(shard, schedule);
            async move { self.query::<u64>(redis::cmd("ZCOUNT").arg(&key).arg("-inf").arg(until_ms)).await }
        });
        let total: u64 = try_join_all(counts).await?.into_iter().sum();
        Ok(usize::try_from(total).unwrap_or(usize::MAX).min(cap))
    }

    async fn scheduled_page(
        &self,
        schedule: &str,
        order: ScheduleOrder,
        from: Option<&SchedulePosition>,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let pages = (0..SHARDS).map(|shard| self.shard_page(shard, schedule, order, from, limit));
        let mut members: Vec<(String, i64)> = try_join_all(pages).await?.concat();
        members.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        if order == ScheduleOrder::NewestFirst {
            members.reverse();
        }
        members.truncate(limit);
        Ok(members)
    }

    async fn unschedule(&self, schedule: &str, member: &str) -> Result<bool, StoreError> {
        let key = self.keys.schedule_of_member(schedule, member);
        let removed: i64 = self.query(redis::cmd("ZREM").arg(key).arg(member)).await?;
        Ok(removed == 1)
    }

    async fn claim_scheduled(
        &self,
        schedule: &str,
        until_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut claimed: Vec<(String, i64)> = Vec::new();
        for _ in 0..CLAIM_ROUNDS {
            let wanted = limit - claimed.len();
            let mut due = self.due_in_every_shard(schedule, until_ms, wanted).await?;
            due.truncate(wanted);
            if due.is_empty() {
                break;
            }
            let chosen = due.len();
            let taken = self.claim_chosen(schedule, until_ms, lease_until_ms, due).await?;
            let lost_to_others = taken.len() < chosen;
            claimed.extend(taken);
            if !lost_to_others || claimed.len() >= limit {
                break;
            }
        }
        claimed.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        Ok(claimed)
    }

    async fn reschedule_if_at(
        &self,
        schedule: &str,
        member: &str,
        expected_at_ms: i64,
        to_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let key = self.keys.schedule_of_member(schedule, member);
        let mut invocation = self.reschedule_if_at.prepare_invoke();
        invocation.key(&key).arg(member).arg(expected_at_ms);
        match to_ms {
            Some(at_ms) => invocation.arg("1").arg(at_ms),
            None => invocation.arg("0").arg(0),
        };
        let changed: i64 = self.run_script(std::slice::from_ref(&key), &invocation).await?;
        Ok(changed == 1)
    }

    fn findable_by_subject(&self, owner: &str, subject: &str) -> bool {
        shard_of(owner) == shard_of(subject)
    }

    async fn owners_at(&self, schedule: &str, subject: &str, at_ms: i64) -> Result<Vec<String>, StoreError> {
        let key = self.keys.schedule(shard_of(subject), schedule);
        let members: Vec<String> =
            self.query(redis::cmd("ZRANGE").arg(key).arg(at_ms).arg(at_ms).arg("BYSCORE")).await?;
        Ok(members.iter().filter_map(|member| owner_of_subject(member, subject)).collect())
    }
}

impl RedisStore {
    /// Claims as many due members of each shard as the peek chose there
    /// (the earliest due when the claim runs, which are those chosen unless
    /// another claimer came first: then the next ones); returns those taken.
    async fn claim_chosen(
        &self,
        schedule: &str,
        until_ms: i64,
        lease_until_ms: i64,
        due: Vec<(String, i64, usize)>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut per_shard: BTreeMap<usize, usize> = BTreeMap::new();
        for (_, _, shard) in due {
            *per_shard.entry(shard).or_default() += 1;
        }
        let claims = per_shard.into_iter().map(|(shard, count)| async move {
            let key = self.keys.schedule(shard, schedule);
            let mut invocation = self.claim_schedule.prepare_invoke();
            invocation.key(&key).arg(until_ms).arg(lease_until_ms).arg(count);
            let flat: Vec<String> = self.run_script(std::slice::from_ref(&key), &invocation).await?;
            scored_pairs(&key, &flat)
        });
        Ok(try_join_all(claims).await?.concat())
    }

    /// Up to `limit` members due by `until_ms` from each shard, all together
    /// earliest first (ties by member), with their times and shards.
    async fn due_in_every_shard(
        &self,
        schedule: &str,
        until_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64, usize)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let peeks = (0..SHARDS).map(|shard| async move {
            let key = self.keys.schedule(shard, schedule);
            let command = redis::cmd("ZRANGEBYSCORE")
                .arg(&key)
                .arg("-inf")
                .arg(until_ms)
                .arg("WITHSCORES")
                .arg("LIMIT")
                .arg(0)
                .arg(limit)
                .to_owned();
            let mut connection = self.connection.clone();
            let flat: Vec<String> = command.query_async(&mut connection).await.map_err(unavailable)?;
            let due = scored_pairs(&key, &flat)?;
            Ok::<_, StoreError>(due.into_iter().map(move |(member, at_ms)| (member, at_ms, shard)).collect::<Vec<_>>())
        });
        let mut due: Vec<(String, i64, usize)> = try_join_all(peeks).await?.concat();
        due.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        Ok(due)
    }

    /// One shard's first `limit` members strictly beyond `from` in `order`.
    async fn shard_page(
        &self,
        shard: usize,
        schedule: &str,
        order: ScheduleOrder,
        from: Option<&SchedulePosition>,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let key = self.keys.schedule(shard, schedule);
        let (command, start, end) = match order {
            ScheduleOrder::EarliestFirst => ("ZRANGEBYSCORE", "-inf", "+inf"),
            ScheduleOrder::NewestFirst => ("ZREVRANGEBYSCORE", "+inf", "-inf"),
        };
        let range = |start: String, end: &str, limited: bool| {
            let mut range = redis::cmd(command);
            range.arg(&key).arg(start).arg(end).arg("WITHSCORES");
            if limited {
                range.arg("LIMIT").arg(0).arg(limit);
            }
            range
        };
        let Some(from) = from else {
            let flat: Vec<String> = self.query(&range(start.to_owned(), end, true)).await?;
            return scored_pairs(&key, &flat);
        };
        let at = from.at_ms.to_string();
        let (tied, beyond) = (range(at.clone(), &at, false), range(format!("({at}"), end, true));
        let (tied, beyond) = tokio::try_join!(self.query::<Vec<String>>(&tied), self.query::<Vec<String>>(&beyond))?;
        let tied =
            scored_pairs(&key, &tied)?.into_iter().filter(|(member, at_ms)| from.is_before(*at_ms, member, order));
        Ok(tied.chain(scored_pairs(&key, &beyond)?).take(limit).collect())
    }
}

/// Reads a flat `member, score, member, score, …` reply.
fn scored_pairs(key: &str, flat: &[String]) -> Result<Vec<(String, i64)>, StoreError> {
    flat.chunks(2)
        .map(|pair| match pair {
            [member, score] => {
                let at = score.parse::<f64>().map_err(|e| StoreError::Corrupt {
                    key: key.to_owned(),
                    reason: format!("score {score:?}: {e}"),
                })?;
                Ok((member.clone(), at as i64))
            }
            _ => Err(StoreError::Corrupt { key: key.to_owned(), reason: "odd reply".into() }),
        })
        .collect()
}
