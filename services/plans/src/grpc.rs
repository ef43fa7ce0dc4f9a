//! The gRPC edge: authentication, wire ↔ command mapping, error mapping.

use std::str::FromStr;
use std::sync::Arc;

use chrono::NaiveDate;
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt;
use trellis_auth::{Caller, TokenVerifier};
use trellis_grpc_edge::tracing_context::current_ids;
use trellis_grpc_edge::{Authenticate, RequestMeta, caller, observed};
use trellis_plans_domain::template::TemplateLibrary;
use trellis_plans_domain::{
    AcknowledgeSafetyFlag, AddGoal, AddObjective, CloseGoal, CreatePlan, FieldViolation, GoalId,
    HoldReview, MarkObjectiveMet, MeasureId, ObjectiveId, PlanCommand, PlanError, PlanId,
    QuantityTarget, RecordMeasure, RecordObjectiveProgress, ReviewId, SafetyFlagId, ScheduleReview,
    derive_id,
};
use trellis_plans_domain::{
    ActivatePlan, AddDiagnosis, AddIntervention, AddReferral, AssignCareTeam, ChangeReferralStatus,
    ClosePlan, CompleteObjective, CorrectionTarget, CreatePlanFromTemplate, CrisisContact,
    EnterInError, InterventionId, MarkObjectiveNotMet, MeasureTarget, Modality, NextReview,
    PutPlanOnHold, RecordClinicalContext, RecordConsent, RecordPresentingProblem, RecordSafetyPlan,
    RecordServicePlan, ReferralId, ResumePlan, ReviseGoal, ScheduleMeasure, SignPlan, Support,
    Symptom,
};
use trellis_proto::plans::v1 as pb;
use uuid::Uuid;

use crate::{AccessDenied, CommandContext, CommandError, PlanCommands};

pub use pb::plan_service_server::PlanServiceServer;

mod templates;

/// Largest request a client may send; commands are small.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The `PlanService` implementation.
#[derive(Debug, Clone)]
pub struct PlanGrpc {
    commands: PlanCommands,
}

impl PlanGrpc {
    pub fn new(commands: PlanCommands) -> Self {
        Self { commands }
    }

    /// The service wrapped with authentication and the request size limit.
    pub fn into_server(
        self,
        verifier: Arc<TokenVerifier>,
    ) -> tonic::service::interceptor::InterceptedService<PlanServiceServer<Self>, Authenticate>
    {
        let server = PlanServiceServer::new(self).max_decoding_message_size(MAX_REQUEST_BYTES);
        tonic::service::interceptor::InterceptedService::new(server, Authenticate::new(verifier))
    }

    async fn run<T>(
        &self,
        request: Request<T>,
        map: impl FnOnce(&Caller, &T, &mut Fields) -> Option<Mapped>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let caller = caller(&request)?;
        let tenant = caller.tenant.to_string();
        let mut meta = RequestMeta::of(&request);
        // The server span continues the caller's trace; its ids are what the
        // events record (the header's, when tracing is off).
        if let Some((trace_id, span_id)) = current_ids() {
            meta.trace_id = trace_id;
            meta.span_id = span_id;
        }
        let body = request.into_inner();
        let mut fields = Fields::default();
        let mapped = map(&caller, &body, &mut fields);
        let mapped = match (mapped, fields.into_status()) {
            (Some(mapped), None) => mapped,
            (_, Some(status)) => return observed(&tenant, "invalid", Err(status)),
            (None, None) => {
                let status = Status::invalid_argument("invalid command");
                return observed(&tenant, "invalid", Err(status));
            }
        };
        let operation = mapped.command.name();
        let ctx = CommandContext {
            correlation_id: meta.correlation_id.unwrap_or(mapped.command_id),
            command_id: mapped.command_id,
            caller,
            request_id: meta.request_id,
            trace_id: meta.trace_id,
            span_id: meta.span_id,
        };
        let handled = self
            .commands
            .handle(&ctx, mapped.plan_id, &mapped.command)
            .await
            .map_err(to_status);
        let outcome = observed(&tenant, operation, handled)?;
        Ok(Response::new(pb::CommandResponse {
            plan_id: outcome.plan_id.to_string(),
            entity_id: mapped.entity_id.to_string(),
            revision: outcome.revision,
            duplicate: outcome.duplicate,
        }))
    }
}

/// A wire request turned into a domain command.
#[derive(Debug)]
pub struct Mapped {
    plan_id: PlanId,
    command_id: Uuid,
    entity_id: Uuid,
    command: PlanCommand,
}

impl Mapped {
    /// A command on the plan as a whole: the answer's entity is the plan.
    fn plan_wide(plan_id: PlanId, command_id: Uuid, command: PlanCommand) -> Self {
        Self {
            plan_id,
            command_id,
            entity_id: plan_id.0,
            command,
        }
    }
}

/// Parses wire fields, collecting every violation so the caller sees all
/// of them in one `INVALID_ARGUMENT`.
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldViolation>);

impl Fields {
    fn violation(&mut self, field: &'static str, description: &str) {
        self.0.push(FieldViolation::new(field, description));
    }

    fn uuid(&mut self, field: &'static str, raw: &str) -> Option<Uuid> {
        if raw.trim().is_empty() {
            self.violation(field, "is required");
            return None;
        }
        let parsed = Uuid::parse_str(raw.trim()).ok();
        if parsed.is_none() {
            self.violation(field, "must be a UUID");
        }
        parsed
    }

    fn command_id(&mut self, raw: &str) -> Option<Uuid> {
        self.uuid("command_id", raw)
    }

    fn plan_id(&mut self, raw: &str) -> Option<PlanId> {
        self.uuid("plan_id", raw).map(PlanId)
    }

    /// A client-chosen id, or one derived from the command id when empty.
    fn new_id(
        &mut self,
        field: &'static str,
        raw: &str,
        caller: &Caller,
        command_id: Option<Uuid>,
    ) -> Option<Uuid> {
        if raw.trim().is_empty() {
            return command_id.map(|c| derive_id(caller.tenant.as_str(), c, field));
        }
        self.uuid(field, raw)
    }

    fn date(&mut self, field: &'static str, raw: &str) -> Option<NaiveDate> {
        if raw.trim().is_empty() {
            self.violation(field, "is required");
            return None;
        }
        let parsed = NaiveDate::from_str(raw.trim()).ok();
        if parsed.is_none() {
            self.violation(field, "must be a date of the form YYYY-MM-DD");
        }
        parsed
    }

    /// A date the domain may judge missing (SMART time-bound) itself.
    fn optional_date(&mut self, field: &'static str, raw: &str) -> Option<Option<NaiveDate>> {
        if raw.trim().is_empty() {
            return Some(None);
        }
        self.date(field, raw).map(Some)
    }

    fn choice<T>(&mut self, field: &'static str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.violation(field, "must be one of the listed values");
        }
        value
    }

    fn into_status(self) -> Option<Status> {
        (!self.0.is_empty()).then(|| invalid_argument(&self.0))
    }
}

fn invalid_argument(violations: &[FieldViolation]) -> Status {
    let summary = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    trellis_grpc_edge::invalid_argument(
        &summary,
        violations.iter().map(|v| (v.field, v.description.as_str())),
    )
}

/// Maps command errors to gRPC status, once, here. Internal details go to
/// the log (without payloads), never to the caller.
fn to_status(error: CommandError) -> Status {
    match error {
        CommandError::Rejected(e) => match &e {
            PlanError::Invalid(_) | PlanError::NotSmart { .. } => {
                let mut status = invalid_argument(&e.field_violations());
                if let PlanError::NotSmart { .. } = e {
                    status = Status::with_error_details(
                        Code::InvalidArgument,
                        e.to_string(),
                        status.get_error_details(),
                    );
                }
                status
            }
            PlanError::PlanNotFound => Status::not_found("plan not found"),
            PlanError::PlanAlreadyExists
            | PlanError::GoalAlreadyExists(_)
            | PlanError::ObjectiveAlreadyExists(_)
            | PlanError::ReviewAlreadyScheduled(_) => Status::already_exists(e.to_string()),
            PlanError::UnknownGoal(_)
            | PlanError::GoalClosed(_)
            | PlanError::UnknownObjective(_)
            | PlanError::ObjectiveAlreadyMet(_)
            | PlanError::UnknownReview(_)
            | PlanError::ReviewAlreadyHeld(_)
            | PlanError::UnknownSafetyFlag(_)
            | PlanError::SafetyFlagAlreadyAcknowledged(_)
            | PlanError::UnknownCorrectionTarget
            | PlanError::AlreadyEnteredInError
            | PlanError::ObjectiveClosed(_)
            | PlanError::WrongStatus { .. }
            | PlanError::NotReadyToActivate(_)
            | PlanError::UnknownReferral(_)
            | PlanError::ConsentRequired
            | PlanError::CosignBeforeClinician
            | PlanError::CosignBySameSigner
            | PlanError::EnteredInError => Status::failed_precondition(e.to_string()),
            PlanError::ReferralAlreadyExists(_)
            | PlanError::AlreadySigned(_)
            | PlanError::ObjectiveAlreadyComplete(_) => Status::already_exists(e.to_string()),
            PlanError::UnknownTemplate => Status::not_found(e.to_string()),
            PlanError::TemplateReadOnly => Status::permission_denied(e.to_string()),
            PlanError::ObjectiveIncomplete(_) => Status::failed_precondition(e.to_string()),
            PlanError::MeasureAlreadyRecorded(_)
            | PlanError::InterventionAlreadyExists(_)
            | PlanError::DiagnosisAlreadyRecorded(_) => Status::already_exists(e.to_string()),
        },
        // Answered exactly like a plan that does not exist.
        CommandError::Denied(AccessDenied::NotVisible) => Status::not_found("plan not found"),
        CommandError::Denied(AccessDenied::RoleMayNot) => {
            Status::permission_denied("your role may not send this command")
        }
        CommandError::Contended => Status::aborted(error.to_string()),
        CommandError::Store(e) => {
            tracing::error!(error = %e, "event store failed during a command");
            Status::unavailable("event store unavailable; retry the command")
        }
        CommandError::Corrupt(detail) => {
            tracing::error!(%detail, "unreadable plan event");
            Status::internal("internal error")
        }
    }
}

fn modality(v: i32, other: &str) -> Option<Modality> {
    Some(match pb::Modality::try_from(v).ok()? {
        pb::Modality::Cbt => Modality::Cbt,
        pb::Modality::Dbt => Modality::Dbt,
        pb::Modality::Act => Modality::Act,
        pb::Modality::Mbsr => Modality::Mbsr,
        pb::Modality::Exposure => Modality::Exposure,
        pb::Modality::FamilyTherapy => Modality::FamilyTherapy,
        pb::Modality::Psychoeducation => Modality::Psychoeducation,
        pb::Modality::RelaxationTraining => Modality::RelaxationTraining,
        pb::Modality::BehaviouralActivation => Modality::BehaviouralActivation,
        pb::Modality::SleepHygiene => Modality::SleepHygiene,
        pb::Modality::MotivationalInterviewing => Modality::MotivationalInterviewing,
        pb::Modality::Other => Modality::Other(other.to_owned()),
        pb::Modality::Unspecified => return None,
    })
}

// The wire → domain conversion of every enum with a domain twin
// (`goal_term`, `instrument`, …), generated from the proto by build.rs.
include!(concat!(env!("OUT_DIR"), "/wire_enums.rs"));

/// An admin request on tenant settings: its caller, its request facts and
/// its body. Its command id is parsed with the rest of the body, so a bad
/// one is reported together with every other bad field.
fn settings_request<T>(request: Request<T>) -> Result<(Caller, RequestMeta, T), Status> {
    let caller = caller(&request)?;
    let meta = RequestMeta::of(&request);
    Ok((caller, meta, request.into_inner()))
}

/// A settings command's id as the client sent it; a fresh one when it
/// sent none (such a command cannot be recognised when resent).
fn settings_command_id(f: &mut Fields, raw: &str) -> Option<Uuid> {
    if raw.trim().is_empty() {
        return Some(Uuid::new_v4());
    }
    f.command_id(raw)
}

fn settings_context(caller: Caller, meta: RequestMeta, command_id: Uuid) -> CommandContext {
    CommandContext {
        correlation_id: meta.correlation_id.unwrap_or(command_id),
        command_id,
        caller,
        request_id: meta.request_id,
        trace_id: meta.trace_id,
        span_id: meta.span_id,
    }
}

fn review_rules_reply(rules: Vec<(String, u32)>) -> Response<pb::ReviewRules> {
    Response::new(pb::ReviewRules {
        rules: rules
            .into_iter()
            .map(|(payer, interval_days)| pb::ReviewRule {
                payer,
                interval_days,
            })
            .collect(),
    })
}

/// The command id and plan of a `CreatePlanRequest`, alone or inside
/// `CreatePlanFromTemplateRequest`.
fn map_create_plan(
    caller: &Caller,
    r: &pb::CreatePlanRequest,
    f: &mut Fields,
) -> Option<(Uuid, CreatePlan)> {
    let command_id = f.command_id(&r.command_id);
    // Without a client-chosen id, the one the command layer documents.
    let plan_id = if r.plan_id.trim().is_empty() {
        command_id.map(|c| PlanCommands::derived_plan_id(&caller.tenant, c))
    } else {
        f.plan_id(&r.plan_id)
    };
    let (command_id, plan_id) = (command_id?, plan_id?);
    Some((
        command_id,
        CreatePlan {
            plan_id,
            client_id: r.client_id.clone(),
            primary_clinician_id: r.primary_clinician_id.clone(),
            clinic_id: r.clinic_id.clone(),
            title: r.title.clone(),
            payer: r.payer.clone(),
        },
    ))
}

type Reply = Result<Response<pb::CommandResponse>, Status>;

#[tonic::async_trait]
impl pb::plan_service_server::PlanService for PlanGrpc {
    async fn create_plan(&self, request: Request<pb::CreatePlanRequest>) -> Reply {
        self.run(request, |caller, r, f| {
            let (command_id, create) = map_create_plan(caller, r, f)?;
            Some(Mapped {
                plan_id: create.plan_id,
                command_id,
                entity_id: create.plan_id.0,
                command: PlanCommand::CreatePlan(create),
            })
        })
        .await
    }

    async fn add_goal(&self, request: Request<pb::AddGoalRequest>) -> Reply {
        self.run(request, |caller, r, f| {
            let pb::AddGoalRequest {
                command_id,
                plan_id,
                goal_id,
                description,
                term,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            let goal_id = f.new_id("goal_id", goal_id, caller, command_id);
            let term = f.choice("term", goal_term(*term));
            let goal_id = GoalId(goal_id?);
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: goal_id.0,
                command: PlanCommand::AddGoal(AddGoal {
                    goal_id,
                    description: description.clone(),
                    term: term?,
                }),
            })
        })
        .await
    }

    async fn close_goal(&self, request: Request<pb::CloseGoalRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let pb::CloseGoalRequest {
                command_id,
                plan_id,
                goal_id,
                outcome,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            let goal_id = f.uuid("goal_id", goal_id).map(GoalId);
            let outcome = f.choice("outcome", goal_outcome(*outcome));
            let goal_id = goal_id?;
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: goal_id.0,
                command: PlanCommand::CloseGoal(CloseGoal {
                    goal_id,
                    outcome: outcome?,
                }),
            })
        })
        .await
    }

    async fn add_objective(&self, request: Request<pb::AddObjectiveRequest>) -> Reply {
        self.run(request, |caller, r, f| {
            let pb::AddObjectiveRequest {
                command_id,
                plan_id,
                objective_id,
                goal_id,
                description,
                quantity,
                target_date,
                measure,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            let objective_id = f.new_id("objective_id", objective_id, caller, command_id);
            let goal_id = f.uuid("goal_id", goal_id).map(GoalId);
            let target_date = f.optional_date("target_date", target_date);
            let quantity = quantity.as_ref().map(|q| {
                let pb::Quantity {
                    baseline,
                    target,
                    unit,
                    period,
                } = q;
                QuantityTarget {
                    baseline: *baseline,
                    target: *target,
                    unit: unit.clone(),
                    period: period.clone(),
                }
            });
            let measure = match measure {
                None => Some(None),
                Some(m) => f
                    .choice("measure.instrument", instrument(m.instrument))
                    .map(|instrument| {
                        Some(MeasureTarget {
                            instrument,
                            // Out-of-range shares saturate and are refused
                            // by the plan's own range check.
                            reduction_percent: u8::try_from(m.reduction_percent).unwrap_or(u8::MAX),
                        })
                    }),
            };
            let objective_id = ObjectiveId(objective_id?);
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: objective_id.0,
                command: PlanCommand::AddObjective(AddObjective {
                    objective_id,
                    goal_id: goal_id?,
                    description: description.clone(),
                    quantity,
                    measure: measure?,
                    target_date: target_date?,
                }),
            })
        })
        .await
    }

    async fn record_objective_progress(
        &self,
        request: Request<pb::RecordObjectiveProgressRequest>,
    ) -> Reply {
        self.run(request, |_, r, f| {
            let pb::RecordObjectiveProgressRequest {
                command_id,
                plan_id,
                objective_id,
                value,
                observed_on,
                source,
                note,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            let objective_id = f.uuid("objective_id", objective_id).map(ObjectiveId);
            let observed_on = f.date("observed_on", observed_on);
            let source = f.choice("source", progress_source(*source));
            let objective_id = objective_id?;
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: objective_id.0,
                command: PlanCommand::RecordObjectiveProgress(RecordObjectiveProgress {
                    objective_id,
                    value: *value,
                    observed_on: observed_on?,
                    source: source?,
                    note: note.clone(),
                }),
            })
        })
        .await
    }

    async fn mark_objective_met(&self, request: Request<pb::MarkObjectiveMetRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let pb::MarkObjectiveMetRequest {
                command_id,
                plan_id,
                objective_id,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            let objective_id = f.uuid("objective_id", objective_id).map(ObjectiveId);
            let objective_id = objective_id?;
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: objective_id.0,
                command: PlanCommand::MarkObjectiveMet(MarkObjectiveMet { objective_id }),
            })
        })
        .await
    }

    async fn schedule_review(&self, request: Request<pb::ScheduleReviewRequest>) -> Reply {
        self.run(request, |caller, r, f| {
            let pb::ScheduleReviewRequest {
                command_id,
                plan_id,
                review_id,
                due_on,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            let review_id = f.new_id("review_id", review_id, caller, command_id);
            let due_on = f.date("due_on", due_on);
            let review_id = ReviewId(review_id?);
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: review_id.0,
                command: PlanCommand::ScheduleReview(ScheduleReview {
                    review_id,
                    due_on: due_on?,
                }),
            })
        })
        .await
    }

    async fn hold_review(&self, request: Request<pb::HoldReviewRequest>) -> Reply {
        self.run(request, |caller, r, f| {
            let pb::HoldReviewRequest {
                command_id,
                plan_id,
                review_id,
                held_on,
                participants,
                summary,
                decision,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            let review_id = f.uuid("review_id", review_id).map(ReviewId);
            let held_on = f.date("held_on", held_on);
            let decision = f.choice("decision", review_decision(*decision));
            let review_id = review_id?;
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: review_id.0,
                command: PlanCommand::HoldReview(HoldReview {
                    review_id,
                    held_on: held_on?,
                    participants: participants.clone(),
                    summary: summary.clone(),
                    decision: decision?,
                    // The service puts the tenant's interval in.
                    next_review: Some(NextReview {
                        review_id: ReviewId(derive_id(
                            caller.tenant.as_str(),
                            command_id?,
                            "next_review",
                        )),
                        interval_days: 0,
                    }),
                }),
            })
        })
        .await
    }

    async fn record_measure(&self, request: Request<pb::RecordMeasureRequest>) -> Reply {
        self.run(request, |caller, r, f| {
            let pb::RecordMeasureRequest {
                command_id,
                plan_id,
                measure_id,
                instrument: which,
                answers,
                total,
                administered_on,
                source,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            let measure_id = f.new_id("measure_id", measure_id, caller, command_id);
            let which = f.choice("instrument", instrument(*which));
            let administered_on = f.date("administered_on", administered_on);
            let source = f.choice("source", progress_source(*source));
            let answers: Option<Vec<u8>> = answers.iter().map(|a| u8::try_from(*a).ok()).collect();
            if answers.is_none() {
                f.violation("answers", "each answer must be a small number");
            }
            let measure_id = MeasureId(measure_id?);
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: measure_id.0,
                command: PlanCommand::RecordMeasure(RecordMeasure {
                    measure_id,
                    instrument: which?,
                    answers: answers?,
                    total: *total,
                    administered_on: administered_on?,
                    source: source?,
                }),
            })
        })
        .await
    }

    async fn acknowledge_safety_flag(
        &self,
        request: Request<pb::AcknowledgeSafetyFlagRequest>,
    ) -> Reply {
        self.run(request, |_, r, f| {
            let pb::AcknowledgeSafetyFlagRequest {
                command_id,
                plan_id,
                flag_id,
                note,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            let flag_id = f.uuid("flag_id", flag_id).map(SafetyFlagId);
            let flag_id = flag_id?;
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: flag_id.0,
                command: PlanCommand::AcknowledgeSafetyFlag(AcknowledgeSafetyFlag {
                    flag_id,
                    note: note.clone(),
                }),
            })
        })
        .await
    }

    async fn record_presenting_problem(
        &self,
        request: Request<pb::RecordPresentingProblemRequest>,
    ) -> Reply {
        self.run(request, |_, r, f| {
            let pb::RecordPresentingProblemRequest {
                command_id,
                plan_id,
                narrative,
                symptoms,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::RecordPresentingProblem(RecordPresentingProblem {
                    narrative: narrative.clone(),
                    symptoms: symptoms
                        .iter()
                        .map(|s| Symptom {
                            name: s.name.clone(),
                            frequency: s.frequency.clone(),
                            intensity: s.intensity.clone(),
                            onset: s.onset.clone(),
                        })
                        .collect(),
                }),
            ))
        })
        .await
    }

    async fn add_intervention(&self, request: Request<pb::AddInterventionRequest>) -> Reply {
        self.run(request, |caller, r, f| {
            let pb::AddInterventionRequest {
                command_id,
                plan_id,
                intervention_id,
                modality: kind,
                other_modality,
                technique,
                frequency,
                goal_ids,
                comorbidity,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            let intervention_id = f.new_id("intervention_id", intervention_id, caller, command_id);
            let kind = f.choice("modality", modality(*kind, other_modality));
            let goals: Vec<Option<GoalId>> = goal_ids
                .iter()
                .map(|g| f.uuid("goal_ids", g).map(GoalId))
                .collect();
            let intervention_id = InterventionId(intervention_id?);
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: intervention_id.0,
                command: PlanCommand::AddIntervention(AddIntervention {
                    intervention_id,
                    modality: kind?,
                    technique: technique.clone(),
                    frequency: frequency.clone(),
                    goal_ids: goals.into_iter().collect::<Option<Vec<_>>>()?,
                    comorbidity: comorbidity.clone(),
                }),
            })
        })
        .await
    }

    async fn record_safety_plan(&self, request: Request<pb::RecordSafetyPlanRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let pb::RecordSafetyPlanRequest {
                command_id,
                plan_id,
                warning_signs,
                coping_steps,
                contacts,
                crisis_lines,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::RecordSafetyPlan(RecordSafetyPlan {
                    warning_signs: warning_signs.clone(),
                    coping_steps: coping_steps.clone(),
                    contacts: contacts
                        .iter()
                        .map(|c| CrisisContact {
                            name: c.name.clone(),
                            relationship: c.relationship.clone(),
                            phone: c.phone.clone(),
                        })
                        .collect(),
                    crisis_lines: crisis_lines.clone(),
                }),
            ))
        })
        .await
    }

    async fn add_diagnosis(&self, request: Request<pb::AddDiagnosisRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let pb::AddDiagnosisRequest {
                command_id,
                plan_id,
                code,
                primary,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::AddDiagnosis(AddDiagnosis {
                    code: code.clone(),
                    primary: *primary,
                }),
            ))
        })
        .await
    }

    async fn revise_goal(&self, request: Request<pb::ReviseGoalRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            let goal_id = f.uuid("goal_id", &r.goal_id).map(GoalId)?;
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: goal_id.0,
                command: PlanCommand::ReviseGoal(ReviseGoal {
                    goal_id,
                    description: r.description.clone(),
                    reason: r.reason.clone(),
                }),
            })
        })
        .await
    }

    async fn mark_objective_not_met(
        &self,
        request: Request<pb::MarkObjectiveNotMetRequest>,
    ) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            let objective_id = f.uuid("objective_id", &r.objective_id).map(ObjectiveId)?;
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: objective_id.0,
                command: PlanCommand::MarkObjectiveNotMet(MarkObjectiveNotMet {
                    objective_id,
                    reason: r.reason.clone(),
                }),
            })
        })
        .await
    }

    async fn record_clinical_context(
        &self,
        request: Request<pb::RecordClinicalContextRequest>,
    ) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            let supports: Vec<Option<Support>> = r
                .supports
                .iter()
                .map(|s| {
                    f.choice("supports.kind", support_kind(s.kind))
                        .map(|kind| Support {
                            kind,
                            involvement: s.involvement.clone(),
                        })
                })
                .collect();
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::RecordClinicalContext(RecordClinicalContext {
                    strengths: r.strengths.clone(),
                    barriers: r.barriers.clone(),
                    supports: supports.into_iter().collect::<Option<Vec<_>>>()?,
                }),
            ))
        })
        .await
    }

    async fn add_referral(&self, request: Request<pb::AddReferralRequest>) -> Reply {
        self.run(request, |caller, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            let referral_id = f.new_id("referral_id", &r.referral_id, caller, command_id);
            let status = f.choice("status", referral_status(r.status));
            let referral_id = ReferralId(referral_id?);
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: referral_id.0,
                command: PlanCommand::AddReferral(AddReferral {
                    referral_id,
                    to: r.to.clone(),
                    reason: r.reason.clone(),
                    status: status?,
                }),
            })
        })
        .await
    }

    async fn change_referral_status(
        &self,
        request: Request<pb::ChangeReferralStatusRequest>,
    ) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            let referral_id = f.uuid("referral_id", &r.referral_id).map(ReferralId);
            let status = f.choice("status", referral_status(r.status));
            let referral_id = referral_id?;
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: referral_id.0,
                command: PlanCommand::ChangeReferralStatus(ChangeReferralStatus {
                    referral_id,
                    status: status?,
                }),
            })
        })
        .await
    }

    async fn record_service_plan(&self, request: Request<pb::RecordServicePlanRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::RecordServicePlan(RecordServicePlan {
                    session_type: r.session_type.clone(),
                    minutes: r.minutes,
                    frequency: r.frequency.clone(),
                    sessions_min: r.sessions_min,
                    sessions_max: r.sessions_max,
                    focus: r.focus.clone(),
                    maintenance: r.maintenance.clone(),
                    monitoring: r.monitoring.clone(),
                }),
            ))
        })
        .await
    }

    async fn schedule_measure(&self, request: Request<pb::ScheduleMeasureRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            let instrument = f.choice("instrument", instrument(r.instrument));
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::ScheduleMeasure(ScheduleMeasure {
                    instrument: instrument?,
                    interval_days: r.interval_days,
                }),
            ))
        })
        .await
    }

    async fn activate_plan(&self, request: Request<pb::ActivatePlanRequest>) -> Reply {
        self.run(request, |caller, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            let command_id = command_id?;
            let review_id = ReviewId(derive_id(
                caller.tenant.as_str(),
                command_id,
                "first_review",
            ));
            Some(Mapped {
                plan_id: plan_id?,
                command_id,
                entity_id: review_id.0,
                command: PlanCommand::ActivatePlan(ActivatePlan {
                    // The service puts the tenant's interval in.
                    first_review: NextReview {
                        review_id,
                        interval_days: 0,
                    },
                }),
            })
        })
        .await
    }

    async fn put_plan_on_hold(&self, request: Request<pb::PutPlanOnHoldRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::PutPlanOnHold(PutPlanOnHold {
                    reason: r.reason.clone(),
                }),
            ))
        })
        .await
    }

    async fn resume_plan(&self, request: Request<pb::ResumePlanRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::ResumePlan(ResumePlan),
            ))
        })
        .await
    }

    async fn close_plan(&self, request: Request<pb::ClosePlanRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            let closure = f.choice("closure", plan_closure(r.closure));
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::ClosePlan(ClosePlan {
                    closure: closure?,
                    reason: r.reason.clone(),
                }),
            ))
        })
        .await
    }

    async fn record_consent(&self, request: Request<pb::RecordConsentRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            let kind = f.choice("kind", consent_kind(r.kind));
            let given_on = f.date("given_on", &r.given_on);
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::RecordConsent(RecordConsent {
                    kind: kind?,
                    given_on: given_on?,
                    note: r.note.clone(),
                }),
            ))
        })
        .await
    }

    async fn sign_plan(&self, request: Request<pb::SignPlanRequest>) -> Reply {
        self.run(request, |caller, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            let role = f.choice("role", signer_role(r.role));
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::SignPlan(SignPlan {
                    role: role?,
                    // One signs as oneself, never on another's behalf.
                    signer_id: caller.subject.clone(),
                }),
            ))
        })
        .await
    }

    async fn set_review_rule(
        &self,
        request: Request<pb::SetReviewRuleRequest>,
    ) -> Result<Response<pb::ReviewRules>, Status> {
        let (caller, meta, body) = settings_request(request)?;
        // The message carries no command id: every call is a new command.
        let ctx = settings_context(caller, meta, Uuid::new_v4());
        let tenant = ctx.caller.tenant.to_string();
        let set = self
            .commands
            .set_review_rule(&ctx, &body.payer, body.interval_days)
            .await
            .map_err(to_status);
        observed(&tenant, "SetReviewRule", set).map(review_rules_reply)
    }

    async fn get_review_rules(
        &self,
        request: Request<pb::GetReviewRulesRequest>,
    ) -> Result<Response<pb::ReviewRules>, Status> {
        let caller = caller(&request)?;
        let tenant = caller.tenant.to_string();
        let rules = self
            .commands
            .read_review_rules(&caller)
            .await
            .map_err(to_status);
        observed(&tenant, "GetReviewRules", rules).map(review_rules_reply)
    }

    async fn create_plan_from_template(
        &self,
        request: Request<pb::CreatePlanFromTemplateRequest>,
    ) -> Reply {
        self.run(request, |caller, r, f| {
            let plan = r.plan.clone().unwrap_or_default();
            let created = map_create_plan(caller, &plan, f);
            if r.template_id.trim().is_empty() {
                f.violation("template_id", "is required");
            }
            let (command_id, create) = created?;
            Some(Mapped {
                plan_id: create.plan_id,
                command_id,
                entity_id: create.plan_id.0,
                command: PlanCommand::CreatePlanFromTemplate(Box::new(CreatePlanFromTemplate {
                    create,
                    template_id: r.template_id.trim().to_owned(),
                    resolved: None,
                })),
            })
        })
        .await
    }

    async fn complete_objective(&self, request: Request<pb::CompleteObjectiveRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            let objective_id = f.uuid("objective_id", &r.objective_id).map(ObjectiveId);
            let target_date = f.optional_date("target_date", &r.target_date);
            let objective_id = objective_id?;
            Some(Mapped {
                plan_id: plan_id?,
                command_id: command_id?,
                entity_id: objective_id.0,
                command: PlanCommand::CompleteObjective(CompleteObjective {
                    objective_id,
                    description: r.description.clone(),
                    quantity: r.quantity.as_ref().map(|q| QuantityTarget {
                        baseline: q.baseline,
                        target: q.target,
                        unit: q.unit.clone(),
                        period: q.period.clone(),
                    }),
                    target_date: target_date?,
                }),
            })
        })
        .await
    }

    async fn save_template(
        &self,
        request: Request<pb::SaveTemplateRequest>,
    ) -> Result<Response<pb::PlanTemplate>, Status> {
        let (caller, meta, body) = settings_request(request)?;
        let tenant = caller.tenant.to_string();
        let mut fields = Fields::default();
        let command_id = settings_command_id(&mut fields, &body.command_id);
        let wire = body.template.unwrap_or_default();
        let template = templates::from_wire(&mut fields, &wire);
        if let Some(t) = &template
            && !fields.0.is_empty()
        {
            // Refused here anyway: name the template's content rules too,
            // which the domain would otherwise check only after the edge.
            let checked = TemplateLibrary::default().save(wire.template_id.trim(), t.clone());
            if let Err(e) = checked {
                fields.0.extend(e.field_violations());
            }
        }
        let (command_id, template) = match (command_id, template, fields.into_status()) {
            (Some(c), Some(t), None) => (c, t),
            (_, _, status) => {
                let status = status.unwrap_or_else(|| Status::invalid_argument("invalid template"));
                return observed(&tenant, "invalid", Err(status));
            }
        };
        let ctx = settings_context(caller, meta, command_id);
        let saved = self
            .commands
            .save_template(&ctx, &wire.template_id, template)
            .await
            .map_err(to_status);
        observed(&tenant, "SaveTemplate", saved).map(|t| Response::new(templates::to_wire(t)))
    }

    async fn retire_template(
        &self,
        request: Request<pb::RetireTemplateRequest>,
    ) -> Result<Response<pb::RetireTemplateResponse>, Status> {
        let (caller, meta, body) = settings_request(request)?;
        let tenant = caller.tenant.to_string();
        let mut fields = Fields::default();
        let command_id = settings_command_id(&mut fields, &body.command_id);
        if body.template_id.trim().is_empty() {
            fields.violation("template_id", "is required");
        }
        let command_id = match (command_id, fields.into_status()) {
            (Some(c), None) => c,
            (_, status) => {
                let status = status.unwrap_or_else(|| Status::invalid_argument("invalid command"));
                return observed(&tenant, "invalid", Err(status));
            }
        };
        let ctx = settings_context(caller, meta, command_id);
        let retired = self
            .commands
            .retire_template(&ctx, body.template_id.trim())
            .await
            .map_err(to_status);
        observed(&tenant, "RetireTemplate", retired)
            .map(|()| Response::new(pb::RetireTemplateResponse {}))
    }

    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::Templates>, Status> {
        let caller = caller(&request)?;
        let tenant = caller.tenant.to_string();
        let listed = self
            .commands
            .list_templates(&caller)
            .await
            .map_err(to_status);
        observed(&tenant, "ListTemplates", listed).map(|list| {
            Response::new(pb::Templates {
                templates: list.into_iter().map(templates::to_wire).collect(),
            })
        })
    }

    async fn assign_care_team(&self, request: Request<pb::AssignCareTeamRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let command_id = f.command_id(&r.command_id);
            let plan_id = f.plan_id(&r.plan_id);
            Some(Mapped::plan_wide(
                plan_id?,
                command_id?,
                PlanCommand::AssignCareTeam(AssignCareTeam {
                    primary_clinician_id: r.primary_clinician_id.clone(),
                    members: r.members.clone(),
                }),
            ))
        })
        .await
    }

    async fn enter_in_error(&self, request: Request<pb::EnterInErrorRequest>) -> Reply {
        self.run(request, |_, r, f| {
            let pb::EnterInErrorRequest {
                command_id,
                plan_id,
                kind,
                entry_id,
                reason,
            } = r;
            let command_id = f.command_id(command_id);
            let plan_id = f.plan_id(plan_id);
            let kind = f.choice(
                "kind",
                pb::EntryKind::try_from(*kind)
                    .ok()
                    .filter(|k| *k != pb::EntryKind::Unspecified),
            );
            // Diagnoses are named by code; every other entry by its id.
            let entry = match kind {
                Some(pb::EntryKind::Diagnosis) => {
                    if entry_id.trim().is_empty() {
                        f.violation("entry_id", "is required");
                    }
                    None
                }
                _ => f.uuid("entry_id", entry_id),
            };
            let plan_id = plan_id?;
            let target = match kind? {
                pb::EntryKind::Goal => CorrectionTarget::Goal(GoalId(entry?)),
                pb::EntryKind::Objective => CorrectionTarget::Objective(ObjectiveId(entry?)),
                pb::EntryKind::Intervention => {
                    CorrectionTarget::Intervention(InterventionId(entry?))
                }
                pb::EntryKind::Measure => CorrectionTarget::Measure(MeasureId(entry?)),
                pb::EntryKind::Referral => CorrectionTarget::Referral(ReferralId(entry?)),
                pb::EntryKind::Review => CorrectionTarget::Review(ReviewId(entry?)),
                pb::EntryKind::Diagnosis => {
                    CorrectionTarget::Diagnosis(entry_id.trim().to_ascii_uppercase())
                }
                pb::EntryKind::Unspecified => return None,
            };
            Some(Mapped {
                plan_id,
                command_id: command_id?,
                entity_id: entry.unwrap_or(plan_id.0),
                command: PlanCommand::EnterInError(EnterInError {
                    target,
                    reason: reason.clone(),
                }),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_problem_is_reported_at_once() {
        let mut f = Fields::default();
        assert_eq!(f.command_id(""), None);
        assert_eq!(f.plan_id("not-a-uuid"), None);
        assert_eq!(f.date("due_on", "01/02/2027"), None);
        let status = f.into_status().expect("violations");
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let fields: Vec<String> = details
            .bad_request()
            .expect("bad request details")
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["command_id", "plan_id", "due_on"]);
    }

    #[test]
    fn a_hidden_plan_is_answered_like_a_missing_one() {
        let hidden = to_status(CommandError::Denied(AccessDenied::NotVisible));
        let missing = to_status(CommandError::Rejected(PlanError::PlanNotFound));
        assert_eq!(hidden.code(), missing.code());
        assert_eq!(hidden.message(), missing.message());
    }
}
