//! `GetPlanAsOf` answers in the shape its `PlanRenderer` gives, and only
//! after the read is in the access log.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use trellis_audit::grpc::AuditGrpc;
use trellis_audit::{Audit, DigestKey, PlanRenderer, RenderError};
use trellis_auth::{Caller, Role};
use trellis_kernel::{AccessLog as _, AccessQuery, EventStore, TenantId};
use trellis_plans::{CommandContext, PlanCommands};
use trellis_plans_domain::{CreatePlan, PlanCommand, PlanId};
use trellis_projector::PlanView;
use trellis_proto::audit::v1 as pb;
use trellis_proto::audit::v1::audit_service_server::AuditService;
use trellis_store_sqlite::SqliteEventStore;
use uuid::Uuid;

const TENANT: &str = "asof";

fn caller(subject: &str, role: Role) -> Caller {
    Caller {
        tenant: TenantId::parse(TENANT).unwrap(),
        subject: subject.into(),
        roles: vec![role],
        clinics: vec!["clinic-a".into()],
    }
}

/// Shows a plan as `{"shownId": …}` and notes how many reads of it the
/// access log held at that moment.
#[derive(Debug)]
struct Spy {
    access: Arc<SqliteEventStore>,
    logged_when_rendered: Mutex<Vec<usize>>,
    fail: bool,
}

#[async_trait]
impl PlanRenderer for Spy {
    async fn render(&self, view: &PlanView) -> Result<serde_json::Value, RenderError> {
        let logged = self
            .access
            .query(
                &TenantId::parse(TENANT).unwrap(),
                &AccessQuery::Plan(view.plan_id.clone()),
                None,
                100,
            )
            .await
            .unwrap()
            .len();
        self.logged_when_rendered.lock().unwrap().push(logged);
        if self.fail {
            return Err(RenderError("a field needs a request".into()));
        }
        Ok(serde_json::json!({ "shownId": view.plan_id, "shownVersion": view.version }))
    }
}

async fn setup(fail: bool) -> (tempfile::TempDir, AuditGrpc, Arc<Spy>, PlanId) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
    let events: Arc<dyn EventStore> = store.clone();
    let plan = PlanId(Uuid::new_v4());
    let ctx = CommandContext {
        caller: caller("clin-1", Role::Clinician),
        command_id: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        request_id: "r".into(),
        trace_id: String::new(),
        span_id: String::new(),
    };
    let create = PlanCommand::CreatePlan(CreatePlan {
        plan_id: plan,
        client_id: "client-1".into(),
        primary_clinician_id: "clin-1".into(),
        clinic_id: "clinic-a".into(),
        title: "Plan".into(),
        payer: String::new(),
    });
    PlanCommands::new(Arc::clone(&events))
        .handle(&ctx, plan, &create)
        .await
        .unwrap();
    let key = DigestKey::development();
    let audit = Audit::new(events, store.clone(), key.clone(), key.public_key());
    let spy = Arc::new(Spy {
        access: store,
        logged_when_rendered: Mutex::new(Vec::new()),
        fail,
    });
    let grpc = AuditGrpc::new(audit, spy.clone());
    (dir, grpc, spy, plan)
}

fn as_of(plan: PlanId, who: Caller) -> tonic::Request<pb::PlanAsOfRequest> {
    let mut request = tonic::Request::new(pb::PlanAsOfRequest {
        plan_id: plan.0.to_string(),
        as_of: Some(pb::plan_as_of_request::AsOf::Version(0)),
    });
    request.extensions_mut().insert(who);
    request
}

#[tokio::test]
async fn the_plan_leaves_as_the_renderer_shows_it_after_the_read_is_logged() {
    let (_dir, grpc, spy, plan) = setup(false).await;
    let document = grpc
        .get_plan_as_of(as_of(plan, caller("aud-1", Role::Auditor)))
        .await
        .unwrap()
        .into_inner();
    let shown: serde_json::Value = serde_json::from_str(&document.plan_json).unwrap();
    assert_eq!(
        shown,
        serde_json::json!({ "shownId": plan.0.to_string(), "shownVersion": 0 })
    );
    assert_eq!(document.version, 0);
    assert_eq!(
        *spy.logged_when_rendered.lock().unwrap(),
        [1],
        "the read was in the access log before the plan was rendered"
    );
}

#[tokio::test]
async fn a_plan_that_cannot_be_rendered_is_an_internal_error_saying_no_more() {
    let (_dir, grpc, spy, plan) = setup(true).await;
    let status = grpc
        .get_plan_as_of(as_of(plan, caller("aud-1", Role::Auditor)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal);
    assert_eq!(status.message(), "the plan could not be rendered");
    assert_eq!(*spy.logged_when_rendered.lock().unwrap(), [1]);
}

#[tokio::test]
async fn only_auditors_get_a_plan_rendered() {
    let (_dir, grpc, spy, plan) = setup(false).await;
    let status = grpc
        .get_plan_as_of(as_of(plan, caller("clin-1", Role::Clinician)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert!(spy.logged_when_rendered.lock().unwrap().is_empty());
}

/// Asked for more than the largest page, an auditor gets a full page and
/// a cursor, and with the cursor the rest: no record is silently missed.
#[tokio::test]
async fn an_oversized_access_log_page_is_capped_with_a_cursor() {
    let (_dir, grpc, spy, _plan) = setup(false).await;
    let record = |n: usize| trellis_kernel::AccessRecord {
        tenant: TenantId::parse(TENANT).unwrap(),
        subject: "clin-7".into(),
        role: "clinician".into(),
        plan_id: None,
        operation: format!("graphql:plan-{n}"),
        fields: vec!["goals".into()],
        api: "graphql".into(),
        address: "127.0.0.1:1".into(),
        request_id: format!("r{n}"),
        at: chrono::Utc::now(),
    };
    spy.access
        .record((0..1_005).map(record).collect())
        .await
        .unwrap();
    let page = |after_id: Option<u64>| {
        let mut request = tonic::Request::new(pb::AccessLogRequest {
            about: Some(pb::access_log_request::About::Subject("clin-7".into())),
            after_id,
            page_size: 5_000,
        });
        request
            .extensions_mut()
            .insert(caller("aud-1", Role::Auditor));
        request
    };
    let first = grpc.get_access_log(page(None)).await.unwrap().into_inner();
    assert_eq!(first.entries.len(), 1_000);
    let cursor = first
        .next_after_id
        .expect("a full page says there may be more");
    let rest = grpc
        .get_access_log(page(Some(cursor)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.entries.len(), 5);
    assert_eq!(rest.next_after_id, None);
}
