//! A plan's audit record as JSON Lines and as a printable HTML report.

use serde_json::json;
use trellis_kernel::{LoggedAccess, RecordedEvent};

use crate::history::HistoryEntry;
use crate::integrity::VerifyReport;
use trellis_projector::apply_event;

use crate::timetravel::{self, FieldChange};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub jsonl: String,
    pub html: String,
}

/// What each event changed in the plan document, folding once.
fn changes_per_event(events: &[RecordedEvent]) -> Vec<Vec<FieldChange>> {
    let mut out = Vec::with_capacity(events.len());
    let mut view = None;
    for event in events {
        let before = view.clone();
        // An unreadable event changes nothing here; verification reports it.
        let _ = apply_event(&mut view, event);
        let changes = match (&before, &view) {
            (Some(b), Some(a)) => timetravel::diff(b, a)
                .into_iter()
                .filter(|c| c.path != "version" && c.path != "updated_at")
                .collect(),
            (None, Some(_)) => vec![FieldChange {
                path: "(plan created)".into(),
                before: None,
                after: None,
            }],
            _ => Vec::new(),
        };
        out.push(changes);
    }
    out
}

pub fn render(
    plan_id: &str,
    events: &[RecordedEvent],
    access: &[LoggedAccess],
    verification: &VerifyReport,
) -> Export {
    let entries: Vec<HistoryEntry> = events.iter().map(HistoryEntry::from_recorded).collect();
    let changes = changes_per_event(events);

    let mut jsonl = String::new();
    for (entry, changed) in entries.iter().zip(&changes) {
        let changed: Vec<&str> = changed.iter().map(|c| c.path.as_str()).collect();
        let line =
            json!({ "kind": "event", "plan_id": plan_id, "event": entry, "changed": changed });
        jsonl.push_str(&line.to_string());
        jsonl.push('\n');
    }
    for a in access {
        jsonl.push_str(&json!({ "kind": "access", "id": a.id, "access": a.record }).to_string());
        jsonl.push('\n');
    }
    jsonl.push_str(&json!({ "kind": "verification", "result": verification }).to_string());
    jsonl.push('\n');

    let mut html = String::new();
    html.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    html.push_str(&format!(
        "<title>Audit record of plan {}</title>",
        escape(plan_id)
    ));
    html.push_str(
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}\
         th,td{border:1px solid #999;padding:4px 6px;vertical-align:top;font-size:12px}\
         th{background:#eee}.ok{color:#060}.bad{color:#a00;font-weight:bold}\
         @media print{body{margin:0}}</style></head><body>",
    );
    html.push_str(&format!(
        "<h1>Audit record of plan {}</h1>",
        escape(plan_id)
    ));
    let (class, verdict) = match &verification.first_break {
        None => (
            "ok",
            format!(
                "Verified: {} events in {} streams and {} signed digests are intact.",
                verification.events, verification.streams, verification.digests
            ),
        ),
        Some(problem) => ("bad", format!("Verification FAILED: {problem}")),
    };
    html.push_str(&format!("<p class=\"{class}\">{}</p>", escape(&verdict)));
    html.push_str("<h2>History</h2><table><tr><th>version</th><th>when (server time)</th>\
        <th>who</th><th>what</th><th>what changed</th><th>why</th><th>request / trace / command</th></tr>");
    for (entry, changed) in entries.iter().zip(&changes) {
        let changed: Vec<String> = changed.iter().map(|c| escape(&c.path)).collect();
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}<br>{}<br>{}</td></tr>",
            entry.revision,
            escape(&entry.recorded_at.to_rfc3339()),
            escape(&entry.actor_subject),
            escape(&entry.actor_role),
            escape(&entry.event_type),
            changed.join("<br>"),
            escape(entry.reason.as_deref().unwrap_or("")),
            escape(&entry.request_id),
            escape(&entry.trace_id),
            escape(&entry.command_id),
        ));
    }
    html.push_str(
        "</table><h2>Who read it</h2><table><tr><th>when</th><th>who</th>\
        <th>operation</th><th>fields</th><th>through</th><th>from</th></tr>",
    );
    for a in access {
        let r = &a.record;
        html.push_str(&format!(
            "<tr><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.at.to_rfc3339()),
            escape(&r.subject),
            escape(&r.role),
            escape(&r.operation),
            escape(&r.fields.join(", ")),
            escape(&r.api),
            escape(&r.address),
        ));
    }
    html.push_str("</table></body></html>\n");
    Export { jsonl, html }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }
}
