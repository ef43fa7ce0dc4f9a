//! The plan as the FHIR API reads it: one fixed GraphQL selection (so the
//! access log records exactly these fields) and the shapes it returns.
//!
//! The console reads the same GraphQL types with its own selection and
//! shapes (`console/plan_view.rs`). They stay apart on purpose: each
//! selection is what that reader logs as read, and a shape with exactly
//! its selection's fields, none defaulted, fails loudly when the two
//! drift instead of exporting an empty id or a zero score.

use serde::Deserialize;

/// Every field the FHIR resources are made from.
pub(crate) const PLAN_FIELDS: &str = "
  id clientId primaryClinicianId careTeam clinicId title createdOn createdAt
  version updatedAt status
  statusChanges { status on reason by }
  presentingProblem { narrative }
  diagnoses { code description primary enteredInError added { by at } }
  goals {
    id description term outcome closedOn enteredInError added { by at }
    objectives {
      id description baseline target unit period targetDate met metOn
      notMetOn notMetReason enteredInError placeholder latestValue
      measure { instrument reductionPercent } added { by at }
    }
  }
  interventions { modality otherModality technique frequency goalIds comorbidity enteredInError }
  servicePlan { sessionType minutes frequency sessionsMin sessionsMax focus }
  measures { id instrument total band answers administeredOn source recordedBy enteredInError }
  consents { kind givenOn }
  signatures { version role signerId signedOn recordedAt revision }
";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PlanDoc {
    pub(crate) id: String,
    pub(crate) client_id: String,
    pub(crate) primary_clinician_id: String,
    pub(crate) care_team: Vec<String>,
    pub(crate) clinic_id: String,
    pub(crate) title: String,
    pub(crate) created_on: String,
    pub(crate) created_at: Option<String>,
    pub(crate) version: u64,
    pub(crate) updated_at: String,
    pub(crate) status: String,
    pub(crate) status_changes: Vec<StatusChange>,
    pub(crate) presenting_problem: Option<PresentingProblem>,
    pub(crate) diagnoses: Vec<Diagnosis>,
    pub(crate) goals: Vec<Goal>,
    pub(crate) interventions: Vec<Intervention>,
    pub(crate) service_plan: Option<ServicePlan>,
    pub(crate) measures: Vec<Measure>,
    pub(crate) consents: Vec<Consent>,
    pub(crate) signatures: Vec<Signature>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StatusChange {
    pub(crate) status: String,
    pub(crate) on: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PresentingProblem {
    pub(crate) narrative: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Entered {
    pub(crate) by: String,
    pub(crate) at: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Diagnosis {
    pub(crate) code: String,
    pub(crate) description: String,
    pub(crate) primary: bool,
    pub(crate) entered_in_error: Option<String>,
    pub(crate) added: Option<Entered>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Goal {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) term: String,
    pub(crate) outcome: Option<String>,
    pub(crate) closed_on: Option<String>,
    pub(crate) entered_in_error: Option<String>,
    pub(crate) added: Option<Entered>,
    pub(crate) objectives: Vec<Objective>,
}

#[derive(Debug, Clone, Deserialize)]
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
    pub(crate) not_met_on: Option<String>,
    pub(crate) not_met_reason: Option<String>,
    pub(crate) entered_in_error: Option<String>,
    pub(crate) placeholder: bool,
    pub(crate) latest_value: Option<f64>,
    pub(crate) measure: Option<MeasureGoal>,
    pub(crate) added: Option<Entered>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeasureGoal {
    pub(crate) instrument: String,
    pub(crate) reduction_percent: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Intervention {
    pub(crate) modality: String,
    pub(crate) other_modality: Option<String>,
    pub(crate) technique: String,
    pub(crate) frequency: String,
    pub(crate) goal_ids: Vec<String>,
    pub(crate) comorbidity: String,
    pub(crate) entered_in_error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServicePlan {
    pub(crate) session_type: String,
    pub(crate) minutes: u32,
    pub(crate) frequency: String,
    pub(crate) sessions_min: u32,
    pub(crate) sessions_max: u32,
    pub(crate) focus: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Measure {
    pub(crate) id: String,
    pub(crate) instrument: String,
    pub(crate) total: i64,
    pub(crate) band: String,
    pub(crate) answers: Vec<i64>,
    pub(crate) administered_on: String,
    pub(crate) source: String,
    pub(crate) recorded_by: String,
    pub(crate) entered_in_error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Consent {
    pub(crate) kind: String,
    pub(crate) given_on: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Signature {
    pub(crate) version: u32,
    pub(crate) role: String,
    pub(crate) signer_id: String,
    pub(crate) signed_on: String,
    pub(crate) recorded_at: Option<String>,
    pub(crate) revision: Option<u64>,
}

/// A page of `plans`.
#[derive(Debug, Deserialize)]
pub(crate) struct Plans<T> {
    pub(crate) plans: Connection<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection<T> {
    pub(crate) page_info: PageInfo,
    pub(crate) nodes: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageInfo {
    pub(crate) has_next_page: bool,
    pub(crate) end_cursor: Option<String>,
}

/// The measures of one plan and whose they are: all the questionnaire
/// resources need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub(crate) plan_id: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) measures: &'a [Measure],
}

/// A plan as an Observation search reads it: its measures only.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeasuredPlan {
    pub(crate) id: String,
    pub(crate) client_id: String,
    pub(crate) measures: Vec<Measure>,
}

/// The fields of `MeasuredPlan`.
pub(crate) const MEASURE_FIELDS: &str = "id clientId measures { id instrument total band answers administeredOn source recordedBy enteredInError }";

impl MeasuredPlan {
    pub(crate) fn owner(&self) -> Owner<'_> {
        Owner {
            plan_id: &self.id,
            client_id: &self.client_id,
            measures: &self.measures,
        }
    }
}

impl PlanDoc {
    pub(crate) fn owner(&self) -> Owner<'_> {
        Owner {
            plan_id: &self.id,
            client_id: &self.client_id,
            measures: &self.measures,
        }
    }

    /// Whether the plan has ended (completed, discharged or transferred).
    pub(crate) fn closed(&self) -> bool {
        matches!(
            self.status.as_str(),
            "COMPLETED" | "DISCHARGED" | "TRANSFERRED"
        )
    }

    /// The date the plan ended, if it has.
    pub(crate) fn closed_on(&self) -> Option<&str> {
        if !self.closed() {
            return None;
        }
        self.status_changes
            .iter()
            .rev()
            .find(|c| c.status == self.status)
            .map(|c| c.on.as_str())
    }
}
