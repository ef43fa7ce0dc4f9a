//! OTLP over HTTP/protobuf, as `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`
//! asks (collectors behind HTTP-only proxies, and the OpenTelemetry
//! default elsewhere); and a protocol this build cannot send is refused at
//! start rather than silently ignored.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric;
use prost::Message;
use serde_json::json;
use trellis_auth::Role;

use crate::harness::{Server, token, trellis_cli};

/// Span names received on `/v1/traces`, the metric requests, and the
/// number of log records on `/v1/logs`.
#[derive(Clone, Default)]
struct Received {
    spans: Arc<Mutex<Vec<String>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    log_records: Arc<Mutex<usize>>,
}

async fn logs(State(received): State<Received>, body: Bytes) -> Vec<u8> {
    let request = ExportLogsServiceRequest::decode(body).expect("OTLP protobuf");
    let count: usize = request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    *received.log_records.lock().unwrap() += count;
    Vec::new()
}

async fn traces(State(received): State<Received>, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
    let names = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone());
    received.spans.lock().unwrap().extend(names);
    Vec::new()
}

async fn metrics(State(received): State<Received>, body: Bytes) -> Vec<u8> {
    let request = ExportMetricsServiceRequest::decode(body).expect("OTLP protobuf");
    received.metrics.lock().unwrap().push(request);
    Vec::new()
}

/// A receiver on a free port: its base URL and what it gets.
async fn receiver() -> (String, Received) {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .route("/v1/logs", post(logs))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (endpoint, received)
}

/// One GraphQL read by a clinician of `tenant`: something to export.
async fn read_plans(server: &Server, tenant: &str) {
    let clinician = token(tenant, "clin-1", &[Role::Clinician]);
    server
        .graphql(
            &clinician,
            "{ plans(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await;
}

#[tokio::test]
async fn spans_metrics_and_logs_go_over_http_protobuf_when_asked() {
    let (endpoint, received) = receiver().await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        data.path(),
        &[
            ("TRELLIS_OTEL", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "100"),
            ("RUST_LOG", "info"),
        ],
        Stdio::null(),
    )
    .await;
    read_plans(&server, "http-otlp").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    server.stop().await;
    let spans = received.spans.lock().unwrap().clone();
    assert!(
        spans.iter().any(|name| name == "graphql query plans"),
        "{spans:?}"
    );
    assert!(
        !received.metrics.lock().unwrap().is_empty(),
        "no metrics arrived"
    );
    // At least the start-up lines ("trellis serving", …).
    assert!(
        *received.log_records.lock().unwrap() > 0,
        "no log records arrived"
    );
}

#[tokio::test]
async fn failed_exports_are_logged_and_counted() {
    let (endpoint, received) = receiver().await;
    // Traces to a port nobody listens on; metrics to the receiver.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/v1/traces", dead.local_addr().unwrap());
    drop(dead);
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("trellis.log");
    let server = Server::start_with(
        data.path(),
        &[
            ("TRELLIS_OTEL", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &dead_url),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                &format!("{endpoint}/v1/metrics"),
            ),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
            ("RUST_LOG", "warn"),
        ],
        Stdio::from(std::fs::File::create(&log_path).unwrap()),
    )
    .await;
    for _ in 0..3 {
        read_plans(&server, "export-failures").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    server.stop().await;

    let counted = received
        .metrics
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == "trellis.telemetry.export.failures")
        .filter_map(|m| match &m.data {
            Some(metric::Data::Sum(sum)) => Some(sum.data_points.clone()),
            _ => None,
        })
        .flatten()
        .any(|p| {
            p.attributes.iter().any(|a| {
                a.key == "signal"
                    && format!("{:?}", a.value.as_ref().and_then(|v| v.value.as_ref()))
                        .contains("traces")
            })
        });
    assert!(counted, "the failed trace exports were not counted");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let warnings = log.matches("telemetry export failed").count();
    assert_eq!(warnings, 1, "logged once, not per batch:\n{log}");
}

#[test]
fn an_otlp_protocol_this_build_cannot_send_is_refused_at_start() {
    let data = tempfile::tempdir().unwrap();
    let out = trellis_cli(&[
        "serve",
        "--grpc-addr",
        "127.0.0.1:0",
        "--http-addr",
        "127.0.0.1:0",
    ])
    .arg("--data-dir")
    .arg(data.path())
    .env("TRELLIS_OTEL", "true")
    .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    .output()
    .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("must be grpc or http/protobuf"), "{said}");
}
