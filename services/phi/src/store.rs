//! The event and snapshot stores as the rest of Trellis sees them: plan
//! payloads sealed on the way in and opened on the way out. The store
//! beneath holds, hash-chains and backs up only the sealed bytes, so
//! `audit verify` (which reads the store beneath) proves the history
//! without any key.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt as _;
use trellis_kernel::{
    AppendOutcome, EventStore, ExpectedRevision, NewEvent, ReadDirection, RecordedEvent, Snapshot,
    SnapshotStore, StoreError, StreamHead, StreamName, SubscriptionMessage, SubscriptionStream,
    TenantId,
};

use crate::vault::Vault;

/// An event store whose plan payloads are sealed under their client's key.
#[derive(Clone)]
pub struct SealedEvents {
    inner: Arc<dyn EventStore>,
    vault: Arc<Vault>,
}

impl std::fmt::Debug for SealedEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedEvents").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SealedSnapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSnapshots").finish_non_exhaustive()
    }
}

impl SealedEvents {
    pub fn new(inner: Arc<dyn EventStore>, vault: Arc<Vault>) -> Self {
        Self { inner, vault }
    }

    /// The store beneath: sealed bytes, for verification and digests.
    pub fn sealed(&self) -> &Arc<dyn EventStore> {
        &self.inner
    }

    async fn open_all(&self, events: Vec<RecordedEvent>) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut opened = Vec::with_capacity(events.len());
        for event in events {
            opened.push(self.vault.open_event(event).await?);
        }
        Ok(opened)
    }
}

#[async_trait]
impl EventStore for SealedEvents {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        if !self.vault.seals(stream) || events.iter().all(|e| self.vault.keeps_in_clear(e)) {
            return self.inner.append(stream, expected, events).await;
        }
        let (key_id, key) = self
            .vault
            .stream_key(self.inner.as_ref(), stream, &events)
            .await?;
        let sealed = events
            .into_iter()
            .map(|event| {
                if self.vault.keeps_in_clear(&event) {
                    event
                } else {
                    self.vault.seal_event(stream, key_id, &key, event)
                }
            })
            .collect();
        self.inner.append(stream, expected, sealed).await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        direction: ReadDirection,
        from: Option<u64>,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self
            .inner
            .read_stream(stream, direction, from, max_count)
            .await?;
        self.open_all(events).await
    }

    async fn read_all(
        &self,
        after: Option<u64>,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.read_all(after, max_count).await?;
        self.open_all(events).await
    }

    async fn subscribe_all(&self, after: Option<u64>) -> Result<SubscriptionStream, StoreError> {
        let vault = Arc::clone(&self.vault);
        let feed = self.inner.subscribe_all(after).await?;
        Ok(Box::pin(feed.then(move |message| {
            let vault = Arc::clone(&vault);
            async move {
                match message? {
                    SubscriptionMessage::Event(event) => Ok(SubscriptionMessage::Event(Box::new(
                        vault.open_event(*event).await?,
                    ))),
                    SubscriptionMessage::CaughtUp => Ok(SubscriptionMessage::CaughtUp),
                }
            }
        })))
    }

    async fn stream_heads(&self, tenant: &TenantId) -> Result<Vec<StreamHead>, StoreError> {
        self.inner.stream_heads(tenant).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn probe_write(&self) -> Result<(), StoreError> {
        self.inner.probe_write().await
    }

    async fn last_position(&self) -> Result<Option<u64>, StoreError> {
        self.inner.last_position().await
    }
}

/// A snapshot store whose plan snapshots are sealed like their events.
#[derive(Clone)]
pub struct SealedSnapshots {
    inner: Arc<dyn SnapshotStore>,
    events: Arc<dyn EventStore>,
    vault: Arc<Vault>,
}

impl SealedSnapshots {
    /// `events` is the store beneath (sealed bytes), where a stream's key
    /// is found.
    pub fn new(
        inner: Arc<dyn SnapshotStore>,
        events: Arc<dyn EventStore>,
        vault: Arc<Vault>,
    ) -> Self {
        Self {
            inner,
            events,
            vault,
        }
    }
}

#[async_trait]
impl SnapshotStore for SealedSnapshots {
    async fn load_snapshot(&self, stream: &StreamName) -> Result<Option<Snapshot>, StoreError> {
        let Some(snapshot) = self.inner.load_snapshot(stream).await? else {
            return Ok(None);
        };
        if !self.vault.seals(stream) {
            return Ok(Some(snapshot));
        }
        Ok(self.vault.open_snapshot(stream, snapshot).await)
    }

    async fn save_snapshot(
        &self,
        stream: &StreamName,
        snapshot: Snapshot,
    ) -> Result<(), StoreError> {
        let snapshot = if self.vault.seals(stream) {
            self.vault
                .seal_snapshot(self.events.as_ref(), stream, snapshot)
                .await?
        } else {
            snapshot
        };
        self.inner.save_snapshot(stream, snapshot).await
    }
}
