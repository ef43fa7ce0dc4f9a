//! The `PlanService` gRPC edge, in memory: every rpc is called directly on
//! `PlanGrpc`, with the caller in the request extensions as the
//! authentication interceptor leaves it, against a real SQLite event store
//! in a temporary directory. No sockets, no server.
//!
//! For each rpc: the wire fields reach the stored event (every value of
//! every enum the rpc takes), the answer names the plan, the entity and the
//! revision, a resent command is answered as a duplicate without writing,
//! bad input is refused naming exactly the bad fields and writes nothing,
//! and one domain rule comes back with its status code.

use std::fmt::Debug;
use std::sync::Arc;

use chrono::{Days, NaiveDate, Utc};
use tempfile::TempDir;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;
use trellis_auth::{Caller, Role};
use trellis_kernel::{EventStore, ReadDirection, RecordedEvent, StreamName, TenantId};
use trellis_plans::PlanCommands;
use trellis_plans::grpc::PlanGrpc;
use trellis_plans_domain::review_rules::{
    REVIEW_RULES_CATEGORY, REVIEW_RULES_STREAM_ID, ReviewRuleEvent, ReviewRuleSet,
};
use trellis_plans_domain::template::{
    self, PlanTemplate, TEMPLATES_CATEGORY, TEMPLATES_STREAM_ID, TemplateEvent, TemplateGoal,
    TemplateIntervention, TemplateObjective, TemplateRef, TemplateRetired, TemplateSaved,
};
use trellis_plans_domain::{
    CareTeamAssigned, ClinicalContextRecorded, ConsentKind, ConsentRecorded, CorrectionTarget,
    CrisisContact, DiagnosisAdded, EnteredInError, GoalAdded, GoalClosed, GoalId, GoalOutcome,
    GoalRevised, GoalTerm, Instrument, InterventionAdded, InterventionId, MeasureId,
    MeasureRecorded, MeasureScheduled, MeasureTarget, Modality, ObjectiveAdded, ObjectiveDrafted,
    ObjectiveId, ObjectiveMet, ObjectiveNotMet, ObjectiveProgressRecorded, ObjectiveRevised,
    PlanActivated, PlanClosed, PlanClosure, PlanCreated, PlanEvent, PlanId, PlanPutOnHold,
    PlanResumed, PlanSigned, PresentingProblemRecorded, ProgressSource, ReferralAdded, ReferralId,
    ReferralStatus, ReferralStatusChanged, ReviewDecision, ReviewHeld, ReviewId, ReviewOrigin,
    ReviewScheduled, SafetyFlagAcknowledged, SafetyFlagId, SafetyFlagRaised, SafetyPlanRecorded,
    ServicePlanRecorded, SignerRole, Support, SupportKind, Symptom, child_id, target_score,
};
use trellis_proto::plans::v1 as pb;
use trellis_store_sqlite::SqliteEventStore;
use uuid::Uuid;

// ---------------------------------------------------------------------------
// Support: the fixture, the `call!` helper, outcomes, dates and enum tables
// ---------------------------------------------------------------------------

const CLIN: &str = "clin-1";
const CLIENT: &str = "client-1";
const CLINIC: &str = "clinic-a";
const SUPERVISOR: &str = "sup-1";

/// Sends `body` to one rpc of the fixture's service, as the fixture's
/// clinician or `as` another caller, and answers the reply's message.
macro_rules! call {
    ($fx:ident . $rpc:ident ($body:expr)) => {
        call!($fx.$rpc($body) as $fx.clinician())
    };
    ($fx:ident . $rpc:ident ($body:expr) as $caller:expr) => {
        trellis_proto::plans::v1::plan_service_server::PlanService::$rpc(
            &$fx.grpc,
            with_caller($caller, $body),
        )
        .await
        .map(tonic::Response::into_inner)
    };
}

/// A request as the interceptor hands it on: the caller in its extensions.
fn with_caller<T>(caller: Caller, body: T) -> Request<T> {
    let mut request = Request::new(body);
    request.extensions_mut().insert(caller);
    request
}

/// The service over a fresh store, and a tenant of its own.
struct Fixture {
    grpc: PlanGrpc,
    store: Arc<dyn EventStore>,
    tenant: TenantId,
    _dir: TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
        Self {
            grpc: PlanGrpc::new(PlanCommands::new(Arc::clone(&store))),
            store,
            tenant: fresh_tenant(),
            _dir: dir,
        }
    }

    fn caller(&self, subject: &str, role: Role) -> Caller {
        Caller {
            tenant: self.tenant.clone(),
            subject: subject.into(),
            roles: vec![role],
            clinics: vec![CLINIC.into()],
        }
    }

    fn clinician(&self) -> Caller {
        self.caller(CLIN, Role::Clinician)
    }

    fn supervisor(&self) -> Caller {
        self.caller(SUPERVISOR, Role::Supervisor)
    }

    fn client(&self) -> Caller {
        self.caller(CLIENT, Role::Client)
    }

    fn admin(&self) -> Caller {
        self.caller("admin-1", Role::Admin)
    }

    fn auditor(&self) -> Caller {
        self.caller("aud-1", Role::Auditor)
    }

    async fn recorded(&self, stream: &StreamName) -> Vec<RecordedEvent> {
        self.store
            .read_stream(stream, ReadDirection::Forward, None, 10_000)
            .await
            .unwrap()
    }

    /// The plan's stream, decoded.
    async fn events_of(&self, plan: PlanId) -> Vec<PlanEvent> {
        let stream = PlanCommands::plan_stream(&self.tenant, plan);
        self.recorded(&stream)
            .await
            .iter()
            .map(|e| PlanEvent::decode(&e.event_type, e.schema_version, &e.payload).unwrap())
            .collect()
    }

    /// The number of events in the plan's stream: the next revision.
    async fn len_of(&self, plan: PlanId) -> u64 {
        self.events_of(plan).await.len() as u64
    }

    /// What was appended to the plan from `revision` on.
    async fn events_from(&self, plan: PlanId, revision: u64) -> Vec<PlanEvent> {
        self.events_of(plan).await[revision as usize..].to_vec()
    }

    fn settings_stream(&self, category: &str, id: &str) -> StreamName {
        StreamName::new(self.tenant.clone(), category, id).unwrap()
    }

    async fn review_rule_events(&self) -> Vec<ReviewRuleEvent> {
        let stream = self.settings_stream(REVIEW_RULES_CATEGORY, REVIEW_RULES_STREAM_ID);
        self.recorded(&stream)
            .await
            .iter()
            .map(|e| ReviewRuleEvent::decode(&e.event_type, e.schema_version, &e.payload).unwrap())
            .collect()
    }

    async fn template_events(&self) -> Vec<TemplateEvent> {
        let stream = self.settings_stream(TEMPLATES_CATEGORY, TEMPLATES_STREAM_ID);
        self.recorded(&stream)
            .await
            .iter()
            .map(|e| TemplateEvent::decode(&e.event_type, e.schema_version, &e.payload).unwrap())
            .collect()
    }

    /// Resending `first`'s command answers it again, marked duplicate, and
    /// writes nothing (`first` must be the plan's latest command).
    #[track_caller]
    fn assert_duplicate(
        &self,
        first: &pb::CommandResponse,
        again: Result<pb::CommandResponse, Status>,
    ) -> impl Future<Output = ()> {
        let again = ok(again);
        assert_eq!(
            again,
            pb::CommandResponse {
                duplicate: true,
                ..first.clone()
            }
        );
        let plan = PlanId(first.plan_id.parse().unwrap());
        let revision = first.revision;
        async move { assert_eq!(self.len_of(plan).await, revision + 1, "a resend wrote") }
    }

    // Setup, as the plan's primary clinician.

    async fn plan(&self) -> PlanId {
        self.plan_for_payer("").await
    }

    async fn plan_for_payer(&self, payer: &str) -> PlanId {
        let plan = PlanId(Uuid::new_v4());
        ok(call!(self.create_plan(create_request(plan, payer))));
        plan
    }

    async fn goal(&self, plan: PlanId) -> GoalId {
        let goal = GoalId(Uuid::new_v4());
        ok(call!(self.add_goal(pb::AddGoalRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            goal_id: goal.to_string(),
            description: "Worry less".into(),
            term: pb::GoalTerm::ShortTerm.into(),
        })));
        goal
    }

    async fn objective(&self, plan: PlanId, goal: GoalId) -> ObjectiveId {
        let objective = ObjectiveId(Uuid::new_v4());
        ok(call!(self.add_objective(pb::AddObjectiveRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            objective_id: objective.to_string(),
            goal_id: goal.to_string(),
            description: "Fewer panic attacks".into(),
            quantity: Some(quantity(4.0, 1.0)),
            target_date: in_days(90).to_string(),
            measure: None,
        })));
        objective
    }

    /// A measure given as its total only.
    async fn measure(&self, plan: PlanId, instrument: pb::Instrument, total: u32) -> MeasureId {
        self.measure_with(plan, instrument, vec![], Some(total))
            .await
    }

    async fn measure_with(
        &self,
        plan: PlanId,
        instrument: pb::Instrument,
        answers: Vec<u32>,
        total: Option<u32>,
    ) -> MeasureId {
        let measure = MeasureId(Uuid::new_v4());
        ok(call!(self.record_measure(pb::RecordMeasureRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            measure_id: measure.to_string(),
            instrument: instrument.into(),
            answers,
            total,
            administered_on: days_ago(1).to_string(),
            source: pb::ProgressSource::Clinician.into(),
        })));
        measure
    }

    async fn review(&self, plan: PlanId) -> ReviewId {
        let review = ReviewId(Uuid::new_v4());
        ok(call!(self.schedule_review(pb::ScheduleReviewRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            review_id: review.to_string(),
            due_on: in_days(14).to_string(),
        })));
        review
    }

    async fn intervention(&self, plan: PlanId, goal: GoalId) -> InterventionId {
        let intervention = InterventionId(Uuid::new_v4());
        ok(call!(self.add_intervention(pb::AddInterventionRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            intervention_id: intervention.to_string(),
            modality: pb::Modality::Cbt.into(),
            other_modality: String::new(),
            technique: "Cognitive restructuring".into(),
            frequency: "weekly".into(),
            goal_ids: vec![goal.to_string()],
            comorbidity: String::new(),
        })));
        intervention
    }

    async fn referral(&self, plan: PlanId, status: pb::ReferralStatus) -> ReferralId {
        let referral = ReferralId(Uuid::new_v4());
        ok(call!(self.add_referral(pb::AddReferralRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            referral_id: referral.to_string(),
            to: "psychiatrist".into(),
            reason: "medication evaluation".into(),
            status: status.into(),
        })));
        referral
    }

    async fn diagnosis(&self, plan: PlanId, code: &str) {
        ok(call!(self.add_diagnosis(pb::AddDiagnosisRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            code: code.into(),
            primary: false,
        })));
    }

    async fn consent(&self, plan: PlanId, kind: pb::ConsentKind) {
        ok(call!(self.record_consent(pb::RecordConsentRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            kind: kind.into(),
            given_on: days_ago(1).to_string(),
            note: String::new(),
        })));
    }

    /// A draft with everything activation asks for.
    async fn ready_draft(&self, payer: &str) -> PlanId {
        let plan = self.plan_for_payer(payer).await;
        self.diagnosis(plan, "F41.1").await;
        ok(call!(
            self.record_presenting_problem(presenting_problem(plan))
        ));
        let goal = self.goal(plan).await;
        self.objective(plan, goal).await;
        self.intervention(plan, goal).await;
        plan
    }

    async fn active_plan(&self) -> PlanId {
        let plan = self.ready_draft("").await;
        ok(call!(self.activate_plan(pb::ActivatePlanRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
        })));
        plan
    }

    async fn on_hold_plan(&self) -> PlanId {
        let plan = self.active_plan().await;
        ok(call!(self.put_plan_on_hold(pb::PutPlanOnHoldRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            reason: "travelling".into(),
        })));
        plan
    }

    /// Saves a tenant template as an admin.
    async fn saved_template(&self, template: pb::PlanTemplate) -> pb::PlanTemplate {
        ok(call!(self.save_template(pb::SaveTemplateRequest {
            command_id: cid(),
            template: Some(template),
        }) as self.admin()))
    }
}

fn fresh_tenant() -> TenantId {
    TenantId::parse(&format!("t-{}", Uuid::new_v4().simple())).unwrap()
}

fn cid() -> String {
    Uuid::new_v4().to_string()
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn days_ago(n: u64) -> NaiveDate {
    today().checked_sub_days(Days::new(n)).unwrap()
}

fn in_days(n: u64) -> NaiveDate {
    today().checked_add_days(Days::new(n)).unwrap()
}

/// An accepted command's answer.
fn answer(plan: PlanId, entity: Uuid, revision: u64) -> pb::CommandResponse {
    pb::CommandResponse {
        plan_id: plan.to_string(),
        entity_id: entity.to_string(),
        revision,
        duplicate: false,
    }
}

#[track_caller]
fn ok<T>(result: Result<T, Status>) -> T {
    result.unwrap_or_else(|s| panic!("refused: {:?}: {}", s.code(), s.message()))
}

#[track_caller]
fn refused<T: Debug>(result: Result<T, Status>, code: Code) -> Status {
    let status = result.expect_err("the request was accepted");
    assert_eq!(status.code(), code, "{}", status.message());
    status
}

/// The fields an `INVALID_ARGUMENT` names, in its order.
fn violations(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// Refused as `INVALID_ARGUMENT` naming exactly `fields`, in any order.
#[track_caller]
fn assert_invalid<T: Debug>(result: Result<T, Status>, fields: &[&str]) -> Status {
    let status = refused(result, Code::InvalidArgument);
    let mut named = violations(&status);
    named.sort();
    let mut expected: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    expected.sort();
    assert_eq!(named, expected, "{}", status.message());
    status
}

fn create_request(plan: PlanId, payer: &str) -> pb::CreatePlanRequest {
    pb::CreatePlanRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        client_id: CLIENT.into(),
        primary_clinician_id: CLIN.into(),
        clinic_id: CLINIC.into(),
        title: "Anxiety plan".into(),
        payer: payer.into(),
    }
}

fn quantity(baseline: f64, target: f64) -> pb::Quantity {
    pb::Quantity {
        baseline: Some(baseline),
        target: Some(target),
        unit: "panic attacks".into(),
        period: "week".into(),
    }
}

fn presenting_problem(plan: PlanId) -> pb::RecordPresentingProblemRequest {
    pb::RecordPresentingProblemRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        narrative: "Persistent worry about work and health".into(),
        symptoms: vec![
            pb::Symptom {
                name: "insomnia".into(),
                frequency: "nightly".into(),
                intensity: "moderate".into(),
                onset: "a month ago".into(),
            },
            pb::Symptom {
                name: "restlessness".into(),
                frequency: "3-4 times a week".into(),
                intensity: "mild".into(),
                onset: "childhood".into(),
            },
        ],
    }
}

// Every non-UNSPECIFIED wire value of each enum with its domain value;
// `every_wire_enum_value_has_a_case_here` keeps the tables complete.

fn terms() -> [(pb::GoalTerm, GoalTerm); 2] {
    [
        (pb::GoalTerm::ShortTerm, GoalTerm::ShortTerm),
        (pb::GoalTerm::LongTerm, GoalTerm::LongTerm),
    ]
}

fn outcomes() -> [(pb::GoalOutcome, GoalOutcome); 2] {
    [
        (pb::GoalOutcome::Achieved, GoalOutcome::Achieved),
        (pb::GoalOutcome::Discontinued, GoalOutcome::Discontinued),
    ]
}

fn sources() -> [(pb::ProgressSource, ProgressSource); 2] {
    [
        (pb::ProgressSource::Clinician, ProgressSource::Clinician),
        (
            pb::ProgressSource::ClientSelfReport,
            ProgressSource::ClientSelfReport,
        ),
    ]
}

fn instruments() -> [(pb::Instrument, Instrument); 3] {
    [
        (pb::Instrument::Phq9, Instrument::Phq9),
        (pb::Instrument::Gad7, Instrument::Gad7),
        (pb::Instrument::Pswq, Instrument::Pswq),
    ]
}

fn decisions() -> [(pb::ReviewDecision, ReviewDecision); 3] {
    [
        (pb::ReviewDecision::Continue, ReviewDecision::Continue),
        (pb::ReviewDecision::Revise, ReviewDecision::Revise),
        (pb::ReviewDecision::Discharge, ReviewDecision::Discharge),
    ]
}

/// Wire modality, the `other_modality` sent with it, the domain modality.
fn modalities() -> Vec<(pb::Modality, &'static str, Modality)> {
    use pb::Modality as W;
    vec![
        (W::Cbt, "", Modality::Cbt),
        (W::Dbt, "", Modality::Dbt),
        (W::Act, "", Modality::Act),
        (W::Mbsr, "", Modality::Mbsr),
        (W::Exposure, "", Modality::Exposure),
        (W::FamilyTherapy, "", Modality::FamilyTherapy),
        (W::Psychoeducation, "", Modality::Psychoeducation),
        (W::RelaxationTraining, "", Modality::RelaxationTraining),
        (
            W::BehaviouralActivation,
            "",
            Modality::BehaviouralActivation,
        ),
        (W::SleepHygiene, "", Modality::SleepHygiene),
        (
            W::MotivationalInterviewing,
            "",
            Modality::MotivationalInterviewing,
        ),
        (W::Other, "EMDR", Modality::Other("EMDR".into())),
    ]
}

fn support_kinds() -> [(pb::SupportKind, SupportKind); 3] {
    [
        (pb::SupportKind::Family, SupportKind::Family),
        (pb::SupportKind::Social, SupportKind::Social),
        (pb::SupportKind::Community, SupportKind::Community),
    ]
}

fn referral_statuses() -> [(pb::ReferralStatus, ReferralStatus); 4] {
    [
        (pb::ReferralStatus::Planned, ReferralStatus::Planned),
        (pb::ReferralStatus::Made, ReferralStatus::Made),
        (pb::ReferralStatus::Completed, ReferralStatus::Completed),
        (pb::ReferralStatus::Declined, ReferralStatus::Declined),
    ]
}

fn closures() -> [(pb::PlanClosure, PlanClosure); 3] {
    [
        (pb::PlanClosure::Completed, PlanClosure::Completed),
        (pb::PlanClosure::Discharged, PlanClosure::Discharged),
        (pb::PlanClosure::Transferred, PlanClosure::Transferred),
    ]
}

fn consent_kinds() -> [(pb::ConsentKind, ConsentKind); 3] {
    [
        (pb::ConsentKind::Treatment, ConsentKind::Treatment),
        (
            pb::ConsentKind::InformationRelease,
            ConsentKind::InformationRelease,
        ),
        (pb::ConsentKind::Telehealth, ConsentKind::Telehealth),
    ]
}

/// Every wire value above zero that `E` knows.
fn wire_values<E: TryFrom<i32>>() -> Vec<i32> {
    (1..256).filter(|v| E::try_from(*v).is_ok()).collect()
}

#[test]
fn every_wire_enum_value_has_a_case_here() {
    fn values<W: Into<i32>, D>(table: impl IntoIterator<Item = (W, D)>) -> Vec<i32> {
        let mut v: Vec<i32> = table.into_iter().map(|(w, _)| w.into()).collect();
        v.sort_unstable();
        v
    }
    assert_eq!(values(terms()), wire_values::<pb::GoalTerm>());
    assert_eq!(values(outcomes()), wire_values::<pb::GoalOutcome>());
    assert_eq!(values(sources()), wire_values::<pb::ProgressSource>());
    assert_eq!(values(instruments()), wire_values::<pb::Instrument>());
    assert_eq!(values(decisions()), wire_values::<pb::ReviewDecision>());
    assert_eq!(
        values(modalities().into_iter().map(|(w, _, d)| (w, d))),
        wire_values::<pb::Modality>()
    );
    assert_eq!(values(support_kinds()), wire_values::<pb::SupportKind>());
    assert_eq!(
        values(referral_statuses()),
        wire_values::<pb::ReferralStatus>()
    );
    assert_eq!(values(closures()), wire_values::<pb::PlanClosure>());
    assert_eq!(values(consent_kinds()), wire_values::<pb::ConsentKind>());
    assert_eq!(
        wire_values::<pb::SignerRole>(),
        [1, 2, 3],
        "sign_plan_maps_every_role signs in each role"
    );
    assert_eq!(
        wire_values::<pb::EntryKind>(),
        (1..=7).collect::<Vec<_>>(),
        "enter_in_error_maps_every_kind corrects each kind"
    );
}

// ---------------------------------------------------------------------------
// Access: who may call, and what another tenant's plan looks like
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_request_without_a_caller_is_unauthenticated() {
    let fx = Fixture::new();
    let plan = PlanId(Uuid::new_v4());
    let unauthenticated = trellis_proto::plans::v1::plan_service_server::PlanService::create_plan(
        &fx.grpc,
        Request::new(create_request(plan, "")),
    )
    .await;
    refused(unauthenticated, Code::Unauthenticated);
    assert_eq!(fx.len_of(plan).await, 0);
}

#[tokio::test]
async fn a_plan_of_another_tenant_is_answered_exactly_like_a_missing_one() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = |plan: PlanId| pb::AddGoalRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        goal_id: String::new(),
        description: "Worry less".into(),
        term: pb::GoalTerm::LongTerm.into(),
    };
    let elsewhere = Caller {
        tenant: fresh_tenant(),
        ..fx.clinician()
    };
    let foreign = refused(call!(fx.add_goal(goal(plan)) as elsewhere), Code::NotFound);
    let missing = refused(
        call!(fx.add_goal(goal(PlanId(Uuid::new_v4())))),
        Code::NotFound,
    );
    let not_on_the_team = refused(
        call!(fx.add_goal(goal(plan)) as fx.caller("clin-9", Role::Clinician)),
        Code::NotFound,
    );
    assert_eq!(foreign.message(), missing.message());
    assert_eq!(not_on_the_team.message(), missing.message());
    assert_eq!(foreign.details(), missing.details());
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn an_auditor_sends_no_commands() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let new_plan = PlanId(Uuid::new_v4());
    refused(
        call!(fx.create_plan(create_request(new_plan, "")) as fx.auditor()),
        Code::PermissionDenied,
    );
    let add_goal = pb::AddGoalRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        goal_id: String::new(),
        description: "Worry less".into(),
        term: pb::GoalTerm::LongTerm.into(),
    };
    refused(
        call!(fx.add_goal(add_goal) as fx.auditor()),
        Code::PermissionDenied,
    );
    assert_eq!(fx.len_of(new_plan).await, 0);
    assert_eq!(fx.len_of(plan).await, 1);
}

// ---------------------------------------------------------------------------
// Goals & objectives: CreatePlan, AddGoal, CloseGoal, ReviseGoal,
// AddObjective, RecordObjectiveProgress, MarkObjectiveMet,
// MarkObjectiveNotMet
// ---------------------------------------------------------------------------

#[tokio::test]
async fn create_plan_maps_every_field_and_answers_a_resend_as_duplicate() {
    let fx = Fixture::new();
    let plan = PlanId(Uuid::new_v4());
    let request = create_request(plan, "medicaid");
    let first = ok(call!(fx.create_plan(request.clone())));
    assert_eq!(first, answer(plan, plan.0, 0));
    assert_eq!(
        fx.events_of(plan).await,
        [PlanEvent::PlanCreated(PlanCreated {
            plan_id: plan,
            client_id: CLIENT.into(),
            primary_clinician_id: CLIN.into(),
            clinic_id: CLINIC.into(),
            title: "Anxiety plan".into(),
            created_on: today(),
            template: None,
            payer: "medicaid".into(),
        })]
    );
    fx.assert_duplicate(&first, call!(fx.create_plan(request)))
        .await;
}

#[tokio::test]
async fn create_plan_without_a_plan_id_derives_one_a_resend_gets_again() {
    let fx = Fixture::new();
    let request = pb::CreatePlanRequest {
        plan_id: String::new(),
        ..create_request(PlanId(Uuid::nil()), "")
    };
    let first = ok(call!(fx.create_plan(request.clone())));
    let plan = PlanId(first.plan_id.parse().unwrap());
    assert_ne!(plan.0, Uuid::nil());
    assert_eq!(first, answer(plan, plan.0, 0));
    let created = fx.events_of(plan).await;
    assert!(matches!(&created[..], [PlanEvent::PlanCreated(c)] if c.plan_id == plan));
    fx.assert_duplicate(&first, call!(fx.create_plan(request)))
        .await;
}

#[tokio::test]
async fn create_plan_without_a_plan_id_gets_the_documented_derived_id() {
    let fx = Fixture::new();
    let command_id = Uuid::new_v4();
    let request = pb::CreatePlanRequest {
        command_id: command_id.to_string(),
        plan_id: String::new(),
        ..create_request(PlanId(Uuid::nil()), "")
    };
    let created = ok(call!(fx.create_plan(request)));
    let derived = PlanCommands::derived_plan_id(&fx.tenant, command_id);
    assert_eq!(created.plan_id, derived.to_string());
}

#[tokio::test]
async fn create_plan_refuses_bad_ids_missing_fields_and_other_clinics() {
    let fx = Fixture::new();
    let plan = PlanId(Uuid::new_v4());
    assert_invalid(
        call!(fx.create_plan(pb::CreatePlanRequest {
            command_id: String::new(),
            ..create_request(plan, "")
        })),
        &["command_id"],
    );
    assert_invalid(
        call!(fx.create_plan(pb::CreatePlanRequest {
            command_id: "not-a-uuid".into(),
            plan_id: "plan-7".into(),
            ..create_request(plan, "")
        })),
        &["command_id", "plan_id"],
    );
    assert_invalid(
        call!(fx.create_plan(pb::CreatePlanRequest {
            client_id: " ".into(),
            ..create_request(plan, "")
        })),
        &["client_id"],
    );
    refused(
        call!(fx.create_plan(pb::CreatePlanRequest {
            clinic_id: "clinic-b".into(),
            ..create_request(plan, "")
        })),
        Code::PermissionDenied,
    );
    assert_eq!(fx.len_of(plan).await, 0);
}

#[tokio::test]
async fn add_goal_maps_every_term() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    for (wire, term) in terms() {
        let goal = GoalId(Uuid::new_v4());
        let revision = fx.len_of(plan).await;
        let request = pb::AddGoalRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            goal_id: goal.to_string(),
            description: format!("Goal of term {term:?}"),
            term: wire.into(),
        };
        let first = ok(call!(fx.add_goal(request.clone())));
        assert_eq!(first, answer(plan, goal.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::GoalAdded(GoalAdded {
                goal_id: goal,
                description: format!("Goal of term {term:?}"),
                term,
            })]
        );
        fx.assert_duplicate(&first, call!(fx.add_goal(request)))
            .await;
    }
}

#[tokio::test]
async fn add_goal_without_an_id_derives_one_a_resend_gets_again() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = pb::AddGoalRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        goal_id: String::new(),
        description: "Sleep through the night".into(),
        term: pb::GoalTerm::LongTerm.into(),
    };
    let first = ok(call!(fx.add_goal(request.clone())));
    let goal = GoalId(first.entity_id.parse().unwrap());
    assert_eq!(
        fx.events_from(plan, 1).await,
        [PlanEvent::GoalAdded(GoalAdded {
            goal_id: goal,
            description: "Sleep through the night".into(),
            term: GoalTerm::LongTerm,
        })]
    );
    fx.assert_duplicate(&first, call!(fx.add_goal(request)))
        .await;
}

#[tokio::test]
async fn add_goal_refuses_bad_fields_and_an_empty_description() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::AddGoalRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        goal_id: String::new(),
        description: "Worry less".into(),
        term: pb::GoalTerm::ShortTerm.into(),
    };
    assert_invalid(
        call!(fx.add_goal(pb::AddGoalRequest {
            command_id: String::new(),
            goal_id: "goal-1".into(),
            term: pb::GoalTerm::Unspecified.into(),
            ..request()
        })),
        &["command_id", "goal_id", "term"],
    );
    assert_invalid(
        call!(fx.add_goal(pb::AddGoalRequest {
            plan_id: "plan-7".into(),
            term: 99,
            ..request()
        })),
        &["plan_id", "term"],
    );
    assert_invalid(
        call!(fx.add_goal(pb::AddGoalRequest {
            description: "  ".into(),
            ..request()
        })),
        &["description"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn close_goal_maps_every_outcome() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    for (wire, outcome) in outcomes() {
        let goal = fx.goal(plan).await;
        let revision = fx.len_of(plan).await;
        let request = pb::CloseGoalRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            goal_id: goal.to_string(),
            outcome: wire.into(),
        };
        let first = ok(call!(fx.close_goal(request.clone())));
        assert_eq!(first, answer(plan, goal.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::GoalClosed(GoalClosed {
                goal_id: goal,
                outcome,
                closed_on: today(),
            })]
        );
        fx.assert_duplicate(&first, call!(fx.close_goal(request)))
            .await;
    }
}

#[tokio::test]
async fn close_goal_refuses_bad_fields_and_an_unknown_goal() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let request = || pb::CloseGoalRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        goal_id: goal.to_string(),
        outcome: pb::GoalOutcome::Achieved.into(),
    };
    assert_invalid(
        call!(fx.close_goal(pb::CloseGoalRequest {
            command_id: "nope".into(),
            goal_id: String::new(),
            outcome: pb::GoalOutcome::Unspecified.into(),
            ..request()
        })),
        &["command_id", "goal_id", "outcome"],
    );
    assert_invalid(
        call!(fx.close_goal(pb::CloseGoalRequest {
            plan_id: String::new(),
            ..request()
        })),
        &["plan_id"],
    );
    refused(
        call!(fx.close_goal(pb::CloseGoalRequest {
            goal_id: Uuid::new_v4().to_string(),
            ..request()
        })),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 2);
}

#[tokio::test]
async fn revise_goal_maps_every_field() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let request = pb::ReviseGoalRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        goal_id: goal.to_string(),
        description: "Worry less at work".into(),
        reason: "review decided to revise".into(),
    };
    let first = ok(call!(fx.revise_goal(request.clone())));
    assert_eq!(first, answer(plan, goal.0, 2));
    assert_eq!(
        fx.events_from(plan, 2).await,
        [PlanEvent::GoalRevised(GoalRevised {
            goal_id: goal,
            description: "Worry less at work".into(),
            reason: "review decided to revise".into(),
        })]
    );
    fx.assert_duplicate(&first, call!(fx.revise_goal(request)))
        .await;
}

#[tokio::test]
async fn revise_goal_refuses_bad_fields_a_missing_reason_and_an_unknown_goal() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let request = || pb::ReviseGoalRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        goal_id: goal.to_string(),
        description: "Worry less at work".into(),
        reason: "review decided to revise".into(),
    };
    assert_invalid(
        call!(fx.revise_goal(pb::ReviseGoalRequest {
            command_id: String::new(),
            plan_id: "plan-7".into(),
            goal_id: "goal-1".into(),
            ..request()
        })),
        &["command_id", "plan_id", "goal_id"],
    );
    assert_invalid(
        call!(fx.revise_goal(pb::ReviseGoalRequest {
            reason: String::new(),
            ..request()
        })),
        &["reason"],
    );
    refused(
        call!(fx.revise_goal(pb::ReviseGoalRequest {
            goal_id: Uuid::new_v4().to_string(),
            ..request()
        })),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 2);
}

#[tokio::test]
async fn add_objective_maps_a_quantity() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let objective = ObjectiveId(Uuid::new_v4());
    let request = pb::AddObjectiveRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
        goal_id: goal.to_string(),
        description: "Fewer panic attacks".into(),
        quantity: Some(quantity(4.0, 1.5)),
        target_date: in_days(90).to_string(),
        measure: None,
    };
    let first = ok(call!(fx.add_objective(request.clone())));
    assert_eq!(first, answer(plan, objective.0, 2));
    assert_eq!(
        fx.events_from(plan, 2).await,
        [PlanEvent::ObjectiveAdded(ObjectiveAdded {
            objective_id: objective,
            goal_id: goal,
            description: "Fewer panic attacks".into(),
            baseline: 4.0,
            target: 1.5,
            unit: "panic attacks".into(),
            period: "week".into(),
            target_date: in_days(90),
            measure: None,
        })]
    );
    fx.assert_duplicate(&first, call!(fx.add_objective(request)))
        .await;
}

#[tokio::test]
async fn add_objective_maps_a_measure_target_of_every_instrument() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    for ((wire, instrument), baseline) in instruments().into_iter().zip([20, 16, 70]) {
        fx.measure(plan, wire, baseline).await;
        let objective = ObjectiveId(Uuid::new_v4());
        let revision = fx.len_of(plan).await;
        let request = pb::AddObjectiveRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            objective_id: objective.to_string(),
            goal_id: goal.to_string(),
            description: format!("{} halved", instrument.label()),
            quantity: None,
            target_date: in_days(120).to_string(),
            measure: Some(pb::MeasureTarget {
                instrument: wire.into(),
                reduction_percent: 50,
            }),
        };
        let first = ok(call!(fx.add_objective(request.clone())));
        assert_eq!(first, answer(plan, objective.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::ObjectiveAdded(ObjectiveAdded {
                objective_id: objective,
                goal_id: goal,
                description: format!("{} halved", instrument.label()),
                baseline: f64::from(baseline),
                target: f64::from(target_score(baseline, 50)),
                unit: format!("{} total score", instrument.label()),
                period: String::new(),
                target_date: in_days(120),
                measure: Some(MeasureTarget {
                    instrument,
                    reduction_percent: 50,
                }),
            })]
        );
        fx.assert_duplicate(&first, call!(fx.add_objective(request)))
            .await;
    }
}

#[tokio::test]
async fn add_objective_refuses_bad_fields_a_non_smart_objective_and_an_unknown_goal() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let request = || pb::AddObjectiveRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: String::new(),
        goal_id: goal.to_string(),
        description: "Fewer panic attacks".into(),
        quantity: Some(quantity(4.0, 1.0)),
        target_date: in_days(90).to_string(),
        measure: None,
    };
    assert_invalid(
        call!(fx.add_objective(pb::AddObjectiveRequest {
            command_id: String::new(),
            objective_id: "objective-1".into(),
            goal_id: String::new(),
            target_date: "2027-13-01".into(),
            quantity: None,
            measure: Some(pb::MeasureTarget {
                instrument: pb::Instrument::Unspecified.into(),
                reduction_percent: 50,
            }),
            ..request()
        })),
        &[
            "command_id",
            "objective_id",
            "goal_id",
            "target_date",
            "measure.instrument",
        ],
    );
    assert_invalid(
        call!(fx.add_objective(pb::AddObjectiveRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    // Not time-bound: the T of SMART, named.
    let not_smart = assert_invalid(
        call!(fx.add_objective(pb::AddObjectiveRequest {
            target_date: String::new(),
            ..request()
        })),
        &["target_date"],
    );
    assert!(
        not_smart.message().contains("T (time-bound)"),
        "{}",
        not_smart.message()
    );
    refused(
        call!(fx.add_objective(pb::AddObjectiveRequest {
            goal_id: Uuid::new_v4().to_string(),
            ..request()
        })),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 2);
}

#[tokio::test]
async fn record_objective_progress_maps_every_source() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let objective = fx.objective(plan, goal).await;
    for (wire, source) in sources() {
        let revision = fx.len_of(plan).await;
        let request = pb::RecordObjectiveProgressRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            objective_id: objective.to_string(),
            value: 2.5,
            observed_on: days_ago(2).to_string(),
            source: wire.into(),
            note: format!("reported by {source:?}"),
        };
        let first = ok(call!(fx.record_objective_progress(request.clone())));
        assert_eq!(first, answer(plan, objective.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::ObjectiveProgressRecorded(
                ObjectiveProgressRecorded {
                    objective_id: objective,
                    value: 2.5,
                    observed_on: days_ago(2),
                    source,
                    note: format!("reported by {source:?}"),
                }
            )]
        );
        fx.assert_duplicate(&first, call!(fx.record_objective_progress(request)))
            .await;
    }
    // The client reports on themselves.
    let self_report = pb::RecordObjectiveProgressRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
        value: 1.0,
        observed_on: days_ago(1).to_string(),
        source: pb::ProgressSource::ClientSelfReport.into(),
        note: String::new(),
    };
    ok(call!(fx.record_objective_progress(self_report) as fx.client()));
}

#[tokio::test]
async fn record_objective_progress_refuses_bad_fields_and_a_client_reporting_as_clinician() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let objective = fx.objective(plan, goal).await;
    let request = || pb::RecordObjectiveProgressRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
        value: 2.0,
        observed_on: days_ago(1).to_string(),
        source: pb::ProgressSource::Clinician.into(),
        note: String::new(),
    };
    assert_invalid(
        call!(
            fx.record_objective_progress(pb::RecordObjectiveProgressRequest {
                command_id: String::new(),
                objective_id: "objective-1".into(),
                observed_on: "yesterday".into(),
                source: pb::ProgressSource::Unspecified.into(),
                ..request()
            })
        ),
        &["command_id", "objective_id", "observed_on", "source"],
    );
    assert_invalid(
        call!(
            fx.record_objective_progress(pb::RecordObjectiveProgressRequest {
                plan_id: "plan-7".into(),
                observed_on: String::new(),
                ..request()
            })
        ),
        &["plan_id", "observed_on"],
    );
    refused(
        call!(fx.record_objective_progress(request()) as fx.client()),
        Code::PermissionDenied,
    );
    assert_eq!(fx.len_of(plan).await, 3);
}

#[tokio::test]
async fn mark_objective_met_maps_the_objective() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let objective = fx.objective(plan, goal).await;
    let request = pb::MarkObjectiveMetRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
    };
    let first = ok(call!(fx.mark_objective_met(request.clone())));
    assert_eq!(first, answer(plan, objective.0, 3));
    assert_eq!(
        fx.events_from(plan, 3).await,
        [PlanEvent::ObjectiveMet(ObjectiveMet {
            objective_id: objective,
            met_on: today(),
            by_measure: None,
        })]
    );
    fx.assert_duplicate(&first, call!(fx.mark_objective_met(request)))
        .await;
}

#[tokio::test]
async fn mark_objective_met_refuses_bad_fields_and_a_met_objective() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let objective = fx.objective(plan, goal).await;
    let request = || pb::MarkObjectiveMetRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
    };
    assert_invalid(
        call!(fx.mark_objective_met(pb::MarkObjectiveMetRequest {
            command_id: String::new(),
            objective_id: "objective-1".into(),
            ..request()
        })),
        &["command_id", "objective_id"],
    );
    assert_invalid(
        call!(fx.mark_objective_met(pb::MarkObjectiveMetRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    assert_eq!(fx.len_of(plan).await, 3);
    ok(call!(fx.mark_objective_met(request())));
    refused(
        call!(fx.mark_objective_met(request())),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 4);
}

#[tokio::test]
async fn revise_objective_maps_every_field() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let objective = fx.objective(plan, goal).await;
    let request = pb::ReviseObjectiveRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
        target: Some(2.0),
        target_date: in_days(120).to_string(),
        reason: "progress slower than hoped".into(),
    };
    let first = ok(call!(fx.revise_objective(request.clone())));
    assert_eq!(first, answer(plan, objective.0, 3));
    assert_eq!(
        fx.events_from(plan, 3).await,
        [PlanEvent::ObjectiveRevised(ObjectiveRevised {
            objective_id: objective,
            target: Some(2.0),
            target_date: Some(in_days(120)),
            reason: "progress slower than hoped".into(),
        })]
    );
    fx.assert_duplicate(&first, call!(fx.revise_objective(request)))
        .await;
    // The date alone: the target stays as it was.
    let date_only = pb::ReviseObjectiveRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
        target: None,
        target_date: in_days(150).to_string(),
        reason: "a month of illness".into(),
    };
    ok(call!(fx.revise_objective(date_only)));
    let last = fx.events_from(plan, 4).await;
    assert!(
        matches!(
            &last[..],
            [PlanEvent::ObjectiveRevised(ObjectiveRevised {
                target: None,
                ..
            })]
        ),
        "{last:?}"
    );
}

#[tokio::test]
async fn revise_objective_refuses_bad_fields_a_missing_reason_and_an_unsmart_target() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let objective = fx.objective(plan, goal).await;
    let request = || pb::ReviseObjectiveRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
        target: Some(2.0),
        target_date: String::new(),
        reason: "progress slower than hoped".into(),
    };
    assert_invalid(
        call!(fx.revise_objective(pb::ReviseObjectiveRequest {
            command_id: "nope".into(),
            objective_id: String::new(),
            target_date: "next spring".into(),
            ..request()
        })),
        &["command_id", "objective_id", "target_date"],
    );
    assert_invalid(
        call!(fx.revise_objective(pb::ReviseObjectiveRequest {
            reason: String::new(),
            ..request()
        })),
        &["reason"],
    );
    // Back to the baseline (4) is not an objective: SMART's A, named.
    let unsmart = call!(fx.revise_objective(pb::ReviseObjectiveRequest {
        target: Some(4.0),
        ..request()
    }));
    let status = unsmart.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("A (achievable)"),
        "{}",
        status.message()
    );
    refused(
        call!(fx.revise_objective(pb::ReviseObjectiveRequest {
            objective_id: Uuid::new_v4().to_string(),
            ..request()
        })),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 3);
}

#[tokio::test]
async fn mark_objective_not_met_maps_every_field() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let objective = fx.objective(plan, goal).await;
    let request = pb::MarkObjectiveNotMetRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
        reason: "time ran out".into(),
    };
    let first = ok(call!(fx.mark_objective_not_met(request.clone())));
    assert_eq!(first, answer(plan, objective.0, 3));
    assert_eq!(
        fx.events_from(plan, 3).await,
        [PlanEvent::ObjectiveNotMet(ObjectiveNotMet {
            objective_id: objective,
            closed_on: today(),
            reason: "time ran out".into(),
        })]
    );
    fx.assert_duplicate(&first, call!(fx.mark_objective_not_met(request)))
        .await;
}

#[tokio::test]
async fn mark_objective_not_met_refuses_bad_fields_a_missing_reason_and_a_met_objective() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let objective = fx.objective(plan, goal).await;
    let request = || pb::MarkObjectiveNotMetRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
        reason: "time ran out".into(),
    };
    assert_invalid(
        call!(fx.mark_objective_not_met(pb::MarkObjectiveNotMetRequest {
            command_id: "nope".into(),
            plan_id: String::new(),
            objective_id: "objective-1".into(),
            ..request()
        })),
        &["command_id", "plan_id", "objective_id"],
    );
    assert_invalid(
        call!(fx.mark_objective_not_met(pb::MarkObjectiveNotMetRequest {
            reason: String::new(),
            ..request()
        })),
        &["reason"],
    );
    ok(call!(fx.mark_objective_met(pb::MarkObjectiveMetRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
    })));
    refused(
        call!(fx.mark_objective_not_met(request())),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 4);
}

// ---------------------------------------------------------------------------
// Measures & safety: RecordMeasure, ScheduleMeasure, AcknowledgeSafetyFlag,
// RecordSafetyPlan
// ---------------------------------------------------------------------------

/// Valid item answers of each instrument.
fn answers_of(instrument: Instrument) -> Vec<u32> {
    match instrument {
        Instrument::Phq9 => vec![1, 2, 3, 0, 1, 2, 3, 1, 0],
        Instrument::Gad7 => vec![3, 2, 1, 0, 1, 2, 3],
        Instrument::Pswq => vec![1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1],
    }
}

#[tokio::test]
async fn record_measure_maps_every_instrument_and_source() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    for (wire, instrument) in instruments() {
        for (wire_source, source) in sources() {
            let measure = MeasureId(Uuid::new_v4());
            let answers = answers_of(instrument);
            let items: Vec<u8> = answers.iter().map(|a| u8::try_from(*a).unwrap()).collect();
            let total = instrument.score(&items);
            let revision = fx.len_of(plan).await;
            let request = pb::RecordMeasureRequest {
                command_id: cid(),
                plan_id: plan.to_string(),
                measure_id: measure.to_string(),
                instrument: wire.into(),
                answers,
                total: Some(total),
                administered_on: days_ago(3).to_string(),
                source: wire_source.into(),
            };
            let first = ok(call!(fx.record_measure(request.clone())));
            assert_eq!(first, answer(plan, measure.0, revision));
            assert_eq!(
                fx.events_from(plan, revision).await,
                [PlanEvent::MeasureRecorded(MeasureRecorded {
                    measure_id: measure,
                    instrument,
                    answers: items,
                    total,
                    administered_on: days_ago(3),
                    source,
                })]
            );
            fx.assert_duplicate(&first, call!(fx.record_measure(request)))
                .await;
        }
    }
}

#[tokio::test]
async fn record_measure_maps_a_total_without_answers_and_a_self_report() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = pb::RecordMeasureRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        measure_id: String::new(),
        instrument: pb::Instrument::Gad7.into(),
        answers: vec![],
        total: Some(14),
        administered_on: today().to_string(),
        source: pb::ProgressSource::ClientSelfReport.into(),
    };
    let first = ok(call!(fx.record_measure(request.clone()) as fx.client()));
    let measure = MeasureId(first.entity_id.parse().unwrap());
    assert_eq!(first, answer(plan, measure.0, 1));
    assert_eq!(
        fx.events_from(plan, 1).await,
        [PlanEvent::MeasureRecorded(MeasureRecorded {
            measure_id: measure,
            instrument: Instrument::Gad7,
            answers: vec![],
            total: 14,
            administered_on: today(),
            source: ProgressSource::ClientSelfReport,
        })]
    );
    fx.assert_duplicate(&first, call!(fx.record_measure(request) as fx.client()))
        .await;
}

#[tokio::test]
async fn record_measures_names_a_bad_questionnaire_by_its_place_and_writes_nothing() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let before = fx.len_of(plan).await;
    let good = pb::MeasureAdministration {
        measure_id: Uuid::new_v4().to_string(),
        instrument: pb::Instrument::Phq9.into(),
        answers: answers_of(Instrument::Phq9),
        total: None,
        administered_on: days_ago(1).to_string(),
        source: pb::ProgressSource::Clinician.into(),
    };
    let status = assert_invalid(
        call!(fx.record_measures(pb::RecordMeasuresRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            measures: vec![
                good.clone(),
                pb::MeasureAdministration {
                    measure_id: String::new(),
                    ..good
                },
            ],
        })),
        &["measures.measure_id"],
    );
    let described: Vec<String> = status
        .get_error_details()
        .bad_request()
        .map(|b| {
            b.field_violations
                .iter()
                .map(|v| v.description.clone())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        described[0].starts_with("questionnaire 2: "),
        "{described:?}"
    );
    assert_eq!(fx.len_of(plan).await, before);
}

#[tokio::test]
async fn record_measure_refuses_bad_fields_and_a_wrong_number_of_answers() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::RecordMeasureRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        measure_id: String::new(),
        instrument: pb::Instrument::Phq9.into(),
        answers: answers_of(Instrument::Phq9),
        total: None,
        administered_on: days_ago(1).to_string(),
        source: pb::ProgressSource::Clinician.into(),
    };
    assert_invalid(
        call!(fx.record_measure(pb::RecordMeasureRequest {
            command_id: String::new(),
            measure_id: "measure-1".into(),
            instrument: pb::Instrument::Unspecified.into(),
            administered_on: "01/02/2027".into(),
            source: pb::ProgressSource::Unspecified.into(),
            answers: vec![1, 2, 300],
            ..request()
        })),
        &[
            "command_id",
            "measure_id",
            "instrument",
            "administered_on",
            "source",
            "answers",
        ],
    );
    assert_invalid(
        call!(fx.record_measure(pb::RecordMeasureRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    assert_invalid(
        call!(fx.record_measure(pb::RecordMeasureRequest {
            answers: vec![1, 2, 3, 0, 1, 2, 3, 1],
            ..request()
        })),
        &["answers"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn a_phq9_item_nine_raises_a_flag_named_by_its_measure() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let measure = MeasureId(Uuid::new_v4());
    let first = ok(call!(fx.record_measure(pb::RecordMeasureRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        measure_id: measure.to_string(),
        instrument: pb::Instrument::Phq9.into(),
        answers: vec![0, 0, 0, 0, 0, 0, 0, 0, 2],
        total: None,
        administered_on: today().to_string(),
        source: pb::ProgressSource::Clinician.into(),
    })));
    assert_eq!(first, answer(plan, measure.0, 2));
    assert_eq!(
        fx.events_from(plan, 2).await,
        [PlanEvent::SafetyFlagRaised(SafetyFlagRaised {
            flag_id: SafetyFlagId(measure.0),
            measure_id: measure,
            raised_on: today(),
        })]
    );
}

#[tokio::test]
async fn schedule_measure_maps_every_instrument() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    for ((wire, instrument), interval_days) in instruments().into_iter().zip([14, 28, 0]) {
        let revision = fx.len_of(plan).await;
        let request = pb::ScheduleMeasureRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            instrument: wire.into(),
            interval_days,
        };
        let first = ok(call!(fx.schedule_measure(request.clone())));
        assert_eq!(first, answer(plan, plan.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::MeasureScheduled(MeasureScheduled {
                instrument,
                interval_days,
            })]
        );
        fx.assert_duplicate(&first, call!(fx.schedule_measure(request)))
            .await;
    }
}

#[tokio::test]
async fn schedule_measure_refuses_bad_fields_and_an_interval_over_a_year() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::ScheduleMeasureRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        instrument: pb::Instrument::Phq9.into(),
        interval_days: 14,
    };
    assert_invalid(
        call!(fx.schedule_measure(pb::ScheduleMeasureRequest {
            command_id: String::new(),
            instrument: pb::Instrument::Unspecified.into(),
            ..request()
        })),
        &["command_id", "instrument"],
    );
    assert_invalid(
        call!(fx.schedule_measure(pb::ScheduleMeasureRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    assert_invalid(
        call!(fx.schedule_measure(pb::ScheduleMeasureRequest {
            interval_days: 400,
            ..request()
        })),
        &["interval_days"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn acknowledge_safety_flag_maps_every_field() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let measure = fx
        .measure_with(
            plan,
            pb::Instrument::Phq9,
            vec![0, 0, 0, 0, 0, 0, 0, 0, 1],
            None,
        )
        .await;
    let flag = SafetyFlagId(measure.0);
    let revision = fx.len_of(plan).await;
    let request = pb::AcknowledgeSafetyFlagRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        flag_id: flag.to_string(),
        note: "safety plan reviewed with the client".into(),
    };
    let first = ok(call!(fx.acknowledge_safety_flag(request.clone())));
    assert_eq!(first, answer(plan, flag.0, revision));
    assert_eq!(
        fx.events_from(plan, revision).await,
        [PlanEvent::SafetyFlagAcknowledged(SafetyFlagAcknowledged {
            flag_id: flag,
            acknowledged_on: today(),
            note: "safety plan reviewed with the client".into(),
        })]
    );
    fx.assert_duplicate(&first, call!(fx.acknowledge_safety_flag(request)))
        .await;
}

#[tokio::test]
async fn acknowledge_safety_flag_refuses_bad_fields_and_an_unknown_flag() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::AcknowledgeSafetyFlagRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        flag_id: Uuid::new_v4().to_string(),
        note: String::new(),
    };
    assert_invalid(
        call!(
            fx.acknowledge_safety_flag(pb::AcknowledgeSafetyFlagRequest {
                command_id: String::new(),
                plan_id: "plan-7".into(),
                flag_id: String::new(),
                ..request()
            })
        ),
        &["command_id", "plan_id", "flag_id"],
    );
    refused(
        call!(fx.acknowledge_safety_flag(request())),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

fn safety_plan(plan: PlanId) -> pb::RecordSafetyPlanRequest {
    pb::RecordSafetyPlanRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        warning_signs: vec!["isolation".into(), "not sleeping".into()],
        coping_steps: vec!["walk".into(), "call my brother".into()],
        contacts: vec![
            pb::CrisisContact {
                name: "Sam".into(),
                relationship: "brother".into(),
                phone: "555-0100".into(),
            },
            pb::CrisisContact {
                name: "Dr. Lee".into(),
                relationship: String::new(),
                phone: "555-0199".into(),
            },
        ],
        crisis_lines: vec!["988 Suicide & Crisis Lifeline".into()],
    }
}

#[tokio::test]
async fn record_safety_plan_maps_every_field() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = safety_plan(plan);
    let first = ok(call!(fx.record_safety_plan(request.clone())));
    assert_eq!(first, answer(plan, plan.0, 1));
    assert_eq!(
        fx.events_from(plan, 1).await,
        [PlanEvent::SafetyPlanRecorded(SafetyPlanRecorded {
            warning_signs: vec!["isolation".into(), "not sleeping".into()],
            coping_steps: vec!["walk".into(), "call my brother".into()],
            contacts: vec![
                CrisisContact {
                    name: "Sam".into(),
                    relationship: "brother".into(),
                    phone: "555-0100".into(),
                },
                CrisisContact {
                    name: "Dr. Lee".into(),
                    relationship: String::new(),
                    phone: "555-0199".into(),
                },
            ],
            crisis_lines: vec!["988 Suicide & Crisis Lifeline".into()],
        })]
    );
    fx.assert_duplicate(&first, call!(fx.record_safety_plan(request)))
        .await;
}

#[tokio::test]
async fn record_safety_plan_refuses_bad_ids_and_a_plan_without_steps() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    assert_invalid(
        call!(fx.record_safety_plan(pb::RecordSafetyPlanRequest {
            command_id: String::new(),
            ..safety_plan(plan)
        })),
        &["command_id"],
    );
    assert_invalid(
        call!(fx.record_safety_plan(pb::RecordSafetyPlanRequest {
            command_id: "nope".into(),
            plan_id: "plan-7".into(),
            ..safety_plan(plan)
        })),
        &["command_id", "plan_id"],
    );
    assert_invalid(
        call!(fx.record_safety_plan(pb::RecordSafetyPlanRequest {
            coping_steps: vec![],
            ..safety_plan(plan)
        })),
        &["coping_steps"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

// ---------------------------------------------------------------------------
// Reviews: ScheduleReview, HoldReview
// ---------------------------------------------------------------------------

#[tokio::test]
async fn schedule_review_maps_every_field() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let review = ReviewId(Uuid::new_v4());
    let request = pb::ScheduleReviewRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        review_id: review.to_string(),
        due_on: in_days(30).to_string(),
    };
    let first = ok(call!(fx.schedule_review(request.clone())));
    assert_eq!(first, answer(plan, review.0, 1));
    assert_eq!(
        fx.events_from(plan, 1).await,
        [PlanEvent::ReviewScheduled(ReviewScheduled {
            review_id: review,
            due_on: in_days(30),
            origin: ReviewOrigin::ByHand,
        })]
    );
    fx.assert_duplicate(&first, call!(fx.schedule_review(request)))
        .await;
}

#[tokio::test]
async fn schedule_review_without_an_id_derives_one_a_resend_gets_again() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = pb::ScheduleReviewRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        review_id: String::new(),
        due_on: today().to_string(),
    };
    let first = ok(call!(fx.schedule_review(request.clone())));
    let review = ReviewId(first.entity_id.parse().unwrap());
    assert_eq!(
        fx.events_from(plan, 1).await,
        [PlanEvent::ReviewScheduled(ReviewScheduled {
            review_id: review,
            due_on: today(),
            origin: ReviewOrigin::ByHand,
        })]
    );
    fx.assert_duplicate(&first, call!(fx.schedule_review(request)))
        .await;
}

#[tokio::test]
async fn schedule_review_refuses_bad_fields_and_a_date_in_the_past() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::ScheduleReviewRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        review_id: String::new(),
        due_on: in_days(30).to_string(),
    };
    assert_invalid(
        call!(fx.schedule_review(pb::ScheduleReviewRequest {
            command_id: String::new(),
            review_id: "review-1".into(),
            due_on: String::new(),
            ..request()
        })),
        &["command_id", "review_id", "due_on"],
    );
    assert_invalid(
        call!(fx.schedule_review(pb::ScheduleReviewRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    assert_invalid(
        call!(fx.schedule_review(pb::ScheduleReviewRequest {
            due_on: days_ago(1).to_string(),
            ..request()
        })),
        &["due_on"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn hold_review_maps_every_decision() {
    let fx = Fixture::new();
    for (wire, decision) in decisions() {
        // Each on its own plan: discharging closes the plan.
        let plan = fx.plan().await;
        let review = fx.review(plan).await;
        let revision = fx.len_of(plan).await;
        let request = pb::HoldReviewRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            review_id: review.to_string(),
            held_on: days_ago(1).to_string(),
            participants: vec![CLIN.into(), CLIENT.into()],
            summary: format!("Decided: {decision:?}"),
            decision: wire.into(),
        };
        let first = ok(call!(fx.hold_review(request.clone())));
        assert_eq!(first, answer(plan, review.0, revision + 1));
        let events = fx.events_from(plan, revision).await;
        assert_eq!(
            events[0],
            PlanEvent::ReviewHeld(ReviewHeld {
                review_id: review,
                held_on: days_ago(1),
                participants: vec![CLIN.into(), CLIENT.into()],
                summary: format!("Decided: {decision:?}"),
                decision,
            })
        );
        match (decision, &events[1..]) {
            (ReviewDecision::Discharge, [PlanEvent::PlanClosed(closed)]) => {
                assert_eq!(closed.closure, PlanClosure::Discharged);
                assert_eq!(closed.closed_on, days_ago(1));
            }
            // The tenant's default cadence (90 days) continues from the review.
            (_, [PlanEvent::ReviewScheduled(next)]) => {
                assert_ne!(next.review_id, review);
                assert_eq!(next.due_on, days_ago(1) + Days::new(90));
                assert_eq!(next.origin, ReviewOrigin::Rule);
            }
            (_, other) => panic!("{decision:?} appended {other:?}"),
        }
        fx.assert_duplicate(&first, call!(fx.hold_review(request)))
            .await;
    }
}

#[tokio::test]
async fn hold_review_refuses_bad_fields_and_an_unknown_review() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let review = fx.review(plan).await;
    let request = || pb::HoldReviewRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        review_id: review.to_string(),
        held_on: today().to_string(),
        participants: vec![CLIN.into()],
        summary: "Progressing".into(),
        decision: pb::ReviewDecision::Continue.into(),
    };
    assert_invalid(
        call!(fx.hold_review(pb::HoldReviewRequest {
            command_id: String::new(),
            review_id: "review-1".into(),
            held_on: "2027-02-30".into(),
            decision: pb::ReviewDecision::Unspecified.into(),
            ..request()
        })),
        &["command_id", "review_id", "held_on", "decision"],
    );
    assert_invalid(
        call!(fx.hold_review(pb::HoldReviewRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    refused(
        call!(fx.hold_review(pb::HoldReviewRequest {
            review_id: Uuid::new_v4().to_string(),
            ..request()
        })),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 2);
}

// ---------------------------------------------------------------------------
// Lifecycle & signatures: ActivatePlan, PutPlanOnHold, ResumePlan,
// ClosePlan, RecordConsent, SignPlan
// ---------------------------------------------------------------------------

#[tokio::test]
async fn activate_plan_maps_the_plan_and_answers_the_first_review() {
    let fx = Fixture::new();
    let plan = fx.ready_draft("").await;
    let revision = fx.len_of(plan).await;
    let request = pb::ActivatePlanRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
    };
    let first = ok(call!(fx.activate_plan(request.clone())));
    let review = ReviewId(first.entity_id.parse().unwrap());
    assert_eq!(first, answer(plan, review.0, revision + 1));
    assert_eq!(
        fx.events_from(plan, revision).await,
        [
            PlanEvent::PlanActivated(PlanActivated {
                activated_on: today(),
            }),
            PlanEvent::ReviewScheduled(ReviewScheduled {
                review_id: review,
                due_on: in_days(90),
                origin: ReviewOrigin::Rule,
            }),
        ]
    );
    fx.assert_duplicate(&first, call!(fx.activate_plan(request)))
        .await;
}

#[tokio::test]
async fn activate_plan_refuses_bad_ids_and_an_incomplete_draft() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    assert_invalid(
        call!(fx.activate_plan(pb::ActivatePlanRequest {
            command_id: String::new(),
            plan_id: plan.to_string(),
        })),
        &["command_id"],
    );
    assert_invalid(
        call!(fx.activate_plan(pb::ActivatePlanRequest {
            command_id: "nope".into(),
            plan_id: "plan-7".into(),
        })),
        &["command_id", "plan_id"],
    );
    let incomplete = refused(
        call!(fx.activate_plan(pb::ActivatePlanRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
        })),
        Code::FailedPrecondition,
    );
    assert!(
        incomplete.message().contains("a diagnosis"),
        "{}",
        incomplete.message()
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn put_plan_on_hold_maps_the_reason() {
    let fx = Fixture::new();
    let plan = fx.active_plan().await;
    let revision = fx.len_of(plan).await;
    let request = pb::PutPlanOnHoldRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        reason: "client travelling for a month".into(),
    };
    let first = ok(call!(fx.put_plan_on_hold(request.clone())));
    assert_eq!(first, answer(plan, plan.0, revision));
    assert_eq!(
        fx.events_from(plan, revision).await,
        [PlanEvent::PlanPutOnHold(PlanPutOnHold {
            on: today(),
            reason: "client travelling for a month".into(),
        })]
    );
    fx.assert_duplicate(&first, call!(fx.put_plan_on_hold(request)))
        .await;
}

#[tokio::test]
async fn put_plan_on_hold_refuses_bad_ids_and_a_draft() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::PutPlanOnHoldRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        reason: "travelling".into(),
    };
    assert_invalid(
        call!(fx.put_plan_on_hold(pb::PutPlanOnHoldRequest {
            command_id: String::new(),
            ..request()
        })),
        &["command_id"],
    );
    assert_invalid(
        call!(fx.put_plan_on_hold(pb::PutPlanOnHoldRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    refused(
        call!(fx.put_plan_on_hold(request())),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn resume_plan_maps_the_plan() {
    let fx = Fixture::new();
    let plan = fx.on_hold_plan().await;
    let revision = fx.len_of(plan).await;
    let request = pb::ResumePlanRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
    };
    let first = ok(call!(fx.resume_plan(request.clone())));
    assert_eq!(first, answer(plan, plan.0, revision));
    assert_eq!(
        fx.events_from(plan, revision).await,
        [PlanEvent::PlanResumed(PlanResumed { on: today() })]
    );
    fx.assert_duplicate(&first, call!(fx.resume_plan(request)))
        .await;
}

#[tokio::test]
async fn resume_plan_refuses_bad_ids_and_a_plan_not_on_hold() {
    let fx = Fixture::new();
    let plan = fx.active_plan().await;
    let revision = fx.len_of(plan).await;
    assert_invalid(
        call!(fx.resume_plan(pb::ResumePlanRequest {
            command_id: String::new(),
            plan_id: plan.to_string(),
        })),
        &["command_id"],
    );
    assert_invalid(
        call!(fx.resume_plan(pb::ResumePlanRequest {
            command_id: cid(),
            plan_id: "plan-7".into(),
        })),
        &["plan_id"],
    );
    refused(
        call!(fx.resume_plan(pb::ResumePlanRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
        })),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, revision);
}

#[tokio::test]
async fn close_plan_maps_every_closure() {
    let fx = Fixture::new();
    for (wire, closure) in closures() {
        let plan = fx.plan().await;
        let request = pb::ClosePlanRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            closure: wire.into(),
            reason: format!("closed as {closure:?}"),
        };
        let first = ok(call!(fx.close_plan(request.clone())));
        assert_eq!(first, answer(plan, plan.0, 1));
        assert_eq!(
            fx.events_from(plan, 1).await,
            [PlanEvent::PlanClosed(PlanClosed {
                closure,
                closed_on: today(),
                reason: format!("closed as {closure:?}"),
            })]
        );
        fx.assert_duplicate(&first, call!(fx.close_plan(request)))
            .await;
    }
}

#[tokio::test]
async fn close_plan_refuses_bad_fields_a_missing_reason_and_leaves_a_record() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::ClosePlanRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        closure: pb::PlanClosure::Completed.into(),
        reason: "goals achieved".into(),
    };
    assert_invalid(
        call!(fx.close_plan(pb::ClosePlanRequest {
            command_id: String::new(),
            closure: pb::PlanClosure::Unspecified.into(),
            ..request()
        })),
        &["command_id", "closure"],
    );
    assert_invalid(
        call!(fx.close_plan(pb::ClosePlanRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    assert_invalid(
        call!(fx.close_plan(pb::ClosePlanRequest {
            reason: String::new(),
            ..request()
        })),
        &["reason"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
    ok(call!(fx.close_plan(request())));
    // A closed plan is a record: nothing but corrections.
    refused(
        call!(fx.add_goal(pb::AddGoalRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            goal_id: String::new(),
            description: "Worry less".into(),
            term: pb::GoalTerm::ShortTerm.into(),
        })),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 2);
}

#[tokio::test]
async fn record_consent_maps_every_kind() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    for (wire, kind) in consent_kinds() {
        let revision = fx.len_of(plan).await;
        let request = pb::RecordConsentRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            kind: wire.into(),
            given_on: days_ago(2).to_string(),
            note: format!("{kind:?} consent signed in clinic"),
        };
        let first = ok(call!(fx.record_consent(request.clone())));
        assert_eq!(first, answer(plan, plan.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::ConsentRecorded(ConsentRecorded {
                kind,
                given_on: days_ago(2),
                note: format!("{kind:?} consent signed in clinic"),
            })]
        );
        fx.assert_duplicate(&first, call!(fx.record_consent(request)))
            .await;
    }
}

#[tokio::test]
async fn record_consent_refuses_bad_fields_and_a_date_in_the_future() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::RecordConsentRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        kind: pb::ConsentKind::Treatment.into(),
        given_on: today().to_string(),
        note: String::new(),
    };
    assert_invalid(
        call!(fx.record_consent(pb::RecordConsentRequest {
            command_id: String::new(),
            kind: pb::ConsentKind::Unspecified.into(),
            given_on: String::new(),
            ..request()
        })),
        &["command_id", "kind", "given_on"],
    );
    assert_invalid(
        call!(fx.record_consent(pb::RecordConsentRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    assert_invalid(
        call!(fx.record_consent(pb::RecordConsentRequest {
            given_on: in_days(1).to_string(),
            ..request()
        })),
        &["given_on"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn sign_plan_maps_every_role_with_the_caller_as_signer() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    fx.consent(plan, pb::ConsentKind::Treatment).await;
    let signers = [
        (
            pb::SignerRole::Clinician,
            SignerRole::Clinician,
            fx.clinician(),
        ),
        (pb::SignerRole::Client, SignerRole::Client, fx.client()),
        (
            pb::SignerRole::Supervisor,
            SignerRole::Supervisor,
            fx.supervisor(),
        ),
    ];
    for (wire, role, caller) in signers {
        let revision = fx.len_of(plan).await;
        let request = pb::SignPlanRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            role: wire.into(),
        };
        let first = ok(call!(fx.sign_plan(request.clone()) as caller.clone()));
        assert_eq!(first, answer(plan, plan.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::PlanSigned(PlanSigned {
                version: 1,
                role,
                signer_id: caller.subject.clone(),
                signed_on: today(),
            })]
        );
        fx.assert_duplicate(&first, call!(fx.sign_plan(request) as caller))
            .await;
    }
}

#[tokio::test]
async fn sign_plan_refuses_bad_fields_a_client_without_consent_and_another_role() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = |role: pb::SignerRole| pb::SignPlanRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        role: role.into(),
    };
    assert_invalid(
        call!(fx.sign_plan(pb::SignPlanRequest {
            command_id: String::new(),
            ..request(pb::SignerRole::Unspecified)
        })),
        &["command_id", "role"],
    );
    assert_invalid(
        call!(fx.sign_plan(pb::SignPlanRequest {
            plan_id: "plan-7".into(),
            ..request(pb::SignerRole::Clinician)
        })),
        &["plan_id"],
    );
    refused(
        call!(fx.sign_plan(request(pb::SignerRole::Client)) as fx.client()),
        Code::FailedPrecondition,
    );
    refused(
        call!(fx.sign_plan(request(pb::SignerRole::Supervisor))),
        Code::PermissionDenied,
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

// ---------------------------------------------------------------------------
// Clinical record: AddDiagnosis, RecordPresentingProblem, AddIntervention,
// RecordClinicalContext, AddReferral, ChangeReferralStatus,
// RecordServicePlan, EnterInError
// ---------------------------------------------------------------------------

#[tokio::test]
async fn add_diagnosis_maps_the_code_and_primary() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    fx.diagnosis(plan, "F41.1").await;
    let cases = [
        (
            "F32.1",
            true,
            "Major depressive disorder, single episode, moderate",
        ),
        (
            "Z63.0",
            false,
            "Problems in relationship with spouse or partner",
        ),
    ];
    for (code, primary, description) in cases {
        let revision = fx.len_of(plan).await;
        let request = pb::AddDiagnosisRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            code: code.into(),
            primary,
        };
        let first = ok(call!(fx.add_diagnosis(request.clone())));
        assert_eq!(first, answer(plan, plan.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::DiagnosisAdded(DiagnosisAdded {
                code: code.into(),
                description: description.into(),
                primary,
            })]
        );
        fx.assert_duplicate(&first, call!(fx.add_diagnosis(request)))
            .await;
    }
}

#[tokio::test]
async fn add_diagnosis_refuses_bad_ids_and_a_code_outside_the_set() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::AddDiagnosisRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        code: "F41.1".into(),
        primary: true,
    };
    assert_invalid(
        call!(fx.add_diagnosis(pb::AddDiagnosisRequest {
            command_id: String::new(),
            ..request()
        })),
        &["command_id"],
    );
    assert_invalid(
        call!(fx.add_diagnosis(pb::AddDiagnosisRequest {
            command_id: "nope".into(),
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["command_id", "plan_id"],
    );
    assert_invalid(
        call!(fx.add_diagnosis(pb::AddDiagnosisRequest {
            code: "J45.909".into(),
            ..request()
        })),
        &["code"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn record_presenting_problem_maps_the_narrative_and_every_symptom_field() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = presenting_problem(plan);
    let first = ok(call!(fx.record_presenting_problem(request.clone())));
    assert_eq!(first, answer(plan, plan.0, 1));
    assert_eq!(
        fx.events_from(plan, 1).await,
        [PlanEvent::PresentingProblemRecorded(
            PresentingProblemRecorded {
                narrative: "Persistent worry about work and health".into(),
                symptoms: vec![
                    Symptom {
                        name: "insomnia".into(),
                        frequency: "nightly".into(),
                        intensity: "moderate".into(),
                        onset: "a month ago".into(),
                    },
                    Symptom {
                        name: "restlessness".into(),
                        frequency: "3-4 times a week".into(),
                        intensity: "mild".into(),
                        onset: "childhood".into(),
                    },
                ],
            }
        )]
    );
    fx.assert_duplicate(&first, call!(fx.record_presenting_problem(request)))
        .await;
}

#[tokio::test]
async fn record_presenting_problem_refuses_bad_ids_and_an_empty_narrative() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    assert_invalid(
        call!(
            fx.record_presenting_problem(pb::RecordPresentingProblemRequest {
                command_id: String::new(),
                ..presenting_problem(plan)
            })
        ),
        &["command_id"],
    );
    assert_invalid(
        call!(
            fx.record_presenting_problem(pb::RecordPresentingProblemRequest {
                command_id: "nope".into(),
                plan_id: String::new(),
                ..presenting_problem(plan)
            })
        ),
        &["command_id", "plan_id"],
    );
    assert_invalid(
        call!(
            fx.record_presenting_problem(pb::RecordPresentingProblemRequest {
                narrative: String::new(),
                ..presenting_problem(plan)
            })
        ),
        &["narrative"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn add_intervention_maps_every_modality() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goals = [fx.goal(plan).await, fx.goal(plan).await];
    for (wire, other, modality) in modalities() {
        let intervention = InterventionId(Uuid::new_v4());
        let revision = fx.len_of(plan).await;
        let request = pb::AddInterventionRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            intervention_id: intervention.to_string(),
            modality: wire.into(),
            other_modality: other.into(),
            technique: format!("Technique of {modality:?}"),
            frequency: "weekly".into(),
            goal_ids: goals.iter().map(ToString::to_string).collect(),
            comorbidity: "alcohol use".into(),
        };
        let first = ok(call!(fx.add_intervention(request.clone())));
        assert_eq!(first, answer(plan, intervention.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::InterventionAdded(InterventionAdded {
                intervention_id: intervention,
                modality: modality.clone(),
                technique: format!("Technique of {modality:?}"),
                frequency: "weekly".into(),
                goal_ids: goals.to_vec(),
                comorbidity: "alcohol use".into(),
            })]
        );
        fx.assert_duplicate(&first, call!(fx.add_intervention(request)))
            .await;
    }
}

#[tokio::test]
async fn add_intervention_refuses_bad_fields_an_unnamed_other_and_an_unknown_goal() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let request = || pb::AddInterventionRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        intervention_id: String::new(),
        modality: pb::Modality::Cbt.into(),
        other_modality: String::new(),
        technique: "Cognitive restructuring".into(),
        frequency: "weekly".into(),
        goal_ids: vec![goal.to_string()],
        comorbidity: String::new(),
    };
    assert_invalid(
        call!(fx.add_intervention(pb::AddInterventionRequest {
            command_id: String::new(),
            intervention_id: "intervention-1".into(),
            modality: pb::Modality::Unspecified.into(),
            goal_ids: vec![goal.to_string(), "goal-2".into()],
            ..request()
        })),
        &["command_id", "intervention_id", "modality", "goal_ids"],
    );
    assert_invalid(
        call!(fx.add_intervention(pb::AddInterventionRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    assert_invalid(
        call!(fx.add_intervention(pb::AddInterventionRequest {
            modality: pb::Modality::Other.into(),
            other_modality: String::new(),
            ..request()
        })),
        &["other_modality"],
    );
    refused(
        call!(fx.add_intervention(pb::AddInterventionRequest {
            goal_ids: vec![Uuid::new_v4().to_string()],
            ..request()
        })),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 2);
}

#[tokio::test]
async fn record_clinical_context_maps_every_support_kind() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = pb::RecordClinicalContextRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        strengths: vec!["motivated".into(), "insightful".into()],
        barriers: vec!["shift work".into()],
        supports: support_kinds()
            .iter()
            .map(|(wire, kind)| pb::Support {
                kind: (*wire).into(),
                involvement: format!("{kind:?} support joins a session"),
            })
            .collect(),
    };
    let first = ok(call!(fx.record_clinical_context(request.clone())));
    assert_eq!(first, answer(plan, plan.0, 1));
    assert_eq!(
        fx.events_from(plan, 1).await,
        [PlanEvent::ClinicalContextRecorded(
            ClinicalContextRecorded {
                strengths: vec!["motivated".into(), "insightful".into()],
                barriers: vec!["shift work".into()],
                supports: support_kinds()
                    .iter()
                    .map(|(_, kind)| Support {
                        kind: *kind,
                        involvement: format!("{kind:?} support joins a session"),
                    })
                    .collect(),
            }
        )]
    );
    fx.assert_duplicate(&first, call!(fx.record_clinical_context(request)))
        .await;
}

#[tokio::test]
async fn record_clinical_context_refuses_bad_fields_and_a_support_without_involvement() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::RecordClinicalContextRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        strengths: vec!["motivated".into()],
        barriers: vec![],
        supports: vec![pb::Support {
            kind: pb::SupportKind::Family.into(),
            involvement: "partner joins a session".into(),
        }],
    };
    assert_invalid(
        call!(
            fx.record_clinical_context(pb::RecordClinicalContextRequest {
                command_id: String::new(),
                supports: vec![pb::Support {
                    kind: pb::SupportKind::Unspecified.into(),
                    involvement: "partner joins a session".into(),
                }],
                ..request()
            })
        ),
        &["command_id", "supports.kind"],
    );
    assert_invalid(
        call!(
            fx.record_clinical_context(pb::RecordClinicalContextRequest {
                plan_id: "plan-7".into(),
                ..request()
            })
        ),
        &["plan_id"],
    );
    assert_invalid(
        call!(
            fx.record_clinical_context(pb::RecordClinicalContextRequest {
                supports: vec![pb::Support {
                    kind: pb::SupportKind::Social.into(),
                    involvement: String::new(),
                }],
                ..request()
            })
        ),
        &["supports.involvement"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn add_referral_maps_every_status() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    for (wire, status) in referral_statuses() {
        let referral = ReferralId(Uuid::new_v4());
        let revision = fx.len_of(plan).await;
        let request = pb::AddReferralRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            referral_id: referral.to_string(),
            to: "psychiatrist".into(),
            reason: format!("medication evaluation, {status:?}"),
            status: wire.into(),
        };
        let first = ok(call!(fx.add_referral(request.clone())));
        assert_eq!(first, answer(plan, referral.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::ReferralAdded(ReferralAdded {
                referral_id: referral,
                to: "psychiatrist".into(),
                reason: format!("medication evaluation, {status:?}"),
                status,
            })]
        );
        fx.assert_duplicate(&first, call!(fx.add_referral(request)))
            .await;
    }
}

#[tokio::test]
async fn add_referral_refuses_bad_fields_and_a_referral_to_no_one() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::AddReferralRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        referral_id: String::new(),
        to: "primary care physician".into(),
        reason: "sleep".into(),
        status: pb::ReferralStatus::Planned.into(),
    };
    assert_invalid(
        call!(fx.add_referral(pb::AddReferralRequest {
            command_id: String::new(),
            referral_id: "referral-1".into(),
            status: pb::ReferralStatus::Unspecified.into(),
            ..request()
        })),
        &["command_id", "referral_id", "status"],
    );
    assert_invalid(
        call!(fx.add_referral(pb::AddReferralRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    assert_invalid(
        call!(fx.add_referral(pb::AddReferralRequest {
            to: String::new(),
            ..request()
        })),
        &["to"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn change_referral_status_maps_every_status() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let referral = fx.referral(plan, pb::ReferralStatus::Declined).await;
    for (wire, status) in referral_statuses() {
        let revision = fx.len_of(plan).await;
        let request = pb::ChangeReferralStatusRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            referral_id: referral.to_string(),
            status: wire.into(),
        };
        let first = ok(call!(fx.change_referral_status(request.clone())));
        assert_eq!(first, answer(plan, referral.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::ReferralStatusChanged(ReferralStatusChanged {
                referral_id: referral,
                status,
                changed_on: today(),
            })]
        );
        fx.assert_duplicate(&first, call!(fx.change_referral_status(request)))
            .await;
    }
}

#[tokio::test]
async fn change_referral_status_refuses_bad_fields_the_same_status_and_an_unknown_referral() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let referral = fx.referral(plan, pb::ReferralStatus::Planned).await;
    let request = || pb::ChangeReferralStatusRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        referral_id: referral.to_string(),
        status: pb::ReferralStatus::Made.into(),
    };
    assert_invalid(
        call!(fx.change_referral_status(pb::ChangeReferralStatusRequest {
            command_id: String::new(),
            referral_id: String::new(),
            status: pb::ReferralStatus::Unspecified.into(),
            ..request()
        })),
        &["command_id", "referral_id", "status"],
    );
    assert_invalid(
        call!(fx.change_referral_status(pb::ChangeReferralStatusRequest {
            plan_id: "plan-7".into(),
            ..request()
        })),
        &["plan_id"],
    );
    assert_invalid(
        call!(fx.change_referral_status(pb::ChangeReferralStatusRequest {
            status: pb::ReferralStatus::Planned.into(),
            ..request()
        })),
        &["status"],
    );
    refused(
        call!(fx.change_referral_status(pb::ChangeReferralStatusRequest {
            referral_id: Uuid::new_v4().to_string(),
            ..request()
        })),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 2);
}

fn service_plan(plan: PlanId) -> pb::RecordServicePlanRequest {
    pb::RecordServicePlanRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        session_type: "individual psychotherapy".into(),
        minutes: 53,
        frequency: "weekly".into(),
        sessions_min: 12,
        sessions_max: 16,
        focus: "CBT for worry".into(),
        maintenance: "every 4-6 weeks".into(),
        monitoring: vec!["worry diary".into(), "sleep log".into()],
    }
}

#[tokio::test]
async fn record_service_plan_maps_every_field() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = service_plan(plan);
    let first = ok(call!(fx.record_service_plan(request.clone())));
    assert_eq!(first, answer(plan, plan.0, 1));
    assert_eq!(
        fx.events_from(plan, 1).await,
        [PlanEvent::ServicePlanRecorded(ServicePlanRecorded {
            session_type: "individual psychotherapy".into(),
            minutes: 53,
            frequency: "weekly".into(),
            sessions_min: 12,
            sessions_max: 16,
            focus: "CBT for worry".into(),
            maintenance: "every 4-6 weeks".into(),
            monitoring: vec!["worry diary".into(), "sleep log".into()],
        })]
    );
    fx.assert_duplicate(&first, call!(fx.record_service_plan(request)))
        .await;
}

#[tokio::test]
async fn record_service_plan_refuses_bad_ids_and_sessions_of_no_minutes() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    assert_invalid(
        call!(fx.record_service_plan(pb::RecordServicePlanRequest {
            command_id: String::new(),
            ..service_plan(plan)
        })),
        &["command_id"],
    );
    assert_invalid(
        call!(fx.record_service_plan(pb::RecordServicePlanRequest {
            command_id: "nope".into(),
            plan_id: "plan-7".into(),
            ..service_plan(plan)
        })),
        &["command_id", "plan_id"],
    );
    assert_invalid(
        call!(fx.record_service_plan(pb::RecordServicePlanRequest {
            minutes: 0,
            ..service_plan(plan)
        })),
        &["minutes"],
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

#[tokio::test]
async fn enter_in_error_maps_every_kind() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let objective = fx.objective(plan, goal).await;
    let intervention = fx.intervention(plan, goal).await;
    let measure = fx.measure(plan, pb::Instrument::Gad7, 12).await;
    let referral = fx.referral(plan, pb::ReferralStatus::Made).await;
    let review = fx.review(plan).await;
    fx.diagnosis(plan, "F41.1").await;
    let entries = [
        (
            pb::EntryKind::Goal,
            goal.to_string(),
            goal.0,
            CorrectionTarget::Goal(goal),
        ),
        (
            pb::EntryKind::Objective,
            objective.to_string(),
            objective.0,
            CorrectionTarget::Objective(objective),
        ),
        (
            pb::EntryKind::Intervention,
            intervention.to_string(),
            intervention.0,
            CorrectionTarget::Intervention(intervention),
        ),
        (
            pb::EntryKind::Measure,
            measure.to_string(),
            measure.0,
            CorrectionTarget::Measure(measure),
        ),
        (
            pb::EntryKind::Referral,
            referral.to_string(),
            referral.0,
            CorrectionTarget::Referral(referral),
        ),
        (
            pb::EntryKind::Review,
            review.to_string(),
            review.0,
            CorrectionTarget::Review(review),
        ),
        // A diagnosis is named by its code; the answer names the plan.
        (
            pb::EntryKind::Diagnosis,
            "f41.1".to_owned(),
            plan.0,
            CorrectionTarget::Diagnosis("F41.1".into()),
        ),
    ];
    for (kind, entry_id, entity, target) in entries {
        let revision = fx.len_of(plan).await;
        let request = pb::EnterInErrorRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            kind: kind.into(),
            entry_id,
            reason: format!("{kind:?} recorded for the wrong client"),
        };
        let first = ok(call!(fx.enter_in_error(request.clone())));
        assert_eq!(first, answer(plan, entity, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::EnteredInError(EnteredInError {
                target,
                reason: format!("{kind:?} recorded for the wrong client"),
            })]
        );
        fx.assert_duplicate(&first, call!(fx.enter_in_error(request)))
            .await;
    }
}

#[tokio::test]
async fn enter_in_error_refuses_bad_fields_a_missing_reason_and_an_unknown_entry() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let goal = fx.goal(plan).await;
    let request = || pb::EnterInErrorRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        kind: pb::EntryKind::Goal.into(),
        entry_id: goal.to_string(),
        reason: "wrong client".into(),
    };
    assert_invalid(
        call!(fx.enter_in_error(pb::EnterInErrorRequest {
            command_id: String::new(),
            kind: pb::EntryKind::Unspecified.into(),
            entry_id: "goal-1".into(),
            ..request()
        })),
        &["command_id", "kind", "entry_id"],
    );
    assert_invalid(
        call!(fx.enter_in_error(pb::EnterInErrorRequest {
            plan_id: "plan-7".into(),
            kind: pb::EntryKind::Diagnosis.into(),
            entry_id: String::new(),
            ..request()
        })),
        &["plan_id", "entry_id"],
    );
    assert_invalid(
        call!(fx.enter_in_error(pb::EnterInErrorRequest {
            reason: " ".into(),
            ..request()
        })),
        &["reason"],
    );
    refused(
        call!(fx.enter_in_error(pb::EnterInErrorRequest {
            kind: pb::EntryKind::Objective.into(),
            ..request()
        })),
        Code::FailedPrecondition,
    );
    assert_eq!(fx.len_of(plan).await, 2);
}

// ---------------------------------------------------------------------------
// Templates: SaveTemplate, RetireTemplate, ListTemplates,
// CreatePlanFromTemplate, CompleteObjective
// ---------------------------------------------------------------------------

/// A template that uses every value of every enum a template holds, on
/// the wire and as the domain stores it.
fn full_template(name: &str) -> (pb::PlanTemplate, PlanTemplate) {
    let measured = |(wire, instrument): (pb::Instrument, Instrument), percent: u32| {
        (
            pb::TemplateObjective {
                description: format!("{} down {percent}%", instrument.label()),
                unit: String::new(),
                period: String::new(),
                measure: Some(pb::MeasureTarget {
                    instrument: wire.into(),
                    reduction_percent: percent,
                }),
            },
            TemplateObjective {
                description: format!("{} down {percent}%", instrument.label()),
                unit: String::new(),
                period: String::new(),
                measure: Some(MeasureTarget {
                    instrument,
                    reduction_percent: u8::try_from(percent).unwrap(),
                }),
            },
        )
    };
    let quantity_objective = (
        pb::TemplateObjective {
            description: "Fewer worry episodes".into(),
            unit: "episodes".into(),
            period: "week".into(),
            measure: None,
        },
        TemplateObjective {
            description: "Fewer worry episodes".into(),
            unit: "episodes".into(),
            period: "week".into(),
            measure: None,
        },
    );
    let [phq9, gad7, pswq] = instruments();
    let objectives = [
        quantity_objective,
        measured(phq9, 50),
        measured(gad7, 40),
        measured(pswq, 30),
    ];
    let [(short_wire, short), (long_wire, long)] = terms();
    let modalities = modalities();
    let schedule = instruments().into_iter().zip([14, 14, 28]);
    let wire = pb::PlanTemplate {
        template_id: String::new(),
        version: 0,
        builtin: false,
        name: name.into(),
        goals: vec![
            pb::TemplateGoal {
                description: "Worry less".into(),
                term: short_wire.into(),
                objectives: objectives.iter().map(|(w, _)| w.clone()).collect(),
            },
            pb::TemplateGoal {
                description: "Sleep through the night".into(),
                term: long_wire.into(),
                objectives: vec![],
            },
        ],
        interventions: modalities
            .iter()
            .enumerate()
            .map(|(n, (w, other, _))| pb::TemplateIntervention {
                modality: (*w).into(),
                other_modality: (*other).into(),
                technique: format!("Technique {n}"),
                frequency: "weekly".into(),
                goal_indexes: if n % 2 == 0 { vec![0] } else { vec![0, 1] },
                comorbidity: if n == 0 {
                    "alcohol use".into()
                } else {
                    String::new()
                },
            })
            .collect(),
        measure_schedule: schedule
            .clone()
            .map(|((w, _), interval_days)| pb::MeasureSchedule {
                instrument: w.into(),
                interval_days,
            })
            .collect(),
        service_plan: Some(pb::ServicePlan {
            session_type: "individual psychotherapy".into(),
            minutes: 50,
            frequency: "weekly".into(),
            sessions_min: 12,
            sessions_max: 16,
            focus: "CBT for worry".into(),
            maintenance: "every 4-6 weeks".into(),
            monitoring: vec!["worry diary".into()],
        }),
    };
    let domain = PlanTemplate {
        name: name.into(),
        goals: vec![
            TemplateGoal {
                description: "Worry less".into(),
                term: short,
                objectives: objectives.iter().map(|(_, d)| d.clone()).collect(),
            },
            TemplateGoal {
                description: "Sleep through the night".into(),
                term: long,
                objectives: vec![],
            },
        ],
        interventions: modalities
            .iter()
            .enumerate()
            .map(|(n, (_, _, modality))| TemplateIntervention {
                modality: modality.clone(),
                technique: format!("Technique {n}"),
                frequency: "weekly".into(),
                goals: if n % 2 == 0 { vec![0] } else { vec![0, 1] },
                comorbidity: if n == 0 {
                    "alcohol use".into()
                } else {
                    String::new()
                },
            })
            .collect(),
        measure_schedule: schedule
            .map(|((_, instrument), interval_days)| MeasureScheduled {
                instrument,
                interval_days,
            })
            .collect(),
        service_plan: Some(ServicePlanRecorded {
            session_type: "individual psychotherapy".into(),
            minutes: 50,
            frequency: "weekly".into(),
            sessions_min: 12,
            sessions_max: 16,
            focus: "CBT for worry".into(),
            maintenance: "every 4-6 weeks".into(),
            monitoring: vec!["worry diary".into()],
        }),
    };
    (wire, domain)
}

#[tokio::test]
async fn save_template_maps_every_field_and_enum_and_versions_each_save() {
    let fx = Fixture::new();
    let (wire, domain) = full_template("Panic disorder");
    let wire = pb::PlanTemplate {
        template_id: "panic".into(),
        ..wire
    };
    let saved = ok(call!(fx.save_template(pb::SaveTemplateRequest {
        command_id: cid(),
        template: Some(wire.clone()),
    }) as fx.admin()));
    assert_eq!(
        saved,
        pb::PlanTemplate {
            version: 1,
            ..wire.clone()
        }
    );
    assert_eq!(
        fx.template_events().await,
        [TemplateEvent::Saved(Box::new(TemplateSaved {
            template_id: "panic".into(),
            template: domain,
        }))]
    );
    let renamed = pb::PlanTemplate {
        name: "Panic disorder, v2".into(),
        ..wire
    };
    let again = ok(call!(fx.save_template(pb::SaveTemplateRequest {
        command_id: cid(),
        template: Some(renamed.clone()),
    }) as fx.admin()));
    assert_eq!(
        again,
        pb::PlanTemplate {
            version: 2,
            ..renamed
        }
    );
    assert_eq!(fx.template_events().await.len(), 2);
}

#[tokio::test]
async fn save_template_without_an_id_derives_one() {
    let fx = Fixture::new();
    let (wire, _) = full_template("Insomnia");
    let saved = fx.saved_template(wire).await;
    assert!(!saved.template_id.is_empty());
    assert!(matches!(
        &fx.template_events().await[..],
        [TemplateEvent::Saved(s)] if s.template_id == saved.template_id
    ));
}

#[tokio::test]
async fn template_commands_without_a_command_id_are_refused_and_write_nothing() {
    let fx = Fixture::new();
    let (wire, _) = full_template("Panic disorder");
    assert_invalid(
        call!(fx.save_template(pb::SaveTemplateRequest {
            command_id: String::new(),
            template: Some(wire.clone()),
        }) as fx.admin()),
        &["command_id"],
    );
    assert!(fx.template_events().await.is_empty());
    let saved = fx.saved_template(wire).await;
    assert_invalid(
        call!(fx.retire_template(pb::RetireTemplateRequest {
            command_id: " ".into(),
            template_id: saved.template_id,
        }) as fx.admin()),
        &["command_id"],
    );
    assert_eq!(fx.template_events().await.len(), 1);
}

#[tokio::test]
async fn save_template_resent_answers_the_first_save() {
    let fx = Fixture::new();
    let (wire, _) = full_template("Panic disorder");
    let request = pb::SaveTemplateRequest {
        command_id: cid(),
        template: Some(pb::PlanTemplate {
            template_id: "panic".into(),
            ..wire
        }),
    };
    let first = ok(call!(fx.save_template(request.clone()) as fx.admin()));
    let again = ok(call!(fx.save_template(request) as fx.admin()));
    assert_eq!(fx.template_events().await.len(), 1);
    assert_eq!(again, first);
}

#[tokio::test]
async fn save_template_resent_after_a_later_version_still_answers_the_first_save() {
    let fx = Fixture::new();
    let (wire, _) = full_template("Panic disorder");
    let wire = pb::PlanTemplate {
        template_id: "panic".into(),
        ..wire
    };
    let request = pb::SaveTemplateRequest {
        command_id: cid(),
        template: Some(wire.clone()),
    };
    let first = ok(call!(fx.save_template(request.clone()) as fx.admin()));
    let later = ok(call!(fx.save_template(pb::SaveTemplateRequest {
        command_id: cid(),
        template: Some(pb::PlanTemplate {
            name: "Panic disorder, v2".into(),
            ..wire
        }),
    }) as fx.admin()));
    assert_eq!(later.version, 2);
    let again = ok(call!(fx.save_template(request) as fx.admin()));
    assert_eq!(again, first);
    assert_eq!(again.version, 1);
    assert_eq!(fx.template_events().await.len(), 2);
}

#[tokio::test]
async fn save_template_without_an_id_resent_answers_the_same_template() {
    let fx = Fixture::new();
    let (wire, _) = full_template("Insomnia");
    let request = pb::SaveTemplateRequest {
        command_id: cid(),
        template: Some(wire),
    };
    let first = ok(call!(fx.save_template(request.clone()) as fx.admin()));
    let again = ok(call!(fx.save_template(request) as fx.admin()));
    assert_eq!(again, first);
    assert_eq!(fx.template_events().await.len(), 1);
}

#[tokio::test]
async fn save_template_refuses_unspecified_enums_builtin_ids_and_non_admins() {
    let fx = Fixture::new();
    let (wire, _) = full_template("Panic disorder");
    let mut unspecified = wire.clone();
    unspecified.goals[0].term = pb::GoalTerm::Unspecified.into();
    unspecified.goals[0].objectives[1]
        .measure
        .as_mut()
        .unwrap()
        .instrument = pb::Instrument::Unspecified.into();
    unspecified.interventions[0].modality = pb::Modality::Unspecified.into();
    unspecified.measure_schedule[0].instrument = pb::Instrument::Unspecified.into();
    let request = |template: pb::PlanTemplate| pb::SaveTemplateRequest {
        command_id: cid(),
        template: Some(template),
    };
    assert_invalid(
        call!(fx.save_template(request(unspecified)) as fx.admin()),
        &[
            "goals.term",
            "measure.instrument",
            "interventions.modality",
            "measure_schedule.instrument",
        ],
    );
    assert_invalid(
        call!(fx.save_template(pb::SaveTemplateRequest {
            command_id: "nope".into(),
            ..request(wire.clone())
        }) as fx.admin()),
        &["command_id"],
    );
    assert_invalid(
        call!(fx.save_template(request(pb::PlanTemplate {
            name: String::new(),
            ..wire.clone()
        })) as fx.admin()),
        &["name"],
    );
    refused(
        call!(fx.save_template(request(pb::PlanTemplate {
            template_id: "builtin-gad".into(),
            ..wire.clone()
        })) as fx.admin()),
        Code::PermissionDenied,
    );
    refused(
        call!(fx.save_template(request(wire))),
        Code::PermissionDenied,
    );
    assert!(fx.template_events().await.is_empty());
}

#[tokio::test]
async fn save_template_names_every_bad_field_at_once() {
    let fx = Fixture::new();
    let (mut wire, _) = full_template("Panic disorder");
    wire.goals[0].term = pb::GoalTerm::Unspecified.into();
    assert_invalid(
        call!(fx.save_template(pb::SaveTemplateRequest {
            command_id: "nope".into(),
            template: Some(wire),
        }) as fx.admin()),
        &["command_id", "goals.term"],
    );
}

#[tokio::test]
async fn save_template_with_a_bad_command_id_names_the_templates_content_rules_too() {
    let fx = Fixture::new();
    let (wire, _) = full_template("Panic disorder");
    assert_invalid(
        call!(fx.save_template(pb::SaveTemplateRequest {
            command_id: "nope".into(),
            template: Some(pb::PlanTemplate {
                name: String::new(),
                ..wire
            }),
        }) as fx.admin()),
        &["command_id", "name"],
    );
    assert!(fx.template_events().await.is_empty());
}

#[tokio::test]
async fn retire_template_maps_the_id_and_takes_it_out_of_the_list() {
    let fx = Fixture::new();
    let (wire, _) = full_template("Panic disorder");
    let saved = fx.saved_template(wire).await;
    ok(call!(fx.retire_template(pb::RetireTemplateRequest {
        command_id: cid(),
        template_id: saved.template_id.clone(),
    }) as fx.admin()));
    assert_eq!(
        fx.template_events().await[1..],
        [TemplateEvent::Retired(TemplateRetired {
            template_id: saved.template_id.clone(),
        })]
    );
    let listed = ok(call!(fx.list_templates(pb::ListTemplatesRequest {})));
    assert!(
        listed
            .templates
            .iter()
            .all(|t| t.template_id != saved.template_id)
    );
}

#[tokio::test]
async fn retire_template_resent_answers_the_first_retire() {
    let fx = Fixture::new();
    let (wire, _) = full_template("Panic disorder");
    let saved = fx.saved_template(wire).await;
    let request = pb::RetireTemplateRequest {
        command_id: cid(),
        template_id: saved.template_id,
    };
    ok(call!(fx.retire_template(request.clone()) as fx.admin()));
    ok(call!(fx.retire_template(request) as fx.admin()));
    assert_eq!(fx.template_events().await.len(), 2);
}

#[tokio::test]
async fn retire_template_refuses_a_bad_command_id_unknown_and_builtin_templates_and_non_admins() {
    let fx = Fixture::new();
    let (wire, _) = full_template("Panic disorder");
    let saved = fx.saved_template(wire).await;
    let request = |template_id: &str| pb::RetireTemplateRequest {
        command_id: cid(),
        template_id: template_id.into(),
    };
    assert_invalid(
        call!(fx.retire_template(pb::RetireTemplateRequest {
            command_id: "nope".into(),
            ..request(&saved.template_id)
        }) as fx.admin()),
        &["command_id"],
    );
    refused(
        call!(fx.retire_template(request("no-such-template")) as fx.admin()),
        Code::NotFound,
    );
    refused(
        call!(fx.retire_template(request("builtin-mdd")) as fx.admin()),
        Code::PermissionDenied,
    );
    refused(
        call!(fx.retire_template(request(&saved.template_id))),
        Code::PermissionDenied,
    );
    assert_eq!(fx.template_events().await.len(), 1);
}

#[tokio::test]
async fn retire_template_names_a_missing_template_id() {
    let fx = Fixture::new();
    assert_invalid(
        call!(fx.retire_template(pb::RetireTemplateRequest {
            command_id: cid(),
            template_id: String::new(),
        }) as fx.admin()),
        &["template_id"],
    );
}

#[tokio::test]
async fn retire_template_names_every_bad_field_at_once() {
    let fx = Fixture::new();
    let status = assert_invalid(
        call!(fx.retire_template(pb::RetireTemplateRequest {
            command_id: "nope".into(),
            template_id: " ".into(),
        }) as fx.admin()),
        &["command_id", "template_id"],
    );
    assert!(
        status.message().contains("is required"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn list_templates_lists_the_builtin_ones_then_the_tenants() {
    let fx = Fixture::new();
    let builtin: Vec<String> = template::builtin_templates()
        .into_iter()
        .map(|(id, _)| id.to_owned())
        .collect();
    assert!(builtin.contains(&"builtin-gad".to_owned()));
    let listed = ok(call!(fx.list_templates(pb::ListTemplatesRequest {})));
    assert_eq!(
        listed
            .templates
            .iter()
            .map(|t| t.template_id.clone())
            .collect::<Vec<_>>(),
        builtin
    );
    assert!(listed.templates.iter().all(|t| t.builtin && t.version == 1));
    let (wire, _) = full_template("Panic disorder");
    let saved = fx.saved_template(wire).await;
    // Anyone but a client reads them.
    let listed = ok(call!(fx.list_templates(pb::ListTemplatesRequest {}) as fx.auditor()));
    assert_eq!(listed.templates.len(), builtin.len() + 1);
    assert_eq!(listed.templates.last(), Some(&saved));
}

#[tokio::test]
async fn list_templates_refuses_clients() {
    let fx = Fixture::new();
    refused(
        call!(fx.list_templates(pb::ListTemplatesRequest {}) as fx.client()),
        Code::PermissionDenied,
    );
}

/// The events a plan made from `template` (saved as version 1) starts with.
fn plan_from(plan: PlanId, template_id: &str, template: &PlanTemplate) -> Vec<PlanEvent> {
    let goal = |n: usize| GoalId(child_id(plan, "goal", n));
    let mut events = vec![PlanEvent::PlanCreated(PlanCreated {
        plan_id: plan,
        client_id: CLIENT.into(),
        primary_clinician_id: CLIN.into(),
        clinic_id: CLINIC.into(),
        title: "Anxiety plan".into(),
        created_on: today(),
        template: Some(TemplateRef {
            template_id: template_id.into(),
            version: 1,
        }),
        payer: String::new(),
    })];
    let mut objectives = 0;
    for (n, g) in template.goals.iter().enumerate() {
        events.push(PlanEvent::GoalAdded(GoalAdded {
            goal_id: goal(n),
            description: g.description.clone(),
            term: g.term,
        }));
        for o in &g.objectives {
            events.push(PlanEvent::ObjectiveDrafted(ObjectiveDrafted {
                objective_id: ObjectiveId(child_id(plan, "objective", objectives)),
                goal_id: goal(n),
                description: o.description.clone(),
                unit: o.unit.clone(),
                period: o.period.clone(),
                measure: o.measure,
            }));
            objectives += 1;
        }
    }
    for (n, i) in template.interventions.iter().enumerate() {
        events.push(PlanEvent::InterventionAdded(InterventionAdded {
            intervention_id: InterventionId(child_id(plan, "intervention", n)),
            modality: i.modality.clone(),
            technique: i.technique.clone(),
            frequency: i.frequency.clone(),
            goal_ids: i.goals.iter().map(|g| goal(*g)).collect(),
            comorbidity: i.comorbidity.clone(),
        }));
    }
    events.extend(
        template
            .measure_schedule
            .iter()
            .map(|s| PlanEvent::MeasureScheduled(*s)),
    );
    events.extend(
        template
            .service_plan
            .clone()
            .map(PlanEvent::ServicePlanRecorded),
    );
    events
}

/// A plan made from the full template; answers the plan and the template.
async fn plan_from_full_template(fx: &Fixture) -> (PlanId, PlanTemplate) {
    let (wire, domain) = full_template("Panic disorder");
    let saved = fx.saved_template(wire).await;
    let plan = PlanId(Uuid::new_v4());
    ok(call!(fx.create_plan_from_template(
        pb::CreatePlanFromTemplateRequest {
            plan: Some(create_request(plan, "")),
            template_id: saved.template_id,
        }
    )));
    (plan, domain)
}

#[tokio::test]
async fn create_plan_from_template_maps_the_plan_and_copies_the_template() {
    let fx = Fixture::new();
    let (wire, domain) = full_template("Panic disorder");
    let saved = fx.saved_template(wire).await;
    let plan = PlanId(Uuid::new_v4());
    let request = pb::CreatePlanFromTemplateRequest {
        plan: Some(create_request(plan, "")),
        template_id: saved.template_id.clone(),
    };
    let first = ok(call!(fx.create_plan_from_template(request.clone())));
    let expected = plan_from(plan, &saved.template_id, &domain);
    assert_eq!(first, answer(plan, plan.0, expected.len() as u64 - 1));
    assert_eq!(fx.events_of(plan).await, expected);
    fx.assert_duplicate(&first, call!(fx.create_plan_from_template(request)))
        .await;
}

#[tokio::test]
async fn create_plan_from_a_builtin_template_names_it() {
    let fx = Fixture::new();
    let plan = PlanId(Uuid::new_v4());
    let first = ok(call!(fx.create_plan_from_template(
        pb::CreatePlanFromTemplateRequest {
            plan: Some(create_request(plan, "medicaid")),
            template_id: "builtin-gad".into(),
        }
    )));
    let events = fx.events_of(plan).await;
    assert_eq!(first, answer(plan, plan.0, events.len() as u64 - 1));
    let PlanEvent::PlanCreated(created) = &events[0] else {
        panic!("{:?}", events[0]);
    };
    assert_eq!(
        created.template,
        Some(TemplateRef {
            template_id: "builtin-gad".into(),
            version: 1,
        })
    );
    assert_eq!(created.payer, "medicaid");
}

#[tokio::test]
async fn create_plan_from_template_refuses_bad_fields_and_an_unknown_template() {
    let fx = Fixture::new();
    let plan = PlanId(Uuid::new_v4());
    assert_invalid(
        call!(
            fx.create_plan_from_template(pb::CreatePlanFromTemplateRequest {
                plan: Some(pb::CreatePlanRequest {
                    command_id: String::new(),
                    ..create_request(plan, "")
                }),
                template_id: String::new(),
            })
        ),
        &["plan.command_id", "template_id"],
    );
    assert_invalid(
        call!(
            fx.create_plan_from_template(pb::CreatePlanFromTemplateRequest {
                plan: Some(pb::CreatePlanRequest {
                    plan_id: "plan-7".into(),
                    ..create_request(plan, "")
                }),
                template_id: "builtin-gad".into(),
            })
        ),
        &["plan.plan_id"],
    );
    assert_invalid(
        call!(
            fx.create_plan_from_template(pb::CreatePlanFromTemplateRequest {
                plan: None,
                template_id: "builtin-gad".into(),
            })
        ),
        &["plan"],
    );
    refused(
        call!(
            fx.create_plan_from_template(pb::CreatePlanFromTemplateRequest {
                plan: Some(create_request(plan, "")),
                template_id: "no-such-template".into(),
            })
        ),
        Code::NotFound,
    );
    assert_eq!(fx.len_of(plan).await, 0);
}

#[tokio::test]
async fn complete_objective_maps_the_numbers_and_keeps_the_templates_unit() {
    let fx = Fixture::new();
    let (plan, _) = plan_from_full_template(&fx).await;
    let objective = ObjectiveId(child_id(plan, "objective", 0));
    let revision = fx.len_of(plan).await;
    let request = pb::CompleteObjectiveRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
        description: "Two or fewer worry episodes a week".into(),
        quantity: Some(pb::Quantity {
            baseline: Some(6.0),
            target: Some(2.0),
            unit: String::new(),
            period: String::new(),
        }),
        target_date: in_days(60).to_string(),
    };
    let first = ok(call!(fx.complete_objective(request.clone())));
    assert_eq!(first, answer(plan, objective.0, revision));
    assert_eq!(
        fx.events_from(plan, revision).await,
        [PlanEvent::ObjectiveAdded(ObjectiveAdded {
            objective_id: objective,
            goal_id: GoalId(child_id(plan, "goal", 0)),
            description: "Two or fewer worry episodes a week".into(),
            baseline: 6.0,
            target: 2.0,
            unit: "episodes".into(),
            period: "week".into(),
            target_date: in_days(60),
            measure: None,
        })]
    );
    fx.assert_duplicate(&first, call!(fx.complete_objective(request)))
        .await;
}

#[tokio::test]
async fn complete_objective_maps_a_measured_placeholder_by_its_date_alone() {
    let fx = Fixture::new();
    let (plan, template) = plan_from_full_template(&fx).await;
    fx.measure(plan, pb::Instrument::Phq9, 20).await;
    let objective = ObjectiveId(child_id(plan, "objective", 1));
    let revision = fx.len_of(plan).await;
    let first = ok(call!(fx.complete_objective(pb::CompleteObjectiveRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: objective.to_string(),
        description: String::new(),
        quantity: None,
        target_date: in_days(84).to_string(),
    })));
    assert_eq!(first, answer(plan, objective.0, revision));
    assert_eq!(
        fx.events_from(plan, revision).await,
        [PlanEvent::ObjectiveAdded(ObjectiveAdded {
            objective_id: objective,
            goal_id: GoalId(child_id(plan, "goal", 0)),
            description: template.goals[0].objectives[1].description.clone(),
            baseline: 20.0,
            target: 10.0,
            unit: "PHQ-9 total score".into(),
            period: String::new(),
            target_date: in_days(84),
            measure: Some(MeasureTarget {
                instrument: Instrument::Phq9,
                reduction_percent: 50,
            }),
        })]
    );
}

#[tokio::test]
async fn complete_objective_refuses_bad_fields_a_quantity_for_a_measure_and_a_second_completion() {
    let fx = Fixture::new();
    let (plan, _) = plan_from_full_template(&fx).await;
    let request = |n: usize| pb::CompleteObjectiveRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        objective_id: child_id(plan, "objective", n).to_string(),
        description: String::new(),
        quantity: Some(pb::Quantity {
            baseline: Some(6.0),
            target: Some(2.0),
            unit: String::new(),
            period: String::new(),
        }),
        target_date: in_days(60).to_string(),
    };
    let revision = fx.len_of(plan).await;
    assert_invalid(
        call!(fx.complete_objective(pb::CompleteObjectiveRequest {
            command_id: String::new(),
            objective_id: "objective-1".into(),
            target_date: "next month".into(),
            ..request(0)
        })),
        &["command_id", "objective_id", "target_date"],
    );
    assert_invalid(
        call!(fx.complete_objective(pb::CompleteObjectiveRequest {
            plan_id: "plan-7".into(),
            ..request(0)
        })),
        &["plan_id"],
    );
    assert_invalid(call!(fx.complete_objective(request(1))), &["quantity"]);
    assert_eq!(fx.len_of(plan).await, revision);
    ok(call!(fx.complete_objective(request(0))));
    refused(
        call!(fx.complete_objective(request(0))),
        Code::AlreadyExists,
    );
    assert_eq!(fx.len_of(plan).await, revision + 1);
}

// ---------------------------------------------------------------------------
// Settings: SetReviewRule, GetReviewRules
// ---------------------------------------------------------------------------

fn rule(payer: &str, interval_days: u32) -> pb::ReviewRule {
    pb::ReviewRule {
        payer: payer.into(),
        interval_days,
    }
}

#[tokio::test]
async fn set_review_rule_sent_again_with_its_command_id_is_set_once() {
    let fx = Fixture::new();
    let request = || pb::SetReviewRuleRequest {
        payer: "medicaid".into(),
        interval_days: 30,
        command_id: cid_fixed(),
    };
    let first = ok(call!(fx.set_review_rule(request()) as fx.admin()));
    // Another admin changes the rule in between; the resend still answers
    // as the first call did and writes nothing.
    ok(call!(fx.set_review_rule(pb::SetReviewRuleRequest {
        payer: "medicaid".into(),
        interval_days: 45,
        command_id: String::new(),
    }) as fx.admin()));
    let again = ok(call!(fx.set_review_rule(request()) as fx.admin()));
    assert_eq!(again.rules, first.rules);
    assert_eq!(fx.review_rule_events().await.len(), 2);
    assert_invalid(
        call!(fx.set_review_rule(pb::SetReviewRuleRequest {
            command_id: "not-a-uuid".into(),
            ..request()
        }) as fx.admin()),
        &["command_id"],
    );
    assert_eq!(fx.review_rule_events().await.len(), 2);
}

/// The same command id on every call of one test.
fn cid_fixed() -> String {
    "7d6f8f8e-3c0a-4c55-9a43-2f3b1e0c9b11".into()
}

#[tokio::test]
async fn set_review_rule_maps_payer_and_interval_and_answers_every_rule() {
    let fx = Fixture::new();
    let set = ok(call!(fx.set_review_rule(pb::SetReviewRuleRequest {
        payer: "medicaid".into(),
        interval_days: 30,
        command_id: String::new(),
    }) as fx.admin()));
    assert_eq!(set.rules, [rule("", 90), rule("medicaid", 30)]);
    let set = ok(call!(fx.set_review_rule(pb::SetReviewRuleRequest {
        payer: String::new(),
        interval_days: 60,
        command_id: String::new(),
    }) as fx.admin()));
    assert_eq!(set.rules, [rule("", 60), rule("medicaid", 30)]);
    assert_eq!(
        fx.review_rule_events().await,
        [
            ReviewRuleEvent::RuleSet(ReviewRuleSet {
                payer: "medicaid".into(),
                interval_days: 30,
            }),
            ReviewRuleEvent::RuleSet(ReviewRuleSet {
                payer: String::new(),
                interval_days: 60,
            }),
        ]
    );
}

#[tokio::test]
async fn a_review_rule_sets_the_first_review_of_a_plan_of_its_payer() {
    let fx = Fixture::new();
    ok(call!(fx.set_review_rule(pb::SetReviewRuleRequest {
        payer: "medicaid".into(),
        interval_days: 30,
        command_id: String::new(),
    }) as fx.admin()));
    let plan = fx.ready_draft("medicaid").await;
    let activated = ok(call!(fx.activate_plan(pb::ActivatePlanRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
    })));
    let events = fx.events_of(plan).await;
    assert_eq!(
        events.last(),
        Some(&PlanEvent::ReviewScheduled(ReviewScheduled {
            review_id: ReviewId(activated.entity_id.parse().unwrap()),
            due_on: in_days(30),
            origin: ReviewOrigin::Rule,
        }))
    );
}

#[tokio::test]
async fn set_review_rule_refuses_an_interval_outside_a_year_and_non_admins() {
    let fx = Fixture::new();
    for interval_days in [0, 367] {
        assert_invalid(
            call!(fx.set_review_rule(pb::SetReviewRuleRequest {
                payer: "medicaid".into(),
                interval_days,
                command_id: String::new(),
            }) as fx.admin()),
            &["interval_days"],
        );
    }
    for caller in [fx.clinician(), fx.supervisor(), fx.auditor(), fx.client()] {
        refused(
            call!(fx.set_review_rule(pb::SetReviewRuleRequest {
                payer: "medicaid".into(),
                interval_days: 30,
                command_id: String::new(),
            }) as caller),
            Code::PermissionDenied,
        );
    }
    assert!(fx.review_rule_events().await.is_empty());
}

#[tokio::test]
async fn get_review_rules_answers_the_default_then_the_rules_set() {
    let fx = Fixture::new();
    let rules = ok(call!(fx.get_review_rules(pb::GetReviewRulesRequest {})));
    assert_eq!(rules.rules, [rule("", 90)]);
    ok(call!(fx.set_review_rule(pb::SetReviewRuleRequest {
        payer: "Aetna".into(),
        interval_days: 120,
        command_id: String::new(),
    }) as fx.admin()));
    let rules = ok(call!(fx.get_review_rules(pb::GetReviewRulesRequest {}) as fx.auditor()));
    assert_eq!(rules.rules, [rule("", 90), rule("aetna", 120)]);
}

#[tokio::test]
async fn get_review_rules_refuses_clients() {
    let fx = Fixture::new();
    refused(
        call!(fx.get_review_rules(pb::GetReviewRulesRequest {}) as fx.client()),
        Code::PermissionDenied,
    );
}

// ---------------------------------------------------------------------------
// Settings: SetRetentionPeriod, GetRetentionPeriod
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_retention_period_is_the_default_until_an_admin_sets_the_tenant_s_own() {
    let fx = Fixture::new();
    let read = ok(call!(
        fx.get_retention_period(pb::GetRetentionPeriodRequest {}) as fx.auditor()
    ));
    assert_eq!((read.years, read.tenant_rule), (6, false));
    for caller in [fx.clinician(), fx.supervisor(), fx.auditor(), fx.client()] {
        refused(
            call!(fx.set_retention_period(pb::SetRetentionPeriodRequest {
                years: 7,
                command_id: String::new(),
            }) as caller),
            Code::PermissionDenied,
        );
    }
    for years in [0, 101] {
        assert_invalid(
            call!(fx.set_retention_period(pb::SetRetentionPeriodRequest {
                years,
                command_id: String::new(),
            }) as fx.admin()),
            &["years"],
        );
    }
    let stream = fx.settings_stream("retention", "tenant");
    assert!(fx.recorded(&stream).await.is_empty());

    let set = ok(
        call!(fx.set_retention_period(pb::SetRetentionPeriodRequest {
        years: 10,
        command_id: cid_fixed(),
    }) as fx.admin()),
    );
    assert_eq!((set.years, set.tenant_rule), (10, true));
    let again = ok(
        call!(fx.set_retention_period(pb::SetRetentionPeriodRequest {
        years: 10,
        command_id: cid_fixed(),
    }) as fx.admin()),
    );
    assert_eq!(again, set);
    assert_eq!(fx.recorded(&stream).await.len(), 1);
    let read = ok(call!(
        fx.get_retention_period(pb::GetRetentionPeriodRequest {}) as fx.supervisor()
    ));
    assert_eq!(read, set);
    refused(
        call!(fx.get_retention_period(pb::GetRetentionPeriodRequest {}) as fx.client()),
        Code::PermissionDenied,
    );
}

// ---------------------------------------------------------------------------
// Care team: AssignCareTeam
// ---------------------------------------------------------------------------

#[tokio::test]
async fn assign_care_team_maps_the_team_and_opens_the_plan_to_its_members() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let member = fx.caller("clin-2", Role::Clinician);
    let add_goal = || pb::AddGoalRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        goal_id: String::new(),
        description: "Worry less".into(),
        term: pb::GoalTerm::ShortTerm.into(),
    };
    refused(
        call!(fx.add_goal(add_goal()) as member.clone()),
        Code::NotFound,
    );
    for (caller, members) in [
        (fx.admin(), vec!["clin-2".to_owned(), "clin-3".to_owned()]),
        (fx.supervisor(), vec!["clin-2".to_owned()]),
    ] {
        let revision = fx.len_of(plan).await;
        let request = pb::AssignCareTeamRequest {
            command_id: cid(),
            plan_id: plan.to_string(),
            primary_clinician_id: CLIN.into(),
            members: members.clone(),
        };
        let first = ok(call!(fx.assign_care_team(request.clone()) as caller.clone()));
        assert_eq!(first, answer(plan, plan.0, revision));
        assert_eq!(
            fx.events_from(plan, revision).await,
            [PlanEvent::CareTeamAssigned(CareTeamAssigned {
                primary_clinician_id: CLIN.into(),
                members,
            })]
        );
        fx.assert_duplicate(&first, call!(fx.assign_care_team(request) as caller))
            .await;
    }
    ok(call!(fx.add_goal(add_goal()) as member));
}

#[tokio::test]
async fn assign_care_team_refuses_bad_ids_a_missing_primary_and_clinicians() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = || pb::AssignCareTeamRequest {
        command_id: cid(),
        plan_id: plan.to_string(),
        primary_clinician_id: CLIN.into(),
        members: vec!["clin-2".into()],
    };
    assert_invalid(
        call!(fx.assign_care_team(pb::AssignCareTeamRequest {
            command_id: String::new(),
            ..request()
        }) as fx.admin()),
        &["command_id"],
    );
    assert_invalid(
        call!(fx.assign_care_team(pb::AssignCareTeamRequest {
            command_id: "nope".into(),
            plan_id: "plan-7".into(),
            ..request()
        }) as fx.admin()),
        &["command_id", "plan_id"],
    );
    assert_invalid(
        call!(fx.assign_care_team(pb::AssignCareTeamRequest {
            primary_clinician_id: String::new(),
            ..request()
        }) as fx.admin()),
        &["primary_clinician_id"],
    );
    refused(
        call!(fx.assign_care_team(request())),
        Code::PermissionDenied,
    );
    assert_eq!(fx.len_of(plan).await, 1);
}

// ---------------------------------------------------------------------------
// Retries and authorization
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_replayed_command_id_tells_an_outsider_nothing() {
    let fx = Fixture::new();
    let plan = fx.plan().await;
    let request = |command_id: String| pb::AddGoalRequest {
        command_id,
        plan_id: plan.to_string(),
        goal_id: String::new(),
        description: "Worry less".into(),
        term: pb::GoalTerm::ShortTerm.into(),
    };
    let known = cid();
    ok(call!(fx.add_goal(request(known.clone()))));
    // Another clinician, not on the care team: a replay of the known id
    // and a fresh id get the same answer, and neither says "duplicate".
    let outsider = fx.caller("clin-99", Role::Clinician);
    let replayed = call!(fx.add_goal(request(known)) as outsider.clone()).unwrap_err();
    let fresh = call!(fx.add_goal(request(cid())) as outsider).unwrap_err();
    assert_eq!(replayed.code(), Code::NotFound);
    assert_eq!(
        (replayed.code(), replayed.message()),
        (fresh.code(), fresh.message())
    );
    assert_eq!(fx.len_of(plan).await, 2);
}

#[tokio::test]
async fn a_command_id_reused_on_another_plan_is_refused_for_good() {
    let fx = Fixture::new();
    let first_plan = fx.plan().await;
    let second_plan = fx.plan().await;
    let reused = cid();
    let add_goal = |plan: PlanId| pb::AddGoalRequest {
        command_id: reused.clone(),
        plan_id: plan.to_string(),
        goal_id: String::new(),
        description: "Worry less".into(),
        term: pb::GoalTerm::ShortTerm.into(),
    };
    ok(call!(fx.add_goal(add_goal(first_plan))));
    let refused = call!(fx.add_goal(add_goal(second_plan))).unwrap_err();
    // Not UNAVAILABLE ("retry"): a definite answer naming the field.
    assert_eq!(refused.code(), Code::AlreadyExists);
    let fields: Vec<String> = refused
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["command_id"]);
    assert_eq!(fx.len_of(second_plan).await, 1);
}
