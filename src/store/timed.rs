//! `TimedStore`: any store, with every call timed and every failure counted
//! (`store_operation_duration_seconds{operation}`,
//! `store_errors_total{operation}`, the operation being the method's name).
//! It decides and changes nothing: each method hands its arguments to the
//! store inside and its answer back. `startup::connect_store` wraps every
//! store it opens in one.
//!
//! Each operation's two series are looked up once, when the store is
//! wrapped: a request makes several store calls, and a registry lookup per
//! call would cost more than the counting. Creating them also shows every
//! operation's error counter at 0 from the start.

use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use metrics::{Counter, Histogram};
use tokio::sync::broadcast;

use super::{
    AccountCommit, AccountPartitions, CommitOutcome, DocumentWrite, Documents, EphemeralValues, EventPosition,
    EventStreams, Health, LogEntry, Logs, PartitionDocuments, ScheduleOrder, SchedulePosition, Schedules, SharedStore,
    StoreError, StoredEvent, UniqueIndexes, Versioned, Wipe,
};
use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;
use crate::observability::catalogue::{STORE_ERRORS_TOTAL, STORE_OPERATION_DURATION_SECONDS};

/// One operation's series.
#[derive(Debug)]
struct Series {
    duration: Histogram,
    errors: Counter,
}

impl Series {
    fn new(operation: &'static str) -> Series {
        Series {
            duration: metrics::histogram!(STORE_OPERATION_DURATION_SECONDS, "operation" => operation),
            errors: metrics::counter!(STORE_ERRORS_TOTAL, "operation" => operation),
        }
    }

    fn record<T>(&self, result: &Result<T, StoreError>, elapsed: Duration) {
        self.duration.record(elapsed.as_secs_f64());
        // An existing id or login is an answer the caller asked for, not a failure.
        if matches!(result, Err(StoreError::Unavailable(_) | StoreError::Corrupt { .. })) {
            self.errors.increment(1);
        }
    }
}

/// Declares the operations: a field of `Operations` per store method, and their names.
macro_rules! operations {
    ($($operation:ident),* $(,)?) => {
        #[derive(Debug)]
        struct Operations {
            $($operation: Series,)*
        }

        impl Operations {
            fn new() -> Operations {
                Operations { $($operation: Series::new(stringify!($operation)),)* }
            }
        }

        /// The `operation` label of every timed store method.
        pub const OPERATIONS: &[&str] = &[$(stringify!($operation),)*];
    };
}

operations!(
    create_account,
    account_id_by_login,
    load_account,
    load_account_with,
    commit_account,
    journal,
    account_ids,
    partition_document,
    partition_documents,
    delete_partition_document,
    load_document,
    load_documents,
    save_documents,
    save_document,
    list_documents,
    get_index,
    swap_index,
    schedule,
    scheduled,
    count_scheduled,
    scheduled_page,
    owners_at,
    unschedule,
    claim_scheduled,
    reschedule_if_at,
    events,
    append_log,
    read_log,
    append_capped_log,
    read_capped_log,
    clear_capped_log,
    push_recent,
    recent,
    put_ephemeral,
    take_ephemeral,
    get_ephemeral,
    ping,
    wipe,
);

/// A store whose every call is timed and whose failures are counted.
#[derive(Debug)]
pub struct TimedStore {
    inner: SharedStore,
    operations: Operations,
}

impl TimedStore {
    /// Wraps `inner`; the metrics recorder must be installed already
    /// (`telemetry::metrics_handle`), or the series record nothing.
    pub fn new(inner: SharedStore) -> TimedStore {
        TimedStore { inner, operations: Operations::new() }
    }
}

/// Runs one store call, recording its time and whether it failed.
async fn timed<T>(series: &Series, call: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    series.record(&result, started.elapsed());
    result
}

#[async_trait]
impl AccountPartitions for TimedStore {
    async fn create_account(&self, account: &Account, opening_entries: &[JournalEntry]) -> Result<(), StoreError> {
        timed(&self.operations.create_account, self.inner.create_account(account, opening_entries)).await
    }

    async fn account_id_by_login(&self, login_index_key: &str) -> Result<Option<AccountId>, StoreError> {
        timed(&self.operations.account_id_by_login, self.inner.account_id_by_login(login_index_key)).await
    }

    async fn load_account(&self, id: &AccountId) -> Result<Option<Versioned<Account>>, StoreError> {
        timed(&self.operations.load_account, self.inner.load_account(id)).await
    }

    async fn load_account_with(
        &self,
        id: &AccountId,
        documents: &[&str],
    ) -> Result<Option<(Versioned<Account>, Vec<Option<String>>)>, StoreError> {
        timed(&self.operations.load_account_with, self.inner.load_account_with(id, documents)).await
    }

    async fn commit_account(&self, commit: AccountCommit<'_>) -> Result<CommitOutcome, StoreError> {
        timed(&self.operations.commit_account, self.inner.commit_account(commit)).await
    }

    async fn journal(
        &self,
        id: &AccountId,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        timed(&self.operations.journal, self.inner.journal(id, before_seq, limit)).await
    }

    async fn account_ids(&self) -> Result<Vec<AccountId>, StoreError> {
        timed(&self.operations.account_ids, self.inner.account_ids()).await
    }
}

#[async_trait]
impl PartitionDocuments for TimedStore {
    async fn partition_document(&self, id: &AccountId, name: &str) -> Result<Option<String>, StoreError> {
        timed(&self.operations.partition_document, self.inner.partition_document(id, name)).await
    }

    async fn partition_documents(&self, id: &AccountId, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        timed(&self.operations.partition_documents, self.inner.partition_documents(id, prefix)).await
    }

    async fn delete_partition_document(&self, id: &AccountId, name: &str) -> Result<(), StoreError> {
        timed(&self.operations.delete_partition_document, self.inner.delete_partition_document(id, name)).await
    }
}

#[async_trait]
impl Documents for TimedStore {
    async fn load_document(&self, collection: &str, id: &str) -> Result<Option<Versioned<String>>, StoreError> {
        timed(&self.operations.load_document, self.inner.load_document(collection, id)).await
    }

    async fn load_documents(&self, ids: &[(&str, &str)]) -> Result<Vec<Option<Versioned<String>>>, StoreError> {
        timed(&self.operations.load_documents, self.inner.load_documents(ids)).await
    }

    async fn save_documents(&self, writes: &[DocumentWrite<'_>]) -> Result<CommitOutcome, StoreError> {
        timed(&self.operations.save_documents, self.inner.save_documents(writes)).await
    }

    async fn save_document(
        &self,
        collection: &str,
        id: &str,
        expected_version: u64,
        body: &str,
    ) -> Result<CommitOutcome, StoreError> {
        let call = self.inner.save_document(collection, id, expected_version, body);
        timed(&self.operations.save_document, call).await
    }

    async fn list_documents(&self, collection: &str, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        timed(&self.operations.list_documents, self.inner.list_documents(collection, limit)).await
    }
}

#[async_trait]
impl UniqueIndexes for TimedStore {
    async fn get_index(&self, key: &str) -> Result<Option<String>, StoreError> {
        timed(&self.operations.get_index, self.inner.get_index(key)).await
    }

    async fn swap_index(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool, StoreError> {
        timed(&self.operations.swap_index, self.inner.swap_index(key, expected, new)).await
    }
}

#[async_trait]
impl Schedules for TimedStore {
    async fn schedule(&self, schedule: &str, member: &str, at_ms: i64) -> Result<(), StoreError> {
        timed(&self.operations.schedule, self.inner.schedule(schedule, member, at_ms)).await
    }

    async fn scheduled(&self, schedule: &str, until_ms: i64, limit: usize) -> Result<Vec<(String, i64)>, StoreError> {
        timed(&self.operations.scheduled, self.inner.scheduled(schedule, until_ms, limit)).await
    }

    async fn count_scheduled(&self, schedule: &str, until_ms: i64, cap: usize) -> Result<usize, StoreError> {
        timed(&self.operations.count_scheduled, self.inner.count_scheduled(schedule, until_ms, cap)).await
    }

    async fn scheduled_page(
        &self,
        schedule: &str,
        order: ScheduleOrder,
        from: Option<&SchedulePosition>,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        timed(&self.operations.scheduled_page, self.inner.scheduled_page(schedule, order, from, limit)).await
    }

    async fn unschedule(&self, schedule: &str, member: &str) -> Result<bool, StoreError> {
        timed(&self.operations.unschedule, self.inner.unschedule(schedule, member)).await
    }

    fn findable_by_subject(&self, owner: &str, subject: &str) -> bool {
        self.inner.findable_by_subject(owner, subject)
    }

    async fn owners_at(&self, schedule: &str, subject: &str, at_ms: i64) -> Result<Vec<String>, StoreError> {
        timed(&self.operations.owners_at, self.inner.owners_at(schedule, subject, at_ms)).await
    }

    async fn claim_scheduled(
        &self,
        schedule: &str,
        until_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let call = self.inner.claim_scheduled(schedule, until_ms, lease_until_ms, limit);
        timed(&self.operations.claim_scheduled, call).await
    }

    async fn reschedule_if_at(
        &self,
        schedule: &str,
        member: &str,
        expected_at_ms: i64,
        to_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let call = self.inner.reschedule_if_at(schedule, member, expected_at_ms, to_ms);
        timed(&self.operations.reschedule_if_at, call).await
    }
}

#[async_trait]
impl EventStreams for TimedStore {
    async fn events(
        &self,
        id: &AccountId,
        after: Option<EventPosition>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        timed(&self.operations.events, self.inner.events(id, after, limit)).await
    }

    /// Not a store call: a subscription to wake-ups, so not timed.
    fn event_signals(&self) -> broadcast::Receiver<AccountId> {
        self.inner.event_signals()
    }
}

#[async_trait]
impl Logs for TimedStore {
    async fn append_log(&self, log: &str, body: &str) -> Result<u64, StoreError> {
        timed(&self.operations.append_log, self.inner.append_log(log, body)).await
    }

    async fn read_log(&self, log: &str, before: Option<u64>, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        timed(&self.operations.read_log, self.inner.read_log(log, before, limit)).await
    }

    async fn append_capped_log(&self, log: &str, body: &str, keep: usize) -> Result<u64, StoreError> {
        timed(&self.operations.append_capped_log, self.inner.append_capped_log(log, body, keep)).await
    }

    async fn read_capped_log(&self, log: &str, before: Option<u64>, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        timed(&self.operations.read_capped_log, self.inner.read_capped_log(log, before, limit)).await
    }

    async fn clear_capped_log(&self, log: &str) -> Result<(), StoreError> {
        timed(&self.operations.clear_capped_log, self.inner.clear_capped_log(log)).await
    }

    async fn push_recent(&self, list: &str, value: &str, keep: usize) -> Result<(), StoreError> {
        timed(&self.operations.push_recent, self.inner.push_recent(list, value, keep)).await
    }

    async fn recent(&self, list: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        timed(&self.operations.recent, self.inner.recent(list, limit)).await
    }
}

#[async_trait]
impl EphemeralValues for TimedStore {
    async fn put_ephemeral(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        timed(&self.operations.put_ephemeral, self.inner.put_ephemeral(key, value, ttl)).await
    }

    async fn take_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError> {
        timed(&self.operations.take_ephemeral, self.inner.take_ephemeral(key)).await
    }

    async fn get_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError> {
        timed(&self.operations.get_ephemeral, self.inner.get_ephemeral(key)).await
    }
}

#[async_trait]
impl Health for TimedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        timed(&self.operations.ping, self.inner.ping()).await
    }
}

#[async_trait]
impl Wipe for TimedStore {
    async fn wipe(&self) -> Result<u64, StoreError> {
        timed(&self.operations.wipe, self.inner.wipe()).await
    }
}
