//! Schedules on Redis: a sorted set each, scored by time in milliseconds;
//! claims and claimers' finishes are Lua scripts (`claim_schedule.lua`,
//! `reschedule_if_at.lua`) so each is one atomic step.

use async_trait::async_trait;

use super::{RedisStore, unavailable};
use crate::store::{Schedules, StoreError};

#[async_trait]
impl Schedules for RedisStore {
    async fn schedule(&self, schedule: &str, member: &str, at_ms: i64) -> Result<(), StoreError> {
        let _: i64 = self.query(redis::cmd("ZADD").arg(self.keys.schedule(schedule)).arg(at_ms).arg(member)).await?;
        Ok(())
    }

    async fn scheduled(&self, schedule: &str, until_ms: i64, limit: usize) -> Result<Vec<(String, i64)>, StoreError> {
        let command = redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.schedule(schedule))
            .arg("-inf")
            .arg(until_ms)
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .to_owned();
        self.query(&command).await
    }

    async fn unschedule(&self, schedule: &str, member: &str) -> Result<bool, StoreError> {
        let removed: i64 = self.query(redis::cmd("ZREM").arg(self.keys.schedule(schedule)).arg(member)).await?;
        Ok(removed == 1)
    }

    async fn claim_scheduled(
        &self,
        schedule: &str,
        until_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut invocation = self.claim_schedule.key(self.keys.schedule(schedule));
        invocation.arg(until_ms).arg(lease_until_ms).arg(limit);
        let mut connection = self.connection.clone();
        let flat: Vec<String> = invocation.invoke_async(&mut connection).await.map_err(unavailable)?;
        flat.chunks(2)
            .map(|pair| match pair {
                [member, score] => {
                    let at = score.parse::<f64>().map_err(|e| StoreError::Corrupt {
                        key: self.keys.schedule(schedule),
                        reason: format!("score {score:?}: {e}"),
                    })?;
                    Ok((member.clone(), at as i64))
                }
                _ => Err(StoreError::Corrupt { key: self.keys.schedule(schedule), reason: "odd reply".into() }),
            })
            .collect()
    }

    async fn reschedule_if_at(
        &self,
        schedule: &str,
        member: &str,
        expected_at_ms: i64,
        to_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.reschedule_if_at.key(self.keys.schedule(schedule));
        invocation.arg(member).arg(expected_at_ms);
        match to_ms {
            Some(at_ms) => invocation.arg("1").arg(at_ms),
            None => invocation.arg("0").arg(0),
        };
        let mut connection = self.connection.clone();
        let changed: i64 = invocation.invoke_async(&mut connection).await.map_err(unavailable)?;
        Ok(changed == 1)
    }
}
