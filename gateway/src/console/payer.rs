//! The payer document: `/console/plans/{id}/document.pdf`, made in the
//! server from the plan's fully signed version in force — diagnoses and
//! codes, presenting problem, measurable objectives with dates,
//! interventions with type, amount, frequency and duration, the measure
//! charts, the review schedule and the signatures — with a footer naming
//! the plan, its version and the record's hash-chain link it was made
//! from (`trellis audit check-document` checks it against the history).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use trellis_plans_domain::Instrument;

use super::filters::instrument_of;
use super::graphql::{Failure, Visit};
use super::pages::failed;
use super::pdf::Document;
use super::plan_view::{PLAN_FIELDS, PlanView};
use super::staff::{Staff, directory};
use super::state::Console;
use crate::wording::{modality_label, words};

/// The document's machine-readable identity, in its Keywords: what
/// `trellis audit check-document` reads back.
pub(crate) fn keywords(plan_id: &str, version: i64, record_hash: &str) -> String {
    format!("trellis-plan={plan_id} trellis-version={version} trellis-record={record_hash}")
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), super::chart::trim)
}

/// The document for `plan` (a fully signed state), with `later` saying
/// which newer content version awaits signatures, if one does, and people
/// named from `staff`.
pub(crate) fn render(plan: &PlanView, later: Option<&str>, staff: &Staff) -> Vec<u8> {
    let footer = [
        format!(
            "Trellis treatment plan {} · version {} (content version {})",
            plan.id, plan.version, plan.plan_version
        ),
        format!(
            "Made from the record whose hash-chain link at version {} is {}",
            plan.version, plan.record_hash
        ),
    ];
    let mut doc = Document::new(
        &plan.title,
        footer,
        keywords(&plan.id, plan.version, &plan.record_hash),
    );
    doc.title("Mental health treatment plan");
    doc.text(&plan.title, true, 12.0, 0.0);
    doc.space(4.0);
    doc.field("Client", &plan.client_id);
    doc.field("Clinic", &plan.clinic_id);
    doc.field("Primary clinician", &staff.line(&plan.primary_clinician_id));
    if !plan.care_team.is_empty() {
        let team: Vec<String> = plan.care_team.iter().map(|m| staff.line(m)).collect();
        doc.field("Care team", &team.join("; "));
    }
    if !plan.payer.is_empty() {
        doc.field("Payer", &plan.payer);
    }
    doc.field("Plan created", &plan.created_on);
    doc.field("Status", &words(&plan.status));
    doc.field(
        "Version",
        &format!(
            "content version {}, signed by every required signer",
            plan.plan_version
        ),
    );
    if let Some(later) = later {
        doc.text(later, false, 9.0, 0.0);
    }

    doc.heading("Diagnoses (ICD-10-CM)");
    for d in plan
        .diagnoses
        .iter()
        .filter(|d| d.entered_in_error.is_none())
    {
        let primary = if d.primary { " (primary)" } else { "" };
        doc.bullet(&format!("{} {}{primary}", d.code, d.description), 0.0);
    }

    if let Some(problem) = &plan.presenting_problem {
        doc.heading("Presenting problem");
        doc.paragraph(&problem.narrative);
        for s in &problem.symptoms {
            doc.bullet(
                &format!(
                    "{}: {}, intensity {}, onset {}",
                    s.name, s.frequency, s.intensity, s.onset
                ),
                0.0,
            );
        }
    }

    doc.heading("Goals and measurable objectives");
    for goal in plan.goals.iter().filter(|g| g.entered_in_error.is_none()) {
        doc.text(
            &format!("{} ({})", goal.description, words(&goal.term)),
            true,
            10.0,
            0.0,
        );
        for o in goal
            .objectives
            .iter()
            .filter(|o| o.entered_in_error.is_none())
        {
            let period = if o.period.is_empty() {
                String::new()
            } else {
                format!(" per {}", o.period)
            };
            let mut line = format!(
                "{} Baseline {}, target {} {}{period}",
                o.description,
                number(o.baseline),
                number(o.target),
                o.unit
            );
            if let Some(date) = &o.target_date {
                line.push_str(&format!(", by {date}"));
            }
            if let Some(m) = &o.measure {
                line.push_str(&format!(
                    "; measured by {} (at least {}% below baseline)",
                    instrument_label(&m.instrument),
                    m.reduction_percent
                ));
            }
            if let Some(on) = &o.met_on {
                line.push_str(&format!("; met on {on}"));
            }
            doc.bullet(&format!("{line}."), 10.0);
        }
        doc.space(3.0);
    }

    doc.heading("Interventions");
    for i in plan
        .interventions
        .iter()
        .filter(|i| i.entered_in_error.is_none())
    {
        let modality = i
            .other_modality
            .clone()
            .unwrap_or_else(|| modality_label(&i.modality));
        let comorbidity = if i.comorbidity.is_empty() {
            String::new()
        } else {
            format!("; for {}", i.comorbidity)
        };
        doc.bullet(
            &format!(
                "{modality}: {} Frequency: {}{comorbidity}.",
                i.technique, i.frequency
            ),
            0.0,
        );
    }
    if let Some(service) = &plan.service_plan {
        doc.space(3.0);
        doc.field(
            "Service",
            &format!(
                "{}, {} minutes per session (amount), {} (frequency), {}–{} sessions expected (duration)",
                service.session_type,
                service.minutes,
                service.frequency,
                service.sessions_min,
                service.sessions_max
            ),
        );
        if !service.focus.is_empty() {
            doc.field("Focus", &service.focus);
        }
    }

    doc.heading("Standardized measures");
    let charts = plan.measure_line_charts();
    if charts.is_empty() {
        doc.paragraph("No scores recorded yet.");
    }
    for (instrument, chart) in &charts {
        let target = chart
            .target
            .map(|t| format!("; target {}", super::chart::trim(t)))
            .unwrap_or_default();
        doc.text(
            &format!(
                "{} total over time (baseline = first score{target})",
                instrument.label()
            ),
            true,
            10.0,
            0.0,
        );
        doc.chart(chart, 120.0);
    }
    if !plan.measures.is_empty() {
        let columns = [0.0, 80.0, 150.0, 200.0, 300.0];
        doc.row(
            &["Date", "Measure", "Total", "Band", "Change from baseline"],
            &columns,
            true,
        );
        for m in plan
            .measures
            .iter()
            .filter(|m| m.entered_in_error.is_none())
        {
            doc.row(
                &[
                    &m.administered_on,
                    &instrument_label(&m.instrument),
                    &m.total.to_string(),
                    &words(&m.band),
                    &m.change_from_baseline.to_string(),
                ],
                &columns,
                false,
            );
        }
    }

    doc.heading("Reviews and monitoring schedule");
    match plan
        .reviews
        .iter()
        .filter(|r| !r.held && r.entered_in_error.is_none())
        .min_by(|a, b| a.due_on.cmp(&b.due_on))
    {
        Some(next) => doc.field("Next review due", &next.due_on),
        None => doc.field("Next review due", "none scheduled"),
    }
    for r in plan.reviews.iter().filter(|r| r.held) {
        let decision = r.decision.as_deref().map(words).unwrap_or_default();
        doc.bullet(
            &format!(
                "Review held {}: {decision}",
                r.held_on.as_deref().unwrap_or("")
            ),
            0.0,
        );
    }
    for s in &plan.measure_schedule {
        doc.bullet(
            &format!(
                "{} every {} days; next due {}",
                instrument_label(&s.instrument),
                s.interval_days,
                s.due_on
            ),
            0.0,
        );
    }

    doc.heading("Signatures");
    let columns = [0.0, 80.0, 250.0, 390.0];
    doc.row(
        &["Role", "Signed by", "Credentials", "Date"],
        &columns,
        true,
    );
    for s in plan
        .signatures
        .iter()
        .filter(|s| s.version == plan.plan_version)
    {
        let (name, credentials) = staff.named(&s.signer_id);
        doc.row(
            &[&words(&s.role), &name, credentials, &s.signed_on],
            &columns,
            false,
        );
    }
    doc.space(4.0);
    doc.text(
        "Staff are named as the clinic network's staff directory names them (their sign-in id in \
         brackets); clients and anyone the directory does not name are shown by id. Trellis keeps \
         no client demographics.",
        false,
        8.0,
        0.0,
    );
    doc.finish()
}

fn instrument_label(wire: &str) -> String {
    instrument_of(wire).map_or_else(|| wire.to_owned(), |i: Instrument| i.label().to_owned())
}

/// A short, file-name-safe form of a plan id.
fn file_name(plan: &PlanView) -> String {
    let id: String = plan
        .id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(36)
        .collect();
    format!("treatment-plan-{id}-v{}.pdf", plan.version)
}

/// The plan as the payer route reads it: what is in force now, and the
/// last fully signed state the document is made from.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Current {
    plan_version: i64,
    status: String,
    pending_signatures: Vec<String>,
    signed_version: Option<PlanView>,
}

#[derive(Debug, Deserialize)]
struct CurrentAnswer {
    plan: Option<Current>,
}

/// The signer roles `pending` names, in words ("clinician and client").
fn needed(pending: &[String]) -> String {
    pending
        .iter()
        .map(|r| words(r))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// What the document says of a later content version still awaiting
/// signatures; `None` when the version in force is the one shown.
fn later_version_note(current: &Current, shown: &PlanView) -> Option<String> {
    (current.plan_version != shown.plan_version).then(|| {
        format!(
            "Content version {} (a later change, which may correct this one) still needs the {} signature; this document shows content version {}, the last fully signed. The plan is now {}.",
            current.plan_version,
            needed(&current.pending_signatures),
            shown.plan_version,
            words(&current.status)
        )
    })
}

pub(crate) async fn document(
    State(console): State<Console>,
    visit: Visit,
    Path(plan_id): Path<String>,
) -> Response {
    let query = format!(
        "query ConsolePayerDocument($id: ID!) {{ plan(id: $id) {{ planVersion status pendingSignatures signedVersion {{ {PLAN_FIELDS} }} }} }}"
    );
    let answer = console
        .run::<CurrentAnswer>(
            &visit,
            "payer-document",
            &query,
            serde_json::json!({ "id": plan_id }),
        )
        .await;
    let current = match answer {
        Ok(CurrentAnswer { plan: Some(plan) }) => plan,
        Ok(CurrentAnswer { plan: None }) => {
            let failure = Failure::new("NOT_FOUND", "no such plan, or not one you may see");
            return failed(&visit, &failure);
        }
        Err(failure) => return failed(&visit, &failure),
    };
    let Some(plan) = current.signed_version.as_ref() else {
        let failure = Failure::new(
            "FAILED_PRECONDITION",
            &format!(
                "no content version of this plan is fully signed yet (content version {} still needs the {} signature); the payer document is made from a fully signed version",
                current.plan_version,
                needed(&current.pending_signatures)
            ),
        );
        return failed(&visit, &failure);
    };
    if plan.record_hash.is_empty() {
        let failure = Failure::new(
            "UNAVAILABLE",
            "this plan's read model predates record hashes; rebuild the read models (see the README) and try again",
        );
        return failed(&visit, &failure);
    }
    let note = later_version_note(&current, plan);
    let staff = directory(&console, &visit, "payer-document").await;
    let bytes = render(plan, note.as_deref(), &staff);
    let disposition = format!("inline; filename=\"{}\"", file_name(plan));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("inline")),
            ),
        ],
        bytes,
    )
        .into_response()
}
