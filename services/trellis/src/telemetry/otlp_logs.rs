//! The process's log events as OpenTelemetry log records, for OTLP export
//! (`OTEL_LOGS_EXPORTER=otlp` with `--otel`). Each record carries the trace
//! and span id of the span it was written in, so a collector shows a
//! request's logs beside its trace. The records hold exactly what the
//! stderr log holds: Trellis logs no PHI, and nothing is added here.

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use serde_json::{Map, Value};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::fields::Fields;

/// A tracing layer that emits each event as a log record.
pub(crate) struct OtlpLogs {
    logger: SdkLogger,
}

impl OtlpLogs {
    pub(crate) fn new(provider: &SdkLoggerProvider) -> Self {
        Self {
            logger: provider.logger("trellis"),
        }
    }
}

fn severity(level: Level) -> (Severity, &'static str) {
    match level {
        Level::ERROR => (Severity::Error, "ERROR"),
        Level::WARN => (Severity::Warn, "WARN"),
        Level::INFO => (Severity::Info, "INFO"),
        Level::DEBUG => (Severity::Debug, "DEBUG"),
        Level::TRACE => (Severity::Trace, "TRACE"),
    }
}

fn any_value(value: Value) -> AnyValue {
    match value {
        Value::Bool(b) => AnyValue::Boolean(b),
        Value::Number(n) => n
            .as_i64()
            .map(AnyValue::Int)
            .or_else(|| n.as_f64().map(AnyValue::Double))
            .unwrap_or_else(|| AnyValue::String(n.to_string().into())),
        Value::String(s) => AnyValue::String(s.into()),
        other => AnyValue::String(other.to_string().into()),
    }
}

impl<S> Layer<S> for OtlpLogs
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        // The exporter's own crates log through tracing too: exporting
        // those would feed the pipeline with itself.
        if meta.target().starts_with("opentelemetry") {
            return;
        }
        let mut fields = Map::new();
        event.record(&mut Fields(&mut fields));
        let mut record = self.logger.create_log_record();
        let now = std::time::SystemTime::now();
        record.set_timestamp(now);
        record.set_observed_timestamp(now);
        let (number, text) = severity(*meta.level());
        record.set_severity_number(number);
        record.set_severity_text(text);
        record.set_target(meta.target().to_owned());
        if let Some(message) = fields.remove("message") {
            record.set_body(any_value(message));
        }
        record.add_attributes(fields.into_iter().map(|(k, v)| (k, any_value(v))));
        if let Some(span) = ctx.event_span(event) {
            let context = tracing::dispatcher::get_default(|dispatch| {
                tracing_opentelemetry::get_otel_context(&span.id(), dispatch)
            });
            if let Some(context) = context {
                let otel_span = context.span();
                let ids = otel_span.span_context();
                if ids.is_valid() {
                    record.set_trace_context(
                        ids.trace_id(),
                        ids.span_id(),
                        Some(ids.trace_flags()),
                    );
                }
            }
        }
        self.logger.emit(record);
    }
}
