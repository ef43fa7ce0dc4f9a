use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;

use crate::{EventHash, NewEvent, RecordedEvent, StreamName, TenantId};

/// The last event of one stream: what a signed digest commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHead {
    pub stream: StreamName,
    pub revision: u64,
    pub hash: EventHash,
}

/// The optimistic-concurrency condition of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedRevision {
    /// Append whatever the stream holds.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this revision.
    Exact(u64),
}

impl ExpectedRevision {
    /// The expectation that holds for a stream with `len` events.
    pub fn after(len: u64) -> Self {
        match len {
            0 => Self::NoStream,
            n => Self::Exact(n - 1),
        }
    }

    /// Whether a stream whose last revision is `actual` (`None`: no stream)
    /// meets this expectation. Every store decides it the same way.
    pub fn admits(self, actual: Option<u64>) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => actual.is_none(),
            Self::Exact(r) => actual == Some(r),
        }
    }
}

impl fmt::Display for ExpectedRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(r) => write!(f, "revision {r}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadDirection {
    Forward,
    Backward,
}

/// What a durable append produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Revision of the last event of the batch: the next append expects it.
    pub last_revision: u64,
    /// Global position of the last event of the batch.
    pub last_position: u64,
    /// True when every event was already stored by an earlier identical
    /// append: nothing new was written.
    pub deduplicated: bool,
}

/// One message of a catch-up subscription.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriptionMessage {
    Event(Box<RecordedEvent>),
    /// Sent once, when the subscriber has read everything that was stored
    /// when it got there; events after it are live.
    CaughtUp,
}

pub type SubscriptionStream =
    Pin<Box<dyn Stream<Item = Result<SubscriptionMessage, StoreError>> + Send + 'static>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stream {stream} expected {expected}, but its last revision is {actual:?}")]
    WrongExpectedRevision {
        stream: StreamName,
        expected: ExpectedRevision,
        actual: Option<u64>,
    },
    /// The event id was stored before, at another place than this append
    /// would put it: a different command reused the id.
    #[error("event id {0} is already stored elsewhere")]
    DuplicateEventId(uuid::Uuid),
    #[error("an append must carry at least one event")]
    EmptyAppend,
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

/// The event-store contract. Every backend passes the conformance suite in
/// `trellis-store-conformance`.
///
/// Guarantees: an append is atomic (all of its events or none) and returns
/// only once durable; appends are idempotent by event id; global positions
/// strictly increase in commit order and a reader never skips one that
/// committed after it read past it.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError>;

    /// Up to `max_count` events of one stream. Forward reads start at
    /// `from` (or the first event); backward reads at `from` (or the last).
    async fn read_stream(
        &self,
        stream: &StreamName,
        direction: ReadDirection,
        from: Option<u64>,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Up to `max_count` events of every stream, in global order, strictly
    /// after `after` (from the beginning when `None`).
    async fn read_all(
        &self,
        after: Option<u64>,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Catch-up subscription to every stream, strictly after `after`.
    /// Reads history, sends [`SubscriptionMessage::CaughtUp`], then
    /// delivers new events as they are appended.
    async fn subscribe_all(&self, after: Option<u64>) -> Result<SubscriptionStream, StoreError>;

    /// The head of every stream of `tenant`, in stream-name order.
    async fn stream_heads(&self, tenant: &TenantId) -> Result<Vec<StreamHead>, StoreError>;

    /// Cheap liveness probe of the backing engine.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Proves the store takes writes now, with a tiny committed write that
    /// takes the path appends take, outside the event streams: no event, no
    /// global position, no hash chain, no access record. Readiness calls
    /// it. The default only pings, for a store with no such place to write.
    async fn probe_write(&self) -> Result<(), StoreError> {
        self.ping().await
    }

    /// The global position of the last committed event (0 when empty), for
    /// a store whose positions count events and that can tell cheaply;
    /// `None` otherwise (readiness then cannot measure projection lag).
    async fn last_position(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
}

/// Where an event id is already stored: stream name, revision, position.
pub type StoredAt = (String, u64, u64);

/// Whether an append refused by its expectation (or by a stored id) is a
/// retry of one that already landed: every event stored in `stream`, in
/// order, from the first one's revision. `located` holds where each event
/// of the append is stored, in the append's order; it may stop early after
/// a first event that is not stored. A retry gets the original outcome;
/// an id stored anywhere else is a reused id and is refused.
pub fn recognise_retry(
    stream: &str,
    events: &[NewEvent],
    located: &[Option<StoredAt>],
) -> Result<Option<AppendOutcome>, StoreError> {
    let Some(Some((first_stream, first_revision, _))) = located.first() else {
        return Ok(None);
    };
    let mut last = (*first_revision, 0);
    for (offset, event) in events.iter().enumerate() {
        match located.get(offset) {
            Some(Some((s, revision, position)))
                if s == stream
                    && first_stream == stream
                    && *revision == first_revision + offset as u64 =>
            {
                last = (*revision, *position);
            }
            _ => return Err(StoreError::DuplicateEventId(event.event_id)),
        }
    }
    Ok(Some(AppendOutcome {
        last_revision: last.0,
        last_position: last.1,
        deduplicated: true,
    }))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::{Actor, EventMetadata};

    fn events(ids: &[u128]) -> Vec<NewEvent> {
        ids.iter()
            .map(|id| NewEvent {
                event_id: Uuid::from_u128(*id),
                event_type: "GoalAdded".into(),
                schema_version: 1,
                payload: b"{}".to_vec(),
                metadata: EventMetadata {
                    actor: Actor {
                        subject: "s".into(),
                        role: "clinician".into(),
                    },
                    correlation_id: Uuid::nil(),
                    causation_id: Uuid::nil(),
                    request_id: "r".into(),
                    trace_id: String::new(),
                    span_id: String::new(),
                    reason: None,
                },
            })
            .collect()
    }

    fn at(stream: &str, revision: u64, position: u64) -> Option<StoredAt> {
        Some((stream.to_owned(), revision, position))
    }

    #[test]
    fn a_retry_gets_the_original_outcome() {
        let outcome = recognise_retry(
            "t:plan-1",
            &events(&[1, 2]),
            &[at("t:plan-1", 3, 40), at("t:plan-1", 4, 41)],
        )
        .expect("a retry is not an error")
        .expect("a retry is recognised");
        assert_eq!(
            (
                outcome.last_revision,
                outcome.last_position,
                outcome.deduplicated
            ),
            (4, 41, true)
        );
    }

    #[test]
    fn unseen_first_event_is_not_a_retry() {
        let answer = recognise_retry("t:plan-1", &events(&[1, 2]), &[None]);
        assert!(matches!(answer, Ok(None)));
    }

    #[test]
    fn ids_stored_elsewhere_or_in_part_are_reused_ids() {
        let elsewhere = recognise_retry("t:plan-1", &events(&[1]), &[at("t:plan-2", 0, 7)]);
        assert!(
            matches!(elsewhere, Err(StoreError::DuplicateEventId(id)) if id == Uuid::from_u128(1))
        );
        let in_part = recognise_retry("t:plan-1", &events(&[1, 2]), &[at("t:plan-1", 0, 7), None]);
        assert!(
            matches!(in_part, Err(StoreError::DuplicateEventId(id)) if id == Uuid::from_u128(2))
        );
        let out_of_order = recognise_retry(
            "t:plan-1",
            &events(&[1, 2]),
            &[at("t:plan-1", 0, 7), at("t:plan-1", 5, 9)],
        );
        assert!(
            matches!(out_of_order, Err(StoreError::DuplicateEventId(id)) if id == Uuid::from_u128(2))
        );
    }

    #[test]
    fn expectations_admit_only_the_matching_head() {
        assert!(ExpectedRevision::Any.admits(None));
        assert!(ExpectedRevision::Any.admits(Some(7)));
        assert!(ExpectedRevision::NoStream.admits(None));
        assert!(!ExpectedRevision::NoStream.admits(Some(0)));
        assert!(ExpectedRevision::Exact(3).admits(Some(3)));
        assert!(!ExpectedRevision::Exact(3).admits(Some(4)));
        assert!(!ExpectedRevision::Exact(0).admits(None));
        assert!(ExpectedRevision::after(0).admits(None));
        assert!(ExpectedRevision::after(5).admits(Some(4)));
    }
}
