//! Exporters that say when they fail. The SDK drops a failed batch
//! quietly; wrapped, each failure is counted in
//! `trellis.telemetry.export.failures` (by `signal`) and logged at most
//! once a minute per signal, so an operator sees a collector that is down
//! without a log line per batch. The error names the endpoint, never data.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// How often one signal's failures are logged at most.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// An exporter of `signal` ("traces", "metrics", "logs") whose failures
/// show.
#[derive(Debug)]
pub(crate) struct Watched<E> {
    inner: E,
    signal: &'static str,
    last_warning: Mutex<Option<Instant>>,
}

impl<E> Watched<E> {
    pub(crate) fn new(inner: E, signal: &'static str) -> Self {
        Self {
            inner,
            signal,
            last_warning: Mutex::new(None),
        }
    }

    fn failed(&self, error: &OTelSdkError) {
        failures().add(1, &[KeyValue::new("signal", self.signal)]);
        let now = Instant::now();
        let mut last = self.last_warning.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| now.duration_since(at) >= WARN_EVERY) {
            *last = Some(now);
            tracing::warn!(
                signal = self.signal,
                error = %error,
                "telemetry export failed; later batches are retried (logged at most once a minute)"
            );
        }
    }
}

/// The failure counter, made on first use: by then the process's meter
/// provider is installed (a counter made earlier would count nowhere).
fn failures() -> &'static Counter<u64> {
    static FAILURES: OnceLock<Counter<u64>> = OnceLock::new();
    FAILURES.get_or_init(|| {
        opentelemetry::global::meter("trellis")
            .u64_counter("trellis.telemetry.export.failures")
            .with_description("OTLP exports that failed, by signal")
            .build()
    })
}

impl<E: SpanExporter> SpanExporter for Watched<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        if let Err(error) = &result {
            self.failed(error);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Watched<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        if let Err(error) = &result {
            self.failed(error);
        }
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

impl<E: LogExporter> LogExporter for Watched<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        if let Err(error) = &result {
            self.failed(error);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}
