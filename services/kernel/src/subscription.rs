//! Catch-up subscriptions from two parts every backend has: a way to read
//! a page of `$all` after a position, and a signal that something was
//! appended. Backends differ only in the signal (a watch on the writer's
//! head, LISTEN/NOTIFY, …).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use crate::{RecordedEvent, StoreError, SubscriptionMessage, SubscriptionStream};

/// Wakes a caught-up subscriber when an event may exist after `position`.
#[async_trait]
pub trait AppendSignal: Send + 'static {
    /// Returns once something may have been appended after `position`;
    /// `false` when the store is gone and the subscription should end.
    async fn appended_after(&mut self, position: u64) -> bool;
}

/// One page of `$all` strictly after a position.
pub type PageFuture =
    Pin<Box<dyn Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send + 'static>>;

struct State<R, S> {
    position: u64,
    live: bool,
    ended: bool,
    buffered: VecDeque<RecordedEvent>,
    read_page: R,
    signal: S,
}

/// Reads history after `after` page by page, says
/// [`SubscriptionMessage::CaughtUp`] once, then waits on `signal` for
/// more. Ends after the first error, or when the signal says the store is
/// gone. Lazy: nothing runs until the stream is polled.
pub fn catch_up<R, S>(after: Option<u64>, read_page: R, signal: S) -> SubscriptionStream
where
    R: Fn(u64) -> PageFuture + Send + 'static,
    S: AppendSignal,
{
    let state = State {
        position: after.unwrap_or(0),
        live: false,
        ended: false,
        buffered: VecDeque::new(),
        read_page,
        signal,
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        loop {
            if s.ended {
                return None;
            }
            if let Some(event) = s.buffered.pop_front() {
                s.position = event.global_position;
                return Some((Ok(SubscriptionMessage::Event(Box::new(event))), s));
            }
            match (s.read_page)(s.position).await {
                Err(e) => {
                    s.ended = true;
                    return Some((Err(e), s));
                }
                Ok(page) if !page.is_empty() => s.buffered.extend(page),
                Ok(_) if !s.live => {
                    s.live = true;
                    return Some((Ok(SubscriptionMessage::CaughtUp), s));
                }
                Ok(_) => {
                    if !s.signal.appended_after(s.position).await {
                        return None;
                    }
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::Utc;
    use futures::StreamExt;
    use uuid::Uuid;

    use super::*;
    use crate::{Actor, EventHash, EventMetadata, StreamName, TenantId};

    fn event(position: u64) -> RecordedEvent {
        RecordedEvent {
            event_id: Uuid::new_v4(),
            stream: StreamName::new(TenantId::parse("t").unwrap(), "plan", "p").unwrap(),
            revision: position - 1,
            global_position: position,
            event_type: "GoalAdded".into(),
            schema_version: 1,
            payload: Vec::new(),
            metadata: EventMetadata {
                actor: Actor {
                    subject: "s".into(),
                    role: "clinician".into(),
                },
                correlation_id: Uuid::nil(),
                causation_id: Uuid::nil(),
                request_id: String::new(),
                trace_id: String::new(),
                span_id: String::new(),
                reason: None,
            },
            recorded_at: Utc::now(),
            hash: EventHash::GENESIS,
        }
    }

    /// Appends one more event each time it is asked to wait, twice.
    struct TwoMore(Arc<Mutex<Vec<RecordedEvent>>>, u64);

    #[async_trait]
    impl AppendSignal for TwoMore {
        async fn appended_after(&mut self, position: u64) -> bool {
            if self.1 == 0 {
                return false;
            }
            self.1 -= 1;
            self.0.lock().unwrap().push(event(position + 1));
            true
        }
    }

    #[test]
    fn history_then_caught_up_then_live_then_the_end() {
        let log = Arc::new(Mutex::new(vec![event(1), event(2), event(3)]));
        let reader = Arc::clone(&log);
        let read_page = move |after: u64| -> PageFuture {
            let page: Vec<RecordedEvent> = reader
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.global_position > after)
                .take(2)
                .cloned()
                .collect();
            Box::pin(async move { Ok(page) })
        };
        let messages: Vec<String> = futures::executor::block_on(
            catch_up(Some(1), read_page, TwoMore(log, 2))
                .map(|m| match m.unwrap() {
                    SubscriptionMessage::Event(e) => e.global_position.to_string(),
                    SubscriptionMessage::CaughtUp => "caught up".into(),
                })
                .collect(),
        );
        assert_eq!(messages, ["2", "3", "caught up", "4", "5"]);
    }
}
