//! Loading a plan, deciding a command, appending the events.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

use chrono::{NaiveDate, Utc};
use trellis_access::{authorize_settings_change, authorize_settings_read};
use trellis_auth::Caller;
use trellis_kernel::{
    Actor, ERASED_PAYLOAD, EventMetadata, EventStore, ExpectedRevision, NewEvent, ReadDirection,
    RecordedEvent, SnapshotStore, StoreError, StreamName, TenantId,
};
use trellis_plans_domain::review_rules::{
    REVIEW_RULES_CATEGORY, REVIEW_RULES_STREAM_ID, ReviewRuleEvent, ReviewRules,
};
use trellis_plans_domain::template::{
    ListedTemplate, PlanTemplate, TEMPLATES_CATEGORY, TEMPLATES_STREAM_ID, TemplateEvent,
    TemplateLibrary,
};
use trellis_plans_domain::{PLAN_CATEGORY, Plan, PlanCommand, PlanEvent, PlanId, derive_id};
use uuid::Uuid;

mod batch;
mod cache;
mod erasure;
mod erasure_keys;
mod outcome;
mod retention;
mod settings;
mod snapshot;
mod staff;
#[cfg(test)]
mod tests;

use cache::{AggregateCache, Queued};
pub use erasure::ClientErasureOutcome;
pub use erasure_keys::DEFAULT_RETENTION_YEARS;
pub use outcome::{CommandContext, CommandError, CommandOutcome};
pub use retention::RetentionPeriod;
pub use snapshot::SNAPSHOT_EVERY;
/// Bucket bounds of the latency histograms (shared by every process).
pub use trellis_grpc_edge::metrics::LATENCY_BOUNDS_S;

/// How often a command is re-decided after losing an optimistic-concurrency
/// race before the caller is told to retry.
const MAX_ATTEMPTS: usize = 5;
const READ_PAGE: usize = 1000;

/// Handles plan commands against an event store, with each hot plan held
/// in memory at its revision (see `cache.rs`).
#[derive(Clone)]
pub struct PlanCommands {
    store: Arc<dyn EventStore>,
    snapshots: Option<snapshot::Snapshots>,
    cache: Arc<AggregateCache<Queued>>,
    today: fn() -> NaiveDate,
    erasure: Option<erasure_keys::Erasure>,
}

/// Bytes of plan state kept in memory unless configured otherwise.
pub const DEFAULT_CACHE_BYTES: usize = 256 * 1024 * 1024;

impl std::fmt::Debug for PlanCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanCommands").finish_non_exhaustive()
    }
}

impl PlanCommands {
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            snapshots: None,
            cache: Arc::new(AggregateCache::new(DEFAULT_CACHE_BYTES)),
            today: || Utc::now().date_naive(),
            erasure: None,
        }
    }

    /// Keeps a snapshot of each plan every `every` events in `store`, and
    /// loads cold plans from them.
    #[must_use]
    pub fn with_snapshots(mut self, store: Arc<dyn SnapshotStore>, every: u64) -> Self {
        self.snapshots = Some(snapshot::Snapshots::new(store, every));
        self
    }

    /// Holds at most about `bytes` of plan state in memory.
    #[must_use]
    pub fn with_cache_bytes(mut self, bytes: usize) -> Self {
        self.cache = Arc::new(AggregateCache::new(bytes));
        self
    }

    /// Plans held in memory and their approximate bytes.
    pub fn cached(&self) -> (usize, usize) {
        (self.cache.len(), self.cache.weight())
    }

    /// Queues the command behind the plan's others and waits for its
    /// answer; the deciding runs in its own task (see `batch.rs`).
    async fn submit(
        &self,
        ctx: &CommandContext,
        plan_id: PlanId,
        command: &PlanCommand,
    ) -> Result<CommandOutcome, CommandError> {
        let stream = Self::plan_stream(&ctx.caller.tenant, plan_id);
        let slot = self.cache.slot(&stream);
        let (reply, answer) = tokio::sync::oneshot::channel();
        slot.queue.lock().expect("queue poisoned").push(Queued {
            ctx: ctx.clone(),
            plan_id,
            command: command.clone(),
            reply,
            span: tracing::Span::current(),
        });
        tokio::spawn(self.clone().drain(stream, slot));
        answer.await.unwrap_or_else(|_| {
            Err(CommandError::Store(StoreError::Unavailable(
                "the command was dropped before it was decided".into(),
            )))
        })
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    pub fn plan_stream(tenant: &TenantId, plan_id: PlanId) -> StreamName {
        StreamName::new(tenant.clone(), PLAN_CATEGORY, &plan_id.to_string())
            .expect("a uuid is a valid stream id")
    }

    /// The id a `CreatePlan` without a client-chosen plan id gets; the
    /// gRPC edge derives it here. The purpose stays "plan_id": stored plans
    /// (the demo's among them) were created under ids derived with it.
    pub fn derived_plan_id(tenant: &TenantId, command_id: Uuid) -> PlanId {
        PlanId(derive_id(tenant.as_str(), command_id, "plan_id"))
    }

    #[tracing::instrument(
        name = "handle_command",
        skip_all,
        fields(
            tenant = %ctx.caller.tenant,
            command = command.name(),
            plan_id = %plan_id,
            outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    pub async fn handle(
        &self,
        ctx: &CommandContext,
        plan_id: PlanId,
        command: &PlanCommand,
    ) -> Result<CommandOutcome, CommandError> {
        let started = Instant::now();
        // The events record the span they are decided in.
        let ctx = &ctx.within_current_span();
        let result = self.submit(ctx, plan_id, command).await;
        let duplicate = result.as_ref().is_ok_and(|o| o.duplicate);
        observe(command.name(), started, outcome_of(&result, duplicate));
        result
    }

    /// Fills in what the aggregate must not look up itself: the tenant's
    /// review interval for the plan's payer, and the template a plan is
    /// made from.
    pub(super) async fn resolve<'c>(
        &self,
        tenant: &TenantId,
        plan: &Plan,
        command: &'c PlanCommand,
    ) -> Result<Cow<'c, PlanCommand>, CommandError> {
        let mut resolved = match command {
            PlanCommand::ActivatePlan(_) | PlanCommand::CreatePlanFromTemplate(_) => {
                command.clone()
            }
            PlanCommand::HoldReview(c) if c.next_review.is_some() => command.clone(),
            _ => return Ok(Cow::Borrowed(command)),
        };
        match &mut resolved {
            PlanCommand::ActivatePlan(c) => {
                c.first_review.interval_days =
                    self.review_rules(tenant).await?.interval_for(plan.payer());
            }
            PlanCommand::HoldReview(c) => {
                let days = self.review_rules(tenant).await?.interval_for(plan.payer());
                if let Some(next) = &mut c.next_review {
                    next.interval_days = days;
                }
            }
            PlanCommand::CreatePlanFromTemplate(c) => {
                // Not found stays unresolved: the aggregate refuses it.
                c.resolved = self.templates(tenant).await?.get(&c.template_id).ok();
            }
            _ => {}
        }
        Ok(Cow::Owned(resolved))
    }

    async fn load(&self, stream: &StreamName) -> Result<Vec<RecordedEvent>, CommandError> {
        let mut history: Vec<RecordedEvent> = Vec::new();
        loop {
            let from = history.last().map(|e| e.revision + 1);
            let page = self
                .store
                .read_stream(stream, ReadDirection::Forward, from, READ_PAGE)
                .await?;
            let full = page.len() == READ_PAGE;
            history.extend(page);
            if !full {
                return Ok(history);
            }
        }
    }

    pub(super) fn envelope(
        &self,
        ctx: &CommandContext,
        role: trellis_auth::Role,
        reason: Option<&str>,
        events: &[PlanEvent],
    ) -> Vec<NewEvent> {
        events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                let stored = (event.event_type(), event.schema_version(), event.encode());
                self.event(ctx, role, reason, i, stored)
            })
            .collect()
    }

    /// The `i`th event of a command, in its envelope.
    fn event(
        &self,
        ctx: &CommandContext,
        role: trellis_auth::Role,
        reason: Option<&str>,
        i: usize,
        (event_type, schema_version, payload): (&str, u32, Vec<u8>),
    ) -> NewEvent {
        NewEvent {
            // Derived from the command id: a retry racing the first
            // attempt produces the same ids and the store dedupes it.
            event_id: derive_id(
                ctx.caller.tenant.as_str(),
                ctx.command_id,
                &format!("event-{i}"),
            ),
            event_type: event_type.to_owned(),
            schema_version,
            payload,
            metadata: EventMetadata {
                actor: Actor {
                    subject: ctx.caller.subject.clone(),
                    role: role.as_str().to_owned(),
                },
                correlation_id: ctx.correlation_id,
                causation_id: ctx.command_id,
                request_id: ctx.request_id.clone(),
                trace_id: ctx.trace_id.clone(),
                span_id: ctx.span_id.clone(),
                reason: reason.map(str::to_owned),
            },
        }
    }
}

pub(super) struct Instruments {
    command_duration: Histogram<f64>,
    pub append_duration: Histogram<f64>,
    pub events_appended: Counter<u64>,
}

impl Instruments {
    fn new(meter: &opentelemetry::metrics::Meter) -> Self {
        Self {
            command_duration: meter
                .f64_histogram("trellis.command.duration")
                .with_unit("s")
                .with_description("Time to handle a plan command, by command and outcome")
                .with_boundaries(LATENCY_BOUNDS_S.to_vec())
                .build(),
            append_duration: meter
                .f64_histogram("trellis.store.append.duration")
                .with_unit("s")
                .with_description("Time for a durable append to be acknowledged")
                .with_boundaries(LATENCY_BOUNDS_S.to_vec())
                .build(),
            events_appended: meter
                .u64_counter("trellis.store.events_appended")
                .with_description("Events appended by plan commands")
                .build(),
        }
    }
}

pub(super) fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| Instruments::new(&opentelemetry::global::meter("trellis")))
}

/// Names the place of an unreadable event, never its payload (PHI).
fn corrupt(recorded: &RecordedEvent) -> CommandError {
    CommandError::Corrupt(format!(
        "{} at global position {}",
        recorded.event_type, recorded.global_position
    ))
}

/// How a command ended, from the closed set spans and metrics use.
pub(super) fn outcome_of<T>(result: &Result<T, CommandError>, duplicate: bool) -> &'static str {
    match result {
        Ok(_) if duplicate => "duplicate",
        Ok(_) => "accepted",
        Err(CommandError::Rejected(_) | CommandError::CommandIdReused) => "rejected",
        Err(CommandError::Denied(_)) => "denied",
        Err(CommandError::Contended) => "contended",
        Err(CommandError::Store(_) | CommandError::Corrupt(_)) => "failed",
        Err(CommandError::ErasureUnavailable) => "rejected",
    }
}

/// Records a handled command on the current `handle_command` span and in
/// the command histogram: every command, plan and admin alike.
pub(super) fn observe(command: &'static str, started: Instant, outcome: &'static str) {
    tracing::debug!(outcome, "command handled");
    // A refused or failed command marks its span (never with the
    // refusal's text, which may quote what was typed).
    let span = tracing::Span::current();
    span.record("outcome", outcome);
    if !matches!(outcome, "accepted" | "duplicate") {
        span.record("otel.status_code", "ERROR");
    }
    instruments().command_duration.record(
        started.elapsed().as_secs_f64(),
        // No tenant: a histogram's series multiply by every label, and
        // per-tenant volume is on the `trellis.requests` counter.
        &[
            KeyValue::new("command", command),
            KeyValue::new("outcome", outcome),
        ],
    );
}

/// The event a stored one holds; `None` for one whose content was erased
/// with its client's key (the plan's `ClientErased`, later in the stream,
/// stands for what is left).
pub(super) fn decode(recorded: &RecordedEvent) -> Result<Option<PlanEvent>, CommandError> {
    if recorded.payload == ERASED_PAYLOAD {
        return Ok(None);
    }
    PlanEvent::decode(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.payload,
    )
    .map(Some)
    // The decode error may quote payload text (PHI); name the place only.
    .map_err(|_| corrupt(recorded))
}

#[cfg(test)]
mod instrument_tests {
    use opentelemetry::metrics::MeterProvider;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

    use super::{Instruments, LATENCY_BOUNDS_S};

    #[test]
    fn latency_bounds_span_sub_millisecond_to_seconds_finely() {
        assert_eq!(LATENCY_BOUNDS_S[0], 0.000_1);
        assert_eq!(LATENCY_BOUNDS_S[LATENCY_BOUNDS_S.len() - 1], 10.0);
        for pair in LATENCY_BOUNDS_S.windows(2) {
            let ratio = pair[1] / pair[0];
            assert!((1.9..=2.6).contains(&ratio), "{pair:?}");
        }
    }

    #[test]
    fn exported_latency_histograms_carry_the_bounds() {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let instruments = Instruments::new(&provider.meter("test"));
        // A 1.5 ms command and a 0.3 ms append land in the 1–2 ms and
        // 0.2–0.5 ms buckets (with the SDK's defaults, both in the first).
        instruments.command_duration.record(0.0015, &[]);
        instruments.append_duration.record(0.0003, &[]);
        provider.force_flush().unwrap();
        let exported = exporter.get_finished_metrics().unwrap();
        let mut seen = Vec::new();
        for metric in exported
            .iter()
            .flat_map(|r| r.scope_metrics())
            .flat_map(|s| s.metrics())
        {
            let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data() else {
                continue;
            };
            for point in histogram.data_points() {
                let bounds: Vec<f64> = point.bounds().collect();
                assert_eq!(bounds, LATENCY_BOUNDS_S.to_vec(), "{}", metric.name());
                let counts: Vec<u64> = point.bucket_counts().collect();
                let bucket = counts.iter().position(|&c| c == 1).unwrap();
                let expected = if metric.name() == "trellis.command.duration" {
                    4
                } else {
                    2
                };
                assert_eq!(bucket, expected, "{}: {counts:?}", metric.name());
                seen.push(metric.name().to_owned());
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            ["trellis.command.duration", "trellis.store.append.duration"]
        );
    }
}
