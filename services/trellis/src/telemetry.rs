//! Logs, traces and metrics for the `trellis` process.
//!
//! Spans always carry OpenTelemetry trace ids (so events, logs and the
//! projection can name their trace); they leave the process only with
//! `--otel`, over OTLP configured by the standard `OTEL_*` variables.
//! JSON logs carry the trace and span id of the span they were written in;
//! with `OTEL_LOGS_EXPORTER=otlp` the log events leave over OTLP too.

mod fields;
mod otlp_logs;
mod watched;

use fields::Fields;

use std::io::IsTerminal;

use anyhow::Context as _;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{KeyValue, global};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::{Map, Value};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Owns the providers so shutdown can flush what is still buffered.
#[derive(Debug)]
pub struct Telemetry {
    tracer: SdkTracerProvider,
    meter: Option<SdkMeterProvider>,
    logger: Option<SdkLoggerProvider>,
}

impl Telemetry {
    /// Exports what is buffered; called once on shutdown.
    pub fn shutdown(&self) {
        if let Err(e) = self.tracer.shutdown() {
            tracing::warn!(error = %e, "flushing traces failed");
        }
        if let Some(meter) = &self.meter
            && let Err(e) = meter.shutdown()
        {
            tracing::warn!(error = %e, "flushing metrics failed");
        }
        if let Some(logger) = &self.logger
            && let Err(e) = logger.shutdown()
        {
            tracing::warn!(error = %e, "flushing logs failed");
        }
    }
}

/// What this process says it is: `service.name` (`service`, unless
/// `OTEL_SERVICE_NAME` says otherwise), `service.version`, and a
/// `service.instance.id` of its own so replicas never collide (unless
/// `OTEL_RESOURCE_ATTRIBUTES` names one; that variable also carries
/// `deployment.environment.name` and any other attribute an operator sets).
fn resource(service: &'static str) -> Resource {
    let from_env = std::env::var("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default();
    let mut builder = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if !from_env.contains("service.instance.id=") {
        builder = builder.with_attribute(KeyValue::new(
            "service.instance.id",
            uuid::Uuid::new_v4().to_string(),
        ));
    }
    // OTEL_SERVICE_NAME wins when set; the detectors read it.
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        builder = builder.with_service_name(service);
    }
    builder.build()
}

/// How OTLP leaves the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Grpc,
    HttpProtobuf,
}

/// The transport for one signal (`TRACES`, `METRICS`), from
/// `OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL` or else
/// `OTEL_EXPORTER_OTLP_PROTOCOL`; gRPC when neither is set. A value this
/// build cannot send is refused at start, never ignored.
fn transport(signal: &str) -> anyhow::Result<Transport> {
    let specific = format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL");
    let value = std::env::var(&specific)
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_default();
    transport_of(value.trim()).with_context(|| format!("{specific} / OTEL_EXPORTER_OTLP_PROTOCOL"))
}

fn transport_of(value: &str) -> anyhow::Result<Transport> {
    match value {
        "" | "grpc" => Ok(Transport::Grpc),
        "http/protobuf" => Ok(Transport::HttpProtobuf),
        _ => anyhow::bail!(
            "the OTLP protocol must be grpc or http/protobuf (http/json is not supported)"
        ),
    }
}

/// Whether log events leave over OTLP: `OTEL_LOGS_EXPORTER=otlp`; unset
/// or `none`, they stay on stderr only. Another value is refused at start.
fn logs_exported() -> anyhow::Result<bool> {
    logs_exporter(&std::env::var("OTEL_LOGS_EXPORTER").unwrap_or_default())
}

fn logs_exporter(value: &str) -> anyhow::Result<bool> {
    match value.trim() {
        "" | "none" => Ok(false),
        "otlp" => Ok(true),
        _ => anyhow::bail!("OTEL_LOGS_EXPORTER must be otlp or none"),
    }
}

/// Installs logging and tracing (and, with `export`, the OTLP exporters)
/// for the process named `service`.
pub fn init(format: LogFormat, export: bool, service: &'static str) -> anyhow::Result<Telemetry> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = resource(service);
    let mut tracer = SdkTracerProvider::builder().with_resource(resource.clone());
    let mut meter = None;
    let mut logger = None;
    if export {
        let spans = match transport("TRACES")? {
            Transport::Grpc => opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build(),
            Transport::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .build(),
        }
        .context("OTLP span exporter")?;
        tracer = tracer.with_batch_exporter(watched::Watched::new(spans, "traces"));
        let metrics = match transport("METRICS")? {
            Transport::Grpc => opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .build(),
            Transport::HttpProtobuf => opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .build(),
        }
        .context("OTLP metric exporter")?;
        let provider = SdkMeterProvider::builder()
            .with_periodic_exporter(watched::Watched::new(metrics, "metrics"))
            .with_resource(resource.clone())
            .build();
        global::set_meter_provider(provider.clone());
        meter = Some(provider);
        if logs_exported()? {
            let records = match transport("LOGS")? {
                Transport::Grpc => opentelemetry_otlp::LogExporter::builder()
                    .with_tonic()
                    .build(),
                Transport::HttpProtobuf => opentelemetry_otlp::LogExporter::builder()
                    .with_http()
                    .with_protocol(Protocol::HttpBinary)
                    .build(),
            }
            .context("OTLP log exporter")?;
            logger = Some(
                SdkLoggerProvider::builder()
                    .with_batch_exporter(watched::Watched::new(records, "logs"))
                    .with_resource(resource)
                    .build(),
            );
        }
    }
    let tracer = tracer.build();
    global::set_tracer_provider(tracer.clone());
    // Only Trellis's own spans become OpenTelemetry spans; library spans
    // (hyper, h2) stay in the logs when the filter lets them.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer.tracer("trellis"))
        .with_filter(Targets::new().with_target("trellis", tracing::Level::INFO));

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .event_format(JsonWithTrace)
            .boxed(),
    };
    // The OTLP log records follow RUST_LOG as the stderr log does.
    let exported_logs = logger.as_ref().map(|provider| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        otlp_logs::OtlpLogs::new(provider).with_filter(filter)
    });
    // Each layer filters for itself, so RUST_LOG quiets the logs without
    // turning off the spans that give events their trace ids.
    tracing_subscriber::registry()
        .with(otel)
        .with(logs.with_filter(filter))
        .with(exported_logs)
        .try_init()
        .context("install logging")?;
    Ok(Telemetry {
        tracer,
        meter,
        logger,
    })
}

/// One JSON object per line: time, level, target, message and fields, the
/// span it was written in, and that span's trace and span ids.
struct JsonWithTrace;

impl<S, N> FormatEvent<S, N> for JsonWithTrace
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert("level".into(), Value::String(meta.level().to_string()));
        line.insert("target".into(), Value::String(meta.target().to_owned()));
        let mut fields = Map::new();
        event.record(&mut Fields(&mut fields));
        if let Some(message) = fields.remove("message") {
            line.insert("message".into(), message);
        }
        if !fields.is_empty() {
            line.insert("fields".into(), Value::Object(fields));
        }
        if let Some(span) = ctx.lookup_current() {
            line.insert("span".into(), Value::String(span.name().to_owned()));
            let context = tracing::dispatcher::get_default(|dispatch| {
                tracing_opentelemetry::get_otel_context(&span.id(), dispatch)
            });
            if let Some(context) = context {
                let otel_span = context.span();
                let ids = otel_span.span_context();
                if ids.is_valid() {
                    line.insert("trace_id".into(), Value::String(ids.trace_id().to_string()));
                    line.insert("span_id".into(), Value::String(ids.span_id().to_string()));
                }
            }
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

#[cfg(test)]
mod resource_tests {
    use opentelemetry::Key;

    use super::resource;

    #[test]
    fn each_process_names_its_service_version_and_instance() {
        let first = resource("trellis-projector");
        let second = resource("trellis-projector");
        let get = |r: &opentelemetry_sdk::Resource, key: &'static str| {
            r.get(&Key::from_static_str(key)).map(|v| v.to_string())
        };
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            assert_eq!(
                get(&first, "service.name").as_deref(),
                Some("trellis-projector")
            );
        }
        assert_eq!(
            get(&first, "service.version").as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        let instance = get(&first, "service.instance.id").expect("an instance id");
        assert_ne!(Some(instance), get(&second, "service.instance.id"));
    }
}

#[cfg(test)]
mod variable_tests {
    use super::{Transport, logs_exporter, transport_of};

    #[test]
    fn logs_leave_only_when_asked_and_a_typo_stops_the_start() {
        assert!(!logs_exporter("").unwrap());
        assert!(!logs_exporter("none").unwrap());
        assert!(logs_exporter(" otlp ").unwrap());
        assert!(logs_exporter("console").is_err());
        assert_eq!(
            transport_of("http/protobuf").unwrap(),
            Transport::HttpProtobuf
        );
        assert!(transport_of("http/json").is_err());
    }
}
