//! Telemetry as an operator receives it: a fake OTLP collector takes the
//! server's traces and metrics while the seed demo goes through every API.
//! One GraphQL mutation is one trace down to the store; nothing exported
//! or logged names a patient.

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::json;
use tokio_stream::wrappers::TcpListenerStream;
use trellis_auth::Role;
use trellis_proto::audit::v1 as audit;
use trellis_proto::audit::v1::audit_service_client::AuditServiceClient;

use crate::harness::*;

/// Everything the collector received.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    logs: Arc<Mutex<Vec<ExportLogsServiceRequest>>>,
}

#[tonic::async_trait]
impl LogsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.logs.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.spans.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.metrics.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

async fn start_collector() -> (Collector, String) {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let service = collector.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(service.clone()))
            .add_service(MetricsServiceServer::new(service.clone()))
            .add_service(LogsServiceServer::new(service))
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (collector, address)
}

/// What the demo and the calls below put into the record: none of it may
/// appear in telemetry. Matched without regard to case.
const PHI: &[&str] = &[
    "emma",
    "mcgee",
    "doug",
    "suicidal",
    "alcohol",
    "woodworking",
    "penn state",
    "relaxation",
    "generalized anxiety",
    "depressive",
    "baseline at intake",
    "fishing trip",
    "crisis lines",
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A span attribute's value as its protobuf debug form, e.g.
/// `StringValue("rejected")`, `IntValue(0)`.
fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
        .and_then(|v| v.value.as_ref())
        .map(|v| format!("{v:?}"))
}

/// The attributes of each exported data point of the sum or histogram
/// `metric`.
fn point_attributes(collector: &Collector, metric: &str) -> Vec<Vec<KeyValue>> {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    collector
        .metrics
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == metric)
        .flat_map(|m| match &m.data {
            Some(Data::Sum(sum)) => sum
                .data_points
                .iter()
                .map(|p| p.attributes.clone())
                .collect(),
            Some(Data::Histogram(h)) => {
                h.data_points.iter().map(|p| p.attributes.clone()).collect()
            }
            _ => Vec::new(),
        })
        .collect()
}

/// One attribute's value in its protobuf debug form (empty when absent).
fn label(attributes: &[KeyValue], key: &str) -> String {
    attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
        .and_then(|v| v.value.as_ref())
        .map(|v| format!("{v:?}"))
        .unwrap_or_default()
}

fn all_spans(collector: &Collector) -> Vec<Span> {
    collector
        .spans
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| r.resource_spans.iter())
        .flat_map(|r| r.scope_spans.iter())
        .flat_map(|s| s.spans.iter().cloned())
        .collect()
}

/// The spans of one trace as an indented tree, with durations.
fn trace_tree(spans: &[Span], trace: &str) -> String {
    let mine: Vec<&Span> = spans.iter().filter(|s| hex(&s.trace_id) == trace).collect();
    let mut out = format!("trace {trace}\n");
    fn walk(out: &mut String, spans: &[&Span], parent: &[u8], depth: usize) {
        let mut children: Vec<&&Span> = spans
            .iter()
            .filter(|s| s.parent_span_id == parent)
            .collect();
        children.sort_by_key(|s| s.start_time_unix_nano);
        for span in children {
            let micros = (span.end_time_unix_nano - span.start_time_unix_nano) / 1_000;
            let attributes: Vec<String> = span
                .attributes
                .iter()
                .filter(|a| {
                    ["tenant", "command", "plan_id", "events", "rpc.method"]
                        .contains(&a.key.as_str())
                })
                .map(|a| {
                    let value = a.value.as_ref().and_then(|v| v.value.as_ref());
                    format!(
                        "{}={}",
                        a.key,
                        value.map_or_else(String::new, |v| format!("{v:?}"))
                    )
                })
                .collect();
            out.push_str(&format!(
                "{}{} ({micros} µs) {}\n",
                "  ".repeat(depth),
                span.name,
                attributes.join(" ")
            ));
            walk(out, spans, &span.span_id, depth + 1);
        }
    }
    walk(&mut out, &mine, &[], 1);
    out
}

#[tokio::test]
async fn one_mutation_is_one_trace_and_no_patient_is_in_telemetry() {
    let (collector, endpoint) = start_collector().await;
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("trellis.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let server = Server::start_with(
        data.path(),
        &[
            ("TRELLIS_OTEL", "true"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "100"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=staging",
            ),
            ("TRELLIS_LOG_FORMAT", "json"),
            ("RUST_LOG", "debug"),
            ("TRELLIS_DIGEST_INTERVAL_SECS", "1"),
        ],
        Stdio::from(log_file),
    )
    .await;

    // The seed demo, through gRPC.
    let plan_id = run_demo(&server, "demo").plan("doug-mcgee");
    let clinician = token("demo", "dr-rivera", &[Role::Clinician]);

    // GraphQL reads, a mutation with clinical text, and a refused one.
    server.plan_at_version(&clinician, &plan_id, 20).await;
    server
        .graphql(
            &clinician,
            "{ plans(first: 5) { edges { node { title goals { description } } } } }",
            json!({}),
        )
        .await;
    let added = server
        .graphql(
            &clinician,
            "mutation AddGoal($input: AddGoalInput!) { addGoal(input: $input) { revision } }",
            json!({ "input": {
                "commandId": command_id(), "planId": plan_id,
                "description": "Plan a fishing trip with Doug's son", "term": "SHORT_TERM"
            }}),
        )
        .await;
    let revision = added["addGoal"]["revision"].as_u64().unwrap();
    let (_, refused) = server
        .graphql_raw(
            Some(&clinician),
            "mutation { addObjective(input: {commandId: \"not-a-uuid\", planId: \"x\", goalId: \"y\", description: \"Doug McGee: fewer beers\"}) { revision } }",
            json!({}),
        )
        .await;
    // Refused by the plan itself (a goal needs a description): its
    // command span must say so.
    let (_, empty_goal) = server
        .graphql_raw(
            Some(&clinician),
            "mutation AddGoal($input: AddGoalInput!) { addGoal(input: $input) { revision } }",
            json!({ "input": {
                "commandId": command_id(), "planId": plan_id,
                "description": "", "term": "SHORT_TERM"
            }}),
        )
        .await;
    assert!(empty_goal.get("errors").is_some(), "{empty_goal}");
    let refusal = refused.to_string().to_lowercase();
    assert!(refusal.contains("bad_user_input"), "{refusal}");
    assert!(
        !refusal.contains("mcgee") && !refusal.contains("beers"),
        "errors echo no input: {refusal}"
    );

    // The auditor's APIs.
    let auditor = token("demo", "aud-1", &[Role::Auditor]);
    let channel = tonic::transport::Channel::from_shared(server.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut audit_client = AuditServiceClient::with_interceptor(channel, Bearer::new(&auditor));
    let history = audit_client
        .get_plan_history(audit::PlanHistoryRequest {
            plan_id: plan_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mutation_event = history
        .entries
        .iter()
        .find(|e| e.revision == revision)
        .unwrap();
    audit_client
        .export_plan(audit::ExportPlanRequest {
            plan_id: plan_id.clone(),
        })
        .await
        .unwrap();
    server
        .graphql(
            &auditor,
            "query($id: ID!) { planDiff(id: $id, fromVersion: 0, toVersion: 3) { path } accessLog(planId: $id) { subject } }",
            json!({ "id": plan_id }),
        )
        .await;
    server.plan_at_version(&clinician, &plan_id, revision).await;
    // Let a periodic digest and a metrics export happen, then stop (flush).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.stop().await;

    // One trace from the GraphQL request down to the store append.
    let spans = all_spans(&collector);
    let mutation = spans
        .iter()
        .find(|s| s.name == "graphql mutation addGoal")
        .expect("the mutation's request span");
    let trace = hex(&mutation.trace_id);
    assert_eq!(
        mutation_event.trace_id, trace,
        "the event records the mutation's trace"
    );
    let in_trace: HashSet<&str> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == trace)
        .map(|s| s.name.as_str())
        .collect();
    for name in [
        "graphql mutation addGoal",
        "trellis.plans.v1.PlanService/AddGoal",
        "handle_command",
        "store.append",
    ] {
        assert!(
            in_trace.contains(name),
            "{name} missing from the trace: {in_trace:?}"
        );
    }
    // The event names the handle_command span it was decided in, and the
    // projection's batch span links to exactly that span.
    let handled = spans
        .iter()
        .find(|s| s.name == "handle_command" && hex(&s.trace_id) == trace)
        .expect("the command's span");
    assert_eq!(mutation_event.span_id, hex(&handled.span_id));
    // Shown with --nocapture; docs/telemetry.md quotes it.
    println!("{}", trace_tree(&spans, &trace));
    let projection = spans
        .iter()
        .filter(|s| s.name == "projection.batch")
        .find(|s| s.links.iter().any(|l| hex(&l.trace_id) == trace))
        .expect("a projection span links to the mutation's trace");
    assert!(
        projection
            .links
            .iter()
            .any(|l| hex(&l.span_id) == hex(&handled.span_id)),
        "the link names the handle_command span"
    );
    assert_ne!(
        hex(&projection.trace_id),
        trace,
        "the projection is its own trace"
    );

    // Every signal says who sent it: the service, its version and
    // instance, and the environment the operator named.
    let resources: Vec<String> = collector
        .spans
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| r.resource_spans.iter())
        .map(|r| format!("{:?}", r.resource))
        .chain(
            collector
                .logs
                .lock()
                .unwrap()
                .iter()
                .flat_map(|r| r.resource_logs.iter())
                .map(|r| format!("{:?}", r.resource)),
        )
        .collect();
    assert!(!resources.is_empty());
    for resource in &resources {
        for key in [
            "service.name",
            "service.version",
            "service.instance.id",
            "deployment.environment.name",
        ] {
            assert!(resource.contains(key), "{key} missing from {resource}");
        }
    }

    // Log records leave over OTLP in their trace: the mutation's command
    // logged "command handled" inside its handle_command span.
    let records: Vec<_> = collector
        .logs
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| r.resource_logs.iter())
        .flat_map(|r| r.scope_logs.iter())
        .flat_map(|s| s.log_records.iter().cloned())
        .collect();
    assert!(
        records.iter().any(|r| {
            format!("{:?}", r.body).contains("command handled")
                && hex(&r.trace_id) == trace
                && hex(&r.span_id) == hex(&handled.span_id)
        }),
        "no exported log record of the mutation's command in its span ({} records)",
        records.len()
    );

    // The gRPC hop is one name on both sides, as the RPC conventions ask:
    // a client span and a server span, the server's with its service,
    // method and address.
    let server_kind = opentelemetry_proto::tonic::trace::v1::span::SpanKind::Server as i32;
    let client_kind = opentelemetry_proto::tonic::trace::v1::span::SpanKind::Client as i32;
    let hop: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "trellis.plans.v1.PlanService/AddGoal" && hex(&s.trace_id) == trace)
        .collect();
    assert!(hop.iter().any(|s| s.kind == client_kind), "no client span");
    let served = hop
        .iter()
        .find(|s| s.kind == server_kind)
        .expect("a server span of the same name");
    assert_eq!(
        attribute(served, "rpc.service").as_deref(),
        Some("StringValue(\"trellis.plans.v1.PlanService\")")
    );
    assert_eq!(
        attribute(served, "rpc.method").as_deref(),
        Some("StringValue(\"AddGoal\")")
    );
    assert!(attribute(served, "server.address").is_some());

    // A refused command's span has status ERROR and its outcome, and an
    // accepted one neither.
    let commands: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "handle_command")
        .collect();
    let outcome = |span: &Span| attribute(span, "outcome").unwrap_or_default();
    let error = opentelemetry_proto::tonic::trace::v1::status::StatusCode::Error as i32;
    assert!(
        commands.iter().any(|s| outcome(s).contains("rejected")
            && s.status.as_ref().is_some_and(|st| st.code == error)),
        "no refused command span with status ERROR"
    );
    assert!(
        commands
            .iter()
            .filter(|s| outcome(s).contains("accepted"))
            .all(|s| s.status.as_ref().is_none_or(|st| st.code != error)),
        "an accepted command marked as an error"
    );

    // One count per request per API: the GraphQL mutations are counted as
    // GraphQL, and their calls to the plans service not again as gRPC.
    let counted: Vec<(String, String)> = point_attributes(&collector, "trellis.requests")
        .iter()
        .map(|attributes| (label(attributes, "api"), label(attributes, "operation")))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let api_of = |operation: &str| -> Vec<&str> {
        counted
            .iter()
            .filter(|(_, op)| op.contains(operation))
            .map(|(api, _)| api.as_str())
            .collect()
    };
    assert!(
        api_of("mutation addGoal").contains(&"StringValue(\"graphql\")"),
        "{counted:?}"
    );
    assert!(
        !api_of("\"AddGoal\"").contains(&"StringValue(\"grpc\")"),
        "the mutation's gRPC hop was counted again: {counted:?}"
    );

    // Admin commands are traced and measured as plan commands are: the
    // demo's SetReviewRule has its handle_command span and its latency.
    assert!(
        commands.iter().any(|s| attribute(s, "command").as_deref()
            == Some("StringValue(\"SetReviewRule\")")
            && outcome(s).contains("accepted")),
        "no handle_command span for the admin command"
    );
    let measured: HashSet<String> = point_attributes(&collector, "trellis.command.duration")
        .iter()
        .map(|attributes| label(attributes, "command"))
        .collect();
    assert!(
        measured.contains("StringValue(\"SetReviewRule\")"),
        "{measured:?}"
    );

    // The gRPC server spans of AddGoal carry their status code: 0 for the
    // accepted one, the refusal's code for the goal without a description.
    let codes: Vec<String> = spans
        .iter()
        .filter(|s| s.name == "trellis.plans.v1.PlanService/AddGoal" && s.kind == server_kind)
        .filter_map(|s| attribute(s, "rpc.grpc.status_code"))
        .collect();
    assert!(codes.iter().any(|c| c == "IntValue(0)"), "{codes:?}");
    assert!(
        codes
            .iter()
            .any(|c| c.starts_with("IntValue(") && c != "IntValue(0)"),
        "{codes:?}"
    );

    // The GraphQL request spans say how each request ended: the accepted
    // mutation "ok", the refused one its code; neither is a server fault.
    let outcomes: Vec<String> = spans
        .iter()
        .filter(|s| s.name == "graphql mutation addGoal")
        .inspect(|s| {
            assert_eq!(
                attribute(s, "http.response.status_code").as_deref(),
                Some("IntValue(200)")
            );
            assert!(s.status.as_ref().is_none_or(|st| st.code != error));
        })
        .filter_map(|s| attribute(s, "outcome"))
        .collect();
    assert!(
        outcomes.iter().any(|o| o == "StringValue(\"ok\")"),
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o == "StringValue(\"BAD_USER_INPUT\")"),
        "{outcomes:?}"
    );

    // The metrics an operator watches.
    let exported: HashSet<String> = collector
        .metrics
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| r.resource_metrics.iter())
        .flat_map(|r| r.scope_metrics.iter())
        .flat_map(|s| s.metrics.iter().map(|m| m.name.clone()))
        .collect();
    for name in [
        "trellis.command.duration",
        "trellis.store.append.duration",
        "trellis.store.events_appended",
        "trellis.projection.lag.seconds",
        "trellis.projection.lag.events",
        "trellis.readmodel.cache.lookups",
        "trellis.requests",
        "trellis.errors",
        "rpc.server.call.duration",
        "http.server.request.duration",
    ] {
        assert!(
            exported.contains(name),
            "metric {name} not exported: {exported:?}"
        );
    }
    // Request durations as the conventions name them, labelled by route
    // template and method name, never by a path or id a client sent.
    let routes: HashSet<String> = point_attributes(&collector, "http.server.request.duration")
        .iter()
        .map(|attributes| label(attributes, "http.route"))
        .collect();
    assert!(routes.contains("StringValue(\"/graphql\")"), "{routes:?}");
    assert!(
        routes.iter().all(|r| !r.contains(&plan_id)),
        "a route label holds an id: {routes:?}"
    );
    let methods: HashSet<String> = point_attributes(&collector, "rpc.server.call.duration")
        .iter()
        .map(|attributes| label(attributes, "rpc.method"))
        .collect();
    // The demo's own gRPC calls are measured; the GraphQL mutation's hop
    // to AddGoal is inside its HTTP request's time, not measured again.
    assert!(
        methods.contains("StringValue(\"ActivatePlan\")"),
        "{methods:?}"
    );
    assert!(!methods.contains("StringValue(\"AddGoal\")"), "{methods:?}");

    // No PHI anywhere in what left the process or was logged.
    let mut telemetry = format!(
        "{:?}\n{:?}\n{:?}",
        collector.spans.lock().unwrap(),
        collector.metrics.lock().unwrap(),
        collector.logs.lock().unwrap()
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().count() > 10, "the server logged at debug level");
    assert!(
        log.lines().any(|l| l.contains("\"trace_id\"")),
        "JSON log lines carry trace ids"
    );
    telemetry.push_str(&log);
    let telemetry = telemetry.to_lowercase();
    for phi in PHI {
        assert!(!telemetry.contains(phi), "telemetry contains PHI: {phi:?}");
    }
}
