//! Plans of a given age, written straight into a fresh store file (gRPC
//! would take minutes for 64 plans of 10,000 events): one real
//! `PlanCreated`, then filler events (see [`Filler`]), each in the
//! envelope the plans service gives a command's first event.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use trellis_auth::Role;
use trellis_kernel::{Actor, EventMetadata, EventStore, ExpectedRevision, NewEvent, TenantId};
use trellis_plans::PlanCommands;
use trellis_plans_domain::{
    ClinicalContextRecorded, GoalAdded, GoalId, GoalTerm, PlanCreated, PlanEvent, PlanId, Support,
    SupportKind, derive_id,
};
use trellis_store_sqlite::SqliteEventStore;
use uuid::Uuid;

pub(crate) const TENANT: &str = "bench";
/// Every plan's primary clinician: the subject of the benchmark's token.
pub(crate) const CLINICIAN: &str = "clin-bench";
pub(crate) const CLINIC: &str = "clinic-bench";
/// The goal text of every event and command (~100 bytes, a typical goal).
pub(crate) const GOAL: &str =
    "Reduce panic attacks to at most one a week by practising paced breathing twice a day";

/// What ages a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Filler {
    /// `ClinicalContextRecorded`, each replacing the one before: a long
    /// stream behind a document of ordinary size. Isolates what the
    /// stream's length costs a command.
    Context,
    /// `GoalAdded`: the document grows with the stream, and so does what
    /// projecting each event costs.
    Goals,
}

/// Events per append while filling.
const BATCH: u64 = 500;

/// The plans written, one per client.
#[derive(Debug)]
pub(crate) struct Fixture {
    pub tenant: TenantId,
    pub plans: Vec<PlanId>,
    /// The plan whose last event has the highest global position: once the
    /// read model shows it at `version`, every plan is projected.
    pub last_plan: PlanId,
    /// Its last revision (events − 1).
    pub version: u64,
}

/// Writes `plans` plans of `events` events each (at least 1) into the store
/// file at `path`, then closes it.
pub(crate) async fn fill(
    path: &Path,
    plans: usize,
    events: u64,
    filler: Filler,
) -> anyhow::Result<Fixture> {
    let tenant = TenantId::parse(TENANT)?;
    let store = SqliteEventStore::open(path).context("open the store to fill")?;
    let today = chrono::Utc::now().date_naive();
    let mut tasks = Vec::with_capacity(plans);
    for n in 0..plans {
        let (store, tenant) = (store.clone(), tenant.clone());
        let plan_id = PlanId(Uuid::new_v4());
        tasks.push(tokio::spawn(async move {
            fill_plan(&store, &tenant, plan_id, n, events, today, filler)
                .await
                .map(|last_position| (plan_id, last_position))
        }));
    }
    let mut written = Vec::with_capacity(plans);
    for task in tasks {
        written.push(task.await??);
    }
    drop(store);
    wait_closed(path).await;
    let (last_plan, _) = *written
        .iter()
        .max_by_key(|(_, position)| *position)
        .context("no plans")?;
    Ok(Fixture {
        tenant,
        plans: written.into_iter().map(|(plan, _)| plan).collect(),
        last_plan,
        version: events.max(1) - 1,
    })
}

/// Appends one plan's events in batches; returns the global position of
/// its last event.
async fn fill_plan(
    store: &SqliteEventStore,
    tenant: &TenantId,
    plan_id: PlanId,
    n: usize,
    events: u64,
    today: chrono::NaiveDate,
    filler: Filler,
) -> anyhow::Result<u64> {
    let stream = PlanCommands::plan_stream(tenant, plan_id);
    let mut written = 0u64;
    let mut last_position = 0;
    while written < events.max(1) {
        let end = (written + BATCH).min(events.max(1));
        let batch: Vec<NewEvent> = (written..end)
            .map(|k| {
                let event = if k == 0 {
                    PlanEvent::PlanCreated(PlanCreated {
                        plan_id,
                        client_id: format!("client-{n}"),
                        primary_clinician_id: CLINICIAN.into(),
                        clinic_id: CLINIC.into(),
                        title: format!("Treatment plan {n}"),
                        created_on: today,
                        template: None,
                        payer: String::new(),
                    })
                } else {
                    filler_event(filler, k)
                };
                envelope(tenant, &event)
            })
            .collect();
        let outcome = store
            .append(&stream, ExpectedRevision::after(written), batch)
            .await
            .with_context(|| format!("fill {stream}"))?;
        last_position = outcome.last_position;
        written = end;
    }
    Ok(last_position)
}

fn filler_event(filler: Filler, k: u64) -> PlanEvent {
    match filler {
        Filler::Goals => PlanEvent::GoalAdded(GoalAdded {
            goal_id: GoalId(Uuid::new_v4()),
            description: GOAL.into(),
            term: GoalTerm::ShortTerm,
        }),
        Filler::Context => PlanEvent::ClinicalContextRecorded(ClinicalContextRecorded {
            strengths: vec![
                "Insightful about triggers; keeps a daily mood log".into(),
                format!("Attended {k} sessions without a missed appointment"),
            ],
            barriers: vec!["Shift work makes evening practice hard".into()],
            supports: vec![Support {
                kind: SupportKind::Family,
                involvement: "Partner joins every fourth session".into(),
            }],
        }),
    }
}

/// The event as a command of its own would have stored it: the event id
/// derived from a fresh command id, which is also its causation id.
fn envelope(tenant: &TenantId, event: &PlanEvent) -> NewEvent {
    let command_id = Uuid::new_v4();
    NewEvent {
        event_id: derive_id(tenant.as_str(), command_id, "event-0"),
        event_type: event.event_type().to_owned(),
        schema_version: event.schema_version(),
        payload: event.encode(),
        metadata: EventMetadata {
            actor: Actor {
                subject: CLINICIAN.into(),
                role: Role::Clinician.as_str().to_owned(),
            },
            correlation_id: command_id,
            causation_id: command_id,
            request_id: command_id.to_string(),
            trace_id: String::new(),
            span_id: String::new(),
            reason: None,
        },
    }
}

/// The store's writer and checkpoint threads close the file (the last
/// connection checkpointing the WAL) once the last handle is gone; give
/// them a moment so the server opens a quiet file.
async fn wait_closed(path: &Path) {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&wal).exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the stream of each plan ends where the commands left it:
/// `expected[i]` events in plan i. Opened after the server stopped.
pub(crate) async fn verify(
    path: &Path,
    fixture: &Fixture,
    expected: &[u64],
) -> anyhow::Result<String> {
    let store: Arc<dyn EventStore> = Arc::new(SqliteEventStore::open(path)?);
    for (plan, &want) in fixture.plans.iter().zip(expected) {
        let stream = PlanCommands::plan_stream(&fixture.tenant, *plan);
        let last = store
            .read_stream(&stream, trellis_kernel::ReadDirection::Backward, None, 1)
            .await?;
        let len = last.first().map_or(0, |e| e.revision + 1);
        if len != want {
            return Ok(format!("{stream}: {len} events, {want} expected"));
        }
    }
    Ok("ok".into())
}
