//! The compliance views' rules, given plans and dates.

use trellis_plans_domain::{ProgressSource, SeverityBand};

use super::*;
use crate::view::{DiagnosisView, MeasureScheduleView, ReviewView, ServicePlanView, SignatureView};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn plan() -> PlanView {
    serde_json::from_value(serde_json::json!({
        "tenant": "northside", "plan_id": "p1", "client_id": "client-17",
        "primary_clinician_id": "clin-3", "clinic_id": "eastside", "title": "GAD",
        "created_on": "2026-10-01", "version": 3,
        "updated_at": "2026-10-01T00:00:00Z", "goals": [], "reviews": []
    }))
    .unwrap()
}

fn measure(instrument: Instrument, total: u32, on: &str) -> MeasureView {
    MeasureView {
        measure_id: format!("{on}-{total}"),
        instrument,
        answers: vec![],
        total,
        band: instrument.band(total),
        administered_on: day(on),
        source: ProgressSource::Clinician,
        recorded_by: "clin-3".into(),
        entered_in_error: None,
    }
}

fn review(due: &str) -> ReviewView {
    ReviewView {
        review_id: "r1".into(),
        due_on: day(due),
        held_on: None,
        participants: vec![],
        summary: None,
        decision: None,
        entered_in_error: None,
        origin: trellis_plans_domain::ReviewOrigin::Rule,
    }
}

#[test]
fn review_standing_follows_the_earliest_open_review() {
    let today = day("2026-11-29");
    let mut p = plan();
    assert_eq!(review_standing(&p, today), ReviewStanding::NotScheduled);
    p.reviews = vec![review("2027-03-01")];
    assert_eq!(review_standing(&p, today), ReviewStanding::OnSchedule);
    p.reviews = vec![review("2026-12-13")];
    assert_eq!(review_standing(&p, today), ReviewStanding::DueSoon);
    p.reviews = vec![review("2026-11-28")];
    assert_eq!(review_standing(&p, today), ReviewStanding::Overdue);
}

#[test]
fn signatures_of_an_old_version_do_not_count() {
    let mut p = plan();
    let signed = |version, role| SignatureView {
        version,
        role,
        signer_id: "x".into(),
        signed_on: day("2026-10-02"),
        recorded_at: None,
        revision: None,
    };
    p.signatures = vec![
        signed(1, SignerRole::Clinician),
        signed(1, SignerRole::Client),
    ];
    assert!(pending_signatures(&p).is_empty());
    p.plan_version = 2;
    p.signatures.push(signed(2, SignerRole::Client));
    assert_eq!(pending_signatures(&p), vec![SignerRole::Clinician]);
}

#[test]
fn a_scheduled_measure_is_due_its_interval_after_the_last_one() {
    let mut p = plan();
    p.measure_schedule = vec![MeasureScheduleView {
        instrument: Instrument::Pswq,
        interval_days: 14,
    }];
    let due = measures_due(&p, day("2026-10-10"));
    assert_eq!(due[0].due_on, day("2026-10-15"));
    assert!(!due[0].overdue);
    p.measures = vec![measure(Instrument::Pswq, 60, "2026-11-01")];
    let due = measures_due(&p, day("2026-11-29"));
    assert_eq!(due[0].last_administered, Some(day("2026-11-01")));
    assert_eq!(due[0].due_on, day("2026-11-15"));
    assert!(due[0].overdue);
}

#[test]
fn an_empty_plan_lacks_everything_a_payer_checks() {
    assert_eq!(
        insurance_gaps(&plan(), day("2026-11-29")),
        vec![
            "a primary ICD-10-CM diagnosis",
            "symptoms with frequency, intensity and onset",
            "measurable objectives",
            "interventions",
            "service type, amount, frequency and duration",
            "current signatures of clinician and client",
            "a scheduled review",
        ]
    );
    let mut p = plan();
    p.diagnoses = vec![DiagnosisView {
        code: "F41.1".into(),
        description: "Generalized anxiety disorder".into(),
        primary: true,
        entered_in_error: None,
        added: None,
    }];
    p.service_plan = Some(ServicePlanView {
        session_type: "individual psychotherapy".into(),
        minutes: 53,
        frequency: "weekly".into(),
        sessions_min: 12,
        sessions_max: 16,
        focus: String::new(),
        maintenance: String::new(),
        monitoring: vec![],
    });
    p.reviews = vec![review("2026-11-01")];
    let gaps = insurance_gaps(&p, day("2026-11-29"));
    assert!(!gaps.contains(&"a primary ICD-10-CM diagnosis"));
    assert!(gaps.contains(&"a review within schedule"));
}

#[test]
fn outcomes_count_clients_by_their_latest_score() {
    let mut responder = plan();
    responder.measures = vec![
        measure(Instrument::Phq9, 20, "2026-10-01"),
        measure(Instrument::Phq9, 4, "2026-11-01"),
    ];
    let mut partial = plan();
    partial.client_id = "client-18".into();
    partial.measures = vec![
        measure(Instrument::Gad7, 16, "2026-10-01"),
        measure(Instrument::Gad7, 10, "2026-11-01"),
    ];
    let mut baseline_only = plan();
    baseline_only.client_id = "client-19".into();
    baseline_only.measures = vec![measure(Instrument::Phq9, 20, "2026-10-01")];
    let summaries = [&responder, &partial, &baseline_only].map(PlanSummary::of);
    let figures = outcomes(&summaries);
    assert_eq!(figures.clients_measured, 2);
    assert_eq!(figures.clients_with_response, 1);
    assert_eq!(figures.clients_in_remission, 1);
    assert_eq!(responder.measures[1].band, SeverityBand::Minimal);
}

#[test]
fn outcomes_at_a_past_date_count_only_what_had_happened() {
    let mut responder = plan();
    responder.measures = vec![
        measure(Instrument::Phq9, 20, "2026-10-01"),
        measure(Instrument::Phq9, 15, "2026-10-20"),
        measure(Instrument::Phq9, 4, "2026-11-15"),
    ];
    let summaries = [PlanSummary::of(&responder)];
    let before_any = outcomes_at(&summaries, day("2026-09-30"));
    assert_eq!(before_any.clients_measured, 0);
    let october = outcomes_at(&summaries, day("2026-10-31"));
    assert_eq!(
        (october.clients_measured, october.clients_with_response),
        (1, 0)
    );
    let november = outcomes_at(&summaries, day("2026-11-30"));
    assert_eq!(november.clients_with_response, 1);
    assert_eq!(november.clients_in_remission, 1);
    assert_eq!(
        november,
        outcomes(&summaries),
        "today's figures are the latest"
    );
}
