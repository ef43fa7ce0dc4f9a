//! Loading a plan, deciding a command, appending the events.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};
use tracing::Instrument;

use chrono::{NaiveDate, Utc};
use trellis_access::{
    AccessDenied, authorize_command, authorize_settings_change, authorize_settings_read,
};
use trellis_auth::Caller;
use trellis_kernel::{
    Actor, EventMetadata, EventStore, ExpectedRevision, NewEvent, ReadDirection, RecordedEvent,
    StoreError, StreamName, TenantId,
};
use trellis_plans_domain::review_rules::{
    REVIEW_RULES_CATEGORY, REVIEW_RULES_STREAM_ID, ReviewRuleEvent, ReviewRules,
};
use trellis_plans_domain::template::{
    ListedTemplate, PlanTemplate, TEMPLATES_CATEGORY, TEMPLATES_STREAM_ID, TemplateEvent,
    TemplateLibrary,
};
use trellis_plans_domain::{
    PLAN_CATEGORY, Plan, PlanCommand, PlanError, PlanEvent, PlanId, derive_id,
};
use uuid::Uuid;

mod settings;

/// How often a command is re-decided after losing an optimistic-concurrency
/// race before the caller is told to retry.
const MAX_ATTEMPTS: usize = 5;
const READ_PAGE: usize = 1000;

/// Request-level facts that go into every event's envelope.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub caller: Caller,
    /// Client-chosen; a retried command with the same id appends nothing.
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub request_id: String,
    pub trace_id: String,
    pub span_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandOutcome {
    pub plan_id: PlanId,
    /// The plan's stream revision after the command.
    pub revision: u64,
    /// The command id had been applied before: nothing new was written.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Rejected(#[from] PlanError),
    #[error(transparent)]
    Denied(#[from] AccessDenied),
    #[error("the plan changed concurrently too often; retry the command")]
    Contended,
    /// The command id was used before for a different command (on another
    /// plan or settings stream): a mistake of the client, never retried.
    #[error("command_id was already used for another command")]
    CommandIdReused,
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    #[error("stored plan event cannot be read: {0}")]
    Corrupt(String),
}

/// Handles plan commands against an event store.
#[derive(Clone)]
pub struct PlanCommands {
    store: Arc<dyn EventStore>,
    today: fn() -> NaiveDate,
}

impl std::fmt::Debug for PlanCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanCommands").finish_non_exhaustive()
    }
}

impl PlanCommands {
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            today: || Utc::now().date_naive(),
        }
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
        fields(tenant = %ctx.caller.tenant, command = command.name(), plan_id = %plan_id)
    )]
    pub async fn handle(
        &self,
        ctx: &CommandContext,
        plan_id: PlanId,
        command: &PlanCommand,
    ) -> Result<CommandOutcome, CommandError> {
        let started = Instant::now();
        let result = self.decide_and_append(ctx, plan_id, command).await;
        let outcome = match &result {
            Ok(o) if o.duplicate => "duplicate",
            Ok(_) => "accepted",
            Err(CommandError::Rejected(_)) => "rejected",
            Err(CommandError::Denied(_)) => "denied",
            Err(CommandError::Contended) => "contended",
            Err(CommandError::CommandIdReused) => "rejected",
            Err(CommandError::Store(_) | CommandError::Corrupt(_)) => "failed",
        };
        tracing::debug!(outcome, "command handled");
        instruments().command_duration.record(
            started.elapsed().as_secs_f64(),
            &[
                KeyValue::new("command", command.name()),
                KeyValue::new("outcome", outcome),
                KeyValue::new("tenant", ctx.caller.tenant.to_string()),
            ],
        );
        result
    }

    async fn decide_and_append(
        &self,
        ctx: &CommandContext,
        plan_id: PlanId,
        command: &PlanCommand,
    ) -> Result<CommandOutcome, CommandError> {
        let stream = Self::plan_stream(&ctx.caller.tenant, plan_id);
        for _ in 0..MAX_ATTEMPTS {
            let history = self.load(&stream).await?;
            let mut plan = Plan::default();
            for recorded in &history {
                plan.evolve(&decode(recorded)?);
            }
            // Authorization comes before recognising a retry: a caller who
            // may not act on the plan learns nothing from a replayed id.
            let role = authorize_command(&ctx.caller, command, plan.care())?;
            if let Some(prior) = history
                .iter()
                .rev()
                .find(|e| e.metadata.causation_id == ctx.command_id)
            {
                return Ok(CommandOutcome {
                    plan_id,
                    revision: prior.revision,
                    duplicate: true,
                });
            }
            let command = self.resolve(&ctx.caller.tenant, &plan, command).await?;
            let decided = plan.decide(&command, (self.today)())?;
            let events = self.envelope(ctx, role, command.reason(), &decided);
            let count = events.len() as u64;
            let append_started = Instant::now();
            let appended = self
                .store
                .append(
                    &stream,
                    ExpectedRevision::after(history.len() as u64),
                    events,
                )
                .instrument(tracing::info_span!("store.append", events = count))
                .await;
            let i = instruments();
            i.append_duration.record(
                append_started.elapsed().as_secs_f64(),
                &[KeyValue::new("ok", appended.is_ok())],
            );
            if let Ok(o) = &appended
                && !o.deduplicated
            {
                i.events_appended.add(
                    count,
                    &[KeyValue::new("tenant", ctx.caller.tenant.to_string())],
                );
            }
            match appended {
                Ok(outcome) => {
                    return Ok(CommandOutcome {
                        plan_id,
                        revision: outcome.last_revision,
                        duplicate: outcome.deduplicated,
                    });
                }
                Err(StoreError::WrongExpectedRevision { .. }) => {
                    tracing::debug!("lost a concurrency race; deciding again");
                }
                Err(StoreError::DuplicateEventId(_)) => return Err(CommandError::CommandIdReused),
                Err(e) => return Err(e.into()),
            }
        }
        Err(CommandError::Contended)
    }

    /// Fills in what the aggregate must not look up itself: the tenant's
    /// review interval for the plan's payer, and the template a plan is
    /// made from.
    async fn resolve<'c>(
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

    fn envelope(
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

struct Instruments {
    command_duration: Histogram<f64>,
    append_duration: Histogram<f64>,
    events_appended: Counter<u64>,
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("trellis");
        Instruments {
            command_duration: meter
                .f64_histogram("trellis.command.duration")
                .with_unit("s")
                .with_description("Time to handle a plan command, by command and outcome")
                .build(),
            append_duration: meter
                .f64_histogram("trellis.store.append.duration")
                .with_unit("s")
                .with_description("Time for a durable append to be acknowledged")
                .build(),
            events_appended: meter
                .u64_counter("trellis.store.events_appended")
                .with_description("Events appended by plan commands")
                .build(),
        }
    })
}

/// Names the place of an unreadable event, never its payload (PHI).
fn corrupt(recorded: &RecordedEvent) -> CommandError {
    CommandError::Corrupt(format!(
        "{} at global position {}",
        recorded.event_type, recorded.global_position
    ))
}

fn decode(recorded: &RecordedEvent) -> Result<PlanEvent, CommandError> {
    PlanEvent::decode(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.payload,
    )
    // The decode error may quote payload text (PHI); name the place only.
    .map_err(|_| corrupt(recorded))
}
