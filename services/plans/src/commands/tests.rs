//! The cache is a cache: whatever commands arrive, in whatever batches,
//! the cached plan equals the plan folded from the store, and so does the
//! plan read back from its snapshot.

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use trellis_auth::{Caller, Role};
use trellis_kernel::{EventStore, MemorySnapshots, SnapshotStore};
use trellis_plans_domain::*;
use trellis_store_sqlite::SqliteEventStore;
use uuid::Uuid;

use super::cache::CachedPlan;
use super::*;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

pub(super) fn ctx(tenant: &TenantId) -> CommandContext {
    CommandContext {
        caller: Caller {
            tenant: tenant.clone(),
            subject: "clin-1".into(),
            roles: vec![Role::Clinician],
            clinics: vec!["clinic-a".into()],
        },
        command_id: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        request_id: "req".into(),
        trace_id: String::new(),
        span_id: String::new(),
    }
}

fn pick<T: Copy>(rng: &mut StdRng, from: &[T]) -> T {
    from[rng.random_range(0..from.len())]
}

/// A command from a small world of ids, so sequences hit existing and
/// missing goals, objectives and reviews alike.
fn random_command(rng: &mut StdRng, plan_id: PlanId) -> PlanCommand {
    let goal = GoalId(Uuid::from_u128(rng.random_range(1..4)));
    let objective = ObjectiveId(Uuid::from_u128(rng.random_range(10..15)));
    let review = ReviewId(Uuid::from_u128(rng.random_range(20..23)));
    match rng.random_range(0..12) {
        0 => PlanCommand::CreatePlan(CreatePlan {
            plan_id,
            client_id: "client-1".into(),
            primary_clinician_id: "clin-1".into(),
            clinic_id: "clinic-a".into(),
            title: "Plan".into(),
            payer: String::new(),
        }),
        1 | 2 => PlanCommand::AddGoal(AddGoal {
            goal_id: goal,
            description: "Sleep through the night".into(),
            term: pick(rng, &[GoalTerm::ShortTerm, GoalTerm::LongTerm]),
        }),
        3 => PlanCommand::CloseGoal(CloseGoal {
            goal_id: goal,
            outcome: pick(rng, &[GoalOutcome::Achieved, GoalOutcome::Discontinued]),
        }),
        4 | 5 => PlanCommand::AddObjective(AddObjective {
            objective_id: objective,
            goal_id: goal,
            description: "Fewer panic attacks a week".into(),
            quantity: Some(QuantityTarget {
                baseline: Some(10.0),
                target: Some(2.0),
                unit: "panic attacks".into(),
                period: "per week".into(),
            }),
            measure: None,
            target_date: Some(today() + Duration::days(60)),
        }),
        6 => PlanCommand::RecordObjectiveProgress(RecordObjectiveProgress {
            objective_id: objective,
            value: f64::from(rng.random_range(0..12)),
            observed_on: today(),
            source: ProgressSource::Clinician,
            note: String::new(),
        }),
        7 => PlanCommand::MarkObjectiveMet(MarkObjectiveMet {
            objective_id: objective,
        }),
        8 => PlanCommand::ScheduleReview(ScheduleReview {
            review_id: review,
            due_on: today() + Duration::days(30),
        }),
        9 => PlanCommand::RecordMeasure(RecordMeasure {
            measure_id: MeasureId(Uuid::new_v4()),
            instrument: Instrument::Phq9,
            answers: (0..9).map(|_| rng.random_range(0..4)).collect(),
            total: None,
            administered_on: today(),
            source: ProgressSource::ClientSelfReport,
        }),
        10 => PlanCommand::ActivatePlan(ActivatePlan {
            first_review: NextReview {
                review_id: review,
                interval_days: 90,
            },
        }),
        _ => PlanCommand::SignPlan(SignPlan {
            role: SignerRole::Clinician,
            signer_id: "clin-1".into(),
        }),
    }
}

/// The plan as its events say, folded from the first.
async fn folded(store: &Arc<dyn EventStore>, stream: &StreamName) -> (Plan, u64) {
    let events = store
        .read_stream(stream, ReadDirection::Forward, None, 100_000)
        .await
        .unwrap();
    let mut plan = Plan::default();
    for recorded in &events {
        plan.evolve(&decode(recorded).unwrap().expect("not erased"));
    }
    (plan, events.len() as u64)
}

async fn cached(commands: &PlanCommands, stream: &StreamName) -> CachedPlan {
    let slot = commands.cache.slot(stream);
    let state = slot.state.lock().await;
    state.clone().expect("the plan is cached")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cached_plan_is_the_plan_its_events_make() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
    let snapshots = Arc::new(MemorySnapshots::default());
    let commands = PlanCommands::new(Arc::clone(&store)).with_snapshots(snapshots.clone(), 7);
    let tenant = TenantId::parse("cache-property").unwrap();
    let seed = 0x5eed_cafe;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut accepted = 0;
    for sequence in 0..40 {
        let plan_id = PlanId(Uuid::from_u128(1000 + sequence));
        let stream = PlanCommands::plan_stream(&tenant, plan_id);
        commands
            .handle(&ctx(&tenant), plan_id, &random_command(&mut rng, plan_id))
            .await
            .ok();
        for _ in 0..6 {
            // Several at once, so they share batches.
            let burst: Vec<_> = (0..rng.random_range(1..6))
                .map(|_| {
                    let (commands, tenant) = (commands.clone(), tenant.clone());
                    let command = random_command(&mut rng, plan_id);
                    tokio::spawn(
                        async move { commands.handle(&ctx(&tenant), plan_id, &command).await },
                    )
                })
                .collect();
            for task in burst {
                match task.await.unwrap() {
                    Ok(_) => accepted += 1,
                    Err(CommandError::Rejected(_) | CommandError::Denied(_)) => {}
                    Err(other) => panic!("sequence {sequence} (seed {seed}): {other:?}"),
                }
            }
        }
        let (plan, len) = folded(&store, &stream).await;
        if len == 0 {
            continue;
        }
        let cached = cached(&commands, &stream).await;
        assert_eq!(cached.plan, plan, "sequence {sequence} (seed {seed})");
        assert_eq!(cached.len, len);
        // And read back from a snapshot it equals the cached plan.
        let back = snapshot::decode(&snapshot::encode(&cached)).unwrap();
        assert_eq!(back.plan, cached.plan);
        assert_eq!(back.commands, cached.commands);
    }
    assert!(accepted > 100, "only {accepted} commands were accepted");

    // A process that starts cold reads the same plans from snapshots and
    // the events after them.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let cold = PlanCommands::new(Arc::clone(&store)).with_snapshots(snapshots.clone(), 7);
    let mut from_snapshots = 0;
    for sequence in 0..40 {
        let plan_id = PlanId(Uuid::from_u128(1000 + sequence));
        let stream = PlanCommands::plan_stream(&tenant, plan_id);
        let (plan, len) = folded(&store, &stream).await;
        if len == 0 {
            continue;
        }
        if snapshots.load_snapshot(&stream).await.unwrap().is_some() {
            from_snapshots += 1;
        }
        let probe = PlanCommand::MarkObjectiveMet(MarkObjectiveMet {
            objective_id: ObjectiveId(Uuid::from_u128(99)),
        });
        let _ = cold.handle(&ctx(&tenant), plan_id, &probe).await;
        let loaded = cached(&cold, &stream).await;
        assert_eq!(loaded.plan, plan, "cold load of sequence {sequence}");
        assert_eq!(loaded.len, len);
    }
    assert!(
        from_snapshots > 10,
        "only {from_snapshots} plans had snapshots"
    );
}

#[tokio::test]
async fn a_retry_older_than_the_snapshot_is_still_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
    let snapshots = Arc::new(MemorySnapshots::default());
    let commands = PlanCommands::new(Arc::clone(&store)).with_snapshots(snapshots.clone(), 5);
    let tenant = TenantId::parse("cache-retry").unwrap();
    let plan_id = PlanId(Uuid::new_v4());
    let create = ctx(&tenant);
    let mut rng = StdRng::seed_from_u64(7);
    let first = loop {
        if let Ok(o) = commands
            .handle(&create, plan_id, &random_command(&mut rng, plan_id))
            .await
            && !o.duplicate
        {
            break o;
        }
    };
    for n in 0..20u128 {
        let goal = PlanCommand::AddGoal(AddGoal {
            goal_id: GoalId(Uuid::from_u128(500 + n)),
            description: "Walk daily".into(),
            term: GoalTerm::ShortTerm,
        });
        commands
            .handle(&ctx(&tenant), plan_id, &goal)
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let stream = PlanCommands::plan_stream(&tenant, plan_id);
    let stored = snapshots
        .load_snapshot(&stream)
        .await
        .unwrap()
        .expect("a snapshot");
    assert!(stored.revision > first.revision);
    // A new process, cold: the first command's id is in the snapshot.
    let cold = PlanCommands::new(Arc::clone(&store)).with_snapshots(snapshots, 5);
    let again = cold
        .handle(&create, plan_id, &random_command(&mut rng, plan_id))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.revision, first.revision);
}
