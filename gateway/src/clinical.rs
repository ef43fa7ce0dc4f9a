//! The clinical record: diagnoses, presenting problem, interventions,
//! safety plan, clinical context, referrals and the service plan.

use async_graphql::{ID, Object, SimpleObject};
use trellis_plans_domain::{CrisisContact, Modality, Support, Symptom};
use trellis_projector::{
    ClinicalContextView, DiagnosisView, InterventionView, PresentingProblemView, ReferralView,
    SafetyPlanView, ServicePlanView,
};
use trellis_proto::plans::v1 as pb;

use crate::contract;
use crate::entered::Entered;

#[derive(Debug)]
pub struct Diagnosis<'a>(pub(crate) &'a DiagnosisView);

#[Object]
impl Diagnosis<'_> {
    /// ICD-10-CM code, e.g. F41.1.
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn primary(&self) -> bool {
        self.0.primary
    }
    /// Why this diagnosis was marked entered in error; null when it stands.
    async fn entered_in_error(&self) -> Option<&str> {
        self.0.entered_in_error.as_deref()
    }
    /// Who added it and when; null only for plans projected before this
    /// was kept (rebuild the read models to fill it).
    async fn added(&self) -> Option<Entered<'_>> {
        self.0.added.as_ref().map(Entered)
    }
}

#[derive(Debug)]
pub struct PresentingProblem<'a>(pub(crate) &'a PresentingProblemView);

#[Object]
impl PresentingProblem<'_> {
    async fn narrative(&self) -> &str {
        &self.0.narrative
    }
    async fn symptoms(&self) -> Vec<GqlSymptom<'_>> {
        self.0.symptoms.iter().map(GqlSymptom).collect()
    }
}

#[derive(Debug)]
pub struct GqlSymptom<'a>(pub(crate) &'a Symptom);

#[Object(name = "Symptom")]
impl GqlSymptom<'_> {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn frequency(&self) -> &str {
        &self.0.frequency
    }
    async fn intensity(&self) -> &str {
        &self.0.intensity
    }
    async fn onset(&self) -> &str {
        &self.0.onset
    }
}

pub(crate) fn modality(m: &Modality) -> (contract::Modality, Option<&str>) {
    match m {
        Modality::Cbt => (contract::Modality::Cbt, None),
        Modality::Dbt => (contract::Modality::Dbt, None),
        Modality::Act => (contract::Modality::Act, None),
        Modality::Mbsr => (contract::Modality::Mbsr, None),
        Modality::Exposure => (contract::Modality::Exposure, None),
        Modality::FamilyTherapy => (contract::Modality::FamilyTherapy, None),
        Modality::Psychoeducation => (contract::Modality::Psychoeducation, None),
        Modality::RelaxationTraining => (contract::Modality::RelaxationTraining, None),
        Modality::BehaviouralActivation => (contract::Modality::BehaviouralActivation, None),
        Modality::SleepHygiene => (contract::Modality::SleepHygiene, None),
        Modality::MotivationalInterviewing => (contract::Modality::MotivationalInterviewing, None),
        Modality::Other(name) => (contract::Modality::Other, Some(name)),
    }
}

#[derive(Debug)]
pub struct Intervention<'a>(pub(crate) &'a InterventionView);

#[Object]
impl Intervention<'_> {
    async fn id(&self) -> ID {
        ID(self.0.intervention_id.clone())
    }
    async fn modality(&self) -> contract::Modality {
        modality(&self.0.modality).0
    }
    /// The modality's name when it is OTHER.
    async fn other_modality(&self) -> Option<&str> {
        modality(&self.0.modality).1
    }
    async fn technique(&self) -> &str {
        &self.0.technique
    }
    async fn frequency(&self) -> &str {
        &self.0.frequency
    }
    async fn goal_ids(&self) -> Vec<ID> {
        self.0.goal_ids.iter().cloned().map(ID).collect()
    }
    /// The comorbid issue it addresses; empty for the main problem.
    async fn comorbidity(&self) -> &str {
        &self.0.comorbidity
    }
    async fn entered_in_error(&self) -> Option<&str> {
        self.0.entered_in_error.as_deref()
    }
    /// Who added it and when; null only for plans projected before this
    /// was kept (rebuild the read models to fill it).
    async fn added(&self) -> Option<Entered<'_>> {
        self.0.added.as_ref().map(Entered)
    }
}

#[derive(Debug)]
pub struct SafetyPlan<'a>(pub(crate) &'a SafetyPlanView);

#[Object]
impl SafetyPlan<'_> {
    async fn warning_signs(&self) -> &[String] {
        &self.0.warning_signs
    }
    async fn coping_steps(&self) -> &[String] {
        &self.0.coping_steps
    }
    async fn contacts(&self) -> Vec<GqlCrisisContact<'_>> {
        self.0.contacts.iter().map(GqlCrisisContact).collect()
    }
    async fn crisis_lines(&self) -> &[String] {
        &self.0.crisis_lines
    }
}

#[derive(Debug)]
pub struct GqlCrisisContact<'a>(pub(crate) &'a CrisisContact);

#[Object(name = "CrisisContact")]
impl GqlCrisisContact<'_> {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn relationship(&self) -> &str {
        &self.0.relationship
    }
    async fn phone(&self) -> &str {
        &self.0.phone
    }
}

/// Strengths, barriers and who supports the client.
#[derive(Debug, SimpleObject)]
pub struct ClinicalContext {
    strengths: Vec<String>,
    barriers: Vec<String>,
    supports: Vec<SupportOut>,
}

#[derive(Debug, SimpleObject)]
#[graphql(name = "Support")]
pub struct SupportOut {
    kind: contract::SupportKind,
    involvement: String,
}

impl From<&ClinicalContextView> for ClinicalContext {
    fn from(v: &ClinicalContextView) -> Self {
        let support = |s: &Support| SupportOut {
            kind: s.kind.into(),
            involvement: s.involvement.clone(),
        };
        Self {
            strengths: v.strengths.clone(),
            barriers: v.barriers.clone(),
            supports: v.supports.iter().map(support).collect(),
        }
    }
}

/// Collaborative care: to whom, why, and where it stands.
#[derive(Debug, SimpleObject)]
pub struct Referral {
    id: ID,
    to: String,
    reason: String,
    status: contract::ReferralStatus,
    status_changed_on: Option<String>,
    /// Why this referral was marked entered in error; null when it stands.
    entered_in_error: Option<String>,
}

impl From<&ReferralView> for Referral {
    fn from(v: &ReferralView) -> Self {
        Self {
            id: ID(v.referral_id.clone()),
            to: v.to.clone(),
            reason: v.reason.clone(),
            status: v.status.into(),
            status_changed_on: v.status_changed_on.map(|d| d.to_string()),
            entered_in_error: v.entered_in_error.clone(),
        }
    }
}

/// What payers ask for: session type, amount, frequency, duration.
#[derive(Debug, SimpleObject)]
pub struct ServicePlan {
    session_type: String,
    minutes: u32,
    frequency: String,
    sessions_min: u32,
    sessions_max: u32,
    focus: String,
    maintenance: String,
    /// Monitoring beyond the scheduled questionnaires.
    monitoring: Vec<String>,
}

impl ServicePlan {
    pub(crate) fn from_wire(s: pb::ServicePlan) -> Self {
        Self {
            session_type: s.session_type,
            minutes: s.minutes,
            frequency: s.frequency,
            sessions_min: s.sessions_min,
            sessions_max: s.sessions_max,
            focus: s.focus,
            maintenance: s.maintenance,
            monitoring: s.monitoring,
        }
    }
}

impl From<&ServicePlanView> for ServicePlan {
    fn from(v: &ServicePlanView) -> Self {
        Self {
            session_type: v.session_type.clone(),
            minutes: v.minutes,
            frequency: v.frequency.clone(),
            sessions_min: v.sessions_min,
            sessions_max: v.sessions_max,
            focus: v.focus.clone(),
            maintenance: v.maintenance.clone(),
            monitoring: v.monitoring.clone(),
        }
    }
}
