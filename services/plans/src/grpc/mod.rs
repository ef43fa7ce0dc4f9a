//! The gRPC edge: authentication, wire ↔ command mapping, error mapping.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use trellis_auth::{Caller, TokenVerifier};
use trellis_grpc_edge::tracing_context::current_ids;
use trellis_grpc_edge::{Authenticate, RequestMeta, caller, observed};
use trellis_proto::plans::v1 as pb;

use crate::{CommandContext, PlanCommands};

pub use pb::plan_service_server::PlanServiceServer;

mod clinical;
mod corrections;
mod fields;
mod goals;
mod lifecycle;
mod measures;
mod reviews;
mod settings;
mod status;
mod templates;
mod wire;

use fields::{Fields, Mapped};
use status::to_status;

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

type Reply = Result<Response<pb::CommandResponse>, Status>;

#[tonic::async_trait]
impl pb::plan_service_server::PlanService for PlanGrpc {
    async fn create_plan(&self, request: Request<pb::CreatePlanRequest>) -> Reply {
        self.run(request, lifecycle::create_plan).await
    }

    async fn add_goal(&self, request: Request<pb::AddGoalRequest>) -> Reply {
        self.run(request, goals::add_goal).await
    }

    async fn close_goal(&self, request: Request<pb::CloseGoalRequest>) -> Reply {
        self.run(request, goals::close_goal).await
    }

    async fn add_objective(&self, request: Request<pb::AddObjectiveRequest>) -> Reply {
        self.run(request, goals::add_objective).await
    }

    async fn record_objective_progress(
        &self,
        request: Request<pb::RecordObjectiveProgressRequest>,
    ) -> Reply {
        self.run(request, goals::record_objective_progress).await
    }

    async fn mark_objective_met(&self, request: Request<pb::MarkObjectiveMetRequest>) -> Reply {
        self.run(request, goals::mark_objective_met).await
    }

    async fn schedule_review(&self, request: Request<pb::ScheduleReviewRequest>) -> Reply {
        self.run(request, reviews::schedule_review).await
    }

    async fn hold_review(&self, request: Request<pb::HoldReviewRequest>) -> Reply {
        self.run(request, reviews::hold_review).await
    }

    async fn record_measure(&self, request: Request<pb::RecordMeasureRequest>) -> Reply {
        self.run(request, measures::record_measure).await
    }

    async fn acknowledge_safety_flag(
        &self,
        request: Request<pb::AcknowledgeSafetyFlagRequest>,
    ) -> Reply {
        self.run(request, measures::acknowledge_safety_flag).await
    }

    async fn record_presenting_problem(
        &self,
        request: Request<pb::RecordPresentingProblemRequest>,
    ) -> Reply {
        self.run(request, clinical::record_presenting_problem).await
    }

    async fn add_intervention(&self, request: Request<pb::AddInterventionRequest>) -> Reply {
        self.run(request, clinical::add_intervention).await
    }

    async fn record_safety_plan(&self, request: Request<pb::RecordSafetyPlanRequest>) -> Reply {
        self.run(request, clinical::record_safety_plan).await
    }

    async fn add_diagnosis(&self, request: Request<pb::AddDiagnosisRequest>) -> Reply {
        self.run(request, clinical::add_diagnosis).await
    }

    async fn revise_goal(&self, request: Request<pb::ReviseGoalRequest>) -> Reply {
        self.run(request, goals::revise_goal).await
    }

    async fn mark_objective_not_met(
        &self,
        request: Request<pb::MarkObjectiveNotMetRequest>,
    ) -> Reply {
        self.run(request, goals::mark_objective_not_met).await
    }

    async fn record_clinical_context(
        &self,
        request: Request<pb::RecordClinicalContextRequest>,
    ) -> Reply {
        self.run(request, clinical::record_clinical_context).await
    }

    async fn add_referral(&self, request: Request<pb::AddReferralRequest>) -> Reply {
        self.run(request, clinical::add_referral).await
    }

    async fn change_referral_status(
        &self,
        request: Request<pb::ChangeReferralStatusRequest>,
    ) -> Reply {
        self.run(request, clinical::change_referral_status).await
    }

    async fn record_service_plan(&self, request: Request<pb::RecordServicePlanRequest>) -> Reply {
        self.run(request, clinical::record_service_plan).await
    }

    async fn schedule_measure(&self, request: Request<pb::ScheduleMeasureRequest>) -> Reply {
        self.run(request, measures::schedule_measure).await
    }

    async fn activate_plan(&self, request: Request<pb::ActivatePlanRequest>) -> Reply {
        self.run(request, lifecycle::activate_plan).await
    }

    async fn put_plan_on_hold(&self, request: Request<pb::PutPlanOnHoldRequest>) -> Reply {
        self.run(request, lifecycle::put_plan_on_hold).await
    }

    async fn resume_plan(&self, request: Request<pb::ResumePlanRequest>) -> Reply {
        self.run(request, lifecycle::resume_plan).await
    }

    async fn close_plan(&self, request: Request<pb::ClosePlanRequest>) -> Reply {
        self.run(request, lifecycle::close_plan).await
    }

    async fn record_consent(&self, request: Request<pb::RecordConsentRequest>) -> Reply {
        self.run(request, lifecycle::record_consent).await
    }

    async fn sign_plan(&self, request: Request<pb::SignPlanRequest>) -> Reply {
        self.run(request, lifecycle::sign_plan).await
    }

    async fn set_review_rule(
        &self,
        request: Request<pb::SetReviewRuleRequest>,
    ) -> Result<Response<pb::ReviewRules>, Status> {
        settings::set_review_rule(&self.commands, request).await
    }

    async fn get_review_rules(
        &self,
        request: Request<pb::GetReviewRulesRequest>,
    ) -> Result<Response<pb::ReviewRules>, Status> {
        settings::get_review_rules(&self.commands, request).await
    }

    async fn create_plan_from_template(
        &self,
        request: Request<pb::CreatePlanFromTemplateRequest>,
    ) -> Reply {
        self.run(request, templates::create_plan_from_template)
            .await
    }

    async fn complete_objective(&self, request: Request<pb::CompleteObjectiveRequest>) -> Reply {
        self.run(request, templates::complete_objective).await
    }

    async fn save_template(
        &self,
        request: Request<pb::SaveTemplateRequest>,
    ) -> Result<Response<pb::PlanTemplate>, Status> {
        templates::save_template(&self.commands, request).await
    }

    async fn retire_template(
        &self,
        request: Request<pb::RetireTemplateRequest>,
    ) -> Result<Response<pb::RetireTemplateResponse>, Status> {
        templates::retire_template(&self.commands, request).await
    }

    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::Templates>, Status> {
        templates::list_templates(&self.commands, request).await
    }

    async fn assign_care_team(&self, request: Request<pb::AssignCareTeamRequest>) -> Reply {
        self.run(request, lifecycle::assign_care_team).await
    }

    async fn enter_in_error(&self, request: Request<pb::EnterInErrorRequest>) -> Reply {
        self.run(request, corrections::enter_in_error).await
    }
}
