//! Following the event feed and keeping read models current: one
//! projector per read-model store at a time (a lease), the others on standby.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry::metrics::Gauge;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use futures::{FutureExt, StreamExt};
use tokio::sync::watch;
use trellis_kernel::{EventStore, RecordedEvent, StoreError, SubscriptionMessage};
use trellis_plans_domain::{PLAN_CATEGORY, PlanEvent};

use crate::{ChangePublisher, PlanChanged, PlanView, ReadModelError, ReadModelStore, apply_event};

/// How many feed messages are folded into one read-model write at most.
/// A plan's document is written once per batch however many of its
/// events the batch holds, so a projector behind its feed catches up in
/// few large writes rather than many.
const BATCH: usize = 1024;
/// The longest a batch waits for more events to join it (see `gather`).
const MAX_GATHER: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    #[error("the event feed ended")]
    FeedEnded,
    #[error("the read-model store lost what was written to it; rebuilding from the first event")]
    ReadModelsLost,
    #[error("another projector took the lease; standing by")]
    LeaseLost,
}

/// How long a projector's lease lasts unless renewed, by default; it renews
/// every [`INTACT_EVERY`] while it runs, so a projector that dies is
/// replaced within this time.
pub const LEASE_TTL: Duration = Duration::from_secs(5);

/// How often an idle projector checks that its read models are still
/// there (a Redis restarted empty while no event arrives).
const INTACT_EVERY: Duration = Duration::from_secs(1);

/// Projects plan events into a [`ReadModelStore`].
pub struct Projector {
    events: Arc<dyn EventStore>,
    read_models: Arc<dyn ReadModelStore>,
    position: watch::Sender<u64>,
    publishers: Vec<Arc<dyn ChangePublisher>>,
    /// This process, as the lease names it.
    holder: String,
    /// Whether this projector holds the lease (and so projects).
    holding: watch::Sender<bool>,
    lease_ttl: Duration,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("position", &*self.position.borrow())
            .finish_non_exhaustive()
    }
}

impl Projector {
    pub fn new(events: Arc<dyn EventStore>, read_models: Arc<dyn ReadModelStore>) -> Self {
        Self {
            events,
            read_models,
            position: watch::Sender::new(0),
            publishers: Vec::new(),
            holder: uuid::Uuid::new_v4().to_string(),
            holding: watch::Sender::new(false),
            lease_ttl: LEASE_TTL,
        }
    }

    /// Leases for `ttl` instead of [`LEASE_TTL`]: how soon a standby takes
    /// over from a projector that died. At least twice the renewal
    /// interval, so an idle projector never loses it between renewals (a
    /// batch that outlasts the lease may: the standby then takes over, and
    /// writes being idempotent by version, nothing is applied twice).
    #[must_use]
    pub fn leasing_for(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(INTACT_EVERY * 2);
        self
    }

    /// Whether this projector holds the lease: one projects, the others
    /// stand by until it stops renewing.
    pub fn holding(&self) -> watch::Receiver<bool> {
        self.holding.subscribe()
    }

    /// Waits until this projector holds the lease.
    async fn take_lease(&self) -> Result<(), ProjectorError> {
        let mut said = false;
        while !self
            .read_models
            .hold_lease(&self.holder, self.lease_ttl)
            .await?
        {
            self.holding.send_replace(false);
            if !said {
                tracing::info!("another projector holds the lease; standing by");
                said = true;
            }
            tokio::time::sleep(INTACT_EVERY).await;
        }
        self.holding.send_replace(true);
        Ok(())
    }

    /// Renews the lease; an error when another projector took it.
    async fn renew_lease(&self) -> Result<(), ProjectorError> {
        if self
            .read_models
            .hold_lease(&self.holder, self.lease_ttl)
            .await?
        {
            return Ok(());
        }
        self.holding.send_replace(false);
        tracing::warn!("another projector took the lease; standing by");
        Err(ProjectorError::LeaseLost)
    }

    /// Also announce every saved plan version to `publisher`.
    #[must_use]
    pub fn announcing_to(mut self, publisher: Arc<dyn ChangePublisher>) -> Self {
        self.publishers.push(publisher);
        self
    }

    /// The feed position the read models include; changes after each batch.
    pub fn position(&self) -> watch::Receiver<u64> {
        self.position.subscribe()
    }

    /// Runs until the feed fails. Resumes after the saved checkpoint, once
    /// the store has brought its indexes up to date.
    pub async fn run(&self) -> Result<(), ProjectorError> {
        self.take_lease().await?;
        self.read_models.prepare().await?;
        let checkpoint = self.read_models.checkpoint().await?;
        self.position.send_replace(checkpoint.unwrap_or(0));
        tracing::info!(checkpoint = ?checkpoint, "projection starting");
        let mut feed = self.events.subscribe_all(checkpoint).await?.fuse();
        let mut last_apply = Duration::ZERO;
        let mut check = tokio::time::interval(INTACT_EVERY);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Waiting for the next event is where the projector idles; a
            // lost store shows there too. (Only this wait is raced: a
            // batch being gathered is never dropped.)
            let first = tokio::select! {
                first = feed.next() => first,
                _ = check.tick() => {
                    self.keep_standing().await?;
                    continue;
                }
            };
            let Some(first) = first else { break };
            let messages = gather(first, &mut feed, last_apply.min(MAX_GATHER)).await;
            let mut events = Vec::with_capacity(messages.len());
            let mut caught_up = false;
            for message in messages {
                match message? {
                    SubscriptionMessage::Event(event) => events.push(*event),
                    SubscriptionMessage::CaughtUp => caught_up = true,
                }
            }
            if let Some(last) = events.last() {
                // Under load, batches follow each other without idling:
                // the same checks, once per INTACT_EVERY rather than per
                // batch (two Redis round trips each). A store lost in
                // between is rebuilt from the first event anyway, and the
                // lease outlives the interval.
                if check.tick().now_or_never().is_some() {
                    self.keep_standing().await?;
                }
                let span = batch_span(&events);
                let started = Instant::now();
                self.apply_batch(&events, last.global_position)
                    .instrument(span)
                    .await?;
                last_apply = started.elapsed();
                self.position.send_replace(last.global_position);
                let lag = (chrono::Utc::now() - last.recorded_at).as_seconds_f64();
                lag_seconds().record(lag.max(0.0), &[]);
            }
            // Only once the events before it are saved: a rebuild ends
            // when every plan is back, not while the last batch is still
            // in hand (a gateway would read those plans as missing).
            if caught_up {
                self.read_models.rebuilt().await?;
                tracing::info!("projection caught up; now live");
            }
        }
        Err(ProjectorError::FeedEnded)
    }

    /// Still the lease holder, and the store still holds what was
    /// written: checked every INTACT_EVERY, idle or busy.
    async fn keep_standing(&self) -> Result<(), ProjectorError> {
        self.renew_lease().await?;
        self.ensure_intact().await
    }

    /// Starts the rebuild when the store lost what was written to it.
    async fn ensure_intact(&self) -> Result<(), ProjectorError> {
        if self.read_models.intact().await? {
            return Ok(());
        }
        tracing::error!(
            "the read models lost what was written to them; rebuilding from the first event"
        );
        self.read_models.start_rebuild().await?;
        Err(ProjectorError::ReadModelsLost)
    }

    async fn apply_batch(&self, events: &[RecordedEvent], last: u64) -> Result<(), ProjectorError> {
        let mut views: HashMap<(String, String), Option<PlanView>> = HashMap::new();
        let mut raised: HashMap<(String, String), Vec<String>> = HashMap::new();
        for event in events
            .iter()
            .filter(|e| e.stream.category() == PLAN_CATEGORY)
        {
            let key = (event.tenant().to_string(), event.stream.id().to_owned());
            if !views.contains_key(&key) {
                let current = self.read_models.plan(event.tenant(), &key.1).await?;
                views.insert(key.clone(), current);
            }
            if event.event_type == "SafetyFlagRaised"
                && let Ok(PlanEvent::SafetyFlagRaised(flag)) =
                    PlanEvent::decode(&event.event_type, event.schema_version, &event.payload)
            {
                raised
                    .entry(key.clone())
                    .or_default()
                    .push(flag.flag_id.to_string());
            }
            let slot = views.get_mut(&key).expect("inserted above");
            if apply_event(slot, event).is_err() {
                // A broken event must not stop every other plan's read
                // model. It is logged by position only: a decode error can
                // quote payload text, which may be PHI.
                tracing::error!(
                    position = event.global_position,
                    event_type = %event.event_type,
                    "plan event cannot be projected; skipped"
                );
            }
        }
        let changed: Vec<PlanView> = views.into_values().flatten().collect();
        let announcements: Vec<PlanChanged> = changed
            .iter()
            .map(|v| PlanChanged {
                tenant: v.tenant.clone(),
                plan_id: v.plan_id.clone(),
                version: v.version,
                raised_flags: raised
                    .remove(&(v.tenant.clone(), v.plan_id.clone()))
                    .unwrap_or_default(),
            })
            .collect();
        self.read_models.save(changed, last).await?;
        // Only after the save: a subscriber that reads on notice sees it.
        for publisher in &self.publishers {
            publisher.publish(&announcements).await;
        }
        Ok(())
    }
}

/// The batch that `first` opens: it, every message already waiting, and
/// then those arriving within `window` of it (up to [`BATCH`]). The window is as long as the last batch took to
/// apply: writing a plan's document costs about the same for one event as
/// for ten, so while applying is cheap nothing waits, and while it is dear
/// (large documents under steady commands) events arriving together are
/// written together, the wait never longer than the write it saves.
async fn gather<S, T>(first: T, feed: &mut S, window: Duration) -> Vec<T>
where
    S: futures::Stream<Item = T> + Unpin,
{
    let deadline = tokio::time::Instant::now() + window;
    let mut batch = vec![first];
    while batch.len() < BATCH {
        let next = match feed.next().now_or_never() {
            Some(next) => next,
            None if window.is_zero() => break,
            None => match tokio::time::timeout_at(deadline, feed.next()).await {
                Ok(next) => next,
                Err(_) => break,
            },
        };
        match next {
            Some(message) => batch.push(message),
            // The end shows on the next call.
            None => break,
        }
    }
    batch
}

/// Most links one batch span carries; a long catch-up links its first ones.
const MAX_LINKS: usize = 128;

/// A root span per batch, linked to the spans that appended its events, so
/// a trace of a command leads to the projection that applied it.
fn batch_span(events: &[RecordedEvent]) -> tracing::Span {
    let span = tracing::info_span!(parent: None, "projection.batch", events = events.len());
    for event in events.iter().take(MAX_LINKS) {
        let m = &event.metadata;
        if let (Ok(trace_id), Ok(span_id)) =
            (TraceId::from_hex(&m.trace_id), SpanId::from_hex(&m.span_id))
        {
            let appended_by = SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            );
            if appended_by.is_valid() {
                span.add_link(appended_by);
            }
        }
    }
    span
}

fn lag_seconds() -> &'static Gauge<f64> {
    static LAG: OnceLock<Gauge<f64>> = OnceLock::new();
    LAG.get_or_init(|| {
        opentelemetry::global::meter("trellis")
            .f64_gauge("trellis.projection.lag.seconds")
            .with_unit("s")
            .with_description("Time from an event's append to its projection, for the latest batch")
            .build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel() -> (
        tokio::sync::mpsc::UnboundedSender<u32>,
        impl futures::Stream<Item = u32> + Unpin,
    ) {
        let (send, receive) = tokio::sync::mpsc::unbounded_channel();
        let stream = futures::stream::unfold(receive, |mut receive| async move {
            receive.recv().await.map(|n| (n, receive))
        });
        (send, Box::pin(stream).fuse())
    }

    /// The run loop's two steps: the first message, then its batch.
    async fn next_batch<S, T>(feed: &mut S, window: Duration) -> Option<Vec<T>>
    where
        S: futures::Stream<Item = T> + Unpin,
    {
        let first = feed.next().await?;
        Some(gather(first, feed, window).await)
    }

    #[tokio::test]
    async fn without_a_window_a_batch_is_what_is_waiting() {
        let (send, mut feed) = channel();
        for n in 0..3 {
            send.send(n).unwrap();
        }
        assert_eq!(
            next_batch(&mut feed, Duration::ZERO).await,
            Some(vec![0, 1, 2])
        );
    }

    #[tokio::test]
    async fn a_window_lets_later_events_join_and_no_more() {
        let (send, mut feed) = channel();
        send.send(1).unwrap();
        let late = send.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            late.send(2).unwrap();
            tokio::time::sleep(Duration::from_millis(400)).await;
            late.send(3).unwrap();
        });
        let batch = next_batch(&mut feed, Duration::from_millis(200)).await;
        assert_eq!(batch, Some(vec![1, 2]));
        assert_eq!(next_batch(&mut feed, Duration::ZERO).await, Some(vec![3]));
    }

    #[tokio::test]
    async fn a_batch_stops_at_its_limit_and_the_end_shows_next() {
        let (send, mut feed) = channel();
        for n in 0..(BATCH as u32 + 5) {
            send.send(n).unwrap();
        }
        drop(send);
        let first = next_batch(&mut feed, MAX_GATHER).await.unwrap();
        assert_eq!(first.len(), BATCH);
        assert_eq!(next_batch(&mut feed, MAX_GATHER).await.unwrap().len(), 5);
        assert_eq!(next_batch(&mut feed, MAX_GATHER).await, None);
    }
}
