//! Given events, when a command, then events or an error.

use chrono::NaiveDate;
use uuid::Uuid;

use super::*;
use crate::command::QuantityTarget;
use crate::event::{GoalOutcome, GoalTerm, ProgressSource, ReviewDecision};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const PLAN: PlanId = PlanId(Uuid::from_u128(1));
const GOAL: GoalId = GoalId(Uuid::from_u128(2));
const OBJECTIVE: ObjectiveId = ObjectiveId(Uuid::from_u128(3));
const REVIEW: ReviewId = ReviewId(Uuid::from_u128(4));

struct Scenario {
    given: Vec<PlanEvent>,
}

fn given(events: impl IntoIterator<Item = PlanEvent>) -> Scenario {
    Scenario {
        given: events.into_iter().collect(),
    }
}

impl Scenario {
    fn when(self, command: PlanCommand) -> Outcome {
        let plan = Plan::from_history(&self.given);
        Outcome(plan.decide(&command, today()))
    }
}

struct Outcome(Result<Vec<PlanEvent>, PlanError>);

impl Outcome {
    #[track_caller]
    fn then(self, expected: impl IntoIterator<Item = PlanEvent>) {
        assert_eq!(self.0, Ok(expected.into_iter().collect::<Vec<_>>()));
    }

    #[track_caller]
    fn then_error(self, expected: PlanError) {
        assert_eq!(self.0, Err(expected));
    }

    #[track_caller]
    fn then_not_smart(self, letter: char, field: &str) {
        match self.0 {
            Err(PlanError::NotSmart {
                criterion,
                field: f,
                ..
            }) => {
                assert_eq!(criterion.letter(), letter);
                assert_eq!(f, field);
            }
            other => panic!("expected a SMART failure on {letter}, got {other:?}"),
        }
    }

    #[track_caller]
    fn then_invalid(self, fields: &[&str]) {
        match self.0 {
            Err(PlanError::Invalid(violations)) => {
                let got: Vec<&str> = violations.iter().map(|v| v.field).collect();
                assert_eq!(got, fields);
            }
            other => panic!("expected field violations, got {other:?}"),
        }
    }
}

fn created() -> PlanEvent {
    PlanEvent::PlanCreated(PlanCreated {
        plan_id: PLAN,
        client_id: "client-17".into(),
        primary_clinician_id: "clin-3".into(),
        clinic_id: "eastside".into(),
        title: "GAD plan".into(),
        created_on: today(),
    })
}

fn goal_added() -> PlanEvent {
    PlanEvent::GoalAdded(GoalAdded {
        goal_id: GOAL,
        description: "Reduce excessive worry".into(),
        term: GoalTerm::ShortTerm,
    })
}

fn objective_added() -> PlanEvent {
    PlanEvent::ObjectiveAdded(ObjectiveAdded {
        objective_id: OBJECTIVE,
        goal_id: GOAL,
        description: "Panic attacks per week".into(),
        baseline: 4.0,
        target: 1.0,
        unit: "panic attacks".into(),
        period: "week".into(),
        target_date: day("2027-05-01"),
    })
}

fn add_objective() -> AddObjective {
    AddObjective {
        objective_id: OBJECTIVE,
        goal_id: GOAL,
        description: "Panic attacks per week".into(),
        quantity: Some(QuantityTarget {
            baseline: Some(4.0),
            target: Some(1.0),
            unit: "panic attacks".into(),
            period: "week".into(),
        }),
        target_date: Some(day("2027-05-01")),
    }
}

fn review_scheduled() -> PlanEvent {
    PlanEvent::ReviewScheduled(ReviewScheduled {
        review_id: REVIEW,
        due_on: day("2027-01-15"),
    })
}

fn hold_review() -> HoldReview {
    HoldReview {
        review_id: REVIEW,
        held_on: today(),
        participants: vec!["clin-3".into(), "client-17".into()],
        summary: "Worry reduced; continue CBT".into(),
        decision: ReviewDecision::Continue,
    }
}

#[test]
fn creating_a_plan_records_who_it_is_for_and_today() {
    given([])
        .when(PlanCommand::CreatePlan(CreatePlan {
            plan_id: PLAN,
            client_id: " client-17 ".into(),
            primary_clinician_id: "clin-3".into(),
            clinic_id: "eastside".into(),
            title: "GAD plan".into(),
        }))
        .then([created()]);
}

#[test]
fn a_plan_is_created_once() {
    given([created()])
        .when(PlanCommand::CreatePlan(CreatePlan {
            plan_id: PLAN,
            client_id: "client-17".into(),
            primary_clinician_id: "clin-3".into(),
            clinic_id: "eastside".into(),
            title: String::new(),
        }))
        .then_error(PlanError::PlanAlreadyExists);
}

#[test]
fn creating_a_plan_names_every_missing_field() {
    given([])
        .when(PlanCommand::CreatePlan(CreatePlan {
            plan_id: PLAN,
            client_id: "  ".into(),
            primary_clinician_id: String::new(),
            clinic_id: "eastside".into(),
            title: "x".repeat(201),
        }))
        .then_invalid(&["client_id", "primary_clinician_id", "title"]);
}

#[test]
fn commands_on_a_plan_that_does_not_exist_are_refused() {
    given([])
        .when(PlanCommand::AddGoal(AddGoal {
            goal_id: GOAL,
            description: "Sleep through the night".into(),
            term: GoalTerm::ShortTerm,
        }))
        .then_error(PlanError::PlanNotFound);
}

#[test]
fn adding_a_goal() {
    given([created()])
        .when(PlanCommand::AddGoal(AddGoal {
            goal_id: GOAL,
            description: "Reduce excessive worry".into(),
            term: GoalTerm::ShortTerm,
        }))
        .then([goal_added()]);
}

#[test]
fn a_goal_needs_a_description_and_a_fresh_id() {
    given([created()])
        .when(PlanCommand::AddGoal(AddGoal {
            goal_id: GOAL,
            description: " ".into(),
            term: GoalTerm::LongTerm,
        }))
        .then_invalid(&["description"]);
    given([created(), goal_added()])
        .when(PlanCommand::AddGoal(AddGoal {
            goal_id: GOAL,
            description: "again".into(),
            term: GoalTerm::LongTerm,
        }))
        .then_error(PlanError::GoalAlreadyExists(GOAL));
}

#[test]
fn adding_a_smart_objective_under_an_open_goal() {
    given([created(), goal_added()])
        .when(PlanCommand::AddObjective(add_objective()))
        .then([objective_added()]);
}

#[test]
fn no_objective_under_an_unknown_goal() {
    given([created()])
        .when(PlanCommand::AddObjective(add_objective()))
        .then_error(PlanError::UnknownGoal(GOAL));
}

#[test]
fn no_objective_under_a_closed_goal() {
    let closed = PlanEvent::GoalClosed(GoalClosed {
        goal_id: GOAL,
        outcome: GoalOutcome::Achieved,
        closed_on: today(),
    });
    given([created(), goal_added(), closed])
        .when(PlanCommand::AddObjective(add_objective()))
        .then_error(PlanError::GoalClosed(GOAL));
}

#[test]
fn closing_a_goal_once() {
    let close = || {
        PlanCommand::CloseGoal(CloseGoal {
            goal_id: GOAL,
            outcome: GoalOutcome::Discontinued,
        })
    };
    let closed = PlanEvent::GoalClosed(GoalClosed {
        goal_id: GOAL,
        outcome: GoalOutcome::Discontinued,
        closed_on: today(),
    });
    given([created(), goal_added()])
        .when(close())
        .then([closed.clone()]);
    given([created(), goal_added(), closed])
        .when(close())
        .then_error(PlanError::GoalClosed(GOAL));
}

#[test]
fn an_objective_without_a_description_is_not_specific() {
    let mut c = add_objective();
    c.description = "  ".into();
    given([created(), goal_added()])
        .when(PlanCommand::AddObjective(c))
        .then_not_smart('S', "description");
}

#[test]
fn an_objective_without_a_quantity_is_not_measurable() {
    let mut c = add_objective();
    c.quantity = None;
    given([created(), goal_added()])
        .when(PlanCommand::AddObjective(c))
        .then_not_smart('M', "quantity");
}

#[test]
fn an_objective_missing_baseline_target_or_unit_is_not_measurable() {
    type Break = fn(&mut QuantityTarget);
    let cases: [(&str, Break); 3] = [
        ("quantity.baseline", |q| q.baseline = None),
        ("quantity.target", |q| q.target = None),
        ("quantity.unit", |q| q.unit = " ".into()),
    ];
    for (field, break_it) in cases {
        let mut c = add_objective();
        break_it(c.quantity.as_mut().unwrap());
        given([created(), goal_added()])
            .when(PlanCommand::AddObjective(c))
            .then_not_smart('M', field);
    }
}

#[test]
fn an_objective_whose_target_is_its_baseline_is_not_achievable() {
    let mut c = add_objective();
    c.quantity.as_mut().unwrap().target = Some(4.0);
    given([created(), goal_added()])
        .when(PlanCommand::AddObjective(c))
        .then_not_smart('A', "quantity.target");
}

#[test]
fn an_objective_without_a_future_target_date_is_not_time_bound() {
    let mut c = add_objective();
    c.target_date = None;
    given([created(), goal_added()])
        .when(PlanCommand::AddObjective(c))
        .then_not_smart('T', "target_date");
    let mut c = add_objective();
    c.target_date = Some(today());
    given([created(), goal_added()])
        .when(PlanCommand::AddObjective(c))
        .then_not_smart('T', "target_date");
}

#[test]
fn a_non_finite_quantity_is_invalid_input() {
    let mut c = add_objective();
    c.quantity.as_mut().unwrap().baseline = Some(f64::NAN);
    given([created(), goal_added()])
        .when(PlanCommand::AddObjective(c))
        .then_invalid(&["quantity.baseline"]);
}

#[test]
fn smart_errors_name_the_letter_in_their_message_and_field_violation() {
    let mut c = add_objective();
    c.target_date = None;
    let err = Plan::from_history(&[created(), goal_added()])
        .decide(&PlanCommand::AddObjective(c), today())
        .unwrap_err();
    assert!(err.to_string().contains("T (time-bound)"), "{err}");
    let violations = err.field_violations();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, "target_date");
    assert!(violations[0].description.starts_with("not T (time-bound)"));
}

#[test]
fn recording_progress_on_an_objective() {
    let expected = PlanEvent::ObjectiveProgressRecorded(ObjectiveProgressRecorded {
        objective_id: OBJECTIVE,
        value: 3.0,
        observed_on: today(),
        source: ProgressSource::ClientSelfReport,
        note: "fewer this week".into(),
    });
    given([created(), goal_added(), objective_added()])
        .when(PlanCommand::RecordObjectiveProgress(
            RecordObjectiveProgress {
                objective_id: OBJECTIVE,
                value: 3.0,
                observed_on: today(),
                source: ProgressSource::ClientSelfReport,
                note: "fewer this week".into(),
            },
        ))
        .then([expected]);
}

#[test]
fn progress_needs_a_known_objective_and_no_future_date() {
    let progress = |observed_on| {
        PlanCommand::RecordObjectiveProgress(RecordObjectiveProgress {
            objective_id: OBJECTIVE,
            value: 2.0,
            observed_on,
            source: ProgressSource::Clinician,
            note: String::new(),
        })
    };
    given([created(), goal_added()])
        .when(progress(today()))
        .then_error(PlanError::UnknownObjective(OBJECTIVE));
    given([created(), goal_added(), objective_added()])
        .when(progress(day("2026-12-01")))
        .then_invalid(&["observed_on"]);
}

#[test]
fn an_objective_is_met_once() {
    let met = PlanEvent::ObjectiveMet(ObjectiveMet {
        objective_id: OBJECTIVE,
        met_on: today(),
    });
    let mark = || {
        PlanCommand::MarkObjectiveMet(MarkObjectiveMet {
            objective_id: OBJECTIVE,
        })
    };
    given([created(), goal_added(), objective_added()])
        .when(mark())
        .then([met.clone()]);
    given([created(), goal_added(), objective_added(), met])
        .when(mark())
        .then_error(PlanError::ObjectiveAlreadyMet(OBJECTIVE));
}

#[test]
fn scheduling_a_review() {
    given([created()])
        .when(PlanCommand::ScheduleReview(ScheduleReview {
            review_id: REVIEW,
            due_on: day("2027-01-15"),
        }))
        .then([review_scheduled()]);
    given([created()])
        .when(PlanCommand::ScheduleReview(ScheduleReview {
            review_id: REVIEW,
            due_on: day("2026-01-15"),
        }))
        .then_invalid(&["due_on"]);
    given([created(), review_scheduled()])
        .when(PlanCommand::ScheduleReview(ScheduleReview {
            review_id: REVIEW,
            due_on: day("2027-02-15"),
        }))
        .then_error(PlanError::ReviewAlreadyScheduled(REVIEW));
}

#[test]
fn holding_a_scheduled_review_once() {
    let held = PlanEvent::ReviewHeld(ReviewHeld {
        review_id: REVIEW,
        held_on: today(),
        participants: vec!["clin-3".into(), "client-17".into()],
        summary: "Worry reduced; continue CBT".into(),
        decision: ReviewDecision::Continue,
    });
    given([created(), review_scheduled()])
        .when(PlanCommand::HoldReview(hold_review()))
        .then([held.clone()]);
    given([created(), review_scheduled(), held])
        .when(PlanCommand::HoldReview(hold_review()))
        .then_error(PlanError::ReviewAlreadyHeld(REVIEW));
    given([created()])
        .when(PlanCommand::HoldReview(hold_review()))
        .then_error(PlanError::UnknownReview(REVIEW));
}

#[test]
fn a_review_needs_participants_and_a_summary() {
    let mut c = hold_review();
    c.participants.clear();
    c.summary = String::new();
    given([created(), review_scheduled()])
        .when(PlanCommand::HoldReview(c))
        .then_invalid(&["participants", "summary"]);
}

#[test]
fn events_round_trip_through_their_stored_form() {
    for event in [
        created(),
        goal_added(),
        objective_added(),
        review_scheduled(),
    ] {
        let decoded = PlanEvent::decode(
            event.event_type(),
            PlanEvent::SCHEMA_VERSION,
            &event.encode(),
        )
        .unwrap();
        assert_eq!(decoded, event);
    }
    assert!(matches!(
        PlanEvent::decode("GoalAdded", 9, b"{}"),
        Err(crate::EventDecodeError::UnsupportedVersion { version: 9, .. })
    ));
    assert!(matches!(
        PlanEvent::decode("Nope", 1, b"{}"),
        Err(crate::EventDecodeError::UnknownType(_))
    ));
}

mod measures {
    use super::*;
    use crate::command::{AcknowledgeSafetyFlag, RecordMeasure};
    use crate::event::{MeasureRecorded, SafetyFlagAcknowledged, SafetyFlagRaised};
    use crate::measure::Instrument;
    use crate::{MeasureId, SafetyFlagId};

    const MEASURE: MeasureId = MeasureId(Uuid::from_u128(9));

    fn phq9(answers: Vec<u8>) -> PlanCommand {
        PlanCommand::RecordMeasure(RecordMeasure {
            measure_id: MEASURE,
            instrument: Instrument::Phq9,
            answers,
            total: None,
            administered_on: today(),
            source: ProgressSource::ClientSelfReport,
        })
    }

    fn recorded(answers: Vec<u8>, total: u32) -> PlanEvent {
        PlanEvent::MeasureRecorded(MeasureRecorded {
            measure_id: MEASURE,
            instrument: Instrument::Phq9,
            answers,
            total,
            administered_on: today(),
            source: ProgressSource::ClientSelfReport,
        })
    }

    fn raised() -> PlanEvent {
        PlanEvent::SafetyFlagRaised(SafetyFlagRaised {
            flag_id: SafetyFlagId(MEASURE.0),
            measure_id: MEASURE,
            raised_on: today(),
        })
    }

    #[test]
    fn a_scored_measure_is_recorded_with_its_total() {
        given([created()])
            .when(phq9(vec![2, 2, 1, 1, 2, 1, 2, 1, 0]))
            .then([recorded(vec![2, 2, 1, 1, 2, 1, 2, 1, 0], 12)]);
    }

    #[test]
    fn phq9_item_9_above_zero_raises_a_safety_flag() {
        given([created()])
            .when(phq9(vec![1, 1, 1, 1, 1, 1, 1, 1, 1]))
            .then([recorded(vec![1; 9], 9), raised()]);
    }

    #[test]
    fn a_flag_is_acknowledged_once() {
        let acknowledge = || {
            PlanCommand::AcknowledgeSafetyFlag(AcknowledgeSafetyFlag {
                flag_id: SafetyFlagId(MEASURE.0),
                note: "Safety plan reviewed by phone".into(),
            })
        };
        let acknowledged = PlanEvent::SafetyFlagAcknowledged(SafetyFlagAcknowledged {
            flag_id: SafetyFlagId(MEASURE.0),
            acknowledged_on: today(),
            note: "Safety plan reviewed by phone".into(),
        });
        given([created(), recorded(vec![1; 9], 9), raised()])
            .when(acknowledge())
            .then([acknowledged.clone()]);
        given([created(), recorded(vec![1; 9], 9), raised(), acknowledged])
            .when(acknowledge())
            .then_error(PlanError::SafetyFlagAlreadyAcknowledged(SafetyFlagId(
                MEASURE.0,
            )));
        given([created()])
            .when(acknowledge())
            .then_error(PlanError::UnknownSafetyFlag(SafetyFlagId(MEASURE.0)));
    }

    #[test]
    fn answers_are_checked_against_the_instrument() {
        given([created()])
            .when(phq9(vec![1; 8]))
            .then_invalid(&["answers"]);
        given([created()])
            .when(phq9(vec![4; 9]))
            .then_invalid(&["answers"]);
        given([created()])
            .when(phq9(vec![]))
            .then_invalid(&["answers"]);
        let mismatch = PlanCommand::RecordMeasure(RecordMeasure {
            measure_id: MEASURE,
            instrument: Instrument::Gad7,
            answers: vec![1; 7],
            total: Some(9),
            administered_on: today(),
            source: ProgressSource::Clinician,
        });
        given([created()]).when(mismatch).then_invalid(&["total"]);
        let out_of_range = PlanCommand::RecordMeasure(RecordMeasure {
            measure_id: MEASURE,
            instrument: Instrument::Pswq,
            answers: vec![],
            total: Some(12),
            administered_on: today(),
            source: ProgressSource::Clinician,
        });
        given([created()])
            .when(out_of_range)
            .then_invalid(&["total"]);
    }

    #[test]
    fn a_measure_is_recorded_once() {
        given([created(), recorded(vec![0; 9], 0)])
            .when(phq9(vec![0; 9]))
            .then_error(PlanError::MeasureAlreadyRecorded(MEASURE));
    }
}

mod clinical_picture {
    use super::*;
    use crate::InterventionId;
    use crate::command::{AddIntervention, RecordPresentingProblem, RecordSafetyPlan};
    use crate::event::{
        CrisisContact, InterventionAdded, Modality, PresentingProblemRecorded, SafetyPlanRecorded,
        Symptom,
    };

    const INTERVENTION: InterventionId = InterventionId(Uuid::from_u128(11));

    fn intervention(modality: Modality, goal_ids: Vec<GoalId>) -> PlanCommand {
        PlanCommand::AddIntervention(AddIntervention {
            intervention_id: INTERVENTION,
            modality,
            technique: "Cognitive restructuring".into(),
            frequency: "weekly".into(),
            goal_ids,
        })
    }

    #[test]
    fn a_presenting_problem_with_its_symptoms() {
        let symptom = Symptom {
            name: "sleep disturbance".into(),
            frequency: "nightly".into(),
            intensity: "moderate".into(),
            onset: "six months ago".into(),
        };
        given([created()])
            .when(PlanCommand::RecordPresentingProblem(
                RecordPresentingProblem {
                    narrative: " Excessive worry ".into(),
                    symptoms: vec![symptom.clone()],
                },
            ))
            .then([PlanEvent::PresentingProblemRecorded(
                PresentingProblemRecorded {
                    narrative: "Excessive worry".into(),
                    symptoms: vec![symptom],
                },
            )]);
        given([created()])
            .when(PlanCommand::RecordPresentingProblem(
                RecordPresentingProblem {
                    narrative: String::new(),
                    symptoms: vec![],
                },
            ))
            .then_invalid(&["narrative"]);
    }

    #[test]
    fn an_intervention_serves_open_goals_of_the_plan() {
        given([created(), goal_added()])
            .when(intervention(Modality::Cbt, vec![GOAL]))
            .then([PlanEvent::InterventionAdded(InterventionAdded {
                intervention_id: INTERVENTION,
                modality: Modality::Cbt,
                technique: "Cognitive restructuring".into(),
                frequency: "weekly".into(),
                goal_ids: vec![GOAL],
            })]);
        given([created()])
            .when(intervention(Modality::Cbt, vec![GOAL]))
            .then_error(PlanError::UnknownGoal(GOAL));
        given([created()])
            .when(intervention(Modality::Other(" ".into()), vec![]))
            .then_invalid(&["modality"]);
    }

    #[test]
    fn a_safety_plan_needs_a_step_and_reachable_contacts() {
        let contact = CrisisContact {
            name: "Partner".into(),
            relationship: "partner".into(),
            phone: "555-0100".into(),
        };
        let plan = RecordSafetyPlan {
            warning_signs: vec!["Racing thoughts at night".into()],
            coping_steps: vec!["Paced breathing for five minutes".into()],
            contacts: vec![contact.clone()],
            crisis_lines: vec!["988 Suicide & Crisis Lifeline".into()],
        };
        given([created()])
            .when(PlanCommand::RecordSafetyPlan(plan.clone()))
            .then([PlanEvent::SafetyPlanRecorded(SafetyPlanRecorded {
                warning_signs: plan.warning_signs.clone(),
                coping_steps: plan.coping_steps.clone(),
                contacts: vec![contact],
                crisis_lines: plan.crisis_lines.clone(),
            })]);
        let mut empty = plan;
        empty.coping_steps.clear();
        empty.contacts[0].phone = String::new();
        given([created()])
            .when(PlanCommand::RecordSafetyPlan(empty))
            .then_invalid(&["coping_steps", "contacts.phone"]);
    }
}

mod diagnoses {
    use super::*;
    use crate::command::AddDiagnosis;
    use crate::event::DiagnosisAdded;

    fn add(code: &str, primary: bool) -> PlanCommand {
        PlanCommand::AddDiagnosis(AddDiagnosis {
            code: code.into(),
            primary,
        })
    }

    fn added(code: &str, description: &str, primary: bool) -> PlanEvent {
        PlanEvent::DiagnosisAdded(DiagnosisAdded {
            code: code.into(),
            description: description.into(),
            primary,
        })
    }

    #[test]
    fn a_known_code_is_added_with_its_official_description() {
        given([created()]).when(add("f41.1", false)).then([added(
            "F41.1",
            "Generalized anxiety disorder",
            true,
        )]);
        given([
            created(),
            added("F41.1", "Generalized anxiety disorder", true),
        ])
        .when(add("F10.10", false))
        .then([added("F10.10", "Alcohol abuse, uncomplicated", false)]);
    }

    #[test]
    fn an_unknown_code_is_named_in_the_error() {
        let outcome = Plan::from_history(&[created()])
            .decide(&add("F99.99", true), today())
            .unwrap_err();
        let violations = outcome.field_violations();
        assert_eq!(violations[0].field, "code");
        assert!(violations[0].description.contains("F99.99"));
    }

    #[test]
    fn a_diagnosis_is_added_once() {
        given([
            created(),
            added("F41.1", "Generalized anxiety disorder", true),
        ])
        .when(add("F41.1", true))
        .then_error(PlanError::DiagnosisAlreadyRecorded("F41.1".into()));
    }
}

mod corrections {
    use super::*;
    use crate::command::EnterInError;
    use crate::event::{CorrectionTarget, EnteredInError};

    fn correct(target: CorrectionTarget, reason: &str) -> PlanCommand {
        PlanCommand::EnterInError(EnterInError {
            target,
            reason: reason.into(),
        })
    }

    #[test]
    fn an_entry_is_marked_entered_in_error_with_its_reason() {
        let marked = PlanEvent::EnteredInError(EnteredInError {
            target: CorrectionTarget::Goal(GOAL),
            reason: "Recorded on the wrong client's plan".into(),
        });
        given([created(), goal_added()])
            .when(correct(
                CorrectionTarget::Goal(GOAL),
                " Recorded on the wrong client's plan ",
            ))
            .then([marked.clone()]);
        given([created(), goal_added(), marked])
            .when(correct(CorrectionTarget::Goal(GOAL), "again"))
            .then_error(PlanError::AlreadyEnteredInError);
    }

    #[test]
    fn a_correction_needs_a_reason_and_a_real_entry() {
        given([created(), goal_added()])
            .when(correct(CorrectionTarget::Goal(GOAL), "  "))
            .then_invalid(&["reason"]);
        given([created()])
            .when(correct(CorrectionTarget::Objective(OBJECTIVE), "typo"))
            .then_error(PlanError::UnknownCorrectionTarget);
        assert_eq!(
            correct(CorrectionTarget::Goal(GOAL), " why ").reason(),
            Some("why")
        );
    }
}
