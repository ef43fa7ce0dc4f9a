use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::command::PlanCommand;
use crate::error::PlanError;
use crate::event::{ConsentKind, MeasureTarget, ReferralStatus, SignerRole};
use crate::event::{CorrectionTarget, PlanEvent, ReviewOrigin};
use crate::measure::Instrument;
use crate::status::PlanStatus;
use crate::{
    GoalId, InterventionId, MeasureId, ObjectiveId, PlanId, ReferralId, ReviewId, SafetyFlagId,
};

mod clinical;
mod corrections;
mod erasure;
mod goals;
mod lifecycle;
mod measures;
mod reviews;
mod state;
mod templates;

pub use lifecycle::MAX_REVIEW_INTERVAL_DAYS;
pub use measures::target_score;
pub use state::{PLAN_STATE_VERSION, StateUnreadable};

const MAX_PARTICIPANTS: usize = 20;

/// The people a plan belongs to, by their opaque ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareAssignment {
    pub client_id: String,
    pub primary_clinician_id: String,
    pub clinic_id: String,
    /// The care team besides the primary clinician.
    pub care_team: Vec<String>,
}

impl CareAssignment {
    /// Whether `clinician` is on the plan's care team (primary included).
    pub fn treats(&self, clinician: &str) -> bool {
        self.primary_clinician_id == clinician || self.care_team.iter().any(|m| m == clinician)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoalState {
    open: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectiveState {
    /// `Some(true)` met, `Some(false)` closed as not met.
    outcome: Option<bool>,
    measure: Option<MeasureTarget>,
    baseline: f64,
    /// What the objective must reach: as added, or as last revised.
    target: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewState {
    held: bool,
    origin: ReviewOrigin,
}

/// What the plan must remember to decide the next command: identities and
/// statuses, not the clinical text (that lives in the events and read models).
///
/// Serializable so a service can keep it as a snapshot (a cache, never the
/// record): see [`PLAN_STATE_VERSION`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    id: Option<PlanId>,
    status: PlanStatus,
    care: Option<CareAssignment>,
    goals: BTreeMap<GoalId, GoalState>,
    objectives: BTreeMap<ObjectiveId, ObjectiveState>,
    reviews: BTreeMap<ReviewId, ReviewState>,
    interventions: BTreeSet<InterventionId>,
    diagnoses: BTreeSet<String>,
    /// Entries already marked entered in error.
    corrected: BTreeSet<CorrectionTarget>,
    /// Safety flags and whether each was acknowledged.
    safety_flags: BTreeMap<SafetyFlagId, bool>,
    payer: String,
    /// The content version signatures bind to; starts at 1.
    version: u32,
    /// Who signed the current version, in which role.
    signatures: BTreeMap<SignerRole, String>,
    consents: BTreeSet<ConsentKind>,
    referrals: BTreeMap<ReferralId, ReferralStatus>,
    /// Scores in the order recorded (which measures exist); the first
    /// uncorrected one of an instrument is its baseline.
    scores: Vec<(MeasureId, Instrument, u32)>,
    has_presenting_problem: bool,
    /// Template objectives still waiting for the client's numbers.
    drafts: BTreeMap<ObjectiveId, crate::event::ObjectiveDrafted>,
    /// When the plan was closed: its retention period runs from then.
    closed_on: Option<NaiveDate>,
    /// Its client was erased: nothing more is decided on it.
    erased: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            id: None,
            status: PlanStatus::New,
            care: None,
            goals: BTreeMap::new(),
            objectives: BTreeMap::new(),
            reviews: BTreeMap::new(),
            interventions: BTreeSet::new(),
            diagnoses: BTreeSet::new(),
            corrected: BTreeSet::new(),
            safety_flags: BTreeMap::new(),
            payer: String::new(),
            version: 1,
            signatures: BTreeMap::new(),
            consents: BTreeSet::new(),
            referrals: BTreeMap::new(),
            scores: Vec::new(),
            has_presenting_problem: false,
            drafts: BTreeMap::new(),
            closed_on: None,
            erased: false,
        }
    }
}

impl Plan {
    /// Folds a history into the plan it describes.
    pub fn from_history<'a>(events: impl IntoIterator<Item = &'a PlanEvent>) -> Self {
        let mut plan = Self::default();
        for event in events {
            plan.evolve(event);
        }
        plan
    }

    pub fn id(&self) -> Option<PlanId> {
        self.id
    }

    pub fn status(&self) -> PlanStatus {
        self.status
    }

    /// Whose plan this is and who treats: what access decisions need.
    pub fn care(&self) -> Option<&CareAssignment> {
        self.care.as_ref()
    }

    /// The payer whose review rules apply; empty for the tenant default.
    pub fn payer(&self) -> &str {
        &self.payer
    }

    /// The content version signatures bind to.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Whether an entry still stands (was not entered in error).
    fn stands(&self, target: &CorrectionTarget) -> bool {
        !self.corrected.contains(target)
    }

    fn has_measure(&self, id: MeasureId) -> bool {
        self.scores.iter().any(|(m, _, _)| *m == id)
    }

    /// The first uncorrected score of `instrument`: its baseline.
    fn baseline(&self, instrument: Instrument) -> Option<u32> {
        self.scores
            .iter()
            .find(|(id, i, _)| {
                *i == instrument && !self.corrected.contains(&CorrectionTarget::Measure(*id))
            })
            .map(|(_, _, total)| *total)
    }

    /// Applies one event. Never fails: stored events are facts.
    pub fn evolve(&mut self, event: &PlanEvent) {
        match event {
            PlanEvent::PlanCreated(e) => {
                self.id = Some(e.plan_id);
                self.status = PlanStatus::Draft;
                self.payer.clone_from(&e.payer);
                self.care = Some(CareAssignment {
                    client_id: e.client_id.clone(),
                    primary_clinician_id: e.primary_clinician_id.clone(),
                    clinic_id: e.clinic_id.clone(),
                    care_team: Vec::new(),
                });
            }
            PlanEvent::GoalAdded(e) => {
                self.goals.insert(e.goal_id, GoalState { open: true });
            }
            PlanEvent::GoalClosed(e) => {
                self.goals.insert(e.goal_id, GoalState { open: false });
            }
            PlanEvent::ObjectiveDrafted(e) => {
                self.drafts.insert(e.objective_id, e.clone());
            }
            PlanEvent::ObjectiveAdded(e) => {
                self.drafts.remove(&e.objective_id);
                self.objectives.insert(
                    e.objective_id,
                    ObjectiveState {
                        outcome: None,
                        measure: e.measure,
                        baseline: e.baseline,
                        target: e.target,
                    },
                );
            }
            PlanEvent::ObjectiveProgressRecorded(_) => {}
            PlanEvent::ObjectiveRevised(e) => {
                if let (Some(o), Some(target)) =
                    (self.objectives.get_mut(&e.objective_id), e.target)
                {
                    o.target = target;
                }
            }
            PlanEvent::ObjectiveMet(e) => {
                if let Some(o) = self.objectives.get_mut(&e.objective_id) {
                    o.outcome = Some(true);
                }
            }
            PlanEvent::ObjectiveNotMet(e) => {
                if let Some(o) = self.objectives.get_mut(&e.objective_id) {
                    o.outcome = Some(false);
                }
            }
            PlanEvent::ReviewScheduled(e) => {
                self.reviews.insert(
                    e.review_id,
                    ReviewState {
                        held: false,
                        origin: e.origin,
                    },
                );
            }
            PlanEvent::ReviewHeld(e) => {
                self.reviews
                    .entry(e.review_id)
                    .or_insert(ReviewState {
                        held: false,
                        origin: ReviewOrigin::Unrecorded,
                    })
                    .held = true;
            }
            PlanEvent::MeasureRecorded(e) => {
                self.scores.push((e.measure_id, e.instrument, e.total));
            }
            PlanEvent::SafetyFlagRaised(e) => {
                self.safety_flags.insert(e.flag_id, false);
            }
            PlanEvent::SafetyFlagAcknowledged(e) => {
                self.safety_flags.insert(e.flag_id, true);
            }
            PlanEvent::InterventionAdded(e) => {
                self.interventions.insert(e.intervention_id);
            }
            PlanEvent::DiagnosisAdded(e) => {
                // Added again after a correction: it stands again.
                self.corrected
                    .remove(&CorrectionTarget::Diagnosis(e.code.clone()));
                self.diagnoses.insert(e.code.clone());
            }
            PlanEvent::EnteredInError(e) => {
                self.corrected.insert(e.target.clone());
            }
            PlanEvent::PresentingProblemRecorded(_) => self.has_presenting_problem = true,
            PlanEvent::ReferralAdded(e) => {
                self.referrals.insert(e.referral_id, e.status);
            }
            PlanEvent::ReferralStatusChanged(e) => {
                self.referrals.insert(e.referral_id, e.status);
            }
            PlanEvent::PlanActivated(_) | PlanEvent::PlanResumed(_) => {
                self.status = PlanStatus::Active;
            }
            PlanEvent::PlanPutOnHold(_) => self.status = PlanStatus::OnHold,
            PlanEvent::PlanClosed(e) => {
                self.status = PlanStatus::Closed(e.closure);
                self.closed_on = Some(e.closed_on);
            }
            PlanEvent::ClientErased(e) => {
                // After an erasure the events before it read as erased:
                // this one alone says whose plan it was.
                self.erased = true;
                self.id.get_or_insert(e.plan_id);
                if self.care.is_none() {
                    self.care = Some(CareAssignment {
                        client_id: String::new(),
                        primary_clinician_id: e.primary_clinician_id.clone(),
                        clinic_id: e.clinic_id.clone(),
                        care_team: e.care_team.clone(),
                    });
                }
            }
            PlanEvent::ConsentRecorded(e) => {
                self.consents.insert(e.kind);
            }
            PlanEvent::PlanSigned(e) => {
                if e.version == self.version {
                    self.signatures.insert(e.role, e.signer_id.clone());
                }
            }
            PlanEvent::CareTeamAssigned(e) => {
                if let Some(care) = &mut self.care {
                    care.primary_clinician_id
                        .clone_from(&e.primary_clinician_id);
                    care.care_team.clone_from(&e.members);
                }
            }
            PlanEvent::PlanVersionStarted(e) => {
                self.version = e.version;
                self.signatures.clear();
            }
            PlanEvent::SafetyPlanRecorded(_)
            | PlanEvent::GoalRevised(_)
            | PlanEvent::ClinicalContextRecorded(_)
            | PlanEvent::ServicePlanRecorded(_)
            | PlanEvent::MeasureScheduled(_) => {}
        }
    }

    /// Decides what a command means for this plan, given today's date.
    pub fn decide(
        &self,
        command: &PlanCommand,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        match command {
            PlanCommand::CreatePlan(c) => return self.create(c, today),
            PlanCommand::CreatePlanFromTemplate(c) => return self.create_from_template(c, today),
            _ => {}
        }
        if self.erased {
            return Err(PlanError::Erased);
        }
        if self.status == PlanStatus::New {
            return Err(PlanError::PlanNotFound);
        }
        if let PlanCommand::EraseClientContent(c) = command {
            return self.erase_client(c, today);
        }
        // A closed plan is a record: only corrections of it are accepted.
        if matches!(self.status, PlanStatus::Closed(_))
            && !matches!(command, PlanCommand::EnterInError(_))
        {
            return Err(PlanError::WrongStatus {
                status: self.status,
                action: command.name(),
            });
        }
        let mut events = self.decide_open(command, today)?;
        // A material change to signed content is a new version; the
        // signatures of the old one stay with it.
        // A correction of a closed record is not a new version of it.
        if !self.signatures.is_empty()
            && !matches!(self.status, PlanStatus::Closed(_))
            && events.iter().any(PlanEvent::is_material)
        {
            events.insert(
                0,
                PlanEvent::PlanVersionStarted(crate::event::PlanVersionStarted {
                    version: self.version + 1,
                    changed_by: command.name().to_owned(),
                }),
            );
        }
        Ok(events)
    }

    fn decide_open(
        &self,
        command: &PlanCommand,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        match command {
            PlanCommand::CreatePlan(_)
            | PlanCommand::CreatePlanFromTemplate(_)
            | PlanCommand::EraseClientContent(_) => {
                unreachable!("handled above")
            }
            PlanCommand::CompleteObjective(c) => self.complete_objective(c, today),
            PlanCommand::AddGoal(c) => self.add_goal(c),
            PlanCommand::CloseGoal(c) => self.close_goal(c, today),
            PlanCommand::AddObjective(c) => self.add_objective(c, today),
            PlanCommand::RecordObjectiveProgress(c) => self.record_progress(c, today),
            PlanCommand::MarkObjectiveMet(c) => self.mark_met(c, today),
            PlanCommand::ScheduleReview(c) => self.schedule_review(c, today),
            PlanCommand::HoldReview(c) => self.hold_review(c, today),
            PlanCommand::RecordMeasure(c) => self.record_measure(c, today),
            PlanCommand::RecordMeasures(c) => self.record_measures(c, today),
            PlanCommand::AcknowledgeSafetyFlag(c) => self.acknowledge_flag(c, today),
            PlanCommand::RecordPresentingProblem(c) => Self::presenting_problem(c),
            PlanCommand::AddIntervention(c) => self.add_intervention(c),
            PlanCommand::AddDiagnosis(c) => self.add_diagnosis(c),
            PlanCommand::EnterInError(c) => self.enter_in_error(c),
            PlanCommand::RecordSafetyPlan(c) => Self::safety_plan(c),
            PlanCommand::ReviseGoal(c) => self.revise_goal(c),
            PlanCommand::ReviseObjective(c) => self.revise_objective(c, today),
            PlanCommand::MarkObjectiveNotMet(c) => self.mark_not_met(c, today),
            PlanCommand::RecordClinicalContext(c) => Self::clinical_context(c),
            PlanCommand::AddReferral(c) => self.add_referral(c),
            PlanCommand::ChangeReferralStatus(c) => self.change_referral(c, today),
            PlanCommand::RecordServicePlan(c) => Self::service_plan(c),
            PlanCommand::ScheduleMeasure(c) => Self::schedule_measure(c),
            PlanCommand::ActivatePlan(c) => self.activate(c, today),
            PlanCommand::PutPlanOnHold(c) => self.put_on_hold(c, today),
            PlanCommand::ResumePlan(_) => self.resume(today),
            PlanCommand::ClosePlan(c) => self.close(c, today),
            PlanCommand::RecordConsent(c) => Self::consent(c, today),
            PlanCommand::SignPlan(c) => self.sign(c, today),
            PlanCommand::AssignCareTeam(c) => Self::assign_care_team(c),
        }
    }
}

#[cfg(test)]
mod tests;
