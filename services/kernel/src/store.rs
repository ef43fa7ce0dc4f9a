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
}

#[cfg(test)]
mod tests {
    use super::ExpectedRevision;

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
