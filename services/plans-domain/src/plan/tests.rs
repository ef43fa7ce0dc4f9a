//! Given events, when a command, then events or an error.

use chrono::NaiveDate;
use uuid::Uuid;

use super::*;
use crate::command::QuantityTarget;
use crate::command::*;
use crate::event::*;
use crate::event::{GoalOutcome, GoalTerm, ProgressSource, ReviewDecision};
use crate::{GoalId, ObjectiveId, PlanId, ReviewId};

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
        template: None,
        payer: String::new(),
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
        measure: None,
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
        measure: None,
        target_date: Some(day("2027-05-01")),
    }
}

fn review_scheduled() -> PlanEvent {
    PlanEvent::ReviewScheduled(ReviewScheduled {
        review_id: REVIEW,
        due_on: day("2027-01-15"),
        origin: ReviewOrigin::ByHand,
    })
}

fn hold_review() -> HoldReview {
    HoldReview {
        review_id: REVIEW,
        held_on: today(),
        participants: vec!["clin-3".into(), "client-17".into()],
        summary: "Worry reduced; continue CBT".into(),
        decision: ReviewDecision::Continue,
        next_review: None,
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
            payer: String::new(),
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
            payer: String::new(),
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
            payer: String::new(),
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
fn an_objective_id_is_used_once() {
    given([created(), goal_added(), objective_added()])
        .when(PlanCommand::AddObjective(add_objective()))
        .then_error(PlanError::ObjectiveAlreadyExists(OBJECTIVE));
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
        by_measure: None,
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

mod objective_revisions {
    use super::*;
    use crate::command::ReviseObjective;
    use crate::event::ObjectiveRevised;

    fn revise(target: Option<f64>, target_date: Option<&str>) -> PlanCommand {
        PlanCommand::ReviseObjective(ReviseObjective {
            objective_id: OBJECTIVE,
            target,
            target_date: target_date.map(day),
            reason: "progress slower than hoped".into(),
        })
    }

    #[test]
    fn an_objective_gets_a_new_target_and_date_for_a_reason() {
        given([created(), goal_added(), objective_added()])
            .when(revise(Some(2.0), Some("2027-08-01")))
            .then([PlanEvent::ObjectiveRevised(ObjectiveRevised {
                objective_id: OBJECTIVE,
                target: Some(2.0),
                target_date: Some(day("2027-08-01")),
                reason: "progress slower than hoped".into(),
            })]);
    }

    #[test]
    fn a_revision_says_why_and_changes_something() {
        let mut no_reason = ReviseObjective {
            objective_id: OBJECTIVE,
            target: None,
            target_date: None,
            reason: " ".into(),
        };
        given([created(), goal_added(), objective_added()])
            .when(PlanCommand::ReviseObjective(no_reason.clone()))
            .then_invalid(&["reason", "target"]);
        no_reason.target = Some(f64::NAN);
        no_reason.reason = "x".into();
        given([created(), goal_added(), objective_added()])
            .when(PlanCommand::ReviseObjective(no_reason))
            .then_invalid(&["target"]);
    }

    #[test]
    fn the_new_values_are_smart_too() {
        given([created(), goal_added(), objective_added()])
            .when(revise(Some(4.0), None))
            .then_not_smart('A', "target");
        given([created(), goal_added(), objective_added()])
            .when(revise(None, Some("2026-11-29")))
            .then_not_smart('T', "target_date");
    }

    #[test]
    fn only_an_open_objective_that_stands_is_revised() {
        let met = PlanEvent::ObjectiveMet(ObjectiveMet {
            objective_id: OBJECTIVE,
            met_on: today(),
            by_measure: None,
        });
        given([created(), goal_added(), objective_added(), met])
            .when(revise(Some(2.0), None))
            .then_error(PlanError::ObjectiveAlreadyMet(OBJECTIVE));
        given([created(), goal_added()])
            .when(revise(Some(2.0), None))
            .then_error(PlanError::UnknownObjective(OBJECTIVE));
        let in_error = PlanEvent::EnteredInError(EnteredInError {
            target: CorrectionTarget::Objective(OBJECTIVE),
            reason: "wrong client".into(),
        });
        given([created(), goal_added(), objective_added(), in_error])
            .when(revise(Some(2.0), None))
            .then_error(PlanError::EnteredInError);
    }

    #[test]
    fn a_revised_target_is_what_progress_is_measured_against() {
        let revised = PlanEvent::ObjectiveRevised(ObjectiveRevised {
            objective_id: OBJECTIVE,
            target: Some(2.0),
            target_date: None,
            reason: "x".into(),
        });
        let plan = Plan::from_history(&[created(), goal_added(), objective_added(), revised]);
        assert_eq!(plan.objectives[&OBJECTIVE].target, 2.0);
    }
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

    const SECOND: MeasureId = MeasureId(Uuid::from_u128(10));

    fn gad7(measure_id: MeasureId, total: u32) -> RecordMeasure {
        RecordMeasure {
            measure_id,
            instrument: Instrument::Gad7,
            answers: vec![],
            total: Some(total),
            administered_on: today(),
            source: ProgressSource::Clinician,
        }
    }

    fn several(measures: Vec<RecordMeasure>) -> PlanCommand {
        PlanCommand::RecordMeasures(crate::command::RecordMeasures { measures })
    }

    #[test]
    fn several_measures_are_recorded_together_each_by_its_rules() {
        let PlanCommand::RecordMeasure(first) = phq9(vec![1; 9]) else {
            unreachable!()
        };
        let second = PlanEvent::MeasureRecorded(MeasureRecorded {
            measure_id: SECOND,
            instrument: Instrument::Gad7,
            answers: vec![],
            total: 8,
            administered_on: today(),
            source: ProgressSource::Clinician,
        });
        given([created()])
            .when(several(vec![first, gad7(SECOND, 8)]))
            .then([recorded(vec![1; 9], 9), raised(), second]);
    }

    #[test]
    fn one_refused_measure_refuses_them_all_and_says_which() {
        let decided = given([created()])
            .when(several(vec![gad7(SECOND, 8), gad7(MEASURE, 99)]))
            .0
            .expect_err("a total out of range refuses the batch");
        let PlanError::Invalid(violations) = decided else {
            panic!("expected field violations, got {decided:?}");
        };
        assert_eq!(violations[0].field, "total");
        assert!(violations[0].description.starts_with("questionnaire 2: "));
    }

    #[test]
    fn a_measure_id_twice_in_one_batch_is_refused() {
        given([created()])
            .when(several(vec![gad7(SECOND, 8), gad7(SECOND, 9)]))
            .then_error(PlanError::MeasureAlreadyRecorded(SECOND));
        given([created()])
            .when(several(vec![]))
            .then_invalid(&["measures"]);
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
            comorbidity: String::new(),
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
                comorbidity: String::new(),
            })]);
        given([created()])
            .when(intervention(Modality::Cbt, vec![GOAL]))
            .then_error(PlanError::UnknownGoal(GOAL));
        given([created()])
            .when(intervention(Modality::Other(" ".into()), vec![]))
            .then_invalid(&["other_modality"]);
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
    fn an_unknown_code_is_refused_by_the_rule_without_echoing_it() {
        let outcome = Plan::from_history(&[created()])
            .decide(&add("F99.99", true), today())
            .unwrap_err();
        let violations = outcome.field_violations();
        assert_eq!(violations[0].field, "code");
        assert_eq!(
            violations[0].description,
            "is not a billable ICD-10-CM behavioural-health code"
        );
        // What was typed may be PHI put in the wrong field: never echoed.
        assert!(!outcome.to_string().contains("F99.99"));
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

/// Lifecycle, signatures and versions, measure-based objectives, the
/// clinical context, referrals and the service plan.
mod complete_plan {
    use super::*;
    use crate::command::{
        ActivatePlan, AddReferral, ChangeReferralStatus, ClosePlan, MarkObjectiveNotMet,
        NextReview, PutPlanOnHold, RecordClinicalContext, RecordConsent, RecordServicePlan,
        ReviseGoal, ScheduleMeasure, SignPlan,
    };
    use crate::event::{
        ConsentKind, ConsentRecorded, DiagnosisAdded, GoalRevised, InterventionAdded,
        MeasureTarget, PlanActivated, PlanClosed, PlanClosure, PlanPutOnHold, PlanResumed,
        PlanSigned, PlanVersionStarted, PresentingProblemRecorded, ReferralAdded, ReferralStatus,
        ReferralStatusChanged, SignerRole, Support, SupportKind,
    };
    use crate::measure::Instrument;
    use crate::{InterventionId, MeasureId, ReferralId};

    const NEXT_REVIEW: ReviewId = ReviewId(Uuid::from_u128(40));
    const REFERRAL: ReferralId = ReferralId(Uuid::from_u128(50));
    const PHQ9_OBJECTIVE: ObjectiveId = ObjectiveId(Uuid::from_u128(31));

    fn diagnosed() -> PlanEvent {
        PlanEvent::DiagnosisAdded(DiagnosisAdded {
            code: "F41.1".into(),
            description: "Generalized anxiety disorder".into(),
            primary: true,
        })
    }

    fn problem() -> PlanEvent {
        PlanEvent::PresentingProblemRecorded(PresentingProblemRecorded {
            narrative: "Worry".into(),
            symptoms: vec![],
        })
    }

    fn intervention_added() -> PlanEvent {
        PlanEvent::InterventionAdded(InterventionAdded {
            intervention_id: InterventionId(Uuid::from_u128(11)),
            modality: crate::event::Modality::Cbt,
            technique: "Cognitive restructuring".into(),
            frequency: "weekly".into(),
            goal_ids: vec![GOAL],
            comorbidity: String::new(),
        })
    }

    /// A draft with everything activation asks for.
    fn complete_draft() -> Vec<PlanEvent> {
        vec![
            created(),
            diagnosed(),
            problem(),
            goal_added(),
            objective_added(),
            intervention_added(),
        ]
    }

    fn activated() -> PlanEvent {
        PlanEvent::PlanActivated(PlanActivated {
            activated_on: today(),
        })
    }

    fn activate() -> PlanCommand {
        PlanCommand::ActivatePlan(ActivatePlan {
            first_review: NextReview {
                review_id: REVIEW,
                interval_days: 30,
            },
        })
    }

    fn signer(role: SignerRole) -> &'static str {
        match role {
            SignerRole::Clinician => "clin-3",
            SignerRole::Client => "client-17",
            SignerRole::Supervisor => "sup-1",
        }
    }

    fn sign(role: SignerRole) -> PlanCommand {
        PlanCommand::SignPlan(SignPlan {
            role,
            signer_id: signer(role).into(),
        })
    }

    fn signed(role: SignerRole, version: u32) -> PlanEvent {
        PlanEvent::PlanSigned(PlanSigned {
            version,
            role,
            signer_id: signer(role).into(),
            signed_on: today(),
        })
    }

    fn consented() -> PlanEvent {
        PlanEvent::ConsentRecorded(ConsentRecorded {
            kind: ConsentKind::Treatment,
            given_on: today(),
            note: String::new(),
        })
    }

    fn with(
        mut events: Vec<PlanEvent>,
        more: impl IntoIterator<Item = PlanEvent>,
    ) -> Vec<PlanEvent> {
        events.extend(more);
        events
    }

    #[test]
    fn a_new_plan_is_a_draft() {
        assert_eq!(Plan::from_history(&[created()]).status(), PlanStatus::Draft);
    }

    #[test]
    fn a_draft_names_everything_it_lacks_before_activation() {
        given([created()])
            .when(activate())
            .then_error(PlanError::NotReadyToActivate(vec![
                "a diagnosis",
                "the presenting problem",
                "a goal",
                "a measurable objective",
                "an intervention",
            ]));
    }

    #[test]
    fn activating_schedules_the_first_review_by_the_rule() {
        given(complete_draft()).when(activate()).then([
            activated(),
            PlanEvent::ReviewScheduled(ReviewScheduled {
                review_id: REVIEW,
                due_on: day("2026-12-29"),
                origin: ReviewOrigin::Rule,
            }),
        ]);
        // A review scheduled by hand stands.
        given(with(complete_draft(), [review_scheduled()]))
            .when(activate())
            .then([activated()]);
        given(with(complete_draft(), [activated()]))
            .when(activate())
            .then_error(PlanError::WrongStatus {
                status: PlanStatus::Active,
                action: "ActivatePlan",
            });
    }

    #[test]
    fn on_hold_and_back() {
        let active = with(complete_draft(), [activated()]);
        let hold = || {
            PlanCommand::PutPlanOnHold(PutPlanOnHold {
                reason: "client travelling".into(),
            })
        };
        let on_hold = PlanEvent::PlanPutOnHold(PlanPutOnHold {
            on: today(),
            reason: "client travelling".into(),
        });
        given(active.clone()).when(hold()).then([on_hold.clone()]);
        given(with(active.clone(), [on_hold]))
            .when(PlanCommand::ResumePlan(crate::command::ResumePlan))
            .then([PlanEvent::PlanResumed(PlanResumed { on: today() })]);
        given(active.clone())
            .when(PlanCommand::ResumePlan(crate::command::ResumePlan))
            .then_error(PlanError::WrongStatus {
                status: PlanStatus::Active,
                action: "ResumePlan",
            });
        given([created()])
            .when(hold())
            .then_error(PlanError::WrongStatus {
                status: PlanStatus::Draft,
                action: "PutPlanOnHold",
            });
        given(active)
            .when(PlanCommand::PutPlanOnHold(PutPlanOnHold {
                reason: " ".into(),
            }))
            .then_invalid(&["reason"]);
    }

    #[test]
    fn a_closed_plan_takes_corrections_only() {
        let closed = PlanEvent::PlanClosed(PlanClosed {
            closure: PlanClosure::Transferred,
            closed_on: today(),
            reason: "moved to another network".into(),
        });
        given(with(complete_draft(), [activated()]))
            .when(PlanCommand::ClosePlan(ClosePlan {
                closure: PlanClosure::Transferred,
                reason: "moved to another network".into(),
            }))
            .then([closed.clone()]);
        let history = with(complete_draft(), [activated(), closed]);
        given(history.clone())
            .when(PlanCommand::AddGoal(AddGoal {
                goal_id: GoalId(Uuid::from_u128(99)),
                description: "x".into(),
                term: GoalTerm::LongTerm,
            }))
            .then_error(PlanError::WrongStatus {
                status: PlanStatus::Closed(PlanClosure::Transferred),
                action: "AddGoal",
            });
        let correction = PlanCommand::EnterInError(crate::command::EnterInError {
            target: CorrectionTarget::Goal(GOAL),
            reason: "wrong client".into(),
        });
        assert!(
            Plan::from_history(&history)
                .decide(&correction, today())
                .is_ok()
        );
    }

    #[test]
    fn a_review_schedules_the_next_one_or_discharges() {
        let history = with(complete_draft(), [activated(), review_scheduled()]);
        let mut held = hold_review();
        held.next_review = Some(NextReview {
            review_id: NEXT_REVIEW,
            interval_days: 90,
        });
        let outcome = Plan::from_history(&history)
            .decide(&PlanCommand::HoldReview(held.clone()), today())
            .unwrap();
        assert_eq!(
            outcome[1],
            PlanEvent::ReviewScheduled(ReviewScheduled {
                review_id: NEXT_REVIEW,
                due_on: day("2027-02-27"),
                origin: ReviewOrigin::Rule,
            })
        );
        held.decision = ReviewDecision::Discharge;
        let outcome = Plan::from_history(&history)
            .decide(&PlanCommand::HoldReview(held), today())
            .unwrap();
        assert!(matches!(
            &outcome[1],
            PlanEvent::PlanClosed(PlanClosed {
                closure: PlanClosure::Discharged,
                ..
            })
        ));
        assert_eq!(outcome.len(), 2);
    }

    #[test]
    fn the_client_signs_after_consenting() {
        given(complete_draft())
            .when(sign(SignerRole::Client))
            .then_error(PlanError::ConsentRequired);
        given(with(complete_draft(), [consented()]))
            .when(sign(SignerRole::Client))
            .then([signed(SignerRole::Client, 1)]);
    }

    #[test]
    fn the_supervisor_co_signs_after_the_clinician_and_each_signs_once() {
        given(complete_draft())
            .when(sign(SignerRole::Supervisor))
            .then_error(PlanError::CosignBeforeClinician);
        let clinician_signed = with(complete_draft(), [signed(SignerRole::Clinician, 1)]);
        given(clinician_signed.clone())
            .when(sign(SignerRole::Supervisor))
            .then([signed(SignerRole::Supervisor, 1)]);
        given(clinician_signed.clone())
            .when(sign(SignerRole::Clinician))
            .then_error(PlanError::AlreadySigned(SignerRole::Clinician));
        // Holding both roles does not let one person sign twice.
        given(clinician_signed)
            .when(PlanCommand::SignPlan(SignPlan {
                role: SignerRole::Supervisor,
                signer_id: "clin-3".into(),
            }))
            .then_error(PlanError::CosignBySameSigner);
    }

    #[test]
    fn a_material_change_after_signing_starts_a_new_version() {
        let signed_plan = with(complete_draft(), [signed(SignerRole::Clinician, 1)]);
        let new_goal = GoalId(Uuid::from_u128(77));
        let add_goal = PlanCommand::AddGoal(AddGoal {
            goal_id: new_goal,
            description: "Sleep through the night".into(),
            term: GoalTerm::ShortTerm,
        });
        let version_2 = PlanEvent::PlanVersionStarted(PlanVersionStarted {
            version: 2,
            changed_by: "AddGoal".into(),
        });
        let goal = PlanEvent::GoalAdded(GoalAdded {
            goal_id: new_goal,
            description: "Sleep through the night".into(),
            term: GoalTerm::ShortTerm,
        });
        given(signed_plan.clone())
            .when(add_goal.clone())
            .then([version_2.clone(), goal.clone()]);
        // Unsigned content changes freely within its version.
        given(complete_draft()).when(add_goal).then([goal.clone()]);
        // The new version's signatures are pending again.
        given(with(signed_plan.clone(), [version_2, goal]))
            .when(sign(SignerRole::Clinician))
            .then([signed(SignerRole::Clinician, 2)]);
        // A questionnaire is not a change to what was signed.
        let measure = Plan::from_history(&signed_plan)
            .decide(&phq9_total(MeasureId(Uuid::from_u128(60)), 12), today())
            .unwrap();
        assert!(
            !measure
                .iter()
                .any(|e| matches!(e, PlanEvent::PlanVersionStarted(_)))
        );
    }

    #[test]
    fn revising_a_signed_objective_starts_a_new_version() {
        let signed_plan = with(complete_draft(), [signed(SignerRole::Clinician, 1)]);
        let revise = PlanCommand::ReviseObjective(crate::command::ReviseObjective {
            objective_id: OBJECTIVE,
            target: None,
            target_date: Some(day("2027-09-01")),
            reason: "a month of illness".into(),
        });
        given(signed_plan).when(revise).then([
            PlanEvent::PlanVersionStarted(PlanVersionStarted {
                version: 2,
                changed_by: "ReviseObjective".into(),
            }),
            PlanEvent::ObjectiveRevised(crate::event::ObjectiveRevised {
                objective_id: OBJECTIVE,
                target: None,
                target_date: Some(day("2027-09-01")),
                reason: "a month of illness".into(),
            }),
        ]);
    }

    fn phq9_total(id: MeasureId, total: u32) -> PlanCommand {
        PlanCommand::RecordMeasure(crate::command::RecordMeasure {
            measure_id: id,
            instrument: Instrument::Phq9,
            answers: vec![],
            total: Some(total),
            administered_on: today(),
            source: ProgressSource::ClientSelfReport,
        })
    }

    fn recorded_phq9(id: u128, total: u32) -> Vec<PlanEvent> {
        Plan::from_history(&[created()])
            .decide(&phq9_total(MeasureId(Uuid::from_u128(id)), total), today())
            .unwrap()
    }

    fn phq9_objective(percent: u8) -> PlanCommand {
        PlanCommand::AddObjective(AddObjective {
            objective_id: PHQ9_OBJECTIVE,
            goal_id: GOAL,
            description: "PHQ-9 at least 60% below baseline".into(),
            quantity: None,
            measure: Some(MeasureTarget {
                instrument: Instrument::Phq9,
                reduction_percent: percent,
            }),
            target_date: Some(day("2027-11-01")),
        })
    }

    #[test]
    fn a_measure_objective_needs_a_baseline_score() {
        given([created(), goal_added()])
            .when(phq9_objective(60))
            .then_not_smart('M', "measure");
        given([created(), goal_added()])
            .when(phq9_objective(0))
            .then_invalid(&["measure.reduction_percent"]);
        let outcome = given(with(vec![created(), goal_added()], recorded_phq9(60, 20)))
            .when(phq9_objective(60));
        let Ok(events) = outcome.0 else {
            panic!("expected the objective");
        };
        let PlanEvent::ObjectiveAdded(added) = &events[0] else {
            panic!("expected ObjectiveAdded");
        };
        assert_eq!((added.baseline, added.target), (20.0, 8.0));
        assert_eq!(added.unit, "PHQ-9 total score");
    }

    #[test]
    fn a_score_that_reaches_the_target_meets_the_objective() {
        let mut history = with(vec![created(), goal_added()], recorded_phq9(60, 20));
        history.extend(
            Plan::from_history(&history)
                .decide(&phq9_objective(60), today())
                .unwrap(),
        );
        let not_yet = Plan::from_history(&history)
            .decide(&phq9_total(MeasureId(Uuid::from_u128(61)), 9), today())
            .unwrap();
        assert_eq!(not_yet.len(), 1, "9 is above the target of 8");
        let met = Plan::from_history(&history)
            .decide(&phq9_total(MeasureId(Uuid::from_u128(62)), 8), today())
            .unwrap();
        assert_eq!(
            met[1],
            PlanEvent::ObjectiveMet(ObjectiveMet {
                objective_id: PHQ9_OBJECTIVE,
                met_on: today(),
                by_measure: Some(MeasureId(Uuid::from_u128(62))),
            })
        );
    }

    #[test]
    fn a_goal_is_revised_with_a_reason() {
        let revise = |reason: &str| {
            PlanCommand::ReviseGoal(ReviseGoal {
                goal_id: GOAL,
                description: "Reduce worry to manageable levels".into(),
                reason: reason.into(),
            })
        };
        given([created(), goal_added()])
            .when(revise("review decided to revise"))
            .then([PlanEvent::GoalRevised(GoalRevised {
                goal_id: GOAL,
                description: "Reduce worry to manageable levels".into(),
                reason: "review decided to revise".into(),
            })]);
        given([created(), goal_added()])
            .when(revise(""))
            .then_invalid(&["reason"]);
    }

    #[test]
    fn an_objective_not_met_is_closed() {
        let not_met = PlanCommand::MarkObjectiveNotMet(MarkObjectiveNotMet {
            objective_id: OBJECTIVE,
            reason: "target date passed".into(),
        });
        let closed = Plan::from_history(&[created(), goal_added(), objective_added()])
            .decide(&not_met, today())
            .unwrap();
        given(with(
            vec![created(), goal_added(), objective_added()],
            closed,
        ))
        .when(PlanCommand::MarkObjectiveMet(MarkObjectiveMet {
            objective_id: OBJECTIVE,
        }))
        .then_error(PlanError::ObjectiveClosed(OBJECTIVE));
    }

    #[test]
    fn referrals_are_made_and_followed() {
        let added = PlanEvent::ReferralAdded(ReferralAdded {
            referral_id: REFERRAL,
            to: "psychiatrist".into(),
            reason: "if symptoms persist".into(),
            status: ReferralStatus::Planned,
        });
        given([created()])
            .when(PlanCommand::AddReferral(AddReferral {
                referral_id: REFERRAL,
                to: " psychiatrist ".into(),
                reason: "if symptoms persist".into(),
                status: ReferralStatus::Planned,
            }))
            .then([added.clone()]);
        let change = |status| {
            PlanCommand::ChangeReferralStatus(ChangeReferralStatus {
                referral_id: REFERRAL,
                status,
            })
        };
        given([created(), added.clone()])
            .when(change(ReferralStatus::Made))
            .then([PlanEvent::ReferralStatusChanged(ReferralStatusChanged {
                referral_id: REFERRAL,
                status: ReferralStatus::Made,
                changed_on: today(),
            })]);
        given([created(), added])
            .when(change(ReferralStatus::Planned))
            .then_invalid(&["status"]);
        given([created()])
            .when(change(ReferralStatus::Made))
            .then_error(PlanError::UnknownReferral(REFERRAL));
    }

    #[test]
    fn a_service_plan_names_every_problem_at_once() {
        given([created()])
            .when(PlanCommand::RecordServicePlan(RecordServicePlan {
                session_type: String::new(),
                minutes: 0,
                frequency: " ".into(),
                sessions_min: 16,
                sessions_max: 12,
                focus: String::new(),
                maintenance: String::new(),
                monitoring: vec![],
            }))
            .then_invalid(&["session_type", "frequency", "minutes", "sessions_max"]);
    }

    #[test]
    fn a_measure_schedule_is_at_most_yearly() {
        given([created()])
            .when(PlanCommand::ScheduleMeasure(ScheduleMeasure {
                instrument: Instrument::Pswq,
                interval_days: 400,
            }))
            .then_invalid(&["interval_days"]);
    }

    #[test]
    fn supports_say_how_they_are_involved() {
        given([created()])
            .when(PlanCommand::RecordClinicalContext(RecordClinicalContext {
                strengths: vec!["insight".into()],
                barriers: vec![" ".into()],
                supports: vec![Support {
                    kind: SupportKind::Family,
                    involvement: String::new(),
                }],
            }))
            .then_invalid(&["barriers", "supports.involvement"]);
    }

    #[test]
    fn a_care_team_names_each_clinician_once_besides_the_primary() {
        let assign = |primary: &str, members: &[&str]| {
            PlanCommand::AssignCareTeam(crate::command::AssignCareTeam {
                primary_clinician_id: primary.into(),
                members: members.iter().map(|m| (*m).to_owned()).collect(),
            })
        };
        given([created()])
            .when(assign("clin-4", &["clin-3", " clin-4", "clin-3"]))
            .then([PlanEvent::CareTeamAssigned(
                crate::event::CareTeamAssigned {
                    primary_clinician_id: "clin-4".into(),
                    members: vec!["clin-3".into()],
                },
            )]);
        given([created()])
            .when(assign(" ", &[""]))
            .then_invalid(&["primary_clinician_id", "members"]);
        let team = Plan::from_history(&[
            created(),
            PlanEvent::CareTeamAssigned(crate::event::CareTeamAssigned {
                primary_clinician_id: "clin-4".into(),
                members: vec!["clin-3".into()],
            }),
        ]);
        let care = team.care().unwrap();
        assert!(care.treats("clin-4") && care.treats("clin-3") && !care.treats("clin-5"));
    }

    #[test]
    fn a_wrong_diagnosis_entered_in_error_no_longer_counts() {
        let wrong = PlanCommand::EnterInError(crate::command::EnterInError {
            target: CorrectionTarget::Diagnosis("F41.1".into()),
            reason: "coded for the wrong client".into(),
        });
        let corrected = Plan::from_history(&complete_draft())
            .decide(&wrong, today())
            .unwrap();
        let history = with(complete_draft(), corrected);
        given(history.clone())
            .when(activate())
            .then_error(PlanError::NotReadyToActivate(vec!["a diagnosis"]));
        given(history)
            .when(wrong)
            .then_error(PlanError::AlreadyEnteredInError);
        given([created()])
            .when(PlanCommand::EnterInError(crate::command::EnterInError {
                target: CorrectionTarget::Referral(REFERRAL),
                reason: "never made".into(),
            }))
            .then_error(PlanError::UnknownCorrectionTarget);
    }

    #[test]
    fn a_corrected_diagnosis_can_be_added_again_as_primary() {
        let wrong = PlanEvent::EnteredInError(crate::event::EnteredInError {
            target: CorrectionTarget::Diagnosis("F41.1".into()),
            reason: "wrong client".into(),
        });
        let add = |code: &str| {
            PlanCommand::AddDiagnosis(crate::command::AddDiagnosis {
                code: code.into(),
                primary: false,
            })
        };
        let outcome = Plan::from_history(&[created(), diagnosed(), wrong.clone()])
            .decide(&add("F41.1"), today())
            .unwrap();
        let PlanEvent::DiagnosisAdded(again) = &outcome[0] else {
            panic!("expected DiagnosisAdded");
        };
        assert!(again.primary, "the only standing diagnosis is primary");
        let mut history = vec![created(), diagnosed(), wrong];
        history.extend(outcome);
        given(history)
            .when(add("F41.1"))
            .then_error(PlanError::DiagnosisAlreadyRecorded("F41.1".into()));
    }

    #[test]
    fn entries_entered_in_error_do_not_count_or_take_commands() {
        let wrong_goal = PlanEvent::EnteredInError(crate::event::EnteredInError {
            target: CorrectionTarget::Goal(GOAL),
            reason: "other client's".into(),
        });
        let missing =
            Plan::from_history(&with(complete_draft(), [wrong_goal])).missing_for_activation();
        assert_eq!(missing, vec!["a goal"]);
        let wrong_review = PlanEvent::EnteredInError(crate::event::EnteredInError {
            target: CorrectionTarget::Review(REVIEW),
            reason: "duplicate".into(),
        });
        given([created(), review_scheduled(), wrong_review.clone()])
            .when(PlanCommand::HoldReview(hold_review()))
            .then_error(PlanError::EnteredInError);
        // A corrected review is not the open one: activation schedules anew.
        let events =
            Plan::from_history(&with(complete_draft(), [review_scheduled(), wrong_review]))
                .decide(
                    &PlanCommand::ActivatePlan(ActivatePlan {
                        first_review: NextReview {
                            review_id: NEXT_REVIEW,
                            interval_days: 30,
                        },
                    }),
                    today(),
                )
                .unwrap();
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn a_review_interval_outside_the_rules_is_refused() {
        given(complete_draft())
            .when(PlanCommand::ActivatePlan(ActivatePlan {
                first_review: NextReview {
                    review_id: REVIEW,
                    interval_days: 0,
                },
            }))
            .then_invalid(&["interval_days"]);
        let mut held = hold_review();
        held.next_review = Some(NextReview {
            review_id: NEXT_REVIEW,
            interval_days: 100_000,
        });
        given([created(), review_scheduled()])
            .when(PlanCommand::HoldReview(held))
            .then_invalid(&["interval_days"]);
    }

    #[test]
    fn another_open_review_means_no_second_one_is_scheduled() {
        let other = PlanEvent::ReviewScheduled(ReviewScheduled {
            review_id: ReviewId(Uuid::from_u128(41)),
            due_on: day("2027-02-01"),
            origin: ReviewOrigin::Rule,
        });
        let mut held = hold_review();
        held.next_review = Some(NextReview {
            review_id: NEXT_REVIEW,
            interval_days: 90,
        });
        let events = Plan::from_history(&[created(), review_scheduled(), other])
            .decide(&PlanCommand::HoldReview(held), today())
            .unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
    }

    #[test]
    fn holding_any_review_keeps_the_rules_cadence_beside_reviews_by_hand() {
        let by_rule = |id: u128| {
            PlanEvent::ReviewScheduled(ReviewScheduled {
                review_id: ReviewId(Uuid::from_u128(id)),
                due_on: day("2027-02-01"),
                origin: ReviewOrigin::Rule,
            })
        };
        let next = |held_id: ReviewId| {
            let mut held = hold_review();
            held.review_id = held_id;
            held.next_review = Some(NextReview {
                review_id: NEXT_REVIEW,
                interval_days: 90,
            });
            PlanCommand::HoldReview(held)
        };
        let scheduled = PlanEvent::ReviewScheduled(ReviewScheduled {
            review_id: NEXT_REVIEW,
            due_on: day("2027-02-27"),
            origin: ReviewOrigin::Rule,
        });
        // The rule's review is held while one by hand is open: the rule's
        // next review is scheduled all the same.
        let events = Plan::from_history(&[created(), review_scheduled(), by_rule(41)])
            .decide(&next(ReviewId(Uuid::from_u128(41))), today())
            .unwrap();
        assert_eq!(events.get(1), Some(&scheduled), "{events:?}");
        // A review by hand is held while the rule's is open: nothing more.
        let events = Plan::from_history(&[created(), review_scheduled(), by_rule(41)])
            .decide(&next(REVIEW), today())
            .unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        // A review by hand is held and no review by the rule is open (it
        // stood in for the first one at activation): the cadence starts.
        let events = Plan::from_history(&[created(), review_scheduled()])
            .decide(&next(REVIEW), today())
            .unwrap();
        assert_eq!(events.get(1), Some(&scheduled), "{events:?}");
    }

    #[test]
    fn intervention_and_referral_ids_are_used_once() {
        let again = Plan::from_history(&complete_draft()).decide(
            &PlanCommand::AddIntervention(crate::command::AddIntervention {
                intervention_id: InterventionId(Uuid::from_u128(11)),
                modality: crate::event::Modality::Act,
                technique: "Values work".into(),
                frequency: String::new(),
                goal_ids: vec![],
                comorbidity: String::new(),
            }),
            today(),
        );
        assert_eq!(
            again,
            Err(PlanError::InterventionAlreadyExists(InterventionId(
                Uuid::from_u128(11)
            )))
        );
        let referral = PlanEvent::ReferralAdded(ReferralAdded {
            referral_id: REFERRAL,
            to: "physician".into(),
            reason: "check-up".into(),
            status: ReferralStatus::Made,
        });
        given([created(), referral])
            .when(PlanCommand::AddReferral(AddReferral {
                referral_id: REFERRAL,
                to: "physician".into(),
                reason: "check-up".into(),
                status: ReferralStatus::Made,
            }))
            .then_error(PlanError::ReferralAlreadyExists(REFERRAL));
    }

    #[test]
    fn consent_is_not_given_in_the_future() {
        given([created()])
            .when(PlanCommand::RecordConsent(RecordConsent {
                kind: ConsentKind::Treatment,
                given_on: day("2026-12-30"),
                note: String::new(),
            }))
            .then_invalid(&["given_on"]);
    }
}

/// Plans made from templates and their objective placeholders.
mod from_template {
    use super::*;
    use crate::child_id;
    use crate::command::{CompleteObjective, CreatePlanFromTemplate};
    use crate::template::{TemplateLibrary, TemplateRef};

    fn from_gad() -> PlanCommand {
        let library = TemplateLibrary::default();
        PlanCommand::CreatePlanFromTemplate(Box::new(CreatePlanFromTemplate {
            create: CreatePlan {
                plan_id: PLAN,
                client_id: "client-17".into(),
                primary_clinician_id: "clin-3".into(),
                clinic_id: "eastside".into(),
                title: "GAD plan".into(),
                payer: String::new(),
            },
            template_id: "builtin-gad".into(),
            resolved: Some(library.get("builtin-gad").unwrap()),
        }))
    }

    fn made_from_gad() -> Vec<PlanEvent> {
        Plan::default().decide(&from_gad(), today()).unwrap()
    }

    fn objective_n(n: usize) -> ObjectiveId {
        ObjectiveId(child_id(PLAN, "objective", n))
    }

    fn complete(n: usize, quantity: Option<QuantityTarget>) -> PlanCommand {
        PlanCommand::CompleteObjective(CompleteObjective {
            objective_id: objective_n(n),
            description: String::new(),
            quantity,
            target_date: Some(day("2027-03-01")),
        })
    }

    #[test]
    fn a_plan_from_a_template_copies_its_content_as_its_own_events() {
        let events = made_from_gad();
        let PlanEvent::PlanCreated(created) = &events[0] else {
            panic!("first comes the plan");
        };
        assert_eq!(
            created.template,
            Some(TemplateRef {
                template_id: "builtin-gad".into(),
                version: 1
            })
        );
        let count = |kind: &str| events.iter().filter(|e| e.event_type() == kind).count();
        assert_eq!(count("GoalAdded"), 6);
        assert_eq!(count("ObjectiveDrafted"), 4);
        assert_eq!(count("InterventionAdded"), 9);
        assert_eq!(count("MeasureScheduled"), 2);
        assert_eq!(count("ServicePlanRecorded"), 1);
        // A retry decides the very same ids.
        assert_eq!(events, made_from_gad());
    }

    #[test]
    fn a_template_that_is_not_found_creates_nothing() {
        let PlanCommand::CreatePlanFromTemplate(mut c) = from_gad() else {
            unreachable!()
        };
        c.resolved = None;
        given([])
            .when(PlanCommand::CreatePlanFromTemplate(c))
            .then_error(PlanError::UnknownTemplate);
    }

    #[test]
    fn placeholders_block_activation_until_completed() {
        let missing = Plan::from_history(&made_from_gad()).missing_for_activation();
        assert!(missing.contains(&"the template's objectives completed"));
    }

    #[test]
    fn completing_a_placeholder_keeps_its_unit_and_checks_smart() {
        let history = made_from_gad();
        // Objective 1: relaxation practices per day, 0 -> 1.
        let done = Plan::from_history(&history)
            .decide(
                &complete(
                    1,
                    Some(QuantityTarget {
                        baseline: Some(0.0),
                        target: Some(1.0),
                        unit: String::new(),
                        period: String::new(),
                    }),
                ),
                today(),
            )
            .unwrap();
        let PlanEvent::ObjectiveAdded(added) = &done[0] else {
            panic!("expected ObjectiveAdded");
        };
        assert_eq!(added.objective_id, objective_n(1));
        assert_eq!(
            (added.unit.as_str(), added.period.as_str()),
            ("relaxation practices", "day")
        );
        given(history.clone())
            .when(complete(1, None))
            .then_not_smart('M', "quantity");
        // Objective 0 is measured by the PSWQ: no baseline score yet.
        given(history.clone())
            .when(complete(0, None))
            .then_not_smart('M', "measure");
        given(history.clone())
            .when(complete(
                0,
                Some(QuantityTarget {
                    baseline: Some(1.0),
                    ..QuantityTarget::default()
                }),
            ))
            .then_invalid(&["quantity"]);
        let mut completed = history;
        completed.extend(done);
        given(completed)
            .when(complete(1, None))
            .then_error(PlanError::ObjectiveAlreadyComplete(objective_n(1)));
    }

    #[test]
    fn a_placeholder_takes_no_progress() {
        given(made_from_gad())
            .when(PlanCommand::RecordObjectiveProgress(
                crate::command::RecordObjectiveProgress {
                    objective_id: objective_n(1),
                    value: 1.0,
                    observed_on: today(),
                    source: ProgressSource::ClientSelfReport,
                    note: String::new(),
                },
            ))
            .then_error(PlanError::ObjectiveIncomplete(objective_n(1)));
    }
}

mod erasure {
    use super::*;

    fn closed(on: &str) -> PlanEvent {
        PlanEvent::PlanClosed(PlanClosed {
            closure: PlanClosure::Completed,
            closed_on: day(on),
            reason: "goals met".into(),
        })
    }

    fn erase(override_reason: Option<&str>) -> PlanCommand {
        PlanCommand::EraseClientContent(EraseClientContent {
            retention_years: 6,
            override_reason: override_reason.map(str::to_owned),
        })
    }

    fn erased(basis: ErasureBasis, status: PlanStatus, items: (u32, u32)) -> PlanEvent {
        PlanEvent::ClientErased(ClientErased {
            plan_id: PLAN,
            erased_on: today(),
            basis,
            clinic_id: "eastside".into(),
            primary_clinician_id: "clin-3".into(),
            care_team: Vec::new(),
            status,
            shape: PlanShape {
                goals: items.0,
                objectives: items.1,
                ..PlanShape::default()
            },
            retention_years: (basis == ErasureBasis::RetentionElapsed).then_some(6),
        })
    }

    #[test]
    fn a_plan_closed_longer_than_the_retention_period_is_erased_keeping_its_shape() {
        given([
            created(),
            goal_added(),
            objective_added(),
            closed("2020-11-29"),
        ])
        .when(erase(None))
        .then([erased(
            ErasureBasis::RetentionElapsed,
            PlanStatus::Closed(PlanClosure::Completed),
            (1, 1),
        )]);
    }

    #[test]
    fn within_the_retention_period_the_day_it_ends_is_named() {
        given([created(), closed("2021-03-01")])
            .when(erase(None))
            .then_error(PlanError::RetentionNotElapsed(day("2027-03-01")));
        // Closed on 29 February: six years on is the 28th.
        given([created(), closed("2024-02-29")])
            .when(erase(None))
            .then_error(PlanError::RetentionNotElapsed(day("2030-02-28")));
    }

    #[test]
    fn an_open_plan_needs_an_override_with_a_reason() {
        given([created(), goal_added()])
            .when(erase(None))
            .then_error(PlanError::NotClosedForErasure(PlanStatus::Draft));
        given([created(), goal_added()])
            .when(erase(Some("  ")))
            .then_invalid(&["override_reason"]);
        given([created(), goal_added()])
            .when(erase(Some("court order 2026-114")))
            .then([erased(ErasureBasis::Override, PlanStatus::Draft, (1, 0))]);
    }

    #[test]
    fn an_override_reason_is_one_line_of_bounded_length_even_with_no_plan() {
        given([created(), goal_added()])
            .when(erase(Some("court order\n2026-114")))
            .then_invalid(&["override_reason"]);
        given([created(), goal_added()])
            .when(erase(Some(&"x".repeat(4001))))
            .then_invalid(&["override_reason"]);
        // Judged without a plan too: a client with none gets the same answer.
        let content = EraseClientContent {
            retention_years: 6,
            override_reason: Some("court order\r2026-114".into()),
        };
        assert!(matches!(content.check(), Err(PlanError::Invalid(_))));
        let content = EraseClientContent {
            retention_years: 6,
            override_reason: None,
        };
        assert!(content.check().is_ok());
    }

    #[test]
    fn an_erased_plan_takes_nothing_more_even_folded_from_the_erasure_alone() {
        let erasure = erased(ErasureBasis::Override, PlanStatus::Draft, (1, 0));
        given([created(), goal_added(), erasure.clone()])
            .when(PlanCommand::AddGoal(AddGoal {
                goal_id: GoalId(Uuid::from_u128(7)),
                description: "x".into(),
                term: GoalTerm::LongTerm,
            }))
            .then_error(PlanError::Erased);
        given([created(), erasure.clone()])
            .when(erase(Some("again")))
            .then_error(PlanError::Erased);
        // After the erasure, the events before it no longer decode: the
        // plan is known from the erasure alone, with whom it concerned.
        let plan = Plan::from_history([&erasure]);
        assert_eq!(plan.id(), Some(PLAN));
        assert_eq!(plan.care().unwrap().clinic_id, "eastside");
        assert_eq!(plan.care().unwrap().client_id, "");
        assert_eq!(
            plan.decide(&erase(Some("again")), today()),
            Err(PlanError::Erased)
        );
    }
}
