//! GraphQL mutations: every plan command, sent on to the plans gRPC
//! service with the caller's token and the current trace context, so a
//! mobile or clinic app needs only GraphQL.

use std::future::Future;

use async_graphql::{Context, ErrorExtensions, ID, InputObject, Object, SimpleObject};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use tracing::Instrument;
use trellis_grpc_edge::tracing_context::inject_current;
use trellis_proto::plans::v1 as pb;
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;

use crate::schema::GqlModality;
use crate::schema::{
    GqlGoalOutcome, GqlGoalTerm, GqlInstrument, GqlProgressSource, GqlReviewDecision, caller, error,
};

/// The caller's bearer token, forwarded as-is to the gRPC service.
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

/// What an accepted command returns.
#[derive(Debug, SimpleObject)]
pub struct CommandResult {
    plan_id: ID,
    /// The goal, objective or review the command created or touched.
    entity_id: ID,
    /// The plan version after the command.
    revision: u64,
    /// True when this command id was applied before and nothing new was written.
    duplicate: bool,
}

/// gRPC status → GraphQL error with `extensions.code`, and the field
/// violations of `INVALID_ARGUMENT` as `extensions.fieldViolations`.
pub(crate) fn to_graphql(status: &Status) -> async_graphql::Error {
    let code = match status.code() {
        Code::InvalidArgument | Code::OutOfRange => "BAD_USER_INPUT",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::PermissionDenied => "FORBIDDEN",
        Code::Unauthenticated => "UNAUTHENTICATED",
        Code::Aborted => "CONFLICT",
        Code::Unavailable | Code::DeadlineExceeded => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    let message = if code == "INTERNAL" {
        tracing::error!(code = ?status.code(), "plans service failed");
        "internal error"
    } else {
        // The plans service's messages state rules, never values.
        status.message()
    };
    let violations: Vec<(String, String)> = status
        .get_error_details()
        .bad_request()
        .map(|b| {
            b.field_violations
                .iter()
                .map(|v| (v.field.clone(), v.description.clone()))
                .collect()
        })
        .unwrap_or_default();
    error(code, message).extend_with(move |_, e| {
        if !violations.is_empty() {
            let list: Vec<async_graphql::Value> = violations
                .iter()
                .map(|(field, description)| {
                    let mut v = async_graphql::indexmap::IndexMap::new();
                    v.insert(async_graphql::Name::new("field"), field.clone().into());
                    v.insert(
                        async_graphql::Name::new("description"),
                        description.clone().into(),
                    );
                    async_graphql::Value::Object(v)
                })
                .collect();
            e.set("fieldViolations", list);
        }
    })
}

/// A gRPC request carrying the caller's token and the current trace.
pub(crate) fn authorized<M>(
    ctx: &Context<'_>,
    message: M,
) -> async_graphql::Result<tonic::Request<M>> {
    let token = ctx
        .data::<BearerToken>()
        .map_err(|_| error("UNAUTHENTICATED", "missing bearer token"))?;
    let authorization = format!("Bearer {}", token.0)
        .parse()
        .map_err(|_| error("UNAUTHENTICATED", "malformed bearer token"))?;
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", authorization);
    inject_current(request.metadata_mut());
    Ok(request)
}

/// Sends one command: a client span, the caller's token, `traceparent`.
pub(crate) async fn send<M, F, Fut>(
    ctx: &Context<'_>,
    method: &'static str,
    message: M,
    call: F,
) -> async_graphql::Result<CommandResult>
where
    F: FnOnce(PlanServiceClient<Channel>, tonic::Request<M>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<pb::CommandResponse>, Status>>,
{
    let reply = call_plans(ctx, method, message, call).await?;
    Ok(CommandResult {
        plan_id: ID(reply.plan_id),
        entity_id: ID(reply.entity_id),
        revision: reply.revision,
        duplicate: reply.duplicate,
    })
}

/// Calls one plans-service method: a client span, the caller's token,
/// `traceparent`; gRPC errors become GraphQL errors.
pub(crate) async fn call_plans<M, R, F, Fut>(
    ctx: &Context<'_>,
    method: &'static str,
    message: M,
    call: F,
) -> async_graphql::Result<R>
where
    F: FnOnce(PlanServiceClient<Channel>, tonic::Request<M>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<R>, Status>>,
{
    let tenant = caller(ctx)?.tenant.to_string();
    let client = ctx
        .data::<PlanServiceClient<Channel>>()
        .map_err(|_| error("UNAVAILABLE", "commands are not available here"))?
        .clone();
    let span = tracing::info_span!(
        "grpc.client",
        otel.name = %format!("trellis.plans.v1.PlanService/{method}"),
        otel.kind = "client",
        rpc.system = "grpc",
        tenant = %tenant,
    );
    async move {
        let request = authorized(ctx, message)?;
        Ok(call(client, request)
            .await
            .map_err(|s| to_graphql(&s))?
            .into_inner())
    }
    .instrument(span)
    .await
}

#[derive(Debug, InputObject)]
pub struct CreatePlanInput {
    /// Client-chosen UUID; sending the same command again changes nothing.
    command_id: ID,
    plan_id: Option<ID>,
    client_id: String,
    primary_clinician_id: String,
    clinic_id: String,
    title: Option<String>,
    /// Whose review rules apply, e.g. "medicaid"; omitted for the default.
    payer: Option<String>,
}

impl CreatePlanInput {
    pub(crate) fn into_wire(self) -> pb::CreatePlanRequest {
        pb::CreatePlanRequest {
            command_id: self.command_id.0,
            plan_id: id(self.plan_id),
            client_id: self.client_id,
            primary_clinician_id: self.primary_clinician_id,
            clinic_id: self.clinic_id,
            title: self.title.unwrap_or_default(),
            payer: self.payer.unwrap_or_default(),
        }
    }
}

#[derive(Debug, InputObject)]
pub struct AddGoalInput {
    command_id: ID,
    plan_id: ID,
    goal_id: Option<ID>,
    description: String,
    term: GqlGoalTerm,
}

#[derive(Debug, InputObject)]
pub struct CloseGoalInput {
    command_id: ID,
    plan_id: ID,
    goal_id: ID,
    outcome: GqlGoalOutcome,
}

#[derive(Debug, InputObject)]
pub struct QuantityInput {
    baseline: Option<f64>,
    target: Option<f64>,
    unit: Option<String>,
    period: Option<String>,
}

impl QuantityInput {
    pub(crate) fn into_wire(self) -> pb::Quantity {
        pb::Quantity {
            baseline: self.baseline,
            target: self.target,
            unit: self.unit.unwrap_or_default(),
            period: self.period.unwrap_or_default(),
        }
    }
}

/// "PHQ-9 at least 60% below baseline"; met automatically by a score.
#[derive(Debug, InputObject)]
pub struct MeasureTargetInput {
    pub(crate) instrument: GqlInstrument,
    pub(crate) reduction_percent: u32,
}

impl MeasureTargetInput {
    pub(crate) fn to_wire(&self) -> pb::MeasureTarget {
        pb::MeasureTarget {
            instrument: wire_instrument(self.instrument) as i32,
            reduction_percent: self.reduction_percent,
        }
    }
}

#[derive(Debug, InputObject)]
pub struct AddObjectiveInput {
    command_id: ID,
    plan_id: ID,
    objective_id: Option<ID>,
    goal_id: ID,
    description: String,
    quantity: Option<QuantityInput>,
    /// Instead of a quantity: a questionnaire score to bring down.
    measure: Option<MeasureTargetInput>,
    /// ISO date, e.g. 2027-05-01.
    target_date: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct RecordObjectiveProgressInput {
    command_id: ID,
    plan_id: ID,
    objective_id: ID,
    value: f64,
    observed_on: String,
    source: GqlProgressSource,
    note: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct MarkObjectiveMetInput {
    command_id: ID,
    plan_id: ID,
    objective_id: ID,
}

#[derive(Debug, InputObject)]
pub struct ScheduleReviewInput {
    command_id: ID,
    plan_id: ID,
    review_id: Option<ID>,
    due_on: String,
}

#[derive(Debug, InputObject)]
pub struct HoldReviewInput {
    command_id: ID,
    plan_id: ID,
    review_id: ID,
    held_on: String,
    participants: Vec<String>,
    summary: String,
    decision: GqlReviewDecision,
}

#[derive(Debug, InputObject)]
pub struct RecordMeasureInput {
    command_id: ID,
    plan_id: ID,
    measure_id: Option<ID>,
    instrument: GqlInstrument,
    /// One answer per item, in order; or leave out and give `total`.
    answers: Option<Vec<u32>>,
    total: Option<u32>,
    administered_on: String,
    source: GqlProgressSource,
}

#[derive(Debug, InputObject)]
pub struct AcknowledgeSafetyFlagInput {
    command_id: ID,
    plan_id: ID,
    flag_id: ID,
    note: Option<String>,
}

/// What an entered-in-error correction points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum EntryKind {
    Goal,
    Objective,
    Intervention,
    Measure,
    Referral,
    Review,
    /// `entryId` is the ICD-10-CM code.
    Diagnosis,
}

#[derive(Debug, InputObject)]
pub struct EnterInErrorInput {
    command_id: ID,
    plan_id: ID,
    kind: EntryKind,
    entry_id: ID,
    /// Required: why the entry was a mistake. Recorded with the event.
    reason: String,
}

#[derive(Debug, InputObject)]
pub struct AddDiagnosisInput {
    command_id: ID,
    plan_id: ID,
    /// ICD-10-CM code, e.g. F41.1.
    code: String,
    primary: Option<bool>,
}

#[derive(Debug, InputObject)]
pub struct SymptomInput {
    name: String,
    frequency: Option<String>,
    intensity: Option<String>,
    onset: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct RecordPresentingProblemInput {
    command_id: ID,
    plan_id: ID,
    narrative: String,
    symptoms: Vec<SymptomInput>,
}

#[derive(Debug, InputObject)]
pub struct AddInterventionInput {
    command_id: ID,
    plan_id: ID,
    intervention_id: Option<ID>,
    modality: GqlModality,
    /// Required when `modality` is OTHER.
    other_modality: Option<String>,
    technique: String,
    frequency: Option<String>,
    goal_ids: Vec<ID>,
    /// A comorbid issue it addresses, e.g. "alcohol use".
    comorbidity: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct CrisisContactInput {
    name: String,
    relationship: Option<String>,
    phone: String,
}

#[derive(Debug, InputObject)]
pub struct RecordSafetyPlanInput {
    command_id: ID,
    plan_id: ID,
    warning_signs: Vec<String>,
    coping_steps: Vec<String>,
    contacts: Vec<CrisisContactInput>,
    crisis_lines: Vec<String>,
}

pub(crate) fn wire_modality(m: GqlModality) -> pb::Modality {
    match m {
        GqlModality::Cbt => pb::Modality::Cbt,
        GqlModality::Dbt => pb::Modality::Dbt,
        GqlModality::Act => pb::Modality::Act,
        GqlModality::Mbsr => pb::Modality::Mbsr,
        GqlModality::Exposure => pb::Modality::Exposure,
        GqlModality::FamilyTherapy => pb::Modality::FamilyTherapy,
        GqlModality::Psychoeducation => pb::Modality::Psychoeducation,
        GqlModality::RelaxationTraining => pb::Modality::RelaxationTraining,
        GqlModality::BehaviouralActivation => pb::Modality::BehaviouralActivation,
        GqlModality::SleepHygiene => pb::Modality::SleepHygiene,
        GqlModality::MotivationalInterviewing => pb::Modality::MotivationalInterviewing,
        GqlModality::Other => pb::Modality::Other,
    }
}

pub(crate) fn wire_term(t: GqlGoalTerm) -> pb::GoalTerm {
    match t {
        GqlGoalTerm::ShortTerm => pb::GoalTerm::ShortTerm,
        GqlGoalTerm::LongTerm => pb::GoalTerm::LongTerm,
    }
}

pub(crate) fn wire_instrument(i: GqlInstrument) -> pb::Instrument {
    match i {
        GqlInstrument::Phq9 => pb::Instrument::Phq9,
        GqlInstrument::Gad7 => pb::Instrument::Gad7,
        GqlInstrument::Pswq => pb::Instrument::Pswq,
    }
}

pub(crate) fn id(value: Option<ID>) -> String {
    value.map(|v| v.0).unwrap_or_default()
}

/// Every mutation: the plan's content, and its lifecycle and signatures.
#[derive(Debug, Default, async_graphql::MergedObject)]
pub struct MutationRoot(
    PlanMutation,
    crate::care_mutation::CareMutation,
    crate::templates::TemplateMutation,
);

#[derive(Debug, Default)]
pub struct PlanMutation;

#[Object]
impl PlanMutation {
    async fn create_plan(
        &self,
        ctx: &Context<'_>,
        input: CreatePlanInput,
    ) -> async_graphql::Result<CommandResult> {
        send(
            ctx,
            "CreatePlan",
            input.into_wire(),
            |mut c, r| async move { c.create_plan(r).await },
        )
        .await
    }

    async fn add_goal(
        &self,
        ctx: &Context<'_>,
        input: AddGoalInput,
    ) -> async_graphql::Result<CommandResult> {
        let term = wire_term(input.term);
        let message = pb::AddGoalRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            goal_id: id(input.goal_id),
            description: input.description,
            term: term as i32,
        };
        send(ctx, "AddGoal", message, |mut c, r| async move {
            c.add_goal(r).await
        })
        .await
    }

    async fn close_goal(
        &self,
        ctx: &Context<'_>,
        input: CloseGoalInput,
    ) -> async_graphql::Result<CommandResult> {
        let outcome = match input.outcome {
            GqlGoalOutcome::Achieved => pb::GoalOutcome::Achieved,
            GqlGoalOutcome::Discontinued => pb::GoalOutcome::Discontinued,
        };
        let message = pb::CloseGoalRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            goal_id: input.goal_id.0,
            outcome: outcome as i32,
        };
        send(ctx, "CloseGoal", message, |mut c, r| async move {
            c.close_goal(r).await
        })
        .await
    }

    async fn add_objective(
        &self,
        ctx: &Context<'_>,
        input: AddObjectiveInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::AddObjectiveRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            objective_id: id(input.objective_id),
            goal_id: input.goal_id.0,
            description: input.description,
            quantity: input.quantity.map(QuantityInput::into_wire),
            target_date: input.target_date.unwrap_or_default(),
            measure: input.measure.map(|m| m.to_wire()),
        };
        send(ctx, "AddObjective", message, |mut c, r| async move {
            c.add_objective(r).await
        })
        .await
    }

    /// Clinicians record progress; clients self-report theirs
    /// (`source: CLIENT_SELF_REPORT`).
    async fn record_objective_progress(
        &self,
        ctx: &Context<'_>,
        input: RecordObjectiveProgressInput,
    ) -> async_graphql::Result<CommandResult> {
        let source = match input.source {
            GqlProgressSource::Clinician => pb::ProgressSource::Clinician,
            GqlProgressSource::ClientSelfReport => pb::ProgressSource::ClientSelfReport,
        };
        let message = pb::RecordObjectiveProgressRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            objective_id: input.objective_id.0,
            value: input.value,
            observed_on: input.observed_on,
            source: source as i32,
            note: input.note.unwrap_or_default(),
        };
        send(
            ctx,
            "RecordObjectiveProgress",
            message,
            |mut c, r| async move { c.record_objective_progress(r).await },
        )
        .await
    }

    async fn mark_objective_met(
        &self,
        ctx: &Context<'_>,
        input: MarkObjectiveMetInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::MarkObjectiveMetRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            objective_id: input.objective_id.0,
        };
        send(ctx, "MarkObjectiveMet", message, |mut c, r| async move {
            c.mark_objective_met(r).await
        })
        .await
    }

    async fn schedule_review(
        &self,
        ctx: &Context<'_>,
        input: ScheduleReviewInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::ScheduleReviewRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            review_id: id(input.review_id),
            due_on: input.due_on,
        };
        send(ctx, "ScheduleReview", message, |mut c, r| async move {
            c.schedule_review(r).await
        })
        .await
    }

    async fn hold_review(
        &self,
        ctx: &Context<'_>,
        input: HoldReviewInput,
    ) -> async_graphql::Result<CommandResult> {
        let decision = match input.decision {
            GqlReviewDecision::Continue => pb::ReviewDecision::Continue,
            GqlReviewDecision::Revise => pb::ReviewDecision::Revise,
            GqlReviewDecision::Discharge => pb::ReviewDecision::Discharge,
        };
        let message = pb::HoldReviewRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            review_id: input.review_id.0,
            held_on: input.held_on,
            participants: input.participants,
            summary: input.summary,
            decision: decision as i32,
        };
        send(ctx, "HoldReview", message, |mut c, r| async move {
            c.hold_review(r).await
        })
        .await
    }

    /// A questionnaire: clients answer their own (`source: CLIENT_SELF_REPORT`).
    async fn record_measure(
        &self,
        ctx: &Context<'_>,
        input: RecordMeasureInput,
    ) -> async_graphql::Result<CommandResult> {
        let instrument = wire_instrument(input.instrument);
        let source = match input.source {
            GqlProgressSource::Clinician => pb::ProgressSource::Clinician,
            GqlProgressSource::ClientSelfReport => pb::ProgressSource::ClientSelfReport,
        };
        let message = pb::RecordMeasureRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            measure_id: id(input.measure_id),
            instrument: instrument as i32,
            answers: input.answers.unwrap_or_default(),
            total: input.total,
            administered_on: input.administered_on,
            source: source as i32,
        };
        send(ctx, "RecordMeasure", message, |mut c, r| async move {
            c.record_measure(r).await
        })
        .await
    }

    async fn acknowledge_safety_flag(
        &self,
        ctx: &Context<'_>,
        input: AcknowledgeSafetyFlagInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::AcknowledgeSafetyFlagRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            flag_id: input.flag_id.0,
            note: input.note.unwrap_or_default(),
        };
        send(
            ctx,
            "AcknowledgeSafetyFlag",
            message,
            |mut c, r| async move { c.acknowledge_safety_flag(r).await },
        )
        .await
    }

    async fn record_presenting_problem(
        &self,
        ctx: &Context<'_>,
        input: RecordPresentingProblemInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::RecordPresentingProblemRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            narrative: input.narrative,
            symptoms: input
                .symptoms
                .into_iter()
                .map(|s| pb::Symptom {
                    name: s.name,
                    frequency: s.frequency.unwrap_or_default(),
                    intensity: s.intensity.unwrap_or_default(),
                    onset: s.onset.unwrap_or_default(),
                })
                .collect(),
        };
        send(
            ctx,
            "RecordPresentingProblem",
            message,
            |mut c, r| async move { c.record_presenting_problem(r).await },
        )
        .await
    }

    async fn add_intervention(
        &self,
        ctx: &Context<'_>,
        input: AddInterventionInput,
    ) -> async_graphql::Result<CommandResult> {
        let modality = wire_modality(input.modality);
        let message = pb::AddInterventionRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            intervention_id: id(input.intervention_id),
            modality: modality as i32,
            other_modality: input.other_modality.unwrap_or_default(),
            technique: input.technique,
            frequency: input.frequency.unwrap_or_default(),
            goal_ids: input.goal_ids.into_iter().map(|g| g.0).collect(),
            comorbidity: input.comorbidity.unwrap_or_default(),
        };
        send(ctx, "AddIntervention", message, |mut c, r| async move {
            c.add_intervention(r).await
        })
        .await
    }

    async fn record_safety_plan(
        &self,
        ctx: &Context<'_>,
        input: RecordSafetyPlanInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::RecordSafetyPlanRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            warning_signs: input.warning_signs,
            coping_steps: input.coping_steps,
            contacts: input
                .contacts
                .into_iter()
                .map(|c| pb::CrisisContact {
                    name: c.name,
                    relationship: c.relationship.unwrap_or_default(),
                    phone: c.phone,
                })
                .collect(),
            crisis_lines: input.crisis_lines,
        };
        send(ctx, "RecordSafetyPlan", message, |mut c, r| async move {
            c.record_safety_plan(r).await
        })
        .await
    }

    async fn add_diagnosis(
        &self,
        ctx: &Context<'_>,
        input: AddDiagnosisInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::AddDiagnosisRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            code: input.code,
            primary: input.primary.unwrap_or(false),
        };
        send(ctx, "AddDiagnosis", message, |mut c, r| async move {
            c.add_diagnosis(r).await
        })
        .await
    }

    /// Marks an entry as entered in error: nothing is edited or deleted.
    async fn enter_in_error(
        &self,
        ctx: &Context<'_>,
        input: EnterInErrorInput,
    ) -> async_graphql::Result<CommandResult> {
        let kind = match input.kind {
            EntryKind::Goal => pb::EntryKind::Goal,
            EntryKind::Objective => pb::EntryKind::Objective,
            EntryKind::Intervention => pb::EntryKind::Intervention,
            EntryKind::Measure => pb::EntryKind::Measure,
            EntryKind::Referral => pb::EntryKind::Referral,
            EntryKind::Review => pb::EntryKind::Review,
            EntryKind::Diagnosis => pb::EntryKind::Diagnosis,
        };
        let message = pb::EnterInErrorRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            kind: kind as i32,
            entry_id: input.entry_id.0,
            reason: input.reason,
        };
        send(ctx, "EnterInError", message, |mut c, r| async move {
            c.enter_in_error(r).await
        })
        .await
    }
}
