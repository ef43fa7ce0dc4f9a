//! The GraphQL schema: queries over plan read models, and the auditor's
//! queries over the audit trail.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, MergedObject, Object, Request, Response, Schema, ValidationMode};
use futures::stream::BoxStream;
use tonic::transport::Channel;
use trellis_access::reading_role;
use trellis_auth::Role;
use trellis_kernel::AccessLog;
use trellis_projector::{PlanFilter, PlanView, ReadModelStore};
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;

use crate::access::scope_filter;
use crate::audit::AuditQuery;
use crate::audit_backend::AuditBackend;
use crate::compliance::ComplianceQuery;
use crate::error::{ErrorCode, error};
use crate::rules::RequestRules;
use crate::subscription::SubscriptionRoot;
use crate::{
    context::{caller, internal, record_reads, selected},
    plan::{Plan, load_plan_for_caller},
};

/// async-graphql's schema over the Trellis types.
type GraphqlSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The GraphQL schema, built twice over the same data: `checked` passes
/// every request through the edge's rules (`rules.rs`) and async-graphql's
/// full validation; `known` has neither, and answers only requests
/// `known.rs` admits: texts `checked` passed before, with new values for
/// plain variables. Subscriptions always take `checked`.
#[derive(Clone)]
pub struct TrellisSchema {
    checked: GraphqlSchema,
    known: GraphqlSchema,
    rules: RequestRules,
}

impl std::fmt::Debug for TrellisSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrellisSchema")
    }
}

impl TrellisSchema {
    /// Answers one query or mutation.
    pub async fn execute(&self, request: impl Into<Request>) -> Response {
        let mut request = request.into();
        if let Some(document) = crate::known::admit(&request, self.rules.limits()) {
            request.set_parsed_query(document);
            // The one rule that still applies to an answer.
            return crate::redact::without_values(self.known.execute(request).await);
        }
        self.checked.execute(request).await
    }

    /// Answers a subscription (or any operation) as a stream.
    pub fn execute_stream(&self, request: impl Into<Request>) -> BoxStream<'static, Response> {
        self.checked.execute_stream(request)
    }

    /// The schema in SDL.
    pub fn sdl(&self) -> String {
        self.checked.sdl()
    }

    /// The schema WebSocket connections run on: every rule, for every
    /// operation (the socket budget is one of them).
    pub(crate) fn for_sockets(&self) -> impl async_graphql::Executor {
        self.checked.clone()
    }
}

/// Largest page a client may ask for.
const MAX_PAGE: usize = 100;
const DEFAULT_PAGE: usize = 20;

/// The schema over `read_models`. Every read of clinical content is
/// written to `access_log` before it is answered; `audit` answers the
/// auditor's queries; mutations go to the plans gRPC service behind
/// `plans` (without one, mutations answer `UNAVAILABLE`); subscriptions
/// follow `changes`.
pub fn build_schema(
    read_models: Arc<dyn ReadModelStore>,
    access_log: Arc<dyn AccessLog>,
    audit: AuditBackend,
    plans: Option<PlanServiceClient<Channel>>,
    changes: Option<trellis_projector::LocalChanges>,
) -> TrellisSchema {
    let builder = || {
        let mut builder = Schema::build(
            QueryRoot::default(),
            MutationRoot::default(),
            SubscriptionRoot,
        )
        .data(Arc::clone(&read_models))
        .data(Arc::clone(&access_log))
        .data(audit.clone());
        if let Some(plans) = &plans {
            builder = builder.data(plans.clone());
        }
        if let Some(changes) = &changes {
            builder = builder.data(changes.clone());
        }
        // async-graphql's own limits stay as a second line behind the
        // edge's rules.
        builder.limit_depth(16).limit_complexity(2_000)
    };
    let rules = RequestRules::default();
    TrellisSchema {
        checked: builder().extension(rules).finish(),
        known: builder().validation_mode(ValidationMode::Fast).finish(),
        rules,
    }
}

/// Every query: plans (any role, scoped) and the audit trail (auditors).
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    PlanQuery,
    ComplianceQuery,
    crate::outcomes::OutcomeQuery,
    crate::templates::TemplateQuery,
    crate::settings::SettingsQuery,
    AuditQuery,
);

impl std::fmt::Debug for QueryRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryRoot")
    }
}

#[derive(Debug, Default)]
pub struct PlanQuery;

#[Object]
impl PlanQuery {
    /// One plan with its goals, objectives, progress and reviews; null when
    /// it does not exist or the caller may not see it.
    async fn plan(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Plan>> {
        load_plan_for_caller(ctx, id.as_str(), "graphql:plan").await
    }

    /// Plans the caller may see, in a stable order, Relay-style.
    async fn plans(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        client_id: Option<String>,
        clinician_id: Option<String>,
    ) -> async_graphql::Result<Connection<String, Plan, EmptyFields, EmptyFields>> {
        let caller = caller(ctx)?;
        let first = match first {
            None => DEFAULT_PAGE,
            Some(n) if n >= 0 && (n as usize) <= MAX_PAGE => n as usize,
            Some(_) => {
                return Err(error(
                    ErrorCode::BadUserInput,
                    &format!("first must be between 0 and {MAX_PAGE}"),
                ));
            }
        };
        let requested = PlanFilter {
            client_id,
            clinician_id,
            clinic_ids: None,
        };
        let mut connection = Connection::new(after.is_some(), false);
        let Some(filter) = scope_filter(caller, requested) else {
            if caller.roles.iter().all(|r| *r == trellis_auth::Role::Admin) {
                return Err(error(
                    ErrorCode::Forbidden,
                    "your role may not read clinical content",
                ));
            }
            return Ok(connection);
        };
        let read_models = ctx.data_unchecked::<Arc<dyn ReadModelStore>>();
        // A listing during a rebuild would leave plans out without saying.
        crate::context::unless_rebuilding(read_models.as_ref()).await?;
        let page = read_models
            .plans(&caller.tenant, &filter, after.as_deref(), first)
            .await
            .map_err(|e| internal(&e))?;
        connection.has_next_page = page.has_next_page;
        let readable: Vec<(PlanView, Role)> = page
            .plans
            .into_iter()
            .filter_map(|p| reading_role(caller, &p).map(|r| (p, r)))
            .collect();
        // The plan's fields as read through `edges { node }` and `nodes`
        // alike (fragments and aliases are resolved by the selection).
        let mut fields: Vec<String> = ctx
            .field()
            .selection_set()
            .flat_map(|f| match f.name() {
                "nodes" => vec![f],
                "edges" => f.selection_set().filter(|n| n.name() == "node").collect(),
                _ => Vec::new(),
            })
            .flat_map(selected)
            .collect();
        fields.sort();
        fields.dedup();
        let reads: Vec<(&PlanView, Role)> = readable.iter().map(|(p, r)| (p, *r)).collect();
        record_reads(ctx, "graphql:plans", &reads, &fields).await?;
        connection.edges.extend(
            readable
                .into_iter()
                .map(|(p, _)| Edge::new(p.plan_id.clone(), Plan(p))),
        );
        Ok(connection)
    }
}

/// Every mutation: the plan commands, templates and review rules.
#[derive(Debug, Default, async_graphql::MergedObject)]
pub struct MutationRoot(
    crate::contract::CommandMutation,
    crate::templates::TemplateMutation,
    crate::settings::SettingsMutation,
);
