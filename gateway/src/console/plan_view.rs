//! The plan as the console's pages read it: the fields of one GraphQL
//! selection, and the shapes they arrive in.

use chrono::NaiveDate;
use serde::Deserialize;
use trellis_plans_domain::Instrument;

use super::chart::{LineChart, Mark, Point};
use super::filters::instrument_of;

/// Every section the plan page shows: the access log records these
/// fields as read by each page view.
pub(crate) const PLAN_FIELDS: &str = "\
    id recordHash title clientId primaryClinicianId careTeam clinicId createdOn version updatedAt \
    status payer planVersion pendingSignatures \
    presentingProblem { narrative symptoms { name frequency intensity onset } } \
    diagnoses { code description primary enteredInError } \
    goals { id description term outcome enteredInError objectives { id description \
      baseline target unit period targetDate met metOn latestValue placeholder enteredInError \
      measure { instrument reductionPercent } progress { value observedOn note recordedBy } } } \
    interventions { modality otherModality technique frequency comorbidity enteredInError } \
    servicePlan { sessionType minutes frequency sessionsMin sessionsMax focus maintenance monitoring } \
    measures { instrument total band administeredOn changeFromBaseline response remission enteredInError } \
    measureSchedule { instrument intervalDays dueOn overdue } \
    safetyPlan { warningSigns copingSteps contacts { name relationship phone } crisisLines } \
    safetyFlags { id reason raisedOn open acknowledgedOn acknowledgedBy } \
    reviews { id dueOn held heldOn participants summary decision enteredInError } \
    clinicalContext { strengths barriers supports { kind involvement } } \
    referrals { to reason status enteredInError } \
    consents { kind givenOn note } \
    signatures { version role signerId signedOn }";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Symptom {
    pub(crate) name: String,
    pub(crate) frequency: String,
    pub(crate) intensity: String,
    pub(crate) onset: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PresentingProblem {
    pub(crate) narrative: String,
    pub(crate) symptoms: Vec<Symptom>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Diagnosis {
    pub(crate) code: String,
    pub(crate) description: String,
    pub(crate) primary: bool,
    pub(crate) entered_in_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeasureGoal {
    pub(crate) instrument: String,
    pub(crate) reduction_percent: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Progress {
    pub(crate) value: f64,
    pub(crate) observed_on: String,
    pub(crate) note: String,
    pub(crate) recorded_by: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Objective {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) baseline: Option<f64>,
    pub(crate) target: Option<f64>,
    pub(crate) unit: String,
    pub(crate) period: String,
    pub(crate) target_date: Option<String>,
    pub(crate) met: bool,
    pub(crate) met_on: Option<String>,
    pub(crate) latest_value: Option<f64>,
    pub(crate) placeholder: bool,
    pub(crate) entered_in_error: Option<String>,
    pub(crate) measure: Option<MeasureGoal>,
    pub(crate) progress: Vec<Progress>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Goal {
    pub(crate) description: String,
    pub(crate) term: String,
    pub(crate) outcome: Option<String>,
    pub(crate) entered_in_error: Option<String>,
    pub(crate) objectives: Vec<Objective>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Intervention {
    pub(crate) modality: String,
    pub(crate) other_modality: Option<String>,
    pub(crate) technique: String,
    pub(crate) frequency: String,
    pub(crate) comorbidity: String,
    pub(crate) entered_in_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServicePlan {
    pub(crate) session_type: String,
    pub(crate) minutes: i64,
    pub(crate) frequency: String,
    pub(crate) sessions_min: i64,
    pub(crate) sessions_max: i64,
    pub(crate) focus: String,
    pub(crate) maintenance: String,
    pub(crate) monitoring: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Measure {
    pub(crate) instrument: String,
    pub(crate) total: i64,
    pub(crate) band: String,
    pub(crate) administered_on: String,
    pub(crate) change_from_baseline: i64,
    pub(crate) response: bool,
    pub(crate) remission: Option<bool>,
    pub(crate) entered_in_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduledMeasure {
    pub(crate) instrument: String,
    pub(crate) interval_days: i64,
    pub(crate) due_on: String,
    pub(crate) overdue: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CrisisContact {
    pub(crate) name: String,
    pub(crate) relationship: String,
    pub(crate) phone: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SafetyPlan {
    pub(crate) warning_signs: Vec<String>,
    pub(crate) coping_steps: Vec<String>,
    pub(crate) contacts: Vec<CrisisContact>,
    pub(crate) crisis_lines: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SafetyFlag {
    pub(crate) id: String,
    pub(crate) reason: String,
    pub(crate) raised_on: String,
    pub(crate) open: bool,
    pub(crate) acknowledged_on: Option<String>,
    pub(crate) acknowledged_by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Review {
    pub(crate) id: String,
    pub(crate) due_on: String,
    pub(crate) held: bool,
    pub(crate) held_on: Option<String>,
    pub(crate) participants: Vec<String>,
    pub(crate) summary: Option<String>,
    pub(crate) decision: Option<String>,
    pub(crate) entered_in_error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Support {
    pub(crate) kind: String,
    pub(crate) involvement: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ClinicalContext {
    pub(crate) strengths: Vec<String>,
    pub(crate) barriers: Vec<String>,
    pub(crate) supports: Vec<Support>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Referral {
    pub(crate) to: String,
    pub(crate) reason: String,
    pub(crate) status: String,
    pub(crate) entered_in_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Consent {
    pub(crate) kind: String,
    pub(crate) given_on: String,
    pub(crate) note: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Signature {
    pub(crate) version: i64,
    pub(crate) role: String,
    pub(crate) signer_id: String,
    pub(crate) signed_on: String,
}

/// The plan as the page shows it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PlanView {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) client_id: String,
    pub(crate) primary_clinician_id: String,
    pub(crate) care_team: Vec<String>,
    pub(crate) clinic_id: String,
    pub(crate) created_on: String,
    pub(crate) version: i64,
    /// The hash-chain link of the event at `version`.
    #[serde(default)]
    pub(crate) record_hash: String,
    pub(crate) updated_at: String,
    pub(crate) status: String,
    pub(crate) payer: String,
    pub(crate) plan_version: i64,
    pub(crate) pending_signatures: Vec<String>,
    pub(crate) presenting_problem: Option<PresentingProblem>,
    pub(crate) diagnoses: Vec<Diagnosis>,
    pub(crate) goals: Vec<Goal>,
    pub(crate) interventions: Vec<Intervention>,
    pub(crate) service_plan: Option<ServicePlan>,
    pub(crate) measures: Vec<Measure>,
    pub(crate) measure_schedule: Vec<ScheduledMeasure>,
    pub(crate) safety_plan: Option<SafetyPlan>,
    pub(crate) safety_flags: Vec<SafetyFlag>,
    pub(crate) reviews: Vec<Review>,
    pub(crate) clinical_context: Option<ClinicalContext>,
    pub(crate) referrals: Vec<Referral>,
    pub(crate) consents: Vec<Consent>,
    pub(crate) signatures: Vec<Signature>,
}

pub(crate) fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

impl PlanView {
    /// A chart per instrument the plan has scores for, oldest score first;
    /// the target from the first objective that asks for a reduction.
    pub(crate) fn measure_line_charts(&self) -> Vec<(Instrument, LineChart)> {
        let mut charts = Vec::new();
        for instrument in [Instrument::Phq9, Instrument::Gad7, Instrument::Pswq] {
            let points: Vec<Point> = self
                .measures
                .iter()
                .filter(|m| m.entered_in_error.is_none())
                .filter(|m| instrument_of(&m.instrument) == Some(instrument))
                .filter_map(|m| {
                    Some(Point {
                        on: date(&m.administered_on)?,
                        value: m.total as f64,
                        mark: if m.remission == Some(true) {
                            Mark::Remission
                        } else if m.response {
                            Mark::Response
                        } else {
                            Mark::Plain
                        },
                    })
                })
                .collect();
            if points.is_empty() {
                continue;
            }
            let reduction = self
                .goals
                .iter()
                .flat_map(|g| &g.objectives)
                .filter_map(|o| o.measure.as_ref())
                .find(|m| instrument_of(&m.instrument) == Some(instrument))
                .map(|m| m.reduction_percent);
            let target =
                reduction.map(|percent| (points[0].value * (100 - percent) as f64 / 100.0).floor());
            charts.push((instrument, LineChart::measure(instrument, points, target)));
        }
        charts
    }
}
