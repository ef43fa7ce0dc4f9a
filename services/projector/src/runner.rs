//! Following the event feed and keeping read models current.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use opentelemetry::metrics::Gauge;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use futures::StreamExt;
use tokio::sync::watch;
use trellis_kernel::{EventStore, RecordedEvent, StoreError, SubscriptionMessage};
use trellis_plans_domain::{PLAN_CATEGORY, PlanEvent};

use crate::{ChangePublisher, PlanChanged, PlanView, ReadModelError, ReadModelStore, apply_event};

/// How many feed messages are folded into one read-model write at most.
const BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    #[error("the event feed ended")]
    FeedEnded,
}

/// Projects plan events into a [`ReadModelStore`].
pub struct Projector {
    events: Arc<dyn EventStore>,
    read_models: Arc<dyn ReadModelStore>,
    position: watch::Sender<u64>,
    publishers: Vec<Arc<dyn ChangePublisher>>,
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
        }
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
        self.read_models.prepare().await?;
        let checkpoint = self.read_models.checkpoint().await?;
        self.position.send_replace(checkpoint.unwrap_or(0));
        tracing::info!(checkpoint = ?checkpoint, "projection starting");
        let mut feed = self
            .events
            .subscribe_all(checkpoint)
            .await?
            .ready_chunks(BATCH);
        while let Some(messages) = feed.next().await {
            let mut events = Vec::with_capacity(messages.len());
            for message in messages {
                match message? {
                    SubscriptionMessage::Event(event) => events.push(*event),
                    SubscriptionMessage::CaughtUp => {
                        tracing::info!("projection caught up; now live");
                    }
                }
            }
            if let Some(last) = events.last() {
                let span = batch_span(&events);
                self.apply_batch(&events, last.global_position)
                    .instrument(span)
                    .await?;
                self.position.send_replace(last.global_position);
                let lag = (chrono::Utc::now() - last.recorded_at).as_seconds_f64();
                lag_seconds().record(lag.max(0.0), &[]);
            }
        }
        Err(ProjectorError::FeedEnded)
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
