//! Every stored event type round-trips; older versions upcast.
use std::collections::BTreeSet;

use uuid::Uuid;

use super::*;
use crate::PlanStatus;
use crate::codec::EventDecodeError;
use crate::retention::{RetentionEvent, RetentionPeriodSet};
use crate::review_rules::{ReviewRuleEvent, ReviewRuleSet};
use crate::template::{PlanTemplate, TemplateEvent, TemplateRetired, TemplateSaved};

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn on() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
}

fn words(w: &str) -> String {
    w.to_owned()
}

/// One event of every type, with every optional part filled so the
/// round trip covers it.
fn one_of_each() -> Vec<PlanEvent> {
    let measure = Some(MeasureTarget {
        instrument: Instrument::Phq9,
        reduction_percent: 50,
    });
    vec![
        PlanEvent::PlanCreated(PlanCreated {
            plan_id: PlanId(id(1)),
            client_id: words("client-17"),
            primary_clinician_id: words("clin-3"),
            clinic_id: words("eastside"),
            title: words("GAD"),
            created_on: on(),
            template: Some(TemplateRef {
                template_id: words("builtin-gad"),
                version: 1,
            }),
            payer: words("medicaid"),
        }),
        PlanEvent::GoalAdded(GoalAdded {
            goal_id: GoalId(id(2)),
            description: words("Worry less"),
            term: GoalTerm::LongTerm,
        }),
        PlanEvent::GoalClosed(GoalClosed {
            goal_id: GoalId(id(2)),
            outcome: GoalOutcome::Achieved,
            closed_on: on(),
        }),
        PlanEvent::ObjectiveAdded(ObjectiveAdded {
            objective_id: ObjectiveId(id(3)),
            goal_id: GoalId(id(2)),
            description: words("PHQ-9 half"),
            baseline: 18.0,
            target: 9.0,
            unit: words("points"),
            period: String::new(),
            target_date: on(),
            measure,
        }),
        PlanEvent::ObjectiveProgressRecorded(ObjectiveProgressRecorded {
            objective_id: ObjectiveId(id(3)),
            value: 12.5,
            observed_on: on(),
            source: ProgressSource::ClientSelfReport,
            note: words("better week"),
        }),
        PlanEvent::ObjectiveMet(ObjectiveMet {
            objective_id: ObjectiveId(id(3)),
            met_on: on(),
            by_measure: Some(MeasureId(id(9))),
        }),
        PlanEvent::ReviewScheduled(ReviewScheduled {
            review_id: ReviewId(id(4)),
            due_on: on(),
            origin: ReviewOrigin::ByHand,
        }),
        PlanEvent::ReviewHeld(ReviewHeld {
            review_id: ReviewId(id(4)),
            held_on: on(),
            participants: vec![words("clin-3")],
            summary: words("continue"),
            decision: ReviewDecision::Revise,
        }),
        PlanEvent::MeasureRecorded(MeasureRecorded {
            measure_id: MeasureId(id(9)),
            instrument: Instrument::Gad7,
            answers: vec![1, 2, 3, 0, 1, 2, 3],
            total: 12,
            administered_on: on(),
            source: ProgressSource::Clinician,
        }),
        PlanEvent::SafetyFlagRaised(SafetyFlagRaised {
            flag_id: SafetyFlagId(id(10)),
            measure_id: MeasureId(id(9)),
            raised_on: on(),
        }),
        PlanEvent::SafetyFlagAcknowledged(SafetyFlagAcknowledged {
            flag_id: SafetyFlagId(id(10)),
            acknowledged_on: on(),
            note: words("safety plan reviewed"),
        }),
        PlanEvent::PresentingProblemRecorded(PresentingProblemRecorded {
            narrative: words("worry"),
            symptoms: vec![Symptom {
                name: words("insomnia"),
                frequency: words("nightly"),
                intensity: words("moderate"),
                onset: words("a month ago"),
            }],
        }),
        PlanEvent::DiagnosisAdded(DiagnosisAdded {
            code: words("F41.1"),
            description: words("Generalized anxiety disorder"),
            primary: true,
        }),
        PlanEvent::EnteredInError(EnteredInError {
            target: CorrectionTarget::Diagnosis(words("F41.1")),
            reason: words("wrong client"),
        }),
        PlanEvent::InterventionAdded(InterventionAdded {
            intervention_id: InterventionId(id(11)),
            modality: Modality::Other(words("EMDR")),
            technique: words("bilateral stimulation"),
            frequency: words("weekly"),
            goal_ids: vec![GoalId(id(2))],
            comorbidity: words("alcohol use"),
        }),
        PlanEvent::SafetyPlanRecorded(SafetyPlanRecorded {
            warning_signs: vec![words("isolation")],
            coping_steps: vec![words("walk")],
            contacts: vec![CrisisContact {
                name: words("Sam"),
                relationship: words("brother"),
                phone: words("555-0100"),
            }],
            crisis_lines: vec![words("988")],
        }),
        PlanEvent::GoalRevised(GoalRevised {
            goal_id: GoalId(id(2)),
            description: words("Worry less at work"),
            reason: words("review decided to revise"),
        }),
        PlanEvent::ObjectiveNotMet(ObjectiveNotMet {
            objective_id: ObjectiveId(id(3)),
            closed_on: on(),
            reason: words("time ran out"),
        }),
        PlanEvent::ObjectiveDrafted(ObjectiveDrafted {
            objective_id: ObjectiveId(id(12)),
            goal_id: GoalId(id(2)),
            description: words("fewer worry episodes"),
            unit: words("episodes"),
            period: words("week"),
            measure,
        }),
        PlanEvent::ClinicalContextRecorded(ClinicalContextRecorded {
            strengths: vec![words("motivated")],
            barriers: vec![words("shift work")],
            supports: vec![Support {
                kind: SupportKind::Family,
                involvement: words("partner joins one session"),
            }],
        }),
        PlanEvent::ReferralAdded(ReferralAdded {
            referral_id: ReferralId(id(13)),
            to: words("psychiatrist"),
            reason: words("medication evaluation"),
            status: ReferralStatus::Planned,
        }),
        PlanEvent::ReferralStatusChanged(ReferralStatusChanged {
            referral_id: ReferralId(id(13)),
            status: ReferralStatus::Completed,
            changed_on: on(),
        }),
        PlanEvent::ServicePlanRecorded(ServicePlanRecorded {
            session_type: words("individual psychotherapy"),
            minutes: 50,
            frequency: words("weekly"),
            sessions_min: 12,
            sessions_max: 16,
            focus: words("CBT for worry"),
            maintenance: words("every 4-6 weeks"),
            monitoring: vec![words("worry diary")],
        }),
        PlanEvent::MeasureScheduled(MeasureScheduled {
            instrument: Instrument::Pswq,
            interval_days: 28,
        }),
        PlanEvent::PlanActivated(PlanActivated { activated_on: on() }),
        PlanEvent::PlanPutOnHold(PlanPutOnHold {
            on: on(),
            reason: words("travelling"),
        }),
        PlanEvent::PlanResumed(PlanResumed { on: on() }),
        PlanEvent::PlanClosed(PlanClosed {
            closure: PlanClosure::Transferred,
            closed_on: on(),
            reason: words("moved"),
        }),
        PlanEvent::ConsentRecorded(ConsentRecorded {
            kind: ConsentKind::InformationRelease,
            given_on: on(),
            note: words("to the PCP"),
        }),
        PlanEvent::ClientErased(ClientErased {
            plan_id: PlanId(Uuid::from_u128(9)),
            erased_on: on(),
            basis: ErasureBasis::Override,
            clinic_id: words("eastside"),
            primary_clinician_id: words("clin-3"),
            care_team: vec![words("clin-4")],
            status: PlanStatus::Closed(PlanClosure::Completed),
            shape: PlanShape {
                goals: 2,
                objectives: 3,
                ..PlanShape::default()
            },
            retention_years: None,
        }),
        PlanEvent::PlanSigned(PlanSigned {
            version: 2,
            role: SignerRole::Supervisor,
            signer_id: words("sup-1"),
            signed_on: on(),
        }),
        PlanEvent::PlanVersionStarted(PlanVersionStarted {
            version: 2,
            changed_by: words("AddGoal"),
        }),
        PlanEvent::CareTeamAssigned(CareTeamAssigned {
            primary_clinician_id: words("clin-3"),
            members: vec![words("clin-8")],
        }),
        PlanEvent::ObjectiveRevised(ObjectiveRevised {
            objective_id: ObjectiveId(id(3)),
            target: Some(2.0),
            target_date: Some(on()),
            reason: words("slower progress than hoped"),
        }),
    ]
}

/// Fails when an event type has no sample here, so a new variant is
/// round-tripped before it ships.
#[track_caller]
fn covers_every_type(declared: &[&str], sampled: impl IntoIterator<Item = &'static str>) {
    let sampled: BTreeSet<&str> = sampled.into_iter().collect();
    let declared_set: BTreeSet<&str> = declared.iter().copied().collect();
    assert_eq!(
        declared_set.len(),
        declared.len(),
        "a type name is declared twice"
    );
    assert_eq!(sampled, declared_set);
}

#[test]
fn every_plan_event_round_trips_through_its_stored_form() {
    let events = one_of_each();
    covers_every_type(
        PlanEvent::EVENT_TYPES,
        events.iter().map(PlanEvent::event_type),
    );
    for event in events {
        let (name, version) = (event.event_type(), event.schema_version());
        assert_eq!(PlanEvent::current_version(name), Some(version));
        let decoded = PlanEvent::decode(name, version, &event.encode()).unwrap();
        assert_eq!(decoded, event);
    }
}

#[test]
fn every_template_and_settings_event_round_trips() {
    let templates = vec![
        TemplateEvent::Saved(Box::new(TemplateSaved {
            template_id: words("t-1"),
            template: PlanTemplate {
                name: words("Panic"),
                goals: vec![],
                interventions: vec![],
                measure_schedule: vec![MeasureScheduled {
                    instrument: Instrument::Gad7,
                    interval_days: 14,
                }],
                service_plan: None,
            },
        })),
        TemplateEvent::Retired(TemplateRetired {
            template_id: words("t-1"),
        }),
    ];
    covers_every_type(
        TemplateEvent::EVENT_TYPES,
        templates.iter().map(TemplateEvent::event_type),
    );
    for event in templates {
        let stored = event.encode();
        let decoded =
            TemplateEvent::decode(event.event_type(), event.schema_version(), &stored).unwrap();
        assert_eq!(decoded, event);
    }
    let rules = vec![ReviewRuleEvent::RuleSet(ReviewRuleSet {
        payer: words("medicaid"),
        interval_days: 42,
    })];
    covers_every_type(
        ReviewRuleEvent::EVENT_TYPES,
        rules.iter().map(ReviewRuleEvent::event_type),
    );
    for event in rules {
        let decoded =
            ReviewRuleEvent::decode(event.event_type(), event.schema_version(), &event.encode())
                .unwrap();
        assert_eq!(decoded, event);
    }
    let retention = vec![RetentionEvent::PeriodSet(RetentionPeriodSet { years: 10 })];
    covers_every_type(
        RetentionEvent::EVENT_TYPES,
        retention.iter().map(RetentionEvent::event_type),
    );
    for event in retention {
        let decoded =
            RetentionEvent::decode(event.event_type(), event.schema_version(), &event.encode())
                .unwrap();
        assert_eq!(decoded, event);
    }
}

#[test]
fn every_older_schema_version_has_a_path_to_today() {
    for name in PlanEvent::EVENT_TYPES {
        let current = PlanEvent::current_version(name).unwrap();
        let steps: BTreeSet<u32> = PlanEvent::upcasts(name).iter().map(|u| u.from).collect();
        assert_eq!(steps, (1..current).collect(), "{name}");
    }
}

#[test]
fn a_review_stored_before_origins_reads_as_unrecorded() {
    let stored = br#"{"review_id":"00000000-0000-0000-0000-000000000004","due_on":"2027-01-15"}"#;
    let decoded = PlanEvent::decode("ReviewScheduled", 1, stored).unwrap();
    assert_eq!(
        decoded,
        PlanEvent::ReviewScheduled(ReviewScheduled {
            review_id: ReviewId(id(4)),
            due_on: NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
            origin: ReviewOrigin::Unrecorded,
        })
    );
    // Version 2 requires the origin: it is never guessed for new events.
    assert!(matches!(
        PlanEvent::decode("ReviewScheduled", 2, stored),
        Err(EventDecodeError::Malformed { .. })
    ));
}

#[test]
fn unknown_types_and_versions_are_refused() {
    assert!(matches!(
        PlanEvent::decode("GoalAdded", 9, b"{}"),
        Err(EventDecodeError::UnsupportedVersion { version: 9, .. })
    ));
    assert!(matches!(
        PlanEvent::decode("Nope", 1, b"{}"),
        Err(EventDecodeError::UnknownType(_))
    ));
}
