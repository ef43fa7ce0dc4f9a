//! Plan documents and the pure fold that builds them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_kernel::RecordedEvent;
use trellis_plans_domain::{
    ConsentKind, CorrectionTarget, CrisisContact, EventDecodeError, GoalOutcome, GoalTerm,
    Instrument, MeasureTarget, Modality, PlanClosure, PlanEvent, ProgressSource, ReferralStatus,
    ReviewDecision, ReviewOrigin, SeverityBand, SignerRole, Support, Symptom,
};

/// Who entered an item on the plan, in which role, and when: read from
/// its event's envelope, so clinicians see it without the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnteredView {
    pub by: String,
    pub role: String,
    pub at: DateTime<Utc>,
}

impl EnteredView {
    fn of(recorded: &RecordedEvent) -> Option<Self> {
        Some(Self {
            by: recorded.metadata.actor.subject.clone(),
            role: recorded.metadata.actor.role.clone(),
            at: recorded.recorded_at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressView {
    pub value: f64,
    pub observed_on: NaiveDate,
    pub source: ProgressSource,
    pub note: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ObjectiveView {
    pub objective_id: String,
    pub description: String,
    pub baseline: f64,
    pub target: f64,
    pub unit: String,
    pub period: String,
    pub target_date: NaiveDate,
    pub met_on: Option<NaiveDate>,
    /// The questionnaire score that met it, for a measure-based objective.
    #[serde(default)]
    pub met_by_measure: Option<String>,
    #[serde(default)]
    pub not_met: Option<ClosedNotMetView>,
    #[serde(default)]
    pub measure: Option<MeasureTarget>,
    /// A template's objective still waiting for the client's numbers:
    /// baseline, target and date mean nothing yet.
    #[serde(default)]
    pub placeholder: bool,
    pub progress: Vec<ProgressView>,
    /// Why this entry was marked entered in error, if it was.
    #[serde(default)]
    pub entered_in_error: Option<String>,
    /// Who added it; `None` only in documents built before this was kept.
    #[serde(default)]
    pub added: Option<EnteredView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedNotMetView {
    pub closed_on: NaiveDate,
    pub reason: String,
}

/// A goal's earlier wording and why it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalRevisionView {
    pub previous: String,
    pub reason: String,
    pub revised_by: String,
    pub revised_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalView {
    pub goal_id: String,
    pub description: String,
    pub term: GoalTerm,
    pub outcome: Option<GoalOutcome>,
    pub closed_on: Option<NaiveDate>,
    pub objectives: Vec<ObjectiveView>,
    #[serde(default)]
    pub entered_in_error: Option<String>,
    #[serde(default)]
    pub revisions: Vec<GoalRevisionView>,
    #[serde(default)]
    pub added: Option<EnteredView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewView {
    pub review_id: String,
    pub due_on: NaiveDate,
    pub held_on: Option<NaiveDate>,
    pub participants: Vec<String>,
    pub summary: Option<String>,
    pub decision: Option<ReviewDecision>,
    #[serde(default)]
    pub entered_in_error: Option<String>,
    /// Scheduled by the tenant's rule or by hand.
    #[serde(default = "unrecorded_origin")]
    pub origin: ReviewOrigin,
}

fn unrecorded_origin() -> ReviewOrigin {
    ReviewOrigin::Unrecorded
}

/// One administration of a standardized measure, scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureView {
    pub measure_id: String,
    pub instrument: Instrument,
    pub answers: Vec<u8>,
    pub total: u32,
    pub band: SeverityBand,
    pub administered_on: NaiveDate,
    pub source: ProgressSource,
    pub recorded_by: String,
    #[serde(default)]
    pub entered_in_error: Option<String>,
}

/// A safety concern for the care team, open until acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetyFlagView {
    pub flag_id: String,
    pub measure_id: String,
    pub raised_on: NaiveDate,
    pub acknowledged_on: Option<NaiveDate>,
    pub acknowledged_by: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisView {
    pub code: String,
    pub description: String,
    pub primary: bool,
    #[serde(default)]
    pub entered_in_error: Option<String>,
    #[serde(default)]
    pub added: Option<EnteredView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresentingProblemView {
    pub narrative: String,
    pub symptoms: Vec<Symptom>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterventionView {
    pub intervention_id: String,
    pub modality: Modality,
    pub technique: String,
    pub frequency: String,
    pub goal_ids: Vec<String>,
    #[serde(default)]
    pub entered_in_error: Option<String>,
    #[serde(default)]
    pub comorbidity: String,
    #[serde(default)]
    pub added: Option<EnteredView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetyPlanView {
    pub warning_signs: Vec<String>,
    pub coping_steps: Vec<String>,
    pub contacts: Vec<CrisisContact>,
    pub crisis_lines: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClinicalContextView {
    pub strengths: Vec<String>,
    pub barriers: Vec<String>,
    pub supports: Vec<Support>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferralView {
    pub referral_id: String,
    pub to: String,
    pub reason: String,
    pub status: ReferralStatus,
    pub status_changed_on: Option<NaiveDate>,
    #[serde(default)]
    pub entered_in_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServicePlanView {
    pub session_type: String,
    pub minutes: u32,
    pub frequency: String,
    pub sessions_min: u32,
    pub sessions_max: u32,
    pub focus: String,
    pub maintenance: String,
    pub monitoring: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureScheduleView {
    pub instrument: Instrument,
    pub interval_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentView {
    pub kind: ConsentKind,
    pub given_on: NaiveDate,
    pub note: String,
    pub recorded_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureView {
    pub version: u32,
    pub role: SignerRole,
    pub signer_id: String,
    pub signed_on: NaiveDate,
}

/// Where a plan is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleView {
    #[default]
    Draft,
    Active,
    OnHold,
    Completed,
    Discharged,
    Transferred,
}

impl LifecycleView {
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Completed | Self::Discharged | Self::Transferred)
    }
}

/// One change of status, with the reason given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChangeView {
    pub status: LifecycleView,
    pub on: NaiveDate,
    pub reason: String,
    pub by: String,
}

/// Everything a clinician sees of one plan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlanView {
    pub tenant: String,
    pub plan_id: String,
    pub client_id: String,
    pub primary_clinician_id: String,
    pub clinic_id: String,
    pub title: String,
    pub created_on: NaiveDate,
    /// Stream revision of the last event applied: the plan version.
    pub version: u64,
    pub updated_at: DateTime<Utc>,
    pub goals: Vec<GoalView>,
    pub reviews: Vec<ReviewView>,
    #[serde(default)]
    pub measures: Vec<MeasureView>,
    #[serde(default)]
    pub safety_flags: Vec<SafetyFlagView>,
    #[serde(default)]
    pub diagnoses: Vec<DiagnosisView>,
    #[serde(default)]
    pub presenting_problem: Option<PresentingProblemView>,
    #[serde(default)]
    pub interventions: Vec<InterventionView>,
    #[serde(default)]
    pub safety_plan: Option<SafetyPlanView>,
    /// The care team besides the primary clinician.
    #[serde(default)]
    pub care_team: Vec<String>,
    #[serde(default)]
    pub payer: String,
    /// The template the plan was made from, as `id@version`.
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub status: LifecycleView,
    #[serde(default)]
    pub status_changes: Vec<StatusChangeView>,
    #[serde(default)]
    pub clinical_context: Option<ClinicalContextView>,
    #[serde(default)]
    pub referrals: Vec<ReferralView>,
    #[serde(default)]
    pub service_plan: Option<ServicePlanView>,
    #[serde(default)]
    pub measure_schedule: Vec<MeasureScheduleView>,
    #[serde(default)]
    pub consents: Vec<ConsentView>,
    /// The content version signatures bind to (not the stream revision).
    #[serde(default = "first_version")]
    pub plan_version: u32,
    /// Every signature, of every version.
    #[serde(default)]
    pub signatures: Vec<SignatureView>,
}

fn first_version() -> u32 {
    1
}

impl PlanView {
    fn change_status(
        &mut self,
        status: LifecycleView,
        on: NaiveDate,
        reason: String,
        recorded: &RecordedEvent,
    ) {
        self.status = status;
        self.status_changes.push(StatusChangeView {
            status,
            on,
            reason,
            by: recorded.metadata.actor.subject.clone(),
        });
    }

    /// Whether `clinician` is on the care team (primary included).
    pub fn treated_by(&self, clinician: &str) -> bool {
        self.primary_clinician_id == clinician || self.care_team.iter().any(|m| m == clinician)
    }

    /// Signatures of the version in force.
    pub fn current_signatures(&self) -> impl Iterator<Item = &SignatureView> {
        self.signatures
            .iter()
            .filter(move |s| s.version == self.plan_version)
    }

    fn objective_mut(&mut self, id: &str) -> Option<&mut ObjectiveView> {
        self.goals
            .iter_mut()
            .flat_map(|g| g.objectives.iter_mut())
            .find(|o| o.objective_id == id)
    }
}

/// Applies one stored plan event to the current view of its plan.
///
/// Idempotent: an event at or below the view's version was applied before
/// and changes nothing. A stream without `PlanCreated` leaves `None` (an
/// impossible history, left unprojected). On a decode error the view is
/// left as it was.
pub fn apply_event(
    view: &mut Option<PlanView>,
    recorded: &RecordedEvent,
) -> Result<(), EventDecodeError> {
    if view
        .as_ref()
        .is_some_and(|v| recorded.revision <= v.version)
    {
        return Ok(());
    }
    let event = PlanEvent::decode(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.payload,
    )?;
    match (view.as_mut(), event) {
        (None, PlanEvent::PlanCreated(e)) => {
            *view = Some(PlanView {
                tenant: recorded.tenant().to_string(),
                plan_id: e.plan_id.to_string(),
                client_id: e.client_id,
                primary_clinician_id: e.primary_clinician_id,
                clinic_id: e.clinic_id,
                title: e.title,
                created_on: e.created_on,
                version: recorded.revision,
                updated_at: recorded.recorded_at,
                goals: Vec::new(),
                reviews: Vec::new(),
                measures: Vec::new(),
                safety_flags: Vec::new(),
                diagnoses: Vec::new(),
                presenting_problem: None,
                interventions: Vec::new(),
                safety_plan: None,
                care_team: Vec::new(),
                payer: e.payer,
                template: e
                    .template
                    .map(|t| format!("{}@{}", t.template_id, t.version)),
                status: LifecycleView::Draft,
                status_changes: Vec::new(),
                clinical_context: None,
                referrals: Vec::new(),
                service_plan: None,
                measure_schedule: Vec::new(),
                consents: Vec::new(),
                plan_version: 1,
                signatures: Vec::new(),
            });
        }
        (None, _) => {}
        (Some(current), event) => {
            apply_to(current, event, recorded);
            current.version = recorded.revision;
            current.updated_at = recorded.recorded_at;
        }
    }
    Ok(())
}

fn apply_to(view: &mut PlanView, event: PlanEvent, recorded: &RecordedEvent) {
    match event {
        // A second PlanCreated cannot be decided; ignore rather than reset.
        PlanEvent::PlanCreated(_) => {}
        PlanEvent::GoalAdded(e) => view.goals.push(GoalView {
            goal_id: e.goal_id.to_string(),
            description: e.description,
            term: e.term,
            outcome: None,
            closed_on: None,
            objectives: Vec::new(),
            entered_in_error: None,
            revisions: Vec::new(),
            added: EnteredView::of(recorded),
        }),
        PlanEvent::GoalClosed(e) => {
            let id = e.goal_id.to_string();
            if let Some(goal) = view.goals.iter_mut().find(|g| g.goal_id == id) {
                goal.outcome = Some(e.outcome);
                goal.closed_on = Some(e.closed_on);
            }
        }
        PlanEvent::ObjectiveDrafted(e) => {
            let goal_id = e.goal_id.to_string();
            if let Some(goal) = view.goals.iter_mut().find(|g| g.goal_id == goal_id) {
                goal.objectives.push(ObjectiveView {
                    objective_id: e.objective_id.to_string(),
                    description: e.description,
                    unit: e.unit,
                    period: e.period,
                    measure: e.measure,
                    placeholder: true,
                    added: EnteredView::of(recorded),
                    ..ObjectiveView::default()
                });
            }
        }
        PlanEvent::ObjectiveAdded(e) => {
            // Completing a template placeholder fills it in where it stands.
            if let Some(objective) = view.objective_mut(&e.objective_id.to_string()) {
                objective.description = e.description;
                objective.baseline = e.baseline;
                objective.target = e.target;
                objective.unit = e.unit;
                objective.period = e.period;
                objective.target_date = e.target_date;
                objective.measure = e.measure;
                objective.placeholder = false;
                return;
            }
            let goal_id = e.goal_id.to_string();
            if let Some(goal) = view.goals.iter_mut().find(|g| g.goal_id == goal_id) {
                goal.objectives.push(ObjectiveView {
                    objective_id: e.objective_id.to_string(),
                    description: e.description,
                    baseline: e.baseline,
                    target: e.target,
                    unit: e.unit,
                    period: e.period,
                    target_date: e.target_date,
                    met_on: None,
                    met_by_measure: None,
                    not_met: None,
                    measure: e.measure,
                    placeholder: false,
                    progress: Vec::new(),
                    entered_in_error: None,
                    added: EnteredView::of(recorded),
                });
            }
        }
        PlanEvent::ObjectiveProgressRecorded(e) => {
            if let Some(objective) = view.objective_mut(&e.objective_id.to_string()) {
                objective.progress.push(ProgressView {
                    value: e.value,
                    observed_on: e.observed_on,
                    source: e.source,
                    note: e.note,
                    recorded_by: recorded.metadata.actor.subject.clone(),
                    recorded_at: recorded.recorded_at,
                });
            }
        }
        PlanEvent::ObjectiveMet(e) => {
            if let Some(objective) = view.objective_mut(&e.objective_id.to_string()) {
                objective.met_on = Some(e.met_on);
                objective.met_by_measure = e.by_measure.map(|m| m.to_string());
            }
        }
        PlanEvent::ReviewScheduled(e) => view.reviews.push(ReviewView {
            review_id: e.review_id.to_string(),
            due_on: e.due_on,
            held_on: None,
            participants: Vec::new(),
            summary: None,
            decision: None,
            entered_in_error: None,
            origin: e.origin,
        }),
        PlanEvent::ReviewHeld(e) => {
            let id = e.review_id.to_string();
            if let Some(review) = view.reviews.iter_mut().find(|r| r.review_id == id) {
                review.held_on = Some(e.held_on);
                review.participants = e.participants;
                review.summary = Some(e.summary);
                review.decision = Some(e.decision);
            }
        }
        PlanEvent::MeasureRecorded(e) => view.measures.push(MeasureView {
            measure_id: e.measure_id.to_string(),
            band: e.instrument.band(e.total),
            instrument: e.instrument,
            answers: e.answers,
            total: e.total,
            administered_on: e.administered_on,
            source: e.source,
            recorded_by: recorded.metadata.actor.subject.clone(),
            entered_in_error: None,
        }),
        PlanEvent::SafetyFlagRaised(e) => view.safety_flags.push(SafetyFlagView {
            flag_id: e.flag_id.to_string(),
            measure_id: e.measure_id.to_string(),
            raised_on: e.raised_on,
            acknowledged_on: None,
            acknowledged_by: None,
            note: None,
        }),
        PlanEvent::EnteredInError(e) => {
            let reason = Some(e.reason);
            match e.target {
                CorrectionTarget::Goal(id) => {
                    let id = id.to_string();
                    if let Some(goal) = view.goals.iter_mut().find(|g| g.goal_id == id) {
                        goal.entered_in_error = reason;
                    }
                }
                CorrectionTarget::Objective(id) => {
                    if let Some(objective) = view.objective_mut(&id.to_string()) {
                        objective.entered_in_error = reason;
                    }
                }
                CorrectionTarget::Intervention(id) => {
                    let id = id.to_string();
                    if let Some(i) = view
                        .interventions
                        .iter_mut()
                        .find(|i| i.intervention_id == id)
                    {
                        i.entered_in_error = reason;
                    }
                }
                CorrectionTarget::Measure(id) => {
                    let id = id.to_string();
                    if let Some(m) = view.measures.iter_mut().find(|m| m.measure_id == id) {
                        m.entered_in_error = reason;
                    }
                }
                CorrectionTarget::Referral(id) => {
                    let id = id.to_string();
                    if let Some(r) = view.referrals.iter_mut().find(|r| r.referral_id == id) {
                        r.entered_in_error = reason;
                    }
                }
                CorrectionTarget::Review(id) => {
                    let id = id.to_string();
                    if let Some(r) = view.reviews.iter_mut().find(|r| r.review_id == id) {
                        r.entered_in_error = reason;
                    }
                }
                CorrectionTarget::Diagnosis(code) => {
                    // The latest entry of the code: it may have been added again.
                    if let Some(d) = view.diagnoses.iter_mut().rev().find(|d| d.code == code) {
                        d.entered_in_error = reason;
                    }
                }
            }
        }
        PlanEvent::DiagnosisAdded(e) => {
            if e.primary {
                for d in &mut view.diagnoses {
                    d.primary = false;
                }
            }
            view.diagnoses.push(DiagnosisView {
                code: e.code,
                description: e.description,
                primary: e.primary,
                entered_in_error: None,
                added: EnteredView::of(recorded),
            });
        }
        PlanEvent::PresentingProblemRecorded(e) => {
            view.presenting_problem = Some(PresentingProblemView {
                narrative: e.narrative,
                symptoms: e.symptoms,
            });
        }
        PlanEvent::InterventionAdded(e) => view.interventions.push(InterventionView {
            intervention_id: e.intervention_id.to_string(),
            modality: e.modality,
            technique: e.technique,
            frequency: e.frequency,
            goal_ids: e.goal_ids.iter().map(ToString::to_string).collect(),
            entered_in_error: None,
            comorbidity: e.comorbidity,
            added: EnteredView::of(recorded),
        }),
        PlanEvent::SafetyPlanRecorded(e) => {
            view.safety_plan = Some(SafetyPlanView {
                warning_signs: e.warning_signs,
                coping_steps: e.coping_steps,
                contacts: e.contacts,
                crisis_lines: e.crisis_lines,
            });
        }
        PlanEvent::GoalRevised(e) => {
            let id = e.goal_id.to_string();
            if let Some(goal) = view.goals.iter_mut().find(|g| g.goal_id == id) {
                let previous = std::mem::replace(&mut goal.description, e.description);
                goal.revisions.push(GoalRevisionView {
                    previous,
                    reason: e.reason,
                    revised_by: recorded.metadata.actor.subject.clone(),
                    revised_at: recorded.recorded_at,
                });
            }
        }
        PlanEvent::ObjectiveNotMet(e) => {
            if let Some(objective) = view.objective_mut(&e.objective_id.to_string()) {
                objective.not_met = Some(ClosedNotMetView {
                    closed_on: e.closed_on,
                    reason: e.reason,
                });
            }
        }
        PlanEvent::ClinicalContextRecorded(e) => {
            view.clinical_context = Some(ClinicalContextView {
                strengths: e.strengths,
                barriers: e.barriers,
                supports: e.supports,
            });
        }
        PlanEvent::ReferralAdded(e) => view.referrals.push(ReferralView {
            referral_id: e.referral_id.to_string(),
            to: e.to,
            reason: e.reason,
            status: e.status,
            status_changed_on: None,
            entered_in_error: None,
        }),
        PlanEvent::ReferralStatusChanged(e) => {
            let id = e.referral_id.to_string();
            if let Some(r) = view.referrals.iter_mut().find(|r| r.referral_id == id) {
                r.status = e.status;
                r.status_changed_on = Some(e.changed_on);
            }
        }
        PlanEvent::ServicePlanRecorded(e) => {
            view.service_plan = Some(ServicePlanView {
                session_type: e.session_type,
                minutes: e.minutes,
                frequency: e.frequency,
                sessions_min: e.sessions_min,
                sessions_max: e.sessions_max,
                focus: e.focus,
                maintenance: e.maintenance,
                monitoring: e.monitoring,
            });
        }
        PlanEvent::MeasureScheduled(e) => {
            view.measure_schedule
                .retain(|s| s.instrument != e.instrument);
            if e.interval_days > 0 {
                view.measure_schedule.push(MeasureScheduleView {
                    instrument: e.instrument,
                    interval_days: e.interval_days,
                });
            }
        }
        PlanEvent::PlanActivated(e) => {
            view.change_status(
                LifecycleView::Active,
                e.activated_on,
                String::new(),
                recorded,
            );
        }
        PlanEvent::PlanPutOnHold(e) => {
            view.change_status(LifecycleView::OnHold, e.on, e.reason, recorded);
        }
        PlanEvent::PlanResumed(e) => {
            view.change_status(LifecycleView::Active, e.on, String::new(), recorded);
        }
        PlanEvent::PlanClosed(e) => {
            let status = match e.closure {
                PlanClosure::Completed => LifecycleView::Completed,
                PlanClosure::Discharged => LifecycleView::Discharged,
                PlanClosure::Transferred => LifecycleView::Transferred,
            };
            view.change_status(status, e.closed_on, e.reason, recorded);
        }
        PlanEvent::ConsentRecorded(e) => view.consents.push(ConsentView {
            kind: e.kind,
            given_on: e.given_on,
            note: e.note,
            recorded_by: recorded.metadata.actor.subject.clone(),
        }),
        PlanEvent::PlanSigned(e) => view.signatures.push(SignatureView {
            version: e.version,
            role: e.role,
            signer_id: e.signer_id,
            signed_on: e.signed_on,
        }),
        PlanEvent::PlanVersionStarted(e) => view.plan_version = e.version,
        PlanEvent::CareTeamAssigned(e) => {
            view.primary_clinician_id = e.primary_clinician_id;
            view.care_team = e.members;
        }
        PlanEvent::SafetyFlagAcknowledged(e) => {
            let id = e.flag_id.to_string();
            if let Some(flag) = view.safety_flags.iter_mut().find(|f| f.flag_id == id) {
                flag.acknowledged_on = Some(e.acknowledged_on);
                flag.acknowledged_by = Some(recorded.metadata.actor.subject.clone());
                flag.note = Some(e.note);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use trellis_kernel::{Actor, EventMetadata, StreamName, TenantId};
    use trellis_plans_domain::{GoalAdded, GoalId, PlanCreated, PlanId};
    use uuid::Uuid;

    use super::*;

    fn recorded(revision: u64, event: &PlanEvent) -> RecordedEvent {
        let tenant = TenantId::parse("northside").unwrap();
        RecordedEvent {
            event_id: Uuid::new_v4(),
            stream: StreamName::new(tenant, "plan", "p1").unwrap(),
            revision,
            global_position: revision + 10,
            event_type: event.event_type().into(),
            schema_version: event.schema_version(),
            payload: event.encode(),
            metadata: EventMetadata {
                actor: Actor {
                    subject: "clin-3".into(),
                    role: "clinician".into(),
                },
                correlation_id: Uuid::nil(),
                causation_id: Uuid::nil(),
                request_id: "r".into(),
                trace_id: String::new(),
                span_id: String::new(),
                reason: None,
            },
            recorded_at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            hash: trellis_kernel::EventHash::GENESIS,
        }
    }

    fn created() -> PlanEvent {
        PlanEvent::PlanCreated(PlanCreated {
            plan_id: PlanId(Uuid::from_u128(1)),
            client_id: "client-17".into(),
            primary_clinician_id: "clin-3".into(),
            clinic_id: "eastside".into(),
            title: "GAD".into(),
            created_on: "2026-11-29".parse().unwrap(),
            template: None,
            payer: "medicaid".into(),
        })
    }

    fn goal() -> PlanEvent {
        PlanEvent::GoalAdded(GoalAdded {
            goal_id: GoalId(Uuid::from_u128(2)),
            description: "Reduce worry".into(),
            term: GoalTerm::ShortTerm,
        })
    }

    #[test]
    fn a_plan_view_follows_its_events() {
        let mut view = None;
        apply_event(&mut view, &recorded(0, &created())).unwrap();
        apply_event(&mut view, &recorded(1, &goal())).unwrap();
        let view = view.unwrap();
        assert_eq!(view.version, 1);
        assert_eq!(view.client_id, "client-17");
        assert_eq!(view.goals.len(), 1);
        assert_eq!(view.goals[0].description, "Reduce worry");
    }

    #[test]
    fn applying_an_event_twice_changes_nothing() {
        let mut view = None;
        apply_event(&mut view, &recorded(0, &created())).unwrap();
        apply_event(&mut view, &recorded(1, &goal())).unwrap();
        let once = view.clone();
        apply_event(&mut view, &recorded(1, &goal())).unwrap();
        assert_eq!(view, once);
        assert_eq!(view.unwrap().goals.len(), 1);
    }

    #[test]
    fn a_history_without_its_creation_is_not_projected() {
        let mut view = None;
        apply_event(&mut view, &recorded(1, &goal())).unwrap();
        assert_eq!(view, None);
    }

    #[test]
    fn an_unreadable_event_leaves_the_view_as_it_was() {
        let mut view = None;
        apply_event(&mut view, &recorded(0, &created())).unwrap();
        let before = view.clone();
        let mut broken = recorded(1, &goal());
        broken.payload = b"{".to_vec();
        assert!(apply_event(&mut view, &broken).is_err());
        assert_eq!(view, before);
    }
}
