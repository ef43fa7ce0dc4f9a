//! The KurrentDB (EventStoreDB) event store, for clinic networks that
//! outgrow one machine: 3- or 5-node clusters with quorum writes.
//!
//! Each Trellis stream is a KurrentDB stream of the same name
//! (`<tenant>:plan-<id>`); the global position is the `$all` commit
//! position. The parts of the envelope KurrentDB has no field for, and the
//! chain hash, travel in the event's custom metadata (JSON).
//!
//! Known difference from the other backends, documented in the README:
//! KurrentDB recognises a retried append by its event ids within a stream
//! only, so an event id reused in *another* stream is not refused; the
//! conformance suite runs here without its two store-wide-id checks.
//! `stream_heads` scans `$all` (digests are hourly; a server-side filter is
//! the next step).

mod mapping;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;
use kurrentdb::{
    AppendToStreamOptions, Client, ClientSettings, CurrentRevision, EventData, Position,
    ReadAllOptions, ReadStreamOptions, StreamPosition, SubscribeToAllOptions, SubscriptionEvent,
};
use tokio::sync::mpsc;
use trellis_kernel::{
    AppendOutcome, ChainInput, EventHash, EventStore, ExpectedRevision, NewEvent, ReadDirection,
    RecordedEvent, StoreError, StreamHead, StreamName, SubscriptionMessage, SubscriptionStream,
    TenantId, chain_hash,
};

use mapping::{RawEvent, StoredMetadata, stream_state, to_recorded};

const PAGE: usize = 500;

fn unavailable(e: &kurrentdb::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A KurrentDB cluster as the Trellis event store.
#[derive(Clone)]
pub struct KurrentEventStore {
    client: Client,
}

impl std::fmt::Debug for KurrentEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KurrentEventStore").finish_non_exhaustive()
    }
}

fn raw(event: &kurrentdb::RecordedEvent) -> RawEvent<'_> {
    RawEvent {
        stream_id: event.stream_id(),
        id: event.id,
        revision: event.revision,
        event_type: &event.event_type,
        data: &event.data,
        custom_metadata: &event.custom_metadata,
        commit_position: event.position.commit,
    }
}

impl KurrentEventStore {
    /// `url`: a KurrentDB connection string, e.g.
    /// `kurrentdb://node1:2113,node2:2113,node3:2113?tls=false`.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let settings: ClientSettings = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("bad KurrentDB URL: {e}")))?;
        let client = Client::new(settings)
            .map_err(|e| StoreError::Unavailable(format!("KurrentDB client: {e}")))?;
        Ok(Self { client })
    }

    /// The last event of a stream, if any.
    async fn head(&self, stream: &StreamName) -> Result<Option<RecordedEvent>, StoreError> {
        Ok(self
            .read_stream(stream, ReadDirection::Backward, None, 1)
            .await?
            .pop())
    }

    /// A retry of an append that already landed: its first id is in this
    /// stream, followed by the others in order.
    async fn already_stored(
        &self,
        stream: &StreamName,
        events: &[NewEvent],
    ) -> Result<Option<AppendOutcome>, StoreError> {
        let stored = self
            .read_stream(stream, ReadDirection::Forward, None, usize::MAX >> 1)
            .await?;
        let Some(start) = stored.iter().position(|e| e.event_id == events[0].event_id) else {
            return Ok(None);
        };
        let matched = stored[start..]
            .iter()
            .zip(events)
            .take_while(|(s, e)| s.event_id == e.event_id)
            .count();
        if matched != events.len() {
            return Err(StoreError::DuplicateEventId(
                events[matched.min(events.len() - 1)].event_id,
            ));
        }
        let last = &stored[start + matched - 1];
        Ok(Some(AppendOutcome {
            last_revision: last.revision,
            last_position: last.global_position,
            deduplicated: true,
        }))
    }
}

#[async_trait]
impl EventStore for KurrentEventStore {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        if events.is_empty() {
            return Err(StoreError::EmptyAppend);
        }
        let head = self.head(stream).await?;
        let actual = head.as_ref().map(|h| h.revision);
        // The chain needs the predecessor we hash against to be the one the
        // server appends after, so `Any` becomes "exactly the head I read".
        let effective = match expected {
            ExpectedRevision::Any => ExpectedRevision::after(actual.map_or(0, |r| r + 1)),
            other => other,
        };
        if !effective.admits(actual) {
            return match self.already_stored(stream, &events).await? {
                Some(outcome) => Ok(outcome),
                None => Err(StoreError::WrongExpectedRevision {
                    stream: stream.clone(),
                    expected,
                    actual,
                }),
            };
        }
        let recorded_at_us = Utc::now().timestamp_micros();
        let mut previous = head.map_or(EventHash::GENESIS, |h| h.hash);
        let mut data = Vec::with_capacity(events.len());
        for (revision, event) in (actual.map_or(0, |r| r + 1)..).zip(&events) {
            let hash = chain_hash(
                &previous,
                &ChainInput::new_event(stream, revision, event, recorded_at_us),
            );
            let metadata = StoredMetadata::of(stream, event, recorded_at_us, hash);
            data.push(
                EventData::binary(event.event_type.clone(), Bytes::from(event.payload.clone()))
                    .id(event.event_id)
                    .metadata_as_json(&metadata)
                    .map_err(|e| StoreError::Unavailable(format!("metadata: {e}")))?,
            );
            previous = hash;
        }
        let options = AppendToStreamOptions::default().stream_state(stream_state(effective));
        match self
            .client
            .append_to_stream(stream.to_string(), &options, data)
            .await
        {
            Ok(written) => Ok(AppendOutcome {
                last_revision: written.next_expected_version,
                last_position: written.position.commit,
                deduplicated: false,
            }),
            Err(kurrentdb::Error::WrongExpectedVersion { current, .. }) => {
                match self.already_stored(stream, &events).await? {
                    Some(outcome) => Ok(outcome),
                    None => Err(StoreError::WrongExpectedRevision {
                        stream: stream.clone(),
                        expected,
                        actual: match current {
                            CurrentRevision::Current(r) => Some(r),
                            CurrentRevision::NoStream => None,
                        },
                    }),
                }
            }
            Err(e) => Err(unavailable(&e)),
        }
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        direction: ReadDirection,
        from: Option<u64>,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let position = match (direction, from) {
            (ReadDirection::Forward, None) => StreamPosition::Start,
            (ReadDirection::Backward, None) => StreamPosition::End,
            (_, Some(revision)) => StreamPosition::Position(revision),
        };
        let options = ReadStreamOptions::default()
            .position(position)
            .max_count(max_count);
        let options = match direction {
            ReadDirection::Forward => options.forwards(),
            ReadDirection::Backward => options.backwards(),
        };
        let mut read = match self.client.read_stream(stream.to_string(), &options).await {
            Ok(read) => read,
            Err(kurrentdb::Error::ResourceNotFound) => return Ok(Vec::new()),
            Err(e) => return Err(unavailable(&e)),
        };
        let mut events = Vec::new();
        loop {
            match read.next().await {
                Ok(Some(resolved)) => {
                    if let Some(event) = resolved.event.as_ref().and_then(|e| to_recorded(&raw(e)))
                    {
                        events.push(event?);
                    }
                }
                Ok(None) => return Ok(events),
                Err(kurrentdb::Error::ResourceNotFound) => return Ok(events),
                Err(e) => return Err(unavailable(&e)),
            }
        }
    }

    async fn read_all(
        &self,
        after: Option<u64>,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut events = Vec::new();
        let mut cursor = after;
        // System and foreign events are skipped, so a page may need more reads.
        while events.len() < max_count {
            let position = cursor.map_or(StreamPosition::Start, |p| {
                StreamPosition::Position(Position {
                    commit: p,
                    prepare: p,
                })
            });
            let options = ReadAllOptions::default()
                .position(position)
                .forwards()
                .max_count(PAGE);
            let mut read = self
                .client
                .read_all(&options)
                .await
                .map_err(|e| unavailable(&e))?;
            let mut seen = 0;
            while let Some(resolved) = read.next().await.map_err(|e| unavailable(&e))? {
                let Some(event) = resolved.event.as_ref() else {
                    continue;
                };
                let commit = event.position.commit;
                if cursor.is_some_and(|c| commit <= c) {
                    continue;
                }
                seen += 1;
                cursor = Some(commit);
                if let Some(recorded) = to_recorded(&raw(event)) {
                    events.push(recorded?);
                    if events.len() == max_count {
                        break;
                    }
                }
            }
            if seen == 0 {
                break;
            }
        }
        Ok(events)
    }

    async fn subscribe_all(&self, after: Option<u64>) -> Result<SubscriptionStream, StoreError> {
        let position = after.map_or(StreamPosition::Start, |p| {
            StreamPosition::Position(Position {
                commit: p,
                prepare: p,
            })
        });
        let mut subscription = self
            .client
            .subscribe_to_all(&SubscribeToAllOptions::default().position(position))
            .await;
        let (tx, rx) = mpsc::channel(PAGE);
        tokio::spawn(async move {
            loop {
                let message = match subscription.next_subscription_event().await {
                    Ok(SubscriptionEvent::EventAppeared(resolved)) => {
                        match resolved.event.as_ref() {
                            Some(e) if after.is_none_or(|a| e.position.commit > a) => {
                                to_recorded(&raw(e)).map(|r| {
                                    r.map(|event| SubscriptionMessage::Event(Box::new(event)))
                                })
                            }
                            _ => None,
                        }
                    }
                    Ok(SubscriptionEvent::CaughtUp(_)) => Some(Ok(SubscriptionMessage::CaughtUp)),
                    Ok(_) => None,
                    Err(e) => Some(Err(unavailable(&e))),
                };
                if let Some(message) = message {
                    let failed = message.is_err();
                    if tx.send(message).await.is_err() || failed {
                        return;
                    }
                }
            }
        });
        Ok(Box::pin(
            futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|message| (message, rx))
            })
            .boxed(),
        ))
    }

    async fn stream_heads(&self, tenant: &TenantId) -> Result<Vec<StreamHead>, StoreError> {
        let mut heads = std::collections::BTreeMap::new();
        let mut after = None;
        loop {
            let page = self.read_all(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.global_position);
            for event in page.into_iter().filter(|e| e.tenant() == tenant) {
                heads.insert(
                    event.stream.to_string(),
                    StreamHead {
                        stream: event.stream,
                        revision: event.revision,
                        hash: event.hash,
                    },
                );
            }
        }
        Ok(heads.into_values().collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let options = ReadAllOptions::default()
            .position(StreamPosition::End)
            .backwards()
            .max_count(1);
        tokio::time::timeout(Duration::from_secs(5), self.client.read_all(&options))
            .await
            .map_err(|_| StoreError::Unavailable("KurrentDB did not answer".into()))?
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }
}
