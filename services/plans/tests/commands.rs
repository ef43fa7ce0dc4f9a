//! Command handling against a real (embedded) store.

use std::sync::Arc;

use trellis_auth::{Caller, Role};
use trellis_kernel::{EventStore, ReadDirection, StreamName, TenantId};
use trellis_plans::{CommandContext, CommandError, PlanCommands};
use trellis_plans_domain::review_rules::{REVIEW_RULES_CATEGORY, REVIEW_RULES_STREAM_ID};
use trellis_plans_domain::template::{
    PlanTemplate, TEMPLATES_CATEGORY, TEMPLATES_STREAM_ID, builtin_templates,
};
use trellis_plans_domain::{AddGoal, CreatePlan, GoalId, GoalTerm, PlanCommand, PlanError, PlanId};
use trellis_store_sqlite::SqliteEventStore;
use uuid::Uuid;

fn store() -> (tempfile::TempDir, Arc<dyn EventStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
    (dir, Arc::new(store))
}

fn ctx(tenant: &str) -> CommandContext {
    CommandContext {
        caller: Caller {
            tenant: TenantId::parse(tenant).unwrap(),
            subject: "clin-1".into(),
            roles: vec![Role::Clinician],
            clinics: vec!["clinic-a".into()],
        },
        command_id: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        request_id: "req-1".into(),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: "00f067aa0ba902b7".into(),
    }
}

/// A command of the tenant's admin (settings commands are theirs).
fn admin(tenant: &str) -> CommandContext {
    let mut ctx = ctx(tenant);
    ctx.caller.subject = "admin-1".into();
    ctx.caller.roles = vec![Role::Admin];
    ctx
}

async fn settings_len(
    store: &Arc<dyn EventStore>,
    tenant: &str,
    category: &str,
    id: &str,
) -> usize {
    let stream = StreamName::new(TenantId::parse(tenant).unwrap(), category, id).unwrap();
    store
        .read_stream(&stream, ReadDirection::Forward, None, 1000)
        .await
        .unwrap()
        .len()
}

/// Valid template content: a built-in template's, renamed.
fn template(name: &str) -> PlanTemplate {
    PlanTemplate {
        name: name.into(),
        ..builtin_templates().remove(0).1
    }
}

fn create(plan_id: PlanId) -> PlanCommand {
    PlanCommand::CreatePlan(CreatePlan {
        plan_id,
        client_id: "client-1".into(),
        primary_clinician_id: "clin-1".into(),
        clinic_id: "clinic-a".into(),
        title: String::new(),
        payer: String::new(),
    })
}

fn add_goal(n: u128) -> PlanCommand {
    PlanCommand::AddGoal(AddGoal {
        goal_id: GoalId(Uuid::from_u128(n)),
        description: format!("Goal {n}"),
        term: GoalTerm::LongTerm,
    })
}

async fn stream_len(store: &Arc<dyn EventStore>, tenant: &str, plan: PlanId) -> usize {
    let stream = PlanCommands::plan_stream(&TenantId::parse(tenant).unwrap(), plan);
    store
        .read_stream(&stream, ReadDirection::Forward, None, 1000)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn events_carry_the_full_provenance_of_their_command() {
    let (_dir, store) = store();
    let commands = PlanCommands::new(Arc::clone(&store));
    let plan = PlanId(Uuid::new_v4());
    let ctx = ctx("prov");
    commands.handle(&ctx, plan, &create(plan)).await.unwrap();
    let stream = PlanCommands::plan_stream(&ctx.caller.tenant, plan);
    let stored = store
        .read_stream(&stream, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    let m = &stored[0].metadata;
    assert_eq!(m.actor.subject, "clin-1");
    assert_eq!(m.actor.role, "clinician");
    assert_eq!(m.causation_id, ctx.command_id);
    assert_eq!(m.correlation_id, ctx.correlation_id);
    assert_eq!(m.request_id, "req-1");
    assert_eq!(m.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(stored[0].tenant().as_str(), "prov");
}

#[tokio::test]
async fn a_command_sent_twice_is_applied_once() {
    let (_dir, store) = store();
    let commands = PlanCommands::new(Arc::clone(&store));
    let plan = PlanId(Uuid::new_v4());
    commands
        .handle(&ctx("retry"), plan, &create(plan))
        .await
        .unwrap();
    let ctx = ctx("retry");
    let first = commands.handle(&ctx, plan, &add_goal(1)).await.unwrap();
    let again = commands.handle(&ctx, plan, &add_goal(1)).await.unwrap();
    assert!(!first.duplicate);
    assert!(again.duplicate);
    assert_eq!(again.revision, first.revision);
    assert_eq!(stream_len(&store, "retry", plan).await, 2);
}

#[tokio::test]
async fn a_refused_command_writes_nothing() {
    let (_dir, store) = store();
    let commands = PlanCommands::new(Arc::clone(&store));
    let plan = PlanId(Uuid::new_v4());
    commands
        .handle(&ctx("refuse"), plan, &create(plan))
        .await
        .unwrap();
    commands
        .handle(&ctx("refuse"), plan, &add_goal(1))
        .await
        .unwrap();
    let err = commands
        .handle(&ctx("refuse"), plan, &add_goal(1))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CommandError::Rejected(PlanError::GoalAlreadyExists(_))
    ));
    assert_eq!(stream_len(&store, "refuse", plan).await, 2);
}

/// Commands of one process on one plan queue behind each other instead of
/// racing: 32 at once are all accepted on their first try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_writers_on_one_plan_are_all_accepted() {
    let (_dir, store) = store();
    let commands = PlanCommands::new(Arc::clone(&store));
    let plan = PlanId(Uuid::new_v4());
    commands
        .handle(&ctx("race"), plan, &create(plan))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..32 {
        let commands = commands.clone();
        tasks.push(tokio::spawn(async move {
            commands.handle(&ctx("race"), plan, &add_goal(n)).await
        }));
    }
    let mut revisions = Vec::new();
    for task in tasks {
        let outcome = task.await.unwrap().expect("accepted");
        assert!(!outcome.duplicate);
        revisions.push(outcome.revision);
    }
    revisions.sort_unstable();
    let expected: Vec<u64> = (1..=32).collect();
    assert_eq!(revisions, expected, "each command got its own revision");
    assert_eq!(stream_len(&store, "race", plan).await, 33);
}

/// Two processes writing one plan: each sees what the other appended
/// before it decides (its cache is checked against the stream's end).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_plan_see_each_others_commands() {
    let (_dir, store) = store();
    let first = PlanCommands::new(Arc::clone(&store));
    let second = PlanCommands::new(Arc::clone(&store));
    let plan = PlanId(Uuid::new_v4());
    first
        .handle(&ctx("two"), plan, &create(plan))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..16 {
        let commands = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            commands.handle(&ctx("two"), plan, &add_goal(n)).await
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => accepted += 1,
            // Only a race with another process can be lost, and only
            // after retries.
            Err(CommandError::Contended) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(stream_len(&store, "two", plan).await, accepted + 1);
    // A goal the other process added is known to this one.
    let again = first.handle(&ctx("two"), plan, &add_goal(1)).await;
    assert!(
        matches!(
            again,
            Err(CommandError::Rejected(PlanError::GoalAlreadyExists(_)))
        ),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_plan_in_another_tenant_is_not_found() {
    let (_dir, store) = store();
    let commands = PlanCommands::new(Arc::clone(&store));
    let plan = PlanId(Uuid::new_v4());
    commands
        .handle(&ctx("home"), plan, &create(plan))
        .await
        .unwrap();
    let err = commands
        .handle(&ctx("away"), plan, &add_goal(1))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CommandError::Rejected(PlanError::PlanNotFound)
    ));
    assert_eq!(stream_len(&store, "away", plan).await, 0);
}

#[test]
fn derived_plan_ids_stay_those_stored_plans_were_created_under() {
    // The demo's first plan (README): tenant "demo", its "create" command.
    let demo = Uuid::from_u128(0x3e83_1fe6_1c28_4e02_9a5f_0d3c_7b1e_aa01);
    let command_id = Uuid::new_v5(&demo, b"demo/emma-lee/create");
    let derived = PlanCommands::derived_plan_id(&TenantId::parse("demo").unwrap(), command_id);
    assert_eq!(derived.to_string(), "1f605275-806a-5ed9-9b74-1c0527f2682f");
}

#[tokio::test]
async fn a_review_rule_sent_twice_is_set_once_and_answered_as_the_first_time() {
    let (_dir, store) = store();
    let commands = PlanCommands::new(Arc::clone(&store));
    let ctx = admin("rules");
    let first = commands
        .set_review_rule(&ctx, "medicaid", 30)
        .await
        .unwrap();
    commands
        .set_review_rule(&admin("rules"), "aetna", 45)
        .await
        .unwrap();
    let again = commands
        .set_review_rule(&ctx, "medicaid", 30)
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(
        settings_len(
            &store,
            "rules",
            REVIEW_RULES_CATEGORY,
            REVIEW_RULES_STREAM_ID
        )
        .await,
        2
    );
    // The first answer, without the later rule, which stays in force.
    assert_eq!(first, [(String::new(), 90), ("medicaid".to_owned(), 30)]);
    let rules = commands.read_review_rules(&ctx.caller).await.unwrap();
    assert!(rules.contains(&("aetna".to_owned(), 45)));
}

#[tokio::test]
async fn a_template_saved_twice_is_saved_once_and_answered_as_the_first_save() {
    let (_dir, store) = store();
    let commands = PlanCommands::new(Arc::clone(&store));
    let ctx = admin("tsave");
    let first = commands
        .save_template(&ctx, "panic", template("Panic"))
        .await
        .unwrap();
    let later = commands
        .save_template(&admin("tsave"), "panic", template("Panic, v2"))
        .await
        .unwrap();
    assert_eq!((first.reference.version, later.reference.version), (1, 2));
    let again = commands
        .save_template(&ctx, "panic", template("Panic"))
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(
        settings_len(&store, "tsave", TEMPLATES_CATEGORY, TEMPLATES_STREAM_ID).await,
        2
    );
}

#[tokio::test]
async fn a_template_retired_twice_is_retired_once() {
    let (_dir, store) = store();
    let commands = PlanCommands::new(Arc::clone(&store));
    commands
        .save_template(&admin("tretire"), "panic", template("Panic"))
        .await
        .unwrap();
    let ctx = admin("tretire");
    commands.retire_template(&ctx, "panic").await.unwrap();
    commands.retire_template(&ctx, "panic").await.unwrap();
    assert_eq!(
        settings_len(&store, "tretire", TEMPLATES_CATEGORY, TEMPLATES_STREAM_ID).await,
        2
    );
    // A new command to retire it again is refused: it is gone.
    let err = commands
        .retire_template(&admin("tretire"), "panic")
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CommandError::Rejected(PlanError::UnknownTemplate)
    ));
}
