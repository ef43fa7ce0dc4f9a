//! A plan's events with their provenance.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::{EventStore, ReadDirection, RecordedEvent, StoreError, StreamName};

const READ_PAGE: usize = 1000;

/// One event as an auditor sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub revision: u64,
    pub global_position: u64,
    pub event_id: String,
    pub event_type: String,
    pub schema_version: u32,
    pub recorded_at: DateTime<Utc>,
    pub actor_subject: String,
    pub actor_role: String,
    pub reason: Option<String>,
    pub request_id: String,
    pub trace_id: String,
    pub span_id: String,
    pub command_id: String,
    pub correlation_id: String,
    pub payload: serde_json::Value,
    pub hash: String,
}

impl HistoryEntry {
    pub fn from_recorded(event: &RecordedEvent) -> Self {
        let m = &event.metadata;
        Self {
            revision: event.revision,
            global_position: event.global_position,
            event_id: event.event_id.to_string(),
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            recorded_at: event.recorded_at,
            actor_subject: m.actor.subject.clone(),
            actor_role: m.actor.role.clone(),
            reason: m.reason.clone(),
            request_id: m.request_id.clone(),
            trace_id: m.trace_id.clone(),
            span_id: m.span_id.clone(),
            command_id: m.causation_id.to_string(),
            correlation_id: m.correlation_id.to_string(),
            // Stored payloads are JSON; anything else is shown as text.
            payload: serde_json::from_slice(&event.payload).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&event.payload).into_owned())
            }),
            hash: event.hash.to_hex(),
        }
    }
}

/// Which events of a history to list. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub actor: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub event_types: Vec<String>,
}

impl HistoryFilter {
    fn matches(&self, e: &RecordedEvent) -> bool {
        self.actor
            .as_ref()
            .is_none_or(|a| &e.metadata.actor.subject == a)
            && self.from.is_none_or(|from| e.recorded_at >= from)
            && self.to.is_none_or(|to| e.recorded_at <= to)
            && (self.event_types.is_empty() || self.event_types.contains(&e.event_type))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// Pass as `after_revision` for the next page; `None` on the last.
    pub next_after_revision: Option<u64>,
}

/// Every event of a stream, oldest first.
pub async fn read_whole_stream(
    store: &dyn EventStore,
    stream: &StreamName,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    loop {
        let from = events.last().map(|e| e.revision + 1);
        let page = store
            .read_stream(stream, ReadDirection::Forward, from, READ_PAGE)
            .await?;
        let full = page.len() == READ_PAGE;
        events.extend(page);
        if !full {
            return Ok(events);
        }
    }
}

/// One page of matching events after `after_revision`.
pub fn page(
    events: &[RecordedEvent],
    filter: &HistoryFilter,
    after_revision: Option<u64>,
    limit: usize,
) -> HistoryPage {
    let mut matching = events
        .iter()
        .filter(|e| after_revision.is_none_or(|after| e.revision > after))
        .filter(|e| filter.matches(e));
    let entries: Vec<HistoryEntry> = matching
        .by_ref()
        .take(limit)
        .map(HistoryEntry::from_recorded)
        .collect();
    let next_after_revision = match (matching.next(), entries.last()) {
        (Some(_), Some(last)) => Some(last.revision),
        _ => None,
    };
    HistoryPage {
        entries,
        next_after_revision,
    }
}
