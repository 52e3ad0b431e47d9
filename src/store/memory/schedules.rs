//! Schedules in memory: each a set ordered by time beside a map of member to time.

use async_trait::async_trait;

use super::MemoryStore;
use crate::store::{ScheduleOrder, SchedulePosition, Schedules, StoreError, owner_of_subject};

#[async_trait]
impl Schedules for MemoryStore {
    async fn schedule(&self, schedule: &str, member: &str, at_ms: i64) -> Result<(), StoreError> {
        let mut state = self.state();
        state.schedules.entry(schedule.to_owned()).or_default().set(member, at_ms);
        Ok(())
    }

    async fn scheduled(&self, schedule: &str, until_ms: i64, limit: usize) -> Result<Vec<(String, i64)>, StoreError> {
        let state = self.state();
        let Some(entries) = state.schedules.get(schedule) else { return Ok(Vec::new()) };
        Ok(entries.due(until_ms, limit).into_iter().map(|(at, member)| (member, at)).collect())
    }

    async fn count_scheduled(&self, schedule: &str, until_ms: i64, cap: usize) -> Result<usize, StoreError> {
        let state = self.state();
        let Some(entries) = state.schedules.get(schedule) else { return Ok(0) };
        Ok(entries.count_due(until_ms, cap))
    }

    async fn scheduled_page(
        &self,
        schedule: &str,
        order: ScheduleOrder,
        from: Option<&SchedulePosition>,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let state = self.state();
        let Some(entries) = state.schedules.get(schedule) else { return Ok(Vec::new()) };
        Ok(entries.page(order, from, limit).into_iter().map(|(at, member)| (member, at)).collect())
    }

    async fn unschedule(&self, schedule: &str, member: &str) -> Result<bool, StoreError> {
        let mut state = self.state();
        Ok(state.schedules.get_mut(schedule).is_some_and(|entries| entries.remove(member)))
    }

    async fn claim_scheduled(
        &self,
        schedule: &str,
        until_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut state = self.state();
        let Some(entries) = state.schedules.get_mut(schedule) else { return Ok(Vec::new()) };
        let due = entries.due(until_ms, limit);
        for (_, member) in &due {
            entries.set(member, lease_until_ms);
        }
        Ok(due.into_iter().map(|(at, member)| (member, at)).collect())
    }

    async fn reschedule_if_at(
        &self,
        schedule: &str,
        member: &str,
        expected_at_ms: i64,
        to_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some(entries) = state.schedules.get_mut(schedule) else { return Ok(false) };
        if entries.times.get(member) != Some(&expected_at_ms) {
            return Ok(false);
        }
        match to_ms {
            Some(at_ms) => entries.set(member, at_ms),
            None => {
                entries.remove(member);
            }
        }
        Ok(true)
    }

    fn findable_by_subject(&self, _owner: &str, _subject: &str) -> bool {
        true
    }

    async fn owners_at(&self, schedule: &str, subject: &str, at_ms: i64) -> Result<Vec<String>, StoreError> {
        let state = self.state();
        let Some(entries) = state.schedules.get(schedule) else { return Ok(Vec::new()) };
        Ok(entries.at(at_ms).filter_map(|member| owner_of_subject(member, subject)).collect())
    }
}
