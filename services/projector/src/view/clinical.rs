//! The clinical record: diagnoses, presenting problem, interventions,
//! safety plan, clinical context, referrals, service plan.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use trellis_kernel::RecordedEvent;
use trellis_plans_domain::{CrisisContact, Modality, PlanEvent, ReferralStatus, Support, Symptom};

use super::{EnteredView, PlanView};

pub(super) fn apply(view: &mut PlanView, event: PlanEvent, recorded: &RecordedEvent) {
    match event {
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
        _ => {}
    }
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
